"""Report phrases: the ``report phrase`` annotation of every term (``anatloc.ontology.phrases``)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from anatloc.ontology import load_ontology
from anatloc.ontology.io import serialize
from anatloc.ontology.model import Ontology
from anatloc.ontology.phrases import PREPOSITIONS, generate, phrase_of, problems
from anatloc.ontology.tsv import read_tsv, write_tsv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped():
    return load_ontology()


def test_every_term_has_a_good_phrase(shipped):
    assert len(shipped.terms("fine")) == 387 and len(shipped.terms("coarse")) == 124
    assert all(t.report_phrase for t in shipped)
    assert problems(shipped) == []
    for t in shipped:
        p = t.report_phrase
        assert any(p.startswith(w + " ") for w in PREPOSITIONS), p
        assert "in near" not in p.casefold() and "near" not in p.split()


@pytest.mark.parametrize(
    ("label", "phrase"),
    [
        ("Left humerus", "in the left humerus"),
        ("Near vertebra T8", "adjacent to the T8 vertebra"),
        ("Spinous process of vertebra T8", "in the spinous process of the T8 vertebra"),
        ("Brain", "in the brain"),
        ("Base of tongue", "at the base of the tongue"),
        ("Liver S7", "in liver segment S7"),
        ("Mediastinum 4R", "in mediastinal station 4R"),
        ("Rib L7", "in the left 7th rib"),
        ("Rib R12", "in the right 12th rib"),
        ("Near the stomach", "adjacent to the stomach"),
        ("Around the liver", "around the liver"),
        ("Left supraclavicular", "in the left supraclavicular region"),
        ("Left crus of diaphragm", "in the left crus of the diaphragm"),
        ("Outside the body", "outside the body"),
    ],
)
def test_generated_phrases(shipped, label, phrase):
    assert generate(label) == phrase
    hits = [t for t in shipped if t.label == label]
    assert hits and all(t.report_phrase == phrase for t in hits)


def test_problems_are_found(shipped):
    liver = shipped.get("Liver S7")
    for bad in ("", "Liver S7", "in Near vertebra T8", "in the Left humerus", "in liver segment"):
        one = Ontology([dataclasses.replace(liver, report_phrase=bad, parent=None)], shipped.meta)
        assert problems(one), bad


def test_phrases_do_not_change_the_content_hash(shipped):
    bare = Ontology([dataclasses.replace(t, report_phrase="") for t in shipped], shipped.meta)
    assert bare.content_hash() == shipped.content_hash() == shipped.stored_hash
    assert phrase_of(bare.get("Liver S7")) == "in liver segment S7"  # generated when missing


def test_the_shipped_model_still_loads(shipped):
    pytest.importorskip("torch")
    from anatloc.retriever.checkpoint import read_checkpoint
    from anatloc.retriever.infer import Localizer
    from anatloc.retriever.predict import shipped_model_path

    if not shipped_model_path().is_file():
        pytest.skip("no shipped model in this checkout")
    assert read_checkpoint(shipped_model_path())["ontology_hash"] == shipped.content_hash()
    from tests.retriever.synth import FakeEncoder

    Localizer.from_checkpoint(
        shipped_model_path(),
        device="cpu",
        ontology=shipped,
        allow_ontology_change=False,
        text_encoder=FakeEncoder(),
        cache=False,
    )


def test_phrases_in_every_export(shipped, tmp_path):
    s7 = shipped.get("Liver S7")
    assert read_tsv(write_tsv(shipped)).get("Liver S7").report_phrase == "in liver segment S7"
    again = load_ontology_from(serialize(shipped, "ttl"), tmp_path / "a.ttl")
    assert again.get("Liver S7").report_phrase == s7.report_phrase
    assert again.content_hash() == shipped.content_hash()
    jsonld = json.loads(serialize(shipped, "jsonld"))
    assert "in liver segment S7" in json.dumps(jsonld)
    rdflib = pytest.importorskip("rdflib")
    g = rdflib.Graph().parse(data=serialize(shipped, "ttl").decode(), format="turtle")
    prop = rdflib.URIRef("https://w3id.org/anatloc/vocab#reportPhrase")
    assert {str(o) for o in g.objects(rdflib.URIRef(s7.iri), prop)} == {"in liver segment S7"}
    owlready2 = pytest.importorskip("owlready2")
    p = tmp_path / "anatloc.owl"
    p.write_bytes(serialize(shipped, "owl"))
    world = owlready2.World()
    world.get_ontology(p.as_uri()).load()
    triples = list(world.as_rdflib_graph().objects(rdflib.URIRef(s7.iri), prop))
    assert [str(o) for o in triples] == ["in liver segment S7"]


def load_ontology_from(data: bytes, path: Path):
    path.write_bytes(data)
    return load_ontology(path)


def test_tool_check_passes():
    spec = importlib.util.spec_from_file_location(
        "report_phrases", ROOT / "tools" / "report_phrases.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("report_phrases", mod)
    spec.loader.exec_module(mod)
    assert mod.main(["check"]) == 0
