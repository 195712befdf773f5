"""The segmentation baseline: a lesion is where the organ it overlaps most is.

This is the method the retriever is measured against (``anatloc baseline segmentation``):
an organ-level label map with TotalSegmentator's classes is laid over the lesion, the class
with the most lesion voxels wins, and the class is named by the ontology term that the
shipped table maps it to (``tables/totalsegmentator.tsv``).

* **The mapping table** (:func:`class_table`): the 117 classes of TotalSegmentator v2's
  "total" task in its index order (the voxel values of its multilabel output), each with the
  ontology term that names it — the fine term where one names the structure the class
  segments (``vertebrae_T7`` → Vertebra T7, ``rib_left_7`` → Rib L7, ``kidney_left`` → Left
  kidney), else the smallest coarse term containing it (``liver`` → Liver, the lung lobes →
  Left/Right lung), or none (vessels that cross regions, the spinal cord, the back muscles:
  treated as background).  A fine answer is only possible where a class is a fine term.
* **User data**: the lesion table gets a ``seg`` column, the path of a TotalSegmentator
  multilabel NIfTI per case (``TotalSegmentator -i ct.nii.gz -o seg.nii.gz --ml``), whose
  voxel values are read in the v2 index order of the table, or in the order of a
  ``classes`` file (JSON ``{"1": "spleen", …}`` or a TSV of index and class name).
* **Phantom cases** (a case folder of ``anatloc phantom generate``, found beside the
  lesion's images): the organ map is built from the case's fine ``labels.nii.gz`` and
  ``labels.json`` — every fine location gets the class that contains it
  (``tables/phantom_totalsegmentator.tsv``: all "Liver S*" and "Porta hepatis" → ``liver``,
  "Vertebra T7" and its spinous process → ``vertebrae_T7``; lymph-node stations, fat
  spaces, subcutaneous tissue, muscles without a class → background) — and then
  **degraded where organs carry lesions** (:class:`Degradation`: around a lesion of 10 mm
  or more, with a probability that grows with its size, its host organ becomes background
  in and 5–20 mm around it), as segmentation networks under-segment tumour-bearing organs
  in severe disease.
* **Assignment** (:func:`assign`): the lesion's voxels (its mask, or the ellipsoid of its
  box) are looked up in the organ map by nearest neighbour, through both images' affines;
  the class with the most voxels wins (its share of the lesion is the score); the next two
  give the top-3.  A lesion that overlaps no mapped class **backs off to the nearest mapped
  class within** ``max_distance_mm`` (default 10 mm: a lymph node beside the aorta is
  named by the aorta); beyond that there is no answer, counted wrong.

Predictions are :class:`~anatloc.retriever.infer.Prediction` objects, so
:func:`anatloc.retriever.evaluate.evaluate` scores them exactly like the retriever's;
``abstained`` is true when the answer is not a fine location (a coarse term or none).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from anatloc.ontology.errors import AmbiguousTermError, DataError, UnknownTermError, UsageError

from .infer import Prediction
from .table import LesionRecord

CLASS_TABLE = "totalsegmentator.tsv"
PHANTOM_TABLE = "phantom_totalsegmentator.tsv"
#: the column of the lesion table that names a case's organ label map
SEG_COLUMN = "seg"
DEFAULT_MAX_DISTANCE_MM = 10.0


# -- the tables ---------------------------------------------------------------------------
def _data_text(name: str) -> str:
    return (resources.files("anatloc.retriever") / "tables" / name).read_text(encoding="utf-8")


def _read_tsv(text: str, where: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter="\t")
    rows = []
    for row in reader:
        if None in row:
            raise DataError(f"{where}: a row has more fields than the header ({row[None]})")
        rows.append({k: (v or "").strip() for k, v in row.items()})
    return rows


@dataclass(frozen=True)
class ClassRow:
    """One row of the mapping table."""

    index: int
    name: str
    term: str  # ontology label or CURIE; "" = no term (background)
    level: str  # "fine", "coarse" or ""
    note: str = ""


def class_table(path: str | os.PathLike | None = None) -> list[ClassRow]:
    """The rows of the TotalSegmentator → ontology table (default: the shipped one)."""
    text = _data_text(CLASS_TABLE) if path is None else Path(path).read_text(encoding="utf-8")
    where = str(path) if path is not None else CLASS_TABLE
    out = []
    for r in _read_tsv(text, where):
        try:
            idx = int(r["index"])
        except (KeyError, ValueError):
            raise DataError(f"{where}: bad index {r.get('index')!r}") from None
        out.append(
            ClassRow(idx, r["class"], r.get("term", ""), r.get("level", ""), r.get("note", ""))
        )
    return out


def phantom_class_table(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Fine location label → TotalSegmentator class, for phantom organ maps."""
    text = _data_text(PHANTOM_TABLE) if path is None else Path(path).read_text(encoding="utf-8")
    rows = _read_tsv(text, str(path) if path is not None else PHANTOM_TABLE)
    return {r["term"]: r["class"] for r in rows}


def read_classes_file(path: str | os.PathLike) -> dict[int, str]:
    """Voxel value → class name from a JSON object (``{"1": "spleen", …}``) or a TSV/CSV of
    index and class name (a header line is allowed)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"classes file {p} does not exist") from None
    except OSError as exc:
        raise DataError(f"cannot read the classes file {p}: {exc.strerror}") from None
    out: dict[int, str] = {}
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataError(f"{p}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DataError(f'{p}: expected a JSON object {{"1": "spleen", …}}')
        items: Iterable[tuple[Any, Any]] = data.items()
    else:
        delim = "," if p.suffix.lower() == ".csv" else "\t"
        items = []
        for ln in text.splitlines():
            if not ln.strip() or ln.lstrip().startswith("#"):
                continue
            parts = [x.strip() for x in ln.split(delim)]
            if len(parts) < 2:
                raise DataError(f"{p}: expected 'index{delim!r}class' per line, got {ln!r}")
            items.append((parts[0], parts[1]))
    for k, v in items:
        try:
            idx = int(k)
        except (TypeError, ValueError):
            if not out and str(k).lower() in ("index", "value", "label"):
                continue  # a header line
            raise DataError(f"{p}: {k!r} is not a voxel value (an integer ≥ 1)") from None
        if idx < 1:
            raise DataError(f"{p}: voxel value {idx} must be ≥ 1 (0 is background)")
        out[idx] = str(v)
    if not out:
        raise DataError(f"{p}: no classes")
    return out


@dataclass
class ClassMap:
    """Voxel values of an organ map, their class names and the ontology terms they map to."""

    names: dict[int, str]  # voxel value → class name
    curies: dict[int, str]  # voxel value → ontology CURIE (only the mapped ones)
    unknown: list[str] = field(default_factory=list)  # class names not in the table
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (class, term) not in ont

    @classmethod
    def build(
        cls,
        ont,
        classes: dict[int, str] | None = None,
        rows: Sequence[ClassRow] | None = None,
    ) -> ClassMap:
        """The map for ``classes`` (default: TotalSegmentator v2's index order) through the
        table ``rows`` (default: the shipped one), resolved in ``ont``."""
        rows = list(rows) if rows is not None else class_table()
        by_name = {r.name: r for r in rows}
        names = dict(classes) if classes is not None else {r.index: r.name for r in rows}
        curies: dict[int, str] = {}
        unknown, unresolved = [], []
        for idx, name in names.items():
            row = by_name.get(name)
            if row is None:
                unknown.append(name)
                continue
            curie = resolve_term(ont, row)
            if curie is None:
                if row.term:
                    unresolved.append((row.name, row.term))
                continue
            curies[idx] = curie
        return cls(names, curies, unknown, unresolved)

    def lookup(self, size: int | None = None) -> np.ndarray:
        """(n,) bool: which voxel values are mapped classes (0, background, never is)."""
        n = max(size or 0, max(self.names, default=0) + 1)
        lut = np.zeros(n, dtype=bool)
        for idx in self.curies:
            lut[idx] = True
        return lut

    def index_of(self, name: str) -> int:
        for idx, n in self.names.items():
            if n == name:
                return idx
        raise KeyError(name)


def resolve_term(ont, row: ClassRow) -> str | None:
    """The CURIE of a table row's term in ``ont``; None when it has none or ``ont`` lacks it."""
    if not row.term:
        return None
    try:
        return ont.get(row.term, level=row.level or None).curie
    except (UnknownTermError, AmbiguousTermError, UsageError):
        return None


# -- phantom organ maps -------------------------------------------------------------------
@dataclass(frozen=True)
class Degradation:
    """How the organ map of a phantom case is spoiled around its lesions.

    A lesion of equivalent diameter ``d`` (the sphere of its volume) is *under-segmented*
    with probability ``max_probability · clip((d − min_diameter_mm) / (full_diameter_mm −
    min_diameter_mm), 0, 1)`` — never below 10 mm, 80 % of the time from 40 mm on: then its
    host organ (the class holding most of the lesion) is removed from the lesion and a rim of
    ``clip(rim_fraction · d, rim_min_mm, rim_max_mm)`` around it (5–20 mm), which become
    background, as a segmentation network leaves a tumour and the organ around it
    unlabelled.  Neighbouring organs keep their labels, so a lesion may then be named by a
    neighbour or not at all.  The draw is ``default_rng([seed, crc32(case_id), lesion
    id])``: deterministic, and independent of the other lesions and cases.
    """

    min_diameter_mm: float = 10.0
    full_diameter_mm: float = 40.0
    max_probability: float = 0.8
    rim_fraction: float = 0.5
    rim_min_mm: float = 5.0
    rim_max_mm: float = 20.0

    def probability(self, d: float) -> float:
        span = max(1e-9, self.full_diameter_mm - self.min_diameter_mm)
        return self.max_probability * float(np.clip((d - self.min_diameter_mm) / span, 0.0, 1.0))

    def rim(self, d: float) -> float:
        return float(np.clip(self.rim_fraction * d, self.rim_min_mm, self.rim_max_mm))


NO_DEGRADATION = Degradation(max_probability=0.0)


def phantom_lookup(ont, labels_json: dict[str, Any], cmap: ClassMap) -> np.ndarray:
    """(max label + 1,) int: the class voxel value of each fine label index of a phantom
    case (``labels.json``); 0 where the location has no class."""
    fine_to_class = phantom_class_table()
    class_index = {name: idx for idx, name in cmap.names.items()}
    curie_to_class: dict[str, int] = {}
    for label, cname in fine_to_class.items():
        try:
            curie = ont.get(label, level="fine").curie
        except (UnknownTermError, AmbiguousTermError):
            continue  # an ontology without this location
        if cname in class_index:
            curie_to_class[curie] = class_index[cname]
    n = max((int(k) for k in labels_json), default=0) + 1
    lut = np.zeros(n, dtype=np.int16)
    for k, v in labels_json.items():
        lut[int(k)] = curie_to_class.get(v.get("curie", ""), 0)
    return lut


def organ_map_from_labels(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """The organ-level map (class voxel values) of a fine label volume."""
    lab = np.asarray(labels)
    if lab.size and (lab.min() < 0 or lab.max() >= len(lut)):
        raise DataError(
            f"the label map holds values outside 0…{len(lut) - 1} (labels.json lists fewer)"
        )
    return lut[lab]


def degrade(
    organ: np.ndarray,
    lesions: np.ndarray,
    spacing: Sequence[float],
    model: Degradation,
    *,
    seed: int = 0,
    case_id: str = "",
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A copy of ``organ`` spoiled around the lesions of the instance mask ``lesions`` (same
    grid), and one record per lesion (id, diameter, whether and how it was degraded)."""
    from scipy import ndimage

    out = np.array(organ, copy=True)
    spacing = np.asarray(spacing, dtype=float)
    lesions = np.asarray(lesions)
    ids = np.unique(lesions)
    ids = ids[ids > 0].astype(int)
    report: list[dict[str, Any]] = []
    if len(ids) == 0 or model.max_probability <= 0:
        return out, [{"lesion": int(i), "degraded": False} for i in ids]
    objects = ndimage.find_objects(lesions.astype(np.int32, copy=False))
    case_key = zlib.crc32(case_id.encode("utf-8"))
    for lid in ids:
        sl = objects[lid - 1]
        if sl is None:
            continue
        n_vox = int((lesions[sl] == lid).sum())
        d = float((6.0 * n_vox * spacing.prod() / math.pi) ** (1.0 / 3.0))
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, case_key, int(lid)])
        p = model.probability(d)
        rec: dict[str, Any] = {"lesion": int(lid), "diameter_mm": round(d, 1), "degraded": False}
        if rng.random() < p:
            r = model.rim(d)
            pad = np.ceil(r / spacing).astype(int) + 1
            esl = tuple(
                slice(max(0, s.start - k), min(n, s.stop + k))
                for s, k, n in zip(sl, pad, lesions.shape, strict=True)
            )
            sub = lesions[esl] == lid
            under = out[esl][sub]
            under = under[under > 0].astype(np.int64)
            if len(under):  # the host organ: the class holding most of the lesion
                host = int(np.argmax(np.bincount(under)))
                dist = ndimage.distance_transform_edt(~sub, sampling=spacing)
                view = out[esl]
                view[(dist <= r) & (view == host)] = 0
                rec.update(degraded=True, rim_mm=round(r, 1), removed=[host])
        report.append(rec)
    return out, report


# -- reading label volumes ----------------------------------------------------------------
@dataclass
class LabelVolume:
    """An integer label volume and its affine (voxel → world mm, RAS)."""

    data: np.ndarray
    affine: np.ndarray
    path: Path | None = None

    @property
    def spacing(self) -> np.ndarray:
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    def to_voxel(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) world mm → (n, 3) nearest voxel indices (may lie outside)."""
        inv = np.linalg.inv(self.affine)
        return np.rint(points @ inv[:3, :3].T + inv[:3, 3]).astype(np.int64)


def load_labels(path: str | os.PathLike, what: str = "label map") -> LabelVolume:
    """An integer NIfTI (organ map, lesion mask) read as stored, with clear errors."""
    import nibabel as nib

    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"{what} {p} does not exist" if not p.exists() else f"{what} {p} is a folder"
        )
    try:
        img = nib.load(str(p))
        data = np.asanyarray(img.dataobj)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:  # nibabel raises many kinds for a bad file
        raise DataError(
            f"cannot read {what} {p} as NIfTI ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})"
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"{what} {p}: expected a 3-D volume, got shape {tuple(data.shape)}")
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.allclose(data, np.round(data)):
            raise DataError(f"{what} {p}: non-integer values; expected integer labels")
        data = np.rint(data).astype(np.int32)
    if abs(float(np.linalg.det(affine[:3, :3]))) < 1e-9:
        raise DataError(f"{what} {p}: the affine is not invertible")
    return LabelVolume(data, affine, p)


def lesion_points(rec: LesionRecord, masks: dict[str, LabelVolume], step_mm: float) -> np.ndarray:
    """(n, 3) world points of a lesion: its mask voxels, or its box's inscribed ellipsoid
    sampled every ``step_mm``."""
    if rec.mask is not None and rec.mask_label is not None:
        key = str(rec.mask)
        if key not in masks:
            masks.clear()  # one case at a time
            masks[key] = load_labels(rec.mask, "mask image")
        m = masks[key]
        ijk = np.argwhere(m.data == rec.mask_label)
        if len(ijk) == 0:
            raise DataError(
                f"{_where(rec)}: lesion id {rec.mask_label} (column 'mask_label') does not occur "
                f"in the mask {rec.mask.name}"
            )
        return ijk @ m.affine[:3, :3].T + m.affine[:3, 3]
    c = np.asarray(rec.center, dtype=float)
    half = np.asarray(rec.size, dtype=float) / 2.0
    axes = [np.arange(-h, h + 1e-9, step_mm) if h > step_mm else np.array([0.0]) for h in half]
    g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    inside = ((g / np.maximum(half, 1e-9)) ** 2).sum(1) <= 1.0
    pts = g[inside] if inside.any() else np.zeros((1, 3))
    return pts + c


def _where(rec: LesionRecord) -> str:
    """'table line N' of a record, as the table reader words it."""
    path, _, line = rec.source.rpartition(":")
    return f"{path} line {line}" if path and line.isdigit() else (rec.source or rec.lesion_id)


# -- assignment ---------------------------------------------------------------------------
@dataclass
class Assignment:
    """Where one lesion landed in an organ map."""

    classes: list[int]  # mapped voxel values, best first (≤ 3)
    share: float  # fraction of the lesion's points in the best class (0 when backed off)
    how: str  # "overlap", "nearest" or "none"
    distance_mm: float = 0.0


def assign(
    points: np.ndarray,
    seg: LabelVolume,
    mapped: np.ndarray,
    max_distance_mm: float = DEFAULT_MAX_DISTANCE_MM,
) -> Assignment:
    """The mapped class the points overlap most; else the nearest within ``max_distance_mm``."""
    from scipy import ndimage

    ijk = seg.to_voxel(points)
    shape = np.asarray(seg.data.shape)
    inside = ((ijk >= 0) & (ijk < shape)).all(axis=1)
    vals = np.zeros(len(ijk), dtype=np.int64)
    if inside.any():
        vals[inside] = seg.data[tuple(ijk[inside].T)]
    vals = np.where((vals > 0) & (vals < len(mapped)), vals, 0)
    vals = np.where(mapped[vals], vals, 0)
    hit = vals[vals > 0]
    if len(hit):
        counts = np.bincount(hit)
        order = np.argsort(-counts, kind="stable")
        best = [int(v) for v in order[:3] if counts[v] > 0]
        return Assignment(best, float(counts[best[0]]) / len(points), "overlap")
    if max_distance_mm <= 0:
        return Assignment([], 0.0, "none")
    sp = seg.spacing
    pad = np.ceil(max_distance_mm / sp).astype(int) + 1
    lo = np.maximum(ijk.min(axis=0) - pad, 0)
    hi = np.minimum(ijk.max(axis=0) + pad + 1, shape)
    if np.any(hi <= lo):
        return Assignment([], 0.0, "none")
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    crop = np.asarray(seg.data[sl]).astype(np.int64)
    crop = np.where((crop > 0) & (crop < len(mapped)), crop, 0)
    crop = np.where(mapped[crop], crop, 0)
    if not crop.any():
        return Assignment([], 0.0, "none")
    dist, idx = ndimage.distance_transform_edt(crop == 0, sampling=sp, return_indices=True)
    local = np.clip(ijk - lo, 0, np.asarray(crop.shape) - 1)
    d = dist[tuple(local.T)]
    j = int(np.argmin(d))
    if d[j] > max_distance_mm:
        return Assignment([], 0.0, "none", float(d[j]))
    near = tuple(int(idx[a][tuple(local[j])]) for a in range(3))
    return Assignment([int(crop[near])], 0.0, "nearest", float(d[j]))


# -- the baseline ---------------------------------------------------------------------------
@dataclass
class SegmentationPrediction(Prediction):
    """A baseline prediction: the retriever's fields plus the class and how it was found."""

    seg_class: str = ""
    how: str = ""

    def as_row(self) -> dict[str, Any]:
        row = super().as_row()
        row.update({"class": self.seg_class, "how": self.how})
        return row


def phantom_folder(rec: LesionRecord) -> Path | None:
    """The phantom case folder of a lesion (labels.nii.gz and labels.json beside its
    images), or None."""
    for p in (rec.mask, rec.pet, rec.ct):
        if p is None:
            continue
        folder = p.parent
        if (folder / "labels.nii.gz").is_file() and (folder / "labels.json").is_file():
            return folder
    return None


@dataclass
class BaselineRun:
    """Predictions and what happened on the way (for messages and the benchmark)."""

    predictions: list[SegmentationPrediction]
    sources: dict[str, int]  # "phantom" / "seg" → number of cases
    how: dict[str, int]  # "overlap" / "nearest" / "none" → lesions
    degraded: int  # phantom lesions whose organ was spoiled
    class_map: ClassMap


def _term_fields(ont, curie: str) -> dict[str, str]:
    t = ont[curie]
    c = t if t.level == "coarse" else ont[t.parent]
    return {
        "location": t.label,
        "curie": t.curie,
        "coarse": c.label,
        "coarse_curie": c.curie,
        "region": ont.region_of(c).label,
        "fine": t.level == "fine",
    }


def segmentation_baseline(
    records: Sequence[LesionRecord],
    ont,
    *,
    table: str | os.PathLike | None = None,
    classes: dict[int, str] | None = None,
    max_distance_mm: float = DEFAULT_MAX_DISTANCE_MM,
    degradation: Degradation = Degradation(),
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> BaselineRun:
    """Run the baseline on lesion records; see the module docstring.

    A record's organ map is the ``seg`` cell of its row (relative to the folder of
    ``table``) read with ``classes`` (default: TotalSegmentator v2's order), else the
    organ map of its phantom case (degraded by ``degradation``, seeded by ``seed``).
    """
    base_dir = Path(table).parent if table is not None else Path(".")
    cmap = ClassMap.build(ont, classes)
    phantom_cmap = ClassMap.build(ont) if classes is not None else cmap
    groups: dict[tuple[str, str], list[int]] = {}
    for i, rec in enumerate(records):
        seg = (rec.row.get(SEG_COLUMN) or "").strip()
        if seg:
            p = Path(seg).expanduser()
            p = p if p.is_absolute() else (base_dir / p).resolve()
            if not p.is_file():
                raise DataError(
                    f"{_where(rec)}, column {SEG_COLUMN!r}: file {seg!r} not found (resolved to "
                    f"{p}; relative paths are read from the table's folder)"
                )
            groups.setdefault(("seg", str(p)), []).append(i)
            continue
        folder = phantom_folder(rec)
        if folder is None:
            raise DataError(
                f"{_where(rec)}: no organ label map for case {rec.case_id!r}: give a "
                f"{SEG_COLUMN!r} column (a TotalSegmentator multilabel NIfTI of the case) or "
                "use phantom cases (labels.nii.gz and labels.json beside the images)"
            )
        groups.setdefault(("phantom", str(folder)), []).append(i)

    preds: list[SegmentationPrediction | None] = [None] * len(records)
    how = {"overlap": 0, "nearest": 0, "none": 0}
    sources = {"phantom": 0, "seg": 0}
    n_degraded = 0
    done = 0
    for (kind, where), idx in groups.items():
        sources[kind] += 1
        masks: dict[str, LabelVolume] = {}
        if kind == "seg":
            seg = load_labels(where, "organ label map")
            m = cmap
        else:
            seg, rep = _phantom_organ_map(Path(where), ont, phantom_cmap, degradation, seed)
            n_degraded += sum(1 for r in rep if r.get("degraded"))
            m = phantom_cmap
        mapped = m.lookup(int(seg.data.max()) + 1 if seg.data.size else 1)
        step = float(max(1.0, seg.spacing.min()))
        for i in idx:
            rec = records[i]
            pts = lesion_points(rec, masks, step)
            a = assign(pts, seg, mapped, max_distance_mm)
            how[a.how] += 1
            preds[i] = _prediction(rec, a, m, ont)
            done += 1
            if progress is not None:
                progress(done, len(records))
        del seg, masks
    return BaselineRun([p for p in preds if p is not None], sources, how, n_degraded, cmap)


def _prediction(rec: LesionRecord, a: Assignment, m: ClassMap, ont) -> SegmentationPrediction:
    common = dict(lesion_id=rec.lesion_id, case_id=rec.case_id, columns=dict(rec.row))
    if not a.classes:
        return SegmentationPrediction(
            location="",
            curie="",
            coarse="",
            coarse_curie="",
            region="",
            score=0.0,
            top3=[],
            top3_curies=[],
            abstained=True,
            seg_class="",
            how=a.how,
            **common,
        )
    best = _term_fields(ont, m.curies[a.classes[0]])
    tops = [_term_fields(ont, m.curies[c]) for c in a.classes]
    fine_tops = [t for t in tops if t["fine"]]
    return SegmentationPrediction(
        location=best["location"],
        curie=best["curie"],
        coarse=best["coarse"],
        coarse_curie=best["coarse_curie"],
        region=best["region"],
        score=round(a.share, 4),
        top3=[t["location"] for t in fine_tops],
        top3_curies=[t["curie"] for t in fine_tops],
        abstained=not best["fine"],
        seg_class=m.names[a.classes[0]],
        how=a.how,
        **common,
    )


def _phantom_organ_map(
    folder: Path, ont, cmap: ClassMap, degradation: Degradation, seed: int
) -> tuple[LabelVolume, list[dict[str, Any]]]:
    try:
        labels_json = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {folder / 'labels.json'}: {exc}") from None
    labels = load_labels(folder / "labels.nii.gz", "label map")
    organ = organ_map_from_labels(labels.data, phantom_lookup(ont, labels_json, cmap))
    report: list[dict[str, Any]] = []
    lesion_file = folder / "lesions.nii.gz"
    if degradation.max_probability > 0 and lesion_file.is_file():
        les = load_labels(lesion_file, "lesion mask")
        if les.data.shape != organ.shape or not np.allclose(les.affine, labels.affine, atol=1e-3):
            raise DataError(f"{lesion_file} and {folder / 'labels.nii.gz'} are on different grids")
        organ, report = degrade(
            organ, les.data, labels.spacing, degradation, seed=seed, case_id=folder.name
        )
    return LabelVolume(organ, labels.affine, folder / "labels.nii.gz"), report
