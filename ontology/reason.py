"""OWL consistency check with the HermiT reasoner that owlready2 ships (needs Java).

The check asks HermiT whether ``owl:Thing`` is satisfiable in the RDF/XML export, i.e.
whether the ontology is consistent.  Full classification (owlready2's ``sync_reasoner``)
is not run: with ~15 000 existential restrictions (part_of, adjacency, positions) HermiT
needs more than 6 GB of heap to classify all 519 classes, while the consistency check takes
seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .model import Ontology

JAVA_MEMORY_MB = 2000


def java_available() -> bool:
    return shutil.which("java") is not None


def _hermit_classpath() -> str:
    import owlready2

    folder = Path(owlready2.__file__).parent / "hermit"
    return os.pathsep.join([str(folder), str(folder / "HermiT.jar")])


def run_hermit(ont: Ontology, timeout: float = 600.0) -> dict:
    """Run HermiT's consistency check on the RDF/XML export.

    Returns ``{"status": "consistent" | "inconsistent" | "skipped", "message": ...}``.
    Without Java, or when HermiT cannot finish, the check is skipped with a message.
    """
    if not java_available():
        return {
            "status": "skipped",
            "message": "HermiT needs Java (a 'java' executable on PATH); the reasoner check was skipped",
        }
    from .io import serialize

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "anatloc.owl"
        path.write_bytes(serialize(ont, "owl"))
        command = [
            shutil.which("java") or "java",
            f"-Xmx{JAVA_MEMORY_MB}M",
            "-cp",
            _hermit_classpath(),
            "org.semanticweb.HermiT.cli.CommandLine",
            "-k",
            path.as_uri(),
        ]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "skipped", "message": f"HermiT did not finish within {timeout:g} s"}
        except OSError as exc:
            return {"status": "skipped", "message": f"HermiT could not run: {exc}"}
    text = (out.stdout + out.stderr).strip()
    if out.returncode == 0 and "is satisfiable" in text:
        return {"status": "consistent", "message": f"HermiT: consistent ({len(ont)} terms)"}
    if "is not satisfiable" in text or "inconsistent" in text.lower():
        return {"status": "inconsistent", "message": "HermiT: the ontology is inconsistent"}
    last = text.splitlines()[-1] if text else f"exit code {out.returncode}"
    return {"status": "skipped", "message": f"HermiT could not finish: {last[:200]}"}
