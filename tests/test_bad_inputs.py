"""The catalogue of bad inputs (issue 9): each case is run through the real CLI and must give
one line on stderr (``error: …`` naming the file or value and what was expected), the
documented exit code (``docs/errors.md``), and leave every file of the user unchanged, with no
output written.  A few inputs that look odd but are fine (a one-voxel lesion, thousands of
lesions, a PET in Bq/ml) must work.

The images are the small synthetic cases of the retriever tests (``tests/retriever/synth.py``),
copied into each test's folder and damaged there; the model is the retriever tests' tiny model.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from anatloc.cli.main import app
from anatloc.ontology import load_ontology
from anatloc.ontology.errors import (
    EXIT_BAD_DATA,
    EXIT_EXTERNAL,
    EXIT_REFUSED,
    EXIT_USAGE,
)
from tests.retriever.conftest import (  # noqa: F401  (fixtures used here)
    _fake_cache,
    _one_torch_thread,
    fake_text_cache,
    synth_table,
    tiny_model,
)

runner = CliRunner()


def run(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(r) -> str:
    """The one ``error: …`` line of a failed command (and nothing else on stderr)."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (but lock files, which an edit leaves) and its sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


@dataclass
class Work:
    """A test's folder: a copy of the synthetic cases, the tiny model, where output would go."""

    dir: Path
    model: Path

    @property
    def pet(self) -> Path:
        return self.dir / "case0_pet.nii.gz"

    @property
    def ct(self) -> Path:
        return self.dir / "case0_ct.nii.gz"

    @property
    def mask(self) -> Path:
        return self.dir / "case0_mask.nii.gz"

    @property
    def table(self) -> Path:
        return self.dir / "lesions.csv"

    @property
    def out(self) -> Path:
        return self.dir / "out.csv"

    def predict(self, pet=None, ct=None, mask=None, *extra) -> list:
        """``anatloc predict`` of case 0 with some of its files replaced."""
        return [
            "predict", "--pet", pet or self.pet, "--ct", ct or self.ct,
            "--lesions", mask or self.mask, "--model", self.model, "--device", "cpu",
            "--out", self.out, *extra,
        ]  # fmt: skip

    def predict_table(self, text: str) -> list:
        self.table.write_text(text)
        return ["predict", "--table", self.table, "--model", self.model, "--device", "cpu",
                "--out", self.out]  # fmt: skip

    def image(self, name: str, arr: np.ndarray, affine=None) -> Path:
        p = self.dir / name
        nib.save(nib.Nifti1Image(arr, np.eye(4) if affine is None else affine), p)
        return p

    def data(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        img = nib.load(path)
        return np.asanyarray(img.dataobj), img.affine

    def table_rows(self) -> list[str]:
        return self.table.read_text().splitlines()


@pytest.fixture
def work(tmp_path, synth_table, tiny_model) -> Work:  # noqa: F811
    d = tmp_path / "work"
    shutil.copytree(synth_table.parent, d)
    return Work(d, tiny_model)


# -- the cases ---------------------------------------------------------------------------------
# each builds the command line in the test's folder and returns it with the words that the one
# error line must hold; the exit code and the words are the documented ones (docs/errors.md)

Build = Callable[[Work], tuple[list, list[str]]]


def _missing(w: Work):
    p = w.dir / "missing_pet.nii.gz"
    return w.predict(pet=p), [f"pet image {p} does not exist"]


def _folder(w: Work):
    p = w.dir / "dicom"
    p.mkdir()
    (p / "IM0001.dcm").write_bytes(b"DICM")
    return w.predict(pet=p), [f"pet image {p} is a folder", "expected a NIfTI file", "dcm2niix"]


def _not_nifti(w: Work):
    p = w.dir / "notes.nii"
    p.write_text("this is a text file, not an image\n" * 20)
    return w.predict(pet=p), [f"pet image {p} is not a NIfTI image", "expected a .nii or .nii.gz"]


def _truncated_gzip(w: Work):
    p = w.dir / "cut_ct.nii.gz"
    raw = w.ct.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    return w.predict(ct=p), [f"ct image {p}", "truncated or damaged file", "export the image again"]


def _corrupt_gzip(w: Work):
    p = w.dir / "bad_pet.nii.gz"
    raw = bytearray(w.pet.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 64] = bytes(64)  # zeros in the middle of the deflate stream
    p.write_bytes(bytes(raw))
    return w.predict(pet=p), [f"pet image {p}", "truncated or damaged file"]


def _corrupt_gzip_mask(w: Work):
    # predict reads masks block-wise and never reaches the gzip trailer: a byte changed in a
    # stored (uncompressed) deflate block inflates without complaint, only the CRC tells
    p = w.dir / "bad_mask.nii.gz"
    raw = bytearray(gzip.decompress(w.mask.read_bytes()))
    raw[len(raw) - 100] ^= 0x07  # a voxel of the mask: another lesion id
    stored = bytearray(gzip.compress(bytes(raw), compresslevel=0))
    body = gzip.compress(bytes(gzip.decompress(w.mask.read_bytes())), compresslevel=0)
    stored[-8:] = body[-8:]  # the original CRC and length: the data no longer matches them
    p.write_bytes(bytes(stored))
    return w.predict(mask=p), [f"mask image {p}", "truncated or damaged file"]


def _image_2d(w: Work):
    p = w.image("flat_pet.nii.gz", np.ones((32, 32), np.float32))
    return w.predict(pet=p), [f"pet image {p}: expected a 3-D image, got 2 dimensions"]


def _image_4d(w: Work):
    arr, aff = w.data(w.pet)
    p = w.image("dyn_pet.nii.gz", np.stack([arr, arr], -1).astype(np.float32), aff)
    return w.predict(pet=p), [
        f"pet image {p}: expected a 3-D image, got 4 dimensions",
        "give one 3-D volume",
    ]


def _nan_pet(w: Work):
    arr, aff = w.data(w.pet)
    arr = arr.astype(np.float32)
    arr[3, 4, 5] = np.nan
    arr[6, 7, 8] = np.inf
    p = w.image("nan_pet.nii.gz", arr, aff)
    return w.predict(pet=p), [
        f"pet image {p}: 2 voxel(s) are NaN or infinite; expected finite values"
    ]


def _inf_ct(w: Work):
    arr, aff = w.data(w.ct)
    arr = arr.astype(np.float32)
    arr[arr > 200] = np.inf  # in the lesions, where the patches are cut
    p = w.image("inf_ct.nii.gz", arr, aff)
    return w.predict(ct=p), [f"ct image {p}", "NaN or infinite; expected finite values"]


def _no_overlap(w: Work):
    arr, aff = w.data(w.ct)
    aff = aff.copy()
    aff[:3, 3] += [0, 0, 5000.0]  # another patient's CT, or a header in metres
    p = w.image("far_ct.nii.gz", arr, aff)
    return w.predict(ct=p), [
        f"ct image {p} and the pet image {w.pet} do not overlap in world space",
        "expected one patient's PET and CT",
    ]


def _singular_affine(w: Work):
    """nibabel refuses to write a singular affine: the header's srow_y is zeroed in place."""
    arr, aff = w.data(w.pet)
    p = w.dir / "flat_affine_pet.nii"
    img = nib.Nifti1Image(arr.astype(np.float32), aff)
    img.header.set_sform(aff, code=1)
    img.header.set_qform(None, code=0)
    nib.save(img, p)
    raw = bytearray(p.read_bytes())
    raw[296:312] = struct.pack("<4f", 0.0, 0.0, 0.0, 0.0)  # srow_y
    p.write_bytes(bytes(raw))
    return w.predict(pet=p), [f"pet image {p}: the affine is not invertible", "3-D voxel grid"]


def _mask_grid_neither(w: Work):
    arr, aff = w.data(w.mask)
    aff = aff.copy()
    aff[:3, 3] += [3000.0, 0, 0]
    p = w.image("far_mask.nii.gz", arr[:40], aff)
    return w.predict(mask=p), [
        f"mask image {p} matches the grid of no image",
        "outside the PET in world space",
        "expected a mask on the PET or CT grid",
    ]


def _mask_shape_other_affine(w: Work):
    arr, _ = w.data(w.mask)
    p = w.image("headerless_mask.nii.gz", arr, np.eye(4))
    return w.predict(mask=p), [
        f"mask image {p} has the shape of the ct image {w.ct} but another affine",
        "expected a mask saved with its image's header",
    ]


def _empty_mask(w: Work):
    arr, aff = w.data(w.mask)
    p = w.image("empty_mask.nii.gz", np.zeros_like(arr), aff)
    return w.predict(mask=p), [f"mask image {p} is empty", "no lesion to locate"]


def _probability_mask(w: Work):
    arr, aff = w.data(w.mask)
    p = w.image("prob_mask.nii.gz", (arr > 0).astype(np.float32) * 0.7, aff)
    return w.predict(mask=p), [f"mask image {p}: non-integer values", "expected an instance mask"]


def _centre_outside(w: Work):
    boxes = w.dir / "boxes.csv"
    boxes.write_text(
        "center_x,center_y,center_z,size_x,size_y,size_z\n0,0,0,10,10,10\n4000,0,0,10,10,10\n"
    )
    args = ["predict", "--pet", w.pet, "--boxes", boxes, "--model", w.model, "--device", "cpu",
            "--out", w.out]  # fmt: skip
    return args, [
        "lesion 'case0_pet:2'",
        f"({boxes}:3)",
        "(4000.0, 0.0, 0.0) mm lies outside the pet image",
        "world RAS mm",
    ]


def _table_missing_column(w: Work):
    rows = [",".join(r.split(",")[:2] + r.split(",")[3:]) for r in w.table_rows()]  # no pet
    return w.predict_table("\n".join(rows) + "\n"), [
        f"{w.table}: missing column(s) pet",
        "the header has",
    ]


def _table_unknown_label(w: Work):
    text = w.table.read_text().replace("Liver S7", "Livr S7", 1)
    return w.predict_table(text), [
        f"unknown term 'Livr S7' in {w.table} line 2, column 'locations'",
        "did you mean 'Liver S7'",
    ]


def _table_unresolved_path(w: Work):
    text = w.table.read_text().replace("case1_pet.nii.gz", "scans/case1_pet.nii.gz", 1)
    return w.predict_table(text), [
        f"{w.table} line 5, column 'pet': file 'scans/case1_pet.nii.gz' not found",
        "relative paths are read from the table's folder",
    ]


def _table_duplicate_id(w: Work):
    rows = w.table_rows()
    rows[0] = "lesion_id," + rows[0]
    rows[1:] = [f"L{i}," + r for i, r in enumerate(rows[1:])]
    rows[3] = "L0," + rows[3].split(",", 1)[1]
    return w.predict_table("\n".join(rows) + "\n"), [
        f"{w.table} line 4, column 'lesion_id': duplicate lesion id",
        "(first on line 2)",
    ]


def _table_empty(w: Work):
    return w.predict_table(""), [f"{w.table} is empty; expected a header line"]


def _model_not_a_checkpoint(w: Work):
    p = w.dir / "notes.pt"
    p.write_text("not a model\n")
    return w.predict(None, None, None, "--model", p), [f"{p} is not an anatloc checkpoint"]


def _model_newer_format(w: Work):
    import torch

    from anatloc.retriever.checkpoint import FORMAT_VERSION

    raw = torch.load(w.model, weights_only=True)
    raw["format_version"] = FORMAT_VERSION + 1
    p = w.dir / "future.pt"
    torch.save(raw, p)
    return w.predict(None, None, None, "--model", p), [
        f"{p} was written by a newer anatloc (checkpoint format {FORMAT_VERSION + 1}",
        "upgrade anatloc",
    ]


def _model_other_ontology(w: Work):
    from anatloc.ontology import shipped_path

    ont = load_ontology(shipped_path())
    ont.add("Liver S9", "Liver", definition="A hypothetical extra segment.")
    ont.rename("Liver S8", "Liver segment 8")
    mine = w.dir / "my.ttl"
    ont.save(mine)
    return ["--ontology", mine, *w.predict()], [
        f"{w.model} was trained on another version of the ontology",
        "1 added", "'Liver S9'", "'Liver S8' → 'Liver segment 8'", "--allow-ontology-change",
    ]  # fmt: skip


def _user_copy(w: Work) -> Path:
    from anatloc.ontology import shipped_path

    p = w.dir / "my.ttl"
    shutil.copy(shipped_path(), p)
    return p


def _malformed_turtle(w: Work):
    p = _user_copy(w)
    lines = p.read_text().splitlines()
    i = next(n for n, ln in enumerate(lines) if "rdfs:label" in ln)
    lines[i] = lines[i].replace("rdfs:label", "rdfs:label <<", 1)
    p.write_text("\n".join(lines) + "\n")
    return ["ontology", "stats", "--ontology", p], [
        f"{p}: malformed TTL",
        f"line {i + 1} between columns",
    ]


def _tsv_missing_parent(w: Work):
    src = w.dir / "terms.tsv"
    src.write_text(
        "region\tcoarse\tlocation\nHead\tBrain\tBrain\n\tLiver\tLiver S1\nAbdomen\t\tLiver S2\n"
    )
    out = w.dir / "new.ttl"
    return ["ontology", "import", src, "--out", out], [f"{src}: line 3", "has no region"]


def _edit_cycle(w: Work):
    p = _user_copy(w)
    return ["ontology", "move", "--ontology", p, "Liver", "--parent", "Liver S7"], [
        "'Liver'",
        "'Liver S7'",
        "[one-parent]",
    ]


def _edit_region_parent(w: Work):
    p = _user_copy(w)
    return ["ontology", "move", "--ontology", p, "Abdomen", "--parent", "Liver"], [
        "'Abdomen' is a region and has no parent [one-parent]"
    ]


def _sparql_syntax(w: Work):
    return ["sparql", "SELEC ?x WHERE { ?x ?p ?o }"], [
        "SPARQL syntax error: error at 1:",  # the user's line, not the prefixes' before it
    ]


def _sparql_update(w: Work):
    p = _user_copy(w)
    q = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> DELETE WHERE { ?s rdfs:label ?l }"
    return ["sparql", "--ontology", p, q], ["SPARQL UPDATE", "read-only", "--allow-update"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


def _sparql_endpoint_down(w: Work):
    url = f"http://127.0.0.1:{_closed_port()}/sparql"
    return ["sparql", "--endpoint", url, "--timeout", "2", "SELECT * WHERE { ?s ?p ?o } LIMIT 1"], [
        url
    ]


def _cli_unknown_option(w: Work):
    return ["ontology", "stats", "--frobnicate"], [
        "no such option: --frobnicate",
        "(see 'anatloc ontology stats --help')",
    ]


def _cli_bad_value(w: Work):
    return ["ontology", "tree", "--depth", "zero"], [
        "invalid value for '--depth'",
        "valid integer",
    ]


def _unknown_precision(w: Work):
    return w.predict(None, None, None, "--precision", "fp8"), [
        "unknown precision 'fp8'",
        "auto, fp32, bf16",
    ]


CASES = [
    ("nifti-missing-file", _missing, EXIT_BAD_DATA),
    ("nifti-folder", _folder, EXIT_BAD_DATA),
    ("nifti-not-nifti", _not_nifti, EXIT_BAD_DATA),
    ("nifti-truncated-gzip", _truncated_gzip, EXIT_BAD_DATA),
    ("nifti-corrupt-gzip", _corrupt_gzip, EXIT_BAD_DATA),
    ("nifti-corrupt-gzip-mask", _corrupt_gzip_mask, EXIT_BAD_DATA),
    ("nifti-2d", _image_2d, EXIT_BAD_DATA),
    ("nifti-4d", _image_4d, EXIT_BAD_DATA),
    ("nifti-nan-inf-pet", _nan_pet, EXIT_BAD_DATA),
    ("nifti-inf-ct", _inf_ct, EXIT_BAD_DATA),
    ("nifti-ct-pet-no-overlap", _no_overlap, EXIT_BAD_DATA),
    ("nifti-singular-affine", _singular_affine, EXIT_BAD_DATA),
    ("mask-grid-matches-neither", _mask_grid_neither, EXIT_BAD_DATA),
    ("mask-shape-of-image-other-affine", _mask_shape_other_affine, EXIT_BAD_DATA),
    ("mask-empty", _empty_mask, EXIT_BAD_DATA),
    ("mask-probabilities", _probability_mask, EXIT_BAD_DATA),
    ("lesion-centre-outside", _centre_outside, EXIT_BAD_DATA),
    ("table-missing-column", _table_missing_column, EXIT_BAD_DATA),
    ("table-unknown-label", _table_unknown_label, EXIT_BAD_DATA),
    ("table-unresolved-path", _table_unresolved_path, EXIT_BAD_DATA),
    ("table-duplicate-lesion-id", _table_duplicate_id, EXIT_BAD_DATA),
    ("table-empty", _table_empty, EXIT_BAD_DATA),
    ("checkpoint-not-a-checkpoint", _model_not_a_checkpoint, EXIT_BAD_DATA),
    ("checkpoint-newer-format", _model_newer_format, EXIT_BAD_DATA),
    ("checkpoint-other-ontology", _model_other_ontology, EXIT_REFUSED),
    ("ontology-malformed-turtle", _malformed_turtle, EXIT_BAD_DATA),
    ("ontology-tsv-missing-parent", _tsv_missing_parent, EXIT_BAD_DATA),
    ("ontology-edit-cycle", _edit_cycle, EXIT_REFUSED),
    ("ontology-edit-region-parent", _edit_region_parent, EXIT_REFUSED),
    ("sparql-syntax-error", _sparql_syntax, EXIT_USAGE),
    ("sparql-update-refused", _sparql_update, EXIT_REFUSED),
    ("sparql-endpoint-down", _sparql_endpoint_down, EXIT_EXTERNAL),
    ("cli-unknown-option", _cli_unknown_option, EXIT_USAGE),
    ("cli-bad-option-value", _cli_bad_value, EXIT_USAGE),
    ("cli-unknown-precision", _unknown_precision, EXIT_USAGE),
]


@pytest.mark.parametrize(("build", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(work: Work, build: Build, code: int):
    args, words = build(work)
    before = snapshot(work.dir)
    r = run(*args)
    line = one_error_line(r)
    assert r.exit_code == code, line
    for w in words:
        assert w in line, f"{w!r} not in {line!r}"
    assert r.stdout == ""
    assert snapshot(work.dir) == before  # no output written, no user file changed
    assert not work.out.exists()


def test_bad_input_catalogue_is_documented():
    """Every case's exit code is one of the documented ones, and each case is named once."""
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    doc = (Path(__file__).parents[1] / "docs" / "errors.md").read_text()
    for code in {c[2] for c in CASES}:
        assert f"| {code} |" in doc


# -- inputs that look odd but are fine ---------------------------------------------------------


def test_bad_input_one_voxel_lesion_works(work: Work):
    arr, aff = work.data(work.mask)
    one = np.zeros_like(arr)
    i, j, k = np.argwhere(arr == 1)[0]
    one[i, j, k] = 1
    p = work.image("one_voxel_mask.nii.gz", one, aff)
    r = run(*work.predict(mask=p))
    assert r.exit_code == 0, r.output
    rows = work.out.read_text().splitlines()
    assert len(rows) == 2 and "predicted 1 lesion in 1 case" in r.stderr


def test_bad_input_thousands_of_lesions_work(work: Work):
    """The issue asks for 10,000 lesions; 2,000 one-voxel lesions on the 48³ grid keep this test
    fast on two cores and use the same path (lesions are cut and scored in batches, so memory
    does not grow with their number)."""
    arr, aff = work.data(work.mask)
    many = np.zeros(arr.shape, np.int16)
    idx = np.argwhere(np.ones(arr.shape, bool))[:: max(1, arr.size // 2000)][:2000]
    many[tuple(idx.T)] = np.arange(1, len(idx) + 1)
    p = work.image("many_mask.nii.gz", many, aff)
    r = run(*work.predict(ct=None, mask=p), "--batch-size", "500")
    assert r.exit_code == 0, r.output
    rows = work.out.read_text().splitlines()
    assert len(rows) == 2001 and "predicted 2000 lesions" in r.stderr


def test_bad_input_pet_in_bq_per_ml_warns_naming_the_unit(work: Work):
    arr, aff = work.data(work.pet)
    p = work.image("bq_pet.nii.gz", (arr * 5000.0).astype(np.float32), aff)
    r = run(*work.predict(pet=p))
    assert r.exit_code == 0, r.output
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warn) == 1 and str(p) in warn[0], r.stderr
    assert "Bq/ml" in warn[0] and "convert it to SUV" in warn[0]
    assert work.out.exists()
