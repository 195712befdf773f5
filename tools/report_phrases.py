"""Report phrases ("in the left humerus") for the shipped ontology's terms.

    python tools/report_phrases.py propose      # label -> generated phrase, as TSV (stdout)
    python tools/report_phrases.py apply        # fill the terms that have no phrase yet
    python tools/report_phrases.py check        # exit 1 when a term has none or a bad one

The rules are ``anatloc.ontology.phrases.generate``.  How the shipped phrases were made: the
generator's proposal for every term was read in full (``propose``), the rules were fixed where
a phrase read badly ("in the left head" → "in the left side of the head", "subcutaneous tissue
of the left facial" → "… of the left face"), and ``apply`` wrote them.  ``apply`` never
replaces a phrase already in the file, so a phrase edited by hand in the Turtle file stays.
The content hash does not change (asserted): the phrases never reach the model.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # annotation_tool, run as a script or loaded by path


def main(argv: list[str]) -> int:
    from annotation_tool import run

    from anatloc.ontology.phrases import generate, problems

    def show(ont, rest: list[str]) -> int:
        sys.stdout.write("curie\tlevel\tlabel\tphrase\n")
        for t in ont:
            sys.stdout.write(f"{t.curie}\t{t.level}\t{t.label}\t{generate(t.label)}\n")
        return 0

    def apply(ont) -> tuple[int, list[str]]:
        todo = [t for t in ont if not t.report_phrase]
        for t in todo:  # a phrase already in the file (maybe edited by hand) stays
            ont.update(t.curie, report_phrase=generate(t.label))
        return len(todo), []

    return run(argv, __doc__, what="report phrases", apply=apply, check=problems, propose=show)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
