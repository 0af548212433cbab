//! End to end over the wire: the host's serial backend against the simulated board (the
//! Verilated core top: machine, UART and command decoder, bits on the wire simulated) served
//! on a pseudo-terminal, exactly as a board on USB-serial. Results must be the model's, bit
//! for bit; injected byte faults must be detected or retried, and the board must answer the
//! next command. Needs verilator and g++ (scripts/test-all.sh installs them); without them the
//! board's error names the install command and these tests fail saying so.

use pbit_host::backend::{AnnealJob, Backend, ModelBackend, RelaxJob, SampleJob};
use pbit_host::link::{Link, LinkError};
use pbit_host::serial::SerialBackend;
use pbit_host::transport::{Faults, FaultyTransport, SerialTransport, Transport};
use pbit_model::run::{Pages, SampleSpec};
use pbit_model::schedule::Shape;
use pbit_model::{FixedIsing, Ising, Scaling, Schedule};
use pbit_sim::board::{serve, ServeOptions, DEFAULT_CLOCK_HZ};
use pbit_spec::{Beta, Format, ThresholdPage};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The simulated board runs slower than real time: reply timeouts are stretched.
const TIMEOUT_SCALE: u32 = 20;

/// The board builds are shared by the tests of this file: one at a time.
static BOARDS: Mutex<()> = Mutex::new(());

/// A simulated board served on a pty, stopped on drop.
struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
    baud: u32,
}

impl Server {
    fn start(n: usize, baud: u32) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Result<PathBuf, String>>();
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let opts = ServeOptions {
                n,
                baud,
                clock_hz: DEFAULT_CLOCK_HZ,
            };
            let ready = tx.clone();
            if let Err(e) = serve(opts, &s, move |p: &Path| {
                let _ = ready.send(Ok(p.to_path_buf()));
            }) {
                let _ = tx.send(Err(e.to_string()));
            }
        });
        let path = match rx.recv_timeout(Duration::from_secs(900)) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => panic!("the simulated board did not start: {e}"),
            Err(e) => panic!("the simulated board did not start: {e}"),
        };
        Server {
            stop,
            thread: Some(thread),
            path,
            baud,
        }
    }
    fn port(&self) -> String {
        self.path.display().to_string()
    }
    fn transport(&self) -> Box<dyn Transport> {
        Box::new(SerialTransport::open(&self.port(), self.baud).unwrap())
    }
    fn backend(&self) -> SerialBackend {
        let link = Link::connect_scaled(self.transport(), TIMEOUT_SCALE).unwrap();
        SerialBackend::from_link(link).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A dense random instance of `n` p-bits with values on the standard grid.
fn instance(n: usize, seed: u64) -> FixedIsing {
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

fn samples(b: &mut dyn Backend, job: &SampleJob) -> Result<Vec<(Vec<bool>, i64)>, String> {
    let mut got = Vec::new();
    b.sample(job, &mut |s, e| got.push((s.to_vec(), e)))
        .map_err(|e| e.to_string())?;
    Ok(got)
}

/// Sample (with clamps), anneal and relax jobs on the board equal the model's.
fn jobs_match_the_model(server: &Server, n: usize, seed: u64) {
    let mut board = server.backend();
    assert!(board.device().n as usize >= n);
    let mut model = ModelBackend::default();
    let p = instance(n, seed);
    let page = ThresholdPage::build(&p.format, Beta::from_f64(0.6).unwrap());
    let clamps = [(0, true), (n - 1, false)];
    let job = SampleJob {
        problem: &p,
        clamps: &clamps,
        page: &page,
        seed,
        spec: SampleSpec {
            burn_in: 5,
            sweeps: 60,
            every: 2,
        },
    };
    let want = samples(&mut model, &job).unwrap();
    assert_eq!(want.len(), 30);
    assert_eq!(samples(&mut board, &job).unwrap(), want, "sample n={n}");
    assert!(want.iter().all(|(s, _)| s[0] && !s[n - 1]), "clamps hold");

    let schedule = Schedule::anneal(0.1, 2.0, 50, Shape::Geometric, 4).unwrap();
    let pages = Pages::build(&p, &schedule);
    let job = AnnealJob {
        problem: &p,
        clamps: &clamps,
        pages: &pages,
        seed,
        reads: 3,
    };
    let want = model.anneal(&job, &|_| {}).unwrap();
    assert_eq!(board.anneal(&job, &|_| {}).unwrap(), want, "anneal n={n}");

    let initial: Vec<Vec<bool>> = (0..3)
        .map(|c| (0..n).map(|i| (i * 7 + c) % 3 == 0).collect())
        .collect();
    let job = RelaxJob {
        problem: &p,
        clamped: &[1, 2],
        page: &page,
        seed,
        first_read: 9,
        initial: &initial,
        sweeps: 4,
    };
    let run = |b: &mut dyn Backend| {
        let mut out = Vec::new();
        b.relax(&job, &mut |_, s| out.push(s.to_vec())).unwrap();
        out
    };
    assert_eq!(run(&mut board), run(&mut model), "relax n={n}");
    assert!(board.clocks > 0);
}

#[test]
fn jobs_over_the_wire_equal_the_model_for_several_n_and_bauds() {
    let _g = BOARDS.lock().unwrap_or_else(|e| e.into_inner());
    let t = Instant::now();
    let server = Server::start(32, 1_000_000);
    jobs_match_the_model(&server, 32, 1);
    jobs_match_the_model(&server, 13, 2);
    drop(server);
    let server = Server::start(64, 115_200);
    jobs_match_the_model(&server, 40, 3);
    eprintln!("jobs over the wire: {:.1} s", t.elapsed().as_secs_f64());
}

#[test]
fn pbit_sample_over_serial_is_byte_identical_to_the_model() {
    let _g = BOARDS.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(32, 1_000_000);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serial-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sg2d_4x4_h.txt");
    let run = |backend: &str, out: &Path| {
        let mut args = vec!["--backend", backend];
        if backend == "serial" {
            args.extend(["--port", server.path.to_str().unwrap()]);
        }
        args.extend([
            "sample",
            example.to_str().unwrap(),
            "--beta",
            "0.7",
            "--sweeps",
            "300",
            "--every",
            "3",
            "--burn-in",
            "7",
            "--seed",
            "11",
            "--clamp",
            "2=+1,9=-1",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_pbit"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pbit {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let (m, s) = (dir.join("model.txt"), dir.join("serial.txt"));
    run("model", &m);
    run("serial", &s);
    let (mt, st) = (std::fs::read(&m).unwrap(), std::fs::read(&s).unwrap());
    assert_eq!(mt.len(), 100 * 17);
    assert!(mt == st, "model and serial sample files differ");

    // pbit info on the same board
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pbit"))
        .args(["info", "--port", server.path.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["n"], 32);
    assert_eq!(v["spec_matches"], true);
    assert_eq!(v["device_baud"], 1_000_000);
}

#[test]
fn injected_faults_on_the_simulated_board_are_detected_or_retried() {
    let _g = BOARDS.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(32, 1_000_000);
    let p = instance(20, 5);
    let page = ThresholdPage::build(&p.format, Beta::from_f64(0.5).unwrap());
    let job = SampleJob {
        problem: &p,
        clamps: &[],
        page: &page,
        seed: 5,
        spec: SampleSpec {
            burn_in: 0,
            sweeps: 40,
            every: 1,
        },
    };
    let want = samples(&mut ModelBackend::default(), &job).unwrap();
    let (mut ok, mut detected, mut faults) = (0, 0, 0);
    for round in 0..8u64 {
        let t = SerialTransport::open(&server.port(), server.baud).unwrap();
        // ~2 faults in the ~13 kB of a round; a 1 kB frame then fails one send in seven, so
        // five failed sends of one request (a Timeout) are rare
        let rate = Faults {
            corrupt: 5e-5,
            drop: 5e-5,
            duplicate: 5e-5,
        };
        let faulty = FaultyTransport::new(t, round, rate, rate);
        let counts = faulty.counts();
        let link = Link::connect_scaled(Box::new(faulty) as Box<dyn Transport>, 2);
        let mut b = match link
            .map_err(|e| e.to_string())
            .and_then(|l| SerialBackend::from_link(l).map_err(|e| e.to_string()))
        {
            Ok(b) => b,
            Err(e) => panic!("round {round}: connect failed: {e}"),
        };
        match samples(&mut b, &job) {
            Ok(got) => {
                assert_eq!(got, want, "round {round}: a faulty link gave wrong samples");
                ok += 1;
            }
            Err(e) => {
                assert!(
                    e.contains("a sample was lost") || e.contains("malformed"),
                    "round {round}: {e}; link {:?}; faults {:?}",
                    b.link().stats,
                    counts.lock().unwrap()
                );
                detected += 1;
            }
        }
        faults += counts.lock().unwrap().total();
    }
    eprintln!("faulty rounds: {ok} exact, {detected} detected; {faults} byte faults injected");
    assert!(faults > 0);
    // the board answers the next command on a clean link, with the model's samples
    let mut b = server.backend();
    assert_eq!(samples(&mut b, &job).unwrap(), want);
    drop(b);
    let mut link = Link::connect_scaled(server.transport(), TIMEOUT_SCALE)
        .expect("the board answers HELLO after the faults");
    let _ = link.status().map_err(|e: LinkError| e.to_string()).unwrap();
}

/// Runs `pbit learn` on `backend` ("model", or "serial" on `port`) and returns the learned
/// file without its comment lines (they name the backend) and the JSON report.
fn learn_run(backend: &str, port: Option<&Path>, args: &[&str], out: &Path) -> serde_json::Value {
    let mut all = vec!["--backend", backend];
    if let Some(p) = port {
        all.extend(["--port", p.to_str().unwrap()]);
    }
    all.push("learn");
    all.extend_from_slice(args);
    all.extend(["--out", out.to_str().unwrap(), "--json"]);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pbit"))
        .args(&all)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pbit {all:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn without_comments(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pbit learn` over the wire learns exactly what the model learns (the same couplings, the
/// same KL after every epoch), fully visible and with hidden units (a clamped positive phase,
/// PCD, batches), and reports its link traffic per step.
#[test]
fn pbit_learn_over_serial_equals_the_model() {
    let _g = BOARDS.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(32, 1_000_000);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serial-learn");
    std::fs::create_dir_all(&dir).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/learn/full_adder.txt");
    let data = data.to_str().unwrap();
    let runs: [&[&str]; 2] = [
        &[data, "--epochs", "3", "--chains", "3", "--seed", "4"],
        &[
            data,
            "--epochs",
            "2",
            "--chains",
            "2",
            "--hidden",
            "2",
            "--topology",
            "full",
            "--method",
            "pcd",
            "--k",
            "2",
            "--batch",
            "3",
            "--seed",
            "5",
        ],
    ];
    for (k, args) in runs.iter().enumerate() {
        let (m, s) = (
            dir.join(format!("model{k}.txt")),
            dir.join(format!("serial{k}.txt")),
        );
        let rm = learn_run("model", None, args, &m);
        let rs = learn_run("serial", Some(&server.path), args, &s);
        assert_eq!(
            without_comments(&m),
            without_comments(&s),
            "run {k}: learned files"
        );
        assert_eq!(
            rm["kl_per_epoch"], rs["kl_per_epoch"],
            "run {k}: KL per epoch"
        );
        assert_eq!(rm["sweeps"], rs["sweeps"]);
        assert!(rm.get("link").is_none(), "the model has no link");
        // the serial report counts the traffic of the first step and of the later ones
        let link = &rs["link"];
        assert_eq!(link["baud"], 1_000_000);
        let first = &link["first_step"];
        assert_eq!(first["steps"], 1);
        assert!(first["kinds"]["write_pages"]["words"].as_f64().unwrap() >= 2048.0);
        assert!(first["round_trips"].as_f64().unwrap() > 0.0);
        assert!(link["later_steps"]["steps"].as_u64().unwrap() >= 1);
        eprintln!(
            "learn run {k}: first step {} round trips, {} bytes; later {} round trips, {} bytes out, {} in",
            first["round_trips"],
            first["bytes_out"],
            link["later_steps"]["round_trips"],
            link["later_steps"]["bytes_out"],
            link["later_steps"]["bytes_in"]
        );
    }
}
