//! Learning's training data: the file format (one 1/0 vector per line) and its parser, whose
//! errors name the file, line and column.

use ndarray::Array1;
use std::path::Path;

/// Why a data file cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("{source_name}: cannot read: {error}")]
    Io { source_name: String, error: String },
    #[error("{source_name}: no training vectors (the file is empty or only comments)")]
    Empty { source_name: String },
    #[error(
        "{source_name}:{line}:{column}: `{found}` is not a 0 or 1 (one character per visible unit)"
    )]
    BadChar {
        source_name: String,
        line: usize,
        column: usize,
        found: char,
    },
    #[error("{source_name}:{line}: {found} units, but line {first_line} has {expected} (every vector needs the same length)")]
    Ragged {
        source_name: String,
        line: usize,
        found: usize,
        expected: usize,
        first_line: usize,
    },
}

/// A training set: vectors of `visible` units (true = 1 = +1).
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    pub visible: usize,
    pub vectors: Vec<Vec<bool>>,
    pub source: String,
}

impl Data {
    /// Parses training vectors: one per line, `1`/`0` per visible unit. Blank lines and lines
    /// starting with `#` are skipped; spaces and tabs between digits are ignored.
    pub fn parse(text: &str, source_name: &str) -> Result<Data, DataError> {
        let mut vectors: Vec<Vec<bool>> = Vec::new();
        let mut first_line = 0;
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let mut v = Vec::with_capacity(t.len());
            for (col, ch) in raw.chars().enumerate() {
                match ch {
                    '1' => v.push(true),
                    '0' => v.push(false),
                    ' ' | '\t' | '\r' => {}
                    _ => {
                        return Err(DataError::BadChar {
                            source_name: source_name.to_string(),
                            line,
                            column: col + 1,
                            found: ch,
                        })
                    }
                }
            }
            if let Some(first) = vectors.first() {
                if v.len() != first.len() {
                    return Err(DataError::Ragged {
                        source_name: source_name.to_string(),
                        line,
                        found: v.len(),
                        expected: first.len(),
                        first_line,
                    });
                }
            } else {
                first_line = line;
            }
            vectors.push(v);
        }
        if vectors.is_empty() {
            return Err(DataError::Empty {
                source_name: source_name.to_string(),
            });
        }
        Ok(Data {
            visible: vectors[0].len(),
            vectors,
            source: source_name.to_string(),
        })
    }

    /// Reads a data file.
    pub fn read(path: &Path) -> Result<Data, DataError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            source_name: name.clone(),
            error: e.to_string(),
        })?;
        Data::parse(&text, &name)
    }

    /// The empirical distribution over the 2^V visible states (index bit i set = unit i is 1).
    pub fn distribution(&self) -> Array1<f64> {
        let mut p = Array1::zeros(1usize << self.visible);
        let w = 1.0 / self.vectors.len() as f64;
        for v in &self.vectors {
            p[state_index(v)] += w;
        }
        p
    }
}

fn state_index(v: &[bool]) -> usize {
    v.iter()
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | (b as usize) << i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> DataError {
        Data::parse(text, "d.txt").unwrap_err()
    }

    #[test]
    fn data_parses_and_bad_data_names_file_and_line() {
        let d = Data::parse("# c\n101\n\n0 1 1\r\n", "d.txt").unwrap();
        assert_eq!(d.visible, 3);
        assert_eq!(
            d.vectors,
            vec![vec![true, false, true], vec![false, true, true]]
        );
        let p = d.distribution();
        assert_eq!((p[0b101], p[0b110], p.iter().sum::<f64>()), (0.5, 0.5, 1.0));

        let e = err("101\n11\n");
        assert!(matches!(
            e,
            DataError::Ragged {
                line: 2,
                found: 2,
                expected: 3,
                first_line: 1,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "d.txt:2: 2 units, but line 1 has 3 (every vector needs the same length)"
        );
        let e = err("# x\n101\n1x1\n");
        assert!(
            e.to_string().starts_with("d.txt:3:2: `x` is not a 0 or 1"),
            "{e}"
        );
        assert!(matches!(
            err("1,0\n"),
            DataError::BadChar { found: ',', .. }
        ));
        assert!(matches!(
            err("102\n"),
            DataError::BadChar { found: '2', .. }
        ));
        assert!(matches!(err(""), DataError::Empty { .. }));
        assert!(matches!(err("# only\n\n  \n"), DataError::Empty { .. }));
        let e = Data::read(Path::new("/nonexistent/data.txt")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("/nonexistent/data.txt: cannot read"));
    }
}
