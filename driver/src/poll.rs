//! Polling: how the driver waits for the machine to finish a batch, and when it gives up.

use crate::{Bus, Counters, Driver, DriverError};
use pbit_spec::memory_map as mm;

/// How long a device past its batch's [`Bus::run_budget`] may show no progress (its sweep
/// and chain counters still) before the batch is reported hung.
pub const HUNG_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// A batch being waited for: what it should have done, when it started, and how long it may
/// take on the host's clock ([`Bus::run_budget`]).
pub(crate) struct BatchWait {
    pub before: Counters,
    pub sweeps_done: u64,
    pub chains: u32,
    pub expected_clocks: u64,
    pub started: std::time::Instant,
    pub budget: Option<std::time::Duration>,
}

impl<B: Bus> Driver<B> {
    /// Waits for a batch of `chains` chains of `sweeps` sweeps, started after counters
    /// `before`, to end: STATUS polled until idle and the sweep counter at `sweeps_done` past
    /// `before` (a bus may apply the start a few clocks after its write returns: an idle
    /// STATUS alone could be the machine before the batch), then `REG_BATCH_DONE` checked.
    ///
    /// A device with a clock of its own ([`Bus::run_budget`]) that is still busy when the
    /// budget for the batch's clocks has passed is reported as hung, in seconds; one without
    /// (the Verilated machine) after a bound on polls, each at least a clock.
    pub(crate) fn wait_batch(
        &mut self,
        wait: &BatchWait,
        n: usize,
        sweeps: u64,
    ) -> Result<(), DriverError<B::Error>> {
        let (before, sweeps_done, chains) = (wait.before, wait.sweeps_done, wait.chains);
        // A poll is at least one clock of the machine (a bus read of the Verilated machine is
        // one clock): a chain takes well under 4·(n·sweeps + n² + 256) clocks (seeding,
        // loading, recompute, sweeps, sums).
        let n = n as u64;
        let bound = (4 * chains as u64)
            .saturating_mul((n * sweeps).saturating_add(n * n + 256))
            .saturating_add(10_000);
        let mut polls = 0u64;
        // past the budget, the counters (sweeps, chains done) last seen and when: a device
        // slower than its clock (a simulated board) keeps moving them and is waited for; one
        // whose counters stand still for HUNG_WINDOW is hung
        let mut last_progress: Option<((u32, u32), std::time::Instant)> = None;
        loop {
            let status = self.read(mm::reg(mm::REG_STATUS), 1)?[0];
            if status & mm::STATUS_BUSY == 0 {
                // sweeps and chains done in one read (REG_SWEEPS ..= REG_BATCH_DONE)
                let r = self.read(
                    mm::reg(mm::REG_SWEEPS),
                    (mm::REG_BATCH_DONE - mm::REG_SWEEPS + 1) as usize,
                )?;
                let (now, done) = (r[0], r[r.len() - 1]);
                if now.wrapping_sub(before.sweeps) as u64 == sweeps_done & u32::MAX as u64
                    && done == chains
                {
                    return Ok(());
                }
                if polls > 16 {
                    // idle, but the batch did not run (all) its chains: stopped or reset
                    self.bus.invalidate();
                    return Err(DriverError::BatchIncomplete { chains, done });
                }
            }
            polls += 1;
            match wait.budget {
                Some(budget) if wait.started.elapsed() > budget => {
                    let r = self.read(
                        mm::reg(mm::REG_SWEEPS),
                        (mm::REG_BATCH_DONE - mm::REG_SWEEPS + 1) as usize,
                    )?;
                    let seen = (r[0].wrapping_sub(before.sweeps), r[r.len() - 1]);
                    // progress towards this batch's end, not past it
                    let towards = seen.1 <= chains
                        && (sweeps_done > u32::MAX as u64 || seen.0 as u64 <= sweeps_done);
                    match last_progress {
                        Some((last, at)) if last == seen || !towards => {
                            if at.elapsed() > HUNG_WINDOW {
                                return Err(DriverError::BatchHung {
                                    chains,
                                    expected_clocks: wait.expected_clocks,
                                    budget_s: budget.as_secs_f64(),
                                    waited_s: wait.started.elapsed().as_secs_f64(),
                                });
                            }
                        }
                        _ => last_progress = Some((seen, std::time::Instant::now())),
                    }
                }
                Some(_) => {}
                None if polls > bound => return Err(DriverError::BatchTimeout { chains, polls }),
                None => {}
            }
        }
    }
}
