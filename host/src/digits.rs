//! Labelled images (the 8×8 digits' CSV), label p-bits, and classification and generation by
//! sampling.
//!
//! # Layout of a learned machine with labels
//! P pixel p-bits first (0-based 0..P, row-major as in the CSV), then K·C label p-bits (class
//! k's copy c is p-bit P + k·C + c; one-hot: the class's C copies are +1, every other label
//! p-bit −1), then the hidden p-bits. The learned instance file carries this in a
//! machine-readable comment ([`Layout::header`], 1-based ranges):
//!
//! `# pbit-layout: pixels 1-64 labels 65-74 hidden 75-174 classes 10 copies 1 threshold 8 beta 1 width 8`
//!
//! # Classification and generation come from the machine's samples
//! [`classify`] clamps an image's pixels and runs one sampling job per image on the backend
//! (its chain starts at the seeded random state), counting how often each class's label
//! p-bits are +1 over the recorded sweeps: the answer is the argmax of these sampled label
//! marginals (summed over a class's copies; ties to the lower class). Nothing computes
//! p(label | image) analytically. [`generate`] clamps a class's label p-bits and keeps the
//! pixels of the chain's last sweep.

use crate::learn::Data;
use pbit_model::jobs::{RelaxJob, RelaxWant, SampleJob};
use pbit_model::run::SampleSpec;
use pbit_model::{Backend, BackendError};
use pbit_model::{FixedIsing, Ising, QuantiseError, Scaling};
use pbit_spec::rng::splitmix64;
use pbit_spec::{Beta, BetaError, ThresholdPage};
use serde::Serialize;
use std::path::Path;

/// Why a CSV of labelled images cannot be used. Every message names the file and line, and the
/// 1-based field where one is at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CsvError {
    #[error("{source_name}: cannot read: {error}")]
    Io { source_name: String, error: String },
    #[error("{source_name}: no images (the file is empty or only comments)")]
    Empty { source_name: String },
    #[error("{source_name}:{line}: field {field}: `{found}` is not a non-negative integer")]
    NotInteger {
        source_name: String,
        line: usize,
        field: usize,
        found: String,
    },
    #[error("{source_name}:{line}: field {field}: label {found} is not a class 0..{classes} (--classes {classes})")]
    BadLabel {
        source_name: String,
        line: usize,
        field: usize,
        found: u64,
        classes: usize,
    },
    #[error("{source_name}:{line}: {found} fields, but line {first_line} has {expected} (every image needs the same number of pixels, then its label)")]
    Ragged {
        source_name: String,
        line: usize,
        found: usize,
        expected: usize,
        first_line: usize,
    },
    #[error(
        "{source_name}:{line}: {found} field(s): an image needs at least one pixel and a label"
    )]
    TooShort {
        source_name: String,
        line: usize,
        found: usize,
    },
}

/// Binarised labelled images.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// One vector of pixels per image (true: grey level ≥ threshold).
    pub pixels: Vec<Vec<bool>>,
    /// The label (last CSV field) of each image.
    pub labels: Vec<usize>,
    pub threshold: u64,
    pub source: String,
}

/// Whether a data file is the CSV of labelled images rather than lines of `1`/`0`: its first
/// line that is neither blank nor a `#` comment holds a comma.
pub fn is_csv(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|t| !t.is_empty() && !t.starts_with('#'))
        .is_some_and(|t| t.contains(','))
}

impl Images {
    /// Parses the CSV: `#` comments and blank lines skipped; each line is P non-negative integer
    /// grey levels then the label. A pixel is 1 when its level is ≥ `threshold`. Labels must
    /// be below `classes` (None: any non-negative integer, e.g. for unsupervised use).
    pub fn parse(
        text: &str,
        source_name: &str,
        threshold: u64,
        classes: Option<usize>,
    ) -> Result<Images, CsvError> {
        let name = || source_name.to_string();
        let mut images = Images {
            pixels: Vec::new(),
            labels: Vec::new(),
            threshold,
            source: name(),
        };
        let mut first_line = 0;
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = t.split(',').map(str::trim).collect();
            if fields.len() < 2 {
                return Err(CsvError::TooShort {
                    source_name: name(),
                    line,
                    found: fields.len(),
                });
            }
            if let Some(first) = images.pixels.first() {
                if fields.len() != first.len() + 1 {
                    return Err(CsvError::Ragged {
                        source_name: name(),
                        line,
                        found: fields.len(),
                        expected: first.len() + 1,
                        first_line,
                    });
                }
            } else {
                first_line = line;
            }
            let mut values = Vec::with_capacity(fields.len());
            for (f, s) in fields.iter().enumerate() {
                let v: u64 = s.parse().map_err(|_| CsvError::NotInteger {
                    source_name: name(),
                    line,
                    field: f + 1,
                    found: s.to_string(),
                })?;
                values.push(v);
            }
            let label = values.pop().expect("at least two fields");
            if let Some(k) = classes {
                if label >= k as u64 {
                    return Err(CsvError::BadLabel {
                        source_name: name(),
                        line,
                        field: fields.len(),
                        found: label,
                        classes: k,
                    });
                }
            }
            images
                .pixels
                .push(values.iter().map(|&v| v >= threshold).collect());
            images.labels.push(label.min(usize::MAX as u64) as usize);
        }
        if images.pixels.is_empty() {
            return Err(CsvError::Empty {
                source_name: name(),
            });
        }
        Ok(images)
    }

    /// Reads and parses a CSV file.
    pub fn read(path: &Path, threshold: u64, classes: Option<usize>) -> Result<Images, CsvError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CsvError::Io {
            source_name: name.clone(),
            error: e.to_string(),
        })?;
        Images::parse(&text, &name, threshold, classes)
    }

    /// Pixels per image.
    pub fn pixel_count(&self) -> usize {
        self.pixels[0].len()
    }

    /// Training vectors for [`crate::learn::learn`]: the pixels, then (with `classes` = K > 0)
    /// the one-hot label p-bits, `copies` per class.
    pub fn to_data(&self, classes: usize, copies: usize) -> Data {
        let vectors = self
            .pixels
            .iter()
            .zip(&self.labels)
            .map(|(p, &y)| {
                let mut v = p.clone();
                for k in 0..classes {
                    v.extend(std::iter::repeat_n(k == y, copies));
                }
                v
            })
            .collect::<Vec<_>>();
        Data {
            visible: vectors[0].len(),
            vectors,
            source: self.source.clone(),
        }
    }
}

/// Which p-bits of a learned machine are pixels, labels and hidden units (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layout {
    pub pixels: usize,
    pub classes: usize,
    /// Label p-bits per class.
    pub copies: usize,
    pub hidden: usize,
    /// Grey level at or above which a pixel is 1.
    pub threshold: u64,
    /// The β the machine was learned at, and is sampled at.
    pub beta: f64,
    /// Image width in pixels (rows of `width`; 8 for the digits).
    pub width: usize,
}

/// The comment's keyword.
pub const LAYOUT_KEY: &str = "pbit-layout:";

/// Why an instance's layout header is missing or wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    #[error("{0}: no `# {LAYOUT_KEY} …` header (learn the machine with `pbit learn … --classes K` from a CSV of images)")]
    Missing(String),
    #[error("{source_name}:{line}: layout header: {message}")]
    Bad {
        source_name: String,
        line: usize,
        message: String,
    },
}

impl Layout {
    /// Label p-bits.
    pub fn labels(&self) -> usize {
        self.classes * self.copies
    }
    /// p-bits in all.
    pub fn n(&self) -> usize {
        self.pixels + self.labels() + self.hidden
    }
    /// 0-based p-bit of class k's copy c.
    pub fn label_pbit(&self, k: usize, c: usize) -> usize {
        self.pixels + k * self.copies + c
    }

    /// The header comment (without `# `), 1-based inclusive ranges (`none` when empty).
    pub fn header(&self) -> String {
        let range = |a: usize, len: usize| {
            if len == 0 {
                "none".to_string()
            } else {
                format!("{}-{}", a + 1, a + len)
            }
        };
        format!(
            "{LAYOUT_KEY} pixels {} labels {} hidden {} classes {} copies {} threshold {} beta {} width {}",
            range(0, self.pixels),
            range(self.pixels, self.labels()),
            range(self.pixels + self.labels(), self.hidden),
            self.classes,
            self.copies,
            self.threshold,
            self.beta,
            self.width
        )
    }

    /// Finds and parses the header in an instance file's text, checking it against `n` p-bits.
    pub fn parse(text: &str, source_name: &str, n: usize) -> Result<Layout, LayoutError> {
        let (line, rest) = text
            .lines()
            .enumerate()
            .find_map(|(k, l)| {
                l.trim()
                    .strip_prefix('#')
                    .and_then(|c| c.trim().strip_prefix(LAYOUT_KEY))
                    .map(|r| (k + 1, r))
            })
            .ok_or_else(|| LayoutError::Missing(source_name.to_string()))?;
        let bad = |message: String| LayoutError::Bad {
            source_name: source_name.to_string(),
            line,
            message,
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if !words.len().is_multiple_of(2) {
            return Err(bad("expected `key value` pairs".into()));
        }
        let get = |key: &str| -> Result<&str, LayoutError> {
            words
                .chunks(2)
                .find(|kv| kv[0] == key)
                .map(|kv| kv[1])
                .ok_or_else(|| bad(format!("no `{key}`")))
        };
        let int = |key: &str| -> Result<usize, LayoutError> {
            let v = get(key)?;
            v.parse()
                .map_err(|_| bad(format!("{key} `{v}` is not a non-negative integer")))
        };
        // a range `a-b` (1-based, inclusive) or `none`, starting at 0-based `start`
        let range = |key: &str, start: usize| -> Result<usize, LayoutError> {
            let v = get(key)?;
            if v == "none" {
                return Ok(0);
            }
            let (a, b) = v
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
                .ok_or_else(|| bad(format!("{key} `{v}` is not a range a-b or none")))?;
            if a != start + 1 || b < a {
                return Err(bad(format!(
                    "{key} {v}: expected a range starting at p-bit {}",
                    start + 1
                )));
            }
            Ok(b - a + 1)
        };
        let pixels = range("pixels", 0)?;
        let labels = range("labels", pixels)?;
        let hidden = range("hidden", pixels + labels)?;
        let (classes, copies) = (int("classes")?, int("copies")?);
        let beta_s = get("beta")?;
        let beta: f64 = beta_s
            .parse()
            .ok()
            .filter(|b: &f64| b.is_finite() && *b > 0.0)
            .ok_or_else(|| bad(format!("beta `{beta_s}` is not a positive number")))?;
        let threshold = int("threshold")? as u64;
        let width = int("width")?;
        if classes * copies != labels {
            return Err(bad(format!(
                "{labels} label p-bits, but classes {classes} × copies {copies}"
            )));
        }
        let layout = Layout {
            pixels,
            classes,
            copies,
            hidden,
            threshold,
            beta,
            width,
        };
        if layout.n() != n {
            return Err(bad(format!(
                "it names {} p-bits, the instance has {n}",
                layout.n()
            )));
        }
        Ok(layout)
    }
}

/// A learned machine with its layout, ready to sample.
pub struct LabelledMachine {
    pub ising: Ising,
    pub fixed: FixedIsing,
    pub layout: Layout,
    pub page: ThresholdPage,
}

/// Why a classification or generation could not run.
#[derive(Debug, thiserror::Error)]
pub enum DigitsError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Parse(#[from] pbit_model::ParseError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Other(String),
}

impl LabelledMachine {
    /// Parses an instance file's text with its layout header (values must be on the grid: the
    /// learned files are).
    pub fn parse(
        text: &str,
        source_name: &str,
        backend: &dyn Backend,
    ) -> Result<LabelledMachine, DigitsError> {
        let ising = Ising::parse(text, source_name)?;
        let layout = Layout::parse(text, source_name, ising.n)?;
        backend.check_fits(ising.n)?;
        let fixed = FixedIsing::new(&ising, backend.format(), Scaling::Exact)?;
        let page = ThresholdPage::build(&backend.format(), Beta::from_f64(layout.beta)?);
        Ok(LabelledMachine {
            ising,
            fixed,
            layout,
            page,
        })
    }

    /// Reads a learned instance file.
    pub fn read(path: &Path, backend: &dyn Backend) -> Result<LabelledMachine, DigitsError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| DigitsError::Other(format!("{name}: cannot read: {e}")))?;
        LabelledMachine::parse(&text, &name, backend)
    }
}

/// The seed of image (or generated sample) `i`'s chain: every chain its own generators.
pub fn chain_seed(seed: u64, i: u64) -> u64 {
    splitmix64(seed ^ splitmix64(i.wrapping_add(0x6469_6769_7473))) // "digits"
}

/// A classification run (`pbit classify --json`).
#[derive(Clone, Debug, Serialize)]
pub struct ClassifyReport {
    pub accuracy: f64,
    pub n: usize,
    pub correct: usize,
    /// confusion[true][predicted].
    pub confusion: Vec<Vec<u64>>,
    /// Sweeps run per image (burn-in + recorded).
    pub sweeps_per_image: u64,
    pub burn_in: u64,
    /// How the answer is taken from the samples.
    pub rule: &'static str,
    pub seed: u64,
    pub backend: &'static str,
    /// Per image: the predicted class.
    pub predicted: Vec<usize>,
}

pub const CLASSIFY_RULE: &str =
    "argmax over classes of the sampled label marginals (label p-bits +1 over the recorded sweeps, summed over a class's copies; ties to the lower class)";

/// Classifies `images` by sampling: per image one chain with its pixels clamped, `burn_in`
/// sweeps discarded, then `sweeps` recorded (see the module doc). `progress(i)` after image i.
pub fn classify(
    backend: &mut dyn Backend,
    m: &LabelledMachine,
    images: &Images,
    sweeps: u64,
    burn_in: u64,
    seed: u64,
    progress: &mut dyn FnMut(usize),
) -> Result<ClassifyReport, DigitsError> {
    let l = &m.layout;
    if l.classes == 0 {
        return Err(DigitsError::Other(
            "the machine has no label p-bits: learn it with --classes K".into(),
        ));
    }
    if images.pixel_count() != l.pixels {
        return Err(DigitsError::Other(format!(
            "{}: images of {} pixels, the machine has {} pixel p-bits",
            images.source,
            images.pixel_count(),
            l.pixels
        )));
    }
    if sweeps == 0 {
        return Err(DigitsError::Other("--sweeps must be at least 1".into()));
    }
    if let Some((i, &y)) = images
        .labels
        .iter()
        .enumerate()
        .find(|(_, &y)| y >= l.classes)
    {
        return Err(DigitsError::Other(format!(
            "{}: image {} has label {y}, the machine {} classes",
            images.source,
            i + 1,
            l.classes
        )));
    }
    let k = l.classes;
    let mut confusion = vec![vec![0u64; k]; k];
    let mut predicted = Vec::with_capacity(images.pixels.len());
    for (i, px) in images.pixels.iter().enumerate() {
        let clamps: Vec<(usize, bool)> = px.iter().copied().enumerate().collect();
        let mut counts = vec![0u64; k];
        let job = SampleJob {
            problem: &m.fixed,
            clamps: &clamps,
            page: &m.page,
            seed: chain_seed(seed, i as u64),
            spec: SampleSpec {
                burn_in,
                sweeps,
                every: 1,
            },
        };
        backend.sample(&job, &mut |s, _| {
            for (class, count) in counts.iter_mut().enumerate() {
                *count += (0..l.copies).filter(|&c| s[l.label_pbit(class, c)]).count() as u64;
            }
        })?;
        // argmax, ties to the lower class
        let best = (0..k).fold(0, |b, c| if counts[c] > counts[b] { c } else { b });
        confusion[images.labels[i]][best] += 1;
        predicted.push(best);
        progress(i);
    }
    let correct = (0..k).map(|c| confusion[c][c]).sum::<u64>() as usize;
    Ok(ClassifyReport {
        accuracy: correct as f64 / images.pixels.len() as f64,
        n: images.pixels.len(),
        correct,
        confusion,
        sweeps_per_image: burn_in + sweeps,
        burn_in,
        rule: CLASSIFY_RULE,
        seed,
        backend: backend.name(),
        predicted,
    })
}

/// How [`generate`] runs its chains (docs/learning.md, Generation).
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Images, one chain each.
    pub count: usize,
    /// Sweeps per chain in all (the last `final_sweeps` of them at `final_beta`).
    pub sweeps: u64,
    pub seed: u64,
    /// Label strength G: every coupling of a label p-bit is multiplied by G (rounded to the
    /// format's grid) in the machine that generates, as if each clamped label p-bit were G
    /// copies of itself. 1 samples the learned machine as it is.
    pub label_strength: f64,
    /// β of the sweeps before the final ones (None: [`DEFAULT_GENERATE_BETA_FACTOR`] × the β
    /// the machine was learned at).
    pub beta: Option<f64>,
    /// β of the last `final_sweeps` sweeps (None: the same β throughout).
    pub final_beta: Option<f64>,
    pub final_sweeps: u64,
}

impl GenerateOptions {
    /// The defaults of `pbit generate` (docs/learning.md): 1000 sweeps, label strength 5, β
    /// 0.7 × the learned β throughout.
    pub fn new(count: usize, seed: u64) -> GenerateOptions {
        GenerateOptions {
            count,
            sweeps: 1000,
            seed,
            label_strength: DEFAULT_LABEL_STRENGTH,
            beta: None,
            final_beta: None,
            final_sweeps: 0,
        }
    }
}

/// `pbit generate --label-strength`'s default.
pub const DEFAULT_LABEL_STRENGTH: f64 = 5.0;

/// `pbit generate --beta`'s default, as a multiple of the β the machine was learned at: the
/// strengthened label pulls the chain into its class, the warmer pixels keep the images of
/// one class apart (docs/learning.md has the measurements that chose 5 and 0.7).
pub const DEFAULT_GENERATE_BETA_FACTOR: f64 = 0.7;

/// The machine [`generate`] runs: the learned one with every label p-bit's couplings
/// multiplied by `strength` and rounded to the format's grid (an error names a value beyond
/// the coupling range).
pub fn with_label_strength(
    m: &LabelledMachine,
    strength: f64,
    format: pbit_spec::Format,
) -> Result<FixedIsing, DigitsError> {
    if !(strength.is_finite() && strength > 0.0) {
        return Err(DigitsError::Other(format!(
            "--label-strength {strength}: must be a positive number"
        )));
    }
    if strength == 1.0 {
        return Ok(m.fixed.clone());
    }
    let l = &m.layout;
    let is_label = |i: usize| (l.pixels..l.pixels + l.labels()).contains(&i);
    let one = format.one() as f64;
    let mut ising = m.ising.clone();
    for c in ising.couplings.iter_mut() {
        if is_label(c.i) || is_label(c.j) {
            c.value = (c.value * strength * one).round() / one;
        }
    }
    FixedIsing::new(&ising, format, Scaling::Exact).map_err(|e| {
        DigitsError::Other(format!(
            "--label-strength {strength}: the strengthened label couplings do not fit the machine: {e}"
        ))
    })
}

/// Generates images of class `label`: per image one chain from a random state (pixels and
/// hidden units uniform from the seed's host stream) with the class's label p-bits clamped to
/// +1 and the others to −1, on the machine of [`with_label_strength`]. The chains run as relax
/// jobs ([`RelaxJob`]), all images in one job per stage: `sweeps − final_sweeps` sweeps at
/// `beta`, then `final_sweeps` at `final_beta`. The image is the pixels of the last sweep.
pub fn generate(
    backend: &mut dyn Backend,
    m: &LabelledMachine,
    label: usize,
    o: &GenerateOptions,
) -> Result<Vec<Vec<bool>>, DigitsError> {
    let l = &m.layout;
    if label >= l.classes {
        return Err(DigitsError::Other(format!(
            "--label {label}: the machine has {} classes (0..{})",
            l.classes, l.classes
        )));
    }
    if o.sweeps == 0 {
        return Err(DigitsError::Other("--sweeps must be at least 1".into()));
    }
    if o.final_sweeps > o.sweeps {
        return Err(DigitsError::Other(format!(
            "--final-sweeps {} is more than --sweeps {}",
            o.final_sweeps, o.sweeps
        )));
    }
    if o.count > crate::learn::MAX_CHAINS {
        return Err(DigitsError::Other(format!(
            "--count {}: at most {} images per run",
            o.count,
            crate::learn::MAX_CHAINS
        )));
    }
    let format = backend.format();
    let problem = with_label_strength(m, o.label_strength, format)?;
    let page = |beta: f64| -> Result<ThresholdPage, DigitsError> {
        Ok(ThresholdPage::build(&format, Beta::from_f64(beta)?))
    };
    let clamped: Vec<usize> = (l.pixels..l.pixels + l.labels()).collect();
    // initial states: the host stream of (seed, image); the label p-bits at their clamp
    let mut states: Vec<Vec<bool>> = (0..o.count)
        .map(|i| {
            let mut x = chain_seed(o.seed, i as u64);
            (0..l.n())
                .map(|p| {
                    if let Some(k) = (p >= l.pixels && p < l.pixels + l.labels())
                        .then(|| (p - l.pixels) / l.copies)
                    {
                        return k == label;
                    }
                    x = splitmix64(x);
                    x >> 63 == 1
                })
                .collect()
        })
        .collect();
    let beta = o.beta.unwrap_or(DEFAULT_GENERATE_BETA_FACTOR * l.beta);
    let stages = [
        (beta, o.sweeps - o.final_sweeps),
        (o.final_beta.unwrap_or(beta), o.final_sweeps),
    ];
    for (stage, &(beta, sweeps)) in stages.iter().enumerate() {
        if sweeps == 0 || states.is_empty() {
            continue;
        }
        let page = page(beta)?;
        let job = RelaxJob {
            problem: &problem,
            clamped: &clamped,
            page: &page,
            seed: chain_seed(o.seed, u64::MAX - stage as u64),
            first_read: 0,
            initial: &states,
            sweeps,
        };
        let got = backend.relax_batch(
            &job,
            RelaxWant {
                finals: true,
                sums: false,
            },
        )?;
        states = got
            .finals
            .ok_or_else(|| DigitsError::Other("the final states did not come back".into()))?;
    }
    Ok(states.into_iter().map(|s| s[..l.pixels].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, classes: Option<usize>) -> String {
        Images::parse(text, "d.csv", 8, classes)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn csv_parses_binarises_and_names_file_line_and_field() {
        let t = "# comment\n0,8,16,7,3\n\n 9, 0 ,0,8,1\r\n";
        assert!(is_csv(t));
        assert!(!is_csv("# a,b\n0101\n"));
        let im = Images::parse(t, "d.csv", 8, Some(4)).unwrap();
        assert_eq!(
            im.pixels,
            vec![
                vec![false, true, true, false],
                vec![true, false, false, true]
            ]
        );
        assert_eq!(im.labels, vec![3, 1]);
        let d = im.to_data(4, 2);
        assert_eq!(d.visible, 4 + 8);
        assert_eq!(
            d.vectors[1][4..],
            [false, false, true, true, false, false, false, false]
        );
        assert_eq!(
            err("0,1,2\n0,x,1\n", None),
            "d.csv:2: field 2: `x` is not a non-negative integer"
        );
        assert_eq!(
            err("0,1,2\n0,-1,1\n", None),
            "d.csv:2: field 2: `-1` is not a non-negative integer"
        );
        assert_eq!(
            err("0,1,2\n0,1\n", None),
            "d.csv:2: 2 fields, but line 1 has 3 (every image needs the same number of pixels, then its label)"
        );
        assert_eq!(
            err("# c\n0,1,12\n", Some(10)),
            "d.csv:2: field 3: label 12 is not a class 0..10 (--classes 10)"
        );
        assert_eq!(
            err("0,1,\n", None),
            "d.csv:1: field 3: `` is not a non-negative integer"
        );
        assert!(err("# x\n", None).contains("no images"));
        assert!(err("5\n", None).starts_with("d.csv:1: 1 field(s)"));
        let e = Images::read(Path::new("/nonexistent/x.csv"), 8, None).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/x.csv: cannot read"));
    }

    #[test]
    fn layout_header_round_trips_and_is_checked() {
        let l = Layout {
            pixels: 64,
            classes: 10,
            copies: 2,
            hidden: 100,
            threshold: 8,
            beta: 0.5,
            width: 8,
        };
        let h = l.header();
        assert_eq!(h, "pbit-layout: pixels 1-64 labels 65-84 hidden 85-184 classes 10 copies 2 threshold 8 beta 0.5 width 8");
        let text = format!("# learned\n# {h}\n184 0\n");
        assert_eq!(Layout::parse(&text, "m", 184).unwrap(), l);
        let e = Layout::parse(&text, "m", 185).unwrap_err().to_string();
        assert_eq!(
            e,
            "m:2: layout header: it names 184 p-bits, the instance has 185"
        );
        let e = Layout::parse("3 0\n", "m", 3).unwrap_err();
        assert!(matches!(e, LayoutError::Missing(_)));
        let bad = text.replace("copies 2", "copies 3");
        let e = Layout::parse(&bad, "m", 184).unwrap_err().to_string();
        assert!(
            e.contains("20 label p-bits, but classes 10 × copies 3"),
            "{e}"
        );
        let bad = text.replace("labels 65-84", "labels 66-84");
        assert!(Layout::parse(&bad, "m", 184).is_err());
        let none = Layout { hidden: 0, ..l };
        assert!(none.header().contains("hidden none"));
        assert_eq!(
            Layout::parse(&format!("# {}\n", none.header()), "m", 84).unwrap(),
            none
        );
    }

    /// A tiny labelled machine: 2 pixels, 2 classes, 1 hidden unit.
    fn tiny() -> LabelledMachine {
        let l = Layout {
            pixels: 2,
            classes: 2,
            copies: 1,
            hidden: 1,
            threshold: 8,
            beta: 1.0,
            width: 2,
        };
        let text = format!(
            "# {}\n5 5\n1 5 0.5\n2 5 -0.25\n3 5 0.75\n4 5 -0.5\n3 4 0.0625\nh 1 0.5\n",
            l.header()
        );
        LabelledMachine::parse(&text, "tiny", &pbit_model::ModelBackend::default()).unwrap()
    }

    #[test]
    fn label_strength_multiplies_only_label_couplings() {
        let m = tiny();
        let f = pbit_spec::Format::STANDARD;
        let s = with_label_strength(&m, 3.0, f).unwrap();
        let one = f.one() as f64;
        let raw = |fx: &FixedIsing, i: usize, j: usize| {
            let (nb, js) = fx.row(i);
            nb.iter()
                .position(|&k| k as usize == j)
                .map(|p| js[p] as f64 / one)
        };
        assert_eq!(raw(&s, 0, 4), Some(0.5));
        assert_eq!(raw(&s, 1, 4), Some(-0.25));
        assert_eq!(raw(&s, 2, 4), Some(2.25));
        assert_eq!(raw(&s, 3, 4), Some(-1.5));
        assert_eq!(raw(&s, 2, 3), Some(0.1875));
        assert_eq!(with_label_strength(&m, 1.0, f).unwrap(), m.fixed);
        let e = with_label_strength(&m, 100.0, f).unwrap_err().to_string();
        assert!(e.contains("--label-strength 100"), "{e}");
        assert!(with_label_strength(&m, 0.0, f).is_err());
    }

    #[test]
    fn generate_is_reproducible_and_checks_its_options() {
        let m = tiny();
        let mut b = pbit_model::ModelBackend::default();
        let mut o = GenerateOptions::new(6, 4);
        o.sweeps = 10;
        o.final_sweeps = 2;
        o.final_beta = Some(2.0);
        let a = generate(&mut b, &m, 1, &o).unwrap();
        assert_eq!(a.len(), 6);
        assert!(a.iter().all(|im| im.len() == 2));
        b.threads = 1;
        assert_eq!(generate(&mut b, &m, 1, &o).unwrap(), a);
        o.final_sweeps = 11;
        let e = generate(&mut b, &m, 1, &o).unwrap_err().to_string();
        assert!(
            e.contains("--final-sweeps 11 is more than --sweeps 10"),
            "{e}"
        );
        o.final_sweeps = 0;
        assert!(generate(&mut b, &m, 2, &o)
            .unwrap_err()
            .to_string()
            .contains("--label 2: the machine has 2 classes"));
    }
}
