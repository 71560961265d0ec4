#!/usr/bin/env bash
# The package index on an RHEL-family image: N rpm packages of M files each, built with rpmbuild and
# recorded with `rpm --justdb` in rpmdb.sqlite (rpm ≥ 4.16 layout) and, as a Berkeley DB `Packages` copy
# (db5.3_load, the EL7/EL8 layout), timed with hyperfine on dead-box collections of each:
#   N=800 M=150 bash collector/benches/rpm_bench.sh [COLLECTOR]
# Prints the hyperfine table and the `package-index` artifact timing (-v) of one run of each.
set -euo pipefail
N=${N:-800}
M=${M:-150}
bin=$(realpath "${1:-target/x86_64-unknown-linux-musl/release/minetrace-collect}")
work=${WORK:-$(mktemp -d)}
top=$work/build
mkdir -p "$top/SPECS" "$work/sqlite" "$work/bdb"
if [[ ! -e $work/sqlite/var/lib/rpm/rpmdb.sqlite ]]; then
  for i in $(seq 1 "$N"); do
    {
      printf 'Name: bench%04d\nVersion: 1.%d\nRelease: 1.el9\nSummary: bench\nLicense: none\nBuildArch: x86_64\n' "$i" "$i"
      printf '%%define __os_install_post %%{nil}\n%%define _build_id_links none\n%%description\nbench\n%%install\n'
      printf 'mkdir -p %%{buildroot}/usr/lib64/bench%04d %%{buildroot}/usr/bin\n' "$i"
      printf 'for f in $(seq 1 %d); do echo "bench %d $f" > %%{buildroot}/usr/lib64/bench%04d/lib$f.so.1; done\n' "$M" "$i" "$i"
      printf 'echo "#!/bin/sh" > %%{buildroot}/usr/bin/bench%04d; chmod 755 %%{buildroot}/usr/bin/bench%04d\n' "$i" "$i"
      printf '%%files\n/usr/lib64/bench%04d\n/usr/bin/bench%04d\n' "$i" "$i"
    } >"$top/SPECS/b$i.spec"
    rpmbuild --quiet --define "_topdir $top" -bb "$top/SPECS/b$i.spec" >/dev/null 2>&1
  done
  rpm --root "$work/sqlite" --dbpath /var/lib/rpm --initdb
  rpm --root "$work/sqlite" --dbpath /var/lib/rpm -i --justdb --nodeps --noscripts "$top"/RPMS/x86_64/*.rpm 2>/dev/null
  mkdir -p "$work/bdb/var/lib/rpm"
  python3 - "$work/sqlite/var/lib/rpm/rpmdb.sqlite" >"$work/dump" <<'PY'
import sqlite3, struct, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END")
for hnum, blob in c.execute("select hnum, blob from Packages"):
    print(" " + struct.pack("<I", hnum).hex()); print(" " + blob.hex())
print("DATA=END")
PY
  "$(command -v db5.3_load || command -v db_load)" -f "$work/dump" "$work/bdb/var/lib/rpm/Packages"
  rm -f "$work/dump"
fi
ls -l "$work/sqlite/var/lib/rpm/rpmdb.sqlite" "$work/bdb/var/lib/rpm/Packages"
mkdir -p "$work/none"
hyperfine --warmup 2 --runs "${RUNS:-10}" --prepare "rm -f $work/out.tar.zst $work/out.tar.zst.sha256" \
  "$bin --root $work/sqlite -o $work/out.tar.zst --threads 0" \
  "$bin --root $work/bdb -o $work/out.tar.zst --threads 0" \
  "$bin --root $work/none -o $work/out.tar.zst --threads 0"
for db in sqlite bdb; do
  for i in 1 2 3 4 5; do
    rm -f "$work/out.tar.zst" "$work/out.tar.zst.sha256"
    "$bin" --root "$work/$db" -o "$work/out.tar.zst" --threads 0 -v 2>&1 | grep "package-index" | sed "s/^/$db: /"
  done
done
echo "work dir: $work"
