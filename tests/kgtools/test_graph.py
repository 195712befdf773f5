"""The knowledge graph: nodes and edges, distances, paths, ambiguous sets, export."""

from __future__ import annotations

import io
import json
import time
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anatloc.kgtools.graph import (
    NEIGHBOUR_RELATIONS,
    KnowledgeGraph,
    NoPathError,
    description_similarity,
)
from anatloc.ontology import UnknownTermError, UsageError


def labels(kg: KnowledgeGraph, curies) -> set[str]:
    return {kg.graph.nodes[c]["label"] for c in curies}


def test_nodes_and_edges_follow_the_ontology(kg, shipped):
    g = kg.graph
    assert g.number_of_nodes() == len(shipped) == 519
    n_part_of = sum(1 for t in shipped if t.parent)
    n_rel = sum(len(v) for t in shipped for v in t.relations.values())
    assert g.number_of_edges() == n_part_of + n_rel  # symmetric ones are stored both ways
    a = g.nodes[shipped.get("Liver S7").curie]
    assert a["label"] == "Liver S7" and a["level"] == "fine" and a["tissue"] == "solid_organ"
    assert a["region"] == shipped.get("Abdomen").curie and a["laterality"] == "unsided"
    assert a["index"] == shipped.curies("fine").index(shipped.get("Liver S7").curie)
    assert {k for _, _, k in g.edges(keys=True)} == set(kg.relations_present)
    assert all(d["relation"] == k for _, _, k, d in g.edges(keys=True, data=True))


def test_build_is_well_under_a_second(shipped):
    best = min(_timed(lambda: KnowledgeGraph(shipped)) for _ in range(3))
    assert best < 0.5


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_vertebra_neighbours_and_part_of_chain(kg):
    n = kg.neighbours("Vertebra T7")
    assert {"Vertebra T6", "Vertebra T8"} <= labels(kg, n["adjacent_to"])
    assert labels(kg, n["surrounded_by"]) == {"Near vertebra T7"}
    chain = kg.part_of_chain("Vertebra T7")
    assert [kg.graph.nodes[c]["level"] for c in chain] == ["coarse", "region"]
    assert labels(kg, chain) == {"Vertebra T7", "Axial skeleton"}
    only = kg.neighbours("Vertebra T7", ["adjacent_to"])
    assert list(only) == ["adjacent_to"]
    liver = kg.resolve("Liver", "coarse")
    assert len(kg.neighbours(liver)["has_part"]) == 10


def test_unknown_relation_lists_the_choices(kg):
    with pytest.raises(UsageError, match="expected one of part_of, has_part") as e:
        kg.neighbours("Liver S7", ["contralateral_of"])
    assert all(r in str(e.value) for r in NEIGHBOUR_RELATIONS)
    with pytest.raises(UsageError, match="unknown relation 'has_part'"):
        kg.shortest_path("Liver S7", "Liver S6", ["has_part"])


def test_unknown_term_is_a_typed_error(kg):
    with pytest.raises(UnknownTermError, match="did you mean"):
        kg.neighbours("Liver S77")


def test_tree_distance_and_lca(kg):
    assert kg.tree_distance("Liver S7", "Liver S7") == 0
    assert kg.tree_distance("Liver S7", "Liver S6") == 2
    assert kg.tree_distance("Liver S7", kg.resolve("Liver", "coarse")) == 1
    assert kg.tree_distance("Liver S7", "Abdomen") == 2
    assert kg.tree_distance("Liver S7", "Spleen") == 4  # fine Spleen, another coarse location
    assert kg.tree_distance("Liver S7", "Rib L7") == 6  # another region: the virtual root
    assert kg.lca_level("Liver S7", "Liver S6") == "coarse"
    assert kg.lca_level("Liver S7", "Spleen") == "region"
    assert kg.lca("Liver S7", "Rib L7") is None and kg.lca_level("Liver S7", "Rib L7") is None
    assert kg.graph.nodes[kg.lca("Liver S7", "Abdomen")]["label"] == "Abdomen"


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_distance_matrix_matches_pairwise_distances(kg, data):
    fine = kg.ont.curies("fine")
    d = kg.distance_matrix("fine")
    i = data.draw(st.integers(0, len(fine) - 1))
    j = data.draw(st.integers(0, len(fine) - 1))
    assert d[i, j] == d[j, i] == kg.tree_distance(fine[i], fine[j])
    lvl = kg.lca_level(fine[i], fine[j])
    assert d[i, j] == {"fine": 0, "coarse": 2, "region": 4, None: 6}[lvl]


def test_shortest_path_respects_relations_and_direction(kg):
    steps = kg.shortest_path("Liver S7", "Liver S2", ["part_of"])
    assert [(s["relation"], s["inverse"]) for s in steps] == [("part_of", False), ("part_of", True)]
    assert labels(kg, [steps[0]["to"]]) == {"Liver"}
    steps = kg.shortest_path("Liver S7", "Rib L7")
    assert steps[0]["from"] == kg.resolve("Liver S7") and steps[-1]["to"] == kg.resolve("Rib L7")
    for a, b in pairwise(steps):
        assert a["to"] == b["from"]
    for s in steps:  # every step is an edge of the graph, walked forwards or backwards
        u, v = (s["to"], s["from"]) if s["inverse"] else (s["from"], s["to"])
        assert kg.graph.has_edge(u, v, key=s["relation"])
    assert kg.shortest_path("Liver S7", "Liver S7") == []
    assert kg.shortest_path("Liver S7", "Rib L7") == steps  # deterministic
    with pytest.raises(NoPathError, match="over contralateral_to") as e:
        kg.shortest_path("Liver S7", "Rib L7", ["contralateral_to"])
    assert e.value.exit_code == 1


def test_ambiguous_set_of_a_liver_segment(kg):
    amb = kg.ambiguous("Liver S7")
    named = {
        kg.graph.nodes[c]["label"] + "/" + kg.graph.nodes[c]["level"]: r for c, r in amb.items()
    }
    assert named["Liver/coarse"] == "ancestor" and named["Abdomen/region"] == "ancestor"
    assert named["Around the liver/fine"] == "surrounded_by"  # it surrounds the whole liver
    assert not any(k.startswith("Liver S") for k in named)  # siblings are not ambiguous
    amb = kg.ambiguous("Around the liver")
    assert {f"Liver S{i}" for i in range(1, 9)} <= labels(kg, amb)
    assert kg.resolve("Around the liver") not in amb


def test_ambiguous_sets_are_symmetric_and_spare_contralateral_twins(kg, shipped):
    for t in shipped:
        amb = kg.ambiguous(t.curie)
        for c in amb:
            assert t.curie in kg.ambiguous(c)
        for twin in t.relations.get("contralateral_to", ()):
            assert twin not in amb, (t.label, shipped[twin].label)


def test_near_identical_descriptions_are_ambiguous(tiny, kg):
    text = (
        "Liver segment: solid organ tissue, in front of the kidney, below the diaphragm, L1 level."
    )
    tiny.update("Liver S1", description=text)
    tiny.update("Liver S2", description=text)
    small = KnowledgeGraph(tiny)
    assert small.ambiguous("Liver S1")[small.resolve("Liver S2")] == "same_description"
    same = sum(r == "same_description" for c in kg.curies for r in kg.ambiguous(c).values())
    assert same <= 12  # in the shipped ontology a handful of pairs at most, not whole families
    assert kg.similarity("Vertebra T7", "Vertebra T8") < kg.similarity_threshold


def test_description_similarity_counts_words_in_order():
    s = description_similarity(["a b c", "a b c", "c b a", "x y z", ""])
    assert s[0, 1] == pytest.approx(1.0) and s[0, 2] < 1.0 and s[0, 3] == 0.0
    assert s[4, 4] == 0.0 and np.allclose(s, s.T)
    assert description_similarity(["left left rib", "left rib"])[0, 1] < 1.0


def test_bad_threshold_is_a_usage_error(tiny):
    with pytest.raises(UsageError, match="similarity_threshold"):
        KnowledgeGraph(tiny, similarity_threshold=0.0)


def test_graphml_and_json_round_trip(kg):
    g = nx.read_graphml(io.BytesIO(kg.to_graphml()))
    assert g.number_of_nodes() == kg.graph.number_of_nodes()
    assert g.number_of_edges() == kg.graph.number_of_edges()
    c = kg.resolve("Liver S7")
    assert g.nodes[c]["label"] == "Liver S7" and g.nodes[c]["index"] == kg.graph.nodes[c]["index"]
    data = json.loads(json.dumps(kg.to_json()))
    h = nx.node_link_graph(data, edges="edges")
    assert h.number_of_nodes() == kg.graph.number_of_nodes()
    assert h.number_of_edges() == kg.graph.number_of_edges()


def test_tiny_with_derived_relations(tiny_derived):
    kg = KnowledgeGraph(tiny_derived)
    assert {"touches", "superior_to", "at_level_of", "inferior_to"} <= set(kg.relations_present)
    s1, s2 = kg.resolve("Liver S1"), kg.resolve("Liver S2")
    assert kg.graph.has_edge(s1, s2, key="adjacent_to") and kg.graph.has_edge(
        s2, s1, key="adjacent_to"
    )
    left, right = kg.resolve("Left eye", "fine"), kg.resolve("Right eye", "fine")
    assert kg.graph.has_edge(right, left, key="contralateral_to")  # reverse edge added
    brain = kg.resolve("Brain")
    n = kg.neighbours(brain)
    assert labels(kg, n["level_of"]) == {"Liver S2"} and labels(kg, n["touches"]) == {
        "Left eye",
        "Right eye",
    }
    steps = kg.shortest_path("Liver S2", "Left eye", ["at_level_of", "touches"])
    assert [s["relation"] for s in steps] == ["at_level_of", "touches"]
    amb = kg.ambiguous("Liver S1")
    assert labels(kg, amb) == {"Liver", "Abdomen", "Around the liver"}


def test_tiny_without_relations(tiny):
    kg = KnowledgeGraph(tiny)
    assert kg.relations_present == ("part_of",)
    assert kg.neighbours("Liver S1") == {"part_of": [kg.resolve("Liver", "coarse")]}
    with pytest.raises(NoPathError):
        kg.shortest_path("Liver S1", "Brain", ["adjacent_to"])
