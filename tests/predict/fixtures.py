"""Builders shared by the predict tests (``tests/predict``) and the CLI tests
(``tests/cli/test_predict_cli.py``): a tiny model and small phantom cases, each built once per
test session (cached under pytest's base temporary folder, whichever test asks first)."""

from __future__ import annotations

import csv
import fcntl
from pathlib import Path

#: the phantom cases of the tests: internal profile, 8 mm voxels (about a second each)
SPACING = 8.0
SEED = 5
LESIONS = 4


def _shared(tmp_path_factory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "anatloc-predict-shared"
    folder.mkdir(exist_ok=True)
    return folder


def phantom_cases(tmp_path_factory) -> Path:
    """A folder with two cases and their ``lesions.csv`` (the truth): one phantom case, and a
    copy of it under another case id (rendering a second body would double the cost)."""
    import shutil

    from anatloc.ontology import load_ontology, shipped_path
    from anatloc.phantom.body import body_model
    from anatloc.phantom.io import generate
    from anatloc.phantom.profiles import get_profile

    out = _shared(tmp_path_factory) / "cases"
    with open(_shared(tmp_path_factory) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "lesions.csv").is_file():
            model = body_model(load_ontology(shipped_path()))
            prof = get_profile("internal").with_spacing(SPACING)
            generate(model, prof, out, 1, SEED, lesions_per_case=LESIONS, force=True)
            text = (out / "lesions.csv").read_text()
            header, *rows = text.splitlines()
            first = rows[0].split(",")[0]
            shutil.copytree(out / first, out / "copy-0000")
            copies = [r.replace(first, "copy-0000") for r in rows]
            (out / "lesions.csv").write_text("\n".join([header, *rows, *copies]) + "\n")
    return out


def case_dirs(folder: Path) -> list[Path]:
    with open(folder / "lesions.csv", newline="") as fh:
        ids = list(dict.fromkeys(r["case_id"] for r in csv.DictReader(fh)))
    return [folder / c for c in ids]


def tiny_model(tmp_path_factory) -> Path:
    """A cpu-small model with 16³ patches trained for one short epoch on the phantom cases'
    lesions (the text embeddings of a fake encoder under the default model's id are stored in
    it, so predicting needs no text encoder)."""
    from anatloc.ontology import load_ontology, shipped_path
    from anatloc.retriever.config import get_preset
    from anatloc.retriever.data import TableSource
    from anatloc.retriever.hierarchy import fine_to_coarse_table
    from anatloc.retriever.table import read_lesion_table
    from anatloc.retriever.text import TextBank, text_model_id
    from anatloc.retriever.train import train
    from tests.retriever.synth import FakeEncoder

    out = _shared(tmp_path_factory) / "tiny.pt"
    table = phantom_cases(tmp_path_factory) / "lesions.csv"
    with open(_shared(tmp_path_factory) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.is_file():
            return out
        ont = load_ontology(shipped_path())
        preset = get_preset(
            "cpu-small",
            local_size=16,
            context_size=16,
            epochs=1,
            batch_size=4,
            checkpoint_minutes=0,
        )
        recs = read_lesion_table(table, ont, require_locations=True)
        f2c = fine_to_coarse_table(ont, ont.curies("fine"), ont.curies("coarse")).numpy()
        src = TableSource(recs, ont.curies("fine"), f2c, preset.data)
        enc = FakeEncoder()
        enc.model_id = text_model_id("")
        bank = TextBank.build(ont, enc, cache=False)
        train(preset, src, ont, out, text_bank=bank, device="cpu")
    return out
