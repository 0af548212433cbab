//! Writes the Verilog of a machine: `cargo run -p pbit-hdl --example emit -- N [DIR]` writes
//! DIR/pbit_nN.v (DIR defaults to the current directory) and prints its path.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let dir = std::path::PathBuf::from(args.get(2).cloned().unwrap_or_else(|| ".".into()));
    match pbit_hdl::write_verilog(n, &dir) {
        Ok(path) => println!("{}", path.display()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
