"""CliRunner tests of ``anatloc predict`` and ``anatloc demo``: outputs, errors, no leftovers."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from anatloc.retriever.predict import RESULT_COLUMNS, shipped_model_path
from tests.cli.conftest import one_error_line, run
from tests.predict import fixtures

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    return fixtures.phantom_cases(tmp_path_factory)


@pytest.fixture(scope="module")
def case(cases) -> Path:
    return fixtures.case_dirs(cases)[0]


def test_mask_with_ct_json_and_mip(case, model, tmp_path):
    png = tmp_path / "mip.png"
    r = run(
        "predict", "--pet", case / "pet.nii.gz", "--ct", case / "ct.nii.gz",
        "--lesions", case / "lesions.nii.gz", "--json", "--mip", png, "--model", model,
        "--device", "cpu",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"predictions"} and len(data["predictions"]) == 4
    p = data["predictions"][0]
    for k in (*RESULT_COLUMNS, "case_id", "lesion_id", "top3_curies"):
        assert k in p
    assert p["pet_only"] is False and p["case_id"] == case.name
    assert re.match(r"^(Lesion|(Mildly|Moderately|Intensely) FDG-avid lesion) ", p["sentence"])
    assert "predicted 4 lesions in 1 case (PET/CT)" in r.stderr and f"wrote {png}" in r.stderr
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size[1] == 1000 and img.size[0] > 600


def test_pet_only_table_output(case, model):
    r = run("predict", "--pet", case / "pet.nii.gz", "--lesions", case / "lesions.nii.gz",
            "--model", model, "--device", "cpu")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "location" in r.stdout and "PET only" in r.stdout and "SUVmax" in r.stdout
    assert "(PET only)" in r.stderr
    assert "warning: no CT given: PET-only answers are less reliable" in r.stderr


def test_measured_reference_values_grade_the_uptake(case, model):
    """--blood-pool/--liver replace the typical reference: with a blood pool above every
    lesion's SUVmax, no lesion is called FDG-avid; with the defaults, some are."""
    base = ["predict", "--pet", case / "pet.nii.gz", "--ct", case / "ct.nii.gz",
            "--lesions", case / "lesions.nii.gz", "--json", "--model", model, "--device", "cpu"]  # fmt: skip
    typical = json.loads(run(*base).stdout)["predictions"]
    high = run(*base, "--blood-pool", "500", "--liver", "900")
    assert high.exit_code == 0, high.output
    given = json.loads(high.stdout)["predictions"]
    assert any("FDG-avid lesion" in p["sentence"] for p in typical)
    assert all("no FDG avidity above blood pool" in p["sentence"] for p in given)
    assert [p["location"] for p in given] == [p["location"] for p in typical]


def test_boxes_to_csv(case, cases, model, tmp_path):
    boxes = tmp_path / "boxes.csv"
    with open(cases / "lesions.csv", newline="") as fh, open(boxes, "w", newline="") as out:
        rows = [r for r in csv.DictReader(fh) if r["case_id"] == case.name]
        keep = ["center_x", "center_y", "center_z", "size_x", "size_y", "size_z"]
        w = csv.DictWriter(out, keep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "pred.csv"
    r = run("predict", "--pet", case / "pet.nii.gz", "--ct", case / "ct.nii.gz", "--boxes",
            boxes, "--out", out, "--model", model, "--case-id", "p1")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and f"wrote {out}" in r.stderr
    assert "no CT given" not in r.stderr  # a PET/CT: no PET-only warning
    got = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(got) == len(rows) and [g["lesion_id"] for g in got] == [
        "p1:1",
        "p1:2",
        "p1:3",
        "p1:4",
    ]
    header = out.read_text().splitlines()[0].split(",")
    assert header[-len(RESULT_COLUMNS) :] == list(RESULT_COLUMNS)
    assert all(g["pet_only"] == "false" and float(g["volume_ml"]) > 0 for g in got)


def test_table_of_cases_with_a_mip_folder(cases, model, tmp_path):
    mips = tmp_path / "mips"
    r = run("predict", "--table", cases / "lesions.csv", "--model", model, "--mip", mips,
            "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)["predictions"]
    assert len(data) == 8 and len({p["case_id"] for p in data}) == 2
    assert sorted(p.name for p in mips.iterdir()) == sorted(
        f"{d.name}.png" for d in fixtures.case_dirs(cases)
    )


def test_different_grids(case, model, tmp_path):
    """A PET stored LPS and a CT on another grid give the same answers."""
    pet = nib.load(str(case / "pet.nii.gz"))
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = (pet.shape[0] - 1, pet.shape[1] - 1)
    lps = tmp_path / "pet_lps.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(pet.dataobj)[::-1, ::-1, :], pet.affine @ flip), str(lps))
    args = ["--ct", case / "ct.nii.gz", "--lesions", case / "lesions.nii.gz", "--json",
            "--model", model]  # fmt: skip
    a = json.loads(run("predict", "--pet", case / "pet.nii.gz", *args).stdout)["predictions"]
    b = json.loads(run("predict", "--pet", lps, *args).stdout)["predictions"]
    assert [x["curie"] for x in a] == [x["curie"] for x in b]
    assert [x["suv_max"] for x in a] == [x["suv_max"] for x in b]


def test_bq_per_ml_pet_warns_once(case, model, tmp_path):
    pet = nib.load(str(case / "pet.nii.gz"))
    bq = tmp_path / "bq.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(pet.dataobj) * 5000.0, pet.affine), str(bq))
    r = run("predict", "--pet", bq, "--lesions", case / "lesions.nii.gz", "--model", model,
            "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    warn = [ln for ln in r.stderr.splitlines() if "Bq/ml" in ln]
    assert len(warn) == 1 and warn[0].startswith("warning: ") and "SUV" in warn[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "give --pet PET.nii.gz with --lesions"),
        (["--pet", "{case}/pet.nii.gz"], 2, "say where the lesions are"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--boxes", "b.csv"],
         2, "not both"),
        (["--table", "t.csv", "--pet", "{case}/pet.nii.gz"], 2, "do not combine it with"),
        (["--pet", "{tmp}/nope.nii.gz", "--lesions", "{case}/lesions.nii.gz"], 3,
         "pet image {tmp}/nope.nii.gz does not exist"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{tmp}/empty.nii.gz"], 3,
         "is empty: no voxel is non-zero"),
        (["--pet", "{case}/pet.nii.gz", "--boxes", "{tmp}/bad.csv"], 3, "missing column(s) size_z"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--out",
          "{tmp}/no/such/p.csv"], 3, "folder {tmp}/no/such does not exist"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--out", "{tmp}"],
         2, "is a folder; give a file name"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--device", "tpu"],
         2, "unknown device 'tpu'"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--model",
          "{tmp}/m.pt"], 3, "checkpoint {tmp}/m.pt does not exist"),
        (["--pet", "{case}/ct.nii.gz", "--lesions", "{case}/pet.nii.gz"], 3, "non-integer values"),
        (["--table", "{case}/../lesions.csv", "--mip", "{tmp}/bad.csv"], 2,
         "is a file; with --table give a folder"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--blood-pool",
          "3", "--liver", "2"], 2, "--blood-pool 3 is not below --liver 2"),
        (["--pet", "{case}/pet.nii.gz", "--lesions", "{case}/lesions.nii.gz", "--liver", "0"], 2,
         "--liver 0: a reference SUV must be a positive number"),
    ],
)  # fmt: skip
def test_errors(case, model, tmp_path, args, code, message):
    nib.save(
        nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), str(tmp_path / "empty.nii.gz")
    )
    (tmp_path / "bad.csv").write_text("center_x,center_y,center_z,size_x,size_y\n1,2,3,4,5\n")
    fill = {"case": str(case), "tmp": str(tmp_path)}
    argv = [a.format(**fill) for a in args]
    if "--model" not in argv:
        argv += ["--model", str(model)]
    before = sorted(p.name for p in tmp_path.iterdir())
    r = (
        run("predict", *argv, "--out", tmp_path / "p.csv")
        if "--out" not in argv
        else run("predict", *argv)
    )
    assert r.exit_code == code, r.output
    assert message.format(**fill) in one_error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind


def test_no_shipped_model(case, tmp_path, monkeypatch):
    from anatloc.retriever import checkpoint  # imported here: the string form needs it loaded

    monkeypatch.setattr(checkpoint, "shipped_model_path", lambda: tmp_path / "default.pt")
    r = run("predict", "--pet", case / "pet.nii.gz", "--lesions", case / "lesions.nii.gz",
            "--out", tmp_path / "p.csv")  # fmt: skip
    assert r.exit_code == 3
    assert "no default model is shipped: train one with 'anatloc train" in one_error_line(r)
    assert "--model" in r.stderr and not (tmp_path / "p.csv").exists()
    r = run("demo", "--out", tmp_path / "demo")
    assert r.exit_code == 3 and "no default model is shipped" in one_error_line(r)
    assert not (tmp_path / "demo").exists()


def demo_model(model: Path) -> Path:
    """The demo uses the shipped model when there is one, else the test's tiny model."""
    return shipped_model_path() if shipped_model_path().is_file() else model


def test_demo_quick(model, tmp_path):
    """The demo end to end on a coarse (8 mm) case: every file, the table, refusals."""
    out = tmp_path / "demo"
    r = run("demo", "--out", out, "--model", demo_model(model), "--spacing", "8", "--lesions", "3")
    assert r.exit_code == 0, r.output
    for name in ("predictions.csv", "mip.png", "report.md", "report.html", "lesions.csv"):
        assert (out / name).is_file() and str(out / name) in r.stdout
    for name in ("ct.nii.gz", "pet.nii.gz", "lesions.nii.gz"):
        assert (out / "case" / name).is_file()
    assert "true location" in r.stdout and "fine locations right" in r.stdout
    rows = list(csv.DictReader(io.StringIO((out / "predictions.csv").read_text())))
    assert len(rows) == 3 and rows[0]["pet"] == "case/pet.nii.gz"
    html = (out / "report.html").read_text()
    assert 'src="data:image/png;base64,' in html and "<link" not in html
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no temporary folder left
    assert (out / "lesions.csv").read_text().count("case/pet.nii.gz") == 3  # a lesion table
    # one lesion, one set of numbers: the phantom's value is named as the phantom's; the
    # sentence, the report's table and the command's table print the same rounded numbers
    truth_cols = next(csv.reader(io.StringIO((out / "lesions.csv").read_text())))
    assert "phantom_suv_max" in truth_cols and "suv_max" not in truth_cols
    md = (out / "report.md").read_text()
    for row in rows:
        size = f"{int(row['long_axis_mm']) / 10:.1f} × {int(row['short_axis_mm']) / 10:.1f}"
        assert f"SUVmax {float(row['suv_max']):.1f}, {size} cm" in row["sentence"]
        assert row["sentence"] in md and f"| {size} |" in md and size in r.stdout
    assert "✓" in r.stdout or "✗" in r.stdout
    assert (
        len(re.findall(r"\| [^|]+ — (right|accepted: |wrong|not counted: )[^|]* [✓✗] \|", md)) == 3
    )
    # a non-empty folder is refused and left alone
    (out / "mine.txt").write_text("keep")
    stamp = (out / "mip.png").stat().st_mtime_ns
    r = run("demo", "--out", out, "--model", demo_model(model), "--spacing", "8")
    assert r.exit_code == 4 and "is not empty; use --force" in one_error_line(r)
    assert (out / "mip.png").stat().st_mtime_ns == stamp
    other = tmp_path / "other"
    (other / "case").mkdir(parents=True)
    r = run("demo", "--out", other, "--model", demo_model(model), "--force")
    assert r.exit_code == 4 and "is not a demo case folder" in one_error_line(r)
    assert sorted(p.name for p in other.iterdir()) == ["case"]
    r = run("demo", "--out", tmp_path / "x", "--model", demo_model(model), "--spacing", "a,b")
    assert r.exit_code == 2 and "--spacing 'a,b'" in one_error_line(r)
    shutil.rmtree(out)


def test_demo_verdict_says_why_an_answer_counts():
    from types import SimpleNamespace

    from anatloc.retriever.demo import verdict

    def p(location, curie, abstained=False):
        return SimpleNamespace(location=location, curie=curie, abstained=abstained)

    names = ["Spinous process of vertebra T8", "Near vertebra T8"]
    curies = ["A:1", "A:2"]
    assert verdict(p(names[0], "A:1"), names, curies) == (f"{names[0]} — right", True)
    assert verdict(p(names[1], "A:2"), names, curies) == (
        "Spinous process of vertebra T8 — accepted: the truth lists Near vertebra T8 as an "
        "alternative",
        True,
    )
    text, ok = verdict(p("Liver S7", "A:3"), names, curies)
    assert not ok and text == f"{names[0]} — wrong (the truth also accepts Near vertebra T8)"
    text, ok = verdict(p("Axial skeleton", "A:9", abstained=True), names, curies)
    assert not ok and "not counted: the fine location is uncertain" in text


@pytest.mark.slow
def test_demo_with_the_defaults(model, tmp_path, monkeypatch):
    """``anatloc demo`` exactly as the README says (the shipped model when there is one)."""
    monkeypatch.chdir(tmp_path)
    args = [] if shipped_model_path().is_file() else ["--model", model]
    r = run("demo", *args)
    assert r.exit_code == 0, r.output
    out = tmp_path / "demo"
    assert sorted(p.name for p in out.iterdir()) == [
        "case", "lesions.csv", "mip.png", "predictions.csv", "report.html", "report.md",
    ]  # fmt: skip
    with Image.open(out / "mip.png") as img:
        assert img.size[1] == 1000
    assert len(list(csv.DictReader(io.StringIO((out / "predictions.csv").read_text())))) == 6
    if not args:  # a floor for the shipped model through the NIfTI path: chance is 6/387
        right = re.search(r"(\d+) of 6 fine locations right", r.stdout)
        assert right and int(right[1]) >= 2, r.stdout
    # --force replaces the demo's files in a non-empty folder and keeps the others
    (out / "mine.txt").write_text("keep")
    r = run("demo", *args, "--spacing", "8", "--lesions", "2", "--force", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["lesions"] == 2 and len(summary["predictions"]) == 2
    assert (out / "mine.txt").read_text() == "keep"
    assert len(list(csv.DictReader(io.StringIO((out / "predictions.csv").read_text())))) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


@pytest.mark.parametrize(
    ("out", "code", "message"),
    [
        ("file.txt", 3, "--out {tmp}/file.txt exists and is not a folder"),
        ("no/such/demo", 3, "cannot write {tmp}/no/such/demo: folder {tmp}/no/such does not exist"),
    ],
)
def test_demo_errors(model, tmp_path, out, code, message):
    (tmp_path / "file.txt").write_text("mine")
    r = run("demo", "--out", tmp_path / out, "--model", model)
    assert r.exit_code == code, r.output
    assert message.format(tmp=tmp_path) in one_error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
    assert (tmp_path / "file.txt").read_text() == "mine"
