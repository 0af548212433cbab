//! The spec hash: a device reports it so a host can refuse gateware built from another spec.
//!
//! FNV-1a (64-bit) over a canonical text naming the format, every rule that decides a sample
//! (the RNG, the seeding, the table construction, the update order), the memory map and the
//! protocol version. Change any rule or address and bump [`SPEC_REVISION`]; a host and a device
//! built from different specs then disagree on the hash and the host refuses the device.

use crate::format::Format;

/// Revision of the rules that are not numbers in [`Format`] (RNG, seeding, table, order, memory
/// map).
pub const SPEC_REVISION: u32 = 2;

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The hash of the spec with the given format.
pub fn spec_hash(format: &Format) -> u64 {
    let text = format!(
        "pbit-spec r{} frac={} j={} h={} field={} rng={} beta_frac={} xorshift32(13,17,5) \
         seed=splitmix64^3 table=floor-atanh-mirror order=sequential \
         mmap: j_stride={} page_stride={} pages={} steps={} energy_bits={} protocol={}",
        SPEC_REVISION,
        format.frac_bits,
        format.j_bits,
        format.h_bits,
        format.field_bits,
        format.rng_bits,
        crate::table::BETA_FRAC_BITS,
        crate::memory_map::J_ROW_STRIDE,
        crate::memory_map::PAGE_STRIDE,
        crate::memory_map::MAX_PAGES,
        crate::memory_map::MAX_STEPS,
        crate::memory_map::ENERGY_BITS,
        crate::protocol::PROTOCOL_VERSION,
    );
    fnv1a64(text.as_bytes())
}
