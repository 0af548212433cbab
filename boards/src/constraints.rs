//! The pin files: ECP5 `.lpf` (`LOCATE COMP "name" SITE "G2";`) and iCE40 `.pcf`
//! (`set_io [-nowarn] name 35`).

use crate::board::{Board, Family};

/// The pin names a constraint file assigns a site to, in file order.
pub fn constrained_pins(board: &Board) -> Vec<String> {
    match board.family {
        Family::Ecp5 => lpf_pins(board.constraints),
        Family::Ice40 => pcf_pins(board.constraints),
    }
}

/// Pins located in an `.lpf` file.
pub fn lpf_pins(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("LOCATE COMP")?;
            let name = rest.trim().strip_prefix('"')?;
            Some(name[..name.find('"')?].to_string())
        })
        .collect()
}

/// Pins assigned in a `.pcf` file.
pub fn pcf_pins(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "set_io").then_some(())?;
            words.find(|w| !w.starts_with('-')).map(str::to_string)
        })
        .collect()
}
