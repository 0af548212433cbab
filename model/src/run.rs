//! Jobs on the machine: sampling one chain and annealing many reads. These are the reference
//! implementations over [`Machine`]; [`crate::kernel`] runs the same jobs faster and must give
//! identical results.

use crate::fixed::FixedIsing;
use crate::machine::Machine;
use crate::schedule::Schedule;
use pbit_spec::{PageBuilder, ThresholdPage};
use std::sync::atomic::{AtomicBool, Ordering};

/// A schedule with its threshold pages built for the problem's format.
#[derive(Clone, Debug)]
pub struct Pages {
    /// (page, sweeps at that page), in order.
    pub steps: Vec<(ThresholdPage, u64)>,
}

impl Pages {
    pub fn build(problem: &FixedIsing, schedule: &Schedule) -> Pages {
        let builder = PageBuilder::new(&problem.format);
        Pages {
            steps: schedule
                .steps
                .iter()
                .map(|s| (builder.build(s.beta), s.sweeps))
                .collect(),
        }
    }
    pub fn total_sweeps(&self) -> u64 {
        self.steps.iter().map(|s| s.1).sum()
    }
}

/// What a sampling run records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleSpec {
    /// Sweeps run and discarded first.
    pub burn_in: u64,
    /// Sweeps run after the burn-in.
    pub sweeps: u64,
    /// Record the state after every `every`-th sweep after the burn-in (sweep t = 1..=sweeps is
    /// recorded iff t % every == 0).
    pub every: u64,
}

/// Runs one chain (read 0) at one page and calls `record(spins, energy_raw)` for each recorded
/// sample: [`run_schedule`] of one step of `burn_in + sweeps` sweeps, which is how a device runs
/// it.
pub fn sample(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    page: &ThresholdPage,
    seed: u64,
    spec: SampleSpec,
    mut record: impl FnMut(&[bool], i64),
) {
    let mut m = Machine::new(problem, seed, 0);
    m.set_clamps(clamps);
    for _ in 0..spec.burn_in {
        m.sweep(page);
    }
    for t in 1..=spec.sweeps {
        m.sweep(page);
        if t % spec.every == 0 {
            record(m.spins(), m.energy_raw());
        }
    }
}

/// The sampling registers of a run (`REG_BURN_IN`, `REG_EVERY`): over the whole schedule,
/// sweep t (1-based, counted across steps) is recorded iff `every` ≠ 0, t > `burn_in` and
/// (t − `burn_in`) mod `every` = 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sampling {
    pub burn_in: u64,
    pub every: u64,
}

impl Sampling {
    /// Whether the state after sweep `t` (1-based over the schedule) is recorded.
    pub fn records(&self, t: u64) -> bool {
        self.every != 0 && t > self.burn_in && (t - self.burn_in).is_multiple_of(self.every)
    }
}

/// What [`run_schedule`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunEnd {
    /// Sweeps ended (`REG_SWEEPS` moves by this much).
    pub sweeps: u64,
    /// Updates made (sweeps × n, plus those of a sweep the stop cut short).
    pub updates: u64,
    /// Samples recorded (`REG_SAMPLES` moves by this much).
    pub samples: u64,
}

/// One run of the machine's controller (`CTRL_RUN`) on `m` as it stands: the schedule's steps
/// in order (step s: `pages.steps[s].1` sweeps at its page), a sample recorded after each sweep
/// `sampling` names, `record(spins, energy_raw)`. With `stop_after: Some(k)` the run ends after
/// its k-th update, as a `CTRL_STOP` written in the clock of that update ends it (a sweep cut
/// short records nothing). The next run starts the schedule again from its first step, with
/// the burn-in and the sample interval counted afresh, from the state and generators `m` then
/// holds; the best continues unless the state was written (docs/spec.md, "STOP and resume").
pub fn run_schedule(
    m: &mut Machine,
    pages: &Pages,
    sampling: Sampling,
    stop_after: Option<u64>,
    mut record: impl FnMut(&[bool], i64),
) -> RunEnd {
    let n = m.problem().n as u64;
    let mut end = RunEnd::default();
    for (page, sweeps) in &pages.steps {
        for _ in 0..*sweeps {
            if let Some(k) = stop_after {
                let left = k - end.updates;
                if left < n {
                    m.sweep_part(page, left as usize);
                    end.updates += left;
                    return end;
                }
            }
            m.sweep(page);
            end.sweeps += 1;
            end.updates += n;
            if sampling.records(end.sweeps) {
                record(m.spins(), m.energy_raw());
                end.samples += 1;
            }
        }
    }
    end
}

/// The outcome of one annealing read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    pub read: u64,
    pub best_energy_raw: i64,
    pub best_spins: Vec<bool>,
    pub final_energy_raw: i64,
}

/// Anneals one read through every step of `pages`; `progress(sweeps)` is called after each
/// sweep with the number of sweeps just done (1).
pub fn anneal_read(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    read: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadResult {
    anneal_read_from(problem, clamps, pages, seed, read, None, progress)
}

/// [`anneal_read`] from a given state: `Machine::new(problem, seed, read)`, `set_clamps`, then
/// `set_spins(initial)` (clamped p-bits keep their clamp value; the best starts there), then
/// the schedule. The generators are the read's own either way, so a read's random stream never
/// depends on where it starts.
pub fn anneal_read_from(
    problem: &FixedIsing,
    clamps: &[(usize, bool)],
    pages: &Pages,
    seed: u64,
    read: u64,
    initial: Option<&[bool]>,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadResult {
    let mut m = Machine::new(problem, seed, read);
    m.set_clamps(clamps);
    if let Some(s) = initial {
        m.set_spins(s);
    }
    for (page, sweeps) in &pages.steps {
        for _ in 0..*sweeps {
            m.sweep(page);
            progress(1);
        }
    }
    ReadResult {
        read,
        best_energy_raw: m.best_energy_raw(),
        best_spins: m.best_spins().to_vec(),
        final_energy_raw: m.energy_raw(),
    }
}

/// The optional parts of an annealing job on the fast kernels
/// ([`crate::kernel::anneal_reads_from`], [`crate::sparse::kernel::anneal_reads_from`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnnealStart<'a> {
    /// The state each read starts from, in read order: read r of the job `first..end` starts
    /// from `initial[r − first]` (None: the state the seed gives, [`pbit_spec::initial_spin`]).
    pub initial: Option<&'a [Vec<bool>]>,
    /// Polled between sweeps; once it is set the job stops and returns [`Cancelled`]. This is
    /// how a caller (Ctrl-C in Python) stops a long run without killing a thread.
    pub cancel: Option<&'a AtomicBool>,
}

impl AnnealStart<'_> {
    /// Whether the cancel flag is set.
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Panics unless `initial` (if any) has one state of `n` spins per read of `reads`: the
    /// kernels index it by read, and callers check user input before (a programming error).
    pub fn check(&self, n: usize, reads: &std::ops::Range<u64>) {
        if let Some(states) = self.initial {
            assert_eq!(
                states.len() as u64,
                reads.end.saturating_sub(reads.start),
                "one initial state per read"
            );
            assert!(
                states.iter().all(|s| s.len() == n),
                "initial states of n spins"
            );
        }
    }
}

/// An annealing job stopped by its cancel flag ([`AnnealStart::cancel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled")]
pub struct Cancelled;

/// Index of the best read: lowest best energy, the first read on ties.
pub fn best_read(results: &[ReadResult]) -> Option<&ReadResult> {
    results.iter().min_by_key(|r| (r.best_energy_raw, r.read))
}

/// The correlation sums of a set of states (as the batch engine forms them on the device,
/// `pbit_spec::memory_map`'s sums region): for i < j < n, Σ m_i·m_j at
/// [`sums_index`](pbit_spec::memory_map::sums_index)`(n, i, j)`, then Σ m_i at
/// [`sums_single`](pbit_spec::memory_map::sums_single)`(n, i)`, over ±1 spins (true = +1).
/// Every state must have at least `n` spins.
pub fn correlation_sums(states: &[Vec<bool>], n: usize) -> Vec<i64> {
    let mut sums = vec![0i64; pbit_spec::memory_map::sums_len(n as u32) as usize];
    for s in states {
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                sums[k] += if s[i] == s[j] { 1 } else { -1 };
                k += 1;
            }
        }
        for (sum, &m) in sums[k..].iter_mut().zip(&s[..n]) {
            *sum += if m { 1 } else { -1 };
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_spec::memory_map::{sums_index, sums_single};

    use crate::{Ising, Scaling};
    use pbit_spec::{Beta, Format};

    fn instance(n: usize, seed: u64) -> FixedIsing {
        let mut x = seed | 1;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            x
        };
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                if next() % 2 == 0 {
                    ising.add_coupling(i, j, ((next() % 511) as i64 - 255) as f64 / 16.0);
                }
            }
            ising.h[i] = ((next() % 511) as i64 - 255) as f64 / 16.0;
        }
        FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap()
    }

    fn pages(p: &FixedIsing, steps: &[(f64, u64)]) -> Pages {
        Pages {
            steps: steps
                .iter()
                .map(|&(b, k)| {
                    (
                        ThresholdPage::build(&p.format, Beta::from_f64(b).unwrap()),
                        k,
                    )
                })
                .collect(),
        }
    }

    /// `sample` is `run_schedule` of one step of burn-in + sweeps.
    #[test]
    fn sample_is_a_one_step_schedule() {
        let p = instance(9, 1);
        for (burn_in, sweeps, every) in [(0, 7, 1), (3, 10, 3), (5, 1, 2)] {
            let pg = pages(&p, &[(0.4, burn_in + sweeps)]);
            let spec = SampleSpec {
                burn_in,
                sweeps,
                every,
            };
            let mut want = Vec::new();
            sample(&p, &[(2, true)], &pg.steps[0].0, 4, spec, |s, e| {
                want.push((s.to_vec(), e))
            });
            let mut m = Machine::new(&p, 4, 0);
            m.set_clamps(&[(2, true)]);
            let mut got = Vec::new();
            let end = run_schedule(&mut m, &pg, Sampling { burn_in, every }, None, |s, e| {
                got.push((s.to_vec(), e))
            });
            assert_eq!(got, want);
            assert_eq!(end.samples, want.len() as u64);
            assert_eq!(end.sweeps, burn_in + sweeps);
        }
    }

    /// A run stopped after k updates: each generator stepped once per update of its p-bit,
    /// the state and best are those of an update-by-update replay, the samples a prefix of the
    /// whole run's; a machine rebuilt from the chain state (fields and energy recomputed)
    /// continues exactly as the stopped one.
    #[test]
    fn a_stopped_run_is_a_prefix_and_resumes_from_its_chain_state() {
        let n = 7;
        let p = instance(n, 2);
        let pg = pages(&p, &[(0.3, 2), (0.0001, 0), (1.5, 3)]);
        let sampling = Sampling {
            burn_in: 1,
            every: 2,
        };
        let total = 5 * n as u64;
        let mut all = Vec::new();
        let mut whole = Machine::new(&p, 9, 1);
        whole.set_clamps(&[(4, false)]);
        run_schedule(&mut whole, &pg, sampling, None, |s, e| {
            all.push((s.to_vec(), e))
        });
        for k in 0..=total {
            let mut m = Machine::new(&p, 9, 1);
            m.set_clamps(&[(4, false)]);
            let mut got = Vec::new();
            let end = run_schedule(&mut m, &pg, sampling, Some(k), |s, e| {
                got.push((s.to_vec(), e))
            });
            assert_eq!(end.updates, k);
            for i in 0..n {
                let steps = k / n as u64 + u64::from((i as u64) < k % n as u64);
                let mut x = pbit_spec::pbit_seed(9, 1, i as u64);
                for _ in 0..steps {
                    x = pbit_spec::rng::xorshift32_step(x);
                }
                assert_eq!(m.rng_states()[i], x, "k {k} p-bit {i}");
            }
            // replay: the state after i updates of a sweep is the sweep's start with
            // `sweep_part(i)`; the best is the first lowest of every state seen
            let mut r = Machine::new(&p, 9, 1);
            r.set_clamps(&[(4, false)]);
            let mut best = (r.energy_raw(), r.spins().to_vec());
            let mut u = 0;
            'steps: for (page, sweeps) in &pg.steps {
                for _ in 0..*sweeps {
                    for i in 1..=n {
                        if u == k {
                            break 'steps;
                        }
                        let mut t = r.clone();
                        t.sweep_part(page, i);
                        if t.energy_raw() < best.0 {
                            best = (t.energy_raw(), t.spins().to_vec());
                        }
                        u += 1;
                    }
                    r.sweep(page);
                }
            }
            if k % n as u64 == 0 {
                assert_eq!(m.spins(), r.spins(), "k {k}");
            }
            assert_eq!(m.best_energy_raw(), best.0, "k {k}");
            assert_eq!(m.best_spins(), &best.1[..], "k {k}");
            let recorded = (1..=k / n as u64).filter(|&t| sampling.records(t)).count();
            assert_eq!(got, all[..recorded], "k {k}");
            assert_eq!(m.fields(), &p.fields(m.spins())[..]);
            assert_eq!(m.energy_raw(), p.energy_raw(m.spins()));
            let mut rest = Machine::from_state(&p, &m.chain_state());
            assert_eq!(rest.fields(), m.fields());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            run_schedule(&mut m, &pg, sampling, None, |s, e| a.push((s.to_vec(), e)));
            run_schedule(&mut rest, &pg, sampling, None, |s, e| {
                b.push((s.to_vec(), e))
            });
            assert_eq!(a, b);
            assert_eq!(m.chain_state(), rest.chain_state());
        }
    }

    #[test]
    fn correlation_sums_follow_the_memory_map_layout() {
        let states = vec![
            vec![true, false, true, true],
            vec![false, false, true, false],
            vec![true, true, true, false],
        ];
        let n = 4;
        let s = correlation_sums(&states, n);
        let pm = |b: bool| if b { 1i64 } else { -1 };
        for i in 0..n {
            for j in i + 1..n {
                let want: i64 = states.iter().map(|x| pm(x[i]) * pm(x[j])).sum();
                assert_eq!(s[sums_index(n as u32, i as u32, j as u32) as usize], want);
            }
            let want: i64 = states.iter().map(|x| pm(x[i])).sum();
            assert_eq!(s[sums_single(n as u32, i as u32) as usize], want);
        }
        assert_eq!(correlation_sums(&[], 3), vec![0; 6]);
    }
}
