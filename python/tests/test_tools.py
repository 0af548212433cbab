"""The toolbox from Python: exact against brute force, mean field, factoring, circuits,
learning."""

import itertools
import math

import dimod
import numpy as np
import pytest

import pbit
from conftest import random_bqm


def brute_force(bqm, beta):
    variables = list(bqm.variables)
    values = (-1, 1) if bqm.vartype is dimod.SPIN else (0, 1)
    states = np.array(list(itertools.product(values, repeat=len(variables))))
    e = bqm.energies((states, variables))
    w = np.exp(-beta * (e - e.min()))
    z = w.sum()
    log_z = math.log(z) - beta * e.min()
    p = w / z
    return log_z, e.min(), p @ e, p @ states


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_exact_matches_brute_force(vartype):
    bqm = random_bqm(9, 0.5, 12, vartype)
    beta = 0.7
    r = pbit.exact(bqm, beta)
    log_z, e0, mean_e, marg = brute_force(bqm, beta)
    assert r.log_z == pytest.approx(log_z, rel=1e-9)
    assert r.free_energy == pytest.approx(-log_z / beta, rel=1e-9)
    assert r.ground_energy == pytest.approx(e0, abs=1e-9)
    assert r.mean_energy == pytest.approx(mean_e, rel=1e-9)
    assert [r.marginals[v] for v in bqm.variables] == pytest.approx(list(marg), abs=1e-9)
    assert bqm.energy(r.ground_state) == pytest.approx(e0, abs=1e-9)
    with pytest.raises(ValueError, match="beta"):
        pbit.exact(bqm, -1.0)
    with pytest.raises(ValueError, match="at most"):
        pbit.exact(random_bqm(33, 0.1, 1), 1.0)


def test_meanfield_bounds_the_exact_free_energy():
    bqm = random_bqm(10, 0.4, 13)
    for beta in (0.2, 1.0):
        mf = pbit.meanfield(bqm, beta)
        ex = pbit.exact(bqm, beta)
        assert mf.converged
        # the naive mean-field F is an upper bound on the exact F (Gibbs–Bogoliubov)
        assert mf.free_energy >= ex.free_energy - 1e-9
        assert all(-1 <= m <= 1 for m in mf.marginals.values())
    # weak couplings: mean field is close to exact
    weak = dimod.BinaryQuadraticModel({"a": 0.3, "b": -0.2}, {("a", "b"): 0.01}, 0, "SPIN")
    mf, ex = pbit.meanfield(weak, 1.0), pbit.exact(weak, 1.0)
    assert mf.marginals["a"] == pytest.approx(ex.marginals["a"], abs=1e-2)


def test_factor():
    r = pbit.factor(143, seed=1)
    assert r.factors == (11, 13) and r.sweeps > 0
    assert r.report["n"] == 143
    again = pbit.factor(143, seed=1, threads=1)
    assert again.sweeps == r.sweeps  # the same search, whatever the threads
    with pytest.raises(ValueError):
        pbit.factor(13)  # a prime has no factors to find


def test_sample_circuit_runs_a_multiplier_backwards(repo):
    netlist = repo / "circuit" / "tests" / "fixtures" / "mul3.json"
    r = pbit.sample_circuit(str(netlist), {"p": 35}, samples=40, sweeps=400, seed=2)
    values = dict(r["best"]["values"])
    assert sorted((values["a"], values["b"])) == [5, 7]
    assert values["a"] * values["b"] == 35
    # forwards, from the parsed JSON
    import json

    r = pbit.sample_circuit(json.loads(netlist.read_text()), "a=3,b=6", samples=20, seed=1)
    assert dict(r["best"]["values"])["p"] == 18
    with pytest.raises(ValueError):
        pbit.sample_circuit(str(netlist), {"nope": 1}, samples=2)


def test_learn_returns_numpy_couplings():
    # two perfectly correlated bits and an independent third: J_01 grows positive
    data = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 1, 1]] * 4, dtype=np.uint8)
    r = pbit.learn(data, epochs=60, seed=3, chains=8)
    assert r.J.shape == (3, 3) and r.h.shape == (3,)
    np.testing.assert_array_equal(r.J, r.J.T)
    assert r.J[0, 1] > 1.0 and abs(r.J[0, 2]) < r.J[0, 1] / 2
    assert r.report["epochs"] == 60 if "epochs" in r.report else True
    bqm = r.to_bqm()
    assert bqm.quadratic[(0, 1)] == pytest.approx(-r.J[0, 1])
    with pytest.raises(ValueError, match="0 and 1"):
        pbit.learn(np.array([[0, 2]]))
