"""Export a deployable model file as TorchScript or ONNX, to run without this package.

    python -m asc.bin.export --model exp/deploy/split100/model.pt --format onnx --out model.onnx
    python -m asc.bin.export --model exp/deploy/split100/model.pt --format torchscript --out model.ts
    python -m asc.bin.export --model ... --format onnx --no-front-end --out net.onnx   # log-mel input

With the front end (default) the file takes mono waveforms, float32 [batch, samples] at the model's
sample rate, one clip long (32000 samples for the student's 1 s at 32 kHz), and returns logits
[batch, classes]; the STFT is inside (torch.stft in TorchScript, ONNX's STFT operator at opset 18).
Without it, the file takes log-mels [batch, 1, mels, frames]. Both compute in float32.

    TorchScript:  torch.jit.load("model.ts")(wave)
    ONNX:         onnxruntime.InferenceSession("model.onnx").run(None, {"wave": wave})[0]

The input contract (input name and shape, sample rate, clip length, channels, labels in output
order) is written beside the file as FILE.json. The exported file is run once before it is kept and
must give the package's logits within 1e-4. ONNX needs `pip install 'asc[export]'` (onnx, onnxscript,
onnxruntime).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError

PROG = "export"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="deployable model file (exp/deploy/split<N>/model.pt)")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript"), help="file format")
    p.add_argument("--out", required=True, type=Path, help="the exported file (its contract goes to OUT.json)")
    p.add_argument("--front-end", action=argparse.BooleanOptionalAction, default=True,
                   help="include the log-mel front end: waveform input (default) or log-mel input")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Export, check, write the contract; exit 1 with one line on a bad input or a failed check."""
    args = parse_args(argv)
    try:
        from asc.export.formats import contract_path, export_deployed

        info = export_deployed(args.model, args.format, args.out, args.front_end)
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    shape = "x".join(str(d) for d in info["input"]["shape"])
    print(f"{PROG}: {args.model} -> {args.out} ({args.format}, input '{info['input']['name']}' {shape} float32 at "
          f"{info['sample_rate']} Hz, logits of {len(info['output']['labels'])} classes; max |exported - package| "
          f"= {info['max_abs_diff_vs_package']:.2g}); contract -> {contract_path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
