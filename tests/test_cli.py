"""The ``tuxnet`` command's dispatcher."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tuxnet import __version__
from tuxnet.cli import SUBCOMMANDS, main


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tuxnet", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"tuxnet {__version__}"


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in text


def test_unknown_command_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_every_subcommand_module_imports_and_has_main() -> None:
    import importlib

    for name, (module, _) in SUBCOMMANDS.items():
        mod = importlib.import_module(module)
        assert callable(getattr(mod, "main", None)), name
