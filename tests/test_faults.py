"""Faults (issue 9): two processes editing one ontology file, a process killed in the middle of
a save, Ctrl-C during training, and ``--help`` of every command.  The processes are real
subprocesses: a lock or an atomic rename is only tested by a second process or a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from anatloc.ontology import load_ontology
from anatloc.ontology.errors import EXIT_INTERRUPTED, LockedError
from anatloc.ontology.fileio import file_lock
from tests.retriever.conftest import (  # noqa: F401  (fixtures used here)
    _fake_cache,
    fake_text_cache,
    synth_table,
)

CLI = [sys.executable, "-c", "from anatloc.cli.main import main; main()"]
ROOT = Path(__file__).resolve().parents[1]


def python(code: str, *args, **kw) -> subprocess.Popen:
    """A Python subprocess running ``code`` (``sys.argv[1:]`` are ``args``)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *[str(a) for a in args]],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the subprocess ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "the subprocess never got ready"
        time.sleep(0.02)


@pytest.fixture
def tiny_file(tiny, tmp_path) -> Path:
    """The tests' 10-term ontology saved as the user's file."""
    p = tmp_path / "my.ttl"
    tiny.save(p)
    return p


# -- two processes editing one file ------------------------------------------------------------

HOLD_AND_EDIT = """
    import sys, time
    from pathlib import Path
    from anatloc.ontology import load_ontology
    from anatloc.ontology.fileio import file_lock

    path, ready = Path(sys.argv[1]), Path(sys.argv[2])
    with file_lock(path):  # what every edit command does (cli.common.edit_session)
        ont = load_ontology(path)
        ready.touch()
        time.sleep(2.0)  # a slow edit: the other process comes in meanwhile
        ont.add("Liver S3", "Liver", definition="First process.")
        ont.save(path)
"""


def test_fault_two_processes_edit_one_file_no_lost_update(tiny_file, tmp_path):
    ready = tmp_path / "ready"
    with python(HOLD_AND_EDIT, tiny_file, ready) as first:
        wait_for(ready, first)
        _edit_meanwhile(tiny_file, first)
    labels = {t.label for t in load_ontology(tiny_file).terms()}
    assert {"Liver S3", "Liver S4"} <= labels  # neither update is lost


def _edit_meanwhile(tiny_file: Path, first: subprocess.Popen) -> None:
    # a third party that does not wait is told clearly who holds the file
    locked = pytest.raises(LockedError, match=f"{tiny_file} is being edited by another process")
    with locked, file_lock(tiny_file, timeout=0.1):
        pass
    # the CLI edit waits for the lock, then loads the first process's edit and adds its own
    second = subprocess.run(
        [*CLI, "ontology", "add", "Liver S4", "--parent", "Liver", "--ontology", tiny_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.wait(timeout=60) == 0, first.communicate()
    assert second.returncode == 0, second.stderr


# -- a kill in the middle of a save ------------------------------------------------------------

SLOW_SAVE = """
    import os, sys, time
    from pathlib import Path
    from anatloc.ontology import load_ontology
    from anatloc.ontology import fileio

    path, ready = Path(sys.argv[1]), Path(sys.argv[2])
    ont = load_ontology(path)
    ont.add("Liver S3", "Liver", definition="Never saved.")
    real_fsync = os.fsync

    def slow_fsync(fd):  # the new bytes are half on disk when the kill comes
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        ready.touch()
        time.sleep(60)
        real_fsync(fd)

    fileio.os.fsync = slow_fsync
    ont.save(path)
"""

SAVE_LOOP = """
    import sys
    from pathlib import Path
    from anatloc.ontology import load_ontology

    path, ready = Path(sys.argv[1]), Path(sys.argv[2])
    ont = load_ontology(path)
    n = 0
    while True:  # alternate two versions as fast as possible until killed
        n += 1
        ont.set_definition("Liver S1", "Version %d." % (n % 2))
        ont.save(path)
        ready.touch()
"""


def test_fault_sigkill_during_save_leaves_the_old_file(tiny_file, tmp_path):
    old = tiny_file.read_bytes()
    ready = tmp_path / "ready"
    with python(SLOW_SAVE, tiny_file, ready) as proc:
        wait_for(ready, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert tiny_file.read_bytes() == old  # the half-written temporary file was never renamed
    assert "Liver S3" not in {t.label for t in load_ontology(tiny_file).terms()}


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_fault_sigkill_during_repeated_saves_leaves_a_whole_file(tiny_file, tmp_path, delay):
    ready = tmp_path / "ready"
    n = len(load_ontology(tiny_file).terms())
    with python(SAVE_LOOP, tiny_file, ready) as proc:
        wait_for(ready, proc)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    ont = load_ontology(tiny_file)  # whole: it parses, and holds one of the two versions
    assert ont.get("Liver S1").definition in ("Version 0.", "Version 1.")
    assert len(ont.terms()) == n


# -- Ctrl-C during training --------------------------------------------------------------------


def test_fault_ctrl_c_during_training_leaves_a_usable_checkpoint(
    synth_table,  # noqa: F811
    fake_text_cache,  # noqa: F811
    tmp_path,
):
    from anatloc.retriever.checkpoint import read_checkpoint

    out = tmp_path / "model.pt"
    cmd = [*CLI, "train", "--data", synth_table, "--preset", "cpu-small", "--out", out,
           "--epochs", "1000", "--patience", "0", "--batch-size", "4", "--seed", "1",
           "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with subprocess.Popen(
        [str(c) for c in cmd], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    ) as proc:
        lines = []
        deadline = time.monotonic() + 120
        for line in proc.stderr:  # wait until it trains (then a few steps more)
            lines.append(line)
            if line.startswith("training "):
                break
            assert time.monotonic() < deadline, "".join(lines)
        assert proc.poll() is None, "".join(lines)
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        stderr = "".join(lines) + proc.communicate(timeout=120)[1]
    assert proc.returncode == EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    last = out.with_name("model.last.pt")
    assert errors == [
        f"error: interrupted: a usable checkpoint is in {last} (resume with --resume {last})"
    ], stderr
    # said at once, before the step ended and the checkpoint was written
    assert "SIGINT: stopping after the current step and writing a checkpoint" in stderr
    ck = read_checkpoint(last)  # usable: it reads, and holds what a resume needs
    assert {"optimizer", "scheduler", "state"} <= set(ck["resume"]) and ck["state_dict"]
    assert ck["training"]["stopped"] == "interrupted"
    assert out.exists()  # written at the first improvement, or else when interrupted


# -- --help of every command -------------------------------------------------------------------


def _command_paths() -> list[list[str]]:
    import typer

    paths = []

    def walk(cmd, path):
        paths.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "anatloc")
def test_fault_free_help_of_every_command(path):
    r = CliRunner().invoke(app, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Usage: ") and r.stderr == ""
