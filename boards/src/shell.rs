//! The thin board shells: Verilog around the core top (`top`, from
//! `pbit_hdl::emit_core_top`), wiring the board's clock, serial pins and LEDs to it.
//!
//! The core inside is byte for byte the Verilog that `pbit sim serve` simulates: a shell adds
//! no logic but pin renaming, LED inversion and constant outputs.

use crate::board::{Board, Family};
use crate::pll::{mhz_text, CoreClock, Ecp5Pll, Ice40Pll, Pll};

const ULX3S_SHELL: &str = r#"// pbit board shell: ULX3S (ECP5 LFE5U-85F). Pins in constraints/ulx3s.lpf.
`default_nettype none
module pbit_ulx3s (
    input  wire       clk_25mhz,
    input  wire       ftdi_txd,
    output wire       ftdi_rxd,
    output wire [7:0] led,
    output wire       wifi_gpio0
);
    // no PLL: the profile's N = 256 routes above 25 MHz (docs/boards.md has the measured Fmax),
    // so the core runs on the 25 MHz oscillator itself (1 Mbaud = 25 clocks per bit, exact)
    wire clock = clk_25mhz;
    wire busy, bad_frame, overflow, tx_active;
    top core (
        .clock(clock),
        .uart_rx(ftdi_txd),
        .uart_tx(ftdi_rxd),
        .led_busy(busy),
        .led_bad_frame(bad_frame),
        .led_overflow(overflow),
        .led_tx(tx_active)
    );
    // D0 busy, D1 bad frame, D2 receive overflow, D3 transmitting; D7 lit: configured
    assign led = {1'b1, 3'b000, tx_active, overflow, bad_frame, busy};
    // keep the ESP32 from resetting the board into its boot loader
    assign wifi_gpio0 = 1'b1;
endmodule
"#;

const ICEBREAKER_SHELL: &str = r#"// pbit board shell: iCEBreaker (iCE40 UP5K). Pins in constraints/icebreaker.pcf.
`default_nettype none
module pbit_icebreaker (
    input  wire CLK,
    input  wire RX,
    output wire TX,
    output wire LEDR_N,
    output wire LEDG_N
);
    wire busy, bad_frame, overflow, tx_active;
    top core (
        .clock(CLK),
        .uart_rx(RX),
        .uart_tx(TX),
        .led_busy(busy),
        .led_bad_frame(bad_frame),
        .led_overflow(overflow),
        .led_tx(tx_active)
    );
    // green: busy; red: a bad frame or a receive overflow (LEDs are active low)
    assign LEDG_N = ~busy;
    assign LEDR_N = ~(bad_frame | overflow);
endmodule
"#;

/// The shell's Verilog for `board` (top module `board.shell_top`) with the core on `clock`:
/// the oscillator shell as it stands above, or, when `clock` has a PLL, the same shell with
/// the PLL between the oscillator pin and the core's `clock` (its dividers from
/// [`crate::pll`]; nothing else changes).
pub fn shell_verilog(board: &Board, clock: &CoreClock) -> String {
    let base = match board.family {
        Family::Ecp5 => ULX3S_SHELL,
        Family::Ice40 => ICEBREAKER_SHELL,
    };
    match &clock.pll {
        None => base.to_string(),
        Some(Pll::Ecp5(p)) => {
            let (from, to) = (ULX3S_OSC_CLOCK, ecp5_pll_verilog(p));
            assert!(base.contains(from) && base.contains(ULX3S_LEDS));
            base.replacen(from, &to, 1)
                .replacen(ULX3S_LEDS, ULX3S_LEDS_PLL, 1)
        }
        Some(Pll::Ice40(p)) => {
            let (from, to) = (ICEBREAKER_WIRES, ice40_pll_verilog(p));
            assert!(base.contains(from) && base.contains(".clock(CLK),"));
            base.replacen(from, &format!("{to}{from}"), 1).replacen(
                ".clock(CLK),",
                ".clock(clock),",
                1,
            )
        }
    }
}

// the oscillator shells' lines a PLL replaces
const ULX3S_OSC_CLOCK: &str = "    // no PLL: the profile's N = 256 routes above 25 MHz (docs/boards.md has the measured Fmax),
    // so the core runs on the 25 MHz oscillator itself (1 Mbaud = 25 clocks per bit, exact)
    wire clock = clk_25mhz;
";
const ULX3S_LEDS: &str =
    "    // D0 busy, D1 bad frame, D2 receive overflow, D3 transmitting; D7 lit: configured
    assign led = {1'b1, 3'b000, tx_active, overflow, bad_frame, busy};
";
const ULX3S_LEDS_PLL: &str =
    "    // D0 busy, D1 bad frame, D2 receive overflow, D3 transmitting; D6 PLL locked;
    // D7 lit: configured
    assign led = {1'b1, pll_locked, 2'b00, tx_active, overflow, bad_frame, busy};
";
const ICEBREAKER_WIRES: &str = "    wire busy, bad_frame, overflow, tx_active;\n";

fn ecp5_pll_verilog(p: &Ecp5Pll) -> String {
    let (out, vco) = (mhz_text(p.out_mhz()), mhz_text(p.vco_mhz()));
    let ref_mhz = mhz_text(p.ref_hz as f64 / 1e6);
    // the attributes are the loop-filter settings Project Trellis's ecppll writes for every
    // EHXPLLL (nextpnr-ecp5 packs them into the bitstream); LOCK lights D6. The core has no
    // reset: it is idle until the host's first frame, which comes long after the lock
    // (tens of microseconds)
    format!(
        r#"    // the core clock: the EHXPLLL's CLKOP, {out} MHz from the {ref_mhz} MHz oscillator
    // (pbit_boards::pll: f_out = {ref_mhz} x CLKFB_DIV / CLKI_DIV, VCO = f_out x CLKOP_DIV = {vco} MHz)
    wire clock, pll_locked;
    (* FREQUENCY_PIN_CLKI="{ref_mhz}" *) (* FREQUENCY_PIN_CLKOP="{out}" *)
    (* ICP_CURRENT="12" *) (* LPF_RESISTOR="8" *) (* MFG_ENABLE_FILTEROPAMP="1" *) (* MFG_GMCREF_SEL="2" *)
    EHXPLLL #(
        .PLLRST_ENA("DISABLED"),
        .INTFB_WAKE("DISABLED"),
        .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"),
        .OUTDIVIDER_MUXA("DIVA"),
        .OUTDIVIDER_MUXB("DIVB"),
        .OUTDIVIDER_MUXC("DIVC"),
        .OUTDIVIDER_MUXD("DIVD"),
        .CLKI_DIV({clki}),
        .CLKOP_ENABLE("ENABLED"),
        .CLKOP_DIV({clkop}),
        .CLKOP_CPHASE({cphase}),
        .CLKOP_FPHASE(0),
        .FEEDBK_PATH("CLKOP"),
        .CLKFB_DIV({clkfb})
    ) pll (
        .RST(1'b0),
        .STDBY(1'b0),
        .CLKI(clk_25mhz),
        .CLKOP(clock),
        .CLKFB(clock),
        .CLKINTFB(),
        .PHASESEL0(1'b0),
        .PHASESEL1(1'b0),
        .PHASEDIR(1'b1),
        .PHASESTEP(1'b1),
        .PHASELOADREG(1'b1),
        .PLLWAKESYNC(1'b0),
        .ENCLKOP(1'b0),
        .LOCK(pll_locked)
    );
"#,
        clki = p.clki_div,
        clkop = p.clkop_div,
        cphase = p.clkop_cphase,
        clkfb = p.clkfb_div,
    )
}

fn ice40_pll_verilog(p: &Ice40Pll) -> String {
    let out = mhz_text(p.out_mhz());
    let ref_mhz = mhz_text(p.ref_hz as f64 / 1e6);
    // PACKAGEPIN is the 12 MHz pin itself (pin 35, the UP5K's PLL input pad)
    format!(
        r#"    // the core clock: the SB_PLL40_PAD's global output, {out} MHz from the {ref_mhz} MHz oscillator
    // (pbit_boards::pll: f_out = {ref_mhz} x (DIVF + 1) / ((DIVR + 1) x 2^DIVQ))
    // (LOCK drives nothing, the board has no LED to spare; nextpnr routes it through one LC.
    // Left out, the netlist placed worse: 15.54 MHz against 17.69, docs/boards.md)
    wire clock, pll_locked;
    SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(4'd{divr}),
        .DIVF(7'd{divf}),
        .DIVQ(3'd{divq}),
        .FILTER_RANGE(3'd{filter})
    ) pll (
        .PACKAGEPIN(CLK),
        .PLLOUTGLOBAL(clock),
        .LOCK(pll_locked),
        .RESETB(1'b1),
        .BYPASS(1'b0)
    );
"#,
        divr = p.divr,
        divf = p.divf,
        divq = p.divq,
        filter = p.filter_range,
    )
}

/// Direction of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

/// The pins of module `module` in `verilog` (ANSI-style header, one port per line), each bus
/// bit as `name[i]`, in declaration order.
pub fn module_pins(verilog: &str, module: &str) -> Vec<(String, Dir)> {
    let mut pins = Vec::new();
    let Some(start) = verilog.find(&format!("module {module}")) else {
        return pins;
    };
    let header = &verilog[start..];
    let header = &header[..header.find(");").unwrap_or(header.len())];
    for line in header.lines().skip(1) {
        let t = line.trim().trim_end_matches(',');
        let (dir, rest) = if let Some(r) = t.strip_prefix("input") {
            (Dir::In, r)
        } else if let Some(r) = t.strip_prefix("output") {
            (Dir::Out, r)
        } else {
            continue;
        };
        let rest = rest.trim().trim_start_matches("wire").trim();
        let (range, name) = match rest.strip_prefix('[') {
            Some(r) => {
                let (range, name) = r.split_once(']').unwrap_or((r, ""));
                (Some(range.to_string()), name.trim())
            }
            None => (None, rest),
        };
        match range.and_then(|r| {
            let (hi, lo) = r.split_once(':')?;
            Some((
                hi.trim().parse::<usize>().ok()?,
                lo.trim().parse::<usize>().ok()?,
            ))
        }) {
            Some((hi, lo)) => {
                for i in lo.min(hi)..=lo.max(hi) {
                    pins.push((format!("{name}[{i}]"), dir));
                }
            }
            None => pins.push((name.to_string(), dir)),
        }
    }
    pins
}

/// Ports of the core top `top` in `verilog` (rust-hdl's style: names in the header,
/// directions in `input wire x;` declarations).
pub fn core_ports(verilog: &str) -> Vec<String> {
    let Some(start) = verilog.find("module top(") else {
        return Vec::new();
    };
    let rest = &verilog[start + "module top(".len()..];
    rest[..rest.find(')').unwrap_or(0)]
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The core ports the shell connects (`.port(` in its instance of `top`).
pub fn shell_connections(shell: &str) -> Vec<String> {
    let Some(start) = shell.find("top core (") else {
        return Vec::new();
    };
    let body = &shell[start..];
    let body = &body[..body.find(");").unwrap_or(body.len())];
    body.split('.')
        .skip(1)
        .filter_map(|s| s.split_once('(').map(|(p, _)| p.trim().to_string()))
        .collect()
}
