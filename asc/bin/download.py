"""Fetch the official pretrained files the teachers fine-tune from, verified, into one folder.

    python -m asc.bin.download --out downloads/pretrained mn04_as            # from the release page
    python -m asc.bin.download --out downloads/pretrained --from /mnt/copy mn04_as mn10_as
    python -m asc.bin.download --out downloads/pretrained --for-config conf/embedded/train_mn04.yaml
    python -m asc.bin.download --list

Names are the short ones (mn04_as, mn10_as, mn20_as, mn40_as, passt_s_swa) or the file names. A file
already in --out and verified is kept without any network access; a downloaded one is placed only
after its SHA-256 (or, where none is published, a strict load into its model) checks out.
"""
from __future__ import annotations

import argparse
import sys

from asc.config import read_config
from asc.download import fetch_all
from asc.errors import AscError
from asc.models.pretrained_files import ALIASES, OFFICIAL, official


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="asc.bin.download", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help="files to fetch (short names or file names)")
    p.add_argument("--out", help="folder to place them in (db.sh's PRETRAINED_DIR)")
    p.add_argument("--from", dest="source_dir", help="copy from this local folder instead of downloading")
    p.add_argument("--base-url", help="download from this folder URL instead of the official release pages")
    p.add_argument("--for-config", action="append", default=[], metavar="YAML",
                   help="also fetch the file a training config names with `pretrained:` (repeatable; "
                        "a config without one adds nothing)")
    p.add_argument("--list", action="store_true", help="print the known files, their URLs and digests")
    return p.parse_args(argv)


def configs_pretrained(configs: list[str]) -> list[str]:
    """The official files that these training configs start from (so that a recipe fetches what its
    teachers need, named in one place: the configs)."""
    names = (read_config(path).get("pretrained") for path in configs)
    return [str(name) for name in names if name]


def main(argv=None) -> int:
    """Fetch every named file; exit 1 naming those that could not be placed."""
    args = parse_args(argv)
    if args.list:
        short = {file: alias for alias, file in ALIASES.items()}
        for entry in OFFICIAL.values():
            print(f"{short.get(entry.name, '-'):12} {entry.url}  sha256 {entry.sha256 or '(none published)'}")
        return 0
    try:
        names = list(args.names) + configs_pretrained(args.for_config)
        if not args.out or not (names or args.for_config):
            raise AscError("give --out DIR and at least one NAME or --for-config YAML (see --list)")
        entries = [official(name) for name in dict.fromkeys(names)]
        fetch_all(entries, args.out, base_url=args.base_url, source_dir=args.source_dir)
    except AscError as e:
        print(f"download: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
