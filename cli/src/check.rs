//! `pbit check`: the device on `--port` against the model (pbit_host::check does the work).

use crate::{port, print_json, MachineArgs};
use anyhow::{bail, Result};
use clap::Args;
use pbit_host::check::{check_port, CheckOptions};

#[derive(Args)]
pub struct CheckArgs {
    /// P-bits of the test instance (default: the device's N, at most 64).
    #[arg(long)]
    n: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(m: &MachineArgs, a: &CheckArgs) -> Result<()> {
    let path = port(m)?;
    let opts = CheckOptions {
        n: a.n,
        ..CheckOptions::default()
    };
    let r = check_port(&path, m.baud, &opts)?;
    if a.json {
        print_json(&r)?;
    } else {
        let d = &r.device;
        println!(
            "device           protocol {}, N = {}, {}, {} Hz, {} baud",
            d.protocol_version, d.n, d.format, d.clock_hz, d.baud
        );
        println!(
            "spec hash        {} ({})",
            d.spec_hash,
            if d.spec_matches {
                "matches this host".to_string()
            } else {
                format!("this host expects {}", d.host_spec_hash)
            }
        );
        for j in &r.jobs {
            match &j.note {
                Some(note) => println!("{:<40} {} ({note})", j.name, j.result),
                None => println!(
                    "{:<40} {} ({} items, {} bytes, {:.3} s)",
                    j.name, j.result, j.items, j.bytes, j.device_seconds
                ),
            }
        }
        let t = &r.throughput;
        println!(
            "link             write {:.0} B/s, read {:.0} B/s of payload; {:.0} B/s on the wire of {:.0} per direction{}",
            t.write_bytes_per_s,
            t.read_bytes_per_s,
            t.wire_bytes_per_s,
            t.line_bytes_per_s,
            if t.echo_ok { "" } else { "; READ returned other words than WRITE wrote" }
        );
        match &r.first_difference {
            None if r.pass => println!("PASS"),
            None => println!("FAIL: the link's read-back differs from what was written"),
            Some(f) => println!(
                "FAIL: first difference in {}, {} (byte {}): {}",
                f.job, f.item, f.byte_offset, f.detail
            ),
        }
    }
    if !r.pass {
        bail!("the device's results differ from the model's");
    }
    Ok(())
}
