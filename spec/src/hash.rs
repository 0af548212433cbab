//! The spec hash: a device reports it so a host can refuse gateware built from another spec.
//!
//! FNV-1a (64-bit) over a canonical text naming the format, every rule that decides a sample
//! (the RNG, the seeding, the table construction, the update order), the whole memory map
//! (every row of [`crate::regmap`]'s table: regions, registers, access, widths, fields,
//! resets, value rules, capabilities), the layouts a host relies on (the chain planes, the
//! correlation sums' numbering), the batch engine's on-chip seeding, the STOP/resume contract
//! and the protocol version. Change any rule and bump [`SPEC_REVISION`]; a change of the table
//! changes the hash by itself. A host and a device built from different specs then disagree on
//! the hash and the host refuses the device.

use crate::format::Format;

/// Revision of the rules that are not numbers in [`Format`] or rows of the table (RNG,
/// seeding, table, order, layouts, STOP). 3: the batch engine's registers, chain and sums
/// layouts and seeding, value checks (`ERR_BAD_VALUE`), indices beyond the machine refused.
/// 4: a STOP takes no look-ahead draw (the generators of a stopped run are those of the updates
/// it made; revision 3 had stepped the next p-bit's generator too).
/// Also 4 (landed together): the sparse machine's rows (capability `sparse`: `REG_MACHINE`, the graph hash, the edge
/// region) in the table.
pub const SPEC_REVISION: u32 = 4;

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The semantics a host relies on beyond the table's rows, in words. Each line names a rule
/// the code implements (spec/src/memory_map.rs, docs/spec.md); changing one means changing
/// this text and [`SPEC_REVISION`].
const SEMANTICS: &str = "\
rng=xorshift32(13,17,5) index=top(rng_bits) of the stepped state; \
seed=pbit_seed(S,r,i)=splitmix64^3(S,r,i) nonzero, initial_spin=splitmix64 bit; \
table=floor-atanh-mirror beta_frac; order=sequential 0..n-1 per sweep, one update per p-bit; \
schedule=steps (sweeps, page) in order, steps of 0 sweeps skipped; \
samples=after burn_in sweeps every k-th, numbered from 0 per run, never dropped; \
stale=J,h,state,clamps writes: recompute fields and energy, best := current before a run; \
stop=idle after the current update (a sweep it ends ends, its sample taken), no draw for an \
update not made; run after stop: schedule from step 0, burn_in and every afresh, sweep from \
p-bit 0, state generators fields best as left (recompute if stale), unread sample discarded; \
batch stop=running chain discarded, chains done in buffer and sums; \
chains=word w of chain c at w*CHAIN_PLANE+c; \
batch=chain c: seed p-bits i<n with pbit_seed(S, r0+c, i) on chip (splitmix pipeline), \
load words w<ceil(n/32) from chain c, run schedule, write back, sums if n<=sums_n; \
sums=pairs i<j<n at i*n-i(i+1)/2+j-i-1 then singles n(n-1)/2+i, i32, chain 0 sets; \
values=refused as ERR_BAD_VALUE with detail the word's address, nothing written; \
indices beyond the machine=ERR_BAD_ADDRESS";

/// The canonical text the hash is taken of, for a table's canonical text.
fn text(format: &Format, table: &str) -> String {
    format!(
        "pbit-spec r{} frac={} j={} h={} field={} rng={} beta_frac={} {} \
         mmap: j_stride={} page_stride={} chain_plane={} pages={} steps={} energy_bits={} \
         table: {} protocol={}",
        SPEC_REVISION,
        format.frac_bits,
        format.j_bits,
        format.h_bits,
        format.field_bits,
        format.rng_bits,
        crate::table::BETA_FRAC_BITS,
        SEMANTICS,
        crate::memory_map::J_ROW_STRIDE,
        crate::memory_map::PAGE_STRIDE,
        crate::memory_map::CHAIN_PLANE,
        crate::memory_map::MAX_PAGES,
        crate::memory_map::MAX_STEPS,
        crate::memory_map::ENERGY_BITS,
        table,
        crate::protocol::PROTOCOL_VERSION,
    )
}

/// The hash of the spec with the given format.
pub fn spec_hash(format: &Format) -> u64 {
    fnv1a64(text(format, &crate::regmap::canonical_text()).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regmap::{
        canonical_text_of, Access, Count, Layout, Value, REGIONS, REGION_CHAINS, REGION_EDGES,
        REGISTERS, REG_BATCH_CHAINS, REG_MACHINE, REG_N_ACTIVE,
    };

    fn hash_of(regions: &[crate::regmap::Region], regs: &[crate::regmap::Register]) -> u64 {
        fnv1a64(text(&Format::STANDARD, &canonical_text_of(regions, regs)).as_bytes())
    }

    /// A changed layout, register, access or value rule changes the hash (so a host and a
    /// device that disagree on it refuse each other).
    #[test]
    fn a_changed_table_changes_the_hash() {
        let base = hash_of(REGIONS, REGISTERS);
        assert_eq!(base, spec_hash(&Format::STANDARD));
        let mut regions = REGIONS.to_vec();
        let chains = regions.iter_mut().find(|r| r.id == REGION_CHAINS).unwrap();
        // chains laid out chain-major instead of plane-major
        chains.layout = Layout::Grid {
            stride: 1 << 16,
            outer: Count::Chains,
            inner: Count::Words,
        };
        assert_ne!(hash_of(&regions, REGISTERS), base);
        let mut regs = REGISTERS.to_vec();
        regs.iter_mut()
            .find(|r| r.index == REG_BATCH_CHAINS)
            .unwrap()
            .index = 0x1A;
        assert_ne!(hash_of(REGIONS, &regs), base);
        let mut regs = REGISTERS.to_vec();
        regs.iter_mut()
            .find(|r| r.index == REG_N_ACTIVE)
            .unwrap()
            .value = Value::Any;
        assert_ne!(hash_of(REGIONS, &regs), base);
        let mut regs = REGISTERS.to_vec();
        regs.iter_mut()
            .find(|r| r.index == REG_N_ACTIVE)
            .unwrap()
            .access = Access::W;
        assert_ne!(hash_of(REGIONS, &regs), base);
        // the sparse machine's rows: the edge region's values, the identity's fields
        let mut regions = REGIONS.to_vec();
        regions
            .iter_mut()
            .find(|r| r.id == REGION_EDGES)
            .unwrap()
            .values = &[Value::Any];
        assert_ne!(hash_of(&regions, REGISTERS), base);
        let mut regs = REGISTERS.to_vec();
        regs.iter_mut()
            .find(|r| r.index == REG_MACHINE)
            .unwrap()
            .fields = &[];
        assert_ne!(hash_of(REGIONS, &regs), base);
    }

    #[test]
    fn the_hash_depends_on_the_format() {
        let f = Format::for_machine(64);
        assert_ne!(spec_hash(&f), spec_hash(&Format::for_machine(128)));
        assert_ne!(spec_hash(&f), spec_hash(&Format::STANDARD));
    }
}
