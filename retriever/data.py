"""Training samples: the :class:`SampleSource` protocol and its lesion-table implementation.

A sample is what one training step needs of one lesion: the two network inputs (local and
context patches, 4 channels each, already scaled and augmented) and the acceptable fine
locations (indices into the ontology's ordered fine table, the first primary) with the
primary's coarse location.

Sources:

* :class:`TableSource` — lesions of a lesion table of NIfTI cases.  The deterministic part
  (load each case once, cut axis-aligned blocks around every lesion at both scales, a
  little larger than the patches) is computed once and kept in memory (float16); the random
  part (jitter, rotation about the centre, zoom, intensity, CT dropout) is applied to the
  cached blocks per batch.  Memory: about 1.2 MB per lesion for ``cpu-small``.
* the phantom's patch stream (``anatloc.phantom``) provides another implementation of the
  same protocol, ``anatloc.retriever.phantom_source.PhantomSource``.

Distributed training: a source is asked for the samples of one rank.  A training pass is
endless (the trainer decides how many steps make an epoch, the same on every rank); a
validation pass is one finite, deterministic pass over the rank's share.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from anatloc.ontology.errors import DataError, UsageError

from .config import DataConfig
from .nifti import check_centers, check_mask_grid, check_overlap, load_volume
from .patches import (
    CaseImages,
    augment_blocks,
    block_size,
    cut_raw,
    draw_augment,
    lesion_targets,
    to_channels,
)
from .table import LesionRecord


@dataclass
class Sample:
    """One lesion, ready for the network."""

    local: np.ndarray | torch.Tensor  # float32 (C, S, S, S)
    context: np.ndarray | torch.Tensor  # float32 (C, S2, S2, S2)
    fine: list[int]  # acceptable fine indices, first primary
    coarse: int  # the primary's coarse index


@runtime_checkable
class SampleSource(Protocol):
    """Where training samples come from (a lesion table, the phantom, both)."""

    def __len__(self) -> int:
        """Samples in one epoch, all ranks together."""
        ...

    def samples(
        self, *, epoch: int, rank: int = 0, world_size: int = 1, train: bool = True
    ) -> Iterator[Sample]:
        """``train``: an endless stream of augmented samples for ``rank``;
        otherwise one finite, deterministic pass over the rank's share."""
        ...


def load_case(rec: LesionRecord) -> CaseImages:
    """The images of a lesion's case (CT optional, mask when the lesion has one)."""
    pet = load_volume(rec.pet, "pet")
    ct = load_volume(rec.ct, "ct") if rec.ct is not None else None
    if ct is not None:
        check_overlap(pet.grid("pet"), ct.grid("ct"))
    mask = load_volume(rec.mask, "mask") if rec.mask is not None else None
    if mask is not None:
        check_mask_grid(mask.grid("mask"), pet.grid("pet"), ct.grid("ct") if ct else None)
    return CaseImages(pet=pet, ct=ct, mask=mask)


def group_by_case(records: Sequence[LesionRecord]) -> dict[tuple[str, str, str], list[int]]:
    """Indices of records that share their images, in table order."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        groups[r.images_key].append(i)
    return dict(groups)


def cut_case(
    images: CaseImages,
    records: Sequence[LesionRecord],
    cfg: DataConfig,
    *,
    block: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Raw patches of the lesions of one case at both scales, all lesions at once.

    Returns ``(local (B, 3, S…), context (B, 3, S2…), centres (B, 3), sizes (B, 3))``;
    with ``block=True`` the larger cached blocks (:func:`block_size`) instead of patches.
    """
    centers, targets, sizes = lesion_targets(records, images.mask)
    check_centers(images.pet.grid("pet"), centers, records)
    out = []
    for scale in (cfg.local, cfg.context):
        size = block_size(scale, cfg) if block else scale.size
        out.append(
            cut_raw(images, centers, scale, targets, size=size, max_supersample=cfg.max_supersample)
        )
    return out[0], out[1], centers, sizes


def case_patches(
    records: Sequence[LesionRecord],
    cfg: DataConfig,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor, np.ndarray]]:
    """For each case: (record indices, local (B, 4, …), context (B, 4, …), sizes (B, 3)),
    the network inputs without augmentation (prediction and validation)."""
    groups = group_by_case(records)
    done = 0
    for idx in groups.values():
        recs = [records[i] for i in idx]
        images = load_case(recs[0])
        raw_l, raw_c, _, sizes = cut_case(images, recs, cfg)
        yield (
            idx,
            to_channels(raw_l, images.has_ct, cfg),
            to_channels(raw_c, images.has_ct, cfg),
            sizes,
        )
        done += len(idx)
        if progress is not None:
            progress(done, len(records))


class TableSource:
    """Samples from the lesions of a lesion table (see the module docstring)."""

    def __init__(
        self,
        records: Sequence[LesionRecord],
        fine_curies: Sequence[str],
        fine_to_coarse: Sequence[int] | np.ndarray,
        cfg: DataConfig,
        *,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.records = list(records)
        self.cfg = cfg
        self.seed = seed
        self.progress = progress
        index = {c: i for i, c in enumerate(fine_curies)}
        f2c = np.asarray(fine_to_coarse)
        self.fine: list[list[int]] = []
        for r in self.records:
            if not r.locations:
                raise DataError(f"{r.source}: lesion {r.lesion_id} has no locations to learn")
            missing = [c for c in r.locations if c not in index]
            if missing:
                raise DataError(f"{r.source}: location {missing[0]} is not a fine term")
            self.fine.append([index[c] for c in r.locations])
        self.coarse = [int(f2c[f[0]]) for f in self.fine]
        self._cache: dict[tuple[int, int, bool], dict] = {}

    def __len__(self) -> int:
        return len(self.records)

    # -- the deterministic part -----------------------------------------------------------
    def _share(self, rank: int, world_size: int, train: bool = True) -> list[int]:
        """The record indices of a rank, disjoint across ranks: whole cases round-robin by
        size (each case is loaded by one rank), or single lesions when there are fewer
        cases than ranks.  A training rank left without lesions trains on all of them."""
        everything = list(range(len(self.records)))
        if world_size <= 1:
            return everything
        groups = sorted(group_by_case(self.records).values(), key=lambda g: (-len(g), g[0]))
        if len(groups) >= world_size:
            return sorted(i for g in groups[rank::world_size] for i in g)
        share = everything[rank::world_size]
        return share if share or not train else everything

    def _blocks(self, rank: int, world_size: int, block: bool) -> dict:
        key = (rank, world_size, block)
        if key in self._cache:
            return self._cache[key]
        share = self._share(rank, world_size, train=block)
        dtype = torch.float16 if self.cfg.cache_dtype == "float16" else torch.float32
        sub = [self.records[i] for i in share]
        loc, ctx, has_ct = [], [], []
        done = 0
        for idx in group_by_case(sub).values():
            recs = [sub[i] for i in idx]
            images = load_case(recs[0])
            raw_l, raw_c, _, _ = cut_case(images, recs, self.cfg, block=block)
            for j, i in enumerate(idx):
                loc.append((i, raw_l[j].to(dtype)))
                ctx.append((i, raw_c[j].to(dtype)))
                has_ct.append((i, images.has_ct))
            done += len(idx)
            if self.progress is not None:
                self.progress(done, len(sub))
        order = lambda pairs: [v for _, v in sorted(pairs, key=lambda p: p[0])]  # noqa: E731
        entry = {
            "index": share,
            "local": torch.stack(order(loc)),
            "context": torch.stack(order(ctx)),
            "has_ct": torch.tensor(order(has_ct), dtype=torch.bool),
        }
        self._cache[key] = entry
        return entry

    def prepare(self, rank: int = 0, world_size: int = 1, train: bool = True) -> None:
        """Cut and cache the blocks now (otherwise the first pass does it)."""
        self._blocks(rank, world_size, block=train)

    # -- the random part -------------------------------------------------------------------
    def samples(
        self, *, epoch: int, rank: int = 0, world_size: int = 1, train: bool = True, chunk: int = 32
    ) -> Iterator[Sample]:
        cache = self._blocks(rank, world_size, block=train)
        share = cache["index"]
        n = len(share)
        if n == 0:
            return
        if not train:
            for s0 in range(0, n, chunk):
                sl = slice(s0, min(n, s0 + chunk))
                has_ct = cache["has_ct"][sl]
                loc = to_channels(cache["local"][sl].float(), has_ct, self.cfg)
                ctx = to_channels(cache["context"][sl].float(), has_ct, self.cfg)
                for j, pos in enumerate(range(sl.start, sl.stop)):
                    i = share[pos]
                    yield Sample(loc[j], ctx[j], self.fine[i], self.coarse[i])
            return
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 1009 + rank)
        for cycle in itertools.count():
            order = torch.randperm(n, generator=gen)
            for s0 in range(0, n, chunk):
                pos = order[s0 : s0 + chunk]
                B = pos.numel()
                aug = draw_augment(B, self.cfg, gen)
                has_ct = cache["has_ct"][pos]
                loc = augment_blocks(cache["local"][pos], self.cfg.local, aug)
                ctx = augment_blocks(cache["context"][pos], self.cfg.context, aug)
                loc = to_channels(loc, has_ct, self.cfg, aug.drop_ct)
                ctx = to_channels(ctx, has_ct, self.cfg, aug.drop_ct)
                for j in range(B):
                    i = share[int(pos[j])]
                    yield Sample(loc[j], ctx[j], self.fine[i], self.coarse[i])
            del cycle


class MixedSource:
    """Several sources as one: samples are drawn from each in proportion to its length."""

    def __init__(self, sources: Sequence[SampleSource], seed: int = 0):
        if not sources:
            raise UsageError("a mixed source needs at least one source")
        self.sources = list(sources)
        self.seed = seed

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def samples(
        self, *, epoch: int, rank: int = 0, world_size: int = 1, train: bool = True
    ) -> Iterator[Sample]:
        its = [
            s.samples(epoch=epoch, rank=rank, world_size=world_size, train=train)
            for s in self.sources
        ]
        if not train:
            for it in its:
                yield from it
            return
        weights = np.array([len(s) for s in self.sources], dtype=np.float64)
        weights /= weights.sum()
        rng = np.random.default_rng([self.seed, epoch, rank])
        while True:
            yield next(its[int(rng.choice(len(its), p=weights))])
