"""Property test: random sequences of edits never break an invariant, and a refused edit
leaves the file byte-identical."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anatloc.ontology import AnatlocError, load_ontology
from anatloc.ontology import validate as v
from anatloc.ontology.io import save_ontology
from anatloc.ontology.tsv import read_location_list
from tests.conftest import TINY_LIST

NAMES = st.sampled_from(
    [
        "Liver S1",
        "Liver S2",
        "Liver",
        "Brain",
        "Head",
        "Abdomen",
        "Left eye",
        "Right eye",
        "Around the liver",
        "New A",
        "New B",
        "ANATLOC:0000004",
        "Nope",
    ]
)
NEW_LABELS = st.sampled_from(["New A", "New B", "Liver S2", "Left new", "  ", "Brain", "Right eye"])
EDITS = st.one_of(
    st.tuples(st.just("add"), NEW_LABELS, NAMES),
    st.tuples(st.just("rename"), NAMES, NEW_LABELS),
    st.tuples(st.just("move"), NAMES, NAMES),
    st.tuples(st.just("remove"), NAMES, st.booleans()),
    st.tuples(st.just("set_definition"), NAMES, st.text(max_size=30)),
    st.tuples(
        st.just("add_synonym"), NAMES, st.sampled_from(["caudate", "Caudate", "orbit", "x y", ""])
    ),
)


def apply(ont, edit):
    op, a, b = edit
    if op == "add":
        ont.add(a, b)
    elif op == "rename":
        ont.rename(a, b)
    elif op == "move":
        ont.move(a, b)
    elif op == "remove":
        ont.remove(a, subtree=b)
    elif op == "set_definition":
        ont.set_definition(a, b)
    else:
        ont.add_synonym(a, b)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=st.lists(EDITS, min_size=1, max_size=8))
def test_random_edits_keep_invariants(tmp_path: Path, edits):
    path = tmp_path / "o.ttl"
    save_ontology(read_location_list(TINY_LIST), path)
    issued = set()
    for edit in edits:
        ont = load_ontology(path)
        before = ont.content_hash()
        try:
            apply(ont, edit)
        except AnatlocError:
            assert ont.content_hash() == before  # refused: the ontology is left as it was
            continue
        save_ontology(ont, path)
        back = load_ontology(path)
        errors = [
            i
            for i in v.run_checks(back, groups=["structure", "knowledge"])
            if i.severity == "ERROR"
        ]
        assert not errors, (edit, errors)
        curies = {t.curie for t in back}
        assert not (issued - curies) & curies  # removed CURIEs never come back
        assert back.meta.last_id >= max(int(c.split(":")[1]) for c in curies | {"ANATLOC:0000001"})
        issued |= curies
