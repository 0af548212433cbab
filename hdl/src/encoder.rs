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
