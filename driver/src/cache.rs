//! The driver's cache policy: a bus that does not send again what the device already holds.

use crate::{Bus, COUNTER_WORDS};
use pbit_spec::memory_map as mm;

/// Words of a gap between two changed runs of a cached write that are sent again rather than
/// split into two requests: a request costs ~10 bytes of header and ~8 of reply on a UART link
/// plus a round trip (≥ 1 ms through a USB-serial bridge), a word 4 bytes.
pub const MERGE_GAP: usize = 8;

/// What a [`Cached`] bus saved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Words written to the device (through the cache or past it).
    pub words_written: u64,
    /// Words of cacheable writes not sent: the device already held them.
    pub words_skipped: u64,
    /// Write calls with nothing to send.
    pub writes_skipped: u64,
    /// Times the copy was dropped (errors, a device that changed behind the host's back).
    pub invalidations: u64,
}

/// A bus that remembers what it wrote to the parts of the memory map that only the host
/// changes — J, h, clamps, pages, schedule and the configuration registers (active count,
/// steps, burn-in, sampling interval) — and writes only the words that differ from what the
/// device holds. Runs change the state, generators, best state and counters, never these, so
/// the copy stays exact as long as this host is the only writer; anything else drops it:
///
/// * any failed write, read or run (a write may or may not have landed);
/// * a read of the counter block (`REG_CLOCKS_LO`, 3 words: busy clocks and sweeps) that
///   differs from the last one with no run in between: the machine ran for someone else, or
///   was reset;
/// * [`Bus::invalidate`] (the driver calls it when a job's sweep count does not add up).
///
/// The batch engine's chain buffer is remembered too, differently: the host writes it and
/// only a batch changes it, so the copy of the chains region holds what was written or last
/// read back there, and any write of `REG_CTRL` (which starts or stops batches) drops it. A
/// batch whose initial states are the previous batch's finals, read back, sends no states.
///
/// Eliding a write of unchanged J, h or clamps also skips the "fields stale" mark such a write
/// sets; every job of [`Driver`] writes the state before it runs, which marks them stale
/// anyway, so the machine recomputes its fields and restarts its best exactly as before.
pub struct Cached<B> {
    bus: B,
    known: std::collections::HashMap<u32, u32>,
    counters: Option<Vec<u32>>,
    pub stats: CacheStats,
}

impl<B: Bus> Cached<B> {
    /// A cache in front of `bus`, empty (the first write of everything goes through).
    pub fn new(bus: B) -> Self {
        Cached {
            bus,
            known: std::collections::HashMap::new(),
            counters: None,
            stats: CacheStats::default(),
        }
    }
    /// The bus behind the cache. Writes made directly through it are not seen by the cache:
    /// call [`Bus::invalidate`] after any.
    pub fn inner(&mut self) -> &mut B {
        &mut self.bus
    }
    pub fn inner_ref(&self) -> &B {
        &self.bus
    }
    pub fn into_inner(self) -> B {
        self.bus
    }
    /// Whether `addr` is host-owned memory that no run changes (or the chain buffer, which
    /// only batches change: see above).
    pub fn cacheable(addr: u32) -> bool {
        match addr >> mm::REGION_SHIFT {
            mm::REGION_CHAINS
            | mm::REGION_J
            | mm::REGION_H
            | mm::REGION_CLAMPS
            | mm::REGION_PAGES
            | mm::REGION_SCHEDULE => true,
            mm::REGION_REGS => matches!(
                addr & 0xFF_FFFF,
                mm::REG_N_ACTIVE | mm::REG_N_STEPS | mm::REG_BURN_IN | mm::REG_EVERY
            ),
            _ => false,
        }
    }
    fn drop_copy(&mut self) {
        self.known.clear();
        self.counters = None;
        self.stats.invalidations += 1;
    }
    fn guard<T>(&mut self, r: Result<T, B::Error>) -> Result<T, B::Error> {
        if r.is_err() {
            self.drop_copy();
        }
        r
    }
}

impl<B: Bus> Bus for Cached<B> {
    type Error = B::Error;

    fn write(&mut self, addr: u32, words: &[u32]) -> Result<(), B::Error> {
        let ctrl = mm::reg(mm::REG_CTRL);
        if addr <= ctrl && ctrl - addr < words.len() as u32 {
            // a run, batch or stop of ours: the counters move, and a batch rewrites the chains
            self.counters = None;
            self.known
                .retain(|a, _| a >> mm::REGION_SHIFT != mm::REGION_CHAINS);
        }
        let all_cacheable = (0..words.len() as u32).all(|k| Self::cacheable(addr.wrapping_add(k)));
        if !all_cacheable {
            self.stats.words_written += words.len() as u64;
            let r = self.bus.write(addr, words);
            return self.guard(r);
        }
        // runs of changed words, merged across gaps of at most MERGE_GAP unchanged words
        let changed: Vec<usize> = (0..words.len())
            .filter(|&k| self.known.get(&addr.wrapping_add(k as u32)) != Some(&words[k]))
            .collect();
        if changed.is_empty() {
            self.stats.writes_skipped += 1;
            self.stats.words_skipped += words.len() as u64;
            return Ok(());
        }
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &k in &changed {
            match runs.last_mut() {
                Some((_, end)) if k - *end <= MERGE_GAP => *end = k + 1,
                _ => runs.push((k, k + 1)),
            }
        }
        let mut sent = 0;
        for (start, end) in runs {
            let a = addr.wrapping_add(start as u32);
            let r = self.bus.write(a, &words[start..end]);
            self.guard(r)?;
            for (k, &w) in words.iter().enumerate().take(end).skip(start) {
                self.known.insert(addr.wrapping_add(k as u32), w);
            }
            sent += end - start;
        }
        self.stats.words_written += sent as u64;
        self.stats.words_skipped += (words.len() - sent) as u64;
        Ok(())
    }

    fn read(&mut self, addr: u32, count: usize) -> Result<Vec<u32>, B::Error> {
        let r = self.bus.read(addr, count);
        let words = self.guard(r)?;
        if addr >> mm::REGION_SHIFT == mm::REGION_CHAINS {
            // what the buffer holds (only a batch, started by a write through here, changes it)
            for (k, &w) in words.iter().enumerate() {
                self.known.insert(addr.wrapping_add(k as u32), w);
            }
        }
        if addr == mm::reg(mm::REG_CLOCKS_LO) && count == COUNTER_WORDS {
            if self.counters.as_ref().is_some_and(|c| *c != words) {
                // the machine ran (or was reset) since this host last looked
                self.drop_copy();
            }
            self.counters = Some(words.clone());
        }
        Ok(words)
    }

    fn run(&mut self, on_sample: &mut dyn FnMut(u32, i32, &[u32])) -> Result<(), B::Error> {
        // the counters move in a run: the next counter read starts a new comparison
        self.counters = None;
        let r = self.bus.run(on_sample);
        self.guard(r)
    }

    fn run_expecting(
        &mut self,
        samples: u32,
        on_sample: &mut dyn FnMut(u32, i32, &[u32]),
    ) -> Result<(), B::Error> {
        self.counters = None;
        let r = self.bus.run_expecting(samples, on_sample);
        self.guard(r)
    }

    fn pause(&mut self, clocks: u64) -> Result<(), B::Error> {
        let r = self.bus.pause(clocks);
        self.guard(r)
    }

    fn run_budget(&self, clocks: u64) -> Option<std::time::Duration> {
        self.bus.run_budget(clocks)
    }

    fn invalidate(&mut self) {
        self.drop_copy();
        self.bus.invalidate();
    }
}
