//! Per-p-bit random numbers.
//!
//! Every p-bit owns a 32-bit xorshift generator (Marsaglia 2003, shifts 13, 17, 5). One draw is
//! one full step of the generator, so successive words share no bits; the decision uses the top
//! `rng_bits` bits of the new state. In gateware a step is three shift-xor stages, no adders.
//!
//! States derive from (user seed, read, p-bit index) by [`pbit_seed`], never from the machine's
//! size, so a small instance gives the same stream on any machine it fits.
//!
//! Both generators here implement rand_core 0.9's [`RngCore`] and [`SeedableRng`], so a user
//! can seed one with `seed_from_u64` and draw from it with rand 0.9's distributions. Only
//! [`Xorshift32::draw`] (and [`Xorshift32::step`]) is machine semantics: what the gateware and
//! the model compute. [`HostRng`] is the host's generator for everything else random on the
//! host side (learning's mini-batch order and initial weights, test instance generators, chain
//! starts on the host); it is never part of a bit-exact stream.

use rand_core::{impls, RngCore, SeedableRng};

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

/// rand_core's view of a p-bit's generator: `next_u32` is one [`Xorshift32::step`] (the
/// whole new state); `next_u64` two steps, the first in the high word.
impl RngCore for Xorshift32 {
    fn next_u32(&mut self) -> u32 {
        self.step()
    }
    fn next_u64(&mut self) -> u64 {
        let hi = self.step() as u64;
        (hi << 32) | self.step() as u64
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        impls::fill_bytes_via_next(self, dst)
    }
}

/// Seeded from 4 little-endian bytes; a zero seed (xorshift's fixed point) becomes
/// [`ZERO_SEED_REPLACEMENT`], as in [`pbit_seed`].
impl SeedableRng for Xorshift32 {
    type Seed = [u8; 4];
    fn from_seed(seed: [u8; 4]) -> Self {
        let s = u32::from_le_bytes(seed);
        Xorshift32::new(if s == 0 { ZERO_SEED_REPLACEMENT } else { s })
    }
}

/// The host's generator: splitmix64 as a counter-based generator (output `splitmix64(c)` for the
/// counter c = state + 1, state + 2, …). One type for all host-side randomness; not machine
/// semantics (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostRng {
    pub state: u64,
}

impl HostRng {
    /// A generator whose counter starts at `state` (its first output is `splitmix64(state + 1)`).
    pub fn new(state: u64) -> HostRng {
        HostRng { state }
    }
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(1);
        splitmix64(self.state)
    }
    /// Uniform in [0, 1), 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform-ish in 0..k (`next() % k`: a bias below k / 2⁶⁴, negligible for test and learning
    /// use). `k` must be non-zero.
    pub fn below(&mut self, k: u64) -> u64 {
        self.next_u64() % k
    }
    /// A fair bit (the top bit of the next output).
    pub fn bit(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }
}

impl RngCore for HostRng {
    fn next_u32(&mut self) -> u32 {
        (HostRng::next_u64(self) >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        HostRng::next_u64(self)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        impls::fill_bytes_via_next(self, dst)
    }
}

/// Seeded from 8 little-endian bytes: the counter's start.
impl SeedableRng for HostRng {
    type Seed = [u8; 8];
    fn from_seed(seed: [u8; 8]) -> Self {
        HostRng::new(u64::from_le_bytes(seed))
    }
    fn seed_from_u64(state: u64) -> Self {
        HostRng::new(state)
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

    /// rand 0.9's distributions draw from both generators; rand's view of a Xorshift32 is its
    /// machine stream (next_u32 = step), and seeding through rand_core matches `new`.
    #[test]
    fn rand_core_views_are_the_generators() {
        use rand::{Rng, SeedableRng};
        let mut a = Xorshift32::seed_from_u64(42);
        let mut b = a;
        let x: u32 = a.random();
        assert_eq!(x, b.step());
        assert_eq!(
            Xorshift32::from_seed(0u32.to_le_bytes()).state,
            ZERO_SEED_REPLACEMENT
        );
        assert_eq!(
            Xorshift32::from_seed(7u32.to_le_bytes()),
            Xorshift32::new(7)
        );
        let mut h = HostRng::seed_from_u64(5);
        let mut g = HostRng::new(5);
        assert_eq!(RngCore::next_u64(&mut h), g.next_u64());
        // a die from rand's uniform distribution: every face over 6,000 rolls (each face's
        // count is Binomial(6000, 1/6), sd 29; 0 of a face is ~34 sd away)
        let mut counts = [0u32; 6];
        for _ in 0..6000 {
            counts[h.random_range(0..6usize)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (c as i64 - 1000).abs() < 200),
            "{counts:?}"
        );
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
