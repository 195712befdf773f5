"""Typed errors shared by every part of anatloc.

Library code raises these; the CLI turns them into one line on stderr and the exit code
that the error class carries.  The codes are documented in ``docs/errors.md``:

====  =====================================================================
code  meaning
====  =====================================================================
1     a check failed (``validate`` found problems at or above ``--fail-on``)
2     usage error: a bad option value, an unknown or ambiguous term name
3     bad input data: a file that is missing, unreadable or malformed
4     refused: the edit or query would break an invariant or is not allowed
5     an external service failed (SPARQL endpoint down, Java missing, timeout)
70    internal error (a bug in anatloc: please report it)
130   interrupted (Ctrl-C)
====  =====================================================================
"""

from __future__ import annotations

EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_BAD_DATA = 3
EXIT_REFUSED = 4
EXIT_EXTERNAL = 5
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class AnatlocError(Exception):
    """Base class of every error meant for a user: one line, with an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(AnatlocError):
    """A bad option value or combination of options."""

    exit_code = EXIT_USAGE


class UnknownTermError(UsageError):
    """A term name, synonym or CURIE that the ontology does not have."""

    def __init__(self, name: str, suggestions: list[str] | None = None, where: str = ""):
        self.name = name
        self.suggestions = list(suggestions or [])
        msg = f"unknown term {name!r}" + (f" in {where}" if where else "")
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(msg)


class AmbiguousTermError(UsageError):
    """A name that matches several terms; lists the candidates with their CURIEs."""

    def __init__(self, name: str, candidates: list[tuple[str, str, str]]):
        self.name = name
        self.candidates = candidates
        listed = "; ".join(f"{c} ({label}, {level})" for c, label, level in candidates)
        super().__init__(f"{name!r} is ambiguous: {listed}; give the CURIE or --level")


class UnknownFormatError(UsageError):
    """An export/import format that anatloc does not write or read."""


class DataError(AnatlocError):
    """A user file that is missing, unreadable or malformed."""

    exit_code = EXIT_BAD_DATA


class OntologyParseError(DataError):
    """An ontology file that cannot be parsed (names the file, line and column)."""


class RefusedError(AnatlocError):
    """An operation that is not allowed (read-only file, UPDATE without permission ...)."""

    exit_code = EXIT_REFUSED


class InvariantError(RefusedError):
    """An edit that would break an invariant of the ontology; says which one."""

    def __init__(self, invariant: str, message: str):
        self.invariant = invariant
        super().__init__(f"{message} [{invariant}]")


class ReadOnlyOntologyError(RefusedError):
    """An edit aimed at the ontology shipped inside the package."""


class LockedError(RefusedError):
    """Another process holds the ontology file's lock for longer than we wait."""


class ExternalError(AnatlocError):
    """A service outside anatloc failed: a SPARQL endpoint, Java, a timeout."""

    exit_code = EXIT_EXTERNAL


class Interrupted(AnatlocError):
    """Ctrl-C, with what was kept (a command that saves its state says where)."""

    exit_code = EXIT_INTERRUPTED
