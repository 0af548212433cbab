//! The core: the [`Machine`] and, optionally, the batch engine ([`Batcher`]), behind exactly
//! the machine's ports (so the Verilator harness and the UART decoder drive either the same
//! way).
//!
//! B ∈ {0, 1} engines (a const generic: `batch` and `mux` are vectors of B blocks). With B = 0
//! the core is the machine passed through (the iCEBreaker's UP5K has no room for the engine).
//! With B = 1:
//! * host reads always reach the machine; the engine answers its registers
//!   (`REG_BATCH_*`), the chains and the sums regions one clock later (`read_hit`), and ORs
//!   `STATUS_BUSY` into `REG_STATUS` while a batch is active;
//! * host writes reach the machine and the engine while no batch is active; during a batch the
//!   machine's write port is the engine's ([`BusMux`]), except a host `REG_CTRL` write with
//!   `CTRL_STOP`, which goes through (and ends the batch);
//! * `busy` = machine busy | batch active; during a batch the core acknowledges the machine's
//!   samples itself (`sample_ready` high) and hides `sample_valid` from the host.
//!
//! Every sub-block input is a plain copy of a port or of another block's output (the
//! multiplexer is a block of its own), so the block graph has no combinational loop
//! (docs/hdl.md).

use crate::batch::{Batcher, CHAIN_BITS};
use crate::machine::Machine;
use pbit_spec::memory_map as mm;
use pbit_spec::Format;
use rust_hdl::prelude::*;

macro_rules! k {
    ($v:expr) => {
        Constant::new(($v as u64).to_bits())
    };
}

/// The machine's write port and sample acknowledge: the host's, or the engine's during a
/// batch (a host STOP still goes through).
#[derive(LogicBlock)]
pub struct BusMux {
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub sample_ready: Signal<In, Bit>,
    pub active: Signal<In, Bit>,
    pub m_write_en: Signal<In, Bit>,
    pub m_write_addr: Signal<In, Bits<32>>,
    pub m_write_data: Signal<In, Bits<32>>,
    pub out_write_en: Signal<Out, Bit>,
    pub out_write_addr: Signal<Out, Bits<32>>,
    pub out_write_data: Signal<Out, Bits<32>>,
    pub out_sample_ready: Signal<Out, Bit>,
    a_ctrl: Constant<Bits<32>>,
    v_stop: Constant<Bits<32>>,
    v_reserved: Constant<Bits<32>>,
    host_stop: Signal<Local, Bit>,
}

impl Default for BusMux {
    fn default() -> Self {
        Self {
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            sample_ready: Default::default(),
            active: Default::default(),
            m_write_en: Default::default(),
            m_write_addr: Default::default(),
            m_write_data: Default::default(),
            out_write_en: Default::default(),
            out_write_addr: Default::default(),
            out_write_data: Default::default(),
            out_sample_ready: Default::default(),
            a_ctrl: k!(mm::reg(mm::REG_CTRL)),
            v_stop: k!(mm::CTRL_STOP),
            v_reserved: k!(!mm::CTRL_VALID),
            host_stop: Default::default(),
        }
    }
}

impl Logic for BusMux {
    #[hdl_gen]
    fn update(&mut self) {
        self.host_stop.next = self.write_en.val()
            & (self.write_addr.val() == self.a_ctrl.val())
            & ((self.write_data.val() & self.v_reserved.val()) == 0)
            & ((self.write_data.val() & self.v_stop.val()) != 0);
        self.out_write_en.next = self.write_en.val();
        self.out_write_addr.next = self.write_addr.val();
        self.out_write_data.next = self.write_data.val();
        self.out_sample_ready.next = self.sample_ready.val();
        if self.active.val() {
            self.out_sample_ready.next = true;
            if !self.host_stop.val() {
                self.out_write_en.next = self.m_write_en.val();
                self.out_write_addr.next = self.m_write_addr.val();
                self.out_write_data.next = self.m_write_data.val();
            }
        }
    }
}

/// Machine (generics as [`Machine`]'s) + B ∈ {0, 1} batch engines (buffer address bits BA =
/// [`CHAIN_BITS`] + log2 W, SN sums p-bits, SA sums address bits).
#[derive(LogicBlock)]
pub struct Core<
    const N: usize,
    const A: usize,
    const W: usize,
    const F: usize,
    const P: usize,
    const K1: usize,
    const PA: usize,
    const S: usize,
    const BA: usize,
    const SN: usize,
    const SA: usize,
    const B: usize,
> {
    pub clock: Signal<In, Clock>,
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub read_addr: Signal<In, Bits<32>>,
    pub read_data: Signal<Out, Bits<32>>,
    pub sample_valid: Signal<Out, Bit>,
    pub sample_ready: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    machine: Machine<N, A, W, F, P, K1, PA, S>,
    batch: Vec<Batcher<N, W, { CHAIN_BITS }, BA, SN, SA>>,
    mux: Vec<BusMux>,
    status_busy: Constant<Bits<32>>,
}

impl<
        const N: usize,
        const A: usize,
        const W: usize,
        const F: usize,
        const P: usize,
        const K1: usize,
        const PA: usize,
        const S: usize,
        const BA: usize,
        const SN: usize,
        const SA: usize,
        const B: usize,
    > Core<N, A, W, F, P, K1, PA, S, BA, SN, SA, B>
{
    /// The core for `format` (= [`Format::for_machine`]`(N)`).
    pub fn new(format: &Format) -> Self {
        assert!(B <= 1, "at most one batch engine");
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            read_addr: Default::default(),
            read_data: Default::default(),
            sample_valid: Default::default(),
            sample_ready: Default::default(),
            busy: Default::default(),
            machine: Machine::new(format),
            batch: (0..B).map(|_| Batcher::new()).collect(),
            mux: (0..B).map(|_| BusMux::default()).collect(),
            status_busy: k!(mm::STATUS_BUSY),
        }
    }
}

impl<
        const N: usize,
        const A: usize,
        const W: usize,
        const F: usize,
        const P: usize,
        const K1: usize,
        const PA: usize,
        const S: usize,
        const BA: usize,
        const SN: usize,
        const SA: usize,
        const B: usize,
    > Logic for Core<N, A, W, F, P, K1, PA, S, BA, SN, SA, B>
{
    #[hdl_gen]
    fn update(&mut self) {
        self.machine.clock.next = self.clock.val();
        self.machine.read_addr.next = self.read_addr.val();
        // without an engine: the host's port (each input has exactly one assignment in the
        // Verilog, so they stay plain wire copies)
        for _b in B..1 {
            self.machine.write_en.next = self.write_en.val();
            self.machine.write_addr.next = self.write_addr.val();
            self.machine.write_data.next = self.write_data.val();
            self.machine.sample_ready.next = self.sample_ready.val();
        }
        for b in 0..B {
            self.batch[b].clock.next = self.clock.val();
            self.batch[b].write_en.next = self.write_en.val();
            self.batch[b].write_addr.next = self.write_addr.val();
            self.batch[b].write_data.next = self.write_data.val();
            self.batch[b].read_addr.next = self.read_addr.val();
            self.batch[b].machine_busy.next = self.machine.busy.val();
            self.batch[b].state_out.next = self.machine.state_out.val();
            self.mux[b].write_en.next = self.write_en.val();
            self.mux[b].write_addr.next = self.write_addr.val();
            self.mux[b].write_data.next = self.write_data.val();
            self.mux[b].sample_ready.next = self.sample_ready.val();
            self.mux[b].active.next = self.batch[b].active.val();
            self.mux[b].m_write_en.next = self.batch[b].m_write_en.val();
            self.mux[b].m_write_addr.next = self.batch[b].m_write_addr.val();
            self.mux[b].m_write_data.next = self.batch[b].m_write_data.val();
            self.machine.write_en.next = self.mux[b].out_write_en.val();
            self.machine.write_addr.next = self.mux[b].out_write_addr.val();
            self.machine.write_data.next = self.mux[b].out_write_data.val();
            self.machine.sample_ready.next = self.mux[b].out_sample_ready.val();
        }
        self.busy.next = self.machine.busy.val();
        self.sample_valid.next = self.machine.sample_valid.val();
        self.read_data.next = self.machine.read_data.val();
        for b in 0..B {
            self.busy.next = self.machine.busy.val() | self.batch[b].active.val();
            self.sample_valid.next = self.machine.sample_valid.val() & !self.batch[b].active.val();
            if self.batch[b].read_hit.val() {
                self.read_data.next = self.batch[b].read_data.val();
            }
            if self.batch[b].read_busy.val() {
                self.read_data.next = self.machine.read_data.val() | self.status_busy.val();
            }
        }
    }
}
