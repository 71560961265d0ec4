#!/usr/bin/env bash
# The collector next to a shell baseline and, when UAC_DIR points at an extracted UAC release, UAC with a
# miner-focused profile, side by side in one run per case (docs/BENCHMARKS.md, "Collector: side by side").
#
#   quiet   the host's processes; empty tmpfs over /tmp, /var/tmp, /dev/shm, /run/shm, /root and /home,
#           with one ordinary home (dotfiles, an ssh key, a short history)
#   busy    the same, plus a busy host built here: a toolchain-like tree in a hidden home directory
#           (big ELF binaries, libraries, docs), a package-manager cache, a project tree with build
#           outputs, a build tree in /tmp, ~55,000 files in all; and a kit (ELF + script) in a hidden
#           home directory, which must come back copied
#   sleepers  N (default 10,000) sleeping processes in a fresh PID namespace, quiet masking
#
# What runs is what users run: the static musl minetrace-collect, default options (copies on).
# The baseline is ps, sha256sum of /proc/*/exe, ss -p, iptables-save, packed with tar | zstd.
# Needs: root, unshare, hyperfine, zstd, python3, the musl target.
#
#   bash collector/benches/compare_bench.sh            # RUNS=10 N=10000; UAC_DIR=/path/to/uac to add UAC
#   CASES="busy" RUNS=5 BIN_OVERRIDE=/path/to/minetrace-collect bash collector/benches/compare_bench.sh
#   RT=1 bash collector/benches/compare_bench.sh   # on a machine others load: see RT below
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10}
UAC_RUNS=${UAC_RUNS:-2}
N=${N:-10000}
UAC_DIR=${UAC_DIR:-}
# Cases to run (re-run one at a quieter moment): any of quiet busy sleepers.
CASES=${CASES:-quiet busy sleepers}
# RT=1: the timed commands (collector, baseline and UAC alike) run at SCHED_FIFO priority 10 (chrt),
# so other work on a shared machine cannot preempt them: close to an idle machine's wall times when
# the load comes from others' builds. Not an idle machine: caches and memory bandwidth are shared.
RT=${RT:-}
PRIO=""
if [ -n "$RT" ]; then PRIO="chrt -f 10"; fi
if [ -z "${BIN_OVERRIDE:-}" ]; then
  cargo build --release --locked --target x86_64-unknown-linux-musl -p minetrace-collector >/dev/null
  BIN=$PWD/target/x86_64-unknown-linux-musl/release/minetrace-collect
else
  BIN=$BIN_OVERRIDE
fi
OUT=$PWD/target/bench-compare
rm -rf "$OUT" && mkdir -p "$OUT"
# The binary may live under a masked directory: keep a copy beside the results.
cp "$BIN" "$OUT/minetrace-collect"
BIN=$OUT/minetrace-collect
if [ -n "$UAC_DIR" ]; then
  # UAC too (it may live under /tmp, which the cases mask); it checks for its bin/ folder.
  cp -a "$UAC_DIR" "$OUT/uac-release" && mkdir -p "$OUT/uac-release/bin"
  UAC_DIR=$OUT/uac-release
fi

cat > "$OUT/mask.sh" <<'EOS'
for d in /tmp /var/tmp /dev/shm /run/shm /root /home; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then mount -t tmpfs none "$d"; fi
done
# One ordinary home.
mkdir -p /root/.ssh /home/alice/.ssh
printf 'export PATH=$PATH:/usr/local/bin\nalias ll="ls -l"\n' > /root/.bashrc
printf 'ls\ncd /var/log\ntail -f syslog\n' > /root/.bash_history
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyBenchKeyBenchKeyBenchKeyBenchKe admin@laptop' > /root/.ssh/authorized_keys
cp /root/.bashrc /home/alice/.bashrc
EOS

# A busy host, deterministic: real ELF bytes (this host's own binaries, padded where a toolchain's are
# big), tens of thousands of small files.
cat > "$OUT/busy.sh" <<'EOS'
set -e
elf() { # elf SRC DEST MIB: a copy of SRC padded with MIB MiB of this host's own library code
  cp "$1" "$2"; chmod 755 "$2"
  if [ "$3" -gt 0 ]; then head -c $(( $3 << 20 )) "$PAD" >> "$2"; fi
}
PAD=/tmp/.bench-pad
find /usr/lib/x86_64-linux-gnu /usr/lib -maxdepth 1 -name '*.so*' -type f -size +100k 2>/dev/null \
  | head -200 | xargs cat > "$PAD"
while [ "$(stat -c %s "$PAD")" -lt $((64 << 20)) ]; do cat "$PAD" "$PAD" > "$PAD.2"; mv "$PAD.2" "$PAD"; done
many() { # many DIR COUNT EXT: COUNT small text files in 100 subdirectories
  i=0
  while [ $i -lt 100 ]; do mkdir -p "$1/d$i"; i=$((i+1)); done
  i=0
  while [ $i -lt "$2" ]; do echo "content $i of $1" > "$1/d$((i % 100))/f$i.$3"; i=$((i+1)); done
}
T=/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
mkdir -p $T/bin $T/lib/rustlib/x86_64-unknown-linux-gnu/lib
elf /usr/bin/bash $T/bin/cargo 40
elf /usr/bin/bash $T/bin/rustc 1
for t in rustdoc rustfmt cargo-clippy clippy-driver rust-analyzer; do elf /usr/bin/bash $T/bin/$t 12; done
for i in $(seq 1 60); do elf /usr/bin/bash $T/lib/rustlib/x86_64-unknown-linux-gnu/lib/libstd-$i.so 0; done
many $T/share/doc 12000 html
many /root/.cargo/registry/src 10000 rs
many /root/.cache/pip 5000 whl
many /home/alice/project/src 15000 c
mkdir -p /home/alice/project/target/debug/deps
for i in $(seq 1 12); do elf /usr/bin/bash /home/alice/project/target/debug/deps/test_$i 20; done
elf /usr/bin/bash /home/alice/project/target/debug/app 30
many /tmp/build-7f3a/obj 8000 o
mkdir -p /tmp/build-7f3a/bin
for i in $(seq 1 40); do elf /usr/bin/bash /tmp/build-7f3a/bin/build-script-$i 1; done
rm -f "$PAD"
# The kit: a binary and its launcher in a hidden home directory.
mkdir -p /root/.configrc/a
elf /usr/bin/sleep /root/.configrc/a/kswapd0 0
# Bytes of its own: a copy of sleep would be stored once, under bin/, when a host process runs one.
echo "minetrace bench kit" >> /root/.configrc/a/kswapd0
printf '#!/bin/sh\ncd /root/.configrc/a && ./kswapd0 -o pool:3333 &\n' > /root/.configrc/a/run
chmod 755 /root/.configrc/a/run
EOS

cat > "$OUT/baseline.sh" <<'EOS'
#!/bin/sh
out=$1
d=$(mktemp -d)
ps -e -o pid=,ppid=,uid=,gid=,stat=,ni=,nlwp=,lstart=,time=,rss=,comm=,args= > "$d/ps.txt"
sha256sum /proc/[0-9]*/exe > "$d/exe.sha256" 2>/dev/null || true
ss -tuwxanpe > "$d/ss.txt" 2>/dev/null
iptables-save > "$d/iptables.txt" 2>/dev/null || true
tar -C "$d" -cf - . | zstd -q -3 -T2 > "$out"
rm -rf "$d"
EOS

# A miner-focused UAC profile: what minetrace-collect gathers, no more.
cat > "$OUT/miner.yaml" <<'EOS'
name: miner
description: Miner-focused triage, the scope of minetrace-collect.
artifacts:
  - live_response/process/ps.yaml
  - live_response/process/procfs_information.yaml
  - live_response/process/hash_running_processes.yaml
  - live_response/process/deleted.yaml
  - live_response/network/ss.yaml
  - live_response/network/iptables.yaml
  - live_response/network/ip6tables.yaml
  - live_response/network/nft.yaml
  - files/system/tmp.yaml
  - files/system/var_tmp.yaml
  - files/system/dev_shm.yaml
  - files/system/job_scheduler.yaml
  - files/system/systemd.yaml
  - files/system/user_accounts.yaml
  - files/ssh/*
  - files/shell/*
  - files/logs/var_log.yaml
EOS

# Manifest facts of one bundle: per-artifact timings, size, members.
cat > "$OUT/facts.py" <<'EOS'
import json, os, subprocess, sys
path = sys.argv[1]
m = json.loads(subprocess.run(f"zstd -dc {path} | tar -xOf - manifest.json", shell=True,
                              capture_output=True, check=True).stdout)
t = sorted(((a["duration_ms"], a["name"]) for a in m["artifacts"]), reverse=True)
members = subprocess.run(f"zstd -dc {path} | tar -tf - | wc -l", shell=True, capture_output=True,
                         check=True).stdout.decode().strip()
print(f"  bundle {os.path.getsize(path):,} bytes, {members} members; slowest artifacts: "
      + ", ".join(f"{n} {d} ms" for d, n in t[:6]))
EOS

cat > "$OUT/ratios.py" <<'EOS'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
mt = r["minetrace-collect"]
# CPU time (user + sys, children included) holds on a loaded host where wall time does not.
def fmt(x): return (f'{x["mean"]:.3f} s ± {x["stddev"] or 0:.3f} (min {x["min"]:.3f}, max {x["max"]:.3f}, '
                    f'{len(x["times"])} runs), CPU {x["user"] + x["system"]:.3f} s '
                    f'(user {x["user"]:.3f}, sys {x["system"]:.3f})')
for name, x in r.items():
    line = f"  {name:18} {fmt(x)}"
    if name != "minetrace-collect":
        line += f"  → minetrace-collect is {x['mean'] / mt['mean']:.1f}× faster"
    print(line)
EOS

export BIN OUT RUNS UAC_RUNS N UAC_DIR PRIO
echo "== $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load $(cut -d' ' -f1-3 /proc/loadavg)${PRIO:+; timed commands under $PRIO}"
echo "== minetrace-collect: $(stat -c %s "$BIN") bytes, $(file -b "$BIN" | cut -d, -f1-2)"

run_case() { # run_case NAME: hyperfine in the current namespace, then one timed run
  name=$1
  echo "  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  $PRIO hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$OUT/$name.json" \
    --prepare "rm -rf $OUT/b.tar.zst $OUT/b.tar.zst.sha256 $OUT/s.tar.zst" \
    -n "minetrace-collect" "$BIN -o $OUT/b.tar.zst" \
    -n "shell baseline" "sh $OUT/baseline.sh $OUT/s.tar.zst" > "$OUT/$name.log"
  if [ -n "$UAC_DIR" ]; then
    $PRIO hyperfine --runs "$UAC_RUNS" --export-json "$OUT/$name-uac.json" \
      --prepare "rm -rf $OUT/uac-$name; mkdir -p $OUT/uac-$name" \
      -n "UAC (miner profile)" "cd $UAC_DIR && ./uac -p $OUT/miner.yaml --temp-dir $OUT/uac-$name $OUT/uac-$name" >> "$OUT/$name.log"
    python3 - "$OUT/$name.json" "$OUT/$name-uac.json" <<'EOP'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
a["results"] += b["results"]; json.dump(a, open(sys.argv[1], "w"))
EOP
  fi
  python3 "$OUT/ratios.py" "$OUT/$name.json"
  rm -f "$OUT/b.tar.zst" "$OUT/b.tar.zst.sha256"
  $PRIO /usr/bin/time -f "  minetrace-collect once: wall %e s, user %U s, sys %S s, peak RSS %M KiB" \
    "$BIN" -o "$OUT/b.tar.zst" 2>&1 | grep "^  minetrace"
  python3 "$OUT/facts.py" "$OUT/b.tar.zst"
  echo "  load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}
export -f run_case

want() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if want quiet; then
echo "== quiet: $(ls /proc | grep -c '^[0-9]') processes, empty temp places and homes"
unshare --mount bash -ec '. "$OUT/mask.sh"; run_case quiet'
fi

if want busy; then
echo "== busy: the same host with busy homes and temp trees"
unshare --mount bash -ec '
  . "$OUT/mask.sh"
  sh "$OUT/busy.sh"
  echo "  $(find /root /home /tmp | wc -l) paths, $(du -sm /root /home /tmp | awk "{s+=\$1} END {print s}") MiB in homes and /tmp"
  run_case busy
  "$BIN" -o - 2>/dev/null | zstd -dc | tar -tf - | grep -c "configrc/a/kswapd0" | sed "s/^/  kit copies in the bundle: /"
'
fi

if want sleepers; then
echo "== sleepers: $N sleeping processes in a fresh PID namespace"
unshare --mount --pid --fork --mount-proc bash -ec '
  . "$OUT/mask.sh"
  for i in $(seq "$N"); do sleep 100000 & done
  while [ "$(ls /proc | grep -c "^[0-9]")" -lt "$N" ]; do sleep 0.2; done
  echo "  $(ls /proc | grep -c "^[0-9]") processes"
  UAC_DIR="" run_case sleepers
  kill $(jobs -p) 2>/dev/null || true
'
fi
