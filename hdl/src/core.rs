//! The core: the [`DenseDatapath`] and, optionally, the batch engine ([`Batcher`]), behind
//! exactly the datapath's ports (so the Verilator harness and the UART decoder drive either the
//! same way).
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
use crate::datapath::DenseDatapath;
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

/// The dense datapath (generics as [`DenseDatapath`]'s) + B ∈ {0, 1} batch engines (buffer
/// address bits BA = [`CHAIN_BITS`] + log2 W, SN sums p-bits, SA sums address bits).
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
    /// Busy outside the core, counted by the busy-clock counter (the machine's
    /// `busy_other`; a core top ties it to 0).
    pub busy_other: Signal<In, Bit>,
    machine: DenseDatapath<N, A, W, F, P, K1, PA, S>,
    batch: Vec<Batcher<N, W, { CHAIN_BITS }, BA, SN, SA>>,
    mux: Vec<BusMux>,
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
            busy_other: Default::default(),
            machine: DenseDatapath::new(format),
            batch: (0..B).map(|_| Batcher::new()).collect(),
            mux: (0..B).map(|_| BusMux::default()).collect(),
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
            self.machine.busy_other.next = self.busy_other.val();
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
            // the engine's batch is busy time too (STATUS shows it)
            self.machine.busy_other.next = self.busy_other.val() | self.batch[b].active.val();
        }
        self.busy.next = self.machine.busy.val();
        self.sample_valid.next = self.machine.sample_valid.val();
        self.read_data.next = self.machine.read_data.val();
        for b in 0..B {
            self.busy.next = self.machine.busy.val() | self.batch[b].active.val();
            self.sample_valid.next = self.machine.sample_valid.val() & !self.batch[b].active.val();
            self.read_data.next = self.machine.read_data.val() | self.batch[b].read_or.val();
            if self.batch[b].read_hit.val() {
                self.read_data.next = self.batch[b].read_data.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::emit::Core32;
    use pbit_model::{FixedIsing, Ising, Machine as Model, Scaling};
    use pbit_spec::memory_map as mm;
    use pbit_spec::{Beta, Format, ThresholdPage};
    use rust_hdl::prelude::*;

    /// The batch as the model runs it: chain c = a fresh machine for read r0 + c, clamps and
    /// state from the chain's initial state, k sweeps; the finals and the sums
    /// (`sums_index`/`sums_single` layout).
    pub(crate) fn model_batch(
        p: &FixedIsing,
        page: &ThresholdPage,
        (seed, r0, k): (u64, u64, u32),
        clamped: &[usize],
        initial: &[Vec<bool>],
    ) -> (Vec<Vec<bool>>, Vec<i32>) {
        let n = p.n;
        let mut sums = vec![0i32; mm::sums_len(n as u32) as usize];
        let mut finals = Vec::new();
        for (c, init) in initial.iter().enumerate() {
            let mut m = Model::new(p, seed, r0 + c as u64);
            let clamps: Vec<(usize, bool)> = clamped.iter().map(|&i| (i, init[i])).collect();
            m.set_clamps(&clamps);
            m.set_spins(init);
            for _ in 0..k {
                m.sweep(page);
            }
            let s = m.spins().to_vec();
            let pm = |b: bool| if b { 1 } else { -1 };
            for i in 0..n {
                for j in i + 1..n {
                    sums[mm::sums_index(n as u32, i as u32, j as u32) as usize] +=
                        pm(s[i]) * pm(s[j]);
                }
                sums[mm::sums_single(n as u32, i as u32) as usize] += pm(s[i]);
            }
            finals.push(s);
        }
        (finals, sums)
    }

    /// The core with the engine in rust-hdl's simulator: 3 chains of a 5-p-bit instance (one
    /// p-bit clamped), 2 sweeps each; the buffer's finals and the sums equal the model's,
    /// `REG_BATCH_DONE` counts 3, `REG_BATCH_CAPS` reads 1024 | 32 << 16, STATUS shows busy.
    #[test]
    fn core_batch_matches_model() {
        type Uut = Core32<1>;
        let n = 5;
        let format = Format::for_machine(32);
        let mut ising = Ising::new(n);
        for &(i, j, v) in &[
            (0, 1, 3.5),
            (0, 2, -15.9375),
            (1, 3, 2.0),
            (2, 4, 0.5),
            (3, 4, -1.25),
            (1, 4, 1.0),
        ] {
            ising.add_coupling(i, j, v);
        }
        ising.h = vec![0.25, -1.0, 0.0, 3.9375, -0.5];
        let p = FixedIsing::new(&ising, format, Scaling::Exact).unwrap();
        let page = ThresholdPage::build(&format, Beta::from_f64(0.3).unwrap());
        let (seed, r0, k) = (0x1234_5678_9ABC_DEF0u64, 0x1_0000_0007u64, 2u32);
        let clamped = [2usize];
        let initial: Vec<Vec<bool>> = (0..3)
            .map(|c: usize| (0..n).map(|i| (c * 7 + i * 3) % 5 < 2).collect())
            .collect();
        let (finals, sums) = model_batch(&p, &page, (seed, r0, k), &clamped, &initial);
        let word = |s: &[bool]| -> u32 { (0..s.len()).filter(|&i| s[i]).map(|i| 1 << i).sum() };
        let want_words: Vec<u32> = finals.iter().map(|s| word(s)).collect();
        let init_words: Vec<u32> = initial.iter().map(|s| word(s)).collect();
        let mut dense = vec![0i32; n * n];
        for i in 0..n {
            let (nb, jv) = p.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                dense[i * n + j as usize] = v;
            }
        }
        let h = p.h_raw.clone();
        let upper = page.upper_half().to_vec();

        let mut uut = Uut::new(&format);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Uut>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            let caps = bus_read!(sim, x, mm::reg(mm::REG_BATCH_CAPS));
            sim_assert_eq!(sim, caps, 1024 | 32 << 16, x);
            bus_write!(sim, x, mm::reg(mm::REG_N_ACTIVE), n);
            bus_write!(sim, x, mm::reg(mm::REG_EVERY), 0);
            for i in 0..n {
                for j in 0..n {
                    bus_write!(sim, x, mm::j_addr(i as u32, j as u32), dense[i * n + j]);
                }
                bus_write!(sim, x, mm::region_addr(mm::REGION_H, i as u32), h[i]);
            }
            bus_write!(sim, x, mm::region_addr(mm::REGION_CLAMPS, 0), 1u32 << 2);
            for (u, &a) in upper.iter().enumerate() {
                bus_write!(sim, x, mm::page_addr(3, u as u32), a);
            }
            bus_write!(sim, x, mm::schedule_sweeps_addr(0), k);
            bus_write!(sim, x, mm::schedule_page_addr(0), 3);
            bus_write!(sim, x, mm::reg(mm::REG_N_STEPS), 1);
            for (c, &w) in init_words.iter().enumerate() {
                bus_write!(sim, x, mm::chain_addr(c as u32, 0), w);
            }
            bus_write!(sim, x, mm::reg(mm::REG_BATCH_SEED_LO), seed as u32);
            bus_write!(sim, x, mm::reg(mm::REG_BATCH_SEED_HI), (seed >> 32) as u32);
            bus_write!(sim, x, mm::reg(mm::REG_BATCH_READ_LO), r0 as u32);
            bus_write!(sim, x, mm::reg(mm::REG_BATCH_READ_HI), (r0 >> 32) as u32);
            bus_write!(sim, x, mm::reg(mm::REG_BATCH_CHAINS), 3);
            let c = bus_read!(sim, x, mm::chain_addr(1, 0));
            sim_assert_eq!(sim, c, init_words[1], x);
            bus_write!(sim, x, mm::reg(mm::REG_CTRL), mm::CTRL_BATCH);
            sim_assert!(sim, x.busy.val(), x);
            let st = bus_read!(sim, x, mm::reg(mm::REG_STATUS));
            sim_assert!(sim, st & mm::STATUS_BUSY != 0, x);
            let mut clocks = 0;
            while x.busy.val() {
                wait_clock_cycle!(sim, clock, x);
                clocks += 1;
                sim_assert!(sim, clocks < 20_000, x);
            }
            let done = bus_read!(sim, x, mm::reg(mm::REG_BATCH_DONE));
            sim_assert_eq!(sim, done, 3, x);
            for (c, &w) in want_words.iter().enumerate() {
                let got = bus_read!(sim, x, mm::chain_addr(c as u32, 0));
                sim_assert_eq!(sim, got, w, x);
            }
            for (kk, &s) in sums.iter().enumerate() {
                let got = bus_read!(sim, x, mm::region_addr(mm::REGION_SUMS, kk as u32));
                sim_assert_eq!(sim, got as i32, s, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 50_000_000).unwrap();
    }

    /// Without the engine (B = 0) the core is the machine: `REG_BATCH_CAPS` and the chain
    /// buffer read 0, `CTRL_BATCH` does nothing, a run works as the machine's.
    #[test]
    fn core_without_engine_is_the_machine() {
        type Uut = Core32<0>;
        let format = Format::for_machine(32);
        let mut uut = Uut::new(&format);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Uut>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            sim_assert_eq!(sim, bus_read!(sim, x, mm::reg(mm::REG_MAGIC)), mm::MAGIC, x);
            sim_assert_eq!(sim, bus_read!(sim, x, mm::reg(mm::REG_BATCH_CAPS)), 0, x);
            bus_write!(sim, x, mm::chain_addr(0, 0), 0x1234u32);
            sim_assert_eq!(sim, bus_read!(sim, x, mm::chain_addr(0, 0)), 0, x);
            bus_write!(sim, x, mm::reg(mm::REG_N_ACTIVE), 3);
            bus_write!(sim, x, mm::reg(mm::REG_BATCH_CHAINS), 2);
            bus_write!(sim, x, mm::reg(mm::REG_CTRL), mm::CTRL_BATCH);
            sim_assert!(sim, !x.busy.val(), x);
            bus_write!(sim, x, mm::schedule_sweeps_addr(0), 1);
            bus_write!(sim, x, mm::reg(mm::REG_N_STEPS), 1);
            bus_write!(sim, x, mm::reg(mm::REG_CTRL), mm::CTRL_RUN);
            sim_assert!(sim, x.busy.val(), x);
            sim.done(x)
        });
        sim.run(Box::new(uut), 1_000_000).unwrap();
    }
}
