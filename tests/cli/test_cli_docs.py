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


def _walk(cmd, ctx, path):
    yield path, cmd
    for name in getattr(cmd, "list_commands", lambda _c: [])(ctx):
        yield from _walk(cmd.get_command(ctx, name), ctx, f"{path} {name}")


def test_help_lists_whole_descriptions_and_every_option_has_help():
    import typer
    from typer.testing import CliRunner

    from anatloc.cli.main import app

    runner = CliRunner()
    for group in ([], ["ontology"], ["graph"], ["phantom"], ["baseline"]):
        r = runner.invoke(app, [*group, "--help"], terminal_width=80)
        listing = r.stdout.split("Commands:")[1]
        assert r.exit_code == 0 and "…" not in listing and "..." not in listing, listing
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="anatloc")
    for path, cmd in _walk(root, ctx, "anatloc"):
        for p in cmd.params:
            if getattr(p, "opts", None) and p.opts[0].startswith("--"):
                assert getattr(p, "help", None), f"{path} {p.opts[0]} has no help"
    r = runner.invoke(app, ["predict", "--help"], terminal_width=80)
    words = " ".join(r.stdout.split())
    assert "center_x, center_y, center_z, size_x, size_y, size_z" in words  # no word cut
