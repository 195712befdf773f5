"""Fuzz tests (issue 9): random ontology edits keep the file loadable, valid and stable under
save → load → save; random bytes and random headers given to the lesion-table reader and the
NIfTI loader give anatloc's typed errors (one line for the user) and nothing else."""

from __future__ import annotations

import gzip
import struct
import tempfile
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anatloc.ontology import load_ontology
from anatloc.ontology.errors import AnatlocError
from anatloc.ontology.io import serialize
from anatloc.ontology.tsv import read_location_list
from anatloc.ontology.validate import run_checks
from anatloc.retriever.nifti import PetUnitWarning, load_volume
from anatloc.retriever.table import read_lesion_table
from tests.conftest import TINY_LIST

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

# -- random edits of an ontology ---------------------------------------------------------------

#: letters that collide often (so that edits are refused too), and characters that Turtle and
#: TSV must escape
label_text = st.text(alphabet="LivrS7 é'\"\\|-", min_size=0, max_size=8)
pick = st.integers(min_value=0, max_value=1_000)
edit = st.one_of(
    st.tuples(st.just("add"), label_text, pick),
    st.tuples(st.just("add-region"), label_text, pick),
    st.tuples(st.just("rename"), pick, label_text),
    st.tuples(st.just("move"), pick, pick),
    st.tuples(st.just("remove"), pick, st.booleans()),
    st.tuples(st.just("set-definition"), pick, label_text),
    st.tuples(st.just("add-synonym"), pick, label_text, st.sampled_from(["exact", "related"])),
)


def apply(ont, op: tuple) -> None:
    """One edit as the CLI's ontology commands make it (``cli/ontology_cmd.py``)."""
    terms = ont.terms()
    term = terms[op[1] % len(terms)] if isinstance(op[1], int) and terms else None
    kind = op[0]
    if kind == "add":
        parents = [t for t in terms if t.level != "fine"]
        if parents:
            ont.add(op[1], parents[op[2] % len(parents)].curie, definition="Fuzzed.")
    elif kind == "add-region":
        ont.add(op[1], level="region")
    elif term is None:
        return
    elif kind == "rename":
        ont.rename(term.curie, op[2])
    elif kind == "move":
        ont.move(term.curie, terms[op[2] % len(terms)].curie)
    elif kind == "remove":
        ont.remove(term.curie, subtree=op[2])
    elif kind == "set-definition":
        ont.set_definition(term.curie, op[2])
    elif kind == "add-synonym":
        ont.add_synonym(term.curie, op[2], op[3])


@FUZZ
@given(st.lists(edit, min_size=1, max_size=12))
def test_fuzz_ontology_edits_keep_the_file_valid_and_stable(edits):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "my.ttl"
        read_location_list(TINY_LIST).save(path)
        for op in edits:  # each edit is one command: load, edit, save (cli.common.edit_session)
            ont = load_ontology(path)
            before = serialize(ont, "ttl")
            try:
                apply(ont, op)
            except AnatlocError:  # refused: the command saves nothing
                assert serialize(ont, "ttl") == before, op
                continue
            ont.save(path)
        ont = load_ontology(path)
        errors = [i for i in run_checks(ont, groups=["structure"]) if i.severity == "ERROR"]
        assert not errors, errors
        again = Path(tmp) / "again.ttl"
        ont.save(again)
        assert again.read_bytes() == path.read_bytes()
        assert serialize(load_ontology(again), "tsv") == serialize(ont, "tsv")


# -- the lesion-table reader -------------------------------------------------------------------

HEADER = "case_id,ct,pet,mask,mask_label,center_x,center_y,center_z,size_x,size_y,size_z,locations"
cells = st.sampled_from(
    ["", "1", "-4", "0", "1e400", "nan", "abc", "Liver S7", "Livr S7", "Liver", "a.nii.gz",
     "../x.nii.gz", '"q,uoted"', '"', "p1", "ANATLOC:0000285", "ANATLOC:9999999", "Brain|Liver S7",
     "\t", "é"]
)  # fmt: skip
table_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.lists(cells, max_size=14).map(",".join), max_size=5).map(
        lambda rows: "\n".join([HEADER, *rows])
    ),
    st.lists(st.lists(cells, max_size=14).map(",".join), max_size=5).map("\n".join),
)


@FUZZ
@given(st.one_of(table_text.map(str.encode), st.binary(max_size=200)))
def test_fuzz_lesion_table_gives_only_typed_errors(shipped, data):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.nii.gz").write_bytes(b"")
        path = Path(tmp) / "lesions.csv"
        path.write_bytes(data)
        for require in (False, True):
            try:
                read_lesion_table(path, shipped, require_locations=require)
            except AnatlocError as exc:
                assert "\n" not in str(exc) and str(path) in str(exc), str(exc)


# -- the NIfTI loader --------------------------------------------------------------------------


def load_any(path: Path) -> None:
    """Load as each kind of image: a typed error, or a volume."""
    for kind in ("pet", "ct", "mask"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PetUnitWarning)
                load_volume(path, kind)
        except AnatlocError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), str(exc)


@FUZZ
@given(st.binary(max_size=600), st.sampled_from([".nii", ".nii.gz", ".img"]), st.booleans())
def test_fuzz_nifti_loader_random_bytes(data, suffix, gzipped):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(gzip.compress(data) if gzipped else data)
        load_any(path)


finite = st.floats(-1e4, 1e4, allow_nan=False)
odd_float = st.one_of(finite, st.sampled_from([0.0, -1.0, 1e-9, 1e30, float("nan"), float("inf")]))
#: a plausible affine (voxel sizes on the diagonal, an origin) half of the time
srows = st.one_of(
    st.tuples(st.floats(0.5, 8), st.floats(0.5, 8), st.floats(-8, 8), finite).map(
        lambda v: [v[0], 0, 0, v[3], 0, v[1], 0, v[3], 0, 0, v[2], v[3]]
    ),
    st.lists(odd_float, min_size=12, max_size=12),
)


@FUZZ
@given(
    ndim=st.one_of(st.just(3), st.integers(-1, 8)),
    dims=st.lists(st.one_of(st.integers(1, 6), st.integers(-2, 32_767)), min_size=7, max_size=7),
    pixdim=st.lists(odd_float, min_size=8, max_size=8),
    srow=srows,
    codes=st.tuples(st.integers(0, 4), st.sampled_from([1, 2, 0, 5])),
    dtype=st.sampled_from([2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1536, 2304, 0, 3]),
    vox_offset=st.sampled_from([352.0, 352.0, 0.0, 100.0, 1e9]),
    payload=st.integers(0, 4000),
    gzipped=st.booleans(),
)
def test_fuzz_nifti_loader_random_headers(
    ndim, dims, pixdim, srow, codes, dtype, vox_offset, payload, gzipped
):
    """A valid NIfTI-1 header, then its fields overwritten with random values (nibabel refuses
    to write most of them), and random image bytes after it."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2, 2, 2))
    raw = bytearray(hdr.binaryblock)
    raw[40:56] = struct.pack("<8h", ndim, *dims)  # dim[0..7]
    raw[70:72] = struct.pack("<h", dtype)  # datatype
    raw[76:108] = struct.pack("<8f", *pixdim)  # pixdim
    raw[108:112] = struct.pack("<f", vox_offset)
    raw[252:256] = struct.pack("<2h", *codes)  # qform_code, sform_code
    raw[280:328] = struct.pack("<12f", *srow)  # srow_x, srow_y, srow_z
    body = bytes(raw) + b"\0" * 4 + np.random.default_rng(payload).bytes(payload)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.nii.gz" if gzipped else "x.nii")
        path.write_bytes(gzip.compress(body) if gzipped else body)
        load_any(path)
