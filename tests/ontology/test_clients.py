"""Every export format, loaded by ontology tools that anatloc did not write.

pronto (OBO and OWLAPI-style RDF/XML), py-horned-owl (RDF/XML, Turtle), owlready2 (RDF/XML,
N-Triples) and OAK's ``runoak`` (OBO, RDF/XML through pronto, Turtle through rdflib): each
must find "Liver S7", a fine location that is part of the liver.  The clients come with the
``test`` extra.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from anatloc.ontology.io import save_ontology

S7 = "https://w3id.org/anatloc/ANATLOC_0000285"
LIVER = "https://w3id.org/anatloc/ANATLOC_0000042"
FINE = "https://w3id.org/anatloc/vocab#FineLocation"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shipped) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("export")
    return {
        fmt: save_ontology(shipped, folder / f"anatloc.{fmt}")
        for fmt in ("owl", "obo", "ttl", "nt")
    }


def _pronto(path: Path):
    pronto = pytest.importorskip("pronto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pronto warns about OWL it does not model
        return pronto.Ontology(str(path))


def test_pronto_loads_the_rdfxml(exported):
    ont = _pronto(exported["owl"])
    assert (
        sum(1 for t in ont.terms() if t.id.startswith("https://w3id.org/anatloc/ANATLOC_")) == 519
    )
    s7 = ont.get_term(S7)
    assert s7.name == "Liver S7" and "segment VII" in " ".join(s.description for s in s7.synonyms)
    assert FINE in {t.id for t in s7.superclasses(distance=1)}


def test_pronto_loads_the_obo_with_curies(exported):
    ont = _pronto(exported["obo"])
    s7 = ont.get_term("ANATLOC:0000285")
    assert s7.name == "Liver S7" and s7.definition.startswith("Couinaud segment VII")
    assert "anatloc:FineLocation" in {t.id for t in s7.superclasses(distance=1)}
    part_of = {r.id: {t.id for t in ts} for r, ts in s7.relationships.items()}["BFO:0000050"]
    assert part_of == {"ANATLOC:0000042"}
    assert ont.get_term("ANATLOC:0000042").name == "Liver"


def test_fastobo_reads_the_obo_strictly(exported):
    fastobo = pytest.importorskip("fastobo")
    doc = fastobo.load(str(exported["obo"]))
    assert sum(1 for frame in doc if isinstance(frame, fastobo.term.TermFrame)) == 522


@pytest.mark.parametrize("fmt", ["owl", "ttl"])
def test_py_horned_owl_loads(exported, fmt):
    pyhornedowl = pytest.importorskip("pyhornedowl")
    ont = pyhornedowl.open_ontology(str(exported[fmt]), fmt if fmt == "ttl" else None)
    assert len(ont.get_classes()) == 523  # 519 locations, 3 level classes, the root
    labels = ont.get_annotations(S7, "http://www.w3.org/2000/01/rdf-schema#label")
    assert [str(x) for x in labels] == ["Liver S7"]
    assert FINE in {str(x) for x in ont.get_superclasses(S7)}


@pytest.mark.parametrize("fmt", ["owl", "nt"])
def test_owlready2_loads(exported, fmt):
    owlready2 = pytest.importorskip("owlready2")
    world = owlready2.World()
    onto = world.get_ontology(exported[fmt].as_uri()).load()
    s7 = world[S7]
    assert s7 is not None and list(s7.label) == ["Liver S7"]
    assert FINE in {getattr(p, "iri", "") for p in s7.is_a}
    parts = {r.value.iri for r in s7.is_a if hasattr(r, "value") and hasattr(r.value, "iri")}
    assert LIVER in parts
    assert len(list(onto.classes())) == 523


def _runoak() -> str | None:
    beside = Path(sys.executable).with_name("runoak")
    return str(beside) if beside.is_file() else shutil.which("runoak")


#: OAK's own option that registers anatloc's prefix (OAK's built-in map lacks ANATLOC)
OAK_PREFIX = ("--prefix", "ANATLOC=https://w3id.org/anatloc/ANATLOC_")


@pytest.mark.slow
@pytest.mark.parametrize(
    "fmt, source, prefix, shown",
    [
        ("obo", "{path}", (), "ANATLOC:0000285 ! Liver S7"),  # the OBO idspace gives the CURIE
        ("owl", "pronto:{path}", (), f"{S7} ! Liver S7"),
        ("ttl", "{path}", (), f"{S7} ! Liver S7"),
        ("ttl", "{path}", OAK_PREFIX, "ANATLOC:0000285 ! Liver S7"),
    ],
)
def test_oak_finds_liver_s7(exported, tmp_path, fmt, source, prefix, shown):
    exe = _runoak()
    if exe is None:
        pytest.skip("OAK (pip install oaklib) is not installed")
    out = subprocess.run(
        [exe, *prefix, "-i", source.format(path=exported[fmt]), "info", "Liver S7"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == shown


def test_obo_is_written_not_read(exported):
    from anatloc.ontology import load_ontology
    from anatloc.ontology.errors import UnknownFormatError

    with pytest.raises(UnknownFormatError, match="OBO is an export format"):
        load_ontology(exported["obo"])
    again = exported["obo"].with_name("again.obo")
    save_ontology(load_ontology(exported["ttl"]), again)
    assert again.read_bytes() == exported["obo"].read_bytes()  # byte-stable
    owl = exported["owl"].with_name("again.owl")
    save_ontology(load_ontology(exported["owl"]), owl)
    assert owl.read_bytes() == exported["owl"].read_bytes()
