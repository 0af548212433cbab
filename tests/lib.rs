//! pbit-tests: the end-to-end tests across crates (one file per behaviour, beside this one) and
//! the helpers they share. The model is the reference in every one: the Verilated machine,
//! the simulated board over the wire protocol and the `pbit` binary must match it bit for bit.
//!
//! Needs verilator and g++ for the co-simulation files (scripts/test-all.sh installs them).

use pbit_model::{FixedIsing, Ising, Scaling};
use pbit_spec::Format;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `pbit` binary (package pbit-cli), built for the profile these tests were built with.
///
/// `CARGO_BIN_EXE_pbit` exists only for pbit-cli's own tests, so this package builds the binary
/// itself, once per test process: `cargo build -p pbit-cli --bin pbit` into the same target
/// directory and profile (a no-op when `cargo test --workspace` has already built it). Set
/// `PBIT_BIN` to test another binary.
pub fn pbit_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("PBIT_BIN") {
            return PathBuf::from(p);
        }
        // this test runs from <target>/<profile dir>/deps/<test>-<hash>
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable sits in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("<target>/<profile>");
        let profile = match profile_dir.file_name().and_then(|s| s.to_str()) {
            Some("debug") => "dev",
            Some(p) => p,
            None => panic!("odd profile directory {}", profile_dir.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(&cargo)
            .args(["build", "--quiet", "--package", "pbit-cli", "--bin", "pbit"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build the pbit binary: {e}"));
        assert!(
            status.success(),
            "building the pbit binary failed ({status})"
        );
        profile_dir.join(format!("pbit{}", std::env::consts::EXE_SUFFIX))
    })
}

/// A file in the repository's `examples/`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// A random instance on the grid (a third of the couplings set), from a fixed generator.
pub fn instance(n: usize, seed: u64) -> FixedIsing {
    let mut x = seed;
    let mut next = move || {
        x = pbit_spec::rng::splitmix64(x);
        x
    };
    let mut ising = Ising::new(n);
    for i in 0..n {
        for j in i + 1..n {
            if next() % 3 == 0 {
                ising.add_coupling(i, j, ((next() % 33) as f64 - 16.0) / 16.0);
            }
        }
        ising.h[i] = ((next() % 17) as f64 - 8.0) / 16.0;
    }
    FixedIsing::new(&ising, Format::STANDARD, Scaling::Exact).unwrap()
}

/// Runs the `pbit` binary with `args`; its exit status and output, whatever they are.
pub fn pbit(args: &[&str]) -> Output {
    Command::new(pbit_bin())
        .args(args)
        .output()
        .expect("run pbit")
}

/// Runs `pbit` and asserts it succeeded (the failure message carries its stderr).
pub fn ok(args: &[&str]) -> Output {
    let out = pbit(args);
    assert!(
        out.status.success(),
        "pbit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `pbit`, asserts it failed with `needle` in its stderr and did not panic.
pub fn fails_with(args: &[&str], needle: &str) {
    let out = pbit(args);
    assert!(!out.status.success(), "pbit {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "pbit {args:?}: stderr {err:?} lacks {needle:?}"
    );
    assert!(!err.contains("panicked"), "pbit {args:?} panicked: {err}");
}

/// A simulated board (`pbit sim serve`'s machine: the Verilated core top with the batch engine)
/// served on a pseudo-terminal, as a board on USB-serial; stopped on drop.
pub struct SimBoard {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The pty's path (`--port`).
    pub path: PathBuf,
    pub baud: u32,
}

impl SimBoard {
    /// Builds (or takes from the cache) and serves an n-p-bit board at `baud`; waits until it
    /// is ready (a first build takes minutes on a loaded machine).
    pub fn start(n: usize, baud: u32) -> SimBoard {
        use pbit_sim::board::{serve, ServeOptions, DEFAULT_CLOCK_HZ};
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel::<Result<PathBuf, String>>();
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let opts = ServeOptions {
                n,
                baud,
                clock_hz: DEFAULT_CLOCK_HZ,
                batch: true,
                sparse: None,
                lanes: None,
            };
            let ready = tx.clone();
            if let Err(e) = serve(opts, &s, move |p: &Path| {
                let _ = ready.send(Ok(p.to_path_buf()));
            }) {
                let _ = tx.send(Err(e.to_string()));
            }
        });
        let path = match rx.recv_timeout(std::time::Duration::from_secs(900)) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => panic!("the simulated board did not start: {e}"),
            Err(e) => panic!("the simulated board did not start: {e}"),
        };
        SimBoard {
            stop,
            thread: Some(thread),
            path,
            baud,
        }
    }

    /// The pty's path as a `--port` argument.
    pub fn port(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for SimBoard {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `pbit sim serve` as a child process (the flags before `sim serve`, e.g. `--machine sparse
/// --graph FILE`) on a pty; killed on drop.
pub struct Served {
    child: std::process::Child,
    /// The tty it printed (`--port`).
    pub port: String,
}

impl Served {
    pub fn start(flags: &[&str]) -> Served {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(pbit_bin())
            .args(flags)
            .args(["sim", "serve"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("run pbit sim serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().to_string();
        assert!(!port.is_empty(), "pbit sim serve printed no tty");
        Served { child, port }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
