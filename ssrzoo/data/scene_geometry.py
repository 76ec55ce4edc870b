"""Scene geometry: a scale-invariant dead-leaves (occlusion) model and smooth random fields.

Opaque ellipses and rectangles fall front to back at uniform random positions with radii drawn
from ``p(r) ∝ r^-3`` between ``min_radius`` and ``max_radius``; each pixel keeps the first
leaf that covers it. The ``r^-3`` law makes the model scale invariant, which reproduces the
~1/f² power spectrum and the occlusion statistics of natural images (Lee, Mumford and Huang,
"Occlusion Models for Natural Images: A Statistical Study of a Scale-Invariant Dead Leaves
Model", IJCV 2001). :func:`smooth_noise` gives the ``1/f^beta`` fields that
:class:`~ssrzoo.data.SyntheticScenes` uses for texture, shading and mixed light.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dead_leaves", "sample_radii", "smooth_noise"]


def sample_radii(
    rng: np.random.Generator, n: int, min_radius: float, max_radius: float, alpha: float = 3.0
) -> np.ndarray:
    """``n`` radii from ``p(r) ∝ r^-alpha`` on ``[min_radius, max_radius]`` (inverse CDF)."""
    if not 0 < min_radius <= max_radius:
        raise ValueError(f"need 0 < min_radius <= max_radius, got {min_radius}, {max_radius}")
    u = rng.random(n)
    if abs(alpha - 1.0) < 1e-9:
        return min_radius * (max_radius / min_radius) ** u
    a, b = min_radius ** (1 - alpha), max_radius ** (1 - alpha)
    return (a + u * (b - a)) ** (1.0 / (1 - alpha))


def smooth_noise(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    """Gaussian noise with power spectrum ``∝ 1/f^beta``, zero mean, unit std, ``(H, W)``."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    spec = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) * amp
    field = np.fft.irfft2(spec, s=(height, width))
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def _inside(u: Any, v: Any, a: Any, b: Any, rect: Any) -> np.ndarray:
    """Whether offsets ``(u, v)`` along a leaf's axes fall inside it (ellipse or rectangle)."""
    return np.where(rect, (np.abs(u) <= a) & (np.abs(v) <= b), (u / a) ** 2 + (v / b) ** 2 <= 1.0)


#: Leaves up to this radius (px) are rasterised together on a fixed stencil.
_SMALL_RADIUS = 4.0


def dead_leaves(
    rng: np.random.Generator,
    height: int,
    width: int,
    min_radius: float = 1.5,
    max_radius: float | None = None,
    alpha: float = 3.0,
    rect_prob: float = 0.3,
    max_leaves: int = 50_000,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A dead-leaves label map, leaves falling front to back until the image is covered.

    Each leaf is an ellipse (axis ratio 0.4-1) or, with probability ``rect_prob``, a rectangle,
    at a random angle, radius from :func:`sample_radii`, centred uniformly in the image; a pixel
    keeps the first leaf that covers it. The last uncovered pixels (once 99.9 % are covered, or
    after ``max_leaves``) take the label of their nearest covered pixel, which avoids drawing
    thousands of leaves that land on covered ground.

    Leaves fall in batches of 256. Within a batch the large leaves are drawn first and the small
    ones (radius <= 4 px) after them in one vectorised step; leaves are independent and
    identically distributed, so this reordering inside a batch leaves the model unchanged.

    Returns:
        ``(labels (H, W) int32 in 0..L-1, leaves)`` with ``leaves`` holding ``(L,)`` arrays
        ``cy``, ``cx``, ``radius``, ``angle`` of the visible leaves.
    """
    from scipy.ndimage import distance_transform_edt

    max_radius = float(max(height, width)) if max_radius is None else float(max_radius)
    min_radius = min(float(min_radius), max_radius)
    labels = np.full((height, width), -1, dtype=np.int32)
    flat = labels.reshape(-1)
    uncovered = height * width
    stop = max(1, int(0.001 * height * width))
    kept: list[np.ndarray] = []
    n_kept = 0
    drawn = 0
    half = int(np.ceil(_SMALL_RADIUS)) + 1
    offs = np.arange(-half, half + 1, dtype=np.float64)
    while uncovered > stop and drawn < max_leaves:
        batch = 256
        r = sample_radii(rng, batch, min_radius, max_radius, alpha)
        cy = rng.uniform(-0.5, height - 0.5, batch)
        cx = rng.uniform(-0.5, width - 0.5, batch)
        ang = rng.uniform(0.0, np.pi, batch)
        ratio = rng.uniform(0.4, 1.0, batch)
        rect = rng.random(batch) < rect_prob
        cos, sin = np.cos(ang), np.sin(ang)
        drawn += batch
        for i in np.flatnonzero(r > _SMALL_RADIUS):
            a = r[i]
            y0, y1 = max(int(np.floor(cy[i] - a)), 0), min(int(cy[i] + a) + 2, height)
            x0, x1 = max(int(np.floor(cx[i] - a)), 0), min(int(cx[i] + a) + 2, width)
            if y0 >= y1 or x0 >= x1:
                continue
            sub = labels[y0:y1, x0:x1]
            free = sub < 0
            if not free.any():
                continue
            dy = np.arange(y0, y1)[:, None] - cy[i]
            dx = np.arange(x0, x1)[None, :] - cx[i]
            u = dx * cos[i] + dy * sin[i]
            v = dy * cos[i] - dx * sin[i]
            hit = _inside(u, v, a, a * ratio[i], rect[i]) & free
            n_hit = int(hit.sum())
            if n_hit:
                sub[hit] = n_kept
                kept.append(np.array([cy[i], cx[i], r[i], ang[i]]))
                n_kept += 1
                uncovered -= n_hit
        small = np.flatnonzero(r <= _SMALL_RADIUS)
        if small.size and uncovered > 0:
            py = np.round(cy[small])[:, None, None] + offs[None, :, None]
            px = np.round(cx[small])[:, None, None] + offs[None, None, :]
            dy, dx = py - cy[small, None, None], px - cx[small, None, None]
            c, s_ = cos[small, None, None], sin[small, None, None]
            a = r[small, None, None]
            inside = _inside(
                dx * c + dy * s_,
                dy * c - dx * s_,
                a,
                a * ratio[small, None, None],
                rect[small, None, None],
            )
            inside &= (py >= 0) & (py < height) & (px >= 0) & (px < width)
            leaf, iy, ix = np.nonzero(inside)
            pix = (py[leaf, iy, 0] * width + px[leaf, 0, ix]).astype(np.int64)
            free = flat[pix] < 0
            leaf, pix = leaf[free], pix[free]
            if pix.size:
                order = np.lexsort((leaf, pix))  # per pixel, the first leaf to fall wins
                pix, leaf = pix[order], leaf[order]
                first = np.r_[True, pix[1:] != pix[:-1]]
                pix, leaf = pix[first], leaf[first]
                winners = np.unique(leaf)
                flat[pix] = n_kept + np.searchsorted(winners, leaf)
                w = small[winners]
                kept.extend(np.stack([cy[w], cx[w], r[w], ang[w]], axis=1))
                n_kept += winners.size
                uncovered -= pix.size
    if not kept:
        labels[:] = 0
        kept.append(np.array([height / 2, width / 2, max_radius, 0.0]))
    elif uncovered:
        _, (iy, ix) = distance_transform_edt(labels < 0, return_indices=True)
        labels = labels[iy, ix]
    arr = np.asarray(kept, dtype=np.float64).reshape(-1, 4)
    leaves = {"cy": arr[:, 0], "cx": arr[:, 1], "radius": arr[:, 2], "angle": arr[:, 3]}
    return labels, leaves
