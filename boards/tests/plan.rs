//! The build plan's commands: nextpnr's router is passed only when one other than its default
//! is asked for. Needs the board tools (as the build tests do).

use pbit_boards::{board, BuildOptions, BuildPlan, Router};

#[test]
fn the_router_reaches_nextpnr() {
    for name in ["ulx3s", "icebreaker"] {
        let b = board(name).unwrap();
        let mut options = BuildOptions::defaults(b, "unused");
        let default = BuildPlan::new(b, options.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!default.script().contains("--router"), "{name}");
        options.router = Router::Router2;
        let plan = BuildPlan::new(b, options).unwrap_or_else(|e| panic!("{e}"));
        let nextpnr = plan
            .script()
            .lines()
            .find(|l| l.contains("nextpnr") && l.contains("--json"))
            .unwrap_or_else(|| panic!("{name}: no nextpnr line"))
            .to_string();
        assert!(nextpnr.contains("--router router2"), "{name}: {nextpnr}");
    }
}
