"""Peak memory of `python -m asc.bin.infer` on one long multichannel recording (issue 18: <= 500 MB
for 1 hour, 6 channels). Prints the figure.

    tools/venv/bin/python bench/infer_memory.py                 # 60 min, 6 channels, 44.1 kHz FLAC
    tools/venv/bin/python bench/infer_memory.py --minutes 5     # quicker

The recording (tones and noise, different per channel) is written block by block as FLAC under a
temporary folder (about 1.3 GB for an hour), classified by a deployable model file of the recipe's
format (a small Rep-Mobile with the student front end, random weights: memory does not depend on
them), and the infer process reports its peak resident memory (VmHWM) as it exits.
"""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asc.complexity import complexity_report, count_complexity  # noqa: E402
from asc.features.logmel import load_feature_config  # noqa: E402
from asc.models import build_model, reparameterize  # noqa: E402

LABELS = ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
          "street_pedestrian", "street_traffic", "tram"]
LIMIT_MB = 500
# asc.bin.infer, then its own peak resident memory (VmHWM of its address space). Not getrusage: on
# Linux a child's ru_maxrss also counts the pages it shared with this (large) process before exec.
CHILD = ("import sys; from asc.bin.infer import main; rc = main(sys.argv[1:]); "
         "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].strip(), file=sys.stderr); "
         "sys.exit(rc)")


def write_recording(path: Path, minutes: float, channels: int, rate: int) -> None:
    """Tones plus noise, one minute per write, so the bench itself stays small."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, channels, format="FLAC", subtype="PCM_16") as f:
        for minute in range(int(np.ceil(minutes))):
            n = int(min(60.0, minutes * 60 - minute * 60) * rate)
            t = (minute * 60 * rate + np.arange(n)) / rate
            block = np.stack([0.2 * np.sin(2 * np.pi * (200 + 150 * c) * t) + 0.01 * rng.standard_normal(n)
                              for c in range(channels)], axis=1)
            f.write(block.astype(np.float32))


def write_model(path: Path) -> None:
    """A deployable model file of the recipe's format with the student front end."""
    features = load_feature_config(REPO / "egs/dcase2024_task1/conf/embedded/feats_student.yaml")
    options = dict(n_classes=len(LABELS), stem_channels=[8, 16], stage_channels=[16, 24], n_blocks=[1, 1],
                   strides=[[2, 2], [2, 2]], expansion_rate=2.0)
    try:
        model = build_model("rep_mobile", **options)
    except TypeError:                                 # n_classes read from the label list elsewhere
        options.pop("n_classes")
        model = build_model("rep_mobile", **options)
    deployed = reparameterize(model.eval())
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in deployed.state_dict().items()}
    figures = complexity_report(count_complexity(deployed, (1, features.n_mels, features.clip_frames)))
    torch.save({"model_name": "rep_mobile", "model_options": options, "state_dict": state, "deployed": True,
                "precision": "float16", "features": dataclasses.asdict(features), "labels": LABELS,
                "complexity": figures}, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--channels", type=int, default=6)
    p.add_argument("--rate", type=int, default=44100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="infer_memory.") as tmp:
        tmp = Path(tmp)
        audio, model = tmp / "long.flac", tmp / "model.pt"
        began = time.time()
        write_recording(audio, args.minutes, args.channels, args.rate)
        write_model(model)
        print(f"infer_memory: {args.minutes:g} min, {args.channels} channels, {args.rate} Hz "
              f"({audio.stat().st_size / 2**20:.0f} MiB FLAC; {args.minutes * 60 * args.rate * args.channels * 4 / 2**20:.0f} "
              f"MiB as float32) written in {time.time() - began:.0f} s", flush=True)
        began = time.time()
        result = subprocess.run([sys.executable, "-c", CHILD, "--model", str(model), str(audio)],
                                cwd=REPO, capture_output=True, text=True)
        seconds = time.time() - began
        peak_mb = float(result.stderr.strip().splitlines()[-1].split()[-2]) / 1024 if result.returncode == 0 else 0
    if result.returncode != 0:
        print(f"infer_memory: infer failed:\n{result.stderr}", file=sys.stderr)
        return 1
    clips = result.stdout.strip().splitlines()[-1].split("\t")[-1]
    verdict = "within" if peak_mb <= LIMIT_MB else "OVER"
    print(f"infer_memory: peak RSS of asc.bin.infer {peak_mb:.0f} MB for {clips} clips in {seconds:.0f} s "
          f"({verdict} the {LIMIT_MB} MB target)")
    return 0 if peak_mb <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
