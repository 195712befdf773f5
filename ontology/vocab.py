"""Every IRI anatloc uses, named once.

Nothing else in the code base spells an IRI: predicates, schema classes, prefixes and the
relation properties with their documented meaning all come from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- namespaces -------------------------------------------------------------------------
BASE = "https://w3id.org/anatloc/"
TERM_NS = BASE + "ANATLOC_"  # term IRIs: https://w3id.org/anatloc/ANATLOC_0000001
VOCAB_NS = BASE + "vocab#"  # anatloc's own classes and properties
ONTOLOGY_IRI = BASE + "anatloc.owl"

OWL = "http://www.w3.org/2002/07/owl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
OBO = "http://purl.obolibrary.org/obo/"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"

#: Prefixes written into every Turtle file and predefined for SPARQL queries.
PREFIXES: dict[str, str] = {
    "ANATLOC": TERM_NS,
    "BFO": OBO + "BFO_",
    "IAO": OBO + "IAO_",
    "UBERON": OBO + "UBERON_",
    "SCTID": "http://snomed.info/id/",
    "FMA": OBO + "FMA_",
    "anatloc": VOCAB_NS,
    "dcterms": DCTERMS,
    "oboInOwl": OBOINOWL,
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "xsd": XSD,
}

# -- core predicates and classes ---------------------------------------------------------
RDF_TYPE = RDF + "type"
RDFS_LABEL = RDFS + "label"
RDFS_COMMENT = RDFS + "comment"
RDFS_SUBCLASS_OF = RDFS + "subClassOf"
RDFS_SUBPROPERTY_OF = RDFS + "subPropertyOf"
OWL_CLASS = OWL + "Class"
OWL_ONTOLOGY = OWL + "Ontology"
OWL_RESTRICTION = OWL + "Restriction"
OWL_ON_PROPERTY = OWL + "onProperty"
OWL_SOME_VALUES_FROM = OWL + "someValuesFrom"
OWL_OBJECT_PROPERTY = OWL + "ObjectProperty"
OWL_ANNOTATION_PROPERTY = OWL + "AnnotationProperty"
OWL_SYMMETRIC_PROPERTY = OWL + "SymmetricProperty"
OWL_TRANSITIVE_PROPERTY = OWL + "TransitiveProperty"
OWL_INVERSE_OF = OWL + "inverseOf"
OWL_VERSION_INFO = OWL + "versionInfo"
OWL_VERSION_IRI = OWL + "versionIRI"
OWL_DEPRECATED = OWL + "deprecated"

DEFINITION = OBO + "IAO_0000115"
EXACT_SYNONYM = OBOINOWL + "hasExactSynonym"
RELATED_SYNONYM = OBOINOWL + "hasRelatedSynonym"
EXACT_MATCH = SKOS + "exactMatch"
BROAD_MATCH = SKOS + "broadMatch"
PART_OF = OBO + "BFO_0000050"

DC_TITLE = DCTERMS + "title"
DC_DESCRIPTION = DCTERMS + "description"
DC_LICENSE = DCTERMS + "license"

XSD_STRING = XSD + "string"
XSD_INTEGER = XSD + "integer"
XSD_DECIMAL = XSD + "decimal"
XSD_BOOLEAN = XSD + "boolean"

# anatloc's schema classes: every term is a subclass of exactly one level class.
ANATOMICAL_LOCATION = VOCAB_NS + "AnatomicalLocation"
LEVELS = ("region", "coarse", "fine")
LEVEL_CLASS = {
    "region": VOCAB_NS + "Region",
    "coarse": VOCAB_NS + "CoarseLocation",
    "fine": VOCAB_NS + "FineLocation",
}
LEVEL_OF_CLASS = {v: k for k, v in LEVEL_CLASS.items()}
CHILD_LEVEL = {"region": "coarse", "coarse": "fine", "fine": None}
PARENT_LEVEL = {"region": None, "coarse": "region", "fine": "coarse"}

# anatloc's annotation properties on terms
LATERALITY = VOCAB_NS + "laterality"
TISSUE = VOCAB_NS + "tissue"
PREFERRED_SYNONYM = VOCAB_NS + "preferredSynonym"
REPORT_PHRASE = VOCAB_NS + "reportPhrase"
REPORT_SYNONYM = VOCAB_NS + "reportSynonym"
ATLAS_GEOMETRY = VOCAB_NS + "atlasGeometry"
LANDMARK = VOCAB_NS + "landmark"
CANONICAL_DESCRIPTION = VOCAB_NS + "canonicalDescription"
PARAPHRASE = VOCAB_NS + "paraphrase"
DESCRIPTION_GENERATOR = VOCAB_NS + "descriptionGenerator"
# ontology header annotations
CONTENT_HASH = VOCAB_NS + "contentHash"
LAST_ID = VOCAB_NS + "lastAssignedId"
ATLAS_FRAME = VOCAB_NS + "atlasFrame"
DERIVATION = VOCAB_NS + "derivedBy"
PROVENANCE = VOCAB_NS + "provenance"

#: Numeric facts derived from the atlas (rasterized at 4 mm), one annotation property each.
FACT_NAMES = (
    "centroidX",
    "centroidY",
    "centroidZ",
    "minX",
    "minY",
    "minZ",
    "maxX",
    "maxY",
    "maxZ",
    "volumeMl",
)
FACT_IRI = {name: VOCAB_NS + name for name in FACT_NAMES}

LATERALITIES = ("left", "right", "midline", "unsided")
LATERALITY_MEANING = {
    "left": "names the left one of a paired structure, or the left side of the body",
    "right": "names the right one of a paired structure, or the right side of the body",
    "midline": "an unpaired structure that lies on the midsagittal plane",
    "unsided": "an unpaired structure off the midline, or one spanning both sides without "
    "being named for either (bilateral/unsided)",
}

#: The controlled set of tissue kinds (what a location mostly *is*).
TISSUES: dict[str, str] = {
    "bone": "cortical and cancellous bone of a named bone",
    "joint": "an articulation with its capsule",
    "lymph_node_station": "a fat compartment where lymph nodes sit (a nodal station or basin)",
    "solid_organ": "the parenchyma of a solid organ",
    "gland": "a glandular organ (thyroid, salivary, mammary, prostate, adrenal)",
    "hollow_organ": "the wall and lumen of a hollow viscus",
    "vessel": "a large blood vessel and its wall",
    "muscle": "skeletal muscle",
    "subcutaneous_fat": "the fat between skin and muscle",
    "space": "a cavity, fat plane or potential space around or between structures",
    "serous_membrane": "a serous lining such as peritoneum or pericardium",
    "skin_surface": "skin or a structure at the body surface",
    "airway": "an air-filled conducting passage",
    "lung": "lung parenchyma",
    "brain": "neural tissue of the brain",
    "sensory_organ": "an organ of special sense (eye, ear)",
    "mixed": "a composite part made of several tissues",
    "outside_body": "outside the patient's body",
}


@dataclass(frozen=True)
class Relation:
    """An object property between terms, stated as ``SubClassOf: prop some Target``."""

    name: str
    iri: str
    label: str
    definition: str
    symmetric: bool = False
    derived: bool = False  # regenerated from the atlas; never curated by hand
    inverse: str | None = None


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Relation(
            "adjacent_to",
            VOCAB_NS + "adjacent_to",
            "adjacent to",
            "X adjacent_to Y: X and Y are distinct locations that touch or border each "
            "other; a radiologist would name them as neighbours. Curated.",
            symmetric=True,
        ),
        Relation(
            "contralateral_to",
            VOCAB_NS + "contralateral_to",
            "contralateral to",
            "X contralateral_to Y: X and Y are the left and right members of a mirrored "
            "pair. Curated.",
            symmetric=True,
        ),
        Relation(
            "surrounds",
            VOCAB_NS + "surrounds",
            "surrounds",
            "X surrounds Y: X is the tissue, space or layer around Y (the 'Near Y', "
            "'Around Y' and 'Between ... muscles' locations). Curated.",
        ),
        Relation(
            "touches",
            VOCAB_NS + "touches",
            "touches in atlas",
            "X touches Y: the atlas label maps of X and Y share a face at 4 mm in the "
            "reference subject. Derived from the atlas geometry.",
            symmetric=True,
            derived=True,
        ),
        Relation(
            "superior_to",
            VOCAB_NS + "superior_to",
            "superior to",
            "X superior_to Y: X touches Y and lies mainly above it (atlas centroids). "
            "Derived from the atlas geometry.",
            derived=True,
            inverse="inferior_to",
        ),
        Relation(
            "inferior_to",
            VOCAB_NS + "inferior_to",
            "inferior to",
            "X inferior_to Y: X touches Y and lies mainly below it. Derived.",
            derived=True,
            inverse="superior_to",
        ),
        Relation(
            "anterior_to",
            VOCAB_NS + "anterior_to",
            "anterior to",
            "X anterior_to Y: X touches Y and lies mainly in front of it. Derived.",
            derived=True,
            inverse="posterior_to",
        ),
        Relation(
            "posterior_to",
            VOCAB_NS + "posterior_to",
            "posterior to",
            "X posterior_to Y: X touches Y and lies mainly behind it. Derived.",
            derived=True,
            inverse="anterior_to",
        ),
        Relation(
            "medial_to",
            VOCAB_NS + "medial_to",
            "medial to",
            "X medial_to Y: X touches Y and lies mainly nearer the midline. Derived.",
            derived=True,
            inverse="lateral_to",
        ),
        Relation(
            "lateral_to",
            VOCAB_NS + "lateral_to",
            "lateral to",
            "X lateral_to Y: X touches Y and lies mainly farther from the midline. Derived.",
            derived=True,
            inverse="medial_to",
        ),
        Relation(
            "at_level_of",
            VOCAB_NS + "at_level_of",
            "at the level of",
            "X at_level_of V: the centroid of X lies within the craniocaudal extent of the "
            "vertebra V (trunk locations only). Derived from the atlas geometry.",
            derived=True,
        ),
    )
}
RELATION_BY_IRI = {r.iri: r for r in RELATIONS.values()}
CURATED_RELATIONS = tuple(n for n, r in RELATIONS.items() if not r.derived)
DERIVED_RELATIONS = tuple(n for n, r in RELATIONS.items() if r.derived)

# -- clinical codes ---------------------------------------------------------------------
#: Code systems whose concepts the terms are mapped to for data exchange (a DICOM SR's finding
#: site). A term's matches to them are its ``code_matches``: stored as skos:exactMatch or
#: skos:broadMatch like any mapping, but kept apart from ``xrefs`` and out of the content hash
#: (they never reach the model; see ``Ontology.content_hash``).
#: prefix -> (namespace, DICOM coding scheme designator, name)
CODE_SYSTEMS: dict[str, tuple[str, str, str]] = {
    "SCTID": ("http://snomed.info/id/", "SCT", "SNOMED CT"),
}
#: how a term relates to a code: exact (the same concept) or broad (the code is broader)
CODE_MATCH_KINDS = {"exact": EXACT_MATCH, "broad": BROAD_MATCH}
#: DICOM's coding scheme designator for anatloc's own CURIEs
CODING_SCHEME = "ANATLOC"


def code_system_of(iri: str) -> str | None:
    """The prefix of the code system an IRI belongs to (``SCTID``), or None."""
    for prefix, (ns, _, _) in CODE_SYSTEMS.items():
        if iri.startswith(ns) and re.fullmatch(r"[0-9]+", iri[len(ns) :]):
            return prefix
    return None


# -- CURIEs ----------------------------------------------------------------------------
CURIE_RE = re.compile(r"^ANATLOC:(\d{7})$")
_IRI_RE = re.compile("^" + re.escape(TERM_NS) + r"(\d{7})$")
_LOOSE_RE = re.compile(r"^ANATLOC[:_](\d{1,7})$", re.IGNORECASE)


def curie_for(number: int) -> str:
    """``17 -> 'ANATLOC:0000017'``."""
    return f"ANATLOC:{number:07d}"


def curie_number(curie: str) -> int:
    m = CURIE_RE.match(curie)
    if not m:
        raise ValueError(f"not an anatloc CURIE: {curie!r}")
    return int(m.group(1))


def iri_of(curie: str) -> str:
    """``ANATLOC:0000017 -> https://w3id.org/anatloc/ANATLOC_0000017``; other CURIEs by prefix."""
    prefix, _, local = curie.partition(":")
    if prefix == "ANATLOC":
        return TERM_NS + local
    if prefix in PREFIXES and prefix != "ANATLOC":
        return PREFIXES[prefix] + local
    raise ValueError(f"unknown CURIE prefix in {curie!r}")


def curie_of(iri: str) -> str | None:
    """The CURIE of a term IRI, or None when the IRI is not an anatloc term."""
    m = _IRI_RE.match(iri)
    return f"ANATLOC:{m.group(1)}" if m else None


def normalize_curie(text: str) -> str | None:
    """Accept ``ANATLOC:0000017``, ``ANATLOC_17`` or the full IRI; None when it is none."""
    text = text.strip()
    c = curie_of(text)
    if c:
        return c
    m = _LOOSE_RE.match(text)
    return curie_for(int(m.group(1))) if m else None


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))


def compact(iri: str) -> str:
    """Shorten an IRI with the known prefixes (longest namespace first)."""
    for prefix, ns in _BY_LENGTH:
        if iri.startswith(ns) and re.fullmatch(r"[A-Za-z0-9_\-]*", iri[len(ns) :]):
            return f"{prefix}:{iri[len(ns) :]}"
    return iri


def expand(curie_or_iri: str) -> str:
    """Inverse of :func:`compact` for the known prefixes; full IRIs pass through."""
    prefix, sep, local = curie_or_iri.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    return curie_or_iri


def sparql_prefix_block() -> str:
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())
