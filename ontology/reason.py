"""OWL consistency check with the HermiT reasoner, through owlready2 (needs Java)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .model import Ontology


def java_available() -> bool:
    return shutil.which("java") is not None


def run_hermit(ont: Ontology) -> dict:
    """Run HermiT on the RDF/XML export.

    Returns ``{"status": "consistent" | "inconsistent" | "skipped", "message": ...,
    "unsatisfiable": [CURIEs]}``.  Without Java the check is skipped with a message.
    """
    if not java_available():
        return {
            "status": "skipped",
            "message": "HermiT needs Java (a 'java' executable on PATH); the reasoner check was skipped",
            "unsatisfiable": [],
        }
    import owlready2

    from . import vocab
    from .io import serialize

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "anatloc.owl"
        path.write_bytes(serialize(ont, "owl"))
        world = owlready2.World()
        onto = world.get_ontology(path.as_uri()).load()
        try:
            with onto:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return {
                "status": "inconsistent",
                "message": "HermiT: the ontology is inconsistent",
                "unsatisfiable": [],
            }
        except (owlready2.OwlReadyJavaError, OSError) as exc:
            return {
                "status": "skipped",
                "message": f"HermiT could not run: {str(exc).splitlines()[0]}",
                "unsatisfiable": [],
            }
        bad = []
        for cls in world.inconsistent_classes():
            c = vocab.curie_of(cls.iri)
            bad.append(c or cls.iri)
    n = len(ont)
    if bad:
        return {
            "status": "inconsistent",
            "message": f"HermiT: {len(bad)} unsatisfiable class(es)",
            "unsatisfiable": sorted(bad),
        }
    return {
        "status": "consistent",
        "message": f"HermiT: consistent, {n} terms, no unsatisfiable classes",
        "unsatisfiable": [],
    }
