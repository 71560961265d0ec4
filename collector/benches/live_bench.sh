#!/usr/bin/env bash
# Benchmark of the collector's live pass (docs/BENCHMARKS.md, "Collector: live pass").
#
# Three runs, each side by side with a shell baseline that gathers the same volatile state with the
# usual tools (ps, sha256sum of /proc/*/exe, ss -p, tar | zstd):
#   1. this host as it is (about a hundred processes);
#   2. N sleepers (default 10,000) in a fresh PID namespace, plus the collector's peak RSS;
#   3. hashing: one running executable of 1 GiB, collector vs `sha256sum /proc/PID/exe`.
# Everything runs in a private mount namespace with empty tmpfs over the temp places and homes, so the
# file-artifact families (timed in their own section) cost next to nothing and the time is the live
# pass's; the live-pass artifact timings are also read back from the bundle's manifest.
# Needs: root, unshare, hyperfine, zstd, python3, a release build.
#
#   bash collector/benches/live_bench.sh [N]
set -eu
cd "$(dirname "$0")/../.."
N=${1:-10000}
RUNS=${RUNS:-10}
if [ -z "${BIN_OVERRIDE:-}" ]; then
  cargo build --release -p minetrace-collector >/dev/null
  BIN=$PWD/target/release/minetrace-collect
else
  BIN=$BIN_OVERRIDE
fi
OUT=$PWD/target/bench-live
rm -rf "$OUT" && mkdir -p "$OUT"

cat > "$OUT/mask.sh" <<'EOF'
for d in /tmp /var/tmp /dev/shm /root /home /run; do
  if [ -d "$d" ]; then mount -t tmpfs none "$d"; fi
done
EOF

# The shell baseline: process table, a hash of every process's executable, sockets with their
# processes, packed like a bundle.
cat > "$OUT/baseline.sh" <<'EOF'
#!/bin/sh
out=$1
d=$(mktemp -d)
ps -e -o pid=,ppid=,uid=,gid=,stat=,ni=,nlwp=,lstart=,time=,rss=,comm=,args= > "$d/ps.txt"
sha256sum /proc/[0-9]*/exe > "$d/exe.sha256" 2>/dev/null || true
ss -tuwxanpe > "$d/ss.txt" 2>/dev/null
tar -C "$d" -cf - . | zstd -q -3 -T2 > "$out"
rm -rf "$d"
EOF

# Live-pass artifact timings from a bundle's manifest.
cat > "$OUT/artifacts.py" <<'EOF'
import json, subprocess, sys
m = json.loads(subprocess.run(f"zstd -dc {sys.argv[1]} | tar -xOf - manifest.json",
                              shell=True, capture_output=True, check=True).stdout)
live = ["hidden", "processes", "host", "package-index", "executables", "sockets", "conntrack"]
t = {a["name"]: a["duration_ms"] for a in m["artifacts"]}
print("  live pass: " + ", ".join(f"{n} {t.get(n, 0)} ms" for n in live)
      + f" = {sum(t.get(n, 0) for n in live)} ms")
EOF

export BIN OUT RUNS N
echo "== host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. this host: $(ls /proc | grep -c '^[0-9]') processes"
unshare --mount sh -ec '
  . "$OUT/mask.sh"
  hyperfine --warmup 2 --runs "$RUNS" --prepare "rm -f $OUT/*.tar.zst $OUT/*.tar.zst.sha256" --export-markdown "$OUT/host.md" \
    -n "minetrace-collect" "$BIN -o $OUT/host.tar.zst --max-copy-total-mib 0" \
    -n "shell baseline" "sh $OUT/baseline.sh $OUT/host-baseline.tar.zst"
  rm -f "$OUT"/*.tar.zst "$OUT"/*.tar.zst.sha256
  /usr/bin/time -f "  collector: wall %e s, user %U s, sys %S s, max RSS %M KiB" \
    "$BIN" -o "$OUT/host.tar.zst" --max-copy-total-mib 0 2>&1 | grep "^  collector"
  python3 "$OUT/artifacts.py" "$OUT/host.tar.zst"
'

echo "== 2. $N sleepers in a PID namespace"
unshare --mount --pid --fork --mount-proc bash -ec '
  . "$OUT/mask.sh"
  for i in $(seq "$N"); do sleep 100000 & done
  while [ "$(ls /proc | grep -c "^[0-9]")" -lt "$N" ]; do sleep 0.2; done
  echo "  $(ls /proc | grep -c "^[0-9]") processes"
  hyperfine --warmup 1 --runs "$RUNS" --prepare "rm -f $OUT/*.tar.zst $OUT/*.tar.zst.sha256" --export-markdown "$OUT/sleepers.md" \
    -n "minetrace-collect" "$BIN -o $OUT/sleepers.tar.zst --max-copy-total-mib 0" \
    -n "shell baseline" "sh $OUT/baseline.sh $OUT/sleepers-baseline.tar.zst"
  rm -f "$OUT"/*.tar.zst "$OUT"/*.tar.zst.sha256
  /usr/bin/time -f "  collector: wall %e s, user %U s, sys %S s, max RSS %M KiB" \
    "$BIN" -o "$OUT/sleepers.tar.zst" --max-copy-total-mib 0 2>&1 | grep "^  collector"
  rm -f "$OUT"/*.tar.zst "$OUT"/*.tar.zst.sha256
  /usr/bin/time -f "  baseline:  wall %e s, user %U s, sys %S s, max RSS %M KiB" \
    sh "$OUT/baseline.sh" "$OUT/sleepers-baseline.tar.zst" 2>&1 | grep "^  baseline"
  python3 "$OUT/artifacts.py" "$OUT/sleepers.tar.zst"
  echo "  bundle $(stat -c %s "$OUT/sleepers.tar.zst") bytes, baseline $(stat -c %s "$OUT/sleepers-baseline.tar.zst") bytes"
'

echo "== 3. hashing a 1 GiB running executable"
cp /bin/sleep "$OUT/big-exe"
head -c $((1 << 30)) /dev/urandom >> "$OUT/big-exe"
unshare --mount --pid --fork --mount-proc bash -ec '
  . "$OUT/mask.sh"
  "$OUT/big-exe" 100000 &
  pid=$!
  sleep 0.5
  hyperfine --warmup 1 --runs "$RUNS" --prepare "rm -f $OUT/*.tar.zst $OUT/*.tar.zst.sha256" --export-markdown "$OUT/hash.md" \
    -n "minetrace-collect" "$BIN -o $OUT/hash.tar.zst --max-copy-total-mib 0" \
    -n "sha256sum /proc/PID/exe" "sha256sum /proc/$pid/exe"
  rm -f "$OUT"/*.tar.zst "$OUT"/*.tar.zst.sha256
  /usr/bin/time -f "  collector: wall %e s, user %U s, sys %S s" \
    "$BIN" -o "$OUT/hash.tar.zst" --max-copy-total-mib 0 2>&1 | grep "^  collector"
  rm -f "$OUT"/*.tar.zst "$OUT"/*.tar.zst.sha256
  /usr/bin/time -f "  sha256sum: wall %e s, user %U s, sys %S s" sha256sum /proc/$pid/exe 2>&1 | grep "^  sha256sum"
  python3 "$OUT/artifacts.py" "$OUT/hash.tar.zst"
'
rm -f "$OUT/big-exe"
