"""Type stubs of the Rust extension `pbit._pbit` (python/src). Call it through pbit.sampler
and pbit.tools, which take dimod models."""

from typing import Any

import numpy as np
import numpy.typing as npt

MAX_STEPS: int
SPEC_VERSION: str

def anneal(
    n: int,
    h: npt.NDArray[np.float64],
    irow: npt.NDArray[np.int64],
    icol: npt.NDArray[np.int64],
    jv: npt.NDArray[np.float64],
    *,
    quantization: str,
    machine: str,
    schedule_type: str,
    beta_start: float,
    beta_end: float,
    betas: list[float],
    sweeps_per_beta: int,
    num_sweeps: int,
    seed: int,
    first_read: int,
    num_reads: int,
    threads: int | None,
    initial: npt.NDArray[np.int8] | None,
    backend: str,
    port: str | None,
    baud: int,
    machine_n: int | None,
) -> dict[str, Any]: ...
def exact(
    n: int,
    h: npt.NDArray[np.float64],
    irow: npt.NDArray[np.int64],
    icol: npt.NDArray[np.int64],
    jv: npt.NDArray[np.float64],
    beta: float,
) -> dict[str, Any]: ...
def meanfield(
    n: int,
    h: npt.NDArray[np.float64],
    irow: npt.NDArray[np.int64],
    icol: npt.NDArray[np.int64],
    jv: npt.NDArray[np.float64],
    beta: float,
    *,
    tolerance: float,
    max_iterations: int,
    damping: float,
    start: float,
) -> dict[str, Any]: ...
def factor(
    n: int,
    *,
    seed: int,
    max_sweeps: int | None,
    sweeps: int | None,
    reads: int | None,
    beta_start: float | None,
    beta_end: float | None,
    class_bias: float | None,
    threads: int | None,
    backend: str,
    port: str | None,
    baud: int,
    machine_n: int | None,
) -> dict[str, Any]: ...
def sample_circuit(
    netlist: str,
    clamps: str,
    *,
    top: str | None,
    samples: int | None,
    sweeps: int | None,
    seed: int,
    beta_start: float | None,
    beta_end: float | None,
    threads: int | None,
    backend: str,
    port: str | None,
    baud: int,
    machine_n: int | None,
) -> dict[str, Any]: ...
def learn(
    data: npt.NDArray[np.uint8],
    *,
    hidden: int,
    topology: str | None,
    method: str,
    k: int,
    epochs: int,
    lr: float,
    lr_final: float,
    batch: int | None,
    chains: int,
    init_scale: float,
    seed: int,
    beta: float,
    kl_every: int,
    threads: int | None,
) -> dict[str, Any]: ...
