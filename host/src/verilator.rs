//! The Verilated gateware as a [`DeviceBackend`]: the gateware's Verilog, Verilated and
//! compiled at run time (pbit-sim), running every job bit-exactly as the model does.
//!
//! The machine is built for the smallest generated size that holds the instance (or a size the
//! user fixes), on first use, and kept while jobs fit it. Instances are quantised to the
//! standard format; the machine's narrower fields hold every instance that fits it, and pages
//! are clipped to its field range, which never changes a decision.
//!
//! The sparse machine (`--machine sparse`, [`VerilatorBackend::sparse`]) is generated for each
//! job's graph (pbit-hdl's sparse generator) at the maximum degree asked for, else the graph's;
//! machines are kept by graph hash and degree (a factoring run alternates between a few
//! circuits), and the compiled model is cached on disk by its Verilog, so by graph hash.

use crate::device::{Device, DeviceBackend, SparseTarget};
use pbit_driver::Driver;
use pbit_model::BackendError;
use pbit_sim::VerilatedMachine;
use pbit_spec::sparse::SparseGraph;
use pbit_spec::Format;
use std::collections::HashMap;

/// The Verilated machine of the size a job needs, built on first use.
pub struct VerilatedDevice {
    /// The machine size asked for (None: the smallest that fits each instance).
    pub machine_n: Option<usize>,
    machine: Option<VerilatedMachine>,
    /// Write a waveform of the machine's first clocks (a traced build; see
    /// [`pbit_sim::Trace`]). A machine rebuilt for another size starts the file afresh.
    pub trace: Option<pbit_sim::Trace>,
    /// Sparse machines built so far, by graph hash and maximum degree.
    sparse: HashMap<(u64, usize), VerilatedMachine>,
    /// The sparse machines' update lanes (None: one update cell per p-bit).
    sparse_lanes: Option<usize>,
}

/// The Verilated gateware as a backend.
pub type VerilatorBackend = DeviceBackend<VerilatedDevice>;

impl VerilatorBackend {
    /// A backend whose machine is built on first use. A fixed `machine_n` must be a size the
    /// generator supports.
    pub fn with_machine_n(machine_n: Option<usize>) -> Result<VerilatorBackend, BackendError> {
        VerilatorBackend::traced(machine_n, None)
    }

    /// [`Self::with_machine_n`], writing the run's waveform to `trace` (None: no tracing, and
    /// the untraced build).
    pub fn traced(
        machine_n: Option<usize>,
        trace: Option<pbit_sim::Trace>,
    ) -> Result<VerilatorBackend, BackendError> {
        if let Some(n) = machine_n {
            if !pbit_hdl::SUPPORTED_N.contains(&n) {
                return Err(BackendError::Other(format!(
                    "the gateware is generated for N in {:?}, not {n}",
                    pbit_hdl::SUPPORTED_N
                )));
            }
        }
        Ok(DeviceBackend::new(VerilatedDevice {
            machine_n,
            machine: None,
            trace,
            sparse: HashMap::new(),
            sparse_lanes: None,
        }))
    }

    /// The sparse machine `target` in Verilator: generated for the graph given, else for each
    /// instance's own graph, on first use, with `lanes` update lanes (None: one update cell
    /// per p-bit; as `pbit hdl build --lanes`), writing the waveform of each machine built to
    /// `trace` (None: untraced builds). A machine built for another graph starts the file
    /// afresh.
    pub fn sparse(
        target: SparseTarget,
        lanes: Option<usize>,
        trace: Option<pbit_sim::Trace>,
    ) -> Result<VerilatorBackend, BackendError> {
        DeviceBackend::for_sparse(
            VerilatedDevice {
                machine_n: None,
                machine: None,
                trace,
                sparse: HashMap::new(),
                sparse_lanes: lanes,
            },
            target,
        )
    }
}

impl Device for VerilatedDevice {
    type Bus = VerilatedMachine;

    fn name(&self) -> &'static str {
        "verilator"
    }
    fn format(&self) -> Format {
        Format::STANDARD
    }
    fn capacity(&self) -> usize {
        self.machine_n
            .unwrap_or_else(|| pbit_hdl::SUPPORTED_N.iter().copied().max().unwrap_or(0))
    }
    /// Built (or taken from the cache) when the size changes.
    fn driver(&mut self, n: usize) -> Result<Driver<&mut VerilatedMachine>, BackendError> {
        let size = match self.machine_n {
            Some(size) => size,
            None => pbit_hdl::machine_size_for(n.max(1)).unwrap_or(usize::MAX),
        };
        if self.machine.as_ref().map(|m| m.n()) != Some(size) {
            let built = VerilatedMachine::build_with(size, self.trace.as_ref())
                .map_err(|e| BackendError::Other(format!("verilator backend: {e}")))?;
            self.machine = Some(built);
        }
        let vm = self.machine.as_mut().expect("built above");
        let (size, format) = (vm.n(), vm.format());
        Ok(Driver::new(vm, size, format))
    }
    /// Generated for `graph` on first use (a Verilator build of a new graph takes a while; the
    /// compiled model is cached on disk by its Verilog).
    fn sparse_driver(
        &mut self,
        graph: &SparseGraph,
        max_degree: Option<usize>,
    ) -> Result<Driver<&mut VerilatedMachine>, BackendError> {
        let d = max_degree.unwrap_or_else(|| graph.max_degree()).max(1);
        let key = (graph.hash(), d);
        let vm = match self.sparse.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let built = VerilatedMachine::build_sparse_options(
                    graph,
                    d,
                    self.sparse_lanes,
                    self.trace.as_ref(),
                )
                .map_err(|e| BackendError::Other(format!("verilator backend: {e}")))?;
                e.insert(built)
            }
        };
        let format = vm.format();
        Ok(Driver::sparse(vm, graph.clone(), format))
    }
}
