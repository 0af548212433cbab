//! The machine's memory map: the addresses of its parallel host bus, defined once here for the
//! gateware (pbit-hdl decodes them) and for every driver (pbit-sim, and the command decoder of
//! the UART link).
//!
//! The bus carries 32-bit words at 32-bit word addresses. The top byte of an address selects a
//! region; the rest indexes inside it. Index fields do not depend on the machine's size, so an
//! address means the same on every machine (J's row stride is fixed at [`J_ROW_STRIDE`]).
//!
//! The regions, registers, their access, widths, reset values and the values a write may
//! carry are the rows of one table, [`crate::regmap`] (docs/protocol.md prints it); this module
//! re-exports its numbers and adds the address arithmetic.
//!
//! # The batch engine (optional: [`REG_BATCH_CAPS`] reads 0 on machines without it)
//! A batch is the host's relax job run on the device: C chains, each one read of the machine,
//! exactly as the host would run them one by one. `CTRL_BATCH` starts it (ignored while busy);
//! STATUS shows busy until its last chain is done. For chain c = 0..C−1, in order:
//!
//! 1. the generators of p-bits i < n (n = `REG_N_ACTIVE`) are seeded for read r₀ + c:
//!    `pbit_seed(S, r₀ + c, i)` ([`crate::rng::pbit_seed`]; S = `REG_BATCH_SEED`, r₀ =
//!    `REG_BATCH_READ`), computed on the device;
//! 2. state words w < ⌈n/32⌉ are loaded from the chain buffer (chain c's words); other words
//!    and the clamp mask are as the host left them (a clamped p-bit keeps the value its chain's
//!    word gives it);
//! 3. the machine runs (fields recomputed, then the loaded schedule; set `REG_EVERY` to 0: a
//!    sample due inside a batch is acknowledged by the engine and never reaches the host);
//! 4. the final state words w < ⌈n/32⌉ are written back into chain c's words of the buffer;
//! 5. if n ≤ the sums limit, the final state's products are added to the sums (chain 0 sets
//!    them): for i < j < n, sum [`sums_index`]`(n, i, j)` += m_i·m_j; for i < n, sum
//!    [`sums_single`]`(n, i)` += m_i (±1 spins).
//!
//! `REG_BATCH_DONE` counts the chains finished. A STOP (`CTRL_STOP`) ends a batch: the running
//! chain is stopped and discarded (buffer and sums cover the `REG_BATCH_DONE` chains done; the
//! discarded chain's slot may hold part of its final state, so a host resubmits the rest of a
//! batch from its own copy of the initial states, with first read r₀ + done; docs/spec.md,
//! "STOP and resume"). While a batch runs, writes other
//! than to `REG_CTRL` are ignored, reads of the chains and sums regions give 0, and other reads
//! see the machine as it runs.
//! On the bus itself, writes or reads with an index beyond the machine (p-bit ≥ N, page ≥ its
//! page count, …) are ignored (reads give 0); the link refuses them (`ERR_BAD_ADDRESS`) and
//! values a word cannot hold (`ERR_BAD_VALUE`) before they reach the bus
//! ([`crate::regmap::Geometry::check_write`]).
//!
//! Writes of J, h, state or clamps mark the fields stale; the machine recomputes fields and energy
//! (and restarts the best from the current state) before the next run, or on `CTRL_RECOMPUTE`.
//! Writes other than to `REG_CTRL` are ignored while the machine runs.

pub use crate::regmap::{
    CHAIN_PLANE, CTRL_BATCH, CTRL_RECOMPUTE, CTRL_RUN, CTRL_STOP, CTRL_VALID, ENERGY_BITS,
    J_ROW_STRIDE, MAGIC, PAGE_STRIDE, REGION_SHIFT,
};
// The regions and registers: the rows of [`crate::regmap`]'s table.
pub use crate::regmap::{
    REGION_BEST_STATE, REGION_CHAINS, REGION_CLAMPS, REGION_FIELD, REGION_H, REGION_J,
    REGION_PAGES, REGION_REGS, REGION_RNG, REGION_SAMPLE, REGION_SCHEDULE, REGION_STATE,
    REGION_SUMS,
};
pub use crate::regmap::{
    REG_BATCH_CAPS, REG_BATCH_CHAINS, REG_BATCH_DONE, REG_BATCH_READ_HI, REG_BATCH_READ_LO,
    REG_BATCH_SEED_HI, REG_BATCH_SEED_LO, REG_BEST_ENERGY, REG_BURN_IN, REG_CLOCKS_HI,
    REG_CLOCKS_LO, REG_CTRL, REG_ENERGY, REG_EVERY, REG_FORMAT, REG_FORMAT2, REG_MAGIC, REG_N,
    REG_N_ACTIVE, REG_N_STEPS, REG_SAMPLES, REG_SAMPLE_ENERGY, REG_SPEC_HASH_HI, REG_SPEC_HASH_LO,
    REG_STATUS, REG_SWEEPS,
};

/// The highest region of the dense machine (core and batch engine): its link refuses
/// addresses above it. The sparse machine's edge region lies beyond
/// ([`crate::sparse_map::REGION_EDGES`]).
pub const LAST_REGION: u32 = REGION_SUMS;
/// Most pages a schedule may name (the model's `schedule::MAX_STEPS`).
pub const MAX_PAGES: u32 = 32;
/// Most steps in a schedule.
pub const MAX_STEPS: u32 = 32;

/// The registers the host writes: `REG_N_ACTIVE..=REG_EVERY` and
/// `REG_BATCH_SEED_LO..=REG_BATCH_CHAINS`, the sparse machine's `REG_STATS_CTRL` (and
/// `REG_CTRL`); checked against the table.
pub const WRITABLE_REGS: [(u32, u32); 3] = [
    (REG_N_ACTIVE, REG_EVERY),
    (REG_BATCH_SEED_LO, REG_BATCH_CHAINS),
    (crate::regmap::REG_STATS_CTRL, crate::regmap::REG_STATS_CTRL),
];

pub const STATUS_BUSY: u32 = 1 << 0;
pub const STATUS_SAMPLE_VALID: u32 = 1 << 1;
pub const STATUS_STALE: u32 = 1 << 2;

/// Address of a register.
pub const fn reg(r: u32) -> u32 {
    (REGION_REGS << REGION_SHIFT) | r
}
/// Address of J_ij.
pub const fn j_addr(i: u32, j: u32) -> u32 {
    (REGION_J << REGION_SHIFT) | (i * J_ROW_STRIDE + j)
}
/// Address of word `index` of a region.
pub const fn region_addr(region: u32, index: u32) -> u32 {
    (region << REGION_SHIFT) | index
}
/// Address of entry `u` of the upper half of page `p`.
pub const fn page_addr(p: u32, u: u32) -> u32 {
    (REGION_PAGES << REGION_SHIFT) | (p * PAGE_STRIDE + u)
}
/// Address of step `s`'s sweep count.
pub const fn schedule_sweeps_addr(s: u32) -> u32 {
    (REGION_SCHEDULE << REGION_SHIFT) | (2 * s)
}
/// Address of step `s`'s page index.
pub const fn schedule_page_addr(s: u32) -> u32 {
    (REGION_SCHEDULE << REGION_SHIFT) | (2 * s + 1)
}
/// Address of state word `w` of chain `c` in the chain buffer.
pub const fn chain_addr(c: u32, w: u32) -> u32 {
    (REGION_CHAINS << REGION_SHIFT) | (w * CHAIN_PLANE + c)
}
/// Index of the sum of m_i·m_j (i < j < n) in the sums region.
pub const fn sums_index(n: u32, i: u32, j: u32) -> u32 {
    i * n - i * (i + 1) / 2 + j - i - 1
}
/// Index of the sum of m_i (i < n) in the sums region.
pub const fn sums_single(n: u32, i: u32) -> u32 {
    n * (n - 1) / 2 + i
}
/// Sums of n active p-bits: n(n−1)/2 pairs, then n singles.
pub const fn sums_len(n: u32) -> u32 {
    n * (n + 1) / 2
}
/// Words of an N-bit state vector.
pub const fn state_words(n: u32) -> u32 {
    n.div_ceil(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_do_not_overlap() {
        assert_eq!(j_addr(4095, 4095) >> REGION_SHIFT, REGION_J);
        assert_eq!(
            page_addr(MAX_PAGES - 1, PAGE_STRIDE - 1) >> REGION_SHIFT,
            REGION_PAGES
        );
        assert_eq!(
            schedule_page_addr(MAX_STEPS - 1) >> REGION_SHIFT,
            REGION_SCHEDULE
        );
        assert_eq!(
            chain_addr(CHAIN_PLANE - 1, 255) >> REGION_SHIFT,
            REGION_CHAINS
        );
    }

    /// The hand-kept constants here agree with the table.
    #[test]
    fn constants_agree_with_the_table() {
        use crate::regmap::{Access, Capability, REGIONS, REGISTERS};
        let mut dense = REGIONS
            .iter()
            .filter(|r| r.capability != Capability::Sparse);
        assert_eq!(dense.next_back().unwrap().id, LAST_REGION);
        for r in REGISTERS.iter().filter(|r| r.index != REG_CTRL) {
            let listed = WRITABLE_REGS
                .iter()
                .any(|&(a, b)| (a..=b).contains(&r.index));
            assert_eq!(r.access.writable(), listed, "{}", r.name);
        }
        let st = REGISTERS.iter().find(|r| r.index == REG_STATUS).unwrap();
        let bit = |name: &str| 1u32 << st.fields.iter().find(|f| f.name == name).unwrap().lsb;
        assert_eq!(
            [bit("busy"), bit("sample_valid"), bit("stale")],
            [STATUS_BUSY, STATUS_SAMPLE_VALID, STATUS_STALE]
        );
        assert_eq!(
            REGISTERS
                .iter()
                .find(|r| r.index == REG_CTRL)
                .unwrap()
                .access,
            Access::W
        );
        assert_eq!(MAX_PAGES, MAX_STEPS);
    }

    #[test]
    fn sums_are_numbered_pairs_then_singles_without_gaps() {
        for n in 0..40u32 {
            let mut k = 0;
            for i in 0..n {
                for j in i + 1..n {
                    assert_eq!(sums_index(n, i, j), k);
                    k += 1;
                }
            }
            for i in 0..n {
                assert_eq!(sums_single(n, i), k);
                k += 1;
            }
            assert_eq!(k, sums_len(n));
        }
    }
}
