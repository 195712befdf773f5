"""The ``anatloc`` command: one Typer app per command group, joined here.

Heavy libraries (torch, monai, nibabel) are imported inside the commands that need them,
so ``anatloc --help`` and the ontology commands start fast.
"""

from __future__ import annotations

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


def main() -> None:
    app(prog_name="anatloc")


if __name__ == "__main__":
    main()
