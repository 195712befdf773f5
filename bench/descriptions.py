"""How well the generated descriptions separate the 387 fine locations with the default
text encoder, against bare labels (issue 3).

    python bench/descriptions.py [--json] [--model PATH]

* ``paraphrase_top1``: each paraphrase of each fine term as a query against the 387 canonical
  descriptions; top-1 = the nearest canonical description is the term's own.
* ``label_top1``: each bare label as a query against the 387 canonical descriptions.
* ``label_vs_label_top1``: each exact synonym as a query against the 387 bare labels (the
  text-only retrieval that a label-only bank allows).
* ``nearest_other``: for each term, the cosine similarity between its canonical text and the
  most similar *other* term's (mean and max) — for descriptions and for bare labels; lower
  means more separable.  ``left_right``: the same between left/right twins only.
* ``..._centered``: the same after removing the mean embedding of each set: the raw cosine
  of a sentence encoder is dominated by a component all texts of one domain share (longer
  texts share more of it), which says little about how well two texts can be told apart.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, machine

from anatloc.ontology import load_ontology
from anatloc.ontology.describe import description_texts
from anatloc.retriever.text import SentenceEncoder


def nearest_other(emb: np.ndarray) -> np.ndarray:
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    return sim.max(axis=1)


def centered(emb: np.ndarray) -> np.ndarray:
    """Remove the component all texts share (mean vector) and re-normalize."""
    e = emb - emb.mean(axis=0)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def top1(queries: np.ndarray, owners: np.ndarray, gallery: np.ndarray) -> float:
    pred = (queries @ gallery.T).argmax(axis=1)
    return float((pred == owners).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default="", help="a local sentence-transformers folder")
    args = ap.parse_args()
    ont = load_ontology()
    fine = ont.terms("fine")
    enc = SentenceEncoder(args.model)
    t0 = time.perf_counter()
    canon, para_q, para_o, syn_q, syn_o = [], [], [], [], []
    for i, t in enumerate(fine):
        c, ps = description_texts(ont, t)
        canon.append(c)
        para_q += ps
        para_o += [i] * len(ps)
        syn_q += list(t.exact_synonyms)
        syn_o += [i] * len(t.exact_synonyms)
    labels = [t.label for t in fine]
    e_canon, e_label = enc(canon), enc(labels)
    e_para, e_syn = enc(para_q), enc(syn_q)
    encode_s = time.perf_counter() - t0
    idx = {t.curie: i for i, t in enumerate(fine)}
    twins = sorted(
        {
            tuple(sorted((idx[t.curie], idx[c])))
            for t in fine
            for c in t.relations.get("contralateral_to", ())
            if c in idx
        }
    )

    def twin_sim(e):
        return np.array([float(e[a] @ e[b]) for a, b in twins])

    no_d, no_l = nearest_other(e_canon), nearest_other(e_label)
    tw_d, tw_l = twin_sim(e_canon), twin_sim(e_label)
    c_d, c_l = centered(e_canon), centered(e_label)
    noc_d, noc_l = nearest_other(c_d), nearest_other(c_l)
    twc_d, twc_l = twin_sim(c_d), twin_sim(c_l)
    out = {
        "machine": machine(),
        "model": enc.model_id,
        "fine_terms": len(fine),
        "paraphrase_queries": len(para_q),
        "paraphrase_top1": round(top1(e_para, np.array(para_o), e_canon), 4),
        "label_top1": round(top1(e_label, np.arange(len(fine)), e_canon), 4),
        "synonym_vs_descriptions_top1": round(top1(e_syn, np.array(syn_o), e_canon), 4),
        "synonym_vs_labels_top1": round(top1(e_syn, np.array(syn_o), e_label), 4),
        "nearest_other": {
            "descriptions": {
                "mean": round(float(no_d.mean()), 4),
                "max": round(float(no_d.max()), 4),
            },
            "labels": {"mean": round(float(no_l.mean()), 4), "max": round(float(no_l.max()), 4)},
        },
        "left_right": {
            "pairs": len(twins),
            "descriptions": {
                "mean": round(float(tw_d.mean()), 4),
                "max": round(float(tw_d.max()), 4),
            },
            "labels": {"mean": round(float(tw_l.mean()), 4), "max": round(float(tw_l.max()), 4)},
        },
        "nearest_other_centered": {
            "descriptions": {
                "mean": round(float(noc_d.mean()), 4),
                "max": round(float(noc_d.max()), 4),
            },
            "labels": {"mean": round(float(noc_l.mean()), 4), "max": round(float(noc_l.max()), 4)},
        },
        "left_right_centered": {
            "descriptions": {
                "mean": round(float(twc_d.mean()), 4),
                "max": round(float(twc_d.max()), 4),
            },
            "labels": {"mean": round(float(twc_l.mean()), 4), "max": round(float(twc_l.max()), 4)},
        },
        "encode_seconds": round(encode_s, 1),
    }
    emit(out, args.json)


if __name__ == "__main__":
    main()
