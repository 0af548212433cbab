//! The p-bit cell's generator: one xorshift32 register per p-bit (the "LFSR-driven cells").
//!
//! Each p-bit owns its 32-bit state, stepped once per update of that p-bit by three
//! shift-xor stages (no adders), exactly [`pbit_spec::rng::xorshift32_step`]. The host seeds it
//! through the bus with [`pbit_spec::pbit_seed`]. Keeping the states in registers (rather than
//! one RAM read-modify-written per update) costs 32 flip-flops per p-bit but leaves every cell
//! free to step in the same clock, which a graph-coloured machine needs.
//!
//! `index` is the page index drawn by the next step (top 12 bits of the stepped state), combinational, so the machine can look up the threshold
//! of the p-bit it decides next cycle while the step is being committed.

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

/// The generators of N p-bits with the machine's look-ahead step, the page index of the
/// look-ahead p-bit, and bus access (writes of region `REGION_RNG` seed a generator; reads give
/// its state). Its inputs are plain copies of the core's ports and of the controller's outputs.
#[derive(LogicBlock)]
pub struct RngBank<const N: usize, const A: usize> {
    pub clock: Signal<In, Clock>,
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    pub read_addr: Signal<In, Bits<32>>,
    /// Step the generator of p-bit `look` (when `look_en`); `u` is its next page index.
    pub look: Signal<In, Bits<A>>,
    pub look_en: Signal<In, Bit>,
    pub u: Signal<Out, Bits<12>>,
    /// The state of the generator `read_addr` names (0 for other addresses).
    pub read_state: Signal<Out, Bits<32>>,
    pub cells: Vec<RngCell>,
    r_rng: Constant<Bits<8>>,
    w_region: Signal<Local, Bits<8>>,
    w_index: Signal<Local, Bits<24>>,
    r_region: Signal<Local, Bits<8>>,
    r_index: Signal<Local, Bits<24>>,
}

impl<const N: usize, const A: usize> Default for RngBank<N, A> {
    fn default() -> Self {
        assert!(N <= 1 << A);
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            read_addr: Default::default(),
            look: Default::default(),
            look_en: Default::default(),
            u: Default::default(),
            read_state: Default::default(),
            cells: (0..N).map(|_| RngCell::default()).collect(),
            r_rng: Constant::new((mm::REGION_RNG as u64).to_bits()),
            w_region: Default::default(),
            w_index: Default::default(),
            r_region: Default::default(),
            r_index: Default::default(),
        }
    }
}

impl<const N: usize, const A: usize> Logic for RngBank<N, A> {
    #[hdl_gen]
    fn update(&mut self) {
        self.w_region.next = bit_cast::<8, 32>(self.write_addr.val() >> 24);
        self.w_index.next = bit_cast::<24, 32>(self.write_addr.val());
        self.r_region.next = bit_cast::<8, 32>(self.read_addr.val() >> 24);
        self.r_index.next = bit_cast::<24, 32>(self.read_addr.val());
        self.u.next = 0.into();
        self.read_state.next = 0.into();
        for k in 0..N {
            self.cells[k].clock.next = self.clock.val();
            self.cells[k].seed.next = self.write_data.val();
            self.cells[k].step.next = self.look_en.val() & (self.look.val().index() == k);
            self.cells[k].load.next = self.write_en.val()
                & !self.busy.val()
                & (self.w_region.val() == self.r_rng.val())
                & (self.w_index.val().index() == k);
            if self.look.val().index() == k {
                self.u.next = self.cells[k].index.val();
            }
            if (self.r_region.val() == self.r_rng.val()) & (self.r_index.val().index() == k) {
                self.read_state.next = self.cells[k].state.val();
            }
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

    /// The bank: seeds over the bus, steps only the look-ahead p-bit, shows its next index and
    /// reads states back; writes while busy or beyond the bank are ignored.
    #[test]
    fn rng_bank_steps_the_look_ahead_pbit() {
        type Bank = RngBank<4, 2>;
        let mut uut = Bank::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Bank>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Bank>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            let mut want: Vec<u32> = (0..4).map(|i| pbit_spec::pbit_seed(9, 1, i)).collect();
            for (i, &seed) in want.iter().enumerate() {
                x.write_en.next = true;
                x.write_addr.next = (mm::region_addr(mm::REGION_RNG, i as u32) as u64).to_bits();
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
            for t in 0..12usize {
                let k = (t * 3 + 1) % 4;
                x.look.next = k.to_bits();
                x.look_en.next = t % 5 != 4;
                wait_clock_false!(sim, clock, x);
                let next = xorshift32_step(want[k]);
                sim_assert_eq!(sim, x.u.val(), ((next >> 20) as u64).to_bits::<12>(), x);
                wait_clock_cycle!(sim, clock, x);
                if t % 5 != 4 {
                    want[k] = next;
                }
            }
            x.look_en.next = false;
            for (i, &w) in want.iter().enumerate() {
                x.read_addr.next = (mm::region_addr(mm::REGION_RNG, i as u32) as u64).to_bits();
                wait_clock_false!(sim, clock, x);
                sim_assert_eq!(sim, x.read_state.val(), (w as u64).to_bits::<32>(), x);
                wait_clock_cycle!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }
}
