//! The run controller: it sequences recomputation, the schedule's steps, sweeps, burn-in and
//! samples, and drives the datapath with one phase signal per kind of clock.
//!
//! Phases (one clock each unless noted):
//! * `ClearFields`: every field ← 0 (the crossbar adds h at its multiplexer), J column 0 is read.
//! * `Accum` (n clocks): field_k += ±J_kj for j = cursor, the column of j+1 is read.
//! * `Energy` (n clocks): the energy accumulator takes −m_i·(I_i + h_i) of i = cursor.
//! * `EnergyDone`: E = acc/2, best ← (E, state), fields no longer stale.
//! * `StepLoad`, `StepRead`: the schedule's step is read; steps of 0 sweeps are skipped.
//! * `Prep`: p-bit 0's generator steps and its threshold is looked up; J column 0 is read.
//! * `Sweep` (n clocks per sweep): p-bit `cursor` is decided (its threshold and J column are
//!   ready), and p-bit cursor+1's generator steps, its threshold is looked up and its J column
//!   read. The last decision of a sweep also ends the sweep (burn-in and sample counters) and
//!   prepares p-bit 0 of the next sweep of the same step, so sweeps follow back to back.
//! * `SweepEnd`: only when a sample is due while the previous one is still unread: the machine
//!   waits here (it stalls, it never drops a sample), then ends the sweep and goes to `Prep`.
//!
//! A sweep of n p-bits takes n clocks; each schedule step adds 3 (`StepLoad`, `StepRead`,
//! `Prep`); recomputation takes 2n + 2.

use pbit_spec::memory_map as mm;
use rust_hdl::prelude::*;

/// Clocks the machine is busy for a run of a schedule whose steps run `steps[s]` sweeps, on n
/// active p-bits: recomputation 2n + 2, then per step 3 (`StepLoad`, `StepRead`, `Prep`) and
/// n per sweep, or 2 for a step of no sweeps (skipped before its `Prep`). The co-simulation
/// (tests/cosim.rs) checks it against the Verilated machine's busy-clock counter; board
/// reports derive their update rate from it.
pub fn run_clocks(n: u64, steps: &[u64]) -> u64 {
    2 * n
        + 2
        + steps
            .iter()
            .map(|&k| if k == 0 { 2 } else { 3 + k * n })
            .sum::<u64>()
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum Phase {
    Idle,
    ClearFields,
    Accum,
    Energy,
    EnergyDone,
    StepLoad,
    StepRead,
    Prep,
    Sweep,
    SweepEnd,
}

/// The controller of a machine with 2^A p-bit addresses, 2^P pages and 2^S schedule steps.
///
/// Its inputs are the bus ports and registers of the core, copied unchanged (it decodes the
/// control register itself), so no combinational path runs from the core's logic into it: in
/// the generated Verilog its inputs are plain wires and Verilator sees no loop between the
/// blocks.
#[derive(LogicBlock)]
pub struct Scheduler<const A: usize, const P: usize, const S: usize> {
    pub clock: Signal<In, Clock>,
    /// The bus write port: a write of `CTRL_RUN`, `CTRL_RECOMPUTE` or `CTRL_STOP` to
    /// `REG_CTRL` starts the schedule, recomputes only, or stops.
    pub write_en: Signal<In, Bit>,
    pub write_addr: Signal<In, Bits<32>>,
    pub write_data: Signal<In, Bits<32>>,
    /// The bus read address: while idle, the cursor takes its p-bit index every clock, so
    /// `sel` names the field read next clock (a register: no path from the bus into the
    /// decision).
    pub read_addr: Signal<In, Bits<32>>,
    /// Fields are stale: a run recomputes first.
    pub stale: Signal<In, Bit>,
    /// Active p-bits n and schedule steps (both ≥ 1).
    pub n_active: Signal<In, Bits<32>>,
    pub n_steps: Signal<In, Bits<32>>,
    pub burn_in: Signal<In, Bits<32>>,
    pub every: Signal<In, Bits<32>>,
    /// The schedule table's entry for `step` (read one clock after `step` is presented).
    pub step_sweeps: Signal<In, Bits<32>>,
    pub step_page: Signal<In, Bits<P>>,
    /// A sample is pending; the host reads it this clock.
    pub sample_pending: Signal<In, Bit>,
    pub sample_ready: Signal<In, Bit>,
    /// The p-bit of this clock's phase, and the p-bit whose J column, generator step and
    /// threshold lookup happen this clock (for the next clock).
    pub cursor: Signal<Out, Bits<A>>,
    pub look: Signal<Out, Bits<A>>,
    pub look_en: Signal<Out, Bit>,
    /// The p-bit whose field the crossbar shows: `cursor` while busy, else the read address's.
    pub sel: Signal<Out, Bits<A>>,
    /// `sel` after this clock edge (the bias RAM is read with it a clock early).
    pub sel_next: Signal<Out, Bits<A>>,
    pub clear_fields: Signal<Out, Bit>,
    pub accum: Signal<Out, Bit>,
    pub energy: Signal<Out, Bit>,
    pub energy_done: Signal<Out, Bit>,
    pub decide: Signal<Out, Bit>,
    pub sample_emit: Signal<Out, Bit>,
    pub sweep_done: Signal<Out, Bit>,
    /// A run starts this clock (the core discards an unread sample of a stopped run).
    pub starting: Signal<Out, Bit>,
    pub busy: Signal<Out, Bit>,
    pub page: Signal<Out, Bits<P>>,
    pub step: Signal<Out, Bits<S>>,
    state: DFF<Phase>,
    cursor_r: DFF<Bits<A>>,
    step_r: DFF<Bits<S>>,
    page_r: DFF<Bits<P>>,
    sweeps_left: DFF<Bits<32>>,
    burn_left: DFF<Bits<32>>,
    every_left: DFF<Bits<32>>,
    running: DFF<Bit>,
    ctrl_addr: Constant<Bits<32>>,
    ctrl_reserved: Constant<Bits<32>>,
    ctrl_w: Signal<Local, Bit>,
    start: Signal<Local, Bit>,
    recompute: Signal<Local, Bit>,
    stop: Signal<Local, Bit>,
    n_last: Signal<Local, Bits<A>>,
    steps_last: Signal<Local, Bits<S>>,
    sample_blocked: Signal<Local, Bit>,
    due: Signal<Local, Bit>,
}

impl<const A: usize, const P: usize, const S: usize> Default for Scheduler<A, P, S> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            read_addr: Default::default(),
            stale: Default::default(),
            n_active: Default::default(),
            n_steps: Default::default(),
            burn_in: Default::default(),
            every: Default::default(),
            step_sweeps: Default::default(),
            step_page: Default::default(),
            sample_pending: Default::default(),
            sample_ready: Default::default(),
            cursor: Default::default(),
            look: Default::default(),
            look_en: Default::default(),
            sel: Default::default(),
            sel_next: Default::default(),
            clear_fields: Default::default(),
            accum: Default::default(),
            energy: Default::default(),
            energy_done: Default::default(),
            decide: Default::default(),
            sample_emit: Default::default(),
            sweep_done: Default::default(),
            starting: Default::default(),
            busy: Default::default(),
            page: Default::default(),
            step: Default::default(),
            state: Default::default(),
            cursor_r: Default::default(),
            step_r: Default::default(),
            page_r: Default::default(),
            sweeps_left: Default::default(),
            burn_left: Default::default(),
            every_left: Default::default(),
            running: Default::default(),
            ctrl_addr: Constant::new((mm::reg(mm::REG_CTRL) as u64).to_bits()),
            ctrl_reserved: Constant::new(((!mm::CTRL_VALID) as u64).to_bits()),
            ctrl_w: Default::default(),
            start: Default::default(),
            recompute: Default::default(),
            stop: Default::default(),
            n_last: Default::default(),
            steps_last: Default::default(),
            sample_blocked: Default::default(),
            due: Default::default(),
        }
    }
}

impl<const A: usize, const P: usize, const S: usize> Logic for Scheduler<A, P, S> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            cursor_r,
            step_r,
            page_r,
            sweeps_left,
            burn_left,
            every_left,
            running
        );
        // control decode (CTRL bits: 0 run, 1 recompute, 2 stop; a write with a reserved bit
        // set is ignored)
        self.ctrl_w.next = self.write_en.val()
            & (self.write_addr.val() == self.ctrl_addr.val())
            & ((self.write_data.val() & self.ctrl_reserved.val()) == 0);
        self.start.next = self.ctrl_w.val() & self.write_data.val().get_bit(0);
        self.recompute.next = self.ctrl_w.val() & self.write_data.val().get_bit(1);
        self.stop.next = self.ctrl_w.val() & self.write_data.val().get_bit(2);
        self.n_last.next = bit_cast::<A, 32>(self.n_active.val() - 1);
        self.steps_last.next = bit_cast::<S, 32>(self.n_steps.val() - 1);
        self.sample_blocked.next = self.sample_pending.val() & !self.sample_ready.val();
        self.starting.next = false;
        self.sel.next = self.cursor_r.q.val();
        self.cursor.next = self.cursor_r.q.val();
        self.look.next = self.cursor_r.q.val() + 1;
        self.look_en.next = false;
        self.clear_fields.next = false;
        self.accum.next = false;
        self.energy.next = false;
        self.energy_done.next = false;
        self.decide.next = false;
        self.sample_emit.next = false;
        self.sweep_done.next = false;
        self.busy.next = true;
        self.page.next = self.page_r.q.val();
        self.step.next = self.step_r.q.val();
        self.due.next = (self.burn_left.q.val() == 0)
            & (self.every.val() != 0)
            & (self.every_left.q.val() == 1);
        match self.state.q.val() {
            Phase::Idle => {
                self.busy.next = false;
                self.cursor_r.d.next = bit_cast::<A, 32>(self.read_addr.val());
                if self.start.val() {
                    self.starting.next = true;
                    self.burn_left.d.next = self.burn_in.val();
                    self.every_left.d.next = self.every.val();
                    self.step_r.d.next = 0.into();
                    if self.stale.val() {
                        self.running.d.next = true;
                        self.state.d.next = Phase::ClearFields;
                    } else {
                        self.state.d.next = Phase::StepLoad;
                    }
                } else if self.recompute.val() {
                    self.running.d.next = false;
                    self.state.d.next = Phase::ClearFields;
                }
            }
            Phase::ClearFields => {
                self.clear_fields.next = true;
                self.look.next = 0.into();
                self.cursor_r.d.next = 0.into();
                self.state.d.next = Phase::Accum;
            }
            Phase::Accum => {
                self.accum.next = true;
                if self.cursor_r.q.val() == self.n_last.val() {
                    self.cursor_r.d.next = 0.into();
                    self.state.d.next = Phase::Energy;
                } else {
                    self.cursor_r.d.next = self.cursor_r.q.val() + 1;
                }
            }
            Phase::Energy => {
                self.energy.next = true;
                if self.cursor_r.q.val() == self.n_last.val() {
                    self.state.d.next = Phase::EnergyDone;
                } else {
                    self.cursor_r.d.next = self.cursor_r.q.val() + 1;
                }
            }
            Phase::EnergyDone => {
                self.energy_done.next = true;
                if self.running.q.val() {
                    self.state.d.next = Phase::StepLoad;
                } else {
                    self.state.d.next = Phase::Idle;
                }
            }
            Phase::StepLoad => {
                self.state.d.next = Phase::StepRead;
            }
            Phase::StepRead => {
                self.page_r.d.next = self.step_page.val();
                self.sweeps_left.d.next = self.step_sweeps.val();
                if self.step_sweeps.val() == 0 {
                    if self.step_r.q.val() == self.steps_last.val() {
                        self.state.d.next = Phase::Idle;
                    } else {
                        self.step_r.d.next = self.step_r.q.val() + 1;
                        self.state.d.next = Phase::StepLoad;
                    }
                } else {
                    self.state.d.next = Phase::Prep;
                }
            }
            Phase::Prep => {
                self.look.next = 0.into();
                self.look_en.next = true;
                self.cursor_r.d.next = 0.into();
                self.state.d.next = Phase::Sweep;
            }
            Phase::Sweep => {
                self.decide.next = true;
                if self.cursor_r.q.val() == self.n_last.val() {
                    if self.due.val() & self.sample_blocked.val() {
                        // wait for the reader in SweepEnd
                        self.state.d.next = Phase::SweepEnd;
                    } else {
                        // end of sweep in the same clock as its last decision
                        self.sweep_done.next = true;
                        self.sample_emit.next = self.due.val();
                        if self.burn_left.q.val() != 0 {
                            self.burn_left.d.next = self.burn_left.q.val() - 1;
                        } else if self.every.val() != 0 {
                            if self.every_left.q.val() == 1 {
                                self.every_left.d.next = self.every.val();
                            } else {
                                self.every_left.d.next = self.every_left.q.val() - 1;
                            }
                        }
                        if self.sweeps_left.q.val() == 1 {
                            if self.step_r.q.val() == self.steps_last.val() {
                                self.state.d.next = Phase::Idle;
                            } else {
                                self.step_r.d.next = self.step_r.q.val() + 1;
                                self.state.d.next = Phase::StepLoad;
                            }
                        } else {
                            // the next sweep's p-bit 0 is prepared now
                            self.sweeps_left.d.next = self.sweeps_left.q.val() - 1;
                            self.look.next = 0.into();
                            self.look_en.next = true;
                            self.cursor_r.d.next = 0.into();
                        }
                    }
                } else {
                    self.look_en.next = true;
                    self.cursor_r.d.next = self.cursor_r.q.val() + 1;
                }
            }
            Phase::SweepEnd => {
                if !(self.due.val() & self.sample_blocked.val()) {
                    self.sweep_done.next = true;
                    self.sample_emit.next = self.due.val();
                    if self.burn_left.q.val() != 0 {
                        self.burn_left.d.next = self.burn_left.q.val() - 1;
                    } else if self.every.val() != 0 {
                        if self.every_left.q.val() == 1 {
                            self.every_left.d.next = self.every.val();
                        } else {
                            self.every_left.d.next = self.every_left.q.val() - 1;
                        }
                    }
                    if self.sweeps_left.q.val() == 1 {
                        if self.step_r.q.val() == self.steps_last.val() {
                            self.state.d.next = Phase::Idle;
                        } else {
                            self.step_r.d.next = self.step_r.q.val() + 1;
                            self.state.d.next = Phase::StepLoad;
                        }
                    } else {
                        self.sweeps_left.d.next = self.sweeps_left.q.val() - 1;
                        self.state.d.next = Phase::Prep;
                    }
                }
            }
            _ => {
                self.state.d.next = Phase::Idle;
            }
        }
        // STOP ends the run after this clock's update (docs/spec.md, "STOP and resume"): the
        // look-ahead generator step of the next p-bit, whose decision will not come, is not
        // made, so the generators stay those of the updates made
        if self.stop.val() {
            self.state.d.next = Phase::Idle;
            self.look_en.next = false;
        }
        self.sel_next.next = self.cursor_r.d.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Uut = Scheduler<3, 2, 2>;

    /// What one run of the scheduler did, cycle by cycle.
    #[derive(Default, Debug)]
    struct Trace {
        /// (sweep index from 1, page) of each decision, with the p-bit decided.
        decides: Vec<(usize, usize, usize)>,
        samples: Vec<usize>,
        accums: Vec<usize>,
        energies: Vec<usize>,
        energy_done: usize,
    }

    fn run(n: usize, steps: Vec<(u32, usize)>, burn_in: u32, every: u32, stall: bool) -> Trace {
        let mut uut = Uut::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Uut>| x.clock.next = !x.clock.val());
        let trace = std::sync::Arc::new(std::sync::Mutex::new(Trace::default()));
        let t2 = trace.clone();
        sim.add_testbench(move |mut sim: Sim<Uut>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            x.n_active.next = n.to_bits();
            x.n_steps.next = steps.len().to_bits();
            x.burn_in.next = burn_in.to_bits();
            x.every.next = every.to_bits();
            x.stale.next = true;
            x.write_en.next = true;
            x.write_addr.next = (mm::reg(mm::REG_CTRL) as u64).to_bits();
            x.write_data.next = (mm::CTRL_RUN as u64).to_bits();
            wait_clock_cycle!(sim, clock, x);
            x.write_en.next = false;
            let mut sweep = 1;
            let mut pending = false;
            let mut t = 0;
            loop {
                t += 1;
                let s = x.step.val().index();
                x.step_sweeps.next = steps[s].0.to_bits();
                x.step_page.next = steps[s].1.to_bits();
                // a slow reader: a pending sample is taken every 7th clock
                let ready = !stall || t % 7 == 0;
                x.sample_pending.next = pending;
                x.sample_ready.next = ready;
                wait_clock_false!(sim, clock, x);
                if !x.busy.val() {
                    break;
                }
                let mut tr = t2.lock().unwrap();
                if x.decide.val() {
                    tr.decides
                        .push((sweep, x.page.val().index(), x.cursor.val().index()));
                }
                if x.accum.val() {
                    tr.accums.push(x.cursor.val().index());
                }
                if x.energy.val() {
                    tr.energies.push(x.cursor.val().index());
                }
                if x.energy_done.val() {
                    tr.energy_done += 1;
                }
                if pending && ready {
                    pending = false;
                }
                if x.sample_emit.val() {
                    sim_assert!(sim, !pending, x);
                    tr.samples.push(sweep);
                    pending = true;
                }
                if x.sweep_done.val() {
                    sweep += 1;
                }
                drop(tr);
                wait_clock_cycle!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 10_000_000).unwrap();
        let t = std::mem::take(&mut *trace.lock().unwrap());
        t
    }

    /// Sweeps visit 0..n−1 in order, each step's sweeps at its page, samples after the sweeps
    /// `run::sample` records (t > burn-in, (t − burn-in) % every == 0), with and without a slow
    /// reader.
    #[test]
    fn scheduler_sequences_like_the_model() {
        for (n, steps, burn_in, every, stall) in [
            (5usize, vec![(3u32, 2usize)], 1u32, 1u32, false),
            (8, vec![(2, 1), (0, 3), (4, 3)], 2, 3, true),
            (1, vec![(7, 0)], 0, 2, true),
            (3, vec![(2, 1), (1, 2)], 0, 0, false),
        ] {
            let tr = run(n, steps.clone(), burn_in, every, stall);
            assert_eq!(tr.accums, (0..n).collect::<Vec<_>>());
            assert_eq!(tr.energies, (0..n).collect::<Vec<_>>());
            assert_eq!(tr.energy_done, 1);
            let mut want = Vec::new();
            let mut sweep = 1;
            for &(k, page) in &steps {
                for _ in 0..k {
                    for i in 0..n {
                        want.push((sweep, page, i));
                    }
                    sweep += 1;
                }
            }
            assert_eq!(tr.decides, want);
            let total = sweep - 1;
            let want_samples: Vec<usize> = (1..=total)
                .filter(|&t| {
                    every != 0
                        && t > burn_in as usize
                        && (t - burn_in as usize).is_multiple_of(every as usize)
                })
                .collect();
            assert_eq!(
                tr.samples, want_samples,
                "n {n} burn {burn_in} every {every}"
            );
        }
    }
}
