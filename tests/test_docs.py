"""The documentation's code runs, and the site builds with ``mkdocs build --strict``.

Every fenced code block of ``docs/quickstart.md``, ``docs/tutorials/*.md`` and
``docs/contributing.md`` is executed, page by page, in order, in one namespace per page, inside
a fresh temporary working directory (offline: ``tests/conftest.py`` sets ``HF_HUB_OFFLINE``):

* ```` ```python ```` blocks are ``exec``-ed (tracebacks point at the Markdown line);
* ```` ```bash ```` blocks: each line ``ssrzoo ...`` runs in-process through
  :func:`ssrzoo.cli.main` and must exit 0; any other command needs a ``skip`` marker;
* ```` ```yaml ```` blocks must parse; ``text``/``console`` output blocks are not code.

Blocks that need what a test cannot have (full datasets, the network, a Hub account) are
adapted with HTML comments right before them, invisible on the site::

    <!-- docs-test: setup
    docs_test.ntire2020("data/NTIRE2020")      # hidden code, run at this point of the page
    -->
    <!-- docs-test: replace
    "steps": 2000 => "steps": 3              # text substitutions in the next block only
    -->
    <!-- docs-test: skip installing needs the network -->

A ``replace`` whose text is not in its block fails the test, so substitutions cannot go
stale; every ``skip`` names its reason and is reported as a warning. Hidden setup code sees
``docs_test`` (the fixture builders below) and ``REPO_ROOT``.

Two stand-ins keep the pages runnable offline before everything is published:

* **Weights.** While a weight the docs use is not in ``ssrzoo.list_pretrained()``, a
  randomly initialised copy is saved and registered under its name (file + sha256, with
  :func:`ssrzoo.models.register_pretrained_cfg`) for the duration of this module, so
  ``pretrained=True``, ``torch.hub`` and the CLI run the same code path they will run with
  the real weight; only the numbers differ. Once the weight is published the stand-in is
  not used (delete ``_STAND_IN_WEIGHTS`` then).
* **The Hub.** ``huggingface_hub``'s cache points into the test's folder and
  ``HfApi.create_repo``/``upload_folder`` write into it, laid out as the real cache, so
  ``push_to_hub`` followed by ``create_model('hf-hub:...')`` round-trips offline.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
PAGES = [
    "quickstart.md",
    *sorted(f"tutorials/{p.name}" for p in (DOCS / "tutorials").glob("*.md")),
    "contributing.md",
]

#: Weights the executed pages load with ``pretrained=True``.
_STAND_IN_WEIGHTS = ("mae_ktsr.ntire2020",)

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = "<!-- docs-test:"
_SHELL = {"bash", "sh", "shell"}
_NOT_CODE = {"text", "console", "pycon", "output", "bibtex"}


# ---------------------------------------------------------------------------- page parsing
@dataclasses.dataclass
class Block:
    """One code block or hidden setup block of a page, with its markers."""

    lang: str
    code: str
    line: int  # 1-based line of the first code line in the Markdown file
    replace: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    skip: str | None = None


def _marker(text: str, where: str) -> tuple[str, str]:
    """``(kind, argument)`` of a marker comment: the rest of its first line (``skip``) or
    its following lines (``setup``, ``replace``)."""
    first, _, rest = text[len(_MARKER) : -len("-->")].partition("\n")
    kind, _, arg = first.strip().partition(" ")
    if kind not in ("setup", "replace", "skip"):
        raise ValueError(f"{where}: unknown docs-test marker {kind!r}")
    return kind, (arg.strip() if kind == "skip" else rest)


def parse_page(path: Path) -> list[Block]:
    """The page's blocks in order; markers are attached to the block that follows them."""
    page = path.name
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    replace: list[tuple[str, str]] = []
    skip: str | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(_MARKER):
            start = i
            text = stripped
            while not text.endswith("-->"):
                i += 1
                if i == len(lines):
                    raise ValueError(f"{page}:{start + 1}: docs-test marker is never closed")
                text += "\n" + lines[i]
            word, arg = _marker(text, f"{page}:{start + 1}")
            if word == "setup":
                blocks.append(Block("python", "\n" * (start + 1) + arg, start + 2))
            elif word == "replace":
                for pair in arg.splitlines():
                    old, sep, new = pair.partition(" => ")
                    if not sep:
                        raise ValueError(f"{page}:{start + 1}: replace line {pair!r} lacks ' => '")
                    replace.append((old.strip(), new.strip()))
            else:
                if not arg:
                    raise ValueError(f"{page}:{start + 1}: a skip marker must give its reason")
                skip = arg
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if fence:
            indent, mark = fence["indent"], fence["fence"]
            lang = fence["info"].strip().split(" ")[0].lower()
            start = i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(mark):
                line = lines[i]
                body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
                i += 1
            if i == len(lines):
                raise ValueError(f"{page}:{start + 1}: code block is never closed")
            code = "\n" * (start + 1) + "\n".join(body) + "\n"
            blocks.append(Block(lang, code, start + 2, replace, skip))
            replace, skip = [], None
        elif (replace or skip) and stripped:
            raise ValueError(f"{page}:{i + 1}: docs-test marker not followed by a code block")
        i += 1
    return blocks


def _apply(block: Block, page: str) -> str:
    code = block.code
    for old, new in block.replace:
        if old not in code:
            raise AssertionError(
                f"{page}:{block.line}: replace marker text {old!r} is not in the block; "
                "update the marker together with the code"
            )
        code = code.replace(old, new)
    return code


# ---------------------------------------------------------------------------- fixtures
def _save_hub_snapshot(cache: Path, repo_id: str, folder: Path) -> Path:
    """Copy a saved-model folder into ``cache`` laid out as huggingface_hub's cache."""
    from ssrzoo.models import file_sha256

    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    commit = file_sha256(folder / "model.safetensors")[:40]
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in folder.iterdir():
        shutil.copyfile(file, snapshot / file.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


class _FakeHubApi:
    """``HfApi.create_repo``/``upload_folder`` that write into the local cache instead."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def create_repo(self, repo_id: str, **_: Any) -> str:
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id: str, folder_path: str, **_: Any) -> Any:
        snapshot = _save_hub_snapshot(self.cache, repo_id, Path(folder_path))
        return types.SimpleNamespace(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{snapshot.name}"
        )


def _scene(size: tuple[int, int], seed: int, bands: Any = None) -> dict[str, Any]:
    from ssrzoo.data import SyntheticScenes

    return SyntheticScenes(size=size, length=seed + 1, seed=seed, bands=bands)[seed]


def _write_photo(path: Path, size: tuple[int, int] = (96, 128), seed: int = 0) -> Path:
    """An 8-bit sRGB photo (PNG/JPEG by suffix) of a synthetic scene."""
    from PIL import Image

    from ssrzoo.spectral import render_srgb

    sample = _scene(size, seed)
    srgb = np.asarray(render_srgb(sample["hsi"].numpy(), sample["wavelengths"].numpy()))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((srgb.transpose(1, 2, 0) * 255).round().astype(np.uint8)).save(path)
    return path


class DocsFixtures:
    """What hidden setup blocks call as ``docs_test.<name>(...)``: small real-format data."""

    def example_image(self, path: str = "examples/synthetic_scene.png") -> Path:
        """The repo's example photo, or a synthetic stand-in while it is not committed."""
        src = REPO_ROOT / "examples" / "synthetic_scene.png"
        dst = Path(path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            shutil.copyfile(src, dst)
            return dst
        return _write_photo(dst)

    def photo(self, path: str, size: tuple[int, int] = (96, 128), seed: int = 1) -> Path:
        """A stand-in for the reader's own photo."""
        return _write_photo(Path(path), size, seed)

    def hub_upload(self, name: str, repo_id: str) -> None:
        """Put ``create_model(name, pretrained=True)`` on the (fake, local) Hub."""
        import ssrzoo

        ssrzoo.push_to_hub(ssrzoo.create_model(name, pretrained=True), repo_id)

    def weight_file(self, name: str, path: str) -> Path:
        """A manually downloaded copy of ``name``'s published weight file."""
        from ssrzoo.models import get_pretrained_cfg, resolve_pretrained_file

        dst = Path(path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(resolve_pretrained_file(get_pretrained_cfg(name)), dst)
        return dst

    def raw_cubes(self, root: str, count: int = 3, size: int = 40) -> Path:
        """Cubes as a lab might store them: ``(H, W, 61)`` float32 ``.npy``, 400-700 nm at 5 nm
        (synthetic radiance, 99.9th percentile at 1), with a ``wavelengths.txt``."""
        folder = Path(root)
        folder.mkdir(parents=True, exist_ok=True)
        wl = np.arange(400.0, 701.0, 5.0)
        for i in range(count):
            hsi = _scene((size, size), i, bands=wl)["hsi"].numpy()
            np.save(folder / f"scene_{i:02d}.npy", hsi.transpose(1, 2, 0).astype(np.float32))
        (folder / "wavelengths.txt").write_text("\n".join(f"{w:g}" for w in wl) + "\n")
        return folder

    def camera_csv(self, path: str, camera: str = "nikon_5100_npl") -> Path:
        """A camera response table ``wavelength,R,G,B`` as a manufacturer or lab gives it."""
        from ssrzoo.spectral import get_response

        resp = get_response(camera)
        table = np.column_stack([resp.wavelengths, resp.values.T])
        dst = Path(path)
        np.savetxt(dst, table, delimiter=",", header="wavelength,R,G,B", comments="", fmt="%.6g")
        return dst

    def ntire2020(self, root: str, train: int = 3, val: int = 2, size: int = 48) -> Path:
        """NTIRE2020's layout: MATLAB v7.3 cubes (HDF5, ``cube`` with MATLAB's axis order
        reversed as h5py stores it) and the Clean track's 8-bit PNGs, ``size`` px square."""
        import h5py
        from PIL import Image

        from ssrzoo.spectral import simulate_rgb

        base = Path(root)
        index = 1
        for prefix, count in (("NTIRE2020_Train", train), ("NTIRE2020_Validation", val)):
            spectral = base / f"{prefix}_Spectral"
            clean = base / f"{prefix}_Clean"
            spectral.mkdir(parents=True, exist_ok=True)
            clean.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                name = f"ARAD_HS_{index:04d}"
                sample = _scene((size, size), index)
                hsi = sample["hsi"].numpy()
                with h5py.File(spectral / f"{name}.mat", "w") as f:
                    f["cube"] = hsi.transpose(0, 2, 1)  # MATLAB's (H, W, C) is (C, W, H) here
                    f["bands"] = sample["wavelengths"].numpy()[:, None]  # MATLAB's (1, 31)
                rgb = simulate_rgb(hsi, sample["wavelengths"].numpy(), "clean")
                Image.fromarray((rgb.transpose(1, 2, 0) * 255).astype(np.uint8)).save(
                    clean / f"{name}_clean.png"
                )
                index += 1
        return base

    def pavia(self, root: str, rows: int = 64, cols: int = 40) -> Path:
        """``PaviaU.mat`` / ``PaviaU_gt.mat`` (MATLAB v5) of a small ``rows x cols`` scene:
        abundance maps of three smooth spectra over the 103 ROSIS bands, counts up to ~8000
        as in the real file, and a label map."""
        from scipy.io import savemat

        rng = np.random.default_rng(0)
        bands = np.linspace(0.0, 1.0, 103)
        ends = np.stack(
            [
                0.1 + 0.5 * bands,  # soil-like ramp
                0.05 + 0.6 * np.exp(-(((bands - 0.6) / 0.2) ** 2)),  # a broad peak
                0.3 + 0.2 * np.sin(6 * bands),  # a wavy man-made material
            ]
        )
        abundance = rng.dirichlet(np.ones(3), size=(rows, cols))
        folder = Path(root)
        folder.mkdir(parents=True, exist_ok=True)
        savemat(folder / "PaviaU.mat", {"paviaU": 8000 * abundance @ ends})
        labels = abundance.argmax(axis=-1).astype(np.uint8) + 1
        savemat(folder / "PaviaU_gt.mat", {"paviaU_gt": labels})
        return folder

    def recipes(self, *names: str) -> Path:
        """The repository's ``recipes/`` folder, copied into the working directory."""
        src = REPO_ROOT / "recipes"
        missing = [n for n in names if not (src / f"{n}.yaml").is_file()]
        if missing:
            pytest.skip(f"recipes/{missing[0]}.yaml is not in the repository yet")
        shutil.copytree(src, "recipes", dirs_exist_ok=True)
        return Path("recipes")


@pytest.fixture(scope="module")
def stand_in_weights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Register random-init copies of unpublished weights (see the module docstring)."""
    import torch

    import ssrzoo
    from ssrzoo.models import file_sha256, get_pretrained_cfg, register_pretrained_cfg

    published = set(ssrzoo.list_pretrained())
    originals = []
    folder = tmp_path_factory.mktemp("stand_in_weights")
    for name in _STAND_IN_WEIGHTS:
        if name in published:
            continue
        cfg = get_pretrained_cfg(name)
        torch.manual_seed(0)
        out = ssrzoo.save_pretrained(ssrzoo.create_model(name), folder / name)
        weights = out / "model.safetensors"
        originals.append(cfg)
        register_pretrained_cfg(
            cfg.replace(file=str(weights), sha256=file_sha256(weights)), overwrite=True
        )
    if originals:
        warnings.warn(
            "docs code ran with randomly initialised stand-ins for unpublished weights: "
            + ", ".join(c.name for c in originals),
            stacklevel=1,
        )
    yield [c.name for c in originals]
    for cfg in originals:
        register_pretrained_cfg(cfg, overwrite=True)


@pytest.fixture
def restore_registries() -> Iterator[None]:
    """Undo what a page registers (weight tags, responses) so that other tests do not see it."""
    from ssrzoo.models import _registry
    from ssrzoo.spectral import responses

    tables = (
        _registry._model_entrypoints,
        _registry._model_to_module,
        _registry._model_default_cfgs,
        _registry._pretrained_cfgs,
        _registry._aliases,
        responses._FACTORIES,
    )
    saved = [dict(t) for t in tables]
    entries = {k: (list(v.tags), dict(v.cfgs)) for k, v in _registry._model_default_cfgs.items()}
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    for arch, (tags, cfgs) in entries.items():
        _registry._model_default_cfgs[arch].tags[:] = tags
        _registry._model_default_cfgs[arch].cfgs.clear()
        _registry._model_default_cfgs[arch].cfgs.update(cfgs)
    responses._CACHE.clear()


@pytest.fixture
def docs_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stand_in_weights: list[str],
    restore_registries: None,
) -> Iterator[dict[str, Any]]:
    """A fresh working directory, a local Hub and the namespace the page's code runs in."""
    import huggingface_hub
    import matplotlib
    import torch
    from huggingface_hub import constants

    matplotlib.use("Agg")
    # One thread: the pages run tiny models, and several test files share the machine's
    # cores (oversubscribed threads make a 2x32x32 step 20x slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    hub = _FakeHubApi(cache)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", hub.create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", hub.upload_folder)
    # A real module: dataclasses, pickling and register_model look classes up in sys.modules.
    module = types.ModuleType("ssrzoo_docs_page")
    module.__dict__.update(docs_test=DocsFixtures(), REPO_ROOT=str(REPO_ROOT))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    yield module.__dict__
    torch.set_num_threads(threads)


def _run_shell(code: str, where: str) -> None:
    from ssrzoo.cli import main

    for raw in code.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        argv = shlex.split(line)
        if argv[0] != "ssrzoo":
            raise AssertionError(
                f"{where}: cannot run {argv[0]!r} in the docs test; mark the block with "
                "<!-- docs-test: skip <reason> --> or use ssrzoo commands only"
            )
        code_ = main(argv[1:])
        assert code_ == 0, f"{where}: `{line}` exited with {code_}"


# ---------------------------------------------------------------------------- tests
def test_pages_found() -> None:
    """The quickstart, five tutorials and the contributing guide exist (an empty glob would
    test nothing)."""
    assert all((DOCS / p).is_file() for p in PAGES), PAGES
    assert len(PAGES) >= 7, PAGES


def test_markers_parse(tmp_path: Path) -> None:
    """The parser keeps code, hidden setup and markers apart, with the right line numbers."""
    text = (
        "# t\n\n<!-- docs-test: setup\nx = 1\n-->\n"
        "<!-- docs-test: replace\na => b\n-->\n```python\ny = 'a'\n```\n"
        "<!-- docs-test: skip needs the network -->\n```bash\npip install x\n```\n"
        "```text\nnot code\n```\n"
    )
    path = tmp_path / "probe.md"
    path.write_text(text)
    blocks = parse_page(path)
    assert [(b.lang, b.line) for b in blocks] == [
        ("python", 4),
        ("python", 10),
        ("bash", 14),
        ("text", 17),
    ]
    assert blocks[0].code.splitlines()[3] == "x = 1"
    assert blocks[1].replace == [("a", "b")]
    assert _apply(blocks[1], "p").strip() == "y = 'b'"
    assert blocks[2].skip == "needs the network"


@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page: str, docs_env: dict[str, Any]) -> None:
    """Run each code block of ``page`` in order, in one namespace."""
    path = DOCS / page
    blocks = parse_page(path)
    code_blocks = [b for b in blocks if b.lang not in _NOT_CODE]
    assert code_blocks, f"{page} has no code blocks"
    namespace = docs_env
    for block in blocks:
        where = f"docs/{page}:{block.line}"
        if block.lang in _NOT_CODE:
            continue
        if block.skip is not None:
            warnings.warn(f"{where}: block not run: {block.skip}", stacklevel=1)
            continue
        code = _apply(block, page)
        if block.lang == "python":
            exec(compile(code, str(path), "exec"), namespace)
        elif block.lang in _SHELL:
            _run_shell(code, where)
        elif block.lang == "yaml":
            assert yaml.safe_load(code) is not None, f"{where}: empty YAML block"
        elif block.lang == "json":
            json.loads(code)
        else:
            raise AssertionError(
                f"{where}: the docs test does not know how to run a {block.lang!r} block; "
                "use python/bash/yaml, or text for output"
            )


def test_reference_covers_the_public_api() -> None:
    """Every top-level name and every model family has its place in the API reference."""
    import ssrzoo

    top = (DOCS / "reference" / "ssrzoo.md").read_text()
    assert [n for n in ssrzoo.__all__ if f"`{n}`" not in top] == []
    families = (DOCS / "reference" / "families.md").read_text()
    modules = sorted(
        p.stem for p in (REPO_ROOT / "ssrzoo" / "models").glob("*.py") if p.stem[0] != "_"
    )
    assert [m for m in modules if f"::: ssrzoo.models.{m}\n" not in families] == []


def test_weights_table_hook(stand_in_weights: list[str]) -> None:
    """The build-time weights table has one row per matching weight tag, with its metadata."""
    import ssrzoo

    spec = importlib.util.spec_from_file_location("weights_table", DOCS / "_hooks/weights_table.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    rows = hook.weights_table("mae_ktsr.*").splitlines()[2:]
    names = sorted(n for n in ssrzoo.list_aliases().values() if n.startswith("mae_ktsr."))
    assert [r.split("`")[1] for r in rows] == names
    for row, name in zip(rows, names, strict=True):
        cfg = ssrzoo.get_pretrained_cfg(name)
        wl = cfg.wavelengths
        assert f"| {cfg.num_bands}: {wl[0]:g}–{wl[-1]:g} nm | {cfg.response_name} |" in row
        expected = "Hub" if cfg.has_weights else "not published yet"
        assert row.rstrip(" |").endswith(expected), row
    assert hook.weights_table("no_such_model.*") == ""
    page = types.SimpleNamespace(file=types.SimpleNamespace(src_path="x.md"))
    text = hook.on_page_markdown("a\n<!-- ssrzoo-weights: awan.* -->\nb", page=page)
    assert "| `awan.ntire2020`<br>`awan_ntire` | 31: 400–700 nm |" in text


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """The site builds with warnings as errors (broken links, anchors, docstrings)."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed; pip install -e '.[docs]' to build the docs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    problems = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(
        problems or proc.stderr.splitlines()[-20:]
    )
    assert (tmp_path / "site" / "quickstart" / "index.html").is_file()
