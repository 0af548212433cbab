//! splitmix64 ([`pbit_spec::rng::splitmix64`]) as a pipeline: one input per clock, the mixed
//! word [`SPLITMIX_LATENCY`] clocks later, with a valid bit and a tag travelling alongside.
//! The batch engine seeds the generators with it on the device ([`pbit_spec::rng::pbit_seed`]).
//!
//! A custom Verilog block: rust-hdl's `Bits` multiply only 16-bit words, and the two 64-bit
//! constant multiplies must be split to meet the ECP5's 25 MHz. Each low-half product
//! x·M mod 2^64 is two stages: first x_lo·M_lo (64 bits) and x_lo·M_hi + x_hi·M_lo (its low 32
//! bits) into registers, then their sum with the second shifted up 32. Stages:
//!
//! 1. a = x + γ
//! 2. partial products of b = a ^ (a >> 30) with M1
//! 3. m1 = b·M1
//! 4. partial products of c = m1 ^ (m1 >> 27) with M2
//! 5. m2 = c·M2
//! 6. out = m2 ^ (m2 >> 31)
//!
//! yosys maps each 32×32 product onto MULT18X18D DSPs on the ECP5. The simulation model
//! (`update`) computes the same function with `u64::wrapping_mul` and delays it as many clocks.

use rust_hdl::prelude::*;

/// Clocks from an input to its output.
pub const SPLITMIX_LATENCY: usize = 6;
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const M1: u64 = 0xBF58_476D_1CE4_E5B9;
const M2: u64 = 0x94D0_49BB_1331_11EB;

/// The pipelined mixer. `in_valid`, `in_data`, `in_tag` are taken at each clock edge; the
/// result of an input taken at edge t is on `out_*` after edge t + [`SPLITMIX_LATENCY`] − 1.
#[derive(LogicBlock, Default)]
pub struct Splitmix {
    pub clock: Signal<In, Clock>,
    pub in_valid: Signal<In, Bit>,
    pub in_data: Signal<In, Bits<64>>,
    pub in_tag: Signal<In, Bits<16>>,
    pub out_valid: Signal<Out, Bit>,
    pub out_data: Signal<Out, Bits<64>>,
    pub out_tag: Signal<Out, Bits<16>>,
    _pipe: [(bool, u64, u64); SPLITMIX_LATENCY],
}

impl Logic for Splitmix {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            for k in (1..SPLITMIX_LATENCY).rev() {
                self._pipe[k] = self._pipe[k - 1];
            }
            self._pipe[0] = (
                self.in_valid.val(),
                pbit_spec::rng::splitmix64(self.in_data.val().to_u64()),
                self.in_tag.val().to_u64(),
            );
            let (v, d, t) = self._pipe[SPLITMIX_LATENCY - 1];
            self.out_valid.next = v;
            self.out_data.next = d.to_bits();
            self.out_tag.next = t.to_bits();
        }
    }

    fn connect(&mut self) {
        self.out_valid.connect();
        self.out_data.connect();
        self.out_tag.connect();
    }

    fn hdl(&self) -> Verilog {
        let lo = |m: u64| m & 0xFFFF_FFFF;
        let hi = |m: u64| m >> 32;
        Verilog::Custom(format!(
            "\
reg [63:0] a, p0, m1, q0, m2;
reg [31:0] p1, q1;
reg [4:0] v;
reg [15:0] t0, t1, t2, t3, t4;
wire [63:0] b = a ^ (a >> 30);
wire [63:0] c = m1 ^ (m1 >> 27);
always @(posedge clock) begin
   a <= in_data + 64'h{gamma:016x};
   p0 <= {{32'd0, b[31:0]}} * 64'h{m1_lo:08x};
   p1 <= b[31:0] * 32'h{m1_hi:08x} + b[63:32] * 32'h{m1_lo:08x};
   m1 <= p0 + {{p1, 32'd0}};
   q0 <= {{32'd0, c[31:0]}} * 64'h{m2_lo:08x};
   q1 <= c[31:0] * 32'h{m2_hi:08x} + c[63:32] * 32'h{m2_lo:08x};
   m2 <= q0 + {{q1, 32'd0}};
   out_data <= m2 ^ (m2 >> 31);
   v <= {{v[3:0], in_valid}};
   out_valid <= v[4];
   t0 <= in_tag;
   t1 <= t0;
   t2 <= t1;
   t3 <= t2;
   t4 <= t3;
   out_tag <= t4;
end
",
            gamma = GAMMA,
            m1_lo = lo(M1),
            m1_hi = hi(M1),
            m2_lo = lo(M2),
            m2_hi = hi(M2),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// One input per clock, each output `SPLITMIX_LATENCY` clocks later with its tag.
    #[test]
    fn pipeline_gives_splitmix64_at_its_latency() {
        let inputs: Vec<u64> = (0..20u64)
            .map(|k| k.wrapping_mul(0x1234_5678_9ABC_DEF1))
            .collect();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let mut uut = Splitmix::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Splitmix>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Splitmix>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            for t in 0..inputs.len() + SPLITMIX_LATENCY + 2 {
                x.in_valid.next = t < inputs.len();
                x.in_data.next = inputs.get(t).copied().unwrap_or(0).to_bits();
                x.in_tag.next = (t as u64).to_bits();
                wait_clock_cycle!(sim, clock, x);
                if x.out_valid.val() {
                    sink.lock().unwrap().push((
                        t,
                        x.out_tag.val().to_u64() as usize,
                        x.out_data.val().to_u64(),
                    ));
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
        let got = got.lock().unwrap().clone();
        let want: Vec<(usize, usize, u64)> = (0..20)
            .map(|k| {
                (
                    k + SPLITMIX_LATENCY - 1,
                    k,
                    pbit_spec::rng::splitmix64(k as u64 * 0x1234_5678_9ABC_DEF1),
                )
            })
            .collect();
        assert_eq!(got, want);
    }
}
