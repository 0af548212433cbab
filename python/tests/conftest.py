"""Shared fixtures of the pbit Python tests (run by scripts/test-all.sh after `pip install ./python`)."""

import os
import pathlib

import dimod
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def repo():
    return REPO


def random_bqm(n, density, seed, vartype="SPIN", dyadic=False):
    """A random BQM with string and tuple labels in a scrambled insertion order. Values are
    uniform reals (off the machine's grid) unless dyadic."""
    rng = np.random.default_rng(seed)
    labels = [("v", int(k)) if k % 3 == 0 else f"x{k}" for k in rng.permutation(n)]
    bqm = dimod.BinaryQuadraticModel(vartype)
    for v in labels:
        value = rng.integers(-32, 33) / 16 if dyadic else rng.uniform(-1.5, 1.5)
        bqm.add_variable(v, value)
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < density:
                value = rng.integers(-32, 33) / 16 if dyadic else rng.uniform(-1, 1)
                bqm.add_interaction(labels[i], labels[j], value)
    bqm.offset = 0.75
    return bqm


def verilator_available():
    from shutil import which

    return which("verilator") is not None and which("g++") is not None and not os.environ.get(
        "PBIT_SKIP_VERILATOR"
    )
