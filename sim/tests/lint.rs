//! The generated Verilog passes `verilator --lint-only -Wall` with only rust-hdl's waivers.
//! Needs Verilator (`apt-get install verilator`).

#[test]
fn verilator_lint_is_clean_for_every_size() {
    for &n in pbit_hdl::SUPPORTED_N {
        if let Err(e) = pbit_sim::lint(n) {
            panic!("N = {n}: {e}");
        }
    }
}
