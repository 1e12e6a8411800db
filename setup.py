"""Installs the `asc` package: the Python side of the recipes under egs/."""
from setuptools import find_packages, setup

setup(
    name="asc",
    version="0.1.0",
    description="Data-efficient, low-complexity acoustic scene classification recipes "
                "(Rep-Mobile, knowledge distillation, progressive pruning)",
    # 3.10: the typed configs use `X | Y` annotations at run time.
    python_requires=">=3.10",
    packages=find_packages(include=["asc", "asc.*"]),
    # the DCASE2025 inference package's code, copied as plain files into each exported package
    package_data={"asc.export": ["dcase2025_template/*"]},
    install_requires=[
        # torch is installed by tools/install.sh first (TORCH_SPEC), so that users with CUDA choose their
        # own build. >= 2.10: checkpoints are read with torch.load(weights_only=True), which older
        # releases let a crafted file bypass (CVE-2025-32434 up to 2.5.1, a later advisory below 2.10).
        "torch>=2.10,<3",
        # Upper bounds where a new major version could change results or break reading them:
        # librosa makes the mel filterbank (its version is recorded with every feature store),
        # soxr resamples, torchinfo counts MACs as DCASE counts them (pinned).
        "numpy>=1.24,<3",
        "librosa>=0.10,<0.12",
        "soundfile>=0.12,<1",
        "soxr>=0.3,<2",
        "scipy>=1.10,<2",
        "h5py>=3.8,<4",
        "scikit-learn>=1.2,<2",
        "tqdm>=4,<5",
        "PyYAML>=6,<7",
        "torchinfo==1.8.0",
        "torch-pruning>=1.4,<2",
        "matplotlib>=3.6,<4",
    ],
    extras_require={
        # asc.bin.export --format onnx (torch's exporter needs onnx and onnxscript; onnxruntime runs
        # the file and checks it); the tests run exported files, so the test extra has them too.
        # pytest-xdist: tools/test.sh spreads the suite over two workers (tests/conftest.py groups it).
        "export": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.17"],
        "test": ["pytest>=7", "pytest-xdist>=3.6,<4", "onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.17"],
    },
)
