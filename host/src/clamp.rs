//! Clamp lists: `3=+1,7=-1`, 1-based like instance files.

/// A clamp list that does not fit the instance.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClampError {
    #[error("clamp `{0}` must look like INDEX=VALUE, e.g. 3=+1")]
    Syntax(String),
    #[error("clamp `{text}`: index {index} is out of range 1..={n}")]
    OutOfRange { text: String, index: i64, n: usize },
    #[error("clamp `{text}`: value must be +1, 1, -1 or 0")]
    BadValue { text: String },
    #[error("p-bit {0} is clamped twice")]
    Duplicate(usize),
}

/// Parses a clamp list for an instance of `n` p-bits into 0-based (index, value) pairs.
/// Values: `+1`/`1` for +1, `-1`/`0` for −1 (the 1/0 of sample files).
pub fn parse_clamps(text: &str, n: usize) -> Result<Vec<(usize, bool)>, ClampError> {
    let mut out: Vec<(usize, bool)> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (i, v) = item
            .split_once('=')
            .ok_or_else(|| ClampError::Syntax(item.to_string()))?;
        let index: i64 = i
            .trim()
            .parse()
            .map_err(|_| ClampError::Syntax(item.to_string()))?;
        if index < 1 || index as u64 > n as u64 {
            return Err(ClampError::OutOfRange {
                text: item.to_string(),
                index,
                n,
            });
        }
        let value = match v.trim() {
            "+1" | "1" => true,
            "-1" | "0" => false,
            _ => {
                return Err(ClampError::BadValue {
                    text: item.to_string(),
                })
            }
        };
        out.push((index as usize - 1, value));
    }
    // sorted, a duplicate is a neighbour: linear after the sort, however long the list
    out.sort_unstable();
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ClampError::Duplicate(w[0].0 + 1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            parse_clamps("3=+1, 1=-1,2=0", 3),
            Ok(vec![(0, false), (1, false), (2, true)])
        );
        assert_eq!(parse_clamps("", 3), Ok(vec![]));
        assert!(matches!(
            parse_clamps("4=1", 3),
            Err(ClampError::OutOfRange { index: 4, .. })
        ));
        assert!(matches!(
            parse_clamps("0=1", 3),
            Err(ClampError::OutOfRange { index: 0, .. })
        ));
        assert!(matches!(
            parse_clamps("1=2", 3),
            Err(ClampError::BadValue { .. })
        ));
        assert!(matches!(parse_clamps("1", 3), Err(ClampError::Syntax(_))));
        assert_eq!(parse_clamps("1=1,1=0", 3), Err(ClampError::Duplicate(1)));
    }
}
