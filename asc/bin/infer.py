"""Classify audio files with a deployable model file alone (no recipe folder needed).

    python -m asc.bin.infer --model exp/deploy/split100/model.pt rec1.wav rec2.flac
    python -m asc.bin.infer --model model.pt --dir recordings/ --out results.tsv
    python -m asc.bin.infer --model model.pt --list files.txt --no-segment-average
    python -m asc.bin.infer --model model.pt --segments long_recording.flac
    python -m asc.bin.infer --model model.pt --segments --hop 0.5 long_recording.flac

Reads wav/flac/ogg/mp3/aiff of any sample rate, length and channel count: multichannel files are mixed
down (said on stderr), audio is resampled to the model's feature rate and cut into 1-s clips (segments:
side by side, or starting every --hop seconds) whose class probabilities are aggregated per file
(--aggregate: by default the mean of their log-probabilities, as the recipes score a recording;
--no-segment-average: one row per clip; --segments: a labelled row per segment with its start and end
time, then the whole file's). A last piece of at least half a clip that no clip covers is zero-padded,
a shorter one dropped; a file shorter than one clip is zero-padded (with a warning). The log-mels are
computed with the front-end config stored in the model file.

Output (stdout, or --out as a file): tab-separated, a header, then per file `filename scene_label
<one probability per class> clips` (per clip: `filename clip scene_label <probabilities>`; with
--segments: `filename segment start end scene_label <probabilities>`, segment = the clip's index, or
`file` on the whole file's row).
A file that cannot be classified gets an error line on stderr naming it and is left out; the others
are still classified and written. Exit status 1 if any file failed (or the model cannot be loaded).
--list FILE: one path per line (blank lines and lines starting with # ignored); relative paths are
taken from the current folder. --dir FOLDER: every audio file below it, recursively.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError, InputError
from asc.eval.recording_scores import AGGREGATIONS, DEFAULT_AGGREGATION

PROG = "infer"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="deployable model file (exp/deploy/split<N>/model.pt)")
    p.add_argument("audio", nargs="*", type=Path, help="audio files")
    p.add_argument("--dir", type=Path, help="classify every audio file under this folder")
    p.add_argument("--list", type=Path, help="file listing audio paths, one per line")
    p.add_argument("--segment-average", action=argparse.BooleanOptionalAction, default=True,
                   help="average the clips of a file (default) or write one row per clip")
    p.add_argument("--segments", action="store_true",
                   help="a row per segment (clip) with its start and end time, then the whole file's row")
    p.add_argument("--hop", type=float,
                   help="seconds between the starts of consecutive clips (default: the model's clip length, "
                        "clips side by side; less: overlapping clips, e.g. --segments --hop 0.5 for a label "
                        "every half second)")
    p.add_argument("--aggregate", choices=AGGREGATIONS, default=DEFAULT_AGGREGATION,
                   help="how a file's clip probabilities become the file's (default: %(default)s; "
                        "asc.eval.recording_scores says why)")
    p.add_argument("--out", type=Path, help="write the table here instead of stdout")
    p.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16,
                   help="clips per forward pass (default: %(default)s; memory grows by ~2.5 MB per clip)")
    p.add_argument("--compute-dtype", choices=("float32", "float16"), default="float32",
                   help="what the model computes in, whatever its file stores (default: %(default)s: full speed "
                        "on a CPU; float16 arithmetic is emulated there and ~15x slower)")
    return p.parse_args(argv)


def gather_inputs(args: argparse.Namespace) -> list[Path]:
    """The files to classify, from the arguments, --dir and --list, in that order."""
    from asc.eval.audio_inference import find_audio

    paths = list(args.audio)
    if args.dir is not None:
        if not args.dir.is_dir():
            raise InputError(args.dir, "--dir: not a folder")
        found = find_audio(args.dir)
        if not found:
            raise InputError(args.dir, "--dir: no audio files (wav, flac, ogg, mp3, aiff) in this folder")
        paths += found
    if args.list is not None:
        paths += read_list(args.list)
    if not paths:
        raise AscError("no audio given: name files, or use --dir FOLDER or --list FILE")
    return paths


def read_list(path: Path) -> list[Path]:
    """Paths listed in `path`, one per line; blank and # lines skipped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read the list of audio files: {e}") from None
    return [Path(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def main(argv=None) -> int:
    """Classify, print or write the table, report each failed file; exit 1 if any failed."""
    args = parse_args(argv)
    try:
        from asc.atomic import write_text
        from asc.eval.audio_inference import AudioClassifier, header, result_lines, segment_lines

        paths = gather_inputs(args)
        classifier = AudioClassifier.from_file(args.model, args.device, args.batch_size, args.compute_dtype,
                                               args.hop)
        table, failed = [], []
        emit = table.extend if args.out is not None else (lambda rows: print("\n".join(rows), flush=True))
        emit([header(classifier.labels, args.segment_average, args.segments)])
        for result in classifier.classify(paths):
            for note in result.warnings:
                print(f"{PROG}: warning: {note}", file=sys.stderr)
            if result.ok:
                if args.segments:
                    emit(segment_lines(result, classifier.labels, classifier.features.clip_seconds, args.aggregate,
                                       classifier.hop_seconds))
                else:
                    emit(result_lines(result, classifier.labels, args.segment_average, args.aggregate))
            else:
                print(f"{PROG}: error: {result.error}", file=sys.stderr)
                failed.append(result.name)
        if args.out is not None:
            write_text(args.out, "\n".join(table) + "\n")
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    done = len(paths) - len(failed)
    if args.out is not None:
        print(f"{PROG}: {done} of {len(paths)} files classified -> {args.out}", file=sys.stderr)
    if failed:
        where = f"written to {args.out}" if args.out is not None else "printed"
        print(f"{PROG}: {len(failed)} of {len(paths)} files failed (see the errors above); the results of the "
              f"other {done} were {where}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
