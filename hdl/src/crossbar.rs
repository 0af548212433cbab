//! The coupling crossbar: J in block RAM, packed one column per word, and the local-field unit.
//!
//! J is symmetric, so column c of J is also the couplings every p-bit k sees from p-bit c. The
//! crossbar stores J column-wise in [`JBank`]s: word c of bank g holds J_{k,c} for the 16
//! p-bits k = 16g … 16g + 15, one 9-bit lane each, so the banks side by side deliver a whole
//! column in one read (N·9 bits; on the UP5K two banks of 9 RAM4K each for N = 32, on the ECP5
//! 4 DP16KD per bank). A bus write of J_{k,c} sets one lane of one word (a lane write enable).
//! The column of the p-bit decided next cycle is read one cycle early.
//!
//! p-bit k's [`FieldCell`] holds the coupling part of its local field, Σ_j J_kj·m_j, in a
//! register. On a flip of p-bit i every cell adds ±2·J_ki in the same clock (N adders, no
//! multipliers: m is ±1), so the decision of p-bit i+1 in the next clock already sees the
//! correction. Recomputing the fields is the same datapath: clear, then add ±J_kj for
//! j = 0..n−1, one column per clock.
//!
//! The biases h live in a RAM (one word per p-bit), not in the cells: N·F flip-flops loaded
//! from the bus each take a whole logic cell on the iCE40 (N = 32: 480 LCs, plus the bias
//! multiplexer), a RAM word costs none. The RAM is read at the p-bit the multiplexer shows
//! next clock (`sel_next`), so `sel_field` = field + h_sel is the local field I_sel of the
//! spec. The sum is exact: I fits in F bits (the format's field width), so the wrapping F-bit
//! adds of the cell and of this sum give I modulo 2^F, which is I.
//!
//! Numbers are two's complement in plain bit vectors (no signed types): J is `J_BITS` wide and
//! sign-extended here, h and the field are `F` bits wide (the format's `field_bits`, wide enough
//! that no field ever saturates, so wrapping adds are exact).

use crate::ram::{DpRam, JBank, BANK_LANES, LANE_BITS};
use pbit_spec::memory_map as mm;
use rust_hdl::prelude::*;

/// Width of a raw coupling (the standard format's `j_bits`).
pub const J_BITS: usize = 9;
const _: () = assert!(J_BITS == 9 && LANE_BITS == J_BITS && BANK_LANES == 16);

/// The coupling part Σ_j J_kj·m_j of one p-bit's local field (the bias is added at the
/// crossbar's multiplexer). Its inputs are its lane of the J column read last clock and
/// broadcast controls.
#[derive(LogicBlock)]
pub struct FieldCell<const F: usize> {
    pub clock: Signal<In, Clock>,
    /// J_k,col of the column read last clock (raw, 9 bits).
    pub j: Signal<In, Bits<J_BITS>>,
    /// field ← 0 (the recompute's start).
    pub clear_fields: Signal<In, Bit>,
    /// field ← field ± (flip ? 2 : 1)·J_k,col; `neg` subtracts; `flip`: the column's p-bit
    /// flipped (its term changes by 2·J), else a recompute's single term.
    pub add: Signal<In, Bit>,
    pub flip: Signal<In, Bit>,
    pub neg: Signal<In, Bit>,
    pub field: Signal<Out, Bits<F>>,
    field_reg: DFF<Bits<F>>,
    sign_ext: Constant<Bits<F>>,
    ones: Constant<Bits<F>>,
    jx: Signal<Local, Bits<F>>,
    delta: Signal<Local, Bits<F>>,
    flip_mask: Signal<Local, Bits<F>>,
    carry_in: Signal<Local, Bits<F>>,
}

impl<const F: usize> Default for FieldCell<F> {
    fn default() -> Self {
        assert!(F > J_BITS + 1 && F <= 32);
        // bits J_BITS..F-1 set: ORed in to sign-extend a negative J
        let ext = (((1u64 << F) - 1) >> J_BITS) << J_BITS;
        Self {
            clock: Default::default(),
            j: Default::default(),
            clear_fields: Default::default(),
            add: Default::default(),
            flip: Default::default(),
            neg: Default::default(),
            field: Default::default(),
            field_reg: Default::default(),
            sign_ext: Constant::new(ext.to_bits()),
            ones: Constant::new(((1u64 << F) - 1).to_bits()),
            jx: Default::default(),
            delta: Default::default(),
            flip_mask: Default::default(),
            carry_in: Default::default(),
        }
    }
}

impl<const F: usize> Logic for FieldCell<F> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, field_reg);
        self.field.next = self.field_reg.q.val();
        // sign-extend J, then double it for a flip
        self.jx.next = bit_cast::<F, J_BITS>(self.j.val());
        if self.j.val().get_bit(8) {
            // bit 8: J's sign (J_BITS = 9)
            self.jx.next = bit_cast::<F, J_BITS>(self.j.val()) | self.sign_ext.val();
        }
        self.delta.next = self.jx.val();
        if self.flip.val() {
            self.delta.next = self.jx.val() << 1;
        }
        // field − delta = field + !delta + 1: one adder (one carry chain) for both signs
        self.flip_mask.next = 0.into();
        self.carry_in.next = 0.into();
        if self.neg.val() {
            self.flip_mask.next = self.ones.val();
            self.carry_in.next = 1.into();
        }
        if self.add.val() {
            self.field_reg.d.next = self.field_reg.q.val()
                + (self.delta.val() ^ self.flip_mask.val())
                + self.carry_in.val();
        }
        if self.clear_fields.val() {
            self.field_reg.d.next = 0.into();
        }
    }
}

/// A 16-way multiplexer of F-bit words as a balanced tree of 2:1 multiplexers (4 levels),
/// selected by bits `shift`..`shift`+3 of `sel`. rust-hdl writes an N-way selection
/// (`if sel == k { … }` for each k) as a chain of N multiplexers, which nextpnr routed as a
/// chain through the whole field multiplexer (N = 32: ~20 ns on the ECP5; N = 256 would be
/// eight times that): two levels of these trees make it ~8 levels deep for every N ≤ 256.
/// Its inputs are plain copies of the cells' outputs and of `sel` (no block loop, docs/hdl.md).
#[derive(LogicBlock)]
pub struct Mux16<const A: usize, const F: usize> {
    pub sel: Signal<In, Bits<A>>,
    pub i0: Signal<In, Bits<F>>,
    pub i1: Signal<In, Bits<F>>,
    pub i2: Signal<In, Bits<F>>,
    pub i3: Signal<In, Bits<F>>,
    pub i4: Signal<In, Bits<F>>,
    pub i5: Signal<In, Bits<F>>,
    pub i6: Signal<In, Bits<F>>,
    pub i7: Signal<In, Bits<F>>,
    pub i8: Signal<In, Bits<F>>,
    pub i9: Signal<In, Bits<F>>,
    pub i10: Signal<In, Bits<F>>,
    pub i11: Signal<In, Bits<F>>,
    pub i12: Signal<In, Bits<F>>,
    pub i13: Signal<In, Bits<F>>,
    pub i14: Signal<In, Bits<F>>,
    pub i15: Signal<In, Bits<F>>,
    pub out: Signal<Out, Bits<F>>,
    shift: Constant<Bits<8>>,
    s: Signal<Local, Bits<4>>,
}

impl<const A: usize, const F: usize> Mux16<A, F> {
    /// The multiplexer selecting by bits `shift`..`shift`+3 of `sel`.
    pub fn new(shift: usize) -> Self {
        Self {
            sel: Default::default(),
            i0: Default::default(),
            i1: Default::default(),
            i2: Default::default(),
            i3: Default::default(),
            i4: Default::default(),
            i5: Default::default(),
            i6: Default::default(),
            i7: Default::default(),
            i8: Default::default(),
            i9: Default::default(),
            i10: Default::default(),
            i11: Default::default(),
            i12: Default::default(),
            i13: Default::default(),
            i14: Default::default(),
            i15: Default::default(),
            out: Default::default(),
            shift: Constant::new(shift.to_bits()),
            s: Default::default(),
        }
    }
}

impl<const A: usize, const F: usize> Logic for Mux16<A, F> {
    #[hdl_gen]
    fn update(&mut self) {
        self.s.next = bit_cast::<4, A>(self.sel.val() >> self.shift.val());
        if self.s.val().get_bit(3) {
            if self.s.val().get_bit(2) {
                if self.s.val().get_bit(1) {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i15.val();
                    } else {
                        self.out.next = self.i14.val();
                    }
                } else {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i13.val();
                    } else {
                        self.out.next = self.i12.val();
                    }
                }
            } else {
                if self.s.val().get_bit(1) {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i11.val();
                    } else {
                        self.out.next = self.i10.val();
                    }
                } else {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i9.val();
                    } else {
                        self.out.next = self.i8.val();
                    }
                }
            }
        } else {
            if self.s.val().get_bit(2) {
                if self.s.val().get_bit(1) {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i7.val();
                    } else {
                        self.out.next = self.i6.val();
                    }
                } else {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i5.val();
                    } else {
                        self.out.next = self.i4.val();
                    }
                }
            } else {
                if self.s.val().get_bit(1) {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i3.val();
                    } else {
                        self.out.next = self.i2.val();
                    }
                } else {
                    if self.s.val().get_bit(0) {
                        self.out.next = self.i1.val();
                    } else {
                        self.out.next = self.i0.val();
                    }
                }
            }
        }
    }
}

/// N field cells with the J banks, the bias RAM, broadcast controls and a field multiplexer.
#[derive(LogicBlock)]
pub struct Crossbar<const N: usize, const A: usize, const F: usize> {
    pub clock: Signal<In, Clock>,
    /// The bus write port (the crossbar decodes J and h writes).
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    /// Column of J read this clock (the adders use it at the next clock).
    pub read_col: Signal<In, Bits<A>>,
    pub clear_fields: Signal<In, Bit>,
    pub add: Signal<In, Bit>,
    pub flip: Signal<In, Bit>,
    pub neg: Signal<In, Bit>,
    /// p-bit whose local field I and bias h appear on `sel_field` / `sel_h`, and the value
    /// `sel` takes at the next clock edge (the bias RAM is read with it, a clock early).
    pub sel: Signal<In, Bits<A>>,
    pub sel_next: Signal<In, Bits<A>>,
    pub sel_field: Signal<Out, Bits<F>>,
    pub sel_h: Signal<Out, Bits<F>>,
    pub cells: Vec<FieldCell<F>>,
    pub banks: Vec<JBank<A>>,
    /// h_k at word k. Not `FREE_RW`: an idle bus may read the field of the p-bit whose h it
    /// writes in the same clock (it then sees the old h; fields are stale after an h write
    /// until the recompute anyway).
    pub h_ram: DpRam<Bits<F>, A, 0, false>,
    /// Field multiplexers: one 16-way tree per 16 cells, then one over the groups.
    pub field_mux: Vec<Mux16<A, F>>,
    pub field_top: Mux16<A, F>,
    j_mask: Constant<Bits<32>>,
    j_match: Constant<Bits<32>>,
    h_mask: Constant<Bits<32>>,
    h_match: Constant<Bits<32>>,
    j_hit: Signal<Local, Bit>,
    h_hit: Signal<Local, Bit>,
    j_row: Signal<Local, Bits<A>>,
    j_bank: Signal<Local, Bits<A>>,
    h_index: Signal<Local, Bits<A>>,
}

impl<const N: usize, const A: usize, const F: usize> Crossbar<N, A, F> {
    /// J banks (and first-level multiplexers): one per 16 p-bits.
    const BANKS: usize = N / BANK_LANES;
}

impl<const N: usize, const A: usize, const F: usize> Default for Crossbar<N, A, F> {
    fn default() -> Self {
        assert!(
            N == 1 << A && (4..=8).contains(&A),
            "16 ≤ N ≤ 256: two levels of Mux16"
        );
        // J_kj: region J, row and column below N; h_k: region h, k below N
        let high = |bits: u32| 0x00FF_FFFF & !((1u32 << bits) - 1);
        let j_inside = ((N as u32 - 1) << 12) | (N as u32 - 1);
        let j_mask = 0xFF00_0000 | (0x00FF_FFFF & !j_inside);
        let c = |v: u32| Constant::new((v as u64).to_bits());
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            read_col: Default::default(),
            clear_fields: Default::default(),
            add: Default::default(),
            flip: Default::default(),
            neg: Default::default(),
            sel: Default::default(),
            sel_next: Default::default(),
            sel_field: Default::default(),
            sel_h: Default::default(),
            cells: (0..N).map(|_| FieldCell::default()).collect(),
            banks: (0..Self::BANKS).map(|_| JBank::default()).collect(),
            h_ram: Default::default(),
            field_mux: (0..Self::BANKS).map(|_| Mux16::new(0)).collect(),
            field_top: Mux16::new(4),
            j_mask: c(j_mask),
            j_match: c(mm::j_addr(0, 0)),
            h_mask: c(0xFF00_0000 | high(A as u32)),
            h_match: c(mm::region_addr(mm::REGION_H, 0)),
            j_hit: Default::default(),
            h_hit: Default::default(),
            j_row: Default::default(),
            j_bank: Default::default(),
            h_index: Default::default(),
        }
    }
}

impl<const N: usize, const A: usize, const F: usize> Logic for Crossbar<N, A, F> {
    #[hdl_gen]
    fn update(&mut self) {
        self.j_hit.next = self.write_en.val()
            & !self.busy.val()
            & ((self.write_addr.val() & self.j_mask.val()) == self.j_match.val());
        self.h_hit.next = self.write_en.val()
            & !self.busy.val()
            & ((self.write_addr.val() & self.h_mask.val()) == self.h_match.val());
        // J_kc is lane k mod 16 of word c of bank k / 16
        self.j_row.next = bit_cast::<A, 32>(self.write_addr.val() >> 12);
        self.j_bank.next = self.j_row.val() >> 4;
        self.h_index.next = bit_cast::<A, 32>(self.write_addr.val());
        for g in 0..Self::BANKS {
            self.banks[g].clock.next = self.clock.val();
            self.banks[g].read_address.next = self.read_col.val();
            self.banks[g].write_address.next = bit_cast::<A, 32>(self.write_addr.val());
            self.banks[g].write_lane.next = bit_cast::<4, 32>(self.write_addr.val() >> 12);
            self.banks[g].write_data.next = bit_cast::<9, 32>(self.write_data.val());
            self.banks[g].write_enable.next = self.j_hit.val() & (self.j_bank.val().index() == g);
        }
        for g in 0..Self::BANKS {
            for l in 0..16 {
                self.cells[g * 16 + l].j.next = self.banks[g].read_data.val().get_bits::<9>(l * 9);
            }
        }
        for k in 0..N {
            self.cells[k].clock.next = self.clock.val();
            self.cells[k].clear_fields.next = self.clear_fields.val();
            self.cells[k].add.next = self.add.val();
            self.cells[k].flip.next = self.flip.val();
            self.cells[k].neg.next = self.neg.val();
        }
        for g in 0..Self::BANKS {
            self.field_mux[g].sel.next = self.sel.val();
            self.field_mux[g].i0.next = self.cells[g * 16].field.val();
            self.field_mux[g].i1.next = self.cells[g * 16 + 1].field.val();
            self.field_mux[g].i2.next = self.cells[g * 16 + 2].field.val();
            self.field_mux[g].i3.next = self.cells[g * 16 + 3].field.val();
            self.field_mux[g].i4.next = self.cells[g * 16 + 4].field.val();
            self.field_mux[g].i5.next = self.cells[g * 16 + 5].field.val();
            self.field_mux[g].i6.next = self.cells[g * 16 + 6].field.val();
            self.field_mux[g].i7.next = self.cells[g * 16 + 7].field.val();
            self.field_mux[g].i8.next = self.cells[g * 16 + 8].field.val();
            self.field_mux[g].i9.next = self.cells[g * 16 + 9].field.val();
            self.field_mux[g].i10.next = self.cells[g * 16 + 10].field.val();
            self.field_mux[g].i11.next = self.cells[g * 16 + 11].field.val();
            self.field_mux[g].i12.next = self.cells[g * 16 + 12].field.val();
            self.field_mux[g].i13.next = self.cells[g * 16 + 13].field.val();
            self.field_mux[g].i14.next = self.cells[g * 16 + 14].field.val();
            self.field_mux[g].i15.next = self.cells[g * 16 + 15].field.val();
        }
        self.field_top.sel.next = self.sel.val();
        // level 2: group k % BANKS (the one-iteration loop names BANKS for the generator)
        for b in Self::BANKS..(Self::BANKS + 1) {
            self.field_top.i0.next = self.field_mux[0 % b].out.val();
            self.field_top.i1.next = self.field_mux[1 % b].out.val();
            self.field_top.i2.next = self.field_mux[2 % b].out.val();
            self.field_top.i3.next = self.field_mux[3 % b].out.val();
            self.field_top.i4.next = self.field_mux[4 % b].out.val();
            self.field_top.i5.next = self.field_mux[5 % b].out.val();
            self.field_top.i6.next = self.field_mux[6 % b].out.val();
            self.field_top.i7.next = self.field_mux[7 % b].out.val();
            self.field_top.i8.next = self.field_mux[8 % b].out.val();
            self.field_top.i9.next = self.field_mux[9 % b].out.val();
            self.field_top.i10.next = self.field_mux[10 % b].out.val();
            self.field_top.i11.next = self.field_mux[11 % b].out.val();
            self.field_top.i12.next = self.field_mux[12 % b].out.val();
            self.field_top.i13.next = self.field_mux[13 % b].out.val();
            self.field_top.i14.next = self.field_mux[14 % b].out.val();
            self.field_top.i15.next = self.field_mux[15 % b].out.val();
        }
        self.h_ram.clock.next = self.clock.val();
        self.h_ram.write_enable.next = self.h_hit.val();
        self.h_ram.write_address.next = self.h_index.val();
        self.h_ram.write_data.next = bit_cast::<F, 32>(self.write_data.val());
        self.h_ram.read_address.next = self.sel_next.val();
        self.sel_h.next = self.h_ram.read_data.val();
        self.sel_field.next = self.field_top.out.val() + self.h_ram.read_data.val();
    }
}

/// Reads an F-bit two's-complement vector as an integer (tests and drivers).
pub fn to_i64<const F: usize>(x: Bits<F>) -> i64 {
    let raw = x.to_u64();
    let shift = 64 - F;
    ((raw << shift) as i64) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_model::{FixedIsing, Ising, Scaling};
    use pbit_spec::Format;

    // the smallest crossbar (one bank, one multiplexer group)
    const N: usize = 16;
    const A: usize = 4;
    const F: usize = 14;
    type Uut = Crossbar<N, A, F>;

    fn instance() -> FixedIsing {
        let mut ising = Ising::new(N);
        let vals = [255.0, -255.0, 7.0, -1.0, 100.0, -128.0, 3.0, -17.0, 64.0];
        let mut t = 0;
        for i in 0..N {
            for j in i + 1..N {
                if (i + 2 * j) % 3 != 0 {
                    ising.add_coupling(i, j, vals[t % vals.len()] / 16.0);
                    t += 1;
                }
            }
        }
        ising.h = (0..N)
            .map(|i| [1023.0, -1023.0, 0.0, 3.0, -5.0][i % 5] / 16.0)
            .collect();
        let format = Format::for_machine(N);
        assert_eq!(format.field_bits as usize, F);
        FixedIsing::new(&ising, format, Scaling::Exact).unwrap()
    }

    /// Load J and h, recompute the fields for a state, then flip p-bits one by one: after every
    /// step the fields equal the model's recomputed fields.
    #[test]
    fn crossbar_fields_match_model() {
        let p = instance();
        let mut dense = vec![0i32; N * N];
        for i in 0..N {
            let (nb, jv) = p.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                dense[i * N + j as usize] = v;
            }
        }
        let h = p.h_raw.clone();
        let mut uut = Uut::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Uut>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            for i in 0..N {
                for j in 0..N {
                    x.write_en.next = true;
                    x.write_addr.next = (mm::j_addr(i as u32, j as u32) as u64).to_bits();
                    x.write_data.next = (dense[i * N + j] as u32 as u64).to_bits();
                    wait_clock_cycle!(sim, clock, x);
                }
                x.write_addr.next = (mm::region_addr(mm::REGION_H, i as u32) as u64).to_bits();
                x.write_data.next = (h[i] as u32 as u64).to_bits();
                wait_clock_cycle!(sim, clock, x);
                // a write beyond the machine changes nothing
                x.write_addr.next = (mm::j_addr(i as u32, N as u32) as u64).to_bits();
                x.write_data.next = 0x55u64.to_bits();
                wait_clock_cycle!(sim, clock, x);
                x.write_en.next = false;
            }
            let mut spins: Vec<bool> = (0..N).map(|i| i % 3 == 0 || i == 7).collect();
            // recompute: clear while reading column 0, then add ±J_kj
            x.clear_fields.next = true;
            x.read_col.next = 0usize.to_bits();
            wait_clock_cycle!(sim, clock, x);
            x.clear_fields.next = false;
            for (j, &spin) in spins.iter().enumerate() {
                x.add.next = true;
                x.flip.next = false;
                x.neg.next = !spin;
                x.read_col.next = ((j + 1) % N).to_bits();
                wait_clock_cycle!(sim, clock, x);
            }
            x.add.next = false;
            let want = p.fields(&spins);
            // the bias RAM reads `sel_next`: h_k is there one clock after
            for k in 0..N {
                x.sel.next = k.to_bits();
                x.sel_next.next = k.to_bits();
                wait_clock_cycle!(sim, clock, x);
                sim_assert_eq!(sim, to_i64(x.sel_field.val()), want[k] as i64, x);
                sim_assert_eq!(sim, to_i64(x.sel_h.val()), h[k] as i64, x);
            }
            // flips: column i was read a clock early; add ±2·J_ki
            for i in [1usize, 3, 0, 1, 2, 2, 15, 9, 15] {
                x.read_col.next = i.to_bits();
                wait_clock_cycle!(sim, clock, x);
                spins[i] = !spins[i];
                x.add.next = true;
                x.flip.next = true;
                x.neg.next = !spins[i];
                wait_clock_cycle!(sim, clock, x);
                x.add.next = false;
                let want = p.fields(&spins);
                for (k, &field) in want.iter().enumerate() {
                    x.sel.next = k.to_bits();
                    x.sel_next.next = k.to_bits();
                    wait_clock_cycle!(sim, clock, x);
                    sim_assert_eq!(sim, to_i64(x.sel_field.val()), field as i64, x);
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }
}
