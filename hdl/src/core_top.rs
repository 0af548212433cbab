//! The core top: the core (the machine, with or without the batch engine), the UART and the
//! command decoder, with the ports a board's thin
//! shell wraps (and `pbit sim serve` simulates):
//!
//! | port | dir | what |
//! |---|---|---|
//! | `clock` | in | the generation clock (`clock_hz`) |
//! | `uart_rx` | in | host → device, 8N1 at `baud`, idle high (synchronised inside) |
//! | `uart_tx` | out | device → host, 8N1 at `baud`, idle high (registered) |
//! | `led_busy` | out | the machine is running (or recomputing) |
//! | `led_bad_frame` | out | the last frame received was bad |
//! | `led_overflow` | out | the receive FIFO overflowed since reset (sticky) |
//! | `led_tx` | out | the transmitter is sending |
//!
//! Generation parameters: N (a [`crate::SUPPORTED_N`] size), `clock_hz`, `baud`, and whether
//! the core has the batch engine; [`emit_core_top`] refuses a baud rate the clock cannot make
//! within 1.5%.

use crate::core::Core;
use crate::datapath::DenseDatapath;
use crate::link::Link;
use crate::sparse::{SparseInfo, SparseOptions};
use crate::uart::{uart_divisor, BaudError, UartRx, UartTx};
use crate::{machine_format, EmitError, SUPPORTED_N};
use pbit_spec::protocol::{Hello, PROTOCOL_VERSION};
use pbit_spec::sparse::SparseGraph;
use pbit_spec::Format;
use rust_hdl::prelude::*;

/// Why a core top cannot be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreTopError {
    #[error(transparent)]
    Emit(#[from] EmitError),
    #[error(transparent)]
    Baud(#[from] BaudError),
}

/// What a core top's HELLO reports.
pub fn hello_of(n: usize, clock_hz: u32, baud: u32) -> Hello {
    let format = machine_format(n);
    Hello {
        version: PROTOCOL_VERSION,
        n: n as u32,
        frac_bits: format.frac_bits as u8,
        j_bits: format.j_bits as u8,
        h_bits: format.h_bits as u8,
        field_bits: format.field_bits as u8,
        rng_bits: format.rng_bits as u8,
        spec_hash: pbit_spec::hash::spec_hash(&format),
        clock_hz,
        baud,
    }
}

/// The core top's struct, its constructor and its update, for a core type: the same ports and
/// wiring for [`CoreTop`] (the core with the batch engine) and [`DatapathTop`] (the dense
/// datapath alone).
macro_rules! core_top {
    ($(#[$doc:meta])* $name:ident <$($g:ident),*>, $core:ty, $batch:expr, $checks:expr) => {
        $(#[$doc])*
        #[derive(LogicBlock)]
        pub struct $name<$(const $g: usize),*> {
            pub clock: Signal<In, Clock>,
            pub uart_rx: Signal<In, Bit>,
            pub uart_tx: Signal<Out, Bit>,
            pub led_busy: Signal<Out, Bit>,
            pub led_bad_frame: Signal<Out, Bit>,
            pub led_overflow: Signal<Out, Bit>,
            pub led_tx: Signal<Out, Bit>,
            machine: $core,
            link: Link<W>,
            receiver: UartRx,
            transmitter: UartTx,
        }

        impl<$(const $g: usize),*> $name<$($g),*> {
            /// The core top for `format` (= [`machine_format`]`(N)`), clocked at `clock_hz`,
            /// its UART at `baud`.
            pub fn new(format: &Format, clock_hz: u32, baud: u32) -> Result<Self, BaudError> {
                let divisor = uart_divisor(clock_hz, baud)?;
                let hello = hello_of(N, clock_hz, baud).encode();
                Ok(Self {
                    clock: Default::default(),
                    uart_rx: Default::default(),
                    uart_tx: Default::default(),
                    led_busy: Default::default(),
                    led_bad_frame: Default::default(),
                    led_overflow: Default::default(),
                    led_tx: Default::default(),
                    machine: <$core>::new(format),
                    link: Link::new(&hello, &crate::geometry(N, $batch), $checks),
                    receiver: UartRx::new(divisor),
                    transmitter: UartTx::new(divisor),
                })
            }
        }

        impl<$(const $g: usize),*> Logic for $name<$($g),*> {
            #[hdl_gen]
            fn update(&mut self) {
                self.machine.clock.next = self.clock.val();
                self.machine.busy_other.next = false;
                self.link.clock.next = self.clock.val();
                self.receiver.clock.next = self.clock.val();
                self.transmitter.clock.next = self.clock.val();
                self.receiver.rx.next = self.uart_rx.val();
                self.uart_tx.next = self.transmitter.tx.val();
                self.link.rx_data.next = self.receiver.data.val();
                self.link.rx_valid.next = self.receiver.valid.val();
                self.link.rx_error.next = self.receiver.frame_error.val();
                self.transmitter.data.next = self.link.tx_data.val();
                self.transmitter.start.next = self.link.tx_start.val();
                self.link.tx_busy.next = self.transmitter.busy.val();
                self.machine.write_en.next = self.link.write_en.val();
                self.machine.write_addr.next = self.link.write_addr.val();
                self.machine.write_data.next = self.link.write_data.val();
                self.machine.read_addr.next = self.link.read_addr.val();
                self.link.read_data.next = self.machine.read_data.val();
                self.link.sample_valid.next = self.machine.sample_valid.val();
                self.machine.sample_ready.next = self.link.sample_ready.val();
                self.link.machine_busy.next = self.machine.busy.val();
                self.led_busy.next = self.machine.busy.val();
                self.led_bad_frame.next = self.link.bad_frame.val();
                self.led_overflow.next = self.link.rx_overflow.val();
                self.led_tx.next = self.transmitter.busy.val();
            }
        }
    };
}

core_top!(
    /// Core (machine + batch engine) + UART + decoder (generics as [`Core`]'s, B = 1).
    CoreTop<N, A, W, F, P, K1, PA, S, BA, SN, SA>,
    Core<N, A, W, F, P, K1, PA, S, BA, SN, SA, 1>,
    true,
    true
);

core_top!(
    /// Datapath + UART + decoder, without the batch engine (generics as [`DenseDatapath`]'s): the
    /// logic of a `Core` with B = 0 without its wrapper level, which yosys maps into fewer
    /// iCE40 cells: at N = 32 the UP5K holds 5,229 of 5,280 LCs this way and 5,305 with the
    /// wrapper (the same logic; ABC's result depends on the netlist's shape).
    DatapathTop<N, A, W, F, P, K1, PA, S>,
    DenseDatapath<N, A, W, F, P, K1, PA, S>,
    false,
    DATAPATH_TOP_CHECKS
);

/// Whether the core top without the batch engine (the iCEBreaker's) has the link's per-word
/// checks (indices beyond the machine, values; [`Link::new`]). It does not: with them the
/// UP5K build at N = 32 needs 5,790 logic cells of its 5,280 (5,247 without), so the
/// iCEBreaker relies on the host's and the model's checks (docs/protocol.md).
pub const DATAPATH_TOP_CHECKS: bool = false;

fn verilog_of<B: Block>(mut uut: B) -> Result<String, CoreTopError> {
    uut.connect_all();
    check_all(&uut).map_err(|e| EmitError::Check(format!("{e:?}")))?;
    Ok(crate::emit::hoist_wire_copies(&generate_verilog_unchecked(
        &uut,
    )))
}

/// The Verilog of the core top with `n` p-bits (in [`machine_format`]`(n)`), a `clock_hz`
/// clock, a UART at `baud`, and the batch engine if `batch`. Top module `top`, ports `clock`,
/// `uart_rx`, `uart_tx`, `led_busy`, `led_bad_frame`, `led_overflow`, `led_tx`.
pub fn emit_core_top(
    n: usize,
    clock_hz: u32,
    baud: u32,
    batch: bool,
) -> Result<String, CoreTopError> {
    if !SUPPORTED_N.contains(&n) {
        return Err(EmitError::UnsupportedN {
            n,
            supported: SUPPORTED_N.to_vec(),
        }
        .into());
    }
    let format = machine_format(n);
    uart_divisor(clock_hz, baud)?;
    macro_rules! top {
        ($t:ty) => {
            verilog_of(<$t>::new(&format, clock_hz, baud)?)
        };
    }
    use crate::emit::{PAGE_BITS as P, STEP_BITS as S};
    match (n, batch) {
        (32, false) => top!(DatapathTop<32, 5, 1, 15, P, 11, 16, S>),
        (32, true) => top!(CoreTop<32, 5, 1, 15, P, 11, 16, S, 10, 32, 10>),
        (64, false) => top!(DatapathTop<64, 6, 2, 16, P, 11, 16, S>),
        (64, true) => top!(CoreTop<64, 6, 2, 16, P, 11, 16, S, 11, 64, 12>),
        (128, false) => top!(DatapathTop<128, 7, 4, 17, P, 11, 16, S>),
        (128, true) => top!(CoreTop<128, 7, 4, 17, P, 11, 16, S, 12, 64, 12>),
        (256, false) => top!(DatapathTop<256, 8, 8, 18, P, 11, 16, S>),
        (256, true) => top!(CoreTop<256, 8, 8, 18, P, 11, 16, S, 13, 64, 12>),
        _ => unreachable!("checked against SUPPORTED_N"),
    }
}

/// The sparse machine ([`crate::sparse`]) as a rust-hdl block: the generated Verilog is its
/// body (a [`Wrapper`] around module `pbit_sparse_core`), with the dense machine's ports. It
/// has no rust-hdl simulation model (its Verilog runs in Verilator: pbit-sim). `Block` is
/// written out (the derive would visit the Verilog text as a field).
pub struct SparseCore {
    pub clock: Signal<In, Clock>,
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub read_addr: Signal<In, Bits<32>>,
    pub read_data: Signal<Out, Bits<32>>,
    pub sample_valid: Signal<Out, Bit>,
    pub sample_ready: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub busy_other: Signal<In, Bit>,
    verilog: String,
}

macro_rules! sparse_core_fields {
    ($m:ident) => {
        $m!(
            clock,
            write_en,
            write_addr,
            write_data,
            read_addr,
            read_data,
            sample_valid,
            sample_ready,
            busy,
            busy_other
        )
    };
}

impl Block for SparseCore {
    fn connect_all(&mut self) {
        self.connect();
        macro_rules! each {
            ($($f:ident),*) => { $(self.$f.connect_all();)* };
        }
        sparse_core_fields!(each);
    }
    fn update_all(&mut self) {
        self.update();
        macro_rules! each {
            ($($f:ident),*) => { $(self.$f.update_all();)* };
        }
        sparse_core_fields!(each);
    }
    fn has_changed(&self) -> bool {
        macro_rules! each {
            ($($f:ident),*) => { false $(|| self.$f.has_changed())* };
        }
        sparse_core_fields!(each)
    }
    fn accept(&self, name: &str, probe: &mut dyn Probe) {
        probe.visit_start_scope(name, self);
        macro_rules! each {
            ($($f:ident),*) => { $(self.$f.accept(stringify!($f), probe);)* };
        }
        sparse_core_fields!(each);
        probe.visit_end_scope(name, self);
    }
}

impl Logic for SparseCore {
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.read_data.connect();
        self.sample_valid.connect();
        self.busy.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Wrapper(Wrapper {
            // the bus stage (pbit_spec::regmap::BUS_READ_CLOCKS): the link sits by the UART
            // pins, the machine's write decode and read multiplexer span the die, and the
            // route between them gets a clock of its own, as in the Verilator harness
            code: "reg bus_we = 1'b0; reg [31:0] bus_wa = 32'd0, bus_wd = 32'd0, bus_ra = 32'd0;\n\
                   always @(posedge clock) begin bus_we <= write_en; bus_wa <= write_addr; \
                   bus_wd <= write_data; bus_ra <= read_addr; end\n\
                   pbit_sparse_core core(.clock(clock), .write_en(bus_we), \
                   .write_addr(bus_wa), .write_data(bus_wd), .read_addr(bus_ra), \
                   .read_data(read_data), .sample_valid(sample_valid), \
                   .sample_ready(sample_ready), .busy(busy), .busy_other(busy_other));"
                .into(),
            cores: self.verilog.clone(),
        })
    }
}

/// What a sparse core top's HELLO reports: n, the sparse format, the sparse spec hash.
pub fn sparse_hello(info: &SparseInfo, clock_hz: u32, baud: u32) -> Hello {
    let f = info.format;
    Hello {
        version: PROTOCOL_VERSION,
        n: info.n as u32,
        frac_bits: f.frac_bits as u8,
        j_bits: f.j_bits as u8,
        h_bits: f.h_bits as u8,
        field_bits: f.field_bits as u8,
        rng_bits: f.rng_bits as u8,
        spec_hash: info.spec_hash,
        clock_hz,
        baud,
    }
}

/// The sparse machine + UART + decoder, W = ⌈n/32⌉ state words; the same ports as [`CoreTop`].
#[derive(LogicBlock)]
pub struct SparseCoreTop<const W: usize> {
    pub clock: Signal<In, Clock>,
    pub uart_rx: Signal<In, Bit>,
    pub uart_tx: Signal<Out, Bit>,
    pub led_busy: Signal<Out, Bit>,
    pub led_bad_frame: Signal<Out, Bit>,
    pub led_overflow: Signal<Out, Bit>,
    pub led_tx: Signal<Out, Bit>,
    machine: SparseCore,
    link: Link<W>,
    receiver: UartRx,
    transmitter: UartTx,
}

impl<const W: usize> Logic for SparseCoreTop<W> {
    #[hdl_gen]
    fn update(&mut self) {
        self.machine.clock.next = self.clock.val();
        self.machine.busy_other.next = false;
        self.link.clock.next = self.clock.val();
        self.receiver.clock.next = self.clock.val();
        self.transmitter.clock.next = self.clock.val();
        self.receiver.rx.next = self.uart_rx.val();
        self.uart_tx.next = self.transmitter.tx.val();
        self.link.rx_data.next = self.receiver.data.val();
        self.link.rx_valid.next = self.receiver.valid.val();
        self.link.rx_error.next = self.receiver.frame_error.val();
        self.transmitter.data.next = self.link.tx_data.val();
        self.transmitter.start.next = self.link.tx_start.val();
        self.link.tx_busy.next = self.transmitter.busy.val();
        self.machine.write_en.next = self.link.write_en.val();
        self.machine.write_addr.next = self.link.write_addr.val();
        self.machine.write_data.next = self.link.write_data.val();
        self.machine.read_addr.next = self.link.read_addr.val();
        self.link.read_data.next = self.machine.read_data.val();
        self.link.sample_valid.next = self.machine.sample_valid.val();
        self.machine.sample_ready.next = self.link.sample_ready.val();
        self.link.machine_busy.next = self.machine.busy.val();
        self.led_busy.next = self.machine.busy.val();
        self.led_bad_frame.next = self.link.bad_frame.val();
        self.led_overflow.next = self.link.rx_overflow.val();
        self.led_tx.next = self.transmitter.busy.val();
    }
}

/// The Verilog of the sparse core top for `graph` (the machine of [`crate::sparse`] with
/// `opts`, a `clock_hz` clock, a UART at `baud`): top module `top` with [`emit_core_top`]'s
/// ports, and the machine's description.
/// The most p-bits a sparse machine behind the link holds: its state words are a const
/// generic of the link block, instantiated for 1..=16 words (the 8×8×8 glass takes 16).
pub const MAX_LINK_SPARSE_N: usize = 512;

pub fn emit_sparse_core_top(
    graph: &SparseGraph,
    opts: &SparseOptions,
    clock_hz: u32,
    baud: u32,
) -> Result<(String, SparseInfo), SparseTopError> {
    let (core, info) = crate::sparse::emit_sparse_core(graph, opts, "pbit_sparse_core")?;
    let divisor = uart_divisor(clock_hz, baud)?;
    let hello = sparse_hello(&info, clock_hz, baud).encode();
    let words = info.n.div_ceil(32);
    macro_rules! top {
        ($w:literal) => {{
            let uut = SparseCoreTop::<$w> {
                clock: Default::default(),
                uart_rx: Default::default(),
                uart_tx: Default::default(),
                led_busy: Default::default(),
                led_bad_frame: Default::default(),
                led_overflow: Default::default(),
                led_tx: Default::default(),
                machine: SparseCore {
                    clock: Default::default(),
                    write_en: Default::default(),
                    write_addr: Default::default(),
                    write_data: Default::default(),
                    read_addr: Default::default(),
                    read_data: Default::default(),
                    sample_valid: Default::default(),
                    sample_ready: Default::default(),
                    busy: Default::default(),
                    busy_other: Default::default(),
                    verilog: core,
                },
                // the machine's n p-bits in W state words, with the sparse rows of the table
                link: Link::new(
                    &hello,
                    &pbit_spec::regmap::Geometry {
                        n: info.n as u32,
                        format: info.format,
                        pages: pbit_spec::memory_map::MAX_PAGES,
                        steps: pbit_spec::memory_map::MAX_STEPS,
                        batch: None,
                        sparse: Some(pbit_spec::regmap::SparseGeometry {
                            edges: info.edges as u32,
                            colours: info.colours,
                            max_degree: info.max_degree as u32,
                            graph_hash: info.graph_hash,
                            stats_bits: opts.stats.unwrap_or(0),
                            stats_counters: if opts.stats.is_some() {
                                (info.n + info.edges) as u32
                            } else {
                                0
                            },
                        }),
                    },
                    false,
                ),
                receiver: UartRx::new(divisor),
                transmitter: UartTx::new(divisor),
            };
            verilog_of(uut).map_err(SparseTopError::from)?
        }};
    }
    let v = match words {
        1 => top!(1),
        2 => top!(2),
        3 => top!(3),
        4 => top!(4),
        5 => top!(5),
        6 => top!(6),
        7 => top!(7),
        8 => top!(8),
        9 => top!(9),
        10 => top!(10),
        11 => top!(11),
        12 => top!(12),
        13 => top!(13),
        14 => top!(14),
        15 => top!(15),
        16 => top!(16),
        _ => {
            return Err(SparseTopError::TooLarge {
                n: info.n,
                max: MAX_LINK_SPARSE_N,
            })
        }
    };
    Ok((v, info))
}

/// Why a sparse core top cannot be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SparseTopError {
    #[error(transparent)]
    Sparse(#[from] crate::sparse::SparseEmitError),
    #[error(transparent)]
    Baud(#[from] BaudError),
    #[error(transparent)]
    Top(#[from] CoreTopError),
    #[error("a sparse machine on the link holds at most {max} p-bits (a sample's state words); the graph has {n}")]
    TooLarge { n: usize, max: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_top_emits_and_refuses_bad_bauds() {
        // what a board's shell connects: the clock, the UART's two pins and four status LEDs
        let pins = |v: &str| crate::emit::structure::ports(v, "top");
        let want: Vec<(String, u32, String)> = [
            ("input", "clock"),
            ("output", "led_bad_frame"),
            ("output", "led_busy"),
            ("output", "led_overflow"),
            ("output", "led_tx"),
            ("input", "uart_rx"),
            ("output", "uart_tx"),
        ]
        .iter()
        .map(|&(d, n)| (d.to_string(), 1, n.to_string()))
        .collect();
        let v = emit_core_top(32, 25_000_000, 1_000_000, false).unwrap();
        let mut got = pins(&v);
        got.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(got, want);
        crate::emit::structure::check_closed(&v);
        assert!(!v.contains("Splitmix") && !v.contains("batch$0"));
        let v = emit_core_top(32, 25_000_000, 1_000_000, true).unwrap();
        let mut got = pins(&v);
        got.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(got, want);
        crate::emit::structure::check_closed(&v);
        assert!(v.contains("batch$0"));
        assert!(matches!(
            emit_core_top(32, 25_000_000, 3_000_000, true),
            Err(CoreTopError::Baud(BaudError::Inexact { .. }))
        ));
        assert!(matches!(
            emit_core_top(48, 25_000_000, 1_000_000, false),
            Err(CoreTopError::Emit(EmitError::UnsupportedN { .. }))
        ));
        let g =
            SparseGraph::new(4, vec![(0, 1), (0, 3), (1, 2), (2, 3)], vec![0, 1, 0, 1]).unwrap();
        let opts = SparseOptions {
            max_degree: 2,
            readback: false,
            lanes: None,
            stats: None,
            coupling_banks: false,
        };
        let (v, info) = emit_sparse_core_top(&g, &opts, 25_000_000, 1_000_000).unwrap();
        assert!(v.contains("module top(") && v.contains("module pbit_sparse_core("));
        assert_eq!(info.n, 4);
        // with on-chip statistics: the stats rows still fit the link's decode slots
        let stats = SparseOptions {
            stats: Some(32),
            ..opts.clone()
        };
        let (v, _) = emit_sparse_core_top(&g, &stats, 25_000_000, 1_000_000).unwrap();
        assert!(v.contains("st_mem_0"));
        let h = hello_of(64, 12_000_000, 1_000_000);
        assert_eq!(Hello::decode(&h.encode()), Some(h));
    }
}
