"""Stage 1: Kaldi-style data directories from a TAU22-format corpus and the DCASE2024 split files.

    python -m asc.bin.prepare_data --corpus corpus/embedded [--split-dir DIR] --out data \
        [--eval-corpus corpus/embedded_eval [--eval-out data/eval]]

Writes data/train_split{5,10,25,50,100}/ and data/test/ (wav.scp utt2label utt2device utt2city
utt2rec) and data/labels.txt; with --eval-corpus also the unlabeled evaluation set (wav.scp only).
A done marker holding a hash of the inputs is written last; a re-run with the same inputs does
nothing, and outputs made from other inputs are never overwritten (the error says what to remove).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from asc.atomic import done_marker, mark_done, write_text
from asc.data.datadir import save_datadir
from asc.data.tau22 import LABELS, find_split_files, input_digest, load_corpus, load_eval, meta_path
from asc.errors import AscError, InputError

MARKER = "prepare_data"
EVAL_MARKER = "prepare_eval"


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.prepare_data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="TAU22-format development folder (audio/, meta.csv)")
    p.add_argument("--split-dir", help="folder of split5.csv ... split100.csv and test.csv (default: --corpus)")
    p.add_argument("--out", required=True, help="folder of the data directories (e.g. data)")
    p.add_argument("--eval-corpus", help="TAU22-format evaluation folder (audio/, meta.csv with filename)")
    p.add_argument("--eval-out", help="data directory of the evaluation set (default: <out>/eval)")
    return p.parse_args(argv)


def prepare_dev(corpus: Path, split_dir: Path, out: Path, log=print) -> None:
    """Write the development data directories and labels.txt unless they are already there for
    exactly these inputs."""
    inputs = [meta_path(corpus)] + list(find_split_files(split_dir).values())
    digest = input_digest(corpus, inputs)
    if _up_to_date(out, MARKER, digest, "--corpus/--split-dir", log):
        return
    dirs = load_corpus(corpus, split_dir)
    for name, data in dirs.items():
        save_datadir(out / name, data)
    write_text(out / "labels.txt", "".join(f"{label}\n" for label in LABELS))
    outputs = [out / "labels.txt"] + [p for name in dirs for p in sorted((out / name).iterdir())]
    mark_done(out, MARKER, {"inputs": digest, "corpus": str(corpus.resolve()), "outputs": _hashes(out, outputs),
                            "utterances": {name: len(data) for name, data in dirs.items()}})
    log("wrote " + ", ".join(f"{out / name} ({len(data)})" for name, data in dirs.items()))


def prepare_eval(folder: Path, out: Path, log=print) -> None:
    """Write the data directory of an unlabeled evaluation set unless it is already there for exactly
    these inputs (the marker lives beside the data directory)."""
    digest = input_digest(folder, [folder / "meta.csv"] if (folder / "meta.csv").is_file() else [])
    if _up_to_date(out.parent, EVAL_MARKER, digest, "--eval-corpus", log):
        return
    data = load_eval(folder)
    save_datadir(out, data)
    mark_done(out.parent, EVAL_MARKER, {"inputs": digest, "corpus": str(folder.resolve()), "utterances": len(data),
                                        "outputs": _hashes(out.parent, sorted(out.iterdir()))})
    log(f"wrote {out} ({len(data)})")


def _up_to_date(folder: Path, name: str, digest: str, option: str, log) -> bool:
    """True if `folder` already holds the outputs of `name` for inputs with this digest; an error if
    it holds them for other inputs (finished outputs are never overwritten)."""
    marker = done_marker(folder, name)
    if not marker.exists():
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        info = {}
    if info.get("inputs") == digest:
        damaged = [name for name, value in info.get("outputs", {}).items()
                   if not (folder / name).is_file() or _sha256(folder / name) != value]
        if not damaged:
            log(f"{folder}: up to date ({marker.name}), nothing to do")
            return True
        log(f"{folder}: {', '.join(damaged[:3])} missing or changed since {marker.name}; preparing again")
        marker.unlink()
        return False
    raise InputError(marker, f"the outputs in {folder} were prepared from other inputs than {option} "
                             f"now name; remove {marker} and the data directories it covers to prepare again")


def _hashes(root: Path, paths) -> dict[str, str]:
    return {str(p.relative_to(root)): _sha256(p) for p in paths}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    """Prepare the data directories; exit 1 with one line on stderr for bad input."""
    args = parse_args(argv)
    log = lambda message: print(f"prepare_data: {message}", flush=True)
    try:
        corpus, out = Path(args.corpus), Path(args.out)
        prepare_dev(corpus, Path(args.split_dir) if args.split_dir else corpus, out, log)
        if args.eval_corpus:
            prepare_eval(Path(args.eval_corpus), Path(args.eval_out) if args.eval_out else out / "eval", log)
    except AscError as e:
        print(f"prepare_data: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
