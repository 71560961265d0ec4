#!/usr/bin/env bash
# stream-bundle.sh OUT TIMEOUT COMMAND...
# Runs COMMAND (minetrace-collect -o -, locally or through ssh) under a timeout with its stdout going to
# OUT.part on the control node; checks the sha256 the collector printed last on stderr against the bytes
# that arrived; then renames OUT.part to OUT and writes OUT.sha256 (sha256sum format) and OUT.log (the
# collector's summary). Never overwrites an existing OUT. Prints "ok SHA256" or the reason it failed as
# the last line (printable ASCII only: the host's stderr is not to be trusted), exit status non-zero.
set -uo pipefail
out=$1
timeout_s=$2
shift 2
clean() { tr -c '[:print:]\n' '?' | tail -n "${1:-3}" | tr '\n' ' ' | cut -c1-400; }
if [ -e "$out" ]; then
  echo "$out already exists; refusing to overwrite it (it may be an earlier bundle)"
  exit 3
fi
part="$out.part"
err="$out.stderr"
rm -f -- "$part" "$err"
timeout --kill-after=10 "$timeout_s" "$@" >"$part" 2>"$err" </dev/null
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  rm -f -- "$part"
  echo "timed out after ${timeout_s} s: $(clean 2 <"$err")"
  rm -f -- "$err"
  exit 4
fi
if [ "$rc" -ne 0 ]; then
  rm -f -- "$part"
  if [ "$rc" -eq 255 ]; then
    echo "ssh failed: $(clean 2 <"$err")"
  else
    echo "collector exited with status $rc: $(clean 3 <"$err")"
  fi
  rm -f -- "$err"
  exit 5
fi
want=$(sed -n 's/^sha256 \([0-9a-f]\{64\}\)$/\1/p' "$err" | tail -n 1)
got=$(sha256sum -- "$part" | cut -d' ' -f1)
if [ -z "$want" ]; then
  rm -f -- "$part"
  echo "the collector printed no sha256: $(clean 3 <"$err")"
  rm -f -- "$err"
  exit 6
fi
if [ "$want" != "$got" ]; then
  rm -f -- "$part"
  echo "transfer damaged: the collector wrote sha256 $want, $got arrived"
  rm -f -- "$err"
  exit 7
fi
mv -- "$part" "$out"
mv -- "$err" "$out.log"
echo "$got  $(basename -- "$out")" >"$out.sha256"
echo "ok $got"
