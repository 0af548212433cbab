//! The gate library: each gate as a penalty whose zeros are exactly its truth table.
//!
//! A gate's variables are its inputs, then its outputs, then its auxiliary p-bits (in the order
//! of [`GateKind::inputs`], [`GateKind::outputs`], [`GateKind::aux`]). Every penalty has integer
//! coefficients, is 0 on a consistent assignment (outputs and auxiliaries as [`GateKind::eval`]
//! computes them) and at least 1 on every other one, so the **energy gap is 1** (in the machine's
//! units, before any scaling) for every gate: the tests check it by enumerating all assignments.
//!
//! | gate | penalty (x ∈ {0,1}) | aux |
//! |---|---|---|
//! | AND y = a∧b | 3y + ab − 2ay − 2by | — |
//! | NAND, OR, NOR, ANDNOT, ORNOT | AND with complemented literals (De Morgan) | — |
//! | NOT y = ¬a | (a + y − 1)² | — |
//! | BUF y = a | (a − y)² | — |
//! | XOR y = a⊕b | (a + b − y − 2d)², d = a∧b | 1 |
//! | XNOR | XOR with y complemented | 1 |
//! | MUX y = s ? b : a | AND(s,b→t₁) + AND(s,a→t₂) + (y − a − t₁ + t₂)² | 2 |
//! | NMUX | MUX with y complemented | 2 |
//! | half adder a + b = s + 2c | (a + b − s − 2c)² | — |
//! | full adder a + b + c = s + 2co | (a + b + c − s − 2co)² | — |

use crate::poly::{Affine, Poly};
use pbit_model::Ising;

/// A gate type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GateKind {
    Buf,
    Not,
    And,
    Nand,
    Or,
    Nor,
    Xor,
    Xnor,
    /// y = a ∧ ¬b (yosys `$_ANDNOT_`).
    AndNot,
    /// y = a ∨ ¬b (yosys `$_ORNOT_`).
    OrNot,
    /// y = s ? b : a (yosys `$_MUX_`).
    Mux,
    /// y = ¬(s ? b : a) (yosys `$_NMUX_`).
    Nmux,
    /// a + b = s + 2c.
    HalfAdder,
    /// a + b + ci = s + 2co.
    FullAdder,
}

/// Every gate kind, for tests and documentation.
pub const ALL_GATES: [GateKind; 14] = [
    GateKind::Buf,
    GateKind::Not,
    GateKind::And,
    GateKind::Nand,
    GateKind::Or,
    GateKind::Nor,
    GateKind::Xor,
    GateKind::Xnor,
    GateKind::AndNot,
    GateKind::OrNot,
    GateKind::Mux,
    GateKind::Nmux,
    GateKind::HalfAdder,
    GateKind::FullAdder,
];

/// 3y + ab − 2ay − 2by over literals: 0 iff y = a ∧ b, else ≥ 1.
pub fn and_penalty(p: &mut Poly, a: &Affine, b: &Affine, y: &Affine) {
    p.add_mul(3, y, &Affine::constant(1));
    p.add_mul(1, a, b);
    p.add_mul(-2, a, y);
    p.add_mul(-2, b, y);
}

impl GateKind {
    /// Input pin names (yosys' names for the cells that have them).
    pub fn inputs(self) -> &'static [&'static str] {
        use GateKind::*;
        match self {
            Buf | Not => &["A"],
            And | Nand | Or | Nor | Xor | Xnor | AndNot | OrNot | HalfAdder => &["A", "B"],
            Mux | Nmux => &["A", "B", "S"],
            FullAdder => &["A", "B", "C"],
        }
    }

    /// Output pin names.
    pub fn outputs(self) -> &'static [&'static str] {
        use GateKind::*;
        match self {
            HalfAdder => &["S", "C"],
            FullAdder => &["S", "CO"],
            _ => &["Y"],
        }
    }

    /// Number of auxiliary p-bits.
    pub fn aux(self) -> usize {
        use GateKind::*;
        match self {
            Xor | Xnor => 1,
            Mux | Nmux => 2,
            _ => 0,
        }
    }

    /// Variables of the penalty: inputs + outputs + aux.
    pub fn arity(self) -> usize {
        self.inputs().len() + self.outputs().len() + self.aux()
    }

    /// The yosys internal cell type (`$_AND_`, …) for gates that have one.
    pub fn from_yosys(cell_type: &str) -> Option<GateKind> {
        use GateKind::*;
        Some(match cell_type {
            "$_BUF_" => Buf,
            "$_NOT_" => Not,
            "$_AND_" => And,
            "$_NAND_" => Nand,
            "$_OR_" => Or,
            "$_NOR_" => Nor,
            "$_XOR_" => Xor,
            "$_XNOR_" => Xnor,
            "$_ANDNOT_" => AndNot,
            "$_ORNOT_" => OrNot,
            "$_MUX_" => Mux,
            "$_NMUX_" => Nmux,
            _ => return None,
        })
    }

    /// Outputs then auxiliaries for the given inputs: the gate's truth table.
    pub fn eval(self, i: &[bool]) -> Vec<bool> {
        use GateKind::*;
        assert_eq!(i.len(), self.inputs().len(), "{self:?}: wrong input count");
        match self {
            Buf => vec![i[0]],
            Not => vec![!i[0]],
            And => vec![i[0] && i[1]],
            Nand => vec![!(i[0] && i[1])],
            Or => vec![i[0] || i[1]],
            Nor => vec![!(i[0] || i[1])],
            Xor => vec![i[0] ^ i[1], i[0] && i[1]],
            Xnor => vec![!(i[0] ^ i[1]), i[0] && i[1]],
            AndNot => vec![i[0] && !i[1]],
            OrNot => vec![i[0] || !i[1]],
            Mux | Nmux => {
                let y = if i[2] { i[1] } else { i[0] };
                vec![y ^ (self == Nmux), i[2] && i[1], i[2] && i[0]]
            }
            HalfAdder => vec![i[0] ^ i[1], i[0] && i[1]],
            FullAdder => {
                let s = i[0] as u8 + i[1] as u8 + i[2] as u8;
                vec![s & 1 == 1, s >= 2]
            }
        }
    }

    /// The penalty over local variables 0..arity (inputs, outputs, aux).
    pub fn penalty(self) -> Poly {
        use GateKind::*;
        let v = Affine::var;
        let n = |k: usize| Affine::lit(k, false);
        let mut p = Poly::new();
        match self {
            Buf => p.add_square(1, &v(0).plus(-1, &v(1))),
            Not => p.add_square(1, &v(0).plus(1, &v(1)).plus(-1, &Affine::constant(1))),
            And => and_penalty(&mut p, &v(0), &v(1), &v(2)),
            Nand => and_penalty(&mut p, &v(0), &v(1), &n(2)),
            Or => and_penalty(&mut p, &n(0), &n(1), &n(2)),
            Nor => and_penalty(&mut p, &n(0), &n(1), &v(2)),
            AndNot => and_penalty(&mut p, &v(0), &n(1), &v(2)),
            OrNot => and_penalty(&mut p, &n(0), &v(1), &n(2)),
            Xor | Xnor => {
                let y = if self == Xor { v(2) } else { n(2) };
                p.add_square(1, &v(0).plus(1, &v(1)).plus(-1, &y).plus(-2, &v(3)));
            }
            Mux | Nmux => {
                // inputs a=0, b=1, s=2; y=3; t1=4 (s∧b), t2=5 (s∧a)
                let y = if self == Mux { v(3) } else { n(3) };
                and_penalty(&mut p, &v(2), &v(1), &v(4));
                and_penalty(&mut p, &v(2), &v(0), &v(5));
                p.add_square(1, &y.plus(-1, &v(0)).plus(-1, &v(4)).plus(1, &v(5)));
            }
            HalfAdder => p.add_square(1, &v(0).plus(1, &v(1)).plus(-1, &v(2)).plus(-2, &v(3))),
            FullAdder => p.add_square(
                1,
                &v(0)
                    .plus(1, &v(1))
                    .plus(1, &v(2))
                    .plus(-1, &v(3))
                    .plus(-2, &v(4)),
            ),
        }
        p
    }

    /// The gate alone as an Ising instance over its variables (inputs, outputs, aux), and its
    /// ground energy (reached exactly on the truth table).
    pub fn ising(self) -> (Ising, f64) {
        let q = self.penalty().ising_quarters(self.arity());
        let mut ising = Ising::new(q.n);
        for &(i, j, v) in &q.j {
            ising.add_coupling(i, j, v as f64 / 4.0);
        }
        for (i, &v) in q.h.iter().enumerate() {
            ising.h[i] = v as f64 / 4.0;
        }
        ising.source = format!("<{self:?} gate>");
        (ising, -(q.offset as f64) / 4.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_model::exact::state_energies;

    /// Every gate: the states at the ground energy are exactly the truth table (each input
    /// combination once, with its outputs and auxiliaries), the ground energy is the one
    /// `ising` states, and the gap to the next energy is exactly 1.
    #[test]
    fn ground_states_are_exactly_the_truth_table_with_gap_one() {
        for g in ALL_GATES {
            let (ising, e0) = g.ising();
            let energies = state_energies(&ising).unwrap();
            let n = g.arity();
            let ni = g.inputs().len();
            let mut ground = Vec::new();
            let mut excited = f64::INFINITY;
            for (s, &e) in energies.iter().enumerate() {
                if e == e0 {
                    ground.push(s);
                } else {
                    assert!(e > e0, "{g:?}: state {s} below the ground energy");
                    excited = excited.min(e);
                }
            }
            let mut table: Vec<usize> = (0..1usize << ni)
                .map(|inp| {
                    let bits: Vec<bool> = (0..ni).map(|k| inp >> k & 1 == 1).collect();
                    let rest = g.eval(&bits);
                    assert_eq!(rest.len(), n - ni);
                    rest.iter()
                        .enumerate()
                        .fold(inp, |acc, (k, &b)| acc | (b as usize) << (ni + k))
                })
                .collect();
            table.sort_unstable();
            assert_eq!(ground, table, "{g:?}");
            assert_eq!(excited - e0, 1.0, "{g:?}: gap");
        }
    }

    #[test]
    fn yosys_names() {
        assert_eq!(GateKind::from_yosys("$_MUX_"), Some(GateKind::Mux));
        assert_eq!(GateKind::from_yosys("$_DFF_P_"), None);
    }
}
