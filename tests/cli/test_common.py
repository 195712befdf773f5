"""cli/common.py: the root group's one-line errors and bare groups' help, through Typer's
public API only."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from anatloc.cli.common import AnatlocGroup, new_app


def _app() -> typer.Typer:
    app = typer.Typer(
        cls=AnatlocGroup, no_args_is_help=True, add_completion=False, rich_markup_mode=None
    )

    @app.callback()
    def root(ontology: str = typer.Option(None, "--ontology", "-O")) -> None:
        """The root."""

    sub = new_app("A group.")

    @sub.command()
    def cmd() -> None:
        """A command whose error carries no context of its own."""
        raise typer.BadParameter("bad thing")

    @sub.command()
    def other() -> None:
        """Another."""

    app.add_typer(sub, name="grp")
    return app


def test_an_error_without_a_context_names_the_command_from_the_arguments():
    r = CliRunner().invoke(_app(), ["-O", "x.ttl", "grp", "cmd"], prog_name="anatloc")
    assert r.exit_code == 2
    assert r.stderr.strip() == "error: invalid value: bad thing (see 'anatloc grp cmd --help')"


def test_a_bare_group_prints_its_help_on_stderr_with_exit_code_2():
    r = CliRunner().invoke(_app(), ["grp"], prog_name="anatloc")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("Usage: anatloc grp [OPTIONS] COMMAND") and "A group." in r.stderr
    r = CliRunner().invoke(_app(), [], prog_name="anatloc")
    assert r.exit_code == 2 and "grp" in r.stderr


def test_the_commands_use_no_private_parts_of_typer_or_click():
    import anatloc.cli as cli

    for path in Path(cli.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "_click" not in text.replace("_click_error", ""), path
        assert "_protected_args" not in text, path
