//! The frame encoder: CRC-16 and COBS on the fly, from a message held in a byte RAM into the
//! UART transmitter (framing of [`pbit_spec::frame`]), and the byte-serial CRC-16/CCITT-FALSE
//! the receiver's check uses too (here and in [`crate::link`], inline: a
//! child block fed from the parent's logic and read back by it would form a block-level loop).
//!
//! The message (opcode, seq, payload) lies at `base .. base + len` of a RAM whose read port
//! the encoder drives (one clock of latency). Its frame is COBS(message ‖ CRC) ‖ 0x00. COBS
//! needs the length of each block before its bytes, so the encoder scans ahead: from the
//! block's start it reads bytes until a zero, the end of the message (the two CRC bytes count
//! as message bytes, and the CRC is complete when the scan reaches them) or 254 non-zero
//! bytes; sends the code byte; reads and sends the block's bytes; and goes on after the
//! block. Every message byte enters the CRC exactly once, during the scan. The bytes sent
//! equal [`pbit_spec::frame::Message::encode`] byte for byte (including the trailing 0x01
//! block after a message ending in a zero or in a full 254-byte block).
//!
//! Cost: the scan reads each byte once (2 clocks) and the send reads it again (2 clocks, while
//! the previous byte shifts out), so a frame of b bytes takes about b · (10 bit times) plus
//! 2 clocks per byte of scan between blocks.

use rust_hdl::prelude::*;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum EncState {
    Idle,
    ScanIssue,
    ScanUse,
    EmitCode,
    EmitIssue,
    EmitUse,
    EmitSend,
    After,
    Delim,
}

// What ended a COBS block during the scan (`kind`): 0 a zero, 1 the 254-byte limit, 2 the end.

/// Sends the message at `base .. base + len` of the RAM as one frame. `start` (one clock,
/// while `busy` is low) begins; `done` pulses with the delimiter's hand-off to the transmitter.
#[derive(LogicBlock)]
pub struct FrameEncoder {
    pub clock: Signal<In, Clock>,
    pub start: Signal<In, Bit>,
    pub base: Signal<In, Bits<11>>,
    pub len: Signal<In, Bits<11>>,
    pub busy: Signal<Out, Bit>,
    pub done: Signal<Out, Bit>,
    pub ram_addr: Signal<Out, Bits<11>>,
    pub ram_data: Signal<In, Bits<8>>,
    pub tx_data: Signal<Out, Bits<8>>,
    pub tx_start: Signal<Out, Bit>,
    pub tx_busy: Signal<In, Bit>,
    state: DFF<EncState>,
    base_r: DFF<Bits<11>>,
    len_r: DFF<Bits<11>>,
    block: DFF<Bits<11>>,
    scan: DFF<Bits<11>>,
    emit: DFF<Bits<11>>,
    crc: DFF<Bits<16>>,
    kind: DFF<Bits<2>>,
    code: DFF<Bits<8>>,
    hold: DFF<Bits<8>>,
    c0: Signal<Local, Bits<16>>,
    c1: Signal<Local, Bits<16>>,
    c2: Signal<Local, Bits<16>>,
    c3: Signal<Local, Bits<16>>,
    c4: Signal<Local, Bits<16>>,
    c5: Signal<Local, Bits<16>>,
    c6: Signal<Local, Bits<16>>,
    c7: Signal<Local, Bits<16>>,
    c8: Signal<Local, Bits<16>>,
    poly: Constant<Bits<16>>,
    pos: Signal<Local, Bits<11>>,
    cur_byte: Signal<Local, Bits<8>>,
    run: Signal<Local, Bits<11>>,
    total: Signal<Local, Bits<11>>,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            start: Default::default(),
            base: Default::default(),
            len: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            ram_addr: Default::default(),
            ram_data: Default::default(),
            tx_data: Default::default(),
            tx_start: Default::default(),
            tx_busy: Default::default(),
            state: Default::default(),
            base_r: Default::default(),
            len_r: Default::default(),
            block: Default::default(),
            scan: Default::default(),
            emit: Default::default(),
            crc: Default::default(),
            kind: Default::default(),
            code: Default::default(),
            hold: Default::default(),
            c0: Default::default(),
            c1: Default::default(),
            c2: Default::default(),
            c3: Default::default(),
            c4: Default::default(),
            c5: Default::default(),
            c6: Default::default(),
            c7: Default::default(),
            c8: Default::default(),
            poly: Constant::new(0x1021u64.to_bits()),
            pos: Default::default(),
            cur_byte: Default::default(),
            run: Default::default(),
            total: Default::default(),
        }
    }
}

impl Logic for FrameEncoder {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state, base_r, len_r, block, scan, emit, crc, kind, code, hold);
        self.busy.next = self.state.q.val() != EncState::Idle;
        self.done.next = false;
        self.tx_start.next = false;
        self.tx_data.next = self.hold.q.val();
        self.ram_addr.next = self.base_r.q.val() + self.scan.q.val();
        // the byte at `pos`: from the RAM, or one of the CRC's two bytes after the message
        self.pos.next = self.scan.q.val();
        if self.state.q.val() == EncState::EmitUse {
            self.pos.next = self.emit.q.val();
        }
        self.cur_byte.next = bit_cast::<8, 16>(self.crc.q.val());
        if self.pos.val() == self.len_r.q.val() {
            self.cur_byte.next = bit_cast::<8, 16>(self.crc.q.val() >> 8);
        }
        if self.pos.val() < self.len_r.q.val() {
            self.cur_byte.next = self.ram_data.val();
        }
        // CRC-16/CCITT-FALSE of the byte at `pos` (c8), bit by bit
        self.c0.next = self.crc.q.val() ^ (bit_cast::<16, 8>(self.cur_byte.val()) << 8);
        self.c1.next = self.c0.val() << 1;
        if self.c0.val().get_bit(15) {
            self.c1.next = (self.c0.val() << 1) ^ self.poly.val();
        }
        self.c2.next = self.c1.val() << 1;
        if self.c1.val().get_bit(15) {
            self.c2.next = (self.c1.val() << 1) ^ self.poly.val();
        }
        self.c3.next = self.c2.val() << 1;
        if self.c2.val().get_bit(15) {
            self.c3.next = (self.c2.val() << 1) ^ self.poly.val();
        }
        self.c4.next = self.c3.val() << 1;
        if self.c3.val().get_bit(15) {
            self.c4.next = (self.c3.val() << 1) ^ self.poly.val();
        }
        self.c5.next = self.c4.val() << 1;
        if self.c4.val().get_bit(15) {
            self.c5.next = (self.c4.val() << 1) ^ self.poly.val();
        }
        self.c6.next = self.c5.val() << 1;
        if self.c5.val().get_bit(15) {
            self.c6.next = (self.c5.val() << 1) ^ self.poly.val();
        }
        self.c7.next = self.c6.val() << 1;
        if self.c6.val().get_bit(15) {
            self.c7.next = (self.c6.val() << 1) ^ self.poly.val();
        }
        self.c8.next = self.c7.val() << 1;
        if self.c7.val().get_bit(15) {
            self.c8.next = (self.c7.val() << 1) ^ self.poly.val();
        }
        self.run.next = self.scan.q.val() - self.block.q.val();
        self.total.next = self.len_r.q.val() + 2;
        match self.state.q.val() {
            EncState::Idle => {
                if self.start.val() {
                    self.base_r.d.next = self.base.val();
                    self.len_r.d.next = self.len.val();
                    self.block.d.next = 0.into();
                    self.scan.d.next = 0.into();
                    self.crc.d.next = 0xFFFF.into();
                    self.state.d.next = EncState::ScanIssue;
                }
            }
            EncState::ScanIssue => {
                self.state.d.next = EncState::ScanUse;
            }
            EncState::ScanUse => {
                if self.run.val() == 254 {
                    self.kind.d.next = 1.into();
                    self.code.d.next = 255.into();
                    self.state.d.next = EncState::EmitCode;
                } else if self.scan.q.val() == self.total.val() {
                    self.kind.d.next = 2.into();
                    self.code.d.next = bit_cast::<8, 11>(self.run.val() + 1);
                    self.state.d.next = EncState::EmitCode;
                } else {
                    if self.scan.q.val() < self.len_r.q.val() {
                        self.crc.d.next = self.c8.val();
                    }
                    if self.cur_byte.val() == 0 {
                        self.kind.d.next = 0.into();
                        self.code.d.next = bit_cast::<8, 11>(self.run.val() + 1);
                        self.state.d.next = EncState::EmitCode;
                    } else {
                        self.scan.d.next = self.scan.q.val() + 1;
                        self.state.d.next = EncState::ScanIssue;
                    }
                }
            }
            EncState::EmitCode => {
                self.tx_data.next = self.code.q.val();
                if !self.tx_busy.val() {
                    self.tx_start.next = true;
                    self.emit.d.next = self.block.q.val();
                    self.state.d.next = EncState::EmitIssue;
                }
            }
            EncState::EmitIssue => {
                self.ram_addr.next = self.base_r.q.val() + self.emit.q.val();
                if self.emit.q.val() == self.scan.q.val() {
                    self.state.d.next = EncState::After;
                } else {
                    self.state.d.next = EncState::EmitUse;
                }
            }
            EncState::EmitUse => {
                self.hold.d.next = self.cur_byte.val();
                self.state.d.next = EncState::EmitSend;
            }
            EncState::EmitSend => {
                if !self.tx_busy.val() {
                    self.tx_start.next = true;
                    self.emit.d.next = self.emit.q.val() + 1;
                    self.state.d.next = EncState::EmitIssue;
                }
            }
            EncState::After => {
                if self.kind.q.val() == 0 {
                    self.block.d.next = self.scan.q.val() + 1;
                    self.scan.d.next = self.scan.q.val() + 1;
                    self.state.d.next = EncState::ScanIssue;
                } else if self.kind.q.val() == 1 {
                    self.block.d.next = self.scan.q.val();
                    self.state.d.next = EncState::ScanIssue;
                } else {
                    self.state.d.next = EncState::Delim;
                }
            }
            EncState::Delim => {
                self.tx_data.next = 0.into();
                if !self.tx_busy.val() {
                    self.tx_start.next = true;
                    self.done.next = true;
                    self.state.d.next = EncState::Idle;
                }
            }
            _ => {
                self.state.d.next = EncState::Idle;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbit_spec::frame::Message;
    use std::collections::BTreeMap;

    /// The encoder reading a RAM that holds one message, its transmitter always ready.
    #[derive(LogicBlock)]
    struct Harness {
        clock: Signal<In, Clock>,
        start: Signal<In, Bit>,
        len: Signal<In, Bits<11>>,
        busy: Signal<Out, Bit>,
        sent: Signal<Out, Bits<8>>,
        sent_valid: Signal<Out, Bit>,
        enc: FrameEncoder,
        ram: RAM<Bits<8>, 11>,
    }

    impl Logic for Harness {
        #[hdl_gen]
        fn update(&mut self) {
            self.enc.clock.next = self.clock.val();
            self.ram.read_clock.next = self.clock.val();
            self.ram.write_clock.next = self.clock.val();
            self.ram.write_enable.next = false;
            self.ram.write_address.next = 0.into();
            self.ram.write_data.next = 0.into();
            self.ram.read_address.next = self.enc.ram_addr.val();
            self.enc.ram_data.next = self.ram.read_data.val();
            self.enc.start.next = self.start.val();
            self.enc.base.next = 0.into();
            self.enc.len.next = self.len.val();
            self.enc.tx_busy.next = false;
            self.busy.next = self.enc.busy.val();
            self.sent.next = self.enc.tx_data.val();
            self.sent_valid.next = self.enc.tx_start.val();
        }
    }

    fn encode_in_hdl(msg: &Message) -> Vec<u8> {
        let mut raw = vec![msg.opcode, msg.seq];
        raw.extend_from_slice(&msg.payload);
        let mem: BTreeMap<Bits<11>, Bits<8>> = raw
            .iter()
            .enumerate()
            .map(|(k, &b)| ((k as u64).to_bits(), (b as u64).to_bits()))
            .collect();
        let mut uut = Harness {
            clock: Default::default(),
            start: Default::default(),
            len: Default::default(),
            busy: Default::default(),
            sent: Default::default(),
            sent_valid: Default::default(),
            enc: Default::default(),
            ram: RAM::new(mem),
        };
        uut.connect_all();
        let len = raw.len();
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Harness>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Harness>| {
            let mut x = sim.init()?;
            wait_clock_false!(sim, clock, x);
            x.len.next = (len as u64).to_bits();
            x.start.next = true;
            wait_clock_cycle!(sim, clock, x);
            x.start.next = false;
            let mut clocks = 0;
            while x.busy.val() {
                if x.sent_valid.val() {
                    sink.lock().unwrap().push(x.sent.val().to_u8());
                }
                wait_clock_cycle!(sim, clock, x);
                clocks += 1;
                sim_assert!(sim, clocks < 20_000, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 1_000_000).unwrap();
        let v = out.lock().unwrap().clone();
        v
    }

    /// Byte for byte [`Message::encode`]: short frames, zeros anywhere, and the COBS block
    /// limit (runs of 253, 254 and 255 non-zero bytes, a run ending exactly at the end).
    #[test]
    fn encoder_frames_equal_the_spec_encoding() {
        let nonzero = |n: usize| (0..n).map(|i| (i % 255 + 1) as u8).collect::<Vec<u8>>();
        let mut payloads = vec![
            vec![],
            vec![0],
            vec![0, 0, 0],
            vec![1, 2, 0, 3],
            nonzero(250),
            nonzero(251),
            nonzero(252),
            nonzero(253),
            nonzero(300),
        ];
        let mut tail_zero = nonzero(260);
        tail_zero.push(0);
        payloads.push(tail_zero);
        for (k, payload) in payloads.into_iter().enumerate() {
            // opcode and seq non-zero: runs of 2 + payload
            let msg = Message {
                opcode: 0x83,
                seq: k as u8 + 1,
                payload,
            };
            assert_eq!(encode_in_hdl(&msg), msg.encode(), "case {k}");
        }
    }
}
