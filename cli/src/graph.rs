//! `--machine sparse`: the sparse backend the flags choose, and `pbit graph`, which reports the
//! sparse machine an instance gets.

use crate::{print_json, BackendKind, LoadArgs, MachineArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use pbit_host::cost::MeteredBackend;
use pbit_host::device::SparseTarget;
use pbit_host::jobs::{self, Meaning};
use pbit_host::sparse_backend::{machine_for, SparseModelBackend, Sparsifying};
use pbit_model::colour::{self, Colouring};
use pbit_model::sparse::sparsify::Sparsified;
use pbit_model::{Ising, Scaling};
use pbit_spec::sparse::{sparse_format, sparse_spec_hash, SparseGraph};
use serde::Serialize;

/// The machine built for `--graph FILE`, if given.
pub fn graph_file(m: &MachineArgs) -> Result<Option<(SparseGraph, Colouring)>> {
    let Some(path) = &m.graph else {
        return Ok(None);
    };
    let ising = Ising::read(path)?;
    Ok(Some(colour::graph_of_file(&ising)))
}

/// The sparse machine's backend: the model (fast chromatic kernel), the Verilated sparse
/// gateware (generated per graph) or a sparse device on a serial port, through the one device
/// backend; wrapped to sparsify optimisation jobs when a maximum degree is given without a
/// fixed graph.
pub fn sparse_backend(m: &MachineArgs) -> Result<Box<dyn MeteredBackend>> {
    let kind = m.backend.unwrap_or(BackendKind::Model);
    if m.lanes.is_some() && kind != BackendKind::Verilator {
        bail!("--lanes says how the gateware is generated (--backend verilator, sim serve, hdl emit|build): the model has no lanes, and a serial device's are its bitstream's");
    }
    if m.trace.is_some() && kind != BackendKind::Verilator {
        bail!("--trace writes the verilator backend's waveform: add --backend verilator");
    }
    let threads = match m.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) => t,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    if m.max_degree == Some(0) {
        bail!("--max-degree must be at least 1");
    }
    let graph = graph_file(m)?.map(|(g, _)| g);
    if let (Some(g), Some(d)) = (&graph, m.max_degree) {
        pbit_model::sparse::check_degree(g, d).with_context(|| {
            format!(
                "the graph of {} does not fit --max-degree",
                m.graph.as_ref().unwrap().display()
            )
        })?;
    }
    let fixed_graph = graph.is_some();
    let note: pbit_host::sparse_backend::OnMachine = Box::new(|info| eprintln!("note: {info}"));
    let b: Box<dyn MeteredBackend> = match kind {
        BackendKind::Model => {
            let mut b = SparseModelBackend::new(threads, m.max_degree, graph);
            b.on_machine = Some(note);
            Box::new(b)
        }
        #[cfg(feature = "verilator")]
        BackendKind::Verilator => {
            if m.machine_n.is_some() {
                bail!("--machine-n sizes the dense machine; the sparse machine's size is its graph's (--graph FILE, or the instance's own)");
            }
            let mut target = SparseTarget::new(graph, m.max_degree);
            target.on_machine = Some(note);
            let trace = match &m.trace {
                Some(path) => Some(pbit_sim::Trace::new(path, m.trace_clocks)?),
                None => None,
            };
            Box::new(pbit_host::verilator::VerilatorBackend::sparse(
                target,
                m.lanes.filter(|&l| l > 0),
                trace,
            )?)
        }
        #[cfg(feature = "serial")]
        BackendKind::Serial => {
            let mut target = SparseTarget::new(graph, m.max_degree);
            target.on_machine = Some(note);
            Box::new(
                pbit_host::serial::SerialBackend::open(&crate::port(m)?, m.baud)?
                    .into_sparse(target)?,
            )
        }
        #[allow(unreachable_patterns)]
        kind => bail!("this pbit was built without the {kind:?} backend (cargo feature `verilator` or `serial` of pbit-cli)"),
    };
    match m.max_degree {
        // a fixed graph's machine cannot add copies (they would need edges it lacks)
        Some(d) if !fixed_graph => {
            let format = b.format();
            let strength_raw = match m.copy_strength {
                None => None,
                Some(x) => {
                    let raw = x * format.one() as f64;
                    if !raw.is_finite() || raw.fract() != 0.0 {
                        bail!(
                            "--copy-strength {x} is not a multiple of {} (the machine's resolution)",
                            1.0 / format.one() as f64
                        );
                    }
                    Some(raw as i64)
                }
            };
            Ok(Box::new(Sparsifying {
                inner: b,
                max_degree: d,
                strength_raw,
                // once per sparsified machine (factor runs many rounds over a few circuits)
                on_sparsify: Some(Box::new({
                    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
                    move |info| {
                        let key = (info.original_n, info.n, info.strength_raw);
                        if seen.lock().unwrap().insert(key) {
                            eprintln!("note: {info}");
                        }
                    }
                })),
            }))
        }
        _ => {
            if m.copy_strength.is_some() {
                bail!("--copy-strength needs --max-degree (without --graph): only then are copies added");
            }
            Ok(b)
        }
    }
}

#[derive(Args)]
pub struct GraphArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Read the file's values as Max-Cut weights (J = −w); the graph is the same.
    #[arg(long)]
    maxcut: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct GraphReport {
    machine: &'static str,
    n: usize,
    edges: usize,
    max_degree: usize,
    colours: u32,
    colouring: &'static str,
    graph_hash: String,
    /// The spec hash of a sparse machine of this graph at its own maximum degree.
    sparse_spec_hash: String,
    /// With --max-degree D beyond the graph's degree: the sparsified machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    sparsified: Option<SparsifiedReport>,
}

#[derive(Serialize)]
struct SparsifiedReport {
    max_degree: usize,
    n: usize,
    copies: usize,
    copy_strength: f64,
    colours: u32,
    graph_hash: String,
}

pub fn run(m: &MachineArgs, a: &GraphArgs) -> Result<()> {
    let meaning = if a.maxcut {
        Meaning::CutWeights
    } else {
        Meaning::Couplings
    };
    let scaling = if a.load.rescale {
        Scaling::Rescale
    } else {
        Scaling::Exact
    };
    let loaded = jobs::load(
        &a.load.file,
        meaning,
        pbit_model::sparse::MODEL_FORMAT,
        scaling,
    )?;
    let p = &loaded.fixed;
    let given = graph_file(m)?.map(|(g, _)| g);
    let (g, info) = machine_for(p, given.as_ref(), None)?;
    if given.is_some() {
        pbit_model::sparse::Phases::new(p, &g)?;
    }
    let sparsified = match m.max_degree {
        Some(d) if d < info.max_degree && given.is_none() => {
            let strength = m.copy_strength.map(|x| (x * p.format.one() as f64) as i64);
            let s = Sparsified::new(p, d, strength)?.expect("degree beyond D");
            let (sg, _) = machine_for(&s.problem, None, Some(d))?;
            Some(SparsifiedReport {
                max_degree: d,
                n: s.problem.n,
                copies: s.added(),
                copy_strength: s.strength_raw as f64 / (p.format.one() as f64 * p.scale),
                colours: sg.colour_count(),
                graph_hash: format!("{:016x}", sg.hash()),
            })
        }
        _ => None,
    };
    let report = GraphReport {
        machine: "sparse",
        n: info.n,
        edges: info.edges,
        max_degree: info.max_degree,
        colours: info.colours,
        colouring: info.method,
        graph_hash: format!("{:016x}", info.graph_hash),
        sparse_spec_hash: format!(
            "{:016x}",
            sparse_spec_hash(&sparse_format(info.max_degree), &g)
        ),
        sparsified,
    };
    if a.json {
        print_json(&report)?;
    } else {
        println!("machine sparse");
        println!("n {}", report.n);
        println!("edges {}", report.edges);
        println!("max degree {}", report.max_degree);
        println!("colours {} ({})", report.colours, report.colouring);
        println!("graph hash {}", report.graph_hash);
        println!("sparse spec hash {}", report.sparse_spec_hash);
        if let Some(s) = &report.sparsified {
            println!(
                "sparsified for D = {}: {} p-bits ({} copies), copy strength {}, {} colours, graph hash {}",
                s.max_degree, s.n, s.copies, s.copy_strength, s.colours, s.graph_hash
            );
        }
    }
    Ok(())
}
