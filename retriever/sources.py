"""The training and validation sources of a run, from what ``anatloc train`` is given.

:func:`build_sources` is what the command does with ``--data``, ``--val-data``,
``--phantom`` and their options, as a library call: read and check the lesion tables,
split the cases, build the phantom's sources (rendering its cache when one is asked for),
mix them, and say what went in (``info``, saved in the checkpoint as ``training.data``).

Decisions:

* validation comes from ``val_data``, else from a split of ``data`` by case
  (``preset.train.val_fraction``, ``preset.train.seed``), else from the phantom's fixed
  validation set; a table alone that is too small to split gives no validation and a
  warning, which is returned (``warnings``), not printed: the caller decides where it goes
  (the command prints it on rank 0 only);
* with a table and the phantom, samples are drawn from both in proportion to their sizes
  (:class:`~anatloc.retriever.data.MixedSource`, seeded by ``preset.train.seed``);
* progress of the slow preparations (cutting the table's lesions, rendering a phantom
  cache) goes to one callback, ``progress(what, done, total)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anatloc.ontology.errors import UsageError

from .config import Preset
from .data import MixedSource, SampleSource, TableSource
from .hierarchy import fine_to_coarse_table

#: ``progress(what, done, total)``: ``what`` names the preparation under way
SourceProgress = Callable[[str, int, int], None]


@dataclass
class TrainingSources:
    """What :func:`train <anatloc.retriever.train.train>` takes: ``train`` (the
    ``source``), ``val`` (``val_source``, ``None`` when there is no validation data) and
    ``info`` (``data_info``)."""

    train: SampleSource
    val: SampleSource | None
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def build_sources(
    ont,
    preset: Preset,
    *,
    data: str | Path | None = None,
    val_data: str | Path | None = None,
    phantom: str | None = None,
    phantom_samples: int | None = None,
    phantom_cache: str | Path | None = None,
    phantom_per_body: int | None = None,
    workers: int = 1,
    progress: SourceProgress | None = None,
    warn: Callable[[str], None] | None = None,
) -> TrainingSources:
    """The sources to train on: a lesion table (``data``), the phantom (a profile's name),
    or both; the arguments are those of ``anatloc train`` (``docs/training.md``).

    A warning (a table too small to split) is kept in ``warnings`` and, when ``warn`` is
    given, also told to it at once (before the slow preparations begin).

    >>> src = build_sources(ont, get_preset("cpu-small"), data="lesions.csv")  # doctest: +SKIP
    >>> train(preset, src.train, ont, "model.pt", val_source=src.val, data_info=src.info)
    ... # doctest: +SKIP
    """
    if data is None and phantom is None:
        raise UsageError("give a lesion table (data) or a phantom profile (phantom), or both")

    def step(what: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(what, done, total)

    sources: list[SampleSource] = []
    val: SampleSource | None = None
    info: dict[str, Any] = {}
    warnings: list[str] = []
    if data is not None:
        records, train_recs, val_recs = _read_tables(ont, preset, Path(data), val_data)
        if not val_recs and val_data is None and phantom is None:
            cases = len({r.case_id for r in records})
            warnings.append(
                f"{data} has {cases} case{'s' if cases != 1 else ''}, too few to hold one "
                "out for validation: training without validation (the last epoch is saved); "
                "give --val-data VAL.csv, or a table of two or more cases"
            )
            if warn is not None:
                warn(warnings[-1])
        info.update(
            table=str(Path(data).resolve()),
            train_lesions=len(train_recs),
            val_lesions=len(val_recs),
            val_table=str(Path(val_data).resolve()) if val_data is not None else "split",
        )
        fine_curies = ont.curies("fine")
        f2c = fine_to_coarse_table(ont, fine_curies, ont.curies("coarse")).numpy()
        sources.append(
            TableSource(
                train_recs,
                fine_curies,
                f2c,
                preset.data,
                seed=preset.train.seed,
                progress=step("preparing training lesions"),
            )
        )
        if val_recs:
            val = TableSource(
                val_recs,
                fine_curies,
                f2c,
                preset.data,
                progress=step("preparing validation lesions"),
            )
    if phantom is not None:
        from .phantom_source import phantom_sources

        train_src, phantom_val = phantom_sources(
            phantom,
            ont,
            preset,
            phantom_samples,
            phantom_cache,
            workers,
            step,
            per_subject=phantom_per_body,
        )
        sources.append(train_src)
        if val is None:
            val = phantom_val
        info.update(
            phantom=phantom,
            phantom_samples=len(train_src),
            phantom_per_body=train_src.per_body,
            phantom_val=len(phantom_val),
        )
    train = sources[0] if len(sources) == 1 else MixedSource(sources, seed=preset.train.seed)
    return TrainingSources(train, val, info, warnings)


def _read_tables(ont, preset: Preset, data: Path, val_data: str | Path | None):
    """The table's lesions, checked, and their (training, validation) split: ``val_data``'s
    lesions, else the cases of ``data`` split by :func:`~anatloc.retriever.train.split_records`."""
    from .table import read_lesion_table
    from .train import split_records

    records = read_lesion_table(data, ont, require_locations=True)
    if val_data is not None:
        return records, records, read_lesion_table(val_data, ont, require_locations=True)
    train_recs, val_recs = split_records(records, preset.train.val_fraction, preset.train.seed)
    return records, train_recs, val_recs
