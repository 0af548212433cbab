#!/usr/bin/env bash
# The full ULX3S build (N = 256, the board's profile): core top + shell, yosys, nextpnr-ecp5,
# ecppack, then the report's checks (bitstream written, nextpnr's timing verdict PASS at the
# 25 MHz clock and consistent with its Fmax and slack). Not part of scripts/test-all.sh: ~10
# minutes of CPU, 30-40 minutes of wall time on a loaded 2-core machine. Prints PASS or FAIL
# and exits 0 or 1. Needs the ECP5 tools (scripts/test-all.sh installs them in a venv).
set -uo pipefail
cd "$(dirname "$0")/.."
export PBIT_YOWASP_VENV="${PBIT_YOWASP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pbit/yowasp-venv}"
if cargo test --release -p pbit-boards --test build -- --ignored --exact ulx3s_profile_build_meets_timing --nocapture; then
  echo "PASS: ULX3S N = 256 builds to a bitstream and meets timing"
  exit 0
else
  echo "FAIL: ULX3S N = 256 (see the test output above)"
  exit 1
fi
