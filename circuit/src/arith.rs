//! Adders and multipliers of any width, built from the gate library.
//!
//! * Ripple-carry adder: a half adder at bit 0 (or a full adder with a carry in), full adders
//!   above; `a + b` has `max(wa, wb) + 1` bits.
//! * Array multiplier: partial products a_i ∧ b_j (AND gates), row 0 taken as it is, and each
//!   further row added to the running sum by a ripple of half/full adders; `a × b` has
//!   `wa + wb` bits. For wa × wb it has wa·wb AND gates and (wa − 1)·wb adders, so
//!   wa + wb + wa·wb + 2(wa − 1)·wb p-bits (inputs, partial products, sums and carries).
//!   Constant inputs fold: a partial product with a constant-1 bit is the other bit's own
//!   p-bit (no copy), one with a constant 0 vanishes, and adders drop constant-0 operands.

use crate::circuit::{Circuit, CircuitError, Direction, Net, Signal};
use crate::gates::GateKind;

/// Adds `operands` (1 to 3 signals of equal weight) into a sum bit and, for 2 or 3 operands, a
/// carry bit.
fn add_bits(
    c: &mut Circuit,
    operands: &[Signal],
    hint: &str,
    weight: i64,
) -> (Signal, Option<Signal>) {
    // a constant 0 adds nothing
    let operands: Vec<Signal> = operands
        .iter()
        .copied()
        .filter(|&s| s != Signal::Const(false))
        .collect();
    match operands.len() {
        0 => (Signal::Const(false), None),
        1 => (operands[0], None),
        2 | 3 => {
            let s = c.fresh(&format!("{hint}.s"));
            let co = c.fresh(&format!("{hint}.c"));
            let kind = if operands.len() == 2 {
                GateKind::HalfAdder
            } else {
                GateKind::FullAdder
            };
            c.gate_weighted(kind, &operands, &[s, co], weight)
                .expect("fresh outputs have no other driver");
            (Signal::Net(s), Some(Signal::Net(co)))
        }
        _ => unreachable!("add_bits takes 1 to 3 operands"),
    }
}

/// Adds a ripple-carry adder for `a + b (+ carry_in)` to `c`; returns the sum bits (bit 0 first,
/// `max(wa, wb) + 1` of them).
pub fn add_adder(
    c: &mut Circuit,
    a: &[Signal],
    b: &[Signal],
    carry_in: Option<Signal>,
) -> Vec<Signal> {
    let w = a.len().max(b.len());
    let mut carry = carry_in;
    let mut out = Vec::with_capacity(w + 1);
    for k in 0..w {
        let mut ops: Vec<Signal> = Vec::with_capacity(3);
        ops.extend(a.get(k));
        ops.extend(b.get(k));
        ops.extend(carry);
        if ops.is_empty() {
            out.push(Signal::Const(false));
            carry = None;
            continue;
        }
        let (s, co) = add_bits(c, &ops, &format!("add{k}"), 1);
        out.push(s);
        carry = co;
    }
    out.push(carry.unwrap_or(Signal::Const(false)));
    out
}

/// Gate weights of a multiplier (penalties multiplied by them; 1 and 1 by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiplierWeights {
    pub and: i64,
    pub adder: i64,
}

impl Default for MultiplierWeights {
    fn default() -> Self {
        MultiplierWeights { and: 1, adder: 1 }
    }
}

/// Adds an array multiplier for `a × b` to `c`; returns the product bits (`wa + wb`, bit 0
/// first).
pub fn add_multiplier(
    c: &mut Circuit,
    a: &[Signal],
    b: &[Signal],
    weights: MultiplierWeights,
) -> Vec<Signal> {
    let (wa, wb) = (a.len(), b.len());
    if wa == 0 || wb == 0 {
        return vec![Signal::Const(false); wa + wb];
    }
    let and = |c: &mut Circuit, i: usize, j: usize| -> Signal {
        // constants fold: x ∧ 0 = 0 and x ∧ 1 = x (the same p-bit, not a copy of it)
        match (a[i], b[j]) {
            (Signal::Const(false), _) | (_, Signal::Const(false)) => return Signal::Const(false),
            (Signal::Const(true), x) | (x, Signal::Const(true)) => return x,
            _ => {}
        }
        let t = c.fresh(&format!("pp{i}_{j}"));
        c.gate_weighted(GateKind::And, &[a[i], b[j]], &[t], weights.and)
            .expect("fresh output");
        Signal::Net(t)
    };
    let mut acc: Vec<Signal> = (0..wb).map(|j| and(c, 0, j)).collect();
    for i in 1..wa {
        let mut carry: Option<Signal> = None;
        for j in 0..wb {
            let k = i + j;
            let t = and(c, i, j);
            let mut ops = vec![t];
            ops.extend(acc.get(k).copied());
            ops.extend(carry);
            let (s, co) = add_bits(c, &ops, &format!("m{i}_{j}"), weights.adder);
            if k < acc.len() {
                acc[k] = s;
            } else {
                acc.push(s);
            }
            carry = co;
        }
        acc.push(carry.unwrap_or(Signal::Const(false)));
    }
    acc.resize(wa + wb, Signal::Const(false));
    acc
}

fn nets(v: &[Net]) -> Vec<Signal> {
    v.iter().map(|&n| Signal::Net(n)).collect()
}

/// A circuit with ports `a` (wa bits), `b` (wb bits) and `s = a + b` (max(wa, wb) + 1 bits).
pub fn adder(wa: usize, wb: usize) -> Result<Circuit, CircuitError> {
    let mut c = Circuit::new();
    let a = nets(&c.bus("a", wa));
    let b = nets(&c.bus("b", wb));
    let s = add_adder(&mut c, &a, &b, None);
    c.add_port("a", Direction::Input, a)?;
    c.add_port("b", Direction::Input, b)?;
    c.add_port("s", Direction::Output, s)?;
    Ok(c)
}

/// A circuit with ports `a` (wa bits), `b` (wb bits) and `p = a × b` (wa + wb bits).
pub fn multiplier(
    wa: usize,
    wb: usize,
    weights: MultiplierWeights,
) -> Result<Circuit, CircuitError> {
    let mut c = Circuit::new();
    let a = nets(&c.bus("a", wa));
    let b = nets(&c.bus("b", wb));
    let p = add_multiplier(&mut c, &a, &b, weights);
    c.add_port("a", Direction::Input, a)?;
    c.add_port("b", Direction::Input, b)?;
    c.add_port("p", Direction::Output, p)?;
    Ok(c)
}
