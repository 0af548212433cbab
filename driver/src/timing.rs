//! How long the machine is busy with a job, in clocks: the gateware's timing as a formula the
//! host uses for wait hints.

/// About how long a batch of `chains` chains of n p-bits and `sweeps` sweeps keeps the device
/// busy, in clocks: a wait hint only ([`crate::Bus::pause`]; polling covers any difference). The
/// gateware's engine (docs/hdl.md, "The batch engine") takes 3n + k·n + 3⌈n/32⌉ + 23 clocks
/// per chain, or the correlator's n(n+1)/2 + 2 when it forms sums and that is longer, and
/// the last chain's sums once more.
pub fn batch_clocks(n: usize, sweeps: u64, chains: u32, sums: bool) -> u64 {
    let n = n as u64;
    let chain = 3 * n + sweeps * n + 3 * n.div_ceil(32) + 23;
    let products = if sums { n * (n + 1) / 2 + 2 } else { 0 };
    chains as u64 * chain.max(products) + products
}
