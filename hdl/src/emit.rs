//! Verilog for a machine of N p-bits.
//!
//! rust-hdl fixes widths at compile time, so each supported N is one instantiation of
//! [`Machine`]; [`SUPPORTED_N`] lists them. The top module is `top`, submodules `top$…`.

use crate::machine::Machine;
use pbit_spec::Format;
use rust_hdl::prelude::*;

/// Machine sizes that can be generated.
pub const SUPPORTED_N: &[usize] = &[32, 64, 128, 256];
/// Page-index bits: 2^5 = 32 pages (the schedule's most steps).
pub const PAGE_BITS: usize = 5;
/// Step-index bits: 2^5 = 32 schedule steps.
pub const STEP_BITS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("no machine of {n} p-bits can be generated; supported sizes are {supported:?}")]
    UnsupportedN { n: usize, supported: Vec<usize> },
    #[error("the machine of {n} p-bits is built for the format {want}, not {got}")]
    WrongFormat { n: usize, want: Format, got: Format },
    #[error("rust-hdl rejected the design: {0}")]
    Check(String),
    #[error("cannot write {path}: {reason}")]
    Io { path: String, reason: String },
}

/// The smallest machine size that can be generated for an instance of `n` p-bits.
pub fn machine_size_for(n: usize) -> Option<usize> {
    SUPPORTED_N.iter().copied().find(|&k| k >= n)
}

/// Writes the Verilog of the machine of `n` p-bits (in [`machine_format`]`(n)`) to
/// `dir/pbit_n{n}.v`, creating `dir`; returns the file's path.
pub fn write_verilog(n: usize, dir: &std::path::Path) -> Result<std::path::PathBuf, EmitError> {
    let verilog = emit_verilog(n, &machine_format(n))?;
    let io = |p: &std::path::Path, e: std::io::Error| EmitError::Io {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let path = dir.join(format!("pbit_n{n}.v"));
    std::fs::write(&path, verilog).map_err(|e| io(&path, e))?;
    Ok(path)
}

/// The format a machine of `n` p-bits runs: [`Format::for_machine`].
pub fn machine_format(n: usize) -> Format {
    Format::for_machine(n)
}

fn verilog_of<B: Block>(mut uut: B) -> Result<String, EmitError> {
    uut.connect_all();
    check_all(&uut).map_err(|e| EmitError::Check(format!("{e:?}")))?;
    Ok(clock_fanout_as_assigns(&generate_verilog_unchecked(&uut)))
}

/// rust-hdl hands every sub-block its clock inside the parent's `always @(*)` block
/// (`x$clock = clock;`). Verilator then re-evaluates every combinational block on both clock
/// edges (most of its time went there). This rewrite moves exactly those statements out into
/// continuous assignments, `assign x$clock = clock;` with `x$clock` declared `wire`: the same
/// netlist, since nothing else drives these signals.
pub fn clock_fanout_as_assigns(verilog: &str) -> String {
    let mut out = String::with_capacity(verilog.len() + verilog.len() / 8);
    // modules are rewritten one at a time: declarations precede the always block
    for module in verilog.split_inclusive("endmodule") {
        // a top-level statement (8 spaces in) of the always block, the target declared
        // `reg  x;` and assigned nowhere else
        let declared = |name: &str| module.lines().any(|l| l.trim() == format!("reg  {name};"));
        let assignments = |name: &str| {
            let (eq, slice) = (format!("{name} = "), format!("{name}["));
            module
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    t.starts_with(&eq) || t.starts_with(&slice)
                })
                .count()
        };
        let mut clocks: Vec<&str> = Vec::new();
        for line in module.lines() {
            if !line.starts_with("        ") || line.starts_with("         ") {
                continue;
            }
            let t = line.trim();
            if let Some(lhs) = t.strip_suffix(" = clock;") {
                if lhs.ends_with("clock")
                    && !lhs.contains(' ')
                    && declared(lhs)
                    && assignments(lhs) == 1
                {
                    clocks.push(lhs);
                }
            }
        }
        if clocks.is_empty() {
            out.push_str(module);
            continue;
        }
        let set: std::collections::HashSet<&str> = clocks.iter().copied().collect();
        let mut assigns_done = false;
        for line in module.split_inclusive('\n') {
            let t = line.trim();
            if let Some(lhs) = t.strip_suffix(" = clock;") {
                if set.contains(lhs) {
                    continue;
                }
            }
            if let Some(name) = t.strip_prefix("reg  ").and_then(|r| r.strip_suffix(';')) {
                if set.contains(name) {
                    out.push_str(&line.replacen("reg  ", "wire ", 1));
                    continue;
                }
            }
            if !assigns_done && t.starts_with("always @(*)") {
                for c in &clocks {
                    out.push_str(&format!("    assign {c} = clock;\n"));
                }
                assigns_done = true;
            }
            out.push_str(line);
        }
    }
    out
}

/// The Verilog of the core machine with `n` p-bits in `format` (which must be
/// [`machine_format`]`(n)`).
pub fn emit_verilog(n: usize, format: &Format) -> Result<String, EmitError> {
    if !SUPPORTED_N.contains(&n) {
        return Err(EmitError::UnsupportedN {
            n,
            supported: SUPPORTED_N.to_vec(),
        });
    }
    let want = machine_format(n);
    if *format != want {
        return Err(EmitError::WrongFormat {
            n,
            want,
            got: *format,
        });
    }
    match n {
        32 => verilog_of(Machine::<32, 5, 1, 15, PAGE_BITS, 11, 16, STEP_BITS>::new(
            format,
        )),
        64 => verilog_of(Machine::<64, 6, 2, 16, PAGE_BITS, 11, 16, STEP_BITS>::new(
            format,
        )),
        128 => verilog_of(Machine::<128, 7, 4, 17, PAGE_BITS, 11, 16, STEP_BITS>::new(
            format,
        )),
        256 => verilog_of(Machine::<256, 8, 8, 18, PAGE_BITS, 11, 16, STEP_BITS>::new(
            format,
        )),
        _ => unreachable!("checked against SUPPORTED_N"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_size_emits() {
        for &n in SUPPORTED_N {
            let v = emit_verilog(n, &machine_format(n)).unwrap();
            assert!(v.contains("module top("), "n = {n}");
        }
        assert_eq!(machine_size_for(2), Some(32));
        assert_eq!(machine_size_for(65), Some(128));
        assert_eq!(machine_size_for(257), None);
        let dir = std::env::temp_dir().join(format!("pbit-emit-{}", std::process::id()));
        let path = write_verilog(32, &dir).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("module top("));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(
            emit_verilog(48, &machine_format(48)),
            Err(EmitError::UnsupportedN { .. })
        ));
        assert!(matches!(
            emit_verilog(64, &Format::STANDARD),
            Err(EmitError::WrongFormat { .. })
        ));
    }
}
