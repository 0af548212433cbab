//! Polling: how the driver waits for the machine to finish a batch, and when it gives up.

use crate::{Bus, Counters, DriverError, Machine};
use pbit_spec::memory_map as mm;

impl<B: Bus> Machine<B> {
    /// Waits for a batch of `chains` chains of `sweeps` sweeps, started after counters
    /// `before`, to end: STATUS polled until idle and the sweep counter at `sweeps_done` past
    /// `before` (a bus may apply the start a few clocks after its write returns: an idle
    /// STATUS alone could be the machine before the batch), then `REG_BATCH_DONE` checked.
    pub(crate) fn wait_batch(
        &mut self,
        before: Counters,
        sweeps_done: u64,
        chains: u32,
        n: usize,
        sweeps: u64,
    ) -> Result<(), DriverError<B::Error>> {
        // A poll is at least one clock of the machine (a bus read of the Verilated machine is
        // one clock; on a link it is a round trip, far more): a chain takes well under
        // 4·(n·sweeps + n² + 256) clocks (seeding, loading, recompute, sweeps, sums).
        let n = n as u64;
        let bound = 4 * chains as u64 * (n * sweeps + n * n + 256) + 10_000;
        let mut polls = 0u64;
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
            if polls > bound {
                return Err(DriverError::BatchTimeout { chains, polls });
            }
        }
    }
}
