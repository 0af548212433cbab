//! The sparse machine's registers and region (capability `sparse`), as rows of the contract's
//! one register table ([`crate::regmap`]); this module names them for the gateware (pbit-hdl's
//! sparse generator) and the drivers, and packs the identity register by the table's fields.
//!
//! | what | address | access | contents |
//! |---|---|---|---|
//! | identity | `REG_MACHINE` | r | fields kind (sparse 1), colours C, max degree D |
//! | graph hash | `REG_GRAPH_HASH_LO`, `_HI` | r | [`crate::sparse::SparseGraph::hash`] of the built graph |
//! | edges | `REGION_EDGES` (0x0D), index e | w | raw J of edge e (canonical order), low `j_bits`, wired to both ends |
//!
//! On a sparse machine the dense J region is not decoded (writes ignored); h, state, clamps,
//! RNG, best, sample, pages (upper halves of 2^(8−1) = 128 entries) and schedule are as the
//! dense machine's. A dense machine has none of these rows (its link refuses them as bad
//! addresses): a host tells the machines apart by the spec hash first.

use crate::memory_map::{region_addr, REGION_SHIFT};
use crate::regmap::{pack, unpack, Geometry, SparseGeometry};
use crate::sparse::{MachineKind, SparseGraph};

pub use crate::regmap::{REGION_EDGES, REG_GRAPH_HASH_HI, REG_GRAPH_HASH_LO, REG_MACHINE};

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

/// The table's geometry of a sparse machine of `n` p-bits (its link's state words) built for
/// `graph` with maximum degree `max_degree` in `format`: no batch engine, the sparse rows.
pub fn geometry(n: u32, format: crate::Format, graph: &SparseGraph, max_degree: usize) -> Geometry {
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
        let geo = geometry(32, crate::sparse::sparse_format(2), &g, 2);
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
}
