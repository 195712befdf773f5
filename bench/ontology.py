"""Ontology speed: loading the shipped file, stats, and a named SPARQL query on each store.

    python bench/ontology.py [--json]

``stats_cli_ms`` is a whole ``anatloc ontology stats --json`` process (Python start-up
included); ``rdflib_vs_oxigraph`` is the ratio of the same query on the two stores in this run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, machine, timeit

from anatloc.ontology import load_ontology, serialize, shipped_path
from anatloc.ontology import sparql as sp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ont = load_ontology()
    out: dict = {"machine": machine(), "terms": len(ont)}
    out["load_ms"] = timeit(lambda: load_ontology(shipped_path()))
    out["stats_ms"] = timeit(lambda: load_ontology(shipped_path()).stats())
    out["serialize_ttl_ms"] = timeit(lambda: serialize(ont, "ttl"), repeat=3)
    t0 = time.perf_counter()
    subprocess.run(["anatloc", "ontology", "stats", "--json"], check=True, capture_output=True)
    out["stats_cli_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    t0 = time.perf_counter()
    subprocess.run(["anatloc", "--help"], check=True, capture_output=True)
    out["help_cli_ms"] = round((time.perf_counter() - t0) * 1000, 1)

    queries = {}
    stores = {"oxigraph": sp._oxigraph_store(ont), "memory": sp._rdflib_graph(ont)}
    out["store_build_ms"] = {
        "oxigraph": timeit(lambda: sp._oxigraph_store(ont), repeat=3),
        "memory": timeit(lambda: sp._rdflib_graph(ont), repeat=3),
    }
    for name, params in [
        ("children-of", {"location": "Liver"}),
        ("ancestors-of", {"term": "Liver S7"}),
        ("locations-in-region", {"region": "Chest"}),
        ("term-by-label", {"label": "vertebra"}),
    ]:
        text, named = sp.resolve_query(name)
        q = sp.prepare(text, params, named=named, ont=ont)
        ox = timeit(lambda q=q: sp._query_oxigraph(stores["oxigraph"], q), repeat=5)
        rd = timeit(lambda q=q: sp._query_rdflib(stores["memory"], q), repeat=3)
        queries[name] = {
            "oxigraph_ms": ox["median_ms"],
            "memory_rdflib_ms": rd["median_ms"],
            "rdflib_vs_oxigraph": round(rd["median_ms"] / max(ox["median_ms"], 1e-6), 1),
        }
    out["named_queries"] = queries
    emit(out, args.json)


if __name__ == "__main__":
    main()
