#!/usr/bin/env bash
# Benchmark of the collector's file artifacts (docs/BENCHMARKS.md, "Collector: file artifacts").
#
# Builds a "typical server" image under $IMG from this machine's own configuration (/etc without password
# databases or private keys, systemd units, udev rules, the dpkg database, the binaries the package check
# hashes), adds three accounts with keys, histories and dotfiles, 5 MiB of auth log, a small /tmp and a
# planted miner, then times dead-box collections of it with hyperfine. Dead-box mode runs the file
# families only, so the time is theirs. Needs: hyperfine, a release build, root (to read /etc fully).
#
#   bash collector/benches/files_bench.sh            # image in /var/tmp/minetrace-bench-img
set -eu  # no pipefail: `yes | head` ends yes with SIGPIPE by design
cd "$(dirname "$0")/../.."
IMG=${IMG:-/var/tmp/minetrace-bench-img}
OUT=${OUT:-/var/tmp/minetrace-bench-out}
BIN=target/release/minetrace-collect

if [ -z "${BIN_OVERRIDE:-}" ]; then cargo build --release -p minetrace-collector >/dev/null; else BIN=$BIN_OVERRIDE; fi
rm -rf "$IMG" "$OUT"
mkdir -p "$IMG" "$OUT"

# Merged /usr, as on current Debian, Ubuntu and Fedora.
mkdir -p "$IMG"/usr/{bin,sbin,lib,lib64} "$IMG"/var/{lib,log,spool} "$IMG"/{tmp,root,home,run}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$IMG/$d"; done
ln -s /run "$IMG/var/run"

# Configuration, minus secrets.
tar -C / --exclude=etc/shadow --exclude=etc/shadow- --exclude=etc/gshadow --exclude=etc/gshadow- \
    --exclude='etc/ssh/ssh_host_*_key' --exclude=etc/security/opasswd -cf - etc 2>/dev/null | tar -C "$IMG" -xf -
tar -C / -cf - usr/lib/systemd usr/lib/udev usr/lib/modules-load.d usr/lib/tmpfiles.d var/lib/dpkg 2>/dev/null \
    | tar -C "$IMG" -xf - 2>/dev/null || true
for b in ps top netstat ss ls find crontab chattr lsattr kill pkill iptables curl wget ssh sshd login passwd ldd bash sh su sudo lsof systemctl; do
  for d in /usr/bin /usr/sbin; do [ -e "$d/$b" ] && cp -a "$d/$b" "$IMG$d/" ; done
done

# Accounts with homes, keys, histories and dotfiles.
for u in alice bob deploy; do
  echo "$u:x:$((1000 + ${#u})):1000::/home/$u:/bin/bash" >> "$IMG/etc/passwd"
  mkdir -p "$IMG/home/$u/.ssh" "$IMG/home/$u/.cache/pip" "$IMG/home/$u/.config"
  for i in $(seq 1 20); do echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI$i$u $u@laptop$i"; done > "$IMG/home/$u/.ssh/authorized_keys"
  seq 1 5000 | sed "s/^/ls -la \/var\/www\/site/" > "$IMG/home/$u/.bash_history"
  cp /etc/skel/.bashrc /etc/skel/.profile "$IMG/home/$u/" 2>/dev/null || true
done
printf 'root:*:19000:0:99999:7:::\n' > "$IMG/etc/shadow"
mkdir -p "$IMG/root/.ssh" && echo "ssh-rsa AAAAB3NzaC1yc2EAAAABJQAAAQEArDp4cun2lhr4KUhBGE7VvAcw mdrfckr" > "$IMG/root/.ssh/authorized_keys"

# Logs: 5 MiB of auth.log, rotations, wtmp.
mkdir -p "$IMG/var/log/nginx"
yes 'Nov 26 06:15:01 web1 sshd[4242]: Failed password for invalid user test from 127.0.0.5 port 51234 ssh2' \
  | head -c $((5 << 20)) > "$IMG/var/log/auth.log"
head -c $((1 << 20)) "$IMG/var/log/auth.log" > "$IMG/var/log/auth.log.1"
head -c $((2 << 20)) "$IMG/var/log/auth.log" > "$IMG/var/log/syslog"
head -c $((384 * 500)) /dev/zero > "$IMG/var/log/wtmp"
yes '127.0.0.9 - - [26/Nov/2026:06:15:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.0"' \
  | head -c $((1 << 20)) > "$IMG/var/log/nginx/access.log"

# Temp places: 200 ordinary files, a planted miner and its scripts.
for i in $(seq 1 200); do echo "session $i" > "$IMG/tmp/sess_$i"; done
mkdir -p "$IMG/tmp/.X25-unix/.rsync/c" "$IMG/root/.configrc/a"
cp /bin/true "$IMG/tmp/.X25-unix/.rsync/c/tsm"
printf '#!/bin/sh\ncd ~/.configrc/a && ./run\n' > "$IMG/root/.configrc/a/upd"
echo '*/5 * * * * root /tmp/.X25-unix/.rsync/c/tsm' > "$IMG/etc/cron.d/planted"
# A unit naming an executable no package owns (copied as `referenced-exe`).
mkdir -p "$IMG/usr/local/bin" "$IMG/etc/systemd/system"
cp /bin/true "$IMG/usr/local/bin/agentd"
printf '[Service]\nExecStart=/usr/local/bin/agentd --daemon\n' > "$IMG/etc/systemd/system/agentd.service"

# Web root: 2,000 PHP files.
mkdir -p "$IMG/var/www/html/app"
for i in $(seq 1 2000); do echo "<?php echo $i; ?>" > "$IMG/var/www/html/app/p$i.php"; done

echo "image: $(du -sh "$IMG" | cut -f1), $(find "$IMG" | wc -l) paths"

hyperfine --warmup 2 --runs 10 --prepare "rm -f $OUT/*.tar.zst $OUT/*.tar.zst.sha256" --export-markdown "$OUT/hyperfine.md" \
  -n 'dead-box, defaults' "$BIN --root $IMG -o $OUT/full.tar.zst --threads 2" \
  -n 'dead-box, no logs, no copies' "$BIN --root $IMG -o $OUT/config.tar.zst --threads 2 --max-log-mib 0 --max-copy-total-mib 0"

rm -f "$OUT"/*.tar.zst "$OUT"/*.tar.zst.sha256
"$BIN" --root "$IMG" -o "$OUT/full.tar.zst" --threads 2 -v 2>&1 | grep -E '^minetrace-collect: [a-z-]+: ' || true
echo "bundle, defaults:               $(stat -c %s "$OUT/full.tar.zst") bytes compressed"
echo "bundle, no logs and no copies:  $(stat -c %s "$OUT/config.tar.zst") bytes compressed"
