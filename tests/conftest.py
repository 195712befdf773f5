"""Shared fixtures: tiny ontologies made in the test, and copies of the shipped one."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from anatloc.ontology import Ontology, load_ontology, shipped_path
from anatloc.ontology.tsv import read_location_list

TINY_LIST = """region\tcoarse\tlocation
Head\tBrain\tBrain
Head\tLeft eye\tLeft eye
Head\tRight eye\tRight eye
Abdomen\tLiver\tLiver S1
Abdomen\tLiver\tLiver S2
Abdomen\tLiver\tAround the liver
"""


@pytest.fixture(autouse=True)
def _ctrl_c_as_at_a_terminal():
    """Run every test with Python's own Ctrl-C handler.  A suite started in the background
    by a non-interactive shell (``cmd &``, nohup) inherits SIGINT *ignored*; anatloc rightly
    leaves an ignored SIGINT ignored, and the Ctrl-C tests (and the training CLI they start)
    would then wait for a signal that never comes."""
    before = signal.getsignal(signal.SIGINT)
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if before == signal.SIG_IGN:
        signal.signal(signal.SIGINT, before)


@pytest.fixture
def tiny() -> Ontology:
    """A 10-term ontology: 2 regions, 4 coarse, 6 fine (Brain stands at two levels)."""
    return read_location_list(TINY_LIST)


@pytest.fixture(scope="session")
def shipped() -> Ontology:
    return load_ontology(shipped_path())


@pytest.fixture
def user_copy(tmp_path: Path) -> Path:
    """A user's editable copy of the shipped ontology."""
    p = tmp_path / "my.ttl"
    shutil.copy(shipped_path(), p)
    return p


@pytest.fixture(autouse=True)
def _no_env_ontology(monkeypatch):
    """Tests never see the developer's ANATLOC_ONTOLOGY."""
    monkeypatch.delenv("ANATLOC_ONTOLOGY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield


def pytest_collection_modifyitems(config, items):
    """gpu tests run only where CUDA is present."""
    if not any("gpu" in item.keywords for item in items):
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # torch missing or broken
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def one_torch_thread():
    """One intra-op torch thread from the first test that asks until the session ends: the
    tensors of the tests are tiny, and on a shared machine a second thread spinning for a
    busy core makes them several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
