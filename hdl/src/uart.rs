//! UART 8N1: a transmitter, a receiver with majority mid-bit sampling and framing-error
//! detection, and a small byte FIFO. rust-hdl has none.
//!
//! The baud rate is a generation parameter: both blocks take the bit time in clocks
//! ([`uart_divisor`] computes it from the clock and the baud rate and refuses a baud rate the
//! clock cannot make within [`MAX_BAUD_ERROR`]).
//!
//! The line idles high; a frame is a start bit (0), eight data bits LSB first and a stop bit
//! (1). Registers reset to 0, so the blocks keep the line's complement where a register drives
//! or samples it (the transmitter's output is high from the first clock).

use rust_hdl::prelude::*;

/// Largest relative difference between the baud rate made and the one asked for (1.5%).
pub const MAX_BAUD_ERROR: f64 = 0.015;
/// Fewest clocks per bit (the receiver votes on three samples around the middle of a bit).
pub const MIN_DIVISOR: u32 = 8;
/// Most clocks per bit (the bit counter is 16 bits wide).
pub const MAX_DIVISOR: u32 = 65_535;

/// Why a baud rate cannot be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaudError {
    #[error("clock {clock_hz} Hz and baud {baud} must both be positive")]
    Zero { clock_hz: u32, baud: u32 },
    #[error(
        "{baud} baud from a {clock_hz} Hz clock is {divisor} clocks per bit; the UART needs \
         {min}..={max} (use a faster clock or a slower baud rate)"
    )]
    Divisor {
        clock_hz: u32,
        baud: u32,
        divisor: u64,
        min: u32,
        max: u32,
    },
    #[error(
        "{baud} baud from a {clock_hz} Hz clock: the nearest divisor {divisor} makes {actual:.0} \
         baud, {error_pct:.2}% off (at most 1.5% allowed; pick a baud rate that divides the \
         clock, e.g. 1000000 for 25 MHz or 12 MHz)"
    )]
    Inexact {
        clock_hz: u32,
        baud: u32,
        divisor: u32,
        actual: f64,
        error_pct: f64,
    },
}

/// Clocks per bit for `baud` from `clock_hz`: the nearest integer, refused if the baud rate it
/// makes is more than [`MAX_BAUD_ERROR`] off, or outside [`MIN_DIVISOR`]..=[`MAX_DIVISOR`].
pub fn uart_divisor(clock_hz: u32, baud: u32) -> Result<u32, BaudError> {
    if clock_hz == 0 || baud == 0 {
        return Err(BaudError::Zero { clock_hz, baud });
    }
    let divisor = (clock_hz as u64 + baud as u64 / 2) / baud as u64;
    if divisor < MIN_DIVISOR as u64 || divisor > MAX_DIVISOR as u64 {
        return Err(BaudError::Divisor {
            clock_hz,
            baud,
            divisor,
            min: MIN_DIVISOR,
            max: MAX_DIVISOR,
        });
    }
    let actual = clock_hz as f64 / divisor as f64;
    let error = (actual - baud as f64).abs() / baud as f64;
    if error > MAX_BAUD_ERROR {
        return Err(BaudError::Inexact {
            clock_hz,
            baud,
            divisor: divisor as u32,
            actual,
            error_pct: 100.0 * error,
        });
    }
    Ok(divisor as u32)
}

/// UART transmitter: `start` (one clock, while `busy` is low) sends `data`. `busy` rises the
/// clock after `start` and falls after the stop bit.
#[derive(LogicBlock)]
pub struct UartTx {
    pub clock: Signal<In, Clock>,
    pub data: Signal<In, Bits<8>>,
    pub start: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub tx: Signal<Out, Bit>,
    // start bit, data LSB first, stop bit; shifted right, bit 0 on the line
    shift: DFF<Bits<10>>,
    bits_left: DFF<Bits<4>>,
    count: DFF<Bits<16>>,
    // the line's complement (resets to idle high)
    line_n: DFF<Bit>,
    div_last: Constant<Bits<16>>,
}

impl UartTx {
    /// A transmitter sending one bit every `divisor` clocks ([`uart_divisor`]).
    pub fn new(divisor: u32) -> Self {
        assert!((MIN_DIVISOR..=MAX_DIVISOR).contains(&divisor));
        Self {
            clock: Default::default(),
            data: Default::default(),
            start: Default::default(),
            busy: Default::default(),
            tx: Default::default(),
            shift: Default::default(),
            bits_left: Default::default(),
            count: Default::default(),
            line_n: Default::default(),
            div_last: Constant::new(((divisor - 1) as u64).to_bits()),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, shift, bits_left, count, line_n);
        self.busy.next = self.bits_left.q.val() != 0;
        self.tx.next = !self.line_n.q.val();
        self.line_n.d.next = false;
        if self.bits_left.q.val() != 0 {
            self.line_n.d.next = !self.shift.q.val().get_bit(0);
            if self.count.q.val() == 0 {
                self.count.d.next = self.div_last.val();
                self.shift.d.next = self.shift.q.val() >> 1;
                self.bits_left.d.next = self.bits_left.q.val() - 1;
                self.line_n.d.next = !self.shift.q.val().get_bit(1);
                if self.bits_left.q.val() == 1 {
                    self.line_n.d.next = false;
                }
            } else {
                self.count.d.next = self.count.q.val() - 1;
            }
        } else if self.start.val() {
            // {stop = 1, data, start = 0}; the start bit goes on the line at this edge
            self.shift.d.next = (bit_cast::<10, 8>(self.data.val()) << 1) | 0x200;
            self.bits_left.d.next = 10.into();
            self.count.d.next = self.div_last.val();
            self.line_n.d.next = true;
        }
    }
}

/// UART receiver: `valid` pulses for one clock with `data` after a good stop bit;
/// `frame_error` pulses instead when the stop bit is 0. Each bit is the majority of three
/// samples at the middle of its bit time; a start bit that is not low at its middle is a
/// glitch and ignored. The receiver looks for the next start bit from the middle of the stop
/// bit on.
#[derive(LogicBlock)]
pub struct UartRx {
    pub clock: Signal<In, Clock>,
    pub rx: Signal<In, Bit>,
    pub data: Signal<Out, Bits<8>>,
    pub valid: Signal<Out, Bit>,
    pub frame_error: Signal<Out, Bit>,
    // two-flop synchroniser of the line's complement
    sync1_n: DFF<Bit>,
    sync2_n: DFF<Bit>,
    active: DFF<Bit>,
    count: DFF<Bits<16>>,
    bit_index: DFF<Bits<4>>,
    votes: DFF<Bits<2>>,
    shift: DFF<Bits<8>>,
    out: DFF<Bits<8>>,
    valid_r: DFF<Bit>,
    error_r: DFF<Bit>,
    line: Signal<Local, Bit>,
    decided: Signal<Local, Bit>,
    div_last: Constant<Bits<16>>,
    mid_before: Constant<Bits<16>>,
    mid: Constant<Bits<16>>,
    mid_after: Constant<Bits<16>>,
}

impl UartRx {
    /// A receiver of one bit every `divisor` clocks ([`uart_divisor`]).
    pub fn new(divisor: u32) -> Self {
        assert!((MIN_DIVISOR..=MAX_DIVISOR).contains(&divisor));
        let mid = (divisor / 2) as u64;
        Self {
            clock: Default::default(),
            rx: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            frame_error: Default::default(),
            sync1_n: Default::default(),
            sync2_n: Default::default(),
            active: Default::default(),
            count: Default::default(),
            bit_index: Default::default(),
            votes: Default::default(),
            shift: Default::default(),
            out: Default::default(),
            valid_r: Default::default(),
            error_r: Default::default(),
            line: Default::default(),
            decided: Default::default(),
            div_last: Constant::new(((divisor - 1) as u64).to_bits()),
            mid_before: Constant::new((mid - 1).to_bits()),
            mid: Constant::new(mid.to_bits()),
            mid_after: Constant::new((mid + 1).to_bits()),
        }
    }
}

impl Logic for UartRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, sync1_n, sync2_n, active, count, bit_index, votes, shift, out, valid_r,
            error_r
        );
        self.sync1_n.d.next = !self.rx.val();
        self.sync2_n.d.next = self.sync1_n.q.val();
        self.line.next = !self.sync2_n.q.val();
        self.data.next = self.out.q.val();
        self.valid.next = self.valid_r.q.val();
        self.frame_error.next = self.error_r.q.val();
        self.valid_r.d.next = false;
        self.error_r.d.next = false;
        // majority of the votes so far and this clock's sample (decided at mid_after)
        self.decided.next =
            (self.votes.q.val() == 2) | ((self.votes.q.val() == 1) & self.line.val());
        if self.active.q.val() {
            if self.count.q.val() == self.div_last.val() {
                self.count.d.next = 0.into();
                self.bit_index.d.next = self.bit_index.q.val() + 1;
                self.votes.d.next = 0.into();
            } else {
                self.count.d.next = self.count.q.val() + 1;
            }
            if ((self.count.q.val() == self.mid_before.val())
                | (self.count.q.val() == self.mid.val()))
                & self.line.val()
            {
                self.votes.d.next = self.votes.q.val() + 1;
            }
            if self.count.q.val() == self.mid_after.val() {
                if self.bit_index.q.val() == 0 {
                    // a start bit that is high at its middle was a glitch
                    if self.decided.val() {
                        self.active.d.next = false;
                    }
                } else if self.bit_index.q.val() == 9 {
                    self.active.d.next = false;
                    if self.decided.val() {
                        self.valid_r.d.next = true;
                        self.out.d.next = self.shift.q.val();
                    } else {
                        self.error_r.d.next = true;
                    }
                } else {
                    self.shift.d.next = self.shift.q.val() >> 1;
                    if self.decided.val() {
                        self.shift.d.next = (self.shift.q.val() >> 1) | 0x80;
                    }
                }
            }
        } else if !self.line.val() {
            // the first low clock of a start bit
            self.active.d.next = true;
            self.count.d.next = 1.into();
            self.bit_index.d.next = 0.into();
            self.votes.d.next = 0.into();
        }
    }
}

/// A first-word-fall-through FIFO of 2^D bytes in registers: `data` is the oldest byte while
/// `empty` is low; `read` (one clock) removes it. A write to a full FIFO is dropped and counted
/// in `overflow` (sticky until reset).
#[derive(LogicBlock)]
pub struct ByteFifo<const D: usize, const D1: usize> {
    pub clock: Signal<In, Clock>,
    pub write: Signal<In, Bit>,
    pub write_data: Signal<In, Bits<8>>,
    pub read: Signal<In, Bit>,
    pub data: Signal<Out, Bits<8>>,
    pub empty: Signal<Out, Bit>,
    pub overflow: Signal<Out, Bit>,
    slots: Vec<DFF<Bits<8>>>,
    head: DFF<Bits<D>>,
    tail: DFF<Bits<D>>,
    fill: DFF<Bits<D1>>,
    lost: DFF<Bit>,
    full: Signal<Local, Bit>,
    do_read: Signal<Local, Bit>,
    do_write: Signal<Local, Bit>,
    depth: Constant<Bits<D1>>,
}

impl<const D: usize, const D1: usize> Default for ByteFifo<D, D1> {
    fn default() -> Self {
        assert_eq!(D1, D + 1);
        Self {
            clock: Default::default(),
            write: Default::default(),
            write_data: Default::default(),
            read: Default::default(),
            data: Default::default(),
            empty: Default::default(),
            overflow: Default::default(),
            slots: (0..1usize << D).map(|_| DFF::default()).collect(),
            head: Default::default(),
            tail: Default::default(),
            fill: Default::default(),
            lost: Default::default(),
            full: Default::default(),
            do_read: Default::default(),
            do_write: Default::default(),
            depth: Constant::new(((1u64) << D).to_bits()),
        }
    }
}

impl<const D: usize, const D1: usize> Logic for ByteFifo<D, D1> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, head, tail, fill, lost);
        for k in 0..(1 << D) {
            self.slots[k].clock.next = self.clock.val();
            self.slots[k].d.next = self.slots[k].q.val();
        }
        self.empty.next = self.fill.q.val() == 0;
        self.full.next = self.fill.q.val() == self.depth.val();
        self.overflow.next = self.lost.q.val();
        self.do_read.next = self.read.val() & (self.fill.q.val() != 0);
        self.do_write.next = self.write.val() & !self.full.val();
        if self.write.val() & self.full.val() {
            self.lost.d.next = true;
        }
        self.data.next = self.slots[0].q.val();
        for k in 0..(1 << D) {
            if self.head.q.val().index() == k {
                self.data.next = self.slots[k].q.val();
            }
            if self.do_write.val() & (self.tail.q.val().index() == k) {
                self.slots[k].d.next = self.write_data.val();
            }
        }
        if self.do_write.val() {
            self.tail.d.next = self.tail.q.val() + 1;
        }
        if self.do_read.val() {
            self.head.d.next = self.head.q.val() + 1;
        }
        if self.do_write.val() & !self.do_read.val() {
            self.fill.d.next = self.fill.q.val() + 1;
        }
        if self.do_read.val() & !self.do_write.val() {
            self.fill.d.next = self.fill.q.val() - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_are_exact_or_refused() {
        assert_eq!(uart_divisor(25_000_000, 1_000_000), Ok(25));
        assert_eq!(uart_divisor(12_000_000, 1_000_000), Ok(12));
        assert_eq!(uart_divisor(12_000_000, 115_200), Ok(104)); // 0.16% off
        assert!(matches!(
            uart_divisor(25_000_000, 3_000_000),
            Err(BaudError::Inexact { .. })
        ));
        assert!(matches!(
            uart_divisor(12_000_000, 3_000_000),
            Err(BaudError::Divisor { .. })
        ));
        assert!(matches!(uart_divisor(0, 9600), Err(BaudError::Zero { .. })));
        assert!(matches!(
            uart_divisor(100_000_000, 300),
            Err(BaudError::Divisor { .. })
        ));
        let e = uart_divisor(25_000_000, 3_000_000).unwrap_err().to_string();
        assert!(e.contains("4.17% off"), "{e}");
    }

    /// Loopback: the transmitter's line drives the receiver; every byte arrives, in order, and
    /// the transmitter's bit time is exactly the divisor.
    #[derive(LogicBlock)]
    struct Loop {
        clock: Signal<In, Clock>,
        data: Signal<In, Bits<8>>,
        start: Signal<In, Bit>,
        busy: Signal<Out, Bit>,
        line: Signal<Out, Bit>,
        got: Signal<Out, Bits<8>>,
        got_valid: Signal<Out, Bit>,
        got_error: Signal<Out, Bit>,
        tx: UartTx,
        rx: UartRx,
    }

    impl Logic for Loop {
        #[hdl_gen]
        fn update(&mut self) {
            self.tx.clock.next = self.clock.val();
            self.rx.clock.next = self.clock.val();
            self.tx.data.next = self.data.val();
            self.tx.start.next = self.start.val();
            self.busy.next = self.tx.busy.val();
            self.line.next = self.tx.tx.val();
            self.rx.rx.next = self.tx.tx.val();
            self.got.next = self.rx.data.val();
            self.got_valid.next = self.rx.valid.val();
            self.got_error.next = self.rx.frame_error.val();
        }
    }

    #[test]
    fn uart_loopback_sends_and_receives_bytes() {
        const DIV: u32 = 9;
        let mut uut = Loop {
            clock: Default::default(),
            data: Default::default(),
            start: Default::default(),
            busy: Default::default(),
            line: Default::default(),
            got: Default::default(),
            got_valid: Default::default(),
            got_error: Default::default(),
            tx: UartTx::new(DIV),
            rx: UartRx::new(DIV),
        };
        uut.connect_all();
        let bytes = [0x55u8, 0x00, 0xFF, 0xA5, 0x01, 0x80];
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Loop>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Loop>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            sim_assert!(sim, x.line.val(), x);
            let mut received = Vec::new();
            for &b in &bytes {
                x.data.next = (b as u64).to_bits();
                x.start.next = true;
                wait_clock_cycle!(sim, clock, x);
                x.start.next = false;
                // the line: start bit, 8 data bits, stop bit, each DIV clocks
                let mut line = Vec::new();
                while x.busy.val() {
                    line.push(x.line.val());
                    if x.got_valid.val() {
                        received.push(x.got.val().to_u8());
                    }
                    sim_assert!(sim, !x.got_error.val(), x);
                    wait_clock_cycle!(sim, clock, x);
                }
                sim_assert_eq!(sim, line.len(), 10 * DIV as usize, x);
                for k in 0..10 {
                    let want = match k {
                        0 => false,
                        9 => true,
                        _ => b >> (k - 1) & 1 == 1,
                    };
                    for c in 0..DIV as usize {
                        sim_assert_eq!(sim, line[k * DIV as usize + c], want, x);
                    }
                }
            }
            for _ in 0..2 * DIV {
                if x.got_valid.val() {
                    received.push(x.got.val().to_u8());
                }
                wait_clock_cycle!(sim, clock, x);
            }
            sim_assert_eq!(sim, received, bytes.to_vec(), x);
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }

    #[derive(LogicBlock)]
    struct RxOnly {
        clock: Signal<In, Clock>,
        line: Signal<In, Bit>,
        got: Signal<Out, Bits<8>>,
        got_valid: Signal<Out, Bit>,
        got_error: Signal<Out, Bit>,
        rx: UartRx,
    }

    impl Logic for RxOnly {
        #[hdl_gen]
        fn update(&mut self) {
            self.rx.clock.next = self.clock.val();
            self.rx.rx.next = self.line.val();
            self.got.next = self.rx.data.val();
            self.got_valid.next = self.rx.valid.val();
            self.got_error.next = self.rx.frame_error.val();
        }
    }

    /// A bad stop bit is a framing error; a one-clock glitch inside a bit is outvoted; a short
    /// glitch on the idle line is no start bit; the receiver recovers for the next byte.
    #[test]
    fn uart_receiver_flags_bad_stop_bits_and_outvotes_glitches() {
        const DIV: usize = 10;
        let mut uut = RxOnly {
            clock: Default::default(),
            line: Default::default(),
            got: Default::default(),
            got_valid: Default::default(),
            got_error: Default::default(),
            rx: UartRx::new(DIV as u32),
        };
        uut.connect_all();
        // per clock line levels
        let frame = |b: u8, stop: bool| -> Vec<bool> {
            let mut v = Vec::new();
            for k in 0..10 {
                let level = match k {
                    0 => false,
                    9 => stop,
                    _ => b >> (k - 1) & 1 == 1,
                };
                v.extend(std::iter::repeat_n(level, DIV));
            }
            v
        };
        let mut wave = vec![true; 20];
        wave.extend(frame(0x3C, false)); // framing error
        wave.extend(vec![true; 3 * DIV]);
        let mut glitched = frame(0x96, true);
        glitched[3 * DIV + DIV / 2] = !glitched[3 * DIV + DIV / 2];
        wave.extend(glitched);
        wave.extend(vec![true; 5]);
        wave.push(false); // a one-clock glitch on the idle line
        wave.extend(vec![true; 2 * DIV]);
        wave.extend(frame(0x42, true));
        wave.extend(vec![true; 3 * DIV]);
        sim_run_rx(uut, wave);
    }

    fn sim_run_rx(uut: RxOnly, wave: Vec<bool>) {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<RxOnly>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<RxOnly>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            let mut events = Vec::new();
            for &level in &wave {
                x.line.next = level;
                wait_clock_cycle!(sim, clock, x);
                if x.got_valid.val() {
                    events.push(Ok(x.got.val().to_u8()));
                }
                if x.got_error.val() {
                    events.push(Err(()));
                }
            }
            sim_assert_eq!(sim, events, vec![Err(()), Ok(0x96), Ok(0x42)], x);
            sim.done(x)
        });
        let mut uut = Box::new(uut);
        uut.connect_all();
        sim.run(uut, 100_000).unwrap();
    }

    #[test]
    fn byte_fifo_keeps_order_and_drops_when_full() {
        let mut uut = ByteFifo::<2, 3>::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<ByteFifo<2, 3>>| {
            x.clock.next = !x.clock.val()
        });
        sim.add_testbench(move |mut sim: Sim<ByteFifo<2, 3>>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            sim_assert!(sim, x.empty.val(), x);
            for b in 1..=5u8 {
                x.write.next = true;
                x.write_data.next = (b as u64).to_bits();
                wait_clock_cycle!(sim, clock, x);
            }
            x.write.next = false;
            sim_assert!(sim, x.overflow.val(), x);
            let mut got = Vec::new();
            while !x.empty.val() {
                got.push(x.data.val().to_u8());
                x.read.next = true;
                wait_clock_cycle!(sim, clock, x);
                x.read.next = false;
            }
            sim_assert_eq!(sim, got, vec![1, 2, 3, 4], x);
            // read and write in the same clock
            x.write.next = true;
            x.write_data.next = 9.into();
            wait_clock_cycle!(sim, clock, x);
            x.read.next = true;
            x.write_data.next = 10.into();
            wait_clock_cycle!(sim, clock, x);
            x.write.next = false;
            sim_assert_eq!(sim, x.data.val().to_u8(), 10, x);
            sim_assert!(sim, !x.empty.val(), x);
            wait_clock_cycle!(sim, clock, x);
            x.read.next = false;
            sim_assert!(sim, x.empty.val(), x);
            sim.done(x)
        });
        sim.run(Box::new(uut), 10_000).unwrap();
    }
}
