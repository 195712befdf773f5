"""CliRunner tests of ``anatloc phantom``: generate, coverage, show, profiles and refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from tests.phantom.toy import toy_ontology

runner = CliRunner()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "toy.ttl"
    toy_ontology().save(path)
    return str(path)


def run(*args):
    return runner.invoke(app, list(args))


def test_generate_show_and_refuse_overwrite(toy, tmp_path):
    out = tmp_path / "ph"
    r = run(
        "-O",
        toy,
        "phantom",
        "generate",
        "--out",
        str(out),
        "--cases",
        "2",
        "--seed",
        "0",
        "--spacing",
        "8",
        "-k",
        "2",
        "--workers",
        "2",
        "--json",
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["cases"] == 2 and d["lesions"] == 4
    assert (out / "lesions.csv").is_file() and (out / "internal-0-0000" / "ct.nii.gz").is_file()
    r = run("phantom", "show", str(out / "internal-0-0000"), "--out", str(tmp_path / "mip.png"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "mip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run("-O", toy, "phantom", "generate", "--out", str(out), "--cases", "1", "--spacing", "8")
    assert r.exit_code == 4 and r.stderr.startswith("error: ") and "--force" in r.stderr
    r = run(
        "-O",
        toy,
        "phantom",
        "generate",
        "--out",
        str(out),
        "--cases",
        "1",
        "--spacing",
        "8",
        "--force",
    )
    assert r.exit_code == 0, r.output and "wrote 1 case" in r.stdout


def test_coverage_json(toy):
    r = run("-O", toy, "phantom", "coverage", "--json", "--spacing", "6")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["locations"] == 28 and d["correct"] == 28 and d["failed"] == []


def test_coverage_failure_exits_1(toy):
    r = run("-O", toy, "phantom", "coverage", "--spacing", "40")
    assert r.exit_code == 1 and "failed" in r.stdout


def test_profiles():
    r = run("phantom", "profiles", "--json")
    assert r.exit_code == 0 and set(json.loads(r.stdout)) == {"internal", "external", "severe"}
    assert run("phantom", "profiles").exit_code == 0


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["phantom", "generate", "--out", "x", "--profile", "nope"], 2, "unknown profile 'nope'"),
        (["phantom", "generate", "--out", "x", "--spacing", "a,b"], 2, "--spacing"),
        (
            ["phantom", "coverage", "--profile", "big"],
            2,
            "expected one of internal, external, severe",
        ),
        (["phantom", "show", "no/such/case"], 3, "is not a folder"),
    ],
)
def test_errors_are_one_line(args, code, text):
    r = run(*args)
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: ") and text in r.stderr and r.stderr.count("\n") == 1


def test_show_of_a_folder_without_pet(tmp_path):
    r = run("phantom", "show", str(tmp_path))
    assert r.exit_code == 3 and "pet.nii.gz does not exist" in r.stderr


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from anatloc.cli.main import app; from anatloc.cli import phantom_cmd; "
        "print(any(m in sys.modules for m in ('torch', 'nibabel', 'monai', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
