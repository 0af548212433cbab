//! `verilator --lint-only -Wall` of the machine's Verilog, with only the waivers rust-hdl's
//! output needs ([`WAIVERS`], explained in docs/hdl.md).

use crate::SimError;
use std::process::Command;

/// The Verilator configuration file with the waivers.
pub const WAIVERS: &str = include_str!("lint.vlt");

/// Lints the machine of `n` p-bits; returns Verilator's output (empty when clean) or the error
/// with every warning.
pub fn lint(n: usize) -> Result<String, SimError> {
    let verilog = pbit_hdl::emit_verilog(n, &pbit_hdl::machine_format(n))?;
    lint_verilog(&verilog, WAIVERS, &format!("machine-{n}"))
}

/// `verilator --lint-only -Wall` of `verilog` (top module `top`) with the Verilator
/// configuration `waivers`; `tag` names the scratch directory.
pub(crate) fn lint_verilog(verilog: &str, waivers: &str, tag: &str) -> Result<String, SimError> {
    let dir = std::env::temp_dir().join(format!("pbit-lint-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| SimError::Io(format!("{}: {e}", dir.display())))?;
    let v = dir.join("top.v");
    let w = dir.join("waivers.vlt");
    std::fs::write(&v, verilog).map_err(|e| SimError::Io(format!("{}: {e}", v.display())))?;
    std::fs::write(&w, waivers).map_err(|e| SimError::Io(format!("{}: {e}", w.display())))?;
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", "top"])
        .arg(&w)
        .arg(&v)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SimError::ToolMissing {
                    tool: "verilator".into(),
                    hint: crate::INSTALL_HINT,
                }
            } else {
                SimError::Io(format!("verilator: {e}"))
            }
        })?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() || text.contains("%Warning") || text.contains("%Error") {
        return Err(SimError::ToolFailed {
            tool: "verilator --lint-only -Wall".into(),
            status: out.status.to_string(),
            stderr: text,
        });
    }
    Ok(text)
}
