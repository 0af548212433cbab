"""PBitSampler: the p-bit machine as a dimod sampler.

Variable order: column k of every sample array the machine sees and returns is the k-th
variable of ``bqm.variables`` (the BQM's own order, insertion order for dimod's BQMs). The
returned SampleSet keeps that order (``sampleset.variables == bqm.variables``), and p-bit k of
the machine is that variable: seeds reproduce because the order never depends on hashing or
sorting.
"""

from __future__ import annotations

import secrets
import time
import warnings
from numbers import Integral
from typing import Any

import dimod
import numpy as np

from pbit import _pbit

_SCHEDULES = ("linear", "geometric", "custom")
_BACKENDS = ("model", "verilator", "serial")
_MACHINES = ("dense", "sparse")
_QUANTIZATIONS = ("scale", "error")
DEFAULT_BAUD = 1_000_000
_U64 = 1 << 64


def _ising_arrays(bqm: dimod.BinaryQuadraticModel, variable_order=None):
    """The BQM as a SPIN model in arrays, in ``bqm.variables`` order (or ``variable_order``, a
    permutation of them): (variables, h, irow, icol, J, offset)."""
    variables = list(bqm.variables)
    if variable_order is not None:
        order = list(variable_order)
        if len(order) != len(variables) or set(order) != set(variables):
            raise ValueError("variable_order must list every variable of the BQM exactly once")
        variables = order
    spin = bqm.spin if bqm.vartype is dimod.BINARY else bqm
    h, (irow, icol, jv), offset = spin.to_numpy_vectors(variable_order=variables)
    return (
        variables,
        np.ascontiguousarray(h, dtype=np.float64),
        np.ascontiguousarray(irow, dtype=np.int64),
        np.ascontiguousarray(icol, dtype=np.int64),
        np.ascontiguousarray(jv, dtype=np.float64),
        float(offset),
    )


def _default_range_arrays(h, irow, icol, jv, n) -> tuple[float, float]:
    """dwave-samplers' ``default_beta_range`` (``_default_ising_beta_range`` with its
    defaults: excitation rate 0.01, T scaled with N), vectorised over the arrays.

    Hot β: ln 2 / (2 max_i Σ|bias at i|), so every flip is accepted with probability ≥ 1/2 at
    the start. Cold β: ln(#min gaps / 0.01) / (2 min_i min nonzero |bias at i|).
    """
    abs_h = np.abs(h)
    abs_j = np.abs(jv)
    total = abs_h.copy()
    np.add.at(total, irow, abs_j)
    np.add.at(total, icol, abs_j)
    mins = np.where(abs_h != 0, abs_h, np.inf)
    nz = abs_j != 0
    np.minimum.at(mins, irow[nz], abs_j[nz])
    np.minimum.at(mins, icol[nz], abs_j[nz])
    present = mins[np.isfinite(mins)]
    if present.size == 0:
        warnings.warn(
            "All bqm biases are zero (all energies are zero), this is likely a value error. "
            "Temperature range is set arbitrarily to [0.1,1]."
        )
        return (0.1, 1.0)
    max_field = float(total.max()) if n else 0.0
    hot = 1.0 if max_field == 0 else float(np.log(2) / (2 * max_field))
    min_field = float(present.min())
    count = int(np.sum(present == min_field))
    cold = float(np.log(count / 0.01) / (2 * min_field))
    return (hot, cold)


def default_beta_range(bqm: dimod.BinaryQuadraticModel) -> tuple[float, float]:
    """The β range the sampler uses without ``beta_range``: dwave-samplers'
    ``default_beta_range(bqm)``, in the BQM's energy units."""
    _, h, irow, icol, jv, _ = _ising_arrays(bqm)
    return _default_range_arrays(h, irow, icol, jv, len(h))


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")
    return value


def _count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


class PBitSampler(dimod.Sampler, dimod.Initialized):
    """Simulated annealing on the p-bit machine (the bit-exact model, the Verilated gateware
    or a board).

    Args:
        backend: ``"model"`` (default), ``"verilator"`` or ``"serial"``.
        machine: ``"dense"`` (default; any pair coupled, one p-bit per step) or ``"sparse"``
            (graph-coloured; the model only).
        threads: worker threads of the model (default: every core). Results never depend on
            it.
        port, baud: the serial device (``backend="serial"``).
        machine_n: the Verilated machine's size (default: the smallest that holds the model).

    Every constructor argument can also be given to :meth:`sample`, which overrides it for
    that call. Samplers hold only these settings, so they pickle.
    """

    def __init__(
        self,
        backend: str = "model",
        machine: str = "dense",
        threads: int | None = None,
        port: str | None = None,
        baud: int = DEFAULT_BAUD,
        machine_n: int | None = None,
    ) -> None:
        self.backend = _choice("backend", backend, _BACKENDS)
        self.machine = _choice("machine", machine, _MACHINES)
        self.threads = threads
        self.port = port
        self.baud = baud
        self.machine_n = machine_n

    def __repr__(self) -> str:
        return (
            f"PBitSampler(backend={self.backend!r}, machine={self.machine!r}, "
            f"threads={self.threads!r}, port={self.port!r}, baud={self.baud!r}, "
            f"machine_n={self.machine_n!r})"
        )

    @property
    def parameters(self) -> dict[str, list]:
        return {
            "num_reads": [],
            "num_sweeps": [],
            "num_sweeps_per_beta": [],
            "beta_range": [],
            "beta_schedule_type": ["beta_schedule_options"],
            "beta_schedule": [],
            "seed": [],
            "initial_states": [],
            "initial_states_generator": [],
            "quantization": ["quantization_options"],
            "backend": ["backend_options"],
            "machine": ["machine_options"],
            "threads": [],
            "port": [],
            "baud": [],
            "machine_n": [],
            "first_read": [],
            "variable_order": [],
        }

    @property
    def properties(self) -> dict[str, Any]:
        return {
            "beta_schedule_options": _SCHEDULES,
            "quantization_options": _QUANTIZATIONS,
            "backend_options": _BACKENDS,
            "machine_options": _MACHINES,
            "max_beta_steps": _pbit.MAX_STEPS,
        }

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        num_reads: int | None = None,
        num_sweeps: int = 1000,
        num_sweeps_per_beta: int = 1,
        beta_range: tuple[float, float] | None = None,
        beta_schedule_type: str = "geometric",
        beta_schedule=None,
        seed: int | None = None,
        initial_states=None,
        initial_states_generator: str = "random",
        quantization: str = "scale",
        backend: str | None = None,
        machine: str | None = None,
        threads: int | None = None,
        port: str | None = None,
        baud: int | None = None,
        machine_n: int | None = None,
        first_read: int = 0,
        variable_order=None,
        **kwargs,
    ) -> dimod.SampleSet:
        """Anneals ``num_reads`` reads of ``bqm`` and returns the best state each read saw.

        Args:
            num_reads: reads (default: the number of initial states, else 1).
            num_sweeps: sweeps per read (linear and geometric schedules).
            num_sweeps_per_beta: sweeps at each β of a custom schedule.
            beta_range: (β_start, β_end) in the BQM's energy units (default:
                :func:`default_beta_range`, as dwave-samplers).
            beta_schedule_type: ``"geometric"`` (default) or ``"linear"`` from β_start to
                β_end in at most 32 plateaus (the machine holds 32 β steps), or ``"custom"``:
                ``beta_schedule``, at most 32 values.
            seed: 0 ≤ seed < 2**64 (default: a random seed, reported in ``info["seed"]``).
                Read r's generators and start state derive from (seed, r) alone.
            initial_states, initial_states_generator: as dimod's ``Initialized``; without
                initial states, ``"random"`` (default) starts every read from the machine's
                own seeded random state.
            quantization: ``"scale"`` (default): values are multiplied by the power of two
                that uses most of the machine's fixed-point range and rounded (β divided by
                it), reported in ``info["quantization"]``; ``"error"``: refuse a model that
                then still needs rounding.
            backend, machine, threads, port, baud, machine_n: override the constructor's.
            first_read: read numbers are ``first_read .. first_read + num_reads − 1``: calls
                with disjoint ranges (and no explicit initial states) together return exactly
                the reads of one big call (for spreading reads over processes or a cluster).
            variable_order: the variables in p-bit order (default: ``bqm.variables``). Pickling
                a dimod BQM may reorder its variables, so code that ships a BQM to other
                processes and wants their reads to match passes the order explicitly.

        Returns:
            A SampleSet over ``bqm.variables`` in their order (or ``variable_order``), one row per read in read order,
            energies from ``bqm`` in floating point, and ``info`` with ``beta_schedule``
            ([(β, sweeps)] as run, β in the BQM's units after the machine's rounding),
            ``beta_range``, ``quantization``, ``timing``, ``seed``, ``backend``, ``machine``.
        """
        t0 = time.perf_counter()
        self.remove_unknown_kwargs(**kwargs)
        backend = _choice("backend", self.backend if backend is None else backend, _BACKENDS)
        machine = _choice("machine", self.machine if machine is None else machine, _MACHINES)
        threads = self.threads if threads is None else threads
        port = self.port if port is None else port
        baud = self.baud if baud is None else baud
        machine_n = self.machine_n if machine_n is None else machine_n
        _choice("beta_schedule_type", beta_schedule_type, _SCHEDULES)
        _choice("quantization", quantization, _QUANTIZATIONS)
        if threads is not None:
            threads = _count("threads", threads)
        if seed is None:
            seed = secrets.randbits(64)
        if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < _U64:
            raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
        seed = int(seed)
        first_read = _count("first_read", first_read, 0)
        num_sweeps = _count("num_sweeps", num_sweeps)
        num_sweeps_per_beta = _count("num_sweeps_per_beta", num_sweeps_per_beta)

        betas: list[float] = []
        if beta_schedule_type == "custom":
            if beta_schedule is None:
                raise ValueError("beta_schedule_type='custom' needs beta_schedule")
            betas = [float(b) for b in np.asarray(beta_schedule, dtype=float).ravel()]
            if not 1 <= len(betas) <= _pbit.MAX_STEPS:
                raise ValueError(
                    f"beta_schedule has {len(betas)} values; the machine holds 1 to "
                    f"{_pbit.MAX_STEPS} β steps (each runs num_sweeps_per_beta sweeps)"
                )
            if beta_range is not None:
                raise ValueError("beta_range and a custom beta_schedule exclude each other")
        elif beta_schedule is not None:
            raise ValueError("beta_schedule is for beta_schedule_type='custom'")

        # initial states: the machine's own seeded starts unless states are given
        if initial_states is None and initial_states_generator == "random":
            if num_reads is None:
                num_reads = 1
            num_reads = _count("num_reads", num_reads)
            initial = None
        else:
            parsed = self.parse_initial_states(
                bqm,
                initial_states=initial_states,
                initial_states_generator=initial_states_generator,
                num_reads=num_reads,
                seed=seed % (1 << 32),
            )
            num_reads = parsed.num_reads
            states = parsed.initial_states
            wanted = bqm.variables if variable_order is None else variable_order
            order = [states.variables.index(v) for v in wanted]
            initial = np.ascontiguousarray(states.record.sample[:, order], dtype=np.int8)
            if bqm.vartype is dimod.BINARY:
                initial = np.ascontiguousarray(2 * initial - 1, dtype=np.int8)

        variables, h, irow, icol, jv, offset = _ising_arrays(bqm, variable_order)
        n = len(variables)
        if beta_schedule_type != "custom":
            if beta_range is None:
                if n == 0:
                    beta_range = (0.1, 1.0)
                else:
                    beta_range = _default_range_arrays(h, irow, icol, jv, n)
            beta_range = tuple(float(b) for b in beta_range)
            if len(beta_range) != 2:
                raise ValueError("beta_range must be (beta_start, beta_end)")

        t1 = time.perf_counter()
        out = _pbit.anneal(
            n,
            h,
            irow,
            icol,
            jv,
            quantization=quantization,
            machine=machine,
            schedule_type=beta_schedule_type,
            beta_start=beta_range[0] if beta_range else 0.0,
            beta_end=beta_range[1] if beta_range else 0.0,
            betas=betas,
            sweeps_per_beta=num_sweeps_per_beta,
            num_sweeps=num_sweeps,
            seed=seed,
            first_read=first_read,
            num_reads=num_reads,
            threads=threads,
            initial=initial,
            backend=backend,
            port=port,
            baud=int(baud),
            machine_n=machine_n,
        )
        t2 = time.perf_counter()
        samples = out["samples"].reshape(num_reads, n)
        if bqm.vartype is dimod.BINARY:
            samples = (samples + 1) // 2
        energies = bqm.energies((samples, variables)) if n else np.full(num_reads, bqm.offset)
        info = {
            "beta_schedule": [(float(b), int(k)) for b, k in out["steps"]],
            "beta_schedule_type": beta_schedule_type,
            "beta_range": beta_range,
            "quantization": {
                "mode": quantization,
                "scale": out["scale"],
                "max_abs_error": out["max_abs_error"],
            },
            "seed": seed,
            "first_read": first_read,
            "backend": out["backend"],
            "machine": out["machine"],
        }
        sampleset = dimod.SampleSet.from_samples(
            (samples, variables),
            bqm.vartype,
            energy=energies,
            num_occurrences=np.ones(num_reads, dtype=np.int64),
            info=info,
            sort_labels=False,
        )
        t3 = time.perf_counter()
        sampleset.info["timing"] = {
            "sampling_s": out["seconds"],
            "quantising_s": out["prepare_seconds"],
            "rust_call_s": t2 - t1,
            "preprocessing_s": t1 - t0,
            "postprocessing_s": t3 - t2,
            "total_s": t3 - t0,
        }
        return sampleset
