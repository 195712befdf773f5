"""``anatloc ontology ...``: look at, edit, validate, export and import the ontology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    JsonOpt,
    OntologyOpt,
    edit_session,
    load,
    new_app,
    ontology_path,
    print_json,
    print_table,
)

app = new_app("Look at, edit, validate, export and import the anatomy ontology.")

LevelOpt = Annotated[
    str | None,
    typer.Option(
        "--level", help="Which level a name means when it stands at two: region, coarse or fine."
    ),
]


def _term_line(t) -> str:
    return f"{t.curie}  {t.label}  ({t.level})"


@app.command()
def init(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Where to write your editable copy (.ttl, .owl, .jsonld, .tsv).")
    ],
    source: Annotated[
        Path | None, typer.Option("--from", help="Copy this ontology instead of the shipped one.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Start your own editable copy of the ontology."""
    from anatloc.ontology import load_ontology
    from anatloc.ontology.errors import RefusedError
    from anatloc.ontology.io import format_of, is_shipped, save_ontology, shipped_path

    format_of(path)
    if path.exists() and not force:
        raise RefusedError(f"{path} exists already; use --force to overwrite it")
    if is_shipped(path):
        raise RefusedError(f"{path} is the shipped ontology; choose another path")
    ont = load_ontology(source if source is not None else shipped_path())
    save_ontology(ont, path)
    typer.echo(
        f"wrote {path} ({len(ont)} terms, {ont.content_hash()[:19]}…); edit it with --ontology {path}"
    )


@app.command()
def stats(ctx: typer.Context, ontology: OntologyOpt = None, as_json: JsonOpt = False) -> None:
    """Counts per level, the content hash, and the coverage of the SNOMED CT codes."""
    ont = load(ctx, ontology)
    s = ont.stats()
    if as_json:
        print_json(s)
        return
    rows = [[k, v] for k, v in s.items() if k != "codes"]
    for level, c in s["codes"].items():
        rows.append(
            [
                f"SNOMED CT, {level}",
                f"{c['exact']} exact, {c['broad']} broad only, {c['none']} none (of {c['terms']})",
            ]
        )
    print_table(["key", "value"], rows)


@app.command()
def tree(
    ctx: typer.Context,
    term: Annotated[str | None, typer.Argument(help="Show only the subtree of this term.")] = None,
    depth: Annotated[
        int, typer.Option("--depth", min=1, help="Levels to show below the root.")
    ] = 3,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The hierarchy (regions > coarse > fine), or the subtree of TERM."""
    ont = load(ctx, ontology)
    roots = [ont.get(term, level)] if term else ont.terms("region")

    def node(t, d):
        out = {"curie": t.curie, "label": t.label, "level": t.level}
        if d < depth:
            out["children"] = [node(c, d + 1) for c in ont.children(t)]
        return out

    data = [node(r, 1) for r in roots]
    if as_json:
        print_json(data if term is None else data[0])
        return
    from rich.console import Console
    from rich.tree import Tree

    console = Console(soft_wrap=True)
    for r in data:
        tr = Tree(f"[bold]{r['label']}[/bold] [dim]{r['curie']} {r['level']}[/dim]")

        def add(branch, n):
            for c in n.get("children", []):
                add(branch.add(f"{c['label']} [dim]{c['curie']}[/dim]"), c)

        add(tr, r)
        console.print(tr)


@app.command()
def show(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything the ontology knows about one term."""
    ont = load(ctx, ontology)
    rec = ont.record(ont.get(term, level))
    if as_json:
        print_json(rec)
        return
    rows = []
    for k, v in rec.items():
        if v in (None, "", [], {}):
            continue
        if isinstance(v, dict) and "curie" in v:
            v = f"{v['label']} ({v['curie']})"
        elif k == "children":
            v = ", ".join(c["label"] for c in v)
        elif k == "relations":
            v = "; ".join(f"{r}: " + ", ".join(x["label"] for x in xs) for r, xs in v.items())
        elif k in ("geometry", "facts"):
            v = json.dumps(v)
        elif isinstance(v, list):
            v = " | ".join(map(str, v))
        rows.append([k, v])
    print_table(["field", "value"], rows)


@app.command()
def add(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Label of the new term.")],
    parent: Annotated[
        str | None,
        typer.Option(
            "--parent",
            "-p",
            help="Its parent (a coarse location for a fine term, a region for a coarse one).",
        ),
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="region for a new region (no parent).")
    ] = None,
    laterality: Annotated[
        str | None,
        typer.Option(
            "--laterality",
            help="left, right, midline or unsided (default: from the label, else the parent's side).",
        ),
    ] = None,
    definition: Annotated[str, typer.Option("--definition", help="One-sentence definition.")] = "",
    synonym: Annotated[
        list[str] | None, typer.Option("--synonym", help="An exact synonym (repeatable).")
    ] = None,
    tissue: Annotated[
        str, typer.Option("--tissue", help="Tissue kind (see docs/ontology.md).")
    ] = "",
    geometry: Annotated[
        str | None, typer.Option("--geometry", help="Atlas geometry as JSON, or @file.json.")
    ] = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a term.  CURIEs are assigned once and never reused."""
    geom = _read_geometry(geometry)
    with edit_session(ctx, ontology) as ont:
        t = ont.add(
            label,
            parent,
            level=level,
            laterality=laterality,
            definition=definition,
            synonyms=synonym or (),
            tissue=tissue,
            geometry=geom,
        )
        rec = ont.record(t, full=False)
        from anatloc.ontology.geometry import has_atlas

        missing_geometry = t.level == "fine" and not t.geometry and has_atlas(ont)
    if as_json:
        print_json(rec)
    else:
        p = f" under {rec['parent']['label']}" if rec["parent"] else ""
        typer.echo(f"added {t.curie} {t.label!r} ({t.level}{p})")
    if missing_geometry:  # say at once what the edit still lacks, not at validate time
        typer.echo(
            f"warning: {t.label!r} has no atlas geometry yet: 'ontology validate --fail-on "
            "error' fails (atlas-nonempty) and the phantom cannot draw it until it has one "
            f'(anatloc ontology set-geometry "{t.label}" @shape.json, see docs/editing.md); '
            "the shipped model predicts over the edited ontology only with "
            "--allow-ontology-change",
            err=True,
        )


def _read_geometry(text: str | None) -> str | None:
    from anatloc.ontology.errors import DataError

    if text is None:
        return None
    if text.startswith("@"):
        p = Path(text[1:])
        try:
            return p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot read geometry file {p}: {exc.strerror}") from None
    return text


@app.command()
def rename(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    new_label: Annotated[str, typer.Argument(help="The new label.")],
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Rename a term (its CURIE stays)."""
    with edit_session(ctx, ontology) as ont:
        old = ont.get(term, level)
        t = ont.rename(old, new_label)
    typer.echo(f"renamed {t.curie} {old.label!r} -> {t.label!r}")


@app.command()
def move(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    parent: Annotated[str, typer.Option("--parent", "-p", help="The new parent.")],
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Give a term a new parent."""
    with edit_session(ctx, ontology) as ont:
        t = ont.move(ont.get(term, level), parent)
        p = ont[t.parent]
    typer.echo(f"moved {t.curie} {t.label!r} under {p.label!r} ({p.curie})")


@app.command()
def remove(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    subtree: Annotated[
        bool, typer.Option("--subtree", help="Also remove everything under it.")
    ] = False,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Remove a term (refused when it has children, unless --subtree)."""
    with edit_session(ctx, ontology) as ont:
        gone = ont.remove(ont.get(term, level), subtree=subtree)
    typer.echo(f"removed {len(gone)} term(s): " + ", ".join(f"{t.curie} {t.label!r}" for t in gone))


@app.command("set-definition")
def set_definition(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    definition: Annotated[str, typer.Argument(help="The definition (one sentence).")],
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Set the curated definition (IAO:0000115) of a term."""
    with edit_session(ctx, ontology) as ont:
        t = ont.set_definition(ont.get(term, level), definition)
    typer.echo(f"set the definition of {t.curie} {t.label!r}")


@app.command("add-synonym")
def add_synonym(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    synonym: Annotated[str, typer.Argument(help="The synonym.")],
    related: Annotated[
        bool, typer.Option("--related", help="A related (not exact) synonym.")
    ] = False,
    preferred: Annotated[
        bool,
        typer.Option("--preferred", help="Also make it the preferred synonym in report sentences."),
    ] = False,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Add an exact (or --related) synonym to a term."""
    from anatloc.ontology.errors import UsageError

    if preferred and related:
        raise UsageError("a preferred synonym must be exact; drop --related or --preferred")
    with edit_session(ctx, ontology) as ont:
        t = ont.add_synonym(ont.get(term, level), synonym, "related" if related else "exact")
        if preferred:
            t = ont.update(t, preferred_synonym=synonym.strip())
    typer.echo(
        f"added the {'related' if related else 'exact'} synonym {synonym!r} to {t.curie} {t.label!r}"
    )


@app.command("set-geometry")
def set_geometry(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    geometry: Annotated[
        str, typer.Argument(help="Atlas geometry as JSON, or @file.json (see docs/atlas.md).")
    ],
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Set the atlas geometry of a term (checked before it is saved)."""
    from anatloc.ontology.checks_atlas import check_geometry

    text = _read_geometry(geometry)
    with edit_session(ctx, ontology) as ont:
        t = ont.update(ont.get(term, level), geometry=text)
        check_geometry(ont)
    typer.echo(f"set the atlas geometry of {t.curie} {t.label!r}")


@app.command()
def validate(
    ctx: typer.Context,
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="error or warn: the severity that fails (exit 1).")
    ] = "error",
    reason: Annotated[
        bool, typer.Option("--reason", help="Also run the HermiT reasoner (needs Java).")
    ] = False,
    atlas: Annotated[
        bool,
        typer.Option(
            "--atlas/--no-atlas", help="Run the atlas checks (rasterizes the body at 4 mm)."
        ),
    ] = True,
    list_checks: Annotated[
        bool, typer.Option("--list", help="List the checks with their problem and fix, then stop.")
    ] = False,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the named checks; exit 1 when one at or above --fail-on fires."""
    from anatloc.ontology import checks_atlas
    from anatloc.ontology import validate as v
    from anatloc.ontology.errors import EXIT_CHECK_FAILED, UsageError

    if fail_on.lower() not in ("error", "warn"):
        raise UsageError(f"--fail-on must be error or warn, not {fail_on!r}")
    if list_checks:
        docs = [
            {
                "check": c.name,
                "level": c.severity,
                "group": c.group,
                "problem": c.problem,
                "fix": c.fix,
            }
            for c in v.iter_docs([checks_atlas.CHECKS])
        ]
        if as_json:
            print_json(docs)
        else:
            print_table(
                ["check", "level", "group", "problem", "fix"], [list(d.values()) for d in docs]
            )
        return
    ont = load(ctx, ontology)
    groups = None if atlas else [g for g in ("structure", "knowledge", "descriptions")]
    issues = v.run_checks(ont, groups=groups, extra=[checks_atlas.CHECKS])
    reasoner = None
    if reason:
        from anatloc.ontology.reason import run_hermit

        reasoner = run_hermit(ont)
        if reasoner["status"] == "inconsistent":
            issues.insert(0, v.Issue("", "hermit", "ERROR", reasoner["message"]))
    bad = v.failed(issues, fail_on)
    if as_json:
        out = {
            "ok": not bad,
            "fail_on": fail_on.lower(),
            "summary": v.summary(issues),
            "issues": [i.as_dict() for i in issues],
        }
        if reasoner is not None:
            out["reasoner"] = reasoner
        print_json(out)
    else:
        if issues:
            labels = {t.curie: t.label for t in ont}
            print_table(
                ["term", "check", "level", "message"],
                [
                    [f"{i.term} {labels.get(i.term, '')}".strip(), i.check, i.severity, i.message]
                    for i in issues
                ],
            )
        if reasoner is not None:
            typer.echo(f"reasoner: {reasoner['message']}", err=reasoner["status"] == "skipped")
        s = v.summary(issues)
        typer.echo(
            f"{'FAILED' if bad else 'ok'}: {s['ERROR']} error(s), {s['WARN']} warning(s), {s['INFO']} note(s) "
            f"in {len(ont)} terms (fail on {fail_on.lower()})"
        )
    if bad:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def export(
    ctx: typer.Context,
    format: Annotated[
        str, typer.Option("--format", "-f", help="ttl, owl (RDF/XML), jsonld, nt, tsv or obo.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (atomically).")],
    ontology: OntologyOpt = None,
) -> None:
    """Write the ontology in another format."""
    from anatloc.ontology.io import format_of, save_ontology

    fmt = format_of(out, format)
    ont = load(ctx, ontology)
    save_ontology(ont, out, fmt)
    typer.echo(f"wrote {out} ({fmt}, {len(ont)} terms)")


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="A term table (.tsv) written by export, a 3-column region/coarse/location list, or any ontology file."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Ontology file to write (.ttl unless its suffix says otherwise)."
        ),
    ],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Format of SOURCE when its suffix does not say."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing OUT.")] = False,
) -> None:
    """Read a TSV (or any supported format) and write an ontology file."""
    from anatloc.ontology import load_ontology
    from anatloc.ontology.errors import RefusedError
    from anatloc.ontology.io import format_of, save_ontology

    format_of(out)
    if out.exists() and not force:
        raise RefusedError(f"{out} exists already; use --force to overwrite it")
    ont = load_ontology(source, format)
    save_ontology(ont, out)
    typer.echo(f"wrote {out} ({len(ont)} terms from {source})")


@app.command()
def path(ctx: typer.Context, ontology: OntologyOpt = None) -> None:
    """Print the path of the ontology file that commands use."""
    typer.echo(str(ontology_path(ctx, ontology)))


@app.command()
def describe(
    ctx: typer.Context,
    term: Annotated[str | None, typer.Argument(help="Show the descriptions of this term.")] = None,
    write: Annotated[
        bool,
        typer.Option("--write", help="Regenerate every term's descriptions and save the file."),
    ] = False,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a term's generated descriptions, or regenerate them all (--write)."""
    from anatloc.ontology.describe import GENERATOR, describe_all, describe_term
    from anatloc.ontology.errors import UsageError

    if write:
        if term is not None:
            raise UsageError("--write regenerates every term; give no TERM with it")
        with edit_session(ctx, ontology) as ont:
            n = describe_all(ont)
        typer.echo(f"regenerated descriptions ({GENERATOR}): {n} term(s) changed")
        return
    if term is None:
        raise UsageError("give a TERM to show, or --write to regenerate all descriptions")
    ont = load(ctx, ontology)
    t = ont.get(term, level)
    canonical, paraphrases = (
        (t.description, list(t.paraphrases)) if t.description else describe_term(ont, t)
    )
    data = {
        "curie": t.curie,
        "label": t.label,
        "canonical": canonical,
        "paraphrases": paraphrases,
        "generator": t.description_generator or f"{GENERATOR} (not stored yet)",
    }
    if as_json:
        print_json(data)
        return
    typer.echo(f"{t.label} ({t.curie}, {data['generator']})")
    typer.echo(f"  {canonical}")
    for p in paraphrases:
        typer.echo(f"  - {p}")


@app.command()
def derive(
    ctx: typer.Context,
    write: Annotated[
        bool, typer.Option("--write", help="Save the regenerated facts to the file.")
    ] = False,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Regenerate the facts derived from the atlas (positions, contacts, vertebral levels)."""
    from anatloc.ontology.derive import DERIVER
    from anatloc.ontology.derive import derive as run_derive

    if write:
        with edit_session(ctx, ontology) as ont:
            n = run_derive(ont)
    else:
        ont = load(ctx, ontology).copy()
        n = run_derive(ont)
    counts = {
        name: sum(len(t.relations.get(name, ())) for t in ont)
        for name in (
            "touches",
            "superior_to",
            "inferior_to",
            "anterior_to",
            "posterior_to",
            "medial_to",
            "lateral_to",
            "at_level_of",
        )
    }
    if as_json:
        print_json({"changed_terms": n, "written": write, "deriver": DERIVER, "relations": counts})
        return
    verb = "wrote" if write else "would change (use --write to save)"
    typer.echo(f"{verb}: {n} term(s); " + ", ".join(f"{k} {v}" for k, v in counts.items()))
