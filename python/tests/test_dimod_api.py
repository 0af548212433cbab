"""dimod's own sampler tests: the API contract and the small-BQM suite (empty and one-variable
models, SPIN and BINARY, offsets, tuple labels)."""

import unittest

import dimod
import dimod.testing

from pbit import PBitSampler


def test_sampler_api():
    dimod.testing.assert_sampler_api(PBitSampler())


@dimod.testing.load_sampler_bqm_tests(PBitSampler)
class TestDimodSuite(unittest.TestCase):
    pass


@dimod.testing.load_sampler_bqm_tests(lambda: PBitSampler(machine="sparse"))
class TestDimodSuiteSparse(unittest.TestCase):
    pass


def test_unknown_keywords_warn():
    bqm = dimod.BinaryQuadraticModel({"a": 1.0}, {}, 0.0, "SPIN")
    import pytest

    with pytest.warns(dimod.exceptions.SamplerUnknownArgWarning):
        PBitSampler().sample(bqm, num_reads=1, seed=1, randomize_order=True)


def test_sampleset_checks():
    from conftest import random_bqm

    bqm = random_bqm(12, 0.5, 3)
    ss = PBitSampler().sample(bqm, num_reads=4, seed=5, num_sweeps=50)
    dimod.testing.assert_sampleset_energies(ss, bqm)
