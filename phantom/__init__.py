"""anatloc.phantom: a synthetic whole-body FDG PET/CT generator driven by the ontology's atlas.

>>> from anatloc.ontology import load_ontology
>>> from anatloc.phantom import body_model, get_profile, make_case, render_patch
>>> model = body_model(load_ontology())                       # doctest: +SKIP
>>> case = make_case(model, get_profile("internal"), seed=0, index=0)   # doctest: +SKIP

Two modes: volume mode (:func:`make_case`; ``anatloc.phantom.io.generate`` writes NIfTI
cases and a lesion table) and patch mode (:func:`render_patch`, the neighbourhood of a lesion
straight from the atlas, or from a :class:`SubjectField` for speed).  Patch mode's lesions
for training come from ``anatloc.phantom.sampling`` (a lesion scene and its acceptable labels
per seed, epoch and index), which the retriever's ``PhantomSource`` adapts.
Only numpy and scipy are imported here; nibabel loads when voxel coordinates are computed
(its ``apply_affine``) or files written, matplotlib when a picture is drawn.  See ``docs/phantom.md``.
"""

from .body import BodyModel, atlas_for, body_model
from .cases import Case, case_id_for, make_case
from .field import SubjectField
from .lesions import Lesion
from .patches import patch_affine, patch_points, render_patch
from .profiles import PROFILES, Profile, get_profile, list_profiles
from .render import Scene, new_scene, render_volume

__all__ = [
    "PROFILES",
    "BodyModel",
    "Case",
    "Lesion",
    "Profile",
    "Scene",
    "SubjectField",
    "atlas_for",
    "body_model",
    "case_id_for",
    "get_profile",
    "list_profiles",
    "make_case",
    "new_scene",
    "patch_affine",
    "patch_points",
    "render_patch",
    "render_volume",
]
