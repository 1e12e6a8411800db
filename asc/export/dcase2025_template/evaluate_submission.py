"""Test-split accuracy (a sanity check) and the evaluation set's output.csv of a submission module,
through its predict() alone (no asc, no pandas). As the challenge's evaluate_submission.py:

    python evaluate_submission.py --submission_name @NAME@ --submission_index 1 \
        --dev_set_dir /path/to/TAU-urban-acoustic-scenes-2022-mobile-development --eval_set_dir /path/to/eval

Test split: resources/test.csv of the package (filename, scene_label) with the devices of
<dev_set_dir>/meta.csv (source_label). Evaluation set: <eval_set_dir>/evaluation_setup/fold1_test.csv
(or meta.csv), filename and, when given, the device (device_id or source_label; otherwise "unknown": the
general model). Writes predictions/<name>_<index>/{test_accuracy.json, output.csv}. With
--expected_scores (the recipe's scores.json of the same system) it exits 1 when the test macro accuracy
differs from it by more than --tolerance points.
"""
import argparse
import csv
import importlib
import json
import os
import sys
from importlib import resources

import torch


def read_tsv(path: str) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def device_of(row: dict) -> str:
    return row.get("device_id") or row.get("source_label") or "unknown"


def test_accuracy(api, dev_dir: str, test_csv: str) -> dict:
    """Accuracy, macro (class-averaged) accuracy and per-device accuracy on the test split."""
    meta = {r["filename"]: r for r in read_tsv(os.path.join(dev_dir, "meta.csv"))}
    rows = read_tsv(test_csv)
    missing = [r["filename"] for r in rows if r["filename"] not in meta]
    if missing:
        raise SystemExit(f"{dev_dir}/meta.csv: no line for {len(missing)} test files (e.g. {missing[0]})")
    files = [os.path.join(dev_dir, r["filename"]) for r in rows]
    devices = [device_of(meta[r["filename"]]) for r in rows]
    truth = [meta[r["filename"]]["scene_label"] for r in rows]
    logits, classes = api.predict(file_paths=files, device_ids=devices, model_file_path=None)
    predicted = [classes[int(x.argmax())] for x in logits]
    hits = [p == t for p, t in zip(predicted, truth)]

    def mean_hit(keys, key):
        return {k: sum(h for h, x in zip(hits, keys) if x == k) / keys.count(k) for k in sorted(set(keys))}

    per_class = mean_hit(truth, None)
    return {"accuracy": 100 * sum(hits) / len(hits), "macro_accuracy": 100 * sum(per_class.values()) / len(per_class),
            "per_device": {k: 100 * v for k, v in mean_hit(devices, None).items()},
            "per_class": {k: 100 * v for k, v in per_class.items()}, "n_files": len(hits)}


def write_output(api, eval_dir: str, out_csv: str) -> int:
    """output.csv of the evaluation set: filename, scene_label, one probability column per class."""
    listing = os.path.join(eval_dir, "evaluation_setup", "fold1_test.csv")
    rows = read_tsv(listing if os.path.isfile(listing) else os.path.join(eval_dir, "meta.csv"))
    files = [os.path.join(eval_dir, r["filename"]) for r in rows]
    logits, classes = api.predict(file_paths=files, device_ids=[device_of(r) for r in rows], model_file_path=None)
    probs = torch.softmax(torch.stack(logits), dim=1)
    with open(out_csv + ".tmp", "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["filename", "scene_label", *classes])
        for row, p in zip(rows, probs):
            writer.writerow([row["filename"], classes[int(p.argmax())], *[f"{v:.6f}" for v in p.tolist()]])
    os.replace(out_csv + ".tmp", out_csv)
    return len(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--submission_name", required=True)
    p.add_argument("--submission_index", type=int, required=True)
    p.add_argument("--dev_set_dir", required=True)
    p.add_argument("--eval_set_dir", help="evaluation set folder; without it no output.csv is written")
    p.add_argument("--expected_scores", help="scores.json of the same system from the recipe (stage 6)")
    p.add_argument("--tolerance", type=float, default=0.5, help="points of macro accuracy (default: 0.5)")
    args = p.parse_args()
    api = importlib.import_module(f"{args.submission_name}.{args.submission_name}_{args.submission_index}")
    out = os.path.join("predictions", f"{args.submission_name}_{args.submission_index}")
    os.makedirs(out, exist_ok=True)
    test_csv = str(resources.files(f"{args.submission_name}.resources") / "test.csv")
    result = test_accuracy(api, args.dev_set_dir, test_csv)
    print(f"test split: accuracy {result['accuracy']:.2f} %, macro accuracy {result['macro_accuracy']:.2f} % "
          f"({result['n_files']} files)")
    status = 0
    if args.expected_scores:
        with open(args.expected_scores) as f:
            expected = 100 * json.load(f)["macro_accuracy"]
        result["expected_macro_accuracy"] = expected
        if abs(expected - result["macro_accuracy"]) > args.tolerance:
            print(f"test macro accuracy {result['macro_accuracy']:.2f} % differs from {expected:.2f} % of "
                  f"{args.expected_scores} by more than {args.tolerance} points", file=sys.stderr)
            status = 1
        else:
            print(f"matches {args.expected_scores} ({expected:.2f} %) within {args.tolerance} points")
    with open(os.path.join(out, "test_accuracy.json"), "w") as f:
        json.dump(result, f, indent=2)
    if args.eval_set_dir:
        n = write_output(api, args.eval_set_dir, os.path.join(out, "output.csv"))
        print(f"evaluation set: {n} files -> {out}/output.csv")
    return status


if __name__ == "__main__":
    sys.exit(main())
