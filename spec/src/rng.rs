//! Per-p-bit random numbers.
//!
//! Every p-bit owns a 32-bit xorshift generator (Marsaglia 2003, shifts 13, 17, 5). One draw is
//! one full step of the generator, so successive words share no bits; the decision uses the top
//! `rng_bits` bits of the new state. In gateware a step is three shift-xor stages, no adders.
//!
//! States derive from (user seed, read, p-bit index) by [`pbit_seed`], never from the machine's
//! size, so a small instance gives the same stream on any machine it fits.

/// One p-bit's generator. The state is never zero (zero is xorshift's only fixed point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Xorshift32 {
    pub state: u32,
}

impl Xorshift32 {
    pub fn new(state: u32) -> Self {
        assert!(state != 0, "xorshift32 state must be non-zero");
        Xorshift32 { state }
    }

    /// Advances one step and returns the new state.
    #[inline(always)]
    pub fn step(&mut self) -> u32 {
        self.state = xorshift32_step(self.state);
        self.state
    }

    /// Advances one step and returns the page index: the top `rng_bits` bits of the new state.
    #[inline(always)]
    pub fn draw(&mut self, rng_bits: u32) -> usize {
        (self.step() >> (32 - rng_bits)) as usize
    }
}

/// The generator's transition, as the gateware computes it.
#[inline(always)]
pub fn xorshift32_step(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// splitmix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 64-bit hash of (seed, read, index) from which a p-bit's generator state and initial
/// value are taken: `splitmix64(splitmix64(splitmix64(seed) ^ read) ^ index)`.
#[inline]
pub fn pbit_hash(seed: u64, read: u64, index: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ read) ^ index)
}

/// The xorshift state used when the low word of the hash is zero.
pub const ZERO_SEED_REPLACEMENT: u32 = 0x6D2B_79F5;

/// Generator state of p-bit `index` (0-based) in read `read` for user seed `seed`: the low 32
/// bits of [`pbit_hash`], or [`ZERO_SEED_REPLACEMENT`] if those are zero.
pub fn pbit_seed(seed: u64, read: u64, index: u64) -> u32 {
    let low = pbit_hash(seed, read, index) as u32;
    if low == 0 {
        ZERO_SEED_REPLACEMENT
    } else {
        low
    }
}

/// Initial value of p-bit `index` in read `read`: +1 iff bit 63 of [`pbit_hash`] is set.
pub fn initial_spin(seed: u64, read: u64, index: u64) -> bool {
    pbit_hash(seed, read, index) >> 63 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_matches_marsaglia_reference() {
        // Marsaglia's paper starts from 2463534242; the first output of (13,17,5) is 723471715.
        let mut g = Xorshift32::new(2_463_534_242);
        assert_eq!(g.step(), 723_471_715);
    }

    #[test]
    fn seeds_are_never_zero_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for read in 0..4 {
            for i in 0..1000 {
                let s = pbit_seed(7, read, i);
                assert_ne!(s, 0);
                seen.insert(s);
            }
        }
        assert_eq!(seen.len(), 4000);
    }

    #[test]
    fn initial_spins_are_balanced() {
        // 10_000 fair bits: the count of ones has sd 50; 5 sd is a tolerance that fails a broken
        // derivation but not a correct one.
        let ones = (0..10_000).filter(|&i| initial_spin(1, 0, i)).count() as i64;
        assert!((ones - 5000).abs() < 250, "{ones}");
    }
}
