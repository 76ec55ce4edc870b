"""The ``ssrzoo`` command line: the only module that parses arguments.

Exit codes: 0 on success, 2 for usage errors (argparse), 1 for failures, printed as one
line ``ssrzoo: error: <reason>`` on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from . import __version__

__all__ = ["main"]

_EPILOG = """examples:
  ssrzoo list --pretrained
  ssrzoo list '*ktsr*'
  ssrzoo info mae_ktsr_ntire
  ssrzoo push runs/my_model/export my-org/my-model
"""


def _cmd_list(args: argparse.Namespace) -> int:
    from .models import get_pretrained_cfg, list_aliases, list_models

    names = list_models(args.filter or "", pretrained=args.pretrained)
    aliases: dict[str, list[str]] = {}
    for alias, target in list_aliases().items():
        key = target if args.pretrained else target.partition(".")[0]
        aliases.setdefault(key, []).append(alias)
    if args.json:
        print(json.dumps(names))
        return 0
    for name in names:
        extra = ""
        if args.pretrained:
            cfg = get_pretrained_cfg(name)
            wl = cfg.wavelengths
            grid = f"{cfg.num_bands} bands" + (f" {wl[0]:g}-{wl[-1]:g} nm" if wl else "")
            extra = f"  [{grid}; {cfg.response_name or 'response n/a'}]"
        names_with_alias = ", ".join(aliases.get(name, []))
        print(name + (f"  (alias: {names_with_alias})" if names_with_alias else "") + extra)
    if not names:
        print("no models match", file=sys.stderr)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .models import count_params, create_model

    model = create_model(args.model, pretrained=False)
    cfg = model.pretrained_cfg
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

    # predict / plot / eval / train: each adds its block here.
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ssrzoo: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, KeyError) as err:
        if args.verbose:
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"ssrzoo: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
