"""Pictures of the knowledge graph: a term's subtree or neighbourhood as a PNG.

The picture is a left-to-right tree in columns (region → coarse → fine) with the focus term
highlighted, and, in a last column, the terms outside the subtree that the shown terms are
related to.  ``part_of`` edges are thin grey tree lines; every other relation has its own
colour and line style, explained in a legend.  Relations between terms of the same column
are drawn as arcs to the right of the column.

* a coarse term: its region, the term, its fine locations and their outside neighbours;
* a fine term: its region, its coarse location, its siblings and the term's own outside
  neighbours;
* a region: the region and its coarse locations;
* no term: the overview, every region with its coarse locations.

matplotlib is imported inside :func:`draw_png` (with the Agg canvas, no pyplot, no global
state), so importing this module is cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from anatloc.ontology import vocab
from anatloc.ontology.model import Term

from .graph import PART_OF, KnowledgeGraph, check_relations

#: colour and line style of each relation in pictures
RELATION_STYLE: dict[str, dict[str, Any]] = {
    PART_OF: {"color": "#9e9e9e", "linestyle": "-", "lw": 0.9},
    "adjacent_to": {"color": "#1f77b4", "linestyle": "-", "lw": 1.3},
    "contralateral_to": {"color": "#9467bd", "linestyle": (0, (5, 2)), "lw": 1.4},
    "surrounds": {"color": "#ff7f0e", "linestyle": (0, (6, 2, 1, 2)), "lw": 1.5},
    "touches": {"color": "#2ca02c", "linestyle": (0, (1, 1.5)), "lw": 1.5},
    "at_level_of": {"color": "#8c564b", "linestyle": (0, (3, 1, 1, 1, 1, 1)), "lw": 1.2},
    "superior_to": {"color": "#bcbd22", "linestyle": "-", "lw": 1.0},
    "inferior_to": {"color": "#bcbd22", "linestyle": "-", "lw": 1.0},
    "anterior_to": {"color": "#17becf", "linestyle": "-", "lw": 1.0},
    "posterior_to": {"color": "#17becf", "linestyle": "-", "lw": 1.0},
    "medial_to": {"color": "#e377c2", "linestyle": "-", "lw": 1.0},
    "lateral_to": {"color": "#e377c2", "linestyle": "-", "lw": 1.0},
}
#: relations drawn unless asked otherwise (the positional ones restate ``touches``)
DEFAULT_DRAW_RELATIONS: tuple[str, ...] = (
    PART_OF,
    "adjacent_to",
    "contralateral_to",
    "surrounds",
    "touches",
    "at_level_of",
)
_BOX = {
    "region": {"fc": "#37474f", "ec": "#37474f", "color": "white", "weight": "bold"},
    "coarse": {"fc": "#dbe9f6", "ec": "#5b8db8", "color": "black", "weight": "normal"},
    "fine": {"fc": "white", "ec": "#5b8db8", "color": "black", "weight": "normal"},
    "outside": {"fc": "#f2f2f2", "ec": "#bdbdbd", "color": "#555555", "weight": "normal"},
    "focus": {"fc": "#ffe08a", "ec": "#c79100", "color": "black", "weight": "bold"},
}
_REL_ORDER = {r: i for i, r in enumerate(RELATION_STYLE)}
ROW_IN = 0.34  # row height, inches
FONT = 9.0
MAX_OUTSIDE = 40


@dataclass
class _Node:
    curie: str
    label: str
    col: int
    row: float
    style: str
    width: float = 0.0  # inches, measured
    x: float = 0.0


def _layout(kg: KnowledgeGraph, focus: str | None) -> tuple[list[list[str]], str]:
    """The columns of CURIEs to draw and a title."""
    ont = kg.ont
    if focus is None:
        regions = ont.curies("region")
        coarse = [c.curie for r in regions for c in ont.children(r)]
        return [regions, coarse], "The ontology: regions and their coarse locations"
    t = ont[focus]
    if t.level == "region":
        return [[t.curie], [c.curie for c in ont.children(t)]], f"{t.label} ({t.curie}, region)"
    if t.level == "coarse":
        cols = [[t.parent] if t.parent else [], [t.curie], [c.curie for c in ont.children(t)]]
        return [c for c in cols if c], f"{t.label} ({t.curie}, coarse): its parts and neighbours"
    chain = [a.curie for a in reversed(ont.ancestors(t))]
    siblings = [c.curie for c in ont.children(t.parent)] if t.parent else [t.curie]
    return [*[[a] for a in chain], siblings], f"{t.label} ({t.curie}, fine): its neighbourhood"


def _measure(labels: list[str], dpi: float) -> list[float]:
    """Widths in inches of the labels as drawn (font FONT), with the box padding."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    out = []
    for lab in labels:
        t = fig.text(0, 0, lab, fontsize=FONT, fontweight="bold")
        out.append(t.get_window_extent(renderer).width / dpi + 0.16)
        t.remove()
    return out


def draw_png(
    kg: KnowledgeGraph,
    term: Term | str | None = None,
    *,
    relations: list[str] | tuple[str, ...] | None = None,
    dpi: int = 150,
) -> bytes:
    """Render the subtree or neighbourhood of ``term`` (the overview without one) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    rels = check_relations(relations) or DEFAULT_DRAW_RELATIONS
    focus = kg.resolve(term) if term is not None else None
    columns, title = _layout(kg, focus)
    shown = {c for col in columns for c in col}
    g = kg.graph

    # relation edges among the shown terms, and from `sources` to terms outside them
    if focus is None or g.nodes[focus]["level"] == "region":
        sources: set[str] = set()
    elif g.nodes[focus]["level"] == "coarse":
        sources = set(columns[-1])
    else:
        sources = {focus}
    edges: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    outside: dict[str, list[str]] = {}
    rel_of: dict[str, set[str]] = {}
    for u, v, k in g.edges(keys=True):
        if k == PART_OF or k not in rels:
            continue
        sym = vocab.RELATIONS[k].symmetric
        key = (min(u, v), max(u, v), k) if sym else (u, v, k)
        if key in seen:
            continue
        if u in shown and v in shown:
            seen.add(key)
            edges.append((u, v, k))
        elif (u in sources and v not in shown) or (v in sources and u not in shown):
            inside, other = (u, v) if u in sources else (v, u)
            seen.add(key)
            edges.append((u, v, k))
            outside.setdefault(other, []).append(inside)
            rel_of.setdefault(other, set()).add(k)
    more = 0
    if len(outside) > MAX_OUTSIDE:
        keep = sorted(outside, key=lambda c: (-len(outside[c]), vocab.curie_number(c)))
        more = len(keep) - MAX_OUTSIDE
        dropped = set(keep[MAX_OUTSIDE:])
        outside = {c: v for c, v in outside.items() if c not in dropped}
        edges = [e for e in edges if e[0] not in dropped and e[1] not in dropped]

    # rows: a tidy tree — the last column one row each (a half-row gap between parents),
    # every other node centred on its children; outside terms by their partners' rows
    nodes: dict[str, _Node] = {}
    last = columns[-1]
    row, prev_parent = 0.0, None
    rows: dict[str, float] = {}
    for c in last:
        parent = kg.ont[c].parent
        if prev_parent is not None and parent != prev_parent:
            row += 0.5
        rows[c] = row
        row += 1.0
        prev_parent = parent
    for ci in range(len(columns) - 2, -1, -1):
        below = set(columns[ci + 1])
        for c in columns[ci]:
            kids = [rows[k.curie] for k in kg.ont.children(c) if k.curie in below]
            rows[c] = sum(kids) / len(kids) if kids else 0.0
    n_rows = row
    for ci, col in enumerate(columns):
        for c in col:
            style = "focus" if c == focus else g.nodes[c]["level"]
            nodes[c] = _Node(c, g.nodes[c]["label"], ci, rows[c], style)
    if outside:
        bary = {c: sum(nodes[p].row for p in ps) / len(ps) for c, ps in outside.items()}
        first_rel = {c: min(_REL_ORDER[r] for r in rel_of[c]) for c in outside}
        order = sorted(outside, key=lambda c: (bary[c], first_rel[c], vocab.curie_number(c)))
        centre = sum(bary.values()) / len(bary)
        start = centre - (len(order) - 1) / 2
        for ri, c in enumerate(order):
            nodes[c] = _Node(c, g.nodes[c]["label"], len(columns), start + ri, "outside")
        top = min(n.row for n in nodes.values())
        for n in nodes.values():
            n.row -= top
        n_rows = max(n.row for n in nodes.values()) + 1.0

    widths = _measure([n.label for n in nodes.values()], dpi)
    for n, w in zip(nodes.values(), widths, strict=True):
        n.width = w
    n_cols = len(columns) + (1 if outside else 0)
    col_w = [
        max((n.width for n in nodes.values() if n.col == ci), default=0.0) for ci in range(n_cols)
    ]
    # the gap after a column holds its same-column arcs
    arcs_in = [0] * n_cols
    for u, v, _ in edges:
        if nodes[u].col == nodes[v].col:
            arcs_in[nodes[u].col] = max(
                arcs_in[nodes[u].col], int(abs(nodes[u].row - nodes[v].row))
            )
    for n in nodes.values():
        n.width = col_w[n.col]
    margin, x = 0.3, 0.3
    col_x = []
    for ci in range(n_cols):
        col_x.append(x)
        gap = (
            0.9 + min(2.2, 0.22 * arcs_in[ci]) + (0.6 if ci == len(columns) - 1 and outside else 0)
        )
        x += col_w[ci] + gap
    width_in = x - 0.9 + margin
    legend_rels = [r for r in rels if r == PART_OF or any(e[2] == r for e in edges)]
    header = 0.75 + 0.3 * ((len(legend_rels) + 3) // 4)
    height_in = header + n_rows * ROW_IN + margin + (0.25 if more else 0)
    width_in = max(width_in, 6.5)

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width_in)
    ax.set_ylim(height_in, 0)  # rows go down
    ax.axis("off")

    def y_of(n: _Node) -> float:
        return header + (n.row + 0.5) * ROW_IN

    for n in nodes.values():
        n.x = col_x[n.col]

    # part_of tree lines: parent's right edge -> child's left edge, elbow-shaped
    for n in nodes.values():
        parent = kg.ont[n.curie].parent
        if parent in nodes and nodes[parent].col == n.col - 1 and n.style != "outside":
            p = nodes[parent]
            x0, y0 = p.x + p.width, y_of(p)
            x1, y1 = n.x, y_of(n)
            xm = x1 - 0.35
            ax.plot(
                [x0, xm, xm, x1],
                [y0, y0, y1, y1],
                zorder=1,
                solid_capstyle="butt",
                **_line(PART_OF),
            )

    # relation edges
    for u, v, k in edges:
        a, b = nodes[u], nodes[v]
        st = RELATION_STYLE[k]
        directed = not vocab.RELATIONS[k].symmetric
        arrow = "-|>" if directed else "-"
        if a.col == b.col:
            xa, xb = a.x + a.width, b.x + b.width
            span = abs(a.row - b.row)
            rad = (-0.35 - 0.05 * min(span, 8)) if a.row < b.row else (0.35 + 0.05 * min(span, 8))
            start, end = (xa, y_of(a)), (xb, y_of(b))
        else:
            left, right = (a, b) if a.col < b.col else (b, a)
            start_pt, end_pt = (left.x + left.width, y_of(left)), (right.x, y_of(right))
            start, end = (start_pt, end_pt) if left is a else (end_pt, start_pt)
            rad = 0.0 if abs(a.col - b.col) > 1 or "outside" in (a.style, b.style) else 0.25
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle=arrow,
                mutation_scale=9,
                color=st["color"],
                linestyle=st["linestyle"],
                lw=st["lw"],
                shrinkA=1,
                shrinkB=1,
                zorder=2,
                alpha=0.5 if "outside" in (a.style, b.style) else 0.95,
            )
        )

    for n in nodes.values():
        s = _BOX[n.style]
        y = y_of(n)
        ax.add_patch(
            FancyBboxPatch(
                (n.x, y - 0.11),
                n.width,
                0.22,
                boxstyle="round,pad=0.0,rounding_size=0.06",
                fc=s["fc"],
                ec=s["ec"],
                lw=1.0,
                zorder=3,
            )
        )
        ax.text(
            n.x + 0.08,
            y,
            n.label,
            fontsize=FONT,
            va="center",
            ha="left",
            color=s["color"],
            fontweight=s["weight"],
            fontstyle="italic" if n.style == "outside" else "normal",
            zorder=4,
        )

    ax.text(margin, 0.32, title, fontsize=FONT + 2, fontweight="bold", va="center")
    handles = [
        Line2D(
            [0],
            [0],
            color=RELATION_STYLE[r]["color"],
            linestyle=RELATION_STYLE[r]["linestyle"],
            lw=RELATION_STYLE[r]["lw"] + 0.5,
            label=r + (" (→)" if r == "surrounds" or r == "at_level_of" else ""),
        )
        for r in legend_rels
    ]
    if outside:
        handles.append(
            Line2D(
                [0],
                [0],
                marker="s",
                linestyle="none",
                markersize=9,
                markerfacecolor=_BOX["outside"]["fc"],
                markeredgecolor=_BOX["outside"]["ec"],
                label="related term outside the tree",
            )
        )
    if focus is not None:
        handles.append(
            Line2D(
                [0],
                [0],
                marker="s",
                linestyle="none",
                markersize=9,
                markerfacecolor=_BOX["focus"]["fc"],
                markeredgecolor=_BOX["focus"]["ec"],
                label="the term",
            )
        )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(margin / width_in, 1 - 0.52 / height_in),
        ncol=min(4, len(handles)),
        fontsize=FONT - 0.5,
        frameon=False,
        handlelength=2.8,
        columnspacing=1.5,
    )
    if more:
        ax.text(
            margin,
            height_in - 0.2,
            f"… and {more} more related terms not shown",
            fontsize=FONT - 1,
            color="#555555",
            va="center",
        )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _line(rel: str) -> dict[str, Any]:
    s = RELATION_STYLE[rel]
    return {"color": s["color"], "linestyle": s["linestyle"], "lw": s["lw"]}
