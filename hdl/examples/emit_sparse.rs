//! Writes the Verilog of a sparse machine for a periodic L×L×L lattice (or a ring) to a file:
//! `cargo run --release -p pbit-hdl --example emit_sparse -- lattice3 8 out.v [LANES] [readback] [stats]`
//! (ring: `ring 8`; an L×L torus `torus L` or king's graph `king L`; LANES a number of update
//! lanes, or `none`/absent: one cell per p-bit; `stats`: with the on-chip statistics).
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
    } else if kind == "torus" || kind == "king" {
        // an L×L torus (degree 4, 2 colours; L even) or its king's graph (degree 8, 4 colours)
        let id = |x: u32, y: u32| (x % l) + l * (y % l);
        let mut p = Vec::new();
        for x in 0..l {
            for y in 0..l {
                p.push((id(x, y), id(x + 1, y)));
                p.push((id(x, y), id(x, y + 1)));
                if kind == "king" {
                    p.push((id(x, y), id(x + 1, y + 1)));
                    p.push((id(x + 1, y), id(x, y + 1)));
                }
            }
        }
        let col = (0..l * l)
            .map(|i| {
                let (x, y) = (i % l, i / l);
                if kind == "king" {
                    x % 2 + 2 * (y % 2)
                } else {
                    (x + y) % 2
                }
            })
            .collect();
        (l * l, p, col)
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
            readback: args.get(5).is_some_and(|a| a != "stats"),
            stats: args
                .iter()
                .skip(4)
                .any(|a| a == "stats")
                .then_some(pbit_hdl::sparse_stats::DEFAULT_STATS_BITS),
            lanes: args
                .get(4)
                .filter(|a| a.as_str() != "none")
                .map(|a| a.parse().expect("LANES: a number or none")),
            coupling_banks: false,
        },
    )
    .unwrap();
    std::fs::write(out, v).unwrap();
    eprintln!("{info:?}");
}
