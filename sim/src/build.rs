//! Verilates the machine's Verilog and compiles it with a C ABI shim into a shared object, at
//! run time, into a cache keyed by the Verilog, the shim and `verilator --version`.

use crate::SimError;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHIM: &str = include_str!("shim/shim.cpp");
/// Waveform support any shim can include (compiled in only for traced builds).
const TRACE_H: &str = include_str!("shim/trace.h");
const WRAPPER: &str = include_str!("shim/wrapper.v");

/// Verilator flags. `-Wno-fatal -Wno-WIDTH`: rust-hdl writes 32-bit literals into narrower
/// signals (the values fit; docs/hdl.md lists the lint waivers).
const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--top-module",
    "pbit_sim_top",
    "--prefix",
    "Vtop",
    "-Wno-fatal",
    "-Wno-WIDTH",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "--noassert",
];

/// The command that installs Verilator on Debian, named in every error about it.
pub const INSTALL_HINT: &str = "apt-get install verilator";

fn fnv1a64(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= b as u64;
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Runs a tool; a missing one is [`SimError::ToolMissing`] naming its install command.
pub(crate) fn run_tool(cmd: &mut Command, what: &str) -> Result<String, SimError> {
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SimError::ToolMissing {
                tool: what.to_string(),
                hint: if what == "verilator" {
                    INSTALL_HINT
                } else {
                    "apt-get install g++"
                },
            }
        } else {
            SimError::Io(format!("running {what}: {e}"))
        }
    })?;
    if !out.status.success() {
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.len() > 4000 {
            stderr.truncate(4000);
        }
        return Err(SimError::ToolFailed {
            tool: what.to_string(),
            status: out.status.to_string(),
            stderr,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `verilator --version`, or the error naming the install command.
pub fn verilator_version() -> Result<String, SimError> {
    Ok(
        run_tool(Command::new("verilator").arg("--version"), "verilator")?
            .trim()
            .to_string(),
    )
}

/// The cache root: `$PBIT_CACHE_DIR`, else `$XDG_CACHE_HOME/pbit/verilator`, else
/// `~/.cache/pbit/verilator`, else the system temporary directory.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("PBIT_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("pbit").join("verilator");
    }
    if let Some(d) = std::env::var_os("HOME") {
        return PathBuf::from(d)
            .join(".cache")
            .join("pbit")
            .join("verilator");
    }
    std::env::temp_dir().join("pbit-verilator")
}

/// A waveform file's format, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// Value change dump (text; any waveform viewer).
    Vcd,
    /// GTKWave's compressed format.
    Fst,
}

impl TraceFormat {
    fn verilator_flag(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "--trace",
            TraceFormat::Fst => "--trace-fst",
        }
    }
    fn define(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "-DPBIT_TRACE_VCD",
            TraceFormat::Fst => "-DPBIT_TRACE_FST",
        }
    }
    fn name(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "vcd",
            TraceFormat::Fst => "fst",
        }
    }
}

/// A waveform of a run: the file (`.vcd` or `.fst`) and how many clocks it covers from the
/// machine's instantiation (bus cycles included). Traced machines are separate builds (their
/// own cache entries): a machine built without a trace has no tracing code at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub path: PathBuf,
    pub format: TraceFormat,
    pub clocks: u64,
}

impl Trace {
    /// The format follows the extension of `path`: `.vcd` or `.fst`.
    pub fn new(path: impl Into<PathBuf>, clocks: u64) -> Result<Trace, SimError> {
        let path = path.into();
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("vcd") => TraceFormat::Vcd,
            Some(e) if e.eq_ignore_ascii_case("fst") => TraceFormat::Fst,
            _ => {
                return Err(SimError::Io(format!(
                    "trace file {}: the name must end in .vcd or .fst",
                    path.display()
                )))
            }
        };
        if clocks == 0 {
            return Err(SimError::Io("--trace-clocks must be at least 1".into()));
        }
        Ok(Trace {
            path,
            format,
            clocks,
        })
    }
}

/// Builds (or finds in the cache) the shared object of the machine's `verilog`; returns its path.
pub fn build_shared_object(verilog: &str) -> Result<PathBuf, SimError> {
    build_shared_object_with(verilog, None)
}

/// [`build_shared_object`], with tracing in `trace` format compiled in (a separate cache entry).
pub fn build_shared_object_with(
    verilog: &str,
    trace: Option<TraceFormat>,
) -> Result<PathBuf, SimError> {
    build_cached(&Verilation {
        name: "machine",
        verilog: &[("wrapper.v", WRAPPER), ("top.v", verilog)],
        shim: SHIM,
        flags: VERILATOR_FLAGS,
        trace,
    })
}

/// What to Verilate into a shared object: Verilog files (name, text) in Verilator's order, the
/// C ABI shim, Verilator's flags, and a name for the cache entry and the library.
pub(crate) struct Verilation<'a> {
    pub name: &'a str,
    pub verilog: &'a [(&'a str, &'a str)],
    pub shim: &'a str,
    pub flags: &'a [&'a str],
    /// Compile tracing in (Verilator `--trace`/`--trace-fst`, the shim's `trace.h` enabled).
    pub trace: Option<TraceFormat>,
}

/// Builds (or finds in the cache) a shared object: the cache entry is keyed by the Verilog, the
/// shim, the flags, the name and `verilator --version`.
pub(crate) fn build_cached(b: &Verilation) -> Result<PathBuf, SimError> {
    let version = verilator_version()?;
    let mut flags: Vec<&str> = b.flags.to_vec();
    let name = match b.trace {
        Some(t) => {
            flags.push(t.verilator_flag());
            format!("{}-trace-{}", b.name, t.name())
        }
        None => b.name.to_string(),
    };
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (name, text) in b.verilog {
        fnv1a64(&mut h, name.as_bytes());
        fnv1a64(&mut h, text.as_bytes());
    }
    fnv1a64(&mut h, b.shim.as_bytes());
    fnv1a64(&mut h, TRACE_H.as_bytes());
    fnv1a64(&mut h, version.as_bytes());
    fnv1a64(&mut h, flags.join(" ").as_bytes());
    fnv1a64(&mut h, name.as_bytes());
    let dir = cache_root().join(format!("{name}-{h:016x}"));
    let so = dir.join(format!("libpbit_{name}.so"));
    if so.exists() {
        return Ok(so);
    }
    // build in a private directory, then rename it into place (concurrent builders race safely)
    let tmp = cache_root().join(format!("{name}-{h:016x}.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| SimError::Io(format!("{}: {e}", tmp.display())))?;
    let io = |p: &Path, e: std::io::Error| SimError::Io(format!("{}: {e}", p.display()));
    let mut files = Vec::new();
    for (name, text) in b.verilog {
        let f = tmp.join(name);
        std::fs::write(&f, text).map_err(|e| io(&f, e))?;
        files.push(f);
    }
    let shim = tmp.join("shim.cpp");
    std::fs::write(&shim, b.shim).map_err(|e| io(&shim, e))?;
    let trace_h = tmp.join("trace.h");
    std::fs::write(&trace_h, TRACE_H).map_err(|e| io(&trace_h, e))?;
    let obj = tmp.join("obj");
    run_tool(
        Command::new("verilator")
            .args(&flags)
            .arg("--Mdir")
            .arg(&obj)
            .args(&files),
        "verilator",
    )?;
    let root = run_tool(
        Command::new("verilator").args(["--getenv", "VERILATOR_ROOT"]),
        "verilator",
    )?
    .trim()
    .to_string();
    let include = Path::new(&root).join("include");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&obj)
        .map_err(|e| io(&obj, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
        .collect();
    sources.sort();
    sources.push(include.join("verilated.cpp"));
    sources.push(include.join("verilated_threads.cpp"));
    match b.trace {
        Some(TraceFormat::Vcd) => sources.push(include.join("verilated_vcd_c.cpp")),
        // includes GTKWave's fstapi, lz4 and fastlz itself; needs zlib
        Some(TraceFormat::Fst) => sources.push(include.join("verilated_fst_c.cpp")),
        None => {}
    }
    sources.push(shim.clone());
    // compile the units two at a time (the machines here have two cores), then link
    let mut objects = Vec::new();
    let mut pending: Vec<(std::process::Child, PathBuf)> = Vec::new();
    for (k, src) in sources.iter().enumerate() {
        let o = tmp.join(format!("u{k}.o"));
        let child = Command::new("g++")
            .args(["-c", "-O2", "-fPIC", "-std=c++17", "-w"])
            .args(
                b.trace
                    .map(|t| [t.define(), "-DVM_TRACE=1"])
                    .into_iter()
                    .flatten(),
            )
            .arg("-I")
            .arg(&tmp)
            .arg("-I")
            .arg(&obj)
            .arg("-I")
            .arg(&include)
            .arg("-I")
            .arg(include.join("vltstd"))
            .arg(src)
            .arg("-o")
            .arg(&o)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    SimError::ToolMissing {
                        tool: "g++".into(),
                        hint: "apt-get install g++",
                    }
                } else {
                    SimError::Io(format!("g++: {e}"))
                }
            })?;
        pending.push((child, src.clone()));
        objects.push(o);
        if pending.len() >= 2 || k + 1 == sources.len() {
            for (child, src) in pending.drain(..) {
                let out = child
                    .wait_with_output()
                    .map_err(|e| SimError::Io(format!("g++: {e}")))?;
                if !out.status.success() {
                    return Err(SimError::ToolFailed {
                        tool: format!("g++ {}", src.display()),
                        status: out.status.to_string(),
                        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    });
                }
            }
        }
    }
    let tmp_so = tmp.join(format!("libpbit_{name}.so"));
    run_tool(
        Command::new("g++")
            .arg("-shared")
            .args(&objects)
            .arg("-o")
            .arg(&tmp_so)
            .arg("-lpthread")
            .args((b.trace == Some(TraceFormat::Fst)).then_some("-lz")),
        "g++",
    )?;
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    std::fs::rename(&tmp_so, &so).map_err(|e| io(&so, e))?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(so)
}

/// Loads the Verilated shared object `so`.
pub(crate) fn load_library(so: &Path) -> Result<libloading::Library, SimError> {
    // SAFETY: `so` is a library this crate just built from its own C++ wrapper; loading it runs
    // no initialisers beyond the C++ runtime's
    unsafe { libloading::Library::new(so) }
        .map_err(|e| SimError::Load(format!("{}: {e}", so.display())))
}

/// The C function `name` of a library loaded by [`load_library`], as a function pointer `T`.
pub(crate) fn symbol<T: Copy>(lib: &libloading::Library, name: &[u8]) -> Result<T, SimError> {
    // SAFETY: `T` is the function-pointer type the wrapper declares for `name`
    unsafe {
        let s: libloading::Symbol<T> = lib.get(name).map_err(|e| SimError::Load(e.to_string()))?;
        Ok(*s)
    }
}
