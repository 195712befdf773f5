"""CliRunner tests of ``anatloc annotate``: text, file, stdin, table, --to-table, bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from anatloc.cli.main import app

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(
        app, ["annotate", "--no-embedding", *args], input=input, env={"COLUMNS": "200"}
    )


def one_error_line(r, code: int, text: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert text in r.stderr, r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_text_json():
    r = run("Subcarinal adenopathy; no FDG-avid nodes in the left axilla.", "--json")
    assert r.exit_code == 0, r.stderr
    ms = json.loads(r.stdout)
    assert [(m["label"], m["status"], m["side"]) for m in ms] == [
        ("Mediastinum 7", "affirmed", None),
        ("Left axilla", "negated", "left"),
    ]
    assert ms[0]["curie"].startswith("ANATLOC:") and ms[0]["start"] == 0


def test_text_table_and_stdin_and_file(tmp_path):
    r = run("Lytic lesion of the L3 vertebral body.")
    assert r.exit_code == 0 and "Vertebra L3" in r.stdout
    r = run("-", "--json", input="hepatic segment VII")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["label"] == "Liver S7"
    f = tmp_path / "report.txt"
    f.write_text("Right 7th rib lesion.\n")
    r = run("--file", str(f), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["label"] == "Rib R7"


def test_a_table_of_reports(tmp_path):
    t = tmp_path / "reports.csv"
    t.write_text('case_id,report\nc1,"Left adrenal nodule."\nc2,"No splenic lesion."\n')
    r = run("--table", str(t), "--column", "report", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert [x["source"] for x in d] == ["c1", "c2"]
    assert d[1]["mentions"][0]["status"] == "negated"


def test_to_table_fills_what_is_unambiguous(tmp_path):
    reports = tmp_path / "reports.csv"
    reports.write_text(
        "case_id,report\n"
        'c1,"FDG-avid right 7th rib lesion and a focus in hepatic segment VII."\n'
        'c2,"Avid node, probably in the axilla."\n'
    )
    lesions = tmp_path / "lesions.csv"
    lesions.write_text("case_id,pet,locations\nc1,p.nii,\nc1,p.nii,\nc2,q.nii,\n")
    out = tmp_path / "filled.csv"
    r = run("--table", str(reports), "--to-table", str(lesions), "--out", str(out), "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["filled"] == 2 and [x["case"] for x in d["review"]] == ["c2"]
    rows = out.read_text().splitlines()
    assert rows[0] == "case_id,pet,locations"
    assert rows[1].endswith("ANATLOC:0000427") and rows[2].endswith("ANATLOC:0000285")
    assert rows[3] == "c2,q.nii,"


def test_bad_input(tmp_path):
    one_error_line(run(""), 2, "empty")
    one_error_line(run(), 2, "exactly one of")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    one_error_line(run("--file", str(empty)), 3, "empty")
    binary = tmp_path / "scan.nii.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\x00\x00binary")
    one_error_line(run("--file", str(binary)), 3, "binary")
    one_error_line(run("--file", str(tmp_path / "missing.txt")), 3, "cannot read")
    t = tmp_path / "reports.csv"
    t.write_text("case_id,text\nc1,hello\n")
    one_error_line(run("--table", str(t), "--column", "report"), 3, "no column 'report'")
    one_error_line(run("--table", str(t), "--to-table", str(t)), 2, "--out")
