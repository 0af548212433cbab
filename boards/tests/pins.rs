//! Every port of each board's shell has a pin in its constraint file and every pin a port;
//! the shell connects every port of the core top.

use pbit_boards::constraints::constrained_pins;
use pbit_boards::shell::{core_ports, module_pins, shell_connections, shell_verilog};
use pbit_boards::{core_clock, CoreClock, BOARDS};
use std::collections::BTreeSet;

/// Each board's shell on its oscillator and on its PLL (at a frequency 1 Mbaud divides).
fn shells() -> Vec<(&'static pbit_boards::Board, CoreClock)> {
    let mut out = Vec::new();
    for &board in BOARDS {
        out.push((board, CoreClock::oscillator(board)));
        if board.pll_primitive.is_some() {
            out.push((board, core_clock(board, Some(48.0)).unwrap()));
        }
    }
    out
}

#[test]
fn every_shell_port_has_a_pin_and_every_pin_a_port() {
    for (board, clock) in shells() {
        let shell = &shell_verilog(board, &clock);
        let ports: BTreeSet<String> = module_pins(shell, board.shell_top)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert!(!ports.is_empty(), "{}: no ports parsed", board.name);
        let pins: Vec<String> = constrained_pins(board);
        let pin_set: BTreeSet<String> = pins.iter().cloned().collect();
        assert_eq!(
            pins.len(),
            pin_set.len(),
            "{}: a pin assigned twice",
            board.name
        );
        let unpinned: Vec<_> = ports.difference(&pin_set).collect();
        let unported: Vec<_> = pin_set.difference(&ports).collect();
        assert!(
            unpinned.is_empty() && unported.is_empty(),
            "{}: ports without a pin {unpinned:?}, pins without a port {unported:?}",
            board.name
        );
    }
}

#[test]
fn the_shell_connects_every_core_top_port() {
    for (board, clock) in shells() {
        let core = pbit_hdl::emit_core_top(32, clock.hz, board.default_baud, board.batch).unwrap();
        let ports: BTreeSet<String> = core_ports(&core).into_iter().collect();
        assert!(
            ports.contains("uart_rx") && ports.contains("clock"),
            "{ports:?}"
        );
        let connected: BTreeSet<String> = shell_connections(&shell_verilog(board, &clock))
            .into_iter()
            .collect();
        assert_eq!(ports, connected, "{}", board.name);
        let shell = shell_verilog(board, &clock);
        match (&clock.pll, board.pll_primitive) {
            // the oscillator shell: no PLL at all
            (None, Some(primitive)) => {
                assert!(!shell.contains(&format!("{primitive} #(")), "{shell}")
            }
            // the PLL shell: one PLL, driving the core's clock
            (Some(p), _) => {
                let instance = format!("{} #(", p.primitive());
                assert_eq!(shell.matches(&instance).count(), 1, "{shell}");
                assert!(shell.contains(".clock(clock)"), "{shell}");
            }
            (None, None) => {}
        }
    }
}

#[test]
fn the_port_parser_reads_buses_and_directions() {
    let v = "module m (\n    input  wire       a,\n    output wire [3:0] b,\n    output wire c\n);\nendmodule\n";
    let pins = module_pins(v, "m");
    let names: Vec<&str> = pins.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["a", "b[0]", "b[1]", "b[2]", "b[3]", "c"]);
}
