"""The knowledge in the shipped ontology: definitions, relations, descriptions, atlas facts."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

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


def _curation(name):
    """Import a script of tools/curation (not a package) by its path."""
    path = Path(__file__).resolve().parents[2] / "tools" / "curation" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def build_tables():
    return _curation("build_tables")


def test_curation_tables_match_their_templates(build_tables):
    """terms/relations/landmarks.tsv are what build_tables.py makes of templates/: run
    python tools/curation/build_tables.py after editing a template."""
    tables = build_tables.render()
    assert set(tables) == {"terms.tsv", "relations.tsv", "landmarks.tsv"}
    for name, text in tables.items():
        assert (build_tables.HERE / name).read_text(encoding="utf-8") == text, name
    assert build_tables.main(["--check"]) == 0


def _edited_templates(build_tables, tmp_path, name, old, new):
    out = tmp_path / "templates"
    shutil.copytree(build_tables.TEMPLATES, out)
    text = (out / name).read_text(encoding="utf-8")
    assert old in text
    (out / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


def test_an_edited_template_no_longer_matches(build_tables, tmp_path):
    edited = _edited_templates(
        build_tables, tmp_path, "terms.tsv", "segment VII of the liver", "liver segment VII"
    )
    tables = build_tables.render(templates=edited)
    assert tables["terms.tsv"] != (build_tables.HERE / "terms.tsv").read_text(encoding="utf-8")


def test_curation_twins_come_from_the_template(build_tables, tmp_path):
    rel = build_tables.render()["relations.tsv"]
    assert "fine\tMediastinum 4L\tcontralateral_to\tfine\tMediastinum 4R\n" in rel
    assert "fine\tRib L3\tcontralateral_to\tfine\tRib R3\n" in rel
    assert "coarse\tLeft kidney\tcontralateral_to\tcoarse\tRight kidney\n" in rel
    # a twin that does not name its partner back is refused
    edited = _edited_templates(
        build_tables, tmp_path, "terms.tsv", "\tright\tRib L3\t", "\tright\tRib L4\t"
    )
    with pytest.raises(build_tables.CurationError, match="Rib R3"):
        build_tables.render(templates=edited)
    # and the relations template holds no twins of its own
    edited = _edited_templates(
        build_tables, tmp_path / "b", "relations.tsv", "\tsurrounds\t", "\tcontralateral_to\t"
    )
    with pytest.raises(build_tables.CurationError, match="only surrounds and adjacent_to"):
        build_tables.render(templates=edited)


def test_curation_build_needs_the_vocabulary(build_tables, tmp_path):
    # without the vocabulary the old generator quietly wrote its own row order
    with pytest.raises(build_tables.CurationError, match="file missing"):
        build_tables.render(vocabulary=tmp_path / "locations.tsv")
    assert build_tables.main(["--check", "--vocabulary", str(tmp_path / "none.tsv")]) == 2
    # a vocabulary without a term of the templates is a disagreement, not a new order
    vocab = build_tables.VOCABULARY.read_text(encoding="utf-8").splitlines(keepends=True)
    short = tmp_path / "short.tsv"
    short.write_text("".join(vocab[:-1]), encoding="utf-8")
    with pytest.raises(build_tables.CurationError, match="not in the vocabulary"):
        build_tables.render(vocabulary=short)


def test_curation_tables_pass_their_checker(capsys):
    assert _curation("check_knowledge").main([]) == 0, capsys.readouterr().out


def test_curation_checker_reports_side_and_twin_problems(build_tables, tmp_path, capsys):
    tables = build_tables.render()
    terms = tables["terms.tsv"].replace("fine\tRib L5\tleft\t", "fine\tRib L5\tright\t")
    relations = tables["relations.tsv"].replace(
        "fine\tLeft kidney\tcontralateral_to\tfine\tRight kidney\n", ""
    )
    for name, text in (("terms.tsv", terms), ("relations.tsv", relations)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "landmarks.tsv").write_text(tables["landmarks.tsv"], encoding="utf-8")
    capsys.readouterr()
    assert _curation("check_knowledge").main(["--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "fine/Rib L5: rib side and laterality disagree" in out
    assert "contralateral_to fine/Rib R5: contralateral terms are right and right" in out
    assert "fine/Left kidney and fine/Right kidney not declared contralateral_to" in out


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
