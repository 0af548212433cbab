//! The sparse, graph-coloured machine: Verilog generated from a built graph
//! ([`pbit_spec::sparse::SparseGraph`]) — one update cell per p-bit, its neighbours wired in,
//! one colour phase per clock.
//!
//! rust-hdl fixes its structure at compile time (widths are const generics, and an `hdl_gen`
//! body can index a `Vec` of blocks only by loop variables), so a machine whose wiring is a
//! graph read at run time is generated here as Verilog text, per graph. It keeps the dense
//! machine's bus ([`pbit_spec::memory_map`], plus the edge region and identity registers of
//! [`pbit_spec::sparse_map`]) and its top module's ports, so the Verilator harness, the driver
//! and the link (see [`crate::core_top::emit_sparse_core_top`], where it is a rust-hdl
//! [`Wrapper`](rust_hdl::prelude::Wrapper) block beside the rust-hdl UART and decoder) take it
//! unchanged. It is verified bit for bit against the model (`pbit_model::sparse`) in Verilator
//! (pbit-sim's tests), not in rust-hdl's simulator.
//!
//! # Datapath (per p-bit i of colour c)
//! * generator: xorshift32 state in 32 flip-flops; its next state `step(x)` is a wire, so the
//!   next draw u = step(x) >> 24 is known before the update (it does not depend on the state);
//! * field: I_i = h_i + Σ_k (m_j ? J_e : −J_e) over its neighbours (j, e), an adder tree of
//!   F-bit wrapping adds (exact: fields never saturate, checked at load);
//! * activation: the page's upper 128 thresholds in a RAM per *port group*; a group serves one
//!   p-bit of each colour per read port (two ports per RAM), so p-bits that share a RAM never
//!   look up in the same clock. The lookup for the colour of the next phase is issued a clock
//!   ahead (mirrored: u ≥ 128 reads upper[u − 128], else ¬upper[127 − u]); all copies are
//!   written at once, from a master store of 32 pages, when a schedule step names a page other
//!   than the one they hold (128 clocks);
//! * decision in the clock of its colour's phase: m = +1 iff I > θ (signed), unless clamped
//!   (a clamped p-bit steps its generator and keeps its value); inactive p-bits (≥ n_active)
//!   neither step nor update;
//! * energy: each updating p-bit registers its ΔE (−2·m_new·I on a flip, else 0); a pipelined
//!   adder tree over all p-bits sums a phase's ΔE into E (`STAGE_LEVELS` adder levels between
//!   registers); the best compare runs on E and the state after the same phase, so the best is
//!   tracked per colour phase, strict < (the first of equal energies wins). The same tree
//!   recomputes E = −½ Σ m_i (I_i + h_i) when the state or couplings were written.
//!
//! # Timing
//! A sweep is C clocks (one per colour; 2 when C = 1, where each phase needs its lookup clock
//! first); a schedule step adds its lookup clock (and 129 clocks when it changes the page); a
//! sampled sweep waits for the energy pipeline (`latency` clocks) before it captures the
//! sample; the end of a run waits for it too. updates per clock = n / C.

use pbit_spec::memory_map as mm;
use pbit_spec::sparse::{sparse_format, sparse_spec_hash, MachineKind, SparseGraph};
use pbit_spec::sparse_map as sm;
use pbit_spec::Format;
use std::fmt::Write;

/// Adder levels of the energy tree between pipeline registers.
pub const STAGE_LEVELS: usize = 2;
/// Upper-half entries of a sparse page (2^(SPARSE_RNG_BITS − 1)).
pub const PAGE_HALF: usize = 1 << (pbit_spec::sparse::SPARSE_RNG_BITS - 1);
/// The most p-bits a sparse machine is generated for.
pub const MAX_SPARSE_N: usize = 1 << 14;

/// How to generate a sparse machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseOptions {
    /// The maximum degree D the machine is built for (≥ the graph's; sets the field width).
    pub max_degree: usize,
    /// Whether the RNG and field regions are readable (an N-way multiplexer each: tests and
    /// Verilator builds want them, boards save the LUTs; without, they read 0).
    pub readback: bool,
}

/// Why a sparse machine cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparseEmitError {
    #[error("the graph has {n} nodes; a sparse machine is generated for 1..={max}")]
    Size { n: usize, max: usize },
    #[error(
        "node {node} has degree {degree}, more than the machine's maximum degree D = {max_degree}"
    )]
    Degree {
        node: usize,
        degree: usize,
        max_degree: usize,
    },
    #[error("the graph has {colours} colours; a sparse machine has at most 255")]
    Colours { colours: u32 },
}

/// What a generated sparse machine is: its size, colours, degree, format and hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseInfo {
    pub n: usize,
    pub edges: usize,
    pub colours: u32,
    pub max_degree: usize,
    pub format: Format,
    pub graph_hash: u64,
    pub spec_hash: u64,
    /// Clocks per colour phase (1, or 2 for a 1-colour graph).
    pub clocks_per_phase: u32,
    /// Clocks from a phase's update to its energy in the E register.
    pub latency: usize,
    /// Page-copy RAMs (two read ports each).
    pub page_rams: usize,
}

impl SparseInfo {
    /// p-bit updates per clock while sweeping: n / (colours × clocks per phase).
    pub fn updates_per_clock(&self) -> f64 {
        self.n as f64 / (self.colours.max(1) * self.clocks_per_phase) as f64
    }
}

/// Checks the graph against the options; the machine's description.
pub fn sparse_info(
    graph: &SparseGraph,
    opts: &SparseOptions,
) -> Result<SparseInfo, SparseEmitError> {
    let n = graph.n();
    if n == 0 || n > MAX_SPARSE_N {
        return Err(SparseEmitError::Size {
            n,
            max: MAX_SPARSE_N,
        });
    }
    for (node, &d) in graph.degrees().iter().enumerate() {
        if d as usize > opts.max_degree {
            return Err(SparseEmitError::Degree {
                node,
                degree: d as usize,
                max_degree: opts.max_degree,
            });
        }
    }
    let colours = graph.colour_count();
    if colours > 255 {
        return Err(SparseEmitError::Colours { colours });
    }
    let format = sparse_format(opts.max_degree);
    let layout = Layout::new(graph);
    Ok(SparseInfo {
        n,
        edges: graph.edges().len(),
        colours,
        max_degree: opts.max_degree,
        format,
        graph_hash: graph.hash(),
        spec_hash: sparse_spec_hash(&format, graph),
        clocks_per_phase: if colours <= 1 { 2 } else { 1 },
        latency: tree_stages(n) + 2,
        page_rams: layout.groups,
    })
}

/// Register stages of the energy tree after the ΔE registers (the last is its output register).
fn tree_stages(n: usize) -> usize {
    let levels = usize::BITS as usize - (n.max(1) - 1).leading_zeros() as usize; // ceil(log2 n)
    levels.div_ceil(STAGE_LEVELS).max(1)
}

/// Which page-copy port serves each p-bit: colour class c's k-th p-bit (in index order) reads
/// port (group k / 2, side k % 2), so the p-bits sharing a port have different colours.
struct Layout {
    groups: usize,
    /// (group, side) of each node.
    port: Vec<(usize, usize)>,
    /// port_nodes[g][s] = (colour, node) pairs served by that port.
    port_nodes: Vec<[Vec<(u32, usize)>; 2]>,
}

impl Layout {
    fn new(graph: &SparseGraph) -> Layout {
        let c = graph.colour_count().max(1) as usize;
        let mut classes = vec![Vec::new(); c];
        for (i, &col) in graph.colours().iter().enumerate() {
            classes[col as usize].push(i);
        }
        let groups = classes
            .iter()
            .map(|v| v.len().div_ceil(2))
            .max()
            .unwrap_or(0);
        let mut port = vec![(0, 0); graph.n()];
        let mut port_nodes: Vec<[Vec<(u32, usize)>; 2]> =
            (0..groups).map(|_| [Vec::new(), Vec::new()]).collect();
        for (col, class) in classes.iter().enumerate() {
            for (k, &i) in class.iter().enumerate() {
                port[i] = (k / 2, k % 2);
                port_nodes[k / 2][k % 2].push((col as u32, i));
            }
        }
        Layout {
            groups,
            port,
            port_nodes,
        }
    }
}

/// The RAM of one page copy: port A writes (while the copies are loaded) or reads, port B reads;
/// both reads registered. yosys maps it onto one ECP5 DP16KD (or two iCE40 RAM4K).
const PAGE_RAM: &str = "\
module pbit_sparse_page #(parameter F = 13) (
    input wire clock,
    input wire we,
    input wire [6:0] addr_a,
    input wire [F-1:0] wd,
    output reg [F-1:0] rd_a,
    input wire [6:0] addr_b,
    output reg [F-1:0] rd_b
);
    (* ram_style = \"block\" *) reg [F-1:0] mem[0:127];
    always @(posedge clock) begin
        if (we) mem[addr_a] <= wd;
        rd_a <= mem[addr_a];
    end
    always @(posedge clock) rd_b <= mem[addr_b];
endmodule
";

fn bits_for(max: usize) -> usize {
    (usize::BITS - max.max(1).leading_zeros()) as usize
}

/// The Verilog of the sparse machine for `graph`: module `module_name` with the dense core's
/// ports (`clock`, `write_en`, `write_addr`, `write_data`, `read_addr`, `read_data`,
/// `sample_valid`, `sample_ready`, `busy`, `busy_other`), and its page RAM module.
pub fn emit_sparse_core(
    graph: &SparseGraph,
    opts: &SparseOptions,
    module_name: &str,
) -> Result<(String, SparseInfo), SparseEmitError> {
    let info = sparse_info(graph, opts)?;
    let v = generate(graph, opts, &info, module_name);
    Ok((v, info))
}

/// The core as the Verilator harness runs it: module `top`.
pub fn emit_sparse_verilog(
    graph: &SparseGraph,
    opts: &SparseOptions,
) -> Result<(String, SparseInfo), SparseEmitError> {
    emit_sparse_core(graph, opts, "top")
}

#[allow(clippy::needless_range_loop)]
fn generate(graph: &SparseGraph, opts: &SparseOptions, info: &SparseInfo, name: &str) -> String {
    let n = graph.n();
    let ne = graph.edges().len();
    let f = info.format.field_bits as usize;
    let jb = info.format.j_bits as usize;
    let hb = info.format.h_bits as usize;
    let c = info.colours.max(1) as usize;
    let layout = Layout::new(graph);
    let g = layout.groups;
    let words = n.div_ceil(32);
    // ΔE and recompute terms: |2I| and |I + h| < 2^F, so F + 2 bits hold them signed
    let dw = f + 2;
    let mut nbrs: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (e, &(i, j)) in graph.edges().iter().enumerate() {
        nbrs[i as usize].push((j as usize, e));
        nbrs[j as usize].push((i as usize, e));
    }
    let fmt = info.format;
    let v_format = fmt.frac_bits | fmt.j_bits << 8 | fmt.h_bits << 16 | fmt.field_bits << 24;
    let v_format2 = fmt.rng_bits | mm::MAX_PAGES << 8 | mm::ENERGY_BITS << 16;
    let v_machine = sm::machine_word(MachineKind::Sparse, info.colours, opts.max_degree as u32);
    let ctrl_reserved = !mm::CTRL_VALID;
    let hi_bits = bits_for(n.max(ne).div_ceil(32)); // index bits above the low 5 used by decoders
    let hi_count = n.max(ne).div_ceil(32);
    let stages = tree_stages(n);

    let mut o = String::new();
    macro_rules! w {
        ($($t:tt)*) => { let _ = writeln!(o, $($t)*); };
    }
    w!(
        "// pbit sparse machine: generated by pbit-hdl (hdl/src/sparse.rs) for graph {:016x}",
        info.graph_hash
    );
    w!("// n = {n}, edges = {ne}, colours = {}, max degree D = {}, field bits F = {f}, page RAMs = {g}", info.colours, opts.max_degree);
    w!("module {name}(");
    w!("    input wire clock,");
    w!("    input wire write_en,");
    w!("    input wire [31:0] write_addr,");
    w!("    input wire [31:0] write_data,");
    w!("    input wire [31:0] read_addr,");
    w!("    output reg [31:0] read_data,");
    w!("    output wire sample_valid,");
    w!("    input wire sample_ready,");
    w!("    output wire busy,");
    w!("    input wire busy_other");
    w!(");");
    w!("    function [31:0] xs32; input [31:0] x; reg [31:0] a; reg [31:0] b; begin");
    w!("        a = x ^ (x << 13); b = a ^ (a >> 17); xs32 = b ^ (b << 5); end endfunction");
    // ---- controller state
    w!("    localparam S_IDLE = 4'd0, S_RECOMP = 4'd1, S_RDRAIN = 4'd2, S_STEP = 4'd3, S_COPY = 4'd4,");
    w!("               S_PREP = 4'd5, S_SWEEP = 4'd6, S_SDRAIN = 4'd7, S_DRAIN = 4'd8;");
    w!("    reg [3:0] state = S_IDLE;");
    w!("    reg running = 1'b0;");
    w!("    reg stale = 1'b1;");
    w!("    reg [31:0] n_active = 32'd0, n_steps = 32'd0, burn_in = 32'd0, every = 32'd0;");
    w!("    reg [31:0] burn_left = 32'd0, every_left = 32'd0, sweeps_left = 32'd0;");
    w!("    reg [4:0] step = 5'd0;");
    w!("    reg [4:0] page = 5'd0;");
    w!("    reg [7:0] copy_cnt = 8'd0;");
    w!("    reg [4:0] copied_page = 5'd0;");
    w!("    reg copies_valid = 1'b0;");
    w!(
        "    reg [{}:0] phot = {c}'d1; // one-hot: the colour updating in S_SWEEP",
        c - 1
    );
    w!("    reg [63:0] clocks = 64'd0;");
    w!("    reg [31:0] sweeps = 32'd0, samples = 32'd0;");
    w!("    reg [31:0] energy = 32'd0, best_energy = 32'd0, sample_energy = 32'd0;");
    w!("    reg sample_pending = 1'b0;");
    w!("    reg bpend = 1'b0;");
    w!("    reg [31:0] sched_sweeps [0:31];");
    w!("    reg [4:0] sched_page [0:31];");
    w!("    reg [{}:0] pmem [0:4095];", f - 1);
    w!("    reg [{}:0] pmem_q;", f - 1);
    // per-node registers in per-node always blocks (one huge block over n-bit vectors makes
    // yosys's proc/opt passes slow); the vectors are wires over them
    w!(
        "    reg [{}:0] bstate = {n}'d0, sstate = {n}'d0, espins = {n}'d0;",
        n - 1
    );
    w!("    wire [{}:0] spins, clamps, act;", n - 1);
    // ---- bus decode
    w!("    wire [7:0] w_region = write_addr[31:24];");
    w!("    wire [23:0] w_index = write_addr[23:0];");
    w!("    wire [7:0] r_region = read_addr[31:24];");
    w!("    wire [23:0] r_index = read_addr[23:0];");
    w!("    wire idle = (state == S_IDLE);");
    w!("    wire wr = write_en & idle;");
    w!(
        "    wire wr_reg = wr & (w_region == 8'd{});",
        mm::REGION_REGS
    );
    w!("    wire ctrl_w = write_en & (write_addr == 32'd{}) & ((write_data & 32'h{:08x}) == 32'd0);", mm::reg(mm::REG_CTRL), ctrl_reserved);
    w!("    wire start = ctrl_w & write_data[0] & idle;");
    w!("    wire recompute = ctrl_w & write_data[1] & idle & !write_data[0];");
    w!("    wire stop = ctrl_w & write_data[2];");
    // two-level one-hot decode of the write index: low 5 bits, and the rest
    w!("    wire [31:0] wlo = 32'd1 << w_index[4:0];");
    w!("    wire [{}:0] whi;", hi_count - 1);
    for k in 0..hi_count {
        w!("    assign whi[{k}] = (w_index[23:5] == 19'd{k});");
    }
    let _ = hi_bits;
    w!("    wire [{}:0] wword;", words - 1);
    for k in 0..words {
        w!("    assign wword[{k}] = (w_index == 24'd{k});");
    }
    w!(
        "    wire wr_rng = wr & (w_region == 8'd{});",
        mm::REGION_RNG
    );
    w!("    wire wr_h = wr & (w_region == 8'd{});", mm::REGION_H);
    w!(
        "    wire wr_edge = wr & (w_region == 8'd{});",
        sm::REGION_EDGES
    );
    w!(
        "    wire wr_state = wr & (w_region == 8'd{});",
        mm::REGION_STATE
    );
    w!(
        "    wire wr_clamp = wr & (w_region == 8'd{});",
        mm::REGION_CLAMPS
    );
    w!("    wire wr_page = wr & (w_region == 8'd{}) & (w_index[23:21] == 3'd0) & (w_index[15:7] == 9'd0);", mm::REGION_PAGES);
    w!(
        "    wire wr_sched = wr & (w_region == 8'd{}) & (w_index[23:6] == 18'd0);",
        mm::REGION_SCHEDULE
    );
    // ---- phase strobes
    w!("    wire upd = (state == S_SWEEP);");
    w!("    wire recomp_clk = (state == S_RECOMP);");
    // the colour looked up this clock (for the next clock's phase)
    w!("    reg [{}:0] nxt;", c - 1);
    w!("    always @(*) begin");
    if c == 1 {
        w!("        nxt = 1'b1;");
    } else {
        w!(
            "        if (state == S_SWEEP) nxt = {{phot[{}:0], phot[{}]}};",
            c - 2,
            c - 1
        );
        w!("        else nxt = {c}'d1;");
    }
    w!("    end");
    // ---- energy pipeline tags (declared early: the controller waits on them)
    w!("    reg [1:0] tag [0:{stages}];");
    w!("    integer ti; initial for (ti = 0; ti <= {stages}; ti = ti + 1) tag[ti] = 2'd0;");
    let mut inflight = String::from("bpend");
    for k in 0..=stages {
        let _ = write!(inflight, " | (tag[{k}] != 2'd0)");
    }
    w!("    wire inflight = {inflight};");
    w!("    wire sample_blocked = sample_pending & !sample_ready;");
    w!("    wire due = (burn_left == 32'd0) & (every != 32'd0) & (every_left == 32'd1);");

    // ---- per node: generator, field, decision
    for i in 0..n {
        let (pg, ps) = layout.port[i];
        w!(
            "    // node {i}: colour {}, port ({pg}, {ps}), neighbours {:?}",
            graph.colours()[i],
            nbrs[i]
        );
        w!("    reg [31:0] rng_{i} = 32'd1;");
        w!("    wire [31:0] rs_{i} = xs32(rng_{i});");
        w!("    wire [6:0] la_{i} = rs_{i}[31] ? rs_{i}[30:24] : ~rs_{i}[30:24];");
        w!("    reg [{}:0] h_{i} = {hb}'d0;", hb - 1);
        // field terms and their tree
        let mut terms: Vec<String> =
            vec![format!("{{{{{}{{h_{i}[{}]}}}}, h_{i}}}", f - hb, hb - 1)];
        for &(j, e) in &nbrs[i] {
            terms.push(format!("t_{i}_{e}"));
            w!(
                "    wire [{}:0] jx_{i}_{e} = {{{{{}{{j_{e}[{}]}}}}, j_{e}}};",
                f - 1,
                f - jb,
                jb - 1
            );
            w!(
                "    wire [{}:0] t_{i}_{e} = spins[{j}] ? jx_{i}_{e} : -jx_{i}_{e};",
                f - 1
            );
        }
        w!("    wire [{}:0] fld_{i} = {};", f - 1, balanced(&terms));
        w!("    wire [{}:0] th_{i} = th_{pg}_{ps};", f - 1);
        w!(
            "    wire gt_{i} = (fld_{i} ^ {f}'d{}) > (th_{i} ^ {f}'d{});",
            1u64 << (f - 1),
            1u64 << (f - 1)
        );
        w!("    wire mnew_{i} = clamps[{i}] ? spins[{i}] : gt_{i};");
        w!(
            "    wire en_{i} = upd & phot[{}] & act[{i}];",
            graph.colours()[i]
        );
        // ΔE = −2·m_new·I on a flip; recompute term −m·(I + h)
        w!(
            "    wire [{}:0] fx_{i} = {{{{2{{fld_{i}[{}]}}}}, fld_{i}}};",
            dw - 1,
            f - 1
        );
        w!(
            "    wire [{}:0] ihx_{i} = fx_{i} + {{{{{}{{h_{i}[{}]}}}}, h_{i}}};",
            dw - 1,
            dw - hb,
            hb - 1
        );
        w!("    reg [{}:0] d_{i} = {dw}'d0;", dw - 1);
    }
    // ---- edges
    for e in 0..ne {
        w!("    reg [{}:0] j_{e} = {jb}'d0;", jb - 1);
    }
    // ---- page RAMs
    w!("    wire copy_we = (state == S_COPY) & (copy_cnt != 8'd0);");
    w!("    wire [6:0] copy_addr = copy_cnt[6:0] - 7'd1;");
    for gi in 0..g {
        for s in 0..2 {
            let mut addr = String::new();
            let mut inv = String::new();
            for &(col, node) in &layout.port_nodes[gi][s] {
                if !addr.is_empty() {
                    addr.push_str(" | ");
                    inv.push_str(" | ");
                }
                let _ = write!(addr, "({{7{{nxt[{col}]}}}} & la_{node})");
                let _ = write!(inv, "(nxt[{col}] & !rs_{node}[31])");
            }
            if addr.is_empty() {
                addr = "7'd0".into();
                inv = "1'b0".into();
            }
            w!("    wire [6:0] pa_{gi}_{s} = {addr};");
            w!("    reg inv_{gi}_{s} = 1'b0;");
            w!("    always @(posedge clock) inv_{gi}_{s} <= {inv};");
            w!("    wire [{}:0] rd_{gi}_{s};", f - 1);
            w!(
                "    wire [{}:0] th_{gi}_{s} = rd_{gi}_{s} ^ {{{f}{{inv_{gi}_{s}}}}};",
                f - 1
            );
        }
        w!("    pbit_sparse_page #(.F({f})) page_{gi}(.clock(clock), .we(copy_we), .addr_a(copy_we ? copy_addr : pa_{gi}_0), .wd(pmem_q), .rd_a(rd_{gi}_0), .addr_b(pa_{gi}_1), .rd_b(rd_{gi}_1));");
    }

    // ---- the energy tree over all d_i
    let mut level: Vec<(String, usize)> = (0..n).map(|i| (format!("d_{i}"), dw)).collect();
    let mut lvl = 0usize;
    let mut stage = 0usize;
    let mut tree = String::new();
    while level.len() > 1 {
        lvl += 1;
        let reg_here = lvl.is_multiple_of(STAGE_LEVELS);
        let mut next = Vec::new();
        for (k, pair) in level.chunks(2).enumerate() {
            let width = pair.iter().map(|p| p.1).max().unwrap() + 1;
            let name = format!("s{lvl}_{k}");
            let sx = |p: &(String, usize)| {
                format!("{{{{{}{{{}[{}]}}}}, {}}}", width - p.1, p.0, p.1 - 1, p.0)
            };
            let expr = if pair.len() == 2 {
                format!("{} + {}", sx(&pair[0]), sx(&pair[1]))
            } else {
                sx(&pair[0])
            };
            if reg_here && level.len() > 2 {
                let _ = writeln!(tree, "    reg [{}:0] {name} = {width}'d0;", width - 1);
                let _ = writeln!(tree, "    always @(posedge clock) {name} <= {expr};");
            } else {
                let _ = writeln!(tree, "    wire [{}:0] {name} = {expr};", width - 1);
            }
            next.push((name, width));
        }
        if reg_here && next.len() > 1 {
            stage += 1;
        }
        level = next;
    }
    o.push_str(&tree);
    // the output register is the last stage
    let (top_name, top_w) = level.pop().unwrap();
    assert_eq!(stage + 1, stages, "tree stages");
    w!("    reg [31:0] tsum = 32'd0;");
    w!(
        "    always @(posedge clock) tsum <= {{{{{}{{{top_name}[{}]}}}}, {top_name}}};",
        32 - top_w.min(32),
        top_w - 1
    );
    // tags and state history follow the register stages: tag[0] with d, tag[k] with stage k
    w!("    reg [{}:0] hist [1:{stages}];", n - 1);
    w!("    always @(posedge clock) begin");
    w!("        tag[0] <= {{recomp_clk, upd}};");
    w!("        tag[1] <= tag[0]; hist[1] <= spins;");
    for k in 2..=stages {
        w!(
            "        tag[{k}] <= tag[{}]; hist[{k}] <= hist[{}];",
            k - 1,
            k - 1
        );
    }
    w!("    end");

    // ---- sequential logic of the nodes, one always block each
    for i in 0..n {
        let (wd, b) = (i / 32, i % 32);
        w!("    reg spin_{i} = 1'b0, clamp_{i} = 1'b0, act_{i} = 1'b0;");
        w!("    assign spins[{i}] = spin_{i}; assign clamps[{i}] = clamp_{i}; assign act[{i}] = act_{i};");
        w!("    always @(posedge clock) begin");
        // act_i = n_active > i, i = 32w + b
        w!("        act_{i} <= (n_active[31:5] > 27'd{wd}) | ((n_active[31:5] == 27'd{wd}) & (n_active[4:0] > 5'd{b}));");
        w!("        if (en_{i}) begin rng_{i} <= rs_{i}; spin_{i} <= mnew_{i}; end");
        w!("        else if (wr_rng & whi[{wd}] & wlo[{b}]) rng_{i} <= write_data;");
        w!("        if (wr_state & wword[{wd}]) spin_{i} <= write_data[{b}];");
        w!("        if (wr_clamp & wword[{wd}]) clamp_{i} <= write_data[{b}];");
        w!("        if (en_{i}) d_{i} <= (mnew_{i} != spin_{i}) ? (mnew_{i} ? -{{fx_{i}[{}:0], 1'b0}} : {{fx_{i}[{}:0], 1'b0}}) : {dw}'d0;", dw - 2, dw - 2);
        w!("        else if (recomp_clk & act_{i}) d_{i} <= spin_{i} ? -ihx_{i} : ihx_{i};");
        w!("        else d_{i} <= {dw}'d0;");
        w!(
            "        if (wr_h & whi[{wd}] & wlo[{b}]) h_{i} <= write_data[{}:0];",
            hb - 1
        );
        w!("    end");
    }
    for e in 0..ne {
        w!("    always @(posedge clock) if (wr_edge & whi[{}] & wlo[{}]) j_{e} <= write_data[{}:0];", e / 32, e % 32, jb - 1);
    }

    // ---- pages, schedule, registers
    w!("    always @(posedge clock) begin");
    w!("        if (wr_page) begin pmem[{{w_index[20:16], w_index[6:0]}}] <= write_data[{}:0]; copies_valid <= 1'b0; end", f - 1);
    w!("        pmem_q <= pmem[{{page, copy_cnt[6:0]}}];");
    w!("        if (wr_sched & !w_index[0]) sched_sweeps[w_index[5:1]] <= write_data;");
    w!("        if (wr_sched & w_index[0]) sched_page[w_index[5:1]] <= write_data[4:0];");
    w!(
        "        if (wr_reg & (w_index == 24'd{})) n_active <= write_data;",
        mm::REG_N_ACTIVE
    );
    w!(
        "        if (wr_reg & (w_index == 24'd{})) n_steps <= write_data;",
        mm::REG_N_STEPS
    );
    w!(
        "        if (wr_reg & (w_index == 24'd{})) burn_in <= write_data;",
        mm::REG_BURN_IN
    );
    w!(
        "        if (wr_reg & (w_index == 24'd{})) every <= write_data;",
        mm::REG_EVERY
    );
    w!("        if (wr_h | wr_edge | wr_state | wr_clamp) stale <= 1'b1;");
    w!("        if (state != S_IDLE || busy_other) clocks <= clocks + 64'd1;");
    w!("        if (sample_pending & sample_ready) sample_pending <= 1'b0;");
    // energy: the tree's output
    w!("        bpend <= 1'b0;");
    w!("        if (tag[{stages}][0]) begin energy <= energy + tsum; espins <= hist[{stages}]; bpend <= 1'b1; end");
    w!("        if (tag[{stages}][1]) begin");
    w!("            energy <= {{tsum[31], tsum[31:1]}}; best_energy <= {{tsum[31], tsum[31:1]}};");
    w!("            espins <= hist[{stages}]; bstate <= hist[{stages}]; stale <= 1'b0;");
    w!("        end");
    w!("        if (bpend & ((energy ^ 32'h80000000) < (best_energy ^ 32'h80000000))) begin");
    w!("            best_energy <= energy; bstate <= espins;");
    w!("        end");
    // controller
    w!("        case (state)");
    w!("        S_IDLE: begin");
    w!("            if (start) begin");
    w!("                sample_pending <= 1'b0;");
    w!("                burn_left <= burn_in; every_left <= every; step <= 5'd0; running <= 1'b1;");
    w!("                state <= stale ? S_RECOMP : S_STEP;");
    w!("            end else if (recompute) begin running <= 1'b0; state <= S_RECOMP; end");
    w!("        end");
    w!("        S_RECOMP: state <= S_RDRAIN;");
    w!("        S_RDRAIN: if (!inflight && !recomp_clk) state <= running ? S_STEP : S_IDLE;");
    w!("        S_STEP: begin");
    w!("            page <= sched_page[step]; sweeps_left <= sched_sweeps[step]; copy_cnt <= 8'd0;");
    w!("            if (sched_sweeps[step] == 32'd0) begin");
    w!("                if (step == n_steps[4:0] - 5'd1) state <= S_DRAIN; else step <= step + 5'd1;");
    w!("            end else if (copies_valid && copied_page == sched_page[step]) state <= S_PREP;");
    w!("            else state <= S_COPY;");
    w!("        end");
    w!("        S_COPY: begin");
    w!("            copy_cnt <= copy_cnt + 8'd1;");
    w!("            if (copy_cnt == 8'd{PAGE_HALF}) begin copied_page <= page; copies_valid <= 1'b1; state <= S_PREP; end");
    w!("        end");
    w!("        S_PREP: begin phot <= {c}'d1; state <= S_SWEEP; end");
    w!("        S_SWEEP: begin");
    w!("            if (phot[{}]) begin", c - 1);
    // end of a sweep
    w!("                sweeps <= sweeps + 32'd1;");
    w!("                if (burn_left != 32'd0) burn_left <= burn_left - 32'd1;");
    w!("                else if (every != 32'd0) every_left <= (every_left == 32'd1) ? every : every_left - 32'd1;");
    w!("                if (due) state <= S_SDRAIN;");
    w!("                else if (sweeps_left == 32'd1) begin");
    w!("                    if (step == n_steps[4:0] - 5'd1) state <= S_DRAIN; else begin step <= step + 5'd1; state <= S_STEP; end");
    w!("                end else begin");
    w!("                    sweeps_left <= sweeps_left - 32'd1;");
    if c == 1 {
        w!("                    state <= S_PREP;");
    } else {
        w!("                    phot <= {c}'d1;");
    }
    w!("                end");
    if c > 1 {
        w!("            end else phot <= {{phot[{}:0], 1'b0}};", c - 2);
    } else {
        w!("            end");
    }
    w!("        end");
    w!("        S_SDRAIN: begin");
    w!("            if (!inflight && !upd && !sample_blocked) begin");
    w!("                sample_pending <= 1'b1; sample_energy <= energy; sstate <= spins; samples <= samples + 32'd1;");
    w!("                if (sweeps_left == 32'd1) begin");
    w!("                    if (step == n_steps[4:0] - 5'd1) state <= S_DRAIN; else begin step <= step + 5'd1; state <= S_STEP; end");
    w!("                end else begin sweeps_left <= sweeps_left - 32'd1; state <= S_PREP; end");
    w!("            end");
    w!("        end");
    w!("        S_DRAIN: if (!inflight && !upd) state <= S_IDLE;");
    w!("        default: state <= S_IDLE;");
    w!("        endcase");
    w!("        if (stop) state <= S_IDLE;");
    w!("    end");
    w!("    assign busy = !idle;");
    w!("    assign sample_valid = sample_pending;");

    // ---- reads (registered)
    w!("    always @(posedge clock) begin");
    w!("        read_data <= 32'd0;");
    w!("        if (r_region == 8'd{}) begin", mm::REGION_REGS);
    w!("            case (r_index)");
    let regs: Vec<(u32, String)> = vec![
        (mm::REG_MAGIC, format!("32'h{:08x}", mm::MAGIC)),
        (mm::REG_N, format!("32'd{n}")),
        (mm::REG_FORMAT, format!("32'h{v_format:08x}")),
        (mm::REG_FORMAT2, format!("32'h{v_format2:08x}")),
        (
            mm::REG_SPEC_HASH_LO,
            format!("32'h{:08x}", info.spec_hash as u32),
        ),
        (
            mm::REG_SPEC_HASH_HI,
            format!("32'h{:08x}", (info.spec_hash >> 32) as u32),
        ),
        (
            mm::REG_STATUS,
            "{29'd0, stale, sample_pending, !idle}".into(),
        ),
        (mm::REG_N_ACTIVE, "n_active".into()),
        (mm::REG_N_STEPS, "n_steps".into()),
        (mm::REG_BURN_IN, "burn_in".into()),
        (mm::REG_EVERY, "every".into()),
        (mm::REG_ENERGY, "energy".into()),
        (mm::REG_BEST_ENERGY, "best_energy".into()),
        (mm::REG_SAMPLE_ENERGY, "sample_energy".into()),
        (mm::REG_CLOCKS_LO, "clocks[31:0]".into()),
        (mm::REG_CLOCKS_HI, "clocks[63:32]".into()),
        (mm::REG_SWEEPS, "sweeps".into()),
        (mm::REG_SAMPLES, "samples".into()),
        (sm::REG_MACHINE, format!("32'h{v_machine:08x}")),
        (
            sm::REG_GRAPH_HASH_LO,
            format!("32'h{:08x}", info.graph_hash as u32),
        ),
        (
            sm::REG_GRAPH_HASH_HI,
            format!("32'h{:08x}", (info.graph_hash >> 32) as u32),
        ),
    ];
    for (a, v) in regs {
        w!("            24'd{a}: read_data <= {v};");
    }
    w!("            default: read_data <= 32'd0;");
    w!("            endcase");
    w!("        end");
    for (region, vec) in [
        (mm::REGION_STATE, "spins"),
        (mm::REGION_CLAMPS, "clamps"),
        (mm::REGION_BEST_STATE, "bstate"),
        (mm::REGION_SAMPLE, "sstate"),
    ] {
        w!("        if (r_region == 8'd{region}) begin");
        w!("            case (r_index)");
        for wd in 0..words {
            let hi = (32 * wd + 31).min(n - 1);
            let width = hi - 32 * wd + 1;
            if width == 32 {
                w!(
                    "            24'd{wd}: read_data <= {vec}[{hi}:{}];",
                    32 * wd
                );
            } else {
                w!(
                    "            24'd{wd}: read_data <= {{{}'d0, {vec}[{hi}:{}]}};",
                    32 - width,
                    32 * wd
                );
            }
        }
        w!("            default: read_data <= 32'd0;");
        w!("            endcase");
        w!("        end");
    }
    if opts.readback {
        w!(
            "        if (r_region == 8'd{} && idle) begin",
            mm::REGION_RNG
        );
        w!("            case (r_index)");
        for i in 0..n {
            w!("            24'd{i}: read_data <= rng_{i};");
        }
        w!("            default: read_data <= 32'd0;");
        w!("            endcase");
        w!("        end");
        w!(
            "        if (r_region == 8'd{} && idle) begin",
            mm::REGION_FIELD
        );
        w!("            case (r_index)");
        for i in 0..n {
            w!(
                "            24'd{i}: read_data <= {{{{{}{{fld_{i}[{}]}}}}, fld_{i}}};",
                32 - f,
                f - 1
            );
        }
        w!("            default: read_data <= 32'd0;");
        w!("            endcase");
        w!("        end");
    }
    w!("    end");
    w!("endmodule");
    o.push_str(PAGE_RAM);
    // zero-width concatenations are illegal: a full 32-bit word has no padding
    o.replace("{0'd0, ", "{")
}

/// A balanced sum of `terms` (an adder tree rather than a chain).
fn balanced(terms: &[String]) -> String {
    match terms.len() {
        0 => "0".into(),
        1 => terms[0].clone(),
        k => format!(
            "({} + {})",
            balanced(&terms[..k / 2]),
            balanced(&terms[k / 2..])
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: u32) -> SparseGraph {
        let edges = SparseGraph::canonical_edges((0..n).map(|i| (i, (i + 1) % n)));
        SparseGraph::new(n as usize, edges, (0..n).map(|i| i % 2).collect()).unwrap()
    }

    #[test]
    fn emits_and_describes_the_machine() {
        let g = ring(8);
        let opts = SparseOptions {
            max_degree: 2,
            readback: true,
        };
        let (v, info) = emit_sparse_verilog(&g, &opts).unwrap();
        assert!(v.contains("module top("));
        assert!(v.contains("module pbit_sparse_page"));
        assert_eq!(info.colours, 2);
        assert_eq!(info.updates_per_clock(), 4.0);
        assert_eq!(info.page_rams, 2);
        assert_eq!(info.format, sparse_format(2));
        // one edge register per edge, one generator per node
        assert_eq!(v.matches("reg [8:0] j_").count(), 8);
        assert_eq!(v.matches("reg [31:0] rng_").count(), 8);
    }

    #[test]
    fn refuses_a_degree_beyond_the_build() {
        let e = sparse_info(
            &ring(6),
            &SparseOptions {
                max_degree: 1,
                readback: false,
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            SparseEmitError::Degree {
                node: 0,
                degree: 2,
                max_degree: 1
            }
        );
        assert!(e.to_string().contains("D = 1"));
    }
}
