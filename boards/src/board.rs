//! Board profiles: declarative data, one `static` per board.

use serde::Serialize;

/// FPGA family: decides the synthesis command, place and route tool and packer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Family {
    /// Lattice ECP5: `synth_ecp5`, nextpnr-ecp5, ecppack (the yowasp PyPI builds).
    Ecp5,
    /// Lattice iCE40: `synth_ice40`, nextpnr-ice40, icepack (Debian's packages).
    Ice40,
}

/// Capacity of a device in the units nextpnr reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub luts: usize,
    pub ffs: usize,
    pub brams: usize,
    pub dsps: usize,
}

/// One board: everything a build needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Board {
    /// Name on the command line (`--board`).
    pub name: &'static str,
    pub family: Family,
    /// Device as the vendor names it.
    pub device: &'static str,
    /// Device and package arguments of nextpnr.
    pub nextpnr_device: &'static [&'static str],
    /// The board's oscillator.
    pub osc_hz: u32,
    /// The core clock of a build without `--clock-mhz`: the oscillator itself (no PLL).
    pub clock_hz: u32,
    /// The PLL primitive the shell instantiates when a build asks for another core clock
    /// (`--clock-mhz`, dividers from [`crate::pll`]); None: the board's builds cannot.
    pub pll_primitive: Option<&'static str>,
    /// Default machine size (a `pbit_hdl::SUPPORTED_N` size).
    pub default_n: usize,
    /// Default UART rate: must divide `clock_hz` within 1.5%.
    pub default_baud: u32,
    /// The USB serial bridge and the port it usually shows up as on Linux.
    pub uart: &'static str,
    pub serial_port: &'static str,
    /// Top module of the shell, and the pin file's name in `constraints/`.
    pub shell_top: &'static str,
    pub constraints_file: &'static str,
    /// The pin file's text (compiled in from `constraints/`).
    pub constraints: &'static str,
    /// `openFPGALoader -b` name.
    pub loader_board: &'static str,
    pub capacity: Capacity,
    /// The core has the batch engine (`pbit_hdl::batch`): the ULX3S has room for it, the
    /// iCEBreaker's UP5K does not.
    pub batch: bool,
}

/// ULX3S: ECP5 LFE5U-85F, 25 MHz oscillator (the core clock; an `EHXPLLL` with `--clock-mhz`), FT231X,
/// 8 LEDs. The large machine: 256 dense p-bits with the batch engine (27% of the LUTs, 156 of
/// 208 DP16KD, 20 DSPs; its routed Fmax, above the 25 MHz clock, is in docs/boards.md).
pub static ULX3S: Board = Board {
    name: "ulx3s",
    family: Family::Ecp5,
    device: "LFE5U-85F-6BG381C",
    nextpnr_device: &["--85k", "--package", "CABGA381", "--speed", "6"],
    osc_hz: 25_000_000,
    // N = 256 routes above 25 MHz (docs/boards.md), so the oscillator clocks the core directly
    // (1 Mbaud = 25 clocks per bit, exact)
    clock_hz: 25_000_000,
    pll_primitive: Some("EHXPLLL"),
    default_n: 256,
    default_baud: 1_000_000,
    uart: "FT231X",
    serial_port: "/dev/ttyUSB0",
    shell_top: "pbit_ulx3s",
    constraints_file: "ulx3s.lpf",
    constraints: include_str!("../../constraints/ulx3s.lpf"),
    loader_board: "ulx3s",
    capacity: Capacity {
        luts: 83_640,
        ffs: 83_640,
        brams: 208,
        dsps: 156,
    },
    batch: true,
};

/// iCEBreaker: iCE40 UP5K SG48, 12 MHz (the core clock; an `SB_PLL40_PAD` with `--clock-mhz`),
/// FT2232H channel B, 2 user LEDs. The entry board.
pub static ICEBREAKER: Board = Board {
    name: "icebreaker",
    family: Family::Ice40,
    device: "iCE40UP5K-SG48",
    nextpnr_device: &["--up5k", "--package", "sg48"],
    osc_hz: 12_000_000,
    clock_hz: 12_000_000,
    pll_primitive: Some("SB_PLL40_PAD"),
    default_n: 32,
    default_baud: 1_000_000,
    uart: "FT2232H channel B",
    serial_port: "/dev/ttyUSB1",
    shell_top: "pbit_icebreaker",
    constraints_file: "icebreaker.pcf",
    constraints: include_str!("../../constraints/icebreaker.pcf"),
    loader_board: "ice40_generic",
    capacity: Capacity {
        luts: 5_280,
        ffs: 5_280,
        brams: 30,
        dsps: 8,
    },
    batch: false,
};

/// Every board.
pub static BOARDS: &[&Board] = &[&ULX3S, &ICEBREAKER];

/// The board called `name`.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().copied().find(|b| b.name == name)
}

impl Board {
    /// Names of all boards (for error messages).
    pub fn names() -> Vec<&'static str> {
        BOARDS.iter().map(|b| b.name).collect()
    }
    pub fn clock_mhz(&self) -> f64 {
        self.clock_hz as f64 / 1e6
    }
}
