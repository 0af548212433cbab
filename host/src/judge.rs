//! A softmax-regression judge for generated images: trained on the binarised training images,
//! it says which class a generated image looks like. Independent of the Boltzmann machine
//! (plain multinomial logistic regression on the pixels, 0/1, plus a bias), deterministic
//! (zero start, full-batch gradient descent), so its verdicts are reproducible.

use crate::digits::Images;
use serde::Serialize;
use std::collections::HashSet;

/// Multinomial logistic regression: score_k(x) = b_k + Σ_i w_ki x_i.
#[derive(Clone, Debug)]
pub struct Judge {
    pub classes: usize,
    pub pixels: usize,
    /// classes × (pixels + 1), the bias last.
    pub weights: Vec<f64>,
}

/// Full-batch gradient-descent passes.
pub const JUDGE_EPOCHS: usize = 300;
/// Step size (per mean gradient).
pub const JUDGE_LR: f64 = 0.5;
/// L2 penalty on the weights (not the biases): keeps them finite on separable data.
pub const JUDGE_L2: f64 = 1e-3;

impl Judge {
    /// Trains on `images` (labels below `classes`).
    pub fn train(images: &Images, classes: usize) -> Judge {
        let p = images.pixel_count();
        let w = p + 1;
        let mut weights = vec![0.0; classes * w];
        let n = images.pixels.len() as f64;
        let mut grad = vec![0.0; classes * w];
        let mut probs = vec![0.0; classes];
        for _ in 0..JUDGE_EPOCHS {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for (x, &y) in images.pixels.iter().zip(&images.labels) {
                softmax(&weights, classes, x, &mut probs);
                for k in 0..classes {
                    let d = probs[k] - if k == y { 1.0 } else { 0.0 };
                    let row = &mut grad[k * w..(k + 1) * w];
                    for (g, _) in row.iter_mut().zip(x).filter(|(_, &xi)| xi) {
                        *g += d;
                    }
                    row[p] += d;
                }
            }
            for (k, (wk, gk)) in weights.chunks_mut(w).zip(grad.chunks(w)).enumerate() {
                let _ = k;
                for i in 0..w {
                    let l2 = if i < p { JUDGE_L2 * wk[i] } else { 0.0 };
                    wk[i] -= JUDGE_LR * (gk[i] / n + l2);
                }
            }
        }
        Judge {
            classes,
            pixels: p,
            weights,
        }
    }

    /// The most probable class of `x` (ties to the lower class).
    pub fn predict(&self, x: &[bool]) -> usize {
        let mut probs = vec![0.0; self.classes];
        softmax(&self.weights, self.classes, x, &mut probs);
        (0..self.classes).fold(0, |b, k| if probs[k] > probs[b] { k } else { b })
    }

    /// Fraction of `images` predicted as their label.
    pub fn accuracy(&self, images: &Images) -> f64 {
        let right = images
            .pixels
            .iter()
            .zip(&images.labels)
            .filter(|(x, &y)| self.predict(x) == y)
            .count();
        right as f64 / images.pixels.len() as f64
    }
}

fn softmax(weights: &[f64], classes: usize, x: &[bool], out: &mut [f64]) {
    let w = x.len() + 1;
    for k in 0..classes {
        let row = &weights[k * w..(k + 1) * w];
        out[k] = row[x.len()]
            + row
                .iter()
                .zip(x)
                .filter(|(_, &xi)| xi)
                .map(|(v, _)| v)
                .sum::<f64>();
    }
    let max = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut z = 0.0;
    for o in out.iter_mut() {
        *o = (*o - max).exp();
        z += *o;
    }
    out.iter_mut().for_each(|o| *o /= z);
}

/// What the judge says about a set of generated images of one clamped label.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub label: usize,
    pub images: usize,
    /// Fraction the judge gives the clamped label.
    pub agreement: f64,
    /// Fraction of distinct images (distinct images / images).
    pub distinct: f64,
    /// Fraction that exactly copy a training image (any label).
    pub training_copies: f64,
}

/// Judges `generated` images of clamped class `label` against the training images.
pub fn verdict(judge: &Judge, train: &Images, label: usize, generated: &[Vec<bool>]) -> Verdict {
    let n = generated.len().max(1) as f64;
    let seen: HashSet<&Vec<bool>> = train.pixels.iter().collect();
    let distinct: HashSet<&Vec<bool>> = generated.iter().collect();
    Verdict {
        label,
        images: generated.len(),
        agreement: generated
            .iter()
            .filter(|x| judge.predict(x) == label)
            .count() as f64
            / n,
        distinct: distinct.len() as f64 / n,
        training_copies: generated.iter().filter(|x| seen.contains(x)).count() as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_separates_simple_classes_and_verdict_counts() {
        // class 0: left half on, class 1: right half on, with one flipped pixel each
        let mut text = String::new();
        for i in 0..8 {
            let mut a = [16, 16, 0, 0];
            let mut b = [0, 0, 16, 16];
            a[i % 4] = 16 - a[i % 4];
            b[(i + 1) % 4] = 16 - b[(i + 1) % 4];
            text += &format!("{},{},{},{},0\n", a[0], a[1], a[2], a[3]);
            text += &format!("{},{},{},{},1\n", b[0], b[1], b[2], b[3]);
        }
        let im = Images::parse(&text, "t", 8, Some(2)).unwrap();
        let j = Judge::train(&im, 2);
        assert_eq!(j.accuracy(&im), 1.0);
        let g = vec![
            vec![true, true, false, false],
            vec![true, true, false, false],
            vec![false, false, true, true],
            vec![true, false, false, false],
        ];
        let v = verdict(&j, &im, 0, &g);
        assert_eq!(v.agreement, 0.75);
        assert_eq!(v.distinct, 0.75);
        // [1,1,0,0] is not itself a training image (each has one flipped pixel); [1,0,0,0] is
        assert_eq!(v.training_copies, 0.25);
    }
}
