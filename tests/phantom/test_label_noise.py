"""bench/label_noise.py: spatial neighbours from the atlas, and a relabelled copy of a cache."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import label_noise  # noqa: E402


@pytest.fixture(scope="module")
def table(toy_ont):
    return label_noise.contact_table(toy_ont, spacing=8.0)


def test_contacts_are_symmetric_and_between_distinct_locations(toy_ont, table):
    n = len(toy_ont.curies("fine"))
    assert table.shape == (n, n)
    np.testing.assert_array_equal(table, table.T)
    assert not np.diag(table).any()
    assert (table.sum(1) > 0).sum() >= n // 2  # most toy locations touch another


def _cache(folder: Path, fine: np.ndarray, coarse: np.ndarray) -> None:
    for split in ("train", "val"):
        (folder / split).mkdir(parents=True)
        np.savez(folder / split / "shard-00000.npz", fine=fine, coarse=coarse, local=np.zeros(3))
        man = {"n": len(fine), "shards": [{"file": "shard-00000.npz", "n": len(fine)}]}
        (folder / split / "manifest.json").write_text(json.dumps(man))


def test_noisy_copy_moves_labels_to_touching_neighbours_only(toy_ont, table, tmp_path):
    fine_curies = toy_ont.curies("fine")
    cpos = {c: i for i, c in enumerate(toy_ont.curies("coarse"))}
    touching = np.flatnonzero(table.sum(1) > 0)
    primary = np.resize(touching, 40)
    fine = np.full((40, 8), -1, np.int32)
    fine[:, 0] = primary
    fine[:, 1] = primary[::-1]  # a second acceptable location, dropped when relabelled
    coarse = np.array([cpos[toy_ont[fine_curies[p]].parent] for p in primary], np.int32)
    src = tmp_path / "src"
    _cache(src, fine, coarse)

    info = label_noise.noisy_copy(src, tmp_path / "all", 1.0, table, toy_ont, seed=1)
    assert info["relabelled"] == 40
    with np.load(tmp_path / "all" / "train" / "shard-00000.npz") as z:
        new_fine, new_coarse, local = z["fine"], z["coarse"], z["local"]
    assert (new_fine[:, 1:] == -1).all()  # one label, as a report gives
    for p, g, c in zip(primary, new_fine[:, 0], new_coarse, strict=True):
        assert table[p, g] > 0 and g != p
        assert c == cpos[toy_ont[fine_curies[g]].parent]
    np.testing.assert_array_equal(local, np.zeros(3))  # the images are copied as they were
    man = json.loads((tmp_path / "all" / "train" / "manifest.json").read_text())
    assert man["label_noise"]["p"] == 1.0 and man["n"] == 40
    assert (tmp_path / "all" / "val").resolve() == (src / "val").resolve()
    with np.load(src / "train" / "shard-00000.npz") as z:  # the source is untouched
        np.testing.assert_array_equal(z["fine"], fine)

    none = label_noise.noisy_copy(src, tmp_path / "none", 0.0, table, toy_ont, seed=1)
    assert none["relabelled"] == 0
    again = label_noise.noisy_copy(src, tmp_path / "half", 0.5, table, toy_ont, seed=7)
    twice = label_noise.noisy_copy(src, tmp_path / "half2", 0.5, table, toy_ont, seed=7)
    assert 5 <= again["relabelled"] <= 35 and again == twice
