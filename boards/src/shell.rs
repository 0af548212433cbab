//! The thin board shells: Verilog around the core top (`top`, from
//! `pbit_hdl::emit_core_top`), wiring the board's clock, serial pins and LEDs to it.
//!
//! The core inside is byte for byte the Verilog that `pbit sim serve` simulates: a shell adds
//! no logic but pin renaming, LED inversion and constant outputs.

use crate::board::{Board, Family};

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

/// The shell's Verilog for `board` (top module `board.shell_top`).
pub fn shell_verilog(board: &Board) -> &'static str {
    match board.family {
        Family::Ecp5 => ULX3S_SHELL,
        Family::Ice40 => ICEBREAKER_SHELL,
    }
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
