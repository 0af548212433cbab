//! β schedules: a finite list of (β, sweeps) steps, one threshold page per step, as the
//! hardware holds them.

use pbit_spec::{Beta, BetaError};

/// One step: run `sweeps` sweeps at `beta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub beta: Beta,
    pub sweeps: u64,
}

/// Interpolation between β_start and β_end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Linear,
    Geometric,
}

/// The most β steps a schedule is split into (the hardware's page budget).
pub const MAX_STEPS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub steps: Vec<Step>,
}

impl Schedule {
    /// A constant β for `sweeps` sweeps.
    pub fn constant(beta: Beta, sweeps: u64) -> Schedule {
        Schedule {
            steps: vec![Step { beta, sweeps }],
        }
    }

    /// `sweeps` sweeps split over min(sweeps, `max_steps`) steps whose β goes from `start` to
    /// `end`; step s gets ⌊(s+1)K/S⌋ − ⌊sK/S⌋ sweeps. β values are real and converted to the
    /// machine's fixed point here, so the schedule is exactly what the hardware runs.
    pub fn anneal(
        start: f64,
        end: f64,
        sweeps: u64,
        shape: Shape,
        max_steps: usize,
    ) -> Result<Schedule, BetaError> {
        Beta::from_f64(start)?;
        Beta::from_f64(end)?;
        let s_count = (sweeps as usize).clamp(1, max_steps.max(1));
        let mut steps = Vec::with_capacity(s_count);
        for s in 0..s_count {
            let t = if s_count == 1 {
                1.0
            } else {
                s as f64 / (s_count - 1) as f64
            };
            let beta = match shape {
                Shape::Linear => start + (end - start) * t,
                Shape::Geometric => start * libm::pow(end / start, t),
            };
            let k = sweeps as u128;
            let n = s_count as u128;
            let count = ((s as u128 + 1) * k / n - (s as u128) * k / n) as u64;
            steps.push(Step {
                beta: Beta::from_f64(beta)?,
                sweeps: count,
            });
        }
        Ok(Schedule { steps })
    }

    pub fn total_sweeps(&self) -> u64 {
        self.steps.iter().map(|s| s.sweeps).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anneal_splits_sweeps_exactly() {
        let s = Schedule::anneal(0.1, 3.0, 1000, Shape::Geometric, MAX_STEPS).unwrap();
        assert_eq!(s.steps.len(), 32);
        assert_eq!(s.total_sweeps(), 1000);
        assert!((s.steps[0].beta.to_f64() - 0.1).abs() < 1e-4);
        assert!((s.steps[31].beta.to_f64() - 3.0).abs() < 1e-4);
        assert!(s.steps.windows(2).all(|w| w[0].beta < w[1].beta));
        let s = Schedule::anneal(0.5, 1.0, 5, Shape::Linear, MAX_STEPS).unwrap();
        assert_eq!(s.steps.len(), 5);
        assert!(s.steps.iter().all(|st| st.sweeps == 1));
        assert!(Schedule::anneal(0.0, 1.0, 5, Shape::Linear, MAX_STEPS).is_err());
    }
}
