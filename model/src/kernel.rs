//! The fast kernel: the jobs of [`crate::run`] with bit-identical results, many reads at once.
//!
//! Lanes: a batch of up to 8 reads ("lanes") is interleaved so that p-bit i's state in every
//! lane is one small array: `spins[i][lane]` (a mask: −1 for +1, 0 for −1), `rngs[i][lane]`
//! and, in the sparse layouts, `fields[i][lane]`. One update of p-bit i steps all its
//! generators at once, looks up the thresholds, compares, and, if any lane flips, adds
//! `J_ij · 2m_new` (zero on lanes that keep their value) to every neighbour's fields. Each lane
//! does exactly what [`Machine::sweep`] does for its read, in the same order, so every read stays
//! bit-exact whatever the batch, the thread count or the instruction set.
//!
//! Layouts ([`layout`]): sparse instances keep lane-interleaved rows (one vector add per
//! neighbour per flipping update); dense ones (≥ 25% of pairs coupled) keep each lane's fields
//! contiguous and 2·J as an n×n matrix, so a flip in one lane is n/32 (or n/16) vector adds.
//! Fields are i16 when every field the instance can reach and every 2·J fit 16 bits, else i32.
//! Draws: the generators never depend on the state, so on all but low-degree graphs a block of
//! p-bits' draws and thresholds are taken ahead of their updates (vectorised, off the
//! sequential path). On low-degree graphs (lattices) multi-lane updates skip the "did any lane
//! flip" branch: adding zeros is cheaper than a mispredicted skip.
//!
//! Best state without a per-sweep copy: a row that flips in a sweep records its flip mask and the
//! sweep's tag. If a lane's lowest energy in a sweep was reached at position `at`, its best state
//! is the current spins up to `at` and, after `at`, the current spins with that sweep's flips
//! undone (those p-bits had not been updated yet when the best was seen).
//!
//! The code is plain Rust over fixed-size arrays that LLVM vectorises; it is compiled for
//! AVX-512, for AVX2 and portable, and the variant is chosen at run time ([`Isa`]). The
//! `unsafe` is the call of a `#[target_feature]` function after the feature was detected, and
//! the threshold gather of the AVX2 and AVX-512 builds ([`draw_block`]), which LLVM does not
//! emit by itself there.
//!
//! Sparse stores of up to 2^16 p-bits hold 2^16 rows and index them by u16 ([`ROWS`]): the
//! neighbour loop of a flip then has no bounds check. Where a row's couplings take few values
//! (G-set graphs: one), its neighbours are kept in runs of equal J ([`Near::Grouped`]): a flip
//! forms J·2m once per run, and each neighbour is a load, an add and a store, eight per loop
//! step. Measured on G1 at eight reads (`examples/bench`, CPU-s of 4000 sweeps, maxcut): 0.108
//! before, 0.095 with the gather, 0.079 with u16 rows, 0.060 with the unrolled runs.
//!
//! [`Machine::sweep`]: crate::machine::Machine::sweep

use crate::fixed::FixedIsing;
use crate::run::{AnnealStart, Cancelled, Pages, ReadResult, SampleSpec};
use pbit_spec::{initial_spin, pbit_seed, ThresholdPage};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Which compiled variant of the kernel to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Isa {
    /// The widest the CPU supports (AVX-512, then AVX2, then portable).
    #[default]
    Auto,
    /// The AVX2 build even if AVX-512 is there (portable without AVX2), for comparison.
    Avx2,
    /// The portable build (baseline target features), for tests and comparison.
    Portable,
}

/// The variant [`Isa::Auto`] picks on this CPU: "avx512", "avx2" or "portable".
pub fn detected_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "avx2";
        }
    }
    "portable"
}

/// The field layout the kernel uses for `problem`: "sparse-i16" or "sparse-i32"
/// (lane-interleaved rows, one masked add per neighbour), "dense-i16" or "dense-i32" (lane-major
/// fields, whole-row vector adds); i16 when every reachable field and 2·J fit 16 bits.
pub fn layout(problem: &FixedIsing) -> &'static str {
    Layout::choose(problem).name()
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx2")
}

/// Threshold table padded to 2^16 entries so a masked 16-bit index needs no bounds check.
const TABLE_LEN: usize = 1 << 16;
const TABLE_MASK: u32 = (TABLE_LEN - 1) as u32;
/// P-bits whose draws are taken ahead of their updates.
const BLOCK: usize = 128;
/// Sparse multi-lane stores of instances with at most this many p-bits hold exactly this many
/// rows and index them by u16 ([`Near`]): a neighbour's row then needs no bounds check. The rows
/// past n are never touched, but a reused heap block is zeroed in full (up to 2 MiB): jobs of
/// fewer than [`MIN_PADDED_WORK`] p-bit sweeps per read keep n rows.
const ROWS: usize = 1 << 16;
/// n × sweeps per read below which a job's stores are not padded to `ROWS` rows: zeroing 2 MiB
/// (~50 µs) is then at most a few per cent of a batch (2^16 × 8 lanes ≈ 1 ms of updates).
const MIN_PADDED_WORK: u64 = 1 << 16;

/// The neighbour lists of a sparse job as u16 (instances of at most `ROWS` p-bits).
enum Near {
    /// More than `ROWS` p-bits, a short job, or a job that pushes no rows: the CSR as it is.
    None,
    /// The CSR's neighbours in its order, each with its J.
    Plain(Vec<u16>),
    /// Row i's neighbours (the same block of `nb` as the CSR's row) ordered by J, in runs of
    /// equal J: `segs[seg_off[i]..seg_off[i + 1]]` are the runs (J, end of the run in `nb`).
    /// A flip then multiplies once per run instead of once per neighbour. The order of a row's
    /// adds never changes a result: each neighbour's field gets one integer add per flip.
    Grouped {
        nb: Vec<u16>,
        seg_off: Vec<u32>,
        segs: Vec<(i32, u32)>,
    },
}

impl Near {
    /// Runs of equal J pay when they average at least this many neighbours (G-set graphs have
    /// one run per row; a ±J lattice has about two of two, and stays `Plain`).
    const MIN_RUN: usize = 4;

    /// The lists for a job of `sweeps` sweeps per read (`Near::None` for short jobs, see
    /// [`MIN_PADDED_WORK`]).
    fn new(p: &FixedIsing, sweeps: u64) -> Near {
        if p.n > ROWS || (p.n as u64).saturating_mul(sweeps) < MIN_PADDED_WORK {
            return Near::None;
        }
        let mut nb = Vec::with_capacity(p.neighbors.len());
        let mut seg_off = Vec::with_capacity(p.n + 1);
        let mut segs = Vec::new();
        let mut row: Vec<(i32, u32)> = Vec::new();
        seg_off.push(0u32);
        for i in 0..p.n {
            let (nbrs, jv) = p.row(i);
            let base = nb.len() as u32;
            if jv.windows(2).all(|w| w[0] == w[1]) {
                nb.extend(nbrs.iter().map(|&j| j as u16));
                if let Some(&v) = jv.first() {
                    segs.push((v, base + jv.len() as u32));
                }
            } else {
                row.clear();
                row.extend(jv.iter().zip(nbrs).map(|(&v, &j)| (v, j)));
                row.sort_unstable();
                for (k, &(v, j)) in row.iter().enumerate() {
                    nb.push(j as u16);
                    if row.get(k + 1).is_none_or(|next| next.0 != v) {
                        segs.push((v, base + k as u32 + 1));
                    }
                }
            }
            seg_off.push(segs.len() as u32);
            if segs.len() * Near::MIN_RUN > p.neighbors.len() {
                // too many runs already: not worth grouping
                return Near::Plain(p.neighbors.iter().map(|&j| j as u16).collect());
            }
        }
        Near::Grouped { nb, seg_off, segs }
    }
}

struct Table {
    t: Box<[i32; TABLE_LEN]>,
    shift: u32,
}

impl Table {
    fn new(problem: &FixedIsing) -> Table {
        let k = problem.format.rng_bits;
        assert!((1..=16).contains(&k), "rng_bits must be at most 16");
        let t: Box<[i32; TABLE_LEN]> = vec![0i32; TABLE_LEN].into_boxed_slice().try_into().unwrap();
        Table { t, shift: 32 - k }
    }
    fn load(&mut self, page: &ThresholdPage) {
        let len = 1usize << (32 - self.shift);
        assert_eq!(
            page.thresholds.len(),
            len,
            "page built for another rng width"
        );
        self.t[..len].copy_from_slice(&page.thresholds);
    }
}

/// How a job stores its couplings, and so its lanes' fields.
enum Layout {
    /// Lane-interleaved fields `[[i16; L]; n]`; the CSR's J as i16 (every field and 2·J fit).
    /// Runs as `Sparse32` with one lane.
    Sparse16(Vec<i16>),
    /// Lane-interleaved fields `[[i32; L]; n]`; the CSR's J as it is.
    Sparse32,
    /// Lane-major fields `[i16; L·n]`; 2·J as a dense n×n matrix (zero diagonal).
    Dense16(Vec<i16>),
    /// Lane-major fields `[i32; L·n]`; 2·J as a dense n×n matrix.
    Dense32(Vec<i32>),
}

/// The dense layout pays when most pairs are coupled: a flip then costs n/16 (or n/32) vector
/// adds per flipping lane instead of one masked add per neighbour (measured: a G1-like graph
/// at 6% fill is faster sparse). Limits the matrix to 64 MiB.
const DENSE_MIN_FILL: f64 = 0.25;
const DENSE_MAX_N: usize = 4096;

impl Layout {
    fn choose(p: &FixedIsing) -> Layout {
        let n = p.n;
        // every field a run can reach is within ±max_field_raw, and a field changes by 2·J:
        // 16-bit cells never overflow when both fit
        let max_j = p.j_raw.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as i64;
        let small = p.max_field_raw() <= i16::MAX as i64 && 2 * max_j <= i16::MAX as i64;
        let dense = (2..=DENSE_MAX_N).contains(&n)
            && p.neighbors.len() as f64 >= DENSE_MIN_FILL * (n * (n - 1)) as f64;
        if !dense {
            return if small {
                Layout::Sparse16(p.j_raw.iter().map(|&v| v as i16).collect())
            } else {
                Layout::Sparse32
            };
        }
        let mut m = vec![0i32; n * n];
        for i in 0..n {
            let (nb, jv) = p.row(i);
            for (&j, &v) in nb.iter().zip(jv) {
                m[i * n + j as usize] = 2 * v;
            }
        }
        if small {
            Layout::Dense16(m.into_iter().map(|v| v as i16).collect())
        } else {
            Layout::Dense32(m)
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Layout::Sparse16(_) => "sparse-i16",
            Layout::Sparse32 => "sparse-i32",
            Layout::Dense16(_) => "dense-i16",
            Layout::Dense32(_) => "dense-i32",
        }
    }
}

/// Sparse instances with at most 8 neighbours per p-bit on average (lattices) run best with
/// each draw taken just before its update; denser ones take a block's draws ahead (measured).
fn low_degree(p: &FixedIsing) -> bool {
    p.neighbors.len() <= 8 * p.n
}

/// The lanes' fields, in the job's layout.
enum Store<const L: usize> {
    Rows16(Vec<[i16; L]>),
    Rows32(Vec<[i32; L]>),
    Cells16(Vec<i16>),
    Cells32(Vec<i32>),
}

/// A field cell: i16 or i32.
trait Cell:
    Copy
    + Default
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::Mul<Output = Self>
    + Send
    + Sync
    + 'static
{
    fn to_i32(self) -> i32;
    /// Truncating; callers stay in range (see [`Layout::choose`]).
    fn from_i32(v: i32) -> Self;
    /// (sparse rows, dense cells) of a store of this cell type; the other one is empty.
    fn split<const L: usize>(s: &mut Store<L>) -> (&mut [[Self; L]], &mut [Self]);
}

impl Cell for i16 {
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_i32(v: i32) -> i16 {
        v as i16
    }
    fn split<const L: usize>(s: &mut Store<L>) -> (&mut [[i16; L]], &mut [i16]) {
        match s {
            Store::Rows16(v) => (v, &mut []),
            Store::Cells16(v) => (&mut [], v),
            _ => unreachable!("store of another cell type"),
        }
    }
}

impl Cell for i32 {
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self
    }
    #[inline(always)]
    fn from_i32(v: i32) -> i32 {
        v
    }
    fn split<const L: usize>(s: &mut Store<L>) -> (&mut [[i32; L]], &mut [i32]) {
        match s {
            Store::Rows32(v) => (v, &mut []),
            Store::Cells32(v) => (&mut [], v),
            _ => unreachable!("store of another cell type"),
        }
    }
}

/// The interleaved state of `L` reads.
struct Lanes<const L: usize> {
    fields: Store<L>,
    /// −1 for +1, 0 for −1.
    spins: Vec<[i32; L]>,
    rngs: Vec<[u32; L]>,
    /// Flip mask of row p in sweep `flip_tag[p]`.
    flips: Vec<[i32; L]>,
    flip_tag: Vec<u64>,
    best_spins: Vec<[i32; L]>,
    energy: [i64; L],
    best: [i64; L],
    sweep: u64,
}

impl<const L: usize> Lanes<L> {
    /// Lane l is read `reads[l]` in the state `Machine::new` + `set_clamps` gives; with
    /// `initial`, lane l's state is then `initial[l]` (`set_spins`: clamped p-bits keep their
    /// clamp value). A sparse store has `ROWS` rows when `near` is not `Near::None` (and L > 1).
    fn new(
        problem: &FixedIsing,
        clamps: &[(usize, bool)],
        seed: u64,
        reads: &[u64],
        initial: Option<&[&[bool]]>,
        layout: &Layout,
        near: &Near,
    ) -> Self {
        assert_eq!(reads.len(), L);
        let n = problem.n;
        let rows = match near {
            Near::None => n,
            _ if L == 1 => n,
            _ => ROWS,
        };
        let mut st = Lanes {
            fields: match layout {
                Layout::Sparse16(_) if L > 1 => Store::Rows16(vec![[0; L]; rows]),
                Layout::Sparse16(_) | Layout::Sparse32 => Store::Rows32(vec![[0; L]; rows]),
                Layout::Dense16(_) => Store::Cells16(vec![0; L * n]),
                Layout::Dense32(_) => Store::Cells32(vec![0; L * n]),
            },
            spins: vec![[0; L]; n],
            rngs: vec![[0; L]; n],
            flips: vec![[0; L]; n],
            flip_tag: vec![0; n],
            best_spins: vec![[0; L]; n],
            energy: [0; L],
            best: [0; L],
            sweep: 0,
        };
        // every lane's state, then all lanes' fields and energies in one pass over the CSR:
        // I_i = h_i + Σ_j J_ij m_j, and E = −(Σ_i m_i·I_i + Σ_i m_i·h_i)/2 (each pair counted
        // twice in the first sum), the integers `FixedIsing::fields` and `energy_raw` give
        let mut spins = vec![false; n];
        let mut m = vec![[0i32; L]; n];
        for (l, &read) in reads.iter().enumerate() {
            for (i, s) in spins.iter_mut().enumerate() {
                *s = match initial {
                    Some(states) => states[l][i],
                    None => initial_spin(seed, read, i as u64),
                };
                st.rngs[i][l] = pbit_seed(seed, read, i as u64);
            }
            for &(i, v) in clamps {
                spins[i] = v;
            }
            for i in 0..n {
                st.spins[i][l] = -(spins[i] as i32);
                m[i][l] = if spins[i] { 1 } else { -1 };
            }
        }
        // twice the energy, negated
        let mut twice = [0i64; L];
        for (i, mi) in m.iter().enumerate() {
            let (nb, jv) = problem.row(i);
            let h = problem.h_raw[i];
            // partial sums stay within ±max_field_raw, which fits i32 (FixedIsing::new)
            let mut f = [h; L];
            for (&j, &v) in nb.iter().zip(jv) {
                let mj = &m[j as usize];
                for l in 0..L {
                    f[l] += v * mj[l];
                }
            }
            for l in 0..L {
                twice[l] += mi[l] as i64 * (f[l] as i64 + h as i64);
                match &mut st.fields {
                    Store::Rows16(r) => r[i][l] = f[l] as i16,
                    Store::Rows32(r) => r[i][l] = f[l],
                    Store::Cells16(c) => c[l * n + i] = f[l] as i16,
                    Store::Cells32(c) => c[l * n + i] = f[l],
                }
            }
        }
        for (e, &t) in st.energy.iter_mut().zip(&twice) {
            debug_assert_eq!(t % 2, 0);
            *e = -t / 2;
        }
        st.best = st.energy;
        st.best_spins.clone_from(&st.spins);
        st
    }

    fn spins_of(rows: &[[i32; L]], l: usize) -> Vec<bool> {
        rows.iter().map(|r| r[l] != 0).collect()
    }

    /// One sweep of every lane at the table's page, in the job's layout; see [`sweep`].
    #[inline(always)]
    fn sweep_in<const BEST: bool, const GATHER: bool>(
        &mut self,
        p: &FixedIsing,
        layout: &Layout,
        low_degree: bool,
        near: &Near,
        clamped: &[bool],
        table: &Table,
    ) {
        match layout {
            Layout::Dense16(m) => {
                self.sweep::<BEST, GATHER, true, true, i16>(p, m, near, clamped, table)
            }
            Layout::Dense32(m) => {
                self.sweep::<BEST, GATHER, true, true, i32>(p, m, near, clamped, table)
            }
            // one lane: i32 scalar code is faster than i16 (measured)
            Layout::Sparse16(v) if L > 1 && low_degree => {
                self.sweep::<BEST, GATHER, false, false, i16>(p, v, near, clamped, table)
            }
            Layout::Sparse16(v) if L > 1 => {
                self.sweep::<BEST, GATHER, false, true, i16>(p, v, near, clamped, table)
            }
            Layout::Sparse16(_) | Layout::Sparse32 if L == 1 => {
                self.sweep1::<BEST>(p, clamped, table)
            }
            Layout::Sparse16(_) | Layout::Sparse32 if low_degree => {
                self.sweep::<BEST, GATHER, false, false, i32>(p, &p.j_raw, near, clamped, table)
            }
            Layout::Sparse16(_) | Layout::Sparse32 => {
                self.sweep::<BEST, GATHER, false, true, i32>(p, &p.j_raw, near, clamped, table)
            }
        }
    }

    /// [`sweep`] for one lane of sparse i32 rows: plain scalar code with few live values.
    ///
    /// [`sweep`]: Lanes::sweep
    #[inline(always)]
    fn sweep1<const BEST: bool>(&mut self, p: &FixedIsing, clamped: &[bool], table: &Table) {
        let n = p.n;
        let shift = table.shift;
        let t = &*table.t;
        self.sweep += 1;
        let tag = self.sweep;
        let Store::Rows32(rows) = &mut self.fields else {
            unreachable!("one lane runs sparse layouts with i32 rows")
        };
        let fields = &mut rows[..n];
        let spins = &mut self.spins[..n];
        let rngs = &mut self.rngs[..n];
        let flips = &mut self.flips[..n];
        let flip_tag = &mut self.flip_tag[..n];
        let clamped = &clamped[..n];
        let offsets = &p.offsets[..n + 1];
        let (nbrs, jr) = (&p.neighbors[..], &p.j_raw[..]);
        let mut energy = self.energy[0];
        let mut best = self.best[0];
        let mut best_at = usize::MAX;
        for i in 0..n {
            let mut x = rngs[i][0];
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            rngs[i][0] = x;
            if clamped[i] {
                continue;
            }
            let f = fields[i][0];
            let up = f > t[((x >> shift) & TABLE_MASK) as usize];
            if up == (spins[i][0] != 0) {
                continue;
            }
            let d: i32 = if up { 2 } else { -2 };
            spins[i][0] = -(up as i32);
            energy -= d as i64 * f as i64;
            if BEST {
                flips[i][0] = -1;
                flip_tag[i] = tag;
                if energy < best {
                    best = energy;
                    best_at = i;
                }
            }
            let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
            for (&j, &v) in nbrs[a..b].iter().zip(&jr[a..b]) {
                fields[j as usize][0] += v * d;
            }
        }
        self.energy[0] = energy;
        if BEST {
            self.best[0] = best;
            if best_at != usize::MAX {
                let best_spins = &mut self.best_spins[..n];
                for pos in 0..n {
                    let undo = if flip_tag[pos] == tag {
                        flips[pos][0]
                    } else {
                        0
                    };
                    best_spins[pos][0] = if pos <= best_at {
                        spins[pos][0]
                    } else {
                        spins[pos][0] ^ undo
                    };
                }
            }
        }
    }

    /// One sweep of every lane at the table's page. With `BEST`, tracks the best state. With
    /// `DENSE`, fields are lane-major and `mat` is 2·J as an n×n matrix; otherwise fields are
    /// lane-interleaved rows and `mat` holds the CSR's J. With `PRE`, a block's draws are taken
    /// ahead of its updates.
    ///
    /// [`sweep`]: Lanes::sweep
    #[inline(always)]
    fn sweep<const BEST: bool, const GATHER: bool, const DENSE: bool, const PRE: bool, T: Cell>(
        &mut self,
        p: &FixedIsing,
        mat: &[T],
        near: &Near,
        clamped: &[bool],
        table: &Table,
    ) {
        let n = p.n;
        let shift = table.shift;
        let t = &*table.t;
        self.sweep += 1;
        let tag = self.sweep;
        let (rows, cells) = T::split(&mut self.fields);
        // all of a sparse store: ROWS rows when the job's `Near` has u16 lists
        let rows = if DENSE { &mut rows[..0] } else { rows };
        let cells = &mut cells[..if DENSE { L * n } else { 0 }];
        let mat = &mat[..if DENSE { n * n } else { p.neighbors.len() }];
        let spins = &mut self.spins[..n];
        let rngs = &mut self.rngs[..n];
        let flips = &mut self.flips[..n];
        let flip_tag = &mut self.flip_tag[..n];
        let clamped = &clamped[..n];
        let offsets = &p.offsets[..n + 1];
        let mut energy = self.energy;
        let mut best = self.best;
        let mut best_at = [-1i32; L];
        // The generators do not depend on the state: with PRE a block's draws and thresholds
        // are taken first (vectorised, off the sequential path), then its updates run in order.
        let mut thr = [[0i32; L]; BLOCK];
        let block = if PRE { BLOCK } else { n.max(1) };
        for start in (0..n).step_by(block) {
            let end = (start + block).min(n);
            if PRE {
                draw_block::<L, GATHER>(&mut rngs[start..end], &mut thr, t, shift);
            }
            for i in start..end {
                let th = if PRE {
                    thr[i - start]
                } else {
                    let mut x = rngs[i];
                    for v in x.iter_mut() {
                        *v ^= *v << 13;
                        *v ^= *v >> 17;
                        *v ^= *v << 5;
                    }
                    rngs[i] = x;
                    let mut th = [0i32; L];
                    for l in 0..L {
                        th[l] = t[((x[l] >> shift) & TABLE_MASK) as usize];
                    }
                    th
                };
                if clamped[i] {
                    continue;
                }
                let mut f = [0i32; L];
                if DENSE {
                    for (l, v) in f.iter_mut().enumerate() {
                        *v = cells[l * n + i].to_i32();
                    }
                } else {
                    let r = rows[i];
                    for l in 0..L {
                        f[l] = r[l].to_i32();
                    }
                }
                let s = spins[i];
                let mut flip = [0i32; L];
                for l in 0..L {
                    flip[l] = -((f[l] > th[l]) as i32) ^ s[l];
                }
                // Rows with few neighbours go on without a branch (a no-flip update adds zeros):
                // cheaper than a mispredicted skip when flips are frequent.
                let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
                let branchless = !DENSE && L >= 4 && b - a <= 8;
                if !branchless && flip.iter().fold(0, |a, &b| a | b) == 0 {
                    continue;
                }
                // d = 2·m_new on flipping lanes, 0 elsewhere; m_new = +1 iff the new mask is −1
                let mut d = [0i32; L];
                let mut s_new = [0i32; L];
                for l in 0..L {
                    s_new[l] = s[l] ^ flip[l];
                    d[l] = (-4 * s_new[l] - 2) & flip[l];
                }
                spins[i] = s_new;
                // ΔE = −2·m_new·I_i
                for l in 0..L {
                    energy[l] -= d[l] as i64 * f[l] as i64;
                }
                if BEST {
                    flips[i] = flip;
                    flip_tag[i] = tag;
                    for l in 0..L {
                        let better = energy[l] < best[l];
                        best[l] = if better { energy[l] } else { best[l] };
                        best_at[l] = if better { i as i32 } else { best_at[l] };
                    }
                }
                if DENSE {
                    let row = &mat[i * n..(i + 1) * n];
                    for l in 0..L {
                        if d[l] == 0 {
                            continue;
                        }
                        let fl = &mut cells[l * n..(l + 1) * n];
                        if d[l] > 0 {
                            for (x, &v) in fl.iter_mut().zip(row) {
                                *x += v;
                            }
                        } else {
                            for (x, &v) in fl.iter_mut().zip(row) {
                                *x -= v;
                            }
                        }
                    }
                } else {
                    let mut dt = [T::default(); L];
                    for l in 0..L {
                        dt[l] = T::from_i32(d[l]);
                    }
                    let jv = &mat[a..b];
                    let small = <&mut [[T; L]; ROWS]>::try_from(&mut *rows);
                    if let (Ok(rows), Near::Grouped { nb, seg_off, segs }) = (small, near) {
                        // one product per group of equal J, then one add per neighbour
                        let (s0, s1) = (seg_off[i] as usize, seg_off[i + 1] as usize);
                        let mut start = a;
                        for &(v, end) in &segs[s0..s1] {
                            let v = T::from_i32(v);
                            let mut pv = [T::default(); L];
                            for l in 0..L {
                                pv[l] = v * dt[l];
                            }
                            // eight neighbours per step: fewer loop instructions per add (the
                            // loop was bound by instructions: 6 per neighbour, 1.2 cycles)
                            let run = nb[start..end as usize].chunks_exact(8);
                            let rest = run.remainder();
                            for four in run {
                                for &j in four {
                                    let fj = &mut rows[j as usize];
                                    for l in 0..L {
                                        fj[l] += pv[l];
                                    }
                                }
                            }
                            for &j in rest {
                                let fj = &mut rows[j as usize];
                                for l in 0..L {
                                    fj[l] += pv[l];
                                }
                            }
                            start = end as usize;
                        }
                    } else if let (Ok(rows), Near::Plain(nb16)) =
                        (<&mut [[T; L]; ROWS]>::try_from(&mut *rows), near)
                    {
                        // a u16 index into ROWS rows needs no bounds check
                        for (&j, &v) in nb16[a..b].iter().zip(jv) {
                            let fj = &mut rows[j as usize];
                            for l in 0..L {
                                fj[l] += v * dt[l];
                            }
                        }
                    } else {
                        for (&j, &v) in p.neighbors[a..b].iter().zip(jv) {
                            let fj = &mut rows[j as usize];
                            for l in 0..L {
                                fj[l] += v * dt[l];
                            }
                        }
                    }
                }
            }
        }
        self.energy = energy;
        if BEST {
            self.best = best;
            if best_at.iter().any(|&a| a >= 0) {
                let best_spins = &mut self.best_spins[..n];
                for pos in 0..n {
                    let undo = if flip_tag[pos] == tag {
                        flips[pos]
                    } else {
                        [0; L]
                    };
                    let (s, b) = (spins[pos], &mut best_spins[pos]);
                    for l in 0..L {
                        let at = best_at[l];
                        if at >= 0 {
                            b[l] = if pos as i32 <= at {
                                s[l]
                            } else {
                                s[l] ^ undo[l]
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Steps the generators `rngs` (one row per p-bit) and looks up each draw's threshold into
/// `thr[..rngs.len()]`. With `GATHER` (set only by the AVX2 and AVX-512 builds, see
/// [`run_batch_isa`]) eight lanes' lookups are one hardware gather instead of eight scalar
/// loads and lane extracts (those were ~19% of a G1 update); the values are the same.
#[inline(always)]
fn draw_block<const L: usize, const GATHER: bool>(
    rngs: &mut [[u32; L]],
    thr: &mut [[i32; L]],
    t: &[i32; TABLE_LEN],
    shift: u32,
) {
    #[cfg(target_arch = "x86_64")]
    if GATHER && L == 8 {
        let k = rngs.len();
        // SAFETY: GATHER is true only in code reached through `run_batch_avx2` or
        // `run_batch_avx512`, which run after AVX2 was detected.
        unsafe {
            draw_block_gather8(
                rngs.as_flattened_mut(),
                thr[..k].as_flattened_mut(),
                t,
                shift,
            )
        };
        return;
    }
    for (x, th) in rngs.iter_mut().zip(thr.iter_mut()) {
        for l in 0..L {
            let mut v = x[l];
            v ^= v << 13;
            v ^= v >> 17;
            v ^= v << 5;
            x[l] = v;
            th[l] = t[((v >> shift) & TABLE_MASK) as usize];
        }
    }
}

/// [`draw_block`] for eight lanes with AVX2: `rngs` and `thr` hold rows of 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn draw_block_gather8(rngs: &mut [u32], thr: &mut [i32], t: &[i32; TABLE_LEN], shift: u32) {
    use std::arch::x86_64::*;
    assert_eq!(rngs.len(), thr.len());
    let count = _mm_cvtsi32_si128(shift as i32);
    let mask = _mm256_set1_epi32(TABLE_MASK as i32);
    for (x, th) in rngs.chunks_exact_mut(8).zip(thr.chunks_exact_mut(8)) {
        // SAFETY: x and th are 8 elements (32 bytes) each; unaligned loads and stores
        unsafe {
            let mut v = _mm256_loadu_si256(x.as_ptr().cast());
            v = _mm256_xor_si256(v, _mm256_slli_epi32::<13>(v));
            v = _mm256_xor_si256(v, _mm256_srli_epi32::<17>(v));
            v = _mm256_xor_si256(v, _mm256_slli_epi32::<5>(v));
            _mm256_storeu_si256(x.as_mut_ptr().cast(), v);
            let index = _mm256_and_si256(_mm256_srl_epi32(v, count), mask);
            // every index is masked below TABLE_LEN, the table's length
            let th_v = _mm256_i32gather_epi32::<4>(t.as_ptr(), index);
            _mm256_storeu_si256(th.as_mut_ptr().cast(), th_v);
        }
    }
}

/// Everything a batch needs besides its reads.
struct Job<'a> {
    problem: &'a FixedIsing,
    clamps: &'a [(usize, bool)],
    clamped: Vec<bool>,
    layout: Layout,
    /// See [`low_degree`].
    low_degree: bool,
    /// The neighbour lists as u16 when the instance fits `ROWS` rows.
    near: Near,
    pages: &'a Pages,
    seed: u64,
    progress: &'a (dyn Fn(u64) + Sync),
    /// The first read of the job: read r starts from `start.initial[r − first_read]`.
    first_read: u64,
    start: AnnealStart<'a>,
}

/// Runs one batch: `reads` (at most `L`) padded to `L` lanes with copies of the first. None
/// if the job's cancel flag was seen set (it is polled after every sweep).
#[inline(always)]
fn run_batch<const L: usize, const GATHER: bool>(
    job: &Job,
    reads: &[u64],
) -> Option<Vec<ReadResult>> {
    let mut lane_reads = [reads[0]; L];
    lane_reads[..reads.len()].copy_from_slice(reads);
    let p = job.problem;
    let initial: Option<Vec<&[bool]>> = job.start.initial.map(|states| {
        lane_reads
            .iter()
            .map(|&r| &states[(r - job.first_read) as usize][..])
            .collect()
    });
    let mut st = Lanes::<L>::new(
        p,
        job.clamps,
        job.seed,
        &lane_reads,
        initial.as_deref(),
        &job.layout,
        &job.near,
    );
    let mut table = Table::new(p);
    for (page, sweeps) in &job.pages.steps {
        if *sweeps == 0 {
            continue;
        }
        table.load(page);
        for _ in 0..*sweeps {
            st.sweep_in::<true, GATHER>(
                p,
                &job.layout,
                job.low_degree,
                &job.near,
                &job.clamped,
                &table,
            );
            (job.progress)(reads.len() as u64);
            if job.start.cancelled() {
                return None;
            }
        }
    }
    Some(
        reads
            .iter()
            .enumerate()
            .map(|(l, &read)| ReadResult {
                read,
                best_energy_raw: st.best[l],
                best_spins: Lanes::<L>::spins_of(&st.best_spins, l),
                final_energy_raw: st.energy[l],
            })
            .collect(),
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt,fma")]
fn run_batch_avx2<const L: usize>(job: &Job, reads: &[u64]) -> Option<Vec<ReadResult>> {
    run_batch::<L, true>(job, reads)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,bmi1,bmi2,popcnt,fma")]
fn run_batch_avx512<const L: usize>(job: &Job, reads: &[u64]) -> Option<Vec<ReadResult>> {
    run_batch::<L, true>(job, reads)
}

fn run_batch_isa<const L: usize>(isa: Isa, job: &Job, reads: &[u64]) -> Option<Vec<ReadResult>> {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        if isa == Isa::Auto && has_avx512() {
            // SAFETY: the CPU has the features the function is compiled for (checked above).
            return unsafe { run_batch_avx512::<L>(job, reads) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { run_batch_avx2::<L>(job, reads) };
        }
    }
    let _ = isa;
    run_batch::<L, false>(job, reads)
}

fn run_batch_lanes(lanes: usize, isa: Isa, job: &Job, reads: &[u64]) -> Option<Vec<ReadResult>> {
    match lanes {
        1 => run_batch_isa::<1>(isa, job, reads),
        4 => run_batch_isa::<4>(isa, job, reads),
        8 => run_batch_isa::<8>(isa, job, reads),
        _ => unreachable!(),
    }
}

/// The widest batch: 8 lanes (256-bit rows of i32). 16 lanes (512-bit rows) are no faster per
/// update on Zen 4, which splits 512-bit operations in two (measured: docs/benchmarks.md).
const MAX_LANES: usize = 8;

/// The narrowest lane count that holds `k` reads.
fn lanes_for(k: usize) -> usize {
    match k {
        1 => 1,
        2..=4 => 4,
        _ => 8,
    }
}

/// Splits `count` reads into batches (start, len, lanes): every batch as wide as the ISA allows
/// (all full but the last), whatever the thread count. Threads only take whole batches: cutting
/// 8 reads into two half-empty batches for two cores costs ~2.5× the CPU time of one full batch
/// and is no faster in wall time (measured: docs/benchmarks.md), so reads are never spread thinner
/// to keep threads busy.
fn plan(count: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < count {
        let len = MAX_LANES.min(count - start);
        out.push((start, len, lanes_for(len)));
        start += len;
    }
    out
}

/// Below this many p-bit updates per batch (~0.1 ms of work), a second thread costs more to start
/// than it saves.
const MIN_UPDATES_PER_THREAD: u64 = 1 << 16;

/// How many threads run `batches`: at most `threads`, at most one per batch, and one when the
/// batches are too small to pay for starting a thread.
fn workers(batches: &[(usize, usize, usize)], threads: usize, n: usize, sweeps: u64) -> usize {
    let per_batch = (n as u64)
        .saturating_mul(sweeps)
        .saturating_mul(MAX_LANES as u64);
    if per_batch < MIN_UPDATES_PER_THREAD {
        return 1;
    }
    threads.clamp(1, batches.len().max(1))
}

/// Anneals reads `reads` through `pages`; identical to [`crate::run::anneal_read`] for each
/// read, in read order, whatever `threads`. `progress(k)` reports k more sweeps done (summed
/// over reads), once per sweep per batch.
pub fn anneal_reads(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    reads: Range<u64>,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<ReadResult> {
    anneal_reads_isa(
        problem,
        clamps,
        pages,
        seed,
        reads,
        threads,
        progress,
        Isa::Auto,
    )
}

/// [`anneal_reads`] with a chosen kernel variant.
#[allow(clippy::too_many_arguments)]
pub fn anneal_reads_isa(
    problem: &FixedIsing,
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

/// [`anneal_reads_isa`] with the optional parts of [`AnnealStart`]: read r identical to
/// [`crate::run::anneal_read_from`] with `start.initial[r − reads.start]`; stops with
/// [`Cancelled`] within a sweep of `start.cancel` being set.
///
/// Panics if `start.initial` does not hold one state of `problem.n` spins per read (a
/// programming error: callers check user input first).
#[allow(clippy::too_many_arguments)]
pub fn anneal_reads_from(
    problem: &FixedIsing,
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
    let reads: Vec<u64> = reads.collect();
    if reads.is_empty() {
        return Ok(Vec::new());
    }
    let mut clamped = vec![false; problem.n];
    for &(i, _) in clamps {
        clamped[i] = true;
    }
    let job = Job {
        problem,
        clamps,
        clamped,
        layout: Layout::choose(problem),
        low_degree: low_degree(problem),
        near: Near::new(problem, pages.total_sweeps()),
        pages,
        seed,
        progress,
        first_read,
        start,
    };
    let batches = plan(reads.len());
    let run = |b: usize| {
        let (start, len, lanes) = batches[b];
        run_batch_lanes(lanes, isa, &job, &reads[start..start + len])
    };
    let workers = workers(&batches, threads, problem.n, pages.total_sweeps());
    if workers == 1 {
        let mut out = Vec::with_capacity(reads.len());
        for b in 0..batches.len() {
            out.extend(run(b).ok_or(Cancelled)?);
        }
        return Ok(out);
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Option<Vec<ReadResult>>)>> = Mutex::new(Vec::new());
    let work = || loop {
        let b = next.fetch_add(1, Ordering::Relaxed);
        if b >= batches.len() || job.start.cancelled() {
            break;
        }
        let r = run(b);
        done.lock().unwrap().push((b, r));
    };
    std::thread::scope(|s| {
        // this thread is one of the workers
        for _ in 1..workers {
            s.spawn(work);
        }
        work();
    });
    if job.start.cancelled() {
        return Err(Cancelled);
    }
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|d| d.0);
    let mut out = Vec::with_capacity(reads.len());
    for (_, r) in done {
        out.extend(r.ok_or(Cancelled)?);
    }
    Ok(out)
}

/// Runs one chain (read 0) at one page: the same calls of `record` as [`crate::run::sample`].
pub fn sample(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
    record: impl FnMut(&[bool], i64),
) {
    sample_isa(problem, clamps, page, seed, spec, record, Isa::Auto)
}

/// [`sample`] with a chosen kernel variant.
pub fn sample_isa(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
    mut record: impl FnMut(&[bool], i64),
    isa: Isa,
) {
    let mut clamped = vec![false; problem.n];
    for &(i, _) in clamps {
        clamped[i] = true;
    }
    let mut table = Table::new(problem);
    table.load(page);
    let layout = Layout::choose(problem);
    let low = low_degree(problem);
    let mut st = Lanes::<1>::new(problem, clamps, seed, &[0], None, &layout, &Near::None);
    let mut spins = vec![false; problem.n];
    let run = |st: &mut Lanes<1>, count: u64| {
        run_sweeps_isa(isa, st, problem, &layout, low, &clamped, &table, count)
    };
    run(&mut st, spec.burn_in);
    assert!(
        spec.every > 0 || spec.sweeps == 0,
        "SampleSpec::every must be positive"
    );
    // sweeps between records run in one call of the compiled loop
    let mut t = 0u64;
    while t < spec.sweeps {
        let next = ((t / spec.every) + 1) * spec.every;
        let upto = next.min(spec.sweeps);
        run(&mut st, upto - t);
        t = upto;
        if t.is_multiple_of(spec.every) {
            for (s, r) in spins.iter_mut().zip(&st.spins) {
                *s = r[0] != 0;
            }
            record(&spins, st.energy[0]);
        }
    }
}

#[inline(always)]
fn run_sweeps(
    st: &mut Lanes<1>,
    p: &FixedIsing,
    layout: &Layout,
    low: bool,
    clamped: &[bool],
    table: &Table,
    count: u64,
) {
    for _ in 0..count {
        st.sweep_in::<false, false>(p, layout, low, &Near::None, clamped, table);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,popcnt,fma")]
fn run_sweeps_avx2(
    st: &mut Lanes<1>,
    p: &FixedIsing,
    layout: &Layout,
    low: bool,
    clamped: &[bool],
    table: &Table,
    count: u64,
) {
    run_sweeps(st, p, layout, low, clamped, table, count)
}

#[allow(clippy::too_many_arguments)]
fn run_sweeps_isa(
    isa: Isa,
    st: &mut Lanes<1>,
    p: &FixedIsing,
    layout: &Layout,
    low: bool,
    clamped: &[bool],
    table: &Table,
    count: u64,
) {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has the features the function is compiled for (checked above).
        return unsafe { run_sweeps_avx2(st, p, layout, low, clamped, table, count) };
    }
    let _ = isa;
    run_sweeps(st, p, layout, low, clamped, table, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_full_whatever_the_threads() {
        // every batch but the last holds MAX_LANES reads, and the batches cover the reads once
        for count in 0..40 {
            let b = plan(count);
            assert_eq!(b.iter().map(|x| x.1).sum::<usize>(), count);
            for (k, &(start, len, lanes)) in b.iter().enumerate() {
                assert_eq!(start, k * MAX_LANES);
                assert!(len <= lanes && lanes == lanes_for(len));
                if k + 1 < b.len() {
                    assert_eq!(len, MAX_LANES, "count {count}: batch {k} is not full");
                }
            }
        }
        // eight reads are one batch: one thread, whatever is asked
        let b = plan(8);
        assert_eq!(b, vec![(0, 8, 8)]);
        assert_eq!(workers(&b, 2, 4096, 4000), 1);
        // sixteen: two full batches, two threads when there are two
        let b = plan(16);
        assert_eq!(workers(&b, 2, 4096, 4000), 2);
        assert_eq!(workers(&b, 1, 4096, 4000), 1);
        assert_eq!(workers(&b, 64, 4096, 4000), 2);
        // too little work to pay for a thread
        assert_eq!(workers(&b, 2, 10, 10), 1);
    }
}
