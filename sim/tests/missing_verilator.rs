//! Without Verilator on the PATH, building the machine is an error that names the install
//! command, never a panic. (Its own test binary: it changes PATH for the whole process.)

#[test]
fn missing_verilator_is_an_error_naming_the_install_command() {
    let empty = std::env::temp_dir().join(format!("pbit-empty-path-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    std::env::set_var("PATH", &empty);
    std::env::set_var("PBIT_CACHE_DIR", empty.join("cache"));
    let err = match pbit_sim::VerilatedMachine::build(64) {
        Ok(_) => panic!("built a Verilated machine without verilator on the PATH"),
        Err(e) => e,
    };
    assert!(
        matches!(err, pbit_sim::SimError::ToolMissing { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("apt-get install verilator"),
        "{err}"
    );
    let err = pbit_sim::lint(64).unwrap_err();
    assert!(
        err.to_string().contains("apt-get install verilator"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&empty);
}
