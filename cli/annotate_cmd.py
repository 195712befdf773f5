"""``anatloc annotate``: report text -> the ontology's locations (``anatloc.kgtools.annotate``).

The input is one of: a TEXT argument (``-`` reads stdin), ``--file PATH`` (``-`` for stdin),
or ``--table PATH --column NAME`` (a CSV with one report per row).  Mentions go to stdout
(``--json`` for machines; otherwise the text with the mentions highlighted and a table).

The embedding fallback (``--embedding``, the default) loads the retriever's sentence
encoder only when some locative phrase matched no name, and takes the location
descriptions' embeddings from the retriever's text bank cache.  ``--no-embedding`` keeps
the command free of torch and reports such phrases as unresolved.

``--to-table LESIONS --out PATH``: with ``--table`` (one report per case, ``--case-column``),
fills the empty ``locations`` cells of the lesion table case by case when the report names
exactly as many fine locations as the case has lesion rows (taken in report order), writes
the table atomically to ``--out`` and lists the other cases for a human on stderr.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import OntologyOpt, load, print_json, print_table


def _read_text(path: str) -> str:
    from anatloc.ontology.errors import DataError

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    where = "stdin" if path == "-" else path
    if b"\x00" in data[:8192]:
        raise DataError(f"{where} is a binary file, not report text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise DataError(f"{where} is empty: no report text to annotate")
    return text


def _read_csv(path: str, columns: list[str]) -> list[dict[str, str]]:
    from anatloc.ontology.errors import DataError

    text = _read_text(path)
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0]) if rows else next(csv.reader(io.StringIO(text)), [])
    for c in columns:
        if c not in header:
            raise DataError(f"{path} has no column {c!r} (columns: {', '.join(header)})")
    return rows


def _encoder_and_bank(ont):
    from anatloc.retriever.text import SentenceEncoder, TextBank

    enc = SentenceEncoder()

    def bank():
        b = TextBank.build(ont, enc)  # the same cached bank as predict and train
        return b["fine"].curies, b["fine"].pooled("mean")

    return enc, bank


def _highlight(text: str, mentions) -> None:
    from rich.console import Console
    from rich.text import Text

    t = Text(text)
    for m in mentions:
        style = (
            "bold red"
            if m.status == "negated"
            else "bold yellow"
            if m.hypothetical
            else "bold green"
        )
        if m.curie is None:
            style = "underline"
        t.stylize(style, m.start, m.end)
    Console(soft_wrap=True, highlight=False).print(t)


def annotate(
    ctx: typer.Context,
    text: Annotated[
        str | None,
        typer.Argument(help="Report text ('-' reads stdin).", show_default=False),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", help="A text file with the report ('-' for stdin).", show_default=False
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            "--table", help="A CSV with one report per row (with --column).", show_default=False
        ),
    ] = None,
    column: Annotated[
        str, typer.Option("--column", help="The report column of --table.")
    ] = "report",
    case_column: Annotated[
        str, typer.Option("--case-column", help="The case column of --table (with --to-table).")
    ] = "case_id",
    to_table: Annotated[
        str | None,
        typer.Option(
            "--to-table",
            help="A lesion table (CSV, rows of a case in report order) whose empty locations "
            "cells are filled from the reports of --table.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where --to-table writes the filled table.", show_default=False),
    ] = None,
    embedding: Annotated[
        bool,
        typer.Option(
            "--embedding/--no-embedding",
            help="Resolve phrases no name matches with the sentence encoder.",
        ),
    ] = True,
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=-1.0, max=1.0, help="Least cosine for an embedding match."),
    ] = 0.6,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ontology: OntologyOpt = None,
) -> None:
    """Find the ontology's locations in report text: span, term, side, negation."""
    from anatloc.kgtools.annotate import Annotator, fill_locations
    from anatloc.ontology.errors import UsageError

    given = [x for x in (text, file, table) if x is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of TEXT, --file or --table")
    if to_table is not None and (table is None or out is None):
        raise UsageError("--to-table needs --table (the reports) and --out (the filled table)")
    ont = load(ctx, ontology)
    enc = bank = None
    if embedding:
        enc, bank = _encoder_and_bank(ont)
    ann = Annotator(ont, encoder=enc, threshold=threshold, bank=bank)

    docs: list[tuple[str, str]] = []  # (source, text)
    if text is not None:
        if text == "-":
            docs.append(("stdin", _read_text("-")))
        elif not text.strip():
            raise UsageError("the text is empty: nothing to annotate")
        else:
            docs.append(("text", text))
    elif file is not None:
        docs.append((file, _read_text(file)))
    else:
        need = [column] + ([case_column] if to_table is not None else [])
        rows = _read_csv(table, need)
        for n, r in enumerate(rows, start=2):
            key = r.get(case_column) or f"{table}:{n}"
            docs.append((key, r.get(column) or ""))

    if to_table is not None:
        _fill(ann, fill_locations, docs, to_table, out, case_column, as_json)
        return

    results = [(src, doc, ann.annotate(doc)) for src, doc in docs]
    if as_json:
        print_json(
            [{"source": s, "mentions": [m.as_dict() for m in ms]} for s, _, ms in results]
            if len(results) > 1 or table is not None
            else [m.as_dict() for m in results[0][2]]
        )
        return
    for src, doc, ms in results:
        if len(results) > 1:
            typer.echo(f"== {src}")
        _highlight(doc, ms)
        print_table(
            ["span", "text", "term", "CURIE", "level", "side", "status", "method", "conf"],
            [
                [
                    f"{m.start}-{m.end}",
                    m.text,
                    m.label or "(unresolved)",
                    m.curie or "",
                    m.level,
                    m.side or "",
                    m.status,
                    m.method,
                    f"{m.confidence:.2f}",
                ]
                for m in ms
            ],
        )


def _fill(ann, fill_locations, docs, to_table: str, out: Path, case_column: str, as_json: bool):
    from anatloc.ontology.fileio import atomic_write

    rows = _read_csv(to_table, [case_column, "locations"])
    header = list(rows[0]) if rows else [case_column, "locations"]
    reports = dict(docs)
    by_case: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_case.setdefault(r[case_column], []).append(r)
    filled, review = 0, []
    for case, lesions in by_case.items():
        if case not in reports:
            review.append({"case": case, "reasons": ["no report"]})
            continue
        empty = [r for r in lesions if not (r.get("locations") or "").strip()]
        if not empty:
            continue
        locs, problems = fill_locations(ann, reports[case], len(lesions))
        if problems:
            review.append({"case": case, "reasons": problems})
            continue
        for r, c in zip(lesions, locs, strict=True):
            if not (r.get("locations") or "").strip():
                r["locations"] = c
                filled += 1
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(out, buf.getvalue())
    summary: dict[str, Any] = {"out": str(out), "filled": filled, "review": review}
    if as_json:
        print_json(summary)
        return
    typer.echo(f"filled {filled} locations cell(s); wrote {out}")
    for r in review:
        typer.echo(f"review case {r['case']}: {'; '.join(r['reasons'])}", err=True)
