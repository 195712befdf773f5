"""``anatloc baseline segmentation`` through the real entry point (CliRunner)."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from anatloc.cli.main import app

from ..retriever.conftest import EVALUATE_KEYS
from ..retriever.segcase import make_phantom_case, make_seg_case

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_phantom_cases_json_and_predictions(shipped, tmp_path):
    table = make_phantom_case(tmp_path, shipped)
    out = tmp_path / "pred.csv"
    r = run("baseline", "segmentation", "--data", table, "--json", "--no-degrade", "--out", out)
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert set(m) == EVALUATE_KEYS
    assert (m["n"], m["fine_top1"], m["coarse_top1"]) == (5, 0.4, 0.8)
    assert set(m["per_region"]) == {"Abdomen", "Axial skeleton", "Chest"}
    assert "3 overlap an organ, 1 took the nearest within 10 mm, 1 got no answer" in r.stderr
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [x["location"] for x in rows] == ["Liver", "Vertebra T7", "Rib L7", "", "Vertebra T7"]
    assert [x["class"] for x in rows][:3] == ["liver", "vertebrae_T7", "rib_left_7"]
    assert rows[4]["how"] == "nearest" and rows[0]["locations"] == "Liver S7"
    # degraded (the default), a table for people
    r = run("baseline", "segmentation", "--data", table, "--seed", "1")
    assert r.exit_code == 0, r.output
    assert "fine_top1" in r.stdout and "per_region" not in r.stdout and "Axial skeleton" in r.stdout


def test_user_organ_maps_and_errors(shipped, tmp_path):
    table = make_seg_case(tmp_path / "u")
    r = run("baseline", "segmentation", "--data", table, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["fine_top1"] == round(2 / 3, 4)
    names = tmp_path / "classes.json"
    names.write_text('{"1": "liver", "2": "not_a_class"}')
    r = run("baseline", "segmentation", "--data", table, "--classes", names, "--json")
    assert r.exit_code == 0 and "1 class name(s) are not in the mapping table" in r.stderr
    r = run("baseline", "segmentation", "--data", table, "--classes", tmp_path / "nope.json")
    assert r.exit_code == 3 and "classes file" in r.stderr and "does not exist" in r.stderr
    r = run("baseline", "segmentation", "--data", tmp_path / "none.csv")
    assert r.exit_code == 3 and "does not exist" in r.stderr
    r = run("baseline", "segmentation", "--data", table, "--out", tmp_path / "no" / "p.csv")
    assert r.exit_code == 3 and "does not exist" in r.stderr
    table.write_text(table.read_text().replace(",seg,", ",segmentation,"))
    r = run("baseline", "segmentation", "--data", table)
    assert r.exit_code == 3 and "no organ label map for case 'u1'" in r.stderr
    r = run("baseline", "--help")
    assert r.exit_code == 0 and "segmentation" in r.stdout
