"""``anatloc train`` and ``anatloc evaluate``: the retriever's commands.

Thin: they parse, call ``anatloc.retriever`` and print.  torch, monai, nibabel and
sentence-transformers are imported inside the commands, so ``anatloc --help`` stays fast.
The training sources are built by the library (``anatloc.retriever.sources``), so the
command and a Python caller train on the same thing; progress is shown the way of every
command (:class:`~anatloc.cli.common.Counts`: a bar on a terminal, lines in logs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import (
    TEXT_BANK_WHY,
    AbstainOpt,
    AllowOntologyChangeOpt,
    BatchSizeOpt,
    Counts,
    DeviceOpt,
    JsonOpt,
    OntologyOpt,
    PrecisionOpt,
    TopKOpt,
    check_writable,
    load,
    load_localizer,
    print_json,
    print_metrics,
    print_table,
)


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


class TrainProgress:
    """Training's progress events (``progress(dict)`` of the library) on stderr: a bar for
    the steps of each epoch, the text bank and the lesions being prepared on a terminal, a
    line every few seconds in logs; one lasting line per epoch, at the start and on resume.
    """

    def __init__(self, counts: Counts | None = None) -> None:
        self.counts = counts if counts is not None else Counts()

    def stopping(self, name: str) -> None:
        """Say at once that a signal was heard.  Runs inside the signal handler, which may
        have interrupted a write to this very stream: so it writes to the file descriptor,
        not through the stream's buffer (below a bar on screen, not across it)."""
        again = "Ctrl-C again" if name == "SIGINT" else f"a second {name}"
        msg = (
            ("\n" if self.counts.on_screen else "")
            + f"{name}: stopping after the current step and writing a checkpoint "
            f"({again} quits at once, without one)\n"
        )
        try:
            os.write(self.counts.console.file.fileno(), msg.encode())
        except (AttributeError, OSError, ValueError):  # no descriptor (a StringIO): stay quiet
            return

    def cache(self, what: str, done: int, total: int) -> None:
        """The lesions being prepared (``build_sources``' progress)."""
        self.counts.count(what, done, total, log=f"{what}: {done}/{total} lesions")

    def close(self) -> None:
        self.counts.close()

    def __call__(self, ev: dict[str, Any]) -> None:
        kind, c = ev.get("event"), self.counts
        if kind == "start":
            c.line(
                f"training {ev['parameters'] / 1e6:.2f} M parameters on {ev['device']}"
                + (f" × {ev['world_size']}" if ev["world_size"] > 1 else "")
                + f", {ev['epochs']} epochs of {ev['steps_per_epoch']} steps, "
                f"negatives from the {ev['negatives']}"
            )
        elif kind == "resumed":
            how = "optimizer and schedule restored" if ev["full"] else "weights only"
            c.line(f"resumed from {ev['path']} at epoch {ev['epoch']} ({how})")
        elif kind == "step":
            self._step(ev)
        elif kind == "epoch":
            c.line(self._epoch_line(ev))
        elif kind == "text":
            if ev["done"] == 0:
                c.line(f"{TEXT_BANK_WHY}: {ev['total']} texts")
                if not c.tty:
                    return
            c.count(
                "text bank",
                ev["done"],
                ev["total"],
                log=f"text bank: {ev['done']}/{ev['total']} texts",
            )
        elif kind == "cache":
            self.cache(ev["what"], ev["done"], ev["total"])

    def _step(self, ev: dict[str, Any]) -> None:
        val = ev.get("val") or {}
        v = (
            f" | val fine {val['fine_top1']:.3f} coarse {val['coarse_top1']:.3f}"
            if "fine_top1" in val
            else ""
        )
        note = (
            f"loss {ev['loss']:.3f} acc fine {ev['acc_fine']:.2f} coarse {ev['acc_coarse']:.2f}"
            f"{v} | lr {ev['lr']:.2e}"
        )
        epoch = f"epoch {ev['epoch'] + 1}/{ev['epochs']}"
        self.counts.count(
            epoch,
            ev["step"],
            ev["steps"],
            note=note,
            log=f"{epoch} step {ev['step']}/{ev['steps']} {note} | {ev['seconds'] / 60:.1f} min",
        )

    @staticmethod
    def _epoch_line(ev: dict[str, Any]) -> str:
        val = ev.get("val") or {}
        if "fine_top1" not in val:
            return f"epoch {ev['epoch']}/{ev['epochs']} done (no validation data; saved)"
        return (
            f"epoch {ev['epoch']}/{ev['epochs']}: validation fine top-1 "
            f"{val['fine_top1']:.3f}, top-3 {val['fine_top3']:.3f}, coarse top-1 "
            f"{val['coarse_top1']:.3f} on {val['n']} lesions"
            + (" (best so far, saved)" if ev["improved"] else "")
        )


def train(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the model (.pt).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Lesion table (CSV) of NIfTI cases to train on.")
    ] = None,
    phantom: Annotated[
        str | None,
        typer.Option("--phantom", help="Stream synthetic lesions from the phantom (a profile)."),
    ] = None,
    phantom_samples: Annotated[
        int | None,
        typer.Option(
            "--phantom-samples", min=1, help="Phantom lesions per epoch (default: 8 per location)."
        ),
    ] = None,
    phantom_cache: Annotated[
        Path | None,
        typer.Option(
            "--phantom-cache",
            help="Render the phantom lesions once into this folder (train/ and val/) and reuse "
            "them every epoch and every later run; much faster on a CPU.",
        ),
    ] = None,
    phantom_per_body: Annotated[
        int | None,
        typer.Option(
            "--phantom-per-body",
            min=1,
            help="Phantom lesions drawn from each synthetic body before the next one (default: "
            "512 with --phantom-cache, else 128); fewer means more bodies, about 5 s each to "
            "render.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes that render the phantom cache.")
    ] = 1,
    preset: Annotated[
        str, typer.Option("--preset", help="cpu-small (2 CPU cores, < 1 h) or paper (GPU).")
    ] = "cpu-small",
    val_data: Annotated[
        Path | None,
        typer.Option("--val-data", help="Validation lesion table (default: a split of --data)."),
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option("--max-minutes", min=0, help="Wall-clock budget (0: none).")
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, help="Passes over the data (default: the preset's)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", min=1, help="Lesions per training step (default: the preset's)."
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option("--lr", min=0, help="Peak learning rate (default: the preset's)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Random seed of the split, sampling and weights (default: the preset's)."
        ),
    ] = None,
    patience: Annotated[
        int | None, typer.Option("--patience", min=0, help="Epochs without improvement (0: off).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue from a checkpoint (model.last.pt resumes fully; model.pt warm-starts "
            "its weights); 'default' starts from the shipped model, from any folder.",
        ),
    ] = None,
    text_model: Annotated[
        Path | None,
        typer.Option("--text-model", help="A local sentence-transformers model folder."),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a field of the preset, FIELD=VALUE (repeatable), e.g. "
            "--set fov_prob=0 --set phantom_realism=false; docs/retriever.md lists them.",
        ),
    ] = None,
    device: DeviceOpt = "auto",
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train the retriever on a lesion table (and/or the phantom) and write a checkpoint."""
    from anatloc.ontology.errors import Interrupted, UsageError

    if data is None and phantom is None:
        raise UsageError("give --data lesions.csv or --phantom PROFILE (or both)")
    check_writable(out, "--out", "model.pt")

    from anatloc.retriever.sources import build_sources
    from anatloc.retriever.train import TrainingInterrupted
    from anatloc.retriever.train import train as run_training

    main_rank = _is_main_rank()
    show = TrainProgress() if main_rank else None
    ont = load(ctx, ontology)
    overrides = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        patience=patience,
        max_minutes=max_minutes,
    )
    cfg, resume = _training_preset(preset, settings, text_model, resume, overrides)
    try:
        sources = build_sources(
            ont,
            cfg,
            data=data,
            val_data=val_data,
            phantom=phantom,
            phantom_samples=phantom_samples,
            phantom_cache=phantom_cache,
            phantom_per_body=phantom_per_body,
            workers=workers,
            progress=show.cache if show is not None else None,
            warn=(lambda w: typer.echo(f"warning: {w}", err=True)) if main_rank else None,
        )
        result = run_training(
            cfg,
            sources.train,
            ont,
            out,
            val_source=sources.val,
            resume=resume,
            device=device,
            progress=show,
            data_info=sources.info,
            on_stop_request=show.stopping if show is not None else None,
        )
    except TrainingInterrupted as exc:
        # a second Ctrl-C (out at once, nothing written) is the plain "interrupted" of
        # every command; the first one (or SIGTERM) stopped training after a checkpoint
        if not main_rank:
            raise
        raise Interrupted(
            f"interrupted: a usable checkpoint is in {exc.last} (resume with --resume {exc.last})"
        ) from None
    finally:
        if show is not None:  # the bar off the screen before anything else is said
            show.close()
    if main_rank:
        _print_summary(result, cfg.name, as_json)


def _training_preset(preset: str, settings, text_model, resume, overrides: dict[str, Any]):
    """The preset to train with (``--preset``, ``--set``, ``--text-model``, the options;
    on ``--resume`` the checkpoint's settings, with ``--set``, ``--text-model`` and the
    options over them) and the checkpoint to resume from (``default``: the shipped model,
    wherever anatloc is installed)."""
    from anatloc.retriever.checkpoint import read_checkpoint
    from anatloc.retriever.config import get_preset, parse_setting
    from anatloc.retriever.train import merged_preset

    fields = dict(parse_setting(s) for s in settings or ())
    if text_model is not None:
        fields["text_model"] = str(text_model.resolve())
    base = get_preset(preset)
    if resume is not None and str(resume) == "default" and not resume.exists():
        from anatloc.retriever.predict import model_path

        resume = model_path(None)
    ck_preset = read_checkpoint(resume)["preset"] if resume is not None else None
    # what the user set wins over the preset's or the checkpoint's settings alike (a field
    # that changes the network then fails to resume with a clear message)
    return merged_preset(base, ck_preset, **{**fields, **overrides}), resume


def _print_summary(result, preset_name: str, as_json: bool) -> None:
    summary = {
        "out": str(result.out),
        "last": str(result.last),
        "preset": preset_name,
        "epochs": result.epochs,
        "steps": result.steps,
        "stopped": result.stopped,
        "minutes": round(result.seconds / 60, 2),
        "parameters": result.parameters,
        "size_mb": round(result.out.stat().st_size / 1e6, 2) if result.out.exists() else None,
        "validation": result.metrics,
    }
    if as_json:
        print_json(summary)
        return
    m = result.metrics
    val = (
        f"validation fine top-1 {m['fine_top1']:.3f}, coarse top-1 {m['coarse_top1']:.3f} "
        f"on {m['n']} lesions"
        if m and "fine_top1" in m
        else "no validation data"
    )
    typer.echo(
        f"wrote {result.out} ({summary['size_mb']} MB; {val}; {result.epochs} epochs, "
        f"{result.steps} steps, {summary['minutes']} min, stopped: {result.stopped})"
    )


def evaluate(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Option("--data", help="Lesion table (CSV) with the true locations.")
    ],
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Checkpoint (default: the shipped model)."),
    ] = None,
    figures: Annotated[
        Path | None,
        typer.Option("--figures", help="Write the coarse-level confusion picture to this folder."),
    ] = None,
    batch_size: BatchSizeOpt = 64,
    top_k: TopKOpt = None,
    abstain_threshold: AbstainOpt = None,
    allow_ontology_change: AllowOntologyChangeOpt = False,
    flat: Annotated[
        bool,
        typer.Option(
            "--flat",
            help="Search all fine locations at once instead of coarse-to-fine (what the "
            "hierarchy is worth on your data).",
        ),
    ] = False,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    ontology: OntologyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accuracy of a model on a lesion table: fine top-1/top-3, coarse top-1, per region."""
    from anatloc.ontology.errors import DataError
    from anatloc.retriever.predict import shipped_model_path

    path = model if model is not None else shipped_model_path()
    if model is None and not path.is_file():
        raise DataError(
            "no model given and no default model is shipped yet "
            f"({path} is missing); train one with 'anatloc train' and pass --model"
        )
    from anatloc.retriever.evaluate import confusion_figure
    from anatloc.retriever.evaluate import evaluate as run_evaluation
    from anatloc.retriever.table import read_lesion_table

    ont = load(ctx, ontology)
    loc = load_localizer(
        path,
        ont,
        device=device,
        precision=precision,
        allow_ontology_change=allow_ontology_change,
    )
    records = read_lesion_table(data, ont, require_locations=True)
    preds = loc.predict(
        records,
        batch_size=batch_size,
        top_k=top_k,
        abstain_threshold=abstain_threshold,
        hierarchical=False if flat else None,
    )
    metrics = run_evaluation(preds, records, ont)
    t = loc.last_timing
    typer.echo(
        f"{t['lesions']} lesions: patches {t['patch_ms_per_lesion']:.1f} ms/lesion, "
        f"model + retrieval {t['model_ms_per_lesion']:.1f} ms/lesion",
        err=True,
    )
    if figures is not None:
        written = confusion_figure(preds, records, ont, figures)
        typer.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    if as_json:
        print_json(metrics)
        return
    print_metrics(metrics, f"{path.name} on {data.name}")
    from anatloc.retriever.evaluate import ERROR_BAND_WORDS

    wrong = metrics["errors_by_band"]
    print_table(
        ["the wrong answer was", "lesions", "for example"],
        [[ERROR_BAND_WORDS[k][0], v, ERROR_BAND_WORDS[k][1]] for k, v in wrong.items()],
        title=f"{sum(wrong.values())} wrong fine answers",
    )
