//! The p-bit generators: one xorshift32 state per p-bit (the "LFSR-driven cells").
//!
//! Each p-bit owns its 32-bit state, stepped once per update of that p-bit by three
//! shift-xor stages (no adders), exactly [`pbit_spec::rng::xorshift32_step`]. The host seeds it
//! through the bus with [`pbit_spec::pbit_seed`].
//!
//! The machine updates one p-bit per clock, so [`RngBank`] keeps the states in a RAM and steps
//! one per clock (read a clock ahead, written back stepped). [`RngCell`] is the register form
//! of one generator (32 flip-flops and a step circuit per p-bit), for a graph-coloured machine
//! whose p-bits step in the same clock; its test pins the step to the spec.
//!
//! `index`/`u` is the page index drawn by the step (top 12 bits of the stepped state),
//! combinational, so the machine looks up the threshold of the p-bit it decides next cycle
//! while the step is being committed.

use crate::ram::DpRam;
use pbit_spec::memory_map as mm;
use rust_hdl::prelude::*;

/// One p-bit's xorshift32 generator.
#[derive(LogicBlock, Default)]
pub struct RngCell {
    pub clock: Signal<In, Clock>,
    /// Step the generator at this clock edge.
    pub step: Signal<In, Bit>,
    /// Load `seed` at this clock edge (wins over `step`).
    pub load: Signal<In, Bit>,
    pub seed: Signal<In, Bits<32>>,
    /// The current state.
    pub state: Signal<Out, Bits<32>>,
    /// The page index of the next draw: the top 12 bits (`rng_bits`) of the state after one
    /// step.
    pub index: Signal<Out, Bits<12>>,
    gen: DFF<Bits<32>>,
    s1: Signal<Local, Bits<32>>,
    s2: Signal<Local, Bits<32>>,
    stepped: Signal<Local, Bits<32>>,
}

impl Logic for RngCell {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, gen);
        // x ^= x << 13; x ^= x >> 17; x ^= x << 5
        self.s1.next = self.gen.q.val() ^ (self.gen.q.val() << 13);
        self.s2.next = self.s1.val() ^ (self.s1.val() >> 17);
        self.stepped.next = self.s2.val() ^ (self.s2.val() << 5);
        self.index.next = self.stepped.val().get_bits::<12>(20);
        self.state.next = self.gen.q.val();
        if self.step.val() {
            self.gen.d.next = self.stepped.val();
        }
        if self.load.val() {
            self.gen.d.next = self.seed.val();
        }
    }
}

/// The generators of N p-bits in a RAM (one 32-bit word per p-bit), with the machine's
/// look-ahead step, the page index of the look-ahead p-bit, and bus access (writes of region
/// `REGION_RNG` seed a generator; reads give its state). Its inputs are plain copies of the
/// core's ports, registers and the controller's outputs.
///
/// One p-bit updates per clock, so one generator steps per clock: a RAM read-modify-written
/// once per update replaces N 32-bit registers and N step circuits (on the UP5K at N = 32 about
/// 1,000 flip-flops and 4,000 LUTs). The step of p-bit `look` needs its state at the start of
/// its clock, so the RAM reads the state of the p-bit stepped next one clock ahead: p-bits step
/// in the controller's order 0, 1, …, n−1, 0, … (`look_en`), and after a clock without a step
/// the next step is of p-bit 0 (a sweep's `Prep`). With n = 1 the p-bit read is the one being
/// written: the stepped state is forwarded instead of the RAM's old word.
///
/// `read_state` is the RAM's output: while idle, the state of the generator `read_addr` named
/// one clock earlier (the bus's read timing); while running, whatever the machine reads.
#[derive(LogicBlock)]
pub struct RngBank<const N: usize, const A: usize> {
    pub clock: Signal<In, Clock>,
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    pub read_addr: Signal<In, Bits<32>>,
    /// Active p-bits n: the order of steps wraps after n − 1.
    pub n_active: Signal<In, Bits<32>>,
    /// Step the generator of p-bit `look` (when `look_en`); `u` is its next page index.
    pub look: Signal<In, Bits<A>>,
    pub look_en: Signal<In, Bit>,
    pub u: Signal<Out, Bits<12>>,
    /// The RAM's read word (see above).
    pub read_state: Signal<Out, Bits<32>>,
    store: DpRam<Bits<32>, A, 0, true>,
    fwd_valid: DFF<Bit>,
    fwd: DFF<Bits<32>>,
    r_rng: Constant<Bits<8>>,
    beyond: Constant<Bits<24>>,
    w_region: Signal<Local, Bits<8>>,
    w_index: Signal<Local, Bits<24>>,
    n_last: Signal<Local, Bits<A>>,
    next_look: Signal<Local, Bits<A>>,
    state: Signal<Local, Bits<32>>,
    s1: Signal<Local, Bits<32>>,
    s2: Signal<Local, Bits<32>>,
    stepped: Signal<Local, Bits<32>>,
}

impl<const N: usize, const A: usize> Default for RngBank<N, A> {
    fn default() -> Self {
        assert!(N == 1 << A);
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            read_addr: Default::default(),
            n_active: Default::default(),
            look: Default::default(),
            look_en: Default::default(),
            u: Default::default(),
            read_state: Default::default(),
            store: Default::default(),
            fwd_valid: Default::default(),
            fwd: Default::default(),
            r_rng: Constant::new((mm::REGION_RNG as u64).to_bits()),
            beyond: Constant::new(((0xFF_FFFFu32 & !(N as u32 - 1)) as u64).to_bits()),
            w_region: Default::default(),
            w_index: Default::default(),
            n_last: Default::default(),
            next_look: Default::default(),
            state: Default::default(),
            s1: Default::default(),
            s2: Default::default(),
            stepped: Default::default(),
        }
    }
}

impl<const N: usize, const A: usize> Logic for RngBank<N, A> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, fwd_valid, fwd);
        self.store.clock.next = self.clock.val();
        self.w_region.next = bit_cast::<8, 32>(self.write_addr.val() >> 24);
        self.w_index.next = bit_cast::<24, 32>(self.write_addr.val());
        self.n_last.next = bit_cast::<A, 32>(self.n_active.val() - 1);
        // the state of p-bit `look`, read last clock (or just written, for n = 1)
        self.state.next = self.store.read_data.val();
        if self.fwd_valid.q.val() {
            self.state.next = self.fwd.q.val();
        }
        // x ^= x << 13; x ^= x >> 17; x ^= x << 5
        self.s1.next = self.state.val() ^ (self.state.val() << 13);
        self.s2.next = self.s1.val() ^ (self.s1.val() >> 17);
        self.stepped.next = self.s2.val() ^ (self.s2.val() << 5);
        self.u.next = self.stepped.val().get_bits::<12>(20);
        self.read_state.next = self.store.read_data.val();
        // the p-bit stepped next clock: the one after `look` in sweep order, else p-bit 0
        self.next_look.next = self.look.val() + 1;
        if self.look.val() == self.n_last.val() {
            self.next_look.next = 0.into();
        }
        self.store.read_address.next = bit_cast::<A, 32>(self.read_addr.val());
        if self.busy.val() {
            self.store.read_address.next = 0.into();
        }
        if self.look_en.val() {
            self.store.read_address.next = self.next_look.val();
        }
        self.fwd_valid.d.next = self.look_en.val() & (self.next_look.val() == self.look.val());
        self.fwd.d.next = self.stepped.val();
        // write: the step while running, a seed from the bus while idle
        self.store.write_address.next = bit_cast::<A, 32>(self.write_addr.val());
        self.store.write_data.next = self.write_data.val();
        self.store.write_enable.next = self.write_en.val()
            & !self.busy.val()
            & (self.w_region.val() == self.r_rng.val())
            & ((self.w_index.val() & self.beyond.val()) == 0);
        if self.look_en.val() {
            self.store.write_address.next = self.look.val();
            self.store.write_data.next = self.stepped.val();
            self.store.write_enable.next = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_spec::rng::xorshift32_step;

    /// The cell zipped against the spec's generator: load a seed, step with gaps, compare.
    #[test]
    fn rng_cell_matches_spec_xorshift() {
        let mut uut = RngCell::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<RngCell>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<RngCell>| {
            let mut x = sim.init()?;
            for seed in [1u32, 2_463_534_242, pbit_spec::pbit_seed(7, 0, 3)] {
                wait_clock_false!(sim, clock, x);
                x.seed.next = seed.to_bits();
                x.load.next = true;
                x.step.next = true;
                wait_clock_cycle!(sim, clock, x);
                x.load.next = false;
                let mut want = seed;
                for t in 0..40u32 {
                    sim_assert_eq!(sim, x.state.val(), want.to_bits::<32>(), x);
                    sim_assert_eq!(
                        sim,
                        x.index.val(),
                        ((xorshift32_step(want) >> 20) as u64).to_bits::<12>(),
                        x
                    );
                    // step on most clocks, hold on some
                    x.step.next = t % 3 != 2;
                    wait_clock_cycle!(sim, clock, x);
                    if t % 3 != 2 {
                        want = xorshift32_step(want);
                    }
                }
                x.step.next = false;
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 10_000).unwrap();
    }

    #[test]
    fn rng_cell_verilog_is_generated() {
        let mut uut = RngCell::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        assert!(v.contains("module top"));
    }

    /// The bank: seeds over the bus (ignored while busy or beyond the bank), steps p-bits in
    /// sweep order with gaps (after a gap the next step is of p-bit 0), shows each step's next
    /// index, reads states back; for n = 1 and n = 3 of 4.
    #[test]
    fn rng_bank_steps_the_look_ahead_pbit() {
        type Bank = RngBank<4, 2>;
        for n in [4usize, 1, 3] {
            let mut uut = Bank::default();
            uut.connect_all();
            let mut sim = Simulation::new();
            sim.add_clock(5, |x: &mut Box<Bank>| x.clock.next = !x.clock.val());
            sim.add_testbench(move |mut sim: Sim<Bank>| {
                let mut x = sim.init()?;
                wait_clock_false!(sim, clock, x);
                x.n_active.next = n.to_bits();
                let mut want: Vec<u32> = (0..4).map(|i| pbit_spec::pbit_seed(9, 1, i)).collect();
                for (i, &seed) in want.iter().enumerate() {
                    x.write_en.next = true;
                    x.write_addr.next =
                        (mm::region_addr(mm::REGION_RNG, i as u32) as u64).to_bits();
                    x.write_data.next = (seed as u64).to_bits();
                    wait_clock_cycle!(sim, clock, x);
                }
                // ignored: beyond the bank, and while busy
                x.write_addr.next = (mm::region_addr(mm::REGION_RNG, 4) as u64).to_bits();
                wait_clock_cycle!(sim, clock, x);
                x.busy.next = true;
                x.write_addr.next = (mm::region_addr(mm::REGION_RNG, 0) as u64).to_bits();
                x.write_data.next = 1u64.to_bits();
                wait_clock_cycle!(sim, clock, x);
                x.write_en.next = false;
                // runs of steps in sweep order, separated by gaps of 1 or 2 clocks
                for run in 0..4usize {
                    let mut k = 0;
                    for _ in 0..(2 * n + run) {
                        x.look.next = k.to_bits();
                        x.look_en.next = true;
                        wait_clock_false!(sim, clock, x);
                        let next = xorshift32_step(want[k]);
                        sim_assert_eq!(sim, x.u.val(), ((next >> 20) as u64).to_bits::<12>(), x);
                        wait_clock_cycle!(sim, clock, x);
                        want[k] = next;
                        k = (k + 1) % n;
                    }
                    x.look_en.next = false;
                    for _ in 0..1 + run % 2 {
                        wait_clock_cycle!(sim, clock, x);
                    }
                }
                x.busy.next = false;
                for (i, &w) in want.iter().enumerate() {
                    x.read_addr.next = (mm::region_addr(mm::REGION_RNG, i as u32) as u64).to_bits();
                    wait_clock_cycle!(sim, clock, x);
                    sim_assert_eq!(sim, x.read_state.val(), (w as u64).to_bits::<32>(), x);
                }
                sim.done(x)
            });
            sim.run(Box::new(uut), 100_000).unwrap();
        }
    }
}
