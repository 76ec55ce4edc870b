"""Pack the shared CAVE scenes small enough to travel to a GPU machine, and unpack them there.

``../shared`` does not travel with the checkout, and 24 scenes of 31 16-bit bands are 97 MB.
Packed as 12-bit counts (the 16-bit value / 16, rounded), differenced along each image row
and lzma-compressed, they take about 38 MB; unpacking writes the official CAVE layout again
(16-bit PNGs, value = 12-bit count x 65535 / 4095), which :class:`ssrzoo.data.CAVE` reads.
The rounding changes a reflectance by at most 3.4e-4: the GPU run trains on it, and the
cards' metrics are measured again here on the 16-bit originals.

    python scripts/pack_cave.py pack ../shared/data .gpu_data          # here
    python scripts/pack_cave.py unpack .gpu_data /tmp/shared/data      # on the GPU machine
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import shutil
from pathlib import Path

import numpy as np

_PACK = "cave_256.12bit.npy.xz"
_NAMES = "cave_256.json"
_RESPONSE = "responses/nikon_d700_31band.mat"


def pack(shared: Path, out: Path) -> None:
    """Write the 24 scenes of ``shared/cave_256`` and the Nikon response into ``out``."""
    from ssrzoo.data import CAVE

    dataset = CAVE(shared / "cave_256")
    names, cubes = [], []
    for i in range(len(dataset)):
        sample = dataset[i]
        counts = np.rint(sample["hsi"].numpy().astype(np.float64) * 65535.0 / 16.0)
        cubes.append(np.clip(counts, 0, 4095).astype(np.int16))
        names.append(sample["name"])
    stack = np.stack(cubes)  # (N, 31, H, W)
    delta = np.diff(stack, axis=-1, prepend=np.zeros_like(stack[..., :1]))
    buffer = io.BytesIO()
    np.save(buffer, delta.astype(np.int16))
    out.mkdir(parents=True, exist_ok=True)
    (out / _PACK).write_bytes(lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    (out / _NAMES).write_text(json.dumps(names))
    (out / _RESPONSE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared / _RESPONSE, out / _RESPONSE)
    print(f"{len(names)} scenes -> {out / _PACK} ({(out / _PACK).stat().st_size / 1e6:.1f} MB)")


def unpack(packed: Path, shared: Path) -> None:
    """Write ``shared/cave_256/<scene>_ms/<scene>_ms/<scene>_ms_NN.png`` and the response."""
    from PIL import Image

    names = json.loads((packed / _NAMES).read_text())
    delta = np.load(io.BytesIO(lzma.decompress((packed / _PACK).read_bytes())))
    counts = np.cumsum(delta.astype(np.int32), axis=-1)
    values = np.rint(counts * (65535.0 / 4095.0)).astype(np.uint16)
    for name, cube in zip(names, values, strict=True):
        folder = shared / "cave_256" / f"{name}_ms" / f"{name}_ms"
        folder.mkdir(parents=True, exist_ok=True)
        for k, band in enumerate(cube, start=1):
            Image.fromarray(band).save(folder / f"{name}_ms_{k:02d}.png")
    (shared / _RESPONSE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(packed / _RESPONSE, shared / _RESPONSE)
    print(f"{len(names)} scenes -> {shared / 'cave_256'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["pack", "unpack"])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    (pack if args.action == "pack" else unpack)(args.source, args.target)


if __name__ == "__main__":
    main()
