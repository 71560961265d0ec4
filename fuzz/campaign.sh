#!/usr/bin/env bash
# Runs a libFuzzer campaign over fuzz targets, one after the other in each of LANES parallel lanes, at low
# priority (other work shares the machine): each target until RUNS executions or SECONDS_PER_TARGET,
# whichever comes first. A crash, hang or out-of-memory input is saved under artifacts/<target>/ and the
# target restarts for the time left (plain mode, not fork mode: fork mode re-runs its seeds in every
# short job, which on a busy machine left a few percent of the time for fuzzing). Logs in
# logs/<target>.log; one summary line per target in logs/summary.tsv (execs summed over restarts; coverage
# of the last run, which starts from the whole corpus).
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
[ -f logs/summary.tsv ] || printf 'target\tstarted\tseconds\texecs\tcov\tft\tcorpus\tcrash/timeout/oom\n' > logs/summary.tsv

run_one() {
  local t=$1 start log execs=0 left runs status cov ft corp
  start=$(date -u +%FT%TZ)
  log=logs/$t.log
  : > "$log"
  mkdir -p "corpus/$t" "artifacts/$t"
  local t0=$SECONDS
  while :; do
    left=$((SECONDS_PER_TARGET - (SECONDS - t0)))
    runs=$((RUNS - execs))
    [ "$left" -gt 5 ] && [ "$runs" -gt 0 ] || break
    status=0
    nice -n "$NICE" "$BIN/$t" "corpus/$t" -runs="$runs" -max_total_time="$left" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=2048 -artifact_prefix="artifacts/$t/" \
      -print_final_stats=1 >>"$log" 2>&1 || status=$?
    execs=$((execs + $(grep -E '^stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}')))
    [ "$status" -eq 0 ] && break
    echo "campaign: $t exited with $status (artifact saved); restarting" >>"$log"
  done
  # The last status line: "#N  REDUCE cov: C ft: F corp: K/SIZE lim: ... exec/s: E rss: R"
  local last
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -E 's/.* cov: ([0-9]+) .*/\1/' <<<"$last")
  ft=$(sed -E 's/.* ft: ([0-9]+) .*/\1/' <<<"$last")
  corp=$(sed -E 's|.* corp: ([0-9]+)/.*|\1|' <<<"$last")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$start" "$((SECONDS - t0))" "$execs" "$cov" "$ft" \
    "$corp" "$(ls "artifacts/$t" | grep -c '^crash-' || true)/$(ls "artifacts/$t" | grep -c '^timeout-' || true)/$(ls "artifacts/$t" | grep -c '^oom-' || true)" \
    >> logs/summary.tsv
}
export -f run_one
export RUNS SECONDS_PER_TARGET NICE BIN
printf '%s\n' "${targets[@]}" | xargs -P "$LANES" -I{} bash -c 'run_one {}'
column -t -s $'\t' logs/summary.tsv
