"""What every command shares: error handling, output, the ontology option, edit sessions.

Library code raises typed errors (``anatloc.ontology.errors``); :class:`AnatlocGroup`
turns them into one line on stderr and the exit code the error carries.  Data goes to
stdout (JSON with ``--json``, a rich table otherwise); diagnostics go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors its own click
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException as _ClickException

from anatloc.ontology.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    AnatlocError,
    ReadOnlyOntologyError,
)

ENV_ONTOLOGY = "ANATLOC_ONTOLOGY"


def fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class AnatlocGroup(TyperGroup):
    """The root group: every error a user can cause becomes one line and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _ClickException):
            raise
        except AnatlocError as exc:
            fail(exc.message.replace("\n", " "), exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            with contextlib.suppress(OSError):
                sys.stderr.close()
            raise typer.Exit(0) from None
        except Exception as exc:
            if os.environ.get("ANATLOC_DEBUG"):
                raise
            fail(
                f"internal error ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "this is a bug in anatloc, please report it (ANATLOC_DEBUG=1 shows the traceback)",
                EXIT_INTERNAL,
            )


def new_app(help: str) -> typer.Typer:
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


# -- options shared by many commands -----------------------------------------------------
OntologyOpt = Annotated[
    Path | None,
    typer.Option(
        "--ontology",
        "-O",
        help="Ontology file to use (default: $ANATLOC_ONTOLOGY, else the shipped one).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]


def ontology_path(ctx: typer.Context | None, value: Path | None) -> Path:
    """The ontology file: the command's --ontology, the root's --ontology, $ANATLOC_ONTOLOGY,
    else the shipped file."""
    from anatloc.ontology.io import default_path

    if value is not None:
        return value
    root = ctx.find_root() if ctx is not None else None
    if root is not None and root.obj and root.obj.get("ontology"):
        return Path(root.obj["ontology"])
    return default_path()


def load(ctx: typer.Context | None, value: Path | None):
    from anatloc.ontology import load_ontology

    return load_ontology(ontology_path(ctx, value))


@contextlib.contextmanager
def edit_session(ctx: typer.Context | None, value: Path | None) -> Iterator[Any]:
    """Lock the user's ontology file, load it, yield it, save it atomically if no error."""
    from anatloc.ontology import load_ontology
    from anatloc.ontology.fileio import file_lock
    from anatloc.ontology.io import is_shipped

    path = ontology_path(ctx, value)
    if is_shipped(path):
        raise ReadOnlyOntologyError(
            "the shipped ontology is read-only; make your own copy with "
            "'anatloc ontology init my.ttl' and edit it with --ontology my.ttl "
            "(or ANATLOC_ONTOLOGY=my.ttl)"
        )
    with file_lock(path):
        ont = load_ontology(path)
        yield ont
        ont.save(path)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    Console(soft_wrap=False).print(table)


def usage_error(message: str) -> None:
    fail(message, EXIT_USAGE)
