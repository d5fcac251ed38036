"""The `digest` command itself: help texts, init, the offline demo, the installed wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.config import load_config

REPO = Path(__file__).resolve().parent.parent


def _commands() -> list[list[str]]:
    """Every command path, e.g. ["build"], ["subscribers", "add"]."""
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        children = getattr(command, "commands", None)
        if not children:
            paths.append(prefix)
            return
        for name, child in children.items():
            walk(child, [*prefix, name])

    walk(get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help, f"`digest {' '.join(path)}` has no help text"


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("digest ")


def test_init_writes_a_valid_config_and_the_theme(tmp_path: Path) -> None:
    target = tmp_path / "letter"
    result = CliRunner().invoke(app, ["init", str(target), "--theme"])
    assert result.exit_code == 0, result.output
    config = load_config(target / "config.toml")
    assert config.feeds and config.newsletter.title
    assert (target / "templates" / "digest.mjml.j2").is_file()
    again = CliRunner().invoke(app, ["init", str(target)])
    assert again.exit_code == Exit.ERROR and "exists" in again.output


@pytest.mark.slow
def test_demo_builds_offline(tmp_path: Path) -> None:
    """A subprocess with every outside connection refused still builds the demo."""
    script = (
        "import sys, socket\n"
        "from tests.helpers import no_network\n"
        "no_network()\n"
        "from digest.cli import app\n"
        "sys.argv = ['digest', 'build', '--demo', '--output', sys.argv[1]]\n"
        "app()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (folder,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    for name in ("email.html", "email.txt", "message.eml", "issue.json"):
        assert (folder / name).stat().st_size > 0
    record = json.loads((folder / "issue.json").read_text())
    stories = record["stories"]
    assert len(stories) >= 5
    assert all(1 <= len(s["summary"]) <= 6 for s in stories)
    assert sum(bool(s["comments"]) for s in stories) * 2 >= len(stories)
    assert {f["status"] for f in record["feeds"]} == {"ok"}
    html = (folder / "email.html").read_text()
    assert "images/" in html and (folder / "images").is_dir()
    assert not (tmp_path / "digest-state.sqlite").exists()


def test_demo_twice_rebuilds_the_same_issue(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        result = CliRunner().invoke(app, ["build", "--demo", "--output", str(out)])
        assert result.exit_code == Exit.WRITTEN, result.output
    assert len([p for p in out.iterdir() if p.is_dir()]) == 1


@pytest.mark.slow
def test_verbose_logs_to_stderr(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "digest", "build", "--demo", "-v", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "Issue written" in result.stdout


@pytest.mark.skipif(
    bool(
        subprocess.run([sys.executable, "-c", "import hatchling"], capture_output=True).returncode
    ),
    reason="hatchling is not installed (it comes with the test extra)",
)
@pytest.mark.slow
def test_wheel_ships_the_theme_and_the_demo(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("digest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "digest/templates/default/digest.mjml.j2" in names
    assert "digest/templates/default/partials/story.mjml.j2" in names
    assert "digest/demo/config.toml" in names
    assert "digest/render/locale/pt/LC_MESSAGES/digest.po" in names  # compiled at first use
    assert any(n.startswith("digest/demo/site/images/") for n in names)
    assert not any(n.startswith("tests/") for n in names)
