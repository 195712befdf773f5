"""Fixtures of the phantom tests: the toy atlas as an ontology (and as a file), small grids."""

from __future__ import annotations

import pytest

from anatloc.phantom.body import body_model

from .toy import toy_ontology


@pytest.fixture(scope="session")
def toy_ont():
    return toy_ontology()


@pytest.fixture(scope="session")
def toy_model(toy_ont):
    return body_model(toy_ont)


@pytest.fixture(scope="session")
def toy_ttl(tmp_path_factory, toy_ont):
    path = tmp_path_factory.mktemp("toy") / "toy.ttl"
    toy_ont.save(path)
    return path
