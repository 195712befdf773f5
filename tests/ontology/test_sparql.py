"""SPARQL: named queries, both local stores, updates, errors, and a real Oxigraph server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from anatloc.ontology import load_ontology
from anatloc.ontology import sparql as sp
from anatloc.ontology.errors import ExternalError, RefusedError, UnknownTermError, UsageError
from anatloc.ontology.io import save_ontology

CASES = [
    ("children-of", {"location": "Liver"}, 10),
    ("children-of", {"location": "Head"}, 12),
    ("ancestors-of", {"term": "Liver S7"}, 2),
    ("locations-in-region", {"region": "Upper limb"}, 34),
    ("synonyms-of", {"term": "Liver S7"}, None),
    ("term-by-label", {"label": "vertebra t7"}, None),
    ("lateral-pairs", {}, None),
    ("definition-of", {"term": "segment VII of the liver"}, 1),
    ("neighbours-of", {"term": "Vertebra T7"}, None),
    ("locations-by-tissue", {"tissue": "bone"}, None),
    ("external-matches", {}, 23),
]


def run_named(ont, name, params, store="oxigraph"):
    text, named = sp.resolve_query(name)
    return sp.run_local(ont, sp.prepare(text, params, named=named, ont=ont), store=store)[0]


@pytest.fixture(scope="module")
def stores(shipped):
    return sp._oxigraph_store(shipped), sp._rdflib_graph(shipped)


@pytest.mark.parametrize("name, params, expected", CASES)
def test_named_queries_agree_on_both_stores(shipped, stores, name, params, expected):
    text, named = sp.resolve_query(name)
    q = sp.prepare(text, params, named=named, ont=shipped)
    a = sp._query_oxigraph(stores[0], q)
    b = sp._query_rdflib(stores[1], q)
    assert a.rows == b.rows
    if expected is not None:
        assert len(a.rows) == expected
    else:
        assert a.rows, f"{name} returned nothing"


def test_every_shipped_query_is_listed_with_a_description():
    named = sp.named_queries()
    assert {
        "children-of",
        "ancestors-of",
        "locations-in-region",
        "lateral-pairs",
        "synonyms-of",
        "term-by-label",
    } <= set(named)
    assert all(q.description for q in named.values())


def test_children_of_liver_are_its_segments(shipped):
    rows = run_named(shipped, "children-of", {"location": "liver"}).rows
    assert [r["label"] for r in rows][:8] == [f"Liver S{i}" for i in range(1, 9)]


def test_term_parameters_resolve_through_the_ontology(shipped):
    with pytest.raises(UnknownTermError, match="Liver S7"):
        run_named(shipped, "ancestors-of", {"term": "Livr S7"})
    with pytest.raises(UsageError, match="needs --param term"):
        run_named(shipped, "ancestors-of", {})
    with pytest.raises(UsageError, match="do not appear"):
        run_named(shipped, "ancestors-of", {"term": "Liver S7", "x": "1"})


def test_ask_and_construct(shipped):
    r, _ = sp.run_local(shipped, sp.prepare('ASK { ?t rdfs:label "Liver S7" }'))
    assert r.kind == "ask" and r.boolean is True
    r, _ = sp.run_local(
        shipped,
        sp.prepare(
            'CONSTRUCT { ?t rdfs:label ?l } WHERE { ?t rdfs:label ?l . FILTER(?l = "Liver S7") }'
        ),
    )
    assert r.kind == "graph" and len(r.triples) == 1


INJECTION = 'S7" ) ) } UNION { ?term ?p ?label . BIND(?label AS ?matched) } #'


def _run(stores, store, q):
    """``q`` on the module's prebuilt store (building an rdflib graph takes seconds)."""
    if store == "oxigraph":
        return sp._query_oxigraph(stores[0], q)
    return sp._query_rdflib(stores[1], q)


@pytest.mark.parametrize("store", sp.STORES)
def test_a_text_parameter_cannot_inject_sparql(shipped, stores, store):
    # the value stays one string literal: it matches no label, it does not widen the query
    text, named = sp.resolve_query("term-by-label")
    q = sp.prepare(text, {"label": INJECTION}, named=named, ont=shipped)
    assert _run(stores, store, q).rows == []
    quoted = 'a"b\\c\n$label'
    q = sp.prepare("SELECT ?v WHERE { BIND($v AS ?v) }", {"v": quoted})
    assert _run(stores, store, q).rows == [{"v": quoted}]


def test_an_iri_parameter_cannot_inject_sparql(shipped):
    with pytest.raises(UsageError, match="is not an IRI"):
        sp.prepare("SELECT * WHERE { $t ?p ?o }", {"t": "<http://x/> } UNION { ?t ?p <x>"})
    q = sp.prepare("SELECT ?o WHERE { $t rdfs:label ?o }", {"t": "<https://w3id.org/anatloc/x>"})
    assert sp.run_local(shipped, q)[0].rows == []


def test_local_stores_get_the_prefixes_through_their_api(stores):
    q = sp.prepare('ASK { ?t rdfs:label "Liver S7" }')
    assert q.body == 'ASK { ?t rdfs:label "Liver S7" }' and "rdfs" in q.prefixes
    assert str(q).startswith("PREFIX ")  # what a remote endpoint is sent
    own = sp.prepare('PREFIX rdfs: <http://example.org/> ASK { ?t rdfs:label "Liver S7" }')
    assert "rdfs" not in own.prefixes
    for store in sp.STORES:
        assert _run(stores, store, own).boolean is False


@pytest.mark.parametrize("store", ["oxigraph", "memory"])
def test_syntax_error_is_one_line(shipped, store):
    with pytest.raises(UsageError) as e:
        sp.run_local(shipped, sp.prepare("SELECT ?x WHERE { ?x ?y }"), store=store)
    assert str(e.value).startswith("SPARQL syntax error") and "\n" not in str(e.value)


def test_update_is_refused_without_permission(shipped):
    with pytest.raises(RefusedError, match="allow-update"):
        sp.run_local(shipped, sp.prepare("DELETE WHERE { ?s ?p ?o }"))
    assert sp.is_update("PREFIX x: <http://x/>\n# comment\nINSERT DATA { x:a x:b x:c }")
    assert not sp.is_update("SELECT * WHERE { ?s ?p ?o } # DELETE")


@pytest.mark.parametrize("store", ["oxigraph", "memory"])
def test_allowed_update_changes_the_ontology(shipped, store):
    ont = shipped.copy()
    text = sp.prepare(
        'DELETE { ?t oboInOwl:hasRelatedSynonym ?s } WHERE { ?t rdfs:label "Liver S7" ; oboInOwl:hasRelatedSynonym ?s }'
    )
    _, new = sp.run_local(ont, text, store=store, allow_update=True)
    sp.accept_update(ont, new)
    assert ont.get("Liver S7").related_synonyms == ()
    assert len(ont) == len(shipped)


def test_update_that_breaks_the_hierarchy_is_refused(shipped):
    ont = shipped.copy()
    _, new = sp.run_local(ont, sp.prepare("DELETE WHERE { ?s ?p ?o }"), allow_update=True)
    before = ont.content_hash()
    if len(new) == 0:  # an empty ontology is structurally valid; deleting labels is not
        _, new = sp.run_local(
            ont, sp.prepare("DELETE WHERE { ?s rdfs:label ?l }"), allow_update=True
        )
    with pytest.raises(RefusedError, match="nothing was changed"):
        sp.accept_update(ont, new)
    assert ont.content_hash() == before


def test_unreachable_endpoint_names_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/query"
    with pytest.raises(ExternalError, match=f"cannot reach SPARQL endpoint {url}"):
        sp.run_endpoint(url, sp.prepare("SELECT * WHERE { ?s ?p ?o } LIMIT 1"), timeout=2)


def test_slow_endpoint_times_out():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)  # accepts the connection but never answers
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/query"
        t0 = time.monotonic()
        with pytest.raises(ExternalError, match="did not answer within 0.5 s"):
            sp.run_endpoint(url, "SELECT * WHERE { ?s ?p ?o }", timeout=0.5)
        assert time.monotonic() - t0 < 5


def oxigraph_executable() -> str | None:
    """The ``oxigraph`` server of this Python's environment (``pip install oxigraph`` puts it
    beside the interpreter, also when the environment is not activated), else one on PATH."""
    beside = Path(sys.executable).with_name("oxigraph")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("oxigraph")


def test_the_oxigraph_server_is_found_beside_the_interpreter(monkeypatch):
    monkeypatch.setenv("PATH", "")  # a venv used without activating it
    if not Path(sys.executable).with_name("oxigraph").exists():
        pytest.skip("no oxigraph server in this environment")
    assert oxigraph_executable() == str(Path(sys.executable).with_name("oxigraph"))


@pytest.fixture(scope="module")
def oxigraph_server(tmp_path_factory, shipped):
    exe = oxigraph_executable()
    if exe is None:
        pytest.skip("the oxigraph server (pip install oxigraph) is not installed")
    folder: Path = tmp_path_factory.mktemp("oxi")
    ttl = folder / "anatloc.ttl"
    save_ontology(shipped, ttl)
    subprocess.run(
        [exe, "load", "--location", str(folder / "db"), "--file", str(ttl)],
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with subprocess.Popen(
        [exe, "serve-read-only", "--location", str(folder / "db"), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        url = f"http://127.0.0.1:{port}/query"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("name, params, expected", CASES)
def test_endpoint_gives_the_same_answers_as_local(oxigraph_server, shipped, name, params, expected):
    text, named = sp.resolve_query(name)
    q = sp.prepare(text, params, named=named, ont=shipped)
    remote = sp.run_endpoint(oxigraph_server, q, timeout=10)
    local = sp.run_local(shipped, q)[0]
    assert remote.vars == local.vars and remote.rows == local.rows


def test_endpoint_parameters_cannot_inject_sparql(oxigraph_server, shipped):
    text, named = sp.resolve_query("term-by-label")
    q = sp.prepare(text, {"label": INJECTION}, named=named, ont=shipped)
    assert sp.run_endpoint(oxigraph_server, q, timeout=10).rows == []
    quoted = 'a"b\\c\n\\u0022'
    q = sp.prepare("SELECT ?v WHERE { BIND($v AS ?v) }", {"v": quoted})
    assert sp.run_endpoint(oxigraph_server, q, timeout=10).rows == [{"v": quoted}]


def test_endpoint_refuses_update_without_permission(oxigraph_server):
    with pytest.raises(RefusedError):
        sp.run_endpoint(oxigraph_server, "DELETE WHERE { ?s ?p ?o }")


def test_reloaded_ontology_unchanged_by_queries(user_copy):
    before = user_copy.read_bytes()
    ont = load_ontology(user_copy)
    run_named(ont, "children-of", {"location": "Liver"})
    assert user_copy.read_bytes() == before
