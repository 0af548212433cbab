//! Denoising diffusion on the machine: a chain of T conditional Boltzmann machines (the
//! denoising thermodynamic model of Jelinčič et al., arXiv 2510.23972), trained and sampled
//! through relax jobs on any [`pbit_model::Backend`], so generation is byte-identical on the
//! model, the Verilated gateware and a board. docs/diffusion.md is the design record.
//!
//! * [`noise`]: the forward process — each bit is resampled uniformly with probability
//!   1 − e^(−λΔt) at step t (so it flips with half that) — its time grid and the fixed coupling
//!   J_t = −½ ln tanh(λΔt/2) = atanh(e^(−λΔt)) of each reverse step.
//! * [`StepLayout`]: the p-bits of one reverse step's machine: outputs x_{t−1}, clamped inputs
//!   x_t, clamped labels, hidden p-bits.
//! * [`train`]: each step trained independently by contrastive divergence with the learning
//!   machinery of [`crate::learn`] (positive phase: x_{t−1}, x_t and labels clamped; negative:
//!   x_t and labels clamped).
//! * [`generate`]: generation from uniform noise, each step one relax job with x_t clamped as
//!   input p-bits (each chain its own values).
//! * [`exact`]: for at most [`exact::MAX_EXACT_VISIBLE`] visible bits, each step's transition
//!   kernel exactly (hidden p-bits summed out), the exact distribution of the generated
//!   samples and its KL to the data.
//! * [`manifest`]: the model directory: one ordinary instance file per step and
//!   `manifest.json`.

pub mod exact;
pub mod generate;
pub mod manifest;
pub mod mixing;
pub mod noise;
pub mod train;

use crate::digits::CsvError;
use crate::learn::{DataError, LearnError};
use pbit_model::exact::ExactError;
use pbit_model::{BackendError, QuantiseError};
use pbit_spec::BetaError;
use serde::{Deserialize, Serialize};

/// Why training, generation or evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiffuseError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error(transparent)]
    Exact(#[from] ExactError),
    #[error(transparent)]
    Learn(#[from] LearnError),
    #[error(transparent)]
    Limit(#[from] pbit_model::limits::LimitError),
    #[error(transparent)]
    Parse(#[from] pbit_model::ParseError),
    #[error("{0}")]
    Other(String),
}

/// The p-bits of one reverse step's machine (0-based): outputs x_{t−1} at `0..V`, inputs x_t at
/// `V..2V` (clamped; input i is coupled only to output i), one-hot labels at `2V..2V+K`
/// (clamped), hidden p-bits at `2V+K..2V+K+H`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLayout {
    pub visible: usize,
    pub classes: usize,
    pub hidden: usize,
}

impl StepLayout {
    pub fn output(&self, i: usize) -> usize {
        i
    }
    pub fn input(&self, i: usize) -> usize {
        self.visible + i
    }
    pub fn label(&self, k: usize) -> usize {
        2 * self.visible + k
    }
    pub fn hidden_pbit(&self, j: usize) -> usize {
        2 * self.visible + self.classes + j
    }
    /// p-bits in all.
    pub fn n(&self) -> usize {
        2 * self.visible + self.classes + self.hidden
    }
    /// The p-bits clamped while generating (and in the negative phase): inputs and labels.
    pub fn conditioned(&self) -> Vec<usize> {
        (self.visible..2 * self.visible + self.classes).collect()
    }
    /// The learned pairs (a < b): output–output, output–hidden, label–output and label–hidden.
    /// Inputs couple only to their own output, with the fixed J_t; hidden p-bits never couple
    /// to each other (so the positive phase samples them exactly in one sweep, and exact
    /// evaluation sums them out).
    pub fn learned_pairs(&self) -> Vec<(usize, usize)> {
        let v = self.visible;
        let mut pairs = Vec::new();
        for a in 0..v {
            for b in a + 1..v {
                pairs.push((a, b));
            }
        }
        for a in 0..v {
            for j in 0..self.hidden {
                pairs.push((a, self.hidden_pbit(j)));
            }
        }
        for k in 0..self.classes {
            for a in 0..v {
                pairs.push((a, self.label(k)));
            }
            for j in 0..self.hidden {
                pairs.push((self.label(k), self.hidden_pbit(j)));
            }
        }
        pairs.sort_unstable();
        pairs
    }
    /// The layout comment of a step file (1-based inclusive ranges, `none` when empty).
    pub fn describe(&self) -> String {
        let range = |a: usize, len: usize| {
            if len == 0 {
                "none".to_string()
            } else {
                format!("{}-{}", a + 1, a + len)
            }
        };
        format!(
            "outputs {} inputs {} labels {} hidden {}",
            range(0, self.visible),
            range(self.visible, self.visible),
            range(2 * self.visible, self.classes),
            range(2 * self.visible + self.classes, self.hidden)
        )
    }
    /// The label p-bits' clamp values for class `label` (one-hot, ±1 as true/false).
    pub fn label_values(&self, label: usize) -> Vec<bool> {
        (0..self.classes).map(|k| k == label).collect()
    }
}

/// Training data: binary vectors, and labels when the data are labelled images.
#[derive(Clone, Debug)]
pub struct DiffuseData {
    pub vectors: Vec<Vec<bool>>,
    /// One label per vector (labelled images with `--classes K`), each below `classes`.
    pub labels: Option<Vec<usize>>,
    pub classes: usize,
    pub visible: usize,
    pub source: String,
    /// Grey-level threshold of a CSV (None: a `1`/`0` file).
    pub threshold: Option<u64>,
}

impl DiffuseData {
    /// The label of vector `d` (0 without labels).
    pub fn label(&self, d: usize) -> usize {
        self.labels.as_ref().map_or(0, |l| l[d])
    }
}
