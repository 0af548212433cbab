//! The sparse, graph-coloured machine: Verilog generated from a built graph
//! ([`pbit_spec::sparse::SparseGraph`]) — one update cell per p-bit, its neighbours wired in,
//! one colour phase per clock; or ([`SparseOptions::lanes`]) L time-multiplexed update lanes,
//! a colour's p-bits L at a time, each lane's inputs a small multiplexer over the p-bits it
//! serves (docs/hdl.md, "Update lanes"). The text below describes a cell; a lane is the same
//! cell behind its multiplexer.
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
//! * generator: xorshift32 in 32 flip-flops per p-bit, holding its next state s = step(x), so
//!   the next draw u = s >> 24 is known before the update (it does not depend on the state);
//!   an update stores step(s); the RNG region reads step⁻¹(s) and a write stores step(word);
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
//! # Lane memories
//! With lanes and ≥ 3 clocks a sweep, a lane keeps the generators, biases and couplings of the
//! p-bits it serves in memories with one entry per slot (yosys maps them to LUT RAM, ECP5
//! `DPR16X4`, or block RAM), instead of per-p-bit flip-flops behind a T-way multiplexer: the
//! generator entry is read two clocks before its update (its draw addresses the page a clock
//! ahead) and written back stepped in the update's clock; bias and couplings are read a clock
//! ahead. Only the one-bit signals (the neighbours' states, clamp, active) are still selected by
//! the slot. A bus write of a generator, bias or coupling is decoded by two ROMs (a node's lane
//! and slot; an edge's lane, slot and neighbour position at both ends) and lands three clocks
//! late (the ROM's read, its flip-flop copy, then each lane's registered hit; four with many
//! lanes, whose ROM outputs pass one more flip-flop before they fan out), so a run that
//! recomputes the energy first waits as long (`S_BEGIN4`, `S_BEGIN3`, `S_BEGIN2`, `S_BEGIN`). Each neighbour position
//! is a memory of its own, and the positions are placed so that an edge whose two ends share a
//! lane writes two different memories.
//!
//! # Two-stage lanes
//! With lane memories and ≥ [`PIPELINE_MIN_LANES`] lanes a lane updates in two clocks: the
//! field into a register, then the compare, the state write and ΔE (the threshold looked up
//! a clock before stage 1 and registered in the lane in stage 1). A slot's inputs are then selected two clocks before its
//! state is written, so the planner orders the slots so that none reads either of the two
//! before it (`two_ahead_slots`); where it finds no such order, it keeps only the one-ahead
//! rule and a lane reads a neighbour of the slot two before from that neighbour's next state
//! (`fw_j`: the value its lane writes in the clock the inputs are selected; `Plan::forward`).
//! The energy latency is a clock longer. docs/hdl.md, "Two-stage lanes".
//!
//! # Timing
//! A sweep is C clocks (one per colour; 2 when C = 1, where each phase needs its lookup clock
//! first); a schedule step adds its fetch and lookup clocks (and 129 clocks when it changes the
//! page; memory lanes add three clocks to a recompute, see below); a
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
/// Memory lanes from this many on update in two pipeline stages (`SparseInfo::lane_stages`):
/// the field tree in one clock, the threshold compare, the state write and ΔE in the next. A
/// stage costs ≈ 30 flip-flops a lane; the small boards' machines (the iCEBreaker's two lanes)
/// are bound by their cells, the large ones by the update's clock.
pub const PIPELINE_MIN_LANES: usize = 16;

/// How to generate a sparse machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseOptions {
    /// The maximum degree D the machine is built for (≥ the graph's; sets the field width).
    pub max_degree: usize,
    /// Whether the RNG and field regions are readable (an N-way multiplexer each: tests and
    /// Verilator builds want them, boards save the LUTs; without, they read 0).
    pub readback: bool,
    /// Update lanes: None = one update cell per p-bit (a colour phase per clock); Some(L) = L
    /// time-multiplexed lanes, a colour's p-bits L at a time (⌈|colour| / L⌉ clocks a phase).
    pub lanes: Option<usize>,
    /// On-chip statistics (`crate::sparse_stats`): Some(bits) keeps a counter of `bits` (1..=32)
    /// per p-bit and per edge, added to on every sample; None (boards by default) builds none.
    pub stats: Option<u32>,
    /// Two-stage lanes keep their couplings in block-RAM banks, three for each pair of lanes
    /// at D = 6 (`pbit hdl build --coupling-banks`; docs/hdl.md "Coupling banks"), instead of
    /// LUT RAM: ≈ 24% fewer LUT sites on the 86-lane glass, but its routing then stalled at the
    /// block-RAM rows (docs/boards.md), so LUT RAM stays the default.
    pub coupling_banks: bool,
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
    #[error("a sparse machine needs at least 1 update lane, not {lanes}")]
    Lanes { lanes: usize },
    #[error("statistics counters are 1 to {max} bits wide, not {bits}")]
    StatsBits { bits: u32, max: u32 },
    #[error(
        "edge {edge} ({i}, {j}) joins two p-bits of lane {lane} and no pair of distinct \
         neighbour positions below D = {max_degree} is free for it; build with more lanes or a \
         larger --max-degree"
    )]
    Placement {
        edge: usize,
        i: usize,
        j: usize,
        lane: usize,
        max_degree: usize,
    },
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
    /// Clocks of the longest colour phase: ⌈max |colour| / L⌉ with L lanes, 1 without (2 when
    /// a sweep is a single clock, which needs its lookup clock first).
    pub clocks_per_phase: u32,
    /// Clocks per sweep: Σ over colours of ⌈|colour| / L⌉ (at least 1 each), or C without
    /// lanes (2 when that is 1).
    pub clocks_per_sweep: u32,
    /// Update lanes (None: one cell per p-bit) and the number of update cells generated.
    pub lanes: Option<usize>,
    pub cells: usize,
    /// Clocks from a phase's update to its energy in the E register.
    pub latency: usize,
    /// Page-copy RAMs (two read ports each).
    pub page_rams: usize,
    /// Whether the lanes keep their p-bits' generators, biases and couplings in per-lane
    /// memories indexed by the slot (true with lanes and ≥ 3 clocks a sweep) rather than in
    /// per-p-bit flip-flops behind a multiplexer.
    pub lane_memories: bool,
    /// Clocks of a lane's update: 2 with lane memories and ≥ [`PIPELINE_MIN_LANES`] lanes
    /// (the field, then the compare and write; the slots are then ordered so that no slot
    /// reads either of the two before it), else 1.
    pub lane_stages: usize,
}

impl SparseInfo {
    /// p-bit updates per clock while sweeping: n / clocks per sweep (= n / (colours × clocks
    /// per phase) when every colour takes as many clocks).
    pub fn updates_per_clock(&self) -> f64 {
        self.n as f64 / self.clocks_per_sweep as f64
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
    if opts.lanes == Some(0) {
        return Err(SparseEmitError::Lanes { lanes: 0 });
    }
    if let Some(bits) = opts.stats {
        if bits == 0 || bits > crate::sparse_stats::MAX_STATS_BITS {
            return Err(SparseEmitError::StatsBits {
                bits,
                max: crate::sparse_stats::MAX_STATS_BITS,
            });
        }
    }
    let format = sparse_format(opts.max_degree);
    let plan = Plan::new(graph, opts.lanes);
    plan.layout(graph, opts.max_degree, format.j_bits, opts.coupling_banks)?;
    let longest = (0..plan.slots)
        .map(|s| {
            plan.slot_colour
                .iter()
                .filter(|&&c| c == plan.slot_colour[s])
                .count()
        })
        .max()
        .unwrap_or(1);
    Ok(SparseInfo {
        n,
        edges: graph.edges().len(),
        colours,
        max_degree: opts.max_degree,
        format,
        graph_hash: graph.hash(),
        spec_hash: sparse_spec_hash(&format, graph),
        clocks_per_phase: if plan.slots <= 1 { 2 } else { longest as u32 },
        clocks_per_sweep: plan.clocks_per_sweep() as u32,
        lanes: opts.lanes,
        cells: plan.lanes.len(),
        latency: tree_stages(plan.lanes.len())
            + 2
            + usize::from(plan.pipelined)
            + usize::from(plan.lanes_late(n)),
        page_rams: plan.groups(),
        lane_memories: plan.memories(),
        lane_stages: 1 + usize::from(plan.pipelined),
    })
}

/// Register stages of the energy tree after the ΔE registers (the last is its output register).
fn tree_stages(n: usize) -> usize {
    let levels = usize::BITS as usize - (n.max(1) - 1).leading_zeros() as usize; // ceil(log2 n)
    levels.div_ceil(STAGE_LEVELS).max(1)
}

/// Coupling positions to a block-RAM bank: a bank word is 4 bytes of 9 bits, the ECP5
/// block RAM's widest port (PDPW16KD, 36 bits) with a write enable per byte, so a bus write
/// of one coupling writes only its own byte.
const COUPLING_BANK_BYTES: usize = 4;
/// Bits of a bank byte (the block RAM's byte; couplings of at most this many bits are banked).
const COUPLING_BYTE_BITS: usize = 9;

/// The bank and byte of lane `l`'s neighbour position `k` (of `width` positions a lane) when
/// the couplings are banked: lanes 2p and 2p + 1 share ⌈2·width / 4⌉ banks (the D = 6 glass:
/// 3 block RAMs for 2 lanes, where LUT RAM took 36 DPR16X4 of ≈ 6.8 LUT sites), their
/// positions interleaved (position k of the pair's lane h is byte 2k + h of the pair's bytes),
/// so each lane has positions in every bank of its pair and an edge inside a lane can put
/// its two ends in two banks. Both lanes read one address (their slot counters agree).
fn coupling_bank(l: usize, k: usize, width: usize) -> (usize, usize) {
    let per_pair = (2 * width).div_ceil(COUPLING_BANK_BYTES);
    let f = 2 * k + l % 2;
    (
        (l / 2) * per_pair + f / COUPLING_BANK_BYTES,
        f % COUPLING_BANK_BYTES,
    )
}

/// Each node's lane inputs by neighbour position: Some((neighbour, edge)) or None.
type Positions = Vec<Vec<Option<(usize, usize)>>>;

/// How the p-bits map onto update lanes and clocks: a sweep is `slots` clocks (each colour's
/// p-bits, L at a time: ⌈|colour| / L⌉ clocks, at least 1); lane l serves the p-bits listed in
/// `lanes[l]` as (slot, node). Without lanes every p-bit is its own lane, updating in its
/// colour's clock (one clock per colour). A page-copy read port serves one lane per clock:
/// with lanes, lane l has port l; without, at each slot the p-bits that update get ports 0,
/// 1, … in index order, so a port is shared only by p-bits that never update in the same
/// clock.
struct Plan {
    slots: usize,
    /// Whether a slot is the last of its colour's phase.
    phase_end: Vec<bool>,
    /// The colour each slot updates.
    slot_colour: Vec<u32>,
    lanes: Vec<Vec<(usize, usize)>>,
    /// (lane, slot) of each node.
    node_at: Vec<(usize, usize)>,
    /// The port of each lane's entries (parallel to `lanes`).
    lane_port: Vec<Vec<usize>>,
    /// (slot, node) pairs served by each port.
    ports: Vec<Vec<(usize, usize)>>,
    /// Whether the memory lanes update in two stages (inputs selected two clocks before the
    /// update's write: no slot reads either of the two slots before it, or see `forward`).
    pipelined: bool,
    /// Two-stage lanes whose slots may read the slot two before them: such a neighbour's
    /// state is selected from the value its lane writes in that clock (`fw_j`, the state's
    /// next value), not from its flip-flop. Set where no order without such reads is found
    /// (`two_ahead_slots`); the slots then only keep the one-ahead rule (`hazard_free_slots`).
    forward: bool,
}

impl Plan {
    fn new(graph: &SparseGraph, lanes: Option<usize>) -> Plan {
        let c = graph.colour_count().max(1) as usize;
        let mut classes = vec![Vec::new(); c];
        for (i, &col) in graph.colours().iter().enumerate() {
            classes[col as usize].push(i);
        }
        let mut phase_end = Vec::new();
        let mut slot_colour = Vec::new();
        let mut lane_list: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut node_at = vec![(0, 0); graph.n()];
        let mut pipelined = false;
        let mut forward = false;
        match lanes {
            None => {
                for col in 0..c {
                    phase_end.push(true);
                    slot_colour.push(col as u32);
                }
                for (i, &col) in graph.colours().iter().enumerate() {
                    node_at[i] = (i, col as usize);
                    lane_list.push(vec![(col as usize, i)]);
                }
            }
            Some(l) => {
                let l = l.max(1);
                // a colour's p-bits L at a time: ⌈|colour| / L⌉ slots (at least 1)
                let chunks: Vec<Vec<Vec<usize>>> = classes
                    .iter()
                    .map(|class| {
                        let k = class.len().div_ceil(l).max(1);
                        (0..k)
                            .map(|s| {
                                class[(s * l).min(class.len())..((s + 1) * l).min(class.len())]
                                    .to_vec()
                            })
                            .collect()
                    })
                    .collect();
                let plain_slots: usize = chunks.iter().map(Vec::len).sum();
                let width = classes
                    .iter()
                    .map(Vec::len)
                    .max()
                    .unwrap_or(1)
                    .min(l)
                    .max(1);
                // memory lanes select a slot's one-bit inputs a clock ahead (`Plan::memories`):
                // their slots are ordered so no slot reads the one before it
                let ordered = width < graph.n() && plain_slots >= 3;
                pipelined = ordered && width >= PIPELINE_MIN_LANES;
                let phases = if pipelined {
                    two_ahead_slots(graph, &classes, l).unwrap_or_else(|| {
                        forward = true;
                        hazard_free_slots(graph, &classes, l)
                    })
                } else if ordered {
                    hazard_free_slots(graph, &classes, l)
                } else {
                    chunks
                };
                let phases = local_lanes(graph, &phases, width);
                lane_list = vec![Vec::new(); width];
                for (col, slots) in phases.iter().enumerate() {
                    for (s, nodes) in slots.iter().enumerate() {
                        let slot = phase_end.len();
                        phase_end.push(s + 1 == slots.len());
                        slot_colour.push(col as u32);
                        for &(lane, i) in nodes {
                            node_at[i] = (lane, slot);
                            lane_list[lane].push((slot, i));
                        }
                    }
                }
            }
        }
        let slots = phase_end.len();
        let mut active = vec![0usize; slots];
        let mut ports: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut lane_port = Vec::new();
        for (l, entries) in lane_list.iter().enumerate() {
            let mut lp = Vec::new();
            for &(slot, node) in entries {
                // update lanes keep one port (their own), so no lane selects its threshold
                // among ports when a slot leaves some lanes idle (`local_lanes` spreads them)
                let p = if lanes.is_some() {
                    l
                } else {
                    active[slot] += 1;
                    active[slot] - 1
                };
                if ports.len() <= p {
                    ports.push(Vec::new());
                }
                ports[p].push((slot, node));
                lp.push(p);
            }
            lane_port.push(lp);
        }
        Plan {
            slots,
            phase_end,
            slot_colour,
            lanes: lane_list,
            node_at,
            lane_port,
            ports,
            pipelined,
            forward,
        }
    }

    /// Whether p-bit i's lane reads neighbour j's state forwarded (`forward`): j's slot is the
    /// second before i's, cyclically, so j's state is written in the clock i's inputs are
    /// selected.
    fn forwarded(&self, i: usize, j: usize) -> bool {
        let (si, sj) = (self.node_at[i].1, self.node_at[j].1);
        self.forward && (si + self.slots - sj) % self.slots == 2
    }

    fn groups(&self) -> usize {
        self.ports.len().div_ceil(2)
    }

    /// Whether the lanes run a clock behind the controller (two-stage lanes of a machine of
    /// more than one state word: see the emitter's `lane_late`).
    fn lanes_late(&self, n: usize) -> bool {
        n > 32 && self.memories() && self.pipelined
    }

    /// The fewest clocks between two colour phases' ends (a sweep repeats, so the first phase
    /// follows the last).
    fn shortest_phase(&self) -> usize {
        let ends: Vec<usize> = (0..self.slots).filter(|&k| self.phase_end[k]).collect();
        match ends.as_slice() {
            [] => self.slots,
            [_] => self.slots,
            _ => {
                let wrap = ends[0] + self.slots - ends[ends.len() - 1];
                ends.windows(2).map(|w| w[1] - w[0]).fold(wrap, usize::min)
            }
        }
    }

    /// Whether lanes keep their p-bits' data in memories indexed by the slot. A generator is
    /// read two clocks before its update (the draw addresses the page a clock ahead) and
    /// written back in the update's clock, so a sweep needs ≥ 3 slots for a read never to meet
    /// the write of the same entry.
    fn memories(&self) -> bool {
        self.lanes.len() < self.node_at.len() && self.slots >= 3
    }

    /// Whether banks may hold the couplings ([`COUPLING_BANK_BYTES`] positions of two lanes to
    /// a bank, `emit_coupling_banks`) rather than a LUT RAM per position: when `asked`
    /// ([`SparseOptions::coupling_banks`]), with two-stage lanes (many lanes, where LUT RAM
    /// costs most) and couplings that fit a bank's byte.
    fn banks_wanted(&self, j_bits: u32, asked: bool) -> bool {
        asked && self.pipelined && j_bits as usize <= COUPLING_BYTE_BITS
    }

    /// The layout of the couplings: each node's neighbour positions, and whether they sit in
    /// block-RAM banks (asked for, `banks`, and [`Plan::banks_wanted`]; where no bank
    /// placement exists, LUT RAM).
    fn layout(
        &self,
        graph: &SparseGraph,
        max_degree: usize,
        j_bits: u32,
        banks: bool,
    ) -> Result<(Positions, bool), SparseEmitError> {
        if self.banks_wanted(j_bits, banks) {
            if let Ok(pos) = self.positions(graph, max_degree, true) {
                return Ok((pos, true));
            }
        }
        Ok((self.positions(graph, max_degree, false)?, false))
    }

    /// Each node's neighbours by position: `pos[i][k]` = Some((j, e)) when neighbour j (edge e)
    /// feeds input k of i's lane. With lane memories each position of a lane is a memory of its
    /// own with one write port (or, `banked`, a byte of a block-RAM bank, [`coupling_bank`]),
    /// and a bus write of edge e writes both ends in the same clock: the two ends must write
    /// two different memories. The edges whose ends could meet in one memory (ends in one lane,
    /// or, banked, in one pair of lanes) are placed first (greedy); the rest take each end's
    /// first free position. Without lane memories the positions are the neighbours in edge
    /// order.
    fn positions(
        &self,
        graph: &SparseGraph,
        max_degree: usize,
        banked: bool,
    ) -> Result<Positions, SparseEmitError> {
        let n = graph.n();
        let width = graph
            .degrees()
            .iter()
            .map(|&d| d as usize)
            .max()
            .unwrap_or(0)
            .max(max_degree);
        let mut pos: Positions = vec![vec![None; width]; n];
        let edges = graph.edges();
        if !self.memories() {
            for (e, &(i, j)) in edges.iter().enumerate() {
                let (i, j) = (i as usize, j as usize);
                let ki = pos[i].iter().position(Option::is_none).unwrap();
                pos[i][ki] = Some((j, e));
                let kj = pos[j].iter().position(Option::is_none).unwrap();
                pos[j][kj] = Some((i, e));
            }
            return Ok(pos);
        }
        let lane = |i: usize| self.node_at[i].0;
        // the memory a node's position k writes: a bank (shared by a pair of lanes) or the
        // lane's own memory of position k
        let memory = |i: usize, k: usize| {
            if banked {
                coupling_bank(lane(i), k, width).0
            } else {
                lane(i) * width + k
            }
        };
        let group = |i: usize| if banked { lane(i) / 2 } else { lane(i) };
        let shared = |&(_, &(i, j)): &(usize, &(u32, u32))| group(i as usize) == group(j as usize);
        let order = edges
            .iter()
            .enumerate()
            .filter(shared)
            .chain(edges.iter().enumerate().filter(|p| !shared(p)));
        for (e, &(i, j)) in order {
            let (i, j) = (i as usize, j as usize);
            let free_i: Vec<usize> = (0..width).filter(|&k| pos[i][k].is_none()).collect();
            let free_j: Vec<usize> = (0..width).filter(|&k| pos[j][k].is_none()).collect();
            let pick = free_i.iter().find_map(|&ki| {
                free_j
                    .iter()
                    .find(|&&kj| memory(i, ki) != memory(j, kj))
                    .map(|&kj| (ki, kj))
            });
            let Some((ki, kj)) = pick else {
                return Err(SparseEmitError::Placement {
                    edge: e,
                    i,
                    j,
                    lane: lane(i),
                    max_degree,
                });
            };
            pos[i][ki] = Some((j, e));
            pos[j][kj] = Some((i, e));
        }
        Ok(pos)
    }

    /// The neighbour positions lane `l` uses: one past the last position any of its p-bits
    /// fills.
    fn lane_positions(&self, pos: &[Vec<Option<(usize, usize)>>], l: usize) -> usize {
        self.lanes[l]
            .iter()
            .map(|&(_, i)| {
                pos[i]
                    .iter()
                    .rposition(Option::is_some)
                    .map_or(0, |k| k + 1)
            })
            .max()
            .unwrap_or(0)
    }

    /// Clocks per sweep: one per slot (two when there is one slot, whose lookup clock cannot
    /// overlap the previous update).
    fn clocks_per_sweep(&self) -> usize {
        if self.slots <= 1 {
            2
        } else {
            self.slots
        }
    }
}

/// Each node's neighbours, from the graph's edge list.
fn neighbour_lists(graph: &SparseGraph) -> Vec<Vec<usize>> {
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); graph.n()];
    for &(i, j) in graph.edges() {
        adj[i as usize].push(j as usize);
        adj[j as usize].push(i as usize);
    }
    adj
}

/// Which lane serves each p-bit of a slot (`phases`: colour, slot, p-bits), as (lane, p-bit)
/// pairs. Any choice computes the same (the slots fix the order; a lane only time-multiplexes
/// its slots), but the wiring follows it: a lane reads its p-bits' neighbours' states from
/// the lanes that write them. With p-bits dealt out in slot order, a lane's p-bits lay far
/// apart (lane 5 of the 8×8×8 glass in 86 lanes held nodes in three regions of the lattice),
/// so every lane read from ≈ 25 lanes across the die, and the 86-lane build did not route.
/// Here lane l takes the first slot's l-th p-bit, and each later slot's p-bits go to the
/// lanes nearest them in the graph (a min-cost assignment on hop counts, capped at
/// `LOCAL_HOPS`: to the lane's first p-bit plus to its nearest one), so a lane's p-bits are
/// close together and its neighbours' lanes few: on a lattice a lane is a short column.
fn local_lanes(
    graph: &SparseGraph,
    phases: &[Vec<Vec<usize>>],
    width: usize,
) -> Vec<Vec<Vec<(usize, usize)>>> {
    const LOCAL_HOPS: usize = 12;
    // beyond this many lanes a greedy choice replaces the O(L³) assignment
    const ASSIGN_MAX_LANES: usize = 512;
    let n = graph.n();
    let adj = neighbour_lists(graph);
    // hop counts from a set of nodes, capped
    let hops = |from: &[usize]| -> Vec<usize> {
        let mut d = vec![LOCAL_HOPS; n];
        let mut queue = std::collections::VecDeque::new();
        for &u in from {
            d[u] = 0;
            queue.push_back(u);
        }
        while let Some(u) = queue.pop_front() {
            if d[u] + 1 >= LOCAL_HOPS {
                continue;
            }
            for &v in &adj[u] {
                if d[v] > d[u] + 1 {
                    d[v] = d[u] + 1;
                    queue.push_back(v);
                }
            }
        }
        d
    };
    let mut lane_nodes: Vec<Vec<usize>> = vec![Vec::new(); width];
    let mut anchor_hops: Vec<Option<Vec<usize>>> = vec![None; width];
    let mut out = Vec::with_capacity(phases.len());
    for slots in phases {
        let mut col_out = Vec::with_capacity(slots.len());
        for nodes in slots {
            let assigned: Vec<(usize, usize)> = if nodes.is_empty() {
                Vec::new()
            } else if lane_nodes.iter().all(Vec::is_empty) {
                nodes.iter().copied().enumerate().collect()
            } else {
                // cost[k][l]: p-bit k of this slot in lane l
                let cost: Vec<Vec<i64>> = {
                    let mut cost = vec![vec![0i64; width]; nodes.len()];
                    for l in 0..width {
                        if lane_nodes[l].is_empty() {
                            continue;
                        }
                        let near = hops(&lane_nodes[l]);
                        let anchor =
                            anchor_hops[l].get_or_insert_with(|| hops(&lane_nodes[l][..1]));
                        for (k, &v) in nodes.iter().enumerate() {
                            cost[k][l] = (anchor[v] + near[v]) as i64;
                        }
                    }
                    cost
                };
                let lane_of = if width <= ASSIGN_MAX_LANES {
                    min_cost_assignment(&cost, width)
                } else {
                    let mut taken = vec![false; width];
                    cost.iter()
                        .map(|row| {
                            let l = (0..width)
                                .filter(|&l| !taken[l])
                                .min_by_key(|&l| (row[l], l))
                                .expect("a slot holds at most one p-bit a lane");
                            taken[l] = true;
                            l
                        })
                        .collect()
                };
                lane_of.into_iter().zip(nodes.iter().copied()).collect()
            };
            for &(l, i) in &assigned {
                lane_nodes[l].push(i);
            }
            col_out.push(assigned);
        }
        out.push(col_out);
    }
    out
}

/// The cheapest assignment of rows to distinct columns (rows ≤ `cols`): the Hungarian method
/// with potentials, O(rows² · cols). Returns each row's column; ties go to the first found,
/// so the result is deterministic.
fn min_cost_assignment(cost: &[Vec<i64>], cols: usize) -> Vec<usize> {
    let rows = cost.len();
    debug_assert!(rows <= cols);
    const INF: i64 = i64::MAX / 4;
    // 1-based as in the classic formulation: p[j] is the row matched to column j
    let mut u = vec![0i64; rows + 1];
    let mut v = vec![0i64; cols + 1];
    let mut p = vec![0usize; cols + 1];
    let mut way = vec![0usize; cols + 1];
    for i in 1..=rows {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![INF; cols + 1];
        let mut used = vec![false; cols + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = INF;
            let mut j1 = 0usize;
            for j in 1..=cols {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=cols {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col_of = vec![0usize; rows];
    for j in 1..=cols {
        if p[j] != 0 {
            col_of[p[j] - 1] = j - 1;
        }
    }
    col_of
}

/// A colour's slots ordered for memory lanes, which select a slot's one-bit inputs (its own
/// state, clamp, active flag and its neighbours' states) a clock before its update: a slot
/// must not read a p-bit the slot before it updates, which that clock writes. Within a colour
/// no slot reads another (no edge inside a colour), so only the colour boundaries and the
/// sweep's wrap matter: a colour's first slot takes p-bits with no neighbour in the previous
/// colour's last slot, the last colour's last slot p-bits with no neighbour in colour 0's
/// first slot, each as many as the colour's ⌈|colour| / L⌉ clocks allow; where that fails, an
/// empty slot (a bubble: a clock without updates) ends the earlier phase. Other colours' last
/// slots take their highest-indexed p-bits, the first their lowest, so a lattice numbered
/// plane by plane needs no bubble (the 8×8×8 glass in 64 lanes: 8 clocks a sweep).
/// The order within a colour never changes a result (any order equals all at once).
fn hazard_free_slots(
    graph: &SparseGraph,
    classes: &[Vec<usize>],
    l: usize,
) -> Vec<Vec<Vec<usize>>> {
    let n = graph.n();
    let adj = neighbour_lists(graph);
    let marks = |nodes: &[usize]| {
        let mut m = vec![false; n];
        for &i in nodes {
            m[i] = true;
        }
        m
    };
    let touches = |m: &[bool], i: usize| adj[i].iter().any(|&j| m[j]);
    let mut phases: Vec<Vec<Vec<usize>>> = Vec::new();
    let mut first0 = vec![false; n];
    let mut prev = vec![false; n];
    let last_colour = classes.len().saturating_sub(1);
    for (col, class) in classes.iter().enumerate() {
        let k = class.len().div_ceil(l).max(1);
        let mut rest: Vec<usize> = class.clone();
        // the first slot: at least what the other k − 1 slots cannot hold
        let need_first = class.len().saturating_sub((k - 1) * l);
        let free: Vec<usize> = rest
            .iter()
            .copied()
            .filter(|&i| col == 0 || !touches(&prev, i))
            .take(l)
            .collect();
        let first = if free.len() >= need_first {
            free
        } else {
            phases[col - 1].push(Vec::new());
            rest.iter().copied().take(l).collect()
        };
        let fm = marks(&first);
        rest.retain(|&i| !fm[i]);
        if col == 0 {
            first0 = fm.clone();
        }
        let mut slots = vec![first];
        if k >= 2 {
            let need_last = rest.len().saturating_sub((k - 2) * l);
            let highest = |ok: &dyn Fn(usize) -> bool| -> Vec<usize> {
                let mut v: Vec<usize> = rest
                    .iter()
                    .rev()
                    .copied()
                    .filter(|&i| ok(i))
                    .take(l)
                    .collect();
                v.sort_unstable();
                v
            };
            let mut last = if col == last_colour {
                highest(&|i| !touches(&first0, i))
            } else {
                highest(&|_| true)
            };
            if last.len() < need_last {
                // some of these touch colour 0's first slot: the bubble below follows
                last = highest(&|_| true);
            }
            let lm = marks(&last);
            rest.retain(|&i| !lm[i]);
            for chunk in rest.chunks(l) {
                slots.push(chunk.to_vec());
            }
            slots.push(last);
        }
        let end = slots.last().expect("a colour has a slot");
        prev = marks(end);
        if col == last_colour && end.iter().any(|&i| touches(&first0, i)) {
            slots.push(Vec::new());
        }
        phases.push(slots);
    }
    phases
}

/// A colour's slots ordered for two-stage lanes, which select a slot's one-bit inputs two
/// clocks before its state is written: no slot may read a p-bit of either of the two slots
/// before it (cyclically, across colour boundaries and the sweep's wrap).
///
/// First a search for an order without bubbles: each colour's p-bits, in index order and
/// rotated by a multiple of ⌈L / 4⌉, are cut into its ⌈|colour| / L⌉ slots, and the slots are
/// permuted; a depth-first search over the colours keeps the choices whose boundaries hold.
/// It runs when every colour fills its slots exactly and has 2 to 5 of them, within a budget
/// of checks. The 8×8×8 glass in 64 lanes has such an order (colour 0 by planes {0,1}, {6,7},
/// {2,3}, {4,5}, colour 1 by {7,0}, {1,2}, {5,6}, {3,4}), and index-aligned slots have none.
/// Where the search finds none (None), the planner takes the one-ahead order
/// (`hazard_free_slots`) and forwards the reads of the slot two before (`Plan::forward`)
/// instead of inserting bubbles: the 8×8×8 glass in 86 lanes (3 slots a colour) has no
/// two-ahead order, and with bubbles took 8 clocks a sweep instead of 6.
fn two_ahead_slots(
    graph: &SparseGraph,
    classes: &[Vec<usize>],
    l: usize,
) -> Option<Vec<Vec<Vec<usize>>>> {
    const BUDGET: usize = 4_000_000;
    let n = graph.n();
    let adj = neighbour_lists(graph);
    let ks: Vec<usize> = classes.iter().map(|c| c.len() / l).collect();
    if classes.len() < 2
        || classes
            .iter()
            .zip(&ks)
            .any(|(c, &k)| c.len() != k * l || !(2..=5).contains(&k))
    {
        return None;
    }
    fn permutations(k: usize) -> Vec<Vec<usize>> {
        if k == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for p in permutations(k - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, k - 1);
                out.push(q);
            }
        }
        out
    }
    // each colour's candidate orders: rotation, then a permutation of the cut slots
    let step = l.div_ceil(4);
    let candidates: Vec<Vec<Vec<Vec<usize>>>> = classes
        .iter()
        .zip(&ks)
        .map(|(class, &k)| {
            let mut out = Vec::new();
            for r in (0..class.len()).step_by(step) {
                let rotated: Vec<usize> = class[r..].iter().chain(&class[..r]).copied().collect();
                let cut: Vec<Vec<usize>> = rotated.chunks(l).map(<[usize]>::to_vec).collect();
                for p in permutations(k) {
                    out.push(p.iter().map(|&s| cut[s].clone()).collect());
                }
            }
            out
        })
        .collect();
    let mut checks = 0usize;
    // whether `a` (an earlier slot) and `b` share an edge
    let mut mark = vec![false; n];
    let mut touch = |a: &[usize], b: &[usize], checks: &mut usize| {
        *checks += 1;
        for &j in b {
            mark[j] = true;
        }
        let hit = a.iter().any(|&i| adj[i].iter().any(|&j| mark[j]));
        for &j in b {
            mark[j] = false;
        }
        hit
    };
    // the boundary from colour order x into y holds: x's last two slots against y's first two
    let mut fits = |x: &[Vec<usize>], y: &[Vec<usize>], checks: &mut usize| {
        let (x1, x2) = (&x[x.len() - 1], &x[x.len() - 2]);
        !touch(x1, &y[0], checks) && !touch(x1, &y[1], checks) && !touch(x2, &y[0], checks)
    };
    let c = classes.len();
    let mut choice = vec![0usize; c];
    // iterative depth-first search over the colours' candidates
    let mut depth = 0usize;
    choice[0] = 0;
    loop {
        if checks > BUDGET {
            return None;
        }
        let ok = depth == 0
            || fits(
                &candidates[depth - 1][choice[depth - 1]],
                &candidates[depth][choice[depth]],
                &mut checks,
            ) && (depth + 1 < c
                || fits(
                    &candidates[depth][choice[depth]],
                    &candidates[0][choice[0]],
                    &mut checks,
                ));
        if ok && depth + 1 == c {
            return Some((0..c).map(|d| candidates[d][choice[d]].clone()).collect());
        }
        if ok {
            depth += 1;
            choice[depth] = 0;
            continue;
        }
        // next candidate at this depth, backtracking when exhausted
        loop {
            choice[depth] += 1;
            if choice[depth] < candidates[depth].len() {
                break;
            }
            if depth == 0 {
                return None;
            }
            depth -= 1;
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
    // no_rw_check: a port never reads an entry in the clock the copy writes it (the copy
    // writes only in S_COPY, and no lookup before S_PREP is used), so yosys needs no
    // read-during-write bypass: without it each page took two DP16KD, 46 LUT4 and 36
    // flip-flops of bypass logic, which held the 50 MHz build's critical path (the copy's
    // address → a bypass compare, 18.9 ns)
    (* ram_style = \"block\", no_rw_check *) reg [F-1:0] mem[0:127];
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
    let plan = Plan::new(graph, opts.lanes);
    let mem = plan.memories();
    // two-stage lanes: the field in one clock (stage 1), the compare, the state write and ΔE in
    // the next (stage 2), from registered copies of the stage-1 signals
    let pipe = plan.pipelined;
    let (pos, banked) = plan
        .layout(
            graph,
            opts.max_degree,
            info.format.j_bits,
            opts.coupling_banks,
        )
        .expect("checked by sparse_info");
    let g = plan.groups();
    let t = plan.slots;
    let sb = bits_for(t - 1).max(1); // slot counter bits
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
    let stages = tree_stages(plan.lanes.len());
    // with several words and lane memories the flags the lanes' slot strobes read are
    // registers (`last_slot`, `due`, `last_sweep`, below)
    let early_flags = words > 1 && mem;
    // Two-stage lanes of such machines run a clock behind the controller: every signal the
    // controller sends them (the slot strobes, `upd`, the recompute strobe) passes a register,
    // with a copy per group of lanes (`WRITE_GROUP`) kept apart from the others (`(* keep *)`),
    // so each copy drives its four lanes from nearby. One net from the controller's logic to
    // all 64 lanes' slot counters and generator reads was the 50 MHz ULX3S build's latest
    // family of paths (18.7–20.1 ns, ≈ 1,750 endpoints). The lanes' results reach the
    // controller a clock later too: the energy tags and `inflight` follow the same delay.
    let lane_late = plan.lanes_late(n);
    debug_assert_eq!(lane_late, early_flags && pipe);
    // and the sample and best captures into the n-bit state copies from registered enables, a
    // copy per state word, a clock after the controller decides (below)
    let late_capture = lane_late;
    let late_best = lane_late && plan.shortest_phase() >= 2;

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
    w!("    output wire [31:0] read_data,");
    w!("    output wire sample_valid,");
    w!("    input wire sample_ready,");
    w!("    output wire busy,");
    w!("    input wire busy_other");
    w!(");");
    w!("    function [31:0] xs32; input [31:0] x; reg [31:0] a; reg [31:0] b; begin");
    w!("        a = x ^ (x << 13); b = a ^ (a >> 17); xs32 = b ^ (b << 5); end endfunction");
    // the inverse step: a generator stores its next state s = xs32(x); the RNG region reads x
    w!("    function [31:0] unxs32; input [31:0] y; reg [31:0] a; reg [31:0] b; begin");
    w!("        b = y ^ (y << 5) ^ (y << 10) ^ (y << 15) ^ (y << 20) ^ (y << 25) ^ (y << 30);");
    w!("        a = b ^ (b >> 17); unxs32 = a ^ (a << 13) ^ (a << 26); end endfunction");
    // ---- controller state
    w!("    localparam S_IDLE = 4'd0, S_RECOMP = 4'd1, S_RDRAIN = 4'd2, S_STEP = 4'd3, S_COPY = 4'd4,");
    w!("               S_PREP = 4'd5, S_SWEEP = 4'd6, S_SDRAIN = 4'd7, S_DRAIN = 4'd8, S_BEGIN = 4'd9,");
    w!("               S_FETCH = 4'd10, S_BEGIN2 = 4'd11, S_BEGIN3 = 4'd12, S_BEGIN4 = 4'd13;");
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
        "    reg [{}:0] slot = {sb}'d0; // the clock of the sweep (S_SWEEP) or recompute",
        sb - 1
    );
    w!("    reg [31:0] racc = 32'd0;");
    w!("    reg [63:0] clocks = 64'd0;");
    w!("    reg [31:0] sweeps = 32'd0, samples = 32'd0;");
    w!("    reg [31:0] energy = 32'd0, best_energy = 32'd0, sample_energy = 32'd0;");
    w!("    reg sample_pending = 1'b0;");
    w!("    reg bpend = 1'b0;");
    w!("    reg [31:0] sched_sweeps [0:31];");
    w!("    reg [4:0] sched_page [0:31];");
    // the schedule is read a clock ahead (S_FETCH), so it sits in block RAM, not flip-flops
    w!("    reg [31:0] sq_sweeps = 32'd0; reg [4:0] sq_page = 5'd0;");
    w!("    always @(posedge clock) begin sq_sweeps <= sched_sweeps[step]; sq_page <= sched_page[step]; end");
    // the UP5K holds the page store in an SPRAM (boards define PBIT_ICE40 for yosys)
    w!("`ifdef PBIT_ICE40");
    w!("    (* ram_style = \"huge\" *)");
    w!("`endif");
    w!("    reg [{}:0] pmem [0:4095];", f - 1);
    w!("    reg [{}:0] pmem_q;", f - 1);
    // per-node registers in per-node always blocks (one huge block over n-bit vectors makes
    // yosys's proc/opt passes slow); the vectors are wires over them
    if late_best || late_capture {
        // the best and sample states: one register, or a register per state word loaded from
        // its own copy of the capture's enable (`late_capture`, `late_best`, below)
        w!("    reg [{}:0] espins = {n}'d0;", n - 1);
        for (name, late) in [("bstate", late_best), ("sstate", late_capture)] {
            if late {
                w!("    wire [{}:0] {name};", n - 1);
            } else {
                w!("    reg [{}:0] {name} = {n}'d0;", n - 1);
            }
        }
    } else {
        w!(
            "    reg [{}:0] bstate = {n}'d0, sstate = {n}'d0, espins = {n}'d0;",
            n - 1
        );
    }
    w!("    wire [{}:0] spins, clamps, act;", n - 1);
    // the states some lane reads forwarded (`Plan::forward`): each one's next value
    let mut forwarded = vec![false; n];
    for (i, inputs) in pos.iter().enumerate() {
        for &(j, _) in inputs.iter().flatten() {
            // (a forwarding plan is two-stage, so its lanes have memories)
            forwarded[j] |= plan.forwarded(i, j);
        }
    }
    for j in (0..n).filter(|&j| forwarded[j]) {
        w!("    wire fw_{j};");
    }
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
    // one port (the bus writes only while idle, the copy reads only while running), so the
    // UP5K can hold the 32 pages in a single-port SPRAM instead of 13 of its 30 block RAMs
    w!("    wire [11:0] pmem_addr = wr_page ? {{w_index[20:16], w_index[6:0]}} : {{page, copy_cnt[6:0]}};");
    w!("    always @(posedge clock) begin");
    w!(
        "        if (wr_page) pmem[pmem_addr] <= write_data[{}:0];",
        f - 1
    );
    w!("        else pmem_q <= pmem[pmem_addr];");
    w!("    end");
    w!(
        "    wire wr_sched = wr & (w_region == 8'd{}) & (w_index[23:6] == 18'd0);",
        mm::REGION_SCHEDULE
    );
    // ---- phase strobes
    w!("    wire upd = (state == S_SWEEP);");
    w!("    wire recomp_clk = (state == S_RECOMP);");
    // with several words and lane memories the flags the lanes' slot strobes read are
    // registers: the last-slot flag here, kept beside the slot counter, and `due` and
    // `last_sweep` below
    if early_flags {
        w!("    reg last_slot = 1'b0;");
    } else {
        w!("    wire last_slot = (slot == {sb}'d{});", t - 1);
    }
    w!("    wire [{}:0] slotdec;", t - 1);
    for k in 0..t {
        w!("    assign slotdec[{k}] = (slot == {sb}'d{k});");
    }
    let ends: Vec<String> = (0..t)
        .filter(|&k| plan.phase_end[k])
        .map(|k| format!("slotdec[{k}]"))
        .collect();
    w!("    wire phase_end = {};", ends.join(" | "));
    if pipe {
        // stage 2's strobes a clock after stage 1's; with the lanes late, stage 1 sees the
        // controller's a clock late (`_d`) and stage 2 two
        let (u, r, e, l) = if lane_late {
            w!("    reg upd_d = 1'b0, recomp_d = 1'b0, phase_end_d = 1'b0, last_d = 1'b0;");
            w!("    always @(posedge clock) begin upd_d <= upd; recomp_d <= recomp_clk; phase_end_d <= phase_end; last_d <= last_slot; end");
            ("upd_d", "recomp_d", "phase_end_d", "last_d")
        } else {
            ("upd", "recomp_clk", "phase_end", "last_slot")
        };
        w!("    reg upd2 = 1'b0, recomp2 = 1'b0, phase_end2 = 1'b0, last2 = 1'b0;");
        w!("    always @(posedge clock) begin upd2 <= {u}; recomp2 <= {r}; phase_end2 <= {e}; last2 <= {l}; end");
    }
    // the strobes of the clock that writes the states and ΔE (stage 2 when pipelined)
    let (w_upd, w_recomp, w_end, w_last) = if pipe {
        ("upd2", "recomp2", "phase_end2", "last2")
    } else {
        ("upd", "recomp_clk", "phase_end", "last_slot")
    };
    // the slot looked up this clock (for the next clock's update); memory lanes keep their own
    // (`sel_l`)
    if !mem {
        let next = if t == 1 {
            format!("{sb}'d0")
        } else {
            format!("(state == S_SWEEP && !last_slot) ? slot + {sb}'d1 : {sb}'d0")
        };
        w!("    wire [{}:0] nslot = {next};", sb - 1);
    }
    // ---- energy pipeline tags (declared early: the controller waits on them)
    // tag bits: 0 add ΔE, 1 a colour phase ends (best compare), 2 add a recompute term, 3 the
    // recompute's last slot
    w!("    reg [3:0] tag [0:{stages}];");
    w!("    integer ti; initial for (ti = 0; ti <= {stages}; ti = ti + 1) tag[ti] = 4'd0;");
    let mut inflight = String::from(if lane_late {
        "bpend | upd_d | recomp_d | upd2 | recomp2"
    } else if pipe {
        "bpend | upd2 | recomp2"
    } else {
        "bpend"
    });
    if late_best {
        inflight.push_str(" | bwin");
        w!("    reg bwin = 1'b0;");
        w!("    wire bless = bpend & ((energy ^ 32'h80000000) < (best_energy ^ 32'h80000000));");
    }
    for k in 0..=stages {
        let _ = write!(inflight, " | (tag[{k}] != 4'd0)");
    }
    w!("    wire inflight = {inflight};");
    w!("    wire sample_blocked = sample_pending & !sample_ready;");
    // whether the sweep ending now takes a sample (`due`) and whether it is its step's last
    // (`last_sweep`). With several state words and lane memories (≥ 3 clocks a sweep) they are
    // registered: their 32-bit compares fed the lanes' slot strobes, and the 45 MHz ULX3S
    // build's critical path was those compares (12 ns) then 10 ns of routing to a lane. The
    // registers they read change only at a sweep's last slot, in S_STEP, S_SDRAIN or while
    // idle, at least three clocks before the next sweep's last slot reads them, so a copy a
    // clock late is always current when read.
    if early_flags {
        w!("    reg due = 1'b0, last_sweep = 1'b0;");
        w!("    always @(posedge clock) begin due <= (burn_left == 32'd0) & (every != 32'd0) & (every_left == 32'd1); last_sweep <= (sweeps_left == 32'd1); end");
        if lane_late {
            // and the compares a sweep's end moves the counters by: their 32-bit compares into
            // the counters' enables were ≈ 15 ns of the 60 MHz build
            w!("    reg burn_nz = 1'b0, every_nz = 1'b0, every_one = 1'b0;");
            w!("    always @(posedge clock) begin burn_nz <= (burn_left != 32'd0); every_nz <= (every != 32'd0); every_one <= (every_left == 32'd1); end");
        }
    } else {
        w!("    wire due = (burn_left == 32'd0) & (every != 32'd0) & (every_left == 32'd1);");
        w!("    wire last_sweep = (sweeps_left == 32'd1);");
    }
    // on-chip statistics: `stats_take` is the clock a sample is taken (it waits for a walk)
    w!("    wire stats_take;");
    w!("    wire busy_core = !idle;");
    match opts.stats {
        Some(bits) => crate::sparse_stats::emit_stats(&mut o, graph, bits, info.clocks_per_sweep),
        None => crate::sparse_stats::emit_no_stats(&mut o),
    }
    if late_capture {
        // in S_SDRAIN nothing enters the lanes or the energy pipeline, so `inflight` only
        // falls there, and its copy a clock late (`upd` in it: the sweep's last clock leaves
        // it set on entry) waits for the same drain, a clock longer: the logic from the
        // energy tags to the capture enables was the 55 MHz build's critical path
        w!("    reg infl_q = 1'b1;");
        w!("    always @(posedge clock) infl_q <= inflight | upd;");
        w!("    assign stats_take = (state == S_SDRAIN) & !infl_q & !sample_blocked & !stats_wait;");
    } else {
        w!("    assign stats_take = (state == S_SDRAIN) & !inflight & !upd & !sample_blocked & !stats_wait;");
    }
    if mem {
        // the slot counter moves only on these strobes, so each memory lane can keep its own
        // copies (`sel_l` = the slot after this clock's, `cur_l` = this clock's) moved by the
        // same strobes: the slot's wide fan-out (every lane's multiplexers and memory
        // addresses) stays inside the lanes instead of one net across the die. Outside a
        // sweep or recompute the slot rests at the last (so the next is slot 0: S_PREP and
        // S_BEGIN find slot 0's inputs), and S_PREP and S_BEGIN start it at 0.
        w!("    wire sweep_on = !due & !last_sweep;");
        w!("    wire s_zero = (state == S_PREP) | (state == S_BEGIN) | (upd & last_slot & sweep_on);");
        w!("    wire s_inc = ((state == S_RECOMP) | upd) & !last_slot;");
        w!("    wire s_last = idle | ((state == S_RECOMP) & last_slot) | (upd & last_slot & !sweep_on);");
        w!("    always @(posedge clock)");
        w!(
            "        if (s_zero) slot <= {sb}'d0; else if (s_inc) slot <= slot + {sb}'d1; else if (s_last) slot <= {sb}'d{};",
            t - 1
        );
        if early_flags {
            // as the slot moves (t ≥ 3, so slot 0 is never the last)
            w!("    always @(posedge clock)");
            w!(
                "        if (s_zero) last_slot <= 1'b0; else if (s_inc) last_slot <= (slot == {sb}'d{}); else if (s_last) last_slot <= 1'b1;",
                t - 2
            );
        }
    }
    if lane_late {
        // a group's copies of the controller's strobes, a clock late (stage 1: `lz` `li` `ll`
        // move the slot counters, `lu` updates) and two (stage 2: `lu2`, `lr2`). `keep`: the
        // groups' copies are equal, and yosys would merge them back into one.
        for gr in 0..write_groups(plan.lanes.len()) {
            w!("    reg lz_g{gr} = 1'b0, li_g{gr} = 1'b0, ll_g{gr} = 1'b1, lu_g{gr} = 1'b0, lu2_g{gr} = 1'b0, lr2_g{gr} = 1'b0;");
            w!("    (* keep *) always @(posedge clock) begin lz_g{gr} <= s_zero; li_g{gr} <= s_inc; ll_g{gr} <= s_last; lu_g{gr} <= upd; lu2_g{gr} <= upd_d; lr2_g{gr} <= recomp_d; end");
        }
    }
    // bus writes of a generator store its next state (the draw): s = step(x)
    // (memory lanes write generators through their own decode, `wdxq`; these feed the
    // per-p-bit registers, which they keep only as readback shadows)
    let per_pbit_generators = !mem || opts.readback;
    if per_pbit_generators {
        w!("    wire [31:0] wdx = xs32(write_data);");
    }

    // ---- per node: stored state
    for i in 0..n {
        let (l, s) = plan.node_at[i];
        w!(
            "    // node {i}: colour {}, lane {l}, slot {s}, neighbours {:?}",
            graph.colours()[i],
            nbrs[i]
        );
        if !mem || opts.readback {
            w!("    reg [31:0] s_{i} = 32'd1;");
            w!("    reg [{}:0] h_{i} = {hb}'d0;", hb - 1);
        }
    }
    if !mem || opts.readback {
        for e in 0..ne {
            w!("    reg [{}:0] j_{e} = {jb}'d0;", jb - 1);
        }
    }
    if mem {
        emit_lane_memory_decode(&mut o, graph, &plan, &pos, sb);
    }
    let dflt = |w: usize| {
        if opts.readback {
            format!("{w}'d0")
        } else {
            format!("{{{w}{{1'bx}}}}")
        }
    };
    // ---- per lane: the selected p-bit's inputs, generator, field, decision and ΔE
    for (l, entries) in plan.lanes.iter().enumerate() {
        let deg = plan.lane_positions(&pos, l);
        w!("    // lane {l}: (slot, node) {:?}", entries);
        w!(
            "    reg [31:0] ss_{l}; reg [{}:0] hs_{l}; reg sp_{l}, cl_{l}, ac_{l}, va_{l};",
            hb - 1
        );
        for k in 0..deg {
            w!("    reg nb_{l}_{k}; reg [{}:0] jj_{l}_{k};", jb - 1);
        }
        // register lanes select a p-bit's generator, bias and couplings here; memory lanes
        // read them from their memories (below) and select only the one-bit signals
        let set = if mem { "<=" } else { "=" };
        let assign = |o: &mut String, i: usize, ind: &str| {
            if !mem {
                let _ = writeln!(o, "{ind}ss_{l} = s_{i}; hs_{l} = h_{i};");
            }
            let _ = writeln!(
                o,
                "{ind}sp_{l} {set} spins[{i}]; cl_{l} {set} clamps[{i}]; ac_{l} {set} act[{i}];"
            );
            // a neighbour's state and coupling on one line: emit's wire-copy hoisting
            // (`hoist_wire_copies`) moves only lines that are a single plain copy
            for k in 0..deg {
                let (nb, jj) = match pos[i][k] {
                    Some((j, e)) if plan.forwarded(i, j) => (format!("fw_{j}"), format!("j_{e}")),
                    Some((j, e)) => (format!("spins[{j}]"), format!("j_{e}")),
                    None => ("1'b0".to_string(), format!("{jb}'d0")),
                };
                if mem && banked {
                    let (b, y) = coupling_bank(l, k, pos[i].len());
                    let _ = writeln!(
                        o,
                        "{ind}nb_{l}_{k} <= {nb}; // coupling from bank {b}, byte {y}"
                    );
                } else if mem {
                    let _ = writeln!(o, "{ind}nb_{l}_{k} <= {nb}; // coupling from jm_{l}_{k}");
                } else {
                    let _ = writeln!(o, "{ind}nb_{l}_{k} = {nb}; jj_{l}_{k} = {jj};");
                }
            }
        };
        // memory lanes select the next clock's p-bit a clock ahead (by its own `sel_l`, as their
        // memories are read), so the neighbours' states leave the update's clock: the long
        // wires from p-bits across the die to the lane get a clock of their own. The slots
        // are ordered so that no slot reads the p-bits the slot before it writes
        // (`hazard_free_slots`).
        // the controller's strobes as this lane sees them (its group's late copies)
        let (s_zero, s_inc, s_last, upd_1, upd_2, recomp_2) = if lane_late {
            let gr = l / WRITE_GROUP;
            (
                format!("lz_g{gr}"),
                format!("li_g{gr}"),
                format!("ll_g{gr}"),
                format!("lu_g{gr}"),
                format!("lu2_g{gr}"),
                format!("lr2_g{gr}"),
            )
        } else {
            (
                "s_zero".to_string(),
                "s_inc".to_string(),
                "s_last".to_string(),
                "upd".to_string(),
                "upd2".to_string(),
                w_recomp.to_string(),
            )
        };
        if mem {
            w!(
                "    reg [{}:0] sel_{l} = {sb}'d{}; reg [{}:0] cur_{l} = {sb}'d0;",
                sb - 1,
                1 % t,
                sb - 1
            );
            w!(
                "    wire [{}:0] seln_{l} = {s_zero} ? {sb}'d{} : {s_inc} ? ((sel_{l} == {sb}'d{}) ? {sb}'d0 : sel_{l} + {sb}'d1) : {s_last} ? {sb}'d0 : sel_{l};",
                sb - 1,
                1 % t,
                t - 1
            );
            w!("    always @(posedge clock) begin sel_{l} <= seln_{l}; cur_{l} <= sel_{l}; end");
            w!("    always @(posedge clock) begin");
        } else {
            w!("    always @(*) begin");
        }
        let sel = if mem {
            format!("sel_{l}")
        } else {
            "slot".to_string()
        };
        if entries.len() == 1 {
            let (slot, i) = entries[0];
            assign(&mut o, i, "        ");
            if mem {
                w!("        va_{l} <= (sel_{l} == {sb}'d{slot});");
            } else {
                w!("        va_{l} = slotdec[{slot}];");
            }
        } else {
            if !mem {
                w!("        ss_{l} = {}; hs_{l} = {};", dflt(32), dflt(hb));
            }
            w!("        sp_{l} {set} 1'b0; cl_{l} {set} 1'b0; ac_{l} {set} 1'b0; va_{l} {set} 1'b0;");
            for k in 0..deg {
                w!("        nb_{l}_{k} {set} 1'b0;");
                if !mem {
                    w!("        jj_{l}_{k} = {};", dflt(jb));
                }
            }
            w!("        case ({sel})");
            for &(slot, i) in entries {
                w!("        {sb}'d{slot}: begin");
                assign(&mut o, i, "            ");
                w!("            va_{l} {set} 1'b1;");
                w!("        end");
            }
            w!("        default: ;");
            w!("        endcase");
        }
        w!("    end");
        w!("    wire [31:0] rs_{l} = xs32(ss_{l});");
        if per_pbit_generators {
            w!("    wire [31:0] wb_{l} = wr_rng ? wdx : rs_{l};");
        }
        // field terms and their tree: m·J = nb ? J : ~J + 1, so each term is J XOR the
        // neighbour's sign and the +1s are one count, a term of its own (no negator per term)
        let mut terms: Vec<String> =
            vec![format!("{{{{{}{{hs_{l}[{}]}}}}, hs_{l}}}", f - hb, hb - 1)];
        for k in 0..deg {
            terms.push(format!("t_{l}_{k}"));
            w!(
                "    wire [{}:0] jx_{l}_{k} = {{{{{}{{jj_{l}_{k}[{}]}}}}, jj_{l}_{k}}};",
                f - 1,
                f - jb,
                jb - 1
            );
            w!(
                "    wire [{}:0] t_{l}_{k} = jx_{l}_{k} ^ {{{f}{{!nb_{l}_{k}}}}};",
                f - 1
            );
        }
        if pipe && deg > 0 {
            // two-stage lanes: the +1s as the adders' carry-ins (yosys maps `a + b + c`, c one
            // bit, to one carry chain). D + 1 terms take D adders, one +1 each, so the tree
            // is ⌈log2(D + 1)⌉ adders deep with no count of its own. A count of the +1s (its
            // own three-level adder tree) fed the field tree's first level: six adders deep,
            // the 60 MHz build's stage-1 field `fq_l` at up to 14.3 ns.
            let mut level = terms;
            let mut carry = 0usize;
            let mut depth = 0usize;
            while level.len() > 1 {
                depth += 1;
                let mut next = Vec::new();
                for (k, pair) in level.chunks(2).enumerate() {
                    if let [a, b] = pair {
                        let name = format!("fa_{l}_{depth}_{k}");
                        w!(
                            "    wire [{}:0] {name} = {a} + {b} + {{{}'d0, !nb_{l}_{carry}}};",
                            f - 1,
                            f - 1
                        );
                        carry += 1;
                        next.push(name);
                    } else {
                        next.push(pair[0].clone());
                    }
                }
                level = next;
            }
            debug_assert_eq!(carry, deg);
            w!("    wire [{}:0] fld_{l} = {};", f - 1, level[0]);
        } else {
            if deg > 0 {
                let ones: Vec<String> = (0..deg)
                    .map(|k| format!("{{{}'d0, !nb_{l}_{k}}}", f - 1))
                    .collect();
                w!("    wire [{}:0] neg_{l} = {};", f - 1, balanced(&ones));
                terms.push(format!("neg_{l}"));
            }
            w!("    wire [{}:0] fld_{l} = {};", f - 1, balanced(&terms));
        }
        // stage 2's inputs: the field and the stage-1 signals, a clock later
        let (fl, sp, cl, ac, va, hs, cur) = if pipe {
            w!(
                "    reg [{}:0] fq_{l} = {f}'d0; reg [{}:0] hs2_{l} = {hb}'d0; reg [{}:0] cur2_{l} = {sb}'d0; reg sp2_{l} = 1'b0, cl2_{l} = 1'b0, ac2_{l} = 1'b0, va2_{l} = 1'b0;",
                f - 1,
                hb - 1,
                sb - 1
            );
            w!("    always @(posedge clock) begin fq_{l} <= fld_{l}; hs2_{l} <= hs_{l}; cur2_{l} <= cur_{l}; sp2_{l} <= sp_{l}; cl2_{l} <= cl_{l}; ac2_{l} <= ac_{l}; va2_{l} <= va_{l}; end");
            (
                format!("fq_{l}"),
                format!("sp2_{l}"),
                format!("cl2_{l}"),
                format!("ac2_{l}"),
                format!("va2_{l}"),
                format!("hs2_{l}"),
                format!("cur2_{l}"),
            )
        } else {
            (
                format!("fld_{l}"),
                format!("sp_{l}"),
                format!("cl_{l}"),
                format!("ac_{l}"),
                format!("va_{l}"),
                format!("hs_{l}"),
                if mem {
                    format!("cur_{l}")
                } else {
                    "slot".to_string()
                },
            )
        };
        // the threshold from this clock's port. Two-stage lanes look up as one-stage lanes do
        // (a clock before stage 1, from `g_l`), and register the threshold in stage 1 (`thq_l`),
        // so stage 2's compare starts from a register in the lane: from the block RAM's output
        // pins (≈ 5 ns to the clock) across the die, through the compare to the states and
        // ΔE, these were the 50 MHz ULX3S build's latest endpoints (≈ 22 ns).
        let th_slot = if pipe {
            format!("cur_{l}")
        } else {
            cur.clone()
        };
        let mut lports: Vec<usize> = plan.lane_port[l].clone();
        lports.sort_unstable();
        lports.dedup();
        if lports.len() == 1 {
            let p = lports[0];
            w!("    wire [{}:0] th_{l} = th_{}_{};", f - 1, p / 2, p % 2);
        } else {
            w!("    reg [{}:0] th_{l};", f - 1);
            w!("    always @(*) begin");
            w!("        th_{l} = {};", dflt(f));
            w!("        case ({th_slot})");
            for (k, &(slot, _)) in entries.iter().enumerate() {
                let p = plan.lane_port[l][k];
                w!("        {sb}'d{slot}: th_{l} = th_{}_{};", p / 2, p % 2);
            }
            w!("        default: ;");
            w!("        endcase");
            w!("    end");
        }
        let th = if pipe {
            w!("    reg [{}:0] thq_{l} = {f}'d0;", f - 1);
            w!("    always @(posedge clock) thq_{l} <= th_{l};");
            format!("thq_{l}")
        } else {
            format!("th_{l}")
        };
        w!(
            "    wire gt_{l} = ({fl} ^ {f}'d{}) > ({th} ^ {f}'d{});",
            1u64 << (f - 1),
            1u64 << (f - 1)
        );
        w!("    wire mnew_{l} = {cl} ? {sp} : gt_{l};");
        // en_l steps the generator (stage 1); en2_l writes the state and ΔE
        w!("    wire en_{l} = {upd_1} & va_{l} & ac_{l};");
        let en = if pipe {
            w!("    wire en2_{l} = {upd_2} & {va} & {ac};");
            format!("en2_{l}")
        } else {
            format!("en_{l}")
        };
        // ΔE = −2·m_new·I on a flip; recompute term −m·(I + h)
        w!(
            "    wire [{}:0] fx_{l} = {{{{2{{{fl}[{}]}}}}, {fl}}};",
            dw - 1,
            f - 1
        );
        w!(
            "    wire [{}:0] ihx_{l} = fx_{l} + {{{{{}{{{hs}[{}]}}}}, {hs}}};",
            dw - 1,
            dw - hb,
            hb - 1
        );
        // one negator for both: a flip has m_new = −m, so its ΔE is +2I when m = +1 and −2I
        // when m = −1, and the recompute term is −(I + h) when m = +1; the sign is the
        // selected state's, known at the clock's start (upd and recomp_clk never coincide)
        w!(
            "    wire [{}:0] dx_{l} = {recomp_2} ? ihx_{l} : {{fx_{l}[{}:0], 1'b0}};",
            dw - 1,
            dw - 2
        );
        w!("    wire [{}:0] dn_{l} = -dx_{l};", dw - 1);
        w!("    reg [{}:0] d_{l} = {dw}'d0;", dw - 1);
        w!("    always @(posedge clock) begin");
        w!("        if ({en}) d_{l} <= (mnew_{l} != {sp}) ? ({sp} ? dx_{l} : dn_{l}) : {dw}'d0;");
        w!("        else if ({recomp_2} & {va} & {ac}) d_{l} <= {sp} ? dn_{l} : dx_{l};");
        w!("        else d_{l} <= {dw}'d0;");
        w!("    end");
        if mem {
            let lb = bits_for(plan.lanes.len() - 1).max(1);
            emit_lane_memories(
                &mut o,
                l,
                deg,
                &info.format,
                t,
                position_bits(&pos),
                lb,
                plan.lanes.len(),
                banked,
            );
            if banked && (l % 2 == 1 || l + 1 == plan.lanes.len()) {
                emit_coupling_banks(&mut o, &plan, &pos, l - l % 2, jb, t, sb);
            }
        }
    }
    // the field of each node, for the readback region
    if opts.readback {
        for i in 0..n {
            let (l, _) = plan.node_at[i];
            if plan.lanes[l].len() == 1 && !mem {
                w!("    wire [{}:0] fr_{i} = fld_{l};", f - 1);
                continue;
            }
            let mut terms: Vec<String> =
                vec![format!("{{{{{}{{h_{i}[{}]}}}}, h_{i}}}", f - hb, hb - 1)];
            for &(j, e) in &nbrs[i] {
                terms.push(format!(
                    "(spins[{j}] ? {{{{{}{{j_{e}[{}]}}}}, j_{e}}} : -{{{{{}{{j_{e}[{}]}}}}, j_{e}}})",
                    f - jb,
                    jb - 1,
                    f - jb,
                    jb - 1
                ));
            }
            w!("    wire [{}:0] fr_{i} = {};", f - 1, balanced(&terms));
        }
    }
    // ---- page RAMs: port p's address is the draw of the p-bit it serves next clock
    // with several state words the page RAMs span the die: the copy's write enable, address
    // and data reach them from registers (no logic before the wires; the 42.86 MHz ULX3S
    // build's critical path was the address's adder through 18.4 ns of routing), a clock
    // later, so the copy takes one more clock (`copy_end`) and its last write lands in S_COPY
    let copy_late = words > 1;
    // and with the lanes a clock late, a kept copy of those registers per page RAM (`lane_late`:
    // one register driving all 32 page RAMs' data pins across the die was the 50 MHz build's
    // latest block-RAM input, 19.1 ns), two clocks later (a copy per four RAMs between)
    let copy_fan = lane_late;
    // through a kept copy per four page RAMs first, a clock earlier: one net from the copy's
    // address register to the 32 copies routed in 18.3 ns in a 68 MHz build
    let copy_groups = g.div_ceil(4);
    let copy_end = PAGE_HALF + usize::from(copy_late) + 2 * usize::from(copy_fan);
    if copy_late {
        w!(
            "    reg copy_we = 1'b0; reg [6:0] copy_addr = 7'd0; reg [{}:0] copy_wd = {f}'d0;",
            f - 1
        );
        w!("    always @(posedge clock) begin");
        w!("        copy_we <= (state == S_COPY) & (copy_cnt != 8'd0) & (copy_cnt <= 8'd{PAGE_HALF});");
        w!("        copy_addr <= copy_cnt[6:0] - 7'd1; copy_wd <= pmem_q;");
        w!("    end");
    } else {
        w!("    wire copy_we = (state == S_COPY) & (copy_cnt != 8'd0);");
        w!("    wire [6:0] copy_addr = copy_cnt[6:0] - 7'd1;");
    }
    let copy_wd = if copy_late { "copy_wd" } else { "pmem_q" };
    if copy_fan {
        for cg in 0..copy_groups {
            w!(
                "    reg cgwe_{cg} = 1'b0; reg [6:0] cgad_{cg} = 7'd0; reg [{}:0] cgwd_{cg} = {f}'d0;",
                f - 1
            );
            w!("    (* keep *) always @(posedge clock) begin cgwe_{cg} <= copy_we; cgad_{cg} <= copy_addr; cgwd_{cg} <= {copy_wd}; end");
        }
    }
    for gi in 0..g {
        if copy_fan {
            let cg = gi / 4;
            w!(
                "    reg cwe_{gi} = 1'b0; reg [6:0] cad_{gi} = 7'd0; reg [{}:0] cwd_{gi} = {f}'d0;",
                f - 1
            );
            w!("    (* keep *) always @(posedge clock) begin cwe_{gi} <= cgwe_{cg}; cad_{gi} <= cgad_{cg}; cwd_{gi} <= cgwd_{cg}; end");
        }
        for s in 0..2 {
            let p = 2 * gi + s;
            let served: &[(usize, usize)] = plan.ports.get(p).map(|v| v.as_slice()).unwrap_or(&[]);
            w!("    reg [7:0] pu_{gi}_{s};");
            w!("    always @(*) begin");
            match served {
                [] => {
                    w!("        pu_{gi}_{s} = 8'd0;");
                }
                [(_, node)] if t == 1 => {
                    w!("        pu_{gi}_{s} = s_{node}[31:24];");
                }
                _ => {
                    // a memory lane's next generator state is in its register g_l (read two
                    // clocks ahead), a register lane's in the p-bit's own s_i (two-stage
                    // lanes look up the same clock, and register the threshold in stage 1)
                    let draw = |node: usize| {
                        if mem {
                            format!("g_{}[31:24]", plan.node_at[node].0)
                        } else {
                            format!("s_{node}[31:24]")
                        }
                    };
                    w!("        pu_{gi}_{s} = {};", dflt(8));
                    // the next clock's slot: a memory lane's own copy (the port's lanes
                    // all hold the same), else the shared one
                    let next = if mem {
                        format!("sel_{}", plan.node_at[served[0].1].0)
                    } else {
                        "nslot".into()
                    };
                    w!("        case ({next})");
                    for &(slot, node) in served {
                        w!("        {sb}'d{slot}: pu_{gi}_{s} = {};", draw(node));
                    }
                    w!("        default: ;");
                    w!("        endcase");
                }
            }
            w!("    end");
            w!("    wire [6:0] pa_{gi}_{s} = pu_{gi}_{s}[7] ? pu_{gi}_{s}[6:0] : ~pu_{gi}_{s}[6:0];");
            w!("    reg inv_{gi}_{s} = 1'b0;");
            w!("    always @(posedge clock) inv_{gi}_{s} <= !pu_{gi}_{s}[7];");
            w!("    wire [{}:0] rd_{gi}_{s};", f - 1);
            w!(
                "    wire [{}:0] th_{gi}_{s} = rd_{gi}_{s} ^ {{{f}{{inv_{gi}_{s}}}}};",
                f - 1
            );
        }
        if copy_fan {
            w!("    pbit_sparse_page #(.F({f})) page_{gi}(.clock(clock), .we(cwe_{gi}), .addr_a(cwe_{gi} ? cad_{gi} : pa_{gi}_0), .wd(cwd_{gi}), .rd_a(rd_{gi}_0), .addr_b(pa_{gi}_1), .rd_b(rd_{gi}_1));");
        } else {
            w!("    pbit_sparse_page #(.F({f})) page_{gi}(.clock(clock), .we(copy_we), .addr_a(copy_we ? copy_addr : pa_{gi}_0), .wd({copy_wd}), .rd_a(rd_{gi}_0), .addr_b(pa_{gi}_1), .rd_b(rd_{gi}_1));");
        }
    }

    // ---- the energy tree over the lanes' d_l
    let mut level: Vec<(String, usize)> = (0..plan.lanes.len())
        .map(|l| (format!("d_{l}"), dw))
        .collect();
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
    w!("    wire [31:0] rsum = racc + tsum;");
    w!("    wire [31:0] rsum_half = {{rsum[31], rsum[31:1]}};");
    // tags and state history follow the register stages: tag[0] with d, tag[k] with stage k
    w!("    reg [{}:0] hist [1:{stages}];", n - 1);
    w!("    always @(posedge clock) begin");
    w!("        tag[0] <= {{{w_recomp} & {w_last}, {w_recomp}, {w_upd} & {w_end}, {w_upd}}};");
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
    // with several words the compares are registered before they fan out to the p-bits
    // (n_active is written only while idle, and a run reads `act` no sooner than its third
    // clock): n_active through them to the p-bits' `act` was ≈ 17.5 ns in the 50 MHz build
    let (act_kind, act_set) = if words > 1 {
        ("reg", "always @(posedge clock)")
    } else {
        ("wire", "assign")
    };
    let act_op = if words > 1 { "<=" } else { "=" };
    let zero = |w: usize| {
        if words > 1 {
            format!(" = {w}'d0")
        } else {
            String::new()
        }
    };
    w!(
        "    {act_kind} [{}:0] act_gt{z}, act_eq{z};",
        words - 1,
        z = zero(words)
    );
    for wd in 0..words {
        w!("    {act_set} act_gt[{wd}] {act_op} (n_active[31:5] > 27'd{wd}); {act_set} act_eq[{wd}] {act_op} (n_active[31:5] == 27'd{wd});");
    }
    w!("    {act_kind} [31:0] act_lo{};", zero(32));
    for b in 0..32 {
        w!("    {act_set} act_lo[{b}] {act_op} (n_active[4:0] > 5'd{b});");
    }
    // state and clamp writes: with several words, each word's write strobe and the data are
    // registered first, so a strobe's fan-out to its 32 p-bits spread over the lanes has a
    // clock of its own (in one clock the decode through the clamp words' enables was the
    // 512-p-bit ULX3S build's critical path, 25.1 ns with 23.5 of routing). The write lands a
    // clock later; the bus writes only while idle, so no update meets it, and `stale` is set
    // in the write's own clock, so a run started by the next write recomputes.
    // With the lanes a clock late, a p-bit's state and clamp take the write from a kept copy
    // of the write (strobes, word index, data) per group of four lanes, and decode the word
    // there: the same clock, but from a register near the p-bits' lanes. The per-word strobe
    // register's net to its 32 p-bits, spread over the die, routed 14.6 ns in a 70 MHz build.
    let group_writes = lane_late;
    let wb = bits_for(words - 1).max(1); // the word index's bits
    if group_writes {
        for gr in 0..write_groups(plan.lanes.len()) {
            w!("    reg wst_g{gr} = 1'b0, wcl_g{gr} = 1'b0; reg [{}:0] wix_g{gr} = {wb}'d0; reg [31:0] wsd_g{gr} = 32'd0;", wb - 1);
            w!("    (* keep *) always @(posedge clock) begin wst_g{gr} <= wr_state & (w_index < 24'd{words}); wcl_g{gr} <= wr_clamp & (w_index < 24'd{words}); wix_g{gr} <= w_index[{}:0]; wsd_g{gr} <= write_data; end", wb - 1);
        }
    } else if words > 1 {
        w!("    wire [{}:0] wsw, wcw; wire [31:0] wsd;", words - 1);
        w!(
            "    reg [{}:0] wsw_q = {words}'d0, wcw_q = {words}'d0; reg [31:0] wsd_q = 32'd0;",
            words - 1
        );
        w!("    always @(posedge clock) begin wsw_q <= {{{words}{{wr_state}}}} & wword; wcw_q <= {{{words}{{wr_clamp}}}} & wword; wsd_q <= write_data; end");
        w!("    assign wsw = wsw_q; assign wcw = wcw_q; assign wsd = wsd_q;");
    } else {
        w!("    wire [{}:0] wsw, wcw; wire [31:0] wsd;", words - 1);
        w!("    assign wsw = {{{words}{{wr_state}}}} & wword; assign wcw = {{{words}{{wr_clamp}}}} & wword; assign wsd = write_data;");
    }
    for i in 0..n {
        let (wd, b) = (i / 32, i % 32);
        let (l, slot) = plan.node_at[i];
        w!("    reg spin_{i} = 1'b0, clamp_{i} = 1'b0, act_{i} = 1'b0;");
        w!("    assign spins[{i}] = spin_{i}; assign clamps[{i}] = clamp_{i}; assign act[{i}] = act_{i};");
        if mem {
            let (en, cur) = if pipe {
                (format!("en2_{l}"), format!("cur2_{l}"))
            } else {
                (format!("en_{l}"), format!("cur_{l}"))
            };
            w!("    wire up_{i} = {en} & ({cur} == {sb}'d{slot});");
        } else {
            w!("    wire up_{i} = en_{l} & slotdec[{slot}];");
        }
        if forwarded[i] {
            // the state after this clock's update (bus writes land only while idle, when no
            // lane selects a slot's inputs for an update)
            w!("    assign fw_{i} = up_{i} ? mnew_{l} : spin_{i};");
        }
        w!("    always @(posedge clock) begin");
        // act_i = n_active > i, i = 32w + b (the comparisons shared by words and bits)
        w!("        act_{i} <= act_gt[{wd}] | (act_eq[{wd}] & act_lo[{b}]);");
        if !mem || opts.readback {
            // the generator steps in stage 1 (`en_l`), when the state is written in stage 2
            let step = if pipe {
                format!("(en_{l} & (cur_{l} == {sb}'d{slot}))")
            } else {
                format!("up_{i}")
            };
            w!("        if ({step} | (wr_rng & whi[{wd}] & wlo[{b}])) s_{i} <= wb_{l};");
        }
        w!("        if (up_{i}) spin_{i} <= mnew_{l};");
        if group_writes {
            let gr = l / WRITE_GROUP;
            w!("        if (wst_g{gr} & (wix_g{gr} == {wb}'d{wd})) spin_{i} <= wsd_g{gr}[{b}];");
            w!("        if (wcl_g{gr} & (wix_g{gr} == {wb}'d{wd})) clamp_{i} <= wsd_g{gr}[{b}];");
        } else {
            w!("        if (wsw[{wd}]) spin_{i} <= wsd[{b}];");
            w!("        if (wcw[{wd}]) clamp_{i} <= wsd[{b}];");
        }
        if !mem || opts.readback {
            w!(
                "        if (wr_h & whi[{wd}] & wlo[{b}]) h_{i} <= write_data[{}:0];",
                hb - 1
            );
        }
        w!("    end");
    }
    if !mem || opts.readback {
        for e in 0..ne {
            w!("    always @(posedge clock) if (wr_edge & whi[{}] & wlo[{}]) j_{e} <= write_data[{}:0];", e / 32, e % 32, jb - 1);
        }
    }

    // ---- pages, schedule, registers
    w!("    always @(posedge clock) begin");
    w!("        if (wr_page) copies_valid <= 1'b0;");
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
    w!("        if (tag[{stages}][0]) energy <= energy + tsum;");
    w!("        if (tag[{stages}][1]) begin espins <= hist[{stages}]; bpend <= 1'b1; end");
    w!("        if (tag[{stages}][2]) racc <= racc + tsum;");
    w!("        if (tag[{stages}][3]) begin");
    w!("            energy <= rsum_half; best_energy <= rsum_half;");
    if late_best {
        // the best state's words load a clock later (below); `bwin` holds the drain for it
        w!("            espins <= hist[{stages}]; stale <= 1'b0;");
        w!("        end");
        w!("        bwin <= bless | tag[{stages}][3];");
        w!("        if (bless) best_energy <= energy;");
    } else {
        w!("            espins <= hist[{stages}]; bstate <= hist[{stages}]; stale <= 1'b0;");
        w!("        end");
        w!("        if (bpend & ((energy ^ 32'h80000000) < (best_energy ^ 32'h80000000))) begin");
        w!("            best_energy <= energy; bstate <= espins;");
        w!("        end");
    }
    // controller
    w!("        case (state)");
    w!("        S_IDLE: begin");
    if mem {
        w!("            racc <= 32'd0;");
    } else {
        w!("            racc <= 32'd0; slot <= {sb}'d0;");
    }
    w!("            if (start) begin");
    w!("                sample_pending <= 1'b0;");
    w!("                burn_left <= burn_in; every_left <= every; step <= 5'd0; running <= 1'b1;");
    // memory lanes write the bus's biases, couplings and generators three clocks late (after
    // their three-stage decode), so a recompute starts three clocks later, when slot 0's read
    // sees the last write
    // (four with the write tree, whose ROM outputs pass one more flip-flop)
    let recomp = if !mem {
        "S_RECOMP"
    } else if write_tree(plan.lanes.len()) {
        "S_BEGIN4"
    } else {
        "S_BEGIN3"
    };
    w!("                state <= stale ? {recomp} : S_FETCH;");
    w!("            end else if (recompute) begin running <= 1'b0; state <= {recomp}; end");
    w!("        end");
    w!("        S_BEGIN4: state <= S_BEGIN3;");
    w!("        S_BEGIN3: state <= S_BEGIN2;");
    w!("        S_BEGIN2: state <= S_BEGIN;");
    w!("        S_BEGIN: state <= S_RECOMP;");
    if mem {
        w!("        S_RECOMP: if (last_slot) state <= S_RDRAIN;");
    } else {
        w!("        S_RECOMP: if (last_slot) begin slot <= {sb}'d0; state <= S_RDRAIN; end else slot <= slot + {sb}'d1;");
    }
    w!("        S_RDRAIN: if (!inflight && !recomp_clk) state <= running ? S_FETCH : S_IDLE;");
    w!("        S_FETCH: state <= S_STEP;");
    w!("        S_STEP: begin");
    w!("            page <= sq_page; sweeps_left <= sq_sweeps; copy_cnt <= 8'd0;");
    w!("            if (sq_sweeps == 32'd0) begin");
    w!("                if (step == n_steps[4:0] - 5'd1) state <= S_DRAIN; else begin step <= step + 5'd1; state <= S_FETCH; end");
    w!("            end else if (copies_valid && copied_page == sq_page) state <= S_PREP;");
    w!("            else state <= S_COPY;");
    w!("        end");
    w!("        S_COPY: begin");
    w!("            copy_cnt <= copy_cnt + 8'd1;");
    w!("            if (copy_cnt == 8'd{copy_end}) begin copied_page <= page; copies_valid <= 1'b1; state <= S_PREP; end");
    w!("        end");
    if mem {
        w!("        S_PREP: state <= S_SWEEP;");
    } else {
        w!("        S_PREP: begin slot <= {sb}'d0; state <= S_SWEEP; end");
    }
    w!("        S_SWEEP: begin");
    w!("            if (last_slot) begin");
    // end of a sweep
    w!("                sweeps <= sweeps + 32'd1;");
    if lane_late {
        // the counters' compares as registers (`burn_nz`, `every_nz`, `every_one`, as `due`)
        w!("                if (burn_nz) burn_left <= burn_left - 32'd1;");
        w!("                else if (every_nz) every_left <= every_one ? every : every_left - 32'd1;");
    } else {
        w!("                if (burn_left != 32'd0) burn_left <= burn_left - 32'd1;");
        w!("                else if (every != 32'd0) every_left <= (every_left == 32'd1) ? every : every_left - 32'd1;");
    }
    w!("                if (due) state <= S_SDRAIN;");
    w!("                else if (last_sweep) begin");
    w!("                    if (step == n_steps[4:0] - 5'd1) state <= S_DRAIN; else begin step <= step + 5'd1; state <= S_FETCH; end");
    w!("                end else begin");
    w!("                    sweeps_left <= sweeps_left - 32'd1;");
    if t == 1 {
        w!("                    state <= S_PREP;");
    } else if !mem {
        w!("                    slot <= {sb}'d0;");
    }
    w!("                end");
    if t > 1 && !mem {
        w!("            end else slot <= slot + {sb}'d1;");
    } else {
        w!("            end");
    }
    w!("        end");
    w!("        S_SDRAIN: begin");
    w!("            if (stats_take) begin");
    // a quiet sample (statistics only) is not held for the host
    if late_capture {
        // the sample's words load a clock later (below), before anything writes the states
        w!("                sample_pending <= !stats_quiet; sample_energy <= energy; samples <= samples + {{31'd0, !stats_quiet}};");
    } else {
        w!("                sample_pending <= !stats_quiet; sample_energy <= energy; sstate <= spins; samples <= samples + {{31'd0, !stats_quiet}};");
    }
    // (`last_sweep` is `sweeps_left == 1` a clock late: S_SDRAIN's sweep end left
    // `sweeps_left` as it was, at least two clocks before `stats_take` with `infl_q`)
    let sdrain_last = if lane_late {
        "last_sweep"
    } else {
        "sweeps_left == 32'd1"
    };
    w!("                if ({sdrain_last}) begin");
    w!("                    if (step == n_steps[4:0] - 5'd1) state <= S_DRAIN; else begin step <= step + 5'd1; state <= S_FETCH; end");
    w!("                end else begin sweeps_left <= sweeps_left - 32'd1; state <= S_PREP; end");
    w!("            end");
    w!("        end");
    w!("        S_DRAIN: if (!inflight && !upd && !stats_wait) state <= S_IDLE;");
    w!("        default: state <= S_IDLE;");
    w!("        endcase");
    w!("        if (stop) state <= S_IDLE;");
    w!("    end");
    w!("    assign busy = !idle | stats_wait;");
    // the captures a clock late, a copy of the enable per state word (`keep`: equal copies
    // that yosys would merge), so no one net carries an enable to all n flip-flops. The best
    // state's source `espins` holds still for it: the next phase end reloads it no sooner than
    // two clocks after (`shortest_phase` ≥ 2). The sample's source, the states, holds still:
    // stats_take leaves S_SDRAIN for S_PREP, S_FETCH or S_DRAIN, and the lanes, a clock behind
    // the controller, write no state before the next sweep's second clock.
    for wd in 0..words {
        let (lo, hi) = (32 * wd, (32 * wd + 31).min(n - 1));
        let width = hi - lo + 1;
        if late_best {
            w!(
                "    reg [{}:0] bst_{wd} = {width}'d0; reg bcap_{wd} = 1'b0;",
                width - 1
            );
            // the recompute's end loads `espins` too, so one source serves both
            w!("    (* keep *) always @(posedge clock) bcap_{wd} <= bless | tag[{stages}][3];");
            w!("    always @(posedge clock) if (bcap_{wd}) bst_{wd} <= espins[{hi}:{lo}];");
            w!("    assign bstate[{hi}:{lo}] = bst_{wd};");
        }
        if late_capture {
            w!(
                "    reg [{}:0] sst_{wd} = {width}'d0; reg scap_{wd} = 1'b0;",
                width - 1
            );
            w!("    (* keep *) always @(posedge clock) scap_{wd} <= stats_take;");
            w!("    always @(posedge clock) if (scap_{wd}) sst_{wd} <= spins[{hi}:{lo}];");
            w!("    assign sstate[{hi}:{lo}] = sst_{wd};");
        }
    }
    w!("    assign sample_valid = sample_pending;");

    // ---- reads (registered)
    if opts.readback {
        w!("    reg [31:0] rb_s;");
        w!("    always @(*) begin");
        w!("        case (r_index)");
        for i in 0..n {
            w!("        24'd{i}: rb_s = s_{i};");
        }
        w!("        default: rb_s = 32'd0;");
        w!("        endcase");
        w!("    end");
    }
    // the state words' read multiplexer in two registered levels when there are several
    // words: each word's region select (`rv_k`, next to its p-bits) a clock before the word
    // select (`read_q`). In one level the path from the bus stage's address through the
    // clamp words to `read_q` spanned the die (24.0 ns, 21.3 of it routing, in the 512-p-bit
    // ULX3S build); pbit_spec::regmap::BUS_READ_CLOCKS leaves the clock for it.
    let vector_regions = [
        (mm::REGION_STATE, "spins"),
        (mm::REGION_CLAMPS, "clamps"),
        (mm::REGION_BEST_STATE, "bstate"),
        (mm::REGION_SAMPLE, "sstate"),
    ];
    let two_level = words > 1;
    if two_level {
        let hits: Vec<String> = vector_regions
            .iter()
            .map(|(region, _)| format!("(r_region == 8'd{region})"))
            .collect();
        w!("    wire r_vector = {};", hits.join(" | "));
        // the region decode is registered before it fans out to the words across the die
        // (in one clock with the words' select it was the 50 MHz build's critical path:
        // 24.4 ns, 15.9 ns of it one net)
        w!(
            "    reg [{}:0] rsel = {}'d0;",
            vector_regions.len() - 1,
            vector_regions.len()
        );
        let decode: Vec<String> = hits.iter().rev().cloned().collect();
        w!(
            "    always @(posedge clock) rsel <= {{{}}};",
            decode.join(", ")
        );
        for wd in 0..words {
            let hi = (32 * wd + 31).min(n - 1);
            let width = hi - 32 * wd + 1;
            let terms: Vec<String> = vector_regions
                .iter()
                .enumerate()
                .map(|(k, (_, vec))| {
                    format!("({{{width}{{rsel[{k}]}}}} & {vec}[{hi}:{}])", 32 * wd)
                })
                .collect();
            w!("    reg [{}:0] rv_{wd} = {width}'d0;", width - 1);
            w!(
                "    always @(posedge clock) rv_{wd} <= {};",
                terms.join(" | ")
            );
        }
        w!(
            "    reg [{}:0] rq_word = {words}'d0; reg rq_vector = 1'b0, rq_regs = 1'b0;",
            words - 1
        );
        w!("    always @(posedge clock) begin");
        w!(
            "        rq_vector <= r_vector & (r_index < 24'd{words}); rq_regs <= (r_region == 8'd{});",
            mm::REGION_REGS
        );
        for wd in 0..words {
            w!("        rq_word[{wd}] <= (r_index == 24'd{wd});");
        }
        w!("    end");
    }
    w!("    reg [31:0] read_q = 32'd0;");
    w!("    assign read_data = stats_rsel ? stats_rdata : read_q;");
    // with several words the registers' read multiplexer is registered too (`reg_q`), a clock
    // before `read_q`: from the bus stage's address through it to `read_q` was the 50 MHz
    // build's critical path (23.5 ns, one net of 13.4 ns across the die)
    let reg_target = if two_level { "reg_q" } else { "read_q" };
    // state word wd's read register selected by its one-hot select, zero-padded to 32 bits
    let word_term = |wd: usize| {
        let hi = (32 * wd + 31).min(n - 1);
        let width = hi - 32 * wd + 1;
        let value = if width == 32 {
            format!("rv_{wd}")
        } else {
            format!("{{{}'d0, rv_{wd}}}", 32 - width)
        };
        format!("({{32{{rq_word[{wd}]}}}} & {value})")
    };
    // with the lanes a clock late (the same machines as the 60 MHz build's), the registers'
    // read takes the clock the vector read path has anyway: a registered hit per register
    // (`rh`), then `reg_q` as an AND-OR of them (from the address through the 24-bit compares
    // to `reg_q` was ≈ 15.8 ns there)
    let reg_hits = two_level && lane_late;
    if reg_hits {
        // emitted below, once the registers are listed
    } else if two_level {
        w!("    reg [31:0] reg_q = 32'd0;");
        w!("    always @(posedge clock) begin");
        w!("        reg_q <= 32'd0;");
        w!("        begin");
    } else {
        w!("    always @(posedge clock) begin");
        w!("        read_q <= 32'd0;");
        w!("        if (r_region == 8'd{}) begin", mm::REGION_REGS);
    }
    if !reg_hits {
        w!("            case (r_index)");
    }
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
            "{29'd0, stale, sample_pending, busy}".into(),
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
    let regs = regs
        .into_iter()
        .chain(crate::sparse_stats::stats_registers(opts.stats));
    if reg_hits {
        let regs: Vec<(u32, String)> = regs.collect();
        w!("    reg [{}:0] rh = {}'d0;", regs.len() - 1, regs.len());
        w!("    always @(posedge clock) begin");
        for (k, (a, _)) in regs.iter().enumerate() {
            w!("        rh[{k}] <= (r_index == 24'd{a});");
        }
        w!("    end");
        let terms: Vec<String> = regs
            .iter()
            .enumerate()
            .map(|(k, (_, v))| format!("({{32{{rh[{k}]}}}} & {v})"))
            .collect();
        w!("    reg [31:0] reg_q = 32'd0;");
        w!(
            "    always @(posedge clock) reg_q <= {};",
            terms.join(" | ")
        );
        // and the state words' select in one more level (`BUS_READ_CLOCKS` = 5): the words
        // ORed four at a time (`rg_j`), a clock before `read_q`. In one level, sixteen words'
        // AND-OR into `read_q` was ≈ 15–15.8 ns of the 64–68 MHz builds.
        w!("    reg rq_vector2 = 1'b0;");
        w!("    always @(posedge clock) rq_vector2 <= rq_vector;");
        for j in 0..words.div_ceil(4) {
            let terms: Vec<String> = (4 * j..(4 * j + 4).min(words)).map(word_term).collect();
            w!("    reg [31:0] rg_{j} = 32'd0;");
            w!(
                "    always @(posedge clock) rg_{j} <= {};",
                terms.join(" | ")
            );
        }
        w!("    always @(posedge clock) begin");
        w!("        read_q <= 32'd0;");
        w!("        if (rq_regs) read_q <= reg_q;");
    } else {
        for (a, v) in regs {
            w!("            24'd{a}: {reg_target} <= {v};");
        }
        w!("            default: {reg_target} <= 32'd0;");
        w!("            endcase");
        w!("        end");
        if two_level {
            w!("    end");
            w!("    always @(posedge clock) begin");
            w!("        read_q <= 32'd0;");
            w!("        if (rq_regs) read_q <= reg_q;");
        }
    }
    // one word case: `source(wd, hi)` is word wd's bits (hi its top p-bit), zero-padded to 32
    let word_case = |o: &mut String, source: &dyn Fn(usize, usize) -> String| {
        let _ = writeln!(o, "            case (r_index)");
        for wd in 0..words {
            let hi = (32 * wd + 31).min(n - 1);
            let width = hi - 32 * wd + 1;
            let value = source(wd, hi);
            if width == 32 {
                let _ = writeln!(o, "            24'd{wd}: read_q <= {value};");
            } else {
                let _ = writeln!(
                    o,
                    "            24'd{wd}: read_q <= {{{}'d0, {value}}};",
                    32 - width
                );
            }
        }
        let _ = writeln!(o, "            default: read_q <= 32'd0;");
        let _ = writeln!(o, "            endcase");
        let _ = writeln!(o, "        end");
    };
    if two_level {
        // the word select from registered one-hot selects (`rq_word`, a clock after the
        // address, as `rv_k` is): from the bus stage's address through the decode to
        // `read_q` was the 50 MHz build's critical path after the write tree (21.3 ns)
        if reg_hits {
            let groups: Vec<String> = (0..words.div_ceil(4)).map(|j| format!("rg_{j}")).collect();
            w!("        if (rq_vector2) read_q <= {};", groups.join(" | "));
        } else {
            let terms: Vec<String> = (0..words).map(word_term).collect();
            w!("        if (rq_vector) read_q <= {};", terms.join(" | "));
        }
    } else {
        for (region, vec) in vector_regions {
            w!("        if (r_region == 8'd{region}) begin");
            word_case(&mut o, &|wd, hi| format!("{vec}[{hi}:{}]", 32 * wd));
        }
    }
    if opts.readback {
        w!(
            "        if (r_region == 8'd{} && idle) begin",
            mm::REGION_RNG
        );
        w!("            read_q <= unxs32(rb_s);");
        w!("        end");
        w!(
            "        if (r_region == 8'd{} && idle) begin",
            mm::REGION_FIELD
        );
        w!("            case (r_index)");
        for i in 0..n {
            w!(
                "            24'd{i}: read_q <= {{{{{}{{fr_{i}[{}]}}}}, fr_{i}}};",
                32 - f,
                f - 1
            );
        }
        w!("            default: read_q <= 32'd0;");
        w!("            endcase");
        w!("        end");
    }
    w!("    end");
    w!("endmodule");
    o.push_str(PAGE_RAM);
    // zero-width concatenations are illegal: a full 32-bit word has no padding
    o.replace("{0'd0, ", "{")
}

/// The write decode of memory lanes: the bus's RNG, h and edge writes, delayed a clock while
/// two ROMs turn the written index into where it lives — a node's (lane, slot), an edge's
/// (lane, slot, position) at both ends. Outputs: `wq_rng`, `wq_h`, `wq_edge`, `wdq` (the bus
/// write a clock late), their flip-flop copies `wqr_*`, `wdqr`, `wdxq` (the generator's stored
/// next state), and the ROMs' fields `nq_valid`, `nq_lane`, `nq_slot` (a node's) and `eq_valid`,
/// `eq_l{a,b}`, `eq_s{a,b}`, `eq_k{a,b}` (an edge's ends: lane, slot, position). The lanes
/// register their own hits from these (`emit_lane_memories`: `nh_l`, `ja_l_k`, `jb_l_k`).
fn emit_lane_memory_decode(
    o: &mut String,
    graph: &SparseGraph,
    plan: &Plan,
    pos: &[Vec<Option<(usize, usize)>>],
    sb: usize,
) {
    let lanes = plan.lanes.len();
    let lb = bits_for(lanes - 1).max(1);
    let kb = position_bits(pos);
    let nw = 1 + lb + sb;
    let ew = 1 + 2 * (lb + sb + kb);
    let _ = writeln!(
        o,
        "    // ---- lane memories: delayed bus writes and their decode"
    );
    let _ = writeln!(
        o,
        "    reg wq_rng = 1'b0, wq_h = 1'b0, wq_edge = 1'b0; reg [31:0] wdq = 32'd0;"
    );
    let _ = writeln!(o, "    always @(posedge clock) begin wq_rng <= wr_rng; wq_h <= wr_h; wq_edge <= wr_edge; wdq <= write_data; end");
    // with the write tree the ROMs' outputs pass one flip-flop (`nqm`, `eqm`) before they fan
    // out to the groups' copies, and the write a clock more (`wqm_*`, `wdqm`) to stay aligned
    let tree = write_tree(lanes);
    let mid = if tree {
        let _ = writeln!(
            o,
            "    reg wqm_rng = 1'b0, wqm_h = 1'b0, wqm_edge = 1'b0; reg [31:0] wdqm = 32'd0;"
        );
        let _ = writeln!(o, "    always @(posedge clock) begin wqm_rng <= wq_rng; wqm_h <= wq_h; wqm_edge <= wq_edge; wdqm <= wdq; end");
        "m"
    } else {
        ""
    };
    // aligned with the ROMs' flip-flop copies
    let _ = writeln!(
        o,
        "    reg wqr_rng = 1'b0, wqr_h = 1'b0, wqr_edge = 1'b0; reg [31:0] wdqr = 32'd0;"
    );
    let _ = writeln!(o, "    always @(posedge clock) begin wqr_rng <= wq{mid}_rng; wqr_h <= wq{mid}_h; wqr_edge <= wq{mid}_edge; wdqr <= wdq{mid}; end");
    let _ = writeln!(o, "    wire [31:0] wdxq = xs32(wdqr);");
    // the ROMs are memories with a registered read, so yosys puts them in block RAM
    let n = plan.node_at.len();
    let ne = graph.edges().len();
    let nib = bits_for(n - 1).max(1);
    let _ = writeln!(o, "    reg [{}:0] nrom [0:{}];", nw - 1, n - 1);
    let _ = writeln!(o, "    initial begin");
    for (i, &(l, slot)) in plan.node_at.iter().enumerate() {
        let _ = writeln!(o, "        nrom[{i}] = {{1'b1, {lb}'d{l}, {sb}'d{slot}}};");
    }
    let _ = writeln!(o, "    end");
    let _ = writeln!(o, "    reg [{}:0] nq = {nw}'d0;", nw - 1);
    let _ = writeln!(o, "    wire n_in = (w_index < 24'd{n});");
    let _ = writeln!(
        o,
        "    always @(posedge clock) nq <= n_in ? nrom[w_index[{}:0]] : {nw}'d0;",
        nib - 1
    );
    // the ROMs' block-RAM outputs are copied into flip-flops before they fan out to every
    // lane: from the RAM's output pins the 64-lane ULX3S build routed them in 20.7 ns
    // with the write tree, a kept copy per group of lanes (suffix `_gG`): one register's
    // fan-out to all 64 lanes' hit compares was ≈ 15.9 ns of the 60 MHz build. Those copies
    // load from a flip-flop beside the RAM (`nqm`, `eqm`), not from its output pins: the
    // 86-lane build's latest path was a RAM's output (5.6 ns to the clock) then 11.4 ns of
    // routing to a far group's copy
    if tree {
        let _ = writeln!(o, "    reg [{}:0] nqm = {nw}'d0;", nw - 1);
        let _ = writeln!(o, "    always @(posedge clock) nqm <= nq;");
    }
    let copies: Vec<String> = if tree {
        (0..write_groups(lanes)).map(|g| format!("_g{g}")).collect()
    } else {
        vec![String::new()]
    };
    for c in &copies {
        let _ = writeln!(o, "    reg [{}:0] nqr{c} = {nw}'d0;", nw - 1);
        let keep = if tree { "(* keep *) " } else { "" };
        let _ = writeln!(o, "    {keep}always @(posedge clock) nqr{c} <= nq{mid};");
        let _ = writeln!(o, "    wire nq_valid{c} = nqr{c}[{}];", nw - 1);
        let _ = writeln!(
            o,
            "    wire [{}:0] nq_lane{c} = nqr{c}[{}:{sb}];",
            lb - 1,
            sb + lb - 1
        );
        let _ = writeln!(
            o,
            "    wire [{}:0] nq_slot{c} = nqr{c}[{}:0];",
            sb - 1,
            sb - 1
        );
    }
    let eib = bits_for(ne.max(1) - 1).max(1);
    let _ = writeln!(o, "    reg [{}:0] erom [0:{}];", ew - 1, ne.max(1) - 1);
    let _ = writeln!(o, "    initial begin");
    if ne == 0 {
        let _ = writeln!(o, "        erom[0] = {ew}'d0;");
    }
    let k_of = |i: usize, e: usize| {
        pos[i]
            .iter()
            .position(|p| matches!(p, Some((_, f)) if *f == e))
    };
    for (e, &(i, j)) in graph.edges().iter().enumerate() {
        let (i, j) = (i as usize, j as usize);
        let (li, si) = plan.node_at[i];
        let (lj, sj) = plan.node_at[j];
        let ki = k_of(i, e).expect("every edge has a position at each end");
        let kj = k_of(j, e).expect("every edge has a position at each end");
        let _ = writeln!(
            o,
            "        erom[{e}] = {{1'b1, {lb}'d{li}, {sb}'d{si}, {kb}'d{ki}, {lb}'d{lj}, {sb}'d{sj}, {kb}'d{kj}}};"
        );
    }
    let _ = writeln!(o, "    end");
    let _ = writeln!(o, "    reg [{}:0] eq = {ew}'d0;", ew - 1);
    let _ = writeln!(o, "    wire e_in = (w_index < 24'd{ne});");
    let _ = writeln!(
        o,
        "    always @(posedge clock) eq <= e_in ? erom[w_index[{}:0]] : {ew}'d0;",
        eib - 1
    );
    if tree {
        let _ = writeln!(o, "    reg [{}:0] eqm = {ew}'d0;", ew - 1);
        let _ = writeln!(o, "    always @(posedge clock) eqm <= eq;");
    }
    let half = lb + sb + kb;
    for c in &copies {
        let _ = writeln!(o, "    reg [{}:0] eqr{c} = {ew}'d0;", ew - 1);
        let keep = if tree { "(* keep *) " } else { "" };
        let _ = writeln!(o, "    {keep}always @(posedge clock) eqr{c} <= eq{mid};");
        let _ = writeln!(o, "    wire eq_valid{c} = eqr{c}[{}];", ew - 1);
        for (end, base) in [("a", half), ("b", 0)] {
            let _ = writeln!(
                o,
                "    wire [{}:0] eq_l{end}{c} = eqr{c}[{}:{}];",
                lb - 1,
                base + half - 1,
                base + sb + kb
            );
            let _ = writeln!(
                o,
                "    wire [{}:0] eq_s{end}{c} = eqr{c}[{}:{}];",
                sb - 1,
                base + sb + kb - 1,
                base + kb
            );
            let _ = writeln!(
                o,
                "    wire [{}:0] eq_k{end}{c} = eqr{c}[{}:{base}];",
                kb - 1,
                base + kb - 1
            );
        }
    }
    // a second stage: the ROMs' block-RAM outputs reach every lane's write enables across the
    // die (the 40 MHz ULX3S build's critical path: 26.3 ns, 19.1 of it routing), so each lane
    // registers its own hits, and the slots, positions and data are registered once more
    if !write_tree(lanes) {
        let _ = writeln!(
            o,
            "    reg wq2_rng = 1'b0, wq2_h = 1'b0; reg [31:0] wdq2 = 32'd0, wdxq2 = 32'd0; reg [{}:0] nq_slot2 = {sb}'d0, eq_sa2 = {sb}'d0, eq_sb2 = {sb}'d0;",
            sb - 1
        );
        let _ = writeln!(o, "    always @(posedge clock) begin wq2_rng <= wqr_rng; wq2_h <= wqr_h; wdq2 <= wdqr; wdxq2 <= wdxq; nq_slot2 <= nq_slot; eq_sa2 <= eq_sa; eq_sb2 <= eq_sb; end");
    } else {
        // with many lanes the second stage is a copy per group of WRITE_GROUP lanes, loaded
        // only by writes that hit the group (so yosys keeps the copies apart): one register
        // driving every lane's memory write ports across the die was the 50 MHz ULX3S build's
        // critical path (`wdxq2`, 22.8 ns of routing in one net)
        for g in 0..write_groups(lanes) {
            let gb = lb - WRITE_GROUP.trailing_zeros() as usize;
            let in_group = |lane: &str| format!("({lane}[{}:{}] == {gb}'d{g})", lb - 1, lb - gb);
            let _ = writeln!(
                o,
                "    wire ghn_{g} = nq_valid_g{g} & {}; wire ghe_{g} = eq_valid_g{g} & ({} | {});",
                in_group(&format!("nq_lane_g{g}")),
                in_group(&format!("eq_la_g{g}")),
                in_group(&format!("eq_lb_g{g}"))
            );
            let _ = writeln!(
                o,
                "    reg wq2_rng_g{g} = 1'b0, wq2_h_g{g} = 1'b0; reg [31:0] wdq2_g{g} = 32'd0, wdxq2_g{g} = 32'd0; reg [{}:0] nq_slot2_g{g} = {sb}'d0, eq_sa2_g{g} = {sb}'d0, eq_sb2_g{g} = {sb}'d0;",
                sb - 1
            );
            let _ = writeln!(o, "    always @(posedge clock) begin");
            let _ = writeln!(
                o,
                "        wq2_rng_g{g} <= wqr_rng & ghn_{g}; wq2_h_g{g} <= wqr_h & ghn_{g};"
            );
            let _ = writeln!(
                o,
                "        if (ghn_{g} | ghe_{g}) begin wdq2_g{g} <= wdqr; wdxq2_g{g} <= wdxq; end"
            );
            let _ = writeln!(o, "        if (ghn_{g}) nq_slot2_g{g} <= nq_slot_g{g};");
            let _ = writeln!(
                o,
                "        if (ghe_{g}) begin eq_sa2_g{g} <= eq_sa_g{g}; eq_sb2_g{g} <= eq_sb_g{g}; end"
            );
            let _ = writeln!(o, "    end");
        }
    }
    for l in 0..lanes {
        let c = &copies[if tree { l / WRITE_GROUP } else { 0 }];
        let _ = writeln!(
            o,
            "    reg nh_{l} = 1'b0; always @(posedge clock) nh_{l} <= nq_valid{c} & (nq_lane{c} == {lb}'d{l});"
        );
    }
}

/// Lane `l`'s memories, one entry per slot of the sweep: its generators (`gm`, read two clocks
/// ahead into `g_l`, then `ss_l` in the update's clock, which writes back the stepped state),
/// biases (`hm`) and the couplings of its `deg` neighbour positions (`jm_k`, a memory each, so
/// an edge whose two ends share the lane writes both in one clock), read a clock ahead.
#[allow(clippy::too_many_arguments)]
fn emit_lane_memories(
    o: &mut String,
    l: usize,
    deg: usize,
    fmt: &Format,
    t: usize,
    kb: usize,
    lb: usize,
    lanes: usize,
    banked: bool,
) {
    let hb = fmt.h_bits as usize;
    let jb = fmt.j_bits as usize;
    // the generators stay in LUT RAM (8 DPR16X4 a lane, ≈ 54 LUT sites): in block RAM (one
    // DP16KD a lane, 137 of 208 in all at 64 lanes) they saved 3,500 LUTs, but the 64-lane
    // glass then did not route (router2 kept ≈ 500–600 overused wires for 50 minutes; the
    // lanes are pulled to the block-RAM rows)
    let _ = writeln!(o, "    reg [31:0] gm_{l} [0:{}];", t - 1);
    let _ = writeln!(o, "    reg [{}:0] hm_{l} [0:{}];", hb - 1, t - 1);
    // banked couplings live in their pair's banks (`emit_coupling_banks`)
    let jms = if banked { 0 } else { deg };
    for k in 0..jms {
        let _ = writeln!(o, "    reg [{}:0] jm_{l}_{k} [0:{}];", jb - 1, t - 1);
    }
    let _ = writeln!(o, "    integer mi_{l};");
    let _ = writeln!(
        o,
        "    initial for (mi_{l} = 0; mi_{l} < {t}; mi_{l} = mi_{l} + 1) begin"
    );
    let _ = writeln!(
        o,
        "        gm_{l}[mi_{l}] = 32'd1; hm_{l}[mi_{l}] = {hb}'d0;"
    );
    for k in 0..jms {
        let _ = writeln!(o, "        jm_{l}_{k}[mi_{l}] = {jb}'d0;");
    }
    let _ = writeln!(o, "    end");
    let _ = writeln!(o, "    reg [31:0] g_{l} = 32'd1;");
    // a bus write (only while idle) or the update's write-back (only while sweeping), chosen
    // by the lane's own decode, not the controller's state (a net to every bit of every lane)
    // the second decode stage's registers this lane reads: its group's copies with many lanes
    let gs = write_group_suffix(l, lanes);
    let _ = writeln!(o, "    wire bw_{l} = wq2_rng{gs} & nh_{l};");
    let _ = writeln!(o, "    wire gwe_{l} = en_{l} | bw_{l};");
    let _ = writeln!(o, "    always @(posedge clock) begin");
    let _ = writeln!(o, "        g_{l} <= gm_{l}[seln_{l}]; ss_{l} <= g_{l};");
    let _ = writeln!(
        o,
        "        if (gwe_{l}) gm_{l}[bw_{l} ? nq_slot2{gs} : cur_{l}] <= bw_{l} ? wdxq2{gs} : rs_{l};"
    );
    let _ = writeln!(o, "        hs_{l} <= hm_{l}[sel_{l}];");
    let _ = writeln!(
        o,
        "        if (wq2_h{gs} & nh_{l}) hm_{l}[nq_slot2{gs}] <= wdq2{gs}[{}:0];",
        hb - 1
    );
    let _ = writeln!(o, "    end");
    for k in 0..deg {
        // the hits of the decode's second stage, registered in the lane (see the decode)
        let _ = writeln!(o, "    reg ja_{l}_{k} = 1'b0, jb_{l}_{k} = 1'b0;");
        let _ = writeln!(o, "    always @(posedge clock) begin ja_{l}_{k} <= wqr_edge & eq_valid{gs} & (eq_la{gs} == {lb}'d{l}) & (eq_ka{gs} == {kb}'d{k}); jb_{l}_{k} <= wqr_edge & eq_valid{gs} & (eq_lb{gs} == {lb}'d{l}) & (eq_kb{gs} == {kb}'d{k}); end");
        if banked {
            continue;
        }
        let _ = writeln!(o, "    always @(posedge clock) begin");
        let _ = writeln!(o, "        jj_{l}_{k} <= jm_{l}_{k}[sel_{l}];");
        let _ = writeln!(
            o,
            "        if (ja_{l}_{k} | jb_{l}_{k}) jm_{l}_{k}[ja_{l}_{k} ? eq_sa2{gs} : eq_sb2{gs}] <= wdq2{gs}[{}:0];",
            jb - 1
        );
        let _ = writeln!(o, "    end");
    }
}

/// A coupling bank's byte: (lane, neighbour position, byte).
type BankByte = (usize, usize, usize);

/// The block-RAM banks of the couplings of lanes `l0` and `l0 + 1` (or `l0` alone, the last of
/// an odd count), with banked couplings (`Plan::layout`): bank b holds the 9-bit bytes
/// `coupling_bank` gives it, one entry per slot. A bank is read two clocks ahead at the
/// lanes' next slot (`seln`, one read address for both lanes: their slot counters agree), its
/// registered output copied into the lanes' `jj` a clock later, where a LUT RAM was read a
/// clock ahead into `jj`. It is written through its byte enables by the lanes' registered
/// hits (`ja`, `jb`), at the slot of the end that lies in it: the placement puts no edge's
/// two ends in one bank. The bus writes only while idle and a run that recomputes first
/// waits for the writes to land (`S_BEGIN3`), so a read never meets a write it needs
/// (`no_rw_check`).
#[allow(clippy::too_many_arguments)]
fn emit_coupling_banks(
    o: &mut String,
    plan: &Plan,
    pos: &[Vec<Option<(usize, usize)>>],
    l0: usize,
    jb: usize,
    t: usize,
    sb: usize,
) {
    let width = pos.first().map_or(0, Vec::len);
    let lanes = plan.lanes.len();
    let gs = write_group_suffix(l0, lanes);
    let mut banks: Vec<(usize, Vec<BankByte>)> = Vec::new();
    for l in l0..(l0 + 2).min(lanes) {
        for k in 0..plan.lane_positions(pos, l) {
            let (b, y) = coupling_bank(l, k, width);
            match banks.iter_mut().find(|(c, _)| *c == b) {
                Some((_, bytes)) => bytes.push((l, k, y)),
                None => banks.push((b, vec![(l, k, y)])),
            }
        }
    }
    let bw = COUPLING_BYTE_BITS;
    for (b, bytes) in &banks {
        let w = bw * (bytes.iter().map(|&(_, _, y)| y).max().unwrap_or(0) + 1);
        let _ = writeln!(
            o,
            "    // coupling bank {b} (block RAM): (lane, position, byte) {bytes:?}"
        );
        let _ = writeln!(
            o,
            "    (* ram_style = \"block\", no_rw_check *) reg [{}:0] jk_{b} [0:{}];",
            w - 1,
            t - 1
        );
        let _ = writeln!(o, "    integer ki_{b};");
        let _ = writeln!(
            o,
            "    initial for (ki_{b} = 0; ki_{b} < {t}; ki_{b} = ki_{b} + 1) jk_{b}[ki_{b}] = {w}'d0;"
        );
        let hits_a: Vec<String> = bytes
            .iter()
            .map(|&(l, k, _)| format!("ja_{l}_{k}"))
            .collect();
        let _ = writeln!(
            o,
            "    wire [{}:0] jkw_{b} = ({}) ? eq_sa2{gs} : eq_sb2{gs};",
            sb - 1,
            hits_a.join(" | ")
        );
        let _ = writeln!(o, "    reg [{}:0] jkr_{b} = {w}'d0;", w - 1);
        let _ = writeln!(o, "    always @(posedge clock) begin");
        for &(l, k, y) in bytes {
            let _ = writeln!(
                o,
                "        if (ja_{l}_{k} | jb_{l}_{k}) jk_{b}[jkw_{b}][{}:{}] <= wdq2{gs}[{}:0];",
                bw * y + jb - 1,
                bw * y,
                jb - 1
            );
        }
        let _ = writeln!(o, "        jkr_{b} <= jk_{b}[seln_{l0}];");
        let _ = writeln!(o, "    end");
        let _ = write!(o, "    always @(posedge clock) begin");
        for &(l, k, y) in bytes {
            let _ = write!(o, " jj_{l}_{k} <= jkr_{b}[{}:{}];", bw * y + jb - 1, bw * y);
        }
        let _ = writeln!(o, " end");
    }
}

/// Lanes that share a copy of the lane-memory write decode's second stage (with
/// [`write_tree`]).
const WRITE_GROUP: usize = 4;

/// Groups of [`WRITE_GROUP`] lanes among `lanes`.
fn write_groups(lanes: usize) -> usize {
    lanes.div_ceil(WRITE_GROUP)
}

/// Whether the lane-memory writes fan out through a copy per group of lanes (with as many
/// lanes as two-stage lanes take) rather than one register for all.
fn write_tree(lanes: usize) -> bool {
    lanes >= PIPELINE_MIN_LANES
}

/// The suffix of the decode registers lane `l` reads: its group's copies (`_gG`) with
/// [`write_tree`], else none.
fn write_group_suffix(l: usize, lanes: usize) -> String {
    if write_tree(lanes) {
        format!("_g{}", l / WRITE_GROUP)
    } else {
        String::new()
    }
}

/// Bits of a neighbour position (0..the positions' width).
fn position_bits(pos: &[Vec<Option<(usize, usize)>>]) -> usize {
    bits_for(pos.first().map_or(1, Vec::len).max(1) - 1).max(1)
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
pub(crate) mod tests {
    use super::*;

    /// An n-ring, 2-coloured by parity (n even).
    pub(crate) fn ring(n: u32) -> SparseGraph {
        let edges = SparseGraph::canonical_edges((0..n).map(|i| (i, (i + 1) % n)));
        SparseGraph::new(n as usize, edges, (0..n).map(|i| i % 2).collect()).unwrap()
    }

    #[test]
    fn emits_and_describes_the_machine() {
        let g = ring(8);
        let opts = SparseOptions {
            max_degree: 2,
            readback: true,
            lanes: None,
            stats: None,
            coupling_banks: false,
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
        assert_eq!(v.matches("reg [31:0] s_").count(), 8);
    }

    /// A periodic L×L×L lattice numbered plane by plane, 2-coloured by parity.
    fn lattice3(l: u32) -> SparseGraph {
        lattice(l, 3)
    }

    /// The periodic lattice of side l (even) in `dims` dimensions, node index the coordinates
    /// in base l (x fastest), coloured by the parity of their sum.
    fn lattice(l: u32, dims: u32) -> SparseGraph {
        let n = l.pow(dims);
        let digit = |i: u32, d: u32| (i / l.pow(d)) % l;
        let mut p = Vec::new();
        for i in 0..n {
            for d in 0..dims {
                let up = i - digit(i, d) * l.pow(d) + ((digit(i, d) + 1) % l) * l.pow(d);
                p.push((i, up));
            }
        }
        let col = (0..n)
            .map(|i| (0..dims).map(|d| digit(i, d)).sum::<u32>() % 2)
            .collect();
        SparseGraph::new(n as usize, SparseGraph::canonical_edges(p), col).unwrap()
    }

    /// Checks a plan: every node once, at most L lanes, each colour in at least ⌈|c| / L⌉
    /// slots of its own, and with lane memories (inputs selected a clock ahead) no slot reads
    /// a p-bit of the slot before it, across colour boundaries and the sweep's wrap.
    fn check_plan(g: &SparseGraph, l: usize) -> Plan {
        let plan = Plan::new(g, Some(l));
        let n = g.n();
        let mut seen = vec![0; n];
        let mut slot_nodes = vec![Vec::new(); plan.slots];
        assert!(plan.lanes.len() <= l);
        for (lane, entries) in plan.lanes.iter().enumerate() {
            for &(slot, i) in entries {
                seen[i] += 1;
                assert_eq!(plan.node_at[i], (lane, slot));
                assert_eq!(plan.slot_colour[slot], g.colours()[i]);
                slot_nodes[slot].push(i);
            }
            // a lane serves at most one p-bit a slot
            let mut slots: Vec<usize> = entries.iter().map(|e| e.0).collect();
            slots.dedup();
            assert_eq!(slots.len(), entries.len());
        }
        assert!(seen.iter().all(|&k| k == 1), "every node placed once");
        for c in 0..g.colour_count() {
            let size = g.colours().iter().filter(|&&x| x == c).count();
            let slots = plan.slot_colour.iter().filter(|&&x| x == c).count();
            assert!(slots >= size.div_ceil(l).max(1));
        }
        if plan.memories() {
            let mut in_slot = vec![0; n];
            for (s, nodes) in slot_nodes.iter().enumerate() {
                for &i in nodes {
                    in_slot[i] = s;
                }
            }
            // two-stage lanes select two clocks ahead: no slot reads either of the two before
            // (unless the plan forwards the second: `Plan::forward`)
            let reach = if plan.pipelined && !plan.forward {
                2
            } else {
                1
            };
            assert!(!plan.forward || plan.pipelined);
            assert_eq!(plan.pipelined, plan.lanes.len() >= PIPELINE_MIN_LANES);
            for &(i, j) in g.edges() {
                let (a, b) = (in_slot[i as usize], in_slot[j as usize]);
                let t = plan.slots;
                for d in 1..=reach {
                    assert!(
                        (a + d) % t != b && (b + d) % t != a,
                        "edge ({i}, {j}) joins slots {a} and {b} of {t}, {d} apart (L = {l})"
                    );
                }
            }
        }
        plan
    }

    #[test]
    fn the_assignment_is_the_cheapest() {
        // against every permutation on small random matrices (rows ≤ columns)
        let mut state = 0x2545_F491u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..200 {
            let cols = 1 + (next() % 6) as usize;
            let rows = 1 + (next() as usize) % cols;
            let cost: Vec<Vec<i64>> = (0..rows)
                .map(|_| (0..cols).map(|_| (next() % 20) as i64).collect())
                .collect();
            let got = min_cost_assignment(&cost, cols);
            let mut distinct = got.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), rows, "distinct columns");
            let total =
                |a: &[usize]| -> i64 { a.iter().enumerate().map(|(r, &c)| cost[r][c]).sum() };
            // brute force over injective maps rows → columns
            fn best(cost: &[Vec<i64>], cols: usize, r: usize, used: &mut Vec<bool>) -> i64 {
                if r == cost.len() {
                    return 0;
                }
                let mut b = i64::MAX;
                for c in 0..cols {
                    if !used[c] {
                        used[c] = true;
                        b = b.min(cost[r][c] + best(cost, cols, r + 1, used));
                        used[c] = false;
                    }
                }
                b
            }
            assert_eq!(total(&got), best(&cost, cols, 0, &mut vec![false; cols]));
        }
    }

    /// The distinct other lanes a lane reads neighbours' states from, averaged over lanes.
    fn mean_source_lanes(g: &SparseGraph, plan: &Plan) -> f64 {
        let adj = neighbour_lists(g);
        let mut total = 0usize;
        for (l, entries) in plan.lanes.iter().enumerate() {
            let mut src: Vec<usize> = entries
                .iter()
                .flat_map(|&(_, i)| adj[i].iter().map(|&j| plan.node_at[j].0))
                .filter(|&lj| lj != l)
                .collect();
            src.sort_unstable();
            src.dedup();
            total += src.len();
        }
        total as f64 / plan.lanes.len() as f64
    }

    #[test]
    fn lanes_serve_nearby_p_bits() {
        // the glass in 86 lanes: dealt out in slot order (k-th p-bit to lane k) a lane read
        // from 21.0 other lanes on average; as columns of the lattice, from 11.3
        let g = lattice3(8);
        let plan = check_plan(&g, 86);
        let mean = mean_source_lanes(&g, &plan);
        assert!(mean < 14.0, "a lane reads from {mean:.1} lanes on average");
        // the 12×12 torus in 18 lanes, 8 p-bits a lane: 4.7
        let g = lattice(12, 2);
        let plan = check_plan(&g, 18);
        let mean = mean_source_lanes(&g, &plan);
        assert!(mean < 10.0, "a lane reads from {mean:.1} lanes on average");
    }

    #[test]
    fn slots_never_read_the_slot_before_them() {
        // random graphs with random proper colourings (edges only between colours)
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |m: u64| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % m
        };
        let mut bubbles = 0;
        let mut two_stage = 0;
        let mut forwarding = 0;
        for _ in 0..200 {
            let n = 2 + next(60) as u32;
            let c = 1 + next(5) as u32;
            let col: Vec<u32> = (0..n).map(|_| next(c as u64) as u32).collect();
            let mut pairs = Vec::new();
            for _ in 0..next(3 * n as u64) {
                let (i, j) = (next(n as u64) as u32, next(n as u64) as u32);
                if col[i as usize] != col[j as usize] {
                    pairs.push((i, j));
                }
            }
            let g = SparseGraph::new(n as usize, SparseGraph::canonical_edges(pairs), col).unwrap();
            let l = 1 + next(n as u64 / 2 + 1) as usize;
            let plan = check_plan(&g, l);
            let minimum: usize = (0..g.colour_count())
                .map(|k| {
                    g.colours()
                        .iter()
                        .filter(|&&x| x == k)
                        .count()
                        .div_ceil(l)
                        .max(1)
                })
                .sum();
            bubbles += plan.slots - minimum;
            two_stage += usize::from(plan.pipelined);
            forwarding += usize::from(plan.forward);
        }
        // the planner does insert bubbles on such graphs (so the check above saw some), and
        // some plans are two-stage (checked two slots back)
        assert!(bubbles > 0);
        assert!(two_stage > 0);
        // and some two-stage plans forward the slot two before (checked one slot back)
        assert!(forwarding > 0);
    }

    #[test]
    fn lattices_need_no_bubble() {
        // the 8×8×8 glass in 64 lanes (two-stage: no slot reads either of the two before it):
        // 4 slots a colour, 8 a sweep, found by the search (index-aligned slots need bubbles)
        let g = lattice3(8);
        let p64 = check_plan(&g, 64);
        assert!(p64.pipelined);
        assert_eq!(p64.slots, 8);
        assert!(!p64.forward);
        // in 86 lanes (3 slots a colour) no order keeps two slots apart: the one-ahead order
        // (6 slots, no bubble) with the reads of the slot two before forwarded
        let p86 = check_plan(&g, 86);
        assert!(p86.pipelined && p86.forward);
        assert_eq!(p86.slots, 6);
        // in 128 lanes each colour's two half-lattice slabs touch the other colour's: forwarded,
        // and a bubble after each colour (the one-ahead rule)
        let p128 = check_plan(&g, 128);
        assert!(p128.forward);
        assert_eq!(p128.slots, 6);
        // one-stage lanes
        assert_eq!(check_plan(&lattice3(4), 8).slots, 8);
        assert_eq!(check_plan(&g, 8).slots, 64);
    }

    /// Checks a banked layout: every edge has a position at each end, no edge writes both
    /// ends into one bank (a bank has one write port), and no two (lane, position) share a
    /// bank's byte.
    fn check_banks(g: &SparseGraph, plan: &Plan, pos: &Positions) {
        let width = pos[0].len();
        let bank_of = |i: usize, e: usize| {
            let k = pos[i]
                .iter()
                .position(|p| matches!(p, Some((_, f)) if *f == e))
                .expect("a position at each end");
            coupling_bank(plan.node_at[i].0, k, width)
        };
        for (e, &(i, j)) in g.edges().iter().enumerate() {
            let (a, b) = (bank_of(i as usize, e), bank_of(j as usize, e));
            assert_ne!(a.0, b.0, "edge {e} ({i}, {j}) writes bank {} twice", a.0);
        }
        let mut bytes = std::collections::HashSet::new();
        for l in 0..plan.lanes.len() {
            for k in 0..width {
                let (b, y) = coupling_bank(l, k, width);
                assert!(y < COUPLING_BANK_BYTES);
                assert!(bytes.insert((b, y)), "lane {l} position {k}: byte taken");
            }
        }
    }

    #[test]
    fn two_stage_lanes_bank_their_couplings() {
        let g = lattice3(8);
        let j_bits = sparse_format(6).j_bits;
        // the bar build's 86 lanes and 64: block-RAM banks, 3 for each pair of lanes
        for l in [86, 64] {
            let plan = check_plan(&g, l);
            let (pos, banked) = plan.layout(&g, 6, j_bits, true).unwrap();
            assert!(!plan.layout(&g, 6, j_bits, false).unwrap().1);
            assert!(banked, "L = {l}");
            check_banks(&g, &plan, &pos);
            assert_eq!(coupling_bank(l - 1, 5, 6).0 + 1, l.div_ceil(2) * 3);
        }
        // the torus in 16 lanes (D = 4): 2 banks a pair
        let t = lattice(8, 2);
        let plan = check_plan(&t, 16);
        let (pos, banked) = plan.layout(&t, 4, j_bits, true).unwrap();
        assert!(banked);
        check_banks(&t, &plan, &pos);
        // one-stage lanes keep a LUT RAM per position
        let plan = check_plan(&g, 8);
        assert!(!plan.layout(&g, 6, j_bits, true).unwrap().1);
        // couplings wider than a bank's byte are not banked
        assert!(!check_plan(&g, 86).layout(&g, 6, 10, true).unwrap().1);
    }

    #[test]
    fn refuses_a_degree_beyond_the_build() {
        let e = sparse_info(
            &ring(6),
            &SparseOptions {
                max_degree: 1,
                readback: false,
                lanes: None,
                stats: None,
                coupling_banks: false,
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
