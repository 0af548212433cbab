//! Waveforms of the Verilated machine: `VerilatedMachine::build_with(n, Some(&trace))` writes a
//! VCD or FST file of the first K clocks that a waveform viewer reads (header, the machine's
//! signals, time steps up to 2K). Needs Verilator (and zlib for FST).

use pbit_sim::{Trace, TraceFormat, VerilatedMachine};
use pbit_spec::memory_map as mm;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pbit-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Some bus traffic and free-running clocks: more clocks than the trace keeps.
fn exercise(m: &VerilatedMachine) {
    assert_eq!(m.read(mm::reg(mm::REG_MAGIC)), mm::MAGIC);
    m.write(mm::reg(mm::REG_N_ACTIVE), 8);
    m.tick(1000);
    assert!(m.sim_clocks() > 1000);
}

#[test]
fn a_vcd_trace_has_the_header_the_signals_and_k_clocks() {
    let path = scratch("run.vcd");
    let clocks = 300;
    let trace = Trace::new(&path, clocks).unwrap();
    assert_eq!(trace.format, TraceFormat::Vcd);
    let m = VerilatedMachine::build_with(32, Some(&trace)).unwrap();
    exercise(&m);
    drop(m);
    let text = std::fs::read_to_string(&path).unwrap();
    for want in ["$timescale", "$scope module", "$enddefinitions", "$var"] {
        assert!(text.contains(want), "no {want} in the VCD header");
    }
    // the harness's ports and the core's signals, by name
    for signal in [
        " clock ",
        " busy ",
        " write_addr ",
        " sample_valid ",
        "batch$0$active",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("$var") && l.contains(signal)),
            "no {signal:?} among the VCD's signals"
        );
    }
    // one time step per clock edge, at most 2·clocks of them, ending before 2·clocks
    let times: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|t| t.trim().parse().unwrap())
        .collect();
    assert!(
        times.len() > 2 * clocks as usize / 2,
        "{} time steps",
        times.len()
    );
    assert!(times.len() <= 2 * clocks as usize);
    assert!(*times.last().unwrap() < 2 * clocks);
    assert!(times.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn an_fst_trace_is_written() {
    let path = scratch("run.fst");
    let trace = Trace::new(&path, 200).unwrap();
    assert_eq!(trace.format, TraceFormat::Fst);
    let m = VerilatedMachine::build_with(32, Some(&trace)).unwrap();
    exercise(&m);
    drop(m);
    let bytes = std::fs::read(&path).unwrap();
    // an FST file opens with its header block (type FST_BL_HDR = 0) of 329 bytes
    assert!(bytes.len() > 329, "{} bytes", bytes.len());
    assert_eq!(bytes[0], 0, "not an FST header block");
    let header = String::from_utf8_lossy(&bytes[..400]);
    assert!(
        header.contains("Verilat") || header.contains("fst"),
        "{header:?}"
    );
}

#[test]
fn trace_names_must_say_their_format() {
    assert!(Trace::new("run.txt", 10).is_err());
    assert!(Trace::new("run.vcd", 0).is_err());
    assert_eq!(Trace::new("RUN.FST", 1).unwrap().format, TraceFormat::Fst);
}
