"""What every command shares: error handling, output, the ontology option, edit sessions.

Library code raises typed errors (``anatloc.ontology.errors``); :class:`AnatlocGroup`
turns them into one line on stderr and the exit code the error carries.  Data goes to
stdout (JSON with ``--json``, a rich table otherwise); diagnostics go to stderr, and so
does progress, through one helper (:class:`Counts`: a rich bar on a terminal, lines in a
log).  Only Typer's public API is used (none of its private modules or context fields):
the parser's errors are caught as ``typer.TyperException`` (click's ``ClickException``
before Typer parsed options itself), and a bare group's help is printed here.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 parses options itself (a click of its own): its errors are these
    from typer import TyperException as _ParseError
except ImportError:  # pragma: no cover - older typer parses with click
    from click import ClickException as _ParseError

from anatloc.ontology.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    AnatlocError,
    ReadOnlyOntologyError,
)
from anatloc.ontology.io import ENV_VAR

#: where :meth:`AnatlocGroup.resolve_command` keeps the root's command and its arguments
_ARGS_KEY = "anatloc.args"


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

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """A bare group prints its help on stderr and exits with code 2 (what click's
        ``NoArgsIsHelpError`` does, here without reaching for the parser's internals)."""
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), err=True)
            raise typer.Exit(EXIT_USAGE)
        return super().parse_args(ctx, args)

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
    help a bare group prints (:meth:`ListingGroup.parse_args`, exit 2) are left as they are.
    """

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:  # the root's own options are parsed here, before invoke
            return super().make_context(info_name, args, parent=parent, **extra)
        except _ParseError as exc:
            _click_error(exc)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Keep the command's name and what follows it (``ctx.meta``): an error of the
        option parser that carries no context of its own names the command from them."""
        ctx.meta[_ARGS_KEY] = list(args)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except _ParseError as exc:  # the sub-commands' options are parsed in invoke
            _click_error(exc, ctx, ctx.meta.get(_ARGS_KEY, []))
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
        help=f"Ontology file to use (default: ${ENV_VAR}, else the shipped one).",
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

# -- options of the commands that run a model (predict, evaluate) --------------------------------
BatchSizeOpt = Annotated[
    int,
    typer.Option(
        "--batch-size", min=1, help="Lesions per model call (lower it if memory runs short)."
    ),
]
TopKOpt = Annotated[
    int | None, typer.Option("--top-k", min=1, help="Coarse locations searched at fine level.")
]
AbstainOpt = Annotated[
    float | None,
    typer.Option("--abstain-threshold", min=0.0, max=0.999, help="Back off to coarse below this."),
]
AllowOntologyChangeOpt = Annotated[
    bool,
    typer.Option(
        "--allow-ontology-change",
        help="Predict over the current ontology even if the model was trained on another.",
    ),
]


def check_writable(path: Path, option: str, example: str | None = None) -> None:
    """Refuse, before any work, a file to write that is a folder or whose folder is missing."""
    from anatloc.ontology.errors import DataError, UsageError

    if path.is_dir():
        such = f" such as {path / example}" if example else ""
        raise UsageError(f"{option} {path} is a folder; give a file name{such}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: folder {folder} does not exist")


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


class Counts:
    """The one way the commands show a long count on stderr: a rich bar on a terminal
    (gone when the count ends), lines in logs, and lasting lines (:meth:`line`) that a
    bar on screen does not overwrite.

    ``count(label, done, total, log=...)``: on a terminal the bar ``label``, ``done`` of
    ``total``, with ``note`` beside it (a new label starts a new bar); in logs the line
    ``log``, at most every ``every`` seconds (default 10) and at the end of the count
    (nothing when ``log`` is None).  :meth:`close` takes a bar off the screen."""

    def __init__(self, console: Any = None, *, every: float | None = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.tty = self.console.is_terminal
        self.every = every if every is not None else (0.5 if self.tty else 10.0)
        self.last = 0.0
        self.on_screen = False  # a bar is showing
        self._bar: Any = None
        self._task: Any = None
        self._label = ""

    def line(self, text: str) -> None:
        """A lasting line, as given (no markup, no wrapping)."""
        self.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def count(
        self, label: str, done: int, total: int, *, note: str = "", log: str | None = None
    ) -> None:
        if not self.tty:
            now = time.monotonic()
            if log is not None and (now - self.last >= self.every or done >= total):
                self.last = now
                self.line(log)
            return
        if self._bar is None:
            self._bar = _new_bar(self.console)
            self._bar.start()
        if self._task is None or label != self._label:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task, self._label = self._bar.add_task(label, total=total, note=note), label
        self._bar.update(self._task, completed=done, total=total, note=note)
        self.on_screen = True
        if done >= total:
            self._bar.remove_task(self._task)
            self._task, self.on_screen = None, False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar, self._task, self.on_screen = None, None, False


def _new_bar(console: Any) -> Any:
    """label, bar, n/total, time taken and left, then the note (wrapped on a narrow
    terminal rather than squeezing the bar and the counts)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}", markup=False, table_column=Column(no_wrap=False)),
        console=console,
        transient=True,
    )


@contextlib.contextmanager
def text_bank_progress(console: Any = None) -> Iterator[Any]:
    """A ``progress(done, total)`` callback for the text bank's rebuild (``TextBank.build``):
    why it rebuilds and a bar on stderr when stderr is a terminal, the same words as one
    line at the start and one at the end otherwise (logs).  Silent when nothing is embedded
    (the bank was in the cache)."""
    counts = Counts(console)
    state: dict[str, Any] = {"t0": None, "total": 0}

    def progress(done: int, total: int) -> None:
        if state["t0"] is None:
            state["t0"], state["total"] = time.perf_counter(), total
            counts.line(f"{TEXT_BANK_WHY}: {total} texts")
        counts.count("text bank", done, total)

    try:
        yield progress
    finally:
        counts.close()
        if state["t0"] is not None:
            counts.line(
                f"text bank ready: {state['total']} texts in "
                f"{time.perf_counter() - state['t0']:.0f} s"
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


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    """The tables of ``anatloc evaluate`` and the baselines: the overall measures, then
    one row per region."""
    print_table(
        ["metric", "value"],
        [[k, metrics[k]] for k in ("n", "fine_top1", "fine_top3", "coarse_top1", "abstain_rate")],
        title=title,
    )
    print_table(
        ["region", "n", "fine_top1", "coarse_top1"],
        [[r, v["n"], v["fine_top1"], v["coarse_top1"]] for r, v in metrics["per_region"].items()],
    )


def usage_error(message: str) -> None:
    fail(message, EXIT_USAGE)
