//! `_pbit.anneal`: the sampler's one call into Rust. A model in arrays, quantised, annealed on
//! the chosen machine and backend; the best state of every read comes back as ±1 rows.

use crate::{run_interruptible, threads_or_all, value_error};
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pbit_model::limits::{check_anneal, check_range, MAX_SWEEPS};
use pbit_model::run::{AnnealStart, Cancelled, Pages, ReadResult};
use pbit_model::schedule::{Shape, Step, MAX_STEPS};
use pbit_model::{FixedIsing, Ising, Scaling, Schedule};
use pbit_spec::{Beta, Format};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Instant;

/// Builds the machine's Ising model from dimod-convention arrays (E = Σ h s + Σ J s s): the
/// machine's J and h are the negated values. Every index and value is checked (a clear
/// `ValueError`, never a panic).
pub(crate) fn ising_from_arrays(
    n: usize,
    h: &[f64],
    irow: &[i64],
    icol: &[i64],
    jv: &[f64],
) -> PyResult<Ising> {
    if h.len() != n {
        return Err(value_error(format!(
            "{} linear biases for {n} variables",
            h.len()
        )));
    }
    if irow.len() != jv.len() || icol.len() != jv.len() {
        return Err(value_error(format!(
            "quadratic arrays of different lengths ({}, {}, {})",
            irow.len(),
            icol.len(),
            jv.len()
        )));
    }
    pbit_model::limits::check_range("variables", n as u64, 0, pbit_model::limits::MAX_PBITS)
        .map_err(value_error)?;
    let mut ising = Ising::new(n);
    ising.source = "the BQM".into();
    for (k, &v) in h.iter().enumerate() {
        if !v.is_finite() {
            return Err(value_error(format!(
                "the linear bias of variable {k} (0-based, the BQM's order) is {v}, not finite"
            )));
        }
        ising.h[k] = -v;
    }
    for k in 0..jv.len() {
        let (i, j, v) = (irow[k], icol[k], jv[k]);
        if i < 0 || j < 0 || i as u64 >= n as u64 || j as u64 >= n as u64 || i == j {
            return Err(value_error(format!(
                "interaction {k} joins variables {i} and {j}, not a pair of distinct variables of {n}"
            )));
        }
        if !v.is_finite() {
            return Err(value_error(format!(
                "the interaction of variables {i} and {j} (0-based, the BQM's order) is {v}, not finite"
            )));
        }
        ising.add_coupling(i as usize, j as usize, -v);
    }
    Ok(ising)
}

/// How values are put on the machine's grid.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantization {
    /// The power of two that uses most of the range, then round (reported).
    Scale,
    /// The same power of two; any value that then needs rounding is an error.
    Error,
}

impl Quantization {
    pub(crate) fn parse(s: &str) -> PyResult<Quantization> {
        match s {
            "scale" => Ok(Quantization::Scale),
            "error" => Ok(Quantization::Error),
            _ => Err(value_error(format!(
                "quantization must be 'scale' or 'error', not {s:?}"
            ))),
        }
    }
}

/// Quantises `ising` to `format`: scaled by the largest power of two that keeps every value in
/// range (as the CLI's `--rescale`), so dyadic values stay exact. An all-zero model runs
/// unscaled. With [`Quantization::Error`], a value off the grid after scaling is a `ValueError`
/// naming it.
pub(crate) fn quantise(ising: &Ising, format: Format, q: Quantization) -> PyResult<FixedIsing> {
    let all_zero = ising.h.iter().all(|&v| v == 0.0) && ising.couplings.iter().all(|c| c.value == 0.0);
    let scaling = if all_zero {
        Scaling::Exact
    } else {
        Scaling::Rescale
    };
    let fixed = FixedIsing::new(ising, format, scaling).map_err(value_error)?;
    if q == Quantization::Error {
        if let Some(r) = fixed.rescaling.filter(|r| r.max_abs_error > 0.0) {
            let one = format.one() as f64;
            let off = |v: f64| {
                let x = v * r.factor * one;
                x.round() != x
            };
            let what = if let Some(c) = ising.couplings.iter().find(|c| off(c.value)) {
                format!(
                    "the interaction of variables {} and {} (0-based, the BQM's order), {}",
                    c.i, c.j, -c.value
                )
            } else if let Some((k, v)) = ising.h.iter().enumerate().find(|(_, &v)| off(v)) {
                format!("the linear bias of variable {k} (0-based, the BQM's order), {}", -v)
            } else {
                "a value".into()
            };
            return Err(value_error(format!(
                "quantization='error': {what} is not on the machine's grid (resolution {} after scaling by {}); the largest rounding error would be {}; use quantization='scale' to round",
                1.0 / one,
                r.factor,
                r.max_abs_error
            )));
        }
    }
    Ok(fixed)
}

/// The scale factor and worst rounding error of a quantised model (1 and 0 if unscaled).
pub(crate) fn scale_report(p: &FixedIsing) -> (f64, f64) {
    match p.rescaling {
        Some(r) => (r.factor, r.max_abs_error),
        None => (1.0, 0.0),
    }
}

/// The β schedule: `linear`/`geometric` from `beta_start` to `beta_end` over `num_sweeps`
/// sweeps in at most [`MAX_STEPS`] plateaus, or `custom`: each of `betas` for
/// `sweeps_per_beta` sweeps. β values are in the model's units and divided by the scale here.
fn schedule(
    p: &FixedIsing,
    kind: &str,
    beta_start: f64,
    beta_end: f64,
    betas: &[f64],
    sweeps_per_beta: u64,
    num_sweeps: u64,
) -> PyResult<Schedule> {
    let beta = |b: f64, what: &str| {
        if !(b.is_finite() && b > 0.0) {
            return Err(value_error(format!("{what} {b} must be finite and positive")));
        }
        Beta::from_f64(p.machine_beta(b)).map_err(|_| {
            value_error(format!(
                "{what} {b} is {} on the machine after the scale {} (values × {}, β ÷ {}), outside its range {} to {}",
                p.machine_beta(b),
                p.scale,
                p.scale,
                p.scale,
                Beta::MIN.to_f64(),
                Beta::MAX.to_f64()
            ))
        })
    };
    match kind {
        "linear" | "geometric" => {
            check_range("num_sweeps", num_sweeps, 1, MAX_SWEEPS).map_err(value_error)?;
            beta(beta_start, "beta_range[0]")?;
            beta(beta_end, "beta_range[1]")?;
            let shape = if kind == "linear" {
                Shape::Linear
            } else {
                Shape::Geometric
            };
            Schedule::anneal(
                p.machine_beta(beta_start),
                p.machine_beta(beta_end),
                num_sweeps,
                shape,
                MAX_STEPS,
            )
            .map_err(value_error)
        }
        "custom" => {
            if betas.is_empty() || betas.len() > MAX_STEPS {
                return Err(value_error(format!(
                    "a custom beta_schedule must have 1 to {MAX_STEPS} values (the machine holds {MAX_STEPS} β steps), got {}",
                    betas.len()
                )));
            }
            check_range("num_sweeps_per_beta", sweeps_per_beta, 1, MAX_SWEEPS)
                .map_err(value_error)?;
            pbit_model::limits::checked_product(
                "len(beta_schedule) × num_sweeps_per_beta",
                betas.len() as u64,
                sweeps_per_beta,
                MAX_SWEEPS,
            )
            .map_err(value_error)?;
            let steps = betas
                .iter()
                .enumerate()
                .map(|(k, &b)| {
                    Ok(Step {
                        beta: beta(b, &format!("beta_schedule[{k}]"))?,
                        sweeps: sweeps_per_beta,
                    })
                })
                .collect::<PyResult<Vec<Step>>>()?;
            Ok(Schedule { steps })
        }
        _ => Err(value_error(format!(
            "beta_schedule_type must be 'linear', 'geometric' or 'custom', not {kind:?}"
        ))),
    }
}

/// Which machine runs the reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MachineKind {
    Dense,
    Sparse,
}

impl MachineKind {
    pub(crate) fn parse(s: &str) -> PyResult<MachineKind> {
        match s {
            "dense" => Ok(MachineKind::Dense),
            "sparse" => Ok(MachineKind::Sparse),
            _ => Err(value_error(format!(
                "machine must be 'dense' or 'sparse', not {s:?}"
            ))),
        }
    }
    /// The fixed-point format of the machine's model.
    pub(crate) fn format(self) -> Format {
        match self {
            MachineKind::Dense => Format::STANDARD,
            MachineKind::Sparse => pbit_model::sparse::MODEL_FORMAT,
        }
    }
}

/// What a run needs besides the problem and pages.
pub(crate) struct Reads<'a> {
    pub seed: u64,
    pub first_read: u64,
    pub count: u64,
    pub threads: usize,
    pub initial: Option<&'a [Vec<bool>]>,
}

/// Anneals on the bit-exact model of `machine`, stopping with `Cancelled` when `cancel` is set.
pub(crate) fn anneal_model(
    machine: MachineKind,
    p: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    r: &Reads,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Vec<ReadResult>, String> {
    let start = AnnealStart {
        initial: r.initial,
        cancel: Some(cancel),
    };
    let reads = r.first_read..r.first_read + r.count;
    let out = match machine {
        MachineKind::Dense => pbit_model::kernel::anneal_reads_from(
            p,
            clamps,
            pages,
            r.seed,
            reads,
            r.threads,
            &|_| {},
            pbit_model::kernel::Isa::Auto,
            start,
        ),
        MachineKind::Sparse => {
            let (graph, _) = pbit_model::colour::build_graph(p);
            let phases =
                pbit_model::sparse::Phases::new(p, &graph).map_err(|e| e.to_string())?;
            pbit_model::sparse::kernel::anneal_reads_from(
                p,
                &phases,
                clamps,
                pages,
                r.seed,
                reads,
                r.threads,
                &|_| {},
                pbit_model::sparse::kernel::Isa::Auto,
                start,
            )
        }
    };
    out.map_err(|Cancelled| CANCELLED.to_string())
}

/// The error text of a run its cancel flag stopped (the caller raises the signal's exception).
pub(crate) const CANCELLED: &str = "cancelled";

/// `_pbit.anneal`: see python/pbit/sampler.py, the only caller, for the meaning of each
/// argument. Returns a dict: `samples` (int8, reads × n, ±1, row-major), `machine_energies`
/// (the machine's best energy of each read in the model's units, offset excluded),
/// `steps` [(β in the model's units after the machine's rounding, sweeps)], `scale`,
/// `max_abs_error`, `seconds` (the sampling itself), `backend`, `machine`.
#[pyfunction]
#[pyo3(signature = (n, h, irow, icol, jv, *, quantization, machine, schedule_type, beta_start,
    beta_end, betas, sweeps_per_beta, num_sweeps, seed, first_read, num_reads, threads, initial,
    backend, port, baud, machine_n))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn anneal<'py>(
    py: Python<'py>,
    n: usize,
    h: PyReadonlyArray1<'py, f64>,
    irow: PyReadonlyArray1<'py, i64>,
    icol: PyReadonlyArray1<'py, i64>,
    jv: PyReadonlyArray1<'py, f64>,
    quantization: &str,
    machine: &str,
    schedule_type: &str,
    beta_start: f64,
    beta_end: f64,
    betas: Vec<f64>,
    sweeps_per_beta: u64,
    num_sweeps: u64,
    seed: u64,
    first_read: u64,
    num_reads: u64,
    threads: Option<usize>,
    initial: Option<PyReadonlyArray2<'py, i8>>,
    backend: &str,
    port: Option<String>,
    baud: u32,
    machine_n: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let entered = Instant::now();
    let slice = |what: &str| value_error(format!("{what} must be a contiguous array"));
    let ising = ising_from_arrays(
        n,
        h.as_slice().map_err(|_| slice("h"))?,
        irow.as_slice().map_err(|_| slice("irow"))?,
        icol.as_slice().map_err(|_| slice("icol"))?,
        jv.as_slice().map_err(|_| slice("J"))?,
    )?;
    let kind = MachineKind::parse(machine)?;
    let q = Quantization::parse(quantization)?;
    let threads = threads_or_all(threads)?;
    let device = crate::tools::Device::parse(backend, port, baud, machine_n, kind)?;
    let p = quantise(&ising, device.format(kind), q)?;
    let sched = schedule(
        &p,
        schedule_type,
        beta_start,
        beta_end,
        &betas,
        sweeps_per_beta,
        num_sweeps,
    )?;
    check_anneal("num_reads", num_reads, sched.total_sweeps().max(1), n).map_err(value_error)?;
    if first_read.checked_add(num_reads).is_none() {
        return Err(value_error(format!(
            "first_read {first_read} + num_reads {num_reads} overflows a 64-bit read number"
        )));
    }
    let initial: Option<Vec<Vec<bool>>> = match &initial {
        None => None,
        Some(a) => {
            let shape = a.shape();
            if shape != [num_reads as usize, n] {
                return Err(value_error(format!(
                    "initial states of shape {shape:?}, expected ({num_reads}, {n})"
                )));
            }
            let flat = a.as_slice().map_err(|_| slice("initial states"))?;
            if let Some(v) = flat.iter().find(|&&v| v != 1 && v != -1) {
                return Err(value_error(format!(
                    "initial states must be ±1 spins, found {v}"
                )));
            }
            Some(flat.chunks(n.max(1)).take(num_reads as usize).map(|row| row.iter().map(|&v| v == 1).collect()).collect())
        }
    };
    let initial = match (&initial, n) {
        // no p-bits: one empty state per read
        (Some(_), 0) => Some(vec![Vec::new(); num_reads as usize]),
        _ => initial,
    };
    let pages = Pages::build(&p, &sched);
    let reads = Reads {
        seed,
        first_read,
        count: num_reads,
        threads,
        initial: initial.as_deref(),
    };
    let started = Instant::now();
    let prepare_seconds = (started - entered).as_secs_f64();
    let result = run_interruptible(py, |cancel| device.anneal(kind, &p, &[], &pages, &reads, cancel))?;
    let seconds = started.elapsed().as_secs_f64();
    let results = result.map_err(crate::runtime_error)?;
    let mut samples = Vec::with_capacity(num_reads as usize * n);
    let mut energies = Vec::with_capacity(num_reads as usize);
    for r in &results {
        samples.extend(r.best_spins.iter().map(|&b| if b { 1i8 } else { -1 }));
        energies.push(p.energy_real(r.best_energy_raw));
    }
    let (scale, max_abs_error) = scale_report(&p);
    let steps: Vec<(f64, u64)> = sched
        .steps
        .iter()
        .map(|s| (s.beta.to_f64() * p.scale, s.sweeps))
        .collect();
    let out = PyDict::new(py);
    out.set_item("samples", PyArray1::from_vec(py, samples))?;
    out.set_item("machine_energies", energies)?;
    out.set_item("steps", steps)?;
    out.set_item("scale", scale)?;
    out.set_item("max_abs_error", max_abs_error)?;
    out.set_item("seconds", seconds)?;
    out.set_item("prepare_seconds", prepare_seconds)?;
    out.set_item("backend", device.name())?;
    out.set_item("machine", machine)?;
    Ok(out)
}
