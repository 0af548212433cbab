//! The sparse, graph-coloured machine: what differs from the dense machine's contract.
//!
//! A sparse machine is built for one graph G = (V = 0..n−1, E) and one proper colouring of it
//! ([`SparseGraph`]). A sweep is C colour phases; phase k updates every p-bit of colour k at
//! once, which — because a colour class has no internal edge — equals bit for bit a sequential
//! visit of colour 0's p-bits in increasing index, then colour 1's, and so on. The rest:
//! * generators: the dense machine's xorshift32 per p-bit ([`crate::rng`]), seeded from
//!   `pbit_seed(seed, read, i)`, one full step per draw, u = the top [`SPARSE_RNG_BITS`] bits;
//! * activation: the dense threshold construction ([`crate::table`]) at k = 8: a page of 256
//!   thresholds, the upper 128 stored and the rest mirrored;
//! * best energy: the lowest raw energy among the run's starting state and the states at the end
//!   of each colour phase (the first occurrence wins ties);
//! * format: J 9 bits, h 11 bits at 1/16, fields just wide enough for D·J_max + h_max
//!   ([`sparse_format`]).
//!
//! docs/spec.md ("The sparse machine") says the same in prose.

use crate::format::Format;
use crate::hash::{fnv1a64, spec_hash};
use std::fmt;

/// Bits of each random word of the sparse machine: the index into a 256-entry threshold page.
/// P(+1 | I) moves in steps of 1/256 and is exactly 0 or 1 for |βI| ≥ atanh(1 − 2^-8) ≈ 3.12.
pub const SPARSE_RNG_BITS: u32 = 8;

/// Revision of the sparse rules (update order, best tracking, graph hash text). Bump it when any
/// of them changes; the sparse spec hash then changes with it. 2: on-chip statistics (ones per
/// p-bit and agreements per edge for each sample added, the count saturating with a flag).
pub const SPARSE_REVISION: u32 = 2;

/// Machine kind as a device reports it (the capability register's kind field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MachineKind {
    /// One p-bit per clock, all pairs coupled (kind 0).
    Dense,
    /// Graph-coloured, one colour class per phase (kind 1).
    Sparse,
}

impl MachineKind {
    /// The code in the capability register.
    pub fn code(self) -> u32 {
        match self {
            MachineKind::Dense => 0,
            MachineKind::Sparse => 1,
        }
    }
    pub fn from_code(code: u32) -> Option<MachineKind> {
        match code {
            0 => Some(MachineKind::Dense),
            1 => Some(MachineKind::Sparse),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            MachineKind::Dense => "dense",
            MachineKind::Sparse => "sparse",
        }
    }
}

impl fmt::Display for MachineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The format of a sparse machine of maximum degree `max_degree`: the standard J and h widths,
/// [`SPARSE_RNG_BITS`] random bits, and the narrowest field that holds
/// `max_degree·J_max + h_max`, so fields never saturate (checked at load, as for the dense
/// machine).
pub fn sparse_format(max_degree: usize) -> Format {
    let base = Format::STANDARD;
    let worst = max_degree as u64 * base.j_max_raw() as u64 + base.h_max_raw() as u64;
    let magnitude_bits = 64 - worst.leading_zeros();
    Format {
        field_bits: (magnitude_bits + 1).min(32),
        rng_bits: SPARSE_RNG_BITS,
        ..base
    }
}

/// The graph a sparse machine is built for, with its colouring: n nodes, the edges in canonical
/// order (i < j, sorted by (i, j), each once; edge e has index e) and one colour per node, no
/// edge inside a colour. Construct with [`SparseGraph::new`], which checks all of that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseGraph {
    n: usize,
    edges: Vec<(u32, u32)>,
    colours: Vec<u32>,
    /// Number of colours C: max colour + 1 (0 for an empty graph).
    colour_count: u32,
}

/// A graph or colouring that breaks [`SparseGraph`]'s rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphError {
    /// Edge `index` names a node ≥ n.
    NodeOutOfRange {
        index: usize,
        i: u32,
        j: u32,
        n: usize,
    },
    /// Edge `index` joins a node to itself.
    SelfLoop { index: usize, node: u32 },
    /// Edge `index` is not (i < j) or not after the previous edge in (i, j) order (or repeats it).
    NotCanonical { index: usize, i: u32, j: u32 },
    /// The colouring has `found` entries for n nodes.
    ColourCount { found: usize, n: usize },
    /// Edge `index` joins two nodes of the same colour.
    Improper {
        index: usize,
        i: u32,
        j: u32,
        colour: u32,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::NodeOutOfRange { index, i, j, n } => write!(
                f,
                "edge {index} ({i}, {j}) names a node outside 0..{n}"
            ),
            GraphError::SelfLoop { index, node } => {
                write!(f, "edge {index} joins node {node} to itself")
            }
            GraphError::NotCanonical { index, i, j } => write!(
                f,
                "edge {index} ({i}, {j}) is out of canonical order (i < j, sorted by (i, j), each once)"
            ),
            GraphError::ColourCount { found, n } => {
                write!(f, "the colouring has {found} entries for {n} nodes")
            }
            GraphError::Improper { index, i, j, colour } => write!(
                f,
                "edge {index} ({i}, {j}) joins two nodes of colour {colour}: not a proper colouring"
            ),
        }
    }
}
impl std::error::Error for GraphError {}

impl SparseGraph {
    /// Checks and builds the graph. Edges must already be canonical (see [`SparseGraph`]);
    /// [`SparseGraph::canonical_edges`] sorts and deduplicates a list.
    pub fn new(
        n: usize,
        edges: Vec<(u32, u32)>,
        colours: Vec<u32>,
    ) -> Result<SparseGraph, GraphError> {
        for (index, &(i, j)) in edges.iter().enumerate() {
            if i as usize >= n || j as usize >= n {
                return Err(GraphError::NodeOutOfRange { index, i, j, n });
            }
            if i == j {
                return Err(GraphError::SelfLoop { index, node: i });
            }
            if i > j || (index > 0 && edges[index - 1] >= (i, j)) {
                return Err(GraphError::NotCanonical { index, i, j });
            }
        }
        if colours.len() != n {
            return Err(GraphError::ColourCount {
                found: colours.len(),
                n,
            });
        }
        for (index, &(i, j)) in edges.iter().enumerate() {
            if colours[i as usize] == colours[j as usize] {
                return Err(GraphError::Improper {
                    index,
                    i,
                    j,
                    colour: colours[i as usize],
                });
            }
        }
        let colour_count = colours.iter().map(|&c| c + 1).max().unwrap_or(0);
        Ok(SparseGraph {
            n,
            edges,
            colours,
            colour_count,
        })
    }

    /// The canonical form of an edge list: each pair as (min, max), sorted, duplicates removed.
    /// Self-loops are kept (so [`SparseGraph::new`] reports them).
    pub fn canonical_edges(pairs: impl IntoIterator<Item = (u32, u32)>) -> Vec<(u32, u32)> {
        let mut e: Vec<(u32, u32)> = pairs
            .into_iter()
            .map(|(a, b)| (a.min(b), a.max(b)))
            .collect();
        e.sort_unstable();
        e.dedup();
        e
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn edges(&self) -> &[(u32, u32)] {
        &self.edges
    }
    pub fn colours(&self) -> &[u32] {
        &self.colours
    }
    /// C: the number of colour phases of a sweep.
    pub fn colour_count(&self) -> u32 {
        self.colour_count
    }
    /// Degree of every node.
    pub fn degrees(&self) -> Vec<u32> {
        let mut d = vec![0u32; self.n];
        for &(i, j) in &self.edges {
            d[i as usize] += 1;
            d[j as usize] += 1;
        }
        d
    }
    /// The largest degree (0 for a graph without edges).
    pub fn max_degree(&self) -> usize {
        self.degrees().into_iter().max().unwrap_or(0) as usize
    }
    /// The index of edge (i, j) (either order) in canonical order, if it is an edge.
    pub fn edge_index(&self, i: u32, j: u32) -> Option<usize> {
        let key = (i.min(j), i.max(j));
        self.edges.binary_search(&key).ok()
    }

    /// The canonical text the graph hash is taken over:
    /// `pbit-sparse-graph n=<n> edges=<|E|> colours=<C>\n`, then one line `<i> <j>` per edge in
    /// canonical order, then one line `c <colour of node 0> <colour of node 1> …`.
    pub fn canonical_text(&self) -> String {
        use std::fmt::Write;
        let mut s = format!(
            "pbit-sparse-graph n={} edges={} colours={}\n",
            self.n,
            self.edges.len(),
            self.colour_count
        );
        for &(i, j) in &self.edges {
            let _ = writeln!(s, "{i} {j}");
        }
        s.push('c');
        for &c in &self.colours {
            let _ = write!(s, " {c}");
        }
        s.push('\n');
        s
    }

    /// The graph hash: FNV-1a 64 over [`SparseGraph::canonical_text`]. A sparse device reports
    /// it; the host refuses a machine built for another graph, naming both hashes.
    pub fn hash(&self) -> u64 {
        fnv1a64(self.canonical_text().as_bytes())
    }
}

/// The spec hash of a sparse machine with `format` built for `graph`: FNV-1a 64 over a text that
/// names the dense spec hash of the same format (so every rule and address the dense contract
/// names is in it), the update order, the generators, the activation, the best-energy rule and
/// the graph hash. A dense device's hash ([`spec_hash`]) never equals it, so a host expecting a
/// sparse machine refuses a dense one and one built for another graph.
pub fn sparse_spec_hash(format: &Format, graph: &SparseGraph) -> u64 {
    fnv1a64(sparse_spec_text(format, graph).as_bytes())
}

/// The text [`sparse_spec_hash`] is taken over.
pub fn sparse_spec_text(format: &Format, graph: &SparseGraph) -> String {
    format!(
        "pbit-spec-sparse r{} base={:016x} order=chromatic(colour-major,index-ascending) \
         generators=xorshift32(13,17,5)/per-p-bit,one-step-per-draw,top-{}-bits \
         activation=floor-atanh-mirror(k={}) best=per-colour-phase \
         stats=per-sample(ones[i],agreements[e]),count<=2^bits-1-else-overflow \
         graph={:016x} n={} colours={} max_degree={}",
        SPARSE_REVISION,
        spec_hash(format),
        format.rng_bits,
        format.rng_bits,
        graph.hash(),
        graph.n(),
        graph.colour_count(),
        graph.max_degree(),
    )
}

/// Why a device is not the sparse machine the host expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MachineMismatch {
    /// The device is another kind of machine.
    Kind {
        expected: MachineKind,
        found: MachineKind,
    },
    /// The device was built for another graph.
    Graph { expected: u64, found: u64 },
}

impl fmt::Display for MachineMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineMismatch::Kind { expected, found } => write!(
                f,
                "the device is a {found} machine, but a {expected} machine is needed \
                 (choose it with --machine {found}, or load a {expected} build)"
            ),
            MachineMismatch::Graph { expected, found } => write!(
                f,
                "the device's sparse machine was built for graph {found:016x}, but this instance \
                 needs graph {expected:016x}; build one for it (pbit hdl build --machine sparse \
                 --graph FILE) or run an instance of the device's graph"
            ),
        }
    }
}
impl std::error::Error for MachineMismatch {}

/// Checks what a device reports (kind and, for a sparse device, its graph hash) against the
/// machine the host needs.
pub fn check_machine(
    expected: MachineKind,
    expected_graph: Option<&SparseGraph>,
    found: MachineKind,
    found_graph_hash: Option<u64>,
) -> Result<(), MachineMismatch> {
    if expected != found {
        return Err(MachineMismatch::Kind { expected, found });
    }
    if let (Some(g), Some(h)) = (expected_graph, found_graph_hash) {
        if g.hash() != h {
            return Err(MachineMismatch::Graph {
                expected: g.hash(),
                found: h,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> SparseGraph {
        // 4-cycle 0-1-2-3-0, 2 colours
        SparseGraph::new(4, vec![(0, 1), (0, 3), (1, 2), (2, 3)], vec![0, 1, 0, 1]).unwrap()
    }

    #[test]
    fn sparse_format_fields_hold_the_worst_field_and_no_more() {
        for d in [1usize, 4, 6, 8, 15, 64, 1000] {
            let f = sparse_format(d);
            let worst = d as i64 * f.j_max_raw() as i64 + f.h_max_raw() as i64;
            assert!(worst <= f.field_max_raw() as i64, "d={d}");
            assert!(worst > f.field_max_raw() as i64 / 2, "d={d}");
            assert_eq!(f.rng_bits, 8);
            assert!(f.validate().is_ok());
        }
        // D = 6: 6·255 + 1023 = 2553 → 12 magnitude bits + sign
        assert_eq!(sparse_format(6).field_bits, 13);
    }

    #[test]
    fn graph_checks_name_the_problem() {
        let e = SparseGraph::new(3, vec![(0, 3)], vec![0, 1, 0]).unwrap_err();
        assert!(
            matches!(e, GraphError::NodeOutOfRange { index: 0, .. }),
            "{e}"
        );
        let e = SparseGraph::new(3, vec![(1, 1)], vec![0, 1, 0]).unwrap_err();
        assert!(matches!(e, GraphError::SelfLoop { node: 1, .. }), "{e}");
        let e = SparseGraph::new(3, vec![(0, 2), (0, 1)], vec![0, 1, 1]).unwrap_err();
        assert!(
            matches!(e, GraphError::NotCanonical { index: 1, .. }),
            "{e}"
        );
        let e = SparseGraph::new(3, vec![(0, 1), (0, 1)], vec![0, 1, 1]).unwrap_err();
        assert!(
            matches!(e, GraphError::NotCanonical { index: 1, .. }),
            "{e}"
        );
        let e = SparseGraph::new(3, vec![(1, 0)], vec![0, 1, 1]).unwrap_err();
        assert!(
            matches!(e, GraphError::NotCanonical { index: 0, .. }),
            "{e}"
        );
        let e = SparseGraph::new(3, vec![(0, 1), (1, 2)], vec![0, 1, 1]).unwrap_err();
        assert_eq!(
            e,
            GraphError::Improper {
                index: 1,
                i: 1,
                j: 2,
                colour: 1
            }
        );
        assert!(e.to_string().contains("(1, 2)"));
        let e = SparseGraph::new(3, vec![], vec![0]).unwrap_err();
        assert!(matches!(e, GraphError::ColourCount { found: 1, n: 3 }));
    }

    #[test]
    fn graph_queries_and_canonical_edges() {
        let g = square();
        assert_eq!(g.colour_count(), 2);
        assert_eq!(g.max_degree(), 2);
        assert_eq!(g.edge_index(3, 0), Some(1));
        assert_eq!(g.edge_index(0, 2), None);
        assert_eq!(
            SparseGraph::canonical_edges([(3, 0), (1, 0), (0, 1), (2, 1)]),
            vec![(0, 1), (0, 3), (1, 2)]
        );
    }

    #[test]
    fn hashes_change_with_every_part_of_the_built_machine() {
        let g = square();
        let f = sparse_format(g.max_degree());
        let base = sparse_spec_hash(&f, &g);
        // another colouring of the same graph
        let g2 = SparseGraph::new(4, g.edges().to_vec(), vec![1, 0, 1, 0]).unwrap();
        assert_ne!(g.hash(), g2.hash());
        assert_ne!(base, sparse_spec_hash(&f, &g2));
        // one edge fewer
        let g3 = SparseGraph::new(4, vec![(0, 1), (0, 3), (1, 2)], vec![0, 1, 0, 1]).unwrap();
        assert_ne!(g.hash(), g3.hash());
        // one more (isolated) node
        let g4 = SparseGraph::new(5, g.edges().to_vec(), vec![0, 1, 0, 1, 0]).unwrap();
        assert_ne!(g.hash(), g4.hash());
        // the dense machine's hash of the same format differs
        assert_ne!(base, spec_hash(&f));
        // the hash is of the text, deterministic
        assert_eq!(g.hash(), fnv1a64(g.canonical_text().as_bytes()));
        assert_eq!(
            g.canonical_text(),
            "pbit-sparse-graph n=4 edges=4 colours=2\n0 1\n0 3\n1 2\n2 3\nc 0 1 0 1\n"
        );
    }

    #[test]
    fn machine_checks_refuse_dense_devices_and_other_graphs() {
        let g = square();
        assert!(check_machine(
            MachineKind::Sparse,
            Some(&g),
            MachineKind::Sparse,
            Some(g.hash())
        )
        .is_ok());
        let e = check_machine(MachineKind::Sparse, Some(&g), MachineKind::Dense, None).unwrap_err();
        assert!(e.to_string().contains("dense machine"), "{e}");
        let e =
            check_machine(MachineKind::Sparse, Some(&g), MachineKind::Sparse, Some(7)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("{:016x}", g.hash())) && text.contains("0000000000000007"),
            "{text}"
        );
        assert_eq!(MachineKind::from_code(1), Some(MachineKind::Sparse));
        assert_eq!(MachineKind::from_code(2), None);
    }
}
