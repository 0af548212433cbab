//! The graph of a sparse deep Boltzmann machine ([`super::Topology::Dbm`]): what a
//! degree-limited machine (`--machine sparse --max-degree D`) can hold without copies.
//!
//! Three layers: the visible p-bits (pixels and labels alike), the first hidden layer (the
//! first ⌈H/2⌉ hidden p-bits) and the second (the rest). Couplings join adjacent layers only.
//! Each visible p-bit gets up to D couplings into the first layer; a first-layer p-bit spends
//! up to ⌈D/2⌉ of its D on the visible layer and ⌊D/2⌋ on the second; a second-layer p-bit up
//! to D on the first. The pairs are drawn like a configuration model: every p-bit's "stubs"
//! (its budget) are listed on both sides, both lists are shuffled on a splitmix64 stream of
//! the seed, stubs are paired in order, and a pair drawn twice or beyond the shorter list is
//! dropped. No p-bit exceeds its budget, so none exceeds D.

use pbit_spec::rng::splitmix64;
use std::collections::BTreeSet;

/// Coupled pairs (a < b, sorted) of a sparse DBM of `visible` + `hidden` p-bits, maximum
/// degree `degree`.
pub fn pairs(visible: usize, hidden: usize, degree: usize, seed: u64) -> Vec<(usize, usize)> {
    let h1 = hidden.div_ceil(2);
    let first: Vec<usize> = (visible..visible + h1).collect();
    let second: Vec<usize> = (visible + h1..visible + hidden).collect();
    let visible: Vec<usize> = (0..visible).collect();
    let mut x = splitmix64(seed ^ 0x6462_6d00); // "dbm"
    let mut out = BTreeSet::new();
    let up = degree.div_ceil(2);
    let down = degree / 2;
    join(&visible, degree, &first, up, &mut x, &mut out);
    join(&first, down, &second, degree, &mut x, &mut out);
    out.into_iter().collect()
}

/// Pairs stubs of `a` (each `da` times) with stubs of `b` (each `db` times), both shuffled.
fn join(
    a: &[usize],
    da: usize,
    b: &[usize],
    db: usize,
    x: &mut u64,
    out: &mut BTreeSet<(usize, usize)>,
) {
    let mut shuffled = |nodes: &[usize], d: usize| {
        let mut s: Vec<usize> = nodes
            .iter()
            .flat_map(|&i| std::iter::repeat_n(i, d))
            .collect();
        for i in (1..s.len()).rev() {
            *x = splitmix64(*x);
            s.swap(i, (*x % (i as u64 + 1)) as usize);
        }
        s
    };
    let (sa, sb) = (shuffled(a, da), shuffled(b, db));
    for (&i, &j) in sa.iter().zip(&sb) {
        out.insert((i.min(j), i.max(j)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_stay_within_the_limit_and_layers_are_joined_in_order() {
        let (v, h, d) = (74, 222, 8);
        let p = pairs(v, h, d, 1);
        let mut deg = vec![0usize; v + h];
        for &(a, b) in &p {
            assert!(a < b);
            deg[a] += 1;
            deg[b] += 1;
            let layer = |i: usize| {
                if i < v {
                    0
                } else if i < v + h / 2 {
                    1
                } else {
                    2
                }
            };
            assert_eq!(
                layer(b),
                layer(a) + 1,
                "({a}, {b}) skips a layer or stays in one"
            );
        }
        assert!(
            deg.iter().all(|&k| k <= d),
            "max degree {:?}",
            deg.iter().max()
        );
        // nearly every stub of the smaller side is used (duplicates are rare): 74·8 visible
        // stubs against 111·4 in the first layer
        let vis: usize = deg[..v].iter().sum();
        assert!(vis > 111 * 4 * 9 / 10 && vis <= 111 * 4, "{vis}");
        assert_eq!(pairs(v, h, d, 1), p, "deterministic");
        assert_ne!(pairs(v, h, d, 2), p, "the seed draws the graph");
    }
}
