"""``anatloc train`` and ``anatloc evaluate``: the retriever's commands.

Thin: they parse, call ``anatloc.retriever`` and print.  torch, monai, nibabel and
sentence-transformers are imported inside the commands, so ``anatloc --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import (
    TEXT_BANK_WHY,
    DeviceOpt,
    JsonOpt,
    OntologyOpt,
    PrecisionOpt,
    load,
    load_localizer,
    print_json,
    print_table,
)


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


class ProgressLine:
    """Training progress on stderr: one rewritten line on a terminal, a line every few
    seconds otherwise (logs), and one line per epoch."""

    def __init__(self, stream=None, every: float | None = None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every if every is not None else (0.5 if self.tty else 10.0)
        self.last = 0.0
        self.width = 0

    def _emit(self, text: str, final: bool) -> None:
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
            self.width = 0 if final else len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def stopping(self, name: str) -> None:
        """Say at once that a signal was heard.  Runs inside the signal handler, which may
        have interrupted a write to this very stream: so it writes to the file descriptor,
        not through the stream's buffer."""
        again = "Ctrl-C again" if name == "SIGINT" else f"a second {name}"
        msg = (
            ("\n" if self.tty and self.width else "")
            + f"{name}: stopping after the current step and writing a checkpoint "
            f"({again} quits at once, without one)\n"
        )
        try:
            os.write(self.stream.fileno(), msg.encode())
        except (AttributeError, OSError, ValueError):  # no descriptor (a StringIO): stay quiet
            return
        self.width = 0

    def __call__(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        if kind == "start":
            self._emit(
                f"training {ev['parameters'] / 1e6:.2f} M parameters on {ev['device']}"
                + (f" × {ev['world_size']}" if ev["world_size"] > 1 else "")
                + f", {ev['epochs']} epochs of {ev['steps_per_epoch']} steps, "
                f"negatives from the {ev['negatives']}",
                True,
            )
        elif kind == "resumed":
            how = "optimizer and schedule restored" if ev["full"] else "weights only"
            self._emit(f"resumed from {ev['path']} at epoch {ev['epoch']} ({how})", True)
        elif kind == "step":
            now = time.monotonic()
            if now - self.last < self.every and ev["step"] != ev["steps"]:
                return
            self.last = now
            val = ev.get("val") or {}
            v = (
                f" | val fine {val['fine_top1']:.3f} coarse {val['coarse_top1']:.3f}"
                if "fine_top1" in val
                else ""
            )
            self._emit(
                f"epoch {ev['epoch'] + 1}/{ev['epochs']} step {ev['step']}/{ev['steps']} "
                f"loss {ev['loss']:.3f} acc fine {ev['acc_fine']:.2f} coarse {ev['acc_coarse']:.2f}"
                f"{v} | lr {ev['lr']:.2e} | {ev['seconds'] / 60:.1f} min",
                False,
            )
        elif kind == "epoch":
            val = ev.get("val") or {}
            if "fine_top1" in val:
                text = (
                    f"epoch {ev['epoch']}/{ev['epochs']}: validation fine top-1 "
                    f"{val['fine_top1']:.3f}, top-3 {val['fine_top3']:.3f}, coarse top-1 "
                    f"{val['coarse_top1']:.3f} on {val['n']} lesions"
                    + (" (best so far, saved)" if ev["improved"] else "")
                )
            else:
                text = f"epoch {ev['epoch']}/{ev['epochs']} done (no validation data; saved)"
            self._emit(text, True)
        elif kind == "text":
            now = time.monotonic()
            if ev["done"] == 0:
                self._emit(f"{TEXT_BANK_WHY}: {ev['total']} texts", True)
            elif now - self.last >= self.every or ev["done"] == ev["total"]:
                self.last = now
                self._emit(
                    f"text bank: {ev['done']}/{ev['total']} texts", ev["done"] == ev["total"]
                )
        elif kind == "cache":
            now = time.monotonic()
            if now - self.last >= self.every or ev["done"] == ev["total"]:
                self.last = now
                self._emit(
                    f"{ev['what']}: {ev['done']}/{ev['total']} lesions", ev["done"] == ev["total"]
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
    from anatloc.ontology.errors import DataError, UsageError

    if data is None and phantom is None:
        raise UsageError("give --data lesions.csv or --phantom PROFILE (or both)")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as {out / 'model.pt'}")
    out_dir = out.parent if str(out.parent) else Path(".")
    if not out_dir.is_dir():
        raise DataError(f"cannot write {out}: folder {out_dir} does not exist")

    from anatloc.retriever.checkpoint import read_checkpoint
    from anatloc.retriever.config import get_preset, parse_setting
    from anatloc.retriever.data import MixedSource, TableSource
    from anatloc.retriever.hierarchy import fine_to_coarse_table
    from anatloc.retriever.table import read_lesion_table
    from anatloc.retriever.train import TrainingInterrupted, merged_preset, split_records
    from anatloc.retriever.train import train as run_training

    main_rank = _is_main_rank()
    show = ProgressLine() if main_rank else None
    ont = load(ctx, ontology)
    overrides = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        patience=patience,
        max_minutes=max_minutes,
    )
    fields = dict(parse_setting(s) for s in settings or ())
    if text_model is not None:
        fields["text_model"] = str(text_model.resolve())
    base = get_preset(preset, **fields)
    if resume is not None and str(resume) == "default" and not resume.exists():
        from anatloc.retriever.predict import model_path

        resume = model_path(None)  # the shipped model, wherever anatloc is installed
    ck_preset = read_checkpoint(resume)["preset"] if resume is not None else None
    cfg = merged_preset(base, ck_preset, **overrides)

    fine_curies = ont.curies("fine")
    f2c = fine_to_coarse_table(ont, fine_curies, ont.curies("coarse")).numpy()

    def cache_progress(what):
        if show is None:
            return None
        return lambda done, total: show(
            {"event": "cache", "what": what, "done": done, "total": total}
        )

    sources = []
    val_source = None
    info: dict[str, Any] = {}
    if data is not None:
        records = read_lesion_table(data, ont, require_locations=True)
        if val_data is not None:
            train_recs = records
            val_recs = read_lesion_table(val_data, ont, require_locations=True)
        else:
            train_recs, val_recs = split_records(records, cfg.train.val_fraction, cfg.train.seed)
            if not val_recs and phantom is None and main_rank:
                cases = len({r.case_id for r in records})
                typer.echo(
                    f"warning: {data} has {cases} case{'s' if cases != 1 else ''}, too few to "
                    "hold one out for validation: training without validation (the last epoch "
                    "is saved); give --val-data VAL.csv, or a table of two or more cases",
                    err=True,
                )
        info.update(
            table=str(data.resolve()),
            train_lesions=len(train_recs),
            val_lesions=len(val_recs),
            val_table=str(val_data.resolve()) if val_data is not None else "split",
        )
        sources.append(
            TableSource(
                train_recs,
                fine_curies,
                f2c,
                cfg.data,
                seed=cfg.train.seed,
                progress=cache_progress("preparing training lesions"),
            )
        )
        if val_recs:
            val_source = TableSource(
                val_recs,
                fine_curies,
                f2c,
                cfg.data,
                progress=cache_progress("preparing validation lesions"),
            )
    if phantom is not None:
        from anatloc.retriever.phantom_source import phantom_sources

        train_src, phantom_val = phantom_sources(
            phantom,
            ont,
            cfg,
            phantom_samples,
            phantom_cache,
            workers,
            cache_progress,
            per_subject=phantom_per_body,
        )
        sources.append(train_src)
        if val_source is None:
            val_source = phantom_val
        info.update(
            phantom=phantom,
            phantom_samples=len(train_src),
            phantom_per_body=train_src.per_body,
            phantom_val=len(phantom_val),
        )
    source = sources[0] if len(sources) == 1 else MixedSource(sources, seed=cfg.train.seed)

    try:
        result = run_training(
            cfg,
            source,
            ont,
            out,
            val_source=val_source,
            resume=resume,
            device=device,
            progress=show,
            data_info=info,
            on_stop_request=show.stopping if show is not None else None,
        )
    except KeyboardInterrupt as exc:
        if show is not None and show.tty and show.width:  # end the rewritten progress line
            show.stream.write("\n")
        # a second Ctrl-C (out at once, nothing written) is the plain "interrupted" of
        # every command; the first one (or SIGTERM) stopped training after a checkpoint
        if not main_rank or not isinstance(exc, TrainingInterrupted):
            raise
        from anatloc.ontology.errors import Interrupted

        raise Interrupted(
            f"interrupted: a usable checkpoint is in {exc.last} (resume with --resume {exc.last})"
        ) from None
    if not main_rank:
        return
    summary = {
        "out": str(result.out),
        "last": str(result.last),
        "preset": cfg.name,
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
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size", min=1, help="Lesions per model call (lower it if memory runs short)."
        ),
    ] = 64,
    top_k: Annotated[
        int | None, typer.Option("--top-k", min=1, help="Coarse locations searched at fine level.")
    ] = None,
    abstain_threshold: Annotated[
        float | None,
        typer.Option(
            "--abstain-threshold", min=0.0, max=0.999, help="Back off to coarse below this."
        ),
    ] = None,
    allow_ontology_change: Annotated[
        bool,
        typer.Option(
            "--allow-ontology-change",
            help="Predict over the current ontology even if the model was trained on another.",
        ),
    ] = False,
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
    print_table(
        ["metric", "value"],
        [[k, metrics[k]] for k in ("n", "fine_top1", "fine_top3", "coarse_top1", "abstain_rate")],
        title=f"{path.name} on {data.name}",
    )
    print_table(
        ["region", "n", "fine_top1", "coarse_top1"],
        [[r, v["n"], v["fine_top1"], v["coarse_top1"]] for r, v in metrics["per_region"].items()],
    )
    from anatloc.retriever.evaluate import ERROR_BAND_WORDS

    wrong = metrics["errors_by_band"]
    print_table(
        ["the wrong answer was", "lesions", "for example"],
        [[ERROR_BAND_WORDS[k][0], v, ERROR_BAND_WORDS[k][1]] for k, v in wrong.items()],
        title=f"{sum(wrong.values())} wrong fine answers",
    )
