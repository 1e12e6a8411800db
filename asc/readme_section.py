"""Filling a generated section of a Markdown file (README's evidence and benchmark tables).

Tables of figures in README are written by the scripts that measure them, never by hand: each sits
between the lines `<!-- NAME:begin -->` and `<!-- NAME:end -->`, which a script replaces whole.
Text outside the markers is the authors'; it is never touched.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from asc.atomic import write_text
from asc.errors import InputError


def markers(name: str) -> tuple[str, str]:
    """The begin and end lines of section `name`."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"section name {name!r}: use letters, digits, '_', '-' or '.'")
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def fill_section(document: str | os.PathLike, name: str, text: str) -> bool:
    """Put `text` between the markers of section `name` of `document`; True if the file changed.

    The markers must each appear once, begin before end; otherwise InputError names the file.
    """
    path = Path(document)
    begin, end = markers(name)
    try:
        old = path.read_text()
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    counts = (old.count(begin), old.count(end))
    if counts != (1, 1) or old.index(begin) > old.index(end):
        raise InputError(path, f"needs one '{begin}' line and, after it, one '{end}' line to fill "
                               f"(found {counts[0]} and {counts[1]})")
    head, rest = old.split(begin, 1)
    tail = rest.split(end, 1)[1]
    body = text if text.endswith("\n") else text + "\n"
    new = f"{head}{begin}\n{body}{end}{tail}"
    if new == old:
        return False
    write_text(path, new)
    return True


def main(argv=None) -> int:
    """python -m asc.readme_section FILE NAME SOURCE: fill section NAME of FILE with SOURCE's text."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m asc.readme_section", description=main.__doc__)
    p.add_argument("document", type=Path, help="the Markdown file to fill (e.g. README.md)")
    p.add_argument("name", help="the section: the file holds <!-- NAME:begin --> ... <!-- NAME:end -->")
    p.add_argument("source", type=Path, help="file whose text goes into the section ('-': standard input)")
    args = p.parse_args(argv)
    try:
        text = sys.stdin.read() if str(args.source) == "-" else args.source.read_text()
        changed = fill_section(args.document, args.name, text)
    except OSError as e:
        print(f"readme_section: {args.source}: {e.strerror or e}", file=sys.stderr)
        return 1
    except InputError as e:
        print(f"readme_section: {e}", file=sys.stderr)
        return 1
    print(f"readme_section: {args.document} section {args.name} " + ("filled" if changed else "already up to date"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
