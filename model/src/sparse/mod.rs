//! The sparse, graph-coloured machine (spec/src/sparse.rs; docs/spec.md, "The sparse machine").
//!
//! * [`Phases`]: an instance on a built machine: the colour phases of a sweep, after checking
//!   that the instance fits the machine's graph (size, couplings only on edges).
//! * [`machine`]: the bit-exact reference, a sequential visit in colour order.
//! * [`run`]: sampling, annealing and relax jobs on the reference.
//! * [`kernel`]: the same jobs fast (a colour's p-bits vectorised), bit-identical to [`run`].
//! * [`sparsify`]: copy p-bits joined by ferromagnetic chains bound a graph's degree.

pub mod kernel;
pub mod machine;
pub mod run;
pub mod sparsify;

use crate::fixed::FixedIsing;
use pbit_spec::sparse::{SparseGraph, SPARSE_RNG_BITS};
use pbit_spec::Format;

pub use machine::SparseMachine;

/// The format the model's sparse machine runs without a degree limit: the standard J and h,
/// 32-bit fields (so any degree loads), [`SPARSE_RNG_BITS`] random bits. Field width never
/// changes a decision (a page entry clipped to the field range is beyond every reachable field),
/// so this runs bit-identically to a device of any degree the instance fits.
pub const MODEL_FORMAT: Format = Format {
    rng_bits: SPARSE_RNG_BITS,
    ..Format::STANDARD
};

/// Why an instance cannot run on a sparse machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparseError {
    #[error("the instance has {n} p-bits but the sparse machine's graph has {machine_n} nodes")]
    TooLarge { n: usize, machine_n: usize },
    #[error("the coupling between p-bits {i} and {j} (1-based) is not an edge of the machine's graph {graph_hash:016x}; a sparse machine couples only the pairs it was built for")]
    NonEdge { i: usize, j: usize, graph_hash: u64 },
    #[error("p-bit {node} (1-based) has degree {degree}, more than the sparse machine's maximum degree D = {max_degree}")]
    Degree {
        node: usize,
        degree: usize,
        max_degree: usize,
    },
}

/// The colour phases of a sweep for one instance on one built machine: p-bits of colour 0 in
/// increasing index, then colour 1's, …; only p-bits the instance has (< its n) take part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phases {
    /// P-bits in visiting order.
    pub order: Vec<u32>,
    /// Phase k visits `order[bounds[k]..bounds[k + 1]]`; C + 1 entries.
    pub bounds: Vec<usize>,
}

impl Phases {
    /// Checks that `problem` runs on the machine built for `graph` (n ≤ the graph's n, every
    /// non-zero coupling an edge) and lays out its phases.
    pub fn new(problem: &FixedIsing, graph: &SparseGraph) -> Result<Phases, SparseError> {
        if problem.n > graph.n() {
            return Err(SparseError::TooLarge {
                n: problem.n,
                machine_n: graph.n(),
            });
        }
        for i in 0..problem.n {
            for &j in problem.row(i).0 {
                if j as usize > i && graph.edge_index(i as u32, j).is_none() {
                    return Err(SparseError::NonEdge {
                        i: i + 1,
                        j: j as usize + 1,
                        graph_hash: graph.hash(),
                    });
                }
            }
        }
        Ok(Phases::from_colours(
            &graph.colours()[..problem.n],
            graph.colour_count(),
        ))
    }

    /// Phases from a colouring (`colours[i] < count`), unchecked: a colour class must have no
    /// internal edge for the phases to be a chromatic sweep.
    pub fn from_colours(colours: &[u32], count: u32) -> Phases {
        let mut order = Vec::with_capacity(colours.len());
        let mut bounds = vec![0];
        for k in 0..count {
            order.extend((0..colours.len() as u32).filter(|&i| colours[i as usize] == k));
            bounds.push(order.len());
        }
        Phases { order, bounds }
    }

    /// Number of colour phases C.
    pub fn count(&self) -> usize {
        self.bounds.len() - 1
    }

    /// The p-bits of phase k.
    pub fn phase(&self, k: usize) -> &[u32] {
        &self.order[self.bounds[k]..self.bounds[k + 1]]
    }
}

/// Checks a graph against a maximum degree D, naming the first node beyond it.
pub fn check_degree(graph: &SparseGraph, max_degree: usize) -> Result<(), SparseError> {
    match graph
        .degrees()
        .iter()
        .enumerate()
        .find(|(_, &d)| d as usize > max_degree)
    {
        Some((node, &d)) => Err(SparseError::Degree {
            node: node + 1,
            degree: d as usize,
            max_degree,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ising, Scaling};

    fn instance(text: &str) -> FixedIsing {
        FixedIsing::new(
            &Ising::parse(text, "t").unwrap(),
            MODEL_FORMAT,
            Scaling::Exact,
        )
        .unwrap()
    }

    #[test]
    fn instances_must_fit_the_built_graph() {
        // path 0-1-2-3, colours 0 1 0 1
        let g = SparseGraph::new(4, vec![(0, 1), (1, 2), (2, 3)], vec![0, 1, 0, 1]).unwrap();
        let p = instance("3 2\n1 2 1\n2 3 -0.5\n");
        let ph = Phases::new(&p, &g).unwrap();
        // only the instance's p-bits take part, colour-major
        assert_eq!(ph.order, vec![0, 2, 1]);
        assert_eq!(ph.bounds, vec![0, 2, 3]);
        let e = Phases::new(&instance("3 1\n1 3 1\n"), &g).unwrap_err();
        assert!(matches!(e, SparseError::NonEdge { i: 1, j: 3, .. }), "{e}");
        assert!(e.to_string().contains(&format!("{:016x}", g.hash())));
        let e = Phases::new(&instance("5 0\n"), &g).unwrap_err();
        assert_eq!(e, SparseError::TooLarge { n: 5, machine_n: 4 });
        assert!(check_degree(&g, 2).is_ok());
        let e = check_degree(&g, 1).unwrap_err();
        assert_eq!(
            e,
            SparseError::Degree {
                node: 2,
                degree: 2,
                max_degree: 1
            }
        );
    }
}
