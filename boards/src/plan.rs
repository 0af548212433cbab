//! A build plan: the files to write and the commands to run, made (and every tool checked)
//! before anything runs, printable as a shell script, then run step by step.

use crate::board::{Board, Family};
use crate::pll::{core_clock, mhz_text, ClockError, CoreClock};
use crate::report::{parse_nextpnr_log, Report};
use crate::shell::shell_verilog;
use crate::tools::{self, ToolError};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    Core(#[from] pbit_hdl::CoreTopError),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error("cannot generate the sparse machine: {0}")]
    Sparse(String),
    #[error("cannot write {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("cannot start {program}: {reason}")]
    Spawn { program: PathBuf, reason: String },
    #[error("{step} failed ({status}); see {log}{detail}")]
    StepFailed {
        step: &'static str,
        status: String,
        log: PathBuf,
        detail: String,
    },
    #[error("the {n}-p-bit machine does not fit the {board}: {detail}; see {log}")]
    DoesNotFit {
        board: &'static str,
        n: usize,
        detail: String,
        log: PathBuf,
        /// What nextpnr reported before it gave up (utilisation against the device).
        report: Box<Report>,
    },
}

/// What to build.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOptions {
    pub n: usize,
    pub baud: u32,
    /// The core clock asked for (`--clock-mhz`): the board's PLL makes the nearest frequency
    /// it can ([`crate::pll`]); None: the oscillator, no PLL.
    pub clock_mhz: Option<f64>,
    pub out_dir: PathBuf,
    /// Run yosys and nextpnr under `nice -n 19` (other work on the machine keeps its cores).
    pub nice: bool,
    /// nextpnr's placement seed.
    pub seed: u32,
    /// A sparse machine for this graph and maximum degree instead of the dense one (`n` is
    /// then the graph's).
    pub sparse: Option<(pbit_spec::sparse::SparseGraph, usize)>,
    /// The sparse machine's update lanes (None: one update cell per p-bit).
    pub lanes: Option<usize>,
    /// The sparse machine's on-chip statistics: counter bits, None (the default): none.
    pub stats: Option<u32>,
    /// The sparse machine's couplings in block-RAM banks (two-stage lanes; default: LUT RAM).
    pub coupling_banks: bool,
    /// nextpnr's router (`--router`): router1, its default, or router2, which routes the
    /// 512-p-bit sparse build (75% of the ECP5-85F) in minutes where router1 took over an hour.
    pub router: Router,
}

/// nextpnr's routing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Router {
    #[default]
    Router1,
    Router2,
}

impl Router {
    /// The name nextpnr takes.
    pub fn name(self) -> &'static str {
        match self {
            Router::Router1 => "router1",
            Router::Router2 => "router2",
        }
    }
}

impl BuildOptions {
    /// The board's default N and baud, `out_dir`, niced, seed 1.
    pub fn defaults(board: &Board, out_dir: impl Into<PathBuf>) -> Self {
        BuildOptions {
            n: board.default_n,
            baud: board.default_baud,
            clock_mhz: None,
            out_dir: out_dir.into(),
            nice: true,
            seed: 1,
            sparse: None,
            lanes: None,
            stats: None,
            coupling_banks: false,
            router: Router::Router1,
        }
    }
}

/// One command of the plan, run in `dir` (the yowasp tools see only their working
/// directory, so every file is named relative to it); its output goes to `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub dir: PathBuf,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub log: PathBuf,
}

impl Step {
    /// The step as a shell command line.
    pub fn command_line(&self) -> String {
        let quote = |s: &str| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,".contains(c))
            {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        };
        let mut words = vec![quote(&self.program.display().to_string())];
        words.extend(self.args.iter().map(|a| quote(a)));
        let log = self.log.file_name().unwrap_or_default().to_string_lossy();
        format!(
            "(cd {} && {} > {} 2>&1)",
            quote(&self.dir.display().to_string()),
            words.join(" "),
            quote(&log)
        )
    }
}

/// Files and commands of one board build.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub board: &'static Board,
    pub options: BuildOptions,
    /// The clock the core runs at: the core top is generated for it (UART divisor, HELLO),
    /// nextpnr times it and the report quotes it.
    pub clock: CoreClock,
    /// Files written before the first step: the core top, the shell, the pin file.
    pub files: Vec<(PathBuf, String)>,
    pub steps: Vec<Step>,
    pub bitstream: PathBuf,
}

fn nice_wrap(nice: bool, program: PathBuf, args: Vec<String>) -> (PathBuf, Vec<String>) {
    match (nice, tools::find("nice")) {
        (true, Some(nice)) => {
            let mut a = vec![
                "-n".to_string(),
                "19".to_string(),
                program.display().to_string(),
            ];
            a.extend(args);
            (nice, a)
        }
        _ => (program, args),
    }
}

impl BuildPlan {
    /// Plans the build of `board` with `options`: generates the Verilog (refusing an
    /// unsupported N or a baud rate the clock cannot make) and locates every tool first.
    pub fn new(board: &'static Board, options: BuildOptions) -> Result<Self, BuildError> {
        let (yosys, nextpnr, packer) = match board.family {
            Family::Ecp5 => (tools::YOSYS_ECP5, tools::NEXTPNR_ECP5, tools::ECPPACK),
            Family::Ice40 => (tools::YOSYS_ICE40, tools::NEXTPNR_ICE40, tools::ICEPACK),
        };
        // a clock the PLL cannot make is refused before the tools are looked for
        let clock = core_clock(board, options.clock_mhz)?;
        let (yosys, nextpnr, packer) = (yosys.locate()?, nextpnr.locate()?, packer.locate()?);
        let core = match &options.sparse {
            Some((graph, d)) => {
                // boards leave the RNG and field read-back multiplexers out (tests only)
                let opts = pbit_hdl::sparse::SparseOptions {
                    max_degree: *d,
                    readback: false,
                    lanes: options.lanes,
                    stats: options.stats,
                    coupling_banks: options.coupling_banks,
                };
                pbit_hdl::core_top::emit_sparse_core_top(graph, &opts, clock.hz, options.baud)
                    .map_err(|e| BuildError::Sparse(e.to_string()))?
                    .0
            }
            None => pbit_hdl::emit_core_top(options.n, clock.hz, options.baud, board.batch)?,
        };
        let dir = &options.out_dir;
        let p = |name: &str| dir.join(name);
        let files = vec![
            (p("core.v"), core),
            (p("shell.v"), shell_verilog(board, &clock)),
            (p(board.constraints_file), board.constraints.to_string()),
        ];
        // the tools run in `dir`: files by bare name
        let s = |x: &Path| {
            x.file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default()
        };
        let json = p("pbit.json");
        // -spram: the UP5K's threshold page table (a single-port 2^16-word RAM) goes into its
        // four SPRAMs, leaving the 30 block RAMs to J, the generators and the link
        // PBIT_ICE40: the sparse core asks for its page store in an SPRAM there (an attribute
        // the ECP5 flow has no memory for)
        // -abc9 (ECP5): ABC's timing-driven mapper with the carry chains as boxes; on the
        // 86-lane glass it maps 39,491 LUT4 and 3,661 CCU2C where the default ABC pass took
        // 45,061 and 3,902 (yosys 0.23), ≈ 6,000 of the ECP5-85F's 83,640 LUT sites
        let (synth, defines) = match board.family {
            Family::Ecp5 => ("synth_ecp5 -abc9", ""),
            Family::Ice40 => ("synth_ice40 -spram", "-DPBIT_ICE40 "),
        };
        let script = format!(
            "read_verilog {defines}{} {}; {synth} -top {} -json {}; stat",
            s(&p("core.v")),
            s(&p("shell.v")),
            board.shell_top,
            s(&json)
        );
        let (prog, args) = nice_wrap(options.nice, yosys, vec!["-p".into(), script]);
        let mut steps = vec![Step {
            name: "synthesis (yosys)",
            dir: dir.clone(),
            program: prog,
            args,
            log: p("yosys.log"),
        }];
        let mut args: Vec<String> = board.nextpnr_device.iter().map(|a| a.to_string()).collect();
        // the core clock's target (ECP5: the .lpf constrains the oscillator pin at 25 MHz and
        // nextpnr derives the PLL output's constraint from the dividers, which is this same
        // frequency; --freq covers any clock left unconstrained)
        let freq = mhz_text(clock.mhz);
        let (constraint_flag, out_flag, routed) = match board.family {
            Family::Ecp5 => ("--lpf", "--textcfg", p("pbit.config")),
            Family::Ice40 => ("--pcf", "--asc", p("pbit.asc")),
        };
        args.extend([
            "--json".into(),
            s(&json),
            constraint_flag.into(),
            s(&p(board.constraints_file)),
            out_flag.into(),
            s(&routed),
            "--freq".into(),
            freq,
            "--timing-allow-fail".into(),
            "--seed".into(),
            options.seed.to_string(),
            // every register's arrival time, beside the log's one critical path: a build that
            // misses its clock is fixed from these (docs/boards.md, "Reading a build's timing")
            "--report".into(),
            s(&p("report.json")),
            "--detailed-timing-report".into(),
        ]);
        if options.router != Router::Router1 {
            args.extend(["--router".into(), options.router.name().into()]);
        }
        let (prog, args) = nice_wrap(options.nice, nextpnr, args);
        steps.push(Step {
            name: "place and route (nextpnr)",
            dir: dir.clone(),
            program: prog,
            args,
            log: p("nextpnr.log"),
        });
        let bitstream = match board.family {
            Family::Ecp5 => p("pbit.bit"),
            Family::Ice40 => p("pbit.bin"),
        };
        let args = match board.family {
            Family::Ecp5 => vec!["--compress".into(), s(&routed), s(&bitstream)],
            Family::Ice40 => vec![s(&routed), s(&bitstream)],
        };
        steps.push(Step {
            name: "bitstream (pack)",
            dir: dir.clone(),
            program: packer,
            args,
            log: p("pack.log"),
        });
        Ok(BuildPlan {
            board,
            options,
            clock,
            files,
            steps,
            bitstream,
        })
    }

    /// The plan as a shell script (files listed, commands runnable as printed once the
    /// files are written).
    pub fn script(&self) -> String {
        let mut out = format!(
            "# pbit build: {} ({}), N = {}, {} baud, core clock {} MHz ({})\n",
            self.board.name,
            self.board.device,
            self.options.n,
            self.options.baud,
            mhz_text(self.clock.mhz),
            match &self.clock.pll {
                None => "the oscillator, no PLL".to_string(),
                Some(p) => format!(
                    "{} from the {} MHz oscillator, VCO {} MHz",
                    p.primitive(),
                    mhz_text(self.board.osc_hz as f64 / 1e6),
                    mhz_text(p.vco_mhz())
                ),
            }
        );
        for (path, text) in &self.files {
            out.push_str(&format!(
                "# writes {} ({} bytes)\n",
                path.display(),
                text.len()
            ));
        }
        for step in &self.steps {
            out.push_str(&format!("# {}\n{}\n", step.name, step.command_line()));
        }
        out
    }

    /// Writes the files and runs the steps, calling `progress` before each; returns the
    /// report, or [`BuildError::DoesNotFit`] (with the utilisation) when nextpnr gives up.
    pub fn run(&self, progress: &mut dyn FnMut(&Step)) -> Result<Report, BuildError> {
        let io = |p: &Path, e: std::io::Error| BuildError::Io {
            path: p.to_path_buf(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&self.options.out_dir).map_err(|e| io(&self.options.out_dir, e))?;
        for (path, text) in &self.files {
            std::fs::write(path, text).map_err(|e| io(path, e))?;
        }
        let mut seconds = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            progress(step);
            let log = std::fs::File::create(&step.log).map_err(|e| io(&step.log, e))?;
            let err = log.try_clone().map_err(|e| io(&step.log, e))?;
            let t0 = Instant::now();
            let status = std::process::Command::new(&step.program)
                .args(&step.args)
                .current_dir(&step.dir)
                .stdin(std::process::Stdio::null())
                .stdout(log)
                .stderr(err)
                .status()
                .map_err(|e| BuildError::Spawn {
                    program: step.program.clone(),
                    reason: e.to_string(),
                })?;
            seconds.push((step.name.to_string(), t0.elapsed().as_secs_f64()));
            if !status.success() {
                let text = std::fs::read_to_string(&step.log).unwrap_or_default();
                if i == 1 {
                    let parsed = parse_nextpnr_log(&text);
                    let over: Vec<String> = parsed
                        .utilisation
                        .iter()
                        .filter(|u| u.used > u.available)
                        .map(|u| format!("{} {}/{}", u.cell, u.used, u.available))
                        .collect();
                    if !over.is_empty() || text.contains("no BELs remaining") {
                        let yosys = std::fs::read_to_string(&self.steps[0].log).unwrap_or_default();
                        let mut report = Report::from_logs(
                            self.board,
                            self.options.n,
                            self.options.baud,
                            &parsed,
                            &yosys,
                        );
                        report.step_seconds = seconds;
                        self.describe(&mut report);
                        let detail = if over.is_empty() {
                            parsed.errors.join("; ")
                        } else {
                            format!("needs {}", over.join(", "))
                        };
                        return Err(BuildError::DoesNotFit {
                            board: self.board.name,
                            n: self.options.n,
                            detail,
                            log: step.log.clone(),
                            report: Box::new(report),
                        });
                    }
                }
                let last: Vec<&str> = text.lines().rev().take(3).collect();
                let detail = last.into_iter().rev().collect::<Vec<_>>().join(" | ");
                return Err(BuildError::StepFailed {
                    step: step.name,
                    status: status.to_string(),
                    log: step.log.clone(),
                    detail: if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    },
                });
            }
        }
        let nextpnr = std::fs::read_to_string(&self.steps[1].log).unwrap_or_default();
        let yosys = std::fs::read_to_string(&self.steps[0].log).unwrap_or_default();
        let mut report = Report::from_logs(
            self.board,
            self.options.n,
            self.options.baud,
            &parse_nextpnr_log(&nextpnr),
            &yosys,
        );
        report.bitstream = Some(self.bitstream.clone());
        report.step_seconds = seconds;
        self.describe(&mut report);
        Ok(report)
    }

    /// The report at the build's core clock; a sparse build's names the sparse machine (n,
    /// colours, degree, updates/clock).
    fn describe(&self, report: &mut Report) {
        report.set_core_clock(&self.clock);
        if let Some((graph, d)) = &self.options.sparse {
            let opts = pbit_hdl::sparse::SparseOptions {
                max_degree: *d,
                readback: false,
                lanes: self.options.lanes,
                stats: self.options.stats,
                coupling_banks: self.options.coupling_banks,
            };
            if let Ok(info) = pbit_hdl::sparse::sparse_info(graph, &opts) {
                report.set_sparse(
                    info.n,
                    info.colours,
                    info.max_degree,
                    info.updates_per_clock(),
                );
                report.lanes = info.lanes;
                report.clocks_per_sweep = Some(info.clocks_per_sweep);
                report.lane_stages = Some(info.lane_stages);
            }
        }
    }
}

/// The update lanes a board's sparse build takes by default (`pbit hdl build --machine sparse`
/// without `--lanes`): on the ULX3S, a quarter of the largest colour class (4 clocks a phase for
/// the largest colour, so lane memories apply; the 512-p-bit degree-6 glass then takes 64 lanes,
/// 75% of the ECP5-85F's LUTs when routed, docs/boards.md); on the iCEBreaker, two lanes (the
/// UP5K holds a 32-p-bit ring in two lanes, its data in block RAM, with 224 LCs to spare).
pub fn default_sparse_lanes(
    board: &Board,
    graph: &pbit_spec::sparse::SparseGraph,
) -> Option<usize> {
    let mut sizes = vec![0usize; graph.colour_count().max(1) as usize];
    for &c in graph.colours() {
        sizes[c as usize] += 1;
    }
    let largest = sizes.into_iter().max().unwrap_or(1).max(1);
    Some(match board.family {
        Family::Ecp5 => largest.div_ceil(4),
        Family::Ice40 => largest.min(2),
    })
}
