"""Report text -> ontology terms: every anatomical mention with its span, term, side and status.

Decisions (see docs/annotate.md for the user's view):

* **Vocabulary comes from the ontology**: labels, exact and related synonyms and the report
  synonyms (``Term.report_synonyms``, curated in ``tools/curation/report_synonyms.tsv``).  Each
  name is tokenised and normalised the same way as the text (lower case, hyphens split, plural
  ``-s``/``-es`` dropped, "vertebrae" → "vertebra"), then matched longest-first, left to right.
* **Sides are grammar, not vocabulary**: a name of a sided term also enters the dictionary
  without its side word ("right axillary lymph nodes" → "axillary lymph nodes"); a match of
  such a *base* name takes its side from the nearest side word before it in the same clause
  ("left axillary and supraclavicular nodes": both left), else from "on the left/right" after
  it; "bilateral"/"both" gives one mention per side.  A base name with no side anywhere in the
  clause resolves to the two sides' lowest common ancestor (coarser, and said so).
* **Nodal names**: a name ending in "lymph node(s)" also enters without it, but such a key
  only matches when a nodal word follows ("subcarinal adenopathy", "right hilar nodes").
* **Patterns in code** (each documented where it is defined): liver segments, IASLC stations,
  vertebrae (with ranges and ordinal words), ribs, lung lobes and segments, neck levels,
  organ adjectives.  A pattern names a term by its label, so an edited ontology keeps working
  while the label exists; a pattern whose label is missing is skipped.
* **Coarse when the text says no more**: a name of a coarse term (or a lobe) gives a coarse
  mention; a name shared by a coarse and a fine term gives the fine one (``Ontology.get``'s rule).
* **Negation and uncertainty**: a NegEx-style rule set of our own (:data:`PRE_NEGATION`, ...)
  over the clause; medspaCy was tried and not adopted (docs/annotate.md says why).
* **Embedding fallback**: a locative phrase ("in the …") with anatomical words that matches
  no name is embedded by an encoder passed in (any ``texts -> (n, dim)`` callable with unit
  rows; the CLI passes the retriever's sentence encoder, so this module never imports torch)
  and compared with the fine terms' descriptions; at or above ``threshold`` it is reported
  with ``method="embedding"``, below as unresolved (``curie=None``).  Without an encoder such
  phrases are unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from anatloc.ontology.errors import AmbiguousTermError, DataError, UnknownTermError

# -- tokens -------------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
_PART_RE = re.compile(r"[^\W_]+", re.UNICODE)
#: prefixes joined to the next word when hyphenated: "para-aortic" = "paraaortic"
PREFIXES = {"para", "peri", "retro", "pre", "sub", "supra", "infra", "inter", "intra", "extra"}
_CLAUSE_BREAK_RE = re.compile(r"[.;:!?\n]|,\s*(?:but|however|whereas|while|although)\b", re.I)
_KEEP_S = ("ss", "us", "is", "as", "ys", "os")
_IRREGULAR = {
    "vertebrae": "vertebra",
    "vertebrals": "vertebral",
    "fossae": "fossa",
    "oesophagus": "esophagus",
    "oesophageal": "esophageal",
    "caecum": "cecum",
    "haemorrhage": "hemorrhage",
    "coeliac": "celiac",
    "dorsal": "dorsal",
    "ribs": "rib",
    "axillae": "axilla",
    "hila": "hilum",
    "lobes": "lobe",
    "femora": "femur",
    "humeri": "humerus",
    "favoured": "favored",
}


def norm_token(tok: str) -> str:
    """The normal form of one word: lower case, British spellings and plurals folded."""
    t = tok.casefold()
    if t in _IRREGULAR:
        return _IRREGULAR[t]
    if len(t) > 4 and t.endswith(("ches", "shes", "xes", "sses")):
        return t[:-2]
    if len(t) > 3 and t.endswith("s") and not t.endswith(_KEEP_S):
        return t[:-1]
    return t


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(normal form, start, end) of every word of ``text``."""
    out = []
    for m in _TOKEN_RE.finditer(text):
        word = m.group()
        if "-" not in word:
            out.append((norm_token(word), m.start(), m.end()))
            continue
        parts = [
            (p.group(), m.start() + p.start(), m.start() + p.end()) for p in _PART_RE.finditer(word)
        ]
        k = 0
        while k < len(parts):
            w, s, e = parts[k]
            while w.casefold() in PREFIXES and k + 1 < len(parts):
                k += 1
                w, e = w + parts[k][0], parts[k][2]
            out.append((norm_token(w), s, e))
            k += 1
    return out


def key_of(name: str) -> str:
    """The dictionary key of a name: its normal words without "the"."""
    return " ".join(t for t, _, _ in tokens(name) if t != "the")


# -- words with a role --------------------------------------------------------------------
SIDE_WORDS = {"left": "left", "right": "right", "lt": "left", "rt": "right"}
BOTH_WORDS = {"bilateral", "both", "bilaterally"}
NODAL_WORDS = {"node", "lymph", "adenopathy", "lymphadenopathy", "nodal", "ln", "conglomerate"}
#: words that may follow a name and belong to the mention
TRAILING = {
    "node",
    "lymph",
    "adenopathy",
    "lymphadenopathy",
    "nodal",
    "region",
    "area",
    "vertebral",
    "vertebra",
    "body",
    "level",
    "chain",
    "station",
    "bone",
    "space",
}
#: organ adjectives -> the label they name (sided labels take the side from the text);
#: a label missing from the ontology disables its adjective
ADJECTIVES = {
    "hepatic": "Liver",
    "splenic": "Spleen",
    "renal": "Right kidney",
    "gluteal": "Right buttock",
    "sternal": "Sternum",
    "pancreatic": "Pancreas",
    "gastric": "Stomach",
    "pulmonary": "Right lung",
    "lung": "Right lung",
    "hilar": "Right pulmonary hilum",
    "adrenal": "Right adrenal gland",
    "vesical": "Bladder",
    "prostatic": "Prostate gland",
    "uterine": "Uterus",
    "endometrial": "Uterus",
    "cerebral": "Brain",
    "colonic": "Large intestine",
    "duodenal": "Small intestine",
    "jejunal": "Small intestine",
    "ileal": "Small intestine",
    "esophageal": "Esophagus",
    "tracheal": "Trachea",
    "myocardial": "Heart",
    "pericardial": "Pericardium",
    "laryngeal": "Larynx",
    "nasopharyngeal": "Nasopharynx",
    "oropharyngeal": "Oropharynx",
    "tonsillar": "Right tonsil",
    "axillary": "Right axilla",
    "humeral": "Right humerus",
    "femoral": "Right femur",
    "tibial": "Right tibia",
    "fibular": "Right fibula",
    "scapular": "Right scapula",
    "clavicular": "Right clavicle",
    "iliac": "Right ilium",
    "ischial": "Right ischium",
    "pubic": "Right pubis",
    "sacral": "Sacrum",
    "coccygeal": "Coccyx",
    "thyroid": "Thyroid gland",
    "mediastinal": "Mediastinum",
    "peritoneal": "Peritoneum",
    "mesenteric": "Mesentery",
    "retroperitoneal": "Retroperitoneum",
    "rectal": "Rectum",
    "anal": "Anal canal",
    "umbilical": "Navel",
    "inguinal": "Right inguinal region",
    "pleural": "Right chest wall",
    "breast": "Right breast",
    "mammary": "Right breast",
    "ovarian": "Right uterine appendage",
    "adnexal": "Right uterine appendage",
    "testicular": "Scrotum",
    "penile": "Penis",
    "parotid": "Right parotid gland",
    "submandibular": "Right submandibular gland",
    "supraclavicular": "Right supraclavicular",
    "gallbladder": "Gallbladder",
    "bladder": "Bladder",
    "cerebellar": "Brain",
    "calvarial": "Skull",
    "mandibular": "Mandible",
    "maxillary": "Maxilla",
    "orbital": "Right eye",
    "popliteal": "Right popliteal fossa",
    "epitrochlear": "Right epitrochlear region",
    "paratracheal": "Mediastinum",
    "periportal": "Porta hepatis",
    "portal": "Porta hepatis",
    "perisplenic": "Around the spleen",
    "perihepatic": "Around the liver",
    "peripancreatic": "Around the pancreas",
    "perigastric": "Near the stomach",
    "presacral": "Pelvic cavity",
    "paraaortic": "Retroperitoneum",
    "aortocaval": "Retroperitoneum",
    "retrocrural": "Right crus of diaphragm",
    "subpectoral": "Right chest muscle",
    "spine": "Axial skeleton",
    "spinal": "Axial skeleton",
    "cervical spine": "Axial skeleton",
    "thoracic spine": "Axial skeleton",
    "dorsal spine": "Axial skeleton",
    "lumbar spine": "Axial skeleton",
    "appendiceal": "Appendix",
    "mesorectal": "Rectum",
    "cecal": "Cecum",
}

ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8}

# -- negation and uncertainty (NegEx-style) ------------------------------------------------
#: triggers before a mention: everything after them up to the clause's end is in scope
PRE_NEGATION = (
    "no",
    "without",
    "not",
    "negative for",
    "free of",
    "absence of",
    "absent",
    "no evidence of",
    "no sign of",
    "no signs of",
    "resolution of",
    "resolved",
    "rule out",
    "ruled out",
    "nor",
    "neither",
    "denies",
    "no longer",
    "no abnormal",
    "no suspicious",
    "no significant",
    "no residual",
)
#: triggers after a mention: everything before them back to the clause's start is in scope
POST_NEGATION = (
    "not seen",
    "not identified",
    "not visualized",
    "not present",
    "no longer seen",
    "no longer visible",
    "has resolved",
    "have resolved",
    "resolved",
    "is absent",
    "are absent",
    "was excluded",
    "were excluded",
    "is negative",
    "are negative",
    "not fdg avid",
    "not avid",
    "not hypermetabolic",
    "unremarkable",
    "within normal limit",
    "is normal",
    "are normal",
    "no longer avid",
    "without uptake",
    "without abnormal uptake",
    "without increased uptake",
    "without significant uptake",
    "without fdg uptake",
    "without avidity",
    "without fdg avidity",
    "without abnormal activity",
    "without increased activity",
    "without hypermetabolism",
)
PRE_UNCERTAIN = (
    "possible",
    "possibly",
    "cannot exclude",
    "can not exclude",
    "cannot rule out",
    "cannot be excluded",
    "questionable",
    "equivocal",
    "indeterminate",
    "may represent",
    "might represent",
    "could represent",
    "suspected",
    "probable",
    "probably",
    "likely",
    "differential includes",
    "versus",
    "vs",
    "concern for",
    "consider",
    "if",
    "to be confirmed",
    "uncertain",
    "? ",
)
POST_UNCERTAIN = (
    "cannot be excluded",
    "can not be excluded",
    "not excluded",
    "cannot be ruled out",
    "is equivocal",
    "are equivocal",
    "is indeterminate",
    "are indeterminate",
    "is possible",
    "of uncertain significance",
    "uncertain significance",
    "to be confirmed",
    "is questionable",
    "likely",
    "possibly",
    "probably",
    "may represent",
    "might represent",
    "could represent",
    "cannot exclude",
    "can not exclude",
    "favored",
    "presumably",
    "suspicious for",
    "versus",
    "vs",
)
#: phrases that look like triggers and are not ("no change in the left axillary node")
PSEUDO = (
    "no change",
    "no interval change",
    "no significant change",
    "not only",
    "no increase",
    "no decrease",
    "not significantly changed",
    "no substantial change",
    "not changed",
    "no new",
    "without change",
    "without interval change",
    "without significant change",
    "no significant interval change",
)
#: words that end a trigger's scope inside a clause
TERMINATORS = (
    "but",
    "however",
    "although",
    "except",
    "whereas",
    "while",
    "yet",
    "which",
    "with new",
    "there is",
    "there are",
    "and new",
    "new",
)


def _phrase_set(items: Iterable[str]) -> dict[str, list[tuple[str, ...]]]:
    """Phrases as token tuples, indexed by their first token, longest first."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for p in sorted(
        {tuple(w for w, _, _ in tokens(p)) for p in items if p.strip()}, key=len, reverse=True
    ):
        if p:
            out.setdefault(p[0], []).append(p)
    return out


_PRE_NEG = _phrase_set(PRE_NEGATION)
_POST_NEG = _phrase_set(POST_NEGATION)
_PRE_UNC = _phrase_set(PRE_UNCERTAIN)
_POST_UNC = _phrase_set(POST_UNCERTAIN)
_PSEUDO = _phrase_set(PSEUDO)
_TERM = _phrase_set(TERMINATORS)


@dataclass
class Mention:
    """One anatomical mention found in a text."""

    start: int
    end: int
    text: str
    curie: str | None  # None: unresolved
    label: str
    level: str  # fine | coarse | region ("" when unresolved)
    side: str | None  # left | right | None
    status: str  # affirmed | negated | uncertain
    method: str  # label | synonym | pattern | embedding | unresolved
    confidence: float
    candidates: list[str] = field(default_factory=list)

    @property
    def negated(self) -> bool:
        return self.status == "negated"

    @property
    def hypothetical(self) -> bool:
        return self.status == "uncertain"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["negated"] = self.negated
        d["hypothetical"] = self.hypothetical
        return d


Encoder = Callable[[list[str]], Any]


@dataclass
class _Entry:
    curie: str
    side: str | None  # the side this entry's name needs from the text (base names)
    method: str  # label | synonym | pattern
    nodal: bool = False  # matches only before a nodal word


class Annotator:
    """Finds ontology terms in report text; build once per ontology, then call :meth:`annotate`."""

    MAX_N = 9

    def __init__(
        self,
        ont,
        *,
        encoder: Encoder | None = None,
        threshold: float = 0.6,
        bank: tuple[list[str], Any] | Callable[[], tuple[list[str], Any]] | None = None,
    ):
        self.ont = ont
        self.encoder = encoder
        self.threshold = threshold
        self._bank = bank
        self._dict: dict[str, list[_Entry]] = {}
        self._vocab: set[str] = set()
        self._build()

    # -- dictionary -------------------------------------------------------------------
    def _add(self, name: str, entry: _Entry) -> None:
        k = key_of(name)
        if not k:
            return
        lst = self._dict.setdefault(k, [])
        if not any(
            e.curie == entry.curie and e.side == entry.side and e.nodal == entry.nodal for e in lst
        ):
            lst.append(entry)

    def _add_name(self, t, name: str, method: str) -> None:
        toks = [w for w, _, _ in tokens(name) if w != "the"]
        self._names.append((t, toks, method))
        self._vocab.update(w for w in toks if len(w) > 3)
        self._add(name, _Entry(t.curie, None, method))
        nodal = _strip_nodal(toks)
        if nodal:
            self._add(" ".join(nodal), _Entry(t.curie, None, method, nodal=True))
        if t.laterality in ("left", "right"):
            side = t.laterality
            base = [w for w in toks if SIDE_WORDS.get(w) != side]
            if len(base) < len(toks) and base:
                self._add(" ".join(base), _Entry(t.curie, side, method))
                nb = _strip_nodal(base)
                if nb:
                    self._add(" ".join(nb), _Entry(t.curie, side, method, nodal=True))

    def _build(self) -> None:
        ont = self.ont
        self._names: list = []
        for t in ont:
            self._add_name(t, t.label, "label")
            for s in (*t.synonyms, *getattr(t, "report_synonyms", ())):
                self._add_name(t, s, "synonym")
        for adj, label in ADJECTIVES.items():
            t = self._label(label)
            if t is not None:
                if t.laterality in ("left", "right"):
                    self._add(adj, _Entry(t.curie, t.laterality, "pattern"))
                else:
                    self._add(adj, _Entry(t.curie, None, "pattern"))
        # shortened names, only where no real name has the key: a name without its final
        # "muscle", "tissue", "soft tissue" or "fat" ("right masseter muscle" -> "right masseter")
        derived: dict[str, list[_Entry]] = {}
        for t, toks, method in self._names:
            for tail in (("soft", "tissue"), ("muscle",), ("tissue",), ("fat",)):
                if len(toks) > len(tail) and tuple(toks[-len(tail) :]) == tail:
                    short = toks[: -len(tail)]
                    if short[-1] in ADJECTIVES:
                        break  # "left gluteal" names the buttock, not its muscles
                    variants = [(short, None)]
                    if t.laterality in ("left", "right"):
                        base = [w for w in short if SIDE_WORDS.get(w) != t.laterality]
                        if base and len(base) < len(short):
                            variants.append((base, t.laterality))
                    for v, side in variants:
                        k = " ".join(v)
                        if k not in self._dict:
                            lst = derived.setdefault(k, [])
                            if not any(e.curie == t.curie and e.side == side for e in lst):
                                lst.append(_Entry(t.curie, side, method))
                    break
        for k, lst in derived.items():
            self._dict.setdefault(k, lst)
        self._vocab.update(ADJECTIVES)
        self._vocab -= _GENERIC
        self._vocab -= {
            "left",
            "right",
            "side",
            "near",
            "around",
            "between",
            "inner",
            "deep",
            "aspect",
            "tissue",
            "soft",
            "region",
            "space",
            "with",
            "from",
        }
        # side counterparts: curie -> {side: curie} for sided terms with a mirror
        self._mirror: dict[str, dict[str, str]] = {}
        by_base: dict[tuple[str, str], dict[str, str]] = {}
        for t in ont:
            if t.laterality in ("left", "right"):
                base = _unsided_label(t.label)
                by_base.setdefault((t.level, base), {})[t.laterality] = t.curie
        for sides in by_base.values():
            for c in sides.values():
                self._mirror[c] = sides
        self._region_words = {key_of(t.label) for t in ont.terms("region")}
        self._first: dict[str, int] = {}
        for k in self._dict:
            parts = k.split(" ")
            self._first[parts[0]] = max(self._first.get(parts[0], 0), len(parts))
        self._stations = _station_table(ont)
        self._lung = _lung_table(ont)
        self._vertebrae = [
            t for t in ont.terms("fine") if re.fullmatch(r"Vertebra [CTL]\d+", t.label)
        ]
        self._vert_index = {t.label.split()[1].upper(): i for i, t in enumerate(self._vertebrae)}

    def _label(self, label: str):
        try:
            return self.ont.get(label)
        except (UnknownTermError, AmbiguousTermError):
            return None

    def _sided(self, curie: str, side: str) -> str | None:
        """The term on ``side`` that mirrors ``curie`` (itself when it is on that side)."""
        t = self.ont[curie]
        if t.laterality == side:
            return curie
        return self._mirror.get(curie, {}).get(side)

    def _lca(self, curies: Sequence[str]) -> str:
        chains = [[c] + [a.curie for a in self.ont.ancestors(c)] for c in curies]
        common = set(chains[0]).intersection(*chains[1:])
        for c in chains[0]:
            if c in common:
                return c
        return chains[0][-1]

    # -- annotation -------------------------------------------------------------------
    def annotate(self, text: str) -> list[Mention]:
        """Every mention in ``text``, in text order."""
        if not isinstance(text, str):
            raise DataError("the text to annotate is not a string")
        toks = tokens(text)
        clause = _clause_ids(text, toks)
        raw: list[tuple[int, int, list[tuple[str, str | None]] | None, str, float]] = []
        covered = [False] * len(toks)
        i = 0
        while i < len(toks):
            hit = self._pattern(text, toks, i, clause)
            if hit is None:
                hit = self._lookup(toks, i, clause)
            if hit is None:
                i += 1
                continue
            j, targets, method, conf = hit
            while j < len(toks) and toks[j][0] in TRAILING and clause[j] == clause[i]:
                j += 1
            raw.append((i, j, targets, method, conf))
            for k in range(i, j):
                covered[k] = True
            i = j
        raw += self._leftovers(text, toks, covered, clause)
        raw.sort(key=lambda r: r[0])
        out: list[Mention] = []
        for i, j, targets, method, conf in raw:
            s, e = toks[i][1], toks[j - 1][2]
            status = _status(toks, clause, i, j)
            if targets is None:
                out.extend(self._fallback(text[s:e], s, e, status))
                continue
            for curie, side in targets:
                curie = self._refine(curie, toks, clause, i)
                t = self.ont[curie]
                out.append(
                    Mention(
                        s,
                        e,
                        text[s:e],
                        curie,
                        t.label,
                        t.level,
                        side if side else _lat(t.laterality),
                        status,
                        method,
                        conf,
                    )
                )
        return self._drop_ancestors(out, text)

    def _refine(self, curie: str, toks, clause, i: int) -> str:
        """A finer term the clause's qualifiers name: "subcutaneous nodule in the left upper
        arm" -> Left upper arm subcutaneous tissue; "intermuscular" -> "Between ... muscles";
        "muscle(s)" -> "... muscle"; and a coarse term's fine child with the same label."""
        t = self.ont[curie]
        if t.level == "coarse":
            for ch in self.ont.children(t):
                if ch.label.casefold() == t.label.casefold():
                    curie, t = ch.curie, ch
                    break
        words = {toks[k][0] for k in range(max(0, i - 5), i) if clause[k] == clause[i]}
        for quals, template in _QUALIFIERS:
            if quals & words and not quals & set(key_of(t.label).split()):
                c = self.ont.coarse_of(t)
                for lab in (t.label, c.label if c else ""):
                    if not lab:
                        continue
                    ents = self._dict.get(key_of(template.format(lab)), [])
                    hit = [x.curie for x in ents if x.side is None]
                    if len(hit) == 1:
                        return hit[0]
        return curie

    def _drop_ancestors(self, ms: list[Mention], text: str) -> list[Mention]:
        """Drop a mention whose term is an ancestor of another mention's term in the same
        sentence with the same status: the text said more ("S8 hepatic lesion" -> S8 only)."""
        if len(ms) < 2:
            return ms
        keep = []
        for m in ms:
            if m.curie is None:
                keep.append(m)
                continue
            anc = False
            for o in ms:
                if o is m or o.curie is None or o.status != m.status:
                    continue
                if _same_sentence(text, m, o) and any(
                    a.curie == m.curie for a in self.ont.ancestors(o.curie)
                ):
                    anc = True
                    break
            if not anc:
                keep.append(m)
        return keep

    def _side_for(self, toks, clause, i: int, j: int) -> list[str]:
        """The sides a base name at tokens i..j gets from its clause (module docstring)."""
        c = clause[i]
        k = i - 1
        while k >= 0 and clause[k] == c:
            w = toks[k][0]
            if w in SIDE_WORDS:
                return [SIDE_WORDS[w]]
            if w in BOTH_WORDS:
                return ["left", "right"]
            k -= 1
        for k in range(j, min(len(toks), j + 6)):
            if clause[k] != c:
                break
            w = toks[k][0]
            if w in SIDE_WORDS:
                return [SIDE_WORDS[w]]
            if w in BOTH_WORDS:
                return ["left", "right"]
        return []

    def _resolve(self, entries: list[_Entry], toks, clause, i: int, j: int):
        """Targets [(curie, side)] of a dictionary hit, with its method and confidence."""
        direct = [e for e in entries if e.side is None]
        method = entries[0].method
        if direct:
            curies = _prefer_fine(self.ont, [e.curie for e in direct])
            if len(curies) == 1:
                return [(curies[0], None)], direct[0].method, 1.0 if method == "label" else 0.95
            return [(self._lca(curies), None)], direct[0].method, 0.6
        sides = self._side_for(toks, clause, i, j)
        curies = _prefer_fine(self.ont, list(dict.fromkeys(e.curie for e in entries)))
        if not sides:
            lca = self._lca(
                list({c for cu in curies for c in self._mirror.get(cu, {cu: cu}).values()})
            )
            return [(lca, None)], method, 0.5
        out = []
        for side in sides:
            got = [self._sided(c, side) for c in curies]
            got = [g for g in got if g]
            if got:
                g = _prefer_fine(self.ont, got)
                out.append((g[0] if len(g) == 1 else self._lca(g), side))
        if not out:
            return None
        return out, method, 0.9

    @staticmethod
    def _nodal_follows(toks, clause, k: int) -> bool:
        """A nodal word at token k, or after a coordination ("external iliac and obturator
        nodes", "hilar, subcarinal and paratracheal lymphadenopathy") in the same clause."""
        if k >= len(toks):
            return False
        if toks[k][0] in NODAL_WORDS:
            return True
        for x in range(k, min(len(toks), k + 6)):
            if clause[x] != clause[k - 1]:
                return False
            if toks[x][0] in NODAL_WORDS:
                return any(toks[y][0] in ("and", "or") for y in range(k, x))
        return False

    def _resolve_side(self, entries: list[_Entry], side: str):
        got = []
        for e in entries:
            c = (
                self._sided(e.curie, side)
                if self.ont[e.curie].laterality in ("left", "right")
                else e.curie
            )
            if c:
                got.append(c)
        got = _prefer_fine(self.ont, got)
        if not got:
            return None
        return [(got[0] if len(got) == 1 else self._lca(got), side)], entries[0].method, 0.85

    def _lookup(self, toks, i: int, clause):
        first = toks[i][0]
        inner_side = None
        if first not in self._first:
            return None
        n_max = min(self.MAX_N, len(toks) - i, self._first[first] + 3)
        for n in range(n_max, 0, -1):
            if clause[i + n - 1] != clause[i]:
                continue
            words = [t for t, _, _ in toks[i : i + n] if t != "the"]
            key = " ".join(words)
            entries = self._dict.get(key)
            inner_side = None
            if not entries and n >= 3:
                # a side word inside a name: "distal left ureter", "posterior right rib"
                inner = [w for w in words[1:-1] if w in SIDE_WORDS]
                if len(inner) == 1:
                    rest = [words[0]] + [w for w in words[1:] if w not in SIDE_WORDS]
                    entries = self._dict.get(" ".join(rest))
                    inner_side = SIDE_WORDS[inner[0]]
            if not entries:
                continue
            plain = [e for e in entries if not e.nodal]
            if not plain:
                if not self._nodal_follows(toks, clause, i + n):
                    continue
                plain = entries
            if n == 1 and len(key) <= 2 and not key[-1].isdigit():
                continue  # a one- or two-letter word alone is never a location
            if i + n < len(toks) and toks[i + n][0] == "of" and key in self._region_words:
                continue  # "head of the pancreas", "neck of the femur": not the region
            if inner_side is not None:
                res = self._resolve_side(plain, inner_side)
            else:
                res = self._resolve(plain, toks, clause, i, i + n)
            if res is None:
                continue
            targets, method, conf = res
            return i + n, targets, method, conf
        return None

    # -- patterns ---------------------------------------------------------------------
    def _pattern(self, text, toks, i: int, clause):
        w = toks[i][0]
        if not (
            w in _PATTERN_WORDS
            or w[0].isdigit()
            or (len(w) <= 4 and w[0] in "srlctd" and w[1:2].isdigit())
        ):
            return None  # no pattern starts with this word (a fast exit: most words)
        for fn in (
            self._pat_liver,
            self._pat_station,
            self._pat_lung,
            self._pat_rib,
            self._pat_vertebra,
            self._pat_neck_level,
        ):
            hit = fn(text, toks, i, clause)
            if hit is not None:
                return hit
        return None

    def _sentence_words(self, toks, clause, i) -> set[str]:
        c = clause[i]
        return {t for (t, _, _), cc in zip(toks, clause, strict=True) if cc == c}

    def _pat_liver(self, text, toks, i, clause):
        """Liver segments: "segment VII", "segment 7", "S7", "hepatic segment 4a",
        "segments VI and VII" (with "liver"/"hepatic" in the clause, or "hepatic"/"liver"
        right before)."""
        w = toks[i][0]
        j = i
        if w in ("hepatic", "liver", "couinaud") and i + 1 < len(toks):
            j = i + 1
        if toks[j][0] in ("segment", "seg", "segments"):
            nums, k = _numbers(toks, j + 1, roman=True, suffix_ab=True)
            if not nums or not all(1 <= n <= 8 for n in nums):
                return None
            if j == i and not (
                {"liver", "hepatic", "couinaud"} & self._sentence_words(toks, clause, i)
            ):
                return None
            return self._targets([f"Liver S{n}" for n in nums], k, "pattern", 0.95)
        m = _LIVER_S_RE.fullmatch(toks[j][0])
        if m and (j > i or {"liver", "hepatic"} & self._sentence_words(toks, clause, i)):
            if j == i and {"lobe", "lung", "pulmonary", "sacral", "sacrum"} & self._sentence_words(
                toks, clause, i
            ):
                return None
            return self._targets([f"Liver S{m.group(1)}"], j + 1, "pattern", 0.95)
        return None

    def _targets(self, labels: list[str], end: int, method: str, conf: float):
        out = []
        for lab in labels:
            t = self._label(lab)
            if t is not None:
                out.append((t.curie, None))
        if not out:
            return None
        return end, out, method, conf

    def _pat_station(self, text, toks, i, clause):
        """IASLC stations: "station 4R", "stations 4R and 7", "level 2R", a bare "4R"/"10L"/
        "3A" word, "#7"."""
        w = toks[i][0]
        if w in ("station", "stations", "level", "levels", "zone"):
            codes, k = _station_codes(toks, i + 1)
            if w.startswith("level") and not all(c[-1] in "rlap" for c in codes):
                return None
        else:
            if not _BARE_STATION_RE.fullmatch(w):
                return None
            codes, k = _station_codes(toks, i)
        labels = [self._stations[c] for c in codes if c in self._stations]
        if not labels:
            return None
        return k, [(c, None) for c in labels], "pattern", 0.95

    def _pat_lung(self, text, toks, i, clause):
        """Lung lobes and segments: "RUL", "right upper lobe", "lingula", "superior segment
        of the right lower lobe", "right lower lobe posterior basal segment", "LLL apex"."""
        lobe, k = _lobe_at(toks, i)
        if lobe is not None:
            side, which = lobe
            seg, k2 = _segment_at(toks, k)
            for sg in seg or ():
                if (side, which, sg) in self._lung:
                    return k2, [(self._lung[(side, which, sg)], None)], "pattern", 0.95
            lung = self._label(f"{side.capitalize()} lung")
            if lung is None:
                return None
            lung_c = self.ont.coarse_of(lung) or lung
            return k, [(lung_c.curie, None)], "pattern", 0.9
        seg, k = _segment_at(toks, i)
        if seg is not None and k + 2 < len(toks) and toks[k][0] == "of":
            k3 = k + 1 + (toks[k + 1][0] == "the")
            lobe, k4 = _lobe_at(toks, k3)
            for sg in seg if lobe is not None else ():
                if (lobe[0], lobe[1], sg) in self._lung:
                    return k4, [(self._lung[(lobe[0], lobe[1], sg)], None)], "pattern", 0.95
        return None

    def _pat_rib(self, text, toks, i, clause):
        """Ribs: "right 7th rib", "seventh right rib", "rib 7", "left 5th and 6th ribs",
        "R7"/"L7" before "rib", a bare "R7"; the side comes from the phrase or the clause."""
        w = toks[i][0]
        m = _RIB_CODE_RE.fullmatch(w)
        if m and (m.group(1) == "r" or (i + 1 < len(toks) and toks[i + 1][0] == "rib")):
            end = i + 1 + (i + 1 < len(toks) and toks[i + 1][0] == "rib")
            side = "left" if m.group(1) == "l" else "right"
            return self._rib_targets([int(m.group(2))], [side], end)
        k = i
        side: list[str] = []
        if w in SIDE_WORDS:
            side = [SIDE_WORDS[w]]
            k += 1
        elif w in BOTH_WORDS:
            side = ["left", "right"]
            k += 1
        nums, k2 = _numbers(toks, k, ordinal=True)
        if nums and k2 < len(toks):
            if toks[k2][0] in SIDE_WORDS and not side:
                side = [SIDE_WORDS[toks[k2][0]]]
                k2 += 1
            if k2 < len(toks) and toks[k2][0] == "rib":
                side = side or self._side_for(toks, clause, i, k2 + 1)
                return self._rib_targets(nums, side, k2 + 1)
            return None
        if w == "rib" or (side and k < len(toks) and toks[k][0] == "rib"):
            kk = i + 1 if w == "rib" else k + 1
            nums, k3 = _numbers(toks, kk)
            if nums:
                side = side or self._side_for(toks, clause, i, k3)
                return self._rib_targets(nums, side, k3)
        return None

    def _rib_targets(self, nums, sides, end):
        if not sides:
            sides_out = []
            for n in nums:
                a, b = self._label(f"Rib L{n}"), self._label(f"Rib R{n}")
                if a and b:
                    sides_out.append((self._lca([a.curie, b.curie]), None))
            return (end, sides_out, "pattern", 0.5) if sides_out else None
        out = []
        for s in sides:
            for n in nums:
                t = self._label(f"Rib {'L' if s == 'left' else 'R'}{n}")
                if t is not None:
                    out.append((t.curie, s))
        return (end, out, "pattern", 0.95) if out else None

    def _pat_vertebra(self, text, toks, i, clause):
        """Vertebrae: "L3", "T11", "D7" (dorsal), "T4-T6"/"T4 to T6" (every level between),
        "L3 and L4", "third lumbar vertebra", "L3 vertebral body"."""
        w = toks[i][0]
        if w in ORDINALS and i + 1 < len(toks) and toks[i + 1][0] in _SPINE:
            n = ORDINALS[w]
            name = f"{_SPINE[toks[i + 1][0]]}{n}"
            if (
                name in self._vert_index
                and i + 2 < len(toks)
                and toks[i + 2][0] in ("vertebra", "vertebral")
            ):
                return (
                    i + 3,
                    [(self._vertebrae[self._vert_index[name]].curie, None)],
                    "pattern",
                    0.95,
                )
            return None
        v = _vert_name(w)
        if v is None or v not in self._vert_index:
            return None
        nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
        if v[0] == "T" and (_TNM_RE.fullmatch(nxt) or nxt == "weighted"):
            return None
        names = [v]
        k = i + 1
        while k < len(toks):
            sep = text[toks[k - 1][2] : toks[k][1]].strip()
            w2 = toks[k][0]
            if w2 in ("to", "through", "and", "or"):
                k2, kind = k + 1, "list" if w2 in ("and", "or") else "range"
            elif sep in ("-", "\u2013"):
                k2, kind = k, "range"
            else:
                break
            if k2 >= len(toks):
                break
            nv = _vert_name(toks[k2][0])
            if nv is None and toks[k2][0].isdigit():
                nv = f"{names[-1][0]}{int(toks[k2][0])}"
            if nv is None or nv not in self._vert_index:
                break
            if kind == "list":
                names.append(nv)
            else:
                a, b = self._vert_index[names[-1]], self._vert_index[nv]
                for x in range(min(a, b), max(a, b) + 1):
                    names.append(self._vertebrae[x].label.split()[1])
            k = k2 + 1
        ctx = {t for t, _, _ in toks[max(0, i - 4) : k + 3]}
        near = bool(
            {"paravertebral", "perivertebral", "epidural", "paraspinal", "prevertebral"} & ctx
        )
        spinous = "spinous" in ctx
        out = []
        for n in dict.fromkeys(names):
            lab = (
                f"Near vertebra {n}"
                if near
                else f"Spinous process of vertebra {n}"
                if spinous
                else f"Vertebra {n}"
            )
            t = self._label(lab) or self._label(f"Vertebra {n}")
            if t is not None:
                out.append((t.curie, None))
        return (k, out, "pattern", 0.95) if out else None

    def _pat_neck_level(self, text, toks, i, clause):
        """Cervical nodal levels: "level II", "level IIA/IIb", "levels II-IV", "level 3" ->
        the left or right neck (fine), the side from the clause."""
        if toks[i][0] not in ("level", "levels"):
            return None
        nums, k = _numbers(toks, i + 1, roman=True, suffix_ab=True)
        if not nums or not all(1 <= n <= 6 for n in nums):
            return None
        sides = self._side_for(toks, clause, i, k)
        out = []
        for s in sides:
            t = self._label(f"{s.capitalize()} neck")
            if t is not None:
                out.append((t.curie, s))
        if not sides:
            a, b = self._label("Left neck"), self._label("Right neck")
            if a and b:
                return k, [(self._lca([a.curie, b.curie]), None)], "pattern", 0.5
        return (k, out, "pattern", 0.9) if out else None

    # -- fallback ---------------------------------------------------------------------
    def _leftovers(self, text, toks, covered, clause):
        """Locative phrases with anatomical words that no name matched (module docstring).

        A phrase right before a matched mention (directly, or across "of/at/in the") modifies
        it ("upper pole of the right kidney", "thoracic spine at T5", "proximal left
        humerus") and is not a mention of its own; words that only say where within a part
        (``_GENERIC``) do not make a phrase anatomical."""
        out = []
        i = 0
        while i < len(toks):
            if covered[i] or toks[i][0] not in ("in", "within", "involving", "at", "along", "of"):
                i += 1
                continue
            j = i + 1
            while j < len(toks) and toks[j][0] in ("the", "a", "an"):
                j += 1
            k = j
            while (
                k < len(toks)
                and not covered[k]
                and clause[k] == clause[i]
                and k - j < 6
                and toks[k][0] not in _STOP
                and (k == j or "," not in text[toks[k - 1][2] : toks[k][1]])
            ):
                k += 1
            end = k
            while end > j and toks[end - 1][0] in ("of", "the", "a", "an"):
                end -= 1
            nxt = end
            while nxt < len(toks) and toks[nxt][0] in ("of", "at", "in", "on", "the", "a", "an"):
                nxt += 1
            modifier = nxt < len(toks) and covered[nxt] and clause[nxt] == clause[i]
            if end > j and not modifier and any(toks[x][0] in self._vocab for x in range(j, end)):
                out.append((j, end, None, "unresolved", 0.0))
            i = max(k, i + 1)
        return out

    def _fallback(self, phrase: str, s: int, e: int, status: str) -> list[Mention]:
        if self.encoder is None:
            return [Mention(s, e, phrase, None, "", "", None, status, "unresolved", 0.0)]
        import numpy as np

        curies, mat = self._bank_matrix()
        q = np.asarray(self.encoder([phrase]), dtype=np.float32)[0]
        q = q / max(float(np.linalg.norm(q)), 1e-8)
        sims = mat @ q
        order = np.argsort(-sims)[:3]
        best = float(sims[order[0]])
        cands = [curies[x] for x in order]
        if best < self.threshold:
            return [Mention(s, e, phrase, None, "", "", None, status, "unresolved", best, cands)]
        t = self.ont[cands[0]]
        return [
            Mention(
                s,
                e,
                phrase,
                t.curie,
                t.label,
                t.level,
                _lat(t.laterality),
                status,
                "embedding",
                best,
                cands,
            )
        ]

    def _bank_matrix(self):
        if callable(self._bank):
            import numpy as np

            curies, emb = self._bank()
            emb = np.asarray(emb, dtype=np.float32)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-8)
            self._bank = (list(curies), emb)
        if self._bank is None:
            import numpy as np

            from anatloc.ontology.describe import description_texts

            terms = self.ont.terms("fine")
            texts = [description_texts(self.ont, t)[0] for t in terms]
            emb = np.asarray(self.encoder(texts), dtype=np.float32)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-8)
            self._bank = ([t.curie for t in terms], emb)
        return self._bank


_STOP = {
    "and",
    "or",
    "with",
    "which",
    "measuring",
    "measure",
    "suv",
    "suvmax",
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "consistent",
    "compatible",
    "suggesting",
    "suggestive",
    "in",
    "at",
    "to",
    "for",
    "from",
    "since",
    "on",
    "by",
    "as",
    "than",
    "that",
    "this",
    "size",
    "keeping",
    "comparison",
    "previous",
    "prior",
    "interval",
    "up",
    "mm",
    "cm",
}
#: words that say where within a part, or what tissue, but name no part
_GENERIC = {
    "upper",
    "lower",
    "proximal",
    "distal",
    "posterior",
    "anterior",
    "superior",
    "inferior",
    "medial",
    "lateral",
    "wall",
    "shaft",
    "pole",
    "body",
    "fat",
    "subcutaneous",
    "tissue",
    "muscle",
    "bone",
    "joint",
    "region",
    "space",
    "side",
    "segment",
    "lobe",
    "process",
}
#: qualifier words -> the label template of the finer term they name
_QUALIFIERS = (
    ({"subcutaneous", "subcutaneously", "cutaneous", "skin"}, "{} subcutaneous tissue"),
    ({"intermuscular"}, "Between {} muscles"),
    ({"muscle", "intramuscular", "musculature"}, "{} muscle"),
)


def _same_sentence(text: str, a: Mention, b: Mention) -> bool:
    """Whether two mentions are one place said twice: close together (at most three short
    words between them), in one sentence, not coordinated ("and", "or", a comma)."""
    lo, hi = (a, b) if a.start <= b.start else (b, a)
    gap = text[lo.end : hi.start]
    if re.search(r"[.;,\n]", gap) or re.search(r"\b(and|or|nor)\b", gap, re.I):
        return False
    return len(gap.split()) <= 3


_LIVER_S_RE = re.compile(r"s([1-8])([ab])?")
_BARE_STATION_RE = re.compile(r"(1[0-4]|[1-9])[rl]|3[ap]")
_RIB_CODE_RE = re.compile(r"([rl])(1[0-2]|[1-9])")
_TNM_RE = re.compile(r"n\d.*|m\d.*|weighted")
_AB_RE = re.compile(r"[iv]+[ab]|\d[ab]")
_ORD_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)")
_STATION_RE = re.compile(r"(1[0-4]|[1-9])[rlap]?")
_VERT_RE = re.compile(r"([ctld])(\d{1,2})")
_SPINE = {"cervical": "C", "thoracic": "T", "dorsal": "T", "lumbar": "L"}


def _lat(laterality: str) -> str | None:
    return laterality if laterality in ("left", "right") else None


def _unsided_label(label: str) -> str:
    t = re.sub(r"\b(left|right)\b", " ", label, flags=re.I)
    t = re.sub(r"^Rib [LR](\d+)$", r"Rib \1", t.strip())
    t = re.sub(r"^Mediastinum (\d+)[LR]$", r"Mediastinum \1", t)
    return " ".join(t.split()).casefold()


def _strip_nodal(toks: list[str]) -> list[str] | None:
    """The name without a final "lymph node(s)"/"node(s)"/"nodal chain" (None if it has none)."""
    if len(toks) >= 3 and toks[-2:] == ["lymph", "node"]:
        return toks[:-2]
    if len(toks) >= 2 and toks[-1] in ("node", "chain") and toks[-2] != "lymph":
        return toks[:-1] if toks[-2] != "nodal" else toks[:-2] or None
    return None


def _prefer_fine(ont, curies: list[str]) -> list[str]:
    """Drop a coarse term when a fine term with its label is among the candidates."""
    fine_labels = {ont[c].label.casefold() for c in curies if ont[c].level == "fine"}
    out = [
        c
        for c in curies
        if not (ont[c].level == "coarse" and ont[c].label.casefold() in fine_labels)
    ]
    return list(dict.fromkeys(out))


def _clause_ids(text: str, toks) -> list[int]:
    """A clause number per token: a new clause after . ; : ! ? or a newline."""
    breaks = [m.start() for m in _CLAUSE_BREAK_RE.finditer(text)]
    out, b, c = [], 0, 0
    for _, s, _ in toks:
        while b < len(breaks) and breaks[b] < s:
            b += 1
            c += 1
        out.append(c)
    return out


def _match_at(toks, k: int, phrases) -> int:
    """Length of the longest phrase of ``phrases`` at token k (0 if none)."""
    for p in phrases.get(toks[k][0], ()):
        n = len(p)
        if k + n <= len(toks) and all(toks[k + x][0] == p[x] for x in range(n)):
            return n
    return 0


_FIRSTS = set().union(_TERM, _PSEUDO, _PRE_NEG, _PRE_UNC, _POST_NEG, _POST_UNC)


def _status(toks, clause, i: int, j: int) -> str:
    """affirmed, negated or uncertain: NegEx-style scopes within the mention's clause."""
    c = clause[i]
    start = i
    while start > 0 and clause[start - 1] == c:
        start -= 1
    end = j
    while end < len(toks) and clause[end] == c:
        end += 1
    found = None
    k = start
    while k < i:  # pre-triggers: the last one before the mention whose scope reaches it
        if toks[k][0] not in _FIRSTS:
            k += 1
            continue
        if _match_at(toks, k, _TERM):
            found = None
        p = _match_at(toks, k, _PSEUDO)
        if p:
            k += p
            continue
        n = _match_at(toks, k, _PRE_NEG)
        if n:
            found = "negated"
            k += n
            continue
        n = _match_at(toks, k, _PRE_UNC)
        if n:
            found = "uncertain"
            k += n
            continue
        k += 1
    if found:
        return found
    k = j
    while k < end:
        if toks[k][0] not in _FIRSTS:
            k += 1
            continue
        if _match_at(toks, k, _TERM):
            break
        if _match_at(toks, k, _PSEUDO):
            k += 1
            continue
        if _match_at(toks, k, _POST_NEG):
            return "negated"
        if _match_at(toks, k, _POST_UNC):
            return "uncertain"
        k += 1
    return "affirmed"


def _numbers(
    toks, k: int, *, roman: bool = False, ordinal: bool = False, suffix_ab: bool = False
) -> tuple[list[int], int]:
    """A list of numbers at token k: "7", "VII", "7th", "seventh", "6 and 7", "II-IV"."""
    out: list[int] = []
    while k < len(toks):
        w = toks[k][0]
        n = _number(w, roman, ordinal, suffix_ab)
        if n is None:
            break
        out.append(n)
        k += 1
        if (
            k + 1 < len(toks)
            and toks[k][0] in ("and", "or", "to", "through")
            and _number(toks[k + 1][0], roman, ordinal, suffix_ab) is not None
        ):
            if toks[k][0] in ("to", "through"):
                hi = _number(toks[k + 1][0], roman, ordinal, suffix_ab)
                out += list(range(out[-1] + 1, hi + 1))
                k += 2
                continue
            k += 1
    return out, k


def _number(w: str, roman: bool, ordinal: bool, suffix_ab: bool) -> int | None:
    if suffix_ab and _AB_RE.fullmatch(w):
        w = w[:-1]
    if w.isdigit() and len(w) <= 2:
        return int(w)
    if roman and w in ROMAN:
        return ROMAN[w]
    if ordinal:
        if w in ORDINALS:
            return ORDINALS[w]
        m = _ORD_RE.fullmatch(w)
        if m:
            return int(m.group(1))
    return None


def _station_codes(toks, k: int) -> tuple[list[str], int]:
    out = []
    while k < len(toks):
        w = toks[k][0]
        if _STATION_RE.fullmatch(w):
            out.append(w)
            k += 1
            if (
                k + 1 < len(toks)
                and toks[k][0] in ("and", "or")
                and _STATION_RE.fullmatch(toks[k + 1][0])
            ):
                k += 1
            continue
        break
    return out, k


def _station_table(ont) -> dict[str, str]:
    """IASLC station code ("4r", "7", "10l") -> CURIE, from the "station X" synonyms."""
    out = {}
    for t in ont.terms("fine"):
        for s in t.synonyms:
            m = re.fullmatch(r"station (\w+)", s.strip(), re.I)
            if m:
                out[m.group(1).casefold()] = t.curie
    return out


_SEG_WORDS = {
    "apical": "apex",
    "apex": "apex",
    "apicoposterior": "apex posterior",
    "posterior": "posterior",
    "anterior": "anterior",
    "lateral": "outer",
    "medial": "inner",
    "superior": "dorsal",
    "dorsal": "dorsal",
    "anteromedial": "anterior",
    "outer": "outer",
    "inner": "inner",
}


def _lung_table(ont) -> dict[tuple[str, str, str], str]:
    """(side, lobe, segment word) -> CURIE, parsed from the lung segments' labels:
    "Right lower lobe posterior basal segment" -> ("right", "lower", "posterior basal")."""
    out = {}
    for t in ont.terms("fine"):
        m = re.fullmatch(r"(Left|Right) (upper|middle|lower) lobe (.+) segment", t.label)
        if m:
            seg = m.group(3).replace(" basal", " basal")
            out[(m.group(1).lower(), m.group(2), seg)] = t.curie
    # lingula: the left upper lobe's tongue segments
    for (side, _lobe, seg), c in list(out.items()):
        if seg == "upper tongue":
            out[(side, "lingula", "superior")] = c
        if seg == "lower tongue":
            out[(side, "lingula", "inferior")] = c
    return out


_LOBE_ABBR = {
    "rul": ("right", "upper"),
    "rml": ("right", "middle"),
    "rll": ("right", "lower"),
    "lul": ("left", "upper"),
    "lll": ("left", "lower"),
}


def _lobe_at(toks, k: int):
    if k >= len(toks):
        return None, k
    w = toks[k][0]
    if w in _LOBE_ABBR:
        return _LOBE_ABBR[w], k + 1
    if w == "lingula" or w == "lingular":
        return ("left", "lingula"), k + 1
    if (
        w in SIDE_WORDS
        and k + 2 < len(toks)
        and toks[k + 1][0] in ("upper", "middle", "lower")
        and toks[k + 2][0] == "lobe"
    ):
        return (SIDE_WORDS[w], toks[k + 1][0]), k + 3
    return None, k


def _segment_at(toks, k: int):
    """A segment name at token k ("posterior basal segment", "apical segment", "superior")."""
    if k >= len(toks):
        return None, k
    w = toks[k][0]
    if w not in _SEG_WORDS:
        return None, k
    segs = list(dict.fromkeys([w, _SEG_WORDS[w]]))
    k2 = k + 1
    if k2 < len(toks) and toks[k2][0] == "basal":
        segs = [f"{x} basal" for x in segs]
        k2 += 1
    if k2 < len(toks) and toks[k2][0] == "segment":
        return segs, k2 + 1
    return None, k


def _vert_name(w: str) -> str | None:
    m = _VERT_RE.fullmatch(w)
    if not m:
        return None
    letter = {"d": "T"}.get(m.group(1), m.group(1).upper())
    return f"{letter}{int(m.group(2))}"


# -- table filling --------------------------------------------------------------------------
def fill_locations(ann: Annotator, report: str, n_rows: int) -> tuple[list[str | None], list[str]]:
    """The ``locations`` of a case's ``n_rows`` lesion rows from its report, in report order.

    Affirmed, resolved mentions are taken in text order, one distinct CURIE per lesion; the
    mapping is unambiguous only when the report names exactly ``n_rows`` of them at the fine
    level.  Otherwise every row stays empty (None) and the reasons are returned for a human.
    """
    ms = [m for m in ann.annotate(report) if m.status == "affirmed"]
    curies = list(dict.fromkeys(m.curie for m in ms if m.curie))
    problems = []
    if any(m.curie is None for m in ms):
        problems.append("unresolved: " + ", ".join(repr(m.text) for m in ms if m.curie is None))
    coarse = [c for c in curies if ann.ont[c].level != "fine"]
    if coarse:
        problems.append("not fine: " + ", ".join(ann.ont[c].label for c in coarse))
    if len(curies) != n_rows:
        problems.append(f"{len(curies)} location(s) in the report for {n_rows} lesion row(s)")
    if problems:
        return [None] * n_rows, problems
    return list(curies), []


#: the words a pattern may start with (besides numbers and codes such as "s7", "l3", "r7")
_PATTERN_WORDS = {
    "hepatic", "liver", "couinaud", "segment", "seg", "segments", "station", "stations",
    "level", "levels", "zone", "rib", "lingula", "lingular",
    *SIDE_WORDS, *BOTH_WORDS, *ORDINALS, *_LOBE_ABBR, *_SEG_WORDS,
}  # fmt: skip
