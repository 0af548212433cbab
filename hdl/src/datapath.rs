//! The dense machine's datapath ([`DenseDatapath`]): N p-bits, their generators, the crossbar,
//! the page and schedule memories, the controller, the on-device energy/best/sample state, and
//! a parallel host bus.
//!
//! Bus (the UART command decoder of the next issue drives it):
//! * write: `write_en`, `write_addr`, `write_data` (one word per clock; ignored while busy,
//!   except the control register); each sub-block decodes its own region from copies of these
//!   ports (see docs/hdl.md on why: no combinational loops between blocks);
//! * read: `read_addr` → `read_data` one clock later;
//! * samples: `sample_valid` rises when a sample is due; the host reads the sample region and
//!   `REG_SAMPLE_ENERGY`, then holds `sample_ready` for one clock. The machine stalls at the end
//!   of the next due sweep until then.
//!
//! The addresses are [`pbit_spec::memory_map`]'s. A decision clock (p-bit i = `cursor`):
//! field I_i (register, already corrected by the flip of the previous clock) against the
//! threshold looked up last clock, m_i = +1 iff I_i > θ (signed), unless clamped; on a flip the
//! state bit, E −= 2·m_new·I_i, the best (E, state) if lower, and every field += 2·J_ki·m_new from
//! the J column read last clock all change at this clock's edge. One update per clock: a sweep
//! of n active p-bits takes n clocks, plus 3 per schedule step.
//!
//! Generic parameters: N p-bits (a multiple of 32), A = log2 N, W = N/32 state words, F field
//! bits, 2^P pages of 2^K1 entries (PA = P + K1), 2^S schedule steps. [`crate::emit`] picks
//! them from N.

use crate::cell::RngBank;
use crate::crossbar::{Crossbar, J_BITS};
use crate::memories::{PageTable, ScheduleTable};
use crate::scheduler::Scheduler;
use pbit_spec::memory_map as mm;
use pbit_spec::Format;
use rust_hdl::prelude::*;

macro_rules! c24 {
    ($v:expr) => {
        Constant::new(($v as u64).to_bits())
    };
}

/// One link of the chain that packs the state words into `state_out`:
/// `acc_out = (acc_in >> 32) | (word << (N − 32))`.
#[derive(LogicBlock)]
pub struct WordShift<const N: usize> {
    pub acc_in: Signal<In, Bits<N>>,
    pub word: Signal<In, Bits<32>>,
    pub acc_out: Signal<Out, Bits<N>>,
    top: Constant<Bits<16>>,
}

impl<const N: usize> Default for WordShift<N> {
    fn default() -> Self {
        Self {
            acc_in: Default::default(),
            word: Default::default(),
            acc_out: Default::default(),
            top: c24!(N - 32),
        }
    }
}

impl<const N: usize> Logic for WordShift<N> {
    #[hdl_gen]
    fn update(&mut self) {
        self.acc_out.next =
            (self.acc_in.val() >> 32) | (bit_cast::<N, 32>(self.word.val()) << self.top.val());
    }
}

/// The dense machine in gateware (everything but the batch engine and the link). Its instance
/// in [`crate::core::Core`] and the core tops keeps the name `machine`: that is the instance
/// path in the emitted Verilog (`machine$…`), which the Verilator lint waivers name.
#[derive(LogicBlock)]
pub struct DenseDatapath<
    const N: usize,
    const A: usize,
    const W: usize,
    const F: usize,
    const P: usize,
    const K1: usize,
    const PA: usize,
    const S: usize,
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
    /// The whole state (bit i = p-bit i, 1 = +1): the batch engine takes a chain's final
    /// state here, without the bus.
    pub state_out: Signal<Out, Bits<N>>,
    /// Busy outside the machine (the batch engine's active batch): the busy-clock counter
    /// (`REG_CLOCKS_*`) counts these clocks too, as STATUS shows them busy.
    pub busy_other: Signal<In, Bit>,

    rngs: RngBank<N, A>,
    crossbar: Crossbar<N, A, F>,
    pages: PageTable<F, P, K1, PA>,
    steps: ScheduleTable<P, S>,
    sched: Scheduler<A, P, S>,
    spins: Vec<DFF<Bits<32>>>,
    clamps: Vec<DFF<Bits<32>>>,
    best: Vec<DFF<Bits<32>>>,
    sample: Vec<DFF<Bits<32>>>,
    energy: DFF<Bits<32>>,
    best_energy: DFF<Bits<32>>,
    sample_energy: DFF<Bits<32>>,
    acc: DFF<Bits<32>>,
    stale: DFF<Bit>,
    sample_pending: DFF<Bit>,
    n_active: DFF<Bits<32>>,
    n_steps: DFF<Bits<32>>,
    burn_in: DFF<Bits<32>>,
    every: DFF<Bits<32>>,
    clocks: DFF<Bits<64>>,
    sweeps: DFF<Bits<32>>,
    samples: DFF<Bits<32>>,
    rd: DFF<Bits<32>>,
    rd_rng: DFF<Bit>,
    rd_field: DFF<Bit>,
    best_pending: DFF<Bit>,

    // regions and registers of the memory map
    r_regs: Constant<Bits<8>>,
    r_j: Constant<Bits<8>>,
    r_h: Constant<Bits<8>>,
    r_rng: Constant<Bits<8>>,
    r_state: Constant<Bits<8>>,
    r_clamps: Constant<Bits<8>>,
    r_best: Constant<Bits<8>>,
    r_sample: Constant<Bits<8>>,
    r_field: Constant<Bits<8>>,
    a_magic: Constant<Bits<24>>,
    a_n: Constant<Bits<24>>,
    a_format: Constant<Bits<24>>,
    a_format2: Constant<Bits<24>>,
    a_hash_lo: Constant<Bits<24>>,
    a_hash_hi: Constant<Bits<24>>,
    a_status: Constant<Bits<24>>,
    a_n_active: Constant<Bits<24>>,
    a_n_steps: Constant<Bits<24>>,
    a_burn_in: Constant<Bits<24>>,
    a_every: Constant<Bits<24>>,
    a_energy: Constant<Bits<24>>,
    a_best_energy: Constant<Bits<24>>,
    a_sample_energy: Constant<Bits<24>>,
    a_clocks_lo: Constant<Bits<24>>,
    a_clocks_hi: Constant<Bits<24>>,
    a_sweeps: Constant<Bits<24>>,
    a_samples: Constant<Bits<24>>,
    // index bits that must be zero: beyond N (p-bit)
    bad_pbit: Constant<Bits<24>>,
    v_magic: Constant<Bits<32>>,
    v_n: Constant<Bits<32>>,
    v_format: Constant<Bits<32>>,
    v_format2: Constant<Bits<32>>,
    v_hash_lo: Constant<Bits<32>>,
    v_hash_hi: Constant<Bits<32>>,
    msb_f: Constant<Bits<F>>,
    msb32: Constant<Bits<32>>,
    sext32: Constant<Bits<32>>,
    one32: Constant<Bits<32>>,
    ones32: Constant<Bits<32>>,
    zero32: Constant<Bits<32>>,
    two32: Constant<Bits<32>>,
    four32: Constant<Bits<32>>,
    pack: Vec<WordShift<N>>,

    w_region: Signal<Local, Bits<8>>,
    w_index: Signal<Local, Bits<24>>,
    r_region: Signal<Local, Bits<8>>,
    r_index: Signal<Local, Bits<24>>,
    wr: Signal<Local, Bit>,
    cur_word: Signal<Local, Bits<A>>,
    cur_bit: Signal<Local, Bits<5>>,
    onehot: Signal<Local, Bits<32>>,
    word: Signal<Local, Bits<32>>,
    clamp_word: Signal<Local, Bits<32>>,
    new_word: Signal<Local, Bits<32>>,
    spin_c: Signal<Local, Bit>,
    clamp_c: Signal<Local, Bit>,
    field: Signal<Local, Bits<F>>,
    field_x: Signal<Local, Bits<32>>,
    h_x: Signal<Local, Bits<32>>,
    two_i: Signal<Local, Bits<32>>,
    sum: Signal<Local, Bits<32>>,
    up: Signal<Local, Bit>,
    flip: Signal<Local, Bit>,
    e_new: Signal<Local, Bits<32>>,
    e_mask: Signal<Local, Bits<32>>,
    e_cin: Signal<Local, Bits<32>>,
    acc_mask: Signal<Local, Bits<32>>,
    acc_cin: Signal<Local, Bits<32>>,
    better: Signal<Local, Bit>,
    half: Signal<Local, Bits<32>>,
    status_busy: Signal<Local, Bits<32>>,
    status_pending: Signal<Local, Bits<32>>,
    status_stale: Signal<Local, Bits<32>>,
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
    > DenseDatapath<N, A, W, F, P, K1, PA, S>
{
    /// The datapath for `format` (must be [`Format::for_machine`]`(N)`: its field width is F).
    pub fn new(format: &Format) -> Self {
        assert_eq!(N % 32, 0, "N must be a multiple of 32");
        assert_eq!(1 << A, N);
        assert_eq!(W * 32, N);
        assert_eq!(format.field_bits as usize, F);
        assert_eq!(format.j_bits as usize, J_BITS);
        assert_eq!(format.rng_bits as usize, K1 + 1);
        assert_eq!(format.rng_bits, 12);
        let hash = pbit_spec::hash::spec_hash(format);
        let fmt =
            format.frac_bits | format.j_bits << 8 | format.h_bits << 16 | format.field_bits << 24;
        let fmt2 = format.rng_bits | (1u32 << P) << 8 | mm::ENERGY_BITS << 16;
        let sext = (u32::MAX >> F) << F;
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
            state_out: Default::default(),
            busy_other: Default::default(),
            rngs: Default::default(),
            crossbar: Default::default(),
            pages: Default::default(),
            steps: Default::default(),
            sched: Default::default(),
            spins: (0..W).map(|_| DFF::default()).collect(),
            clamps: (0..W).map(|_| DFF::default()).collect(),
            best: (0..W).map(|_| DFF::default()).collect(),
            sample: (0..W).map(|_| DFF::default()).collect(),
            energy: Default::default(),
            best_energy: Default::default(),
            sample_energy: Default::default(),
            acc: Default::default(),
            stale: Default::default(),
            sample_pending: Default::default(),
            n_active: Default::default(),
            n_steps: Default::default(),
            burn_in: Default::default(),
            every: Default::default(),
            clocks: Default::default(),
            sweeps: Default::default(),
            samples: Default::default(),
            rd: Default::default(),
            rd_rng: Default::default(),
            rd_field: Default::default(),
            best_pending: Default::default(),
            r_regs: c24!(mm::REGION_REGS),
            r_j: c24!(mm::REGION_J),
            r_h: c24!(mm::REGION_H),
            r_rng: c24!(mm::REGION_RNG),
            r_state: c24!(mm::REGION_STATE),
            r_clamps: c24!(mm::REGION_CLAMPS),
            r_best: c24!(mm::REGION_BEST_STATE),
            r_sample: c24!(mm::REGION_SAMPLE),
            r_field: c24!(mm::REGION_FIELD),
            a_magic: c24!(mm::REG_MAGIC),
            a_n: c24!(mm::REG_N),
            a_format: c24!(mm::REG_FORMAT),
            a_format2: c24!(mm::REG_FORMAT2),
            a_hash_lo: c24!(mm::REG_SPEC_HASH_LO),
            a_hash_hi: c24!(mm::REG_SPEC_HASH_HI),
            a_status: c24!(mm::REG_STATUS),
            a_n_active: c24!(mm::REG_N_ACTIVE),
            a_n_steps: c24!(mm::REG_N_STEPS),
            a_burn_in: c24!(mm::REG_BURN_IN),
            a_every: c24!(mm::REG_EVERY),
            a_energy: c24!(mm::REG_ENERGY),
            a_best_energy: c24!(mm::REG_BEST_ENERGY),
            a_sample_energy: c24!(mm::REG_SAMPLE_ENERGY),
            a_clocks_lo: c24!(mm::REG_CLOCKS_LO),
            a_clocks_hi: c24!(mm::REG_CLOCKS_HI),
            a_sweeps: c24!(mm::REG_SWEEPS),
            a_samples: c24!(mm::REG_SAMPLES),
            bad_pbit: c24!(0xFF_FFFF & !(N as u32 - 1)),
            v_magic: c24!(mm::MAGIC),
            v_n: c24!(N),
            v_format: c24!(fmt),
            v_format2: c24!(fmt2),
            v_hash_lo: c24!(hash as u32),
            v_hash_hi: c24!((hash >> 32) as u32),
            msb_f: c24!(1u64 << (F - 1)),
            msb32: c24!(1u64 << 31),
            sext32: c24!(sext),
            one32: c24!(1),
            ones32: c24!(0xFFFF_FFFFu32),
            zero32: c24!(0),
            two32: c24!(2),
            four32: c24!(4),
            pack: (0..W).map(|_| WordShift::default()).collect(),
            w_region: Default::default(),
            w_index: Default::default(),
            r_region: Default::default(),
            r_index: Default::default(),
            wr: Default::default(),
            cur_word: Default::default(),
            cur_bit: Default::default(),
            onehot: Default::default(),
            word: Default::default(),
            clamp_word: Default::default(),
            new_word: Default::default(),
            spin_c: Default::default(),
            clamp_c: Default::default(),
            field: Default::default(),
            field_x: Default::default(),
            h_x: Default::default(),
            two_i: Default::default(),
            sum: Default::default(),
            up: Default::default(),
            flip: Default::default(),
            e_new: Default::default(),
            e_mask: Default::default(),
            e_cin: Default::default(),
            acc_mask: Default::default(),
            acc_cin: Default::default(),
            better: Default::default(),
            half: Default::default(),
            status_busy: Default::default(),
            status_pending: Default::default(),
            status_stale: Default::default(),
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
    > Logic for DenseDatapath<N, A, W, F, P, K1, PA, S>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            energy,
            best_energy,
            sample_energy,
            acc,
            stale,
            sample_pending,
            n_active,
            n_steps,
            burn_in,
            every,
            clocks,
            sweeps,
            samples,
            rd,
            rd_rng,
            rd_field,
            best_pending
        );
        for w in 0..W {
            self.spins[w].clock.next = self.clock.val();
            self.spins[w].d.next = self.spins[w].q.val();
            self.clamps[w].clock.next = self.clock.val();
            self.clamps[w].d.next = self.clamps[w].q.val();
            self.best[w].clock.next = self.clock.val();
            self.best[w].d.next = self.best[w].q.val();
            self.sample[w].clock.next = self.clock.val();
            self.sample[w].d.next = self.sample[w].q.val();
        }
        self.crossbar.clock.next = self.clock.val();
        self.pages.clock.next = self.clock.val();
        self.steps.clock.next = self.clock.val();
        self.sched.clock.next = self.clock.val();
        self.rngs.clock.next = self.clock.val();

        // ---- bus decode (the sub-blocks decode their own regions from copies of the ports)
        self.w_region.next = bit_cast::<8, 32>(self.write_addr.val() >> 24);
        self.w_index.next = bit_cast::<24, 32>(self.write_addr.val());
        self.r_region.next = bit_cast::<8, 32>(self.read_addr.val() >> 24);
        self.r_index.next = bit_cast::<24, 32>(self.read_addr.val());
        self.wr.next = self.write_en.val() & !self.sched.busy.val();
        self.busy.next = self.sched.busy.val();

        // ---- controller: plain copies of ports and registers
        self.sched.write_en.next = self.write_en.val();
        self.sched.write_addr.next = self.write_addr.val();
        self.sched.write_data.next = self.write_data.val();
        self.sched.read_addr.next = self.read_addr.val();
        self.sched.stale.next = self.stale.q.val();
        self.sched.n_active.next = self.n_active.q.val();
        self.sched.n_steps.next = self.n_steps.q.val();
        self.sched.burn_in.next = self.burn_in.q.val();
        self.sched.every.next = self.every.q.val();
        self.sched.step_sweeps.next = self.steps.sweeps.val();
        self.sched.step_page.next = self.steps.page.val();
        self.sched.sample_pending.next = self.sample_pending.q.val();
        self.sched.sample_ready.next = self.sample_ready.val();

        // ---- memories and generators: copies too
        self.steps.write_en.next = self.write_en.val();
        self.steps.write_addr.next = self.write_addr.val();
        self.steps.write_data.next = self.write_data.val();
        self.steps.busy.next = self.sched.busy.val();
        self.steps.step.next = self.sched.step.val();
        self.pages.write_en.next = self.write_en.val();
        self.pages.write_addr.next = self.write_addr.val();
        self.pages.write_data.next = self.write_data.val();
        self.pages.busy.next = self.sched.busy.val();
        self.pages.page.next = self.sched.page.val();
        self.pages.u.next = self.rngs.u.val();
        self.rngs.write_en.next = self.write_en.val();
        self.rngs.write_addr.next = self.write_addr.val();
        self.rngs.write_data.next = self.write_data.val();
        self.rngs.busy.next = self.sched.busy.val();
        self.rngs.read_addr.next = self.read_addr.val();
        self.rngs.n_active.next = self.n_active.q.val();
        self.rngs.look.next = self.sched.look.val();
        self.rngs.look_en.next = self.sched.look_en.val();
        self.crossbar.write_en.next = self.write_en.val();
        self.crossbar.write_addr.next = self.write_addr.val();
        self.crossbar.write_data.next = self.write_data.val();
        self.crossbar.busy.next = self.sched.busy.val();
        self.crossbar.read_col.next = self.sched.look.val();
        self.crossbar.sel.next = self.sched.sel.val();
        self.crossbar.sel_next.next = self.sched.sel_next.val();
        self.crossbar.clear_fields.next = self.sched.clear_fields.val();
        self.crossbar.flip.next = self.sched.decide.val();

        // ---- the p-bit at the cursor
        self.cur_word.next = self.sched.cursor.val() >> 5;
        self.cur_bit.next = bit_cast::<5, A>(self.sched.cursor.val());
        self.onehot.next = self.one32.val() << self.cur_bit.val();
        self.word.next = self.spins[0].q.val();
        self.clamp_word.next = self.clamps[0].q.val();
        for w in 0..W {
            if self.cur_word.val().index() == w {
                self.word.next = self.spins[w].q.val();
                self.clamp_word.next = self.clamps[w].q.val();
            }
        }
        self.spin_c.next = (self.word.val() & self.onehot.val()) != 0;
        self.clamp_c.next = (self.clamp_word.val() & self.onehot.val()) != 0;

        // ---- the decision
        self.field.next = self.crossbar.sel_field.val();
        self.field_x.next = bit_cast::<32, F>(self.field.val());
        if (self.field.val() & self.msb_f.val()) != 0 {
            self.field_x.next = bit_cast::<32, F>(self.field.val()) | self.sext32.val();
        }
        self.h_x.next = bit_cast::<32, F>(self.crossbar.sel_h.val());
        if (self.crossbar.sel_h.val() & self.msb_f.val()) != 0 {
            self.h_x.next = bit_cast::<32, F>(self.crossbar.sel_h.val()) | self.sext32.val();
        }
        self.two_i.next = self.field_x.val() << 1;
        self.sum.next = self.field_x.val() + self.h_x.val();
        self.up.next =
            (self.field.val() ^ self.msb_f.val()) > (self.pages.threshold.val() ^ self.msb_f.val());
        self.flip.next =
            self.sched.decide.val() & !self.clamp_c.val() & (self.up.val() != self.spin_c.val());
        // E ∓ 2I as E + (2I ^ mask) + cin (x − y = x + !y + 1): one carry chain for both
        // signs, where an adder, a subtractor and a multiplexer took three LCs a bit
        self.e_mask.next = 0.into();
        self.e_cin.next = 0.into();
        if self.up.val() {
            self.e_mask.next = self.ones32.val();
            self.e_cin.next = 1.into();
        }
        self.e_new.next =
            self.energy.q.val() + (self.two_i.val() ^ self.e_mask.val()) + self.e_cin.val();
        // the best compare runs a clock after the flip, on the energy register (= E after
        // that flip) and the state register (= the state after it): off the decision path
        self.better.next = (self.energy.q.val() ^ self.msb32.val())
            < (self.best_energy.q.val() ^ self.msb32.val());
        self.new_word.next = self.word.val() & !self.onehot.val();
        if self.up.val() {
            self.new_word.next = self.word.val() | self.onehot.val();
        }

        // ---- crossbar: the flip's add (its other controls are copies, above)
        self.crossbar.add.next = self.sched.accum.val() | self.flip.val();
        self.crossbar.neg.next = !self.spin_c.val();
        if self.sched.decide.val() {
            self.crossbar.neg.next = !self.up.val();
        }

        // ---- flip: state and energy now, the best compare at the next clock
        self.best_pending.d.next = self.flip.val();
        if self.flip.val() {
            self.energy.d.next = self.e_new.val();
            for w in 0..W {
                if self.cur_word.val().index() == w {
                    self.spins[w].d.next = self.new_word.val();
                }
            }
        }
        if self.best_pending.q.val() & self.better.val() {
            self.best_energy.d.next = self.energy.q.val();
            for w in 0..W {
                self.best[w].d.next = self.spins[w].q.val();
            }
        }

        // ---- recompute: E = −½ Σ m_i (I_i + h_i)
        if self.sched.clear_fields.val() {
            self.acc.d.next = 0.into();
        }
        // acc ∓ sum, one carry chain for both signs as for E above
        self.acc_mask.next = 0.into();
        self.acc_cin.next = 0.into();
        if self.spin_c.val() {
            self.acc_mask.next = self.ones32.val();
            self.acc_cin.next = 1.into();
        }
        if self.sched.energy.val() {
            self.acc.d.next =
                self.acc.q.val() + (self.sum.val() ^ self.acc_mask.val()) + self.acc_cin.val();
        }
        self.half.next = (self.acc.q.val() >> 1) | (self.acc.q.val() & self.msb32.val());
        if self.sched.energy_done.val() {
            self.energy.d.next = self.half.val();
            self.best_energy.d.next = self.half.val();
            self.stale.d.next = false;
            for w in 0..W {
                self.best[w].d.next = self.spins[w].q.val();
            }
        }

        // ---- samples
        if self.sample_pending.q.val() & self.sample_ready.val() {
            self.sample_pending.d.next = false;
        }
        // a new run discards an unread sample of a stopped one
        if self.sched.starting.val() {
            self.sample_pending.d.next = false;
        }
        if self.sched.sample_emit.val() {
            // the state after this clock's update (a sweep ends with its last decision)
            self.sample_pending.d.next = true;
            self.sample_energy.d.next = self.energy.q.val();
            if self.flip.val() {
                self.sample_energy.d.next = self.e_new.val();
            }
            for w in 0..W {
                self.sample[w].d.next = self.spins[w].q.val();
                if self.flip.val() & (self.cur_word.val().index() == w) {
                    self.sample[w].d.next = self.new_word.val();
                }
            }
        }
        self.sample_valid.next = self.sample_pending.q.val();
        if self.sched.busy.val() | self.busy_other.val() {
            self.clocks.d.next = self.clocks.q.val() + 1;
        }
        if self.sched.sweep_done.val() {
            self.sweeps.d.next = self.sweeps.q.val() + 1;
        }
        if self.sched.sample_emit.val() {
            self.samples.d.next = self.samples.q.val() + 1;
        }

        // ---- bus writes of registers and state
        if self.wr.val() & (self.w_region.val() == self.r_regs.val()) {
            if self.w_index.val() == self.a_n_active.val() {
                self.n_active.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_n_steps.val() {
                self.n_steps.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_burn_in.val() {
                self.burn_in.d.next = self.write_data.val();
            }
            if self.w_index.val() == self.a_every.val() {
                self.every.d.next = self.write_data.val();
            }
        }
        for w in 0..W {
            if self.wr.val()
                & (self.w_region.val() == self.r_state.val())
                & (self.w_index.val().index() == w)
            {
                self.spins[w].d.next = self.write_data.val();
            }
            if self.wr.val()
                & (self.w_region.val() == self.r_clamps.val())
                & (self.w_index.val().index() == w)
            {
                self.clamps[w].d.next = self.write_data.val();
            }
        }
        if self.wr.val()
            & ((self.w_region.val() == self.r_j.val())
                | (self.w_region.val() == self.r_h.val())
                | (self.w_region.val() == self.r_state.val())
                | (self.w_region.val() == self.r_clamps.val()))
        {
            self.stale.d.next = true;
        }

        // ---- bus reads (registered)
        self.status_busy.next = self.zero32.val();
        if self.sched.busy.val() {
            self.status_busy.next = self.one32.val();
        }
        self.status_pending.next = self.zero32.val();
        if self.sample_pending.q.val() {
            self.status_pending.next = self.two32.val();
        }
        self.status_stale.next = self.zero32.val();
        if self.stale.q.val() {
            self.status_stale.next = self.four32.val();
        }
        self.rd.d.next = 0.into();
        if self.r_region.val() == self.r_regs.val() {
            if self.r_index.val() == self.a_magic.val() {
                self.rd.d.next = self.v_magic.val();
            }
            if self.r_index.val() == self.a_n.val() {
                self.rd.d.next = self.v_n.val();
            }
            if self.r_index.val() == self.a_format.val() {
                self.rd.d.next = self.v_format.val();
            }
            if self.r_index.val() == self.a_format2.val() {
                self.rd.d.next = self.v_format2.val();
            }
            if self.r_index.val() == self.a_hash_lo.val() {
                self.rd.d.next = self.v_hash_lo.val();
            }
            if self.r_index.val() == self.a_hash_hi.val() {
                self.rd.d.next = self.v_hash_hi.val();
            }
            if self.r_index.val() == self.a_status.val() {
                self.rd.d.next =
                    self.status_busy.val() | self.status_pending.val() | self.status_stale.val();
            }
            if self.r_index.val() == self.a_n_active.val() {
                self.rd.d.next = self.n_active.q.val();
            }
            if self.r_index.val() == self.a_n_steps.val() {
                self.rd.d.next = self.n_steps.q.val();
            }
            if self.r_index.val() == self.a_burn_in.val() {
                self.rd.d.next = self.burn_in.q.val();
            }
            if self.r_index.val() == self.a_every.val() {
                self.rd.d.next = self.every.q.val();
            }
            if self.r_index.val() == self.a_energy.val() {
                self.rd.d.next = self.energy.q.val();
            }
            if self.r_index.val() == self.a_best_energy.val() {
                self.rd.d.next = self.best_energy.q.val();
            }
            if self.r_index.val() == self.a_sample_energy.val() {
                self.rd.d.next = self.sample_energy.q.val();
            }
            if self.r_index.val() == self.a_clocks_lo.val() {
                self.rd.d.next = bit_cast::<32, 64>(self.clocks.q.val());
            }
            if self.r_index.val() == self.a_clocks_hi.val() {
                self.rd.d.next = bit_cast::<32, 64>(self.clocks.q.val() >> 32);
            }
            if self.r_index.val() == self.a_sweeps.val() {
                self.rd.d.next = self.sweeps.q.val();
            }
            if self.r_index.val() == self.a_samples.val() {
                self.rd.d.next = self.samples.q.val();
            }
        }
        // generators (a RAM) and fields (the crossbar's multiplexer at the controller's
        // cursor, which takes the read index while idle) answer in the next clock themselves
        self.rd_rng.d.next = (self.r_region.val() == self.r_rng.val())
            & ((self.r_index.val() & self.bad_pbit.val()) == 0);
        self.rd_field.d.next = (self.r_region.val() == self.r_field.val())
            & ((self.r_index.val() & self.bad_pbit.val()) == 0);
        for w in 0..W {
            if self.r_index.val().index() == w {
                if self.r_region.val() == self.r_state.val() {
                    self.rd.d.next = self.spins[w].q.val();
                }
                if self.r_region.val() == self.r_clamps.val() {
                    self.rd.d.next = self.clamps[w].q.val();
                }
                if self.r_region.val() == self.r_best.val() {
                    self.rd.d.next = self.best[w].q.val();
                }
                if self.r_region.val() == self.r_sample.val() {
                    self.rd.d.next = self.sample[w].q.val();
                }
            }
        }
        // the whole state: word w enters a chain of shifters at the top and moves down 32
        // per later word, so it ends at bit 32w
        self.pack[0].acc_in.next = 0.into();
        for w in 0..W {
            self.pack[w].word.next = self.spins[w].q.val();
        }
        for w in 1..W {
            self.pack[w].acc_in.next = self.pack[w - 1].acc_out.val();
        }
        for w in (W - 1)..W {
            self.state_out.next = self.pack[w].acc_out.val();
        }
        self.read_data.next = self.rd.q.val();
        if self.rd_rng.q.val() {
            self.read_data.next = self.rngs.read_state.val();
        }
        if self.rd_field.q.val() {
            self.read_data.next = self.field_x.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crossbar::to_i64;
    use pbit_model::{FixedIsing, Ising, Machine as Model, Scaling};
    use pbit_spec::{Beta, ThresholdPage};

    type Uut = DenseDatapath<32, 5, 1, 15, 5, 11, 16, 5>;

    /// The whole machine in rust-hdl's simulator: a 5-p-bit instance (one p-bit clamped) on the
    /// 32-p-bit machine, three sweeps; state, energy, best, generators and fields equal the
    /// model's. (The long runs are in pbit-sim's Verilator co-simulation.)
    #[test]
    fn machine_three_sweeps_match_model() {
        let n = 5;
        let format = Format::for_machine(32);
        let mut ising = Ising::new(n);
        let js = [
            (0, 1, 3.5),
            (0, 2, -15.9375),
            (1, 3, 2.0),
            (2, 4, 0.5),
            (3, 4, -1.25),
        ];
        for &(i, j, v) in &js {
            ising.add_coupling(i, j, v);
        }
        ising.h = vec![0.25, -1.0, 0.0, 63.9375, -0.5];
        let p = FixedIsing::new(&ising, format, Scaling::Exact).unwrap();
        let page = ThresholdPage::build(&format, Beta::from_f64(0.5).unwrap());
        let (seed, clamps) = (11u64, [(2usize, true)]);
        let mut model = Model::new(&p, seed, 0);
        model.set_clamps(&clamps);
        for _ in 0..3 {
            model.sweep(&page);
        }
        let mut dense = vec![0i32; n * n];
        for i in 0..n {
            let (nb, jv) = p.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                dense[i * n + j as usize] = v;
            }
        }
        let mut spins0 = 0u32;
        for i in 0..n {
            if pbit_spec::initial_spin(seed, 0, i as u64) {
                spins0 |= 1 << i;
            }
        }
        spins0 |= 1 << 2;
        let want_spins: u32 = (0..n).filter(|&i| model.spins()[i]).map(|i| 1 << i).sum();
        let want_best: u32 = (0..n)
            .filter(|&i| model.best_spins()[i])
            .map(|i| 1 << i)
            .sum();
        let want_rng = model.rng_states().to_vec();
        let want_fields = model.fields().to_vec();
        let (want_e, want_best_e) = (model.energy_raw(), model.best_energy_raw());
        let h = p.h_raw.clone();
        let upper = page.upper_half().to_vec();

        let mut uut = Uut::new(&format);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Uut>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            sim_assert_eq!(sim, bus_read!(sim, x, mm::reg(mm::REG_MAGIC)), mm::MAGIC, x);
            bus_write!(sim, x, mm::reg(mm::REG_N_ACTIVE), n);
            for i in 0..n {
                for j in 0..n {
                    bus_write!(sim, x, mm::j_addr(i as u32, j as u32), dense[i * n + j]);
                }
                bus_write!(sim, x, mm::region_addr(mm::REGION_H, i as u32), h[i]);
                let s = pbit_spec::pbit_seed(seed, 0, i as u64);
                bus_write!(sim, x, mm::region_addr(mm::REGION_RNG, i as u32), s);
            }
            bus_write!(sim, x, mm::region_addr(mm::REGION_STATE, 0), spins0);
            bus_write!(sim, x, mm::region_addr(mm::REGION_CLAMPS, 0), 1u32 << 2);
            for (u, &a) in upper.iter().enumerate() {
                bus_write!(sim, x, mm::page_addr(3, u as u32), a);
            }
            bus_write!(sim, x, mm::schedule_sweeps_addr(0), 3);
            bus_write!(sim, x, mm::schedule_page_addr(0), 3);
            bus_write!(sim, x, mm::reg(mm::REG_N_STEPS), 1);
            bus_write!(sim, x, mm::reg(mm::REG_CTRL), mm::CTRL_RUN);
            let mut clocks = 0;
            while x.busy.val() {
                wait_clock_cycle!(sim, clock, x);
                clocks += 1;
                sim_assert!(sim, clocks < 1000, x);
            }
            // recompute 2n + 2, one step 3, three sweeps of n
            sim_assert_eq!(sim, clocks, 2 * n + 2 + 3 + 3 * n, x);
            let st = bus_read!(sim, x, mm::region_addr(mm::REGION_STATE, 0));
            sim_assert_eq!(sim, st, want_spins, x);
            let e = bus_read!(sim, x, mm::reg(mm::REG_ENERGY)) as i32 as i64;
            sim_assert_eq!(sim, e, want_e, x);
            let be = bus_read!(sim, x, mm::reg(mm::REG_BEST_ENERGY)) as i32 as i64;
            sim_assert_eq!(sim, be, want_best_e, x);
            let bs = bus_read!(sim, x, mm::region_addr(mm::REGION_BEST_STATE, 0));
            sim_assert_eq!(sim, bs, want_best, x);
            for i in 0..n {
                let r = bus_read!(sim, x, mm::region_addr(mm::REGION_RNG, i as u32));
                sim_assert_eq!(sim, r, want_rng[i], x);
                let f = bus_read!(sim, x, mm::region_addr(mm::REGION_FIELD, i as u32));
                sim_assert_eq!(
                    sim,
                    to_i64::<32>((f as u64).to_bits()),
                    want_fields[i] as i64,
                    x
                );
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 10_000_000).unwrap();
    }
}
