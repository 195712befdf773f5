"""docs/cli.md is generated from the Typer app and must match it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "tools" / "gen_cli_docs.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_reference_is_up_to_date():
    text = _tool().render()
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == text, (
        "docs/cli.md differs from the Typer app; regenerate it with python tools/gen_cli_docs.py"
    )


def test_every_command_is_documented():
    import typer

    from anatloc.cli.main import app

    text = _tool().render()
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="anatloc")
    for name in root.list_commands(ctx):
        assert f"`anatloc {name}`" in text
        for opt in root.get_command(ctx, name).params:
            for o in getattr(opt, "opts", []):
                if o.startswith("--"):
                    assert o in text
