"""Where trained models go wrong: accuracy and the wrong fine answers by walker band.

    python bench/errors.py --model A.pt [--model B.pt ...] --val-cache CACHE/val \\
        [--data lesions.csv ...] [--json]

For each checkpoint, on a cached phantom validation split (``--val-cache``: the ``val``
folder that ``anatloc train --phantom-cache`` or ``bench/ablation.py --cache`` writes) and
on lesion tables (``--data``, through the NIfTI path as ``anatloc evaluate`` reads them):
fine top-1, coarse top-1, and the wrong fine answers sorted by how the knowledge-graph
walker relates the answer to the lesion's acceptable locations — ``excluded`` (an
ambiguous partner such as "Near vertebra T7" for "Vertebra T7", which the method masks out
of the training softmax), ``semi-hard`` (a close, distinct location, which it up-weights),
``easy`` (a far miss) and ``coarse`` (abstained).  Comparing two models' bands shows which
training mechanism their difference comes from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, machine


def phantom_validation(loc, cache: Path):
    """The cached phantom validation split at the checkpoint's patch settings."""
    from anatloc.retriever.phantom_source import PhantomSource

    return PhantomSource("internal", loc.ont, loc.preset.data, seed=1, cache_dir=cache)


def validation(loc, bands, src, batch: int = 64) -> dict:
    """Coarse-to-fine retrieval on a sample source's validation pass (``train=False``, as
    training validates): n, fine and coarse top-1, the wrong fine answers by band."""
    from anatloc.retriever.evaluate import ERROR_BANDS
    from anatloc.retriever.train import _take, collate

    f2c = loc.f2c.cpu().numpy()
    it = src.samples(epoch=0, rank=0, world_size=1, train=False)
    n = fine_hits = coarse_hits = 0
    counts = dict.fromkeys(ERROR_BANDS, 0)
    while batch_ := _take(it, batch):
        b = collate(batch_, f2c)
        ret = loc.retrieve_patches(b["local"], b["context"])
        fine, coarse = b["fine"].numpy(), b["coarse"].numpy()
        pred, abst = ret.fine.cpu().numpy(), ret.abstained.cpu().numpy()
        pc = ret.coarse.cpu().numpy()
        hit = ((fine == pred[:, None]) & (fine >= 0)).any(1) & ~abst
        n += len(pred)
        fine_hits += int(hit.sum())
        coarse_hits += int(((coarse == pc[:, None]) & (coarse >= 0)).any(1).sum())
        counts["coarse"] += int((abst & ~hit).sum())
        wrong = ~hit & ~abst
        for kind in bands.relation("fine", fine[wrong], pred[wrong]):
            counts[kind] += 1
    return {
        "n": n,
        "fine_top1": round(fine_hits / max(n, 1), 4),
        "coarse_top1": round(coarse_hits / max(n, 1), 4),
        "errors_by_band": counts,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="a checkpoint (repeat)")
    ap.add_argument("--val-cache", help="a cached phantom validation split (folder)")
    ap.add_argument("--data", action="append", default=[], help="a lesion table (repeat)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args(argv)

    from anatloc.ontology import load_ontology
    from anatloc.retriever.evaluate import evaluate
    from anatloc.retriever.infer import Localizer
    from anatloc.retriever.negatives import NegativeBands
    from anatloc.retriever.table import read_lesion_table

    ont = load_ontology()
    bands = NegativeBands(ont)
    tables = {str(p): read_lesion_table(Path(p), ont, require_locations=True) for p in args.data}
    out: dict = {"machine": machine(), "models": {}}
    for path in args.model:
        loc = Localizer.from_checkpoint(path, device="cpu", ontology=ont)
        res: dict = {}
        if args.val_cache:
            src = phantom_validation(loc, Path(args.val_cache))
            res["validation"] = validation(loc, bands, src)
        for name, recs in tables.items():
            m = evaluate(loc.predict(recs), recs, ont, bands)
            res[name] = {k: m[k] for k in ("n", "fine_top1", "coarse_top1", "errors_by_band")}
        out["models"][path] = res
    emit(out, args.json)
    return out


if __name__ == "__main__":
    main()
