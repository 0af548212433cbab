//! The command decoder: frames from the UART receiver in, the machine's bus driven, replies
//! and sample frames out through the [`FrameEncoder`] to the UART transmitter. The protocol
//! is [`pbit_spec::protocol`]'s, the framing [`pbit_spec::frame`]'s; docs/protocol.md
//! describes both for host writers.
//!
//! **Receive.** Bytes from the receiver wait in a 16-byte FIFO. Each is COBS-decoded as it
//! arrives (a code byte appends the zero its predecessor block implied, a data byte appends
//! itself) into a frame buffer of [`FRAME_BYTES`] = `MAX_PAYLOAD + OVERHEAD` bytes, feeding the
//! CRC. At the delimiter the frame is bad if the last COBS block is incomplete, the frame is
//! shorter than 4 or longer than `FRAME_BYTES` bytes, the CRC over the whole frame (message and
//! its CRC) is not 0, or the receiver saw a bad stop bit since the last delimiter. Empty
//! frames (two delimiters) are skipped.
//!
//! **Execute.** Only a good frame executes. A request whose sequence number equals the last
//! executed request's has its cached reply sent again and is not executed. Otherwise
//! HELLO, WRITE, READ, RUN, STOP and STATUS run on the bus (payload lengths, counts and
//! addresses checked first: nothing is written unless the whole request is valid), the reply
//! is built in the reply buffer (which holds the largest reply, a READ of `MAX_WORDS` words),
//! and the sequence number is remembered. Errors (bad frame, unknown opcode, bad length, bad
//! address, busy) are ERROR frames in a buffer of their own, so they never overwrite the
//! cached reply, and they are not remembered: a request refused with an error executes when
//! it is retried and valid.
//!
//! **Samples.** When the machine has a sample pending and the sample buffer is free, the
//! decoder (between frames) reads the sample energy and the sample's state words over the bus
//! into the sample buffer, acknowledges the sample (the machine then runs on) and queues a
//! SAMPLE frame numbered from 0 at every run start. While the sample buffer waits for the
//! transmitter, the machine's next sample stays pending and the machine stalls: no sample is
//! ever dropped.
//!
//! **Transmit arbitration.** One frame at a time goes to the transmitter, never interrupted.
//! When the encoder is free it takes the reply if one is queued, else an error, else a
//! sample: a reply waits at most for the frame being sent. A new request executes only when
//! the previous reply and error have been sent (the buffers are then free); the receive FIFO
//! holds the bytes arriving meanwhile.

use crate::encoder::FrameEncoder;
use crate::ram::DpRam;
use crate::uart::ByteFifo;
use pbit_spec::frame::{MAX_PAYLOAD, OVERHEAD};
use pbit_spec::memory_map as mm;
use pbit_spec::protocol as p;
use pbit_spec::regmap::{Geometry, HwDecode, HwValue};
use rust_hdl::prelude::*;
use std::collections::BTreeMap;

/// Bytes of the frame buffer: the largest message (opcode, seq, payload, CRC).
pub const FRAME_BYTES: usize = MAX_PAYLOAD + OVERHEAD;
/// Offsets of the three message buffers in the transmit RAM ([`TX_BYTES`] bytes).
pub const REPLY_BASE: u32 = 0;
pub const ERROR_BASE: u32 = 1024;
pub const SAMPLE_BASE: u32 = 1088;
/// Bytes of the transmit RAM: up to the end of the longest SAMPLE message (opcode, seq, sample
/// number, energy, W ≤ [`MAX_STATE_WORDS`] state words). Not the full 2^11: on the UP5K 1,162
/// bytes take 3 RAM4K (4 for 2^11), and that one frees the block RAM of the crossbar's biases.
pub const TX_BYTES: usize = SAMPLE_BASE as usize + 2 + 4 * (2 + MAX_STATE_WORDS);
/// The most state words a link serves: 16 (512 p-bits, the sparse 8×8×8 glass); the dense
/// machine takes at most 8.
pub const MAX_STATE_WORDS: usize = 16;
/// Length of an ERROR message: opcode, seq, code, detail u32.
const ERROR_LEN: u32 = 7;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum LinkState {
    Recv,
    Check,
    ErrWrite,
    ReplyHdr,
    HelloCopy,
    LoadWord,
    RdAddr,
    RdCount,
    RdCheck,
    RdScan,
    RdLoop,
    WrAddr,
    WrCheck,
    WrScan,
    WrScanCheck,
    WrLoop,
    WrBus,
    WrReply,
    RunGo,
    StopGo,
    StatWords,
    BusRead,
    PutWord,
    Finish,
    SampHdr,
    SampEnergy,
    SampWords,
    SampDone,
}

macro_rules! k {
    ($v:expr, $w:literal) => {
        Constant::<Bits<$w>>::new(($v as u64).to_bits())
    };
}

/// The command decoder of a machine with `W` state words (N = 32·W p-bits).
#[derive(LogicBlock)]
pub struct Link<const W: usize> {
    pub clock: Signal<In, Clock>,
    /// From the UART receiver.
    pub rx_data: Signal<In, Bits<8>>,
    pub rx_valid: Signal<In, Bit>,
    pub rx_error: Signal<In, Bit>,
    /// To the UART transmitter.
    pub tx_data: Signal<Out, Bits<8>>,
    pub tx_start: Signal<Out, Bit>,
    pub tx_busy: Signal<In, Bit>,
    /// The machine's bus.
    pub write_en: Signal<Out, Bit>,
    pub write_addr: Signal<Out, Bits<32>>,
    pub write_data: Signal<Out, Bits<32>>,
    pub read_addr: Signal<Out, Bits<32>>,
    pub read_data: Signal<In, Bits<32>>,
    pub sample_valid: Signal<In, Bit>,
    pub sample_ready: Signal<Out, Bit>,
    pub machine_busy: Signal<In, Bit>,
    /// Status: the last frame was bad; a byte was lost (receive FIFO full).
    pub bad_frame: Signal<Out, Bit>,
    pub rx_overflow: Signal<Out, Bit>,

    fifo: ByteFifo<4, 5>,
    frame: DpRam<Bits<8>, 11, FRAME_BYTES, false>,
    txram: DpRam<Bits<8>, 11, TX_BYTES, false>,
    hello: ROM<Bits<8>, 5>,
    enc: FrameEncoder,

    // deframer
    flen: DFF<Bits<11>>,
    cobs_left: DFF<Bits<8>>,
    prev_ff: DFF<Bit>,
    started: DFF<Bit>,
    too_long: DFF<Bit>,
    line_err: DFF<Bit>,
    rcrc: DFF<Bits<16>>,
    opcode: DFF<Bits<8>>,
    seq: DFF<Bits<8>>,
    rlen: DFF<Bits<11>>,
    bad: DFF<Bit>,
    bad_led: DFF<Bit>,
    // executor
    state: DFF<LinkState>,
    ret: DFF<LinkState>,
    k: DFF<Bits<5>>,
    i: DFF<Bits<16>>,
    cnt: DFF<Bits<16>>,
    addr: DFF<Bits<32>>,
    word: DFF<Bits<32>>,
    raddr: DFF<Bits<32>>,
    fptr: DFF<Bits<11>>,
    wptr: DFF<Bits<11>>,
    ecode: DFF<Bits<8>>,
    edetail: DFF<Bits<32>>,
    eseq: DFF<Bits<8>>,
    last_seq: DFF<Bits<8>>,
    have_last: DFF<Bit>,
    reply_len: DFF<Bits<11>>,
    samp_len: DFF<Bits<11>>,
    reply_pend: DFF<Bit>,
    err_pend: DFF<Bit>,
    samp_pend: DFF<Bit>,
    sending: DFF<Bits<2>>,
    snum: DFF<Bits<32>>,

    rx_byte: Signal<Local, Bits<8>>,
    app_en: Signal<Local, Bit>,
    app_byte: Signal<Local, Bits<8>>,
    tw_en: Signal<Local, Bit>,
    tw_addr: Signal<Local, Bits<11>>,
    tw_data: Signal<Local, Bits<8>>,
    plen: Signal<Local, Bits<11>>,
    end_addr: Signal<Local, Bits<32>>,
    region: Signal<Local, Bits<8>>,
    end_region: Signal<Local, Bits<8>>,
    index: Signal<Local, Bits<24>>,
    end_index: Signal<Local, Bits<24>>,
    writable: Signal<Local, Bit>,
    cur_addr: Signal<Local, Bits<32>>,
    stat_addr: Signal<Local, Bits<32>>,

    r0: Signal<Local, Bits<16>>,
    r1: Signal<Local, Bits<16>>,
    r2: Signal<Local, Bits<16>>,
    r3: Signal<Local, Bits<16>>,
    r4: Signal<Local, Bits<16>>,
    r5: Signal<Local, Bits<16>>,
    r6: Signal<Local, Bits<16>>,
    r7: Signal<Local, Bits<16>>,
    r8: Signal<Local, Bits<16>>,
    crc_in: Signal<Local, Bits<16>>,
    poly: Constant<Bits<16>>,
    c_frame_bytes: Constant<Bits<11>>,
    c_max_write_plen: Constant<Bits<11>>,
    c_max_words: Constant<Bits<16>>,
    c_last_region: Constant<Bits<8>>,
    c_error_base: Constant<Bits<11>>,
    c_sample_base: Constant<Bits<11>>,
    c_error_len: Constant<Bits<11>>,
    c_w: Constant<Bits<16>>,
    c_read_wait: Constant<Bits<5>>,
    c_hello_last: Constant<Bits<5>>,
    c_sample_region: Constant<Bits<32>>,
    /// The regions the host writes, the register region, `REG_CTRL`, and the runs of
    /// writable registers (all from the table, [`HwDecode`]).
    c_wr_regions: Vec<Constant<Bits<8>>>,
    c_regs: Constant<Bits<8>>,
    c_ctrl24: Constant<Bits<24>>,
    c_wr_lo: Vec<Constant<Bits<8>>>,
    c_wr_hi: Vec<Constant<Bits<8>>>,
    idx8: Signal<Local, Bits<8>>,
    end8: Signal<Local, Bits<8>>,
    end_small: Signal<Local, Bit>,
    /// The per-word checks ([`HwDecode`]; generated only with `checks`): per region slot
    /// readable, writable, index bits that must be 0, last index; the registers' read and
    /// write bitmaps; the value rules.
    c_checks: Constant<Bit>,
    c_rg_rd: Vec<Constant<Bit>>,
    c_rg_wr: Vec<Constant<Bit>>,
    c_rg_notmask: Vec<Constant<Bits<24>>>,
    c_rg_limit: Vec<Constant<Bits<24>>>,
    c_reg_rd: Constant<Bits<64>>,
    c_reg_wr: Constant<Bits<64>>,
    c_v_region: Vec<Constant<Bits<8>>>,
    c_v_imask: Vec<Constant<Bits<24>>>,
    c_v_ival: Vec<Constant<Bits<24>>>,
    c_v_bias: Vec<Constant<Bits<32>>>,
    c_v_lo: Vec<Constant<Bits<32>>>,
    c_v_hi: Vec<Constant<Bits<32>>>,
    cw_region: Signal<Local, Bits<8>>,
    cw_index: Signal<Local, Bits<24>>,
    cw_idx6: Signal<Local, Bits<6>>,
    cw_in: Signal<Local, Bit>,
    cw_rd: Signal<Local, Bit>,
    cw_wr: Signal<Local, Bit>,
    cw_reg_rd: Signal<Local, Bit>,
    cw_reg_rd_sh: Signal<Local, Bits<64>>,
    cw_reg_wr_sh: Signal<Local, Bits<64>>,
    cw_reg_wr: Signal<Local, Bit>,
    cw_is_reg: Signal<Local, Bit>,
    cw_read_ok: Signal<Local, Bit>,
    cw_write_ok: Signal<Local, Bit>,
    cw_value_ok: Signal<Local, Bit>,
    cw_biased: Vec<Signal<Local, Bits<32>>>,
}

/// Region slots of the per-word checks (region ids 0..16).
pub const REGION_SLOTS: usize = 16;
/// Value rules the per-word checks hold (the table has 8 with the batch engine).
pub const RULE_SLOTS: usize = 8;
/// Register-index runs the request-level check of a register write knows.
pub const WRITE_RUNS: usize = 3;

impl<const W: usize> Link<W> {
    /// The decoder; `hello` is HELLO's reply payload ([`p::Hello::encode`]); `geometry` is
    /// the machine's ([`crate::geometry`]): its regions, registers and value rules come from
    /// the table ([`HwDecode`]; the batch engine's only when the core has it). With `checks`,
    /// every word of a request is checked before any is written or read: its index (p-bit ≥
    /// N, page ≥ the pages, … are `ERR_BAD_ADDRESS`), its direction, and a written value
    /// (`ERR_BAD_VALUE`), the detail the word's address; without, only the request-level
    /// checks (region, writable, busy) are made (the iCEBreaker has no room for more).
    pub fn new(hello: &[u8], geometry: &Geometry, checks: bool) -> Self {
        assert_eq!(hello.len(), p::Hello::LEN);
        assert!((1..=MAX_STATE_WORDS).contains(&W));
        assert_eq!((geometry.n as usize).div_ceil(32), W);
        let decode = HwDecode::of(geometry);
        assert!(decode.regions.len() <= REGION_SLOTS && decode.values.len() <= RULE_SLOTS);
        // the executor writes these numbers as literals
        assert_eq!(
            (mm::reg(mm::REG_CTRL), mm::CTRL_RUN, mm::CTRL_STOP),
            (6, 1, 4)
        );
        assert_eq!(mm::reg(mm::REG_SAMPLE_ENERGY), 0x0E);
        assert_eq!(
            [
                p::HELLO,
                p::WRITE,
                p::READ,
                p::RUN,
                p::STOP,
                p::STATUS,
                p::SAMPLE,
                p::ERROR
            ],
            [1, 2, 3, 4, 5, 6, 0x90, 0xFF]
        );
        assert_eq!(
            [
                p::ERR_BAD_FRAME,
                p::ERR_UNKNOWN_OPCODE,
                p::ERR_BAD_LENGTH,
                p::ERR_BAD_ADDRESS,
                p::ERR_BUSY,
                p::ERR_BAD_VALUE
            ],
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            [
                mm::REG_STATUS,
                mm::REG_SWEEPS,
                mm::REG_ENERGY,
                mm::REG_BEST_ENERGY
            ],
            [0x07, 0x11, 0x0C, 0x0D]
        );
        assert_eq!([mm::REG_CLOCKS_HI, mm::REG_CLOCKS_LO], [0x10, 0x0F]);
        // the writable regions (other than the registers), padded with the first
        let mut wr_regions: Vec<u32> = (1..decode.regions.len() as u32)
            .filter(|&r| decode.regions[r as usize].write)
            .collect();
        assert!(!wr_regions.is_empty() && wr_regions.len() <= 8);
        wr_regions.resize(8, wr_regions[0]);
        // runs of consecutive writable registers (REG_CTRL is one of one), padded with the first
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for r in 0..64u32 {
            if decode.reg_write >> r & 1 == 1 {
                match runs.last_mut() {
                    Some(run) if run.1 + 1 == r => run.1 = r,
                    _ => runs.push((r, r)),
                }
            }
        }
        assert!(!runs.is_empty() && runs.len() <= WRITE_RUNS && runs.iter().all(|r| r.1 < 0x100));
        runs.resize(WRITE_RUNS, runs[0]);
        let slot = |r: usize| decode.regions.get(r).copied().unwrap_or_default();
        let mut rules = decode.values.clone();
        // unused rule slots match no word: their region is above every region
        rules.resize(
            RULE_SLOTS,
            HwValue {
                region: 0xFF,
                index_mask: 0,
                index_value: 0,
                bias: 0,
                lo: 0,
                hi: u32::MAX,
            },
        );
        let rom: BTreeMap<Bits<5>, Bits<8>> = hello
            .iter()
            .enumerate()
            .map(|(k, &b)| ((k as u64).to_bits(), (b as u64).to_bits()))
            .collect();
        Self {
            clock: Default::default(),
            rx_data: Default::default(),
            rx_valid: Default::default(),
            rx_error: Default::default(),
            tx_data: Default::default(),
            tx_start: Default::default(),
            tx_busy: Default::default(),
            write_en: Default::default(),
            write_addr: Default::default(),
            write_data: Default::default(),
            read_addr: Default::default(),
            read_data: Default::default(),
            sample_valid: Default::default(),
            sample_ready: Default::default(),
            machine_busy: Default::default(),
            bad_frame: Default::default(),
            rx_overflow: Default::default(),
            fifo: Default::default(),
            frame: Default::default(),
            txram: Default::default(),
            hello: ROM::new(rom),
            enc: Default::default(),
            flen: Default::default(),
            cobs_left: Default::default(),
            prev_ff: Default::default(),
            started: Default::default(),
            too_long: Default::default(),
            line_err: Default::default(),
            rcrc: Default::default(),
            opcode: Default::default(),
            seq: Default::default(),
            rlen: Default::default(),
            bad: Default::default(),
            bad_led: Default::default(),
            state: Default::default(),
            ret: Default::default(),
            k: Default::default(),
            i: Default::default(),
            cnt: Default::default(),
            addr: Default::default(),
            word: Default::default(),
            raddr: Default::default(),
            fptr: Default::default(),
            wptr: Default::default(),
            ecode: Default::default(),
            edetail: Default::default(),
            eseq: Default::default(),
            last_seq: Default::default(),
            have_last: Default::default(),
            reply_len: Default::default(),
            samp_len: Default::default(),
            reply_pend: Default::default(),
            err_pend: Default::default(),
            samp_pend: Default::default(),
            sending: Default::default(),
            snum: Default::default(),
            rx_byte: Default::default(),
            app_en: Default::default(),
            app_byte: Default::default(),
            tw_en: Default::default(),
            tw_addr: Default::default(),
            tw_data: Default::default(),
            plen: Default::default(),
            end_addr: Default::default(),
            region: Default::default(),
            end_region: Default::default(),
            index: Default::default(),
            end_index: Default::default(),
            writable: Default::default(),
            cur_addr: Default::default(),
            stat_addr: Default::default(),
            r0: Default::default(),
            r1: Default::default(),
            r2: Default::default(),
            r3: Default::default(),
            r4: Default::default(),
            r5: Default::default(),
            r6: Default::default(),
            r7: Default::default(),
            r8: Default::default(),
            crc_in: Default::default(),
            poly: k!(0x1021, 16),
            c_frame_bytes: k!(FRAME_BYTES, 11),
            c_max_write_plen: k!(4 + 4 * p::MAX_WORDS, 11),
            c_max_words: k!(p::MAX_WORDS, 16),
            c_last_region: k!(decode.last_region, 8),
            c_error_base: k!(ERROR_BASE, 11),
            c_sample_base: k!(SAMPLE_BASE, 11),
            c_error_len: k!(ERROR_LEN, 11),
            c_w: k!(W, 16),
            c_read_wait: k!(pbit_spec::regmap::BUS_READ_CLOCKS, 5),
            c_hello_last: k!(p::Hello::LEN - 1, 5),
            c_sample_region: k!(mm::region_addr(mm::REGION_SAMPLE, 0), 32),
            c_wr_regions: wr_regions.iter().map(|&r| k!(r, 8)).collect(),
            c_regs: k!(mm::REGION_REGS, 8),
            c_ctrl24: k!(mm::REG_CTRL, 24),
            c_wr_lo: runs.iter().map(|r| k!(r.0, 8)).collect(),
            c_wr_hi: runs.iter().map(|r| k!(r.1, 8)).collect(),
            idx8: Default::default(),
            end8: Default::default(),
            end_small: Default::default(),
            c_checks: Constant::new(checks),
            c_rg_rd: (0..REGION_SLOTS)
                .map(|r| Constant::new(slot(r).read))
                .collect(),
            c_rg_wr: (0..REGION_SLOTS)
                .map(|r| Constant::new(slot(r).write))
                .collect(),
            c_rg_notmask: (0..REGION_SLOTS)
                .map(|r| k!(!slot(r).mask & 0xFF_FFFF, 24))
                .collect(),
            c_rg_limit: (0..REGION_SLOTS).map(|r| k!(slot(r).limit, 24)).collect(),
            c_reg_rd: k!(decode.reg_read, 64),
            c_reg_wr: k!(decode.reg_write, 64),
            c_v_region: rules.iter().map(|v| k!(v.region, 8)).collect(),
            c_v_imask: rules.iter().map(|v| k!(v.index_mask, 24)).collect(),
            c_v_ival: rules.iter().map(|v| k!(v.index_value, 24)).collect(),
            c_v_bias: rules.iter().map(|v| k!(v.bias, 32)).collect(),
            c_v_lo: rules.iter().map(|v| k!(v.lo, 32)).collect(),
            c_v_hi: rules.iter().map(|v| k!(v.hi, 32)).collect(),
            cw_region: Default::default(),
            cw_index: Default::default(),
            cw_idx6: Default::default(),
            cw_in: Default::default(),
            cw_rd: Default::default(),
            cw_wr: Default::default(),
            cw_reg_rd: Default::default(),
            cw_reg_rd_sh: Default::default(),
            cw_reg_wr_sh: Default::default(),
            cw_reg_wr: Default::default(),
            cw_is_reg: Default::default(),
            cw_read_ok: Default::default(),
            cw_write_ok: Default::default(),
            cw_value_ok: Default::default(),
            cw_biased: (0..RULE_SLOTS).map(|_| Default::default()).collect(),
        }
    }
}

impl<const W: usize> Logic for Link<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, flen, cobs_left, prev_ff, started, too_long, line_err, rcrc, opcode, seq,
            rlen, bad, bad_led, state, ret, k, i, cnt, addr, word, raddr, fptr, wptr, ecode,
            edetail, eseq, last_seq, have_last, reply_len, samp_len, reply_pend, err_pend,
            samp_pend, sending, snum
        );
        self.fifo.clock.next = self.clock.val();
        self.enc.clock.next = self.clock.val();
        self.frame.clock.next = self.clock.val();
        self.txram.clock.next = self.clock.val();

        // ---- receive FIFO and status
        self.fifo.write.next = self.rx_valid.val();
        self.fifo.write_data.next = self.rx_data.val();
        self.fifo.read.next = false;
        self.rx_overflow.next = self.fifo.overflow.val();
        self.bad_frame.next = self.bad_led.q.val();
        if self.rx_error.val() {
            self.line_err.d.next = true;
        }
        self.rx_byte.next = self.fifo.data.val();

        // ---- deframer: append one decoded byte to the frame buffer
        self.app_en.next = false;
        self.app_byte.next = self.rx_byte.val();
        self.crc_in.next = self.rcrc.q.val();
        if self.flen.q.val() == 0 {
            self.crc_in.next = 0xFFFF.into();
        }
        self.frame.write_enable.next = false;
        self.frame.write_address.next = self.flen.q.val();
        self.frame.read_address.next = self.fptr.q.val() + bit_cast::<11, 5>(self.k.q.val());

        // ---- request checks
        self.plen.next = self.rlen.q.val() - 4;
        self.cur_addr.next = self.addr.q.val() + bit_cast::<32, 16>(self.i.q.val());
        self.end_addr.next = self.addr.q.val() + bit_cast::<32, 16>(self.cnt.q.val()) - 1;
        self.region.next = bit_cast::<8, 32>(self.addr.q.val() >> 24);
        self.end_region.next = bit_cast::<8, 32>(self.end_addr.val() >> 24);
        self.index.next = bit_cast::<24, 32>(self.addr.q.val());
        self.end_index.next = bit_cast::<24, 32>(self.end_addr.val());
        // writable (request level): the table's writable regions; of the registers the runs
        // of writable ones (REG_CTRL alone; all below 0x100: byte compares; the request's
        // last index below 0x100 puts its first there too)
        self.idx8.next = bit_cast::<8, 24>(self.index.val());
        self.end8.next = bit_cast::<8, 24>(self.end_index.val());
        self.end_small.next = (self.end_index.val() >> 8) == 0;
        self.writable.next = (self.region.val() == self.c_wr_regions[0].val())
            | (self.region.val() == self.c_wr_regions[1].val())
            | (self.region.val() == self.c_wr_regions[2].val())
            | (self.region.val() == self.c_wr_regions[3].val())
            | (self.region.val() == self.c_wr_regions[4].val())
            | (self.region.val() == self.c_wr_regions[5].val())
            | (self.region.val() == self.c_wr_regions[6].val())
            | (self.region.val() == self.c_wr_regions[7].val())
            | ((self.region.val() == self.c_regs.val())
                & self.end_small.val()
                & (((self.idx8.val() >= self.c_wr_lo[0].val())
                    & (self.end8.val() <= self.c_wr_hi[0].val()))
                    | ((self.idx8.val() >= self.c_wr_lo[1].val())
                        & (self.end8.val() <= self.c_wr_hi[1].val()))
                    | ((self.idx8.val() >= self.c_wr_lo[2].val())
                        & (self.end8.val() <= self.c_wr_hi[2].val()))));
        // the per-word checks of the word at cur_addr (and, for a write, its value in `word`)
        self.cw_region.next = bit_cast::<8, 32>(self.cur_addr.val() >> 24);
        self.cw_index.next = bit_cast::<24, 32>(self.cur_addr.val());
        self.cw_idx6.next = bit_cast::<6, 32>(self.cur_addr.val());
        self.cw_in.next = false;
        self.cw_rd.next = false;
        self.cw_wr.next = false;
        for r in 0..REGION_SLOTS {
            if self.cw_region.val().index() == r {
                self.cw_in.next = ((self.cw_index.val() & self.c_rg_notmask[r].val()) == 0)
                    & (self.cw_index.val() <= self.c_rg_limit[r].val());
                self.cw_rd.next = self.c_rg_rd[r].val();
                self.cw_wr.next = self.c_rg_wr[r].val();
            }
        }
        self.cw_is_reg.next = self.cw_region.val() == self.c_regs.val();
        self.cw_reg_rd_sh.next = self.c_reg_rd.val() >> self.cw_idx6.val();
        self.cw_reg_wr_sh.next = self.c_reg_wr.val() >> self.cw_idx6.val();
        self.cw_reg_rd.next = self.cw_reg_rd_sh.val().get_bit(0);
        self.cw_reg_wr.next = self.cw_reg_wr_sh.val().get_bit(0);
        self.cw_read_ok.next =
            self.cw_in.val() & self.cw_rd.val() & (!self.cw_is_reg.val() | self.cw_reg_rd.val());
        self.cw_write_ok.next =
            self.cw_in.val() & self.cw_wr.val() & (!self.cw_is_reg.val() | self.cw_reg_wr.val());
        self.cw_value_ok.next = true;
        for v in 0..RULE_SLOTS {
            self.cw_biased[v].next = self.word.q.val() ^ self.c_v_bias[v].val();
            if (self.cw_region.val() == self.c_v_region[v].val())
                & ((self.cw_index.val() & self.c_v_imask[v].val()) == self.c_v_ival[v].val())
                & ((self.cw_biased[v].val() < self.c_v_lo[v].val())
                    | (self.cw_biased[v].val() > self.c_v_hi[v].val()))
            {
                self.cw_value_ok.next = false;
            }
        }
        // STATUS reply words: status, sweeps, (samples), energy, best, clocks hi, clocks lo
        self.stat_addr.next = 0x0F.into();
        if self.i.q.val() == 0 {
            self.stat_addr.next = 0x07.into();
        }
        if self.i.q.val() == 1 {
            self.stat_addr.next = 0x11.into();
        }
        if self.i.q.val() == 3 {
            self.stat_addr.next = 0x0C.into();
        }
        if self.i.q.val() == 4 {
            self.stat_addr.next = 0x0D.into();
        }
        if self.i.q.val() == 5 {
            self.stat_addr.next = 0x10.into();
        }

        // ---- transmit buffer writes, bus
        self.tw_en.next = false;
        self.tw_addr.next = self.wptr.q.val();
        self.tw_data.next = bit_cast::<8, 32>(self.word.q.val() >> 24);
        self.write_en.next = false;
        self.write_addr.next = self.cur_addr.val();
        self.write_data.next = self.word.q.val();
        self.read_addr.next = self.raddr.q.val();
        self.sample_ready.next = false;
        self.hello.address.next = self.k.q.val();

        // ---- transmit arbitration: reply, then error, then sample
        self.enc.start.next = false;
        self.enc.base.next = 0.into();
        self.enc.len.next = self.reply_len.q.val();
        self.enc.ram_data.next = self.txram.read_data.val();
        self.enc.tx_busy.next = self.tx_busy.val();
        self.txram.read_address.next = self.enc.ram_addr.val();
        self.tx_data.next = self.enc.tx_data.val();
        self.tx_start.next = self.enc.tx_start.val();
        if self.enc.done.val() {
            if self.sending.q.val() == 1 {
                self.reply_pend.d.next = false;
            }
            if self.sending.q.val() == 2 {
                self.err_pend.d.next = false;
            }
            if self.sending.q.val() == 3 {
                self.samp_pend.d.next = false;
            }
            self.sending.d.next = 0.into();
        }
        if (self.sending.q.val() == 0) & !self.enc.busy.val() {
            if self.reply_pend.q.val() {
                self.enc.start.next = true;
                self.sending.d.next = 1.into();
            } else if self.err_pend.q.val() {
                self.enc.start.next = true;
                self.enc.base.next = self.c_error_base.val();
                self.enc.len.next = self.c_error_len.val();
                self.sending.d.next = 2.into();
            } else if self.samp_pend.q.val() {
                self.enc.start.next = true;
                self.enc.base.next = self.c_sample_base.val();
                self.enc.len.next = self.samp_len.q.val();
                self.sending.d.next = 3.into();
            }
        }

        // ---- the executor
        match self.state.q.val() {
            LinkState::Recv => {
                if !self.fifo.empty.val() {
                    self.fifo.read.next = true;
                    if self.rx_byte.val() == 0 {
                        if self.started.q.val() {
                            self.bad.d.next = (self.cobs_left.q.val() != 0)
                                | self.too_long.q.val()
                                | self.line_err.q.val()
                                | (self.flen.q.val() < 4)
                                | (self.rcrc.q.val() != 0);
                            self.rlen.d.next = self.flen.q.val();
                            self.state.d.next = LinkState::Check;
                        }
                        self.flen.d.next = 0.into();
                        self.cobs_left.d.next = 0.into();
                        self.prev_ff.d.next = false;
                        self.started.d.next = false;
                        self.too_long.d.next = false;
                        self.line_err.d.next = false;
                    } else if self.cobs_left.q.val() == 0 {
                        // a code byte: the previous block (if not a full one) ended in a zero
                        if self.started.q.val() & !self.prev_ff.q.val() {
                            self.app_en.next = true;
                            self.app_byte.next = 0.into();
                        }
                        self.cobs_left.d.next = self.rx_byte.val() - 1;
                        self.prev_ff.d.next = self.rx_byte.val() == 0xFF;
                        self.started.d.next = true;
                    } else {
                        self.app_en.next = true;
                        self.cobs_left.d.next = self.cobs_left.q.val() - 1;
                    }
                } else if self.sample_valid.val() & !self.samp_pend.q.val() {
                    self.k.d.next = 0.into();
                    self.state.d.next = LinkState::SampHdr;
                }
            }
            LinkState::Check => {
                self.k.d.next = 0.into();
                self.i.d.next = 0.into();
                self.fptr.d.next = 2.into();
                self.eseq.d.next = self.seq.q.val();
                if !self.reply_pend.q.val() & !self.err_pend.q.val() {
                    self.state.d.next = LinkState::ErrWrite;
                    self.bad_led.d.next = self.bad.q.val();
                    if self.bad.q.val() {
                        self.ecode.d.next = 1.into();
                        self.edetail.d.next = 0.into();
                        self.eseq.d.next = 0.into();
                    } else if self.have_last.q.val() & (self.seq.q.val() == self.last_seq.q.val()) {
                        self.reply_pend.d.next = true;
                        self.state.d.next = LinkState::Recv;
                    } else if self.opcode.q.val() == 1 {
                        self.ecode.d.next = 3.into();
                        self.edetail.d.next = bit_cast::<32, 11>(self.plen.val());
                        if self.plen.val() == 0 {
                            self.ret.d.next = LinkState::HelloCopy;
                            self.state.d.next = LinkState::ReplyHdr;
                        }
                    } else if self.opcode.q.val() == 6 {
                        self.ecode.d.next = 3.into();
                        self.edetail.d.next = bit_cast::<32, 11>(self.plen.val());
                        if self.plen.val() == 0 {
                            self.ret.d.next = LinkState::StatWords;
                            self.state.d.next = LinkState::ReplyHdr;
                        }
                    } else if self.opcode.q.val() == 4 {
                        self.ecode.d.next = 3.into();
                        self.edetail.d.next = bit_cast::<32, 11>(self.plen.val());
                        if self.plen.val() == 0 {
                            if self.machine_busy.val() {
                                self.ecode.d.next = 5.into();
                                self.edetail.d.next = 6.into();
                            } else {
                                self.state.d.next = LinkState::RunGo;
                            }
                        }
                    } else if self.opcode.q.val() == 5 {
                        self.ecode.d.next = 3.into();
                        self.edetail.d.next = bit_cast::<32, 11>(self.plen.val());
                        if self.plen.val() == 0 {
                            self.state.d.next = LinkState::StopGo;
                        }
                    } else if self.opcode.q.val() == 3 {
                        self.ecode.d.next = 3.into();
                        self.edetail.d.next = bit_cast::<32, 11>(self.plen.val());
                        if self.plen.val() == 6 {
                            self.ret.d.next = LinkState::RdAddr;
                            self.state.d.next = LinkState::LoadWord;
                        }
                    } else if self.opcode.q.val() == 2 {
                        self.ecode.d.next = 3.into();
                        self.edetail.d.next = bit_cast::<32, 11>(self.plen.val());
                        self.cnt.d.next = bit_cast::<16, 11>((self.plen.val() - 4) >> 2);
                        if (self.plen.val() >= 8)
                            & (self.plen.val() <= self.c_max_write_plen.val())
                            & ((self.plen.val() & 3) == 0)
                        {
                            self.ret.d.next = LinkState::WrAddr;
                            self.state.d.next = LinkState::LoadWord;
                        }
                    } else {
                        self.ecode.d.next = 2.into();
                        self.edetail.d.next = bit_cast::<32, 8>(self.opcode.q.val());
                    }
                }
            }
            LinkState::ErrWrite => {
                self.tw_en.next = true;
                self.tw_addr.next = self.c_error_base.val() + bit_cast::<11, 5>(self.k.q.val());
                self.tw_data.next = bit_cast::<8, 32>(self.edetail.q.val() >> 24);
                self.k.d.next = self.k.q.val() + 1;
                if self.k.q.val() == 0 {
                    self.tw_data.next = 0xFF.into();
                } else if self.k.q.val() == 1 {
                    self.tw_data.next = self.eseq.q.val();
                } else if self.k.q.val() == 2 {
                    self.tw_data.next = self.ecode.q.val();
                } else {
                    self.edetail.d.next = self.edetail.q.val() << 8;
                }
                if self.k.q.val() == 6 {
                    self.err_pend.d.next = true;
                    self.k.d.next = 0.into();
                    self.state.d.next = LinkState::Recv;
                }
            }
            LinkState::ReplyHdr => {
                self.tw_en.next = true;
                self.tw_addr.next = bit_cast::<11, 5>(self.k.q.val());
                self.tw_data.next = self.opcode.q.val() | 0x80;
                self.k.d.next = 1.into();
                if self.k.q.val() == 1 {
                    self.tw_data.next = self.seq.q.val();
                    self.wptr.d.next = 2.into();
                    self.k.d.next = 0.into();
                    self.state.d.next = self.ret.q.val();
                }
            }
            LinkState::HelloCopy => {
                self.tw_en.next = true;
                self.tw_data.next = self.hello.data.val();
                self.wptr.d.next = self.wptr.q.val() + 1;
                self.k.d.next = self.k.q.val() + 1;
                if self.k.q.val() == self.c_hello_last.val() {
                    self.state.d.next = LinkState::Finish;
                }
            }
            LinkState::LoadWord => {
                // the frame buffer reads fptr + k; its data arrives a clock later
                if self.k.q.val() != 0 {
                    self.word.d.next =
                        (self.word.q.val() << 8) | bit_cast::<32, 8>(self.frame.read_data.val());
                }
                self.k.d.next = self.k.q.val() + 1;
                if self.k.q.val() == 4 {
                    self.k.d.next = 0.into();
                    self.fptr.d.next = self.fptr.q.val() + 4;
                    self.state.d.next = self.ret.q.val();
                }
            }
            LinkState::RdAddr => {
                self.addr.d.next = self.word.q.val();
                self.ret.d.next = LinkState::RdCount;
                self.state.d.next = LinkState::LoadWord;
            }
            LinkState::RdCount => {
                self.cnt.d.next = bit_cast::<16, 32>(self.word.q.val() >> 16);
                self.state.d.next = LinkState::RdCheck;
            }
            LinkState::RdCheck => {
                self.state.d.next = LinkState::ErrWrite;
                if (self.cnt.q.val() == 0) | (self.cnt.q.val() > self.c_max_words.val()) {
                    self.ecode.d.next = 3.into();
                    self.edetail.d.next = bit_cast::<32, 16>(self.cnt.q.val());
                } else if (self.region.val() > self.c_last_region.val())
                    | (self.end_region.val() != self.region.val())
                {
                    self.ecode.d.next = 4.into();
                    self.edetail.d.next = self.addr.q.val();
                } else if self.c_checks.val() {
                    self.state.d.next = LinkState::RdScan;
                } else {
                    self.ret.d.next = LinkState::RdLoop;
                    self.state.d.next = LinkState::ReplyHdr;
                }
            }
            LinkState::RdScan => {
                // every word readable before the reply is built (the reply buffer keeps the
                // last reply for a retry until then). The scan states are reachable only with
                // c_checks; without, their bodies fold to a constant here, because yosys does
                // not prove them unreachable and would keep their logic (the checks' +570
                // iCE40 cells, and ~30 for the states' own muxes).
                if !self.c_checks.val() {
                    self.state.d.next = LinkState::Recv;
                } else if self.i.q.val() == self.cnt.q.val() {
                    self.i.d.next = 0.into();
                    self.ret.d.next = LinkState::RdLoop;
                    self.state.d.next = LinkState::ReplyHdr;
                } else if !self.cw_read_ok.val() {
                    self.ecode.d.next = 4.into();
                    self.edetail.d.next = self.cur_addr.val();
                    self.state.d.next = LinkState::ErrWrite;
                } else {
                    self.i.d.next = self.i.q.val() + 1;
                }
            }
            LinkState::RdLoop => {
                if self.i.q.val() == self.cnt.q.val() {
                    self.state.d.next = LinkState::Finish;
                } else {
                    self.raddr.d.next = self.cur_addr.val();
                    self.i.d.next = self.i.q.val() + 1;
                    self.ret.d.next = LinkState::RdLoop;
                    self.state.d.next = LinkState::BusRead;
                }
            }
            LinkState::WrAddr => {
                self.addr.d.next = self.word.q.val();
                self.state.d.next = LinkState::WrCheck;
            }
            LinkState::WrCheck => {
                self.state.d.next = LinkState::ErrWrite;
                self.edetail.d.next = self.addr.q.val();
                if !self.writable.val() | (self.end_region.val() != self.region.val()) {
                    self.ecode.d.next = 4.into();
                } else if self.machine_busy.val()
                    & !((self.region.val() == self.c_regs.val())
                        & (self.index.val() == self.c_ctrl24.val()))
                {
                    self.ecode.d.next = 5.into();
                } else if self.c_checks.val() {
                    self.state.d.next = LinkState::WrScan;
                } else {
                    self.state.d.next = LinkState::WrLoop;
                }
            }
            LinkState::WrScan => {
                // every word's address and value checked before any is written; then the
                // words are loaded again from the frame buffer (fptr back to the first)
                if !self.c_checks.val() {
                    self.state.d.next = LinkState::Recv;
                } else if self.i.q.val() == self.cnt.q.val() {
                    self.i.d.next = 0.into();
                    self.fptr.d.next = 6.into();
                    self.state.d.next = LinkState::WrLoop;
                } else {
                    self.ret.d.next = LinkState::WrScanCheck;
                    self.state.d.next = LinkState::LoadWord;
                }
            }
            LinkState::WrScanCheck => {
                if !self.c_checks.val() {
                    self.state.d.next = LinkState::Recv;
                } else if !self.cw_write_ok.val() {
                    self.edetail.d.next = self.cur_addr.val();
                    self.ecode.d.next = 4.into();
                    self.state.d.next = LinkState::ErrWrite;
                } else if !self.cw_value_ok.val() {
                    self.edetail.d.next = self.cur_addr.val();
                    self.ecode.d.next = 6.into();
                    self.state.d.next = LinkState::ErrWrite;
                } else {
                    self.i.d.next = self.i.q.val() + 1;
                    self.state.d.next = LinkState::WrScan;
                }
            }
            LinkState::WrLoop => {
                if self.i.q.val() == self.cnt.q.val() {
                    self.ret.d.next = LinkState::WrReply;
                    self.state.d.next = LinkState::ReplyHdr;
                } else {
                    self.ret.d.next = LinkState::WrBus;
                    self.state.d.next = LinkState::LoadWord;
                }
            }
            LinkState::WrBus => {
                self.write_en.next = true;
                if (self.cur_addr.val() == 6)
                    & self.word.q.val().get_bit(0)
                    & !self.machine_busy.val()
                {
                    self.snum.d.next = 0.into();
                }
                self.i.d.next = self.i.q.val() + 1;
                self.state.d.next = LinkState::WrLoop;
            }
            LinkState::WrReply => {
                self.tw_en.next = true;
                self.tw_data.next = bit_cast::<8, 16>(self.cnt.q.val() >> 8);
                self.wptr.d.next = self.wptr.q.val() + 1;
                self.k.d.next = 1.into();
                if self.k.q.val() == 1 {
                    self.tw_data.next = bit_cast::<8, 16>(self.cnt.q.val());
                    self.k.d.next = 0.into();
                    self.state.d.next = LinkState::Finish;
                }
            }
            LinkState::RunGo => {
                self.write_en.next = true;
                self.write_addr.next = 6.into();
                self.write_data.next = 1.into();
                self.snum.d.next = 0.into();
                self.ret.d.next = LinkState::Finish;
                self.state.d.next = LinkState::ReplyHdr;
            }
            LinkState::StopGo => {
                self.write_en.next = true;
                self.write_addr.next = 6.into();
                self.write_data.next = 4.into();
                self.ret.d.next = LinkState::Finish;
                self.state.d.next = LinkState::ReplyHdr;
            }
            LinkState::StatWords => {
                self.ret.d.next = LinkState::StatWords;
                self.i.d.next = self.i.q.val() + 1;
                self.raddr.d.next = self.stat_addr.val();
                self.state.d.next = LinkState::BusRead;
                if self.i.q.val() == 2 {
                    self.word.d.next = self.snum.q.val();
                    self.state.d.next = LinkState::PutWord;
                }
                if self.i.q.val() == 7 {
                    self.state.d.next = LinkState::Finish;
                }
            }
            LinkState::BusRead => {
                // read_addr = raddr since this clock; read_data follows BUS_READ_CLOCKS later
                self.k.d.next = self.k.q.val() + 1;
                if self.k.q.val() == self.c_read_wait.val() {
                    self.word.d.next = self.read_data.val();
                    self.k.d.next = 0.into();
                    self.state.d.next = LinkState::PutWord;
                }
            }
            LinkState::PutWord => {
                self.tw_en.next = true;
                self.wptr.d.next = self.wptr.q.val() + 1;
                self.word.d.next = self.word.q.val() << 8;
                self.k.d.next = self.k.q.val() + 1;
                if self.k.q.val() == 3 {
                    self.k.d.next = 0.into();
                    self.state.d.next = self.ret.q.val();
                }
            }
            LinkState::Finish => {
                self.reply_len.d.next = self.wptr.q.val();
                self.last_seq.d.next = self.seq.q.val();
                self.have_last.d.next = true;
                self.reply_pend.d.next = true;
                self.state.d.next = LinkState::Recv;
            }
            LinkState::SampHdr => {
                self.tw_en.next = true;
                self.tw_addr.next = self.c_sample_base.val() + bit_cast::<11, 5>(self.k.q.val());
                self.tw_data.next = 0x90.into();
                self.k.d.next = 1.into();
                if self.k.q.val() == 1 {
                    self.tw_data.next = bit_cast::<8, 32>(self.snum.q.val());
                    self.wptr.d.next = self.c_sample_base.val() + 2;
                    self.word.d.next = self.snum.q.val();
                    self.k.d.next = 0.into();
                    self.ret.d.next = LinkState::SampEnergy;
                    self.state.d.next = LinkState::PutWord;
                }
            }
            LinkState::SampEnergy => {
                self.raddr.d.next = 0x0E.into();
                self.i.d.next = 0.into();
                self.ret.d.next = LinkState::SampWords;
                self.state.d.next = LinkState::BusRead;
            }
            LinkState::SampWords => {
                if self.i.q.val() == self.c_w.val() {
                    self.state.d.next = LinkState::SampDone;
                } else {
                    self.raddr.d.next =
                        self.c_sample_region.val() | bit_cast::<32, 16>(self.i.q.val());
                    self.i.d.next = self.i.q.val() + 1;
                    self.ret.d.next = LinkState::SampWords;
                    self.state.d.next = LinkState::BusRead;
                }
            }
            LinkState::SampDone => {
                self.sample_ready.next = true;
                self.samp_len.d.next = self.wptr.q.val() - self.c_sample_base.val();
                self.samp_pend.d.next = true;
                self.snum.d.next = self.snum.q.val() + 1;
                self.state.d.next = LinkState::Recv;
            }
            _ => {
                self.state.d.next = LinkState::Recv;
            }
        }

        // the deframer's append (in Recv only)
        // CRC-16/CCITT-FALSE of the appended byte (r8), bit by bit
        self.r0.next = self.crc_in.val() ^ (bit_cast::<16, 8>(self.app_byte.val()) << 8);
        self.r1.next = self.r0.val() << 1;
        if self.r0.val().get_bit(15) {
            self.r1.next = (self.r0.val() << 1) ^ self.poly.val();
        }
        self.r2.next = self.r1.val() << 1;
        if self.r1.val().get_bit(15) {
            self.r2.next = (self.r1.val() << 1) ^ self.poly.val();
        }
        self.r3.next = self.r2.val() << 1;
        if self.r2.val().get_bit(15) {
            self.r3.next = (self.r2.val() << 1) ^ self.poly.val();
        }
        self.r4.next = self.r3.val() << 1;
        if self.r3.val().get_bit(15) {
            self.r4.next = (self.r3.val() << 1) ^ self.poly.val();
        }
        self.r5.next = self.r4.val() << 1;
        if self.r4.val().get_bit(15) {
            self.r5.next = (self.r4.val() << 1) ^ self.poly.val();
        }
        self.r6.next = self.r5.val() << 1;
        if self.r5.val().get_bit(15) {
            self.r6.next = (self.r5.val() << 1) ^ self.poly.val();
        }
        self.r7.next = self.r6.val() << 1;
        if self.r6.val().get_bit(15) {
            self.r7.next = (self.r6.val() << 1) ^ self.poly.val();
        }
        self.r8.next = self.r7.val() << 1;
        if self.r7.val().get_bit(15) {
            self.r8.next = (self.r7.val() << 1) ^ self.poly.val();
        }
        self.frame.write_data.next = self.app_byte.val();
        if self.app_en.val() {
            if self.flen.q.val() == self.c_frame_bytes.val() {
                self.too_long.d.next = true;
            } else {
                self.frame.write_enable.next = true;
                self.rcrc.d.next = self.r8.val();
                self.flen.d.next = self.flen.q.val() + 1;
                if self.flen.q.val() == 0 {
                    self.opcode.d.next = self.app_byte.val();
                }
                if self.flen.q.val() == 1 {
                    self.seq.d.next = self.app_byte.val();
                }
            }
        }
        self.txram.write_enable.next = self.tw_en.val();
        self.txram.write_address.next = self.tw_addr.val();
        self.txram.write_data.next = self.tw_data.val();
    }
}
