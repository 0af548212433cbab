//! Verilog for a core of N p-bits: the [`DenseDatapath`](crate::datapath::DenseDatapath) with
//! the batch engine ([`crate::core::Core`] with B = 1; the Verilator harness runs this).
//!
//! rust-hdl fixes widths at compile time, so each supported N is one instantiation (see
//! [`core_of`]); [`SUPPORTED_N`] lists them. The top module is `top`, submodules `top$…`.

use crate::core::Core;
use pbit_spec::Format;
use rust_hdl::prelude::*;

/// The core of each supported N with B ∈ {0, 1} batch engines: machine generics (A = log2 N,
/// W = N/32, F field bits, pages, steps), then the engine's (buffer address bits BA =
/// [`CHAIN_BITS`](crate::batch::CHAIN_BITS) + log2 W, SN = min(N, 64) sums p-bits, SA sums
/// address bits: 2^SA ≥ SN(SN+1)/2).
pub type Core32<const B: usize> = Core<32, 5, 1, 15, PAGE_BITS, 11, 16, STEP_BITS, 10, 32, 10, B>;
pub type Core64<const B: usize> = Core<64, 6, 2, 16, PAGE_BITS, 11, 16, STEP_BITS, 11, 64, 12, B>;
pub type Core128<const B: usize> = Core<128, 7, 4, 17, PAGE_BITS, 11, 16, STEP_BITS, 12, 64, 12, B>;
pub type Core256<const B: usize> = Core<256, 8, 8, 18, PAGE_BITS, 11, 16, STEP_BITS, 13, 64, 12, B>;

/// Machine sizes that can be generated.
pub const SUPPORTED_N: &[usize] = &[32, 64, 128, 256];
/// Page-index bits: 2^5 = 32 pages (the schedule's most steps).
pub const PAGE_BITS: usize = 5;
/// Step-index bits: 2^5 = 32 schedule steps.
pub const STEP_BITS: usize = 5;

/// The [`Geometry`](pbit_spec::regmap::Geometry) of the generated machine of `n` p-bits (a
/// [`SUPPORTED_N`] size), with or without the batch engine: what its decode accepts, what
/// `pbit hdl regmap` exports. The numbers are the generics of [`Core32`] … [`Core256`].
pub fn geometry(n: usize, batch: bool) -> pbit_spec::regmap::Geometry {
    pbit_spec::regmap::Geometry {
        n: n as u32,
        format: crate::machine_format(n),
        pages: 1 << PAGE_BITS,
        steps: 1 << STEP_BITS,
        batch: batch.then(|| pbit_spec::regmap::BatchGeometry {
            chains: 1 << crate::batch::CHAIN_BITS,
            sums_n: n.min(crate::batch::SUMS_MAX_N) as u32,
        }),
        sparse: None,
    }
}

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
    Ok(hoist_wire_copies(&generate_verilog_unchecked(&uut)))
}

/// rust-hdl writes a module's whole combinational logic as one `always @(*)` block, plain wire
/// copies included: every clock fan-out (`x$clock = clock;`), sub-block inputs fed from ports or
/// registers (`cells$3$add = add;`), outputs copied from registers (`field = field_reg$q;`).
/// Verilator orders logic by block, so a parent and a child whose blocks both hold such copies
/// look like a combinational loop, and the clock copies made it re-evaluate every block on both
/// clock edges. This rewrite moves exactly those copies out as continuous assignments
/// (`assign x = y;`, the target declared `wire`): a statement moves only if it is a top-level
/// statement of the block, copies a plain signal, and is the only assignment of its target in
/// the module. The netlist is the same.
pub fn hoist_wire_copies(verilog: &str) -> String {
    let mut out = String::with_capacity(verilog.len() + verilog.len() / 8);
    for module in verilog.split_inclusive("endmodule") {
        let top_level = |line: &str| line.starts_with("        ") && !line.starts_with("         ");
        let copy = |line: &str| -> Option<(String, String)> {
            let t = line.trim().strip_suffix(';')?;
            let (lhs, rhs) = t.split_once(" = ")?;
            (is_signal(lhs) && is_signal(rhs)).then(|| (lhs.to_string(), rhs.to_string()))
        };
        // declarations `reg  [..] x;` or `output reg  [..] x;`
        let declared: std::collections::HashSet<String> = module
            .lines()
            .map(str::trim)
            .filter(|t| t.starts_with("reg ") || t.starts_with("output reg "))
            .filter_map(|t| t.split_whitespace().last())
            .filter_map(|x| x.strip_suffix(';'))
            .map(str::to_string)
            .collect();
        let mut assigned: std::collections::HashMap<String, usize> = Default::default();
        for line in module.lines() {
            let t = line.trim_start();
            if let Some(name) = t.split([' ', '[']).next() {
                if t[name.len()..].starts_with(" = ") || t[name.len()..].starts_with('[') {
                    *assigned.entry(name.to_string()).or_default() += 1;
                }
            }
        }
        let mut moved: Vec<(String, String)> = Vec::new();
        let mut in_always = false;
        for line in module.lines() {
            if line.trim_start().starts_with("always @(*)") {
                in_always = true;
                continue;
            }
            if in_always && top_level(line) {
                if let Some((lhs, rhs)) = copy(line) {
                    if declared.contains(&lhs) && assigned.get(&lhs) == Some(&1) && lhs != rhs {
                        moved.push((lhs, rhs));
                    }
                }
            }
        }
        if moved.is_empty() {
            out.push_str(module);
            continue;
        }
        let targets: std::collections::HashSet<&str> = moved.iter().map(|m| m.0.as_str()).collect();
        let mut assigns_done = false;
        let mut in_always = false;
        for line in module.split_inclusive('\n') {
            let t = line.trim();
            if t.starts_with("always @(*)") {
                if !assigns_done {
                    for (lhs, rhs) in &moved {
                        out.push_str(&format!("    assign {lhs} = {rhs};\n"));
                    }
                    assigns_done = true;
                }
                in_always = true;
            } else if in_always && top_level(line) {
                if let Some((lhs, _)) = copy(line) {
                    if targets.contains(lhs.as_str()) {
                        continue;
                    }
                }
            } else if t.starts_with("reg ") || t.starts_with("output reg ") {
                if let Some(name) = t
                    .split_whitespace()
                    .last()
                    .and_then(|x| x.strip_suffix(';'))
                {
                    if targets.contains(name) {
                        out.push_str(&line.replacen("reg ", "wire ", 1));
                        continue;
                    }
                }
            }
            out.push_str(line);
        }
    }
    out
}

fn is_signal(x: &str) -> bool {
    x.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && x.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The Verilog of the core of `n` p-bits with the batch engine, in `format` (which must be
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
        32 => verilog_of(Core32::<1>::new(format)),
        64 => verilog_of(Core64::<1>::new(format)),
        128 => verilog_of(Core128::<1>::new(format)),
        256 => verilog_of(Core256::<1>::new(format)),
        _ => unreachable!("checked against SUPPORTED_N"),
    }
}

/// Structure of emitted Verilog, for tests: the ports of a module and the modules it uses.
#[cfg(test)]
pub(crate) mod structure {
    /// `(direction, width in bits, name)` of every port of module `name`, in header order.
    pub fn ports(verilog: &str, name: &str) -> Vec<(String, u32, String)> {
        let head = format!("module {name}(");
        let start = verilog
            .find(&head)
            .unwrap_or_else(|| panic!("no module {name}"));
        let body = &verilog[start..];
        let body = &body[..body.find("endmodule").expect("module ends")];
        let names: Vec<&str> = body[head.len()..body.find(')').expect("header ends")]
            .split(',')
            .map(str::trim)
            .collect();
        names
            .iter()
            .map(|&port| {
                // `input wire  [31:0] write_addr;` or `output reg  busy;`
                let decl = body
                    .lines()
                    .map(str::trim)
                    .find(|l| {
                        (l.starts_with("input ") || l.starts_with("output "))
                            && l.trim_end_matches(';').split_whitespace().last() == Some(port)
                    })
                    .unwrap_or_else(|| panic!("port {port} of {name} is not declared"));
                let dir = decl.split_whitespace().next().unwrap_or("").to_string();
                let width = match (decl.find('['), decl.find(":0]")) {
                    (Some(a), Some(b)) => decl[a + 1..b].parse::<u32>().expect("msb") + 1,
                    _ => 1,
                };
                (dir, width, port.to_string())
            })
            .collect()
    }

    /// Modules instantiated somewhere in `verilog` that it does not define.
    pub fn undefined_modules(verilog: &str) -> Vec<String> {
        let defined: std::collections::HashSet<&str> = verilog
            .lines()
            .filter_map(|l| l.strip_prefix("module "))
            .filter_map(|l| l.split('(').next())
            .collect();
        let mut missing: Vec<String> = verilog
            .lines()
            .map(str::trim)
            .filter(|l| l.ends_with('(') && !l.starts_with("module "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|m| m.starts_with("top") && !defined.contains(m))
            .map(str::to_string)
            .collect();
        missing.dedup();
        missing
    }

    /// Checks a whole file: modules balanced, every instantiated module defined.
    pub fn check_closed(verilog: &str) {
        let modules = verilog.lines().filter(|l| l.starts_with("module ")).count();
        let ends = verilog
            .lines()
            .filter(|l| l.starts_with("endmodule"))
            .count();
        assert!(
            modules > 1 && modules == ends,
            "{modules} modules, {ends} ends"
        );
        assert_eq!(undefined_modules(verilog), Vec::<String>::new());
    }
}

#[cfg(test)]
mod tests {
    use super::structure::*;
    use super::*;

    /// The core's bus as the driver sees it: 32-bit words at 32-bit addresses
    /// (`pbit_spec::memory_map`), a sample handshake, and the busy signals.
    fn bus_ports() -> Vec<(String, u32, String)> {
        let word = 32; // memory_map addresses and data are u32
        [
            ("input", 1, "clock"),
            ("input", 1, "write_en"),
            ("input", word, "write_addr"),
            ("input", word, "write_data"),
            ("input", word, "read_addr"),
            ("output", word, "read_data"),
            ("output", 1, "sample_valid"),
            ("input", 1, "sample_ready"),
            ("output", 1, "busy"),
            ("input", 1, "busy_other"),
        ]
        .iter()
        .map(|&(d, w, n)| (d.to_string(), w, n.to_string()))
        .collect()
    }

    #[test]
    fn every_supported_size_emits() {
        for &n in SUPPORTED_N {
            let v = emit_verilog(n, &machine_format(n)).unwrap();
            assert_eq!(ports(&v, "top"), bus_ports(), "n = {n}");
            check_closed(&v);
        }
        // the checks can fail: a module dropped from the file, a port narrowed
        let v = emit_verilog(32, &machine_format(32)).unwrap();
        let cut = v.find("module top$machine(").expect("the machine module");
        assert!(!undefined_modules(&v[..cut]).is_empty());
        let narrowed = v.replacen(
            "input wire  [31:0] write_addr;",
            "input wire  [15:0] write_addr;",
            1,
        );
        assert_ne!(ports(&narrowed, "top"), bus_ports());
        assert_eq!(machine_size_for(2), Some(32));
        assert_eq!(machine_size_for(65), Some(128));
        assert_eq!(machine_size_for(257), None);
        let dir = std::env::temp_dir().join(format!("pbit-emit-{}", std::process::id()));
        let path = write_verilog(32, &dir).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), v);
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
