"""A copy of a phantom training cache whose labels carry report-style noise.

    python bench/label_noise.py --cache runs/ablation/ph-internal-8000 --p 0.2 \\
        --out runs/ablation/ph-internal-8000-noise20 --json
    python bench/ablation.py --json --cache runs/ablation/ph-internal-8000-noise20 \\
        --work runs/ablation-noise20 --variants full,random --no-results

The phantom's labels are exact; real training labels come from reports, where a reader
sometimes names a structure next to the lesion ("Vertebra T7" for a lesion beside it,
"Liver S8" for one in S7).  The walker's exclusions and the semi-hard band exist for that
noise, so the ablation cannot judge them on exact labels.  This script makes the noise:

* **who is confused with whom** comes from the atlas, not from the ontology's relations
  (which the walker reads): two fine locations are neighbours in proportion to the area
  they share, counted as the faces between voxels of the two labels in label maps of four
  bodies at 2 mm (a man and a woman with arms down, a man with arms raised, a woman with a
  sixth lumbar vertebra);
* **how often**: each training lesion, with probability ``--p``, gets one neighbour of its
  primary location, drawn in proportion to that area, as its only label (a report names
  one place); its coarse label follows.  The draw is fixed per lesion, as a report is.

The validation split is linked, unchanged: models are chosen and judged on exact labels,
and the test sets of ``bench/ablation.py`` are untouched.  The copy's manifest says what
was done (``label_noise``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine

BODIES = (
    {"sex": "male"},
    {"sex": "female"},
    {"sex": "male", "arms": "up"},
    {"sex": "female", "l6": True},
)


def contact_table(ont, spacing: float = 2.0) -> np.ndarray:
    """(Nf, Nf) shared faces between the fine locations' voxels, over :data:`BODIES`."""
    from anatloc.ontology.atlas import Subject
    from anatloc.phantom.body import body_model

    bm = body_model(ont)
    nf = len(ont.curies("fine"))
    table = np.zeros((nf, nf))
    for kw in BODIES:
        subject = Subject(**kw)
        shape, aff = bm.atlas.grid(spacing, subject)
        fine = bm.fine_index[bm.atlas.rasterize(shape, aff, subject)]
        for ax in range(3):
            n = fine.shape[ax]
            a = np.take(fine, np.arange(n - 1), axis=ax).ravel()
            b = np.take(fine, np.arange(1, n), axis=ax).ravel()
            m = (a != b) & (a >= 0) & (b >= 0)
            np.add.at(table, (a[m], b[m]), 1)
            np.add.at(table, (b[m], a[m]), 1)
    return table


def noisy_copy(src: Path, out: Path, p: float, table: np.ndarray, ont, seed: int) -> dict:
    """Write ``out/train`` (relabelled shards) and link ``out/val`` to ``src/val``."""
    from anatloc.ontology.fileio import atomic_write

    fine_curies = ont.curies("fine")
    cpos = {c: i for i, c in enumerate(ont.curies("coarse"))}
    f2c = np.array([cpos[ont[c].parent] for c in fine_curies])
    rows = table.sum(1, keepdims=True)
    weights = np.divide(table, rows, out=np.zeros_like(table), where=rows > 0)
    rng = np.random.default_rng(seed)
    man = json.loads((src / "train" / "manifest.json").read_text(encoding="utf-8"))
    (out / "train").mkdir(parents=True, exist_ok=True)
    val = out / "val"
    if not val.exists():
        val.symlink_to((src / "val").resolve())
    n = relabelled = other_coarse = 0
    for shard in man["shards"]:
        with np.load(src / "train" / shard["file"]) as z:
            arrays = {k: z[k] for k in z.files}
        fine, coarse = arrays["fine"], arrays["coarse"]
        for i in range(len(fine)):
            n += 1
            primary = int(fine[i, 0])
            if rng.random() >= p or rows[primary, 0] == 0:
                continue
            g = int(rng.choice(len(fine_curies), p=weights[primary]))
            fine[i] = -1
            fine[i, 0] = g
            other_coarse += int(f2c[g] != coarse[i])
            coarse[i] = f2c[g]
            relabelled += 1
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(out / "train" / shard["file"], buf.getvalue())
    info = {
        "p": p,
        "seed": seed,
        "model": "one spatial neighbour of the primary, by shared area",
        "lesions": n,
        "relabelled": relabelled,
        "relabelled_other_coarse": other_coarse,
        "source": str(src),
    }
    man["label_noise"] = info
    atomic_write(out / "train" / "manifest.json", json.dumps(man, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="a phantom cache (train/, val/)")
    ap.add_argument("--out", type=Path, required=True, help="where the noisy copy goes")
    ap.add_argument("--p", type=float, default=0.2, help="share of relabelled lesions")
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    if not 0.0 <= args.p <= 1.0:
        sys.exit(f"error: --p must be between 0 and 1 (got {args.p})")
    if not (args.cache / "train" / "manifest.json").is_file():
        sys.exit(f"error: {args.cache}/train/manifest.json not found; render the cache first")
    if args.out.resolve() == args.cache.resolve():
        sys.exit("error: --out must differ from --cache (the cache is not changed in place)")

    from anatloc.ontology import load_ontology

    ont = load_ontology()
    t0 = time.perf_counter()
    table = contact_table(ont)
    t1 = time.perf_counter()
    info = noisy_copy(args.cache, args.out, args.p, table, ont, args.seed)
    labels = [t.label for t in ont.terms("fine")]
    examples = {}
    for name in ("Vertebra T7", "Near vertebra T7", "Liver S7", "Rib L6"):
        if name in labels:
            row = table[labels.index(name)]
            top = np.argsort(-row)[:4]
            examples[name] = {labels[j]: round(float(row[j] / row.sum()), 3) for j in top}
    result = {
        "benchmark": "label_noise",
        "machine": machine(),
        "contacts_s": round(t1 - t0, 1),
        "copy_s": round(time.perf_counter() - t1, 1),
        "noise": info,
        "neighbours": examples,
    }
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
