//! `pbit learn`: train a Boltzmann machine on the backend's samples and write it as an instance.

use crate::{backend, print_json, MachineArgs};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use pbit_host::learn::{self, Data, LearnOptions, Method, Topology};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TopologyArg {
    /// Every pair coupled (a general Boltzmann machine; fully visible with --hidden 0).
    Full,
    /// Visible–visible and visible–hidden, no hidden–hidden.
    Semi,
    /// Visible–hidden only (restricted Boltzmann machine).
    Rbm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Contrastive divergence: negative chains start at the data.
    Cd,
    /// Persistent contrastive divergence: negative chains continue across steps.
    Pcd,
}

#[derive(Args)]
pub struct LearnArgs {
    /// Training vectors: one per line, `1`/`0` per visible unit (`#` comments, blank lines skipped).
    data: PathBuf,
    /// Hidden p-bits (after the visible ones in the learned file; visible + hidden at most
    /// 2^12, data vectors × chains × hidden at most 2^28).
    #[arg(long, default_value_t = 0)]
    hidden: usize,
    /// Which pairs are coupled (default: full with no hidden units, semi with some).
    #[arg(long, value_enum)]
    topology: Option<TopologyArg>,
    #[arg(long, value_enum, default_value = "cd")]
    method: MethodArg,
    /// Sweeps per negative phase (and per positive phase when hidden units couple; 1 to
    /// 2^32 − 1).
    #[arg(long, default_value_t = 1)]
    k: u64,
    /// Passes over the data (1 to 2^32 − 1).
    #[arg(long, default_value_t = 1000)]
    epochs: u64,
    /// Learning rate (per unit of ⟨m_i m_j⟩ difference).
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// The learning rate falls linearly to lr × this at the last epoch.
    #[arg(long, default_value_t = 0.1)]
    lr_final: f64,
    /// Data vectors per step (default: all of them; batch × chains at most 2^20, and
    /// batch × chains × p-bits at most 2^28).
    #[arg(long)]
    batch: Option<usize>,
    /// Chains per data vector in each phase.
    #[arg(long, default_value_t = 32)]
    chains: usize,
    /// Initial couplings are uniform in ±this.
    #[arg(long = "init", default_value_t = 0.5)]
    init_scale: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The machine's inverse temperature while learning; sample the result at the same β.
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// Compute the exact KL after every k-th epoch (and the last) only.
    #[arg(long, default_value_t = 1)]
    kl_every: u64,
    /// Write the learned machine here (instance format; visible p-bits 1..V, hidden after).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print a JSON report instead of per-epoch lines.
    #[arg(long)]
    json: bool,
}

pub fn run(m: &MachineArgs, a: &LearnArgs) -> Result<()> {
    let mut b = backend(m)?;
    let data = Data::read(&a.data)?;
    let topology = match a.topology {
        Some(TopologyArg::Full) => Topology::Full,
        Some(TopologyArg::Semi) => Topology::Semi,
        Some(TopologyArg::Rbm) => Topology::Rbm,
        None if a.hidden == 0 => Topology::Full,
        None => Topology::Semi,
    };
    let opts = LearnOptions {
        hidden: a.hidden,
        topology,
        method: match a.method {
            MethodArg::Cd => Method::Cd,
            MethodArg::Pcd => Method::Pcd,
        },
        k: a.k,
        epochs: a.epochs,
        lr: a.lr,
        lr_final: a.lr_final,
        batch: a.batch,
        chains_per_vector: a.chains,
        init_scale: a.init_scale,
        seed: a.seed,
        beta: a.beta,
        kl_every: a.kl_every,
    };
    let (json, kl_every, epochs) = (a.json, a.kl_every.max(1), a.epochs);
    let learned = learn::learn(b.as_mut(), &data, &opts, &mut |e| {
        if !json {
            let due = e.epoch % kl_every == 0 || e.epoch == epochs;
            match e.kl {
                Some(kl) => println!("epoch {} kl {kl:.5} lr {:.4}", e.epoch, e.lr),
                None if due => {
                    println!("epoch {} lr {:.4} (KL too large to compute)", e.epoch, e.lr)
                }
                None => {}
            }
        }
    })?;
    let r = &learned.report;
    if let Some(path) = &a.out {
        let fmt_kl = |k: Option<f64>| k.map_or("not computed".to_string(), |k| format!("{k}"));
        let comments = vec![
            format!(
                "learned by pbit learn from {} ({} vectors): visible p-bits 1..{}, {}",
                r.data,
                r.vectors,
                r.visible,
                match r.hidden {
                    0 => "no hidden p-bits".to_string(),
                    h => format!("hidden {}..{}", r.visible + 1, r.visible + h),
                }
            ),
            format!(
                "topology {:?}, method {:?}-{}, {} epochs, lr {} -> {}, batch {}, {} chains per vector, seed {}, backend {}",
                r.topology, r.method, r.k, r.epochs, r.lr, r.lr * r.lr_final, r.batch,
                r.chains_per_vector, r.seed, r.backend
            )
            .to_lowercase(),
            format!(
                "sample at beta {}: exact KL(data || model) over the visible units {}",
                r.beta,
                fmt_kl(r.kl)
            ),
        ];
        std::fs::write(path, learned.ising.to_text(&comments))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if json {
        print_json(r)?;
    } else {
        if let Some(kl) = r.kl {
            println!(
                "KL(data || model) {kl:.5} (from {:.5}), data mass {:.4}",
                r.kl_initial.unwrap_or(f64::NAN),
                r.data_mass.unwrap_or(f64::NAN)
            );
        }
        println!(
            "{} couplings, {} clipped updates, {} values at a range limit",
            r.couplings, r.clipped_updates, r.at_limit
        );
        println!(
            "time {:.3} s: sampling {:.3} s, exact KL {:.3} s, host {:.3} s",
            r.seconds.total, r.seconds.sampling, r.seconds.kl, r.seconds.host
        );
        if let Some(link) = &r.link {
            let step = link.later_steps.as_ref().unwrap_or(&link.first_step);
            println!(
                "link per step{}: {:.0} round trips, {:.0} bytes out, {:.0} bytes in, {:.0} machine clocks; measured {:.1} ms",
                if link.later_steps.is_some() { " (after the first)" } else { "" },
                step.round_trips,
                step.bytes_out,
                step.bytes_in,
                step.machine_clocks,
                step.sampling_wall_ms
            );
            for p in &step.projected {
                println!(
                    "  on a board at {} baud, {} ms per round trip, {} MHz: {:.1} ms per step (line {:.1}, round trips {:.1}, machine {:.2})",
                    p.baud,
                    p.latency_ms,
                    p.clock_hz as f64 / 1e6,
                    p.total_ms,
                    p.wire_ms,
                    p.latency_total_ms,
                    p.machine_ms
                );
            }
        }
        if let Some(path) = &a.out {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
