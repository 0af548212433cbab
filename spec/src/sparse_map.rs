//! The sparse machine's registers and region (capability `sparse`), beside the dense machine's
//! [`crate::memory_map`]. They move into the contract's one register table when it lands; until
//! then they are defined here once, and the gateware (pbit-hdl's sparse generator) and every
//! driver use these constants.
//!
//! | what | address | access | contents |
//! |---|---|---|---|
//! | identity | `REG_MACHINE` | r | kind (bits 0..8: dense 0, sparse 1) \| colours C << 8 \| max degree D << 16 |
//! | graph hash | `REG_GRAPH_HASH_LO`, `_HI` | r | [`crate::sparse::SparseGraph::hash`] of the built graph |
//! | edges | `0x0D_000000 + e` | w | raw J of edge e (canonical order), low `j_bits`, wired to both ends |
//!
//! On a sparse machine the dense J region is a bad address (writes ignored); h, state, clamps,
//! RNG, best, sample, pages (upper halves of 2^(8−1) = 128 entries) and schedule are as the dense
//! machine's. A dense machine reads 0 at `REG_MACHINE` (kind dense) and ignores the edge region.

use crate::memory_map::{region_addr, REGION_SHIFT};
use crate::sparse::MachineKind;

/// The identity register: machine kind, colours and maximum degree.
pub const REG_MACHINE: u32 = 0x1A;
/// The graph hash of a sparse machine, low and high words (0 on a dense machine).
pub const REG_GRAPH_HASH_LO: u32 = 0x1B;
pub const REG_GRAPH_HASH_HI: u32 = 0x1C;
/// The edge region: one raw J per edge.
pub const REGION_EDGES: u32 = 0x0D;
/// Most edges an edge-region index can name (the index field's 24 bits).
pub const MAX_EDGES: u32 = 1 << REGION_SHIFT;

/// Address of edge e's coupling.
pub const fn edge_addr(e: u32) -> u32 {
    region_addr(REGION_EDGES, e)
}

/// The identity register's value.
pub fn machine_word(kind: MachineKind, colours: u32, max_degree: u32) -> u32 {
    kind.code() | (colours & 0xFF) << 8 | (max_degree & 0xFFFF) << 16
}

/// (kind, colours, max degree) from the identity register; None for an unknown kind.
pub fn decode_machine_word(w: u32) -> Option<(MachineKind, u32, u32)> {
    Some((MachineKind::from_code(w & 0xFF)?, (w >> 8) & 0xFF, w >> 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_and_regions_are_free() {
        let w = machine_word(MachineKind::Sparse, 3, 6);
        assert_eq!(decode_machine_word(w), Some((MachineKind::Sparse, 3, 6)));
        assert_eq!(decode_machine_word(0), Some((MachineKind::Dense, 0, 0)));
        const { assert!(REGION_EDGES > crate::memory_map::LAST_REGION) };
        const { assert!(REG_MACHINE > crate::memory_map::REG_BATCH_DONE) };
        assert_eq!(edge_addr(5) >> REGION_SHIFT, REGION_EDGES);
    }
}
