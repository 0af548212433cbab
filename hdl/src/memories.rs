//! The machine's memories besides J: threshold pages and the β schedule.
//!
//! [`PageTable`] holds the upper half (r > 0) of up to 2^P threshold pages, `F` bits per entry,
//! and mirrors on lookup: for a random index u with top bit 1 the entry is `upper[u − 2^(k−1)]`,
//! otherwise `−1 − upper[2^(k−1) − 1 − u]`, i.e. the bitwise complement of
//! `upper[!u_low]` ([`pbit_spec::ThresholdPage`]'s antisymmetry). Lookups take one clock, and
//! since u depends only on the generator, the machine looks up the threshold of the p-bit it
//! decides next while deciding the current one.
//!
//! The table is a single-port RAM ([`SpRam`]): the host writes it only while the machine is
//! idle and the machine reads it only while running, so the port's address is the write's
//! while one is taken and the lookup's otherwise; on the UP5K yosys maps it onto the four
//! SPRAMs (2^16 × 16 bits: 32 pages of 2048 entries), leaving the block RAMs to J.
//!
//! [`ScheduleTable`] holds the schedule's steps: (sweeps, page) for up to 2^S steps.

use crate::ram::{DpRam, SpRam};
use pbit_spec::memory_map as mm;
use rust_hdl::prelude::*;

/// Upper halves of 2^P threshold pages of 2^K1 entries each; `PA` = P + K1. Decodes its own bus
/// writes (region `REGION_PAGES`).
#[derive(LogicBlock)]
pub struct PageTable<const F: usize, const P: usize, const K1: usize, const PA: usize> {
    pub clock: Signal<In, Clock>,
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    /// Lookup: page and random index u (K1 + 1 bits, at most 12); `threshold` is valid the
    /// next clock.
    pub page: Signal<In, Bits<P>>,
    pub u: Signal<In, Bits<12>>,
    pub threshold: Signal<Out, Bits<F>>,
    store: SpRam<Bits<F>, PA>,
    hi_reg: DFF<Bit>,
    k1: Constant<Bits<8>>,
    k_mask: Constant<Bits<32>>,
    w_mask: Constant<Bits<32>>,
    w_match: Constant<Bits<32>>,
    u_lo: Signal<Local, Bits<K1>>,
    index: Signal<Local, Bits<K1>>,
    write_hit: Signal<Local, Bit>,
}

impl<const F: usize, const P: usize, const K1: usize, const PA: usize> Default
    for PageTable<F, P, K1, PA>
{
    fn default() -> Self {
        assert_eq!(PA, P + K1);
        assert_eq!(K1, 11, "u is 12 bits (rng_bits)");
        let inside = (((1u32 << P) - 1) << 16) | ((1u32 << K1) - 1);
        let c = |v: u32| Constant::new((v as u64).to_bits());
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            page: Default::default(),
            u: Default::default(),
            threshold: Default::default(),
            store: Default::default(),
            hi_reg: Default::default(),
            k1: Constant::new(K1.to_bits()),
            k_mask: c((1u32 << K1) - 1),
            w_mask: c(0xFF00_0000 | (0x00FF_FFFF & !inside)),
            w_match: c(mm::page_addr(0, 0)),
            u_lo: Default::default(),
            index: Default::default(),
            write_hit: Default::default(),
        }
    }
}

impl<const F: usize, const P: usize, const K1: usize, const PA: usize> Logic
    for PageTable<F, P, K1, PA>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, hi_reg);
        self.store.clock.next = self.clock.val();
        self.write_hit.next = self.write_en.val()
            & !self.busy.val()
            & ((self.write_addr.val() & self.w_mask.val()) == self.w_match.val());
        self.store.write_enable.next = self.write_hit.val();
        self.store.write_data.next = bit_cast::<F, 32>(self.write_data.val());
        self.u_lo.next = bit_cast::<K1, 12>(self.u.val());
        self.index.next = !self.u_lo.val();
        if self.u.val().get_bit(11) {
            self.index.next = self.u_lo.val();
        }
        // one port: the write's address while a write is taken (only while idle), else the
        // lookup's
        self.store.address.next = (bit_cast::<PA, P>(self.page.val()) << self.k1.val())
            | bit_cast::<PA, K1>(self.index.val());
        if self.write_hit.val() {
            self.store.address.next = bit_cast::<PA, 32>(
                ((self.write_addr.val() >> 16) << self.k1.val())
                    | (self.write_addr.val() & self.k_mask.val()),
            );
        }
        self.hi_reg.d.next = self.u.val().get_bit(11);
        self.threshold.next = !self.store.read_data.val();
        if self.hi_reg.q.val() {
            self.threshold.next = self.store.read_data.val();
        }
    }
}

/// The schedule: for step s, the sweeps to run and the page to run them at. Decodes its own bus
/// writes (region `REGION_SCHEDULE`).
#[derive(LogicBlock)]
pub struct ScheduleTable<const P: usize, const S: usize> {
    pub clock: Signal<In, Clock>,
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    /// Step read this clock; `sweeps` and `page` hold it from the next clock on.
    pub step: Signal<In, Bits<S>>,
    pub sweeps: Signal<Out, Bits<32>>,
    pub page: Signal<Out, Bits<P>>,
    sweeps_mem: DpRam<Bits<32>, S, 0, true>,
    page_mem: DpRam<Bits<P>, S, 0, true>,
    w_mask: Constant<Bits<32>>,
    w_match: Constant<Bits<32>>,
    hit: Signal<Local, Bit>,
}

impl<const P: usize, const S: usize> Default for ScheduleTable<P, S> {
    fn default() -> Self {
        let inside = (1u32 << (S + 1)) - 1;
        let c = |v: u32| Constant::new((v as u64).to_bits());
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            step: Default::default(),
            sweeps: Default::default(),
            page: Default::default(),
            sweeps_mem: Default::default(),
            page_mem: Default::default(),
            w_mask: c(0xFF00_0000 | (0x00FF_FFFF & !inside)),
            w_match: c(mm::schedule_sweeps_addr(0)),
            hit: Default::default(),
        }
    }
}

impl<const P: usize, const S: usize> Logic for ScheduleTable<P, S> {
    #[hdl_gen]
    fn update(&mut self) {
        self.sweeps_mem.clock.next = self.clock.val();
        self.page_mem.clock.next = self.clock.val();
        self.hit.next = self.write_en.val()
            & !self.busy.val()
            & ((self.write_addr.val() & self.w_mask.val()) == self.w_match.val());
        self.sweeps_mem.write_enable.next = self.hit.val() & !self.write_addr.val().get_bit(0);
        self.page_mem.write_enable.next = self.hit.val() & self.write_addr.val().get_bit(0);
        self.sweeps_mem.write_address.next = bit_cast::<S, 32>(self.write_addr.val() >> 1);
        self.page_mem.write_address.next = bit_cast::<S, 32>(self.write_addr.val() >> 1);
        self.sweeps_mem.write_data.next = self.write_data.val();
        self.page_mem.write_data.next = bit_cast::<P, 32>(self.write_data.val());
        self.sweeps_mem.read_address.next = self.step.val();
        self.page_mem.read_address.next = self.step.val();
        self.sweeps.next = self.sweeps_mem.read_data.val();
        self.page.next = self.page_mem.read_data.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crossbar::to_i64;
    use pbit_spec::{Beta, Format, ThresholdPage};

    const F: usize = 12;
    type Uut = PageTable<F, 2, 11, 13>;

    /// Upper halves written to pages 1 and 3; lookups of indices across both halves (edges
    /// included) give the spec's full page.
    #[test]
    fn page_table_mirrors_like_spec() {
        let format = Format::for_machine(4);
        assert_eq!(format.field_bits as usize, F);
        let pages: Vec<ThresholdPage> = [0.3, 2.0]
            .iter()
            .map(|&b| ThresholdPage::build(&format, Beta::from_f64(b).unwrap()))
            .collect();
        let mut uut = Uut::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Uut>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            for (slot, page) in [1usize, 3].iter().zip(&pages) {
                for (u, &a) in page.upper_half().iter().enumerate() {
                    x.write_en.next = true;
                    x.write_addr.next = (mm::page_addr(*slot as u32, u as u32) as u64).to_bits();
                    x.write_data.next = (a as u32 as u64).to_bits();
                    wait_clock_cycle!(sim, clock, x);
                }
            }
            x.write_en.next = false;
            let us: Vec<usize> = (0..4096).step_by(37).chain([0, 2047, 2048, 4095]).collect();
            for (slot, page) in [1usize, 3].iter().zip(&pages) {
                for &u in &us {
                    x.page.next = slot.to_bits();
                    x.u.next = u.to_bits();
                    wait_clock_cycle!(sim, clock, x);
                    sim_assert_eq!(sim, to_i64(x.threshold.val()), page.thresholds[u] as i64, x);
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 1_000_000).unwrap();
    }
}
