//! The batch engine: runs C chains of the machine on the device, one after another, as the
//! host would run them one by one (the contract is [`pbit_spec::memory_map`]'s "The batch
//! engine"), keeping their states in a chain buffer and their spin products in the
//! [`Correlator`]'s sums.
//!
//! Per chain c (FSM states in brackets):
//! 1. `Key`: the chain's key splitmix64(splitmix64(S) ^ (r₀ + c)) through the [`Splitmix`]
//!    pipeline (splitmix64(S) once per batch, `SeedS`);
//! 2. `Seeds`: one p-bit per clock into the pipeline (key ^ i), each result written to
//!    generator i of the machine over its write port as it comes out: `pbit_seed(S, r₀ + c, i)`
//!    for i < n;
//! 3. `LoadRd`/`LoadWr`: state words w < ⌈n/32⌉ from the chain buffer to the machine;
//! 4. `RunW`, `RunGap`, `Wait`: `CTRL_RUN`, then wait for the machine to go idle;
//! 5. `Store`: the final state words (the machine's `state_out`) back into the buffer;
//! 6. `Hand`: if n ≤ SN, the state to the correlator (once it is idle; it then adds the
//!    products while the next chain seeds and runs); `REG_BATCH_DONE` += 1.
//!
//! At the end (or on a STOP) `Drain` waits for the correlator, then `Idle`.
//!
//! The chain buffer is a [`DpRam`] of 32-bit words, plane-major: word w of chain c at RAM
//! address (w << CB) | c, 2^CB chains, planes w < W. Host writes reach the buffer and the
//! batch registers only while neither the engine nor the machine is busy; reads of the buffer
//! and the sums give 0 while the engine is active.
//!
//! The engine drives the machine's write port from registers (`m_write_*`, one clock after
//! the FSM decides), and every input of its sub-blocks is a register or a port copy, so the
//! block graph stays free of combinational loops (docs/hdl.md). [`crate::core::Core`] muxes
//! the machine's port between the host and the engine.
//!
//! Generics: N p-bits, W = N/32 words, CB chain-index bits, BA = CB + log2 W buffer address
//! bits, SN sums p-bits (≤ N), SA sums address bits (2^SA ≥ SN(SN+1)/2).

use crate::correlator::Correlator;
use crate::ram::DpRam;
use crate::splitmix::Splitmix;
use pbit_spec::memory_map as mm;
use pbit_spec::rng::ZERO_SEED_REPLACEMENT;
use rust_hdl::prelude::*;

macro_rules! k {
    ($v:expr) => {
        Constant::new(($v as u64).to_bits())
    };
}

/// Chain-index bits of the buffer: 2^10 = 1024 chains at every N.
pub const CHAIN_BITS: usize = 10;
/// The most active p-bits whose sums the engine forms.
pub const SUMS_MAX_N: usize = 64;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum BatchState {
    Idle,
    SeedS,
    Key,
    Seeds,
    LoadRd,
    LoadWr,
    RunW,
    RunGap,
    Wait,
    Store,
    Hand,
    Drain,
}

/// Tags of the pipeline's three uses (bits 13..15 of its tag; bit 15 is the batch's epoch,
/// so a result of a stopped batch still in the pipeline is never taken by the next one).
const TAG_S: u32 = 0;
const TAG_KEY: u32 = 1 << 13;
const TAG_SEED: u32 = 2 << 13;
const TAG_EPOCH: u32 = 1 << 15;
const TAG_HI: u32 = 0xE000;
const TAG_INDEX: u32 = 0x1FFF;

#[derive(LogicBlock)]
pub struct Batcher<
    const N: usize,
    const W: usize,
    const CB: usize,
    const BA: usize,
    const SN: usize,
    const SA: usize,
> {
    pub clock: Signal<In, Clock>,
    /// The host bus (copies of the core's ports).
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub read_addr: Signal<In, Bits<32>>,
    /// One clock after `read_addr`: `read_hit` the engine answers (with `read_data`);
    /// `read_or` is ORed into the machine's answer (`STATUS_BUSY` when the read was
    /// `REG_STATUS` while the engine was active, else 0).
    pub read_data: Signal<Out, Bits<32>>,
    pub read_hit: Signal<Out, Bit>,
    pub read_or: Signal<Out, Bits<32>>,
    /// The machine.
    pub machine_busy: Signal<In, Bit>,
    pub state_out: Signal<In, Bits<N>>,
    /// The engine's writes to the machine (registers).
    pub m_write_en: Signal<Out, Bit>,
    pub m_write_addr: Signal<Out, Bits<32>>,
    pub m_write_data: Signal<Out, Bits<32>>,
    /// A batch is running (or its last sums are being added): the machine's port is the
    /// engine's.
    pub active: Signal<Out, Bit>,

    buffer: DpRam<Bits<32>, BA, 0, false>,
    corr: Correlator<SN, SA>,
    mix: Splitmix,
    fsm: DFF<BatchState>,
    act: DFF<Bit>,
    seed_lo: DFF<Bits<32>>,
    seed_hi: DFF<Bits<32>>,
    read_lo: DFF<Bits<32>>,
    read_hi: DFF<Bits<32>>,
    chains: DFF<Bits<32>>,
    done: DFF<Bits<32>>,
    n_act: DFF<Bits<16>>,
    nw: DFF<Bits<16>>,
    seed_s: DFF<Bits<64>>,
    key: DFF<Bits<64>>,
    read_c: DFF<Bits<64>>,
    c: DFF<Bits<32>>,
    i: DFF<Bits<16>>,
    got: DFF<Bits<16>>,
    w: DFF<Bits<16>>,
    epoch: DFF<Bit>,
    m_we: DFF<Bit>,
    m_addr: DFF<Bits<32>>,
    m_data: DFF<Bits<32>>,
    corr_go: DFF<Bit>,
    corr_first: DFF<Bit>,
    corr_state: DFF<Bits<SN>>,
    rd: DFF<Bits<32>>,
    rd_hit: DFF<Bit>,
    rd_buffer: DFF<Bit>,
    rd_sums: DFF<Bit>,
    rd_busy: DFF<Bit>,

    r_regs: Constant<Bits<8>>,
    r_chains: Constant<Bits<8>>,
    r_sums: Constant<Bits<8>>,
    a_ctrl: Constant<Bits<32>>,
    a_status: Constant<Bits<32>>,
    a_n_active: Constant<Bits<32>>,
    a_caps: Constant<Bits<24>>,
    a_seed_lo: Constant<Bits<24>>,
    a_seed_hi: Constant<Bits<24>>,
    a_read_lo: Constant<Bits<24>>,
    a_read_hi: Constant<Bits<24>>,
    a_chains: Constant<Bits<24>>,
    a_done: Constant<Bits<24>>,
    v_caps: Constant<Bits<32>>,
    v_status_busy: Constant<Bits<32>>,
    v_batch: Constant<Bits<32>>,
    v_run: Constant<Bits<32>>,
    v_stop: Constant<Bits<32>>,
    v_ctrl_reserved: Constant<Bits<32>>,
    v_capacity: Constant<Bits<32>>,
    v_sn: Constant<Bits<16>>,
    v_sums_len: Constant<Bits<24>>,
    v_zero_seed: Constant<Bits<32>>,
    state_base: Constant<Bits<32>>,
    rng_base: Constant<Bits<32>>,
    cb: Constant<Bits<32>>,
    chain_plane_shift: Constant<Bits<24>>,
    chain_mask: Constant<Bits<24>>,
    bad_chain: Constant<Bits<24>>,
    tag_s: Constant<Bits<16>>,
    tag_key: Constant<Bits<16>>,
    tag_seed: Constant<Bits<16>>,
    tag_epoch: Constant<Bits<16>>,
    tag_hi: Constant<Bits<16>>,
    tag_index: Constant<Bits<16>>,

    w_region: Signal<Local, Bits<8>>,
    w_index: Signal<Local, Bits<24>>,
    r_region: Signal<Local, Bits<8>>,
    r_index: Signal<Local, Bits<24>>,
    host_w: Signal<Local, Bit>,
    ctrl_w: Signal<Local, Bit>,
    stop: Signal<Local, Bit>,
    epoch_tag: Signal<Local, Bits<16>>,
    out_hi: Signal<Local, Bits<16>>,
    seed_word: Signal<Local, Bits<32>>,
    st_word: Signal<Local, Bits<32>>,
    chain_addr: Signal<Local, Bits<BA>>,
    host_addr: Signal<Local, Bits<BA>>,
    corr_idle: Signal<Local, Bit>,
    sums_on: Signal<Local, Bit>,
}

impl<
        const N: usize,
        const W: usize,
        const CB: usize,
        const BA: usize,
        const SN: usize,
        const SA: usize,
    > Batcher<N, W, CB, BA, SN, SA>
{
    pub fn new() -> Self {
        assert_eq!(W * 32, N);
        assert!(W.is_power_of_two());
        assert_eq!(1 << BA, W << CB, "BA = CB + log2 W");
        assert!(SN <= N && SN <= SUMS_MAX_N);
        assert!(1 << SA >= mm::sums_len(SN as u32) as usize);
        assert!(CB <= 16);
        let capacity = 1u32 << CB;
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            read_addr: Default::default(),
            read_data: Default::default(),
            read_hit: Default::default(),
            read_or: Default::default(),
            machine_busy: Default::default(),
            state_out: Default::default(),
            m_write_en: Default::default(),
            m_write_addr: Default::default(),
            m_write_data: Default::default(),
            active: Default::default(),
            buffer: Default::default(),
            corr: Default::default(),
            mix: Default::default(),
            fsm: Default::default(),
            act: Default::default(),
            seed_lo: Default::default(),
            seed_hi: Default::default(),
            read_lo: Default::default(),
            read_hi: Default::default(),
            chains: Default::default(),
            done: Default::default(),
            n_act: Default::default(),
            nw: Default::default(),
            seed_s: Default::default(),
            key: Default::default(),
            read_c: Default::default(),
            c: Default::default(),
            i: Default::default(),
            got: Default::default(),
            w: Default::default(),
            epoch: Default::default(),
            m_we: Default::default(),
            m_addr: Default::default(),
            m_data: Default::default(),
            corr_go: Default::default(),
            corr_first: Default::default(),
            corr_state: Default::default(),
            rd: Default::default(),
            rd_hit: Default::default(),
            rd_buffer: Default::default(),
            rd_sums: Default::default(),
            rd_busy: Default::default(),
            r_regs: k!(mm::REGION_REGS),
            r_chains: k!(mm::REGION_CHAINS),
            r_sums: k!(mm::REGION_SUMS),
            a_ctrl: k!(mm::reg(mm::REG_CTRL)),
            a_status: k!(mm::reg(mm::REG_STATUS)),
            a_n_active: k!(mm::reg(mm::REG_N_ACTIVE)),
            a_caps: k!(mm::REG_BATCH_CAPS),
            a_seed_lo: k!(mm::REG_BATCH_SEED_LO),
            a_seed_hi: k!(mm::REG_BATCH_SEED_HI),
            a_read_lo: k!(mm::REG_BATCH_READ_LO),
            a_read_hi: k!(mm::REG_BATCH_READ_HI),
            a_chains: k!(mm::REG_BATCH_CHAINS),
            a_done: k!(mm::REG_BATCH_DONE),
            v_caps: k!(capacity | (SN as u32) << 16),
            v_status_busy: k!(mm::STATUS_BUSY),
            v_batch: k!(mm::CTRL_BATCH),
            v_run: k!(mm::CTRL_RUN),
            v_stop: k!(mm::CTRL_STOP),
            v_ctrl_reserved: k!(!mm::CTRL_VALID),
            v_capacity: k!(capacity),
            v_sn: k!(SN),
            v_sums_len: k!(mm::sums_len(SN as u32)),
            v_zero_seed: k!(ZERO_SEED_REPLACEMENT),
            state_base: k!(mm::region_addr(mm::REGION_STATE, 0)),
            rng_base: k!(mm::region_addr(mm::REGION_RNG, 0)),
            cb: k!(CB),
            chain_plane_shift: k!(mm::CHAIN_PLANE.trailing_zeros()),
            chain_mask: k!(mm::CHAIN_PLANE - 1),
            bad_chain: k!(0xFF_FFFF & !(((W as u32 - 1) * mm::CHAIN_PLANE) | (capacity - 1))),
            tag_s: k!(TAG_S),
            tag_key: k!(TAG_KEY),
            tag_seed: k!(TAG_SEED),
            tag_epoch: k!(TAG_EPOCH),
            tag_hi: k!(TAG_HI),
            tag_index: k!(TAG_INDEX),
            w_region: Default::default(),
            w_index: Default::default(),
            r_region: Default::default(),
            r_index: Default::default(),
            host_w: Default::default(),
            ctrl_w: Default::default(),
            stop: Default::default(),
            epoch_tag: Default::default(),
            out_hi: Default::default(),
            seed_word: Default::default(),
            st_word: Default::default(),
            chain_addr: Default::default(),
            host_addr: Default::default(),
            corr_idle: Default::default(),
            sums_on: Default::default(),
        }
    }
}

impl<
        const N: usize,
        const W: usize,
        const CB: usize,
        const BA: usize,
        const SN: usize,
        const SA: usize,
    > Default for Batcher<N, W, CB, BA, SN, SA>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
        const N: usize,
        const W: usize,
        const CB: usize,
        const BA: usize,
        const SN: usize,
        const SA: usize,
    > Logic for Batcher<N, W, CB, BA, SN, SA>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, fsm, act, seed_lo, seed_hi, read_lo, read_hi, chains, done, n_act, nw,
            seed_s, key, read_c, c, i, got, w, epoch, m_we, m_addr, m_data, corr_go, corr_first,
            corr_state, rd, rd_hit, rd_buffer, rd_sums, rd_busy
        );
        self.buffer.clock.next = self.clock.val();
        self.corr.clock.next = self.clock.val();
        self.mix.clock.next = self.clock.val();

        // ---- the correlator: copies of registers and ports only
        self.corr.start.next = self.corr_go.q.val();
        self.corr.first.next = self.corr_first.q.val();
        self.corr.state.next = self.corr_state.q.val();
        self.corr.n_active.next = self.n_act.q.val();
        self.corr.read_addr.next = self.read_addr.val();
        self.corr_go.d.next = false;
        self.corr_idle.next = !self.corr.busy.val() & !self.corr_go.q.val();
        self.sums_on.next = self.n_act.q.val() <= self.v_sn.val();

        // ---- outputs: registers
        self.m_write_en.next = self.m_we.q.val();
        self.m_write_addr.next = self.m_addr.q.val();
        self.m_write_data.next = self.m_data.q.val();
        self.active.next = self.act.q.val();
        self.m_we.d.next = false;

        // ---- host bus decode
        self.w_region.next = bit_cast::<8, 32>(self.write_addr.val() >> 24);
        self.w_index.next = bit_cast::<24, 32>(self.write_addr.val());
        self.r_region.next = bit_cast::<8, 32>(self.read_addr.val() >> 24);
        self.r_index.next = bit_cast::<24, 32>(self.read_addr.val());
        self.host_w.next = self.write_en.val() & !self.machine_busy.val() & !self.act.q.val();
        self.ctrl_w.next = self.write_en.val() & (self.write_addr.val() == self.a_ctrl.val());
        self.stop.next = self.ctrl_w.val()
            & ((self.write_data.val() & self.v_ctrl_reserved.val()) == 0)
            & ((self.write_data.val() & self.v_stop.val()) != 0);

        // ---- chain buffer addresses: host (plane, chain) and the engine's (w, c)
        self.host_addr.next = bit_cast::<BA, 24>(
            ((self.w_index.val() >> self.chain_plane_shift.val()) << self.cb.val())
                | (self.w_index.val() & self.chain_mask.val()),
        );
        self.chain_addr.next = bit_cast::<BA, 32>(
            (bit_cast::<32, 16>(self.w.q.val()) << self.cb.val()) | self.c.q.val(),
        );
        self.buffer.write_enable.next = false;
        self.buffer.write_address.next = self.host_addr.val();
        self.buffer.write_data.next = self.write_data.val();
        self.buffer.read_address.next = bit_cast::<BA, 24>(
            ((self.r_index.val() >> self.chain_plane_shift.val()) << self.cb.val())
                | (self.r_index.val() & self.chain_mask.val()),
        );

        // ---- host writes (idle only)
        if self.host_w.val() & (self.w_region.val() == self.r_regs.val()) {
            if self.w_index.val() == self.a_seed_lo.val() {
                self.seed_lo.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_seed_hi.val() {
                self.seed_hi.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_read_lo.val() {
                self.read_lo.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_read_hi.val() {
                self.read_hi.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_chains.val() {
                self.chains.d.next = self.write_data.val();
            }
        }
        if self.host_w.val() & (self.write_addr.val() == self.a_n_active.val()) {
            self.n_act.d.next = bit_cast::<16, 32>(self.write_data.val());
        }
        if self.host_w.val()
            & (self.w_region.val() == self.r_chains.val())
            & ((self.w_index.val() & self.bad_chain.val()) == 0)
        {
            self.buffer.write_enable.next = true;
        }

        // ---- the pipeline: idle unless a state below feeds it
        self.epoch_tag.next = 0.into();
        if self.epoch.q.val() {
            self.epoch_tag.next = self.tag_epoch.val();
        }
        self.out_hi.next = self.mix.out_tag.val() & self.tag_hi.val();
        self.mix.in_valid.next = false;
        self.mix.in_data.next = bit_cast::<64, 32>(self.seed_hi.q.val()) << 32
            | bit_cast::<64, 32>(self.seed_lo.q.val());
        self.mix.in_tag.next = self.epoch_tag.val() | self.tag_s.val();
        self.seed_word.next = bit_cast::<32, 64>(self.mix.out_data.val());
        if self.seed_word.val() == 0 {
            self.seed_word.next = self.v_zero_seed.val();
        }
        // the final state word w
        self.st_word.next = 0.into();
        for ww in 0..W {
            if self.w.q.val().index() == ww {
                self.st_word.next = self.state_out.val().get_bits::<32>(ww * 32);
            }
        }

        match self.fsm.q.val() {
            BatchState::Idle => {
                if self.host_w.val()
                    & self.ctrl_w.val()
                    & (self.write_data.val() == self.v_batch.val())
                    & (self.chains.q.val() != 0)
                    & (self.chains.q.val() <= self.v_capacity.val())
                {
                    self.act.d.next = true;
                    self.epoch.d.next = !self.epoch.q.val();
                    self.done.d.next = 0.into();
                    self.c.d.next = 0.into();
                    self.i.d.next = 0.into();
                    self.read_c.d.next = bit_cast::<64, 32>(self.read_hi.q.val()) << 32
                        | bit_cast::<64, 32>(self.read_lo.q.val());
                    self.nw.d.next = (self.n_act.q.val() + 31) >> 5;
                    self.fsm.d.next = BatchState::SeedS;
                }
            }
            BatchState::SeedS => {
                // splitmix64(S), once per batch
                self.mix.in_valid.next = self.i.q.val() == 0;
                self.i.d.next = 1.into();
                if self.mix.out_valid.val()
                    & (self.out_hi.val() == (self.epoch_tag.val() | self.tag_s.val()))
                {
                    self.seed_s.d.next = self.mix.out_data.val();
                    self.i.d.next = 0.into();
                    self.fsm.d.next = BatchState::Key;
                }
            }
            BatchState::Key => {
                // the chain's key
                self.mix.in_valid.next = self.i.q.val() == 0;
                self.mix.in_data.next = self.seed_s.q.val() ^ self.read_c.q.val();
                self.mix.in_tag.next = self.epoch_tag.val() | self.tag_key.val();
                self.i.d.next = 1.into();
                if self.mix.out_valid.val()
                    & (self.out_hi.val() == (self.epoch_tag.val() | self.tag_key.val()))
                {
                    self.key.d.next = self.mix.out_data.val();
                    self.i.d.next = 0.into();
                    self.got.d.next = 0.into();
                    self.fsm.d.next = BatchState::Seeds;
                }
            }
            BatchState::Seeds => {
                // one p-bit into the pipeline per clock, each seed out to the machine
                self.mix.in_valid.next = self.i.q.val() < self.n_act.q.val();
                self.mix.in_data.next = self.key.q.val() ^ bit_cast::<64, 16>(self.i.q.val());
                self.mix.in_tag.next = self.epoch_tag.val() | self.tag_seed.val() | self.i.q.val();
                if self.i.q.val() < self.n_act.q.val() {
                    self.i.d.next = self.i.q.val() + 1;
                }
                if self.mix.out_valid.val()
                    & (self.out_hi.val() == (self.epoch_tag.val() | self.tag_seed.val()))
                {
                    self.m_we.d.next = true;
                    self.m_addr.d.next = self.rng_base.val()
                        | bit_cast::<32, 16>(self.mix.out_tag.val() & self.tag_index.val());
                    self.m_data.d.next = self.seed_word.val();
                    self.got.d.next = self.got.q.val() + 1;
                }
                if self.got.q.val() == self.n_act.q.val() {
                    self.w.d.next = 0.into();
                    self.fsm.d.next = BatchState::LoadRd;
                }
            }
            BatchState::LoadRd => {
                self.buffer.read_address.next = self.chain_addr.val();
                self.fsm.d.next = BatchState::LoadWr;
            }
            BatchState::LoadWr => {
                self.m_we.d.next = true;
                self.m_addr.d.next = self.state_base.val() | bit_cast::<32, 16>(self.w.q.val());
                self.m_data.d.next = self.buffer.read_data.val();
                self.w.d.next = self.w.q.val() + 1;
                self.fsm.d.next = BatchState::LoadRd;
                if self.w.q.val() + 1 >= self.nw.q.val() {
                    self.fsm.d.next = BatchState::RunW;
                }
            }
            BatchState::RunW => {
                self.m_we.d.next = true;
                self.m_addr.d.next = self.a_ctrl.val();
                self.m_data.d.next = self.v_run.val();
                self.fsm.d.next = BatchState::RunGap;
            }
            BatchState::RunGap => {
                // the run's control write reaches the machine in this clock
                self.fsm.d.next = BatchState::Wait;
            }
            BatchState::Wait => {
                if !self.machine_busy.val() {
                    self.w.d.next = 0.into();
                    self.fsm.d.next = BatchState::Store;
                }
            }
            BatchState::Store => {
                self.buffer.write_enable.next = true;
                self.buffer.write_address.next = self.chain_addr.val();
                self.buffer.write_data.next = self.st_word.val();
                self.w.d.next = self.w.q.val() + 1;
                if self.w.q.val() + 1 >= self.nw.q.val() {
                    self.fsm.d.next = BatchState::Hand;
                }
            }
            BatchState::Hand => {
                if !self.sums_on.val() | self.corr_idle.val() {
                    if self.sums_on.val() {
                        self.corr_go.d.next = true;
                        self.corr_first.d.next = self.c.q.val() == 0;
                        self.corr_state.d.next = bit_cast::<SN, N>(self.state_out.val());
                    }
                    self.done.d.next = self.done.q.val() + 1;
                    self.c.d.next = self.c.q.val() + 1;
                    self.read_c.d.next = self.read_c.q.val() + 1;
                    self.i.d.next = 0.into();
                    self.fsm.d.next = BatchState::Key;
                    if self.c.q.val() + 1 == self.chains.q.val() {
                        self.fsm.d.next = BatchState::Drain;
                    }
                }
            }
            BatchState::Drain => {
                if self.corr_idle.val() {
                    self.act.d.next = false;
                    self.fsm.d.next = BatchState::Idle;
                }
            }
        }
        // a STOP discards the running chain (the machine stops on the same write)
        if self.stop.val() & self.act.q.val() {
            self.m_we.d.next = false;
            self.fsm.d.next = BatchState::Drain;
        }

        // ---- host reads (registered)
        self.rd.d.next = 0.into();
        self.rd_hit.d.next = false;
        self.rd_buffer.d.next = false;
        self.rd_sums.d.next = false;
        self.rd_busy.d.next = self.act.q.val() & (self.read_addr.val() == self.a_status.val());
        if self.r_region.val() == self.r_regs.val() {
            if self.r_index.val() == self.a_caps.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.v_caps.val();
            }
            if self.r_index.val() == self.a_seed_lo.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.seed_lo.q.val();
            }
            if self.r_index.val() == self.a_seed_hi.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.seed_hi.q.val();
            }
            if self.r_index.val() == self.a_read_lo.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.read_lo.q.val();
            }
            if self.r_index.val() == self.a_read_hi.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.read_hi.q.val();
            }
            if self.r_index.val() == self.a_chains.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.chains.q.val();
            }
            if self.r_index.val() == self.a_done.val() {
                self.rd_hit.d.next = true;
                self.rd.d.next = self.done.q.val();
            }
        }
        if self.r_region.val() == self.r_chains.val() {
            self.rd_hit.d.next = true;
            self.rd_buffer.d.next =
                !self.act.q.val() & ((self.r_index.val() & self.bad_chain.val()) == 0);
        }
        if self.r_region.val() == self.r_sums.val() {
            self.rd_hit.d.next = true;
            self.rd_sums.d.next = !self.act.q.val() & (self.r_index.val() < self.v_sums_len.val());
        }
        self.read_hit.next = self.rd_hit.q.val();
        self.read_or.next = 0.into();
        if self.rd_busy.q.val() {
            self.read_or.next = self.v_status_busy.val();
        }
        self.read_data.next = self.rd.q.val();
        if self.rd_buffer.q.val() {
            self.read_data.next = self.buffer.read_data.val();
        }
        if self.rd_sums.q.val() {
            self.read_data.next = self.corr.read_data.val();
        }
    }
}
