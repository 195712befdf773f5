"""The knowledge in the shipped ontology: definitions, relations, descriptions, atlas facts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from anatloc.ontology import load_ontology, shipped_path
from anatloc.ontology import sparql as sp
from anatloc.ontology.describe import GENERATOR, describe_all


def test_every_term_has_a_definition_tissue_and_description(shipped):
    for t in shipped:
        assert t.definition.strip(), t.label
        assert t.tissue, t.label
        if t.level != "region":
            assert t.description and t.description_generator == GENERATOR, t.label


def test_definition_count_by_sparql(shipped):
    # IAO:0000115 is kept for the 519 terms; the schema (relations, level classes) is
    # documented with rdfs:comment, so the plain count is the number of terms
    q = sp.prepare("SELECT (COUNT(?t) AS ?n) WHERE { ?t IAO:0000115 ?d }")
    assert sp.run_local(shipped, q)[0].rows == [{"n": "519"}]


def test_descriptions_are_unique_sided_and_sentence_sized(shipped):
    canon = [t.description for t in shipped if t.description]
    assert len(set(canon)) == len(canon)
    for t in shipped.terms("fine"):
        texts = [t.description, *t.paraphrases]
        assert len(t.paraphrases) >= 4, t.label
        for text in texts:
            assert 3 <= len(text.split()) <= 60, (t.label, text)
        for twin in t.relations.get("contralateral_to", ()):
            other = shipped[twin]
            assert t.description != other.description
            side = t.laterality
            assert re.search(rf"\b{side}\b", t.description, re.IGNORECASE), t.description


def test_liver_s7_description_places_it(shipped):
    t = shipped.get("Liver S7")
    assert "segment VII" in t.description
    assert re.search(r"(behind|above|lateral to) Liver S\d", t.description)


def test_vertebra_neighbours_and_levels(shipped):
    t7 = shipped.get("Vertebra T7")
    adj = {shipped[c].label for c in t7.relations["adjacent_to"]}
    assert {"Vertebra T6", "Vertebra T8"} <= adj
    assert "Vertebra T6" in {shipped[c].label for c in t7.relations.get("inferior_to", ())}
    carina_levels = {
        shipped[c].label for c in shipped.get("Mediastinum 7").relations.get("at_level_of", ())
    }
    assert carina_levels <= {"Vertebra T4", "Vertebra T5", "Vertebra T6"}


def test_atlas_facts_are_queryable(shipped):
    q = sp.prepare(
        'SELECT ?z WHERE { ?t rdfs:label "Liver S7" ; rdfs:subClassOf anatloc:FineLocation ; anatloc:centroidZ ?z }'
    )
    z = float(sp.run_local(shipped, q)[0].rows[0]["z"])
    brain = shipped.get("Brain").facts["centroidZ"]
    bladder = shipped.get("Bladder").facts["centroidZ"]
    assert bladder < z < brain


def test_describe_write_twice_is_byte_identical(tmp_path):
    p = tmp_path / "copy.ttl"
    shutil.copy(shipped_path(), p)
    for _ in range(2):
        ont = load_ontology(p)
        describe_all(ont)
        ont.save(p)
    assert p.read_bytes() == shipped_path().read_bytes()


@pytest.mark.slow
def test_build_tool_reproduces_the_shipped_file():
    """tools/build_ontology.py --check: the curation tables and the shipped file agree."""
    root = shipped_path().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "tools" / "build_ontology.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr


def test_concurrent_edits_take_turns(user_copy):
    """Two processes add a term each to the same file at the same time: both land."""
    code = textwrap.dedent(
        """
        import sys, time
        from anatloc.ontology.fileio import file_lock
        from anatloc.ontology import load_ontology
        path, label = sys.argv[1], sys.argv[2]
        with file_lock(path):
            ont = load_ontology(path)
            time.sleep(0.5)  # both processes read before either writes, without the lock
            ont.add(label, "Liver")
            ont.save(path)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(user_copy), f"Liver S{n}"])
        for n in (9, 10)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    labels = {t.label for t in load_ontology(user_copy).children("Liver")}
    assert {"Liver S9", "Liver S10"} <= labels


def test_lock_timeout_is_a_clear_refusal(user_copy):
    from anatloc.ontology.errors import LockedError
    from anatloc.ontology.fileio import file_lock

    with (
        file_lock(user_copy),
        pytest.raises(LockedError, match="being edited by another process"),
        file_lock(user_copy, timeout=0.2),
    ):
        pass


def test_hermit_reports_the_ontology_consistent(shipped):
    from anatloc.ontology.reason import java_available, run_hermit

    result = run_hermit(shipped)
    if not java_available():
        assert result["status"] == "skipped" and "Java" in result["message"]
    else:
        assert result["status"] == "consistent", result
        json.dumps(result)
