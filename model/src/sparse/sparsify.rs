//! Sparsification (Aadit et al. 2022): a p-bit whose degree exceeds the machine's maximum D is
//! split into copies joined by a ferromagnetic chain, each copy holding a share of its edges.
//!
//! Layout: p-bit i keeps index i for its first copy (so clamps and results of unsplit p-bits
//! keep their indices) and gets copies n, n+1, … appended. k copies form a path
//! c₀ — c₁ — … — c_{k−1}; the end copies hold D − 1 original edges and the inner ones D − 2, so
//! every node of the result has degree ≤ D (D ≥ 3 is needed to split at all). The bias stays on
//! the first copy.
//!
//! Which copy holds which edge ([`assign_edges`]): a p-bit's neighbours that are adjacent to each
//! other (the other terminals of one gate: an AND gate's inputs and output form a triangle) stay
//! on one copy where they fit, so each gate sees a single copy of the p-bit — the fan-out a
//! naturally sparse circuit would have, with COPY gates in front of intact gates. The groups
//! (components of the subgraph the neighbours induce) are packed first-fit, largest first; what
//! does not fit whole fills the remaining slots in row order. Measured on the 8 × 8-bit class
//! multipliers of seven balanced 16-bit semiprimes (29,329 … 58,483, `pbit --machine sparse
//! --max-degree 12 factor N --seed N --max-sweeps 5e6`): 7 of 7 factored with grouped edges
//! (0.2–3.8M sweeps), 2 of 7 when edges filled the copies in row order, which splits gates
//! across copies so that a chain defect also breaks gates.
//!
//! Copy strength (the chain coupling J_c): by default twice the largest |J| on any edge of a split
//! p-bit (the instance's own coupling scale there), capped at J_max. Stronger chains hold copies
//! together more surely but freeze them into blocks that anneal slowly; weaker ones break. On a
//! 3 × 3-bit multiplier run backwards (`circuit`, 1,000 sweeps) at D = 6, the share of
//! consistent reads was 66% at J_c = 1 (its largest |J|), 41% at 2, 8% at 3 and 3% at 6; at
//! D = 4, factoring 143 failed within 2·10⁹ sweeps at J_c = 1 and took 80,000 sweeps (as
//! without copies) at 2, 3, 4 and 6. Majority vote absorbs the occasional broken chain. The
//! strength is reported, and `--copy-strength` overrides it.
//!
//! Results: a state of the sparsified instance maps back to the original p-bits by majority over
//! each p-bit's copies, ties going to the first copy ([`Sparsified::original_state`]); energies
//! are recomputed on the original instance.

use crate::fixed::FixedIsing;

/// Why an instance cannot be sparsified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparsifyError {
    #[error("p-bit {node} (1-based) has degree {degree}, more than the machine's maximum degree D = {max_degree}, and copy chains need D ≥ 3")]
    DegreeTooSmall {
        node: usize,
        degree: usize,
        max_degree: usize,
    },
    #[error("copy strength {raw} (raw) is outside 1..={max} (the format's J range)")]
    Strength { raw: i64, max: i32 },
    #[error("after sparsification the local field of p-bit {node} can reach {bound} (raw), more than the {bits}-bit field holds")]
    FieldOverflow { node: usize, bound: i64, bits: u32 },
}

/// An instance with copy p-bits, and how to map back.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparsified {
    /// The instance the machine runs (n ≥ the original's).
    pub problem: FixedIsing,
    /// Original p-bits.
    pub original_n: usize,
    /// Copies of each original p-bit, first copy (= its own index) first.
    pub copies: Vec<Vec<u32>>,
    /// The chain coupling, raw.
    pub strength_raw: i32,
    /// The degree bound it was built for.
    pub max_degree: usize,
}

/// Copies needed for `degree` edges at maximum degree `d` (≥ 3 when more than one).
fn copies_for(degree: usize, d: usize) -> usize {
    if degree <= d {
        return 1;
    }
    // k ≥ 2 copies hold 2(d − 1) + (k − 2)(d − 2)
    let rest = degree.saturating_sub(2 * (d - 1));
    2 + rest.div_ceil(d - 2)
}

/// Which copy (0..caps.len()) holds each of p-bit `i`'s edges, in row order: the edges to
/// neighbours that are adjacent to each other (a gate's other terminals: a triangle through `i`)
/// stay on one copy where they fit, so every gate sees one copy of `i`. The neighbours'
/// components in the graph they induce are packed first-fit, largest first (ties in row order);
/// what does not fit whole fills the remaining slots in row order.
fn assign_edges(p: &FixedIsing, i: usize, caps: &[usize]) -> Vec<usize> {
    let nb = p.row(i).0;
    let mut out = vec![usize::MAX; nb.len()];
    let mut free = caps.to_vec();
    if caps.len() > 1 {
        // components of the subgraph the neighbours induce, each in row order
        let mut comp = vec![usize::MAX; nb.len()];
        let mut comps: Vec<Vec<usize>> = Vec::new();
        for s in 0..nb.len() {
            if comp[s] != usize::MAX {
                continue;
            }
            let c = comps.len();
            comp[s] = c;
            let mut members = vec![s];
            let mut q = 0;
            while q < members.len() {
                let u = nb[members[q]] as usize;
                q += 1;
                for &w in p.row(u).0 {
                    if let Ok(x) = nb.binary_search(&w) {
                        if comp[x] == usize::MAX {
                            comp[x] = c;
                            members.push(x);
                        }
                    }
                }
            }
            members.sort_unstable();
            comps.push(members);
        }
        // largest first (stable: ties in order of their first edge)
        let mut order: Vec<usize> = (0..comps.len()).collect();
        order.sort_by_key(|&c| std::cmp::Reverse(comps[c].len()));
        for c in order {
            if let Some(t) = (0..free.len()).find(|&t| free[t] >= comps[c].len()) {
                for &x in &comps[c] {
                    out[x] = t;
                }
                free[t] -= comps[c].len();
            }
        }
    }
    let mut t = 0;
    for o in out.iter_mut().filter(|o| **o == usize::MAX) {
        while free[t] == 0 {
            t += 1;
        }
        *o = t;
        free[t] -= 1;
    }
    out
}

impl Sparsified {
    /// Sparsifies `p` for maximum degree `max_degree`; None if every degree is within it.
    /// `strength_raw` overrides the default copy strength.
    pub fn new(
        p: &FixedIsing,
        max_degree: usize,
        strength_raw: Option<i64>,
    ) -> Result<Option<Sparsified>, SparsifyError> {
        let n = p.n;
        let degree = |i: usize| (p.offsets[i + 1] - p.offsets[i]) as usize;
        if (0..n).all(|i| degree(i) <= max_degree) {
            return Ok(None);
        }
        if max_degree < 3 {
            let node = (0..n).find(|&i| degree(i) > max_degree).unwrap();
            return Err(SparsifyError::DegreeTooSmall {
                node: node + 1,
                degree: degree(node),
                max_degree,
            });
        }
        // copies and their capacities
        let mut copies: Vec<Vec<u32>> = Vec::with_capacity(n);
        let mut next = n as u32;
        for i in 0..n {
            let k = copies_for(degree(i), max_degree);
            let mut c = vec![i as u32];
            for _ in 1..k {
                c.push(next);
                next += 1;
            }
            copies.push(c);
        }
        let total = next as usize;
        let capacity = |k: usize, t: usize| {
            if k == 1 {
                max_degree
            } else if t == 0 || t == k - 1 {
                max_degree - 1
            } else {
                max_degree - 2
            }
        };
        // which copy of each p-bit holds each of its edges
        let slot: Vec<Vec<u32>> = (0..n)
            .map(|i| {
                let k = copies[i].len();
                let caps: Vec<usize> = (0..k).map(|t| capacity(k, t)).collect();
                assign_edges(p, i, &caps)
                    .into_iter()
                    .map(|t| copies[i][t])
                    .collect()
            })
            .collect();
        let mut edges: Vec<(u32, u32, i32)> = Vec::new();
        for i in 0..n {
            let (nb, jv) = p.row(i);
            for (x, (&j, &v)) in nb.iter().zip(jv).enumerate() {
                if j as usize > i {
                    let y = p
                        .row(j as usize)
                        .0
                        .binary_search(&(i as u32))
                        .expect("symmetric");
                    edges.push((slot[i][x], slot[j as usize][y], v));
                }
            }
        }
        let mut h = vec![0i32; total];
        h[..n].copy_from_slice(&p.h_raw);
        // default strength: twice the largest |J| on an edge of a split p-bit
        let jmax = p.format.j_max_raw();
        let strength = match strength_raw {
            Some(s) if s < 1 || s > jmax as i64 => {
                return Err(SparsifyError::Strength { raw: s, max: jmax })
            }
            Some(s) => s as i32,
            None => {
                // a node of a split p-bit: an appended copy, or a first copy with others
                let split = |v: u32| v as usize >= n || copies[v as usize].len() > 1;
                let worst = edges
                    .iter()
                    .filter(|&&(a, b, _)| split(a) || split(b))
                    .map(|&(_, _, v)| v.abs())
                    .max()
                    .unwrap_or(1);
                (2 * worst).clamp(1, jmax)
            }
        };
        for c in &copies {
            for w in c.windows(2) {
                edges.push((w[0], w[1], strength));
            }
        }
        // compressed rows, both directions, ascending
        let mut rows: Vec<Vec<(u32, i32)>> = vec![Vec::new(); total];
        for &(a, b, v) in &edges {
            rows[a as usize].push((b, v));
            rows[b as usize].push((a, v));
        }
        let mut offsets = vec![0u32];
        let mut neighbors = Vec::with_capacity(2 * edges.len());
        let mut j_raw = Vec::with_capacity(2 * edges.len());
        for (node, row) in rows.iter_mut().enumerate() {
            row.sort_unstable_by_key(|&(j, _)| j);
            debug_assert!(row.len() <= max_degree);
            let bound =
                row.iter().map(|&(_, v)| v.abs() as i64).sum::<i64>() + h[node].abs() as i64;
            if bound > p.format.field_max_raw() as i64 {
                return Err(SparsifyError::FieldOverflow {
                    node: node + 1,
                    bound,
                    bits: p.format.field_bits,
                });
            }
            for &(j, v) in row.iter() {
                neighbors.push(j);
                j_raw.push(v);
            }
            offsets.push(neighbors.len() as u32);
        }
        let problem = FixedIsing {
            n: total,
            format: p.format,
            offsets,
            neighbors,
            j_raw,
            h_raw: h,
            scale: p.scale,
            rescaling: p.rescaling,
        };
        Ok(Some(Sparsified {
            problem,
            original_n: n,
            copies,
            strength_raw: strength,
            max_degree,
        }))
    }

    /// Clamps of the original p-bits as clamps of all their copies.
    pub fn expand_clamps(&self, clamps: &[(usize, bool)]) -> Vec<(usize, bool)> {
        clamps
            .iter()
            .flat_map(|&(i, v)| self.copies[i].iter().map(move |&c| (c as usize, v)))
            .collect()
    }

    /// A state of the original p-bits: each takes the majority of its copies, ties going to the
    /// first copy.
    pub fn original_state(&self, expanded: &[bool]) -> Vec<bool> {
        self.copies
            .iter()
            .map(|c| {
                let up = c.iter().filter(|&&k| expanded[k as usize]).count();
                match (2 * up).cmp(&c.len()) {
                    std::cmp::Ordering::Greater => true,
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Equal => expanded[c[0] as usize],
                }
            })
            .collect()
    }

    /// Number of copy p-bits added.
    pub fn added(&self) -> usize {
        self.problem.n - self.original_n
    }

    /// Number of chains whose copies disagree in `expanded` (broken chains).
    pub fn broken_chains(&self, expanded: &[bool]) -> usize {
        self.copies
            .iter()
            .filter(|c| {
                c.iter()
                    .any(|&k| expanded[k as usize] != expanded[c[0] as usize])
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::MODEL_FORMAT;
    use crate::{Ising, Scaling};

    fn star(leaves: usize) -> FixedIsing {
        let mut ising = Ising::new(leaves + 1);
        for j in 1..=leaves {
            ising.add_coupling(0, j, if j % 2 == 0 { 1.0 } else { -0.5 });
        }
        ising.h[0] = 0.25;
        FixedIsing::new(&ising, MODEL_FORMAT, Scaling::Exact).unwrap()
    }

    #[test]
    fn copies_bound_the_degree_and_keep_every_edge() {
        for (leaves, d) in [(10usize, 3usize), (10, 4), (30, 6), (7, 7), (8, 7)] {
            let p = star(leaves);
            let s = Sparsified::new(&p, d, None).unwrap();
            if leaves <= d {
                assert!(s.is_none());
                continue;
            }
            let s = s.unwrap();
            let q = &s.problem;
            // every degree within D
            assert!(
                (0..q.n).all(|i| q.row(i).0.len() <= d),
                "leaves {leaves} d {d}"
            );
            // copies are minimal: one fewer could not hold the edges
            let k = s.copies[0].len();
            assert!(k >= 2 && copies_for(leaves, d) == k);
            assert!(k == 2 || 2 * (d - 1) + (k - 3) * (d - 2) < leaves);
            // a consistent state has the original energy (chains all satisfied add −(k−1)·J_c)
            let mut x = 5u64;
            for _ in 0..20 {
                x = pbit_spec::rng::splitmix64(x);
                let orig: Vec<bool> = (0..p.n).map(|i| x >> i & 1 == 1).collect();
                let mut ex = vec![false; q.n];
                for (i, c) in s.copies.iter().enumerate() {
                    for &cc in c {
                        ex[cc as usize] = orig[i];
                    }
                }
                let chains = (k - 1) as i64 * s.strength_raw as i64;
                assert_eq!(q.energy_raw(&ex), p.energy_raw(&orig) - chains);
                assert_eq!(s.original_state(&ex), orig);
                assert_eq!(s.broken_chains(&ex), 0);
            }
            // default strength: twice the largest |J| at the split p-bit (the star's 1.0)
            assert_eq!(s.strength_raw, 32);
        }
    }

    /// A hub in 12 triangles (hub, x_t, y_t with x_t — y_t, like AND gates sharing an input) at
    /// D = 6: each triangle's two edges to the hub land on one copy, and the hub has the minimal
    /// number of copies.
    #[test]
    fn gates_see_one_copy() {
        let mut ising = Ising::new(25);
        for t in 0..12 {
            let (x, y) = (1 + t, 13 + t); // row order would interleave them across copies
            ising.add_coupling(0, x, 0.5);
            ising.add_coupling(0, y, -0.5);
            ising.add_coupling(x, y, 1.0);
        }
        let p = FixedIsing::new(&ising, MODEL_FORMAT, Scaling::Exact).unwrap();
        let s = Sparsified::new(&p, 6, None).unwrap().unwrap();
        assert_eq!(s.copies[0].len(), copies_for(24, 6));
        let q = &s.problem;
        let holder = |v: u32| {
            *s.copies[0]
                .iter()
                .find(|&&c| q.row(c as usize).0.contains(&v))
                .expect("every edge kept")
        };
        for t in 0..12u32 {
            assert_eq!(holder(1 + t), holder(13 + t), "triangle {t} split");
        }
        assert!((0..q.n).all(|i| q.row(i).0.len() <= 6));
    }

    #[test]
    fn majority_maps_back_with_ties_to_the_first_copy() {
        let p = star(10);
        let s = Sparsified::new(&p, 3, None).unwrap().unwrap();
        let c = s.copies[0].clone();
        assert!(c.len() >= 4);
        let mut ex = vec![false; s.problem.n];
        // half up, first copy up: tie → up
        for &k in &c[..c.len() / 2] {
            ex[k as usize] = true;
        }
        assert_eq!(s.original_state(&ex)[0], c.len().is_multiple_of(2));
        assert_eq!(s.broken_chains(&ex), 1);
        // clamps reach every copy
        let cl = s.expand_clamps(&[(0, true), (3, false)]);
        assert_eq!(cl.len(), c.len() + 1);
    }

    #[test]
    fn bad_bounds_are_errors() {
        let p = star(5);
        let e = Sparsified::new(&p, 2, None).unwrap_err();
        assert_eq!(
            e,
            SparsifyError::DegreeTooSmall {
                node: 1,
                degree: 5,
                max_degree: 2
            }
        );
        assert!(matches!(
            Sparsified::new(&p, 3, Some(0)).unwrap_err(),
            SparsifyError::Strength { raw: 0, .. }
        ));
        assert_eq!(
            Sparsified::new(&p, 3, Some(40))
                .unwrap()
                .unwrap()
                .strength_raw,
            40
        );
    }
}
