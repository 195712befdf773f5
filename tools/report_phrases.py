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


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from anatloc.ontology import load_ontology
    from anatloc.ontology.io import save_ontology, shipped_path
    from anatloc.ontology.phrases import generate, problems

    cmd = argv[0] if argv else ""
    ont = load_ontology(shipped_path())
    if cmd == "propose":
        sys.stdout.write("curie\tlevel\tlabel\tphrase\n")
        for t in ont:
            sys.stdout.write(f"{t.curie}\t{t.level}\t{t.label}\t{generate(t.label)}\n")
        return 0
    if cmd == "apply":
        before = ont.content_hash()
        n = 0
        for t in list(ont):
            if not t.report_phrase:
                ont.update(t.curie, report_phrase=generate(t.label))
                n += 1
        assert ont.content_hash() == before, "report phrases changed the content hash"
        save_ontology(ont, shipped_path(), allow_shipped=True)
        print(f"wrote {n} report phrases into {shipped_path()}")
        return 0
    if cmd == "check":
        bad = problems(ont)
        print("\n".join(bad) if bad else "ok", file=sys.stderr if bad else sys.stdout)
        return 1 if bad else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
