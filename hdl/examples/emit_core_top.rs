//! Writes the core top's Verilog: `emit_core_top N CLOCK_HZ BAUD OUT.v [--batch]` (with the
//! batch engine).

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let batch = args.iter().any(|a| a == "--batch");
    args.retain(|a| a != "--batch");
    let parsed = match args.as_slice() {
        [n, clock, baud, out] => match (n.parse(), clock.parse(), baud.parse()) {
            (Ok(n), Ok(c), Ok(b)) => Some((n, c, b, out.clone())),
            _ => None,
        },
        _ => None,
    };
    let Some((n, clock_hz, baud, out)) = parsed else {
        eprintln!("usage: emit_core_top N CLOCK_HZ BAUD OUT.v [--batch]");
        std::process::exit(2);
    };
    match pbit_hdl::emit_core_top(n, clock_hz, baud, batch) {
        Ok(v) => {
            if let Err(e) = std::fs::write(&out, v) {
                eprintln!("cannot write {out}: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
