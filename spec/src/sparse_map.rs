//! The sparse machine's registers and region (capability `sparse`), as rows of the contract's
//! one register table ([`crate::regmap`]); this module names them for the gateware (pbit-hdl's
//! sparse generator) and the drivers, and packs the identity register by the table's fields.
//!
//! | what | address | access | contents |
//! |---|---|---|---|
//! | identity | `REG_MACHINE` | r | fields kind (sparse 1), colours C, max degree D |
//! | graph hash | `REG_GRAPH_HASH_LO`, `_HI` | r | [`crate::sparse::SparseGraph::hash`] of the built graph |
//! | edges | `REGION_EDGES` (0x0D), index e | w | raw J of edge e (canonical order), low `j_bits`, wired to both ends |
//! | statistics | `REG_STATS_CAPS`, `_CTRL`, `_SAMPLES`, `_STATUS`; `REGION_STATS` (0x0E) | | on-chip sums ([`StatsSums`], docs/spec.md "Statistics on chip") |
//!
//! On a sparse machine the dense J region has no words (its accesses are refused); h, state, clamps,
//! RNG, best, sample, pages (upper halves of 2^(8−1) = 128 entries) and schedule are as the
//! dense machine's. A dense machine has none of these rows (its link refuses them as bad
//! addresses): a host tells the machines apart by the spec hash first.

use crate::memory_map::{region_addr, REGION_SHIFT};
use crate::regmap::{pack, unpack, Geometry, SparseGeometry};
use crate::sparse::{MachineKind, SparseGraph};

pub use crate::regmap::{
    REGION_EDGES, REGION_STATS, REG_GRAPH_HASH_HI, REG_GRAPH_HASH_LO, REG_MACHINE, REG_STATS_CAPS,
    REG_STATS_CTRL, REG_STATS_SAMPLES, REG_STATS_STATUS, STATS_ACCUMULATE, STATS_CLEAR,
    STATS_OVERFLOW, STATS_QUIET, STATS_SETS,
};

/// Most edges an edge-region index can name (the index field's 24 bits).
pub const MAX_EDGES: u32 = 1 << REGION_SHIFT;

/// Address of edge e's coupling.
pub const fn edge_addr(e: u32) -> u32 {
    region_addr(REGION_EDGES, e)
}

/// The identity register's value (the table's fields of `REG_MACHINE`).
pub fn machine_word(kind: MachineKind, colours: u32, max_degree: u32) -> u32 {
    pack(
        REG_MACHINE,
        &[
            ("kind", kind.code()),
            ("colours", colours),
            ("max_degree", max_degree),
        ],
    )
}

/// (kind, colours, max degree) from the identity register; None for an unknown kind.
pub fn decode_machine_word(w: u32) -> Option<(MachineKind, u32, u32)> {
    Some((
        MachineKind::from_code(unpack(REG_MACHINE, w, "kind"))?,
        unpack(REG_MACHINE, w, "colours"),
        unpack(REG_MACHINE, w, "max_degree"),
    ))
}

/// Address of statistics counter k (p-bit k for k < n, edge k − n after).
pub const fn stats_addr(k: u32) -> u32 {
    region_addr(REGION_STATS, k)
}

/// The statistics capability register's value: counters of `count_bits` (0: none).
pub fn stats_caps_word(count_bits: u32) -> u32 {
    if count_bits == 0 {
        0
    } else {
        pack(
            REG_STATS_CAPS,
            &[("count_bits", count_bits), ("sets", STATS_SETS)],
        )
    }
}

/// The counter width from `REG_STATS_CAPS` (0: the machine has no on-chip statistics).
pub fn decode_stats_caps(w: u32) -> u32 {
    unpack(REG_STATS_CAPS, w, "count_bits")
}

/// The on-chip sums of a sparse machine (docs/spec.md, "Statistics on chip"), the reference the
/// gateware is tested against: for every sample added, each p-bit i with m_i = +1 adds 1 to
/// `ones[i]`, each edge e = (i, j) of the built graph (canonical order) with m_i = m_j adds 1
/// to `agreements[e]`, and `samples` counts the samples added. Counters are `count_bits` wide;
/// the sample count never passes 2^count_bits − 1 (so no counter can wrap): a sample that comes
/// at that count is not added and sets `overflow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsSums {
    pub count_bits: u32,
    pub samples: u64,
    pub overflow: bool,
    pub ones: Vec<u64>,
    pub agreements: Vec<u64>,
}

impl StatsSums {
    /// Cleared sums for `graph`'s p-bits and edges.
    pub fn new(graph: &SparseGraph, count_bits: u32) -> StatsSums {
        StatsSums {
            count_bits,
            samples: 0,
            overflow: false,
            ones: vec![0; graph.n()],
            agreements: vec![0; graph.edges().len()],
        }
    }

    /// The most samples the sums hold: 2^count_bits − 1.
    pub fn max_samples(&self) -> u64 {
        max_stats_samples(self.count_bits)
    }

    /// Adds one sample (`spins[i]` = m_i is +1, at least the graph's n p-bits).
    pub fn add(&mut self, graph: &SparseGraph, spins: &[bool]) {
        if self.samples >= self.max_samples() {
            self.overflow = true;
            return;
        }
        self.samples += 1;
        for (o, &s) in self.ones.iter_mut().zip(spins) {
            *o += s as u64;
        }
        for (a, &(i, j)) in self.agreements.iter_mut().zip(graph.edges()) {
            *a += (spins[i as usize] == spins[j as usize]) as u64;
        }
    }

    /// The stats region's words in index order (p-bits, then edges).
    pub fn words(&self) -> Vec<u64> {
        self.ones.iter().chain(&self.agreements).copied().collect()
    }

    /// Σ m_i over the samples: 2·ones − samples.
    pub fn spin_sum(&self, i: usize) -> i64 {
        2 * self.ones[i] as i64 - self.samples as i64
    }

    /// Σ m_i m_j over the samples for edge e: 2·agreements − samples.
    pub fn product_sum(&self, e: usize) -> i64 {
        2 * self.agreements[e] as i64 - self.samples as i64
    }
}

/// The most samples counters of `count_bits` hold: 2^count_bits − 1 (0 without statistics).
pub fn max_stats_samples(count_bits: u32) -> u64 {
    if count_bits == 0 {
        0
    } else {
        (1u64 << count_bits.min(63)) - 1
    }
}

/// The table's geometry of a sparse machine of `n` p-bits (its link's state words) built for
/// `graph` with maximum degree `max_degree` in `format`: no batch engine, the sparse rows; on-chip
/// statistics with counters of `stats_bits` (0: none).
pub fn geometry(
    n: u32,
    format: crate::Format,
    graph: &SparseGraph,
    max_degree: usize,
    stats_bits: u32,
) -> Geometry {
    Geometry {
        n,
        format,
        pages: crate::memory_map::MAX_PAGES,
        steps: crate::memory_map::MAX_STEPS,
        batch: None,
        sparse: Some(SparseGeometry {
            edges: graph.edges().len() as u32,
            colours: graph.colour_count(),
            max_degree: max_degree as u32,
            graph_hash: graph.hash(),
            stats_bits,
            stats_counters: if stats_bits == 0 {
                0
            } else {
                (graph.n() + graph.edges().len()) as u32
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_and_regions_are_free() {
        let w = machine_word(MachineKind::Sparse, 3, 6);
        assert_eq!(w, 1 | 3 << 8 | 6 << 16);
        assert_eq!(decode_machine_word(w), Some((MachineKind::Sparse, 3, 6)));
        assert_eq!(decode_machine_word(0), Some((MachineKind::Dense, 0, 0)));
        const { assert!(REGION_EDGES > crate::memory_map::LAST_REGION) };
        const { assert!(REG_MACHINE > crate::memory_map::REG_BATCH_DONE) };
        assert_eq!(edge_addr(5) >> REGION_SHIFT, REGION_EDGES);
        assert_eq!(
            crate::regmap::MACHINE_KIND_SPARSE,
            MachineKind::Sparse.code()
        );
    }

    /// The sparse rows are in the table with capability `sparse`: a sparse geometry decodes
    /// the edge region (as many words as edges) and the identity registers, with the graph's
    /// values as resets; a dense one refuses them.
    #[test]
    fn the_table_holds_the_sparse_rows() {
        let g =
            SparseGraph::new(4, vec![(0, 1), (0, 3), (1, 2), (2, 3)], vec![0, 1, 0, 1]).unwrap();
        let geo = geometry(32, crate::sparse::sparse_format(2), &g, 2, 0);
        assert!(geo
            .check_write(edge_addr(0), &[1, 2, 3, (-255i32) as u32])
            .is_ok());
        assert!(geo.check_write(edge_addr(4), &[0]).is_err());
        assert!(geo.check_write(edge_addr(0), &[256]).is_err());
        assert!(geo
            .check_read(crate::memory_map::reg(REG_MACHINE), 3)
            .is_ok());
        let reset = |i: u32| {
            crate::regmap::REGISTERS
                .iter()
                .find(|r| r.index == i)
                .unwrap()
                .reset
                .of(&geo)
        };
        assert_eq!(reset(REG_MACHINE), machine_word(MachineKind::Sparse, 2, 2));
        assert_eq!(
            (reset(REG_GRAPH_HASH_HI) as u64) << 32 | reset(REG_GRAPH_HASH_LO) as u64,
            g.hash()
        );
        let dense = Geometry {
            sparse: None,
            ..geo
        };
        assert!(dense.check_write(edge_addr(0), &[1]).is_err());
        assert!(dense
            .check_read(crate::memory_map::reg(REG_MACHINE), 1)
            .is_err());
        let json = crate::regmap::to_json(&geo);
        for name in [
            "\"edges\"",
            "\"machine\"",
            "\"graph_hash_lo\"",
            "\"sparse\"",
        ] {
            assert!(json.contains(name), "{name}");
        }
    }

    /// The statistics rows: the region holds n + edges counters when the machine has them and
    /// none without (its reads are refused), the control register takes its three bits.
    #[test]
    fn stats_rows_follow_the_build() {
        use crate::memory_map::reg;
        let g =
            SparseGraph::new(4, vec![(0, 1), (0, 3), (1, 2), (2, 3)], vec![0, 1, 0, 1]).unwrap();
        let f = crate::sparse::sparse_format(2);
        let with = geometry(32, f, &g, 2, 32);
        assert!(with.check_read(stats_addr(0), 8).is_ok());
        assert!(with.check_read(stats_addr(0), 9).is_err());
        assert!(with.check_write(stats_addr(0), &[0]).is_err());
        assert!(with.check_write(reg(REG_STATS_CTRL), &[7]).is_ok());
        assert!(with.check_write(reg(REG_STATS_CTRL), &[8]).is_err());
        assert!(with.check_read(reg(REG_STATS_SAMPLES), 2).is_ok());
        let without = geometry(32, f, &g, 2, 0);
        assert!(without.check_read(stats_addr(0), 1).is_err());
        assert!(!crate::regmap::HwDecode::of(&without).address_ok(stats_addr(0), false));
        assert!(crate::regmap::HwDecode::of(&with).address_ok(stats_addr(7), false));
        assert!(!crate::regmap::HwDecode::of(&with).address_ok(stats_addr(8), false));
        let caps = |geo: &Geometry| {
            crate::regmap::REGISTERS
                .iter()
                .find(|r| r.index == REG_STATS_CAPS)
                .unwrap()
                .reset
                .of(geo)
        };
        assert_eq!(caps(&without), 0);
        assert_eq!(caps(&with), stats_caps_word(32));
        assert_eq!(decode_stats_caps(stats_caps_word(12)), 12);
    }

    /// The reference sums count ones and agreements and stop at the count's maximum.
    #[test]
    fn reference_sums_saturate_and_flag() {
        let g = SparseGraph::new(3, vec![(0, 1), (1, 2)], vec![0, 1, 0]).unwrap();
        let mut s = StatsSums::new(&g, 2);
        assert_eq!(s.max_samples(), 3);
        for spins in [[true, true, false], [false, true, true], [true, true, true]] {
            s.add(&g, &spins);
        }
        assert_eq!(
            (s.ones.clone(), s.agreements.clone()),
            (vec![2, 3, 2], vec![2, 2])
        );
        assert!(!s.overflow);
        assert_eq!(s.spin_sum(1), 3);
        assert_eq!(s.product_sum(0), 1);
        s.add(&g, &[false, false, false]);
        assert!(s.overflow);
        assert_eq!((s.samples, s.words()), (3, vec![2, 3, 2, 2, 2]));
    }
}
