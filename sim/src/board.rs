//! The simulated board: the core top (machine + UART + command decoder, the Verilog a board's
//! shell wraps) in Verilator, its UART pins driven bit by bit by a line model
//! (`shim/board.cpp`): host bytes are serialised onto `uart_rx` at the configured baud in
//! clocks, `uart_tx` is deserialised by sampling the middle of each bit.
//!
//! Two ways in:
//! * [`Board`]: an in-process byte pipe for tests ([`Board::write`] queues bytes,
//!   [`Board::run`] / [`Board::read_frame`] advance simulated time and return what the board
//!   sent); simulated time is in clocks of the generation clock (`clock_hz`).
//! * [`serve`]: a pseudo-terminal; the host opens the printed tty path as if it were a
//!   USB-serial port. The board runs as fast as Verilator can (not in real time) and sleeps
//!   while there is nothing to do.

use crate::build::symbol;
use crate::SimError;
use libloading::Library;
use pbit_hdl::core_top::{emit_core_top, CoreTopError};
use pbit_spec::frame::{Deframer, FrameError, Message};
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const SHIM: &str = include_str!("shim/board.cpp");

/// The clock a simulated board reports when none is given (the iCEBreaker's 12 MHz: 12 clocks
/// per bit at 1 Mbaud, half the simulation work per byte of a 25 MHz clock).
pub const DEFAULT_CLOCK_HZ: u32 = 12_000_000;
/// The baud rate of `pbit sim serve` when none is given (divides 25 MHz and 12 MHz).
pub const DEFAULT_BAUD: u32 = 1_000_000;
/// The machine size of `pbit sim serve` when none is given.
pub const DEFAULT_N: usize = 64;

const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--top-module",
    "top",
    "--prefix",
    "Vboard",
    "-Wno-fatal",
    "-Wno-WIDTH",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "--noassert",
];

/// Why the simulated board failed.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("cannot generate the core top: {0}")]
    Core(#[from] CoreTopError),
    #[error("cannot generate the sparse core top: {0}")]
    Sparse(String),
    #[error("the board sent no complete frame within {clocks} clocks")]
    Timeout { clocks: u64 },
    #[error("the board sent a bad frame: {0}")]
    Frame(FrameError),
    #[error("pseudo-terminal: {0}")]
    Pty(String),
}

type NewFn = unsafe extern "C" fn(u32) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type WriteFn = unsafe extern "C" fn(*mut c_void, *const u8, u64);
type PendingFn = unsafe extern "C" fn(*mut c_void) -> u64;
type RunFn = unsafe extern "C" fn(*mut c_void, u64, *mut u8, u64, u64) -> u64;
type ClocksFn = unsafe extern "C" fn(*mut c_void) -> u64;
type StatusFn = unsafe extern "C" fn(*mut c_void) -> u32;

struct Api {
    new: NewFn,
    free: FreeFn,
    write: WriteFn,
    pending: PendingFn,
    run: RunFn,
    clocks: ClocksFn,
    tx_errors: ClocksFn,
    status: StatusFn,
}

/// The Verilated core top with its UART line model.
pub struct Board {
    handle: *mut c_void,
    api: Api,
    n: usize,
    clock_hz: u32,
    baud: u32,
    divisor: u32,
    deframer: Deframer,
    _lib: Library,
}

// The model behind `handle` is owned by this value and used from one thread at a time.
unsafe impl Send for Board {}

impl Drop for Board {
    fn drop(&mut self) {
        unsafe { (self.api.free)(self.handle) }
    }
}

/// LEDs and line state of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardStatus {
    pub busy: bool,
    pub bad_frame: bool,
    pub rx_overflow: bool,
    pub transmitting: bool,
    /// The line model is receiving a byte from `uart_tx`.
    pub receiving: bool,
}

impl Board {
    /// Builds (or takes from the cache) the core top of `n` p-bits with the batch engine,
    /// clocked at `clock_hz`, its UART at `baud`, and instantiates it.
    pub fn build(n: usize, clock_hz: u32, baud: u32) -> Result<Board, BoardError> {
        Board::build_with(n, clock_hz, baud, true)
    }

    /// [`Board::build`], with the batch engine or without it (`batch`: the core top of a board
    /// such as the iCEBreaker, whose profile leaves it out).
    pub fn build_with(
        n: usize,
        clock_hz: u32,
        baud: u32,
        batch: bool,
    ) -> Result<Board, BoardError> {
        let verilog = emit_core_top(n, clock_hz, baud, batch)?;
        Board::load(&verilog, n, clock_hz, baud)
    }

    /// The core top of the sparse machine for `graph` (maximum degree `max_degree`, `lanes`
    /// update lanes or one cell per p-bit, every region readable), clocked at `clock_hz`, its
    /// UART at `baud`.
    pub fn build_sparse(
        graph: &pbit_spec::sparse::SparseGraph,
        max_degree: usize,
        lanes: Option<usize>,
        clock_hz: u32,
        baud: u32,
    ) -> Result<Board, BoardError> {
        let opts = pbit_hdl::sparse::SparseOptions {
            max_degree,
            readback: true,
            lanes,
            stats: Some(pbit_hdl::sparse_stats::DEFAULT_STATS_BITS),
            coupling_banks: false,
        };
        let (verilog, info) =
            pbit_hdl::core_top::emit_sparse_core_top(graph, &opts, clock_hz, baud)
                .map_err(|e| BoardError::Sparse(e.to_string()))?;
        Board::load(&verilog, info.n, clock_hz, baud)
    }

    fn load(verilog: &str, n: usize, clock_hz: u32, baud: u32) -> Result<Board, BoardError> {
        let divisor = pbit_hdl::uart::uart_divisor(clock_hz, baud).map_err(CoreTopError::from)?;
        let so = build_board_object(verilog)?;
        let lib = crate::build::load_library(&so)?;
        let api = Api {
            new: symbol(&lib, b"pbit_board_new")?,
            free: symbol(&lib, b"pbit_board_free")?,
            write: symbol(&lib, b"pbit_board_write")?,
            pending: symbol(&lib, b"pbit_board_pending")?,
            run: symbol(&lib, b"pbit_board_run")?,
            clocks: symbol(&lib, b"pbit_board_clocks")?,
            tx_errors: symbol(&lib, b"pbit_board_tx_framing_errors")?,
            status: symbol(&lib, b"pbit_board_status")?,
        };
        let handle = unsafe { (api.new)(divisor) };
        Ok(Board {
            handle,
            api,
            n,
            clock_hz,
            baud,
            divisor,
            deframer: Deframer::new(),
            _lib: lib,
        })
    }

    /// p-bits of the machine.
    pub fn n(&self) -> usize {
        self.n
    }
    /// The generation clock (simulated clocks per second).
    pub fn clock_hz(&self) -> u32 {
        self.clock_hz
    }
    pub fn baud(&self) -> u32 {
        self.baud
    }
    /// Clocks per bit on the line.
    pub fn divisor(&self) -> u32 {
        self.divisor
    }
    /// Clocks simulated so far.
    pub fn clocks(&self) -> u64 {
        unsafe { (self.api.clocks)(self.handle) }
    }
    /// Simulated seconds so far (clocks at `clock_hz`).
    pub fn seconds(&self) -> f64 {
        self.clocks() as f64 / self.clock_hz as f64
    }
    /// Bytes from the board whose stop bit was 0 (never, unless the gateware is broken).
    pub fn tx_framing_errors(&self) -> u64 {
        unsafe { (self.api.tx_errors)(self.handle) }
    }
    pub fn status(&self) -> BoardStatus {
        let s = unsafe { (self.api.status)(self.handle) };
        BoardStatus {
            busy: s & 1 != 0,
            bad_frame: s & 2 != 0,
            rx_overflow: s & 4 != 0,
            transmitting: s & 8 != 0,
            receiving: s & 16 != 0,
        }
    }

    /// Queues bytes for the board's `uart_rx` (they go on the line as simulated time runs).
    pub fn write(&mut self, bytes: &[u8]) {
        unsafe { (self.api.write)(self.handle, bytes.as_ptr(), bytes.len() as u64) }
    }
    /// Host bytes not yet fully on the line.
    pub fn pending(&self) -> u64 {
        unsafe { (self.api.pending)(self.handle) }
    }

    /// Runs `clocks` clocks; returns the bytes the board sent meanwhile.
    pub fn run(&mut self, clocks: u64) -> Vec<u8> {
        self.run_until(clocks, 0)
    }

    /// Runs at most `clocks` clocks, stopping early after `stop_after` (> 0) bytes; returns
    /// the bytes the board sent.
    pub fn run_until(&mut self, clocks: u64, stop_after: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut left = clocks;
        let mut buf = vec![0u8; 4096];
        while left > 0 {
            let chunk = left.min(1 << 20);
            let want = if stop_after > 0 {
                (stop_after - out.len()) as u64
            } else {
                0
            };
            let before = self.clocks();
            let got = unsafe {
                (self.api.run)(self.handle, chunk, buf.as_mut_ptr(), buf.len() as u64, want)
            } as usize;
            out.extend_from_slice(&buf[..got]);
            left -= (self.clocks() - before).min(left);
            if stop_after > 0 && out.len() >= stop_after {
                break;
            }
        }
        out
    }

    /// Runs until the board has sent one whole frame (up to its delimiter) or `max_clocks`
    /// have passed; returns its decoding. Bytes after the frame's delimiter stay unread.
    pub fn read_frame(&mut self, max_clocks: u64) -> Result<Message, BoardError> {
        let start = self.clocks();
        loop {
            let used = self.clocks() - start;
            if used >= max_clocks {
                return Err(BoardError::Timeout { clocks: max_clocks });
            }
            for b in self.run_until(max_clocks - used, 1) {
                if let Some(r) = self.deframer.push(b) {
                    return r.map_err(BoardError::Frame);
                }
            }
        }
    }

    /// Sends `msg` and returns the next frame the board sends (a sample frame may come
    /// first while a run streams: use [`Board::read_frame`] then).
    pub fn request(&mut self, msg: &Message, max_clocks: u64) -> Result<Message, BoardError> {
        self.write(&msg.encode());
        self.read_frame(max_clocks)
    }

    /// Clocks of one byte on the line (10 bits).
    pub fn byte_clocks(&self) -> u64 {
        10 * self.divisor as u64
    }
}

/// Verilates the core top with the board shim into a cached shared object (the cache of
/// [`crate::cache_root`], keyed by the Verilog, the shim, the flags and Verilator's version).
fn build_board_object(verilog: &str) -> Result<PathBuf, SimError> {
    crate::build::build_cached(&crate::build::Verilation {
        name: "board",
        verilog: &[("top.v", verilog)],
        shim: SHIM,
        flags: VERILATOR_FLAGS,
        trace: None,
    })
}

/// What [`serve`] serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// p-bits of the machine (a [`pbit_hdl::SUPPORTED_N`] size).
    pub n: usize,
    pub baud: u32,
    /// The generation clock the board reports in HELLO; simulated time runs in its clocks.
    pub clock_hz: u32,
    /// With the batch engine (as the ULX3S), or without (as the iCEBreaker).
    pub batch: bool,
    /// A sparse machine for this graph and maximum degree instead of the dense one (`n` and
    /// `batch` are then ignored).
    pub sparse: Option<(pbit_spec::sparse::SparseGraph, usize)>,
    /// The sparse machine's update lanes (None: one update cell per p-bit).
    pub lanes: Option<usize>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            n: DEFAULT_N,
            baud: DEFAULT_BAUD,
            clock_hz: DEFAULT_CLOCK_HZ,
            batch: true,
            sparse: None,
            lanes: None,
        }
    }
}

/// A pseudo-terminal pair: the server keeps the master and holds the slave open (so the
/// host may open and close it), the host opens [`Pty::path`].
struct Pty {
    master: i32,
    slave: i32,
    path: PathBuf,
}

impl Drop for Pty {
    fn drop(&mut self) {
        unsafe {
            libc::close(self.master);
            libc::close(self.slave);
        }
    }
}

fn open_pty() -> Result<Pty, BoardError> {
    let err = |what: &str| BoardError::Pty(format!("{what}: {}", std::io::Error::last_os_error()));
    let (mut master, mut slave) = (0i32, 0i32);
    let mut name = [0 as libc::c_char; 256];
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            name.as_mut_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(err("openpty"));
    }
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let pty = Pty {
        master,
        slave,
        path: PathBuf::from(path),
    };
    // raw mode: no echo, no line editing, no CR/LF translation
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave, &mut t) != 0 {
            return Err(err("tcgetattr"));
        }
        libc::cfmakeraw(&mut t);
        if libc::tcsetattr(slave, libc::TCSANOW, &t) != 0 {
            return Err(err("tcsetattr"));
        }
        let flags = libc::fcntl(master, libc::F_GETFL);
        if flags < 0 || libc::fcntl(master, libc::F_SETFL, flags | libc::O_NONBLOCK) != 0 {
            return Err(err("fcntl"));
        }
    }
    Ok(pty)
}

/// Serves the simulated board (built for `options`) on a new pseudo-terminal: calls
/// `on_ready(tty_path)` once the board is built and the tty is open (the host opens that
/// path), then moves bytes between the tty and the board's UART until `stop` is set. The
/// board runs as fast as it simulates and sleeps up to 5 ms when idle (no input, nothing
/// sent, machine idle). Libraries never print: the caller prints the path.
pub fn serve(
    options: ServeOptions,
    stop: &AtomicBool,
    on_ready: impl FnOnce(&Path),
) -> Result<(), BoardError> {
    let mut board = match &options.sparse {
        Some((graph, d)) => {
            Board::build_sparse(graph, *d, options.lanes, options.clock_hz, options.baud)?
        }
        None => Board::build_with(options.n, options.clock_hz, options.baud, options.batch)?,
    };
    let pty = open_pty()?;
    on_ready(&pty.path);
    // simulate in slices of ~16 bytes on the line
    let slice = (16 * board.byte_clocks()).max(4096);
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let got = unsafe { libc::read(pty.master, buf.as_mut_ptr().cast(), buf.len()) };
        if got > 0 {
            board.write(&buf[..got as usize]);
        }
        let out = board.run(slice);
        let mut rest: &[u8] = &out;
        while !rest.is_empty() && !stop.load(Ordering::Relaxed) {
            let w = unsafe { libc::write(pty.master, rest.as_ptr().cast(), rest.len()) };
            if w > 0 {
                rest = &rest[w as usize..];
            } else {
                // the tty's buffer is full (nobody reading): wait for the host
                wait_fd(pty.master, libc::POLLOUT, 5);
            }
        }
        let st = board.status();
        let idle = got <= 0
            && out.is_empty()
            && board.pending() == 0
            && !st.busy
            && !st.transmitting
            && !st.receiving;
        if idle {
            wait_fd(pty.master, libc::POLLIN, 5);
        }
    }
    Ok(())
}

fn wait_fd(fd: i32, events: i16, ms: i32) {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    unsafe {
        libc::poll(&mut p, 1, ms);
    }
}

/// Waivers for the core top beyond [`crate::lint::WAIVERS`]: rust-hdl declares the decoder's
/// and encoder's `LogicState` enum values as localparams in every module, used or not (the
/// same rust-hdl habit the machine's waiver covers for `Phase`); without the batch engine
/// nothing reads the machine's `state_out` port (synthesis removes its packing).
/// The link's per-word checks come from the register table: a register bitmap shifted by the
/// index (bit 0 read), and value rules whose bounds are 0 or 2³² − 1 for rules without a bound
/// and for unused rule slots, where Verilator sees a comparison that is constant.
pub const CORE_TOP_WAIVERS: &str = "
lint_off -rule UNUSEDPARAM -file \"*\" -match \"*Parameter is not used: 'LinkState$*\"
lint_off -rule UNUSEDPARAM -file \"*\" -match \"*Parameter is not used: 'EncState$*\"
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*Signal is not used: 'machine$state_out'*\"
lint_off -rule UNUSEDSIGNAL -file \"*\" -match \"*Bits of signal are not used: 'cw_reg_*_sh'*\"
lint_off -rule UNSIGNED -file \"*\" -match \"*Comparison is constant due to unsigned arithmetic*\"
lint_off -rule CMPCONST -file \"*\" -match \"*Comparison is constant due to limited range*\"
";

/// `verilator --lint-only -Wall` of the core top of `n` p-bits at (`clock_hz`, `baud`), with
/// the batch engine if `batch`, with the machine's waivers and [`CORE_TOP_WAIVERS`]; returns
/// Verilator's output (empty when clean) or the error with every warning.
pub fn lint_core_top(
    n: usize,
    clock_hz: u32,
    baud: u32,
    batch: bool,
) -> Result<String, BoardError> {
    let verilog = emit_core_top(n, clock_hz, baud, batch)?;
    let waivers = format!("{}\n{CORE_TOP_WAIVERS}", crate::lint::WAIVERS);
    Ok(crate::lint::lint_verilog(
        &verilog,
        &waivers,
        &format!("core-{n}-{batch}"),
    )?)
}
