//! On-chip statistics of the sparse machine ([`crate::sparse::SparseOptions::stats`]): for every
//! sample a run takes, one counter per p-bit counts m_i = +1 and one per edge of the built graph
//! counts m_i = m_j (the contract: `pbit_spec::sparse_map::StatsSums`, docs/spec.md "Statistics
//! on chip"; the registers and the stats region are rows of the table with capability
//! `sparse`).
//!
//! The counters sit in B memory banks (block RAM: one read and one write port each; counter k
//! in bank k mod B, row ⌊k / B⌋), walked one row — B counters — a clock after each sample: the
//! sample's p-bits and edge agreements are loaded into a shift register of n + edges bits when
//! the sample is taken, and the walk reads row r, adds its B bits a clock later and writes
//! them back ([`stats_banks`] picks B so a walk takes about a sweep). A sample due while the previous walk
//! is still running waits for it (the machine stays in its sample clock, `stats_wait`), so the
//! sums never change the sample stream, and the stall is a function of the schedule only: it is
//! deterministic. The run's end waits for the last walk too, so an idle machine holds final sums.
//!
//! A clear does not walk: it zeroes the sample count, and the first walk after it writes each
//! counter's bit instead of adding it; the region reads 0 while the count is 0. The count stops
//! at 2^bits − 1 (a later sample is not added and sets the overflow flag), so no counter wraps.
//!
//! This file emits Verilog text into the sparse machine's module; [`crate::sparse`] instantiates
//! it with a few hooks: `stats_take` (the clock a sample is taken), `stats_wait`, `stats_quiet`
//! and the read multiplexer (`stats_rsel`, `stats_rdata`).

use pbit_spec::sparse::SparseGraph;
use pbit_spec::sparse_map as sm;
use std::fmt::Write;

/// The widest counters a machine is generated with (the registers are 32 bits).
pub const MAX_STATS_BITS: u32 = 32;
/// The counters' width when statistics are built (Verilator builds, `pbit hdl build --stats`):
/// up to 2^32 − 1 samples between clears.
pub const DEFAULT_STATS_BITS: u32 = 32;

/// Most counters a walk handles per clock (memory banks).
pub const MAX_STATS_SETS: usize = 16;

/// Banks of the counter memory: counter k sits in bank k mod B at row ⌊k / B⌋, and a walk
/// handles one row (B counters) a clock. B is the power of two (≤ [`MAX_STATS_SETS`]) that
/// lets a walk of the n + edges counters fit in about one sweep of `clocks_per_sweep` clocks,
/// so a sample every sweep stalls little.
pub fn stats_banks(counters: usize, clocks_per_sweep: u32) -> usize {
    counters
        .div_ceil(clocks_per_sweep.max(1) as usize)
        .next_power_of_two()
        .clamp(1, MAX_STATS_SETS)
}

/// Clocks a walk takes after its sample: one per row, and two to write the last row back.
pub fn walk_clocks(counters: usize, clocks_per_sweep: u32) -> usize {
    counters.div_ceil(stats_banks(counters, clocks_per_sweep)) + 2
}

/// Signals the machine must provide before [`emit_stats`]'s text: `clock`, `spins` (n bits),
/// `wr_reg`, `w_index`, `write_data`, `r_region`, `r_index`, `stats_take` (declared),
/// `busy_core` (the machine is not idle). [`emit_stats`] defines `stats_wait`, `stats_quiet`,
/// `stats_rsel` and `stats_rdata`, and the register values of [`stats_registers`].
pub fn emit_stats(o: &mut String, graph: &SparseGraph, bits: u32, clocks_per_sweep: u32) {
    let n = graph.n();
    let ne = graph.edges().len();
    let k = n + ne;
    let banks = stats_banks(k, clocks_per_sweep);
    let bb = banks.trailing_zeros() as usize; // bank bits (banks is a power of two)
    let rows = k.div_ceil(banks);
    let width = rows * banks; // shift register: padded to whole rows (padding adds 0)
    let aw = (usize::BITS - (rows.max(2) - 1).leading_zeros()) as usize;
    let b = bits as usize;
    let max = if b >= 32 {
        "32'hffffffff".to_string()
    } else {
        format!("{b}'d{}", (1u64 << b) - 1)
    };
    macro_rules! w {
        ($($t:tt)*) => { let _ = writeln!(o, $($t)*); };
    }
    w!("    // ---- on-chip statistics (hdl/src/sparse_stats.rs): {k} counters of {b} bits in {banks} banks of {rows} rows");
    w!("    reg st_acc = 1'b0, st_quiet = 1'b0, st_over = 1'b0;");
    w!("    reg [{}:0] st_count = {b}'d0;", b - 1);
    w!("    reg st_walk = 1'b0, st_wv = 1'b0, st_first = 1'b0;");
    w!("    reg [{}:0] st_ra = {aw}'d0, st_wa = {aw}'d0;", aw - 1);
    w!("    reg [{}:0] st_sh = {width}'d0;", width - 1);
    w!("    reg [{}:0] st_inc = {banks}'d0;", banks - 1);
    // the sample's increments: its p-bits, then each edge's agreement (then padding)
    w!("    wire [{}:0] st_bits;", width - 1);
    w!("    assign st_bits[{}:0] = spins;", n - 1);
    for (e, &(i, j)) in graph.edges().iter().enumerate() {
        w!(
            "    assign st_bits[{}] = (spins[{i}] == spins[{j}]);",
            n + e
        );
    }
    if width > k {
        w!("    assign st_bits[{}:{k}] = {}'d0;", width - 1, width - k);
    }
    w!("    wire stats_wait = st_walk | st_wv;");
    w!("    wire stats_quiet = st_quiet;");
    w!(
        "    wire st_ctrl_w = wr_reg & (w_index == 24'd{});",
        sm::REG_STATS_CTRL
    );
    // one read port per bank: the walk's row, or the host's while nothing walks
    let host_row = if bb == 0 {
        format!("r_index[{}:0]", aw - 1)
    } else {
        format!("r_index[{}:{bb}]", aw + bb - 1)
    };
    w!(
        "    wire [{}:0] st_addr = st_walk ? st_ra : {host_row};",
        aw - 1
    );
    for q in 0..banks {
        w!(
            "    (* ram_style = \"block\" *) reg [{}:0] st_mem_{q} [0:{}];",
            b - 1,
            rows - 1
        );
        w!("    reg [{}:0] st_q_{q} = {b}'d0;", b - 1);
        w!("    always @(posedge clock) st_q_{q} <= st_mem_{q}[st_addr];");
        w!("    always @(posedge clock) if (st_wv) st_mem_{q}[st_wa] <= (st_first ? {b}'d0 : st_q_{q}) + {{{}'d0, st_inc[{q}]}};", b - 1);
    }
    w!("    always @(posedge clock) begin");
    w!(
        "        st_wv <= st_walk; st_wa <= st_ra; st_inc <= st_sh[{}:0];",
        banks - 1
    );
    w!("        if (st_walk) begin");
    w!("            st_sh <= st_sh >> {banks}; st_ra <= st_ra + {aw}'d1;");
    w!(
        "            if (st_ra == {aw}'d{}) st_walk <= 1'b0;",
        rows - 1
    );
    w!("        end");
    // a sample is taken only while no walk runs (the machine waits on stats_wait)
    w!("        if (stats_take & st_acc) begin");
    w!("            if (st_count == {max}) st_over <= 1'b1;");
    w!("            else begin");
    w!("                st_count <= st_count + {b}'d1; st_first <= (st_count == {b}'d0);");
    w!("                st_sh <= st_bits; st_ra <= {aw}'d0; st_walk <= 1'b1;");
    w!("            end");
    w!("        end");
    w!("        if (st_ctrl_w) begin");
    w!("            st_acc <= write_data[0]; st_quiet <= write_data[1];");
    w!(
        "            if (write_data[2] & !stats_wait) begin st_count <= {b}'d0; st_over <= 1'b0; end"
    );
    w!("        end");
    w!("    end");
    // host reads: the banks' registered outputs, one clock after the address like every read;
    // 0 while busy (the walk owns the ports) or before the first sample after a clear
    w!("    reg stats_rsel = 1'b0, st_rvalid = 1'b0;");
    w!("    reg [{}:0] st_rbank = {}'d0;", bb.max(1) - 1, bb.max(1));
    w!("    always @(posedge clock) begin");
    w!(
        "        stats_rsel <= (r_region == 8'd{}) & (r_index < 24'd{k});",
        sm::REGION_STATS
    );
    w!("        st_rvalid <= !busy_core & !stats_wait & (st_count != {b}'d0);");
    if bb > 0 {
        w!("        st_rbank <= r_index[{}:0];", bb - 1);
    }
    w!("    end");
    w!("    reg [{}:0] st_rq;", b - 1);
    w!("    always @(*) begin");
    w!("        case (st_rbank)");
    for q in 0..banks {
        w!("        {}'d{q}: st_rq = st_q_{q};", bb.max(1));
    }
    w!("        default: st_rq = {b}'d0;");
    w!("        endcase");
    w!("    end");
    if b >= 32 {
        w!("    wire [31:0] stats_rdata = st_rvalid ? st_rq : 32'd0;");
    } else {
        w!(
            "    wire [31:0] stats_rdata = st_rvalid ? {{{}'d0, st_rq}} : 32'd0;",
            32 - b
        );
    }
}

/// The statistics registers' read values (index, Verilog expression) for the machine's
/// register read multiplexer; without statistics only the capability register, reading 0.
pub fn stats_registers(bits: Option<u32>) -> Vec<(u32, String)> {
    match bits {
        None => vec![(sm::REG_STATS_CAPS, "32'd0".into())],
        Some(b) => vec![
            (
                sm::REG_STATS_CAPS,
                format!("32'h{:08x}", sm::stats_caps_word(b)),
            ),
            (sm::REG_STATS_CTRL, "{30'd0, st_quiet, st_acc}".into()),
            (
                sm::REG_STATS_SAMPLES,
                if b >= 32 {
                    "st_count".into()
                } else {
                    format!("{{{}'d0, st_count}}", 32 - b)
                },
            ),
            (sm::REG_STATS_STATUS, "{31'd0, st_over}".into()),
        ],
    }
}

/// The hooks' defaults of a machine without statistics.
pub fn emit_no_stats(o: &mut String) {
    let _ = writeln!(o, "    wire stats_wait = 1'b0, stats_quiet = 1'b0;");
    let _ = writeln!(
        o,
        "    wire stats_rsel = 1'b0; wire [31:0] stats_rdata = 32'd0;"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::tests::ring;
    use crate::sparse::{emit_sparse_verilog, sparse_info, SparseEmitError, SparseOptions};

    /// Banks: a walk of about a sweep, a power of two, at most 16.
    #[test]
    fn banks_make_a_walk_about_a_sweep() {
        assert_eq!(stats_banks(20, 2), 16);
        assert_eq!(walk_clocks(20, 2), 4);
        assert_eq!(stats_banks(128, 2), 16);
        assert_eq!(walk_clocks(128, 2), 10);
        assert_eq!(stats_banks(768, 8), 16);
        assert_eq!(stats_banks(40, 16), 4);
        assert_eq!(stats_banks(3, 100), 1);
        assert_eq!(walk_clocks(3, 100), 5);
    }

    /// Widths outside 1..=32 are refused; a built machine has its counters and registers, one
    /// without has neither (its capability register reads 0).
    #[test]
    fn options_and_emission() {
        let g = ring(8);
        let opts = |stats| SparseOptions {
            max_degree: 2,
            readback: false,
            lanes: None,
            stats,
            coupling_banks: false,
        };
        for bits in [0, 33] {
            assert_eq!(
                sparse_info(&g, &opts(Some(bits))).unwrap_err(),
                SparseEmitError::StatsBits { bits, max: 32 }
            );
        }
        let (v, _) = emit_sparse_verilog(&g, &opts(Some(12))).unwrap();
        // 16 counters, 2 clocks a sweep: 8 banks of 2 rows, 12 bits each
        assert_eq!(v.matches("reg [11:0] st_mem_").count(), 8);
        assert!(v.contains(&format!(
            "24'd{}: read_q <= 32'h{:08x};",
            sm::REG_STATS_CAPS,
            sm::stats_caps_word(12)
        )));
        let (v, _) = emit_sparse_verilog(&g, &opts(None)).unwrap();
        assert!(!v.contains("st_mem_"));
        assert!(v.contains(&format!("24'd{}: read_q <= 32'd0;", sm::REG_STATS_CAPS)));
    }
}
