//! One backend for every device: a machine programmed by [`pbit_driver::Machine`] over a
//! [`pbit_driver::Bus`], whatever carries the bus (the Verilated gateware's direct port, a
//! board on the UART link). The jobs are written once here; a [`Device`] only says how to
//! reach a machine that holds an instance ([`crate::verilator::VerilatedDevice`],
//! [`crate::serial::SerialDevice`]). Results are the model's bit for bit.

use crate::cost::Usage;
use pbit_driver::{BatchCaps, Bus, DriverError, Machine};
use pbit_model::backend::{Backend, BackendError};
use pbit_model::jobs::{AnnealJob, RelaxJob, RelaxWant, Relaxed, SampleJob};
use pbit_model::run::ReadResult;
use pbit_spec::Format;

/// How a [`DeviceBackend`] reaches a machine.
pub trait Device {
    /// The bus the driver programs the machine over.
    type Bus: Bus;
    /// Short name for reports and errors ("verilator", "serial").
    fn name(&self) -> &'static str;
    /// The fixed-point format instances are quantised to.
    fn format(&self) -> Format;
    /// The most p-bits a machine of this device holds.
    fn capacity(&self) -> usize;
    /// A machine that holds `n` ≤ [`Device::capacity`] p-bits (built or reused).
    fn machine(&mut self, n: usize) -> Result<Machine<&mut Self::Bus>, BackendError>;
    /// The batch engine of the machine for `n` p-bits (a device may remember it).
    fn batch_caps(&mut self, n: usize) -> Result<BatchCaps, BackendError> {
        let name = self.name();
        self.machine(n)?
            .batch_caps()
            .map_err(|e| device_error(name, e))
    }
    /// What the device has moved and run so far, given the machine's busy clocks (None: no
    /// link to count).
    fn usage(&self, machine_clocks: u64) -> Option<Usage> {
        let _ = machine_clocks;
        None
    }
}

/// A driver error as the backend reports it: "<device> backend: <error>".
pub fn device_error<E: std::error::Error>(name: &str, e: DriverError<E>) -> BackendError {
    BackendError::Other(format!("{name} backend: {e}"))
}

/// A device as a [`Backend`].
pub struct DeviceBackend<D> {
    device: D,
    /// Clocks the machine ran for the jobs so far.
    pub clocks: u64,
}

impl<D: Device> DeviceBackend<D> {
    pub fn new(device: D) -> Self {
        DeviceBackend { device, clocks: 0 }
    }
    pub fn device(&self) -> &D {
        &self.device
    }
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }
    fn machine(&mut self, n: usize) -> Result<Machine<&mut D::Bus>, BackendError> {
        self.check_fits(n)?;
        self.device.machine(n)
    }
    fn error(&self, e: DriverError<<D::Bus as Bus>::Error>) -> BackendError {
        device_error(self.device.name(), e)
    }
}

impl<D: Device> Backend for DeviceBackend<D> {
    fn name(&self) -> &'static str {
        self.device.name()
    }
    fn format(&self) -> Format {
        self.device.format()
    }
    fn capacity(&self) -> Option<usize> {
        Some(self.device.capacity())
    }
    fn sample(
        &mut self,
        job: &SampleJob,
        record: &mut dyn FnMut(&[bool], i64),
    ) -> Result<(), BackendError> {
        let r = self.machine(job.problem.n)?.sample(
            job.problem,
            job.clamps,
            job.page,
            job.seed,
            job.spec,
            record,
        );
        self.clocks += r.map_err(|e| self.error(e))?;
        Ok(())
    }
    fn anneal(
        &mut self,
        job: &AnnealJob,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<ReadResult>, BackendError> {
        let r = self.machine(job.problem.n)?.anneal(
            job.problem,
            job.clamps,
            job.pages,
            job.seed,
            job.reads,
            progress,
        );
        let (results, clocks) = r.map_err(|e| self.error(e))?;
        self.clocks += clocks;
        Ok(results)
    }
    fn relax(
        &mut self,
        job: &RelaxJob,
        out: &mut dyn FnMut(usize, &[bool]),
    ) -> Result<(), BackendError> {
        job.validate()?;
        let r = self.machine(job.problem.n)?.relax(
            job.problem,
            job.clamped,
            job.page,
            job.seed,
            job.first_read,
            job.initial,
            job.sweeps,
            out,
        );
        self.clocks += r.map_err(|e| self.error(e))?;
        Ok(())
    }
    /// The whole job as device batches where the machine has the engine (chains seeded and
    /// sums formed on the device), else chain by chain with the sums formed here; only what
    /// `want` asks for crosses the bus.
    fn relax_batch(&mut self, job: &RelaxJob, want: RelaxWant) -> Result<Relaxed, BackendError> {
        job.validate()?;
        self.check_fits(job.problem.n)?;
        let caps = self.device.batch_caps(job.problem.n)?;
        let r = self.machine(job.problem.n)?.relax_batch(
            caps,
            job.problem,
            job.clamped,
            job.page,
            job.seed,
            job.first_read,
            job.initial,
            job.sweeps,
            want.finals,
            want.sums,
        );
        let r = r.map_err(|e| self.error(e))?;
        self.clocks += r.clocks;
        Ok(Relaxed {
            finals: r.finals,
            sums: r.sums,
        })
    }
}

impl<D: Device> crate::cost::Metered for DeviceBackend<D> {
    fn usage(&self) -> Option<Usage> {
        self.device.usage(self.clocks)
    }
}
