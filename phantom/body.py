"""The body the phantom draws: the ontology's atlas and the table of its locations.

The shapes come from the ontology alone (``anatloc.ontology.geometry.atlas_for``: each fine
term's ``anatloc:atlasGeometry``, the frame in the header), so a location added with geometry
appears in the phantom without code changes.  :class:`BodyModel` adds what the phantom needs
beside the shapes: per label index (0 = background, ``i + 1`` = ``atlas.keys[i]``) the CURIE,
label, tissue kind, and the index of the fine and coarse term in the ontology's fixed order
(the retriever's class indices).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from anatloc.ontology.atlas import Atlas, Subject
from anatloc.ontology.geometry import atlas_for, geometry_key
from anatloc.ontology.model import Ontology

_MODELS: dict[str, BodyModel] = {}


@dataclass(frozen=True, eq=False)
class BodyModel:
    """The atlas plus, per label index, what the location is (index 0 is background)."""

    atlas: Atlas
    curies: tuple[str, ...]  # [0] = ""
    labels: tuple[str, ...]  # [0] = "background"
    tissues: tuple[str, ...]  # [0] = "air"
    fine_index: np.ndarray  # label index -> position in ont.curies("fine"), -1 for background
    coarse_index: np.ndarray  # label index -> position in ont.curies("coarse"), -1 for background
    outside: int  # label index of the outside-the-body location, 0 when there is none
    content_hash: str
    #: hash of what a rendering depends on: the atlas geometry and, per label index, the
    #: term's CURIE, label, tissue and fine/coarse position.  Edits of descriptions,
    #: synonyms, definitions or relations leave it, and rendered data, valid.
    phantom_key: str = ""

    @property
    def n(self) -> int:
        """Number of locations (label indices run 1..n)."""
        return len(self.curies) - 1

    def index_of(self, name: str) -> int:
        """Label index of a CURIE or label; 0 when unknown."""
        for i in range(1, len(self.curies)):
            if name in (self.curies[i], self.labels[i]):
                return i
        return 0

    def present(self, subject: Subject) -> np.ndarray:
        """Boolean per label index (index 0 False): the location exists for the subject."""
        out = np.zeros(self.n + 1, bool)
        for i, k in enumerate(self.atlas.keys):
            out[i + 1] = self.atlas.present(k, subject)
        return out


def body_model(ont: Ontology) -> BodyModel:
    """The :class:`BodyModel` of ``ont`` (cached per ontology content)."""
    key = ont.content_hash()
    m = _MODELS.get(key)
    if m is not None:
        return m
    atlas = atlas_for(ont)
    fine_pos = {c: i for i, c in enumerate(ont.curies("fine"))}
    coarse_pos = {c: i for i, c in enumerate(ont.curies("coarse"))}
    curies, labels, tissues = [""], ["background"], ["air"]
    fi, ci = [-1], [-1]
    outside = 0
    for k in atlas.keys:
        t = ont[k]
        curies.append(k)
        labels.append(t.label)
        tissues.append(t.tissue or "mixed")
        fi.append(fine_pos.get(k, -1))
        parent = ont.coarse_of(t)
        ci.append(coarse_pos.get(parent.curie, -1) if parent is not None else -1)
        if t.tissue == "outside_body" and not outside:
            outside = len(curies) - 1
    h = hashlib.sha256(geometry_key(ont).encode("utf-8"))
    h.update(json.dumps([curies, labels, tissues, fi, ci, outside]).encode("utf-8"))
    m = BodyModel(
        atlas=atlas,
        curies=tuple(curies),
        labels=tuple(labels),
        tissues=tuple(tissues),
        fine_index=np.asarray(fi, np.int64),
        coarse_index=np.asarray(ci, np.int64),
        outside=outside,
        content_hash=key,
        phantom_key="sha256:" + h.hexdigest(),
    )
    if len(_MODELS) > 4:
        _MODELS.clear()
    _MODELS[key] = m
    return m
