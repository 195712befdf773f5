"""``anatloc sparql``: SPARQL queries for location metadata."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import OntologyOpt, edit_session, load, print_json, print_table


def sparql(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(
            help="A query, a .rq file, or the name of a shipped query (see --list).",
            show_default=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="k=v: replaces $k in the query (repeatable)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    store: Annotated[
        str, typer.Option("--store", help="oxigraph (fast, default) or memory (rdflib).")
    ] = "oxigraph",
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="URL of a SPARQL 1.1 endpoint to query instead."),
    ] = None,
    update_endpoint: Annotated[
        str | None,
        typer.Option("--update-endpoint", help="URL for updates when it differs from --endpoint."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for an endpoint.")
    ] = 30.0,
    allow_update: Annotated[
        bool,
        typer.Option(
            "--allow-update",
            help="Allow INSERT/DELETE...: the ontology file (or endpoint) is changed.",
        ),
    ] = False,
    list_queries: Annotated[
        bool, typer.Option("--list", help="List the shipped queries and their parameters.")
    ] = False,
    ontology: OntologyOpt = None,
) -> None:
    """Run a SPARQL query over the ontology (read-only unless --allow-update)."""
    from anatloc.ontology import sparql as sp
    from anatloc.ontology.errors import UsageError

    if list_queries:
        rows = [
            [q.name, " ".join(f"{k}=<{kind}>" for k, (kind, _) in q.params.items()), q.description]
            for q in sp.named_queries().values()
        ]
        if format == "json":
            print_json([{"name": r[0], "params": r[1], "description": r[2]} for r in rows])
        else:
            print_table(["name", "params", "description"], rows)
        return
    if query is None:
        raise UsageError("give a query, a .rq file or a shipped query name (anatloc sparql --list)")
    if format not in ("table", "json", "csv"):
        raise UsageError(f"--format must be table, json or csv, not {format!r}")
    params: dict[str, str] = {}
    for p in param or []:
        k, sep, v = p.partition("=")
        if not sep or not k.strip():
            raise UsageError(f"--param {p!r} is not of the form name=value")
        params[k.strip()] = v
    text, named = sp.resolve_query(query)
    needs_terms = named is not None and any(kind == "term" for kind, _ in named.params.values())
    if endpoint is not None:
        ont = load(ctx, ontology) if needs_terms else None
        result = sp.run_endpoint(
            endpoint,
            sp.prepare(text, params, named=named, ont=ont),
            allow_update=allow_update,
            timeout=timeout,
            update_url=update_endpoint,
        )
    elif sp.is_update(text):
        if not allow_update:
            raise sp.RefusedError(
                "this is a SPARQL UPDATE and anatloc sparql is read-only; add --allow-update to "
                "change the ontology (nothing was changed)"
            )
        with edit_session(ctx, ontology) as ont:
            result, new = sp.run_local(
                ont, sp.prepare(text, params, named=named, ont=ont), store=store, allow_update=True
            )
            sp.accept_update(ont, new)
    else:
        ont = load(ctx, ontology)
        result, _ = sp.run_local(ont, sp.prepare(text, params, named=named, ont=ont), store=store)
    _print(result, format)


def _print(result, format: str) -> None:
    import csv
    import sys

    if format == "json":
        print_json(result.as_json())
        return
    if result.kind == "select":
        if format == "csv":
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow(result.vars)
            for r in result.rows:
                w.writerow(["" if r[v] is None else r[v] for v in result.vars])
        else:
            print_table(result.vars, [[r[v] for v in result.vars] for r in result.rows])
            typer.echo(f"{len(result.rows)} row(s)", err=True)
    elif result.kind == "ask":
        typer.echo("true" if result.boolean else "false")
    elif result.kind == "graph":
        for s, p, o in result.triples:
            typer.echo(f"{s} {p} {o} .")
    else:
        typer.echo(result.message)
