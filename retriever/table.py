"""The lesion table: one row per lesion, read and validated into :class:`LesionRecord`.

Columns (see ``docs/retriever.md``):

==================  ==========================================================================
``case_id``         the patient/study; lesions of one case share their images
``ct``              CT image (NIfTI, or a DICOM folder for prediction); the column may be
                    absent or a cell empty (PET-only)
``pet``             PET image in SUV (NIfTI), or a DICOM folder for prediction
``mask``            instance mask (NIfTI), with ``mask_label`` the id of *this* lesion
``center_x/y/z``    or: the lesion's centre in world mm (RAS) …
``size_x/y/z``      … and its box size in mm (an ellipsoid mask is drawn from it)
``locations``       acceptable locations, ``|``-separated labels, synonyms or CURIEs, the
                    first one primary; empty when unknown (prediction)
``lesion_id``       optional; default ``<case_id>:<mask_label>`` or ``<case_id>:<row>``
==================  ==========================================================================

Relative paths resolve against the table's folder.  Every error names the file, the line
and the column and value that are wrong; an unknown location suggests the closest labels.
A table named ``*.tsv`` is read tab-separated, anything else comma-separated.

The boxes file of one case (``anatloc predict --boxes``, :func:`read_boxes`) is read by the
same reader with the same checks and messages (the file's kind named in them): its rows hold
only the boxes (``center_*``/``size_*``, an optional ``lesion_id``), the case and its images
being given.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from anatloc.ontology.errors import AmbiguousTermError, DataError, UnknownTermError

REQUIRED = ("case_id", "pet")
CENTER = ("center_x", "center_y", "center_z")
SIZE = ("size_x", "size_y", "size_z")
KNOWN = ("case_id", "lesion_id", "ct", "pet", "mask", "mask_label", *CENTER, *SIZE, "locations")


@dataclass(frozen=True)
class LesionRecord:
    """One lesion of a table, with resolved paths and fine-level location CURIEs."""

    lesion_id: str
    case_id: str
    pet: Path
    ct: Path | None = None
    mask: Path | None = None
    mask_label: int | None = None
    center: tuple[float, float, float] | None = None
    size: tuple[float, float, float] | None = None
    #: acceptable fine locations (CURIEs), the first one primary; () when unknown
    locations: tuple[str, ...] = ()
    #: the row as written (every column), echoed into the predictions
    row: dict[str, str] = field(default_factory=dict, compare=False)
    source: str = ""  # "<file>:<line>" for messages
    line: int = 0

    @property
    def images_key(self) -> tuple[str, str, str]:
        """Lesions with the same key share their images (loaded once)."""
        return (str(self.pet), str(self.ct or ""), str(self.mask or ""))


def _err(path: Path, line: int, column: str | None, msg: str) -> DataError:
    where = f"{path} line {line}" + (f", column {column!r}" if column else "")
    return DataError(f"{where}: {msg}")


def _float(path: Path, line: int, col: str, value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise _err(path, line, col, f"{value!r} is not a number (mm)") from None
    if not math.isfinite(v):
        raise _err(path, line, col, f"{value!r} is not a finite number")
    return v


def _resolve(path: Path, line: int, col: str, value: str, check: bool) -> Path:
    try:
        p = Path(value).expanduser()
        if not p.is_absolute():
            p = (path.parent / p).resolve()
        # a PET or CT may be a folder of DICOM files (read when predicting)
        found = not check or p.is_file() or (col in ("pet", "ct") and p.is_dir())
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL, a name too long, ~nobody
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _err(path, line, col, f"{value!r} is not a usable file name ({why})") from None
    if not found:
        raise _err(
            path,
            line,
            col,
            f"file {value!r} not found (resolved to {p}; relative paths are read from the "
            "table's folder)",
        )
    return p


def resolve_locations(ont, names: Sequence[str], where: str) -> tuple[str, ...]:
    """Fine-level CURIEs for labels, synonyms or CURIEs (duplicates dropped, order kept)."""
    out: list[str] = []
    for name in names:
        try:
            term = ont.get(name, level="fine", where=where)
        except UnknownTermError as exc:
            others = [t for t in ont.find(name) if t.level != "fine"]
            if others:
                t = others[0]
                kids = ", ".join(c.label for c in ont.children(t)[:4])
                raise DataError(
                    f"{where}: {name!r} is a {t.level} location; the table needs fine "
                    f"locations" + (f" (its children are {kids}, …)" if kids else "")
                ) from None
            raise DataError(str(exc)) from None
        except AmbiguousTermError as exc:
            raise DataError(f"{where}: {exc}") from None
        if term.curie not in out:
            out.append(term.curie)
    return tuple(out)


@dataclass(frozen=True)
class _Kind:
    """How messages name a kind of lesion-row file, and what its header must hold."""

    noun: str  # "lesion table"
    columns: str  # the columns an empty file should have had
    rows: str  # what a file with a header only lacks


TABLE = _Kind(
    "lesion table",
    f"{', '.join(REQUIRED)}, ct, locations and mask+mask_label or center_*/size_*",
    "lesion rows",
)
BOXES = _Kind("boxes file", ", ".join((*CENTER, *SIZE)), "boxes")


def _open_rows(path: Path, kind: _Kind) -> tuple[list[str], csv.DictReader]:
    """The header (names stripped) and a reader of the rows of a UTF-8 CSV file (``*.tsv``:
    tab-separated; quoting checked strictly); the messages name the file's ``kind``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{kind.noun} {path} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"{kind.noun} {path} is a folder; expected a CSV file") from None
    except OSError as exc:
        raise DataError(f"cannot read {kind.noun} {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    if not text.strip():
        raise DataError(f"{path} is empty; expected a header line with the columns {kind.columns}")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise DataError(f"{path} line 1: {exc}") from None
    reader.fieldnames = header
    return header, reader


def _rows(
    path: Path, header: list[str], reader: csv.DictReader
) -> Iterator[tuple[int, int, dict[str, str], dict[str, str]]]:
    """(row number, line, stripped cells, the row as written) of each row that is not blank;
    a row with more fields than the header, or malformed CSV, is an error."""
    try:
        for row_no, row in enumerate(reader, start=1):
            line = reader.line_num
            if None in row:
                n = len(header) + len(row[None])  # type: ignore[index]
                raise _err(path, line, None, f"{n} fields, the header has {len(header)}")
            cells = {k: (v or "").strip() for k, v in row.items() if k}
            if any(cells.values()):
                yield row_no, line, cells, row
    except csv.Error as exc:  # DictReader.line_num stops at the last good row; the bad one:
        line = reader.reader.line_num
        raise DataError(f"{path} line {line}: malformed CSV ({exc})") from None


def _box(
    path: Path, line: int, cells: dict[str, str], *, need: bool, lenient: bool = False
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(centre, size) of a row's box; None when it has none.  A box with an empty cell is
    an error, unless ``lenient`` (the row places its lesion otherwise) — and so is no box
    at all when ``need``."""
    given = [c for c in (*CENTER, *SIZE) if cells.get(c)]
    if len(given) < len(CENTER) + len(SIZE):
        if lenient or not (given or need):
            return None
        empty = [c for c in (*CENTER, *SIZE) if not cells.get(c)]
        raise _err(path, line, empty[0], "empty; a box needs all of center_x/y/z and size_x/y/z")
    center = tuple(_float(path, line, c, cells[c]) for c in CENTER)
    size = tuple(_float(path, line, c, cells[c]) for c in SIZE)
    for c, v in zip(SIZE, size, strict=True):
        if v <= 0:
            raise _err(path, line, c, f"{cells[c]!r}: a size must be positive (mm)")
    return center, size


def _unique(path: Path, line: int, lesion_id: str, seen: dict[str, int]) -> str:
    """``lesion_id``, remembered; one seen on an earlier line is an error."""
    if lesion_id in seen:
        raise _err(
            path,
            line,
            "lesion_id",
            f"duplicate lesion id {lesion_id!r} (first on line {seen[lesion_id]})",
        )
    seen[lesion_id] = line
    return lesion_id


def _mask_label(path: Path, line: int, value: str) -> int:
    try:
        label = int(float(value))
        if label != float(value) or label < 1:
            raise ValueError
    except (ValueError, OverflowError):
        raise _err(
            path, line, "mask_label", f"{value!r} is not a lesion id (an integer ≥ 1 in the mask)"
        ) from None
    return label


def _check_table_header(path: Path, header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(h for h in header if h) or 'nothing'}"
        )
    has_box = all(c in header for c in (*CENTER, *SIZE))
    partial_box = [c for c in (*CENTER, *SIZE) if c in header]
    if "mask" not in header and not has_box:
        need = [c for c in (*CENTER, *SIZE) if c not in header]
        raise DataError(
            f"{path}: missing column(s) to place the lesions: either mask + mask_label or "
            f"center_x,center_y,center_z,size_x,size_y,size_z"
            + (f" (missing {', '.join(need)})" if partial_box else "")
        )
    if "mask" in header and "mask_label" not in header:
        raise DataError(f"{path}: column 'mask' needs the column 'mask_label' (the lesion's id)")


def read_lesion_table(
    path: str | Path,
    ont=None,
    *,
    require_locations: bool = False,
    check_files: bool = True,
) -> list[LesionRecord]:
    """Read and validate a lesion table.

    ``ont`` resolves the locations (needed when any row has some); ``require_locations``
    makes an empty ``locations`` cell an error (training and evaluation need them);
    ``check_files`` checks that every image exists.
    """
    path = Path(path)
    header, reader = _open_rows(path, TABLE)
    _check_table_header(path, header)
    has_mask = "mask" in header
    has_box = all(c in header for c in (*CENTER, *SIZE))
    records: list[LesionRecord] = []
    seen: dict[str, int] = {}
    for row_no, line, cells, row in _rows(path, header, reader):
        case_id = cells.get("case_id", "")
        if not case_id:
            raise _err(path, line, "case_id", "empty; every lesion needs its case")
        if not cells.get("pet"):
            raise _err(path, line, "pet", "empty; every lesion needs a PET image")
        pet = _resolve(path, line, "pet", cells["pet"], check_files)
        ct = _resolve(path, line, "ct", cells["ct"], check_files) if cells.get("ct") else None
        mask = mask_label = None
        if has_mask and cells.get("mask"):
            mask = _resolve(path, line, "mask", cells["mask"], check_files)
            mask_label = _mask_label(path, line, cells.get("mask_label", ""))
        box = _box(path, line, cells, need=False, lenient=mask is not None) if has_box else None
        if mask is None and box is None:
            raise _err(
                path,
                line,
                None,
                "no lesion position: give mask + mask_label or center_x/y/z + size_x/y/z",
            )
        names = [n.strip() for n in cells.get("locations", "").split("|") if n.strip()]
        if names and ont is None:
            from anatloc.ontology import load_ontology

            ont = load_ontology()
        if not names and require_locations:
            raise _err(
                path,
                line,
                "locations",
                "empty; training and evaluation need at least one location per lesion",
            )
        where = f"{path} line {line}, column 'locations'"
        locs = resolve_locations(ont, names, where) if names else ()
        lesion_id = cells.get("lesion_id") or (
            f"{case_id}:{mask_label}" if mask_label is not None else f"{case_id}:{row_no}"
        )
        records.append(
            LesionRecord(
                lesion_id=_unique(path, line, lesion_id, seen),
                case_id=case_id,
                pet=pet,
                ct=ct,
                mask=mask,
                mask_label=mask_label,
                center=box[0] if box else None,  # type: ignore[arg-type]
                size=box[1] if box else None,  # type: ignore[arg-type]
                locations=locs,
                row={k: row.get(k) or "" for k in header if k},
                source=f"{path}:{line}",
                line=line,
            )
        )
    if not records:
        raise DataError(f"{path} has a header but no {TABLE.rows}")
    return records


def read_boxes(
    path: str | Path, case_id: str, pet: Path, ct: Path | None = None
) -> list[LesionRecord]:
    """The box lesions of one case (``--boxes``): a file read as a lesion table is, whose
    rows hold ``center_x,center_y,center_z,size_x,size_y,size_z`` (world mm, RAS) and an
    optional ``lesion_id``; the case and its images are given, and the other columns are
    echoed into the predictions."""
    path = Path(path)
    header, reader = _open_rows(path, BOXES)
    missing = [c for c in (*CENTER, *SIZE) if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; a boxes file has the columns "
            f"{BOXES.columns} (world mm, RAS) and optionally lesion_id"
        )
    records: list[LesionRecord] = []
    seen: dict[str, int] = {}
    for n, line, cells, row in _rows(path, header, reader):
        center, size = _box(path, line, cells, need=True)  # type: ignore[misc]
        lesion_id = _unique(path, line, cells.get("lesion_id") or f"{case_id}:{n}", seen)
        cols = {"case_id": case_id, "lesion_id": lesion_id, "pet": str(pet)}
        cols["ct"] = str(ct) if ct is not None else ""
        cols.update({k: row.get(k) or "" for k in header if k and k not in cols})
        records.append(
            LesionRecord(
                lesion_id=lesion_id,
                case_id=case_id,
                pet=pet,
                ct=ct,
                center=center,  # type: ignore[arg-type]
                size=size,  # type: ignore[arg-type]
                row=cols,
                source=f"{path}:{line}",
                line=line,
            )
        )
    if not records:
        raise DataError(f"{path} has a header but no {BOXES.rows}")
    return records
