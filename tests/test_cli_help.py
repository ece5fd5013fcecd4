"""Every help screen and start-up error of the ``moorage`` command, as a new user meets them."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from moorage.cli import app

runner = CliRunner()


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        paths.extend([name, sub] for sub in getattr(command, "commands", {}))
    return paths


class TestHelp:
    def test_every_command_is_covered(self) -> None:
        paths = _command_paths()
        assert ["serve"] in paths and ["admin", "create-team"] in paths
        assert len(paths) > 10

    @pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "moorage")
    def test_flags_show_as_flags(self, path: list[str]) -> None:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output
        help_line = next(line for line in result.output.splitlines() if "--help" in line)
        assert help_line.split() == ["--help", "Show", "this", "message", "and", "exit."]


class TestStartUpErrors:
    @pytest.fixture(autouse=True)
    def _keep_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``--data-dir`` is handed on through MOORAGE_DATA_DIR; restore it afterwards."""
        monkeypatch.delenv("MOORAGE_DATA_DIR", raising=False)

    @pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
    def test_a_data_dir_that_cannot_be_made_is_one_line_and_exit_2(self, command: str) -> None:
        result = runner.invoke(app, [command, "--data-dir", "/proc/nope"])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert lines == ["error: cannot use the data folder /proc/nope: No such file or directory"]
