"""The package layout's import rules (docs/contributing.md), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ssrzoo"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the ssrzoo modules ``path`` imports, lazy imports included."""
    # the package a relative import starts from (a module's, or an __init__'s own folder)
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "ssrzoo" or n.startswith("ssrzoo.")}


def offenders(folders: list[str], forbidden: str) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            bad = [m for m in imported_modules(path) if m.startswith(forbidden)]
            if bad:
                found.append(f"{path.relative_to(PACKAGE.parent)}: {sorted(bad)}")
    return found


@pytest.mark.parametrize(
    ("folders", "forbidden"),
    [
        (["data", "io", "spectral"], "ssrzoo.models"),
        (["io", "spectral"], "ssrzoo.data"),
        (["models"], "ssrzoo.data"),
        (["data", "io", "spectral", "models", "inference", "train", "downstream"], "ssrzoo.cli"),
    ],
)
def test_layers_import_downwards_only(folders: list[str], forbidden: str) -> None:
    assert offenders(folders, forbidden) == []


def test_the_checker_sees_relative_imports() -> None:
    source = PACKAGE / "data" / "transforms.py"
    modules = imported_modules(source)
    assert "ssrzoo.protocols" in modules  # `from ..protocols import ...`
    assert any(m.startswith("ssrzoo.spectral") for m in modules)
    # and it flags a real upward-looking import: the Trainer does import the models
    assert offenders(["train"], "ssrzoo.models")
