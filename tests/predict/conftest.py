"""Fixtures of the predict tests: phantom cases at 8 mm and a tiny model (built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import fixtures


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every test here runs with one torch thread (see the root conftest)."""


@pytest.fixture(scope="session")
def cases(tmp_path_factory) -> Path:
    """Two phantom cases (internal profile, 8 mm) with four lesions each, and lesions.csv."""
    return fixtures.phantom_cases(tmp_path_factory)


@pytest.fixture(scope="session")
def case_dir(cases) -> Path:
    return fixtures.case_dirs(cases)[0]


@pytest.fixture(scope="session")
def model(tmp_path_factory) -> Path:
    return fixtures.tiny_model(tmp_path_factory)


@pytest.fixture(scope="session")
def ont():
    from anatloc.ontology import load_ontology, shipped_path

    return load_ontology(shipped_path())


@pytest.fixture(scope="session")
def localizer(model, ont):
    from anatloc.retriever.infer import Localizer

    return Localizer.from_checkpoint(model, device="cpu", ontology=ont)
