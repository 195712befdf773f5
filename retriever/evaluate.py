"""Evaluation: accuracy as the reference study reports it, and more.

For lesions with known locations (the acceptable set, several allowed):

``fine_top1``     the prediction is a fine location in the acceptable set (an abstained
                  prediction names a coarse location and counts as wrong here)
``fine_top3``     one of the three best fine candidates is acceptable
``coarse_top1``   the predicted coarse location is the parent of an acceptable location
``abstain_rate``  share of predictions that backed off to the coarse location
``n``             lesions evaluated
``per_region``    region label (of the primary location) → {n, fine_top1, coarse_top1}
``errors_by_band`` the wrong fine answers by how the walker relates the prediction to the
                  lesion's acceptable locations: ``excluded`` (an ambiguous partner, such as
                  "Near vertebra T7" for "Vertebra T7"), ``semi-hard`` (a close, distinct
                  location: a sibling, an adjacent structure, the other side, the next
                  level), ``easy`` (anything else: a far miss) and ``coarse`` (abstained, or
                  a prediction that names no fine location, as the baseline's may)

:func:`confusion_figure` draws the coarse-level confusion matrix (rows: the primary
location's coarse parent, columns: the predicted coarse location; colour by the share of
the row, with a colour bar, and the count in each cell), only over the coarse locations
that occur, in ontology order so that regions stay together.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from anatloc.ontology.errors import DataError
from anatloc.ontology.fileio import atomic_write

from .infer import Prediction
from .table import LesionRecord


def _hits(pred: Prediction, rec: LesionRecord, ont) -> tuple[bool, bool, bool]:
    acceptable = set(rec.locations)
    parents = {ont[c].parent for c in rec.locations if c in ont}
    fine1 = (not pred.abstained) and pred.curie in acceptable
    fine3 = any(c in acceptable for c in pred.top3_curies[:3])
    coarse1 = pred.coarse_curie in parents
    return fine1, fine3, coarse1


def evaluate(
    predictions: Sequence[Prediction], records: Sequence[LesionRecord], ont, bands=None
) -> dict[str, Any]:
    """The metrics above, over the records that have locations (matched by lesion id).
    ``bands``: a :class:`~.negatives.NegativeBands` of ``ont`` to reuse (built if None)."""
    by_id = {p.lesion_id: p for p in predictions}
    rows = []
    wrong: list[tuple[Prediction, LesionRecord]] = []
    for r in records:
        if not r.locations:
            continue
        p = by_id.get(r.lesion_id)
        if p is None:
            raise DataError(f"no prediction for lesion {r.lesion_id} ({r.source})")
        region = ont.region_of(r.locations[0]).label if r.locations[0] in ont else "?"
        rows.append((region, p.abstained, *_hits(p, r, ont)))
        if not rows[-1][2]:
            wrong.append((p, r))
    n = len(rows)
    if n == 0:
        raise DataError("no lesion has locations to evaluate against (column 'locations' is empty)")

    def mean(values) -> float:
        values = list(values)
        return round(float(np.mean(values)), 4) if values else 0.0

    per_region: dict[str, dict[str, Any]] = {}
    order = {t.label: i for i, t in enumerate(ont.terms("region"))}
    for reg in sorted({r[0] for r in rows}, key=lambda x: (order.get(x, 99), x)):
        sub = [r for r in rows if r[0] == reg]
        per_region[reg] = {
            "n": len(sub),
            "fine_top1": mean(r[2] for r in sub),
            "coarse_top1": mean(r[4] for r in sub),
        }
    return {
        "fine_top1": mean(r[2] for r in rows),
        "fine_top3": mean(r[3] for r in rows),
        "coarse_top1": mean(r[4] for r in rows),
        "abstain_rate": mean(r[1] for r in rows),
        "n": n,
        "per_region": per_region,
        "errors_by_band": error_bands(wrong, ont, bands),
    }


#: the kinds of wrong fine answers, the keys of ``errors_by_band``
ERROR_BANDS = ("excluded", "semi-hard", "easy", "coarse")

#: what each band of ``errors_by_band`` means to a reader: (the wrong answer was …, example)
ERROR_BAND_WORDS = {
    "excluded": (
        "a location that shares the place, often also acceptable (the 'Near' or 'Around' "
        "space of it, a part of it or the whole)",
        "Near vertebra T7 for Vertebra T7",
    ),
    "semi-hard": (
        "a neighbouring location (next to it, beside it in the same organ, or its twin on "
        "the other side)",
        "Liver S8 for Liver S7",
    ),
    "easy": ("a location far from the true one", "Spleen for Liver S7"),
    "coarse": ("no fine location: only the organ or area was named", "Liver for Liver S7"),
}


def error_bands(wrong: Sequence[tuple[Prediction, LesionRecord]], ont, bands=None) -> dict:
    """Counts of wrong fine answers per walker band (see the module doc)."""
    from .negatives import NegativeBands

    counts = dict.fromkeys(ERROR_BANDS, 0)
    fine = {c: i for i, c in enumerate(ont.curies("fine"))}
    rows = []
    for p, r in wrong:
        if p.abstained or p.curie not in fine:
            counts["coarse"] += 1
            continue
        acc = [fine[c] for c in r.locations if c in fine]
        if acc:  # a lesion labelled only at coarse level has no fine relation to count
            rows.append((fine[p.curie], acc))
    if rows:
        bands = bands if bands is not None else NegativeBands(ont)
        width = max(len(acc) for _, acc in rows)
        pos = np.array([acc + [-1] * (width - len(acc)) for _, acc in rows])
        for kind in bands.relation("fine", pos, np.array([q for q, _ in rows])):
            counts[kind] += 1
    return counts


def confusion_matrix(
    predictions: Sequence[Prediction], records: Sequence[LesionRecord], ont
) -> tuple[list[str], np.ndarray]:
    """(labels, counts) at the coarse level over the coarse locations that occur."""
    by_id = {p.lesion_id: p for p in predictions}
    pairs = []
    for r in records:
        if r.locations and r.lesion_id in by_id and r.locations[0] in ont:
            pairs.append((ont[r.locations[0]].parent, by_id[r.lesion_id].coarse_curie))
    coarse = ont.curies("coarse")
    used = [c for c in coarse if any(c in pr for pr in pairs)]
    pos = {c: i for i, c in enumerate(used)}
    m = np.zeros((len(used), len(used)), dtype=np.int64)
    for t, p in pairs:
        if t in pos and p in pos:
            m[pos[t], pos[p]] += 1
    return [ont[c].label for c in used], m


def confusion_plot(labels: Sequence[str], m: np.ndarray):
    """The matplotlib figure of a coarse confusion matrix: colour by the share of each true
    location's lesions (with a colour bar), the count written in every non-empty cell, and
    each true location's number of lesions beside its name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    n = max(1, len(labels))
    size = min(30.0, 3.5 + 0.22 * n)
    fontsize = max(4, 9 - n // 25)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i, j in zip(*np.nonzero(m), strict=True):
        ax.text(
            j,
            i,
            str(int(m[i, j])),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if norm[i, j] > 0.5 else "black",
        )
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(
        range(len(labels)),
        [f"{lab} ({int(k)})" for lab, k in zip(labels, rows[:, 0], strict=True)],
        fontsize=fontsize,
    )
    ax.set_xlabel("predicted coarse location")
    ax.set_ylabel("true coarse location (primary), with its number of lesions")
    ax.set_title(
        f"Coarse-level confusion, {int(m.sum())} lesions: counts in the cells, colour = share "
        "of the row"
    )
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the true location's lesions")
    fig.tight_layout()
    return fig


def confusion_figure(
    predictions: Sequence[Prediction],
    records: Sequence[LesionRecord],
    ont,
    folder: str | os.PathLike,
) -> list[Path]:
    """Write ``confusion_coarse.png`` (:func:`confusion_plot`) and its counts as CSV to
    ``folder``."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the figures folder {folder}: {exc.strerror}") from None
    labels, m = confusion_matrix(predictions, records, ont)
    fig = confusion_plot(labels, m)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    png = folder / "confusion_coarse.png"
    atomic_write(png, buf.getvalue())
    csv_lines = ["true\\predicted," + ",".join(_csv(x) for x in labels)]
    for lab, row in zip(labels, m, strict=True):
        csv_lines.append(_csv(lab) + "," + ",".join(str(int(v)) for v in row))
    csv_path = folder / "confusion_coarse.csv"
    atomic_write(csv_path, "\n".join(csv_lines) + "\n")
    return [png, csv_path]


def _csv(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(ch in s for ch in ',"\n') else s
