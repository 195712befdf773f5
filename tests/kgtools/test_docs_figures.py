"""The figures docs/kgtools.md gives are the ones its commands print (cheap to recompute)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from anatloc.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "kgtools.md"
runner = CliRunner()


def test_graph_export_counts_match_the_doc(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    r = runner.invoke(app, ["graph", "export", "--format", "graphml", "--out", tmp_path / "g.x"])
    assert r.exit_code == 0, r.output
    nodes, edges = re.search(r"(\d+) nodes, (\d+) edges", r.output).groups()
    assert f"wrote anatloc.graphml (graphml, {nodes} nodes, {edges} edges)" in text
    assert f"gives {nodes}\n  nodes and {int(edges):,} edges" in text


def test_liver_s7_negative_candidates_match_the_doc():
    text = DOC.read_text(encoding="utf-8")
    args = ["graph", "negatives", "Liver S7", "--k", "16", "--seed", "0", "--json"]
    assert '$ anatloc graph negatives "Liver S7" --k 16 --seed 0 --json' in text
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["candidates"]
    assert f'"candidates": {json.dumps(got)}' in text
    assert f'"Liver S7" has {got["semi-hard"]}\nsemi-hard candidates' in text
