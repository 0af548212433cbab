//! Writes the Verilog of a machine: `cargo run -p pbit-hdl --example emit -- N FILE`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let out = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("pbit_{n}.v"));
    match pbit_hdl::emit_verilog(n, &pbit_hdl::machine_format(n)) {
        Ok(v) => {
            if let Err(e) = std::fs::write(&out, v) {
                eprintln!("cannot write {out}: {e}");
                std::process::exit(1);
            }
            println!("{out}");
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
