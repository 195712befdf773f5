"""Pinned samples of the phantom's training source and of a volume-mode case.

Written before the lesion sampling moved from ``retriever/phantom_source.py`` into
``phantom/sampling.py``: a sample is a pure function of (seed, epoch, index), and caches
written before the move are served after it, so the same seed, epoch and index must give
the same lesion, the same acceptable labels and the same 8-bit blocks (what a cache shard
holds) as before.  The digests hash the cache's codes and centres rounded to a micrometre,
so that they do not depend on the last bit of a float.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from anatloc.phantom.cases import make_case
from anatloc.phantom.profiles import get_profile
from anatloc.phantom.realism import TRAINING
from anatloc.retriever.config import DataConfig, ScaleConfig
from anatloc.retriever.phantom_source import PhantomSource, encode_block

CFG = DataConfig(local=ScaleConfig(12, 4.0), context=ScaleConfig(10, 16.0))


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _pins(src: PhantomSource, idx, epoch: int, train: bool) -> list[tuple]:
    out = []
    sh = src._render_blocks(idx, epoch, train)
    for k, i in enumerate(idx):
        case = src.lesion_case(i, epoch, train)
        centres = np.round([les.center_mm for les in case.scene.lesions], 3)
        codes = _digest(encode_block(sh["local"][k]), encode_block(sh["context"][k]))
        out.append((case.fine, case.coarse, len(case.scene.lesions), _digest(centres), codes))
    return out


@pytest.fixture(scope="module")
def plain(toy_ont):
    return PhantomSource(
        "internal", toy_ont, CFG, seed=3, n_samples=12, samples_per_subject=4, field_spacing=6.0
    )


def test_training_samples_are_pinned(plain):
    got = _pins(plain, [0, 1, 5, 9], 0, True) + _pins(plain, [2], 1, True)
    assert got == TRAIN_PINS


def test_validation_samples_are_pinned(plain):
    assert _pins(plain, [0, 3, 7], 0, False) == VAL_PINS


def test_realistic_samples_are_pinned(toy_ont):
    src = PhantomSource(
        "internal",
        toy_ont,
        CFG,
        seed=5,
        n_samples=8,
        samples_per_subject=8,
        field_spacing=6.0,
        variation=TRAINING,
    )
    got = _pins(src, range(6), 0, True)
    metal = [src.lesion_case(i).metal is not None for i in range(6)]
    assert (got, metal) == REALISTIC_PINS


def test_volume_case_is_pinned(toy_model):
    prof = get_profile("internal").with_spacing(8.0)
    case = make_case(toy_model, prof, 4, 1, lesions_per_case=3, noise=False)
    rows = [
        (r["locations"], round(float(r["center_x"]), 3), round(float(r["center_z"]), 3))
        for r in case.rows
    ]
    assert (rows, _digest(case.volumes.lesion_mask)) == VOLUME_PINS


TRAIN_PINS = [
    ([9], 9, 1, "dd2fcfabd2478710", "054494ce94b5d0a4"),
    ([20], 19, 1, "a78dbdb01d07c55a", "7bc08700ac1a4975"),
    ([0], 0, 1, "7697df629464d798", "cedbabeac28905bd"),
    ([13, 7], 13, 3, "7007caf6e647f076", "dd0245ad1aba3098"),
    ([12], 12, 2, "e8bee575c997ed8c", "d7d489ac378eedd3"),
]
VAL_PINS = [
    ([0], 0, 1, "8538d4f4e125ec24", "432e87dcff663a96"),
    ([3], 3, 1, "4d777b468da065f2", "5be51b52774f7c05"),
    ([7], 7, 1, "15099df5d046b29f", "f61739e19e98e52d"),
]
REALISTIC_PINS = (
    [
        ([6], 6, 3, "93c5e77fea4654f7", "5e203b731b24e953"),
        ([10], 10, 2, "c8c6929a0c7ba5a0", "b7139790b14ae8e3"),
        ([13], 13, 1, "c81e59e5041651ab", "e9fb727dc01af5de"),
        ([3], 3, 9, "fb7c8ad20e3c6f9d", "6b4e111532fcd941"),
        ([21], 19, 10, "4cd3a85bdbcab970", "cb39e71c9f45ba7e"),
        ([25], 21, 15, "0f064168a8dd84cf", "87d8f40a39510225"),
    ],
    [False, False, False, False, False, False],
)
VOLUME_PINS = (
    [
        ("Left thigh muscle", -75.169, 231.924),
        ("Right femur", 125.545, 675.495),
        ("Bladder|Abdominal cavity", 54.878, 820.828),
    ],
    "df11120da8eea958",
)
