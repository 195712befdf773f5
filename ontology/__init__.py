"""anatloc.ontology: the OWL anatomy ontology, its model, I/O, edits, validation and queries.

>>> from anatloc.ontology import load_ontology
>>> ont = load_ontology()                      # the shipped ontology
>>> ont.get("Liver S7").curie                  # doctest: +SKIP
'ANATLOC:...'
"""

from .errors import (
    AmbiguousTermError,
    AnatlocError,
    DataError,
    InvariantError,
    OntologyParseError,
    ReadOnlyOntologyError,
    RefusedError,
    UnknownTermError,
    UsageError,
)
from .io import (
    FORMATS,
    default_path,
    is_shipped,
    load_ontology,
    save_ontology,
    serialize,
    shipped_path,
)
from .model import Ontology, OntologyMeta, Term

__all__ = [
    "FORMATS",
    "AmbiguousTermError",
    "AnatlocError",
    "DataError",
    "InvariantError",
    "Ontology",
    "OntologyMeta",
    "OntologyParseError",
    "ReadOnlyOntologyError",
    "RefusedError",
    "Term",
    "UnknownTermError",
    "UsageError",
    "default_path",
    "is_shipped",
    "load_ontology",
    "save_ontology",
    "serialize",
    "shipped_path",
]
