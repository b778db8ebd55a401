# Shared settings for the .ci scripts (sourced, not run).
# One target directory for every clone on this machine, so a fresh clone
# (as CI makes) reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/nexus/target}"
export NEXUS_PLUGIN_DIR="${NEXUS_PLUGIN_DIR:-$CARGO_TARGET_DIR/wasm32-wasip2/plugin}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
step() { printf '\n==> %s\n' "$*"; }
# Runs a command as root (directly when already root, else with sudo).
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
