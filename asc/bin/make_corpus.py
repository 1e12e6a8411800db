"""Stage 0: generate the embedded corpus in TAU22's on-disk format.

    python -m asc.bin.make_corpus --config conf/embedded/corpus.yaml --out corpus/embedded \
        [--eval-out corpus/embedded_eval] [--dirs-out corpus/embedded_dirs] [--workers 2] \
        [--set difficulty.class_overlap=0.5 ...]

Writes the development corpus (audio/, meta.csv, split5.csv ... split100.csv, test.csv), the
unlabeled evaluation set and the device impulse responses for augmentation, each skipped when already
complete for the same config.
"""
from __future__ import annotations

import argparse
import sys

from asc.config import load_config, parse_override
from asc.data.embedded import CorpusConfig, make_corpus
from asc.errors import AscError


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.make_corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="corpus YAML (defaults of asc.data.embedded.config when omitted)")
    p.add_argument("--out", required=True, help="folder of the development corpus")
    p.add_argument("--eval-out", help="folder of the evaluation set (default: <out>_eval)")
    p.add_argument("--dirs-out", help="folder of the device impulse responses (default: <out>_dirs)")
    p.add_argument("--workers", type=int, help="processes (overrides the config; output is the same)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config option, e.g. difficulty.event_snr_db=-3 (repeatable)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Generate the corpus; exit 1 with one line on stderr for bad input or config."""
    args = parse_args(argv)
    try:
        overrides = dict(parse_override(text) for text in args.set)
        if args.workers is not None:
            overrides["workers"] = args.workers
        cfg = load_config(CorpusConfig, args.config, overrides)
        make_corpus(cfg, args.out, args.eval_out, args.dirs_out, log=lambda m: print(f"make_corpus: {m}", flush=True))
    except AscError as e:
        print(f"make_corpus: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
