"""Load/save in every format: deterministic Turtle, lossless round trips, clear parse errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from anatloc.ontology import (
    DataError,
    OntologyParseError,
    ReadOnlyOntologyError,
    load_ontology,
    serialize,
    shipped_path,
)
from anatloc.ontology.io import save_ontology


def test_shipped_file_is_written_deterministically(shipped):
    assert serialize(shipped, "ttl") == shipped_path().read_bytes()


@pytest.mark.parametrize("fmt", ["ttl", "owl", "jsonld", "nt", "tsv"])
def test_round_trip_keeps_every_term(shipped, tmp_path, fmt):
    p = tmp_path / f"o.{fmt}"
    save_ontology(shipped, p)
    back = load_ontology(p)
    assert back.content_hash() == shipped.content_hash()
    assert serialize(back, "ttl") == serialize(shipped, "ttl")


def test_ntriples_escaping_is_pyoxigraphs(tiny):
    import pyoxigraph as ox

    from anatloc.ontology import rdf

    label = next(iter(tiny.terms("fine"))).label
    tiny.set_definition(label, 'quote " backslash \\ tab \t line\nbreak é \u2013')
    ours = rdf.to_ntriples(rdf.to_triples(tiny))
    quads = ox.parse(ours.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    theirs = ox.serialize(quads, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    assert sorted(theirs.splitlines()) == ours.splitlines()


def test_tsv_export_import_export_is_identical(shipped, tmp_path):
    a = tmp_path / "a.tsv"
    save_ontology(shipped, a)
    b = tmp_path / "b.tsv"
    save_ontology(load_ontology(a), b)
    assert a.read_bytes() == b.read_bytes()


def test_owlready2_loads_rdfxml_export(shipped, tmp_path):
    import owlready2

    p = tmp_path / "a.owl"
    save_ontology(shipped, p)
    world = owlready2.World()
    onto = world.get_ontology(p.as_uri()).load()
    by_level = {}
    for cls in onto.classes():
        for parent in cls.is_a:
            name = getattr(parent, "name", "")
            if name in ("Region", "CoarseLocation", "FineLocation"):
                by_level[name] = by_level.get(name, 0) + 1
    assert by_level == {"Region": 8, "CoarseLocation": 124, "FineLocation": 387}


def test_edit_shows_as_a_small_diff(shipped, tmp_path):
    before = serialize(shipped, "ttl").decode().splitlines()
    ont = shipped.copy()
    ont.set_definition("Liver S7", "A new sentence.")
    after = serialize(ont, "ttl").decode().splitlines()
    changed = [a for a, b in zip(before, after, strict=False) if a != b]
    assert (
        len(before) == len(after) and 1 <= len(changed) <= 3
    )  # the definition and the header hash


def test_foreign_triples_survive_a_save(tmp_path, tiny):
    p = tmp_path / "t.ttl"
    save_ontology(tiny, p)
    text = p.read_text() + textwrap.dedent(
        """
        <https://example.org/note> <http://www.w3.org/2000/01/rdf-schema#comment> "kept" .
        ANATLOC:0000004 <http://www.w3.org/2000/01/rdf-schema#comment> "a Protégé comment" .
        """
    )
    p.write_text(text)
    ont = load_ontology(p)
    save_ontology(ont, p)
    out = p.read_text()
    assert '"kept"' in out and "a Protégé comment" in out


def test_malformed_turtle_names_file_line_and_column(tmp_path):
    p = tmp_path / "bad.ttl"
    p.write_text('@prefix a: <http://x/> .\na:b a:c a:d .\na:e a:f "open .\n')
    with pytest.raises(OntologyParseError) as e:
        load_ontology(p)
    msg = str(e.value)
    assert str(p) in msg and "line 3" in msg and "column" in msg


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_ontology(tmp_path / "nope.ttl")
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(DataError.__base__, match="cannot tell the format"):
        load_ontology(tmp_path / "x.docx")


def test_shipped_file_is_read_only(shipped):
    with pytest.raises(ReadOnlyOntologyError):
        save_ontology(shipped, shipped_path())


def test_tsv_with_missing_parent_is_refused(tmp_path, tiny):
    p = tmp_path / "t.tsv"
    save_ontology(tiny, p)
    lines = p.read_text().splitlines()
    lines = [ln for ln in lines if not ln.startswith("ANATLOC:0000003\t")]  # drop coarse "Brain"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError, match=r"line \d+: parent 'ANATLOC:0000003' of 'Brain' is not a term"
    ):
        load_ontology(p)


def test_crash_during_save_leaves_the_old_file_intact(tmp_path, shipped):
    """SIGKILL a process in the middle of writing: the target is old or new, never partial."""
    p = tmp_path / "my.ttl"
    save_ontology(shipped, p)
    original = p.read_bytes()
    code = textwrap.dedent(
        f"""
        import os, sys
        from anatloc.ontology import fileio
        real_fsync = os.fsync
        def slow_fsync(fd):
            print("writing", flush=True)
            import time; time.sleep(30)
        os.fsync = slow_fsync
        from anatloc.ontology import load_ontology
        ont = load_ontology({str(p)!r})
        ont.set_definition("Liver S7", "changed")
        ont.save({str(p)!r})
        """
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert p.read_bytes() == original
    assert load_ontology(p).content_hash() == shipped.content_hash()
