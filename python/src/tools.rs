//! The backends a Python call can run on, and the rest of the toolbox: exact, mean field,
//! factoring, circuits, learning. Reports the Rust crates already serialise for the CLI's
//! `--json` cross as JSON text and become dicts in Python (one source for their fields).

use crate::anneal::{ising_from_arrays, MachineKind, Reads, CANCELLED};
use crate::{run_interruptible, runtime_error, threads_or_all, value_error};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pbit_model::backend::{Backend, BackendError};
use pbit_model::run::{Pages, ReadResult};
use pbit_model::FixedIsing;
use pbit_spec::Format;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a job runs: the bit-exact model, the Verilated gateware, or a device on a serial port.
pub(crate) enum Device {
    Model,
    #[cfg(feature = "verilator")]
    Verilator {
        machine_n: Option<usize>,
    },
    #[cfg(feature = "serial")]
    Serial {
        port: String,
        baud: u32,
    },
}

impl Device {
    pub(crate) fn parse(
        backend: &str,
        port: Option<String>,
        baud: u32,
        machine_n: Option<usize>,
        kind: MachineKind,
    ) -> PyResult<Device> {
        if backend != "model" && kind == MachineKind::Sparse {
            return Err(value_error(format!(
                "machine='sparse' runs on the model only; the {backend} backend is the dense machine"
            )));
        }
        if backend != "serial" && port.is_some() {
            return Err(value_error("port is for backend='serial'"));
        }
        match backend {
            "model" => Ok(Device::Model),
            #[cfg(feature = "verilator")]
            "verilator" => {
                if let Some(n) = machine_n {
                    if !pbit_hdl::SUPPORTED_N.contains(&n) {
                        return Err(value_error(format!(
                            "the gateware is generated for N in {:?}, not machine_n={n}",
                            pbit_hdl::SUPPORTED_N
                        )));
                    }
                }
                Ok(Device::Verilator { machine_n })
            }
            #[cfg(feature = "serial")]
            "serial" => match port {
                Some(port) => Ok(Device::Serial { port, baud }),
                None => Err(value_error(
                    "backend='serial' needs port= (a board's UART, or the tty `pbit sim serve` prints)",
                )),
            },
            #[allow(unreachable_patterns)]
            "verilator" | "serial" => Err(value_error(format!(
                "this build of pbit has no {backend} backend (cargo feature `{backend}` of pbit-python)"
            ))),
            _ => Err(value_error(format!(
                "backend must be 'model', 'verilator' or 'serial', not {backend:?}"
            ))),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Device::Model => "model",
            #[cfg(feature = "verilator")]
            Device::Verilator { .. } => "verilator",
            #[cfg(feature = "serial")]
            Device::Serial { .. } => "serial",
        }
    }

    /// The format instances are quantised to. Devices run the standard J, h and random-word
    /// widths (checked when they are opened); their fields are sized for their N.
    pub(crate) fn format(&self, kind: MachineKind) -> Format {
        kind.format()
    }

    /// Anneals reads `r.first_read ..` through `pages`, each from its initial state if given.
    /// On a device every read is the model's read bit for bit (the driver's contract), so the
    /// same seed gives the same samples on every backend.
    pub(crate) fn anneal(
        &self,
        kind: MachineKind,
        p: &FixedIsing,
        clamps: &[(usize, bool)],
        pages: &Pages,
        r: &Reads,
        cancel: &AtomicBool,
    ) -> Result<Vec<ReadResult>, String> {
        match self {
            Device::Model => crate::anneal::anneal_model(kind, p, clamps, pages, r, cancel),
            #[cfg(feature = "verilator")]
            Device::Verilator { machine_n } => {
                let size = match machine_n {
                    Some(size) => *size,
                    None => pbit_hdl::machine_size_for(p.n.max(1)).ok_or_else(|| {
                        format!(
                            "the instance has {} p-bits, more than the largest generated machine ({:?})",
                            p.n,
                            pbit_hdl::SUPPORTED_N
                        )
                    })?,
                };
                let mut vm = pbit_sim::VerilatedMachine::build(size)
                    .map_err(|e| format!("verilator backend: {e}"))?;
                let (n, format) = (vm.n(), vm.format());
                let mut m = pbit_driver::Driver::new(&mut vm, n, format);
                device_anneal(&mut m, p, clamps, pages, r, cancel)
                    .map_err(|e| format!("verilator backend: {e}"))
            }
            #[cfg(feature = "serial")]
            Device::Serial { port, baud } => {
                let t = pbit_host::transport::SerialTransport::open(port, *baud)
                    .map_err(|e| format!("serial backend: {port}: {e}"))?;
                let mut link = pbit_host::link::Link::connect(t)
                    .map_err(|e| format!("serial backend: {port}: {e}"))?;
                let id = pbit_driver::identify(&mut link)
                    .map_err(|e| format!("serial backend: {port}: {e}"))?;
                let mut m = pbit_driver::Driver::new(&mut link, id.n, id.format);
                device_anneal(&mut m, p, clamps, pages, r, cancel)
                    .map_err(|e| format!("serial backend: {port}: {e}"))
            }
        }
    }
}

/// The driver's annealing loop ([`pbit_driver::Driver::anneal`]) for reads
/// `first_read..first_read + count`, each from its initial state when given (written with the
/// read's generators, as the model's `set_spins`), checking `cancel` between reads.
#[cfg(any(feature = "verilator", feature = "serial"))]
fn device_anneal<B: pbit_driver::Bus>(
    m: &mut pbit_driver::Driver<B>,
    p: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    r: &Reads,
    cancel: &AtomicBool,
) -> Result<Vec<ReadResult>, String>
where
    B::Error: std::fmt::Display,
{
    let n = p.n;
    if n > m.n() {
        return Err(format!(
            "the instance has {n} p-bits but the machine has {}",
            m.n()
        ));
    }
    let mut out = Vec::with_capacity(r.count as usize);
    if n == 0 {
        for k in 0..r.count {
            out.push(
                m.read_result(0, r.first_read + k)
                    .map_err(|e| e.to_string())?,
            );
        }
        return Ok(out);
    }
    let e = |e: pbit_driver::DriverError<B::Error>| e.to_string();
    m.load_schedule(pages).map_err(e)?;
    m.load_problem(p).map_err(e)?;
    let mut mask = vec![false; n];
    for &(i, _) in clamps {
        mask[i] = true;
    }
    for k in 0..r.count {
        if cancel.load(Ordering::Relaxed) {
            return Err(CANCELLED.into());
        }
        let read = r.first_read + k;
        let mut spins: Vec<bool> = match r.initial {
            Some(states) => states[k as usize].clone(),
            None => (0..n)
                .map(|i| pbit_spec::initial_spin(r.seed, read, i as u64))
                .collect(),
        };
        for &(i, v) in clamps {
            spins[i] = v;
        }
        m.load_chain(n, r.seed, read, &spins, &mask).map_err(e)?;
        m.run(n, &mut |_, _| {}).map_err(e)?;
        out.push(m.read_result(n, read).map_err(e)?);
    }
    Ok(out)
}

/// A report serialised by serde, as a Python dict (through `json.loads`).
fn to_dict<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(runtime_error)?;
    py.import("json")?.call_method1("loads", (text,))
}

fn ising_arg(
    n: usize,
    h: &PyReadonlyArray1<f64>,
    irow: &PyReadonlyArray1<i64>,
    icol: &PyReadonlyArray1<i64>,
    jv: &PyReadonlyArray1<f64>,
) -> PyResult<pbit_model::Ising> {
    let slice = |what: &str| value_error(format!("{what} must be a contiguous array"));
    ising_from_arrays(
        n,
        h.as_slice().map_err(|_| slice("h"))?,
        irow.as_slice().map_err(|_| slice("irow"))?,
        icol.as_slice().map_err(|_| slice("icol"))?,
        jv.as_slice().map_err(|_| slice("J"))?,
    )
}

/// `_pbit.exact`: exact enumeration of an Ising model in dimod's convention (offset excluded).
#[pyfunction]
pub(crate) fn exact<'py>(
    py: Python<'py>,
    n: usize,
    h: PyReadonlyArray1<'py, f64>,
    irow: PyReadonlyArray1<'py, i64>,
    icol: PyReadonlyArray1<'py, i64>,
    jv: PyReadonlyArray1<'py, f64>,
    beta: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let ising = ising_arg(n, &h, &irow, &icol, &jv)?;
    let r =
        run_interruptible(py, |_| pbit_model::exact::exact(&ising, beta))?.map_err(value_error)?;
    let d = PyDict::new(py);
    d.set_item("log_z", r.log_z)?;
    d.set_item("free_energy", r.free_energy)?;
    d.set_item("mean_energy", r.mean_energy)?;
    d.set_item("entropy", r.entropy)?;
    d.set_item("ground_energy", r.ground_energy)?;
    d.set_item("ground_states", r.ground_states)?;
    d.set_item(
        "ground_state",
        r.ground_state
            .iter()
            .map(|&b| if b { 1i8 } else { -1 })
            .collect::<Vec<_>>(),
    )?;
    d.set_item("marginals", r.marginals.into_pyarray(py))?;
    Ok(d)
}

/// `_pbit.meanfield`: the naive mean-field fixed point (dimod's convention, offset excluded).
#[pyfunction]
#[pyo3(signature = (n, h, irow, icol, jv, beta, *, tolerance, max_iterations, damping, start))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn meanfield<'py>(
    py: Python<'py>,
    n: usize,
    h: PyReadonlyArray1<'py, f64>,
    irow: PyReadonlyArray1<'py, i64>,
    icol: PyReadonlyArray1<'py, i64>,
    jv: PyReadonlyArray1<'py, f64>,
    beta: f64,
    tolerance: f64,
    max_iterations: usize,
    damping: f64,
    start: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let ising = ising_arg(n, &h, &irow, &icol, &jv)?;
    let opts = pbit_model::meanfield::MeanFieldOptions {
        tolerance,
        max_iterations,
        damping,
        start,
    };
    let r = run_interruptible(py, |_| {
        pbit_model::meanfield::mean_field(&ising, beta, &opts)
    })?
    .map_err(value_error)?;
    let d = PyDict::new(py);
    d.set_item("marginals", r.marginals.into_pyarray(py))?;
    d.set_item("free_energy", r.free_energy)?;
    d.set_item("energy", r.energy)?;
    d.set_item("entropy", r.entropy)?;
    d.set_item("iterations", r.iterations)?;
    d.set_item("converged", r.converged)?;
    Ok(d)
}

/// A device as a [`Backend`] for the circuit crate's searches (annealing jobs from read 0 on
/// the model's fast kernel or a device), stopping when the cancel flag is set.
struct Via<'a> {
    device: &'a Device,
    threads: usize,
    cancel: &'a AtomicBool,
}

impl Backend for Via<'_> {
    fn name(&self) -> &'static str {
        self.device.name()
    }
    fn format(&self) -> Format {
        self.device.format(MachineKind::Dense)
    }
    fn capacity(&self) -> Option<usize> {
        None
    }
    fn sample(
        &mut self,
        _: &pbit_model::jobs::SampleJob,
        _: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        Err(BackendError::Unsupported {
            backend: self.name(),
            job: "sample (from the toolbox)",
        })
    }
    fn anneal(
        &mut self,
        job: &pbit_model::jobs::AnnealJob,
        _progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let r = Reads {
            seed: job.seed,
            first_read: 0,
            count: job.reads,
            threads: self.threads,
            initial: None,
        };
        self.device
            .anneal(
                MachineKind::Dense,
                job.problem,
                job.clamps,
                job.pages,
                &r,
                self.cancel,
            )
            .map_err(BackendError::Other)
    }
}

/// `_pbit.factor`: factors `n` on an invertible multiplier run backwards (pbit factor).
#[pyfunction]
#[pyo3(signature = (n, *, seed, max_sweeps, sweeps, reads, beta_start, beta_end, class_bias,
    threads, backend, port, baud, machine_n))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn factor<'py>(
    py: Python<'py>,
    n: u64,
    seed: u64,
    max_sweeps: Option<u64>,
    sweeps: Option<u64>,
    reads: Option<u64>,
    beta_start: Option<f64>,
    beta_end: Option<f64>,
    class_bias: Option<f64>,
    threads: Option<usize>,
    backend: &str,
    port: Option<String>,
    baud: u32,
    machine_n: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    use pbit_circuit::factor::FactorOptions;
    let device = Device::parse(backend, port, baud, machine_n, MachineKind::Dense)?;
    let threads = threads_or_all(threads)?;
    let d = FactorOptions::default();
    let opts = FactorOptions {
        seed,
        max_sweeps: max_sweeps.unwrap_or(d.max_sweeps),
        sweeps: sweeps.unwrap_or(d.sweeps),
        reads: reads.unwrap_or(d.reads),
        beta_start: beta_start.unwrap_or(d.beta_start),
        beta_end: beta_end.unwrap_or(d.beta_end),
        class_bias: class_bias.unwrap_or(d.class_bias),
        ..d
    };
    let report = run_interruptible(py, |cancel| {
        let mut via = Via {
            device: &device,
            threads,
            cancel,
        };
        pbit_circuit::factor::factor(&mut via, n, &opts).map_err(|e| e.to_string())
    })?
    .map_err(value_error)?;
    to_dict(py, &report)
}

/// `_pbit.sample_circuit`: runs a yosys JSON netlist with ports clamped (pbit circuit).
#[pyfunction]
#[pyo3(signature = (netlist, clamps, *, top, samples, sweeps, seed, beta_start, beta_end,
    threads, backend, port, baud, machine_n))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_circuit<'py>(
    py: Python<'py>,
    netlist: &str,
    clamps: &str,
    top: Option<&str>,
    samples: Option<u64>,
    sweeps: Option<u64>,
    seed: u64,
    beta_start: Option<f64>,
    beta_end: Option<f64>,
    threads: Option<usize>,
    backend: &str,
    port: Option<String>,
    baud: u32,
    machine_n: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    use pbit_circuit::run::RunOptions;
    let device = Device::parse(backend, port, baud, machine_n, MachineKind::Dense)?;
    let threads = threads_or_all(threads)?;
    let circuit = pbit_circuit::yosys::parse(netlist, "the netlist", top).map_err(value_error)?;
    let compiled = circuit
        .compile(&device.format(MachineKind::Dense))
        .map_err(value_error)?;
    let d = RunOptions::default();
    let opts = RunOptions {
        seed,
        samples: samples.unwrap_or(d.samples),
        sweeps: sweeps.unwrap_or(d.sweeps),
        beta_start: beta_start.unwrap_or(d.beta_start),
        beta_end: beta_end.unwrap_or(d.beta_end),
    };
    let report = run_interruptible(py, |cancel| {
        let mut via = Via {
            device: &device,
            threads,
            cancel,
        };
        pbit_circuit::run::run(&mut via, &compiled, clamps, &opts).map_err(|e| e.to_string())
    })?
    .map_err(value_error)?;
    to_dict(py, &report)
}

/// `_pbit.learn`: trains a Boltzmann machine on 0/1 data rows (pbit learn) on the model.
/// Returns (J as an n×n row-major list, h, report): the machine's convention
/// E = −Σ_{i<j} J_ij m_i m_j − Σ h_i m_i, p-bits 0..visible the data's columns, then hidden.
#[pyfunction]
#[pyo3(signature = (data, *, hidden, topology, method, k, epochs, lr, lr_final, batch, chains,
    init_scale, seed, beta, kl_every, threads))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn learn<'py>(
    py: Python<'py>,
    data: PyReadonlyArray2<'py, u8>,
    hidden: usize,
    topology: Option<&str>,
    method: &str,
    k: u64,
    epochs: u64,
    lr: f64,
    lr_final: f64,
    batch: Option<usize>,
    chains: usize,
    init_scale: f64,
    seed: u64,
    beta: f64,
    kl_every: u64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    use pbit_host::learn::{Data, LearnOptions, Method, Topology};
    let shape = data.shape().to_vec();
    let flat = data
        .as_slice()
        .map_err(|_| value_error("data must be a contiguous array"))?;
    let mut text = String::with_capacity(flat.len() + shape[0]);
    for (r, row) in flat.chunks(shape[1].max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            match v {
                0 => text.push('0'),
                1 => text.push('1'),
                _ => {
                    return Err(value_error(format!(
                        "data[{r}, {c}] is {v}; data rows must be 0/1"
                    )))
                }
            }
        }
        text.push('\n');
    }
    let data = Data::parse(&text, "data").map_err(value_error)?;
    let topology = match topology {
        Some("full") => Topology::Full,
        Some("semi") => Topology::Semi,
        Some("rbm") => Topology::Rbm,
        None if hidden == 0 => Topology::Full,
        None => Topology::Semi,
        Some(t) => {
            return Err(value_error(format!(
                "topology must be 'full', 'semi' or 'rbm', not {t:?}"
            )))
        }
    };
    let method = match method {
        "cd" => Method::Cd,
        "pcd" => Method::Pcd,
        m => {
            return Err(value_error(format!(
                "method must be 'cd' or 'pcd', not {m:?}"
            )))
        }
    };
    let opts = LearnOptions {
        hidden,
        topology,
        method,
        k,
        epochs,
        lr,
        lr_final,
        batch,
        chains_per_vector: chains,
        init_scale,
        seed,
        beta,
        kl_every,
    };
    let threads = threads_or_all(threads)?;
    let learned = run_interruptible(py, |cancel| {
        let mut backend = pbit_model::backend::ModelBackend {
            threads,
            ..Default::default()
        };
        pbit_host::learn::learn(&mut backend, &data, &opts, &mut |_| {
            // learning runs epoch by epoch: a Ctrl-C stops it at the next epoch
            if cancel.load(Ordering::Relaxed) {
                panic!("{CANCELLED}");
            }
        })
        .map_err(|e| e.to_string())
    })?
    .map_err(value_error)?;
    let n = learned.ising.n;
    // the symmetric n×n coupling matrix, a 2-D numpy array
    let j = Array2::from_shape_vec((n, n), learned.ising.dense_j()).map_err(runtime_error)?;
    let report = to_dict(py, &learned.report)?;
    let out = PyDict::new(py);
    out.set_item("n", n)?;
    out.set_item("J", j.into_pyarray(py))?;
    out.set_item("h", PyArray1::from_vec(py, learned.ising.h.clone()))?;
    out.set_item("report", report)?;
    Ok(out.into_any())
}
