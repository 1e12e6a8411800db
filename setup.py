"""Installs the `asc` package: the Python side of the recipes under egs/."""
from setuptools import find_packages, setup

setup(
    name="asc",
    version="0.1.0",
    description="Data-efficient, low-complexity acoustic scene classification recipes "
                "(Rep-Mobile, knowledge distillation, progressive pruning)",
    python_requires=">=3.9",
    packages=find_packages(include=["asc", "asc.*"]),
    install_requires=[
        # torch is installed by tools/install.sh first (TORCH_SPEC), so that users with CUDA
        # choose their own build; any 2.x release the project was tested on satisfies this.
        "torch>=2.1",
        "numpy",
        "librosa>=0.10",
        "soundfile",
        "soxr",
        "scipy",
        "h5py>=3.8",
        "scikit-learn",
        "tqdm",
        "PyYAML>=6",
        "torchinfo==1.8.0",
        "torch-pruning>=1.4",
        "matplotlib",
    ],
    extras_require={
        # asc.bin.export --format onnx (torch's exporter needs onnx and onnxscript; onnxruntime runs
        # the file and checks it); the tests run exported files, so the test extra has them too.
        "export": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.17"],
        "test": ["pytest>=7", "onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.17"],
    },
)
