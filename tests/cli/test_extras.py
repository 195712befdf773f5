"""The ontology toolkit runs without the retriever extras; a command that needs them says so.

``pip install anatloc`` brings the ontology, kgtools, SPARQL and the CLI; torch and the other
image libraries come with ``anatloc[retriever]``.  A second virtual environment without them
would cost minutes, so the missing modules are simulated: a ``None`` entry in
``sys.modules`` makes ``import torch`` fail exactly as it does where torch is not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from typer.testing import CliRunner

from anatloc.cli.main import RETRIEVER_MODULES, app

runner = CliRunner()


def _without(monkeypatch, *modules: str) -> None:
    """Make ``modules`` unimportable and forget anatloc's modules that hold them.  The
    ``anatloc`` package's attributes for them are restored afterwards too: a re-import binds
    them to new, partial modules, and later tests that reach a module through its parent
    (``monkeypatch.setattr("anatloc.retriever.checkpoint.…")``) would find those."""
    import anatloc

    for sub in ("retriever", "phantom"):
        if hasattr(anatloc, sub):
            monkeypatch.setattr(anatloc, sub, getattr(anatloc, sub))
    for name in list(sys.modules):
        top = name.partition(".")[0]
        if top in modules or name.startswith(("anatloc.retriever", "anatloc.phantom")):
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def test_a_command_that_needs_the_retriever_extras_says_so(monkeypatch, tmp_path):
    missing = "torch"
    _without(monkeypatch, missing)
    r = runner.invoke(app, ["train", "--phantom", "internal", "--out", str(tmp_path / "m.pt")])
    assert r.exit_code == 5, r.output
    assert r.stderr == (
        f"error: anatloc train needs the retriever extras ({missing} is not installed): "
        "pip install 'anatloc[retriever]'\n"
    )
    assert not (tmp_path / "m.pt").exists()


def test_a_command_in_a_group_names_its_whole_path(monkeypatch, tmp_path):
    _without(monkeypatch, "torch")
    r = runner.invoke(app, ["baseline", "segmentation", "--data", str(tmp_path / "l.csv")])
    assert r.exit_code == 5, r.output
    assert r.stderr.startswith("error: anatloc baseline segmentation needs the retriever extras")


def test_other_missing_modules_stay_internal_errors(monkeypatch):
    # a module outside the extras missing is a bug of the install, not a missing extra
    _without(monkeypatch, "networkx")
    r = runner.invoke(app, ["graph", "negatives", "Liver S7", "--k", "2"])
    assert r.exit_code == 70 and "retriever extras" not in r.stderr, r.output


ONTOLOGY_ONLY = textwrap.dedent(
    """
    import sys
    from typer.testing import CliRunner
    import anatloc.ontology, anatloc.kgtools
    from anatloc.cli.main import app

    runner = CliRunner()
    for args in (
        ["ontology", "stats", "--json"],
        ["ontology", "validate", "--fail-on", "error"],
        ["ontology", "export", "--format", "owl", "--out", sys.argv[1]],
        ["sparql", "children-of", "--param", "location=Liver"],
        ["graph", "negatives", "Liver S7", "--k", "4"],
        ["graph", "path", "Liver S7", "Liver S8"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
    heavy = sorted(m for m in {RETRIEVER} if m in sys.modules)
    print(" ".join(heavy) or "none")
    """
)


def test_the_ontology_commands_import_no_torch(tmp_path):
    # nibabel (a base dependency: the atlas's affine maps) imports pydicom and pylibjpeg when
    # they happen to be installed; where only `pip install anatloc` was done they are not
    transitive = {"pydicom", "pylibjpeg", "openjpeg"}
    code = ONTOLOGY_ONLY.replace("{RETRIEVER}", repr(set(RETRIEVER_MODULES) - transitive))
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "o.owl")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "none"
