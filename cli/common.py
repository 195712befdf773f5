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
    from typer._click.exceptions import NoArgsIsHelpError as _NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException as _ClickException
    from click.exceptions import NoArgsIsHelpError as _NoArgsIsHelpError

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


def _command_path(ctx: Any) -> str:
    """``anatloc ontology stats`` for the context of a (sub)command, whatever the program
    was called (``CliRunner`` calls the root ``root``)."""
    names = []
    while ctx is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    names[-1] = "anatloc"
    return " ".join(n for n in reversed(names) if n)


def _invoked_path(ctx: Any, args: list[str]) -> str:
    """The (sub)command path that the root's arguments name (for an error of the option
    parser that carries no context of its own)."""
    path = ["anatloc"]
    cmd = ctx.command
    for arg in args:
        sub = cmd.get_command(ctx, arg) if hasattr(cmd, "get_command") else None
        if sub is None:
            break
        path.append(arg)
        cmd = sub
    return " ".join(path)


def _click_error(exc: Any, ctx: Any = None, args: list[str] = ()) -> None:
    """One line for an error of the option parser (unknown option, missing or bad value):
    ``error: <message> (see 'anatloc <command> --help')`` and its exit code (2)."""
    text = " ".join(exc.format_message().split()).rstrip(".")
    if text[:1].isupper() and text[1:2].islower():
        text = text[0].lower() + text[1:]
    own = getattr(exc, "ctx", None)
    path = _command_path(own) if own is not None else _invoked_path(ctx, args) if ctx else "anatloc"
    fail(f"{text} (see '{path} --help')", exc.exit_code)


class ListingGroup(TyperGroup):
    """A group whose ``--help`` lists each command with its whole first sentence, wrapped
    to the terminal, instead of click's cut at the width of one line ("Name the location
    of every lesion of a…")."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class AnatlocGroup(ListingGroup):
    """The root group: every error a user can cause becomes one line and an exit code.

    Typed errors (``anatloc.ontology.errors``) carry their code; the option parser's errors
    (click's ``UsageError``: an unknown option, a missing argument, a value out of range)
    become one line with exit code 2 instead of click's usage block; ``--help`` and the
    help a bare group prints (click's ``NoArgsIsHelpError``, exit 2) are left as they are.
    """

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:  # the root's own options are parsed here, before invoke
            return super().make_context(info_name, args, parent=parent, **extra)
        except _NoArgsIsHelpError:
            raise
        except _ClickException as exc:
            _click_error(exc)

    def invoke(self, ctx: typer.Context) -> Any:
        args = [*getattr(ctx, "_protected_args", []), *ctx.args]  # invoke consumes them
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _NoArgsIsHelpError):
            raise
        except _ClickException as exc:  # the sub-commands' options are parsed in invoke
            _click_error(exc, ctx, args)
        except AnatlocError as exc:
            fail(exc.message.replace("\n", " "), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
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
        cls=ListingGroup,
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
DeviceOpt = Annotated[
    str, typer.Option("--device", help="auto (CUDA when present, else CPU), cpu or cuda.")
]
PrecisionOpt = Annotated[
    str,
    typer.Option(
        "--precision",
        help="Image encoder arithmetic: auto (bf16 on CUDA, and on a CPU with native bf16 for "
        "models trained in bf16 on a GPU; else fp32), fp32 or bf16.",
    ),
]


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


TEXT_BANK_WHY = (
    "embedding the descriptions of the edited ontology with the text model: its terms "
    "differ from the model's and are not in the text bank cache yet (once per edit; "
    "cached afterwards)"
)


def load_localizer(
    path: Path,
    ont: Any,
    *,
    device: str,
    precision: str,
    allow_ontology_change: bool,
    console: Any = None,
) -> Any:
    """The ``Localizer`` of a checkpoint for ``predict`` and ``evaluate``: the text bank's
    rebuild shown (:func:`text_bank_progress`), an accepted ontology change warned about."""
    from anatloc.retriever.infer import Localizer

    with text_bank_progress(console) as text_progress:
        loc = Localizer.from_checkpoint(
            path,
            device=device,
            ontology=ont,
            allow_ontology_change=allow_ontology_change,
            precision=precision,
            text_progress=text_progress,
        )
    if not loc.diff.empty:
        typer.echo(f"warning: ontology changed since training: {loc.diff.explain()}", err=True)
    return loc


@contextlib.contextmanager
def text_bank_progress(console: Any = None) -> Iterator[Any]:
    """A ``progress(done, total)`` callback for the text bank's rebuild (``TextBank.build``):
    why it rebuilds and a bar on stderr when stderr is a terminal, the same words as one
    line at the start and one at the end otherwise (logs).  Silent when nothing is embedded
    (the bank was in the cache)."""
    import time

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console if console is not None else Console(stderr=True)
    state: dict[str, Any] = {"bar": None, "task": None, "t0": None, "total": 0}

    def progress(done: int, total: int) -> None:
        if state["t0"] is None:
            state["t0"], state["total"] = time.perf_counter(), total
            console.print(
                f"{TEXT_BANK_WHY}: {total} texts", markup=False, highlight=False, soft_wrap=True
            )
            if console.is_terminal:
                bar = Progress(
                    TextColumn("text bank"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TextColumn("left"),
                    TimeRemainingColumn(),
                    console=console,
                    transient=True,
                )
                bar.start()
                state["bar"], state["task"] = bar, bar.add_task("text bank", total=total)
        if state["bar"] is not None:
            state["bar"].update(state["task"], completed=done)

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].stop()
        if state["t0"] is not None:
            console.print(
                f"text bank ready: {state['total']} texts in "
                f"{time.perf_counter() - state['t0']:.0f} s",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


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
