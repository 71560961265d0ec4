#!/usr/bin/env bash
# Runs a libFuzzer campaign over fuzz targets, one after the other in each of LANES parallel lanes, at low
# priority (other work shares the machine): each target until RUNS executions or SECONDS_PER_TARGET,
# whichever comes first. Crashes, hangs and out-of-memory inputs go to artifacts/<target>/ and the run goes
# on (fork mode). Logs in logs/<target>.log; a summary line per target in logs/summary.tsv.
#
#   fuzz/campaign.sh [TARGET...]        (default: every target; build first, see docs/FUZZING.md)
#   RUNS=10000000 SECONDS_PER_TARGET=14400 LANES=1 NICE=15 fuzz/campaign.sh cron
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-14400}
LANES=${LANES:-1}
NICE=${NICE:-15}
BIN=target/x86_64-unknown-linux-gnu/release
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' Cargo.toml | grep -v '^minetrace')
fi
mkdir -p logs
[ -f logs/summary.tsv ] || printf 'target\tstarted\tseconds\texecs\tcov\tft\tcorpus\toom/timeout/crash\n' > logs/summary.tsv

run_one() {
  local t=$1 start log last
  start=$(date -u +%FT%TZ)
  log=logs/$t.log
  mkdir -p "corpus/$t" "artifacts/$t"
  local t0=$SECONDS
  nice -n "$NICE" "$BIN/$t" "corpus/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || true
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  # "#N: cov: C ft: F corp: K exec/s: E oom/timeout/crash: a/b/c time: ..."
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$start" "$((SECONDS - t0))" \
    "$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")" \
    "$(sed -E 's/.* cov: ([0-9]+) .*/\1/' <<<"$last")" \
    "$(sed -E 's/.* ft: ([0-9]+) .*/\1/' <<<"$last")" \
    "$(sed -E 's/.* corp: ([0-9]+) .*/\1/' <<<"$last")" \
    "$(sed -E 's|.*timeout/crash: ([0-9/]+) .*|\1|' <<<"$last")" >> logs/summary.tsv
}
export -f run_one
export RUNS SECONDS_PER_TARGET NICE BIN
printf '%s\n' "${targets[@]}" | xargs -P "$LANES" -I{} bash -c 'run_one {}'
column -t -s $'\t' logs/summary.tsv
