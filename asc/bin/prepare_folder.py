"""Stage 1 of egs/audio_folder: data directories from a folder of labelled recordings.

    python -m asc.bin.prepare_folder --folder recordings/ --out data [--test-folder test/] \
        [--config conf/data.yaml] [key=value ...]

--folder is laid out `<folder>/<label>/<audio files>` (asc.data.audio_folder says what is read and
how recordings become segments and folds). Writes <out>/all/, <out>/train_fold<k>/, <out>/test_fold<k>/
(wav.scp utt2label utt2rec utt2segment), <out>/labels.txt and <out>/folds; with --test-folder one fold
(train: --folder, test: --test-folder), else `folds` folds of --folder. A done marker holding a digest
of the inputs (files, sizes, modification times, config) is written last: a re-run with the same inputs
does nothing; changed inputs (a file added, another config) prepare again, and later stages see the
new data directories through their own input checks.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from asc.errors import AscError

MARKER = "prepare_folder"


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.prepare_folder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", required=True, type=Path, help="<folder>/<label>/<audio files>")
    p.add_argument("--test-folder", type=Path, help="a separate test folder of the same layout (default: "
                                                    "k-fold cross-validation over --folder)")
    p.add_argument("--config", type=Path, help="data config (YAML, asc.data.audio_folder.FolderConfig)")
    p.add_argument("--out", required=True, type=Path, help="folder of the data directories (e.g. data)")
    p.add_argument("overrides", nargs="*", help="key=value settings over the config (e.g. folds=5)")
    return p.parse_args(argv)


def inputs_digest(folder: Path, test_folder: Path | None, config_yaml: str) -> str:
    """What the data directories are made from: every file below the folders (path, size, mtime) and
    the resolved config."""
    from asc.fingerprint import audio_digest

    digest = hashlib.sha256(config_yaml.encode())
    for root in (folder, test_folder):
        if root is not None:
            files = sorted(p for p in root.resolve().rglob("*") if p.is_file())
            digest.update(f"{root.resolve()}:{audio_digest(files)}\n".encode())
    return digest.hexdigest()[:16]


def main(argv=None) -> int:
    """Prepare the data directories (or find them prepared); exit 1 with one line for bad input."""
    args = parse_args(argv)
    log = lambda message: print(f"prepare_folder: {message}", flush=True)
    try:
        from asc.atomic import done_marker, mark_done
        from asc.config import dump_yaml, load_config, parse_override
        from asc.data.audio_folder import FolderConfig, prepare, write_prepared

        cfg = load_config(FolderConfig, args.config, dict(parse_override(o) for o in args.overrides))
        cfg.check(str(args.config or "config"))
        digest = inputs_digest(args.folder, args.test_folder, dump_yaml(cfg))
        marker = done_marker(args.out, MARKER)
        if marker.is_file() and json.loads(marker.read_text() or "{}").get("inputs") == digest:
            log(f"{args.out}: up to date for {args.folder} ({marker.name}); nothing to do")
            return 0
        marker.unlink(missing_ok=True)
        prepared = prepare(args.folder, cfg, args.test_folder, log)
        write_prepared(prepared, args.out)
        for note in prepared.notes:
            log(f"warning: {note}")
        recs = len(set(prepared.all.rec.values()))
        per_fold = ", ".join(f"fold {f}: {len(train)} train / {len(test)} test"
                             for f, (train, test) in prepared.folds.items())
        log(f"{len(prepared.labels)} classes, {recs} recordings, {len(prepared.all)} segments of "
            f"{cfg.segment_seconds:g} s (hop {cfg.hop_seconds:g} s) -> {args.out}; {per_fold}")
        mark_done(args.out, MARKER, {"inputs": digest, "folder": str(args.folder.resolve()),
                                     "test_folder": str(args.test_folder.resolve()) if args.test_folder else None,
                                     "config": dump_yaml(cfg), "labels": prepared.labels,
                                     "recordings": recs, "segments": len(prepared.all),
                                     "folds": {f: [len(a), len(b)] for f, (a, b) in prepared.folds.items()}})
    except AscError as e:
        print(f"prepare_folder: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
