"""Generate ``docs/cli.md``, the CLI reference, from the Typer app (a developer tool).

    python tools/gen_cli_docs.py            # rewrite docs/cli.md
    python tools/gen_cli_docs.py --check    # exit 1 when docs/cli.md is out of date

It walks the click command tree behind ``anatloc.cli.main.app`` and writes, for every
command and sub-command, its usage line, its help text and a table of its arguments and
options (names, value, default, help) — exactly what ``--help`` says, so the reference
cannot drift from the code.  ``tests/cli/test_cli_docs.py`` regenerates it in memory and
fails when the file differs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """# CLI reference

Generated from the Typer app by `python tools/gen_cli_docs.py` — do not edit by hand;
`tests/cli/test_cli_docs.py` fails when this page and the code disagree. Every command
also prints its own help with `-h` / `--help`.

## Exit codes

An error is one line on stderr (`error: …`); each command's messages, what they mean and what
to do are in [errors.md](errors.md).

| exit | meaning |
| --- | --- |
{exit_rows}
"""

#: (code, meaning) of every exit code, from ``anatloc.ontology.errors``
EXIT_CODES = [
    (0, "ok"),
    ("EXIT_CHECK_FAILED", "a check failed (`ontology validate`, `phantom coverage`, `graph path`)"),
    ("EXIT_USAGE", "usage error: an unknown option, a bad option value or term name"),
    ("EXIT_BAD_DATA", "bad input data: a file that is missing, unreadable or malformed"),
    ("EXIT_REFUSED", "refused: the edit, query or overwrite is not allowed (nothing changed)"),
    ("EXIT_EXTERNAL", "an external service failed: a SPARQL endpoint, Java, a timeout"),
    ("EXIT_INTERNAL", "internal error: a bug in anatloc (`ANATLOC_DEBUG=1` shows the traceback)"),
    ("EXIT_INTERRUPTED", "interrupted (Ctrl-C); `train` keeps a resumable `.last.pt`"),
]


def _exit_rows() -> str:
    from anatloc.ontology import errors

    rows = []
    for code, meaning in EXIT_CODES:
        value = getattr(errors, code) if isinstance(code, str) else code
        rows.append(f"| {value} | {meaning} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text.replace("|", "\\|")


def _is_meta(part: str) -> bool:
    """A part of click's trailing ``[…]``: a default, an env var, required, a range."""
    return part.startswith(("default:", "env var:", "required")) or bool(
        re.fullmatch(r"[-\d.<=]*x[<>=\d.\-]*", part)
    )


def _split_help(text: str) -> tuple[str, str]:
    """(help, default) from click's help text and its trailing ``[default: …]`` groups."""
    default, notes = "", []
    while m := re.search(r"\s*\[([^\[\]]*)\]\s*$", text):
        parts = [p.strip() for p in m.group(1).split(";")]
        if not all(_is_meta(p) for p in parts):
            break
        for p in reversed(parts):
            if p.startswith("default:"):
                default = p[len("default:") :].strip()
            else:
                notes.insert(0, p)
        text = text[: m.start()]
    text = text.strip()
    if notes:
        text += f" ({'; '.join(notes)})"
    return text.strip(), default


def _command_section(cmd, ctx, path: str, level: int) -> list[str]:
    out = [f"{'#' * level} `{path}`", ""]
    if cmd.help:
        out += [_clean_help(cmd.help), ""]
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    out += ["```", f"{path} {usage}".rstrip(), "```", ""]
    rows = []
    for param in cmd.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        rec = param.get_help_record(ctx)
        if rec is None:
            continue
        names, help_text = rec
        text, default = _split_help(help_text or "")
        kind = "argument" if param.param_type_name == "argument" else "option"
        rows.append((names, kind, text, default))
    if rows:
        out += ["| name | | help | default |", "| --- | --- | --- | --- |"]
        for names, kind, text, default in rows:
            out.append(f"| `{_cell(names)}` | {kind} | {_cell(text)} | {_cell(default)} |")
        out.append("")
    return out


def _clean_help(text: str) -> str:
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def render() -> str:
    """The text of ``docs/cli.md``."""
    import typer

    from anatloc.cli.main import app

    root = typer.main.get_command(app)
    lines = [HEADER.format(exit_rows=_exit_rows())]
    contents: list[str] = []
    body: list[str] = []

    def walk(cmd, parent_ctx, path: str, level: int) -> None:
        ctx = typer.Context(
            cmd, info_name=path.split(" ")[-1], parent=parent_ctx, **cmd.context_settings
        )
        if getattr(cmd, "hidden", False):
            return
        anchor = path.replace(" ", "-")
        indent = "  " * max(0, level - 2)
        contents.append(f"{indent}- [`{path}`](#{anchor})")
        body.extend(_command_section(cmd, ctx, path, min(level, 4)))
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), ctx, f"{path} {name}", level + 1)

    walk(root, None, "anatloc", 2)
    lines += ["## Commands", "", *contents, ""]
    text = "\n".join(lines) + "\n" + "\n".join(body)
    return re.sub(r"\n+$", "\n", text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when docs/cli.md is stale")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date; run python tools/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    from anatloc.ontology.fileio import atomic_write

    atomic_write(DOC, text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
