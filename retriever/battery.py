"""The realism battery: a model measured on phantom test sets that each depart from the
training profile in one named way (``phantom.realism.SHIFTS``).

:func:`render_shift` draws a shift's test lesions — validation-mode phantom samples of a
fixed seed that no training run uses, the target locations in turn among the shift's
targets — and renders their raw patches once, without augmentation, at the patch geometry
of a :class:`~anatloc.retriever.config.DataConfig`; a lesion the shift's field of view
would not show is skipped.  The patches are kept as the phantom cache keeps blocks (8-bit
codes) with each lesion's field of view, so :func:`evaluate_shift` can measure any model of
that geometry in seconds: the field of view is cut exactly as training cuts it
(:func:`~anatloc.retriever.patches.augment_blocks` with no other change), and the patches
are scaled to the model's channels.

>>> s = render_shift(SHIFTS["fov-cube"], ont, preset.data, n=96)   # doctest: +SKIP
>>> evaluate_shift(localizer, s)["coarse_top1"]                    # doctest: +SKIP
0.93
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from anatloc.ontology.errors import DataError
from anatloc.ontology.fileio import atomic_write
from anatloc.phantom.realism import SHIFTS, Shift, members

from .config import DataConfig
from .patches import Augment, augment_blocks, to_channels
from .phantom_source import MAX_FINE, PhantomSource, decode_blocks, encode_block
from .realism import Realism, fov_box

#: the battery's lesions share no seed with training (seeds 0 and 1 by default) or the
#: phantom test sets (100 and 123)
BATTERY_SEED = 7919
#: lesions drawn from one body of a shift
PER_SUBJECT = 12
#: "lesions within 2 cm of the field's edge"
BATTERY_EDGE_MM = (0.0, 20.0)
FORMAT = 1


@dataclass
class ShiftSet:
    """The rendered test lesions of one shift."""

    name: str
    local: np.ndarray  # (n, 3, S, S, S) uint8 codes [HU, SUV, mask]
    context: np.ndarray  # (n, 3, S2, S2, S2)
    fov: np.ndarray  # (n, 2, 3) field of view, offsets from the lesion centre (mm)
    fine: np.ndarray  # (n, MAX_FINE) acceptable fine indices, primary first, −1 padded
    coarse: np.ndarray  # (n,) coarse index of the primary
    ct_present: bool = True
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.coarse)

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(
            buf,
            local=self.local,
            context=self.context,
            fov=self.fov,
            fine=self.fine,
            coarse=self.coarse,
            meta=np.frombuffer(
                json.dumps({**self.meta, "ct_present": self.ct_present}).encode(), np.uint8
            ),
        )
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> ShiftSet:
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                return cls(
                    name=meta["name"],
                    local=z["local"],
                    context=z["context"],
                    fov=z["fov"],
                    fine=z["fine"],
                    coarse=z["coarse"],
                    ct_present=bool(meta["ct_present"]),
                    meta=meta,
                )
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"cannot read the battery set {path}: {exc}") from None


def shift_key(shift: Shift, data: DataConfig, n: int, seed: int, phantom_key: str) -> dict:
    """What a rendered set depends on (a set on disk with another key is rendered again)."""
    return {
        "format": FORMAT,
        "shift": shift.name,
        "variation": json.loads(json.dumps(shift.variation.as_dict())),
        "targets": shift.targets,
        "fov": shift.fov,
        "pet_only": shift.pet_only,
        "n": n,
        "seed": seed,
        "local": [data.local.size, data.local.spacing],
        "context": [data.context.size, data.context.spacing],
        "max_supersample": data.max_supersample,
        "phantom_key": phantom_key,
    }


def render_shift(
    shift: Shift,
    ont,
    data: DataConfig,
    n: int = 96,
    *,
    seed: int = BATTERY_SEED,
    profile: str = "internal",
    subjects: dict | None = None,
    field_spacing: float = 3.0,
    progress: Callable[[int, int], None] | None = None,
) -> ShiftSet:
    """Render ``n`` test lesions of ``shift`` (see the module docstring).

    ``subjects``: a dict shared between calls, so that shifts with the same bodies build
    each body once; ``field_spacing``: the grid of each body's pre-rendered field (mm;
    coarser is faster and blurrier, for tests)."""
    model = _model(ont)
    targets = np.arange(1, model.n + 1) if shift.targets is None else members(model, shift.targets)
    # the target locations in a fixed random order, so that any n spreads over the body
    targets = np.random.default_rng([seed, 3]).permutation(targets)
    src = PhantomSource(
        profile,
        ont,
        data,
        seed=seed,
        n_samples=n,
        samples_per_subject=PER_SUBJECT,
        variation=shift.variation,
        targets=targets,
        subjects=subjects,
        field_spacing=field_spacing,
    )
    rng = np.random.default_rng([seed, 17])
    loc, ctx, boxes, fine, coarse = [], [], [], [], []
    index = 0
    tries = 0
    while len(coarse) < n:
        tries += 1
        if tries > 20 * n:
            raise DataError(
                f"shift {shift.name}: only {len(coarse)} of {n} lesions fall inside its field "
                "of view"
            )
        i = index
        index += 1
        case = src.lesion_case(i, train=False)
        les = case.scene.lesions[0]
        box = fov_box(
            shift.fov, case.heights, rng.random(4), les.mean_radius, edge_mm=BATTERY_EDGE_MM
        )
        if box is None:
            continue
        noise = np.random.default_rng([seed, 5, i])
        a, b = src.raw_patches(case.scene, None, 0, noise, field=case.field, metal=case.metal)
        loc.append(encode_block(a))
        ctx.append(encode_block(b))
        boxes.append(box)
        fine.append(case.fine + [-1] * (MAX_FINE - len(case.fine)))
        coarse.append(case.coarse)
        if progress is not None:
            progress(len(coarse), n)
    return ShiftSet(
        name=shift.name,
        local=np.stack(loc),
        context=np.stack(ctx),
        fov=np.asarray(boxes, np.float32),
        fine=np.asarray(fine, np.int32),
        coarse=np.asarray(coarse, np.int32),
        ct_present=not shift.pet_only,
        meta={"name": shift.name, "description": shift.description, "drawn": index},
    )


def _model(ont):
    from anatloc.phantom.body import body_model

    return body_model(ont)


def shift_inputs(
    s: ShiftSet, data: DataConfig, rows: slice | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The network inputs of a set's lesions (or ``rows`` of them) for a model's ``data``."""
    rows = rows or slice(None)
    fov = torch.from_numpy(s.fov[rows]).double()
    # the training path with nothing random but the set's field of view
    aug = Augment.identity(fov.shape[0])
    aug.realism = Realism.identity(fov.shape[0])
    aug.realism.fov = fov
    out = []
    for codes, scale in ((s.local[rows], data.local), (s.context[rows], data.context)):
        raw = augment_blocks(torch.from_numpy(decode_blocks(codes)), scale, aug)
        out.append(to_channels(raw, s.ct_present, data))
    return out[0], out[1]


def evaluate_shift(localizer, s: ShiftSet, batch: int = 64) -> dict:
    """n, fine top-1, fine top-3, coarse top-1 and the worst three confusions (coarse
    truth → coarse answer, with counts) of a model (a :class:`~.infer.Localizer`) on a set."""
    data = localizer.preset.data
    if (data.local.size, data.context.size) != (s.local.shape[-1], s.context.shape[-1]):
        raise DataError(
            f"the battery set {s.name} was rendered for other patch sizes than the model's; "
            "render it again"
        )
    f2c = localizer.f2c.cpu().numpy()
    coarse_names = [t.label for t in localizer.coarse_terms]
    fine1 = fine3 = coarse1 = 0
    confusions: Counter = Counter()
    for s0 in range(0, len(s), batch):
        rows = slice(s0, min(len(s), s0 + batch))
        loc, ctx = shift_inputs(s, data, rows)
        ret = localizer.retrieve_patches(loc, ctx)
        top = ret.fine_top.cpu().numpy()
        pc = ret.coarse.cpu().numpy()
        abst = ret.abstained.cpu().numpy()
        for j, r in enumerate(range(rows.start, rows.stop)):
            ok = {int(v) for v in s.fine[r] if v >= 0}
            ok_c = {int(f2c[v]) for v in ok} | {int(s.coarse[r])}
            fine1 += int(top[j, 0]) in ok and not abst[j]  # as ``anatloc evaluate`` counts
            fine3 += bool(ok & {int(v) for v in top[j, :3]})
            if int(pc[j]) in ok_c:
                coarse1 += 1
            else:
                confusions[(coarse_names[int(s.coarse[r])], coarse_names[int(pc[j])])] += 1
    n = len(s)
    return {
        "n": n,
        "fine_top1": round(fine1 / n, 4),
        "fine_top3": round(fine3 / n, 4),
        "coarse_top1": round(coarse1 / n, 4),
        "worst_confusions": [
            {"truth": a, "answer": b, "n": k} for (a, b), k in confusions.most_common(3)
        ],
    }


def shift_names() -> list[str]:
    return list(SHIFTS)
