//! Correlation sums on chip: the batch engine ([`crate::batch`]) hands it each chain's final
//! state, and it adds the chain's spin products to n(n+1)/2 counters, so that a learning step
//! reads C chains' statistics as counters instead of streaming C states over the link.
//!
//! After each chain the engine hands its final state (`state`, bit i = p-bit i, 1 = +1,
//! held until `busy` falls) to this block and pulses `start`; the block adds the chain's
//! products to its counters, one per clock, in this order (the sums region's layout,
//! [`pbit_spec::memory_map::sums_index`] and [`pbit_spec::memory_map::sums_single`]):
//!
//! * pair (i, j), i < j < n: counter i·n − i(i+1)/2 + j − i − 1 += m_i·m_j (+1 when the bits
//!   agree, −1 otherwise);
//! * single i < n: counter n(n−1)/2 + i += m_i.
//!
//! With `first` (the batch's chain 0) each counter is set to ±1 instead: no clearing pass,
//! and the RAM's contents at power-up (undefined in Verilator and on the boards) never matter.
//!
//! Each counter is a read-modify-write of a simple dual-port RAM with a registered read:
//! counter k is read at clock t and written (read + δ) at t + 1 while counter k + 1 is read, so
//! a word is never read and written in the same clock (the RAM needs no bypass). A chain costs
//! n(n+1)/2 + 1 clocks (154 for n = 17), overlapping the next chain's seeding and run. While
//! idle, counter `read_addr` (its low A bits) is read (two's complement, 32 bits; |S| ≤ chains)
//! one clock later. The counters equal the integers `pbit_host::learn` sums before dividing by
//! the chain count (see the test).
//!
//! All inputs are meant to be plain copies of the engine's registers and ports (docs/hdl.md:
//! no combinational loop between blocks).

use crate::ram::DpRam;
use rust_hdl::prelude::*;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum CorrState {
    Idle,
    Pairs,
    Singles,
}

/// Pair and single sums of the first `n_active` ≤ N spins of the states it is given; 2^A
/// counters (2^A ≥ N(N+1)/2).
#[derive(LogicBlock)]
pub struct Correlator<const N: usize, const A: usize> {
    pub clock: Signal<In, Clock>,
    /// One clock while idle: add the products of `state` (held until `busy` falls).
    pub start: Signal<In, Bit>,
    /// With `start`: set the counters to this chain's products (the batch's first chain).
    pub first: Signal<In, Bit>,
    pub state: Signal<In, Bits<N>>,
    pub n_active: Signal<In, Bits<16>>,
    pub busy: Signal<Out, Bit>,
    /// Host read port (while idle): counter `read_addr` (its low A bits), one clock later on
    /// `read_data`.
    pub read_addr: Signal<In, Bits<32>>,
    pub read_data: Signal<Out, Bits<32>>,
    ram: DpRam<Bits<32>, A, 0, true>,
    fsm: DFF<CorrState>,
    /// The pair (i, j) or single i whose counter is read this clock, and that counter.
    i: DFF<Bits<16>>,
    j: DFF<Bits<16>>,
    k: DFF<Bits<A>>,
    /// The write stage: counter `w_k` gets what was read for it, +1 (`w_up`) or −1.
    w_valid: DFF<Bit>,
    w_k: DFF<Bits<A>>,
    w_up: DFF<Bit>,
    /// This pass sets the counters (`first` at its start).
    first_r: DFF<Bit>,
    one: Constant<Bits<32>>,
    minus_one: Constant<Bits<32>>,
    mi: Signal<Local, Bit>,
    mj: Signal<Local, Bit>,
    n_last: Signal<Local, Bits<16>>,
}

impl<const N: usize, const A: usize> Default for Correlator<N, A> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            start: Default::default(),
            first: Default::default(),
            state: Default::default(),
            n_active: Default::default(),
            busy: Default::default(),
            read_addr: Default::default(),
            read_data: Default::default(),
            ram: Default::default(),
            fsm: Default::default(),
            i: Default::default(),
            j: Default::default(),
            k: Default::default(),
            w_valid: Default::default(),
            w_k: Default::default(),
            w_up: Default::default(),
            first_r: Default::default(),
            one: Constant::new(1u64.to_bits()),
            minus_one: Constant::new(0xFFFF_FFFFu64.to_bits()),
            mi: Default::default(),
            mj: Default::default(),
            n_last: Default::default(),
        }
    }
}

impl<const N: usize, const A: usize> Correlator<N, A> {
    /// Simulation only: counter `k` before the first clock (see [`DpRam::preload`]).
    pub fn preload(&mut self, k: u64, value: u32) {
        self.ram.preload(k.to_bits(), (value as u64).to_bits());
    }
}

impl<const N: usize, const A: usize> Logic for Correlator<N, A> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, fsm, i, j, k, w_valid, w_k, w_up, first_r);
        self.ram.clock.next = self.clock.val();
        // the spins of the pair (or single) being read, by an unrolled select
        self.mi.next = false;
        self.mj.next = false;
        for b in 0..N {
            if self.i.q.val().index() == b {
                self.mi.next = self.state.val().get_bit(b);
            }
            if self.j.q.val().index() == b {
                self.mj.next = self.state.val().get_bit(b);
            }
        }
        self.n_last.next = self.n_active.val() - 1;
        // the write stage: the counter read last clock, plus or minus one
        self.ram.write_enable.next = self.w_valid.q.val();
        self.ram.write_address.next = self.w_k.q.val();
        if self.w_up.q.val() {
            self.ram.write_data.next = self.ram.read_data.val() + 1;
        } else {
            self.ram.write_data.next = self.ram.read_data.val() - 1;
        }
        if self.first_r.q.val() {
            self.ram.write_data.next = self.minus_one.val();
            if self.w_up.q.val() {
                self.ram.write_data.next = self.one.val();
            }
        }
        self.w_valid.d.next = false;
        self.ram.read_address.next = bit_cast::<A, 32>(self.read_addr.val());
        self.read_data.next = self.ram.read_data.val();
        self.busy.next = (self.fsm.q.val() != CorrState::Idle) | self.w_valid.q.val();
        match self.fsm.q.val() {
            CorrState::Idle => {
                self.i.d.next = 0.into();
                self.j.d.next = 1.into();
                self.k.d.next = 0.into();
                if self.start.val() {
                    self.first_r.d.next = self.first.val();
                    if self.n_active.val() > 1 {
                        self.fsm.d.next = CorrState::Pairs;
                    } else if self.n_active.val() == 1 {
                        self.fsm.d.next = CorrState::Singles;
                    }
                }
            }
            CorrState::Pairs => {
                self.ram.read_address.next = self.k.q.val();
                self.w_valid.d.next = true;
                self.w_k.d.next = self.k.q.val();
                self.w_up.d.next = self.mi.val() == self.mj.val();
                self.k.d.next = self.k.q.val() + 1;
                if self.j.q.val() == self.n_last.val() {
                    if self.i.q.val() + 2 == self.n_active.val() {
                        // that was the last pair (n − 2, n − 1): the singles follow
                        self.i.d.next = 0.into();
                        self.fsm.d.next = CorrState::Singles;
                    } else {
                        self.i.d.next = self.i.q.val() + 1;
                        self.j.d.next = self.i.q.val() + 2;
                    }
                } else {
                    self.j.d.next = self.j.q.val() + 1;
                }
            }
            CorrState::Singles => {
                self.ram.read_address.next = self.k.q.val();
                self.w_valid.d.next = true;
                self.w_k.d.next = self.k.q.val();
                self.w_up.d.next = self.mi.val();
                self.k.d.next = self.k.q.val() + 1;
                self.i.d.next = self.i.q.val() + 1;
                if self.i.q.val() == self.n_last.val() {
                    self.fsm.d.next = CorrState::Idle;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 20;
    const A: usize = 8; // 256 ≥ 20·21/2 = 210 counters

    /// The sums as the host forms them (`pbit_host::learn::statistics` before the division):
    /// pairs in the counter order, then singles.
    fn sums(states: &[Vec<bool>], n: usize) -> Vec<i64> {
        let mut out = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                out.push(
                    states
                        .iter()
                        .map(|s| if s[i] == s[j] { 1 } else { -1 })
                        .sum(),
                );
            }
        }
        for i in 0..n {
            out.push(states.iter().map(|s| if s[i] { 1 } else { -1 }).sum());
        }
        out
    }

    /// Runs each state through the block (the first with `first`), then reads `count`
    /// counters back. The RAM starts with garbage (as Verilator's and a board's may).
    fn run_block(states: Vec<Vec<bool>>, n: usize, count: usize) -> Vec<i64> {
        let mut uut = Correlator::<N, A>::default();
        // garbage in the counters before the first chain
        for k in 0..1u64 << A {
            uut.preload(k, k.wrapping_mul(0x9E37_79B9) as u32);
        }
        uut.connect_all();
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Correlator<N, A>>| {
            x.clock.next = !x.clock.val()
        });
        sim.add_testbench(move |mut sim: Sim<Correlator<N, A>>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            x.n_active.next = (n as u64).to_bits();
            for (c, s) in states.iter().enumerate() {
                let word = s
                    .iter()
                    .enumerate()
                    .fold(0u64, |acc, (b, &v)| acc | (v as u64) << b);
                x.state.next = word.to_bits();
                x.start.next = true;
                x.first.next = c == 0;
                wait_clock_cycle!(sim, clock, x);
                x.start.next = false;
                x.first.next = false;
                let mut clocks = 0;
                wait_clock_cycle!(sim, clock, x);
                while x.busy.val() {
                    wait_clock_cycle!(sim, clock, x);
                    clocks += 1;
                    sim_assert!(sim, clocks < 1000, x);
                }
                // n(n+1)/2 counters, one per clock, and the last one's write
                sim_assert!(sim, clocks == n * (n + 1) / 2, x);
            }
            for k in 0..count {
                x.read_addr.next = (k as u64).to_bits();
                wait_clock_cycle!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
                sink.lock()
                    .unwrap()
                    .push(x.read_data.val().to_u32() as i32 as i64);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 10_000_000).unwrap();
        let v = out.lock().unwrap().clone();
        v
    }

    /// rust-hdl emits it (the translation of `update` is checked when the Verilog is built).
    #[test]
    fn emits_verilog() {
        let mut uut = Correlator::<N, A>::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        std::fs::write(std::env::temp_dir().join("correlator.v"), &v).unwrap();
        assert!(v.contains("module top"), "{v}");
    }

    #[test]
    fn counters_equal_the_hosts_sums() {
        let mut x = 0x5EEDu64;
        let mut bit = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x & 1 == 1
        };
        for n in [17usize, 2, 20] {
            let states: Vec<Vec<bool>> = (0..9).map(|_| (0..N).map(|_| bit()).collect()).collect();
            let count = n * (n + 1) / 2;
            let want = sums(&states, n);
            assert_eq!(run_block(states, n, count), want, "n = {n}");
        }
    }
}
