"""CliRunner tests of every ontology and sparql command, including their refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from anatloc.ontology import load_ontology, shipped_path

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, list(args), env=env)


def test_stats_json_counts():
    r = run("ontology", "stats", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert (d["regions"], d["coarse"], d["fine"]) == (8, 124, 387) and d["hash"].startswith(
        "sha256:"
    )


def test_validate_passes_on_the_shipped_ontology():
    r = run("ontology", "validate", "--fail-on", "error", "--json")
    assert r.exit_code == 0, r.stdout[-2000:]
    assert json.loads(r.stdout)["ok"] is True


def test_validate_fail_on_warn_exits_1(tmp_path):
    p = tmp_path / "m.ttl"
    assert run("ontology", "init", str(p)).exit_code == 0
    assert (
        run("--ontology", str(p), "ontology", "add", "Liver S9", "--parent", "Liver").exit_code == 0
    )
    r = run("--ontology", str(p), "ontology", "validate", "--fail-on", "warn", "--no-atlas")
    assert r.exit_code == 1 and "missing-definition" in r.stdout


def test_validate_list_documents_checks():
    r = run("ontology", "validate", "--list", "--json")
    assert r.exit_code == 0
    docs = json.loads(r.stdout)
    assert {"check", "problem", "fix"} <= set(docs[0])
    for d in docs:  # plain words: no reST markup left from the docstrings
        assert "``" not in d["problem"] + d["fix"], d
    level = {d["check"]: d["level"] for d in docs}
    # the level listed is the one the check reports at (docs/atlas.md says the same)
    assert level["atlas-neighbour"] == "WARN" and level["atlas-nonempty"] == "ERROR"


def test_show_tree_and_describe():
    r = run("ontology", "show", "Liver S7", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["parent"]["label"] == "Liver"
    r = run("ontology", "tree", "Liver", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["children"]) == 10
    assert run("ontology", "tree", "--depth", "1").exit_code == 0
    r = run("ontology", "describe", "Liver S7", "--json")
    d = json.loads(r.stdout)
    assert (
        r.exit_code == 0
        and len(d["paraphrases"]) >= 4
        and d["generator"].startswith("anatloc-describe/")
    )


def test_init_add_stats_and_the_full_edit_cycle(tmp_path):
    p = tmp_path / "my.ttl"
    assert run("ontology", "init", str(p)).exit_code == 0
    env = {"ANATLOC_ONTOLOGY": str(p)}
    r = run(
        "ontology",
        "add",
        "Liver S9",
        "--parent",
        "Liver",
        "--definition",
        "A test segment.",
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert json.loads(run("ontology", "stats", "--json", env=env).stdout)["fine"] == 388
    assert run("ontology", "rename", "Liver S9", "Liver S9 test", env=env).exit_code == 0
    assert (
        run(
            "ontology",
            "add-synonym",
            "Liver S9 test",
            "ninth liver segment",
            "--preferred",
            env=env,
        ).exit_code
        == 0
    )
    assert run("ontology", "set-definition", "Liver S9 test", "Changed.", env=env).exit_code == 0
    assert (
        run(
            "ontology", "move", "Liver S9 test", "--parent", "Spleen", "--level", "fine", env=env
        ).exit_code
        == 0
    )
    t = load_ontology(p).get("ninth liver segment")
    assert (
        t.label == "Liver S9 test"
        and t.definition == "Changed."
        and load_ontology(p).parent(t).label == "Spleen"
    )
    assert run("ontology", "remove", "Liver S9 test", env=env).exit_code == 0
    assert json.loads(run("ontology", "stats", "--json", env=env).stdout)["fine"] == 387


def test_shipped_ontology_is_read_only():
    before = shipped_path().read_bytes()
    r = run("ontology", "add", "X", "--parent", "Liver")
    assert r.exit_code == 4 and "read-only" in r.stderr and "\n" not in r.stderr.strip()
    assert shipped_path().read_bytes() == before


@pytest.mark.parametrize(
    "args, code, text",
    [
        (("ontology", "show", "Livr S7"), 2, "did you mean 'Liver S7'"),
        (("ontology", "add", "Liver S2", "--parent", "Liver"), 4, "unique-label"),
        (("ontology", "remove", "Liver"), 4, "--subtree"),
        (("ontology", "move", "Liver S1", "--parent", "Head"), 4, "one-parent"),
        (
            ("ontology", "add", "Left thing", "--parent", "Liver", "--laterality", "right"),
            4,
            "laterality-label",
        ),
    ],
)
def test_refused_edits_leave_the_file_byte_identical(tmp_path, args, code, text):
    p = tmp_path / "my.ttl"
    run("ontology", "init", str(p))
    before = p.read_bytes()
    r = run("--ontology", str(p), *args)
    assert r.exit_code == code, r.output
    assert text in r.stderr and r.stderr.startswith("error: ")
    assert p.read_bytes() == before


def test_init_refuses_to_overwrite(tmp_path):
    p = tmp_path / "my.ttl"
    p.write_text("mine")
    r = run("ontology", "init", str(p))
    assert r.exit_code == 4 and p.read_text() == "mine"


@pytest.mark.parametrize(
    "fmt, suffix",
    [("ttl", "ttl"), ("owl", "owl"), ("jsonld", "jsonld"), ("tsv", "tsv"), ("nt", "nt")],
)
def test_export_then_import_round_trips(tmp_path, fmt, suffix):
    out = tmp_path / f"a.{suffix}"
    assert run("ontology", "export", "--format", fmt, "--out", str(out)).exit_code == 0
    back = tmp_path / "b.ttl"
    r = run("ontology", "import", str(out), "--out", str(back))
    assert r.exit_code == 0, r.output
    assert back.read_bytes() == shipped_path().read_bytes()


def test_tsv_export_import_export_identical(tmp_path):
    a, b, c = tmp_path / "a.tsv", tmp_path / "b.ttl", tmp_path / "c.tsv"
    run("ontology", "export", "--format", "tsv", "--out", str(a))
    run("ontology", "import", str(a), "--out", str(b))
    run("--ontology", str(b), "ontology", "export", "--format", "tsv", "--out", str(c))
    assert a.read_bytes() == c.read_bytes()


def test_import_the_location_list(tmp_path):
    src = tmp_path / "locations.tsv"
    src.write_text("region\tcoarse\tlocation\nHead\tBrain\tBrain\nHead\tSkull\tSkull\n")
    out = tmp_path / "new.ttl"
    assert run("ontology", "import", str(src), "--out", str(out)).exit_code == 0
    assert len(load_ontology(out)) == 5


def test_unknown_export_format_is_a_usage_error(tmp_path):
    r = run("ontology", "export", "--format", "docx", "--out", str(tmp_path / "a.docx"))
    assert r.exit_code == 2 and "unknown ontology format 'docx'" in r.stderr
    assert not (tmp_path / "a.docx").exists()


def test_malformed_turtle_is_one_line_with_position(tmp_path):
    p = tmp_path / "bad.ttl"
    p.write_text("@prefix a: <http://x/> .\na:b a:c .\n")
    r = run("--ontology", str(p), "ontology", "stats")
    assert r.exit_code == 3 and "line 2" in r.stderr and r.stderr.count("\n") == 1


def test_sparql_children_of_liver_json():
    r = run("sparql", "children-of", "--param", "location=Liver", "--format", "json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["rows"]) == 10


def test_sparql_list_csv_and_table():
    assert "children-of" in run("sparql", "--list").stdout
    r = run("sparql", "SELECT ?l WHERE { ?t rdfs:label ?l } ORDER BY ?l LIMIT 2", "--format", "csv")
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "l"
    assert run("sparql", "ancestors-of", "-p", "term=Liver S7").exit_code == 0


def test_sparql_update_refused_then_allowed(tmp_path):
    p = tmp_path / "my.ttl"
    run("ontology", "init", str(p))
    before = p.read_bytes()
    env = {"ANATLOC_ONTOLOGY": str(p)}
    r = run("sparql", "DELETE WHERE { ?s ?p ?o }", env=env)
    assert r.exit_code == 4 and "--allow-update" in r.stderr and p.read_bytes() == before
    q = 'DELETE { ?t oboInOwl:hasRelatedSynonym ?s } WHERE { ?t rdfs:label "Liver S7" ; oboInOwl:hasRelatedSynonym ?s }'
    r = run("sparql", q, "--allow-update", env=env)
    assert r.exit_code == 0, r.output
    assert load_ontology(p).get("Liver S7").related_synonyms == ()


def test_sparql_errors(tmp_path):
    r = run("sparql", "SELECT ?x WHERE { ?x ?y }")
    assert r.exit_code == 2 and r.stderr.startswith("error: SPARQL syntax error")
    r = run("sparql", "no-such-query")
    assert r.exit_code == 2 and "unknown named query" in r.stderr
    r = run("sparql", "children-of", "--param", "location")
    assert r.exit_code == 2
    r = run(
        "sparql",
        "SELECT * WHERE { ?s ?p ?o }",
        "--endpoint",
        "http://127.0.0.1:9/query",
        "--timeout",
        "1",
    )
    assert r.exit_code == 5 and "http://127.0.0.1:9/query" in r.stderr


def test_every_command_has_help():
    import typer.main

    from anatloc.cli.main import app as root

    cmd = typer.main.get_command(root)

    def walk(c, path):
        yield path
        for name, sub in getattr(c, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path in walk(cmd, []):
        r = run(*path, "--help")
        assert r.exit_code == 0 and "Usage" in r.stdout, path


def test_unknown_option_is_a_usage_error():
    r = run("ontology", "stats", "--frobnicate")
    assert r.exit_code == 2


def test_console_script_help_is_fast_and_imports_no_torch():
    code = "import sys, anatloc.cli.main as m; assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}
    )
    assert out.stdout.strip() == "ok", out.stderr
