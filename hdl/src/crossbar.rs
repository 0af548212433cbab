//! The coupling crossbar: J in block RAM, one row per p-bit, and the local-field unit.
//!
//! p-bit k's [`FieldCell`] holds row k of J in its own narrow RAM (J is symmetric, so row k is
//! column k: the couplings p-bit k sees), its bias h_k and its local field I_k in a register.
//! All cells read the same address at once, so the N RAMs side by side deliver one column of J
//! per clock: the column of the p-bit decided next cycle is read one cycle early. On a flip of
//! p-bit i every cell adds ±2·J_ki in the same clock (N adders, no multipliers: m is ±1), so the
//! decision of p-bit i+1 in the next clock already sees the correction. Recomputing the fields
//! is the same datapath: load h, then add ±J_kj for j = 0..n−1, one column per clock.
//!
//! Numbers are two's complement in plain bit vectors (no signed types): J is `J_BITS` wide and
//! sign-extended here, h and the field are `F` bits wide (the format's `field_bits`, wide enough
//! that no field ever saturates, so wrapping adds are exact).

use pbit_spec::memory_map as mm;
use rust_hdl::prelude::*;

/// Width of a raw coupling (the standard format's `j_bits`).
pub const J_BITS: usize = 9;
const _: () = assert!(J_BITS == 9, "FieldCell tests bit 8 for J's sign");

/// One p-bit's row of J, its bias and its local field. It decodes its own bus writes (J row k,
/// h_k) from the bus ports, so its inputs are plain copies of the core's ports and registers.
#[derive(LogicBlock)]
pub struct FieldCell<const A: usize, const F: usize> {
    pub clock: Signal<In, Clock>,
    /// The bus write port (writes are taken only while `busy` is low).
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    /// Column read this clock; the adder uses J_k,col at the next clock.
    pub j_read_col: Signal<In, Bits<A>>,
    /// field ← h.
    pub load_h: Signal<In, Bit>,
    /// field ← field ± (double ? 2 : 1)·J_k,col (col as read last clock); `neg` subtracts.
    pub add: Signal<In, Bit>,
    pub double: Signal<In, Bit>,
    pub neg: Signal<In, Bit>,
    pub field: Signal<Out, Bits<F>>,
    pub h: Signal<Out, Bits<F>>,
    row: RAM<Bits<J_BITS>, A>,
    field_reg: DFF<Bits<F>>,
    h_reg: DFF<Bits<F>>,
    sign_ext: Constant<Bits<F>>,
    j_mask: Constant<Bits<32>>,
    j_match: Constant<Bits<32>>,
    h_addr: Constant<Bits<32>>,
    jx: Signal<Local, Bits<F>>,
    delta: Signal<Local, Bits<F>>,
}

impl<const A: usize, const F: usize> FieldCell<A, F> {
    /// The cell of p-bit `k` on a machine of 2^A p-bits.
    pub fn new(k: usize) -> Self {
        assert!(F > J_BITS + 1 && F <= 32);
        assert!(k < 1 << A && A <= 12);
        // bits J_BITS..F-1 set: ORed in to sign-extend a negative J
        let ext = (((1u64 << F) - 1) >> J_BITS) << J_BITS;
        // J_kj: region J, row k, column below 2^A
        let col_high = (mm::J_ROW_STRIDE - 1) & !((1u32 << A) - 1);
        let j_mask = 0xFF00_0000 | ((mm::J_ROW_STRIDE - 1) << 12) | col_high;
        let c = |v: u32| Constant::new((v as u64).to_bits());
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            j_read_col: Default::default(),
            load_h: Default::default(),
            add: Default::default(),
            double: Default::default(),
            neg: Default::default(),
            field: Default::default(),
            h: Default::default(),
            row: Default::default(),
            field_reg: Default::default(),
            h_reg: Default::default(),
            sign_ext: Constant::new(ext.to_bits()),
            j_mask: c(j_mask),
            j_match: c(mm::j_addr(k as u32, 0)),
            h_addr: c(mm::region_addr(mm::REGION_H, k as u32)),
            jx: Default::default(),
            delta: Default::default(),
        }
    }
}

impl<const A: usize, const F: usize> Logic for FieldCell<A, F> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, field_reg, h_reg);
        self.row.read_clock.next = self.clock.val();
        self.row.write_clock.next = self.clock.val();
        self.row.write_enable.next = self.write_en.val()
            & !self.busy.val()
            & ((self.write_addr.val() & self.j_mask.val()) == self.j_match.val());
        self.row.write_address.next = bit_cast::<A, 32>(self.write_addr.val());
        self.row.write_data.next = bit_cast::<J_BITS, 32>(self.write_data.val());
        self.row.read_address.next = self.j_read_col.val();
        self.field.next = self.field_reg.q.val();
        self.h.next = self.h_reg.q.val();
        // sign-extend J, then double it for a flip
        self.jx.next = bit_cast::<F, J_BITS>(self.row.read_data.val());
        if self.row.read_data.val().get_bit(8) {
            // bit 8: J's sign (J_BITS = 9)
            self.jx.next = bit_cast::<F, J_BITS>(self.row.read_data.val()) | self.sign_ext.val();
        }
        self.delta.next = self.jx.val();
        if self.double.val() {
            self.delta.next = self.jx.val() << 1;
        }
        if self.add.val() {
            if self.neg.val() {
                self.field_reg.d.next = self.field_reg.q.val() - self.delta.val();
            } else {
                self.field_reg.d.next = self.field_reg.q.val() + self.delta.val();
            }
        }
        if self.load_h.val() {
            self.field_reg.d.next = self.h_reg.q.val();
        }
        if self.write_en.val() & !self.busy.val() & (self.write_addr.val() == self.h_addr.val()) {
            self.h_reg.d.next = bit_cast::<F, 32>(self.write_data.val());
        }
    }
}

/// N field cells with broadcast controls and a field multiplexer.
#[derive(LogicBlock)]
pub struct Crossbar<const N: usize, const A: usize, const F: usize> {
    pub clock: Signal<In, Clock>,
    /// The bus write port (each cell decodes its J row and h).
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    pub busy: Signal<In, Bit>,
    /// Column of J every cell reads this clock.
    pub read_col: Signal<In, Bits<A>>,
    pub load_h: Signal<In, Bit>,
    pub add: Signal<In, Bit>,
    pub double: Signal<In, Bit>,
    pub neg: Signal<In, Bit>,
    /// p-bit whose field and bias appear on `sel_field` / `sel_h`.
    pub sel: Signal<In, Bits<A>>,
    pub sel_field: Signal<Out, Bits<F>>,
    pub sel_h: Signal<Out, Bits<F>>,
    pub cells: Vec<FieldCell<A, F>>,
}

impl<const N: usize, const A: usize, const F: usize> Default for Crossbar<N, A, F> {
    fn default() -> Self {
        assert!(N <= (1 << A));
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            busy: Default::default(),
            read_col: Default::default(),
            load_h: Default::default(),
            add: Default::default(),
            double: Default::default(),
            neg: Default::default(),
            sel: Default::default(),
            sel_field: Default::default(),
            sel_h: Default::default(),
            cells: (0..N).map(FieldCell::new).collect(),
        }
    }
}

impl<const N: usize, const A: usize, const F: usize> Logic for Crossbar<N, A, F> {
    #[hdl_gen]
    fn update(&mut self) {
        self.sel_field.next = self.cells[0].field.val();
        self.sel_h.next = self.cells[0].h.val();
        for k in 0..N {
            self.cells[k].clock.next = self.clock.val();
            self.cells[k].write_en.next = self.write_en.val();
            self.cells[k].write_addr.next = self.write_addr.val();
            self.cells[k].write_data.next = self.write_data.val();
            self.cells[k].busy.next = self.busy.val();
            self.cells[k].j_read_col.next = self.read_col.val();
            self.cells[k].load_h.next = self.load_h.val();
            self.cells[k].add.next = self.add.val();
            self.cells[k].double.next = self.double.val();
            self.cells[k].neg.next = self.neg.val();
            if self.sel.val().index() == k {
                self.sel_field.next = self.cells[k].field.val();
                self.sel_h.next = self.cells[k].h.val();
            }
        }
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

    const N: usize = 4;
    const A: usize = 2;
    const F: usize = 12;
    type Uut = Crossbar<N, A, F>;

    fn instance() -> FixedIsing {
        let mut ising = Ising::new(N);
        let vals = [255.0, -255.0, 7.0, -1.0, 100.0, -128.0];
        let mut t = 0;
        for i in 0..N {
            for j in i + 1..N {
                ising.add_coupling(i, j, vals[t] / 16.0);
                t += 1;
            }
        }
        ising.h = vec![1023.0 / 16.0, -1023.0 / 16.0, 0.0, 3.0 / 16.0];
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
            let mut spins = vec![true, false, false, true];
            // recompute: load h while reading column 0, then add ±J_kj
            x.load_h.next = true;
            x.read_col.next = 0usize.to_bits();
            wait_clock_cycle!(sim, clock, x);
            x.load_h.next = false;
            for j in 0..N {
                x.add.next = true;
                x.double.next = false;
                x.neg.next = !spins[j];
                x.read_col.next = ((j + 1) % N).to_bits();
                wait_clock_cycle!(sim, clock, x);
            }
            x.add.next = false;
            let want = p.fields(&spins);
            for k in 0..N {
                x.sel.next = k.to_bits();
                wait_clock_false!(sim, clock, x);
                sim_assert_eq!(sim, to_i64(x.sel_field.val()), want[k] as i64, x);
                sim_assert_eq!(sim, to_i64(x.sel_h.val()), h[k] as i64, x);
            }
            // flips: column i was read a clock early; add ±2·J_ki
            for i in [1usize, 3, 0, 1, 2, 2] {
                x.read_col.next = i.to_bits();
                wait_clock_cycle!(sim, clock, x);
                spins[i] = !spins[i];
                x.add.next = true;
                x.double.next = true;
                x.neg.next = !spins[i];
                wait_clock_cycle!(sim, clock, x);
                x.add.next = false;
                let want = p.fields(&spins);
                for k in 0..N {
                    x.sel.next = k.to_bits();
                    wait_clock_false!(sim, clock, x);
                    sim_assert_eq!(sim, to_i64(x.sel_field.val()), want[k] as i64, x);
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }
}
