"""SPARQL over the ontology: in memory (rdflib), embedded Oxigraph, or a remote endpoint.

* The query is a string, a ``.rq`` file, or the name of a shipped query
  (``children-of`` ...; :func:`named_queries` lists them with their parameters).
* The prefixes of :data:`anatloc.ontology.vocab.PREFIXES` are predefined.  The local stores
  get them through their own APIs (pyoxigraph's ``prefixes=``, rdflib's ``initNs``), so the
  query they parse is the user's text and a syntax error's line is the user's line; a remote
  endpoint gets them as a ``PREFIX`` prologue (the protocol has no other way).
* Parameters: ``$name`` in the query text is replaced by the value given for ``name``, as an
  RDF term made by pyoxigraph — a ``NamedNode`` when the value is a CURIE or ``<IRI>``
  (pyoxigraph refuses an IRI with a space, ``>``, ``"`` …, so a value cannot close the IRI
  and add SPARQL), else a ``Literal`` — and written as pyoxigraph serializes that term
  (quotes, backslashes and line breaks escaped), never pasted as raw text.

  Decision: the term is written into the text rather than bound with pyoxigraph's
  ``substitutions=`` or rdflib's ``initBindings``, because both bind a *variable*, and
  ``$name`` is not a placeholder in SPARQL but another spelling of ``?name``:
  ``term-by-label`` takes ``$label`` and returns ``?label``, and binding the variable would
  bind both.  Oxigraph (0.5) also refuses ``substitutions`` for a variable that is not in the
  SELECT projection (SEP-0007), which is the case of every shipped query's parameters.
* Read-only by default: an update (INSERT, DELETE, LOAD, CLEAR ...) is refused unless
  ``allow_update`` is set; an allowed update on a local store is written back to the
  ontology file (atomically, only if the result is still a valid ontology).
"""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import vocab
from .errors import DataError, ExternalError, RefusedError, UsageError
from .model import Ontology

#: "oxigraph" (default): pyoxigraph in memory; "memory": an rdflib Graph (pure Python, slower)
STORES = ("oxigraph", "memory")
_UPDATE_RE = re.compile(
    r"^\s*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.IGNORECASE
)
_PROLOGUE_RE = re.compile(r"^\s*(PREFIX\s+[^\s:]*:\s*<[^>]*>|BASE\s*<[^>]*>)", re.IGNORECASE)
_COMMENT_RE = re.compile(r"(?m)^\s*#.*$")
_PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class NamedQuery:
    name: str
    text: str
    description: str
    params: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, meaning)


@dataclass
class Result:
    """A query result: ``rows`` for SELECT, ``boolean`` for ASK, ``triples`` for CONSTRUCT."""

    kind: str  # select | ask | graph | update
    vars: list[str] = field(default_factory=list)
    rows: list[dict[str, str | None]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[tuple[str, str, str]] = field(default_factory=list)
    message: str = ""

    def as_json(self) -> dict:
        if self.kind == "select":
            return {"vars": self.vars, "rows": self.rows, "count": len(self.rows)}
        if self.kind == "ask":
            return {"boolean": self.boolean}
        if self.kind == "graph":
            return {"triples": [list(t) for t in self.triples], "count": len(self.triples)}
        return {"update": self.message}


# -- named queries --------------------------------------------------------------------
def named_queries() -> dict[str, NamedQuery]:
    """The queries shipped in ``ontology/queries/*.rq``, by name."""
    out: dict[str, NamedQuery] = {}
    folder = resources.files("anatloc.ontology") / "queries"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".rq"):
            continue
        text = entry.read_text(encoding="utf-8")
        desc, params = "", {}
        for line in text.splitlines():
            m = re.match(r"#\s*param:\s*(\w+)\s*\((term|text)\)\s*(.*)", line)
            if m:
                params[m.group(1)] = (m.group(2), m.group(3).strip())
            elif line.startswith("#") and not desc:
                desc = line.lstrip("# ").strip()
        name = entry.name[:-3]
        out[name] = NamedQuery(name, text, desc, params)
    return out


def resolve_query(query: str) -> tuple[str, NamedQuery | None]:
    """(query text, the named query or None) for a name, a ``.rq`` file or literal text."""
    named = named_queries()
    if query in named:
        return named[query].text, named[query]
    if re.fullmatch(r"[\w\-./]+\.(rq|sparql)", query.strip()):
        p = Path(query.strip())
        try:
            return p.read_text(encoding="utf-8"), None
        except FileNotFoundError:
            raise DataError(f"query file {p} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read query file {p}: {exc}") from None
    if re.fullmatch(r"[a-z0-9\-]+", query.strip()):
        raise UsageError(
            f"unknown named query {query!r}; 'anatloc sparql --list' shows: {', '.join(named)}"
        )
    return query, None


def is_update(text: str) -> bool:
    body = _COMMENT_RE.sub("", text)
    while True:
        m = _PROLOGUE_RE.match(body)
        if not m:
            break
        body = body[m.end() :]
    return bool(_UPDATE_RE.match(body))


def _iri_term(iri: str, where: str) -> str:
    import pyoxigraph as ox

    try:
        return str(ox.NamedNode(iri))
    except ValueError as exc:
        raise UsageError(f"{where}: {iri!r} is not an IRI ({exc})") from None


def _literal_term(value: str) -> str:
    import pyoxigraph as ox

    return str(ox.Literal(value))


def _node_for_param(value: str, where: str = "--param") -> str:
    v = value.strip()
    if v.startswith("<") and v.endswith(">"):
        return _iri_term(v[1:-1], where)
    prefix, sep, local = v.partition(":")
    if sep and prefix in vocab.PREFIXES and re.fullmatch(r"[\w\-.]+", local):
        return _iri_term(vocab.expand(v), where)
    return _literal_term(v)


class Prepared(str):
    """A query ready to run: as a string, the full text (predefined prefixes first) that a
    remote endpoint gets; ``body`` is the user's text with its parameters written in, and
    ``prefixes`` the predefined prefixes it does not declare, which the local stores take
    through their APIs."""

    body: str
    prefixes: dict[str, str]

    def __new__(cls, body: str, prefixes: dict[str, str]) -> Prepared:
        prologue = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prefixes.items())
        self = super().__new__(cls, prologue + (_PROLOGUE_END if prologue else "") + body)
        self.body = body
        self.prefixes = dict(prefixes)
        return self


def _parts(query: str) -> tuple[str, dict[str, str]]:
    """(the text a local store parses, the prefixes to give it) for a query."""
    if isinstance(query, Prepared):
        return query.body, query.prefixes
    return query, {}


def prepare(
    text: str,
    params: dict[str, str] | None = None,
    *,
    named: NamedQuery | None = None,
    ont: Ontology | None = None,
) -> Prepared:
    """Write in the ``$params`` and add the predefined prefixes that the query lacks.

    For a named query, a parameter of kind ``term`` is resolved through ``ont.get`` (labels,
    synonyms or CURIEs, with suggestions for a typo) and becomes the term's IRI; a ``text``
    parameter becomes a string literal.  In other queries a CURIE or ``<IRI>`` value becomes
    an IRI and anything else a string literal.
    """
    params = dict(params or {})
    used = set(_PARAM_RE.findall(_COMMENT_RE.sub("", text)))
    unknown = set(params) - used
    if unknown:
        raise UsageError(
            f"parameter(s) {', '.join(sorted(unknown))} do not appear in the query"
            + (f" (it takes: {', '.join(sorted(used))})" if used else "")
        )
    nodes: dict[str, str] = {}
    for name, value in params.items():
        kind = named.params.get(name, ("text", ""))[0] if named else None
        if kind == "term":
            if ont is None:
                raise UsageError(f"parameter {name} names a term but no ontology is loaded")
            nodes[name] = _iri_term(ont.get(value, where=f"--param {name}").iri, "--param")
        elif kind == "text":
            nodes[name] = _literal_term(value)
        else:
            nodes[name] = _node_for_param(value, f"--param {name}")
    if named is not None:
        missing = [p for p in named.params if p not in params]
        if missing:
            raise UsageError(
                f"named query {named.name} needs --param " + " ".join(f"{p}=..." for p in missing)
            )
    body = _PARAM_RE.sub(lambda m: nodes.get(m.group(1), m.group(0)), text)
    declared = {m.lower() for m in re.findall(r"PREFIX\s+([^\s:]*):", body, re.IGNORECASE)}
    return Prepared(body, {p: ns for p, ns in vocab.PREFIXES.items() if p.lower() not in declared})


#: the last line of the prefixes :func:`prepare` puts before a query: a syntax error's line
#: number is counted from the line after it (the user's first line)
_PROLOGUE_END = "# end of anatloc's predefined prefixes\n"


# -- value normalization ---------------------------------------------------------------
def _short(value: str, kind: str) -> str:
    if kind == "uri":
        c = vocab.curie_of(value)
        return c if c else vocab.compact(value)
    return value


# -- local stores ----------------------------------------------------------------------
def _ntriples(ont: Ontology) -> bytes:
    from . import rdf

    return rdf.to_ntriples(rdf.to_triples(ont)).encode("utf-8")


def _rdflib_graph(ont: Ontology):
    import rdflib

    g = rdflib.Graph()
    g.parse(data=_ntriples(ont).decode("utf-8"), format="nt")
    return g


def _oxigraph_store(ont: Ontology):
    import pyoxigraph as ox

    store = ox.Store()
    store.load(_ntriples(ont), format=ox.RdfFormat.N_TRIPLES)
    return store


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _syntax_error(exc: BaseException, query: str) -> UsageError:
    """``SPARQL syntax error: …`` with the position counted in the user's query (the
    predefined prefixes before it are not the user's lines)."""
    msg = _one_line(exc)
    head, sep, _ = query.partition(_PROLOGUE_END)
    if sep:
        shift = head.count("\n") + 1

        def line(m: re.Match) -> str:
            n = int(m.group(2)) - shift
            return f"{m.group(1)}{n}" if n >= 1 else m.group(0)

        # oxigraph: "error at 14:10: …"; rdflib/pyparsing: "(at char 5), (line:14, col:3)"
        msg = re.sub(r"(error at )(\d+)(?=:\d+)", line, msg)
        msg = re.sub(r"(line:\s*)(\d+)", line, msg)
    return UsageError(f"SPARQL syntax error: {msg}")


def _query_rdflib(g, query: str) -> Result:
    import rdflib

    text, prefixes = _parts(query)
    try:
        res = g.query(text, initNs=prefixes)
    except Exception as exc:  # rdflib raises pyparsing errors and others
        raise _syntax_error(exc, text) from None
    if res.type == "ASK":
        return Result("ask", boolean=bool(res.askAnswer))
    if res.type in ("CONSTRUCT", "DESCRIBE"):
        return Result("graph", triples=sorted((s.n3(), p.n3(), o.n3()) for s, p, o in res.graph))
    vars_ = [str(v) for v in res.vars]
    rows = []
    for b in res:
        row = {}
        for v, val in zip(vars_, b, strict=True):
            if val is None:
                row[v] = None
            elif isinstance(val, rdflib.URIRef):
                row[v] = _short(str(val), "uri")
            else:
                row[v] = str(val)
        rows.append(row)
    return Result("select", vars=vars_, rows=rows)


def _query_oxigraph(store, query: str) -> Result:
    import pyoxigraph as ox

    text, prefixes = _parts(query)
    try:
        res = store.query(text, prefixes=prefixes)
    except SyntaxError as exc:
        raise _syntax_error(exc, text) from None
    except (ValueError, OSError) as exc:
        raise UsageError(f"SPARQL query failed: {_one_line(exc)}") from None
    if isinstance(res, ox.QueryBoolean):
        return Result("ask", boolean=bool(res))
    if isinstance(res, ox.QueryTriples):
        return Result(
            "graph", triples=sorted((str(t.subject), str(t.predicate), str(t.object)) for t in res)
        )
    vars_ = [v.value for v in res.variables]
    rows = []
    for sol in res:
        row = {}
        for v in vars_:
            val = sol[v]
            if val is None:
                row[v] = None
            elif isinstance(val, ox.NamedNode):
                row[v] = _short(val.value, "uri")
            else:
                row[v] = val.value
        rows.append(row)
    return Result("select", vars=vars_, rows=rows)


def _ontology_from_rdflib(g, source: str) -> Ontology:
    from . import rdf

    return rdf.from_triples(((s.n3(), p.n3(), o.n3()) for s, p, o in g), source=source)


def _ontology_from_oxigraph(store, source: str) -> Ontology:
    from . import rdf

    return rdf.from_triples(
        ((str(q.subject), str(q.predicate), str(q.object)) for q in store), source=source
    )


def run_local(
    ont: Ontology, text: str, *, store: str = "oxigraph", allow_update: bool = False
) -> tuple[Result, Ontology | None]:
    """Run on a local store.  For an allowed update, also return the updated ontology."""
    if store not in STORES:
        raise UsageError(f"unknown store {store!r}; expected one of {', '.join(STORES)}")
    update = is_update(text)
    if update and not allow_update:
        raise RefusedError(
            "this is a SPARQL UPDATE and anatloc sparql is read-only; add --allow-update to "
            "change the ontology (nothing was changed)"
        )
    if store == "memory":
        g = _rdflib_graph(ont)
        if not update:
            return _query_rdflib(g, text), None
        body, prefixes = _parts(text)
        try:
            g.update(body, initNs=prefixes)
        except Exception as exc:
            raise _syntax_error(exc, body) from None
        new = _ontology_from_rdflib(g, "SPARQL update")
    else:
        st = _oxigraph_store(ont)
        if not update:
            return _query_oxigraph(st, text), None
        body, prefixes = _parts(text)
        try:
            st.update(body, prefixes=prefixes)
        except SyntaxError as exc:
            raise _syntax_error(exc, body) from None
        new = _ontology_from_oxigraph(st, "SPARQL update")
    diff = len(ont) - len(new)
    msg = f"update applied: {len(new)} terms ({-diff:+d})"
    return Result("update", message=msg), new


# -- remote endpoint -------------------------------------------------------------------
def run_endpoint(
    url: str,
    text: str,
    *,
    allow_update: bool = False,
    timeout: float = 30.0,
    update_url: str | None = None,
) -> Result:
    """Speak the SPARQL 1.1 protocol to ``url`` (POST, form-encoded)."""
    if not re.match(r"^https?://", url):
        raise UsageError(f"endpoint {url!r} is not an http(s) URL")
    update = is_update(text)
    if update and not allow_update:
        raise RefusedError(
            "this is a SPARQL UPDATE and anatloc sparql is read-only; add --allow-update to "
            f"send it to {url} (nothing was sent)"
        )
    target = update_url or url
    data = urllib.parse.urlencode({"update" if update else "query": text}).encode("utf-8")
    req = urllib.request.Request(
        target if update else url,
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/sparql-results+json, application/n-triples;q=0.9",
            "User-Agent": "anatloc",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            ctype = resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", errors="replace").strip().splitlines()
        reason = detail[0][:200] if detail else exc.reason
        if exc.code == 400:
            raise UsageError(f"SPARQL endpoint {url} rejected the query: {reason}") from None
        raise ExternalError(f"SPARQL endpoint {url} answered HTTP {exc.code}: {reason}") from None
    except TimeoutError:
        raise ExternalError(
            f"SPARQL endpoint {url} did not answer within {timeout:g} s (--timeout)"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise ExternalError(
                f"SPARQL endpoint {url} did not answer within {timeout:g} s (--timeout)"
            ) from None
        raise ExternalError(f"cannot reach SPARQL endpoint {url}: {reason}") from None
    except OSError as exc:
        raise ExternalError(f"cannot reach SPARQL endpoint {url}: {exc}") from None
    if update:
        return Result("update", message=f"update sent to {target}")
    if "json" in ctype:
        try:
            doc = json.loads(body)
        except json.JSONDecodeError:
            raise ExternalError(f"SPARQL endpoint {url} sent invalid JSON") from None
        if "boolean" in doc:
            return Result("ask", boolean=bool(doc["boolean"]))
        vars_ = list(doc.get("head", {}).get("vars", []))
        rows = []
        for b in doc.get("results", {}).get("bindings", []):
            rows.append(
                {v: (_short(b[v]["value"], b[v]["type"]) if v in b else None) for v in vars_}
            )
        return Result("select", vars=vars_, rows=rows)
    import pyoxigraph as ox

    try:
        triples = [
            (str(t.subject), str(t.predicate), str(t.object))
            for t in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)
        ]
    except SyntaxError:
        raise ExternalError(
            f"SPARQL endpoint {url} sent an answer that is neither JSON nor N-Triples"
        ) from None
    return Result("graph", triples=sorted(triples))


def accept_update(ont: Ontology, new: Ontology | None) -> None:
    """Make ``ont`` the result of an update, unless that leaves it structurally invalid."""
    from .validate import run_checks

    if new is None:
        return
    before = {
        (i.term, i.check) for i in run_checks(ont, groups=["structure"]) if i.severity == "ERROR"
    }
    after = [
        i
        for i in run_checks(new, groups=["structure"])
        if i.severity == "ERROR" and (i.term, i.check) not in before
    ]
    if after:
        raise RefusedError(
            f"the update would leave the ontology invalid ({after[0].check}: {after[0].message}); "
            "nothing was changed"
        )
    new.meta.last_id = max(new.meta.last_id, ont.meta.last_id)
    ont.replace_with(new)
