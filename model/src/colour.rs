//! Graph colouring for the sparse machine: p-bits of one colour share no edge, so a colour class
//! updates at once.
//!
//! A bipartite graph gets its exact 2-colouring (breadth-first, each component's lowest node
//! colour 0); a graph without edges gets 1 colour. Every other graph is coloured with DSATUR
//! (Brélaz 1979): repeatedly colour the uncoloured node with the most distinct colours among its
//! neighbours (ties: the higher degree, then the lower index) with the lowest colour none of its
//! neighbours has. The result is deterministic: the same graph always gets the same colouring,
//! so the same built machine and graph hash.

use crate::fixed::FixedIsing;
use pbit_spec::sparse::SparseGraph;
use std::collections::{BTreeSet, VecDeque};

/// How a colouring was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// No edges: one colour.
    Trivial,
    /// Bipartite: the exact 2-colouring.
    Bipartite,
    /// DSATUR.
    Dsatur,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Trivial => "trivial",
            Method::Bipartite => "bipartite",
            Method::Dsatur => "dsatur",
        }
    }
}

/// A proper colouring of a graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Colouring {
    /// Colour of each node, 0..count.
    pub colours: Vec<u32>,
    /// Number of colours used.
    pub count: u32,
    pub method: Method,
}

/// Adjacency lists of a canonical edge list.
fn adjacency(n: usize, edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut adj = vec![Vec::new(); n];
    for &(i, j) in edges {
        adj[i as usize].push(j);
        adj[j as usize].push(i);
    }
    adj
}

/// Colours the graph (n nodes, edges as pairs of distinct nodes < n; order and duplicates do not
/// matter).
pub fn colour(n: usize, edges: &[(u32, u32)]) -> Colouring {
    if edges.is_empty() {
        return Colouring {
            colours: vec![0; n],
            count: if n == 0 { 0 } else { 1 },
            method: Method::Trivial,
        };
    }
    let adj = adjacency(n, edges);
    if let Some(colours) = two_colouring(&adj) {
        return Colouring {
            colours,
            count: 2,
            method: Method::Bipartite,
        };
    }
    let colours = dsatur(&adj);
    let count = colours.iter().map(|&c| c + 1).max().unwrap_or(0);
    Colouring {
        colours,
        count,
        method: Method::Dsatur,
    }
}

/// The 2-colouring of a bipartite graph, None if an odd cycle exists.
fn two_colouring(adj: &[Vec<u32>]) -> Option<Vec<u32>> {
    const NONE: u32 = u32::MAX;
    let mut c = vec![NONE; adj.len()];
    let mut queue = VecDeque::new();
    for start in 0..adj.len() {
        if c[start] != NONE {
            continue;
        }
        c[start] = 0;
        queue.push_back(start);
        while let Some(v) = queue.pop_front() {
            for &w in &adj[v] {
                let w = w as usize;
                if c[w] == NONE {
                    c[w] = 1 - c[v];
                    queue.push_back(w);
                } else if c[w] == c[v] {
                    return None;
                }
            }
        }
    }
    Some(c)
}

/// DSATUR with ties broken by degree, then lowest index.
fn dsatur(adj: &[Vec<u32>]) -> Vec<u32> {
    const NONE: u32 = u32::MAX;
    let n = adj.len();
    let mut colour = vec![NONE; n];
    // distinct neighbour colours of each node, as a bitset that grows with the colours used
    let mut seen: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut sat = vec![0u32; n];
    // ordered so the last element is the next node: (saturation, degree, reversed index)
    let key = |v: usize, s: u32| (s, adj[v].len() as u32, u32::MAX - v as u32);
    let mut queue: BTreeSet<(u32, u32, u32)> = (0..n).map(|v| key(v, 0)).collect();
    while let Some(&top) = queue.iter().next_back() {
        queue.remove(&top);
        let v = (u32::MAX - top.2) as usize;
        // lowest colour not among the neighbours'
        let words = &seen[v];
        let mut c = 0u32;
        while (c as usize / 64) < words.len() && words[c as usize / 64] >> (c % 64) & 1 == 1 {
            c += 1;
        }
        colour[v] = c;
        for &w in &adj[v] {
            let w = w as usize;
            if colour[w] != NONE {
                continue;
            }
            let (word, bit) = (c as usize / 64, c % 64);
            if seen[w].len() <= word {
                seen[w].resize(word + 1, 0);
            }
            if seen[w][word] >> bit & 1 == 0 {
                seen[w][word] |= 1 << bit;
                queue.remove(&key(w, sat[w]));
                sat[w] += 1;
                queue.insert(key(w, sat[w]));
            }
        }
    }
    colour
}

/// The instance's graph: its non-zero couplings as canonical edges.
pub fn instance_edges(problem: &FixedIsing) -> Vec<(u32, u32)> {
    let mut edges = Vec::with_capacity(problem.neighbors.len() / 2);
    for i in 0..problem.n {
        let (nb, _) = problem.row(i);
        for &j in nb {
            if j as usize > i {
                edges.push((i as u32, j));
            }
        }
    }
    // rows are ascending, so this is already sorted by (i, j)
    edges
}

/// The sparse machine the host builds for an instance: its graph, coloured by [`colour`].
pub fn build_graph(problem: &FixedIsing) -> (SparseGraph, Colouring) {
    let edges = instance_edges(problem);
    let c = colour(problem.n, &edges);
    let g = SparseGraph::new(problem.n, edges, c.colours.clone())
        .expect("an instance's edges are canonical and the colouring proper");
    (g, c)
}

/// The machine built for a graph file (`--graph FILE`, an instance file): its n, every pair it
/// lists as an edge (a listed coupling of value 0 still wires the pair, so one file can describe
/// a family of instances), coloured by [`colour`].
pub fn graph_of_file(ising: &crate::Ising) -> (SparseGraph, Colouring) {
    let edges =
        SparseGraph::canonical_edges(ising.couplings.iter().map(|c| (c.i as u32, c.j as u32)));
    let c = colour(ising.n, &edges);
    let g = SparseGraph::new(ising.n, edges, c.colours.clone())
        .expect("a parsed instance has no self-loops and the colouring is proper");
    (g, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proper(n: usize, edges: &[(u32, u32)], c: &Colouring) {
        assert_eq!(c.colours.len(), n);
        for &(i, j) in edges {
            assert_ne!(
                c.colours[i as usize], c.colours[j as usize],
                "edge ({i}, {j})"
            );
        }
        assert!(c.colours.iter().all(|&k| k < c.count));
    }

    fn lattice(l: u32, periodic: bool) -> Vec<(u32, u32)> {
        let mut e = Vec::new();
        for y in 0..l {
            for x in 0..l {
                let v = y * l + x;
                if x + 1 < l || periodic {
                    e.push((v, y * l + (x + 1) % l));
                }
                if y + 1 < l || periodic {
                    e.push((v, ((y + 1) % l) * l + x));
                }
            }
        }
        e
    }

    #[test]
    fn bipartite_graphs_take_two_colours() {
        // even periodic lattice and open lattice: bipartite
        for (l, p) in [(8, true), (5, false), (64, true)] {
            let e = lattice(l, p);
            let c = colour((l * l) as usize, &e);
            proper((l * l) as usize, &e, &c);
            assert_eq!((c.count, c.method), (2, Method::Bipartite));
        }
        // an odd periodic lattice is not bipartite: DSATUR, 3 colours
        let e = lattice(5, true);
        let c = colour(25, &e);
        proper(25, &e, &c);
        assert_eq!(c.method, Method::Dsatur);
        assert_eq!(c.count, 3);
    }

    #[test]
    fn dsatur_is_proper_and_near_optimal_on_known_graphs() {
        // odd cycle: 3
        let e: Vec<(u32, u32)> = (0..7).map(|i| (i, (i + 1) % 7)).collect();
        let c = colour(7, &e);
        proper(7, &e, &c);
        assert_eq!(c.count, 3);
        // complete graph K6: 6
        let e: Vec<(u32, u32)> = (0..6)
            .flat_map(|i| (i + 1..6).map(move |j| (i, j)))
            .collect();
        let c = colour(6, &e);
        proper(6, &e, &c);
        assert_eq!(c.count, 6);
        // Petersen graph: chromatic number 3, which DSATUR finds
        let mut e = Vec::new();
        for i in 0..5u32 {
            e.push((i, (i + 1) % 5));
            e.push((i, i + 5));
            e.push((5 + i, 5 + (i + 2) % 5));
        }
        let c = colour(10, &e);
        proper(10, &e, &c);
        assert_eq!(c.count, 3);
        // no edges, isolated nodes
        let c = colour(4, &[]);
        assert_eq!((c.count, c.method), (1, Method::Trivial));
    }

    #[test]
    fn random_graphs_are_coloured_properly_within_degree_plus_one() {
        let mut x = 12345u64;
        for n in [10usize, 50, 300] {
            let mut e = Vec::new();
            for i in 0..n as u32 {
                for j in i + 1..n as u32 {
                    x = pbit_spec::rng::splitmix64(x);
                    if x % 100 < 8 {
                        e.push((i, j));
                    }
                }
            }
            let c = colour(n, &e);
            proper(n, &e, &c);
            let mut deg = vec![0u32; n];
            for &(i, j) in &e {
                deg[i as usize] += 1;
                deg[j as usize] += 1;
            }
            assert!(c.count <= deg.iter().max().unwrap() + 1);
            // deterministic
            assert_eq!(colour(n, &e), c);
        }
    }
}
