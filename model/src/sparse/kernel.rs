//! The fast chromatic kernel: the jobs of [`super::run`] with bit-identical results, one read's
//! sweep vectorised across the p-bits of a colour.
//!
//! Why it can be: within a colour no p-bit reads another's state, and a p-bit's generator does
//! not depend on the state, so a colour phase is a set of independent updates in any order.
//! Each update computes its field from scratch, I_i = h_i + Σ_j J_ij m_j (fields are exact
//! integers that never saturate, so this equals the reference's incremental fields bit for bit).
//!
//! Layout (structure of arrays, a sliced ELLPACK): p-bits are renumbered to *positions*, colour
//! by colour; within a colour, by decreasing degree (order inside a colour is free, see above),
//! and each colour is padded to a multiple of [`CHUNK`] = 16 positions. A chunk of 16 positions
//! stores its neighbours slot-major: for slot d < D_chunk (the chunk's largest degree), the 16
//! neighbour positions and the 16 couplings; missing neighbours have J = 0. Spins are i32 masks
//! (0 for +1, −1 for −1) so J·m = (J ^ mask) − mask, and pad positions are "clamped" with
//! h = 0 and no edges, so they never change and nothing reads them.
//!
//! Per chunk: step 16 xorshift32 generators, gather 16 thresholds, gather D_chunk × 16
//! neighbour spins, sum the fields, compare, keep clamped p-bits, accumulate ΔE. The energy is
//! exact (i32 lane sums flushed to i64 before they could overflow). The best state is copied at
//! the end of a colour phase whose energy is lower than the best (the semantics' rule).
//!
//! Variants: AVX-512 (one chunk = one 512-bit vector), AVX2 (two 256-bit halves) and portable
//! scalar code, chosen at run time ([`Isa`]); all give the same bits.

use super::Phases;
use crate::fixed::FixedIsing;
pub use crate::kernel::Isa;
use crate::run::{AnnealStart, Cancelled, Pages, ReadResult, SampleSpec};
use pbit_spec::{initial_spin, pbit_seed, ThresholdPage};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Positions per chunk: one AVX-512 vector of i32.
pub const CHUNK: usize = 16;

/// An instance laid out for the kernel (shared by every read of a job).
#[derive(Clone, Debug)]
pub struct Layout {
    /// Real p-bits.
    n: usize,
    /// Positions, pads included (a multiple of [`CHUNK`]).
    positions: usize,
    /// Position of p-bit i.
    pos_of: Vec<u32>,
    /// h per position (0 for pads).
    h: Vec<i32>,
    /// Chunk c's neighbour slots start at `chunk_off[c]` (in units of CHUNK entries) and number
    /// `chunk_off[c + 1] − chunk_off[c]`.
    chunk_off: Vec<u32>,
    /// Neighbour positions, slot-major per chunk: entry (c, d, lane) at
    /// `(chunk_off[c] + d)·CHUNK + lane`. Always < `positions`.
    nbr: Vec<i32>,
    /// Raw J of the same entries (0 where a p-bit has fewer neighbours).
    jv: Vec<i32>,
    /// Phase k is chunks `phase_chunks[k]..phase_chunks[k + 1]`.
    phase_chunks: Vec<usize>,
    /// Chunks between flushes of the i32 energy accumulators (so they never overflow).
    flush_chunks: usize,
    /// Random bits of a draw (page index = state >> (32 − rng_bits)).
    rng_bits: u32,
}

impl Layout {
    /// Lays out `problem` for its colour phases.
    pub fn new(problem: &FixedIsing, phases: &Phases) -> Layout {
        let n = problem.n;
        assert_eq!(phases.order.len(), n, "phases must cover the instance");
        let degree =
            |i: u32| (problem.offsets[i as usize + 1] - problem.offsets[i as usize]) as usize;
        let mut pos_of = vec![0u32; n];
        let mut node_of = Vec::new();
        let mut phase_chunks = vec![0usize];
        for k in 0..phases.count() {
            let mut members = phases.phase(k).to_vec();
            // decreasing degree, then index: chunks of similar degree waste fewer slots
            members.sort_by_key(|&i| (std::cmp::Reverse(degree(i)), i));
            for &i in &members {
                pos_of[i as usize] = node_of.len() as u32;
                node_of.push(i);
            }
            while node_of.len() % CHUNK != 0 {
                node_of.push(u32::MAX);
            }
            phase_chunks.push(node_of.len() / CHUNK);
        }
        let positions = node_of.len();
        let chunks = positions / CHUNK;
        let mut h = vec![0i32; positions];
        let mut chunk_off = vec![0u32];
        let mut nbr = Vec::new();
        let mut jv = Vec::new();
        for c in 0..chunks {
            let lanes = &node_of[c * CHUNK..(c + 1) * CHUNK];
            let slots = lanes
                .iter()
                .filter(|&&i| i != u32::MAX)
                .map(|&i| degree(i))
                .max()
                .unwrap_or(0);
            let base = nbr.len();
            // pads and missing neighbours point at the lane's own position with J = 0
            for d in 0..slots {
                for (lane, &i) in lanes.iter().enumerate() {
                    let own = (c * CHUNK + lane) as i32;
                    let (nb_pos, j) = if i == u32::MAX {
                        (own, 0)
                    } else {
                        let (nb, jr) = problem.row(i as usize);
                        match (nb.get(d), jr.get(d)) {
                            (Some(&j), Some(&v)) => (pos_of[j as usize] as i32, v),
                            _ => (own, 0),
                        }
                    };
                    nbr.push(nb_pos);
                    jv.push(j);
                }
            }
            debug_assert_eq!(nbr.len() - base, slots * CHUNK);
            chunk_off.push((nbr.len() / CHUNK) as u32);
            for (lane, &i) in lanes.iter().enumerate() {
                if i != u32::MAX {
                    h[c * CHUNK + lane] = problem.h_raw[i as usize];
                }
            }
        }
        assert!(nbr.iter().all(|&p| (p as usize) < positions));
        // an i32 accumulator lane adds at most |I| ≤ max_field per half-chunk (AVX2 adds both
        // halves of a chunk into one accumulator)
        let max_field = problem.max_field_raw().max(1) as u64;
        let flush_chunks = ((i32::MAX as u64) / (2 * max_field)).max(1) as usize;
        let rng_bits = problem.format.rng_bits;
        assert!((1..=16).contains(&rng_bits));
        Layout {
            n,
            positions,
            pos_of,
            h,
            chunk_off,
            nbr,
            jv,
            phase_chunks,
            flush_chunks,
            rng_bits,
        }
    }

    /// Positions over real p-bits (≥ 1): the work padding adds.
    pub fn padding_ratio(&self) -> f64 {
        self.positions as f64 / self.n.max(1) as f64
    }
    /// Neighbour slots over stored couplings (≥ 1): the work the fixed-degree chunks add.
    pub fn slot_ratio(&self) -> f64 {
        let used = self.jv.iter().filter(|&&v| v != 0).count();
        self.jv.len() as f64 / used.max(1) as f64
    }
}

/// A threshold page as the kernel reads it.
struct Table {
    t: Vec<i32>,
}

impl Table {
    fn new(layout: &Layout, page: &ThresholdPage) -> Table {
        assert_eq!(
            page.thresholds.len(),
            1usize << layout.rng_bits,
            "page built for another rng width"
        );
        Table {
            t: page.thresholds.clone(),
        }
    }
}

/// One read's state.
struct Chain<'l> {
    lay: &'l Layout,
    /// Spin masks per position: 0 for +1, −1 for −1.
    spins: Vec<i32>,
    rngs: Vec<u32>,
    /// −1 where the p-bit updates, 0 where clamped (and at pads).
    free: Vec<i32>,
    energy: i64,
    best: i64,
    best_spins: Vec<i32>,
}

impl<'l> Chain<'l> {
    /// The seeded state of `read` with `clamps` applied (`SparseMachine::new` + `set_clamps`);
    /// with `initial`, that state written afterwards (`set_spins`).
    fn new(
        lay: &'l Layout,
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        seed: u64,
        read: u64,
        initial: Option<&[bool]>,
    ) -> Chain<'l> {
        let n = lay.n;
        let mut spins_b: Vec<bool> = match initial {
            Some(s) => s[..n].to_vec(),
            None => (0..n).map(|i| initial_spin(seed, read, i as u64)).collect(),
        };
        let mut free = vec![0i32; lay.positions];
        for i in 0..n {
            free[lay.pos_of[i] as usize] = -1;
        }
        for &(i, v) in clamps {
            spins_b[i] = v;
            free[lay.pos_of[i] as usize] = 0;
        }
        let mut spins = vec![0i32; lay.positions];
        let mut rngs = vec![1u32; lay.positions];
        for (i, (&pos, &b)) in lay.pos_of.iter().zip(&spins_b).take(n).enumerate() {
            let p = pos as usize;
            spins[p] = -(!b as i32);
            rngs[p] = pbit_seed(seed, read, i as u64);
        }
        let energy = problem.energy_raw(&spins_b);
        Chain {
            lay,
            best_spins: spins.clone(),
            spins,
            rngs,
            free,
            energy,
            best: energy,
        }
    }

    fn spins_of(&self, masks: &[i32]) -> Vec<bool> {
        (0..self.lay.n)
            .map(|i| masks[self.lay.pos_of[i] as usize] == 0)
            .collect()
    }

    /// `count` sweeps; the best is tracked if `BEST`.
    #[inline(always)]
    fn sweeps<const BEST: bool>(&mut self, table: &Table, count: u64, isa: Resolved) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Resolved::Avx512 is only made after the features were detected.
            Resolved::Avx512 => unsafe { self.sweeps_avx512::<BEST>(table, count) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2.
            Resolved::Avx2 => unsafe { self.sweeps_avx2::<BEST>(table, count) },
            Resolved::Portable => self.sweeps_portable::<BEST>(table, count),
        }
    }

    /// After a phase: the best rule.
    #[inline(always)]
    fn phase_end<const BEST: bool>(&mut self) {
        if BEST && self.energy < self.best {
            self.best = self.energy;
            self.best_spins.copy_from_slice(&self.spins);
        }
    }

    fn sweeps_portable<const BEST: bool>(&mut self, table: &Table, count: u64) {
        let lay = self.lay;
        let shift = 32 - lay.rng_bits;
        let t = &table.t[..];
        for _ in 0..count {
            for k in 0..lay.phase_chunks.len() - 1 {
                let mut de = 0i64;
                for c in lay.phase_chunks[k]..lay.phase_chunks[k + 1] {
                    let (a, b) = (lay.chunk_off[c] as usize, lay.chunk_off[c + 1] as usize);
                    for lane in 0..CHUNK {
                        let p = c * CHUNK + lane;
                        let mut x = self.rngs[p];
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        self.rngs[p] = x;
                        let th = t[(x >> shift) as usize];
                        let mut f = lay.h[p];
                        for d in a..b {
                            let e = d * CHUNK + lane;
                            let s = self.spins[lay.nbr[e] as usize];
                            f += (lay.jv[e] ^ s) - s;
                        }
                        let old = self.spins[p];
                        let cand = !(-((f > th) as i32));
                        let new = (cand & self.free[p]) | (old & !self.free[p]);
                        self.spins[p] = new;
                        // ΔE = (m_old − m_new)·I: −2I to +1, +2I to −1
                        let flip = old ^ new;
                        let g = (f ^ !new).wrapping_sub(!new);
                        de += (g & flip) as i64;
                    }
                }
                self.energy += 2 * de;
                self.phase_end::<BEST>();
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sweeps_avx2<const BEST: bool>(&mut self, table: &Table, count: u64) {
        use std::arch::x86_64::*;
        let lay = self.lay;
        let shift = _mm_cvtsi32_si128((32 - lay.rng_bits) as i32);
        let t = table.t.as_ptr();
        let spins = self.spins.as_mut_ptr();
        let rngs = self.rngs.as_mut_ptr() as *mut __m256i;
        let free = self.free.as_ptr() as *const __m256i;
        let h = lay.h.as_ptr() as *const __m256i;
        let nbr = lay.nbr.as_ptr() as *const __m256i;
        let jv = lay.jv.as_ptr() as *const __m256i;
        let ones = _mm256_set1_epi32(-1);
        for _ in 0..count {
            for k in 0..lay.phase_chunks.len() - 1 {
                let (c0, c1) = (lay.phase_chunks[k], lay.phase_chunks[k + 1]);
                let mut de = 0i64;
                let mut c = c0;
                while c < c1 {
                    let stop = (c + lay.flush_chunks).min(c1);
                    let mut acc = _mm256_setzero_si256();
                    while c < stop {
                        let (a, b) = (lay.chunk_off[c] as usize, lay.chunk_off[c + 1] as usize);
                        for half in 0..2 {
                            // vector index of these 8 positions
                            let v = c * 2 + half;
                            let mut x = _mm256_loadu_si256(rngs.add(v));
                            x = _mm256_xor_si256(x, _mm256_slli_epi32(x, 13));
                            x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 17));
                            x = _mm256_xor_si256(x, _mm256_slli_epi32(x, 5));
                            _mm256_storeu_si256(rngs.add(v), x);
                            // indices < 2^rng_bits = the page's length
                            let th = _mm256_i32gather_epi32::<4>(t, _mm256_srl_epi32(x, shift));
                            let mut f = _mm256_loadu_si256(h.add(v));
                            for d in a..b {
                                let e = d * 2 + half;
                                // neighbour positions < positions (checked in Layout::new)
                                let s = _mm256_i32gather_epi32::<4>(
                                    spins,
                                    _mm256_loadu_si256(nbr.add(e)),
                                );
                                let j = _mm256_loadu_si256(jv.add(e));
                                f = _mm256_add_epi32(
                                    f,
                                    _mm256_sub_epi32(_mm256_xor_si256(j, s), s),
                                );
                            }
                            let old = _mm256_loadu_si256(spins.add(v * 8) as *const __m256i);
                            let fr = _mm256_loadu_si256(free.add(v));
                            let up = _mm256_cmpgt_epi32(f, th);
                            // new = free ? !up : old
                            let new = _mm256_or_si256(
                                _mm256_andnot_si256(up, fr),
                                _mm256_andnot_si256(fr, old),
                            );
                            _mm256_storeu_si256(spins.add(v * 8) as *mut __m256i, new);
                            let flip = _mm256_xor_si256(old, new);
                            let notnew = _mm256_xor_si256(new, ones);
                            let g = _mm256_sub_epi32(_mm256_xor_si256(f, notnew), notnew);
                            acc = _mm256_add_epi32(acc, _mm256_and_si256(g, flip));
                        }
                        c += 1;
                    }
                    let mut lanes = [0i32; 8];
                    _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
                    de += lanes.iter().map(|&x| x as i64).sum::<i64>();
                }
                self.energy += 2 * de;
                self.phase_end::<BEST>();
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2")]
    unsafe fn sweeps_avx512<const BEST: bool>(&mut self, table: &Table, count: u64) {
        use std::arch::x86_64::*;
        let lay = self.lay;
        let shift = _mm_cvtsi32_si128((32 - lay.rng_bits) as i32);
        let t = table.t.as_ptr();
        let spins = self.spins.as_mut_ptr();
        let rngs = self.rngs.as_mut_ptr();
        let free = self.free.as_ptr();
        let h = lay.h.as_ptr();
        let nbr = lay.nbr.as_ptr();
        let jv = lay.jv.as_ptr();
        for _ in 0..count {
            for k in 0..lay.phase_chunks.len() - 1 {
                let (c0, c1) = (lay.phase_chunks[k], lay.phase_chunks[k + 1]);
                let mut de = 0i64;
                let mut c = c0;
                while c < c1 {
                    let stop = (c + lay.flush_chunks).min(c1);
                    let mut acc = _mm512_setzero_si512();
                    while c < stop {
                        let (a, b) = (lay.chunk_off[c] as usize, lay.chunk_off[c + 1] as usize);
                        let o = c * CHUNK;
                        let mut x = _mm512_loadu_si512(rngs.add(o) as *const _);
                        x = _mm512_xor_si512(x, _mm512_slli_epi32::<13>(x));
                        x = _mm512_xor_si512(x, _mm512_srli_epi32::<17>(x));
                        x = _mm512_xor_si512(x, _mm512_slli_epi32::<5>(x));
                        _mm512_storeu_si512(rngs.add(o) as *mut _, x);
                        // indices < 2^rng_bits = the page's length
                        let th = _mm512_i32gather_epi32::<4>(_mm512_srl_epi32(x, shift), t);
                        let mut f = _mm512_loadu_si512(h.add(o) as *const _);
                        for d in a..b {
                            let e = d * CHUNK;
                            // neighbour positions < positions (checked in Layout::new)
                            let s = _mm512_i32gather_epi32::<4>(
                                _mm512_loadu_si512(nbr.add(e) as *const _),
                                spins as *const i32,
                            );
                            let j = _mm512_loadu_si512(jv.add(e) as *const _);
                            f = _mm512_add_epi32(f, _mm512_sub_epi32(_mm512_xor_si512(j, s), s));
                        }
                        let old = _mm512_loadu_si512(spins.add(o) as *const _);
                        let fr = _mm512_loadu_si512(free.add(o) as *const _);
                        // m = !(f > th) as a mask, kept where clamped: new = free ? ¬up : old
                        let up: __mmask16 = _mm512_cmpgt_epi32_mask(f, th);
                        let cand = _mm512_mask_blend_epi32(
                            up,
                            _mm512_set1_epi32(-1),
                            _mm512_setzero_si512(),
                        );
                        let new = _mm512_or_si512(
                            _mm512_and_si512(cand, fr),
                            _mm512_andnot_si512(fr, old),
                        );
                        _mm512_storeu_si512(spins.add(o) as *mut _, new);
                        // ΔE lane: −I on a flip to +1, +I on a flip to −1 (times 2 below)
                        let flip: __mmask16 = _mm512_cmpneq_epi32_mask(old, new);
                        let to_down: __mmask16 =
                            _mm512_cmpneq_epi32_mask(new, _mm512_setzero_si512());
                        let g = _mm512_mask_sub_epi32(f, !to_down, _mm512_setzero_si512(), f);
                        acc = _mm512_mask_add_epi32(acc, flip, acc, g);
                        c += 1;
                    }
                    // widen before summing the lanes: 16 lane sums may exceed i32
                    let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
                    let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(acc));
                    de += _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
                }
                self.energy += 2 * de;
                self.phase_end::<BEST>();
            }
        }
    }
}

/// The variant that runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolved {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Portable,
}

fn resolve(isa: Isa) -> Resolved {
    #[cfg(target_arch = "x86_64")]
    {
        if isa == Isa::Auto && std::arch::is_x86_feature_detected!("avx512f") {
            return Resolved::Avx512;
        }
        if isa != Isa::Portable && std::arch::is_x86_feature_detected!("avx2") {
            return Resolved::Avx2;
        }
    }
    let _ = isa;
    Resolved::Portable
}

/// The variant [`Isa::Auto`] runs on this CPU: "avx512", "avx2" or "portable".
pub fn detected_isa() -> &'static str {
    match resolve(Isa::Auto) {
        #[cfg(target_arch = "x86_64")]
        Resolved::Avx512 => "avx512",
        #[cfg(target_arch = "x86_64")]
        Resolved::Avx2 => "avx2",
        Resolved::Portable => "portable",
    }
}

/// Anneals reads `reads`; identical to [`super::run::anneal_read`] for each read, in read
/// order, whatever `threads`. `progress(k)`: k more sweeps done.
#[allow(clippy::too_many_arguments)]
pub fn anneal_reads(
    problem: &FixedIsing,
    phases: &Phases,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    reads: Range<u64>,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    isa: Isa,
) -> Vec<ReadResult> {
    anneal_reads_from(
        problem,
        phases,
        clamps,
        pages,
        seed,
        reads,
        threads,
        progress,
        isa,
        AnnealStart::default(),
    )
    .expect("a job without a cancel flag runs to the end")
}

/// [`anneal_reads`] with the optional parts of [`AnnealStart`]: read r identical to
/// [`super::run::anneal_read_from`] with `start.initial[r − reads.start]`; stops with
/// [`Cancelled`] within 64 sweeps of `start.cancel` being set. Panics if `start.initial` does
/// not hold one state of `problem.n` spins per read.
#[allow(clippy::too_many_arguments)]
pub fn anneal_reads_from(
    problem: &FixedIsing,
    phases: &Phases,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    reads: Range<u64>,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    isa: Isa,
    start: AnnealStart,
) -> Result<Vec<ReadResult>, Cancelled> {
    start.check(problem.n, &reads);
    let first_read = reads.start;
    let lay = Layout::new(problem, phases);
    let reads: Vec<u64> = reads.collect();
    let tables: Vec<(Table, u64)> = pages
        .steps
        .iter()
        .map(|(p, s)| (Table::new(&lay, p), *s))
        .collect();
    let resolved = resolve(isa);
    let run = |read: u64| {
        let initial = start
            .initial
            .map(|states| &states[(read - first_read) as usize][..]);
        let mut ch = Chain::new(&lay, problem, clamps, seed, read, initial);
        for (t, sweeps) in &tables {
            // progress in slices, so the compiled loop runs many sweeps per call
            let mut left = *sweeps;
            while left > 0 {
                if start.cancelled() {
                    return None;
                }
                let k = left.min(64);
                ch.sweeps::<true>(t, k, resolved);
                progress(k);
                left -= k;
            }
        }
        Some(ReadResult {
            read,
            best_energy_raw: ch.best,
            best_spins: ch.spins_of(&ch.best_spins),
            final_energy_raw: ch.energy,
        })
    };
    parallel_map(reads.len(), threads, |r| run(reads[r]))
        .into_iter()
        .map(|r| r.ok_or(Cancelled))
        .collect()
}

/// Runs `f(0..count)` on up to `threads` workers; results in index order.
fn parallel_map<T: Send>(count: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let workers = threads.max(1).min(count);
    if workers <= 1 {
        return (0..count).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    break;
                }
                let r = f(k);
                done.lock().unwrap().push((k, r));
            });
        }
    });
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|d| d.0);
    done.into_iter().map(|d| d.1).collect()
}

/// Runs one chain (read 0) at one page: the same calls of `record` as [`super::run::sample`].
#[allow(clippy::too_many_arguments)]
pub fn sample(
    problem: &FixedIsing,
    phases: &Phases,
    clamps: &[(usize, bool)],
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
    mut record: impl FnMut(&[bool], i64),
    isa: Isa,
) {
    assert!(
        spec.every > 0 || spec.sweeps == 0,
        "SampleSpec::every must be positive"
    );
    let lay = Layout::new(problem, phases);
    let table = Table::new(&lay, page);
    let resolved = resolve(isa);
    let mut ch = Chain::new(&lay, problem, clamps, seed, 0, None);
    ch.sweeps::<false>(&table, spec.burn_in, resolved);
    let mut spins = vec![false; lay.n];
    let mut t = 0u64;
    while t < spec.sweeps {
        let upto = ((t / spec.every + 1) * spec.every).min(spec.sweeps);
        ch.sweeps::<false>(&table, upto - t, resolved);
        t = upto;
        if t.is_multiple_of(spec.every) {
            for (i, s) in spins.iter_mut().enumerate() {
                *s = ch.spins[lay.pos_of[i] as usize] == 0;
            }
            record(&spins, ch.energy);
        }
    }
}

/// Relax chains ([`super::run::relax_chain`] for chain c at read `first_read + c`), on up to
/// `threads` workers; final states in chain order.
#[allow(clippy::too_many_arguments)]
pub fn relax_chains(
    problem: &FixedIsing,
    phases: &Phases,
    clamped: &[usize],
    page: &ThresholdPage,
    seed: u64,
    first_read: u64,
    initial: &[Vec<bool>],
    sweeps: u64,
    threads: usize,
    isa: Isa,
) -> Vec<Vec<bool>> {
    let lay = Layout::new(problem, phases);
    let table = Table::new(&lay, page);
    let resolved = resolve(isa);
    // below ~64k updates, spawning threads costs more than it saves
    let work = initial.len() as u64 * sweeps.max(1) * problem.n.max(1) as u64;
    let threads = if work < 65_536 { 1 } else { threads };
    parallel_map(initial.len(), threads, |c| {
        let s = &initial[c];
        let clamps: Vec<(usize, bool)> = clamped.iter().map(|&i| (i, s[i])).collect();
        let mut ch = Chain::new(&lay, problem, &clamps, seed, first_read + c as u64, Some(s));
        ch.sweeps::<false>(&table, sweeps, resolved);
        ch.spins_of(&ch.spins)
    })
}
