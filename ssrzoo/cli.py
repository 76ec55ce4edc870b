"""The ``ssrzoo`` command line: the only module that parses arguments.

Exit codes: 0 on success, 2 for usage errors (argparse), 1 for failures, printed as one
line ``ssrzoo: error: <reason>`` on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Only light imports here: `ssrzoo --help`, `ssrzoo list` and usage errors must answer
# without torch; each command imports what it needs.
from . import __version__
from ._atomic import Terminated, terminate_raises
from ._options import OPTION_DEFAULT, ReconstructorOptions
from .exceptions import SsrzooError

__all__ = ["main"]

_EPILOG = """examples:
  ssrzoo list --pretrained
  ssrzoo list '*ktsr*'
  ssrzoo info mae_ktsr_ntire
  ssrzoo predict photo.jpg -m mae_ktsr_ntire -o out/ --preview
  ssrzoo plot out/photo.npz --pixel 120,340
  ssrzoo eval -m mae_ktsr_ntire --dataset ntire2022 --root data/NTIRE2022 --split val
  ssrzoo push runs/my_model/export my-org/my-model
  ssrzoo export mae_ktsr_ntire mae_ktsr.onnx --size 512
  ssrzoo train --config recipes/mae_ktsr_ntire.yaml sched.steps=2000
"""


def _cmd_list(args: argparse.Namespace) -> int:
    from fnmatch import fnmatchcase

    from ._catalog import build_catalog, load_catalog

    # The stored catalog spares the torch import; a registry already loaded in this process
    # (models registered from Python, then main() called) is the authority.
    catalog = None if "ssrzoo.models" in sys.modules else load_catalog()
    if catalog is None:
        catalog = build_catalog()
    names = catalog["weights"] if args.pretrained else catalog["architectures"]
    names = sorted(n for n in names if not args.filter or fnmatchcase(n, args.filter))
    aliases: dict[str, list[str]] = {}
    for alias, target in catalog["aliases"].items():
        key = target if args.pretrained else target.partition(".")[0]
        aliases.setdefault(key, []).append(alias)
    if args.json:
        print(json.dumps(names))
        return 0
    for name in names:
        extra = ""
        if args.pretrained:
            info = catalog["weights"][name]
            wl = info["wavelength_range"]
            grid = f"{info['num_bands']} bands" + (f" {wl[0]:g}-{wl[-1]:g} nm" if wl else "")
            extra = f"  [{grid}; {info['response_name'] or 'response n/a'}]"
        names_with_alias = ", ".join(aliases.get(name, []))
        print(name + (f"  (alias: {names_with_alias})" if names_with_alias else "") + extra)
    if not names:
        print("no models match", file=sys.stderr)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .models import PretrainedCfg, count_params, create_model

    model = create_model(args.model, pretrained=False)
    cfg = model.pretrained_cfg
    assert isinstance(cfg, PretrainedCfg)  # set by create_model
    info = {
        "name": cfg.name,
        "params": count_params(model),
        f"gflops_{args.size}x{args.size}": None,
        **cfg.to_dict(),
    }
    if not args.no_flops:
        from .models._cost import count_flops

        flops = count_flops(model, (1, cfg.in_chans, args.size, args.size))
        info[f"gflops_{args.size}x{args.size}"] = round(flops / 1e9, 3)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    skip = {"response"} if not args.verbose else set()
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key in skip or value in (None, "", (), [], {}):
            continue
        if key == "wavelengths" and not args.verbose:
            value = f"{value[0]:g} .. {value[-1]:g} nm ({len(value)} bands)"
        print(f"{key:<{width}}  {value}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from .models import create_model, push_to_hub

    model = create_model(f"local-dir:{args.folder}")
    url = push_to_hub(model, args.repo_id, private=args.private, token=args.token)
    print(url)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .inference import export_onnx

    height, width = args.size
    path = export_onnx(
        args.model,
        args.output,
        size=(height, width),
        batch=args.batch,
        opset=args.opset,
        dynamic=args.dynamic,
        overwrite=args.overwrite,
    )
    print(path)
    return 0


def _parse_size(text: str) -> tuple[int, int]:
    """``512`` or ``384x512`` (H x W)."""
    try:
        values = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        values = ()
    if len(values) not in (1, 2) or min(values, default=0) < 1:
        raise argparse.ArgumentTypeError(f"expected a size such as 512 or 384x512, got {text!r}")
    return (values[0], values[-1])


def _reason(err: BaseException) -> str:
    """The CLI's text for an error: ssrzoo's own messages whole (in CLI terms), others' first
    line (a library's multi-line message is mostly a dump)."""
    if isinstance(err, SsrzooError):
        return err.cli_message or str(err)
    text = str(err)
    return text.splitlines()[0] if text else type(err).__name__


def _parse_ints(count: int, label: str) -> Callable[[str], tuple[int, ...]]:
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {label}, e.g. {','.join(['10'] * count)}")
        return values

    return parse


def _path_key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


def _check_outputs(outputs: Mapping[Path, Iterable[Path]], inputs: Iterable[Path]) -> None:
    """Refuse, before any work, an output that is an input or that two inputs would both write.

    Args:
        outputs: each input -> the files written from it.
        inputs: every file read (photos, cubes, ground truth).
    """
    read = {_path_key(path): path for path in inputs}
    written: dict[str, Path] = {}
    for source, files in outputs.items():
        for file in files:
            key = _path_key(file)
            if key in read:
                raise ValueError(
                    f"{file} (written from {source}) would overwrite the input {read[key]}; "
                    "write to another -o folder or rename the input"
                )
            if written.setdefault(key, source) != source:
                raise ValueError(
                    f"{written[key]} and {source} would both write {file}; rename one or "
                    "write them to different -o folders"
                )


def _existing_outputs(files: Iterable[Path], policy: str | None) -> set[Path]:
    """The outputs already on disk; an error unless --overwrite or --no-clobber says what to do."""
    existing = sorted(f for f in files if f.exists() or f.is_symlink())
    if existing and policy is None:
        others = len(existing) - 1
        more = f" (and {others} other output{'s' * (others > 1)})" if others else ""
        raise FileExistsError(
            f"{existing[0]}{more} already exists; pass --overwrite to replace existing outputs "
            "or --no-clobber to keep them and write only the missing ones"
        )
    return set(existing)


def _check_writable(folder: Path) -> None:
    """Fail before the work, not when writing its result, if ``folder`` cannot take files."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(
            f"cannot write to {folder}: {existing} is a file, not a folder; choose another -o"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write to {folder}: {existing} is not writable; choose another -o"
        )


_Job = tuple[list[Path], Callable[..., object]]  # files written together, and how


def _keep_existing(jobs: Iterable[_Job], existing: set[Path]) -> list[_Job]:
    """``--no-clobber``: the jobs none of whose files exist; the others are reported."""
    todo = []
    for files, write in jobs:
        if existing.intersection(files):
            print(f"ssrzoo: keeping existing {files[0]}", file=sys.stderr)
        else:
            todo.append((files, write))
    return todo


def _write_outputs(jobs: Iterable[_Job], existing: set[Path]) -> None:
    """Run each ``write()`` and print the files it wrote, reporting those it replaced."""
    for files, write in jobs:
        for file in files:
            if file in existing:
                print(f"ssrzoo: replacing {file}", file=sys.stderr)
        write()
        for file in files:
            print(file)


def _add_existing_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--overwrite",
        dest="existing",
        action="store_const",
        const="overwrite",
        help="replace output files that already exist (each is reported); default: refuse",
    )
    group.add_argument(
        "--no-clobber",
        dest="existing",
        action="store_const",
        const="keep",
        help="keep output files that already exist and write only the missing ones",
    )


# `ssrzoo eval` takes these Reconstructor options (its --input-encoding is the dataset's own).
_EVAL_OPTIONS = ("tile", "ensemble", "device", "checkpoint_path", "precision")


def _add_reconstructor_options(
    parser: argparse.ArgumentParser,
    names: Sequence[str] | None = None,
    helps: Mapping[str, str] | None = None,
) -> None:
    """Add the flags of these :class:`ReconstructorOptions` (default all), from their fields.

    Args:
        parser: the command's parser.
        names: the options, in the order the help lists them.
        helps: help texts that differ from the fields' own, by option.
    """
    flags = ReconstructorOptions.cli_flags()
    defaults = {f.name: f.default for f in dataclasses.fields(ReconstructorOptions)}
    for name in names or flags:
        spec = flags[name]
        flag = spec.flag or "--" + name.replace("_", "-")
        default = defaults[name] if spec.default is OPTION_DEFAULT else spec.default
        kwargs: dict[str, Any] = {"dest": name, "help": (helps or {}).get(name, spec.help)}
        if default is False and spec.type is None and spec.choices is None:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(default=default, type=spec.type, choices=spec.choices)
            if spec.choices is None:  # named after the flag, not the option
                kwargs["metavar"] = spec.metavar or flag[2:].upper().replace("-", "_")
        parser.add_argument(flag, **kwargs)


def _reconstructor_options(
    args: argparse.Namespace, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """The keyword arguments of ``Reconstructor`` that the flags of ``names`` gave."""
    flags = ReconstructorOptions.cli_flags()
    options = {}
    for name in names or flags:
        value, to_option = getattr(args, name), flags[name].to_option
        options[name] = to_option(value) if to_option is not None else value
    return options


def _cmd_predict(args: argparse.Namespace) -> int:
    from functools import partial

    import numpy as np
    from tqdm.auto import tqdm

    from .inference import (
        FORMATS,
        IMAGE_SUFFIXES,
        Reconstructor,
        collect_images,
        plot_bands,
        plot_round_trip,
        plot_spectra,
        save_cube,
    )
    from .io.cubes import output_paths

    images, skipped = collect_images(args.images)
    for path in skipped:
        print(f"ssrzoo: skipping {path} (not {'/'.join(IMAGE_SUFFIXES)})", file=sys.stderr)
    if not images:
        raise ValueError(
            f"no images among {args.images}; give PNG/JPEG/TIFF files or folders holding them"
        )
    outdir = Path(args.output)
    previews: list[tuple[str, Callable[..., object]]] = [
        ("bands", plot_bands),
        ("rgb", plot_round_trip),
        ("spectra", plot_spectra),
    ]
    plans: dict[Path, list[_Job]] = {}
    for path in images:
        cube = outdir / f"{path.stem}{FORMATS[args.format]}"
        plans[path] = [
            (output_paths(cube, args.format), partial(save_cube, path=cube, format=args.format))
        ]
        for suffix, plot in previews if args.preview else ():
            target = outdir / f"{path.stem}_{suffix}.png"
            plans[path].append(([target], partial(plot, path=target)))
    outputs = {path: [f for files, _ in jobs for f in files] for path, jobs in plans.items()}
    _check_outputs(outputs, images)
    existing = _existing_outputs((f for files in outputs.values() for f in files), args.existing)
    _check_writable(outdir)
    reconstructor = Reconstructor(args.model, **_reconstructor_options(args))
    failed = 0
    for path in tqdm(images, unit="image", disable=None if len(images) > 1 else True):
        jobs = _keep_existing(plans[path], existing) if args.existing == "keep" else plans[path]
        if not jobs:
            continue
        try:
            result = reconstructor(path, progress=True)
            # Band by band: no mask as large as the cube.
            bad = sum(int(np.count_nonzero(~np.isfinite(band))) for band in result.cube)
            if bad and not args.allow_nan:
                raise ValueError(
                    f"the cube has {bad} NaN/inf values of {result.cube.size}: the weights or "
                    "the photo are broken (see any warning above); --allow-nan writes it anyway"
                )
            _write_outputs([(files, partial(write, result)) for files, write in jobs], existing)
        except (ValueError, OSError, MemoryError) as err:
            failed += 1
            print(f"ssrzoo: error: {path}: {_reason(err)}", file=sys.stderr)
    if failed:
        raise RuntimeError(f"{failed} of {len(images)} images failed (reasons above)")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from functools import partial

    from .inference import (
        format_from_path,
        load_cube,
        load_rgb,
        plot_bands,
        plot_error_map,
        plot_round_trip,
        plot_spectra,
    )
    from .io.cubes import output_paths

    cube_path = Path(args.cube)
    outdir = Path(args.output) if args.output else cube_path.parent
    stem = outdir / cube_path.stem
    suffixes = ("bands", "spectra", "rgb", "mrae") if args.gt else ("bands", "spectra", "rgb")
    written = [Path(f"{stem}_{suffix}.png") for suffix in suffixes]
    inputs = [*output_paths(cube_path, format_from_path(cube_path))]
    inputs += [Path(p) for p in (args.rgb, args.gt) if p]
    _check_outputs({cube_path: written}, inputs)
    existing = _existing_outputs(written, args.existing)
    _check_writable(outdir)
    image = load_cube(cube_path)
    rgb = load_rgb(args.rgb, alpha="drop") if args.rgb else None
    truth = load_cube(args.gt) if args.gt else None
    if truth is not None and (
        truth.wavelengths.shape != image.wavelengths.shape
        or abs(truth.wavelengths - image.wavelengths).max() > 0.5
    ):
        raise ValueError(
            f"ground truth bands {truth.wavelengths[0]:g}-{truth.wavelengths[-1]:g} nm "
            f"({truth.num_bands}) differ from the cube's; resample one onto the other"
        )
    figures: list[Callable[..., object]] = [
        partial(plot_bands, image, max_bands=args.bands),
        partial(plot_spectra, image, pixels=args.pixel, regions=args.region),
        partial(plot_round_trip, image, rgb=rgb),
    ]
    if truth is not None:
        figures.append(partial(plot_error_map, image, truth))
    jobs = [
        ([file], partial(draw, path=file))
        for file, draw in zip(written, figures[: len(written)], strict=True)
    ]
    _write_outputs(_keep_existing(jobs, existing) if args.existing == "keep" else jobs, existing)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import os

    from .train import Trainer, TrainerConfig

    overrides = list(args.overrides) + (["resume=true"] if args.resume else [])
    overrides += ["trusted=true"] if args.allow_imports else []
    cfg = TrainerConfig.from_yaml(args.config, overrides)
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    main_process = os.environ.get("RANK", "0") == "0"
    if main_process:
        logging.getLogger("ssrzoo.train").setLevel(logging.INFO)
    summary = Trainer(cfg).fit()
    if main_process:
        best = summary["best"] or {}
        if best:
            print(f"best validation {best['metric']} {best['value']:.6g} at step {best['step']}")
        print(summary["export_dir"] or summary["run_dir"])
    return 0


def _dataset_class(name: str) -> type:
    from . import data

    classes = {
        cls.__name__.lower(): cls
        for cls in (getattr(data, n) for n in data.__all__)
        if isinstance(cls, type)
        and issubclass(cls, data.HyperspectralDataset)
        and cls is not data.HyperspectralDataset
    }
    key = name.lower().replace("_", "").replace("-", "")
    if key not in classes:
        raise ValueError(
            f"unknown dataset {name!r}; use one of {', '.join(sorted(classes))} "
            "(case and '_' do not matter)"
        )
    return classes[key]


def _cmd_eval(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from torch.utils.data import Subset

    from .data import ResampleBands, SimulateRGB
    from .evaluation import evaluate
    from .inference import Reconstructor
    from .spectral import SpectralResponse, list_responses

    reconstructor = Reconstructor(args.model, **_reconstructor_options(args, _EVAL_OPTIONS))
    cfg = reconstructor.cfg
    # The dataset's RGB is what the weight was trained on unless the user says otherwise.
    reconstructor.source_encoding = args.input_encoding or cfg.input_encoding
    response: Any = None  # None: the simulation's default, CIE 1964 10 degree
    if cfg.response_name and cfg.response_name in list_responses():
        response = cfg.response_name
    elif cfg.response is not None:
        response = SpectralResponse(reconstructor.wavelengths, np.asarray(cfg.response))
    simulate = SimulateRGB(response=response)
    resample = ResampleBands(reconstructor.wavelengths)

    def prepare(sample: dict[str, Any]) -> dict[str, Any]:
        """The sample on the weight's bands, with the RGB the weight takes."""
        if sample["wavelengths"].shape != (reconstructor.num_bands,) or not np.allclose(
            sample["wavelengths"].numpy(), reconstructor.wavelengths, atol=0.5
        ):
            sample = resample(sample)
        if args.simulate or "rgb" not in sample:
            sample = simulate(sample)
        return {**sample, "rgb": sample["rgb"].clamp(0.0, 1.0)}

    def reconstruct(rgb: torch.Tensor) -> torch.Tensor:
        # The Reconstructor tiles (and ensembles) one image at a time, on its own device.
        return torch.stack([torch.from_numpy(reconstructor(image).cube) for image in rgb])

    dataset = _dataset_class(args.dataset)(args.root, split=args.split, transforms=prepare)
    count = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    if count == 0:
        raise ValueError(f"{type(dataset).__name__} at {args.root} has no images to evaluate")
    result = evaluate(
        reconstruct, Subset(dataset, range(count)), crop=args.crop, ssim_window=11, progress=True
    )
    if args.json:
        print(json.dumps({"summary": result.metrics, "images": result.images}, indent=2))
    else:
        print(f"{cfg.name} on {type(dataset).__name__} ({args.split}, {result.count} images)")
        print(result.table(per_image=args.per_image))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssrzoo",
        description="Spectral reconstruction from RGB: models, weights, prediction, training.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ssrzoo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list registered models", description="List models.")
    p.add_argument("filter", nargs="?", default="", help="fnmatch pattern, e.g. '*ktsr*'")
    p.add_argument("--pretrained", action="store_true", help="only names with published weights")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser(
        "info",
        help="show a model's metadata, params and FLOPs",
        description="Show a model's pretrained metadata, parameter count and FLOPs.",
    )
    p.add_argument("model", help="model name, alias, hf-hub:org/repo or local-dir:/path")
    p.add_argument("--size", type=int, default=512, help="square input size for FLOPs (512)")
    p.add_argument("--no-flops", action="store_true", help="skip the FLOPs count")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "push",
        help="upload a saved model folder to the Hugging Face Hub",
        description="Upload a folder written by save_pretrained (or `ssrzoo train`) to the Hub.",
    )
    p.add_argument("folder", help="folder with config.json + model.safetensors")
    p.add_argument("repo_id", help="Hub repo id, e.g. my-org/my-model")
    p.add_argument("--private", action="store_true")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    p.set_defaults(func=_cmd_push)

    p = sub.add_parser(
        "export",
        help="export a model to ONNX (checked against torch)",
        description="Write a model as an ONNX graph, with its weight's name, wavelengths and "
        "input convention in the metadata. The graph is run with onnxruntime and compared "
        "with torch (max abs difference <= 1e-4) before the file is written. Needs "
        "pip install 'ssrzoo[onnx]'.",
        epilog="""examples:
  ssrzoo export mae_ktsr_ntire mae_ktsr.onnx
  ssrzoo export mae_ktsr_noprior_ntire noprior.onnx --size 256x384 --dynamic
  ssrzoo predict photo.jpg -m mae_ktsr.onnx --backend onnxruntime --tile 512 -o out/
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="model name, alias, hf-hub:org/repo or local-dir:/path")
    p.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument(
        "--size",
        type=_parse_size,
        default=(512, 512),
        metavar="HxW",
        help="input size of the graph, e.g. 512 or 384x512 (512)",
    )
    p.add_argument("--batch", type=int, default=1, help="images per run (1)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset version (18)")
    p.add_argument(
        "--dynamic",
        action="store_true",
        help="let batch, height and width vary (models that pad or window in Python refuse)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT.onnx if it exists")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "predict",
        help="reconstruct spectral cubes from RGB photos",
        description="Reconstruct the spectral cube of each photo and write it with its "
        "wavelengths (nm). Inputs are PNG/JPEG/TIFF files (8 or 16 bit) or folders of them.",
        epilog="""examples:
  ssrzoo predict photo.jpg -m mae_ktsr_ntire -o out/ --preview
  ssrzoo predict photos/ -m mst_plus_plus_ntire -o cubes/ --format envi --tile 512
  ssrzoo predict scan.tif -m local-dir:runs/mine/export -o out/ --ensemble --device cuda
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    p.add_argument("-m", "--model", required=True, help="model name, hf-hub:... or local-dir:...")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument(
        "--format",
        choices=["npz", "npy", "mat", "h5", "envi"],
        default="npz",
        help="cube file format (default npz; envi writes .hdr + .img)",
    )
    p.add_argument(
        "--preview", action="store_true", help="also write band-grid, sRGB and spectra PNGs"
    )
    _add_existing_options(p)
    p.add_argument(
        "--allow-nan",
        action="store_true",
        help="write cubes holding NaN/inf values (default: such an image fails)",
    )
    _add_reconstructor_options(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "plot",
        help="draw pictures of a saved cube",
        description="Write a band grid, spectra and an sRGB render of a cube file "
        "(.npz/.npy/.mat/.h5/.hdr); with --gt also the per-pixel MRAE map.",
        epilog="""examples:
  ssrzoo plot out/photo.npz
  ssrzoo plot out/photo.hdr --pixel 120,340 --region 0,0,64,64 --rgb photo.jpg
  ssrzoo plot pred.npz --gt truth.npz -o figures/
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("cube", help="cube file written by `ssrzoo predict` (or with wavelengths)")
    p.add_argument("-o", "--output", default=None, help="output folder (default: the cube's)")
    p.add_argument(
        "--pixel",
        type=_parse_ints(2, "Y,X"),
        action="append",
        default=[],
        help="pixel Y,X whose spectrum to plot (repeatable)",
    )
    p.add_argument(
        "--region",
        type=_parse_ints(4, "Y0,X0,Y1,X1"),
        action="append",
        default=[],
        help="box Y0,X0,Y1,X1 whose mean spectrum to plot (repeatable)",
    )
    p.add_argument("--bands", type=int, default=16, help="bands in the grid (16)")
    p.add_argument("--rgb", default=None, help="the input photo, shown beside the sRGB render")
    p.add_argument("--gt", default=None, help="ground-truth cube file: adds an MRAE map")
    _add_existing_options(p)
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser(
        "train",
        help="train or fine-tune a model from a YAML recipe",
        description="Train from a recipe (recipes/*.yaml) with dotted key=value overrides. "
        "Multi-process: torchrun --nproc_per_node N -m ssrzoo train --config ...",
        epilog="""examples:
  ssrzoo train --config recipes/mae_ktsr_ntire.yaml
  ssrzoo train --config recipes/mae_ktsr_ntire.yaml optim.lr=2e-4 sched.steps=5000
  ssrzoo train --config recipes/mae_ktsr_ntire.yaml --resume
  torchrun --nproc_per_node 4 -m ssrzoo train --config recipes/s2mae_ntire.yaml device=cuda
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, help="recipe YAML (see recipes/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. optim.lr=1e-3")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.add_argument(
        "--allow-imports",
        action="store_true",
        help="trust the recipe's own code: imports, hooks, 'module:Class' datasets "
        "(as `trusted: true` in the recipe); read the recipe first",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "eval",
        help="score a model on a dataset (MRAE, RMSE, PSNR, SAM, SSIM)",
        description="Reconstruct every image of a dataset and print the metrics table. "
        "Ground truth on another band grid is resampled to the model's; images without an "
        "RGB (or all, with --simulate) get one simulated with the weight's camera response. "
        "Scored by ssrzoo.evaluate, as the Trainer's validation and the leaderboard are (SSIM: "
        "11x11 window, prediction clipped to [0, 1]).",
        epilog="""examples:
  ssrzoo eval -m mae_ktsr_ntire --dataset ntire2022 --root data/NTIRE2022 --split val
  ssrzoo eval -m mst_plus_plus_ntire --dataset cave_crops --root ../shared/data --simulate
  ssrzoo eval -m local-dir:runs/mine/export --dataset hyperspectral_folder --root cubes/ --json
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-m", "--model", required=True, help="model name, hf-hub:... or local-dir:...")
    p.add_argument("--dataset", required=True, help="dataset class, e.g. ntire2022, cave, icvl")
    p.add_argument("--root", required=True, help="the dataset's folder")
    p.add_argument("--split", default="all", help="dataset split (default all)")
    p.add_argument("--simulate", action="store_true", help="simulate RGB even if the data has it")
    p.add_argument("--crop", type=int, default=0, help="border pixels left out of the metrics")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    _add_reconstructor_options(
        p,
        _EVAL_OPTIONS,
        helps={
            "tile": "tile side in px (0: none)",
            "device": "cpu, cuda, ... (default: cuda if available)",
        },
    )
    p.add_argument(
        "--input-encoding",
        choices=["srgb", "linear"],
        default=None,
        help="encoding of the dataset's RGB (default: the weight's own, as in training)",
    )
    p.add_argument("--per-image", action="store_true", help="one table row per image")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_eval)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        with terminate_raises():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ssrzoo: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("ssrzoo: terminated", file=sys.stderr)
        return 143
    # ArithmeticError: a training run that diverged (FloatingPointError) names its step.
    except (
        ValueError,
        TypeError,
        OSError,
        RuntimeError,
        KeyError,
        MemoryError,
        ArithmeticError,
        ImportError,  # an optional package missing (MissingDependencyError names the extra)
    ) as err:
        if args.verbose:
            raise
        print(f"ssrzoo: error: {_reason(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
