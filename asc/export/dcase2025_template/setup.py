"""The @NAME@ inference package (DCASE2025 Task 1), exported by the asc recipe egs/dcase2025_task1:
pip install -e . (needs torch, numpy, soundfile, soxr; not asc)."""
from setuptools import find_packages, setup

setup(
    name="@NAME@",
    version="1.0.0",
    description="DCASE2025 Task 1 inference package exported by the asc recipe egs/dcase2025_task1",
    packages=find_packages(),
    package_data={"@NAME@": ["ckpts/*", "resources/*"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=["torch>=2.10", "numpy>=1.24", "soundfile>=0.12", "soxr>=0.3"],
)
