#!/usr/bin/env bash
# Installs what the test suite needs on a Debian/Ubuntu machine and runs every check CI runs:
# formatting, clippy with -D warnings, the static musl collector build, and the whole test suite
# (unit, bundle-format, collector, sandboxed end-to-end scenarios). Run as root: the scenario tests
# build sandboxed hosts in namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: run as root (sudo): the sandboxed scenario tests need namespaces and mounts" >&2
  exit 2
fi

step() { printf '\n== %s\n' "$*"; }

step "system packages"
export DEBIAN_FRONTEND=noninteractive
packages=(musl-tools gcc libc6-dev iptables nftables iproute2 e2fsprogs procps util-linux openssh-client shellcheck graphviz chromium)
# issue 14: rpm databases and journal files for the fixtures are written by the real tools
packages+=(rpm db5.3-util python3 systemd-journal-remote)
# issue 19: the fleet playbook's tests run namespace hosts with their own sshd
packages+=(openssh-server)
# issue 17: the completion and man-page tests load the scripts in zsh and render the page with groff
packages+=(zsh groff-base)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "python: stix2-validator (the STIX export is checked against the OASIS schemas)"
python3 -c 'import stix2validator' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check stix2-validator

step "python: ansible-core (the fleet playbook's tests run it)"
command -v ansible-playbook >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check ansible-core

step "rust components"
rustup target add x86_64-unknown-linux-musl >/dev/null
rustup component add clippy rustfmt >/dev/null 2>&1 || true

# Line tables are enough for a test's backtrace; full debug info made every test binary ~125 MB (~500 MB
# with the yara feature), and linking and writing ~35 of them was a large share of CI's time and disk.
export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "static collector (musl)"
cargo build --release --locked --target x86_64-unknown-linux-musl -p minetrace-collector

step "cargo test --workspace"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

# One closing line over every test binary (the last one cargo prints is often a crate's empty doc-tests).
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { if (i > 0) printf "\n%d tests ignored", i; printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"
