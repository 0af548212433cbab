//! The machine's memory map: the addresses of its parallel host bus, defined once here for the
//! gateware (pbit-hdl decodes them) and for every driver (pbit-sim, and the command decoder of
//! the UART link).
//!
//! The bus carries 32-bit words at 32-bit word addresses. The top byte of an address selects a
//! region; the rest indexes inside it. Index fields do not depend on the machine's size, so an
//! address means the same on every machine (J's row stride is fixed at [`J_ROW_STRIDE`]).
//!
//! | region | address | access | contents |
//! |---|---|---|---|
//! | registers | `0x00_00_00_rr` | r/w | see the `REG_*` constants |
//! | J | `0x01_00_00_00 + i·J_ROW_STRIDE + j` | w | raw J_ij (two's complement, low `j_bits`); the host writes both (i, j) and (j, i) |
//! | h | `0x02_00_00_00 + i` | w | raw h_i (low `h_bits`) |
//! | RNG | `0x03_00_00_00 + i` | r/w | xorshift32 state of p-bit i (never 0) |
//! | state | `0x04_00_00_00 + w` | r/w | spins 32w..32w+31, bit b = p-bit 32w+b, 1 = +1 |
//! | clamps | `0x05_00_00_00 + w` | r/w | clamp mask, same packing; a clamped p-bit keeps its state bit |
//! | best state | `0x06_00_00_00 + w` | r | the state of the best energy |
//! | sample | `0x07_00_00_00 + w` | r | the state of the pending sample (valid while `STATUS_SAMPLE_VALID`) |
//! | field | `0x08_00_00_00 + i` | r | raw local field I_i (sign-extended; for tests) |
//! | pages | `0x09_00_00_00 + p·PAGE_STRIDE + u` | w | upper half of threshold page p: entry u = threshold of index 2^(k−1)+u |
//! | schedule | `0x0A_00_00_00 + 2s` / `+ 2s + 1` | w | step s: sweeps (32 bits) / page index |
//! | chains | `0x0B_00_00_00 + w·CHAIN_PLANE + c` | r/w | batch engine: state word w of chain c (packing as state) |
//! | sums | `0x0C_00_00_00 + k` | r | batch engine: correlation sum k ([`sums_index`]), i32 |
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
//! chain is stopped and discarded (buffer and sums cover the `REG_BATCH_DONE` chains done). While a batch runs, writes other
//! than to `REG_CTRL` are ignored, reads of the chains and sums regions give 0, and other reads
//! see the machine as it runs.
//! Writes or reads with an index beyond the machine (p-bit ≥ N, page ≥ its page count, …) are
//! ignored (reads give 0).
//!
//! Writes of J, h, state or clamps mark the fields stale; the machine recomputes fields and energy
//! (and restarts the best from the current state) before the next run, or on `CTRL_RECOMPUTE`.
//! Writes other than to `REG_CTRL` are ignored while the machine runs.

/// Bits of an address that select its region (the top byte).
pub const REGION_SHIFT: u32 = 24;

/// Register region.
pub const REGION_REGS: u32 = 0x00;
pub const REGION_J: u32 = 0x01;
pub const REGION_H: u32 = 0x02;
pub const REGION_RNG: u32 = 0x03;
pub const REGION_STATE: u32 = 0x04;
pub const REGION_CLAMPS: u32 = 0x05;
pub const REGION_BEST_STATE: u32 = 0x06;
pub const REGION_SAMPLE: u32 = 0x07;
pub const REGION_FIELD: u32 = 0x08;
pub const REGION_PAGES: u32 = 0x09;
pub const REGION_SCHEDULE: u32 = 0x0A;
/// Batch engine: the chain buffer (r/w) and the correlation sums (r).
pub const REGION_CHAINS: u32 = 0x0B;
pub const REGION_SUMS: u32 = 0x0C;
/// The highest region: the link refuses addresses above it.
pub const LAST_REGION: u32 = REGION_SUMS;
/// Index stride of a state word's plane in the chain region: word w of chain c is at
/// `w·CHAIN_PLANE + c`, so one plane of consecutive chains is one contiguous write or read.
pub const CHAIN_PLANE: u32 = 1 << 16;

/// Row stride of J's region: supports machines of up to 4096 p-bits.
pub const J_ROW_STRIDE: u32 = 1 << 12;
/// Page stride of the page region: up to 2^16 entries (rng_bits ≤ 17) per upper half.
pub const PAGE_STRIDE: u32 = 1 << 16;
/// Most pages a schedule may name (the model's `schedule::MAX_STEPS`).
pub const MAX_PAGES: u32 = 32;
/// Most steps in a schedule.
pub const MAX_STEPS: u32 = 32;

// Registers (region 0). Read-only unless noted.
/// Magic word "pbit" (0x7062_6974).
pub const REG_MAGIC: u32 = 0x00;
/// Number of p-bits N of the machine.
pub const REG_N: u32 = 0x01;
/// Format: frac_bits | j_bits << 8 | h_bits << 16 | field_bits << 24.
pub const REG_FORMAT: u32 = 0x02;
/// rng_bits | page count << 8 | energy_bits << 16.
pub const REG_FORMAT2: u32 = 0x03;
/// Spec hash ([`crate::hash::spec_hash`] of the machine's format), low and high words.
pub const REG_SPEC_HASH_LO: u32 = 0x04;
pub const REG_SPEC_HASH_HI: u32 = 0x05;
/// Control (write): bit 0 run, bit 1 recompute, bit 2 stop. Reads 0. A run discards an unread
/// sample of a stopped run.
pub const REG_CTRL: u32 = 0x06;
/// Status: bit 0 busy (running or recomputing), bit 1 sample valid, bit 2 fields stale.
pub const REG_STATUS: u32 = 0x07;
/// (r/w) Active p-bits n ≤ N: a sweep visits 0..n−1.
pub const REG_N_ACTIVE: u32 = 0x08;
/// (r/w) Steps in the schedule (1..=32).
pub const REG_N_STEPS: u32 = 0x09;
/// (r/w) Sweeps after which samples start.
pub const REG_BURN_IN: u32 = 0x0A;
/// (r/w) Sample every k-th sweep after the burn-in (0: no samples).
pub const REG_EVERY: u32 = 0x0B;
/// Running raw energy (two's complement, `energy_bits` wide, sign-extended).
pub const REG_ENERGY: u32 = 0x0C;
/// Best raw energy since the last recompute.
pub const REG_BEST_ENERGY: u32 = 0x0D;
/// Raw energy of the pending sample.
pub const REG_SAMPLE_ENERGY: u32 = 0x0E;
/// Clocks spent busy (as STATUS shows: running, recomputing, or in a batch) since reset, low and
/// high words.
pub const REG_CLOCKS_LO: u32 = 0x0F;
pub const REG_CLOCKS_HI: u32 = 0x10;
/// Sweeps completed since reset.
pub const REG_SWEEPS: u32 = 0x11;
/// Samples emitted since reset: the sequence number of the pending sample (a lost sample is
/// never silent).
pub const REG_SAMPLES: u32 = 0x12;
/// Batch engine capabilities: chains the buffer holds (bits 0..16) and the most active
/// p-bits whose sums it forms (bits 16..32); 0 on a machine without the engine.
pub const REG_BATCH_CAPS: u32 = 0x13;
/// (r/w) The user seed S of the batch's generators, low and high words.
pub const REG_BATCH_SEED_LO: u32 = 0x14;
pub const REG_BATCH_SEED_HI: u32 = 0x15;
/// (r/w) The read number r₀ of chain 0, low and high words.
pub const REG_BATCH_READ_LO: u32 = 0x16;
pub const REG_BATCH_READ_HI: u32 = 0x17;
/// (r/w) Chains C in a batch (1 ..= capacity; 0 runs nothing).
pub const REG_BATCH_CHAINS: u32 = 0x18;
/// Chains the current (or last) batch has finished.
pub const REG_BATCH_DONE: u32 = 0x19;
/// The registers the host writes: `REG_N_ACTIVE..=REG_EVERY` and
/// `REG_BATCH_SEED_LO..=REG_BATCH_CHAINS` (and `REG_CTRL`).
pub const WRITABLE_REGS: [(u32, u32); 2] = [
    (REG_N_ACTIVE, REG_EVERY),
    (REG_BATCH_SEED_LO, REG_BATCH_CHAINS),
];

pub const MAGIC: u32 = 0x7062_6974;

pub const CTRL_RUN: u32 = 1 << 0;
pub const CTRL_RECOMPUTE: u32 = 1 << 1;
pub const CTRL_STOP: u32 = 1 << 2;
/// The machine's control bits; the machine ignores a control write with any other bit set.
pub const CTRL_VALID: u32 = CTRL_RUN | CTRL_RECOMPUTE | CTRL_STOP;
/// Run a batch (the batch engine's control bit, written alone).
pub const CTRL_BATCH: u32 = 1 << 3;

pub const STATUS_BUSY: u32 = 1 << 0;
pub const STATUS_SAMPLE_VALID: u32 = 1 << 1;
pub const STATUS_STALE: u32 = 1 << 2;

/// Width of the energy registers: |E| ≤ N(N−1)/2·J_max + N·h_max for every machine up to 2048
/// p-bits in the standard format, and twice that while recomputing.
pub const ENERGY_BITS: u32 = 32;

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
