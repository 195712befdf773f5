"""CliRunner tests of every ``anatloc graph`` command, including their errors."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from anatloc.ontology.io import save_ontology
from tests.kgtools.conftest import add_relations

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, list(args), env=env)


def one_error_line(r, code: int, text: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert text in r.stderr, r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_negatives_json_for_a_liver_segment():
    r = run("graph", "negatives", "Liver S7", "--k", "16", "--seed", "0", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["term"]["label"] == "Liver S7" and d["level"] == "fine"
    negs = d["negatives"]
    assert len(negs) == 16 and len({n["curie"] for n in negs}) == 16
    assert all(set(n) == {"curie", "label", "band"} for n in negs)
    assert {n["band"] for n in negs} == {"semi-hard", "easy"}
    got = {n["label"] for n in negs}
    assert not got & {"Liver", "Abdomen", "Liver S7", "Around the liver"}
    semi = {n["label"] for n in negs if n["band"] == "semi-hard"}
    assert len({s for s in semi if s.startswith("Liver S")}) >= 2
    excluded = {(x["label"], x["level"]): x["reason"] for x in d["excluded"]}
    assert excluded[("Liver", "coarse")] == "ancestor"
    assert excluded[("Abdomen", "region")] == "ancestor"
    again = run("graph", "negatives", "Liver S7", "--k", "16", "--seed", "0", "--json")
    assert again.stdout == r.stdout  # same seed, same answer
    other = run("graph", "negatives", "Liver S7", "--k", "16", "--seed", "1", "--json")
    assert json.loads(other.stdout)["negatives"] != negs


def test_negatives_table_and_mix():
    r = run("graph", "negatives", "Rib L7", "-k", "6", "--semi-hard", "1.0")
    assert r.exit_code == 0, r.stderr
    assert "6 negatives for Rib L7" in r.stdout and r.stdout.count("semi-hard") >= 6
    assert "easy │" not in r.stdout and "excluded:" in r.stdout
    r = run("graph", "negatives", "Liver", "--level", "coarse", "--k", "4", "--json")
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and d["level"] == "coarse" and len(d["negatives"]) == 4


def test_negatives_errors():
    r = run("graph", "negatives", "Liver S7", "--k", "400")
    one_error_line(r, 2, "cannot draw k=400 negatives")
    r = run("graph", "negatives", "Liver S77")
    one_error_line(r, 2, "unknown term 'Liver S77'")
    r = run("graph", "negatives", "Liver S7", "--k", "0")
    assert r.exit_code == 2  # typer's own range check


def test_show_vertebra_json_and_table():
    r = run("graph", "show", "Vertebra T7", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    adj = {x["label"] for x in d["neighbours"]["adjacent_to"]}
    assert {"Vertebra T6", "Vertebra T8"} <= adj
    assert [(x["label"], x["level"]) for x in d["part_of_chain"]] == [
        ("Vertebra T7", "coarse"),
        ("Axial skeleton", "region"),
    ]
    assert d["term"]["level"] == "fine" and d["term"]["tissue"] == "bone"
    r = run("graph", "show", "Vertebra T7", "--relation", "adjacent_to", "--json")
    assert list(json.loads(r.stdout)["neighbours"]) == ["adjacent_to"]
    r = run("graph", "show", "Liver", "--level", "coarse")
    assert r.exit_code == 0 and "has_part" in r.stdout and "Liver S7" in r.stdout


def test_show_unknown_relation_lists_the_choices():
    r = run("graph", "show", "Vertebra T7", "--relation", "contralateral_of")
    one_error_line(r, 2, "unknown relation 'contralateral_of'")
    assert "contralateral_to" in r.stderr and "part_of" in r.stderr


def test_path_text_and_json():
    r = run("graph", "path", "Liver S7", "Liver S2", "--relation", "part_of")
    assert r.exit_code == 0, r.stderr
    assert "--part_of--> Liver" in r.stdout and "<--part_of-- Liver S2" in r.stdout
    r = run("graph", "path", "Liver S7", "Rib L7", "--json")
    d = json.loads(r.stdout)
    assert r.exit_code == 0 and d["length"] == len(d["steps"]) >= 2
    assert (
        d["steps"][0]["from"]["label"] == "Liver S7" and d["steps"][-1]["to"]["label"] == "Rib L7"
    )
    assert d["tree_distance"] == 6 and d["lca"] is None and d["relations"] == "all"
    r = run("graph", "path", "Liver S7", "Rib L7", "-r", "contralateral_to", "-r", "part_of")
    one_error_line(r, 1, "no path between 'Liver S7'")
    r = run("graph", "path", "Liver S7", "Rib L7", "-r", "near")
    one_error_line(r, 2, "unknown relation 'near'")


@pytest.mark.parametrize("fmt", ["graphml", "json"])
def test_export_round_trips(tmp_path, fmt):
    out = tmp_path / f"g.{fmt}"
    r = run("graph", "export", "--format", fmt, "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert "519 nodes" in r.stdout
    if fmt == "graphml":
        g = nx.read_graphml(out)
    else:
        g = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
    n_edges = int(r.stdout.split(" nodes, ")[1].split(" edges")[0])
    assert g.number_of_nodes() == 519 and g.number_of_edges() == n_edges
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_export_errors(tmp_path):
    r = run("graph", "export", "--format", "dot", "--out", str(tmp_path / "g.dot"))
    one_error_line(r, 2, "unknown graph format 'dot'; expected one of graphml, json")
    r = run("graph", "export", "--format", "json", "--out", str(tmp_path / "no" / "g.json"))
    one_error_line(r, 3, "does not exist")


def test_draw_writes_a_png(tmp_path):
    out = tmp_path / "liver.png"
    r = run("graph", "draw", "Liver", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "Liver" in r.stdout
    r = run("graph", "draw", "Rib L7", "--out", str(tmp_path / "rib.png"), "-r", "contralateral_to")
    assert r.exit_code == 0 and (tmp_path / "rib.png").stat().st_size > 1000
    r = run("graph", "draw", "Liver", "--out", str(tmp_path / "liver.jpg"))
    one_error_line(r, 2, "graph draw writes PNG")
    r = run("graph", "draw", "Nowhere", "--out", str(out))
    one_error_line(r, 2, "unknown term 'Nowhere'")


def test_the_ontology_option_and_variable(tmp_path, tiny):
    p = tmp_path / "tiny.ttl"
    save_ontology(add_relations(tiny, derived=True), p)
    r = run("--ontology", str(p), "graph", "show", "Brain", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"touches", "superior_to", "level_of"} <= set(d["neighbours"])
    r = run(
        "graph", "negatives", "Liver S1", "--k", "2", "--json", env={"ANATLOC_ONTOLOGY": str(p)}
    )
    assert r.exit_code == 0, r.stderr
    assert {x["label"] for x in json.loads(r.stdout)["excluded"]} == {
        "Liver",
        "Abdomen",
        "Around the liver",
    }
    r = run("graph", "negatives", "Liver S1", "--k", "5", "--ontology", str(p))
    one_error_line(r, 2, "only 4 of 6 fine terms are not excluded")
    r = run("graph", "draw", "--ontology", str(p), "--out", str(tmp_path / "all.png"))
    assert r.exit_code == 0 and "overview" in r.stdout


def test_help_lists_the_commands():
    r = run("graph", "--help")
    assert r.exit_code == 0
    for cmd in ("show", "negatives", "path", "export", "draw"):
        assert cmd in r.stdout
