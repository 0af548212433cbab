"""pbit from Python: a dimod sampler on the p-bit machine, and the rest of its toolbox.

>>> import dimod, pbit
>>> bqm = dimod.generators.ran_r(1, 20, seed=1)
>>> sampleset = pbit.PBitSampler().sample(bqm, num_reads=8, seed=1)

The sampler runs on the bit-exact software model by default, on the Verilated gateware
(``backend="verilator"``) or on a board (``backend="serial", port=...``); the same seed gives
the same samples on each. See docs/python.md.
"""

from pbit._pbit import MAX_STEPS
from pbit.sampler import PBitSampler, default_beta_range
from pbit.tools import (
    ExactResult,
    FactorResult,
    LearnResult,
    MeanFieldResult,
    exact,
    factor,
    learn,
    meanfield,
    sample_circuit,
)

__all__ = [
    "MAX_STEPS",
    "PBitSampler",
    "default_beta_range",
    "ExactResult",
    "FactorResult",
    "LearnResult",
    "MeanFieldResult",
    "exact",
    "factor",
    "learn",
    "meanfield",
    "sample_circuit",
]
