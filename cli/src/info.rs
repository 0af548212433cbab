//! `pbit info`: what the device on a serial port reports.

use crate::{port, print_json, MachineArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use pbit_host::link::{check_hello, Link, DRAIN_TIME};
use pbit_host::transport::SerialTransport;
use serde::Serialize;

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Info {
    port: String,
    protocol_version: u16,
    n: u32,
    frac_bits: u8,
    j_bits: u8,
    h_bits: u8,
    field_bits: u8,
    rng_bits: u8,
    format: String,
    spec_hash: String,
    host_spec_hash: String,
    spec_matches: bool,
    clock_hz: u32,
    device_baud: u32,
    link_baud: u32,
    busy: bool,
    sweeps: u32,
    /// "dense" or "sparse"; for a sparse machine its colours, maximum degree and graph hash.
    machine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    colours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_degree: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_hash: Option<String>,
    /// A sparse machine's on-chip statistics: counter width in bits, 0 when built without.
    #[serde(skip_serializing_if = "Option::is_none")]
    stats_bits: Option<u32>,
}

pub fn run(m: &MachineArgs, a: &InfoArgs) -> Result<()> {
    #[cfg(feature = "verilator")]
    if m.backend == Some(crate::BackendKind::Verilator) {
        return run_verilator(m, a);
    }
    let path = port(m)?;
    let t = SerialTransport::open(&path, m.baud)?;
    let mut link = Link::new(t);
    link.drain(DRAIN_TIME)?;
    let h = link
        .hello()
        .with_context(|| format!("no pbit device answered on {path} at {} baud", m.baud))?;
    let status = link.status()?;
    // the sparse identity registers exist only on a sparse machine (capability `sparse`): a
    // device whose spec hash is the dense machine's of its format is dense
    let sparse = if h.spec_hash == pbit_spec::hash::spec_hash(&h.format()) {
        pbit_driver::SparseIdentity {
            kind: pbit_spec::sparse::MachineKind::Dense,
            colours: 0,
            max_degree: 0,
            graph_hash: 0,
        }
    } else {
        pbit_driver::identify_sparse(&mut link)?
    };
    let is_sparse = sparse.kind == pbit_spec::sparse::MachineKind::Sparse;
    // a sparse machine's spec hash names its graph: known to this host with --graph
    let graph = if is_sparse {
        crate::graph::graph_file(m)?.map(|(g, _)| g)
    } else {
        None
    };
    let host_hash = match &graph {
        Some(g) => pbit_spec::sparse::sparse_spec_hash(&h.format(), g),
        None => pbit_spec::hash::spec_hash(&h.format()),
    };
    let info = Info {
        port: path,
        protocol_version: h.version,
        n: h.n,
        frac_bits: h.frac_bits,
        j_bits: h.j_bits,
        h_bits: h.h_bits,
        field_bits: h.field_bits,
        rng_bits: h.rng_bits,
        format: h.format().to_string(),
        spec_hash: format!("{:#018x}", h.spec_hash),
        host_spec_hash: format!("{host_hash:#018x}"),
        spec_matches: host_hash == h.spec_hash,
        clock_hz: h.clock_hz,
        device_baud: h.baud,
        link_baud: m.baud,
        busy: status.status & pbit_spec::memory_map::STATUS_BUSY != 0,
        sweeps: status.sweeps,
        machine: sparse.kind.to_string(),
        colours: is_sparse.then_some(sparse.colours),
        max_degree: is_sparse.then_some(sparse.max_degree),
        graph_hash: is_sparse.then(|| format!("{:016x}", sparse.graph_hash)),
        // (a device built before the statistics refuses the register: none known)
        stats_bits: if is_sparse {
            pbit_driver::read_stats_bits(&mut link).ok()
        } else {
            None
        },
    };
    if a.json {
        print_json(&info)?;
    } else {
        println!("port             {}", info.port);
        println!("protocol version {}", info.protocol_version);
        println!("machine kind     {}", info.machine);
        println!("p-bits (N)       {}", info.n);
        if is_sparse {
            println!(
                "sparse machine   max degree {}, {} colours, graph {:016x}",
                sparse.max_degree, sparse.colours, sparse.graph_hash
            );
            println!("statistics       {}", stats_line(info.stats_bits));
        }
        println!(
            "format           {} (frac {}, J {}, h {}, field {}, rng {} bits)",
            info.format, h.frac_bits, h.j_bits, h.h_bits, h.field_bits, h.rng_bits
        );
        println!(
            "spec hash        {} ({})",
            info.spec_hash,
            if info.spec_matches {
                "matches this host".to_string()
            } else if is_sparse && graph.is_none() {
                "a sparse machine's hash names its graph: give --graph FILE to check it".to_string()
            } else {
                format!("this host expects {}", info.host_spec_hash)
            }
        );
        println!("clock            {} Hz", info.clock_hz);
        println!(
            "baud             {} (link opened at {})",
            info.device_baud, m.baud
        );
        println!(
            "machine          {}, {} sweeps since reset",
            if info.busy { "busy" } else { "idle" },
            info.sweeps
        );
    }
    if is_sparse {
        if graph.is_some() && !info.spec_matches {
            bail!(
                "the device's spec hash {} is not this host's {} for the sparse machine of that graph",
                info.spec_hash,
                info.host_spec_hash
            );
        }
    } else if let Err(e) = check_hello(&h) {
        bail!("{e}");
    }
    Ok(())
}

/// What the Verilated machine reports (`pbit --backend verilator info`).
#[cfg(feature = "verilator")]
#[derive(Serialize)]
struct VerilatorInfo {
    backend: &'static str,
    /// "dense" or "sparse"; for a sparse machine its colours, maximum degree and graph hash.
    machine: String,
    n: usize,
    format: String,
    spec_hash: String,
    host_spec_hash: String,
    spec_matches: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    colours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_degree: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_hash: Option<String>,
    /// A sparse machine's on-chip statistics: counter width in bits, 0 when built without.
    #[serde(skip_serializing_if = "Option::is_none")]
    stats_bits: Option<u32>,
}

/// `pbit --backend verilator [--machine sparse --graph FILE] info`: the machine the verilator
/// backend builds (the sparse one for the graph, or the dense one of `--machine-n`, default
/// 256), as its registers report it.
#[cfg(feature = "verilator")]
fn run_verilator(m: &MachineArgs, a: &InfoArgs) -> Result<()> {
    use pbit_sim::VerilatedMachine;
    let sparse = m.machine == crate::MachineKind::Sparse;
    let (mut vm, host_hash) = if sparse {
        let Some((graph, _)) = crate::graph::graph_file(m)? else {
            bail!("pbit --backend verilator --machine sparse info needs --graph FILE: the graph its machine is generated for");
        };
        let d = m.max_degree.unwrap_or_else(|| graph.max_degree()).max(1);
        pbit_model::sparse::check_degree(&graph, d)?;
        let vm = VerilatedMachine::build_sparse_with(&graph, d, m.lanes.filter(|&l| l > 0))?;
        let h = pbit_spec::sparse::sparse_spec_hash(&vm.format(), &graph);
        (vm, h)
    } else {
        let n = m.machine_n.unwrap_or(256);
        if !pbit_hdl::SUPPORTED_N.contains(&n) {
            bail!(
                "the gateware is generated for N in {:?}, not {n}",
                pbit_hdl::SUPPORTED_N
            );
        }
        let vm = VerilatedMachine::build(n)?;
        let h = pbit_spec::hash::spec_hash(&vm.format());
        (vm, h)
    };
    let id = pbit_driver::identify(&mut vm).map_err(|e| anyhow::anyhow!("{e}"))?;
    let s = if sparse {
        Some(pbit_driver::identify_sparse(&mut vm).map_err(|e| anyhow::anyhow!("{e}"))?)
    } else {
        None
    };
    let info = VerilatorInfo {
        backend: "verilator",
        machine: s.map_or("dense".into(), |s| s.kind.to_string()),
        n: id.n,
        format: id.format.to_string(),
        spec_hash: format!("{:#018x}", id.spec_hash),
        host_spec_hash: format!("{host_hash:#018x}"),
        spec_matches: id.spec_hash == host_hash,
        colours: s.map(|s| s.colours),
        max_degree: s.map(|s| s.max_degree),
        graph_hash: s.map(|s| format!("{:016x}", s.graph_hash)),
        stats_bits: match s {
            Some(_) => {
                Some(pbit_driver::read_stats_bits(&mut vm).map_err(|e| anyhow::anyhow!("{e}"))?)
            }
            None => None,
        },
    };
    if a.json {
        print_json(&info)?;
    } else {
        println!("backend          verilator");
        println!("machine kind     {}", info.machine);
        println!("p-bits (N)       {}", info.n);
        if let Some(s) = s {
            println!(
                "sparse machine   max degree {}, {} colours, graph {:016x}",
                s.max_degree, s.colours, s.graph_hash
            );
            println!("statistics       {}", stats_line(info.stats_bits));
        }
        println!("format           {}", info.format);
        println!(
            "spec hash        {} ({})",
            info.spec_hash,
            if info.spec_matches {
                "matches this host".to_string()
            } else {
                format!("this host expects {}", info.host_spec_hash)
            }
        );
    }
    if !info.spec_matches {
        bail!(
            "the built machine's spec hash {} is not this host's {}",
            info.spec_hash,
            info.host_spec_hash
        );
    }
    Ok(())
}

/// `pbit info`'s line on a sparse machine's on-chip statistics.
fn stats_line(bits: Option<u32>) -> String {
    match bits {
        Some(0) => "none (built without --stats: samples are summed on the host)".into(),
        Some(b) => format!("on-chip sums, {b}-bit counters per p-bit and per edge"),
        None => "unknown (the device does not answer REG_STATS_CAPS)".into(),
    }
}
