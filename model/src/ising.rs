//! Ising instances and their text format.
//!
//! ```text
//! # comment lines start with '#'
//! N M            header: p-bits and coupling lines
//! i j value      M lines, 1-based, each unordered pair once, i != j
//! h i value      any number of bias lines, after the couplings
//! ```
//! G-set/rudy files load as they are. Values are integers or decimals, read as IEEE doubles.
//! E(m) = −Σ_{i<j} J_ij m_i m_j − Σ_i h_i m_i; positive J is ferromagnetic.

use crate::limits::{MAX_COUPLINGS, MAX_PBITS};
use std::fmt;
use std::path::Path;

/// One coupling J_ij between p-bits `i` and `j` (0-based, i ≠ j).
#[derive(Clone, Debug, PartialEq)]
pub struct Coupling {
    pub i: usize,
    pub j: usize,
    pub value: f64,
    /// 1-based line of the source file it came from (0 if built in code).
    pub line: usize,
}

/// An Ising instance in real numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ising {
    pub n: usize,
    pub couplings: Vec<Coupling>,
    pub h: Vec<f64>,
    /// Source line of each bias (0 if none or built in code).
    pub h_lines: Vec<usize>,
    /// Where it was read from, for error messages ("<memory>" if built in code).
    pub source: String,
}

/// Why a file could not be read as an instance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("missing header line `N M`")]
    MissingHeader,
    #[error("header must be `N M` (two non-negative integers), found `{0}`")]
    BadHeader(String),
    #[error("{field} is not a number: `{text}`")]
    NotANumber { field: &'static str, text: String },
    #[error("{field} {index} is out of range 1..={n}")]
    IndexOutOfRange {
        field: &'static str,
        index: i64,
        n: usize,
    },
    #[error("coupling of p-bit {0} to itself (i = j)")]
    SelfCoupling(usize),
    #[error("pair ({i}, {j}) appears twice (first on line {first_line})")]
    DuplicatePair {
        i: usize,
        j: usize,
        first_line: usize,
    },
    #[error("bias of p-bit {i} given twice (first on line {first_line})")]
    DuplicateBias { i: usize, first_line: usize },
    #[error("expected `i j value` (3 fields), found {found} fields")]
    BadCouplingLine { found: usize },
    #[error("expected `h i value` (3 fields), found {found} fields")]
    BadBiasLine { found: usize },
    #[error("bias line before all {expected} coupling lines were read (found {found})")]
    BiasTooEarly { expected: usize, found: usize },
    #[error("header promises {expected} coupling lines, found {found}")]
    WrongCount { expected: usize, found: usize },
    #[error("{field} is not finite: `{text}`")]
    NotFinite { field: &'static str, text: String },
    #[error("{field} {value} is more than the limit {max}")]
    TooLarge {
        field: &'static str,
        value: u64,
        max: u64,
    },
    #[error("header promises {m} couplings, more than the {pairs} distinct pairs of {n} p-bits")]
    TooManyCouplings { m: u64, n: u64, pairs: u64 },
}

/// A parse error with the file and the 1-based line it refers to (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ParseError {
    pub source_name: String,
    pub line: usize,
    pub kind: ParseErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.source_name, self.kind)
        } else {
            write!(f, "{}:{}: {}", self.source_name, self.line, self.kind)
        }
    }
}

/// An instance built in code that breaks the format's rules (a parsed file never does).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IsingError {
    #[error("coupling {index} joins p-bits {i} and {j}, which is not a valid pair for n = {n}")]
    BadCoupling {
        index: usize,
        i: usize,
        j: usize,
        n: usize,
    },
    #[error("the instance has {found} biases for {n} p-bits")]
    BadBiasCount { found: usize, n: usize },
    #[error("{what} {index} is not finite")]
    NotFinite { what: &'static str, index: usize },
}

/// The first three whitespace-separated fields of a line ("" where missing) and how many it has.
fn first_fields(line: &str) -> ([&str; 3], usize) {
    let mut it = line.split_whitespace();
    let mut f = [""; 3];
    let mut found = 0;
    for slot in &mut f {
        match it.next() {
            Some(t) => {
                *slot = t;
                found += 1;
            }
            None => return (f, found),
        }
    }
    (f, found + it.count())
}

/// The unordered pair {i, j} as one integer (indices are below 2^32).
fn pair_key(i: usize, j: usize) -> u64 {
    ((i.min(j) as u64) << 32) | i.max(j) as u64
}

/// The duplicate pair a line-by-line check meets first: (index of the pair's first coupling,
/// index of its second), the second as early as possible. None if every pair is distinct.
/// Linear in n + m: the couplings are bucketed by their lower index (in order), and each
/// bucket's upper indices are marked as they are seen.
fn first_duplicate(couplings: &[Coupling], n: usize) -> Option<(usize, usize)> {
    let lo_hi = |c: &Coupling| (c.i.min(c.j), c.i.max(c.j));
    let mut start = vec![0usize; n + 1];
    for c in couplings {
        start[lo_hi(c).0 + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut next = start.clone();
    let mut order = vec![0usize; couplings.len()];
    for (k, c) in couplings.iter().enumerate() {
        let lo = lo_hi(c).0;
        order[next[lo]] = k;
        next[lo] += 1;
    }
    // seen[hi] = (bucket, first coupling) of the last bucket that had hi
    let mut seen = vec![(usize::MAX, 0usize); n];
    let mut found: Option<(usize, usize)> = None;
    for lo in 0..n {
        for &k in &order[start[lo]..start[lo + 1]] {
            let hi = lo_hi(&couplings[k]).1;
            if seen[hi].0 == lo {
                if found.is_none_or(|(_, second)| k < second) {
                    found = Some((seen[hi].1, k));
                }
            } else {
                seen[hi] = (lo, k);
            }
        }
    }
    found
}

impl Ising {
    /// Checks what the type cannot: indices in range, i ≠ j, one bias per p-bit, finite values.
    pub fn validate(&self) -> Result<(), IsingError> {
        let n = self.n;
        if self.h.len() != n {
            return Err(IsingError::BadBiasCount {
                found: self.h.len(),
                n,
            });
        }
        for (index, c) in self.couplings.iter().enumerate() {
            if c.i >= n || c.j >= n || c.i == c.j {
                return Err(IsingError::BadCoupling {
                    index,
                    i: c.i,
                    j: c.j,
                    n,
                });
            }
            if !c.value.is_finite() {
                return Err(IsingError::NotFinite {
                    what: "coupling",
                    index,
                });
            }
        }
        if let Some(index) = self.h.iter().position(|h| !h.is_finite()) {
            return Err(IsingError::NotFinite {
                what: "bias of p-bit (0-based)",
                index,
            });
        }
        Ok(())
    }

    /// An instance with `n` p-bits, no couplings and zero biases.
    pub fn new(n: usize) -> Ising {
        Ising {
            n,
            couplings: Vec::new(),
            h: vec![0.0; n],
            h_lines: vec![0; n],
            source: "<memory>".into(),
        }
    }

    /// Adds J_ij (0-based). Panics on i = j or an index out of range: a programming error.
    pub fn add_coupling(&mut self, i: usize, j: usize, value: f64) {
        assert!(
            i != j && i < self.n && j < self.n,
            "bad coupling ({i}, {j}) for n = {}",
            self.n
        );
        self.couplings.push(Coupling {
            i,
            j,
            value,
            line: 0,
        });
    }

    /// Reads an instance file.
    pub fn read(path: &Path) -> Result<Ising, ParseError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ParseError {
            source_name: name.clone(),
            line: 0,
            kind: ParseErrorKind::Io(e.to_string()),
        })?;
        Ising::parse(&text, &name)
    }

    /// Parses instance text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Ising, ParseError> {
        let err = |line: usize, kind| ParseError {
            source_name: source_name.to_string(),
            line,
            kind,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(k, l)| (k + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));

        let (header_line, header) = lines
            .next()
            .ok_or_else(|| err(0, ParseErrorKind::MissingHeader))?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let bad_header = || err(header_line, ParseErrorKind::BadHeader(header.to_string()));
        if fields.len() != 2 {
            return Err(bad_header());
        }
        let n: u64 = fields[0].parse().map_err(|_| bad_header())?;
        let m: u64 = fields[1].parse().map_err(|_| bad_header())?;
        // sizes are checked before anything is allocated for them
        let too_large =
            |field, value, max| err(header_line, ParseErrorKind::TooLarge { field, value, max });
        if n > MAX_PBITS {
            return Err(too_large("header N (p-bits)", n, MAX_PBITS));
        }
        if m > MAX_COUPLINGS {
            return Err(too_large("header M (couplings)", m, MAX_COUPLINGS));
        }
        let pairs_max = n * n.saturating_sub(1) / 2; // n ≤ 2^24: no overflow
        if m > pairs_max {
            return Err(err(
                header_line,
                ParseErrorKind::TooManyCouplings {
                    m,
                    n,
                    pairs: pairs_max,
                },
            ));
        }
        let (n, m) = (n as usize, m as usize);

        let mut ising = Ising::new(n);
        ising.source = source_name.to_string();
        // a header may promise more lines than the file has (an error found at its end)
        let reserve = m.min(text.len() / 6);
        ising.couplings.reserve(reserve);
        // Duplicate pairs are found after the loop (see `first_duplicate`); a file whose pairs
        // strictly increase in line order (G-set's do) has none, and needs no sort.
        let mut last_key = None;
        let mut increasing = true;

        let index = |line: usize, field: &'static str, text: &str| -> Result<usize, ParseError> {
            let v: i64 = text.parse().map_err(|_| {
                err(
                    line,
                    ParseErrorKind::NotANumber {
                        field,
                        text: text.to_string(),
                    },
                )
            })?;
            if v < 1 || v as u64 > n as u64 {
                return Err(err(
                    line,
                    ParseErrorKind::IndexOutOfRange { field, index: v, n },
                ));
            }
            Ok(v as usize - 1)
        };
        let value = |line: usize, field: &'static str, text: &str| -> Result<f64, ParseError> {
            let v: f64 = text.parse().map_err(|_| {
                err(
                    line,
                    ParseErrorKind::NotANumber {
                        field,
                        text: text.to_string(),
                    },
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    line,
                    ParseErrorKind::NotFinite {
                        field,
                        text: text.to_string(),
                    },
                ));
            }
            Ok(v)
        };

        let read_lines = || -> Result<(), ParseError> {
            for (line, l) in lines {
                let (f, found) = first_fields(l);
                if f[0] == "h" {
                    if ising.couplings.len() < m {
                        return Err(err(
                            line,
                            ParseErrorKind::BiasTooEarly {
                                expected: m,
                                found: ising.couplings.len(),
                            },
                        ));
                    }
                    if found != 3 {
                        return Err(err(line, ParseErrorKind::BadBiasLine { found }));
                    }
                    let i = index(line, "bias index i", f[1])?;
                    let v = value(line, "bias value", f[2])?;
                    if ising.h_lines[i] != 0 {
                        return Err(err(
                            line,
                            ParseErrorKind::DuplicateBias {
                                i: i + 1,
                                first_line: ising.h_lines[i],
                            },
                        ));
                    }
                    ising.h[i] = v;
                    ising.h_lines[i] = line;
                    continue;
                }
                if ising.couplings.len() == m {
                    return Err(err(
                        line,
                        ParseErrorKind::WrongCount {
                            expected: m,
                            found: m + 1,
                        },
                    ));
                }
                if found != 3 {
                    return Err(err(line, ParseErrorKind::BadCouplingLine { found }));
                }
                let i = index(line, "coupling index i", f[0])?;
                let j = index(line, "coupling index j", f[1])?;
                let v = value(line, "coupling value", f[2])?;
                if i == j {
                    return Err(err(line, ParseErrorKind::SelfCoupling(i + 1)));
                }
                let key = pair_key(i, j);
                increasing &= last_key.is_none_or(|last| key > last);
                last_key = Some(key);
                ising.couplings.push(Coupling {
                    i,
                    j,
                    value: v,
                    line,
                });
            }
            Ok(())
        };
        // A duplicate pair is reported where a line-by-line check would have stopped: before
        // any later error (every coupling kept so far is on an earlier line).
        let done = read_lines();
        let duplicate = || {
            if increasing {
                return None;
            }
            first_duplicate(&ising.couplings, n).map(|(first, second)| {
                let c = &ising.couplings[second];
                err(
                    c.line,
                    ParseErrorKind::DuplicatePair {
                        i: c.i + 1,
                        j: c.j + 1,
                        first_line: ising.couplings[first].line,
                    },
                )
            })
        };
        if let Err(e) = done {
            return Err(duplicate().unwrap_or(e));
        }
        if let Some(e) = duplicate() {
            return Err(e);
        }
        if ising.couplings.len() != m {
            let last = text.lines().count();
            return Err(err(
                last,
                ParseErrorKind::WrongCount {
                    expected: m,
                    found: ising.couplings.len(),
                },
            ));
        }
        Ok(ising)
    }

    /// Writes the instance in the text format (1-based), with optional comment lines.
    pub fn to_text(&self, comments: &[String]) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for c in comments {
            let _ = writeln!(s, "# {c}");
        }
        let _ = writeln!(s, "{} {}", self.n, self.couplings.len());
        for c in &self.couplings {
            let _ = writeln!(s, "{} {} {}", c.i + 1, c.j + 1, c.value);
        }
        for (i, &h) in self.h.iter().enumerate() {
            if h != 0.0 {
                let _ = writeln!(s, "h {} {}", i + 1, h);
            }
        }
        s
    }

    /// E(m) in real units; `spins[i]` is true for +1.
    pub fn energy(&self, spins: &[bool]) -> f64 {
        let s = |b: bool| if b { 1.0 } else { -1.0 };
        let mut e = 0.0;
        for c in &self.couplings {
            e -= c.value * s(spins[c.i]) * s(spins[c.j]);
        }
        for (i, &h) in self.h.iter().enumerate() {
            e -= h * s(spins[i]);
        }
        e
    }

    /// Σ of coupling values (for Max-Cut: the total edge weight when values are weights).
    pub fn total_coupling(&self) -> f64 {
        self.couplings.iter().map(|c| c.value).sum()
    }

    /// The same instance with every coupling negated: Max-Cut weights w become J = −w.
    pub fn negated_couplings(&self) -> Ising {
        let mut out = self.clone();
        for c in &mut out.couplings {
            c.value = -c.value;
        }
        out
    }

    /// Dense symmetric coupling matrix (row-major n×n), for host-side math on small instances.
    pub fn dense_j(&self) -> Vec<f64> {
        let mut j = vec![0.0; self.n * self.n];
        for c in &self.couplings {
            j[c.i * self.n + c.j] += c.value;
            j[c.j * self.n + c.i] += c.value;
        }
        j
    }
}

/// Formats spins as the 1/0 string used by `--out` and `best_state`.
pub fn spins_to_string(spins: &[bool]) -> String {
    spins.iter().map(|&b| if b { '1' } else { '0' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> (usize, ParseErrorKind) {
        let e = Ising::parse(text, "t.txt").unwrap_err();
        (e.line, e.kind)
    }

    #[test]
    fn parses_couplings_and_biases() {
        let i = Ising::parse("# c\n3 2\n1 2 -1\n3 1 0.5\nh 2 1.25\n", "t").unwrap();
        assert_eq!(i.n, 3);
        assert_eq!(i.couplings.len(), 2);
        assert_eq!(
            i.couplings[1],
            Coupling {
                i: 2,
                j: 0,
                value: 0.5,
                line: 4
            }
        );
        assert_eq!(i.h, vec![0.0, 1.25, 0.0]);
        // E(+,+,+) = -(-1) - 0.5 - 1.25
        assert_eq!(i.energy(&[true, true, true]), 1.0 - 0.5 - 1.25);
    }

    #[test]
    fn errors_name_line_and_problem() {
        assert_eq!(kind(""), (0, ParseErrorKind::MissingHeader));
        assert!(matches!(kind("3\n"), (1, ParseErrorKind::BadHeader(_))));
        assert!(matches!(
            kind("3 1\n1 x 1\n"),
            (
                2,
                ParseErrorKind::NotANumber {
                    field: "coupling index j",
                    ..
                }
            )
        ));
        assert!(matches!(
            kind("3 1\n1 4 1\n"),
            (2, ParseErrorKind::IndexOutOfRange { index: 4, .. })
        ));
        assert!(matches!(
            kind("3 1\n0 2 1\n"),
            (2, ParseErrorKind::IndexOutOfRange { index: 0, .. })
        ));
        assert_eq!(kind("3 1\n2 2 1\n"), (2, ParseErrorKind::SelfCoupling(2)));
        assert!(matches!(
            kind("3 2\n1 2 1\n2 1 1\n"),
            (3, ParseErrorKind::DuplicatePair { first_line: 2, .. })
        ));
        assert!(matches!(
            kind("3 2\n1 2 1\n"),
            (
                2,
                ParseErrorKind::WrongCount {
                    expected: 2,
                    found: 1
                }
            )
        ));
        assert!(matches!(
            kind("3 1\n1 2 1\n1 3 1\n"),
            (3, ParseErrorKind::WrongCount { .. })
        ));
        assert!(matches!(
            kind("3 1\n1 2 abc\n"),
            (
                2,
                ParseErrorKind::NotANumber {
                    field: "coupling value",
                    ..
                }
            )
        ));
        assert!(matches!(
            kind("3 1\n1 2 inf\n"),
            (2, ParseErrorKind::NotFinite { .. })
        ));
        assert!(matches!(
            kind("3 1\nh 1 1\n1 2 1\n"),
            (2, ParseErrorKind::BiasTooEarly { .. })
        ));
        assert!(matches!(
            kind("3 0\nh 1 1\nh 1 2\n"),
            (3, ParseErrorKind::DuplicateBias { first_line: 2, .. })
        ));
        assert!(matches!(
            kind("3 1\n1 2\n"),
            (2, ParseErrorKind::BadCouplingLine { found: 2 })
        ));
        // duplicates are reported where a line-by-line check stops: the earliest second
        // occurrence, before any later error, after any earlier one
        let dup = |text: &str| match kind(text) {
            (line, ParseErrorKind::DuplicatePair { i, j, first_line }) => {
                Some((line, i, j, first_line))
            }
            _ => None,
        };
        assert_eq!(dup("3 3\n1 3 1\n1 2 1\n2 1 1\n"), Some((4, 2, 1, 3)));
        assert_eq!(dup("3 3\n1 3 1\n3 1 1\n1 x 1\n"), Some((3, 3, 1, 2)));
        assert!(matches!(
            kind("3 3\n1 3 1\n1 x 1\n3 1 1\n"),
            (3, ParseErrorKind::NotANumber { .. })
        ));
        assert_eq!(dup("4 4\n1 2 1\n3 4 1\n4 3 1\n2 1 1\n"), Some((4, 4, 3, 3)));
        assert_eq!(dup("3 3\n2 3 1\n3 2 1\n2 3 1\n"), Some((3, 3, 2, 2)));
        assert_eq!(dup("3 2\n2 3 1\n2 3 1\nh 1 1\nh 1 1\n"), Some((3, 2, 3, 2)));
        assert!(matches!(
            kind("3 2\n1 2 1\n2 1 1 7\n"),
            (3, ParseErrorKind::BadCouplingLine { found: 4 })
        ));
        let e = Ising::parse("3 1\n1 4 1\n", "inst.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inst.txt:2: coupling index j 4 is out of range 1..=3"
        );
    }

    #[test]
    fn first_duplicate_is_the_earliest_repeat() {
        // against the line-by-line definition: the first coupling whose pair occurred before,
        // and that pair's first occurrence
        let mut g = pbit_spec::rng::HostRng::new(12);
        for case in 0..300 {
            let n = 2 + g.below(6) as usize;
            let m = g.below(12) as usize;
            let couplings: Vec<Coupling> = (0..m)
                .map(|k| {
                    let i = g.below(n as u64) as usize;
                    let j = (i + 1 + g.below(n as u64 - 1) as usize) % n;
                    Coupling {
                        i,
                        j,
                        value: 1.0,
                        line: k + 2,
                    }
                })
                .collect();
            let same = |a: &Coupling, b: &Coupling| pair_key(a.i, a.j) == pair_key(b.i, b.j);
            let want = (0..m).find_map(|second| {
                (0..second)
                    .find(|&first| same(&couplings[first], &couplings[second]))
                    .map(|first| (first, second))
            });
            assert_eq!(first_duplicate(&couplings, n), want, "case {case}");
        }
    }

    #[test]
    fn sizes_are_refused_before_allocating() {
        // 10^12 p-bits would be 16 TB of biases: refused at the header, named
        let e = Ising::parse("1000000000000 1\n1 2 1\n", "big.txt").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(
            e.to_string(),
            format!(
                "big.txt:1: header N (p-bits) 1000000000000 is more than the limit {}",
                crate::limits::MAX_PBITS
            )
        );
        assert!(matches!(
            kind("4 1000000000000\n"),
            (
                1,
                ParseErrorKind::TooLarge {
                    field: "header M (couplings)",
                    ..
                }
            )
        ));
        // more couplings than pairs can never be a valid file
        assert_eq!(
            kind("3 4\n"),
            (
                1,
                ParseErrorKind::TooManyCouplings {
                    m: 4,
                    n: 3,
                    pairs: 3
                }
            )
        );
        assert_eq!(
            kind("0 1\n"),
            (
                1,
                ParseErrorKind::TooManyCouplings {
                    m: 1,
                    n: 0,
                    pairs: 0
                }
            )
        );
        // a header promising many lines in a short file reserves nothing big and says so
        assert!(matches!(
            kind("100000 200000000\n1 2 1\n"),
            (
                2,
                ParseErrorKind::WrongCount {
                    expected: 200000000,
                    found: 1
                }
            )
        ));
        // the limit itself is accepted (the biases are 2^24 zeros: 128 MiB, fine)
        assert_eq!(Ising::parse("16777216 0\n", "t").unwrap().n, 1 << 24);
    }

    #[test]
    fn shipped_instances_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/instances");
        for name in [
            "and_gate.txt",
            "full_adder.txt",
            "sk_256.txt",
            "gset/G1.txt",
        ] {
            let i = Ising::read(&dir.join(name)).unwrap();
            assert!(i.n > 0, "{name}");
        }
    }
}
