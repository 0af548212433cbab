"""The rest of the toolbox: exact enumeration, mean field, factoring, circuits, learning.

Models are dimod BQMs (any vartype; energies in the BQM's units, offset included). Marginals
are per variable in ``bqm.variables`` order: ⟨s⟩ ∈ [−1, 1] for SPIN models, P(x = 1) for
BINARY ones.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Mapping

import dimod
import numpy as np

from pbit import _pbit
from pbit.sampler import DEFAULT_BAUD, _ising_arrays


def _marginals(bqm: dimod.BinaryQuadraticModel, m) -> dict:
    m = np.asarray(m, dtype=float)
    if bqm.vartype is dimod.BINARY:
        m = (1.0 + m) / 2.0
    return dict(zip(bqm.variables, m.tolist()))


@dataclass(frozen=True)
class ExactResult:
    """Exact thermodynamics of a BQM at β (energies include the offset)."""

    beta: float
    log_z: float
    free_energy: float
    mean_energy: float
    entropy: float
    ground_energy: float
    ground_states: int
    ground_state: dict
    marginals: dict


def exact(bqm: dimod.BinaryQuadraticModel, beta: float) -> ExactResult:
    """ln Z, F = −ln Z/β, ⟨E⟩, S, the ground energy and marginals of ``bqm`` at ``beta``, by
    enumerating all states (at most 32 variables)."""
    variables, h, irow, icol, jv, offset = _ising_arrays(bqm)
    r = _pbit.exact(len(variables), h, irow, icol, jv, float(beta))
    # the enumeration leaves the offset out: Z' = Z·e^{−β·offset}
    ground = np.asarray(r["ground_state"], dtype=np.int8)
    if bqm.vartype is dimod.BINARY:
        ground = (ground + 1) // 2
    return ExactResult(
        beta=float(beta),
        log_z=r["log_z"] - beta * offset,
        free_energy=r["free_energy"] + offset,
        mean_energy=r["mean_energy"] + offset,
        entropy=r["entropy"],
        ground_energy=r["ground_energy"] + offset,
        ground_states=r["ground_states"],
        ground_state=dict(zip(variables, ground.tolist())),
        marginals=_marginals(bqm, r["marginals"]),
    )


@dataclass(frozen=True)
class MeanFieldResult:
    """The naive mean-field fixed point (energies include the offset)."""

    beta: float
    marginals: dict
    free_energy: float
    energy: float
    entropy: float
    iterations: int
    converged: bool


def meanfield(
    bqm: dimod.BinaryQuadraticModel,
    beta: float,
    *,
    tolerance: float = 1e-10,
    max_iterations: int = 10_000,
    damping: float = 0.5,
    start: float = 0.1,
) -> MeanFieldResult:
    """The naive mean-field fixed point of ``bqm`` at ``beta`` (damped iteration of
    m_i = tanh(β·local field)); its free energy bounds the exact one from above."""
    variables, h, irow, icol, jv, offset = _ising_arrays(bqm)
    r = _pbit.meanfield(
        len(variables),
        h,
        irow,
        icol,
        jv,
        float(beta),
        tolerance=float(tolerance),
        max_iterations=int(max_iterations),
        damping=float(damping),
        start=float(start),
    )
    return MeanFieldResult(
        beta=float(beta),
        marginals=_marginals(bqm, r["marginals"]),
        free_energy=r["free_energy"] + offset,
        energy=r["energy"] + offset,
        entropy=r["entropy"],
        iterations=r["iterations"],
        converged=r["converged"],
    )


def _device(backend: str, port, baud, machine_n) -> dict:
    return {"backend": backend, "port": port, "baud": int(baud), "machine_n": machine_n}


@dataclass(frozen=True)
class FactorResult:
    """Factors p ≤ q of n and what finding them took (``report``: the CLI's --json)."""

    n: int
    factors: tuple[int, int]
    sweeps: int
    report: dict = field(repr=False)


def factor(
    n: int,
    *,
    seed: int = 0,
    max_sweeps: int | None = None,
    sweeps: int | None = None,
    reads: int | None = None,
    beta_start: float | None = None,
    beta_end: float | None = None,
    class_bias: float | None = None,
    threads: int | None = None,
    backend: str = "model",
    port: str | None = None,
    baud: int = DEFAULT_BAUD,
    machine_n: int | None = None,
) -> FactorResult:
    """Factors ``n`` by running invertible multipliers backwards (``pbit factor``); defaults
    are the CLI's."""
    r = _pbit.factor(
        int(n),
        seed=int(seed),
        max_sweeps=max_sweeps,
        sweeps=sweeps,
        reads=reads,
        beta_start=beta_start,
        beta_end=beta_end,
        class_bias=class_bias,
        threads=threads,
        **_device(backend, port, baud, machine_n),
    )
    p, q = r["factors"]
    return FactorResult(n=int(n), factors=(int(p), int(q)), sweeps=int(r["sweeps"]), report=r)


def _clamp_text(clamps) -> str:
    if clamps is None:
        return ""
    if isinstance(clamps, str):
        return clamps
    if isinstance(clamps, Mapping):
        parts = []
        for name, value in clamps.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"clamp {name!r}: the value must be a non-negative integer, not {value!r}")
            parts.append(f"{name}={int(value)}")
        return ",".join(parts)
    raise TypeError("clamps must be a dict {port: value} or a string 'a=1,b=2'")


def sample_circuit(
    netlist,
    clamps=None,
    *,
    top: str | None = None,
    samples: int | None = None,
    sweeps: int | None = None,
    seed: int = 0,
    beta_start: float | None = None,
    beta_end: float | None = None,
    threads: int | None = None,
    backend: str = "model",
    port: str | None = None,
    baud: int = DEFAULT_BAUD,
    machine_n: int | None = None,
) -> dict:
    """Runs a yosys JSON netlist with the ports in ``clamps`` held (``pbit circuit``): any
    direction, e.g. a multiplier with its product clamped factors. ``netlist`` is a path, the
    JSON text, or the parsed dict; ``clamps`` a dict {port: value} or ``"s=9,c=1"``. Returns
    the CLI's --json report: ``best`` ({"values": [[port, value], …], "count"}),
    ``assignments``, ``consistent``, ``samples``, ….
    """
    if isinstance(netlist, Mapping):
        text = json.dumps(netlist)
    elif isinstance(netlist, (str, os.PathLike)) and os.path.exists(netlist):
        with open(netlist, encoding="utf-8") as f:
            text = f.read()
    elif isinstance(netlist, str):
        text = netlist
    else:
        raise TypeError("netlist must be a path, JSON text or a dict")
    return _pbit.sample_circuit(
        text,
        _clamp_text(clamps),
        top=top,
        samples=samples,
        sweeps=sweeps,
        seed=int(seed),
        beta_start=beta_start,
        beta_end=beta_end,
        threads=threads,
        **_device(backend, port, baud, machine_n),
    )


@dataclass(frozen=True)
class LearnResult:
    """A learned Boltzmann machine in the machine's convention, E = −Σ_{i<j} J_ij m_i m_j −
    Σ h_i m_i over ±1 p-bits (the visible columns first, then hidden units), quantised as the
    instance file ``pbit learn --out`` writes: ``J`` symmetric n×n (zero diagonal), ``h``."""

    J: np.ndarray
    h: np.ndarray
    report: dict = field(repr=False)

    def to_bqm(self) -> dimod.BinaryQuadraticModel:
        """The same model as a SPIN BQM (dimod's sign convention: J and h negated), whose
        Boltzmann distribution at the learning β is the learned one."""
        n = len(self.h)
        iu = np.triu_indices(n, 1)
        quad = {(int(i), int(j)): -float(self.J[i, j]) for i, j in zip(*iu) if self.J[i, j] != 0}
        return dimod.BinaryQuadraticModel(
            {i: -float(v) for i, v in enumerate(self.h)}, quad, 0.0, dimod.SPIN
        )


def learn(
    data,
    *,
    hidden: int = 0,
    topology: str | None = None,
    method: str = "cd",
    k: int = 1,
    epochs: int = 1000,
    lr: float = 0.5,
    lr_final: float = 0.1,
    batch: int | None = None,
    chains: int = 32,
    init_scale: float = 0.5,
    seed: int = 0,
    beta: float = 1.0,
    kl_every: int = 1,
    threads: int | None = None,
) -> LearnResult:
    """Trains a Boltzmann machine on 0/1 data rows (``pbit learn``, same options and defaults)
    with the model's own samples; returns the couplings as numpy arrays."""
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"data must be a 2-D array of 0/1 rows, got shape {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("data rows must hold only 0 and 1")
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    r = _pbit.learn(
        arr,
        hidden=int(hidden),
        topology=topology,
        method=method,
        k=int(k),
        epochs=int(epochs),
        lr=float(lr),
        lr_final=float(lr_final),
        batch=batch,
        chains=int(chains),
        init_scale=float(init_scale),
        seed=int(seed),
        beta=float(beta),
        kl_every=int(kl_every),
        threads=threads,
    )
    return LearnResult(J=np.asarray(r["J"]), h=np.asarray(r["h"]), report=r["report"])


__all__ = [
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

