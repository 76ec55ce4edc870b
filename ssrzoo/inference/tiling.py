"""Overlapping tiles with smooth blending, so any image size runs in bounded memory.

Tiles of one size cover the image with overlaps of at least ``overlap`` pixels, spread
evenly. Each tile's output is weighted by a separable window that is 1 in its interior and
falls to 0 towards a side shared with a neighbour, following ``sin^2`` over the middle half
of the overlap and staying exactly 0 on the quarter nearest the tile's edge. The weights of
neighbouring tiles sum to 1, so:

* there is no visible seam: every output pixel is a smooth mix of the tiles that cover it;
* a pixel is never taken from a tile in which it lies within ``overlap // 4`` of a cut edge,
  so for a model whose receptive field is at most that many pixels, tiled and untiled
  outputs agree to float precision; larger receptive fields give small, smooth differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["TileGrid", "blend_weights", "tile_starts", "tiled_apply"]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with overlaps >= ``overlap``.

    The starts are spread evenly, so all overlaps are about equal; one tile (start 0)
    when ``length <= tile``.
    """
    if tile <= 0:
        raise ValueError(f"tile size must be positive, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap {overlap} must be in [0, tile={tile})")
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _ramp(overlap: int) -> np.ndarray:
    """Weights rising from 0 to 1 over ``overlap`` pixels; ``r[i] + r[overlap-1-i] == 1``."""
    margin = overlap // 4
    span = max(overlap - 2 * margin, 1)
    pos = (np.arange(overlap, dtype=np.float64) + 0.5 - margin) / span
    return np.sin(0.5 * np.pi * np.clip(pos, 0.0, 1.0)) ** 2


def blend_weights(starts: list[int], index: int, tile: int) -> np.ndarray:
    """1-D weights ``(tile,)`` of tile ``index`` along one axis, given all tiles' starts."""
    weights = np.ones(tile, dtype=np.float64)
    if index > 0:
        shared = starts[index - 1] + tile - starts[index]
        weights[:shared] *= _ramp(shared)
    if index < len(starts) - 1:
        shared = starts[index] + tile - starts[index + 1]
        weights[tile - shared :] *= _ramp(shared)[::-1]
    return weights


def _axis_coverage(starts: list[int], tile: int, length: int) -> np.ndarray:
    """Sum over tiles of their 1-D weights along one axis, ``(length,)`` float64."""
    total = np.zeros(length, dtype=np.float64)
    for index, start in enumerate(starts):
        total[start : start + tile] += blend_weights(starts, index, tile)
    return total


class TileGrid:
    """The tiles covering an ``height x width`` image.

    Args:
        height: image rows.
        width: image columns.
        tile: tile side in pixels (tiles are ``min(tile, height) x min(tile, width)``).
        overlap: minimum overlap between neighbouring tiles, in pixels; must be less than
            half the tile so only neighbours overlap.
    """

    def __init__(self, height: int, width: int, tile: int, overlap: int) -> None:
        if 2 * overlap > tile:
            raise ValueError(
                f"overlap {overlap} is more than half the tile {tile}; use overlap <= {tile // 2}"
            )
        self.height, self.width = height, width
        self.tile_h, self.tile_w = min(tile, height), min(tile, width)
        self.ys = tile_starts(height, tile, min(overlap, self.tile_h - 1))
        self.xs = tile_starts(width, tile, min(overlap, self.tile_w - 1))

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def coverage(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-row ``(height,)`` and per-column ``(width,)`` sums of the tiles' 1-D weights.

        A tile's 2-D weights are the outer product of its row and column weights, so the sum
        of all tiles' weights at ``(y, x)`` is ``rows[y] * cols[x]``: two vectors stand in for
        an ``height x width`` map (48 MB for a 12 MP photo).
        """
        return _axis_coverage(self.ys, self.tile_h, self.height), _axis_coverage(
            self.xs, self.tile_w, self.width
        )

    def __iter__(self) -> Iterator[tuple[slice, slice, np.ndarray]]:
        """Yield ``(rows, cols, weights)``, weights ``(tile_h, tile_w)`` ``float32``."""
        for i, y in enumerate(self.ys):
            wy = blend_weights(self.ys, i, self.tile_h)
            for j, x in enumerate(self.xs):
                wx = blend_weights(self.xs, j, self.tile_w)
                weights = np.outer(wy, wx).astype(np.float32)
                yield slice(y, y + self.tile_h), slice(x, x + self.tile_w), weights


def tiled_apply(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    out_channels: int,
    tile: int,
    overlap: int,
    *,
    out: np.ndarray | None = None,
    batch: int = 1,
    on_tile: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Apply ``fn`` to overlapping tiles of ``image`` and blend the results.

    Args:
        fn: maps a stack of windows ``(N, h, w, ...)`` of ``image`` to ``(N, C, h, w)``
            ``float32``; every call gets windows of one size.
        image: ``(H, W, ...)`` array (any dtype: windows are passed as they are).
        out_channels: ``C``.
        tile: tile side; ``>= max(H, W)`` runs ``fn`` once on the whole image.
        overlap: minimum overlap between neighbouring tiles, pixels (``<= tile // 2``).
        out: a ``(C, H, W)`` ``float32`` array to write into (e.g. a ``np.memmap``);
            allocated if ``None``.
        batch: windows per call of ``fn``.
        on_tile: called with the number of tiles just finished (for progress bars).

    Returns:
        ``(C, H, W)`` ``float32``: ``out``.
    """
    height, width = image.shape[:2]
    if out is None:
        out = np.zeros((out_channels, height, width), dtype=np.float32)
    elif out.shape != (out_channels, height, width):
        raise ValueError(f"out has shape {out.shape}, expected {(out_channels, height, width)}")
    grid = TileGrid(height, width, tile, overlap)
    if len(grid) == 1:
        out[...] = fn(image[None])[0]
        if on_tile:
            on_tile(1)
        return out
    out[...] = 0.0
    pending: list[tuple[slice, slice, np.ndarray]] = []

    def flush() -> None:
        windows = np.stack([image[rows, cols] for rows, cols, _ in pending])
        preds = fn(windows)
        for (rows, cols, weights), pred in zip(pending, preds, strict=True):
            pred *= weights
            out[:, rows, cols] += pred
        if on_tile:
            on_tile(len(pending))
        pending.clear()

    for item in grid:
        pending.append(item)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    # The weights sum to 1 up to rounding; dividing removes that rounding too. Row and
    # column sums, in place, so no image-sized temporary is made.
    row_sum, col_sum = grid.coverage()
    out /= row_sum.astype(np.float32)[None, :, None]
    out /= col_sum.astype(np.float32)[None, None, :]
    return out
