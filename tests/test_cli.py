"""The command line: output, exit codes (0 ok, 2 usage, 1 failure with one line)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import tiny_model  # noqa: F401

from ssrzoo.cli import main


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "tiny*"]) == 0
    out = capsys.readouterr().out
    assert "tiny_ssr" in out and "tiny_ssr_test" in out  # alias shown
    assert main(["list", "--json", "tiny*"]) == 0
    assert json.loads(capsys.readouterr().out) == ["tiny_ssr"]


def test_info_prints_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "tiny_ssr_test", "--no-flops", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "tiny_ssr.test"
    assert info["params"] == 3 * 8 * 9 + 8 + 8 * 31 + 31
    assert info["wavelengths"][0] == 400.0 and len(info["wavelengths"]) == 31
    assert main(["info", "tiny_ssr_test", "--no-flops"]) == 0
    text = capsys.readouterr().out
    assert "400 .. 700 nm (31 bands)" in text


def test_unknown_model_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "tiny_sr", "--no-flops"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ssrzoo: error: unknown model 'tiny_sr'")
    assert "\n" not in err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_python_dash_m_entrypoint() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ssrzoo", "--version"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0
    assert out.stdout.startswith("ssrzoo ")
