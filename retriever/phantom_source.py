"""The phantom as a training source: synthetic lesions rendered in patch mode.

:class:`PhantomSource` implements :class:`~anatloc.retriever.data.SampleSource` as a thin
adapter over the phantom's public sampling interface, :mod:`anatloc.phantom.sampling`:
sample ``i`` is the lesion scene and acceptable locations that its
:class:`~anatloc.phantom.sampling.LesionSampler` draws for ``(seed, epoch, i)``
(validation: ``(seed, i)``, every location in turn, both sexes).  What is the retriever's
here: both scales are rendered by :func:`~anatloc.phantom.sampling.lesion_patch` at the
points the retriever's augmentation asks for (its
:func:`~anatloc.retriever.patches.draw_augment`: centre jitter, rotation about the patch
centre, zoom, CT shift, PET gain, CT dropout) and scaled by its
:func:`~anatloc.retriever.patches.to_channels`; the acceptable locations are kept as fine
and coarse indices of the ontology.

A fixed dataset can be written once with :meth:`PhantomSource.build_cache` (``.npz`` shards
of raw, unaugmented blocks, written atomically, and a ``manifest.json``); a source opened
with ``cache_dir`` then serves those blocks with fresh augmentation each epoch
(:func:`~anatloc.retriever.patches.augment_blocks`), exactly like the lesion-table source,
so that CPU training reuses the rendering across epochs.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from anatloc.ontology.errors import DataError, UsageError
from anatloc.ontology.fileio import atomic_write
from anatloc.phantom import Scene, SubjectField
from anatloc.phantom.body import body_model
from anatloc.phantom.profiles import Profile, get_profile
from anatloc.phantom.realism import TRAINING, Metal, Variation
from anatloc.phantom.sampling import MAX_FINE, LesionCase, LesionSampler, lesion_patch

from .config import DataConfig, ScaleConfig
from .data import Sample
from .patches import (
    Augment,
    augment_blocks,
    block_size,
    draw_augment,
    supersample_factor,
    to_channels,
)

#: a CT slice thicker than this (mm) is drawn as thick slices in patch mode
THICK_SLICE_MM = 2.5
CACHE_VERSION = 3
#: cached blocks are stored as 8-bit codes: CT over the HU window the network sees (with room
#: for the intensity augmentation), PET on a logarithmic scale up to SUV 100, the mask as a
#: fraction.  A sample takes 0.6 MB instead of 1.2 MB (float16); the network's clipping makes
#: the difference invisible (CT steps of 1.9 HU inside [-200, 280]; PET steps of 1.8 % of
#: 1 + SUV: 0.04 at SUV 1, 0.2 at SUV 10).  (Version 2 coded the PET as a square root up to
#: SUV 36, which cut the hottest lesions.)
CT_CODE_RANGE = (-200.0, 280.0)
SUV_CODE_MAX = 100.0


def _read_json(path: Path) -> dict:
    """A cache's JSON file; an unreadable one is a :class:`DataError` (missing: FileNotFoundError)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def _json(d: dict) -> dict:
    """``d`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(d))


def encode_block(raw: np.ndarray) -> np.ndarray:
    """Raw (3, S, S, S) [HU, SUV, mask] float → uint8 codes of the same shape."""
    lo, hi = CT_CODE_RANGE
    out = np.empty(raw.shape, np.uint8)
    out[0] = np.rint((np.clip(raw[0], lo, hi) - lo) * (255.0 / (hi - lo)))
    out[1] = np.rint(
        np.log1p(np.clip(raw[1], 0.0, SUV_CODE_MAX)) / math.log1p(SUV_CODE_MAX) * 255.0
    )
    out[2] = np.rint(np.clip(raw[2], 0.0, 1.0) * 255.0)
    return out


def _decode_table() -> np.ndarray:
    lo, hi = CT_CODE_RANGE
    q = np.arange(256, dtype=np.float32) / 255.0
    suv = np.expm1(q * math.log1p(SUV_CODE_MAX))
    return np.stack([lo + q * (hi - lo), suv, q]).astype(np.float32)


_DECODE = _decode_table()


def decode_blocks(codes: np.ndarray) -> np.ndarray:
    """uint8 codes (..., 3, S, S, S) → float32 [HU, SUV, mask] (one table lookup a voxel)."""
    out = np.empty(codes.shape, np.float32)
    for c in range(3):
        out[..., c, :, :, :] = _DECODE[c][codes[..., c, :, :, :]]
    return out


class PhantomSource:
    """Synthetic lesions of one phantom profile (see the module docstring).

    ``n_samples`` is the length of an epoch (default: 8 per location); ``cache_dir`` serves
    a cache written by :meth:`build_cache` instead of rendering.
    """

    def __init__(
        self,
        profile: str | Profile,
        ont,
        cfg: DataConfig,
        *,
        seed: int = 0,
        n_samples: int | None = None,
        cache_dir: str | Path | None = None,
        distractors: float = 0.3,
        samples_per_subject: int = 128,
        field_spacing: float = 3.0,
        exact: bool = False,
        p_l6: float = 0.25,
        variation: Variation | None = None,
        targets: Sequence[int] | None = None,
        subjects: dict | None = None,
    ):
        self.profile = get_profile(profile)
        self.model = body_model(ont)
        self.cfg = cfg
        #: lesion scenes and their labels, a pure function of (seed, epoch, index); the
        #: default variation draws no departure (``phantom.realism``)
        self.sampler = LesionSampler(
            self.profile,
            self.model,
            seed=seed,
            distractors=distractors,
            samples_per_subject=samples_per_subject,
            field_spacing=field_spacing,
            exact=exact,
            p_l6=p_l6,
            variation=variation or (TRAINING if cfg.phantom_realism else Variation()),
            targets=targets,
            subjects=subjects,
        )
        self.variation = self.sampler.variation
        self.seed = self.sampler.seed
        self.samples_per_subject = self.sampler.samples_per_subject
        self.n_samples = int(n_samples) if n_samples is not None else 8 * self.model.n
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._manifest = self._read_manifest() if self.cache_dir is not None else None

    def __len__(self) -> int:
        if self._manifest is not None:
            return int(self._manifest["n"])
        return self.n_samples

    @property
    def per_body(self) -> int | None:
        """Lesions drawn from each body (None: a cache written before this was recorded)."""
        if self._manifest is not None:
            v = self._manifest.get("samples_per_subject")
            return int(v) if v is not None else None
        return self.samples_per_subject

    # -- one lesion ------------------------------------------------------------------------
    def lesion_scene(self, index: int, epoch: int = 0, train: bool = True):
        """(scene with the target lesion, id 1, and any other lesions; acceptable fine
        indices; coarse index; the subject's field or None) of sample ``index``."""
        case = self.lesion_case(index, epoch, train)
        return case.scene, case.fine, case.coarse, case.field

    def lesion_case(self, index: int, epoch: int = 0, train: bool = True) -> LesionCase:
        """Everything about sample ``index`` (:meth:`LesionSampler.case`)."""
        return self.sampler.case(index, epoch, train)

    def raw_patches(
        self,
        scene: Scene,
        aug: Augment | None,
        j: int,
        rng: np.random.Generator,
        size: dict | None = None,
        field: SubjectField | None = None,
        metal: Metal | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw (3, S, S, S) [HU, SUV, mask occupancy] at both scales for lesion 1 of a scene,
        at the points that augmentation ``aug`` (row ``j``) asks for (None: axis-aligned);
        with a ``metal`` implant and its streaks, and with the thick slices of the scene's
        CT when the variation draws slice thicknesses."""
        les = scene.lesions[0]
        out = []
        for name in ("local", "context"):
            sc: ScaleConfig = getattr(self.cfg, name)
            centre = np.asarray(les.center_mm, float)
            spacing = sc.spacing
            rot = None
            if aug is not None:
                centre = centre + aug.shift_mm[j].double().numpy()
                t = aug.transform[j].double().numpy()
                zoom = float(abs(np.linalg.det(t))) ** (1 / 3)
                spacing = spacing * zoom
                rot = t / zoom
            k = supersample_factor(
                np.asarray(self.profile.ct.spacing_mm), sc.spacing, self.cfg.max_supersample
            )
            out.append(
                lesion_patch(
                    scene,
                    centre,
                    (size or {}).get(name, sc.size),
                    spacing,
                    rot,
                    rng,
                    field=field,
                    metal=metal,
                    thick_ct=self.variation.ct_slice_mm is not None,
                    mask_supersample=k,
                    supersample=self.cfg.max_supersample,
                )
            )
        return out[0], out[1]

    def sample(
        self, index: int, epoch: int = 0, train: bool = True, aug: Augment | None = None, j: int = 0
    ) -> Sample:
        case = self.lesion_case(index, epoch, train)
        fine, coarse = case.fine, case.coarse
        rng = self.sampler.rngs(index, epoch, train)[1]
        loc, ctx = self.raw_patches(case.scene, aug, j, rng, field=case.field, metal=case.metal)
        raw_l, raw_c = torch.from_numpy(loc)[None], torch.from_numpy(ctx)[None]
        drop = None
        if aug is not None:
            for raw in (raw_l, raw_c):
                raw[:, 0] += aug.ct_shift[j]
                raw[:, 1] *= aug.pet_gain[j]
            drop = aug.drop_ct[j : j + 1]
        x_l = to_channels(raw_l, True, self.cfg, drop)[0]
        x_c = to_channels(raw_c, True, self.cfg, drop)[0]
        return Sample(x_l, x_c, fine, coarse)

    # -- the protocol ------------------------------------------------------------------------
    def samples(
        self, *, epoch: int, rank: int = 0, world_size: int = 1, train: bool = True, chunk: int = 32
    ) -> Iterator[Sample]:
        if self._manifest is not None:
            yield from self._cached_samples(epoch, rank, world_size, train, chunk)
            return
        if not train:
            for i in range(rank, len(self), world_size):
                yield self.sample(i, train=False)
            return
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 1009 + rank)
        for c in itertools.count():
            idx = [(c * chunk + j) * world_size + rank for j in range(chunk)]
            if self.cfg.realistic:
                # as from a cache: blocks, then the augmentation with the field of view
                yield from self._augmented(self._render_blocks(idx, epoch, True), gen, True)
                continue
            aug = draw_augment(chunk, self.cfg, gen)
            for j, i in enumerate(idx):
                yield self.sample(i, epoch, True, aug, j)

    def _render_blocks(self, idx: Sequence[int], epoch: int, train: bool) -> dict:
        """Raw unaugmented blocks of samples ``idx``, as a cache shard holds them."""
        blocks = self._blocks()
        loc, ctx, fine, coarse, heights = [], [], [], [], []
        for i in idx:
            case = self.lesion_case(i, epoch, train)
            rng = np.random.default_rng(
                [self.seed & 0xFFFFFFFF, 2 if train else 5, i]
                + ([epoch] if train and epoch else [])
            )
            a, b = self.raw_patches(
                case.scene, None, 0, rng, size=blocks, field=case.field, metal=case.metal
            )
            loc.append(a)
            ctx.append(b)
            fine.append(case.fine + [-1] * (MAX_FINE - len(case.fine)))
            coarse.append(case.coarse)
            heights.append(case.heights)
        return {
            "local": np.stack(loc),
            "context": np.stack(ctx),
            "fine": np.asarray(fine, np.int32),
            "coarse": np.asarray(coarse, np.int32),
            "landmarks": np.asarray(heights, np.float32),
        }

    def _augmented(
        self, sh: dict, gen: torch.Generator, train: bool, rows: Sequence[int] | None = None
    ) -> Iterator[Sample]:
        """Samples of rows of a shard (decoded blocks): augmented (training) or cut to the
        patch size (validation), then scaled to the network's channels."""
        rows = list(range(len(sh["fine"]))) if rows is None else list(rows)
        B = len(rows)
        heights = sh.get("landmarks")
        heights = None if heights is None else heights[rows]
        aug = draw_augment(B, self.cfg, gen, heights) if train else Augment.identity(B)
        loc = augment_blocks(torch.from_numpy(sh["local"][rows]), self.cfg.local, aug, gen)
        ctx = augment_blocks(torch.from_numpy(sh["context"][rows]), self.cfg.context, aug, gen)
        drop = aug.drop_ct if train else None
        loc = to_channels(loc, True, self.cfg, drop)
        ctx = to_channels(ctx, True, self.cfg, drop)
        for b, r in enumerate(rows):
            f = [int(v) for v in sh["fine"][r] if v >= 0]
            yield Sample(loc[b], ctx[b], f, int(sh["coarse"][r]))

    # -- the cache ---------------------------------------------------------------------------
    def _blocks(self) -> dict[str, int]:
        return {
            name: block_size(getattr(self.cfg, name), self.cfg) for name in ("local", "context")
        }

    def _write_shard(self, out: Path, number: int, idx: range, train: bool) -> dict:
        """Render samples ``idx`` into ``out/shard-NNNNN.npz`` (atomically)."""
        sh = self._render_blocks(idx, 0, train)
        buf = io.BytesIO()
        np.savez(
            buf,
            local=np.stack([encode_block(a) for a in sh["local"]]),
            context=np.stack([encode_block(b) for b in sh["context"]]),
            fine=sh["fine"],
            coarse=sh["coarse"],
            landmarks=sh["landmarks"],
        )
        name = f"shard-{number:05d}.npz"
        atomic_write(out / name, buf.getvalue())
        return {"file": name, "n": len(idx)}

    def build_cache(
        self,
        out: str | Path,
        n: int | None = None,
        shard_size: int = 64,
        progress: Callable[[int, int], None] | None = None,
        *,
        train: bool = True,
        workers: int = 1,
    ) -> Path:
        """Render ``n`` samples (default: the epoch length) as raw axis-aligned blocks into
        ``out/shard-NNNNN.npz`` and write ``out/manifest.json`` last; returns ``out``.

        ``train=False`` writes the validation split (every location in turn, both sexes);
        ``workers`` > 1 renders shards in that many processes (shards already on disk from
        an interrupted run are kept, so a build can be resumed by running it again).
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        n = int(n if n is not None else self.n_samples)
        # shards of an interrupted build are kept and reused, so they must be of this build:
        # the settings are written first and a rerun with other ones is refused
        settings = {
            "profile": self.profile.name,
            "seed": self.seed,
            "train": train,
            "n": n,
            "samples_per_subject": self.samples_per_subject,
            "blocks": self._blocks(),
            "phantom_key": self.model.phantom_key,
            "variation": self._variation_key(),
        }
        started = out / "build.json"
        if started.is_file():
            before = _read_json(started)
            if before != settings:
                raise DataError(
                    f"{out} holds part of another phantom cache ({before}, now {settings}); "
                    "remove it or give another folder"
                )
        else:
            atomic_write(started, json.dumps(settings, indent=1) + "\n")
        # a shard holds whole subjects where it can, so no two processes build one subject
        shard_size = max(1, int(shard_size))
        if (
            train
            and self.samples_per_subject % shard_size
            and shard_size % self.samples_per_subject
        ):
            shard_size = self.samples_per_subject
        jobs = [
            (k, range(s0, min(n, s0 + shard_size))) for k, s0 in enumerate(range(0, n, shard_size))
        ]
        todo = [(k, idx) for k, idx in jobs if not (out / f"shard-{k:05d}.npz").is_file()]
        done = n - sum(len(idx) for _, idx in todo)
        if progress is not None and done:
            progress(done, n)
        if workers > 1 and len(todo) > 1:
            import multiprocessing as mp

            # each worker keeps one copy of the source (and so its current subject field);
            # consecutive shards of one subject go to the same worker
            per_subject = max(1, self.samples_per_subject // shard_size) if train else 1
            ctx = mp.get_context("fork")
            with ctx.Pool(
                min(workers, len(todo)), initializer=_init_worker, initargs=(self, out)
            ) as pool:
                args = [(k, idx, train) for k, idx in todo]
                for entry in pool.imap_unordered(_shard_job, args, chunksize=per_subject):
                    done += entry["n"]
                    if progress is not None:
                        progress(done, n)
        else:
            for k, idx in todo:
                entry = self._write_shard(out, k, idx, train)
                done += entry["n"]
                if progress is not None:
                    progress(done, n)
        shards = [{"file": f"shard-{k:05d}.npz", "n": len(idx)} for k, idx in jobs]
        manifest = {
            "version": CACHE_VERSION,
            "generator": "anatloc phantom",
            "profile": self.profile.name,
            "seed": self.seed,
            "train": train,
            "n": n,
            "samples_per_subject": self.samples_per_subject,
            "shards": shards,
            "blocks": self._blocks(),
            "local": dataclasses.asdict(self.cfg.local),
            "context": dataclasses.asdict(self.cfg.context),
            "ontology_hash": self.model.content_hash,
            "phantom_key": self.model.phantom_key,
            "variation": self._variation_key(),
        }
        atomic_write(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")
        return out

    def _read_manifest(self) -> dict:
        path = self.cache_dir / "manifest.json"
        try:
            man = _read_json(path)
        except FileNotFoundError:
            raise DataError(
                f"{path} does not exist; write the cache with PhantomSource.build_cache"
            ) from None
        if man.get("version") != CACHE_VERSION:
            raise DataError(
                f"{path}: cache version {man.get('version')!r}, expected {CACHE_VERSION}"
            )
        if (
            man.get("blocks") != self._blocks()
            or man.get("local") != dataclasses.asdict(self.cfg.local)
            or man.get("context") != dataclasses.asdict(self.cfg.context)
        ):
            raise DataError(
                f"{path}: the cache was written for other patch scales or augmentation bounds ({man.get('local')}, {man.get('context')}); rebuild it"
            )
        # what the rendering depends on (geometry, terms, labels, tissues); a cache from
        # before the key must match the whole ontology
        if man.get("phantom_key", "") != self.model.phantom_key and (
            man.get("ontology_hash") != self.model.content_hash
        ):
            raise DataError(
                f"{path}: the cache was written for another ontology ({man.get('ontology_hash')}) "
                "whose geometry or locations differ; rebuild it"
            )
        # a cache from before the variation existed was rendered without one
        if man.get("variation", _json(Variation().as_dict())) != self._variation_key():
            raise DataError(
                f"{path}: the cache was rendered with another phantom variation "
                "(realism settings) than this run asks for; rebuild it or give another folder"
            )
        return man

    def _variation_key(self) -> dict:
        return _json(self.variation.as_dict())

    def _load_shard(self, entry: dict) -> dict:
        path = self.cache_dir / entry["file"]
        try:
            with np.load(path) as z:
                out = {k: z[k] for k in ("local", "context", "fine", "coarse")}
                if "landmarks" in z.files:  # caches from before it lack it
                    out["landmarks"] = z["landmarks"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"cannot read the cache shard {path}: {exc}") from None
        if out["local"].dtype != np.uint8 or out["context"].dtype != np.uint8:
            raise DataError(f"{path} is not an 8-bit phantom cache shard; rebuild the cache")
        out["local"] = decode_blocks(out["local"])
        out["context"] = decode_blocks(out["context"])
        return out

    def _cached_samples(
        self, epoch: int, rank: int, world_size: int, train: bool, chunk: int
    ) -> Iterator[Sample]:
        man = self._manifest
        starts = np.cumsum([0] + [s["n"] for s in man["shards"]])
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 1009 + rank)
        for cycle in itertools.count():
            order = (
                torch.randperm(len(man["shards"]), generator=gen).tolist()
                if train
                else range(len(man["shards"]))
            )
            for si in order:
                entry = man["shards"][si]
                mine = [j for j in range(entry["n"]) if (starts[si] + j) % world_size == rank]
                if not mine:
                    continue
                sh = self._load_shard(entry)
                if train:
                    mine = [mine[int(p)] for p in torch.randperm(len(mine), generator=gen)]
                for c0 in range(0, len(mine), chunk):
                    yield from self._augmented(sh, gen, train, mine[c0 : c0 + chunk])
            if not train:
                return
            del cycle


def phantom_sources(
    profile,
    ont,
    cfg,
    n_samples=None,
    cache=None,
    workers=1,
    cache_progress=None,
    per_subject: int | None = None,
):
    """(training source, validation source) from the phantom; with ``cache``, both are
    rendered once into ``cache/train`` and ``cache/val`` and served from there.

    ``per_subject``: training lesions drawn from each body before the next is built
    (default: 512 with a cache, 128 streamed); fewer means more bodies for the same
    number of lesions, at about 5 s of rendering per extra body."""
    seed = cfg.train.seed
    cache = Path(cache) if cache is not None else None

    def make(**kw):
        return PhantomSource(profile, ont, cfg.data, **kw)

    # a cached training set renders each subject once for 512 lesions: building the subject
    # (~7 s) then costs less than its lesions, and 20 000 lesions still see ~40 bodies
    if per_subject is None:
        per_subject = 512 if cache is not None else 128
    per_subject = int(per_subject)
    if per_subject < 1:
        raise UsageError(f"lesions per body must be at least 1 (got {per_subject})")

    probe = make(seed=seed, n_samples=n_samples, samples_per_subject=per_subject)
    n_train = len(probe)
    n_val = 2 * probe.model.n  # every location twice, both sexes, fixed
    if cache is None:
        return probe, make(seed=seed + 1, n_samples=n_val)
    out = []
    for split, n, s, train_mode in (
        ("train", n_train, seed, True),
        ("val", n_val, seed + 1, False),
    ):
        folder = cache / split
        manifest = folder / "manifest.json"
        if manifest.is_file():
            man = _read_json(manifest)
            want = {"profile": probe.profile.name, "seed": s, "n": n, "train": train_mode}
            if train_mode and "samples_per_subject" in man:  # older caches lack it
                want["samples_per_subject"] = per_subject
            have = {k: man.get(k) for k in want}
            if have != want:
                raise DataError(
                    f"{folder} holds another phantom cache ({have}, expected {want}); "
                    "remove it or give another --phantom-cache"
                )
        else:
            make(
                seed=s, n_samples=n, samples_per_subject=per_subject if train_mode else 128
            ).build_cache(
                folder,
                n,
                progress=cache_progress(f"rendering phantom {split} lesions")
                if cache_progress
                else None,
                train=train_mode,
                workers=workers,
            )
        out.append(make(seed=s, n_samples=n, cache_dir=folder))
    return out[0], out[1]


_WORKER: dict = {}


def _init_worker(src: PhantomSource, out: Path) -> None:
    torch.set_num_threads(1)
    _WORKER["src"], _WORKER["out"] = src, out


def _shard_job(args) -> dict:
    k, idx, train = args
    return _WORKER["src"]._write_shard(_WORKER["out"], k, idx, train)
