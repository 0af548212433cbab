//! Writes the Verilog of a sparse machine for a periodic L×L×L lattice (or a ring) to a file:
//! `cargo run --release -p pbit-hdl --example emit_sparse -- lattice3 8 out.v [LANES] [readback]`
//! (ring: `ring 8`; LANES a number of update lanes, or `none`/absent: one cell per p-bit).
use pbit_hdl::sparse::{emit_sparse_verilog, SparseOptions};
use pbit_spec::sparse::SparseGraph;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (kind, l, out) = (&args[1], args[2].parse::<u32>().unwrap(), &args[3]);
    let (n, pairs, colours): (u32, Vec<(u32, u32)>, Vec<u32>) = if kind == "ring" {
        (
            l,
            (0..l).map(|i| (i, (i + 1) % l)).collect(),
            (0..l).map(|i| i % 2).collect(),
        )
    } else {
        let id = |x: u32, y: u32, z: u32| (x % l) + l * ((y % l) + l * (z % l));
        let mut p = Vec::new();
        let mut col = vec![0; (l * l * l) as usize];
        for x in 0..l {
            for y in 0..l {
                for z in 0..l {
                    p.push((id(x, y, z), id(x + 1, y, z)));
                    p.push((id(x, y, z), id(x, y + 1, z)));
                    p.push((id(x, y, z), id(x, y, z + 1)));
                    col[id(x, y, z) as usize] = (x + y + z) % 2;
                }
            }
        }
        (l * l * l, p, col)
    };
    let g = SparseGraph::new(n as usize, SparseGraph::canonical_edges(pairs), colours).unwrap();
    let d = g.max_degree();
    let (v, info) = emit_sparse_verilog(
        &g,
        &SparseOptions {
            max_degree: d,
            readback: args.len() > 5,
            lanes: args
                .get(4)
                .filter(|a| a.as_str() != "none")
                .map(|a| a.parse().expect("LANES: a number or none")),
        },
    )
    .unwrap();
    std::fs::write(out, v).unwrap();
    eprintln!("{info:?}");
}
