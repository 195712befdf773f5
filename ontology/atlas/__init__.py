"""Whole-body spatial atlas: implicit shapes for every fine location, and a fast label-map engine.

The atlas is a *frame* (constants, auxiliary shapes, partitions, groups, check rules) plus one
*spec* per fine location.  A spec is a JSON object whose ``shape`` is an implicit function: an
approximate signed distance in millimetres, negative inside.  :class:`Atlas` compiles the specs
and evaluates them pointwise, so that the label of a point depends only on that point:
``rasterize(shape, affine)[ijk] == labels_at(affine @ ijk)`` exactly.

Coordinates are RAS millimetres (+x patient's right, +y anterior, +z superior) of a reference
adult male 1750 mm tall lying with the arms at his sides; the origin is the midsagittal plane
(x = 0), the soles (z = 0) and the coronal plane through the centre of the L1 vertebral body
(y = 0).  A :class:`Subject` (height, girth, sex, arm pose, per-group jitter, table transform)
maps world (scanner) millimetres into that frame.  See ``docs/atlas.md`` for the full language.

numpy does the work; scipy (rotations, derived facts) and ``nibabel.affines`` (affine maps
of point sets) are imported inside the functions that use them, so importing the atlas
stays cheap.

The package is split by stage; every public name is re-exported here, so
``from anatloc.ontology.atlas import X`` is the one import path for users:

=================  ==========================================================================
module             holds
=================  ==========================================================================
``geom``           float32 constants, rotations, affine maps, distance helpers (internal)
``shapes``         the language's names, :class:`SpecError`, the primitive shape nodes
``operators``      the operator nodes (union, intersect, subtract, ..., ``ref``, ``aux``)
``compiler``       JSON spec -> nodes, reference helpers, :func:`validate_specs`
``subject``        :class:`Subject`: one body, world -> reference frame
``context``        the engine's per-subject and per-evaluation state (internal)
``engine``         :class:`Atlas`: labels, signed distances, bounding boxes, rasterization
``facts``          :func:`atlas_facts`, :class:`CheckData` (the shared reference rasterization)
``checks``         the consistency checks, :data:`CHECKS`, :func:`run_checks`
=================  ==========================================================================
"""

from __future__ import annotations

from .checks import (
    CHECKS,
    check_body_closure,
    check_mirror_twins,
    check_neighbours,
    check_nonempty,
    check_organ_rules,
    check_outside_body,
    check_region_extent,
    check_rib_order,
    check_vertebra_order,
    run_checks,
    twin_pairs,
)
from .compiler import collect_refs, rewrite_refs, validate_specs
from .engine import Atlas, grid_for_bounds
from .facts import CheckData, atlas_facts, reference_facts, symmetric_grid
from .shapes import OPS, SHAPE_TYPES, SpecError
from .subject import Subject

__all__ = [
    "CHECKS",
    "OPS",
    "SHAPE_TYPES",
    "Atlas",
    "CheckData",
    "SpecError",
    "Subject",
    "atlas_facts",
    "check_body_closure",
    "check_mirror_twins",
    "check_neighbours",
    "check_nonempty",
    "check_organ_rules",
    "check_outside_body",
    "check_region_extent",
    "check_rib_order",
    "check_vertebra_order",
    "collect_refs",
    "grid_for_bounds",
    "reference_facts",
    "rewrite_refs",
    "run_checks",
    "symmetric_grid",
    "twin_pairs",
    "validate_specs",
]
