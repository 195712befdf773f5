"""``anatloc graph ...``: the knowledge graph of the ontology, its paths, negatives and pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, OntologyOpt, load, new_app, print_json, print_table

app = new_app(
    "The knowledge graph of the ontology: neighbours, paths, training negatives, export, pictures."
)

LevelOpt = Annotated[
    str | None,
    typer.Option(
        "--level", help="Which level a name means when it stands at two: region, coarse or fine."
    ),
]
RelationOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--relation",
        "-r",
        help="Only this relation (repeatable); default: all. Unknown names list the valid ones.",
        show_default=False,
    ),
]
EXPORT_FORMATS = ("graphml", "json")


def _graph(ctx: typer.Context, ontology: Path | None):
    from anatloc.kgtools.graph import KnowledgeGraph

    return KnowledgeGraph(load(ctx, ontology))


def _ref_text(kg, curie: str) -> str:
    return f"{kg.graph.nodes[curie]['label']} ({curie})"


@app.command()
def show(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Label, synonym or CURIE.")],
    relation: RelationOpt = None,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A term's neighbours by relation, and its part_of chain."""
    from anatloc.kgtools.graph import NEIGHBOUR_RELATIONS, check_relations

    check_relations(relation, NEIGHBOUR_RELATIONS)
    kg = _graph(ctx, ontology)
    c = kg.resolve(term, level)
    nbrs = kg.neighbours(c, relation)
    chain = kg.part_of_chain(c)
    if as_json:
        print_json(
            {
                "term": kg.node(c),
                "part_of_chain": [kg.ref(x) for x in chain],
                "neighbours": {r: [kg.ref(x) for x in xs] for r, xs in nbrs.items()},
            }
        )
        return
    node = kg.graph.nodes[c]
    typer.echo(f"{node['label']} ({c}, {node['level']})")
    if chain:
        typer.echo("part of: " + " > ".join(_ref_text(kg, x) for x in chain))
    if not nbrs:
        typer.echo("no neighbours" + (" over " + ", ".join(relation) if relation else ""))
        return
    print_table(
        ["relation", "neighbours"],
        [[r, ", ".join(_ref_text(kg, x) for x in xs)] for r, xs in nbrs.items()],
    )


@app.command()
def negatives(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="The positive: label, synonym or CURIE.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many negatives.")] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same answer).")] = 0,
    semi_hard: Annotated[
        float,
        typer.Option(
            "--semi-hard",
            min=0.0,
            max=1.0,
            help="Share of semi-hard negatives; the rest are easy.",
        ),
    ] = 0.5,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Training negatives for a positive term, each with its band (semi-hard or easy)."""
    from anatloc.kgtools.walker import BANDS, Walker

    kg = _graph(ctx, ontology)
    c = kg.resolve(term, level)
    lvl = kg.graph.nodes[c]["level"]
    walker = Walker(kg, level=lvl)
    i = walker.index(c, lvl)
    idx, bands = walker.negatives([i], k, semi_hard, seed, return_bands=True)
    masks = walker.band_masks([i])
    vocab_curies = walker.curies()
    negs = [
        {
            "curie": vocab_curies[j],
            "label": kg.graph.nodes[vocab_curies[j]]["label"],
            "band": BANDS[b],
        }
        for j, b in zip(idx[0].tolist(), bands[0].tolist(), strict=True)
    ]
    excluded = [{**kg.ref(x), "reason": why} for x, why in kg.ambiguous(c).items()]
    data = {
        "term": kg.ref(c),
        "level": lvl,
        "k": k,
        "seed": seed,
        "mix": {"semi-hard": semi_hard, "easy": round(1.0 - semi_hard, 10)},
        "candidates": {
            "semi-hard": int(masks["semi_hard"].sum()),
            "easy": int(masks["easy"].sum()),
        },
        "negatives": negs,
        "excluded": excluded,
    }
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"{k} negatives for {_ref_text(kg, c)} among {len(vocab_curies)} {lvl} terms "
        f"(seed {seed}; {data['candidates']['semi-hard']} semi-hard and "
        f"{data['candidates']['easy']} easy candidates)"
    )
    print_table(
        ["#", "curie", "label", "band"],
        [[n + 1, x["curie"], x["label"], x["band"]] for n, x in enumerate(negs)],
    )
    if not excluded:
        typer.echo("excluded: nothing but the term itself")
        return
    shown = ", ".join(f"{x['label']} ({x['level']}, {x['reason']})" for x in excluded[:12])
    more = f" and {len(excluded) - 12} more (--json lists them all)" if len(excluded) > 12 else ""
    typer.echo(f"excluded: {shown}{more}")


@app.command()
def path(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="From this term.")],
    b: Annotated[str, typer.Argument(help="To this term.")],
    relation: RelationOpt = None,
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The shortest path between two terms, with the relation of each step."""
    from anatloc.kgtools.graph import check_relations

    check_relations(relation)
    kg = _graph(ctx, ontology)
    ca, cb = kg.resolve(a), kg.resolve(b)
    steps = kg.shortest_path(ca, cb, relation)
    if as_json:
        lca = kg.lca(ca, cb)
        print_json(
            {
                "from": kg.ref(ca),
                "to": kg.ref(cb),
                "relations": list(relation) if relation else "all",
                "length": len(steps),
                "steps": [
                    {
                        "from": kg.ref(s["from"]),
                        "relation": s["relation"],
                        "inverse": s["inverse"],
                        "to": kg.ref(s["to"]),
                    }
                    for s in steps
                ],
                "tree_distance": kg.tree_distance(ca, cb),
                "lca": kg.ref(lca) if lca else None,
            }
        )
        return
    typer.echo(_ref_text(kg, ca))
    for s in steps:
        arrow = f"<--{s['relation']}--" if s["inverse"] else f"--{s['relation']}-->"
        typer.echo(f"  {arrow} {_ref_text(kg, s['to'])}")
    typer.echo(f"{len(steps)} step(s); tree distance {kg.tree_distance(ca, cb)}")


@app.command()
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", "-f", help="graphml or json.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (atomically).")],
    ontology: OntologyOpt = None,
) -> None:
    """Write the graph as GraphML or node-link JSON (networkx reads both back)."""
    import json

    from anatloc.ontology.errors import UnknownFormatError
    from anatloc.ontology.fileio import atomic_write

    if format not in EXPORT_FORMATS:
        raise UnknownFormatError(
            f"unknown graph format {format!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        )
    kg = _graph(ctx, ontology)
    if format == "graphml":
        data = kg.to_graphml()
    else:
        data = (json.dumps(kg.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    atomic_write(out, data)
    g = kg.graph
    typer.echo(f"wrote {out} ({format}, {g.number_of_nodes()} nodes, {g.number_of_edges()} edges)")


@app.command()
def draw(
    ctx: typer.Context,
    term: Annotated[
        str | None,
        typer.Argument(help="Draw this term's subtree or neighbourhood (default: the overview)."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="PNG file to write (atomically).")
    ] = Path("tree.png"),
    relation: RelationOpt = None,
    level: LevelOpt = None,
    ontology: OntologyOpt = None,
) -> None:
    """Draw a term's subtree or neighbourhood as a PNG picture."""
    from anatloc.kgtools.draw import draw_png
    from anatloc.kgtools.graph import check_relations
    from anatloc.ontology.errors import UnknownFormatError
    from anatloc.ontology.fileio import atomic_write

    if out.suffix.lower() != ".png":
        raise UnknownFormatError(f"graph draw writes PNG; give --out a .png file, not {out}")
    check_relations(relation)
    kg = _graph(ctx, ontology)
    c = kg.resolve(term, level) if term is not None else None
    atomic_write(out, draw_png(kg, c, relations=relation))
    what = _ref_text(kg, c) if c else "the overview"
    typer.echo(f"wrote {out} ({what})")
