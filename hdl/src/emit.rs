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
}

/// The format a machine of `n` p-bits runs: [`Format::for_machine`].
pub fn machine_format(n: usize) -> Format {
    Format::for_machine(n)
}

fn verilog_of<B: Block>(mut uut: B) -> Result<String, EmitError> {
    uut.connect_all();
    check_all(&uut).map_err(|e| EmitError::Check(format!("{e:?}")))?;
    Ok(generate_verilog_unchecked(&uut))
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
