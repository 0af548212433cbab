//! `pbit._pbit`: the Rust side of the Python package (python/pbit). Thin: it takes a model as
//! arrays in the BQM's variable order, runs the model crates, and hands back arrays and plain
//! dicts; everything dimod-shaped (labels, vartypes, SampleSet) is Python's.
//!
//! Conventions at this boundary:
//! * Ising models arrive as dimod writes them, E = Σ h_i s_i + Σ J_ij s_i s_j (+ offset, which
//!   stays in Python); the machine's E = −Σ J m m − Σ h m, so values are negated here.
//! * Long runs release the GIL and run on a worker thread; the calling thread wakes every
//!   [`POLL`] to run Python's signal handlers, and a `KeyboardInterrupt` (or any exception a
//!   handler raises) sets the run's cancel flag: the kernels stop within a sweep.
//! * Errors are Python exceptions carrying the Rust error's message: `ValueError` for bad
//!   input, `RuntimeError` for a backend that failed.

mod anneal;
mod tools;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

/// How often a waiting call looks at Python's signals: Ctrl-C stops a run within about this
/// plus one sweep.
const POLL: Duration = Duration::from_millis(50);

pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

pub(crate) fn runtime_error(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Runs `work` on a worker thread without the GIL, checking Python's signals every [`POLL`].
/// If a signal handler raises (Ctrl-C: `KeyboardInterrupt`), the cancel flag passed to `work`
/// is set, the worker is joined (it stops at its next check) and the exception is returned.
pub(crate) fn run_interruptible<R: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> R + Send,
) -> PyResult<R> {
    let cancel = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<R>();
    let rx = Mutex::new(rx);
    std::thread::scope(|s| {
        let cancel = &cancel;
        let worker = s.spawn(move || {
            // the receiver outlives the scope's threads: a failed send cannot happen
            let _ = tx.send(work(cancel));
        });
        loop {
            let got = py.detach(|| rx.lock().expect("receiver lock").recv_timeout(POLL));
            match got {
                Ok(r) => {
                    let _ = worker.join();
                    return Ok(r);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // the worker panicked: surface it as an error, not a crash
                    let msg = match worker.join() {
                        Err(p) => p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into()),
                        Ok(()) => "the worker ended without a result".into(),
                    };
                    return Err(runtime_error(format!("internal error: {msg}")));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        cancel.store(true, Ordering::Relaxed);
                        py.detach(|| {
                            let _ = worker.join();
                        });
                        return Err(e);
                    }
                }
            }
        }
    })
}

/// The worker threads to use: `threads` if given (≥ 1), else every core.
pub(crate) fn threads_or_all(threads: Option<usize>) -> PyResult<usize> {
    match threads {
        Some(0) => Err(value_error("threads must be at least 1")),
        Some(t) => Ok(t),
        None => Ok(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)),
    }
}

#[pymodule]
fn _pbit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_STEPS", pbit_model::schedule::MAX_STEPS)?;
    m.add("SPEC_VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(anneal::anneal, m)?)?;
    m.add_function(wrap_pyfunction!(tools::exact, m)?)?;
    m.add_function(wrap_pyfunction!(tools::meanfield, m)?)?;
    m.add_function(wrap_pyfunction!(tools::factor, m)?)?;
    m.add_function(wrap_pyfunction!(tools::sample_circuit, m)?)?;
    m.add_function(wrap_pyfunction!(tools::learn, m)?)?;
    Ok(())
}
