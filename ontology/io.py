"""One entry point to load an ontology from any supported source, one writer per format.

Formats are chosen explicitly (``format=``) or from the file suffix, never guessed from the
content:

=========  ===========================  ==========================================
format     suffixes                     notes
=========  ===========================  ==========================================
``ttl``    ``.ttl``                     OWL 2 in Turtle; the source-of-truth format
``owl``    ``.owl``, ``.rdf``, ``.xml``  RDF/XML written as OWLAPI does (typed elements):
                                        Protégé, owlready2, pronto, OAK load it
``jsonld`` ``.jsonld``, ``.json``       JSON-LD
``nt``     ``.nt``                      N-Triples (sorted)
``tsv``    ``.tsv``                     one row per term (see :mod:`.tsv`)
``obo``    ``.obo``                     OBO 1.4 for OBO tools; written, not read
                                        (see :mod:`.obo`)
=========  ===========================  ==========================================
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from importlib import resources
from pathlib import Path

from . import rdf
from .errors import DataError, OntologyParseError, ReadOnlyOntologyError, UnknownFormatError
from .fileio import atomic_write, cache_dir
from .model import Ontology

FORMATS = ("ttl", "owl", "jsonld", "nt", "tsv", "obo")
_SUFFIX = {
    ".ttl": "ttl",
    ".owl": "owl",
    ".rdf": "owl",
    ".xml": "owl",
    ".jsonld": "jsonld",
    ".json": "jsonld",
    ".nt": "nt",
    ".tsv": "tsv",
    ".obo": "obo",
}
ENV_VAR = "ANATLOC_ONTOLOGY"


def shipped_path() -> Path:
    """The ontology file that ships inside the package (read-only to edit commands)."""
    return Path(str(resources.files("anatloc.ontology") / "data" / "anatloc.ttl"))


def default_path() -> Path:
    """``$ANATLOC_ONTOLOGY`` when set, else the shipped ontology."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else shipped_path()


def is_shipped(path: str | os.PathLike) -> bool:
    try:
        return Path(path).resolve() == shipped_path().resolve()
    except OSError:
        return False


def format_of(path: str | os.PathLike, format: str | None = None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise UnknownFormatError(
                f"unknown ontology format {format!r}; expected one of {', '.join(FORMATS)}"
            )
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX:
        raise UnknownFormatError(
            f"cannot tell the format of {path} from its suffix {suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(_SUFFIX))} or give --format"
        )
    return _SUFFIX[suffix]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"ontology file {path} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"ontology path {path} is a folder, not a file") from None
    except OSError as exc:
        raise DataError(f"cannot read ontology file {path}: {exc.strerror}") from None


def parse_rdf(data: bytes, format: str, source: str) -> list[rdf.Triple]:
    """Parse RDF bytes with pyoxigraph into N-Triples-syntax node strings."""
    import pyoxigraph as ox

    fmt = {
        "ttl": ox.RdfFormat.TURTLE,
        "owl": ox.RdfFormat.RDF_XML,
        "jsonld": ox.RdfFormat.JSON_LD,
        "nt": ox.RdfFormat.N_TRIPLES,
    }[format]
    try:
        return [
            (str(t.subject), str(t.predicate), str(t.object)) for t in ox.parse(data, format=fmt)
        ]
    except SyntaxError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise OntologyParseError(f"{source}: malformed {format.upper()}: {msg}") from None
    except (ValueError, OSError) as exc:
        raise OntologyParseError(f"{source}: cannot parse as {format.upper()}: {exc}") from None


#: bump when the in-memory model changes shape, so old parse caches are ignored
PARSE_CACHE_VERSION = 2


def _parse_cache_path(data: bytes, fmt: str) -> Path | None:
    if os.environ.get("ANATLOC_NO_PARSE_CACHE"):
        return None
    digest = hashlib.sha256(data).hexdigest()[:32]
    return cache_dir() / "ontology" / f"{digest}-{fmt}-v{PARSE_CACHE_VERSION}.pkl"


def _parse(data: bytes, fmt: str, source: str) -> Ontology:
    if fmt == "obo":
        raise UnknownFormatError(
            f"{source}: OBO is an export format of anatloc, not one it reads; "
            "load the Turtle (or RDF/XML, JSON-LD, N-Triples, TSV) it was exported from"
        )
    if fmt == "tsv":
        from .tsv import read_tsv

        return read_tsv(data.decode("utf-8", errors="replace"), source=source)
    return rdf.from_triples(parse_rdf(data, fmt, source), source=source)


def load_ontology(path: str | os.PathLike | None = None, format: str | None = None) -> Ontology:
    """Load an ontology: ``path`` if given, else ``$ANATLOC_ONTOLOGY``, else the shipped one.

    Parsing a 2.5 MB Turtle file takes about half a second, so the parsed model is cached
    under ``$ANATLOC_CACHE_DIR/ontology`` (default ``~/.cache/anatloc``) keyed by the file's
    SHA-256: an unchanged file loads from the cache, any change of a byte parses it anew.
    ``ANATLOC_NO_PARSE_CACHE=1`` turns the cache off; an unwritable cache is ignored.
    """
    p = Path(path) if path is not None else default_path()
    fmt = format_of(p, format)
    data = _read_bytes(p)
    cache = _parse_cache_path(data, fmt)
    ont = None
    if cache is not None and cache.is_file():
        try:
            with cache.open("rb") as fh:
                ont = pickle.load(fh)
            if not isinstance(ont, Ontology):
                ont = None
        except Exception:  # a stale or damaged cache entry: parse the file instead
            ont = None
    if ont is None:
        ont = _parse(data, fmt, str(p))
        if cache is not None:
            with contextlib.suppress(OSError, DataError):
                cache.parent.mkdir(parents=True, exist_ok=True)
                ont.source = None
                atomic_write(cache, pickle.dumps(ont, protocol=pickle.HIGHEST_PROTOCOL))
    ont.source = p
    return ont


def serialize(ont: Ontology, format: str) -> bytes:
    """The ontology as bytes in ``format``; every RDF format starts from ``rdf.to_triples``."""
    fmt = format_of("x", format)
    if fmt == "tsv":
        from .tsv import write_tsv

        return write_tsv(ont).encode("utf-8")
    if fmt == "obo":
        from .obo import to_obo

        return to_obo(ont).encode("utf-8")
    triples = rdf.to_triples(ont)
    if fmt == "ttl":
        return rdf.to_turtle(triples).encode("utf-8")
    if fmt == "nt":
        return rdf.to_ntriples(triples).encode("utf-8")
    if fmt == "owl":
        try:
            return rdf.to_rdfxml(triples).encode("utf-8")
        except ValueError as exc:
            raise DataError(f"cannot write RDF/XML: {exc}") from None
    import pyoxigraph as ox

    parsed = list(ox.parse(rdf.to_ntriples(triples).encode("utf-8"), format=ox.RdfFormat.N_TRIPLES))
    return ox.serialize(parsed, format=ox.RdfFormat.JSON_LD)


def save_ontology(
    ont: Ontology, path: str | os.PathLike | None, format: str | None = None, *, allow_shipped=False
) -> Path:
    """Write atomically; refuses to overwrite the shipped ontology."""
    if path is None:
        raise DataError("no file to save the ontology to")
    p = Path(path)
    if is_shipped(p) and not allow_shipped:
        raise ReadOnlyOntologyError(
            f"{p} is the ontology shipped with anatloc and is read-only; make your own copy "
            "with 'anatloc ontology init my.ttl' and edit it with --ontology my.ttl"
        )
    atomic_write(p, serialize(ont, format_of(p, format)))
    return p


#: ``Ontology.save`` writes through :func:`save_ontology` (the model does not import io)
Ontology.writer = save_ontology
