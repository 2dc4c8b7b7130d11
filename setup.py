"""Installation script for the colorization library."""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent

setup(
    name="colorization",
    version="0.1.0",
    description=(
        "Automatic image colorization in Keras 3: the networks, losses and "
        "data pipeline of five reports on deep colorization under one API."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(
        include=[
            "colorization",
            "colorization.*",
            "data_pipeline",
            "data_pipeline.*",
            "colorization_apps",
        ]
    ),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.10",
        "tensorflow-datasets>=4.9",
        "scikit-image>=0.22",
        "numpy>=1.26",
        "matplotlib>=3.8",
        # Sample colourisations in TensorBoard (colorization.training.callbacks).
        "tensorboard>=2.16",
        "pillow>=10",
        # scikit-learn ships two of the bundled sample photographs (china, flower).
        "scikit-learn>=1.4",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist>=3",
            "ruff>=0.6",
            "scikit-learn>=1.4",
            "jax[cpu]>=0.4.30",
            "jupytext>=1.16",
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            # PyTorch twins of the released networks verify the weight conversion. The version
            # CI tests with; on this project's CI machines it is a CPU build of ~0.9 GB, where an
            # open range takes a CUDA build of ~5 GB that the CPU-only tests do not use.
            "torch==2.13.0",
        ],
        # On NVIDIA GPUs install jax[cuda12] instead.
        "jax": ["jax>=0.4.30", "jaxlib>=0.4.30"],
        # `jupytext --execute` (make notebooks) runs the kernel through nbconvert.
        "notebooks": [
            "jupytext>=1.16",
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            "nbconvert>=7",
        ],
        "pretrained": ["torch>=2.2"],
        # Apache Beam pins older protobuf/pillow/pyarrow; `make test` runs its tests in .venv-beam.
        "beam": ["apache-beam>=2.60"],
        "benchmarks": ["scikit-learn>=1.4", "torch>=2.2"],
    },
    entry_points={
        "console_scripts": [
            "colorization = colorization_apps.cli:main",
            "colorize = colorization_apps.cli:colorize_main",
            "colorization-data = colorization_apps.data_cli:main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
