//! Size limits on what users give the machine, and checked arithmetic on them.
//!
//! Every count a user types (an option, a header in a file) is checked against one of these
//! before anything is allocated or run, so a typo such as `--reads 1000000000000` or an
//! instance header `1000000000000 1` is an error naming the option or the file and line, not
//! an allocation failure, a wrap-around or a run of hours. The limits sit well above any job
//! the machine runs in reasonable time and well below what would exhaust memory; `--help`
//! states each (the CLI quotes these constants).
//!
//! Sums and products of user values go through [`checked_sum`] and [`checked_product`]
//! (release builds wrap on overflow: `--burn-in 2^64 − 1 --sweeps 2` would otherwise be a
//! schedule of one sweep).

/// The most p-bits of an instance (instance files, DIMACS variables, circuits): 2²⁴. The
/// model's compressed rows index p-bits with u32, and its kernel keeps ~64 bytes per p-bit per
/// read lane, so 2²⁴ p-bits is already ~1 GiB per batch of reads.
pub const MAX_PBITS: u64 = 1 << 24;

/// The most couplings (lines) of an instance file: 2²⁸ (both directions of each are stored:
/// 2²⁹ row entries, within the u32 row offsets; a file this long is ≥ 1.5 GB of text).
pub const MAX_COUPLINGS: u64 = 1 << 28;

/// The most sweeps of one run, and of burn-in + sweeps: 2³² − 1, the machine's sweep counter
/// (a schedule step holds u32 sweeps).
pub const MAX_SWEEPS: u64 = u32::MAX as u64;

/// The most reads (independent anneals) of one job: 2²⁰. Each read's result (its best state
/// and energies) is kept until the job ends.
pub const MAX_READS: u64 = 1 << 20;

/// The most spins kept across a job's results or chains (reads × p-bits, chains × p-bits):
/// 2²⁸, about 0.3 GiB as `Vec<bool>`s with their headers.
pub const MAX_RESULT_SPINS: u64 = 1 << 28;

/// The most epochs of `pbit learn`: 2³² − 1.
pub const MAX_EPOCHS: u64 = u32::MAX as u64;

/// The most p-bits (visible + hidden) a Boltzmann machine is learned on: 2¹². Learning keeps
/// one real coupling per pair, n(n − 1)/2 ≈ 2²³ of them at this size.
pub const MAX_LEARN_PBITS: u64 = 1 << 12;

/// A count option outside its range: `name` is the option as typed (`--reads`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{name} must be at least {min}, got {value}")]
    TooSmall { name: String, value: u64, min: u64 },
    #[error("{name} is {value}, more than the limit {max}")]
    TooLarge { name: String, value: u128, max: u64 },
}

/// Checks `min ≤ value ≤ max` for the option `name`.
pub fn check_range(name: &str, value: u64, min: u64, max: u64) -> Result<u64, LimitError> {
    if value < min {
        return Err(LimitError::TooSmall {
            name: name.to_string(),
            value,
            min,
        });
    }
    if value > max {
        return Err(LimitError::TooLarge {
            name: name.to_string(),
            value: value as u128,
            max,
        });
    }
    Ok(value)
}

/// `a + b`, checked against `max`; `name` says what the sum is (`--burn-in + --sweeps`).
pub fn checked_sum(name: &str, a: u64, b: u64, max: u64) -> Result<u64, LimitError> {
    let sum = a as u128 + b as u128;
    if sum > max as u128 {
        return Err(LimitError::TooLarge {
            name: name.to_string(),
            value: sum,
            max,
        });
    }
    Ok(sum as u64)
}

/// `a × b`, checked against `max`; `name` says what the product is (`--reads × p-bits`).
pub fn checked_product(name: &str, a: u64, b: u64, max: u64) -> Result<u64, LimitError> {
    let product = a as u128 * b as u128;
    if product > max as u128 {
        return Err(LimitError::TooLarge {
            name: name.to_string(),
            value: product,
            max,
        });
    }
    Ok(product as u64)
}

/// Checks an annealing job's counts — `--sweeps` per read in 1..=[`MAX_SWEEPS`], reads (the
/// option `reads_name`: `--reads`, `--samples`) in 1..=[`MAX_READS`], reads × `pbits` at most
/// [`MAX_RESULT_SPINS`] — and returns the sweeps of one round of reads (≤ 2⁵², no overflow).
pub fn check_anneal(
    reads_name: &str,
    reads: u64,
    sweeps: u64,
    pbits: usize,
) -> Result<u64, LimitError> {
    check_range("--sweeps", sweeps, 1, MAX_SWEEPS)?;
    check_range(reads_name, reads, 1, MAX_READS)?;
    checked_product(
        &format!("{reads_name} × p-bits"),
        reads,
        pbits as u64,
        MAX_RESULT_SPINS,
    )?;
    Ok(reads * sweeps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_sums_and_products_refuse_what_does_not_fit() {
        assert_eq!(check_range("--reads", 8, 1, MAX_READS), Ok(8));
        assert!(matches!(
            check_range("--reads", 0, 1, MAX_READS),
            Err(LimitError::TooSmall { .. })
        ));
        let e = check_range("--reads", MAX_READS + 1, 1, MAX_READS).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "--reads is {}, more than the limit {MAX_READS}",
                MAX_READS + 1
            )
        );
        // the sum that wraps a u64 is reported whole, not wrapped
        let e = checked_sum("--burn-in + --sweeps", u64::MAX, 2, MAX_SWEEPS).unwrap_err();
        assert!(e.to_string().contains("18446744073709551617"), "{e}");
        assert_eq!(
            checked_sum("s", MAX_SWEEPS - 1, 1, MAX_SWEEPS),
            Ok(MAX_SWEEPS)
        );
        assert!(checked_product("p", u64::MAX, u64::MAX, u64::MAX).is_err());
        assert_eq!(
            checked_product("p", 1 << 10, 1 << 18, MAX_RESULT_SPINS),
            Ok(1 << 28)
        );
        assert!(checked_product("p", 1 << 10, (1 << 18) + 1, MAX_RESULT_SPINS).is_err());
    }
}
