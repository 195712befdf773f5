"""``anatloc train`` and ``anatloc evaluate`` through the real entry point (CliRunner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from anatloc.retriever.checkpoint import read_checkpoint

from .conftest import EVALUATE_KEYS

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_train_then_evaluate_end_to_end(synth_table, fake_text_cache, tmp_path):
    out = tmp_path / "model.pt"
    r = run(
        "train",
        "--data",
        synth_table,
        "--preset",
        "cpu-small",
        "--out",
        out,
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--set",
        "fov_prob=0.5",
        "--set",
        "pet_gain_range=0.7,1.4",
        "--json",
    )
    assert r.exit_code == 0, r.output
    data = read_checkpoint(out)["preset"]["data"]
    assert data["fov_prob"] == 0.5 and list(data["pet_gain_range"]) == [0.7, 1.4]
    summary = json.loads(r.stdout)
    assert summary["preset"] == "cpu-small" and summary["epochs"] == 1 and summary["steps"] == 3
    assert summary["size_mb"] < 10 and 1.5e6 < summary["parameters"] < 2.5e6
    assert summary["validation"]["n"] == 3  # one of four cases held out
    assert "validation fine top-1" in r.stderr and "training 2.25 M parameters" in r.stderr
    assert out.exists() and out.with_name("model.last.pt").exists()

    figs = tmp_path / "figs"
    r = run(
        "evaluate",
        "--model",
        out,
        "--data",
        synth_table,
        "--json",
        "--figures",
        figs,
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert set(m) == EVALUATE_KEYS
    assert m["n"] == 12 and 0 <= m["fine_top1"] <= m["fine_top3"] <= 1
    assert set(m["per_region"]) == {"Head", "Abdomen", "Axial skeleton"}
    assert (figs / "confusion_coarse.png").exists() and "ms/lesion" in r.stderr
    r = run("evaluate", "--model", out, "--data", synth_table, "--device", "cpu")
    assert r.exit_code == 0 and "fine_top1" in r.stdout and "per_region" not in r.stdout


def test_train_usage_and_data_errors(synth_table, tmp_path, fake_text_cache):
    r = run("train", "--out", tmp_path / "m.pt")
    assert r.exit_code == 2 and "give --data lesions.csv or --phantom PROFILE" in r.stderr
    r = run("train", "--data", synth_table, "--out", tmp_path / "nope" / "m.pt")
    assert r.exit_code == 3 and "folder" in r.stderr and "does not exist" in r.stderr
    r = run("train", "--data", synth_table, "--out", tmp_path / "m.pt", "--preset", "huge")
    assert r.exit_code == 2 and "unknown preset 'huge'" in r.stderr
    r = run("train", "--data", tmp_path / "missing.csv", "--out", tmp_path / "m.pt")
    assert r.exit_code == 3 and "lesion table" in r.stderr and "does not exist" in r.stderr
    r = run("train", "--data", synth_table, "--out", tmp_path / "m.pt", "--device", "tpu")
    assert r.exit_code == 2 and "unknown device 'tpu'" in r.stderr
    assert "Traceback" not in r.output
    for bad, says in (
        ("fov_probability=1", "expected FIELD=VALUE with FIELD one of"),
        ("fov_prob", "expected FIELD=VALUE"),
        ("phantom_realism=maybe", "'maybe' is not a value of phantom_realism"),
        ("fov_prob=2", "fov_prob is a probability between 0 and 1"),
    ):
        r = run("train", "--data", synth_table, "--out", tmp_path / "m.pt", "--set", bad)
        assert r.exit_code == 2 and says in r.stderr, (bad, r.output)
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.pt").exists()


def test_evaluate_errors(synth_table, tmp_path, tiny_model, monkeypatch):
    from anatloc.retriever import predict

    junk = tmp_path / "junk.pt"
    junk.write_text("x")
    with monkeypatch.context() as m:  # without --model, evaluate takes the shipped model ...
        m.setattr(predict, "shipped_model_path", lambda: tmp_path / "absent.pt")
        r = run("evaluate", "--data", synth_table)
        assert r.exit_code == 3 and "no default model is shipped yet" in r.stderr
        m.setattr(predict, "shipped_model_path", lambda: junk)  # ... whichever that is
        r = run("evaluate", "--data", synth_table)
        assert r.exit_code == 3 and "not an anatloc checkpoint" in r.stderr
    r = run("evaluate", "--model", junk, "--data", synth_table)
    assert r.exit_code == 3 and "not an anatloc checkpoint" in r.stderr
    edited = tmp_path / "my.ttl"
    assert run("ontology", "init", edited).exit_code == 0
    assert (
        run("--ontology", edited, "ontology", "add", "Liver S9", "--parent", "Liver").exit_code == 0
    )
    r = run("--ontology", edited, "evaluate", "--model", tiny_model, "--data", synth_table)
    assert r.exit_code == 4 and "1 added" in r.stderr and "Liver S9" in r.stderr


def test_help_does_not_import_torch():
    code = (
        "import sys; from anatloc.cli.main import app; "
        "assert 'torch' not in sys.modules and 'nibabel' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_two_process_ddp_with_gloo(synth_table, fake_text_cache, tmp_path):
    """torchrun, 2 CPU processes, gloo: a few steps of the real command."""
    out = tmp_path / "ddp.pt"
    env = dict(os.environ, ANATLOC_CACHE_DIR=str(fake_text_cache), OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "anatloc.cli.main",
        "train",
        "--data",
        str(synth_table),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--json",
    ]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads(p.stdout)  # printed once, by rank 0
    assert summary["steps"] == 2 * 3  # ceil(9 lesions / (2 ranks × 2)) per epoch
    from anatloc.retriever.checkpoint import read_checkpoint

    ck = read_checkpoint(out)
    assert ck["training"]["world_size"] == 2 and ck["metrics"]["best"]["val"]["n"] == 3


def _rank_pids(parent: int) -> dict[int, int]:
    """{RANK: pid} of torchrun's worker processes (the children of ``parent``, from /proc)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (proc / "environ").read_bytes().split(b"\0") if ppid == parent else []
        except (OSError, ValueError, IndexError):
            continue
        for var in env:
            if var.startswith(b"RANK="):
                found[int(var[5:])] = int(proc.name)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_ddp_ctrl_c_on_one_rank_stops_every_rank_at_the_same_step(
    synth_table, fake_text_cache, tmp_path
):
    """A signal that reaches rank 1 only (rank 0 writes the checkpoints) stops both ranks
    together after a checkpoint; before, rank 0 waited in the next all-reduce."""
    import signal
    import time

    out = tmp_path / "ddp.pt"
    env = dict(os.environ, ANATLOC_CACHE_DIR=str(fake_text_cache), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "anatloc.cli.main", "train", "--data", str(synth_table), "--out", str(out),
           "--epochs", "1000", "--patience", "0", "--batch-size", "2", "--device", "cpu"]  # fmt: skip
    with subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) as proc:
        lines = []
        deadline = time.monotonic() + 240
        for line in proc.stderr:  # rank 0 reports; wait until it trains
            lines.append(line)
            if line.startswith("training "):
                break
            assert time.monotonic() < deadline, "".join(lines)
        time.sleep(2.0)
        ranks = _rank_pids(proc.pid)
        assert set(ranks) == {0, 1}, (ranks, "".join(lines))
        os.kill(ranks[1], signal.SIGINT)
        stderr = "".join(lines) + proc.communicate(timeout=120)[1]
    last = out.with_name("ddp.last.pt")
    assert (
        f"error: interrupted: a usable checkpoint is in {last} (resume with --resume {last})"
        in stderr.splitlines()
    ), stderr[-3000:]
    from anatloc.retriever.checkpoint import read_checkpoint

    ck = read_checkpoint(last)
    assert ck["training"]["stopped"] == "interrupted" and ck["training"]["world_size"] == 2


def test_progress_announces_a_stop_request_on_the_descriptor(tmp_path):
    """The notice is written from the signal handler straight to the file descriptor (the
    stream's buffer may be mid-write), starts below a progress bar on screen, and says how
    to quit at once."""
    from rich.console import Console

    from anatloc.cli.common import Counts
    from anatloc.cli.retriever_cmd import TrainProgress

    path = tmp_path / "err.txt"
    with open(path, "w") as stream:
        show = TrainProgress(Counts(Console(file=stream)))
        show.counts.on_screen = True  # as if a bar were on screen
        show.stopping("SIGINT")
        show.counts.on_screen = False
        show.stopping("SIGTERM")
    text = path.read_text()
    assert text == (
        "\nSIGINT: stopping after the current step and writing a checkpoint "
        "(Ctrl-C again quits at once, without one)\n"
        "SIGTERM: stopping after the current step and writing a checkpoint "
        "(a second SIGTERM quits at once, without one)\n"
    )
    # no descriptor (a StringIO): nothing, and no error from inside a signal handler
    import io

    TrainProgress(Counts(Console(file=io.StringIO()))).stopping("SIGINT")


def test_train_on_one_case_trains_without_validation_and_says_so(tmp_path, fake_text_cache):
    from .synth import make_table

    (tmp_path / "one").mkdir()
    table = make_table(tmp_path / "one", n_cases=1)
    out = tmp_path / "model.pt"
    # two epochs: the second one's progress once looked for the first one's validation
    args = ["train", "--data", table, "--out", out, "--epochs", "2", "--batch-size", "4"]
    r = run(*args, "--seed", "1", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "no validation" in r.stderr and "--val-data" in r.stderr
    assert "no validation data" in r.stdout and out.exists()
    r = run(*args, "--seed", "1", "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["validation"] == {}


def test_resume_default_starts_from_the_shipped_model_from_any_folder(
    synth_table, tiny_model, fake_text_cache, tmp_path, monkeypatch
):
    import anatloc.retriever.checkpoint as checkpoint_mod

    monkeypatch.setattr(checkpoint_mod, "shipped_model_path", lambda: tiny_model)
    monkeypatch.chdir(tmp_path)  # outside the repository: no retriever/models/ here
    r = run(
        "train", "--data", synth_table, "--resume", "default", "--out", "mine.pt",
        "--epochs", "1", "--batch-size", "6", "--device", "cpu", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"resumed from {tiny_model} at epoch 0 (weights only)" in r.stderr
    assert read_checkpoint(tmp_path / "mine.pt")["preset"]["data"]["local"]["size"] == 16
    missing = tmp_path / "none.pt"
    monkeypatch.setattr(checkpoint_mod, "shipped_model_path", lambda: missing)
    r = run("train", "--data", synth_table, "--resume", "default", "--out", "m2.pt")
    assert r.exit_code == 3 and "no default model is shipped" in r.stderr


def test_set_applies_over_a_resumed_checkpoint(
    synth_table, tiny_model, fake_text_cache, tmp_path, monkeypatch
):
    """``--set`` on ``--resume`` changes the resumed run (it was once silently dropped: the
    checkpoint's data and training settings replaced it); a field that would change the
    network is refused, in one line."""
    monkeypatch.chdir(tmp_path)
    args = ["train", "--data", synth_table, "--resume", str(tiny_model), "--epochs", "1"]
    args += ["--batch-size", "6", "--device", "cpu", "--json"]
    r = run(*args, "--out", "m.pt", "--set", "fov_prob=0.3", "--set", "label_smoothing=0.05")
    assert r.exit_code == 0, r.output
    preset = read_checkpoint(tmp_path / "m.pt")["preset"]
    assert preset["data"]["fov_prob"] == 0.3 and preset["train"]["label_smoothing"] == 0.05
    assert preset["data"]["local"]["size"] == 16  # the rest is the checkpoint's
    r = run(*args, "--out", "m2.pt", "--set", "embed_dim=24")
    assert r.exit_code == 2 and "cannot resume" in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_progress_says_why_the_text_bank_is_embedded():
    import io

    from rich.console import Console

    from anatloc.cli.common import Counts
    from anatloc.cli.retriever_cmd import TrainProgress

    log = io.StringIO()
    show = TrainProgress(Counts(Console(file=log), every=0.0))
    for done in (0, 128, 300):
        show({"event": "text", "done": done, "total": 300})
    lines = log.getvalue().splitlines()
    assert "the edited ontology" in lines[0] and "300 texts" in lines[0]
    assert lines[-1] == "text bank: 300/300 texts"


def test_progress_is_lines_in_a_log_and_a_rich_bar_on_a_terminal():
    """In a log each step is a line (at most every few seconds, and the last of an epoch);
    on a terminal the steps are a rich bar, gone when the epoch ends, below the lasting
    lines: no home-made rewritten line."""
    import io

    from rich.console import Console

    from anatloc.cli.common import Counts
    from anatloc.cli.retriever_cmd import TrainProgress

    start = {"event": "start", "parameters": 2.25e6, "device": "cpu", "world_size": 1,
             "epochs": 1, "steps_per_epoch": 2, "negatives": "walker"}  # fmt: skip
    steps = [
        {"event": "step", "epoch": 0, "epochs": 1, "step": k, "steps": 2, "loss": 1.0,
         "acc_fine": 0.5, "acc_coarse": 0.75, "lr": 1e-3, "seconds": 30.0, "val": {}}
        for k in (1, 2)
    ]  # fmt: skip
    val = {"n": 8, "fine_top1": 0.5, "fine_top3": 0.75, "coarse_top1": 1.0}
    epoch = {"event": "epoch", "epoch": 1, "epochs": 1, "val": val, "improved": True}
    log = io.StringIO()
    show = TrainProgress(Counts(Console(file=log), every=0.0))
    for ev in (start, *steps, epoch):
        show(ev)
    assert log.getvalue().splitlines() == [
        "training 2.25 M parameters on cpu, 1 epochs of 2 steps, negatives from the walker",
        "epoch 1/1 step 1/2 loss 1.000 acc fine 0.50 coarse 0.75 | lr 1.00e-03 | 0.5 min",
        "epoch 1/1 step 2/2 loss 1.000 acc fine 0.50 coarse 0.75 | lr 1.00e-03 | 0.5 min",
        "epoch 1/1: validation fine top-1 0.500, top-3 0.750, coarse top-1 1.000 on 8 lesions "
        "(best so far, saved)",
    ]
    screen = io.StringIO()
    show = TrainProgress(Counts(Console(file=screen, force_terminal=True, width=150)))
    show(start)
    show(steps[0])
    assert show.counts.on_screen  # the bar of epoch 1
    show(steps[1])
    assert not show.counts.on_screen  # the epoch ended: its bar is gone
    show(epoch)
    show.cache("preparing training lesions", 3, 12)
    assert show.counts.on_screen
    show.close()
    assert not show.counts.on_screen
    text = screen.getvalue()
    assert "training 2.25 M parameters" in text and "epoch 1/1: validation" in text
    assert "\r" + "epoch 1/1 step" not in text
