"""SNOMED CT codes of the locations: stored as skos matches, outside the content hash,
checked against pydicom's code tables and the reviewed table, readable by SPARQL."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from anatloc.ontology import Ontology, load_ontology, serialize
from anatloc.ontology import sparql as sp
from anatloc.ontology.tsv import read_tsv, write_tsv

ROOT = Path(__file__).resolve().parents[2]


def _snomed_map():
    spec = importlib.util.spec_from_file_location("snomed_map", ROOT / "tools" / "snomed_map.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("snomed_map", mod)
    spec.loader.exec_module(mod)
    return mod


def _without_codes(ont: Ontology) -> Ontology:
    return Ontology([dataclasses.replace(t, code_matches=()) for t in ont], ont.meta)


def test_codes_do_not_change_the_content_hash(shipped):
    assert sum(1 for t in shipped if t.code_matches) > 500
    assert _without_codes(shipped).content_hash() == shipped.content_hash()
    assert shipped.stored_hash == shipped.content_hash()


def test_the_shipped_model_still_matches_the_shipped_ontology(shipped):
    pytest.importorskip("torch")
    from anatloc.retriever.checkpoint import read_checkpoint
    from anatloc.retriever.predict import shipped_model_path

    if not shipped_model_path().is_file():
        pytest.skip("no shipped model in this checkout")
    assert read_checkpoint(shipped_model_path())["ontology_hash"] == shipped.content_hash()


def test_every_code_is_in_pydicoms_tables_and_in_the_reviewed_table(shipped):
    m = _snomed_map()
    assert m.problems(shipped, m.read_table()) == []


def test_laterality_and_levels_of_a_few_mappings(shipped):
    def codes(label, level="fine"):
        return shipped.get(label, level).code_matches

    assert codes("Liver", "coarse") == (("exact", "SCTID:10200004"),)
    assert codes("Liver S7") == (("exact", "SCTID:277961009"),)  # Couinaud segment VII
    assert codes("Porta hepatis") == (("broad", "SCTID:10200004"),)
    assert codes("Left kidney") == (("broad", "SCTID:64033007"),)  # no sided kidney code
    assert codes("Left breast") == (("exact", "SCTID:80248007"),)  # a sided code exists
    assert codes("Rib L7") == (("broad", "SCTID:113197003"),)
    assert codes("Outside the body") == ()
    assert shipped.get("Liver S7").codes("exact") == ["SCTID:277961009"]


def test_coverage_in_stats_and_sparql_agree(shipped):
    cov = shipped.stats()["codes"]
    assert {k: v["terms"] for k, v in cov.items()} == {"region": 8, "coarse": 124, "fine": 387}
    for row in cov.values():
        assert row["exact"] + row["broad"] + row["none"] == row["terms"]
    text, named = sp.resolve_query("snomed-coverage")
    res = sp.run_local(shipped, sp.prepare(text, {}, named=named, ont=shipped))[0]
    got = {r["level"].split()[0]: (int(r["exact"]), int(r["broad"])) for r in res.rows}
    assert got == {k: (v["exact"], v["broad"]) for k, v in cov.items()}
    text, named = sp.resolve_query("external-matches")
    res = sp.run_local(shipped, sp.prepare(text, {}, named=named, ont=shipped))[0]
    assert res.rows and all("UBERON" in r["match"] for r in res.rows)


def test_codes_survive_every_format(tmp_path, tiny):
    liver = tiny.get("Liver", "coarse")
    tiny.update(liver, code_matches=(("exact", "SCTID:10200004"),))
    tiny.update("Liver S1", code_matches=(("broad", "SCTID:10200004"),))
    for fmt in ("ttl", "owl", "nt", "jsonld"):
        p = tmp_path / f"t.{fmt}"
        p.write_bytes(serialize(tiny, fmt))
        back = load_ontology(p)
        assert back.get("Liver S1").code_matches == (("broad", "SCTID:10200004"),), fmt
        assert back.get("Liver", "coarse").code_matches == (("exact", "SCTID:10200004"),)
        assert not back.get("Liver S1").extra and not back.get("Liver S1").xrefs
    assert write_tsv(read_tsv(write_tsv(tiny))) == write_tsv(tiny)


def test_rdflib_and_owlready2_read_the_codes(tmp_path, shipped):
    rdflib = pytest.importorskip("rdflib")
    g = rdflib.Graph().parse(data=serialize(shipped, "ttl").decode(), format="turtle")
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
    s7 = rdflib.URIRef(shipped.get("Liver S7").iri)
    assert rdflib.URIRef("http://snomed.info/id/277961009") in set(g.objects(s7, skos.exactMatch))
    owlready2 = pytest.importorskip("owlready2")
    p = tmp_path / "anatloc.owl"
    p.write_bytes(serialize(shipped, "owl"))
    world = owlready2.World()
    onto = world.get_ontology(p.as_uri()).load()
    assert len(list(onto.classes())) >= len(shipped)


def test_ontology_stats_command_reports_the_coverage():
    import json

    from typer.testing import CliRunner

    from anatloc.cli.main import app

    r = CliRunner().invoke(app, ["ontology", "stats", "--json"])
    assert r.exit_code == 0, r.output
    codes = json.loads(r.stdout)["codes"]
    assert codes["fine"]["terms"] == 387 and codes["fine"]["exact"] > 50
    r = CliRunner().invoke(app, ["ontology", "stats"])
    assert r.exit_code == 0 and "SNOMED CT, fine" in r.stdout
