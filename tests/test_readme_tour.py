"""README's tour of the ontology, run as written (in a fresh folder)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_lines() -> list[tuple[list[str], str]]:
    """(arguments, comment) of each line of the tour's code block."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## A tour of the ontology.*?```\n(.*?)```", text, re.S).group(1)
    lines = []
    for line in block.splitlines():
        if not line.strip():
            continue
        comment = line.split("  #", 1)[1] if "  #" in line else ""
        lines.append((shlex.split(line, comments=True), comment))
    return lines


@pytest.mark.slow  # about 20 s: validate rasterizes the atlas
def test_the_readme_tour_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANATLOC_ONTOLOGY", raising=False)
    runner = CliRunner()
    env: dict[str, str] = {}
    lines = tour_lines()
    assert len(lines) > 10
    for args, comment in lines:
        if args[0] == "export":
            key, value = args[1].split("=", 1)
            env[key] = value
            continue
        assert args[0] == "anatloc", args
        r = runner.invoke(app, args[1:], env=env)
        said = f"{args}: exit {r.exit_code}\n{r.output}"
        if "refused" in comment:
            assert r.exit_code == 4 and r.stderr.startswith("error: "), said
            continue
        assert r.exit_code == 0, said
        if "warns" in comment:
            assert "warning: 'Liver S9' has no atlas geometry yet" in r.stderr, said
            assert "--allow-ontology-change" in r.stderr, said
        if "fine: 388" in comment:
            assert json.loads(r.stdout)["fine"] == 388, said
    assert (tmp_path / "my.ttl").is_file() and (tmp_path / "a.owl").is_file()
