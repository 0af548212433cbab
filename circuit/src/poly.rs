//! Quadratic pseudo-Boolean penalties and their Ising form.
//!
//! A penalty is an integer polynomial P(x) = c + Σ v_i x_i + Σ_{i<j} w_ij x_i x_j over bits
//! x_i ∈ {0, 1} (x² = x is folded in). Every gate's penalty is 0 on its truth table and at least
//! 1 elsewhere, so penalties compose by addition.
//!
//! With x_i = (1 + m_i)/2 and the machine's E(m) = −Σ J_ij m_i m_j − Σ h_i m_i:
//!
//! ```text
//! w x_i x_j = w/4 (1 + m_i + m_j + m_i m_j)  →  J_ij −= w/4, h_i −= w/4, h_j −= w/4
//! v x_i     = v/2 (1 + m_i)                  →  h_i −= v/2
//! ```
//!
//! so P(x) = E(m) + K with K = c + Σ v_i/2 + Σ w_ij/4: the Ising ground energy is −K whenever
//! P can reach 0, and integer coefficients give J and h on a grid of 1/4, which the machine's
//! 1/16 grid holds exactly.

use std::collections::BTreeMap;

/// An affine form c + Σ a_i x_i over bits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Affine {
    pub constant: i64,
    pub terms: Vec<(usize, i64)>,
}

impl Affine {
    /// The bit x_v.
    pub fn var(v: usize) -> Affine {
        Affine {
            constant: 0,
            terms: vec![(v, 1)],
        }
    }
    /// The bit x_v if `positive`, else its complement 1 − x_v.
    pub fn lit(v: usize, positive: bool) -> Affine {
        if positive {
            Affine::var(v)
        } else {
            Affine {
                constant: 1,
                terms: vec![(v, -1)],
            }
        }
    }
    /// The constant c.
    pub fn constant(c: i64) -> Affine {
        Affine {
            constant: c,
            terms: Vec::new(),
        }
    }
    /// self + k·other.
    pub fn plus(mut self, k: i64, other: &Affine) -> Affine {
        self.constant += k * other.constant;
        self.terms
            .extend(other.terms.iter().map(|&(v, a)| (v, a * k)));
        self
    }
}

/// A quadratic pseudo-Boolean polynomial with integer coefficients.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Poly {
    pub constant: i64,
    /// v_i, by variable.
    pub linear: BTreeMap<usize, i64>,
    /// w_ij for i < j.
    pub quadratic: BTreeMap<(usize, usize), i64>,
}

impl Poly {
    pub fn new() -> Poly {
        Poly::default()
    }

    /// Adds k·x_i x_j (x_i² = x_i).
    pub fn add_product(&mut self, i: usize, j: usize, k: i64) {
        if k == 0 {
            return;
        }
        if i == j {
            *self.linear.entry(i).or_insert(0) += k;
        } else {
            *self.quadratic.entry((i.min(j), i.max(j))).or_insert(0) += k;
        }
    }

    /// Adds k·x_i.
    pub fn add_linear(&mut self, i: usize, k: i64) {
        if k != 0 {
            *self.linear.entry(i).or_insert(0) += k;
        }
    }

    /// Adds k·a·b for affine a, b.
    pub fn add_mul(&mut self, k: i64, a: &Affine, b: &Affine) {
        self.constant += k * a.constant * b.constant;
        for &(v, x) in &a.terms {
            self.add_linear(v, k * x * b.constant);
        }
        for &(v, x) in &b.terms {
            self.add_linear(v, k * x * a.constant);
        }
        for &(u, x) in &a.terms {
            for &(v, y) in &b.terms {
                self.add_product(u, v, k * x * y);
            }
        }
    }

    /// Adds k·a².
    pub fn add_square(&mut self, k: i64, a: &Affine) {
        self.add_mul(k, a, a);
    }

    /// Adds k·p.
    pub fn add_poly(&mut self, k: i64, p: &Poly) {
        self.constant += k * p.constant;
        for (&i, &v) in &p.linear {
            self.add_linear(i, k * v);
        }
        for (&(i, j), &w) in &p.quadratic {
            self.add_product(i, j, k * w);
        }
    }

    /// The polynomial with variables renamed: variable v becomes `map(v)`, which is either a new
    /// variable or a constant bit (substituted).
    pub fn substitute(&self, map: impl Fn(usize) -> Value) -> Poly {
        let mut out = Poly {
            constant: self.constant,
            ..Poly::default()
        };
        for (&i, &v) in &self.linear {
            match map(i) {
                Value::Var(a) => out.add_linear(a, v),
                Value::Const(b) => out.constant += v * b as i64,
            }
        }
        for (&(i, j), &w) in &self.quadratic {
            match (map(i), map(j)) {
                (Value::Var(a), Value::Var(b)) => out.add_product(a, b, w),
                (Value::Var(a), Value::Const(b)) | (Value::Const(b), Value::Var(a)) => {
                    out.add_linear(a, w * b as i64)
                }
                (Value::Const(a), Value::Const(b)) => out.constant += w * (a && b) as i64,
            }
        }
        out
    }

    /// P at an assignment (`bits[i]` is x_i).
    pub fn eval(&self, bits: &[bool]) -> i64 {
        let mut p = self.constant;
        for (&i, &v) in &self.linear {
            p += v * bits[i] as i64;
        }
        for (&(i, j), &w) in &self.quadratic {
            p += w * (bits[i] && bits[j]) as i64;
        }
        p
    }

    /// Number of variables the polynomial may mention (1 + the largest index).
    pub fn span(&self) -> usize {
        let a = self.linear.keys().next_back().map_or(0, |&i| i + 1);
        let b = self
            .quadratic
            .keys()
            .map(|&(_, j)| j + 1)
            .max()
            .unwrap_or(0);
        a.max(b)
    }

    /// The Ising form over `n` spins: J_ij = −w_ij/4, h_i = −v_i/2 − Σ_j w_ij/4, and the
    /// offset K with P = E + K. Values are exact quarters, returned in units of 1/4.
    pub fn ising_quarters(&self, n: usize) -> IsingQuarters {
        let mut h = vec![0i64; n];
        let mut j = Vec::new();
        let mut k4 = 4 * self.constant;
        for (&i, &v) in &self.linear {
            h[i] -= 2 * v;
            k4 += 2 * v;
        }
        for (&(a, b), &w) in &self.quadratic {
            if w == 0 {
                continue;
            }
            j.push((a, b, -w));
            h[a] -= w;
            h[b] -= w;
            k4 += w;
        }
        IsingQuarters {
            n,
            j,
            h,
            offset: k4,
        }
    }
}

/// What a variable becomes under [`Poly::substitute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Var(usize),
    Const(bool),
}

/// An Ising instance with every value in units of 1/4 (exact integers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsingQuarters {
    pub n: usize,
    /// (i, j, 4·J_ij), i < j.
    pub j: Vec<(usize, usize, i64)>,
    /// 4·h_i.
    pub h: Vec<i64>,
    /// 4·K, where P = E + K (the Ising ground energy is −K when P reaches 0).
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ising_form_equals_the_penalty_up_to_the_offset() {
        // (x0 + x1 − x2 − 2 x3)² + 3 x0 x2 − x1
        let mut p = Poly::new();
        let a = Affine::var(0)
            .plus(1, &Affine::var(1))
            .plus(-1, &Affine::var(2))
            .plus(-2, &Affine::var(3));
        p.add_square(1, &a);
        p.add_product(0, 2, 3);
        p.add_linear(1, -1);
        let q = p.ising_quarters(4);
        for s in 0..16u32 {
            let bits: Vec<bool> = (0..4).map(|k| s >> k & 1 == 1).collect();
            let m = |i: usize| if bits[i] { 1i64 } else { -1 };
            let mut e4 = 0;
            for &(i, j, v) in &q.j {
                e4 -= v * m(i) * m(j);
            }
            for (i, &v) in q.h.iter().enumerate() {
                e4 -= v * m(i);
            }
            assert_eq!(4 * p.eval(&bits), e4 + q.offset, "state {s}");
        }
    }

    #[test]
    fn substitution_folds_constants() {
        let mut p = Poly::new();
        p.add_product(0, 1, 5);
        p.add_linear(1, 2);
        let s = p.substitute(|v| {
            if v == 0 {
                Value::Const(true)
            } else {
                Value::Var(7)
            }
        });
        assert_eq!(s.linear.get(&7), Some(&7));
        assert!(s.quadratic.is_empty());
    }
}
