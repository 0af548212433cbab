//! The machine's memories as custom Verilog blocks, written so that yosys maps them onto the
//! boards' block RAMs (rust-hdl's own `RAM` is a generic two-port memory: it cannot express a
//! single-port RAM, lane write enables or a depth that is not a power of two).
//!
//! Each block has a simulation model (`update`) for rust-hdl's simulator with the same
//! behaviour as its Verilog: reads are registered (data one clock after the address), a read
//! in the clock of a write to the same address gives the old word.
//!
//! * [`SpRam`]: one address for reads and writes ("no change": the output holds during a
//!   write). The threshold page table: written only while the machine is idle, read only
//!   while it runs, so one port suffices, and yosys infers the UP5K's single-port SPRAMs
//!   (`synth_ice40 -spram`: 2^16 × 16 bits are exactly its four SB_SPRAM256KA).
//! * [`DpRam`]: one write and one read port of `DEPTH` words (the link's 1028-byte frame
//!   buffers take 3 RAM4K each instead of 4). With `FREE_RW` the user never reads the word
//!   written in the same clock, so the memory is marked `no_rw_check` and yosys adds no
//!   bypass logic; without it a read in the clock of a write to the same word gives the old
//!   word on the board too, as in simulation.
//! * [`JBank`]: 16 lanes of 9-bit couplings side by side in one word per column, with a write
//!   enable per lane: one bus write sets one J entry, one read gives 16 lanes of a column.

use rust_hdl::prelude::*;
use std::collections::BTreeMap;

/// Single-port RAM of 2^N words: at a clock edge, `write_enable` writes `write_data` at
/// `address`, otherwise `read_data` takes the word at `address`.
#[derive(LogicBlock, Default)]
pub struct SpRam<D: Synth, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub address: Signal<In, Bits<N>>,
    pub write_enable: Signal<In, Bit>,
    pub write_data: Signal<In, D>,
    pub read_data: Signal<Out, D>,
    _sim: BTreeMap<Bits<N>, D>,
}

impl<D: Synth, const N: usize> Logic for SpRam<D, N> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if self.write_enable.val() {
                self._sim.insert(self.address.val(), self.write_data.val());
            } else {
                self.read_data.next = *self._sim.get(&self.address.val()).unwrap_or(&D::default());
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
reg [{D}:0] mem[0:{last}];
always @(posedge clock) begin
   if (write_enable)
      mem[address] <= write_data;
   else
      read_data <= mem[address];
end
",
            D = D::BITS - 1,
            last = (1usize << N) - 1,
        ))
    }
}

/// Simple dual-port RAM of `DEPTH` ≤ 2^N words (addresses beyond it are never used; 0 means
/// 2^N): one write and one registered read per clock; `FREE_RW`: see the module doc.
#[derive(LogicBlock, Default)]
pub struct DpRam<D: Synth, const N: usize, const DEPTH: usize, const FREE_RW: bool> {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<N>>,
    pub read_data: Signal<Out, D>,
    pub write_address: Signal<In, Bits<N>>,
    pub write_data: Signal<In, D>,
    pub write_enable: Signal<In, Bit>,
    _sim: BTreeMap<Bits<N>, D>,
}

impl<D: Synth, const N: usize, const DEPTH: usize, const FREE_RW: bool>
    DpRam<D, N, DEPTH, FREE_RW>
{
    /// Simulation only: the word at `address` before the first clock (tests fill memories with
    /// garbage, as a board's or Verilator's may start).
    pub fn preload(&mut self, address: Bits<N>, data: D) {
        self._sim.insert(address, data);
    }
}

impl<D: Synth, const N: usize, const DEPTH: usize, const FREE_RW: bool> Logic
    for DpRam<D, N, DEPTH, FREE_RW>
{
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.read_data.next = *self
                ._sim
                .get(&self.read_address.val())
                .unwrap_or(&D::default());
            if self.write_enable.val() {
                self._sim
                    .insert(self.write_address.val(), self.write_data.val());
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        assert!(DEPTH <= 1 << N);
        let depth = if DEPTH == 0 { 1 << N } else { DEPTH };
        let attr = if FREE_RW { "(* no_rw_check *) " } else { "" };
        Verilog::Custom(format!(
            "\
{attr}reg [{D}:0] mem[0:{last}];
always @(posedge clock) begin
   read_data <= mem[read_address];
   if (write_enable)
      mem[write_address] <= write_data;
end
",
            D = D::BITS - 1,
            last = depth - 1,
        ))
    }
}

/// Lanes per [`JBank`] and bits per lane (a raw coupling, `J_BITS`).
pub const BANK_LANES: usize = 16;
pub const LANE_BITS: usize = 9;
/// Bits of a bank word.
pub const BANK_BITS: usize = BANK_LANES * LANE_BITS;

/// 2^A words of [`BANK_LANES`] lanes of [`LANE_BITS`] bits. Lane l of word c holds J_{k,c} of
/// the bank's p-bit k = 16·bank + l; a read gives all lanes of word `read_address` (one column
/// of J for 16 p-bits); a write sets the one lane `write_lane` of word `write_address`.
/// `no_rw_check`: J is written only while the machine is idle.
#[derive(LogicBlock, Default)]
pub struct JBank<const A: usize> {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<A>>,
    pub read_data: Signal<Out, Bits<BANK_BITS>>,
    pub write_address: Signal<In, Bits<A>>,
    pub write_lane: Signal<In, Bits<4>>,
    pub write_data: Signal<In, Bits<LANE_BITS>>,
    pub write_enable: Signal<In, Bit>,
    _sim: BTreeMap<Bits<A>, Bits<BANK_BITS>>,
}

impl<const A: usize> Logic for JBank<A> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.read_data.next = *self
                ._sim
                .get(&self.read_address.val())
                .unwrap_or(&Bits::default());
            if self.write_enable.val() {
                let mut word = *self
                    ._sim
                    .get(&self.write_address.val())
                    .unwrap_or(&Bits::default());
                word.set_bits::<LANE_BITS>(
                    self.write_lane.val().index() * LANE_BITS,
                    self.write_data.val(),
                );
                self._sim.insert(self.write_address.val(), word);
            }
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        // one write per lane with its own enable: yosys merges them into one write port with
        // a 9-bit enable per lane (iCE40 bit masks, ECP5 9-bit byte enables), so a bank is
        // BANK_BITS / 16 RAM4K or BANK_BITS / 36 DP16KD wide
        Verilog::Custom(format!(
            "\
(* ram_style = \"block\", no_rw_check *) reg [{D}:0] mem[0:{last}];
integer lane;
always @(posedge clock) begin
   read_data <= mem[read_address];
   for (lane = 0; lane < {lanes}; lane = lane + 1)
      if (write_enable && write_lane == lane)
         mem[write_address][lane*{w} +: {w}] <= write_data;
end
",
            D = BANK_BITS - 1,
            last = (1usize << A) - 1,
            lanes = BANK_LANES,
            w = LANE_BITS,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lane writes land in their lane only; reads are registered and give the old word in the
    /// clock of a write.
    #[test]
    fn jbank_lanes_are_independent() {
        let mut uut = JBank::<3>::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<JBank<3>>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<JBank<3>>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            for (addr, lane, v) in [(2u64, 0u64, 0x1FFu64), (2, 15, 0x0A5), (5, 7, 0x100)] {
                x.write_enable.next = true;
                x.write_address.next = addr.to_bits();
                x.write_lane.next = lane.to_bits();
                x.write_data.next = v.to_bits();
                wait_clock_cycle!(sim, clock, x);
            }
            x.write_enable.next = false;
            for (addr, lane, v) in [
                (2usize, 0usize, 0x1FFu64),
                (2, 15, 0x0A5),
                (5, 7, 0x100),
                (2, 7, 0),
            ] {
                x.read_address.next = addr.to_bits();
                wait_clock_cycle!(sim, clock, x);
                let got = x.read_data.val().get_bits::<LANE_BITS>(lane * LANE_BITS);
                sim_assert_eq!(sim, got.to_u64(), v, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }
}
