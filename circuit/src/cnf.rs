//! SAT: DIMACS CNF, its penalty, a planted 3-SAT generator and the solving job.
//!
//! Each variable is a p-bit (variable v is p-bit v − 1). A clause's penalty is 1 when it is
//! violated and 0 when satisfied (with its auxiliaries set right):
//!
//! * one literal ℓ: 1 − ℓ;
//! * two: (1 − ℓ₁)(1 − ℓ₂);
//! * k ≥ 3: a chain of OR gates y₁ = ℓ₁ ∨ ℓ₂, y₂ = y₁ ∨ ℓ₃, … (k − 2 auxiliary p-bits, each
//!   gate's penalty from the gate library) and (1 − y_{k−2})(1 − ℓ_k).
//!
//! So the ground energy is reached exactly by the satisfying assignments (when there are any),
//! and every state costs at least the number of clauses it violates. Literals repeated in a
//! clause are merged; a clause with x and ¬x is always true and dropped.

use crate::anneal::round_seed;
use crate::circuit::{penalty_to_ising, CircuitError};
use crate::gates::and_penalty;
use crate::poly::{Affine, Poly};
use pbit_model::limits::{check_anneal, LimitError, MAX_PBITS};
use pbit_model::run::Pages;
use pbit_model::schedule::{Shape, MAX_STEPS};
use pbit_model::Backend;
use pbit_model::{FixedIsing, Ising, QuantiseError, Scaling, Schedule};
use pbit_spec::{BetaError, Format};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// What is wrong with a DIMACS file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CnfErrorKind {
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("missing problem line `p cnf VARIABLES CLAUSES`")]
    MissingHeader,
    #[error("problem line must be `p cnf VARIABLES CLAUSES`, found `{0}`")]
    BadHeader(String),
    #[error("the problem line declares {vars} variables, more than the limit {max}")]
    TooManyVariables { vars: usize, max: u64 },
    #[error("second problem line")]
    SecondHeader,
    #[error("`{0}` is not an integer literal")]
    NotALiteral(String),
    #[error("literal {literal} names a variable outside 1..={vars}")]
    VariableOutOfRange { literal: i64, vars: usize },
    #[error("the last clause is not terminated by 0")]
    Unterminated,
    #[error("the problem line promises {expected} clauses, found {found}")]
    WrongCount { expected: usize, found: usize },
}

/// A DIMACS error with the file and line (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}:{line}: {kind}")]
pub struct CnfError {
    pub source_name: String,
    pub line: usize,
    pub kind: CnfErrorKind,
}

/// A formula in conjunctive normal form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cnf {
    pub vars: usize,
    /// Clauses of DIMACS literals (±v, v in 1..=vars).
    pub clauses: Vec<Vec<i32>>,
}

impl Cnf {
    /// Reads a DIMACS CNF file.
    pub fn read(path: &Path) -> Result<Cnf, CnfError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CnfError {
            source_name: name.clone(),
            line: 0,
            kind: CnfErrorKind::Io(e.to_string()),
        })?;
        Cnf::parse(&text, &name)
    }

    /// Parses DIMACS CNF text: `c` comments, `p cnf V C`, clauses of literals ended by 0 (a
    /// clause may span lines); a line `%` ends the formula (SATLIB files).
    pub fn parse(text: &str, source_name: &str) -> Result<Cnf, CnfError> {
        let err = |line, kind| CnfError {
            source_name: source_name.to_string(),
            line,
            kind,
        };
        let mut header: Option<(usize, usize)> = None;
        let mut clauses = Vec::new();
        let mut current: Vec<i32> = Vec::new();
        let mut last_line = 0;
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('c') {
                continue;
            }
            if l.starts_with('%') {
                break;
            }
            last_line = line;
            if l.starts_with('p') {
                if header.is_some() {
                    return Err(err(line, CnfErrorKind::SecondHeader));
                }
                let f: Vec<&str> = l.split_whitespace().collect();
                let bad = || err(line, CnfErrorKind::BadHeader(l.to_string()));
                if f.len() != 4 || f[0] != "p" || f[1] != "cnf" {
                    return Err(bad());
                }
                let v: usize = f[2].parse().map_err(|_| bad())?;
                let c: usize = f[3].parse().map_err(|_| bad())?;
                if v as u64 > MAX_PBITS {
                    return Err(err(
                        line,
                        CnfErrorKind::TooManyVariables {
                            vars: v,
                            max: MAX_PBITS,
                        },
                    ));
                }
                header = Some((v, c));
                continue;
            }
            let (vars, _) = header.ok_or_else(|| err(line, CnfErrorKind::MissingHeader))?;
            for tok in l.split_whitespace() {
                let lit: i64 = tok
                    .parse()
                    .map_err(|_| err(line, CnfErrorKind::NotALiteral(tok.to_string())))?;
                if lit == 0 {
                    clauses.push(std::mem::take(&mut current));
                } else if lit.unsigned_abs() > vars as u64 {
                    return Err(err(
                        line,
                        CnfErrorKind::VariableOutOfRange { literal: lit, vars },
                    ));
                } else {
                    current.push(lit as i32);
                }
            }
        }
        let (vars, count) = header.ok_or_else(|| err(0, CnfErrorKind::MissingHeader))?;
        if !current.is_empty() {
            return Err(err(last_line, CnfErrorKind::Unterminated));
        }
        if clauses.len() != count {
            return Err(err(
                last_line,
                CnfErrorKind::WrongCount {
                    expected: count,
                    found: clauses.len(),
                },
            ));
        }
        Ok(Cnf { vars, clauses })
    }

    /// DIMACS text.
    pub fn to_dimacs(&self, comments: &[String]) -> String {
        let mut s = String::new();
        for c in comments {
            s.push_str(&format!("c {c}\n"));
        }
        s.push_str(&format!("p cnf {} {}\n", self.vars, self.clauses.len()));
        for cl in &self.clauses {
            for l in cl {
                s.push_str(&format!("{l} "));
            }
            s.push_str("0\n");
        }
        s
    }

    /// Index of the first clause `assignment` (`assignment[v − 1]` for variable v) violates.
    pub fn first_violated(&self, assignment: &[bool]) -> Option<usize> {
        self.clauses.iter().position(|c| {
            !c.iter()
                .any(|&l| assignment[l.unsigned_abs() as usize - 1] == (l > 0))
        })
    }

    /// Whether `assignment` satisfies every clause.
    pub fn satisfied_by(&self, assignment: &[bool]) -> bool {
        self.first_violated(assignment).is_none()
    }

    /// The penalty (number of violated clauses, at best) over variables and auxiliaries, and
    /// the number of p-bits. Tautologies are dropped, repeated literals merged.
    pub fn penalty(&self) -> (Poly, usize) {
        let mut p = Poly::new();
        let mut n = self.vars;
        let lit = |l: i32| Affine::lit(l.unsigned_abs() as usize - 1, l > 0);
        let one = Affine::constant(1);
        for clause in &self.clauses {
            let mut c: Vec<i32> = clause.clone();
            c.sort_unstable();
            c.dedup();
            if c.iter().any(|&l| c.contains(&-l)) {
                continue;
            }
            match c.len() {
                0 => p.constant += 1,
                1 => p.add_mul(1, &one, &one.clone().plus(-1, &lit(c[0]))),
                _ => {
                    let mut acc = lit(c[0]);
                    for &l in &c[1..c.len() - 1] {
                        // y = acc ∨ l, as AND of complements
                        let y = n;
                        n += 1;
                        let not = |a: &Affine| Affine::constant(1).plus(-1, a);
                        and_penalty(&mut p, &not(&acc), &not(&lit(l)), &Affine::lit(y, false));
                        acc = Affine::var(y);
                    }
                    let last = lit(c[c.len() - 1]);
                    let not = |a: &Affine| Affine::constant(1).plus(-1, a);
                    p.add_mul(1, &not(&acc), &not(&last));
                }
            }
        }
        (p, n)
    }
}

/// A random 3-SAT formula with a planted solution: `clauses` clauses over `vars` variables,
/// each of 3 distinct variables with random signs, redrawn until the planted assignment
/// satisfies it. Deterministic from `seed` (splitmix64). Returns the formula and the planted
/// assignment.
pub fn planted_3sat(vars: usize, clauses: usize, seed: u64) -> (Cnf, Vec<bool>) {
    assert!(vars >= 3, "3-SAT needs at least 3 variables");
    let mut state = seed;
    let mut next = move || {
        // splitmix64 over a Weyl sequence (the stream the documented figures were drawn from)
        let z = pbit_spec::rng::splitmix64(state);
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z
    };
    let planted: Vec<bool> = (0..vars).map(|_| next() & 1 == 1).collect();
    let mut out = Vec::with_capacity(clauses);
    while out.len() < clauses {
        let mut vs: Vec<usize> = Vec::with_capacity(3);
        while vs.len() < 3 {
            let v = (next() % vars as u64) as usize;
            if !vs.contains(&v) {
                vs.push(v);
            }
        }
        let clause: Vec<i32> = vs
            .iter()
            .map(|&v| {
                if next() & 1 == 1 {
                    v as i32 + 1
                } else {
                    -(v as i32 + 1)
                }
            })
            .collect();
        if clause
            .iter()
            .any(|&l| planted[l.unsigned_abs() as usize - 1] == (l > 0))
        {
            out.push(clause);
        }
    }
    (Cnf { vars, clauses: out }, planted)
}

/// Why the SAT job could not run.
#[derive(Debug, thiserror::Error)]
pub enum SatError {
    #[error(transparent)]
    Circuit(#[from] CircuitError),
    #[error(transparent)]
    Quantise(#[from] QuantiseError),
    #[error(transparent)]
    Beta(#[from] BetaError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("backend: {0}")]
    Backend(#[from] pbit_model::BackendError),
}

/// How to search.
#[derive(Clone, Debug, PartialEq)]
pub struct SatOptions {
    pub seed: u64,
    /// Budget: total sweeps over all reads and rounds.
    pub max_sweeps: u64,
    /// Sweeps per read.
    pub sweeps: u64,
    /// Reads per round.
    pub reads: u64,
    /// β at the start and end of a read (a violated clause costs 1).
    pub beta_start: f64,
    pub beta_end: f64,
}

impl Default for SatOptions {
    /// Defaults chosen by measurement (docs/benchmarks.md, "Factoring": 3-SAT).
    fn default() -> Self {
        SatOptions {
            seed: 0,
            max_sweeps: 100_000_000,
            sweeps: 500,
            reads: 16,
            beta_start: 0.5,
            beta_end: 4.0,
        }
    }
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SatStatus {
    Satisfiable,
    Unsatisfiable,
    Unknown,
}

/// The outcome of `pbit sat`.
#[derive(Clone, Debug, Serialize)]
pub struct SatReport {
    pub status: SatStatus,
    /// The checked satisfying assignment (variable v at index v − 1), when satisfiable.
    pub assignment: Option<Vec<bool>>,
    pub vars: usize,
    pub clauses: usize,
    pub pbits: usize,
    pub sweeps: u64,
    pub rounds: u64,
    pub seconds: f64,
    /// Fewest clauses violated by any read's best state (0 when solved).
    pub least_violated: usize,
    pub backend: &'static str,
}

impl SatReport {
    /// SAT-competition output: `s …` and, when satisfiable, `v …` lines ending with 0.
    pub fn competition_output(&self) -> String {
        let mut s = String::new();
        s.push_str(match self.status {
            SatStatus::Satisfiable => "s SATISFIABLE\n",
            SatStatus::Unsatisfiable => "s UNSATISFIABLE\n",
            SatStatus::Unknown => "s UNKNOWN\n",
        });
        if let Some(a) = &self.assignment {
            let lits: Vec<String> = a
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if b {
                        format!("{}", i + 1)
                    } else {
                        format!("-{}", i + 1)
                    }
                })
                .chain(std::iter::once("0".to_string()))
                .collect();
            for chunk in lits.chunks(10) {
                s.push_str("v ");
                s.push_str(&chunk.join(" "));
                s.push('\n');
            }
        }
        s
    }
}

/// The formula as an Ising instance the machine holds exactly: (instance, scale).
pub fn sat_ising(cnf: &Cnf, format: &Format) -> Result<(Ising, f64), SatError> {
    let (p, n) = cnf.penalty();
    let e = penalty_to_ising(&p, n, format)?;
    Ok((e.ising, e.scale))
}

/// Solves `cnf` on `backend`: rounds of reads until a read's best state satisfies every
/// clause (checked here) or the budget is spent. An empty clause is unsatisfiable at once.
pub fn solve(
    backend: &mut dyn Backend,
    cnf: &Cnf,
    opts: &SatOptions,
) -> Result<SatReport, SatError> {
    check_anneal("--reads", opts.reads, opts.sweeps, 0)?;
    let start = Instant::now();
    let format = backend.format();
    let (ising, scale) = sat_ising(cnf, &format)?;
    let mut report = SatReport {
        status: SatStatus::Unknown,
        assignment: None,
        vars: cnf.vars,
        clauses: cnf.clauses.len(),
        pbits: ising.n,
        sweeps: 0,
        rounds: 0,
        seconds: 0.0,
        least_violated: cnf.clauses.len(),
        backend: backend.name(),
    };
    if cnf.clauses.iter().any(|c| c.is_empty()) {
        report.status = SatStatus::Unsatisfiable;
        report.seconds = start.elapsed().as_secs_f64();
        return Ok(report);
    }
    if cnf.clauses.is_empty() || ising.n == 0 {
        report.status = SatStatus::Satisfiable;
        report.assignment = Some(vec![false; cnf.vars]);
        report.least_violated = 0;
        return Ok(report);
    }
    let fixed = FixedIsing::new(&ising, format, Scaling::Exact)?;
    let schedule = Schedule::anneal(
        opts.beta_start / scale,
        opts.beta_end / scale,
        opts.sweeps,
        Shape::Geometric,
        MAX_STEPS,
    )?;
    let pages = Pages::build(&fixed, &schedule);
    let per_round = check_anneal("--reads", opts.reads, opts.sweeps, fixed.n)?;
    while report.sweeps.saturating_add(per_round) <= opts.max_sweeps.max(per_round) {
        let results = crate::anneal::anneal_reads(
            backend,
            &fixed,
            &[],
            &pages,
            round_seed(opts.seed, report.rounds),
            opts.reads,
        )?;
        report.sweeps += per_round;
        report.rounds += 1;
        for r in &results {
            let a = &r.best_spins[..cnf.vars];
            let violated = cnf
                .clauses
                .iter()
                .filter(|c| {
                    !c.iter()
                        .any(|&l| a[l.unsigned_abs() as usize - 1] == (l > 0))
                })
                .count();
            report.least_violated = report.least_violated.min(violated);
            if violated == 0 {
                report.status = SatStatus::Satisfiable;
                report.assignment = Some(a.to_vec());
                report.seconds = start.elapsed().as_secs_f64();
                return Ok(report);
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> (usize, CnfErrorKind) {
        let e = Cnf::parse(text, "t.cnf").unwrap_err();
        (e.line, e.kind)
    }

    #[test]
    fn parses_dimacs() {
        let c = Cnf::parse("c hi\np cnf 3 2\n1 -2\n 3 0 -1\n0\n%\n0\n", "t").unwrap();
        assert_eq!(c.vars, 3);
        assert_eq!(c.clauses, vec![vec![1, -2, 3], vec![-1]]);
        assert!(c.satisfied_by(&[false, false, true]));
        assert_eq!(c.first_violated(&[true, false, true]), Some(1));
        assert_eq!(Cnf::parse(&c.to_dimacs(&[]), "t").unwrap(), c);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(kind("1 2 0\n"), (1, CnfErrorKind::MissingHeader));
        assert!(matches!(
            kind("p cnf x 2\n"),
            (1, CnfErrorKind::BadHeader(_))
        ));
        assert!(matches!(
            kind("p cnf 2 1\n1 a 0\n"),
            (2, CnfErrorKind::NotALiteral(_))
        ));
        assert!(matches!(
            kind("p cnf 2 1\n1 3 0\n"),
            (2, CnfErrorKind::VariableOutOfRange { literal: 3, .. })
        ));
        assert!(matches!(
            kind("p cnf 2 1\n1 2\n"),
            (2, CnfErrorKind::Unterminated)
        ));
        assert!(matches!(
            kind("p cnf 2 2\n1 2 0\n"),
            (2, CnfErrorKind::WrongCount { .. })
        ));
        assert_eq!(kind(""), (0, CnfErrorKind::MissingHeader));
        assert_eq!(
            kind("c big\np cnf 1000000000000 1\n1 0\n"),
            (
                2,
                CnfErrorKind::TooManyVariables {
                    vars: 1_000_000_000_000,
                    max: MAX_PBITS
                }
            )
        );
        let e = Cnf::parse("p cnf 2 1\n1 -7 0\n", "f.cnf").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.cnf:2: literal -7 names a variable outside 1..=2"
        );
    }

    /// The penalty, minimised over the auxiliaries, is the number of violated clauses: checked
    /// by brute force on every assignment of a small random formula with clauses of length 1
    /// to 5 (and a tautology, a repeated literal).
    #[test]
    fn penalty_counts_violated_clauses() {
        let cnf = Cnf {
            vars: 5,
            clauses: vec![
                vec![1],
                vec![-2, 3],
                vec![1, -3, 4],
                vec![-1, 2, -4, 5],
                vec![2, 3, -4, -5, 1],
                vec![1, -1, 2],
                vec![4, 4, -2],
            ],
        };
        let (p, n) = cnf.penalty();
        let aux = n - cnf.vars;
        assert_eq!(aux, 1 + 2 + 3); // 3, 4 and 5 literals; the rest need none
        for s in 0..1u32 << cnf.vars {
            let a: Vec<bool> = (0..cnf.vars).map(|k| s >> k & 1 == 1).collect();
            let violated = cnf
                .clauses
                .iter()
                .filter(|c| {
                    !c.iter()
                        .any(|&l| a[l.unsigned_abs() as usize - 1] == (l > 0))
                })
                .count() as i64;
            let best = (0..1u32 << aux)
                .map(|t| {
                    let mut bits = a.clone();
                    bits.extend((0..aux).map(|k| t >> k & 1 == 1));
                    p.eval(&bits)
                })
                .min()
                .unwrap();
            assert_eq!(best, violated, "assignment {s:05b}");
        }
    }

    #[test]
    fn planted_formulas_are_satisfied_by_their_plant_and_deterministic() {
        let (c, a) = planted_3sat(50, 213, 7);
        assert_eq!(c.clauses.len(), 213);
        assert!(c.clauses.iter().all(|cl| cl.len() == 3));
        assert!(c.satisfied_by(&a));
        assert_eq!(planted_3sat(50, 213, 7).0, c);
        assert_ne!(planted_3sat(50, 213, 8).0, c);
    }
}
