//! Backends: the machine a job runs on, behind one trait. The model is the default and the
//! reference; the Verilated gateware and a board on a serial port (pbit-host's device backend)
//! implement the same trait, so every command — sampling, annealing, learning, the circuit
//! compilers — runs unchanged on each and must give byte-identical results. What a job means
//! is [`crate::jobs`].

use crate::jobs::{relax_chain, AnnealJob, RelaxJob, RelaxWant, Relaxed, SampleJob};
use crate::run::ReadResult;
use pbit_spec::Format;

/// Why a backend could not run a job.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the instance has {n} p-bits but the {backend} machine has {capacity}")]
    TooLarge {
        backend: &'static str,
        n: usize,
        capacity: usize,
    },
    #[error("the {backend} backend cannot run {job} jobs yet")]
    Unsupported {
        backend: &'static str,
        job: &'static str,
    },
    #[error("{0}")]
    Other(String),
}

/// Runs a relax job and returns the final states, checking that the backend returned one state
/// of the right length for every chain, once.
pub fn relax_states<B: Backend + ?Sized>(
    backend: &mut B,
    job: &RelaxJob,
) -> Result<Vec<Vec<bool>>, BackendError> {
    let n = job.problem.n;
    let mut out: Vec<Option<Vec<bool>>> = vec![None; job.initial.len()];
    let mut bad: Option<String> = None;
    backend.relax(job, &mut |c, s| match out.get_mut(c) {
        Some(slot) if s.len() == n && slot.is_none() => *slot = Some(s.to_vec()),
        _ => {
            bad.get_or_insert(format!(
                "relax: chain {c} came back with {} spins (expected {n}, once per chain)",
                s.len()
            ));
        }
    })?;
    if let Some(m) = bad {
        return Err(BackendError::Other(m));
    }
    out.into_iter()
        .enumerate()
        .map(|(c, s)| {
            s.ok_or_else(|| BackendError::Other(format!("relax: chain {c} returned no state")))
        })
        .collect()
}

/// A reference machine that [`watched_reads`] can drive: the dense [`crate::Machine`] and the
/// sparse one expose the same sweep and readout.
pub trait WatchedMachine {
    fn sweep(&mut self, page: &pbit_spec::ThresholdPage);
    fn spins(&self) -> &[bool];
    fn energy_raw(&self) -> i64;
    fn best_energy_raw(&self) -> i64;
    fn best_spins(&self) -> &[bool];
}

impl WatchedMachine for crate::Machine<'_> {
    fn sweep(&mut self, page: &pbit_spec::ThresholdPage) {
        crate::Machine::sweep(self, page)
    }
    fn spins(&self) -> &[bool] {
        crate::Machine::spins(self)
    }
    fn energy_raw(&self) -> i64 {
        crate::Machine::energy_raw(self)
    }
    fn best_energy_raw(&self) -> i64 {
        crate::Machine::best_energy_raw(self)
    }
    fn best_spins(&self) -> &[bool] {
        crate::Machine::best_spins(self)
    }
}

/// [`Backend::anneal_watched`] on a reference machine, read after read: `start(read)` gives the
/// read's machine (seeded, clamped); `watch` sees every `every`-th sweep and the last.
pub fn watched_reads<M: WatchedMachine>(
    job: &AnnealJob,
    every: u64,
    watch: &mut dyn FnMut(&Watched),
    mut start: impl FnMut(u64) -> M,
) -> Vec<ReadResult> {
    let every = every.max(1);
    let total = job.pages.total_sweeps();
    let mut results = Vec::with_capacity(job.reads as usize);
    for read in 0..job.reads {
        let mut m = start(read);
        let mut t = 0u64;
        for (page, sweeps) in &job.pages.steps {
            for _ in 0..*sweeps {
                m.sweep(page);
                t += 1;
                if t.is_multiple_of(every) || t == total {
                    watch(&Watched {
                        read,
                        sweep: t,
                        spins: m.spins(),
                        energy_raw: m.energy_raw(),
                        best_energy_raw: m.best_energy_raw(),
                    });
                }
            }
        }
        results.push(ReadResult {
            read,
            best_energy_raw: m.best_energy_raw(),
            best_spins: m.best_spins().to_vec(),
            final_energy_raw: m.energy_raw(),
        });
    }
    results
}

/// A read's state after a watched sweep of [`Backend::anneal_watched`].
#[derive(Clone, Copy, Debug)]
pub struct Watched<'a> {
    pub read: u64,
    /// Sweeps done in this read (1-based).
    pub sweep: u64,
    pub spins: &'a [bool],
    /// Energy of `spins` (raw units of the job's problem).
    pub energy_raw: i64,
    /// The machine's best energy so far in this read (every update counts, as in
    /// [`ReadResult::best_energy_raw`]).
    pub best_energy_raw: i64,
}

/// A machine that runs jobs.
pub trait Backend {
    /// Short name for reports ("model", "verilator", "serial").
    fn name(&self) -> &'static str;
    /// The fixed-point format the machine runs; instances are quantised to it.
    fn format(&self) -> Format;
    /// The most p-bits the machine holds (None: unbounded).
    fn capacity(&self) -> Option<usize>;
    /// Runs a sampling job, calling `record(spins, energy_raw)` for every recorded sample.
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError>;
    /// Runs an annealing job; `progress(k)` reports k more sweeps done (over all reads).
    /// Results in read order.
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError>;

    /// [`Backend::anneal`] with a look inside: after every `every`-th sweep of each read (and
    /// its last) `watch` gets the read's state and energies. The reads and their results are
    /// exactly `anneal`'s (the same machine, the same generators); only the watching is added.
    /// It is for pictures, not speed: the model runs it on its reference machine, one read
    /// after another. Devices, which cannot stop between sweeps, return
    /// [`BackendError::Unsupported`] (the model gives the same run bit for bit).
    fn anneal_watched(
        &mut self,
        job: &AnnealJob,
        every: u64,
        watch: &mut dyn FnMut(&Watched),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let _ = (job, every, watch);
        Err(BackendError::Unsupported {
            backend: self.name(),
            job: "watched anneal",
        })
    }

    /// Runs a relax job ([`RelaxJob`] defines the semantics) and calls `out(c, final_state)` once
    /// per chain, in chain order. Backends that cannot write a state yet return
    /// [`BackendError::Unsupported`].
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        let _ = (job, out);
        Err(BackendError::Unsupported {
            backend: self.name(),
            job: "relax",
        })
    }

    /// A relax job whose caller wants its final states, its correlation sums
    /// ([`crate::run::correlation_sums`]: Σ m_i m_j and Σ m_i over the chains, the batch
    /// engine's layout), or both ([`RelaxWant`]). The chains are [`RelaxJob`]'s exactly, so
    /// the results are too. Default: [`Backend::relax`], the sums formed here. Device backends
    /// with a batch engine run the whole job on the device and bring back only what is asked.
    fn relax_batch(&mut self, job: &RelaxJob, want: RelaxWant) -> Result<Relaxed, BackendError> {
        let finals = relax_states(self, job)?;
        Ok(Relaxed::from_finals(finals, job.problem.n, want))
    }

    /// A sampling job whose caller wants only its sums ([`SampleSums`]: the sample count, ones
    /// per p-bit, the raw energies' sum, and agreements of each of `pairs`), not the samples.
    /// The samples are [`Backend::sample`]'s exactly, so the sums are too. Default: the samples
    /// streamed and summed here. A sparse device with on-chip statistics forms them on the
    /// device and brings back only the counters.
    fn sample_sums(
        &mut self,
        job: &SampleJob,
        pairs: &[(usize, usize)],
    ) -> Result<SampleSums, BackendError> {
        sample_sums_streamed(self, job, pairs)
    }

    /// Checks that an instance fits.
    fn check_fits(&self, n: usize) -> Result<(), BackendError> {
        match self.capacity() {
            Some(capacity) if n > capacity => Err(BackendError::TooLarge {
                backend: self.name(),
                n,
                capacity,
            }),
            _ => Ok(()),
        }
    }
}

/// The sums of a sampling job's samples ([`Backend::sample_sums`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleSums {
    pub samples: u64,
    /// Samples with m_i = +1, per p-bit.
    pub ones: Vec<u64>,
    /// Σ of the samples' raw energies.
    pub energy_raw_sum: i128,
    /// Samples with m_i = m_j, per asked pair (i, j).
    pub agreements: Vec<u64>,
}

/// [`Backend::sample_sums`] by streaming every sample (the default, and a device's way when it
/// cannot form the sums itself).
pub fn sample_sums_streamed<B: Backend + ?Sized>(
    backend: &mut B,
    job: &SampleJob,
    pairs: &[(usize, usize)],
) -> Result<SampleSums, BackendError> {
    let mut sums = SampleSums::new(job.problem.n, pairs.len());
    backend.sample(job, &mut |spins, e| sums.add(spins, e, pairs))?;
    Ok(sums)
}

impl SampleSums {
    pub fn new(n: usize, pairs: usize) -> SampleSums {
        SampleSums {
            samples: 0,
            ones: vec![0; n],
            energy_raw_sum: 0,
            agreements: vec![0; pairs],
        }
    }
    /// Adds one sample.
    pub fn add(&mut self, spins: &[bool], energy_raw: i64, pairs: &[(usize, usize)]) {
        self.samples += 1;
        self.energy_raw_sum += energy_raw as i128;
        for (o, &s) in self.ones.iter_mut().zip(spins) {
            *o += s as u64;
        }
        for (a, &(i, j)) in self.agreements.iter_mut().zip(pairs) {
            *a += (spins[i] == spins[j]) as u64;
        }
    }
}

/// The bit-exact software model, on all cores.
pub struct ModelBackend {
    pub format: Format,
    pub threads: usize,
}

impl Default for ModelBackend {
    fn default() -> Self {
        ModelBackend {
            format: Format::STANDARD,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

impl Backend for ModelBackend {
    fn name(&self) -> &'static str {
        "model"
    }
    fn format(&self) -> Format {
        self.format
    }
    fn capacity(&self) -> Option<usize> {
        None
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        crate::kernel::sample(
            job.problem,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
        );
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        Ok(crate::kernel::anneal_reads(
            job.problem,
            job.clamps,
            job.pages,
            job.seed,
            0..job.reads,
            self.threads,
            progress,
        ))
    }
    /// The reference machine ([`crate::Machine`]), read after read: the fast kernels are
    /// bit-identical to it, so the results are [`Backend::anneal`]'s.
    fn anneal_watched(
        &mut self,
        job: &AnnealJob,
        every: u64,
        watch: &mut dyn FnMut(&Watched),
    ) -> Result<Vec<ReadResult>, BackendError> {
        Ok(watched_reads(job, every, watch, |read| {
            let mut m = crate::Machine::new(job.problem, job.seed, read);
            m.set_clamps(job.clamps);
            m
        }))
    }
    /// Chains are cut into contiguous ranges, one per thread (a single thread when the job is
    /// small), and reported in chain order: results do not depend on `threads`.
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let chains = job.initial.len();
        // below ~8k updates (~0.5 ms) per job, spawning threads costs more than it saves
        let work = chains as u64 * job.sweeps.max(1) * job.problem.n.max(1) as u64;
        let threads = if work < 8_192 {
            1
        } else {
            self.threads.clamp(1, chains.max(1))
        };
        if threads <= 1 {
            for c in 0..chains {
                out(c, &relax_chain(job, c));
            }
            return Ok(());
        }
        let per = chains.div_ceil(threads);
        let results: Vec<Vec<Vec<bool>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = (t * per).min(chains)..((t + 1) * per).min(chains);
                    s.spawn(move || range.map(|c| relax_chain(job, c)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("relax worker panicked"))
                .collect()
        });
        for (c, state) in results.iter().flatten().enumerate() {
            out(c, state);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FixedIsing, Ising, Machine, Scaling};
    use pbit_spec::{Beta, ThresholdPage};

    /// A dense random instance (values on the grid, in range) from a fixed generator.
    fn instance(n: usize, seed: u64) -> FixedIsing {
        let mut x = seed;
        let mut next = move || {
            x = pbit_spec::rng::splitmix64(x);
            x
        };
        let mut ising = Ising::new(n);
        for i in 0..n {
            for j in i + 1..n {
                ising.add_coupling(i, j, ((next() % 65) as f64 - 32.0) / 16.0);
            }
            ising.h[i] = ((next() % 33) as f64 - 16.0) / 16.0;
        }
        FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap()
    }

    fn states(chains: usize, n: usize, seed: u64) -> Vec<Vec<bool>> {
        (0..chains)
            .map(|c| {
                (0..n)
                    .map(|i| pbit_spec::rng::pbit_hash(seed, c as u64, i as u64) & 1 == 1)
                    .collect()
            })
            .collect()
    }

    fn run(backend: &mut dyn Backend, job: &RelaxJob) -> Vec<Vec<bool>> {
        let mut out = vec![Vec::new(); job.initial.len()];
        let mut order = Vec::new();
        backend
            .relax(job, &mut |c, s| {
                order.push(c);
                out[c] = s.to_vec();
            })
            .unwrap();
        assert_eq!(
            order,
            (0..job.initial.len()).collect::<Vec<_>>(),
            "chain order"
        );
        out
    }

    #[test]
    fn relax_is_a_hand_run_machine_per_chain() {
        let p = instance(9, 1);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.8).unwrap());
        let initial = states(6, 9, 7);
        let clamped = [1usize, 4];
        let job = RelaxJob {
            problem: &p,
            clamped: &clamped,
            page: &page,
            seed: 11,
            first_read: 1000,
            initial: &initial,
            sweeps: 5,
        };
        let got = run(&mut ModelBackend::default(), &job);
        for (c, s) in initial.iter().enumerate() {
            // the contract, spelled out with the reference machine
            let mut m = Machine::new(&p, 11, 1000 + c as u64);
            m.set_clamps(&[(1, s[1]), (4, s[4])]);
            m.set_spins(s);
            for _ in 0..5 {
                m.sweep(&page);
            }
            assert_eq!(got[c], m.spins(), "chain {c}");
            // clamps hold: each chain keeps its own clamp values
            assert_eq!((got[c][1], got[c][4]), (s[1], s[4]));
        }
        // the chains did move (otherwise the comparison above proves little)
        assert!(got.iter().zip(&initial).any(|(a, b)| a != b));
        // zero sweeps: the initial states come back
        let job0 = RelaxJob { sweeps: 0, ..job };
        assert_eq!(run(&mut ModelBackend::default(), &job0), initial);
    }

    #[test]
    fn watched_anneal_is_the_anneal_with_a_look_inside() {
        use crate::run::Pages;
        use crate::schedule::{Schedule, Shape};
        let p = instance(12, 4);
        let schedule = Schedule::anneal(0.2, 2.0, 50, Shape::Geometric, 8).unwrap();
        let pages = Pages::build(&p, &schedule);
        let clamps = [(3usize, true)];
        let job = AnnealJob {
            problem: &p,
            clamps: &clamps,
            pages: &pages,
            seed: 9,
            reads: 5,
        };
        let mut b = ModelBackend::default();
        let plain = b.anneal(&job, &|_| {}).unwrap();
        let mut seen: Vec<(u64, u64, i64, i64)> = Vec::new();
        let watched = b
            .anneal_watched(&job, 7, &mut |w| {
                assert_eq!(w.energy_raw, p.energy_raw(w.spins));
                assert!(w.spins[3], "the clamp holds");
                seen.push((w.read, w.sweep, w.energy_raw, w.best_energy_raw));
            })
            .unwrap();
        assert_eq!(watched, plain);
        // sweeps 7, 14, …, 49 and the last (50) of each read, in read order
        let sweeps: Vec<u64> = (1..=7).map(|k| 7 * k).chain([50]).collect();
        assert_eq!(seen.len(), 5 * sweeps.len());
        for (r, chunk) in seen.chunks(sweeps.len()).enumerate() {
            assert!(chunk.iter().all(|w| w.0 == r as u64));
            assert_eq!(chunk.iter().map(|w| w.1).collect::<Vec<_>>(), sweeps);
            // the best never rises and never lies above the current energy; it ends at the read's
            assert!(chunk.windows(2).all(|w| w[1].3 <= w[0].3));
            assert!(chunk.iter().all(|w| w.3 <= w.2));
            assert_eq!(chunk.last().unwrap().3, plain[r].best_energy_raw);
            assert_eq!(chunk.last().unwrap().2, plain[r].final_energy_raw);
        }
    }

    #[test]
    fn relax_does_not_depend_on_thread_count() {
        // 64 chains × 50 sweeps × 20 p-bits = 64k updates: above the threading threshold
        let p = instance(20, 2);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(0.5).unwrap());
        let initial = states(64, 20, 3);
        let job = RelaxJob {
            problem: &p,
            clamped: &[0, 19],
            page: &page,
            seed: 5,
            first_read: 0,
            initial: &initial,
            sweeps: 50,
        };
        let with = |threads| {
            run(
                &mut ModelBackend {
                    threads,
                    ..ModelBackend::default()
                },
                &job,
            )
        };
        let one = with(1);
        assert_eq!(one, with(2));
        assert_eq!(one, with(3));
        assert_eq!(one, with(64));
        for (a, b) in one.iter().zip(&initial) {
            assert_eq!((a[0], a[19]), (b[0], b[19]));
        }
    }

    #[test]
    fn relax_rejects_malformed_jobs_and_defaults_to_unsupported() {
        let p = instance(4, 3);
        let page = ThresholdPage::build(&p.format, Beta::from_f64(1.0).unwrap());
        let short = vec![vec![true; 3]];
        let job = RelaxJob {
            problem: &p,
            clamped: &[],
            page: &page,
            seed: 0,
            first_read: 0,
            initial: &short,
            sweeps: 1,
        };
        let e = ModelBackend::default().relax(&job, &mut |_, _| {});
        assert!(e.unwrap_err().to_string().contains("3 spins"));
        let ok = vec![vec![true; 4]];
        let bad_clamp = RelaxJob {
            initial: &ok,
            clamped: &[4],
            ..job
        };
        assert!(ModelBackend::default()
            .relax(&bad_clamp, &mut |_, _| {})
            .is_err());

        /// A backend that has not implemented relax yet.
        struct Bare;
        impl Backend for Bare {
            fn name(&self) -> &'static str {
                "bare"
            }
            fn format(&self) -> Format {
                Format::STANDARD
            }
            fn capacity(&self) -> Option<usize> {
                None
            }
            fn sample(
                &mut self,
                _: &SampleJob,
                _: &mut dyn FnMut(&[bool], i64),
            ) -> Result<(), BackendError> {
                Ok(())
            }
            fn anneal(
                &mut self,
                _: &AnnealJob,
                _: &(dyn Fn(u64) + Sync),
            ) -> Result<Vec<ReadResult>, BackendError> {
                Ok(Vec::new())
            }
        }
        let e = Bare
            .relax(
                &RelaxJob {
                    initial: &ok,
                    ..bad_clamp
                },
                &mut |_, _| {},
            )
            .unwrap_err();
        assert!(matches!(
            e,
            BackendError::Unsupported {
                backend: "bare",
                ..
            }
        ));
    }
}
