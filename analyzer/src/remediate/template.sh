#!/bin/bash
# minetrace remediation script.
#
# This file is a fixed template, reviewed as code, followed by a plan written as data. Everything that
# came from the analysed host (paths, names, lines, keys, addresses) sits in MT_DATA below as hex. The
# script checks MT_DATA against MT_DATA_SHA256 before anything else and decodes fields at run time into
# variables; no host byte is ever code, a pattern, a glob, a format string or a comment.
#
#   bash remediate.sh              dry run: print the numbered plan and the state of each target
#   bash remediate.sh --apply      carry the plan out: preserve evidence, freeze, remove persistence,
#                                  kill, contain the network, repair, verify. Only what is attributed
#                                  to the intrusion; review items (numbered in the dry run) only when
#   --include N,M / --include-review  the operator names them (with --apply, --verify)
#   bash remediate.sh --verify     exit 0 when every planned item is gone, 1 listing what remains
#   --redo N,M                     carry out again items an earlier --apply completed and that were
#                                  changed back since (`reverted`; --verify prints the command)
#   bash remediate.sh --undo       restore files and lines from the quarantine, remove the firewall table
#   --force                        run on another host or boot than the snapshot's
#   --quarantine DIR               evidence, logs and undo data (default /var/lib/minetrace/quarantine/ID)
#
# Every action first checks that its target is still what the snapshot saw: a process by pid, start
# time and executable hash; a file by device, inode and sha256, and not a symbolic link; a planted
# symbolic link by device, inode and target, still a link. Anything else
# is skipped and reported, never "fixed anyway". Running --apply again is harmless and finishes the job;
# it re-does nothing an earlier run completed (done.records in the quarantine): what the operator changed
# back since is left as the operator has it.
# The script re-executes itself with an empty environment (bash --noprofile --norc, fixed PATH).
# Exit status: 0 done, 1 something was skipped, failed or remains, 2 refused (preflight).

if [ -z "${BASH_VERSION-}" ]; then
  echo 'remediate.sh: run it with bash: bash remediate.sh' >&2
  exit 2
fi
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

if [[ ${1-} != --mt-clean ]]; then
  if [[ -z ${BASH_SOURCE[0]-} || ! -f ${BASH_SOURCE[0]} ]]; then
    echo 'remediate.sh: run it from a file: bash remediate.sh [--apply|--verify|--undo]' >&2
    exit 2
  fi
  mt_peer=${SSH_CONNECTION-}
  mt_peer=${mt_peer%% *}
  [[ $mt_peer =~ ^[0-9A-Fa-f.:]{2,45}$ ]] || mt_peer=-
  for mt_sh in /bin/bash /usr/bin/bash; do
    if [[ -x $mt_sh ]]; then
      exec -c "$mt_sh" --noprofile --norc -- "${BASH_SOURCE[0]}" --mt-clean "$mt_peer" "$@"
    fi
  done
  echo 'remediate.sh: /bin/bash not found' >&2
  exit 2
fi
shift
MT_SSH_PEER=${1--}
shift
set -u
set -o pipefail
umask 077
export LC_ALL=C HOME=/root
unset LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT BASH_ENV ENV CDPATH GLOBIGNORE
IFS=$' \t\n'

MT_SELF=$(realpath -e -- "${BASH_SOURCE[0]}" 2>/dev/null) || MT_SELF=''
MT_MODE=dry
MT_FORCE=0
MT_Q=''
MT_Q_GIVEN=0
MT_LOG=''
MT_FW=''
MT_FLAGTOOL='unset'
MT_LSATTR=''
MT_PYREAD=''
MT_FFLAGS=- MT_DFLAGS=- MT_FLAGS_NOTE='' MT_FLAGS_EXTRA='' MT_EXTRA='' MT_FLAGS_POLICY=restore MT_DFLAGS_POLICY=restore MT_SEEN_F='' MT_SEEN_D=''
MT_STATE=''
MT_NOTE=''
MT_CUR_SHA=''
MT_FAILED=0
MT_REMAIN=0
MT_INCLUDE=','
MT_REDO=','
MT_INCLUDE_ALL=0
MT_GATE=''
MT_CHANGED=0
MT_APT_PIN=''

declare -a MT_RECS=() MT_F=() MT_ST=() MT_ARGS=() MT_TABLES=() MT_HITS=() MT_STAT=() MT_GONE=() MT_WANT=()
declare -a MT_SET_LIST=() MT_SET_SEEDS=() MT_SET_HELD=() MT_SET_CGROUPS=()
declare -A MT_SET=() MT_SET_SEEN=() MT_SET_STOPPED=() MT_SET_IDS=() MT_SET_SUMS=() MT_INTERP=() MT_DONE=() MT_EDITED=() MT_ADMIN_GROUPS=()
MT_REVERTED=0
MT_DIRS=0
MT_DIR_HEX=''
MT_NEXT=0
MT_SET_RUNNING=0
MT_SET_KILLED=0
MT_CG2=''
# Where the kernel's tables and modules are listed (read, never written).
MT_PROC_NET=/proc/net
MT_SYS_MODULE=/sys/module
MT_MODULES_DIR=/lib/modules
MT_PROC_MODULES=/proc/modules
MT_PROC_SELF=/proc/self
MT_ETC=/etc
MT_DPKG_INFO=/var/lib/dpkg/info
# How long a killed set gets to come back before the re-scan (watchdogs respawn within a second).
MT_RESPAWN_WAIT=1.5

# The flag helper run by a package-verified python3 when no verified chattr is found, on a descriptor
# opened with O_NOFOLLOW: FS_IOC_GETFLAGS, then `clear` sets them (FS_IOC_SETFLAGS) without
# FS_IMMUTABLE_FL (0x10) and FS_APPEND_FL (0x20), `get` prints which of the two are set (`i`, `a`),
# `set BITS` adds those given. Exit 3: the filesystem keeps no such flags.
MT_PY_FLAGS='
import errno, fcntl, os, struct, sys
try:
    op, bits = sys.argv[1], {"i": 0x10, "a": 0x20}
    fd = os.open(os.fsencode(sys.argv[2]), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, 0x80086601, bytes(8))[:4])[0]
        if op == "get":
            print("".join(k for k in "ia" if flags & bits[k]))
        elif op == "set":
            want = flags | sum(bits[k] for k in set(sys.argv[3]) if k in bits)
            if want != flags:
                fcntl.ioctl(fd, 0x40086602, struct.pack("i", want) + bytes(4))
        elif flags & 0x30:
            fcntl.ioctl(fd, 0x40086602, struct.pack("i", flags & ~0x30) + bytes(4))
    finally:
        os.close(fd)
except OSError as e:
    sys.exit(3 if e.errno in (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL) else 1)
'

mt_say() { printf '%s\n' "$*"; }
mt_err() { printf 'remediate.sh: %s\n' "$*" >&2; }
mt_die() {
  mt_err "$*"
  exit 2
}

mt_usage() {
  mt_say 'usage: bash remediate.sh [--apply | --verify | --undo] [--include N,M | --include-review] [--redo N,M] [--force] [--quarantine DIR]'
  mt_say 'Without an option it is a dry run: it prints the plan and changes nothing.'
  mt_say '--apply acts on what is attributed to the intrusion; review items only when named with --include.'
  mt_say '--apply re-does nothing an earlier --apply completed; --redo N,M carries out those items again.'
}

# --- data -------------------------------------------------------------------------------------------

# Decodes one hex field into REPLY. `-` is the empty field. Refuses anything that is not hex and NUL
# bytes (which a shell variable cannot hold).
mt_unhex() {
  local h=$1 esc='' i
  REPLY=''
  [[ $h == - ]] && return 0
  if [[ -z $h || $h == *[!0-9a-f]* ]] || ((${#h} % 2)); then
    return 1
  fi
  for ((i = 0; i < ${#h}; i += 2)); do
    [[ ${h:i:2} == 00 ]] && return 1
    esc+="\\x${h:i:2}"
  done
  printf -v REPLY '%b' "$esc"
}

mt_load() {
  local sum rest line
  sum=$(printf '%s' "$MT_DATA" | sha256sum) || mt_die 'sha256sum is missing'
  [[ ${sum%% *} == "$MT_DATA_SHA256" ]] ||
    mt_die 'the data block does not match its pinned sha256: the script was edited or damaged'
  rest=${MT_DATA//[0-9a-f -]/}
  rest=${rest//$'\n'/}
  [[ -z $rest ]] || mt_die 'the data block holds characters it never should'
  while IFS= read -r line; do
    [[ -n $line ]] && MT_RECS+=("$line")
  done <<<"$MT_DATA"
  ((${#MT_RECS[@]} > 0)) || mt_die 'the data block is empty'
}

# Selects record $1: its hex fields go to MT_F.
mt_rec() { read -r -a MT_F <<<"${MT_RECS[$1]}"; }
# Field $1 of the selected record, decoded into REPLY.
mt_get() {
  if ! mt_unhex "${MT_F[$1]--}"; then
    REPLY=''
    return 1
  fi
}
# A display field: printable ASCII only (the generator escaped it; this makes sure).
mt_text() {
  mt_get "$1"
  REPLY=${REPLY//[![:print:]]/?}
}
# A number field.
mt_num() {
  mt_get "$1" && [[ $REPLY =~ ^[0-9]{1,20}$ ]]
}

# The selected action record's gate (its last field) into MT_GATE: empty for what --apply does unasked,
# else the review numbers that open it (`1,4`). Status 1 (and MT_GATE=bad) when it is malformed.
mt_rec_gate() {
  MT_GATE=bad
  mt_unhex "${MT_F[${#MT_F[@]} - 1]}" || return 1
  [[ -z $REPLY || $REPLY =~ ^[0-9]{1,9}(,[0-9]{1,9}){0,99}$ ]] || return 1
  MT_GATE=$REPLY
}

# 0 when gate $1 is open in this run: always for --apply items; review items when the operator named
# one of their numbers (--include) or all of them (--include-review).
mt_gate_open() {
  local g=$1 n
  [[ -z $g ]] && return 0
  [[ $g == bad ]] && return 1
  ((MT_INCLUDE_ALL)) && return 0
  for n in ${g//,/ }; do
    [[ $MT_INCLUDE == *",$n,"* ]] && return 0
  done
  return 1
}

# --- host facts -------------------------------------------------------------------------------------

# Sets MT_ST to (raw mode hex, dev, inode, uid, gid, octal mode, size) of the path itself (lstat).
mt_lstat() {
  local out
  out=$(stat -c '%f %d %i %u %g %a %s' -- "$1" 2>/dev/null) || return 1
  read -r -a MT_ST <<<"$out"
  ((${#MT_ST[@]} == 7))
}
mt_is_regular() { (((16#${MT_ST[0]} & 16#F000) == 16#8000)); }
mt_is_symlink() { (((16#${MT_ST[0]} & 16#F000) == 16#A000)); }

# SHA-256 of a file's content into REPLY ('' when unreadable).
mt_hash_file() {
  local s
  s=$({ sha256sum <"$1"; } 2>/dev/null) || s=''
  REPLY=${s%% *}
}

# The state of a planned file: MT_STATE gone, pending (still the snapshot's file) or mismatch.
mt_file_state() {
  local p=$1 dev=$2 ino=$3 sha=$4 first
  MT_CUR_SHA=''
  if ! mt_lstat "$p"; then
    if [[ -e $p || -L $p ]]; then
      MT_STATE=mismatch MT_NOTE='it cannot be examined'
    else
      MT_STATE=gone MT_NOTE='it is no longer there'
    fi
    return
  fi
  if mt_is_symlink; then
    MT_STATE=mismatch MT_NOTE='it is now a symbolic link: left alone'
    return
  fi
  if ! mt_is_regular; then
    MT_STATE=mismatch MT_NOTE='it is no longer a regular file: left alone'
    return
  fi
  first="${MT_ST[1]} ${MT_ST[2]}"
  mt_hash_file "$p"
  MT_CUR_SHA=$REPLY
  # The same inode before and after hashing: nothing was swapped in while it was read.
  if ! mt_lstat "$p" || ! mt_is_regular || [[ "${MT_ST[1]} ${MT_ST[2]}" != "$first" ]]; then
    MT_STATE=mismatch MT_NOTE='it changed while being checked: left alone'
    return
  fi
  if [[ ${MT_ST[1]} != "$dev" || ${MT_ST[2]} != "$ino" ]]; then
    MT_STATE=mismatch MT_NOTE='a different file is there now (device or inode differs): left alone'
    return
  fi
  if [[ $MT_CUR_SHA != "$sha" ]]; then
    MT_STATE=mismatch MT_NOTE='its content changed since the snapshot: left alone'
    return
  fi
  MT_STATE=pending MT_NOTE='matches the snapshot'
}

# Reads /proc/PID/stat into MT_STAT (the fields after the command name, state first) and checks the start
# time against the snapshot. Returns 1 with MT_STATE gone or skip (pid reused) when it is not the same process.
mt_same_process() {
  local pid=$1 start=$2 stat
  if ! { stat=$(<"/proc/$pid/stat"); } 2>/dev/null; then
    MT_STATE=gone MT_NOTE='the process has exited'
    return 1
  fi
  read -r -a MT_STAT <<<"${stat##*) }"
  if [[ ${MT_STAT[19]-} != "$start" ]]; then
    MT_STATE=skip MT_NOTE='the pid now belongs to another process (start time differs): left alone'
    return 1
  fi
}

# The state of a planned process: MT_STATE gone, skip (pid reused), mismatch, pending or frozen.
mt_proc_state() {
  local pid=$1 start=$2 sha=$3 s
  mt_same_process "$pid" "$start" || return 0
  if [[ ${MT_STAT[0]-} == Z || ${MT_STAT[0]-} == X ]]; then
    MT_STATE=gone MT_NOTE='the process has exited'
    return
  fi
  if [[ -n $sha ]]; then
    s=$({ sha256sum <"/proc/$pid/exe"; } 2>/dev/null) || s=''
    if [[ ${s%% *} != "$sha" ]]; then
      MT_STATE=mismatch MT_NOTE='its executable differs from the snapshot: left alone'
      return
    fi
    # Still the same process after hashing.
    mt_same_process "$pid" "$start" || return 0
  fi
  if [[ ${MT_STAT[0]-} == T || ${MT_STAT[0]-} == t ]]; then
    MT_STATE=frozen MT_NOTE='frozen'
  else
    MT_STATE=pending MT_NOTE='running, matches the snapshot'
  fi
}

# True when the file's digest is the one its package recorded (dpkg md5sums, or rpm's file digests).
mt_pkg_verified() {
  if [[ -d $MT_DPKG_INFO ]]; then
    mt_dpkg_verified "$1"
    return
  fi
  mt_rpm_verified "$1"
}

# True when dpkg's md5sums list file $1 (or its merged-/usr twin) with the digest it has now.
mt_dpkg_verified() { mt_dpkg_records "$1" "$1"; }

# True when dpkg's md5sums list package path $2 (or its merged-/usr twin) with the digest file $1 has now
# (a tool moved away from $2 is checked against $2's record).
mt_dpkg_records() {
  local file=$1 pkgpath=$2 sum rel alt
  [[ -d $MT_DPKG_INFO ]] || return 1
  sum=$({ md5sum <"$file"; } 2>/dev/null) || return 1
  sum=${sum%% *}
  rel=${pkgpath#/}
  case $rel in
  usr/*) alt=${rel#usr/} ;;
  *) alt=usr/$rel ;;
  esac
  grep -q -h -F -x -e "$sum  $rel" -e "$sum  $alt" "$MT_DPKG_INFO"/*.md5sums 2>/dev/null
}

# True when either package database vouches for file $1 (a host with rpm installed beside dpkg: rpm's
# own macro files are then dpkg's).
mt_any_pkg_verified() { mt_rpm_verified "$1" || mt_dpkg_verified "$1"; }

# True when rpm lists file $1 with the digest it has now.
mt_rpm_verified() { mt_rpm_records "$1" "$1" sha256; }

# True when rpm lists package path $2 with the digest file $1 has now, hashed with $3 (the package's
# algorithm: sha256, md5, ...; one of those mt_rename_back_fields accepts).
mt_rpm_records() {
  local file=$1 pkgpath=$2 sum
  command -v rpm >/dev/null 2>&1 && command -v "$3sum" >/dev/null 2>&1 || return 1
  sum=$({ "$3sum" <"$file"; } 2>/dev/null) || return 1
  rpm -qf --qf '[%{FILENAMES} %{FILEDIGESTS}\n]' -- "$pkgpath" 2>/dev/null | grep -q -F -x -e "$pkgpath ${sum%% *}"
}

# True when the host's package database records, for package path $2, the digest file $1 has now (dpkg's
# md5sums, else rpm's file digests in algorithm $3).
mt_pkg_records() {
  if [[ -d $MT_DPKG_INFO ]]; then
    mt_dpkg_records "$1" "$2"
    return
  fi
  mt_rpm_records "$@"
}

# Chooses how to clear immutable and append-only flags: a chattr whose digest matches its package's
# (so a renamed or replaced chattr is never used), else the FS_IOC_SETFLAGS ioctl through a
# package-verified python3. Their shared libraries are not verified: suspect those and rebuild.
# The flags are read with the lsattr beside that chattr, verified the same way (MT_LSATTR; none: the
# flags cannot be read and so are never set again).
mt_pick_flag_tool() {
  [[ $MT_FLAGTOOL == unset ]] || return 0
  MT_FLAGTOOL=none MT_LSATTR=''
  local c real
  for c in /usr/bin/chattr /bin/chattr /usr/sbin/chattr /sbin/chattr; do
    if [[ -f $c && ! -L $c ]] && mt_pkg_verified "$c"; then
      MT_FLAGTOOL=$c
      real=${c%/*}/lsattr
      if [[ -f $real && ! -L $real ]] && mt_pkg_verified "$real"; then
        MT_LSATTR=$real
      else
        mt_pick_python
      fi
      return 0
    fi
  done
  mt_pick_python
  [[ -n $MT_PYREAD ]] && MT_FLAGTOOL=python:$MT_PYREAD
  return 0
}

# A package-verified python3 for the ioctl helper into MT_PYREAD ('' when there is none).
mt_pick_python() {
  local c real
  MT_PYREAD=''
  for c in /usr/bin/python3 /bin/python3 /usr/libexec/platform-python; do
    real=$(readlink -e -- "$c" 2>/dev/null) || continue
    [[ $real =~ ^/usr/(bin|libexec)/(python3(\.[0-9]+)?|platform-python)$ ]] || continue
    if mt_pkg_verified "$real"; then
      MT_PYREAD=$real
      return 0
    fi
  done
}

# Clears immutable and append-only flags on a path (file or directory). Status 0 when none are left.
mt_clear_flags() {
  local rc
  mt_pick_flag_tool
  case $MT_FLAGTOOL in
  none) return 1 ;;
  python:*)
    "${MT_FLAGTOOL#python:}" -I -S -c "$MT_PY_FLAGS" clear "$1" >/dev/null 2>&1
    rc=$?
    ((rc == 0 || rc == 3))
    ;;
  *) "$MT_FLAGTOOL" -i -a -- "$1" >/dev/null 2>&1 ;;
  esac
}

# Which of the immutable (i) and append-only (a) flags path $1 has, into REPLY ('' for none). Status 1
# when they cannot be read (no verified tool, or the filesystem keeps no flags).
mt_get_flags() {
  local out
  REPLY=''
  mt_pick_flag_tool
  case $MT_FLAGTOOL in
  none) return 1 ;;
  python:*) out=$("${MT_FLAGTOOL#python:}" -I -S -c "$MT_PY_FLAGS" get "$1" 2>/dev/null) || return 1 ;;
  *)
    if [[ -z $MT_LSATTR ]]; then
      # No verified lsattr beside the verified chattr: the verified python3's ioctl reads them.
      [[ -n $MT_PYREAD ]] || return 1
      out=$("$MT_PYREAD" -I -S -c "$MT_PY_FLAGS" get "$1" 2>/dev/null) || return 1
      [[ $out =~ ^i?a?$ ]] || return 1
      REPLY=$out
      return 0
    fi
    out=$("$MT_LSATTR" -d -- "$1" 2>/dev/null) || return 1
    out=${out%% *}
    # lsattr's letters: lowercase i and a are only ever immutable and append-only.
    [[ $out =~ ^[A-Za-z-]+$ ]] || return 1
    local f=$out
    out=''
    [[ $f == *i* ]] && out+=i
    [[ $f == *a* ]] && out+=a
    ;;
  esac
  [[ $out =~ ^i?a?$ ]] || return 1
  REPLY=$out
}

# Sets the flags $2 (`i`, `a`, `ia`; '' sets nothing) on path $1 again. Status 0 when they are set.
mt_set_flags() {
  [[ -n $2 ]] || return 0
  [[ $2 =~ ^i?a?$ ]] || return 1
  mt_pick_flag_tool
  case $MT_FLAGTOOL in
  none) return 1 ;;
  python:*) "${MT_FLAGTOOL#python:}" -I -S -c "$MT_PY_FLAGS" set "$1" "$2" >/dev/null 2>&1 ;;
  *) "$MT_FLAGTOOL" "+$2" -- "$1" >/dev/null 2>&1 || return 1 ;;
  esac
  mt_get_flags "$1" && [[ $REPLY == *"${2:0:1}"* && $REPLY == *"${2:1:1}"* ]]
}

mt_clear_flags_around() {
  local dir=${1%/*}
  [[ -n $dir ]] || dir=/
  mt_clear_flags "$dir"
  mt_clear_flags "$1"
}

mt_systemd() {
  local init=''
  [[ -d /run/systemd/system ]] || return 1
  { init=$(</proc/1/comm); } 2>/dev/null
  [[ $init == systemd ]]
}

# --- quarantine, log, undo records ------------------------------------------------------------------

mt_log() {
  # n kind before status after rc note: all of them words of this script, never host bytes.
  [[ -n $MT_LOG ]] || return 0
  local ts
  printf -v ts '%(%Y-%m-%dT%H:%M:%S%z)T' -1
  printf '{"time":"%s","mode":"%s","n":%d,"kind":"%s","before":"%s","status":"%s","after":"%s","rc":%d,"note":"%s"}\n' \
    "$ts" "$MT_MODE" "$1" "$2" "$3" "$4" "$5" "$6" "$7" >>"$MT_LOG" 2>/dev/null
}

# A manifest line for an evidence copy: n kind path-hex sha256 copy-name.
mt_manifest() {
  local ts
  printf -v ts '%(%Y-%m-%dT%H:%M:%S%z)T' -1
  printf '{"time":"%s","n":%d,"kind":"%s","path_hex":"%s","sha256":"%s","copy":"%s","stat":"%s"}\n' \
    "$ts" "$1" "$2" "$3" "$4" "$5" "${6-}" >>"$MT_Q/manifest.jsonl"
}

# An undo record: words and hex only.
mt_undo_record() {
  printf '%s\n' "$*" >>"$MT_Q/undo.records"
}

# --- completion journal -----------------------------------------------------------------------------
# What an --apply of this plan completed, in the quarantine's done.records: `done PLAN-SHA256 N` for an
# action, `done PLAN-SHA256 N LINE` for one line of an edit. A later --apply re-does none of it: what the
# operator changed back since (an account unlocked, a key or cron line put back, a rule or block removed)
# stays as the operator left it; the state shows `reverted`, and --verify lists it as remaining (it may
# be the intrusion coming back: collect again). Processes are not journaled: a respawn is killed again.
# --undo starts the journal over.
MT_REVERTED_NOTE='left as it is now (the operator'"'"'s change; if not, the intrusion is back: collect again)'

# Reads the journal into MT_DONE (N, or N:LINE), only the lines of this plan.
mt_journal_load() {
  local tag sha n line rest
  MT_DONE=() MT_EDITED=()
  [[ -n $MT_Q && -f $MT_Q/done.records && ! -L $MT_Q/done.records ]] || return 0
  while read -r tag sha n line rest; do
    [[ $tag == 'done' && $sha == "$MT_DATA_SHA256" && $n =~ ^[0-9]{1,9}$ && -z $rest ]] || continue
    # An edit of this plan rewrote the file (a new inode): mt_edit_file_state.
    [[ -n $line ]] && MT_EDITED[$n]=1
    # Named with --redo: carried out again as if no run had completed it.
    [[ $MT_REDO == *",$n,"* ]] && continue
    if [[ -z $line ]]; then
      MT_DONE[$n]=1
    elif [[ $line =~ ^[0-9]{1,6}$ ]]; then
      MT_DONE[$n:$line]=1
    fi
  done 2>/dev/null <"$MT_Q/done.records"
}

# Journals action $1 (or line $2 of edit $1) as completed, once.
mt_journal() {
  local key=$1${2+:$2}
  [[ -n ${MT_DONE[$key]-} ]] && return 0
  printf 'done %s %s%s\n' "$MT_DATA_SHA256" "$1" "${2+ $2}" >>"$MT_Q/done.records" 2>/dev/null && MT_DONE[$key]=1
}

# Action kinds whose completion is journaled: those that change the host's files, accounts or firewall.
mt_journaled_kind() {
  case $MT_KIND in
  edit | edit-unit | unit | quarantine | unlink | rename-back | rmdir | block | fw-delete | lock | reinstall) return 0 ;;
  *) return 1 ;;
  esac
}

# After the selected item ran with status $1 (done or already): journals what is complete now.
mt_journal_item() {
  local i
  [[ $1 == 'done' || $1 == already ]] && mt_journaled_kind || return 0
  case $MT_KIND in
  edit | edit-unit)
    for i in ${MT_GONE[@]+"${MT_GONE[@]}"}; do
      mt_journal "$MT_N" "$i"
    done
    ;;
  *) [[ $MT_STATE == 'done' || $MT_STATE == gone ]] && mt_journal "$MT_N" ;;
  esac
}

# Checks directory $1 one component at a time from /, creating missing ones (mode 0700) when $2 is
# `create`: every component must be a real directory (never a symbolic link), owned by root, and not
# writable by group or others unless sticky (/tmp). The last one must be root's alone (mode 0700).
# Evidence, undo records and the undo script live there: an attacker who could redirect or write it
# could make --undo install their bytes as root. Status 1 with MT_NOTE on the first bad component.
mt_safe_dir() {
  local path=$1 mode=${2-check} cur='' comp i
  local -a comps=()
  IFS=/ read -r -a comps <<<"$path"
  for ((i = 0; i < ${#comps[@]}; i++)); do
    comp=${comps[i]}
    [[ -z $comp || $comp == . ]] && continue
    if [[ $comp == .. ]]; then
      MT_NOTE='the path holds ..'
      return 1
    fi
    cur+=/$comp
    if [[ ! -e $cur && ! -L $cur ]]; then
      [[ $mode == create ]] || {
        MT_NOTE="$cur does not exist"
        return 1
      }
      mkdir -m 0700 -- "$cur" 2>/dev/null || {
        MT_NOTE="cannot create $cur"
        return 1
      }
    fi
    if ! mt_lstat "$cur" || mt_is_symlink || (((16#${MT_ST[0]} & 16#F000) != 16#4000)); then
      MT_NOTE="$cur is not a directory (or is a symbolic link)"
      return 1
    fi
    if [[ ${MT_ST[3]} != 0 ]]; then
      MT_NOTE="$cur is not owned by root"
      return 1
    fi
    if (((8#${MT_ST[5]} & 8#022) && !(8#${MT_ST[5]} & 8#1000))); then
      MT_NOTE="$cur is writable by others"
      return 1
    fi
  done
  # A base a fresh quarantine is made under (/var/lib) may be any root-owned directory no one else writes.
  [[ $mode == base ]] && return 0
  # Never chmod: this run creates its directories 0700, and one it did not create (/tmp, named with
  # --quarantine) is the host's, its mode the host's too (see mt_quarantine_path).
  if [[ ${MT_ST[5]-} != 700 ]]; then
    MT_NOTE="$cur is not mode 0700"
    return 1
  fi
}

# An existing directory the operator named with --quarantine that is not root's alone (/tmp, /var/tmp,
# /srv/ir) keeps its mode: the quarantine is a private subdirectory in it, named after the plan, so a
# second run, --verify and --undo find the same one. Changes only MT_Q, writes nothing.
mt_quarantine_path() {
  ((MT_Q_GIVEN)) || return 0
  [[ -d $MT_Q && ! -L $MT_Q ]] && mt_lstat "$MT_Q" || return 0
  [[ ${MT_ST[5]} == 700 ]] && return 0
  MT_Q=${MT_Q%/}/minetrace-${MT_DATA_SHA256:0:16}
}

# A fresh quarantine (mktemp -d, root's, 0700) under the first base that passes mt_safe_dir, into MT_Q.
mt_fresh_quarantine() {
  local base q
  for base in /var/lib /root /; do
    mt_safe_dir "$base" base || continue
    q=$(mktemp -d -- "${base%/}/minetrace-quarantine.XXXXXXXXXX" 2>/dev/null) || continue
    if mt_safe_dir "$q" create; then
      MT_Q=$q
      return 0
    fi
  done
  return 1
}

mt_prepare_quarantine() {
  local fresh=0
  if [[ -z $MT_Q ]]; then
    MT_Q=/var/lib/minetrace/quarantine/${MT_DATA_SHA256:0:16}
  fi
  [[ $MT_Q == /* ]] || mt_die '--quarantine needs an absolute path'
  [[ -d $MT_Q ]] || fresh=1
  if ! mt_safe_dir "$MT_Q" create; then
    # The default path redirected or opened to others (a link to an attacker's directory): nothing is
    # written there; --apply takes a fresh directory under a verified base. A path the operator named,
    # and --undo, never fall back.
    if [[ $MT_MODE != apply || $MT_Q_GIVEN == 1 ]]; then
      mt_die "unsafe quarantine directory: $MT_NOTE"
    fi
    mt_say "warning: the default quarantine is unsafe ($MT_NOTE): a fresh one is used"
    mt_fresh_quarantine || mt_die 'no safe base for a fresh quarantine directory (/var/lib, /root, /)'
    fresh=1
  fi
  mt_say "quarantine: $MT_Q"
  mt_safe_dir "$MT_Q/files" create || mt_die "unsafe quarantine directory: $MT_NOTE"
  mt_safe_dir "$MT_Q/work" create || mt_die "unsafe quarantine directory: $MT_NOTE"
  if ((fresh)); then
    if ! printf 'probe\n' >"$MT_Q/work/.probe" 2>/dev/null; then
      mt_die 'cannot write to the quarantine directory (full disk or read-only?)'
    fi
    rm -f -- "$MT_Q/work/.probe"
  fi
  MT_LOG=$MT_Q/log.jsonl
  if command -v flock >/dev/null 2>&1; then
    exec {MT_LOCKFD}>>"$MT_Q/.lock" || mt_die 'cannot open the lock file'
    flock -n "$MT_LOCKFD" || mt_die 'another run of this script holds the quarantine lock'
  fi
  # The script and its undo wrapper are written once: a second run rewrites nothing it wrote.
  if [[ $MT_MODE == apply && -n $MT_SELF ]] && ! cmp -s -- "$MT_SELF" "$MT_Q/remediate.sh"; then
    cp -- "$MT_SELF" "$MT_Q/remediate.sh.part" 2>/dev/null && mv -f -- "$MT_Q/remediate.sh.part" "$MT_Q/remediate.sh"
  fi
  if [[ $MT_MODE == apply && ! -f $MT_Q/undo.sh ]]; then
    cat >"$MT_Q/undo.sh" <<'EOF'
#!/bin/bash
# Restores the files and lines the remediation removed, from the quarantine this file sits in, and
# removes the remediation's firewall table. Run as root: bash undo.sh
d=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P) || exit 2
exec /bin/bash --noprofile --norc -- "$d/remediate.sh" --undo --quarantine "$d"
EOF
  fi
}

# Copies bytes [offset, offset+length) of a file to stdout.
mt_copy_range() {
  (($3 > 0)) || return 0
  tail -c "+$(($2 + 1))" -- "$1" | head -c "$3"
}

# Writes the content of file $1 into a new file beside $2 with $2's owner, mode and SELinux label (or
# the given uid, gid and mode), then renames it over $2. Prints nothing; status 0 on success.
mt_install_beside() {
  local src=$1 dst=$2 uid=${3-} gid=${4-} mode=${5-} dir tmp
  dir=${dst%/*}
  [[ -n $dir ]] || dir=/
  # Never written through a bind mount (the file would be another directory's).
  mt_not_under_bind "$dir" || return 1
  tmp=$(mktemp -- "$dir/.minetrace.XXXXXXXXXX" 2>/dev/null) || return 1
  if ! cat -- "$src" >"$tmp" 2>/dev/null; then
    rm -f -- "$tmp"
    return 1
  fi
  if [[ -n $uid ]]; then
    chown -- "$uid:$gid" "$tmp" 2>/dev/null && chmod -- "$mode" "$tmp" 2>/dev/null
  else
    chown --reference="$dst" -- "$tmp" 2>/dev/null && chmod --reference="$dst" -- "$tmp" 2>/dev/null
  fi || {
    rm -f -- "$tmp"
    return 1
  }
  if [[ -z $uid ]] && command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then
    chcon --reference="$dst" -- "$tmp" >/dev/null 2>&1
  fi
  sync -- "$tmp" 2>/dev/null
    if [[ -n ${MT_PRE_RENAME-} ]] && ! "$MT_PRE_RENAME"; then
    rm -f -- "$tmp"
    return 1
  fi
  if ! mv -f -T -- "$tmp" "$dst" 2>/dev/null; then
    rm -f -- "$tmp"
    return 1
  fi
}

# The evidence copy of preserve action $1 must exist and hash to $2.
mt_evidence_ok() {
  mt_hash_file "$MT_Q/files/$1.bin"
  [[ -n $REPLY && $REPLY == "$2" ]]
}

# --- actions ----------------------------------------------------------------------------------------
# mt_state_KIND sets MT_STATE (pending: work to do; frozen; done; gone; skip: the target is not the
# snapshot's and was left alone; mismatch: something unexpected is there) and MT_NOTE.
# mt_apply_KIND does the work for a pending target; status 0 on success, MT_NOTE says why not.

mt_proc_fields() {
  mt_num 6 || return 1
  MT_PID=$REPLY
  mt_num 7 || return 1
  MT_START=$REPLY
  mt_get 8 || return 1
  MT_SHA=$REPLY
}

mt_file_fields() {
  mt_get 6 && [[ $REPLY == /* ]] || return 1
  MT_PATH=$REPLY
  mt_num 7 || return 1
  MT_DEV=$REPLY
  mt_num 8 || return 1
  MT_INO=$REPLY
  mt_get 9 && [[ $REPLY =~ ^[0-9a-f]{64}$ ]] || return 1
  MT_SHA=$REPLY
  mt_num 10 || return 1
  MT_SIZE=$REPLY
}

mt_bad_record() { MT_STATE=mismatch MT_NOTE='the plan record is malformed'; }

mt_state_preserve_proc() {
  mt_proc_fields || { mt_bad_record; return; }
  if [[ -n $MT_Q && -f $MT_Q/files/$1.exe ]]; then
    mt_hash_file "$MT_Q/files/$1.exe"
    if [[ -z $MT_SHA || $REPLY == "$MT_SHA" ]]; then
      MT_STATE='done' MT_NOTE='already in the quarantine'
      return
    fi
  fi
  mt_proc_state "$MT_PID" "$MT_START" "$MT_SHA"
  [[ $MT_STATE == frozen ]] && MT_STATE=pending
}

mt_apply_preserve_proc() {
  local n=$1 dst=$MT_Q/files/$1.exe f hash
  if ! cp -- "/proc/$MT_PID/exe" "$dst.part" 2>/dev/null; then
    MT_NOTE='cannot read its executable'
    return 1
  fi
  mt_hash_file "$dst.part"
  hash=$REPLY
  if [[ -n $MT_SHA && $hash != "$MT_SHA" ]]; then
    rm -f -- "$dst.part"
    MT_NOTE='the copied executable does not hash as in the snapshot'
    return 1
  fi
  mv -f -- "$dst.part" "$dst" || return 1
  for f in cmdline environ maps status cgroup; do
    cat -- "/proc/$MT_PID/$f" >"$MT_Q/files/$n.$f" 2>/dev/null
  done
  readlink -- "/proc/$MT_PID/exe" >"$MT_Q/files/$n.exe-link" 2>/dev/null
  mt_manifest "$n" process "-" "$hash" "files/$n.exe" "pid $MT_PID start $MT_START"
  MT_NOTE='executable, cmdline, environ and maps copied'
}

mt_state_preserve_file() {
  mt_file_fields || { mt_bad_record; return; }
  if [[ -n $MT_Q ]] && mt_evidence_ok "$1" "$MT_SHA"; then
    MT_STATE='done' MT_NOTE='already in the quarantine'
    return
  fi
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
}

mt_apply_preserve_file() {
  local n=$1 dst=$MT_Q/files/$1.bin meta
  meta="${MT_ST[3]}:${MT_ST[4]} ${MT_ST[5]} ${MT_ST[6]}"
  if ! cp -P --preserve=mode,ownership,timestamps -- "$MT_PATH" "$dst.part" 2>/dev/null; then
    rm -f -- "$dst.part"
    MT_NOTE='cannot copy it'
    return 1
  fi
  mt_hash_file "$dst.part"
  if [[ $REPLY != "$MT_SHA" ]]; then
    rm -f -- "$dst.part"
    MT_NOTE='the copy does not hash as in the snapshot'
    return 1
  fi
  sync -- "$dst.part" 2>/dev/null
  mv -f -- "$dst.part" "$dst" || return 1
  mt_manifest "$n" file "${MT_F[6]}" "$MT_SHA" "files/$n.bin" "$meta"
  MT_NOTE='copied with its hash and metadata'
}

mt_state_freeze() {
  mt_proc_fields || { mt_bad_record; return; }
  mt_proc_state "$MT_PID" "$MT_START" "$MT_SHA"
  [[ $MT_STATE == frozen ]] && MT_STATE='done'
}

mt_apply_freeze() {
  local i
  kill -STOP "$MT_PID" 2>/dev/null || {
    MT_NOTE='SIGSTOP failed'
    return 1
  }
  for ((i = 0; i < 40; i++)); do
    mt_proc_state "$MT_PID" "$MT_START" ''
    [[ $MT_STATE != pending ]] && break
    sleep 0.05
  done
  MT_NOTE='SIGSTOP sent'
}

mt_state_kill() {
  mt_proc_fields || { mt_bad_record; return; }
  mt_proc_state "$MT_PID" "$MT_START" "$MT_SHA"
  case $MT_STATE in
  gone) MT_STATE='done' ;;
  frozen) MT_STATE=pending ;;
  esac
}

mt_apply_kill() {
  local i
  kill -KILL "$MT_PID" 2>/dev/null || {
    MT_NOTE='SIGKILL failed'
    return 1
  }
  for ((i = 0; i < 100; i++)); do
    mt_proc_state "$MT_PID" "$MT_START" ''
    [[ $MT_STATE == gone || $MT_STATE == skip ]] && break
    sleep 0.05
  done
  MT_NOTE='SIGKILL sent'
}

# --- respawning sets --------------------------------------------------------------------------------
# The kit's processes restart each other (watchdog loops, a miner's supervisor, cron). They are found
# again at run time, never by name. The core: the snapshot's processes (same pid and start time), every
# process running a kit file (device and inode of /proc/PID/exe, or the same size and sha256 for files
# no package ships) and every interpreter running a kit script (the script its command line names, or
# bash's script descriptor); then, until nothing is added, the core's descendants and every process
# whose group or session leader is in the core. A process that merely holds a kit file open (an admin's
# `tail -f` or editor, a backup agent, a logger) is no member. Only entries whose gate is open in this
# run count. Never pid 1, a kernel thread, this script, its ancestors or descendants, nor a process the
# plan holds back as a review item not named.

# Reads the selected set record (freeze-set, kill-set) into MT_SET_SEEDS (pid:start), MT_SET_HELD
# (pid:start of closed gates), MT_SET_IDS (dev:ino -> the planned paths, one a line), MT_SET_SUMS
# (size -> sha256 list) and MT_INTERP (the word lists; package directories as `pkgdir:` keys).
mt_set_fields() {
  local i=7 n k pid start dev ino path size sha
  MT_SET_SEEDS=() MT_SET_HELD=() MT_SET_IDS=() MT_SET_SUMS=() MT_INTERP=()
  mt_cgroup2_root || MT_CG2=''
  mt_num 6 || return 1
  n=$REPLY
  ((n <= 100000)) || return 1
  for ((k = 0; k < n; k++)); do
    mt_num "$i" || return 1
    pid=$REPLY
    mt_num $((i + 1)) || return 1
    start=$REPLY
    mt_get $((i + 2)) || return 1
    [[ -z $REPLY || $REPLY =~ ^[0-9,]{1,1000}$ ]] || REPLY=bad
    if mt_gate_open "$REPLY"; then
      MT_SET_SEEDS+=("$pid:$start")
    else
      MT_SET_HELD+=("$pid:$start")
    fi
    i=$((i + 3))
  done
  mt_num "$i" || return 1
  n=$REPLY
  ((n <= 100000)) || return 1
  i=$((i + 1))
  for ((k = 0; k < n; k++)); do
    mt_num "$i" || return 1
    dev=$REPLY
    mt_num $((i + 1)) || return 1
    ino=$REPLY
    mt_get $((i + 2)) && [[ $REPLY == /* ]] || return 1
    path=$REPLY
    mt_get $((i + 3)) || return 1
    size=$REPLY
    mt_get $((i + 4)) || return 1
    sha=$REPLY
    mt_get $((i + 5)) || return 1
    [[ -z $REPLY || $REPLY =~ ^[0-9,]{1,1000}$ ]] || REPLY=bad
    if mt_gate_open "$REPLY"; then
      MT_SET_IDS[$dev:$ino]+=$path$'\n'
      if [[ $size =~ ^[0-9]{1,20}$ && $sha =~ ^[0-9a-f]{64}$ ]]; then
        MT_SET_SUMS[$size]+=" $sha"
      fi
    fi
    i=$((i + 6))
  done
  mt_set_words "$i" name || return 1
  mt_set_words "$MT_NEXT" valued || return 1
  mt_set_words "$MT_NEXT" stop || return 1
  mt_set_words "$MT_NEXT" pkgdir || return 1
}

# Reads a word list at field $1 (a count, then the words) into MT_INTERP as `$2:WORD` keys (the
# analyzer's interpreter names `name:`, options taking a value `valued:`, options after which no script
# file follows `stop:`); MT_NEXT is the field after it.
mt_set_words() {
  local i=$1 n k
  mt_num "$i" || return 1
  n=$REPLY
  ((n <= 1000)) || return 1
  for ((k = 1; k <= n; k++)); do
    mt_get $((i + k)) && [[ -n $REPLY ]] || return 1
    MT_INTERP[$2:$REPLY]=1
  done
  MT_NEXT=$((i + n + 1))
}

# The cgroup v2 hierarchy's mount point into MT_CG2 ('' when there is none or its path is unusual).
mt_cgroup2_root() {
  local line sep i
  local -a f
  MT_CG2=''
  while IFS= read -r line; do
    read -r -a f <<<"$line"
    sep=-1
    for ((i = 6; i < ${#f[@]}; i++)); do
      if [[ ${f[i]} == - ]]; then
        sep=$i
        break
      fi
    done
    ((sep > 0)) || continue
    if [[ ${f[sep + 1]-} == cgroup2 && ${f[4]} =~ ^/[A-Za-z0-9/._-]*$ ]]; then
      MT_CG2=${f[4]}
      return 0
    fi
  done </proc/self/mountinfo
  return 1
}

# The cgroup v2 path of process $1 into REPLY ('' when it has none).
mt_cgroup_of() {
  local line
  REPLY=''
  while IFS= read -r line; do
    if [[ $line == 0::/* ]]; then
      REPLY=${line#0::}
      return 0
    fi
  done 2>/dev/null <"/proc/$1/cgroup"
  return 0
}

# The name the kernel gives the file /proc path $1 leads to, into REPLY: the link of an image or a
# descriptor (`PATH (deleted)` once removed), else the path resolved.
mt_kit_name() {
  case $1 in
  /proc/*/exe | /proc/*/fd/*) REPLY=$(readlink -- "$1" 2>/dev/null) ;;
  *) REPLY=$(readlink -f -- "$1" 2>/dev/null) ;;
  esac
  [[ -n $REPLY ]]
}

# 0 when path $1 lies in a package directory (the plan's package_dir indicators).
mt_in_pkgdir() {
  local p=${1,,} k
  for k in "${!MT_INTERP[@]}"; do
    k=${k,,}
    [[ $k == pkgdir:* && $p == "${k#pkgdir:}"* ]] && return 0
  done
  return 1
}

# 0 when the file stat printed as `DEV:INO SIZE` ($1 $2), read through path $3, is a kit file: its
# identity while the kernel still names it by a planned path (or that path `(deleted)`: once the kit file
# is gone, its inode number goes to the next file made on that filesystem, a database's temp file), or a
# fresh copy of kit bytes (same size and sha256) anywhere but in a package directory (a host program
# with the kit's bytes, when the snapshot could not tell: python3 not running then).
mt_kit_file() {
  local sha want
  if [[ -n ${MT_SET_IDS[$1]-} ]] && mt_kit_name "$3"; then
    while IFS= read -r want; do
      [[ -n $want && ($REPLY == "$want" || $REPLY == "$want (deleted)") ]] && return 0
    done <<<"${MT_SET_IDS[$1]}"
  fi
  [[ $2 =~ ^[0-9]{1,20}$ && -n ${MT_SET_SUMS[$2]-} ]] || return 1
  mt_kit_name "$3" && ! mt_in_pkgdir "${REPLY% (deleted)}" || return 1
  sha=$({ sha256sum <"$3"; } 2>/dev/null) || return 1
  sha=${sha%% *}
  [[ -n $sha && ${MT_SET_SUMS[$2]} == *" $sha"* ]]
}

# 0 when $1 (a program's basename) is one of the analyzer's interpreters; a version suffix
# (`python3.11`, `perl5.36`) is ignored.
mt_is_interp() {
  local name=$1
  [[ -n $name ]] || return 1
  [[ -n ${MT_INTERP[name:$name]-} ]] && return 0
  while [[ $name == *[0-9.] ]]; do
    name=${name%?}
  done
  [[ -n $name && -n ${MT_INTERP[name:$name]-} ]]
}

# 0 when process $1, whose executable the kernel names $2, runs a kit script: it is an interpreter
# (its executable's or its argv[0]'s name) and bash's script descriptor (fd 255) is a kit file ($3
# non-empty: the caller stat'ed it) or the script its command line names is one (the first word that
# is no option, read with the analyzer's interpreter syntax; a relative name from the process's working
# directory, an absolute one under its root; once that script is deleted, the descriptor the shell
# keeps it on: mt_runs_deleted_script). Holding a kit file open is not enough: a `tail -f`, an editor, a
# backup agent or a shell's `exec 3<FILE` reads the kit, it does not run it.
mt_runs_kit_script() {
  # `word` starts set: a read that fails (the process exits mid-read) leaves it as it was, and under
  # `set -u` an unset word would end the whole script silently (stderr is /dev/null in this loop).
  local pid=$1 exe=${2% (deleted)} word='' out i script=''
  local -a argv=()
  while IFS= read -r -d '' word || [[ -n ${word-} ]]; do
    argv+=("$word")
    ((${#argv[@]} < 256)) || break
  done 2>/dev/null <"/proc/$pid/cmdline"
  ((${#argv[@]} > 0)) || return 1
  mt_is_interp "${exe##*/}" || mt_is_interp "${argv[0]##*/}" || return 1
  [[ -n $3 ]] && return 0
  for ((i = 1; i < ${#argv[@]}; i++)); do
    word=${argv[i]}
    [[ -n $word ]] || return 1
    [[ -n ${MT_INTERP[stop:$word]-} ]] && return 1
    if [[ $word == -- ]]; then
      script=${argv[i + 1]-}
      break
    fi
    if [[ -n ${MT_INTERP[valued:$word]-} ]]; then
      i=$((i + 1))
      continue
    fi
    [[ $word == [-+]* ]] && continue
    script=$word
    break
  done
  [[ -n $script ]] || return 1
  local named=$script
  if [[ $script == /* ]]; then
    script=/proc/$pid/root$script
  else
    script=/proc/$pid/cwd/$script
  fi
  if out=$(stat -L -c '%d:%i %s' -- "$script" 2>/dev/null); then
    mt_kit_file "${out% *}" "${out#* }" "$script"
    return
  fi
  mt_runs_deleted_script "$pid" "$named"
}

# 0 when process $1, told to run script $2 (as its command line names it) that is gone from its path,
# still runs it from a descriptor: dash and other shells keep the script they read on a descriptor of 10
# or more (bash's 255 is checked by the caller). The descriptor counts only while the kernel names it
# that script, deleted (`PATH (deleted)`), and it is a kit file: a file the interpreter merely holds open
# under another name is no membership.
mt_runs_deleted_script() {
  local pid=$1 want=$2 fd name cwd out
  if [[ $want != /* ]]; then
    while [[ $want == ./* ]]; do
      want=${want#./}
    done
    cwd=$(readlink -- "/proc/$pid/cwd" 2>/dev/null) || return 1
    want=${cwd%/}/$want
  fi
  for fd in "/proc/$pid/fd/"1[0-9]; do
    name=$(readlink -- "$fd" 2>/dev/null) || continue
    [[ $name == "$want (deleted)" ]] || continue
    out=$(stat -L -c '%d:%i %s' -- "$fd" 2>/dev/null) || continue
    mt_kit_file "${out% *}" "${out#* }" "$fd" && return 0
  done
  return 1
}

# Scans /proc for the set: MT_SET (pid -> state letter), MT_SET_LIST (pids, ascending), MT_SET_RUNNING
# (members neither stopped nor in a frozen cgroup).
mt_set_scan() {
  local path pid st rest id size exe p n added rounds fenced
  local -a f
  local -A ppid_of=() pgrp_of=() sess_of=() state_of=() start_of=() skip=() core=() script_fd=()
  MT_SET=()
  MT_SET_SEEN=()
  MT_SET_LIST=()
  MT_SET_RUNNING=0
  for path in /proc/[0-9]*; do
    pid=${path#/proc/}
    { IFS= read -r st <"$path/stat"; } 2>/dev/null || continue
    rest=${st##*) }
    read -r -a f <<<"$rest"
    ((${#f[@]} > 19)) || continue
    state_of[$pid]=${f[0]} ppid_of[$pid]=${f[1]} pgrp_of[$pid]=${f[2]} sess_of[$pid]=${f[3]} start_of[$pid]=${f[19]}
    MT_SET_SEEN[$pid]=1
  done
  # Never: pid 1, kernel threads, this script with its ancestors and descendants, held-back processes.
  skip[1]=1
  for pid in "${!ppid_of[@]}"; do
    [[ $pid == 2 || ${ppid_of[$pid]} == 2 ]] && skip[$pid]=1
  done
  p=$$
  while [[ -n $p && $p != 0 && -z ${skip[$p]-} ]]; do
    skip[$p]=1
    p=${ppid_of[$p]-}
  done
  for pid in "${!ppid_of[@]}"; do
    p=${ppid_of[$pid]}
    for ((n = 0; n < 64 && p > 1; n++)); do
      if [[ $p == "$$" ]]; then
        skip[$pid]=1
        break
      fi
      p=${ppid_of[$p]-0}
    done
  done
  for id in ${MT_SET_HELD[@]+"${MT_SET_HELD[@]}"}; do
    pid=${id%%:*}
    [[ ${start_of[$pid]-} == "${id#*:}" ]] && skip[$pid]=1
  done
  # The core: the snapshot's processes (still the same), every process whose image is a kit file (one
  # stat for every image; xargs keeps the argument list short on busy hosts), and every interpreter
  # running a kit script.
  for id in ${MT_SET_SEEDS[@]+"${MT_SET_SEEDS[@]}"}; do
    pid=${id%%:*}
    [[ ${start_of[$pid]-} == "${id#*:}" ]] && core[$pid]=1
  done
  if ((${#MT_SET_IDS[@]} > 0)); then
    while IFS=' ' read -r id size path; do
      pid=${path#/proc/}
      pid=${pid%%/*}
      [[ $pid =~ ^[0-9]+$ ]] || continue
      mt_kit_file "$id" "$size" "$path" || continue
      if [[ $path == */exe ]]; then
        core[$pid]=1
      else
        script_fd[$pid]=1
      fi
    done < <(printf '%s\0' /proc/[0-9]*/exe /proc/[0-9]*/fd/255 2>/dev/null |
      xargs -0 -r stat -L -c '%d:%i %s %n' -- 2>/dev/null)
    # The kernel's name of every image (find prints the link itself; a name may hold any byte).
    while IFS= read -r -d '' path && IFS= read -r -d '' exe; do
      pid=${path#/proc/}
      pid=${pid%%/*}
      [[ $pid =~ ^[0-9]+$ && -z ${core[$pid]-} && -z ${skip[$pid]-} ]] || continue
      mt_runs_kit_script "$pid" "$exe" "${script_fd[$pid]-}" && core[$pid]=1
    done < <(printf '%s\0' /proc/[0-9]*/exe 2>/dev/null |
      xargs -0 -r sh -c 'exec find "$@" -maxdepth 0 -printf "%p\\0%l\\0"' sh 2>/dev/null)
  fi
  for pid in ${core[@]+"${!core[@]}"}; do
    if [[ -n ${skip[$pid]-} ]]; then
      unset "core[$pid]"
    else
      MT_SET[$pid]=1
    fi
  done
  # Then, until nothing is added: children of members, and the members of a group or session whose
  # leader is in the core (never through a process that only descends from one: an operator's shell
  # that started a kit script keeps its session). Never a process skipped above, and never through one:
  # a group or session brings in no process whose nearest ancestor the scan decided on is a skipped one
  # rather than a member (the children of a held-back process or of the operator's shell stay with it,
  # even in the kit leader's group or session).
  for ((rounds = 0; rounds < 64; rounds++)); do
    added=0
    for pid in "${!ppid_of[@]}"; do
      [[ -n ${MT_SET[$pid]-} || -n ${skip[$pid]-} ]] && continue
      if [[ -n ${MT_SET[${ppid_of[$pid]}]-} ]]; then
        MT_SET[$pid]=1
        added=1
      elif [[ -n ${core[${pgrp_of[$pid]}]-} || -n ${core[${sess_of[$pid]}]-} ]]; then
        fenced=0
        p=${ppid_of[$pid]}
        for ((n = 0; n < 64 && p > 1; n++)); do
          [[ -n ${MT_SET[$p]-} ]] && break
          if [[ -n ${skip[$p]-} ]]; then
            fenced=1
            break
          fi
          p=${ppid_of[$p]-0}
        done
        ((fenced)) && continue
        MT_SET[$pid]=1
        added=1
      fi
    done
    ((added)) || break
  done
  for pid in ${MT_SET[@]+"${!MT_SET[@]}"}; do
    if [[ -z ${state_of[$pid]-} ]]; then
      unset "MT_SET[$pid]"
      continue
    fi
    case ${state_of[$pid]} in
    Z | X)
      unset "MT_SET[$pid]"
      continue
      ;;
    esac
    MT_SET[$pid]=${state_of[$pid]}
  done
  mapfile -t MT_SET_LIST < <(printf '%s\n' ${MT_SET[@]+"${!MT_SET[@]}"} | sort -n)
  [[ ${MT_SET_LIST[0]-} == '' ]] && MT_SET_LIST=()
  for pid in ${MT_SET_LIST[@]+"${MT_SET_LIST[@]}"}; do
    case ${MT_SET[$pid]} in
    T | t) continue ;;
    esac
    if [[ -n $MT_CG2 ]]; then
      mt_cgroup_of "$pid"
      if [[ -n $REPLY ]] && grep -q -x 'frozen 1' -- "$MT_CG2$REPLY/cgroup.events" 2>/dev/null; then
        continue
      fi
    fi
    MT_SET_RUNNING=$((MT_SET_RUNNING + 1))
  done
}

# Members as `PID (comm)`, printable, at most 20.
mt_set_names() {
  local pid comm out='' n=0
  for pid in ${MT_SET_LIST[@]+"${MT_SET_LIST[@]}"}; do
    ((n++ < 20)) || {
      out+=' ...'
      break
    }
    { IFS= read -r comm <"/proc/$pid/comm"; } 2>/dev/null || comm='?'
    comm=${comm//[^[:print:]]/?}
    out+=" $pid (${comm:0:16})"
  done
  REPLY=${out# }
}

# Status 0 when process $1, which the last scan of the set never saw, descends from a member through
# processes the scan never saw either (or is gone already): a child a member forked since the scan (a
# watchdog loop's `sleep`, `pgrep` or `( miner & )` subshell) is a member by descent. A process the scan
# saw and left out, or one it cannot read, is not.
mt_new_child_of_set() {
  local p=$1 n st rest
  local -a f
  for ((n = 0; n < 8; n++)); do
    [[ -n ${MT_SET[$p]-} ]] && return 0
    [[ -z ${MT_SET_SEEN[$p]-} ]] || return 1
    if ! { IFS= read -r st <"/proc/$p/stat"; } 2>/dev/null; then
      # Gone: the first one has nothing left to freeze; an ancestor gone is no proof of descent.
      ((n == 0))
      return
    fi
    rest=${st##*) }
    read -r -a f <<<"$rest"
    p=${f[1]-0}
    [[ $p =~ ^[0-9]+$ && $p -gt 1 ]] || return 1
  done
  return 1
}

# Freezes cgroup $1 (a path under MT_CG2) when every process in it and below is a member, or a child a
# member forked since the last scan (mt_new_child_of_set: a busy watchdog forks several a second). Status
# 0 once it reports frozen; else it is thawed again and the caller stops its members one by one.
mt_freeze_cgroup() {
  local dir=$MT_CG2$1 procs pid i
  [[ $1 != / && -n $MT_CG2 && -w $dir/cgroup.freeze ]] || return 1
  procs=$(find "$dir" -name cgroup.procs -exec cat -- {} + 2>/dev/null) || return 1
  [[ -n $procs ]] || return 1
  for pid in $procs; do
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -n ${MT_SET[$pid]-} ]] || mt_new_child_of_set "$pid" || return 1
  done
  printf '1\n' >"$dir/cgroup.freeze" 2>/dev/null || return 1
  for ((i = 0; i < 40; i++)); do
    if grep -q -x 'frozen 1' -- "$dir/cgroup.events" 2>/dev/null; then
      MT_SET_CGROUPS+=("$1")
      return 0
    fi
    sleep 0.05
  done
  printf '0\n' >"$dir/cgroup.freeze" 2>/dev/null
  return 1
}

# Stops every running member: by its cgroup when that holds only members, else SIGSTOP; scans again
# until no member runs (a child forked meanwhile is a member too). Status 0 when none runs.
mt_set_stop() {
  local round pid st
  local -a f
  local -A tried=()
  for ((round = 0; round < 20; round++)); do
    mt_set_scan
    ((MT_SET_RUNNING == 0)) && return 0
    for pid in ${MT_SET_LIST[@]+"${MT_SET_LIST[@]}"}; do
      case ${MT_SET[$pid]} in
      T | t) continue ;;
      esac
      mt_cgroup_of "$pid"
      if [[ -n $MT_CG2 && -n $REPLY ]]; then
        # A member of a cgroup frozen a moment ago (by this loop, for an earlier member) is stopped
        # already: a SIGSTOP on top would outlive the thaw (a watchdog's child whose parent a later
        # item kills would stay stopped for ever, out of the set).
        grep -q -x 'frozen 1' -- "$MT_CG2$REPLY/cgroup.events" 2>/dev/null && continue
        if [[ -z ${tried[$REPLY]-} ]]; then
          tried[$REPLY]=1
          mt_freeze_cgroup "$REPLY" && continue
        fi
      fi
      # Remembered with its start time: mt_set_kill_now kills it even once it is no member's descendant.
      if { st=$(<"/proc/$pid/stat"); } 2>/dev/null; then
        read -r -a f <<<"${st##*) }"
        MT_SET_STOPPED[$pid]=${f[19]-}
      fi
      kill -STOP "$pid" 2>/dev/null
    done
    sleep 0.05
  done
  mt_set_scan
  ((MT_SET_RUNNING == 0))
}

# Kills every member (stopped first), thaws the cgroups frozen for them, waits until they are gone.
# MT_SET_KILLED: how many were killed.
mt_set_kill_now() {
  local pid cg i st
  local -a f
  mt_set_stop
  MT_SET_KILLED=${#MT_SET_LIST[@]}
  for pid in ${MT_SET_LIST[@]+"${MT_SET_LIST[@]}"}; do
    kill -KILL "$pid" 2>/dev/null
  done
  # A member this script stopped whose parent an earlier item killed is no member's descendant any more:
  # still the set's and still stopped, it is killed too (same start time), never left stopped for ever.
  for pid in ${MT_SET_STOPPED[@]+"${!MT_SET_STOPPED[@]}"}; do
    if { st=$(<"/proc/$pid/stat"); } 2>/dev/null; then
      read -r -a f <<<"${st##*) }"
      [[ -n ${MT_SET_STOPPED[$pid]} && ${f[19]-} == "${MT_SET_STOPPED[$pid]}" ]] && kill -KILL "$pid" 2>/dev/null
    fi
  done
  MT_SET_STOPPED=()
  # A cgroup frozen because it held only the set forks nothing while frozen: whatever is in it now came
  # from the set, a child whose parent an earlier item killed (no member's descendant any more) too. It
  # is killed before the thaw, never left to run again.
  for cg in ${MT_SET_CGROUPS[@]+"${MT_SET_CGROUPS[@]}"}; do
    if grep -q -x 'frozen 1' -- "$MT_CG2$cg/cgroup.events" 2>/dev/null; then
      while IFS= read -r pid; do
        [[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
      done < <(find "$MT_CG2$cg" -name cgroup.procs -exec cat -- {} + 2>/dev/null)
    fi
    printf '0\n' >"$MT_CG2$cg/cgroup.freeze" 2>/dev/null
  done
  MT_SET_CGROUPS=()
  for ((i = 0; i < 100; i++)); do
    mt_set_scan
    ((${#MT_SET_LIST[@]} == 0)) && return 0
    for pid in ${MT_SET_LIST[@]+"${MT_SET_LIST[@]}"}; do
      kill -KILL "$pid" 2>/dev/null
    done
    sleep 0.05
  done
  return 1
}

mt_state_freeze_set() {
  mt_set_fields || {
    mt_bad_record
    return
  }
  mt_set_scan
  mt_set_names
  if ((${#MT_SET_LIST[@]} == 0)); then
    MT_STATE=gone MT_NOTE='no process of the set runs'
  elif ((MT_SET_RUNNING == 0)); then
    MT_STATE='done' MT_NOTE="frozen: $REPLY"
  else
    MT_STATE=pending MT_NOTE="$MT_SET_RUNNING of ${#MT_SET_LIST[@]} running: $REPLY"
  fi
}

mt_apply_freeze_set() {
  if mt_set_stop; then
    MT_NOTE="${#MT_SET_LIST[@]} process(es) stopped together (${#MT_SET_CGROUPS[@]} cgroup(s) by the freezer)"
    return 0
  fi
  MT_NOTE="$MT_SET_RUNNING process(es) of the set still run"
  return 1
}

mt_state_kill_set() {
  mt_set_fields || {
    mt_bad_record
    return
  }
  mt_set_scan
  if ((${#MT_SET_LIST[@]} == 0)); then
    MT_STATE='done' MT_NOTE='no process of the set runs'
  else
    mt_set_names
    MT_STATE=pending MT_NOTE="${#MT_SET_LIST[@]} process(es) of the set: $REPLY"
  fi
}

# Kills the set, waits for respawns, scans again: a member that came back is reported, killed once
# more, and the action fails (so --apply exits non-zero and the operator looks for what restarts it).
mt_apply_kill_set() {
  local killed
  mt_set_kill_now || {
    MT_NOTE='members of the set survived SIGKILL'
    return 1
  }
  killed=$MT_SET_KILLED
  sleep "$MT_RESPAWN_WAIT"
  mt_set_scan
  if ((${#MT_SET_LIST[@]} > 0)); then
    mt_set_names
    local back=$REPLY
    mt_set_kill_now
    MT_NOTE="came back after the kill and killed again: $back; find what restarts them and run --apply again"
    return 1
  fi
  MT_NOTE="$killed process(es) killed; nothing came back within ${MT_RESPAWN_WAIT}s"
}

mt_edit_fields() {
  mt_file_fields || return 1
  mt_num 11 || return 1
  MT_PN=$REPLY
  mt_num 12 || return 1
  MT_COUNT=$REPLY
  ((MT_COUNT > 0 && MT_COUNT <= 100000)) || return 1
  # After the lines: whether the file's and its directory's flags are set again after the edit, and the
  # flags the snapshot saw on each.
  local k=$((13 + 5 * MT_COUNT))
  mt_get "$k" && [[ $REPLY == restore || $REPLY == clear ]] || return 1
  MT_FLAGS_POLICY=$REPLY
  mt_get $((k + 1)) && [[ $REPLY == restore || $REPLY == clear ]] || return 1
  MT_DFLAGS_POLICY=$REPLY
  mt_get $((k + 2)) && [[ $REPLY =~ ^(i?a?|\?)$ ]] || return 1
  MT_SEEN_F=$REPLY
  mt_get $((k + 3)) && [[ $REPLY =~ ^(i?a?|\?)$ ]] || return 1
  MT_SEEN_D=$REPLY
}

# Whether planned line $1 is still in the file: the exact whole line, or (a key) its blob anywhere.
mt_line_present() {
  local line blob
  mt_get $((15 + 5 * $1)) || return 0
  line=$REPLY
  mt_get $((16 + 5 * $1)) || return 0
  blob=$REPLY
  if [[ -n $blob ]]; then
    grep -a -q -F -e "$blob" -- "$MT_PATH" 2>/dev/null
  else
    grep -a -q -F -x -e "$line" -- "$MT_PATH" 2>/dev/null
  fi
}

# Which planned lines are gone from the file (MT_GONE) and which must be gone after this run (MT_WANT:
# the gone ones and those whose gate is open), as ascending line indexes.
mt_edit_scan() {
  local i
  MT_GONE=() MT_WANT=() MT_REVERTED=0
  for ((i = 0; i < MT_COUNT; i++)); do
    if ! mt_line_present "$i"; then
      MT_GONE+=("$i")
      MT_WANT+=("$i")
      continue
    fi
    # Removed by an earlier --apply and back since (the operator put it back): never removed again.
    if [[ -n ${MT_DONE[${MT_N-0}:$i]-} ]]; then
      MT_REVERTED=$((MT_REVERTED + 1))
      continue
    fi
    mt_get $((17 + 5 * i)) || return 1
    [[ -z $REPLY || $REPLY =~ ^[0-9,]{1,1000}$ ]] || return 1
    mt_gate_open "$REPLY" && MT_WANT+=("$i")
  done
  return 0
}

# Prints the snapshot's content (evidence copy $1) without the planned lines whose indexes follow. The
# byte ranges come from the plan; every other byte is copied as it was.
mt_rebuild() {
  local copy=$1 i off len pos=0
  shift
  for i in "$@"; do
    mt_num $((13 + 5 * i)) || return 1
    off=$REPLY
    mt_num $((14 + 5 * i)) || return 1
    len=$REPLY
    ((off >= pos)) || return 1
    mt_copy_range "$copy" "$pos" $((off - pos)) || return 1
    pos=$((off + len))
  done
  if ((MT_SIZE > pos)); then
    mt_copy_range "$copy" "$pos" $((MT_SIZE - pos)) || return 1
  fi
}

# The file as this script would have left it: the snapshot's content minus the planned lines that are
# gone (MT_GONE). Status 0 when the file is exactly that (or the snapshot's own content).
mt_edit_base_ok() {
  local sum
  [[ $MT_CUR_SHA == "$MT_SHA" ]] && return 0
  [[ -n $MT_Q ]] && mt_evidence_ok "$MT_PN" "$MT_SHA" || return 1
  # Hashed through a pipe: checking a state writes nothing, not even a scratch file.
  sum=$(mt_rebuild "$MT_Q/files/$MT_PN.bin" "${MT_GONE[@]}" | sha256sum) || return 1
  [[ ${sum%% *} == "$MT_CUR_SHA" ]]
}

mt_state_edit() {
  mt_state_edit_lines
  if [[ $MT_STATE == 'done' ]] && ((MT_REVERTED > 0)); then
    MT_STATE=reverted MT_NOTE="$MT_REVERTED line(s) removed by an earlier --apply are back: $MT_REVERTED_NOTE"
  elif ((MT_REVERTED > 0)); then
    MT_NOTE+="; $MT_REVERTED line(s) removed by an earlier --apply are back and stay"
  fi
}

mt_state_edit_lines() {
  MT_REVERTED=0 MT_GONE=() MT_WANT=()
  mt_edit_fields || { mt_bad_record; return; }
  if ! mt_lstat "$MT_PATH"; then
    if [[ -e $MT_PATH || -L $MT_PATH ]]; then
      MT_STATE=mismatch MT_NOTE='the file cannot be examined'
    else
      MT_STATE='done' MT_NOTE='the file is gone'
    fi
    return
  fi
  if mt_is_symlink || ! mt_is_regular; then
    MT_STATE=mismatch MT_NOTE='the file is no longer a regular file (symbolic link?): left alone'
    return
  fi
  mt_hash_file "$MT_PATH"
  MT_CUR_SHA=$REPLY
  mt_edit_scan || { mt_bad_record; return; }
  local todo=$((${#MT_WANT[@]} - ${#MT_GONE[@]}))
  if [[ $MT_CUR_SHA == "$MT_SHA" ]]; then
    if ((todo == 0)); then
      MT_STATE='done' MT_NOTE='no line of it is due in this run'
      return
    fi
    local sha=$MT_CUR_SHA
    mt_edit_file_state
    MT_CUR_SHA=$sha
    return
  fi
  if mt_edit_base_ok; then
    if ((todo == 0)); then
      MT_STATE='done' MT_NOTE='the lines are removed'
    else
      MT_STATE=pending MT_NOTE="the snapshot's content less ${#MT_GONE[@]} removed line(s); $todo to remove"
    fi
  elif ((todo == 0)); then
    MT_STATE='done' MT_NOTE='the file changed since the snapshot; the lines are not in it'
  else
    MT_STATE=mismatch MT_NOTE='the file changed since the snapshot and still holds the lines: edit it by hand or collect again'
  fi
}

# Nothing replaced the file between the check and the rename: same content, and while it is still the
# snapshot's content, the same inode.
mt_pre_rename_edit() {
  mt_hash_file "$MT_PATH"
  [[ $REPLY == "$MT_CUR_SHA" ]] || return 1
  if [[ $MT_CUR_SHA == "$MT_SHA" ]]; then
    mt_edit_file_state
    [[ $MT_STATE == pending ]]
  fi
}

# The state of an edited file that holds the snapshot's content: the snapshot's file (mt_file_state), or
# the file an earlier --apply of this plan installed in its place (a new inode) once the operator put the
# removed lines back (--redo): the same bytes at the same path, a regular file, not a link.
mt_edit_file_state() {
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
  if [[ $MT_STATE == mismatch && -n ${MT_EDITED[${MT_N-0}]-} && $MT_CUR_SHA == "$MT_SHA" ]] &&
    mt_lstat "$MT_PATH" && mt_is_regular; then
    MT_STATE=pending MT_NOTE='the snapshot'"'"'s content, in the file an earlier --apply wrote'
  fi
}

# The immutable and append-only flags of the edited file and of its directory, read before they are
# cleared (MT_FFLAGS, MT_DFLAGS: letters, '-' for none, '?' unreadable).
mt_read_flags_around() {
  local dir=${1%/*}
  [[ -n $dir ]] || dir=/
  MT_FFLAGS='?' MT_DFLAGS='?' MT_FLAGS_EXTRA=''
  mt_get_flags "$1" && MT_FFLAGS=${REPLY:--}
  mt_get_flags "$dir" && MT_DFLAGS=${REPLY:--}
}

# The flags to set again of those read now ($1: letters, '-' or '?') and those the snapshot saw ($2:
# letters, '' or '?' when the snapshot could not read them): only letters both show, into REPLY ('-' for
# none; '?' stays). A lock that appeared after collection (the kit's cron running `chattr +ia` again
# between collection and --apply) is the kit's: its letters go into MT_EXTRA, never set again (review of
# train 2, item 7). A snapshot that could not read the flags says nothing against them: what is read now
# is set again.
mt_flags_seen_now() {
  local now=$1 seen=$2 out='' l
  MT_EXTRA=''
  if [[ $now == '?' || $now == - || $seen == '?' ]]; then
    REPLY=$now
    return 0
  fi
  for l in i a; do
    [[ $now == *$l* ]] || continue
    if [[ $seen == *$l* ]]; then out+=$l; else MT_EXTRA+=$l; fi
  done
  REPLY=${out:--}
}

# Keeps of the flags read around an edit only those the snapshot saw too (mt_flags_seen_now), and says in
# MT_FLAGS_EXTRA which locks it found that the snapshot did not.
mt_flags_keep_seen() {
  MT_FLAGS_EXTRA=''
  mt_flags_seen_now "$MT_FFLAGS" "$MT_SEEN_F"
  MT_FFLAGS=$REPLY
  [[ -z $MT_EXTRA ]] || MT_FLAGS_EXTRA+=" +$MT_EXTRA on the file"
  mt_flags_seen_now "$MT_DFLAGS" "$MT_SEEN_D"
  MT_DFLAGS=$REPLY
  [[ -z $MT_EXTRA ]] || MT_FLAGS_EXTRA+="${MT_FLAGS_EXTRA:+,} +$MT_EXTRA on its directory"
  return 0
}

# Sets the flags read by mt_read_flags_around again, on the file $1 (the edited one, a new inode) and on
# its directory, each when its policy is restore (MT_FLAGS_POLICY, MT_DFLAGS_POLICY). MT_FLAGS_NOTE says
# what was set, what could not be read and what could not be set; status 1 when a flag read could not be
# set again.
mt_restore_flags_around() {
  local dir=${1%/*} bad='' unread='' set=''
  [[ -n $dir ]] || dir=/
  if [[ $MT_FLAGS_POLICY == restore ]]; then
    case $MT_FFLAGS in
    '?') unread+=' file' ;;
    -) ;;
    *) if mt_set_flags "$1" "$MT_FFLAGS"; then set+=' file'; else bad+=' file'; fi ;;
    esac
  fi
  if [[ $MT_DFLAGS_POLICY == restore ]]; then
    case $MT_DFLAGS in
    '?') unread+=' directory' ;;
    -) ;;
    *) if mt_set_flags "$dir" "$MT_DFLAGS"; then set+=' directory'; else bad+=' directory'; fi ;;
    esac
  fi
  MT_FLAGS_NOTE=''
  [[ -z ${MT_FLAGS_EXTRA-} ]] || MT_FLAGS_NOTE+="; a lock the snapshot did not see was found (${MT_FLAGS_EXTRA# }): set after collection, it is taken for the intruder's and left cleared"
  [[ -z $set ]] || MT_FLAGS_NOTE+="; immutable/append-only flags set again on the$set"
  [[ -z $unread ]] || MT_FLAGS_NOTE+="; the flags of the$unread could not be read, so none were set again: check them with lsattr"
  [[ -z $bad ]] || MT_FLAGS_NOTE+="; the flags of the$bad could not be set again: set them by hand"
  [[ -z $bad ]]
}

mt_apply_edit() {
  local n=$1 new=$MT_Q/work/$1.new uid gid mode after
  MT_FLAGS_NOTE=''
  if ! mt_evidence_ok "$MT_PN" "$MT_SHA"; then
    MT_NOTE='its evidence copy is missing: not changed'
    return 1
  fi
  if ! mt_rebuild "$MT_Q/files/$MT_PN.bin" "${MT_WANT[@]}" >"$new"; then
    rm -f -- "$new"
    MT_NOTE='the plan'"'"'s line ranges do not fit the snapshot: not changed'
    return 1
  fi
  mt_hash_file "$new"
  after=$REPLY
  uid=${MT_ST[3]} gid=${MT_ST[4]} mode=${MT_ST[5]}
  # The file is kept: an admin's lock on it (or on its directory) is set again once it is edited. A lock
  # to set again that cannot be read back now, while the snapshot saw one: not edited (fail closed).
  mt_read_flags_around "$MT_PATH"
  if [[ ($MT_FLAGS_POLICY == restore && $MT_FFLAGS == '?' && $MT_SEEN_F == *[ia]*) ||
    ($MT_DFLAGS_POLICY == restore && $MT_DFLAGS == '?' && $MT_SEEN_D == *[ia]*) ]]; then
    rm -f -- "$new"
    MT_NOTE='not changed: the snapshot saw an immutable/append-only lock here and its flags cannot be read now (no verified lsattr or python3), so it could not be set again: remove the lines by hand'
    return 1
  fi
  mt_flags_keep_seen
  mt_clear_flags_around "$MT_PATH"
  MT_PRE_RENAME=mt_pre_rename_edit
  if ! mt_install_beside "$new" "$MT_PATH"; then
    MT_PRE_RENAME=''
    rm -f -- "$new"
    MT_NOTE="not changed: ${MT_NOTE:-cannot write beside it}"
    mt_restore_flags_around "$MT_PATH"
    MT_NOTE+=$MT_FLAGS_NOTE
    return 1
  fi
  MT_PRE_RENAME=''
  rm -f -- "$new"
  mt_hash_file "$MT_PATH"
  if [[ $REPLY != "$after" ]]; then
    mt_restore_flags_around "$MT_PATH"
    MT_NOTE="the file does not hash as rebuilt after the rename$MT_FLAGS_NOTE"
    return 1
  fi
  local restored=0
  mt_restore_flags_around "$MT_PATH" && restored=1
  # The flags set again go into the undo record too: undoing the edit restores them as they were.
  local uf=$MT_FFLAGS ud=$MT_DFLAGS
  [[ $MT_FLAGS_POLICY == restore ]] || uf=-
  [[ $MT_DFLAGS_POLICY == restore ]] || ud=-
  mt_undo_record edit "$n" "${MT_F[6]}" "$MT_PN" "$after" "$uid" "$gid" "$mode" "$uf" "$ud"
  MT_NOTE="removed $((${#MT_WANT[@]} - ${#MT_GONE[@]})) line(s); every other byte kept$MT_FLAGS_NOTE"
  # Flags that were read but cannot be set again: the lock the admin wanted is not there: say so.
  ((restored))
}

# An edited unit file (the host's unit, an attacker's line removed): the system manager still holds the
# unit as it was loaded, attacker's line included, until it reloads; a user unit is its user manager's.
mt_apply_edit_unit() {
  mt_apply_edit "$1" || return 1
  if mt_systemd && ! mt_user_unit; then
    if timeout 90 systemctl daemon-reload >/dev/null 2>&1; then
      MT_NOTE+='; systemd reloaded (the unit keeps running as it is; its next start runs the edited file)'
    else
      MT_NOTE+='; systemctl daemon-reload failed: run it by hand'
    fi
  fi
}

mt_pre_rename_none() { return 0; }

# Status 0 when directory $1 (a physical path) is on a mount that shows its filesystem's own tree, not
# through a bind mount: the mount holding it must not show a directory another mount of the same device
# also shows (`mount --bind /usr/sbin /tmp/.x`), nor be a later second mount of the same directory.
# Removing /tmp/.x/sshd there would remove /usr/sbin/sshd. MT_NOTE says why not.
mt_not_under_bind() {
  local dir=$1 line dev root mp best=-1 blen=-1 i=0 j
  local -a f=() devs=() roots=() mps=()
  if [[ ! -r /proc/self/mountinfo ]]; then
    MT_NOTE='the mount table cannot be read'
    return 1
  fi
  while IFS= read -r line; do
    read -r -a f <<<"$line"
    dev=${f[2]-} root=${f[3]-} mp=${f[4]-}
    [[ $root == *\\* ]] && root=$(printf '%b' "$root")
    [[ $mp == *\\* ]] && mp=$(printf '%b' "$mp")
    devs[i]=$dev roots[i]=$root mps[i]=$mp
    if [[ $mp == / || $dir == "$mp" || $dir == "$mp"/* ]] && ((${#mp} > blen)); then
      best=$i blen=${#mp}
    fi
    i=$((i + 1))
  done </proc/self/mountinfo
  if ((best < 0)); then
    MT_NOTE='no mount holds it in the mount table'
    return 1
  fi
  root=${roots[best]}
  for ((j = 0; j < i; j++)); do
    if ((j == best)) || [[ ${devs[j]} != "${devs[best]}" ]]; then
      continue
    fi
    if [[ ${roots[j]} == / || $root == "${roots[j]}" || $root == "${roots[j]}"/* ]]; then
      if [[ $root != "${roots[j]}" ]] || ((j < best)); then
        # Mount points come from the host (a bind mount's name is the attacker's): printable only.
        local shown=${mps[best]} whole=${mps[j]}
        shown=${shown//[![:print:]]/?} whole=${whole//[![:print:]]/?} root=${root//[![:print:]]/?}
        MT_NOTE="it is under a bind mount ($shown shows $root of the filesystem mounted at $whole): left alone"
        return 1
      fi
    fi
  done
}

# Enters directory $1 for work relative to it: it must be the directory the path names (no symbolic link
# on the way, so a kit directory swapped for a link to /usr/sbin is refused) and not under a bind mount.
# The working directory then holds it: a later swap of the path does not move the work elsewhere.
mt_enter_dir() {
  local dir=$1
  if ! cd -P -- "$dir" 2>/dev/null; then
    MT_NOTE='its directory cannot be entered'
    return 1
  fi
  if [[ $PWD != "$dir" ]]; then
    cd / || exit 2
    MT_NOTE='a directory on its path is a symbolic link now: left alone'
    return 1
  fi
  if ! mt_not_under_bind "$PWD"; then
    cd / || exit 2
    return 1
  fi
}

# Removes a file after its identity is re-checked; the evidence copy of plan item $2 must exist. The
# removal is relative to its verified directory (mt_enter_dir).
mt_remove_file() { mt_back_at_root mt_remove_in_dir "$@"; }

# Runs "$@" (which may leave the shell in a verified directory), then returns to / with its status.
mt_back_at_root() {
  local rc=0
  "$@" || rc=1
  cd / || exit 2
  return "$rc"
}

mt_remove_in_dir() {
  local n=$1 pn=$2 uid=${MT_ST[3]} gid=${MT_ST[4]} mode=${MT_ST[5]} dir name
  if ! mt_evidence_ok "$pn" "$MT_SHA"; then
    MT_NOTE='its evidence copy is missing: not removed'
    return 1
  fi
  dir=${MT_PATH%/*} name=${MT_PATH##*/}
  [[ -n $dir ]] || dir=/
  if ! mt_enter_dir "$dir"; then
    MT_NOTE="not removed: $MT_NOTE"
    return 1
  fi
  mt_clear_flags .
  mt_clear_flags "./$name"
  mt_file_state "./$name" "$MT_DEV" "$MT_INO" "$MT_SHA"
  if [[ $MT_STATE != pending ]]; then
    MT_NOTE="not removed: $MT_NOTE"
    return 1
  fi
  if ! rm -f -- "./$name" 2>/dev/null || [[ -e ./$name || -L ./$name ]]; then
    MT_NOTE='cannot remove it (immutable, or a read-only filesystem?)'
    return 1
  fi
  mt_undo_record file "$n" "${MT_F[6]}" "$pn" "$MT_SHA" "$uid" "$gid" "$mode"
}

mt_state_quarantine() {
  mt_file_fields || { mt_bad_record; return; }
  mt_num 11 || { mt_bad_record; return; }
  MT_PN=$REPLY
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
  [[ $MT_STATE == gone ]] && MT_STATE='done'
}

mt_apply_quarantine() {
  mt_remove_file "$1" "$MT_PN" || return 1
  MT_NOTE='removed; its copy is in the quarantine'
}

mt_link_fields() {
  mt_get 6 && [[ $REPLY == /* ]] || return 1
  MT_PATH=$REPLY
  mt_num 7 || return 1
  MT_DEV=$REPLY
  mt_num 8 || return 1
  MT_INO=$REPLY
  mt_get 9 && [[ -n $REPLY ]] || return 1
  MT_LINK=$REPLY
}

# A planned symbolic link: done when gone, pending while it is still the snapshot's link (a symbolic link
# with the same device, inode and target), mismatch otherwise.
mt_state_unlink() {
  local now p
  mt_link_fields || { mt_bad_record; return; }
  # $1: the name to check it under (relative to a verified directory), else its path.
  p=${1:-$MT_PATH}
  if ! mt_lstat "$p"; then
    if [[ -e $p || -L $p ]]; then
      MT_STATE=mismatch MT_NOTE='it cannot be examined'
    else
      MT_STATE='done' MT_NOTE='the link is gone'
    fi
    return
  fi
  if ! mt_is_symlink; then
    MT_STATE=mismatch MT_NOTE='it is no longer a symbolic link: left alone'
    return
  fi
  if [[ ${MT_ST[1]} != "$MT_DEV" || ${MT_ST[2]} != "$MT_INO" ]]; then
    MT_STATE=mismatch MT_NOTE='a different link is there now (device or inode differs): left alone'
    return
  fi
  # A trailing newline in the target is lost by $(...): such a link never matches and is left alone.
  now=$(readlink -- "$p" 2>/dev/null) || now=''
  if [[ -z $now || $now != "$MT_LINK" ]]; then
    MT_STATE=mismatch MT_NOTE='it points elsewhere now: left alone'
    return
  fi
  MT_STATE=pending MT_NOTE='matches the snapshot'
}

mt_apply_unlink() { mt_back_at_root mt_unlink_in_dir "$@"; }

# Removes the planned link relative to its verified directory (mt_enter_dir).
mt_unlink_in_dir() {
  local n=$1 dir=${MT_PATH%/*} path=$MT_PATH
  [[ -n $dir ]] || dir=/
  if ! mt_enter_dir "$dir"; then
    MT_NOTE="not removed: $MT_NOTE"
    return 1
  fi
  mt_clear_flags .
  mt_state_unlink "./${path##*/}"
  if [[ $MT_STATE != pending ]]; then
    MT_NOTE="not removed: $MT_NOTE"
    return 1
  fi
  mt_manifest "$n" link "${MT_F[6]}" - - "target_hex ${MT_F[9]}"
  if ! rm -f -- "./${path##*/}" 2>/dev/null || [[ -e ./${path##*/} || -L ./${path##*/} ]]; then
    MT_NOTE='cannot remove it (immutable directory, or a read-only filesystem?)'
    return 1
  fi
  mt_undo_record link "$n" "${MT_F[6]}" "${MT_F[9]}"
  MT_NOTE='removed; its target is recorded in the quarantine manifest'
}

# --- moving a packaged tool back --------------------------------------------------------------------
# A tool the kit moved away from its package path (mv /usr/bin/chattr /usr/bin/zzh) goes back there: the
# package path comes from the plan (the package database's record, never the file's name) and is used
# only while nothing is there, the file is still the snapshot's (device, inode, sha256) and the host's
# package database, asked now, records for that path the digest the file has now (mt_pkg_records). A hard
# link under the package path, then the old name unlinked (a copy beside the package path, linked in,
# when the two are on different file systems): never over anything. Owner and mode go with it, so a
# tool the kit made set-id, writable by others or not root's is left alone.

mt_rename_back_fields() {
  mt_file_fields || return 1
  mt_num 11 || return 1
  MT_PN=$REPLY
  mt_get 12 && [[ $REPLY == /?*/?* && $REPLY != */ && $REPLY != *//* && $REPLY != */./* && $REPLY != */../* ]] || return 1
  MT_DEST=$REPLY
  mt_get 13 || return 1
  case $REPLY in
  md5 | sha1 | sha224 | sha256 | sha384 | sha512) MT_ALGO=$REPLY ;;
  *) return 1 ;;
  esac
}

# The state of a moved tool: done once the package path holds its bytes and the moved name is gone;
# skip when another file is at the package path (the package was reinstalled: the moved copy stays).
mt_state_rename_back() {
  local at_dest=0
  mt_rename_back_fields || { mt_bad_record; return; }
  if mt_lstat "$MT_DEST"; then
    at_dest=1
    if ! mt_is_symlink && mt_is_regular; then
      mt_hash_file "$MT_DEST"
      [[ $REPLY == "$MT_SHA" ]] && at_dest=2
    fi
  elif [[ -e $MT_DEST || -L $MT_DEST ]]; then
    at_dest=1
  fi
  if ((at_dest == 1)); then
    MT_STATE=skip MT_NOTE='another file is at the package path (reinstalled?): left alone'
    return
  fi
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
  if ((at_dest == 2)); then
    case $MT_STATE in
    gone) MT_STATE='done' MT_NOTE='it is back at its package path' ;;
    pending) MT_NOTE='it is at its package path; the moved name is still there too' ;;
    esac
    return
  fi
  case $MT_STATE in
  gone)
    MT_STATE=mismatch MT_NOTE='it is gone and nothing is at its package path: reinstall the package by hand'
    return
    ;;
  pending) ;;
  *) return ;;
  esac
  # mv keeps a mode the kit set on its copy: a set-id, group- or world-writable or non-root tool would
  # take it to the package path (MT_ST: the file's lstat from mt_file_state).
  if [[ ${MT_ST[3]} != 0 || ${MT_ST[4]} != 0 ]] || ((8#${MT_ST[5]} & 8#7022)); then
    MT_STATE=mismatch MT_NOTE='its owner or mode is not a packaged tool'"'"'s (set-id, writable by others, or not root'"'"'s): left alone; reinstall the package by hand'
    return
  fi
  # On an rpm host, rpm's own configuration decides which database `rpm -qf` reads (%_dbpath) and may
  # run code while it expands macros: the answer counts only when mt_rpm_hooks_ok finds nothing there.
  if [[ ! -d $MT_DPKG_INFO ]] && ! mt_rpm_hooks_ok ''; then
    MT_STATE=mismatch MT_NOTE="rpm's configuration cannot be trusted to say what the package installed ($MT_NOTE): left alone"
    return
  fi
  if ! mt_pkg_records "$MT_PATH" "$MT_DEST" "$MT_ALGO"; then
    MT_STATE=mismatch MT_NOTE='the package database does not record its digest for the package path now: left alone'
    return
  fi
  MT_NOTE='the package path is missing and the package database records this file for it'
}

mt_apply_rename_back() { mt_back_at_root mt_rename_back_in_dir "$@"; }

# Moves the selected tool back from within its verified directory (mt_enter_dir).
mt_rename_back_in_dir() {
  local n=$1 dir=${MT_PATH%/*} name=${MT_PATH##*/} ddir=${MT_DEST%/*} tmp ddev linked=0
  [[ -n $dir ]] || dir=/
  # The package path's directory, as named: no symbolic link on the way, no bind mount.
  if ! mt_enter_dir "$ddir"; then
    MT_NOTE="not moved back: $MT_NOTE"
    return 1
  fi
  ddev=$(stat -c %d -- . 2>/dev/null) || ddev=''
  cd / || exit 2
  if ! mt_enter_dir "$dir"; then
    MT_NOTE="not moved back: $MT_NOTE"
    return 1
  fi
  mt_clear_flags "./$name"
  mt_state_rename_back
  if [[ $MT_STATE != pending ]]; then
    MT_NOTE="not moved back: $MT_NOTE"
    return 1
  fi
  mt_file_state "./$name" "$MT_DEV" "$MT_INO" "$MT_SHA"
  if [[ $MT_STATE != pending ]]; then
    MT_NOTE="not moved back: $MT_NOTE"
    return 1
  fi
  # The moved file's owner and mode (checked plain by mt_state_rename_back).
  local owner=${MT_ST[3]}:${MT_ST[4]} mode=${MT_ST[5]}
  if [[ ! -e $MT_DEST && ! -L $MT_DEST ]]; then
    if [[ $ddev == "$MT_DEV" ]]; then
      # ln never replaces an existing name: whatever appeared there since the check stays.
      ln -- "./$name" "$MT_DEST" 2>/dev/null || {
        MT_NOTE='cannot link it under its package path'
        return 1
      }
    else
      tmp=$(mktemp -- "$ddir/.minetrace.XXXXXXXXXX" 2>/dev/null) || {
        MT_NOTE='cannot write beside its package path'
        return 1
      }
      if ! cp -- "./$name" "$tmp" 2>/dev/null || ! chown -- "$owner" "$tmp" 2>/dev/null ||
        ! chmod -- "$mode" "$tmp" 2>/dev/null || ! ln -- "$tmp" "$MT_DEST" 2>/dev/null; then
        rm -f -- "$tmp"
        MT_NOTE='cannot copy it under its package path'
        return 1
      fi
      rm -f -- "$tmp"
    fi
    linked=1
  fi
  mt_hash_file "$MT_DEST"
  if ! mt_lstat "$MT_DEST" || mt_is_symlink || [[ $REPLY != "$MT_SHA" ]]; then
    MT_NOTE='the package path does not hold its bytes after the move: the moved name is kept'
    return 1
  fi
  if ((linked)); then
    mt_undo_record rename-back "$n" "${MT_F[6]}" "${MT_F[12]}" "$MT_SHA"
  elif mt_evidence_ok "$MT_PN" "$MT_SHA"; then
    # The package path already held these bytes (reinstalled since): the moved name is removed like any
    # other file, and its undo restores it from the evidence copy, never by moving the package's file.
    mt_undo_record file "$n" "${MT_F[6]}" "$MT_PN" "$MT_SHA" "${owner%%:*}" "${owner#*:}" "$mode"
  else
    MT_NOTE='its bytes are at the package path already, and its evidence copy is missing: the moved name is kept'
    return 1
  fi
  if ! rm -f -- "./$name" 2>/dev/null || [[ -e ./$name || -L ./$name ]]; then
    MT_NOTE='back at its package path, but the moved name cannot be removed (immutable directory?)'
    return 1
  fi
  # A chattr that is back verifies against its package now: the next flag change may use it.
  MT_FLAGTOOL='unset'
  MT_NOTE='moved back to its package path'
}

# Undo of a move back: the file goes to the name the snapshot saw again, when that name is free and the
# package path still holds the bytes that were moved (undo record: path hex, package path hex, sha256).
mt_undo_rename_back() {
  local n=$1 path=$2 dest sha=$4
  mt_unhex "$3" || return 1
  dest=$REPLY
  [[ $dest == /* && $sha =~ ^[0-9a-f]{64}$ ]] || return 1
  if [[ -e $path || -L $path ]]; then
    printf '  undo %s: left alone: something is at the moved name again\n' "$n"
    return 1
  fi
  mt_hash_file "$dest"
  if ! mt_lstat "$dest" || mt_is_symlink || [[ $REPLY != "$sha" ]]; then
    printf '  undo %s: left alone: the package path holds other bytes now\n' "$n"
    return 1
  fi
  if { ln -- "$dest" "$path" 2>/dev/null || cp -p -- "$dest" "$path" 2>/dev/null; } && rm -f -- "$dest"; then
    printf '  undo %s: moved to the name the snapshot saw again\n' "$n"
    return 0
  fi
  printf '  undo %s: failed\n' "$n"
  return 1
}

# --- kit directories --------------------------------------------------------------------------------
# A kit directory and its subdirectories, deepest first, each by path, device and inode: removed once
# its planned files are gone, each only while it is still the snapshot's directory and only when empty
# (rmdir): whatever appeared in it since the snapshot stays, and the action fails saying so.

# Directory $1 (0 = the first) of the selected rmdir record into MT_PATH, MT_DEV, MT_INO; MT_DIRS is
# how many the record holds, MT_DIR_HEX the path's field as written.
mt_rmdir_fields() {
  local i
  mt_num 6 || return 1
  MT_DIRS=$REPLY
  ((MT_DIRS >= 1 && MT_DIRS <= 10000)) || return 1
  i=$((7 + 3 * $1))
  mt_get "$i" && [[ $REPLY == /?* && $REPLY != */ ]] || return 1
  MT_PATH=$REPLY MT_DIR_HEX=${MT_F[i]}
  mt_num $((i + 1)) || return 1
  MT_DEV=$REPLY
  mt_num $((i + 2)) || return 1
  MT_INO=$REPLY
}

# One planned directory, under the name $1 (relative to a verified directory) or its path: done when
# gone, pending while it is the snapshot's directory (same device and inode, not a link), else mismatch.
mt_dir_state() {
  local p=${1:-$MT_PATH}
  if ! mt_lstat "$p"; then
    if [[ -e $p || -L $p ]]; then
      MT_STATE=mismatch MT_NOTE='it cannot be examined'
    else
      MT_STATE='done' MT_NOTE='the directory is gone'
    fi
    return
  fi
  if (((16#${MT_ST[0]} & 16#F000) != 16#4000)); then
    MT_STATE=mismatch MT_NOTE='it is no longer a directory: left alone'
  elif [[ ${MT_ST[1]} != "$MT_DEV" || ${MT_ST[2]} != "$MT_INO" ]]; then
    MT_STATE=mismatch MT_NOTE='a different directory is there now (device or inode differs): left alone'
  else
    MT_STATE=pending MT_NOTE='matches the snapshot'
  fi
}

# The action: done when every directory is gone, mismatch when one is not the snapshot's, else pending.
mt_state_rmdir() {
  local k n pend=0
  mt_rmdir_fields 0 || {
    mt_bad_record
    return
  }
  n=$MT_DIRS
  for ((k = 0; k < n; k++)); do
    mt_rmdir_fields "$k" || {
      mt_bad_record
      return
    }
    mt_dir_state
    case $MT_STATE in
    'done') ;;
    pending) pend=1 ;;
    *) return ;;
    esac
  done
  if ((pend)); then
    MT_STATE=pending MT_NOTE='the kit directory is still there'
  else
    MT_STATE='done' MT_NOTE='the kit directory is gone'
  fi
}

mt_apply_rmdir() { mt_back_at_root mt_rmdir_in_dirs "$1"; }

# Removes each planned directory, deepest first, relative to its verified parent (mt_enter_dir); its
# owner, mode and times go to the quarantine manifest and the undo records first.
mt_rmdir_in_dirs() {
  local n=$1 k count parent name gone=0
  mt_rmdir_fields 0 || return 1
  count=$MT_DIRS
  for ((k = 0; k < count; k++)); do
    cd / || exit 2
    mt_rmdir_fields "$k" || return 1
    parent=${MT_PATH%/*} name=${MT_PATH##*/}
    [[ -n $parent ]] || parent=/
    if ! mt_enter_dir "$parent"; then
      MT_NOTE="not removed: $MT_NOTE"
      return 1
    fi
    mt_dir_state "./$name"
    [[ $MT_STATE == 'done' ]] && continue
    if [[ $MT_STATE != pending ]]; then
      MT_NOTE="not removed: $MT_NOTE"
      return 1
    fi
    local uid=${MT_ST[3]} gid=${MT_ST[4]} mode=${MT_ST[5]} times
    times=$(stat -c 'mtime %Y ctime %Z' -- "./$name" 2>/dev/null) || times=''
    if [[ -n $(find "./$name" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null) ]]; then
      MT_NOTE='it still holds entries (a review item not named, or something added since the snapshot): kept, look at it by hand'
      return 1
    fi
    mt_manifest "$n" dir "$MT_DIR_HEX" - - "uid $uid gid $gid mode $mode $times"
    if ! rmdir -- "./$name" 2>/dev/null; then
      mt_clear_flags "./$name"
      mt_clear_flags .
      if ! rmdir -- "./$name" 2>/dev/null; then
        MT_NOTE='cannot remove it (immutable, or a read-only filesystem?)'
        return 1
      fi
    fi
    mt_undo_record dir "$n" "$MT_DIR_HEX" "$uid" "$gid" "$mode"
    gone=$((gone + 1))
  done
  MT_NOTE="$gone empty director(y/ies) removed; the files were quarantined above"
}

mt_state_unit() {
  mt_file_fields || { mt_bad_record; return; }
  mt_num 11 || { mt_bad_record; return; }
  MT_PN=$REPLY
  if ! mt_get 12 || [[ ! $REPLY =~ ^[A-Za-z0-9:_.@\\-]+$ || $REPLY == -* ]]; then
    mt_bad_record
    return
  fi
  MT_UNIT=$REPLY
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
  if [[ $MT_STATE == gone ]]; then
    if mt_unit_from_plan && systemctl is-active --quiet -- "$MT_UNIT" 2>/dev/null; then
      MT_STATE=mismatch MT_NOTE='the unit file is gone but the unit is still active'
    else
      MT_STATE='done'
    fi
  fi
}

mt_hex_of() {
  REPLY=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')
}

# Whether the planned unit file is a user unit (a home's ~/.config/systemd/user, or a user unit directory):
# the system manager never runs it, so no system-scope systemctl acts on its name.
mt_user_unit() {
  [[ $MT_PATH == */.config/systemd/user/* || $MT_PATH == */systemd/user/* ]]
}

# Whether the system manager loaded unit MT_UNIT from the planned file itself: a unit of the same name
# that a package ships (or one in a user's directory) is never stopped or disabled in its place.
mt_unit_from_plan() {
  local frag
  mt_systemd && ! mt_user_unit || return 1
  frag=$(timeout 30 systemctl show -p FragmentPath --value -- "$MT_UNIT" 2>/dev/null) || return 1
  [[ -n $frag && $frag == "$MT_PATH" ]]
}

# Removes the enablement links (in *.wants and *.requires directories) that point at the planned unit
# file itself: a link of the same name that resolves to another file (the package's unit) stays.
mt_unit_links() {
  local n=$1 l target base
  local -a dirs=(/etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system)
  base=${MT_PATH%/*}
  dirs+=("$base")
  while IFS= read -r -d '' l; do
    [[ ${l##*/} == "$MT_UNIT" ]] || continue
    [[ $(stat -L -c '%d %i' -- "$l" 2>/dev/null) == "$MT_DEV $MT_INO" ]] || continue
    target=$(readlink -- "$l" 2>/dev/null) || target=''
    if rm -f -- "$l" 2>/dev/null; then
      mt_hex_of "$l"
      local lh=$REPLY
      mt_hex_of "$target"
      mt_undo_record link "$n" "$lh" "${REPLY:--}"
    fi
  done < <(find "${dirs[@]}" -mindepth 2 -maxdepth 2 -type l -print0 2>/dev/null)
}

# Removes the attacker's unit without running any of it. `systemctl stop` on the unit as loaded runs its
# ExecStop=/ExecStopPost= (ExecStopPre=/ExecStopPost= of a socket) as root from pid 1, and follows its
# PropagatesStopTo=, OnSuccess=/OnFailure=; `systemctl disable` follows its [Install] Also= onto the
# host's own units (ssh, cron). A runtime drop-in can empty the Exec lists but never remove a dependency,
# so the unit is never stopped as the attacker wrote it: its enablement links (those that resolve to the
# planned file, mt_unit_links: what disable would remove, and nothing else) and its file go first, then
# daemon-reload makes the manager load it again, now without a file (not-found: no commands, no
# dependencies, Restart=no). Only then is the unit's cgroup SIGKILLed (frozen members die too) and the
# unit stopped (a socket's listener closed) and forgotten. When a unit of the same name from another
# file (a package's, which the attacker's shadowed) loads instead, only the attacker's processes in the
# unit's cgroup are killed: that unit is the host's, its commands and restart policy are the host's.
mt_apply_unit() {
  local n=$1 loaded=0 state
  mt_unit_from_plan && loaded=1
  mt_unit_links "$n"
  mt_remove_file "$n" "$MT_PN" || return 1
  if ((loaded)); then
    timeout 90 systemctl daemon-reload >/dev/null 2>&1
    state=$(timeout 30 systemctl show -p LoadState --value -- "$MT_UNIT" 2>/dev/null) || state=''
    timeout 30 systemctl kill -s SIGKILL -- "$MT_UNIT" >/dev/null 2>&1
    if [[ $state == not-found || $state == masked ]]; then
      timeout 90 systemctl stop -- "$MT_UNIT" >/dev/null 2>&1
      timeout 30 systemctl reset-failed -- "$MT_UNIT" >/dev/null 2>&1
      MT_NOTE='removed with its links (copy in the quarantine), then its processes killed and the unit stopped once the manager had forgotten its commands'
    else
      MT_NOTE="removed with its links (copy in the quarantine), its processes killed; the manager now loads another file for this name (state ${state:-unknown}): start it by hand if the host needs it"
    fi
  elif mt_user_unit; then
    MT_NOTE="a user unit: removed with its links (copy in the quarantine); the user's manager forgets it at its next reload, its processes are this plan's kill items"
  else
    MT_NOTE='not the unit the system manager runs under this name: removed with its links, nothing stopped (copy in the quarantine)'
  fi
}

mt_block_fields() {
  mt_get 6 || return 1
  MT_FAM=$REPLY
  mt_get 7 || return 1
  MT_IP=$REPLY
  mt_num 8 || return 1
  MT_PORT=$REPLY
  ((MT_PORT > 0 && MT_PORT < 65536)) || return 1
  case $MT_FAM in
  4) [[ $MT_IP =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] ;;
  6) [[ $MT_IP =~ ^[0-9a-f:.]{2,45}$ && $MT_IP == *:* ]] ;;
  *) return 1 ;;
  esac
}

# Whether nf_tables is in the kernel now (loaded, built in, or the kernel loads no modules at all). Asking
# nft anything loads it otherwise.
mt_nft_loaded() {
  local k=''
  [[ -d $MT_SYS_MODULE/nf_tables || ! -e $MT_PROC_MODULES ]] && return 0
  { k=$(uname -r); } 2>/dev/null
  [[ -n $k ]] && grep -q -F -e /nf_tables.ko -- "$MT_MODULES_DIR/$k/modules.builtin" 2>/dev/null
}

# Whether table $2 of tool $1 (iptables, ip6tables) exists now, found without loading or creating
# anything: a dry run, --verify and every state check leave the kernel as it was. Naming a table iptables
# does not have yet loads it (on iptables-legacy, nat brings connection tracking up: a busy host then
# drops packets when its conntrack table fills). A legacy table is listed in /proc/net/ip{,6}_tables_names
# once loaded; an nf_tables one exists only while nf_tables is loaded, and then the save tool lists it.
mt_ipt_table_live() {
  local t=$1 tb=$2 names=$MT_PROC_NET/ip_tables_names v
  [[ $t == ip6tables ]] && names=$MT_PROC_NET/ip6_tables_names
  v=$("$t" -V 2>/dev/null) || v=''
  if [[ $v == *nf_tables* ]]; then
    # --apply may load nf_tables (not a table): it must see the rule to delete it.
    [[ $MT_MODE == apply ]] || mt_nft_loaded || return 1
    "$t-save" 2>/dev/null | grep -q -x -F -e "*$tb"
    return
  fi
  [[ -r $names ]] && grep -q -x -F -e "$tb" -- "$names"
}

mt_fw_pick() {
  [[ -n $MT_FW ]] && return 0
  # `nft list tables` loads nf_tables when it is not in the kernel: only --apply, about to add its table,
  # may do that; read-only modes ask nft only when it is there already.
  if command -v nft >/dev/null 2>&1 && { [[ $MT_MODE == apply ]] || mt_nft_loaded; } && nft list tables >/dev/null 2>&1; then
    MT_FW=nft
  elif command -v iptables >/dev/null 2>&1; then
    MT_FW=iptables
  else
    MT_FW=none
  fi
}

MT_NFT_TABLE=minetrace_remediate
MT_IPT_CHAIN=MINETRACE-REMEDIATE

mt_nft_setup() {
  if ! nft list table inet "$MT_NFT_TABLE" >/dev/null 2>&1; then
    nft -f - >/dev/null 2>&1 <<'EOF' || return 1
table inet minetrace_remediate {
  set allow4 { type ipv4_addr; }
  set allow6 { type ipv6_addr; }
  set block4 { type ipv4_addr . inet_service; }
  set block6 { type ipv6_addr . inet_service; }
  chain output {
    type filter hook output priority -5; policy accept;
    tcp sport 22 accept
    ip daddr @allow4 accept
    ip6 daddr @allow6 accept
    ip daddr . tcp dport @block4 drop
    ip daddr . udp dport @block4 drop
    ip6 daddr . tcp dport @block6 drop
    ip6 daddr . udp dport @block6 drop
  }
  chain forward {
    type filter hook forward priority -5; policy accept;
    ip daddr . tcp dport @block4 drop
    ip daddr . udp dport @block4 drop
    ip6 daddr . tcp dport @block6 drop
    ip6 daddr . udp dport @block6 drop
  }
}
EOF
  fi
  # The operator's SSH peer is always allowed, whatever is blocked.
  case $MT_SSH_PEER in
  *:*) nft add element inet "$MT_NFT_TABLE" allow6 "{ $MT_SSH_PEER }" >/dev/null 2>&1 ;;
  *.*) nft add element inet "$MT_NFT_TABLE" allow4 "{ $MT_SSH_PEER }" >/dev/null 2>&1 ;;
  esac
  return 0
}

mt_ipt_tool() { if [[ $MT_FAM == 6 ]]; then REPLY=ip6tables; else REPLY=iptables; fi; }

mt_ipt_setup() {
  local t=$1 hook
  command -v "$t" >/dev/null 2>&1 || return 1
  "$t" -w -n -L "$MT_IPT_CHAIN" >/dev/null 2>&1 || "$t" -w -N "$MT_IPT_CHAIN" >/dev/null 2>&1 || return 1
  for hook in OUTPUT FORWARD; do
    "$t" -w -C "$hook" -j "$MT_IPT_CHAIN" >/dev/null 2>&1 || "$t" -w -I "$hook" 1 -j "$MT_IPT_CHAIN" >/dev/null 2>&1 || return 1
  done
  "$t" -w -C "$MT_IPT_CHAIN" -p tcp --sport 22 -j RETURN >/dev/null 2>&1 ||
    "$t" -w -I "$MT_IPT_CHAIN" 1 -p tcp --sport 22 -j RETURN >/dev/null 2>&1
  if [[ $MT_SSH_PEER != - ]]; then
    "$t" -w -C "$MT_IPT_CHAIN" -d "$MT_SSH_PEER" -j RETURN >/dev/null 2>&1 ||
      "$t" -w -I "$MT_IPT_CHAIN" 1 -d "$MT_SSH_PEER" -j RETURN >/dev/null 2>&1
  fi
  return 0
}

mt_state_block() {
  local p t
  mt_block_fields || { mt_bad_record; return; }
  mt_fw_pick
  MT_STATE=pending MT_NOTE='not blocked yet'
  case $MT_FW in
  nft)
    nft get element inet "$MT_NFT_TABLE" "block$MT_FAM" "{ $MT_IP . $MT_PORT }" >/dev/null 2>&1 &&
      MT_STATE='done' MT_NOTE='blocked in table inet minetrace_remediate'
    ;;
  iptables)
    mt_ipt_tool
    t=$REPLY
    # No filter table yet: no chain of this script's either (and asking would load the table).
    mt_ipt_table_live "$t" filter || return 0
    for p in tcp udp; do
      "$t" -w -C "$MT_IPT_CHAIN" -d "$MT_IP" -p "$p" --dport "$MT_PORT" -j DROP >/dev/null 2>&1 || return 0
    done
    MT_STATE='done' MT_NOTE='blocked in chain MINETRACE-REMEDIATE'
    ;;
  *) MT_STATE=mismatch MT_NOTE='neither nft nor iptables is available' ;;
  esac
}

mt_apply_block() {
  local p t
  case $MT_FW in
  nft)
    mt_nft_setup || {
      MT_NOTE='cannot create the nftables table'
      return 1
    }
    nft add element inet "$MT_NFT_TABLE" "block$MT_FAM" "{ $MT_IP . $MT_PORT }" >/dev/null 2>&1 || {
      MT_NOTE='cannot add the address to the block set'
      return 1
    }
    ;;
  iptables)
    mt_ipt_tool
    t=$REPLY
    mt_ipt_setup "$t" || {
      MT_NOTE='cannot create the iptables chain'
      return 1
    }
    for p in tcp udp; do
      "$t" -w -C "$MT_IPT_CHAIN" -d "$MT_IP" -p "$p" --dport "$MT_PORT" -j DROP >/dev/null 2>&1 ||
        "$t" -w -A "$MT_IPT_CHAIN" -d "$MT_IP" -p "$p" --dport "$MT_PORT" -j DROP >/dev/null 2>&1 || return 1
    done
    ;;
  *) return 1 ;;
  esac
  MT_NOTE='blocked (TCP and UDP, outgoing and forwarded)'
}

# Whether $1 may be an argument of the rule given to iptables: a value (no leading -), a short rule
# option alone, or a whole long option (no =) that abbreviates no option picking a table, running a
# program or giving another command. getopt also reads -M attached (-M/x) or bundled (-vM/x) and any
# unambiguous prefix of a long option (--modp=/x); --modprobe makes iptables run that program. The
# planner allows only the rule options it knows (remediate/firewall.rs RULE_OPTIONS); this is the
# script's own check of the shape.
mt_ipt_arg_ok() {
  local a=$1 d
  [[ $a == -* ]] || return 0
  [[ $a =~ ^-[sdiopjgmf]$ ]] && return 0
  [[ $a =~ ^--[a-z][a-z0-9-]*$ ]] || return 1
  for d in modprobe table append check delete insert replace list list-rules flush zero new-chain delete-chain rename-chain policy wait wait-interval; do
    [[ $d == "${a#--}"* ]] && return 1
  done
  return 0
}

mt_fw_delete_fields() {
  local i count
  MT_ARGS=() MT_TABLES=()
  mt_get 6 || return 1
  MT_FAM=$REPLY
  mt_get 7 || return 1
  [[ $REPLY =~ ^(filter|nat|mangle|raw|security)(,(filter|nat|mangle|raw|security)){0,4}$ ]] || return 1
  IFS=, read -r -a MT_TABLES <<<"$REPLY"
  mt_num 8 && count=$REPLY || return 1
  ((count > 0 && count < 200)) || return 1
  for ((i = 0; i < count; i++)); do
    mt_get $((9 + i)) || return 1
    mt_ipt_arg_ok "$REPLY" || return 1
    MT_ARGS+=("$REPLY")
  done
  [[ ${MT_ARGS[0]} =~ ^[A-Za-z0-9_.][A-Za-z0-9_.-]*$ ]]
}

# Where the rule is now: MT_HITS holds "tool table" pairs. Only the tables the snapshot saw the rule in,
# and only those the kernel has now (a table that is not there holds no rule).
mt_fw_find() {
  local t tb
  local -a tools
  MT_HITS=()
  case $MT_FAM in
  4) tools=(iptables) ;;
  6) tools=(ip6tables) ;;
  *) tools=(iptables ip6tables) ;;
  esac
  for t in "${tools[@]}"; do
    command -v "$t" >/dev/null 2>&1 || continue
    for tb in "${MT_TABLES[@]}"; do
      mt_ipt_table_live "$t" "$tb" || continue
      "$t" -w -t "$tb" -C "${MT_ARGS[@]}" >/dev/null 2>&1 && MT_HITS+=("$t $tb")
    done
  done
}

mt_state_fw_delete() {
  mt_fw_delete_fields || { mt_bad_record; return; }
  mt_fw_find
  if ((${#MT_HITS[@]} > 0)); then
    MT_STATE=pending MT_NOTE='the rule is present'
  else
    MT_STATE='done' MT_NOTE='the rule is not present'
  fi
}

mt_apply_fw_delete() {
  local hit t tb i
  for hit in "${MT_HITS[@]}"; do
    t=${hit% *} tb=${hit#* }
    for ((i = 0; i < 32; i++)); do
      "$t" -w -t "$tb" -C "${MT_ARGS[@]}" >/dev/null 2>&1 || break
      "$t" -w -t "$tb" -D "${MT_ARGS[@]}" >/dev/null 2>&1 || return 1
    done
  done
  MT_NOTE='deleted'
}

mt_state_lock() {
  local uid line
  if ! mt_get 6 || [[ -z $REPLY || $REPLY == -* || $REPLY == *:* ]]; then
    mt_bad_record
    return
  fi
  MT_NAME=$REPLY
  mt_get 7 && uid=$REPLY
  if ! mt_admin_groups 8; then
    mt_bad_record
    return
  fi
  line=$(N=$MT_NAME awk -F: '$1 == ENVIRON["N"] { print $3; exit }' /etc/passwd 2>/dev/null)
  if [[ -z $line ]]; then
    MT_STATE='done' MT_NOTE='the account no longer exists'
    return
  fi
  if [[ -n $uid && $line != "$uid" ]]; then
    MT_STATE=mismatch MT_NOTE='the account has another uid than in the snapshot: left alone'
    return
  fi
  if mt_lock_refused "$line"; then
    MT_STATE=mismatch
    return
  fi
  line=$(N=$MT_NAME awk -F: '$1 == ENVIRON["N"] { print (substr($2, 1, 1) == "!" ? "L" : "U") "-" $8; exit }' /etc/shadow 2>/dev/null)
  if [[ $line == L-1 || $line == L-0 ]]; then
    MT_STATE='done' MT_NOTE='locked and expired'
  else
    MT_STATE=pending MT_NOTE='not locked'
  fi
}

# The administrators' groups of a `lock` record into MT_ADMIN_GROUPS (as keys): field $1 is their
# count, the names follow. They are the analyzer's `admin_group` indicators, written into the plan: the
# script keeps no list of its own, so an --iocs file that adds a group protects its last member too.
mt_admin_groups() {
  local i=$1 n k
  MT_ADMIN_GROUPS=()
  mt_num "$i" || return 1
  n=$REPLY
  ((n <= 1000)) || return 1
  for ((k = 1; k <= n; k++)); do
    mt_get $((i + k)) && [[ -n $REPLY ]] || return 1
    MT_ADMIN_GROUPS[$REPLY]=1
  done
}

# 0 (with MT_NOTE) when account MT_NAME, uid $1, must not be locked whatever the plan says: the
# operator running this script logged in as it (its login uid), or it is the last member of an
# administrators' group (MT_ADMIN_GROUPS, from the plan; a cloud host's root often has no password:
# that account is the way in).
mt_lock_refused() {
  local me='' g u members m other=0 member=0
  { me=$(<"$MT_PROC_SELF/loginuid"); } 2>/dev/null
  if [[ $me == "$1" ]]; then
    MT_NOTE='the operator running this script logged in as this account: lock it by hand from another one'
    return 0
  fi
  while IFS=: read -r g _ _ members; do
    [[ -n $g && -n ${MT_ADMIN_GROUPS[$g]-} ]] || continue
    IFS=, read -r -a m <<<"$members"
    for u in ${m[@]+"${m[@]}"}; do
      if [[ $u == "$MT_NAME" ]]; then member=1; else other=1; fi
    done
  done 2>/dev/null <"$MT_ETC/group"
  if ((member && !other)); then
    MT_NOTE="the last member of an administrators' group (the analyzer's admin_group): lock it by hand once another administrator can log in"
    return 0
  fi
  return 1
}

mt_apply_lock() {
  usermod -L -e 1 -- "$MT_NAME" >/dev/null 2>&1 || {
    MT_NOTE='usermod failed'
    return 1
  }
  MT_NOTE='locked and expired (usermod -L -e 1)'
}

mt_reinstall_fields() {
  mt_file_fields || return 1
  mt_num 11 || return 1
  MT_PN=$REPLY
  mt_get 12 || return 1
  MT_PKG=$REPLY
  mt_get 13 || return 1
  case $REPLY in
  dpkg | rpm | '') MT_PM=$REPLY ;;
  *) return 1 ;;
  esac
}

mt_state_reinstall() {
  mt_reinstall_fields || { mt_bad_record; return; }
  if ! mt_lstat "$MT_PATH" && [[ ! -e $MT_PATH && ! -L $MT_PATH ]] && mt_pkg_unowned; then
    MT_STATE='done' MT_NOTE='no package owns it and it is gone'
    return
  fi
  if ! mt_lstat "$MT_PATH" || ! mt_is_regular; then
    MT_STATE=mismatch MT_NOTE='the file is missing or not a regular file: reinstall its package by hand'
    return
  fi
  mt_hash_file "$MT_PATH"
  if [[ $REPLY != "$MT_SHA" ]]; then
    MT_STATE='done' MT_NOTE='the replaced file is gone'
    return
  fi
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
}

# The package owning $MT_PATH into REPLY (dpkg file lists, exact lines; or rpm -qf).
mt_pkg_owner() {
  local rel alt f
  REPLY=$MT_PKG
  if [[ -z $REPLY && -d $MT_DPKG_INFO ]]; then
    rel=$MT_PATH
    case $rel in
    /usr/*) alt=${rel#/usr} ;;
    *) alt=/usr$rel ;;
    esac
    f=$(grep -l -F -x -e "$rel" -e "$alt" "$MT_DPKG_INFO"/*.list 2>/dev/null | head -n 1)
    f=${f##*/}
    REPLY=${f%.list}
  elif [[ -z $REPLY ]] && command -v rpm >/dev/null 2>&1; then
    REPLY=$(rpm -qf --qf '%{NAME}\n' -- "$MT_PATH" 2>/dev/null | head -n 1)
  fi
  # dpkg names are lowercase; rpm names and versions (NEVRA) may hold capitals, '~' and '^'.
  [[ $REPLY =~ ^[A-Za-z0-9][A-Za-z0-9+.:_~^-]*$ ]]
}

# 0 when the plan names no package and the host's package database (dpkg or rpm) says no package owns
# $MT_PATH. Without a database to ask, nothing is known and the status is 1.
mt_pkg_unowned() {
  [[ -z $MT_PKG ]] || return 1
  [[ -d $MT_DPKG_INFO ]] || command -v rpm >/dev/null 2>&1 || return 1
  ! mt_pkg_owner
}

# Whether apt-get can reinstall package $1 and do nothing else: `--reinstall` installs the candidate
# version when the installed one is not the newest (an upgrade of openssh-server or libc6 with their
# dependencies, services restarted by their maintainer scripts). So the exact installed version is named
# (MT_APT_PIN=pkg=version, into the real run) and a simulation, which runs no package script and no
# hook, must show one reinstall and nothing else. Otherwise the package is reinstalled by hand. The real
# run reads a configuration (apt-get -c, read after /etc/apt/apt.conf.d) that empties APT's hook lists
# and dpkg options and names dpkg itself: apt.conf.d is a place attackers persist in (DPkg::Pre-Invoke).
mt_apt_reinstall_ok() {
  local pkg=$1 ver sim line other=0
  ver=$(dpkg-query -W -f='${Version}' -- "$pkg" 2>/dev/null) || ver=''
  if [[ ! $ver =~ ^[A-Za-z0-9.+:~-]{1,128}$ ]]; then
    MT_NOTE='the installed version is unknown: reinstall the package by hand'
    return 1
  fi
  MT_APT_PIN=$pkg=$ver
  sim=$(timeout 300 apt-get -s -q install --reinstall --no-install-recommends "$MT_APT_PIN" 2>/dev/null) || sim=''
  while IFS= read -r line; do
    case $line in
    "Inst $pkg "* | "Conf $pkg "*) ;;
    'Inst '* | 'Remv '* | 'Conf '* | 'Purg '*) other=1 ;;
    esac
  done <<<"$sim"
  if ((other)) || ! grep -q -x -E -e '0 upgraded, 0 newly installed, 1 reinstalled, 0 to remove and [0-9]+ not upgraded\.' <<<"$sim"; then
    MT_NOTE="apt would change more than reinstalling the installed version ($ver): reinstall it by hand"
    return 1
  fi
  if ! printf '%s\n' '#clear DPkg::Pre-Invoke;' '#clear DPkg::Post-Invoke;' '#clear DPkg::Pre-Install-Pkgs;' \
    '#clear DPkg::Options;' '#clear DPkg::Tools;' 'Dir::Bin::dpkg "/usr/bin/dpkg";' >"$MT_Q/work/apt-reinstall.conf"; then
    MT_NOTE='cannot write the APT configuration into the quarantine'
    return 1
  fi
}

# Status 0 when dpkg's configuration runs no command a package does not vouch for. $1 is dpkg's status
# file, the rest its configuration files (dpkg.cfg, the dpkg.cfg.d entries, ~/.dpkg.cfg). Options there
# are dpkg's own command-line options: pre-invoke, post-invoke and status-logger run a command with
# `sh -c` as root at every dpkg run, the reinstall included, and the APT configuration this script
# clears does not reach them (an intruder's `post-invoke=curl ...|sh` in /etc/dpkg/dpkg.cfg.d). A file
# holding one is vouched for only as a conffile of a package with the digest dpkg recorded for it
# (pkg-config ships such a hook). dpkg reads only dpkg.cfg.d names of letters, digits, '_' and '-';
# other names are not read (by dpkg or here). A line is read as dpkg reads it (dpkg_options_load_file):
# the run of letters, digits and '-' at its start is the option's name and any one byte after it the
# separator (`post-invoke:cmd`, `status-logger"cmd"` are hooks); the name is matched whatever its case
# and after blanks or `--`, which only refuses more. A line of 1000 bytes or more counts too: dpkg reads
# a long line in pieces of its buffer, and a piece is parsed as a line of its own (fail closed).
mt_dpkg_hooks_ok() {
  local status=$1 f name sum
  shift
  for f in "$@"; do
    [[ -f $f ]] || continue
    name=${f##*/}
    [[ ${f%/*} != */dpkg.cfg.d || $name =~ ^[0-9A-Za-z_-]+$ ]] || continue
    LC_ALL=C grep -a -q -i -E -e '^[[:space:]]*(--)?(pre-invoke|post-invoke|status-logger)([^[:alnum:]-]|$)' \
      -e '^.{1000}' -- "$f" 2>/dev/null || continue
    [[ $f =~ ^/[0-9A-Za-z_./-]+$ ]] || return 1
    sum=$({ md5sum <"$f"; } 2>/dev/null) || return 1
    sum=${sum%% *}
    grep -q -F -x -e " $f $sum" -e " $f $sum obsolete" -- "$status" 2>/dev/null || return 1
  done
  return 0
}

# Status 0 when dnf's, yum's and rpm's own configuration runs no code a package does not vouch for (the
# rpm hosts' counterpart of mt_dpkg_hooks_ok). A reinstall with dnf or yum runs as root: every module in
# dnf's plugin directories (dnf imports each *.py there before it reads whether the plugin is enabled,
# and one with no configuration is enabled; python may run its __pycache__ copy instead), dnf5's plugin
# libraries, each yum plugin a pluginconf.d file enables, the commands of the post-transaction-actions
# plugins' action files, and what rpm's macro files (the administrator's /etc/rpm and ~/.rpmmacros, the
# drop-ins of /usr/lib/rpm/macros.d; rpm's own base files are rpm's code) make it load or run: a
# %__transaction_* plugin library, a %(shell command), %{lua:...}, %{load:FILE}, the scriptlets'
# %_install_script_path, or a %_dbpath pointing rpm (and the digests this script trusts) at another
# database; and Python's start-up hooks in dnf's and yum's interpreter (*.pth import lines,
# sitecustomize, usercustomize). A file is vouched for when a package database lists it with the digest it
# has (mt_any_pkg_verified); a macro file only matters when it holds one of those words, an action
# file when it holds a line that is no comment. `pluginpath=` or `pluginconfpath=` in dnf.conf or
# yum.conf naming anything but the packaged directories, or an `include=` (yum reads more options from
# a file or URL), moves plugins out of sight: refused. $1 is the
# root to look under ('' on the host); MT_NOTE says what was found.
# The places it reads are schemas::locations::PACKAGE_MANAGER_HOOK_PLACES, which the collector stores
# (a test checks that every "$r" pattern here is one of them or under one).
mt_rpm_hooks_ok() {
  local r=$1 f line lower value part name d
  local -a parts=() files=()
  for f in "$r/etc/dnf/dnf.conf" "$r/etc/yum.conf" "$r/etc/yum/yum.conf"; do
    [[ -f $f ]] || continue
    while IFS= read -r line || [[ -n $line ]]; do
      lower=${line,,}
      if [[ $lower =~ ^[[:space:]]*include[[:space:]]*= ]]; then
        MT_NOTE="${f#"$r"} includes configuration from elsewhere (include=): its plugins cannot be told"
        return 1
      fi
      [[ $lower =~ ^[[:space:]]*plugin(conf)?path[[:space:]]*= ]] || continue
      value=${line#*=}
      IFS=$' \t\r,:' read -r -a parts <<<"$value"
      for part in ${parts[@]+"${parts[@]}"}; do
        part=${part%/}
        [[ $part == /etc/dnf/plugins || $part == /etc/yum/pluginconf.d || $part == /usr/lib/yum-plugins ||
          $part == /usr/share/yum-plugins || $part =~ ^/usr/lib(64)?/python3\.[0-9]+/site-packages/dnf-plugins$ ]] && continue
        MT_NOTE="${f#"$r"} points dnf or yum at plugins outside the packaged directories (pluginpath/pluginconfpath)"
        return 1
      done
    done <"$f"
  done
  files=()
  for d in "$r"/usr/lib/python[23]*/site-packages/dnf-plugins "$r"/usr/lib64/python[23]*/site-packages/dnf-plugins \
    "$r"/usr/lib/libdnf5/plugins "$r"/usr/lib64/libdnf5/plugins; do
    [[ -e $d || -L $d ]] || continue
    if [[ -L $d || ! -d $d ]]; then
      MT_NOTE="dnf's plugin directory ${d#"$r"} is not a plain directory"
      return 1
    fi
    for f in "$d"/* "$d"/__pycache__/*; do
      [[ -f $f || -L $f ]] && files+=("$f")
    done
  done
  for f in "$r"/etc/yum/pluginconf.d/*.conf; do
    [[ -f $f ]] || continue
    LC_ALL=C grep -a -q -i -E -e '^[[:space:]]*enabled[[:space:]]*=[[:space:]]*(1|yes|true|on)[[:space:]]*$' -- "$f" 2>/dev/null || continue
    name=${f##*/}
    name=${name%.conf}
    for d in "$r/usr/lib/yum-plugins" "$r/usr/share/yum-plugins"; do
      for part in "$d/$name.py" "$d/$name.pyc" "$d/$name.pyo"; do
        [[ -f $part || -L $part ]] && files+=("$part")
      done
    done
  done
  for f in ${files[@]+"${files[@]}"}; do
    [[ ! -L $f ]] && mt_any_pkg_verified "$f" && continue
    MT_NOTE="a dnf or yum plugin no package vouches for (${f#"$r"}) would run as root"
    return 1
  done
  # dnf4 and yum are Python programs: at every start Python runs each `import` line of the *.pth files
  # of its site-packages and imports sitecustomize / usercustomize (--noplugins stops none of it).
  files=()
  for f in "$r"/usr/lib/python[23]*/site-packages/*.pth "$r"/usr/lib64/python[23]*/site-packages/*.pth \
    "$r"/usr/local/lib/python[23]*/site-packages/*.pth "$r"/usr/local/lib64/python[23]*/site-packages/*.pth; do
    [[ -f $f || -L $f ]] || continue
    LC_ALL=C grep -a -q -E -e '^import[[:space:]]' -- "$f" 2>/dev/null && files+=("$f")
  done
  for f in "$r"/usr/lib/python[23]*/site-packages/*customize.py "$r"/usr/lib/python[23]*/site-packages/__pycache__/*customize.* \
    "$r"/usr/lib64/python[23]*/site-packages/*customize.py "$r"/usr/lib64/python[23]*/site-packages/__pycache__/*customize.* \
    "$r"/usr/local/lib/python[23]*/site-packages/*customize.py "$r"/usr/local/lib/python[23]*/site-packages/__pycache__/*customize.* \
    "$r"/usr/local/lib64/python[23]*/site-packages/*customize.py "$r"/usr/local/lib64/python[23]*/site-packages/__pycache__/*customize.* \
    "$r"/usr/lib64/python[23]*/*customize.py "$r"/usr/lib64/python[23]*/__pycache__/*customize.*; do
    [[ -e $f || -L $f ]] && files+=("$f")
  done
  for f in ${files[@]+"${files[@]}"}; do
    [[ -f $f && ! -L $f ]] && mt_any_pkg_verified "$f" && continue
    MT_NOTE="a Python start-up hook no package vouches for (${f#"$r"}) runs in dnf and yum as root"
    return 1
  done
  for f in "$r"/etc/dnf/plugins/post-transaction-actions.d/* "$r"/etc/yum/post-actions/* "$r"/etc/dnf/libdnf5-plugins/actions.d/*; do
    [[ -e $f || -L $f ]] || continue
    LC_ALL=C grep -a -q -v -E -e '^[[:space:]]*(#|$)' -- "$f" 2>/dev/null || continue
    [[ -f $f && ! -L $f ]] && mt_any_pkg_verified "$f" && continue
    MT_NOTE="a post-transaction action file no package vouches for (${f#"$r"}) runs commands at every transaction"
    return 1
  done
  files=("$r"/etc/rpm/macros "$r"/etc/rpm/macros.* "$r"/etc/rpm/*/macros "$r"/usr/lib/rpm/macros.d/macros.*
    "$r/root/.rpmmacros" "$r/root/.config/rpm/macros")
  [[ -n $r ]] || files+=("${HOME:-/root}/.rpmmacros" "${HOME:-/root}/.config/rpm/macros")
  for f in "${files[@]}"; do
    [[ -e $f || -L $f ]] || continue
    # %_dbpath counts unless it names rpm's own database (/var/lib/rpm, /usr/lib/sysimage/rpm).
    LC_ALL=C grep -a -q -i -E -e '%\(|lua|load|transaction|plugin|script' -- "$f" 2>/dev/null ||
      LC_ALL=C grep -a -i -E -e 'dbpath' -- "$f" 2>/dev/null |
      LC_ALL=C grep -a -q -v -x -E -e '[[:space:]]*%_dbpath[[:space:]]+(/var/lib/rpm|/usr/lib/sysimage/rpm)/?[[:space:]]*' ||
      continue
    [[ -f $f && ! -L $f ]] && mt_any_pkg_verified "$f" && continue
    MT_NOTE="rpm's macro file ${f#"$r"}, which no package vouches for, defines what rpm loads or runs or which database it trusts (a plugin, a shell or Lua expansion, the scriptlets' PATH, %_dbpath)"
    return 1
  done
  return 0
}

mt_apply_reinstall() {
  local pkg
  if ! mt_evidence_ok "$MT_PN" "$MT_SHA"; then
    MT_NOTE='its evidence copy is missing: not reinstalled'
    return 1
  fi
  if mt_pkg_unowned; then
    # No package owns it: it is not a replaced system file but one the attacker added to a system
    # directory. It is removed like any other (its copy stays in the quarantine).
    mt_remove_file "$1" "$MT_PN" || return 1
    MT_NOTE='no package owns it: removed; its copy is in the quarantine'
    return 0
  fi
  if ! mt_pkg_owner; then
    MT_NOTE='no package is known to own it: remove or replace it by hand'
    return 1
  fi
  pkg=$REPLY
  if [[ $MT_PM != rpm ]] && [[ -d /etc/dpkg ]] &&
    ! mt_dpkg_hooks_ok /var/lib/dpkg/status /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/* "${HOME:-/root}/.dpkg.cfg" /root/.dpkg.cfg; then
    MT_NOTE="dpkg's configuration (/etc/dpkg/dpkg.cfg, dpkg.cfg.d, ~/.dpkg.cfg) runs a command (pre-invoke, post-invoke or status-logger) no package vouches for: a reinstall would run it as root; check it, then reinstall the package by hand"
    return 1
  fi
  # dnf and yum run their plugins and rpm its macro-named plugins and expansions, as root, at the
  # reinstall (and are told --noplugins, which rpm's own do not heed).
  if { [[ $MT_PM == rpm ]] || ! command -v apt-get >/dev/null 2>&1; } && ! mt_rpm_hooks_ok ''; then
    MT_NOTE="$MT_NOTE: a reinstall would run it; check it, then reinstall the package by hand"
    return 1
  fi
  # The collector found the host's package database: dpkg hosts reinstall with apt, rpm hosts with dnf
  # (yum on EL7); without that fact, whichever is installed. dnf and yum reinstall the installed version
  # or fail; apt-get is pinned to it (mt_apt_reinstall_ok).
  if [[ $MT_PM != rpm ]] && command -v apt-get >/dev/null 2>&1 && ! mt_apt_reinstall_ok "$pkg"; then
    return 1
  fi
  mt_clear_flags_around "$MT_PATH"
  if [[ $MT_PM == rpm ]] && command -v dnf >/dev/null 2>&1; then
    timeout 900 dnf reinstall -y --noplugins "$pkg" >/dev/null 2>&1
  elif [[ $MT_PM == rpm ]] && command -v yum >/dev/null 2>&1; then
    timeout 900 yum reinstall -y --noplugins "$pkg" >/dev/null 2>&1
  elif [[ $MT_PM == rpm ]]; then
    false
  elif command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -c "$MT_Q/work/apt-reinstall.conf" install --reinstall -y -q --no-install-recommends "$MT_APT_PIN" >/dev/null 2>&1
  elif command -v dnf >/dev/null 2>&1; then
    timeout 900 dnf reinstall -y --noplugins "$pkg" >/dev/null 2>&1
  elif command -v yum >/dev/null 2>&1; then
    timeout 900 yum reinstall -y --noplugins "$pkg" >/dev/null 2>&1
  else
    false
  fi || {
    MT_NOTE='the package manager failed'
    return 1
  }
  # A reinstall that left other bytes at the path (dpkg's path-exclude, an install that did not reach it)
  # did not undo the replacement.
  if ! mt_pkg_verified "$MT_PATH"; then
    MT_NOTE="package reinstalled, but the file still differs from its package's digest (a dpkg path-exclude?): replace it by hand"
    return 1
  fi
  MT_NOTE='package reinstalled'
}

# --- service restarts -------------------------------------------------------------------------------
# A host service the intrusion made load its code (a Redis module from /tmp, an injected library) runs
# it until the service restarts: removing the file does not unmap it. The plan lists the restart as a
# review item only (a restart interrupts the host's service and cannot be undone); the unit name is the
# one the kernel's cgroup gave the process, checked against a unit file of the host's records.

mt_restart_fields() {
  mt_file_fields || return 1
  mt_get 11 && [[ $REPLY =~ ^[A-Za-z0-9:_.@\\-]+\.service$ && $REPLY != -* ]] || return 1
  MT_UNIT=$REPLY
  mt_num 12 || return 1
  MT_PID=$REPLY
  mt_num 13 || return 1
  MT_START=$REPLY
}

# 0 when process $1 runs in the system manager's unit $2: a line of its /proc/PID/cgroup names it.
mt_in_unit() {
  local line
  while IFS= read -r line; do
    mt_cgroup_is_unit "$line" "$2" && return 0
  done 2>/dev/null <"/proc/$1/cgroup"
  return 1
}

# 0 when cgroup line $1 (`ID:CONTROLLERS:PATH`) is the system manager's unit $2: the path is slices
# only, then the unit (`0::/system.slice/redis.service`). A container's unit of the same name
# (`/lxc.payload.c1/system.slice/...`, `/machine.slice/libpod-X.scope/...`) is not the host's.
mt_cgroup_is_unit() {
  local path comp
  local -a comps=()
  path=${1#*:}
  path=${path#*:}
  [[ $path == */"$2" ]] || return 1
  IFS=/ read -r -a comps <<<"${path%/"$2"}"
  for comp in ${comps[@]+"${comps[@]}"}; do
    [[ -z $comp || $comp == *.slice ]] || return 1
  done
  return 0
}

# Done once the process that mapped the code is gone (restarted by this script, the operator or a
# reboot). Pending only while the system manager still loads the unit from the snapshot's unit file and
# that process still runs in the unit's cgroup: anything else is left to the operator.
mt_state_restart() {
  local frag
  mt_restart_fields || { mt_bad_record; return; }
  if ! mt_same_process "$MT_PID" "$MT_START" || [[ ${MT_STAT[0]-} == Z || ${MT_STAT[0]-} == X ]]; then
    MT_STATE='done' MT_NOTE='the process that mapped the injected code is gone (the service restarted or stopped since)'
    return
  fi
  if ! mt_systemd; then
    MT_STATE=mismatch MT_NOTE='no systemd manager runs here: restart the service by hand'
    return
  fi
  mt_file_state "$MT_PATH" "$MT_DEV" "$MT_INO" "$MT_SHA"
  if [[ $MT_STATE != pending ]]; then
    MT_STATE=mismatch MT_NOTE="the unit file is not the snapshot's ($MT_NOTE): restart the service by hand"
    return
  fi
  frag=$(timeout 30 systemctl show -p FragmentPath --value -- "$MT_UNIT" 2>/dev/null) || frag=''
  if [[ $frag != "$MT_PATH" ]]; then
    MT_STATE=mismatch MT_NOTE='the system manager loads this unit from another file: restart it by hand'
    return
  fi
  if ! mt_in_unit "$MT_PID" "$MT_UNIT"; then
    MT_STATE=mismatch MT_NOTE='the process is no longer in the unit'"'"'s cgroup: restart the service by hand'
    return
  fi
  MT_STATE=pending MT_NOTE='the service still runs the process that mapped the injected code; a restart cannot be undone'
}

mt_apply_restart() {
  local uh
  if ! timeout 300 systemctl restart -- "$MT_UNIT" >/dev/null 2>&1; then
    MT_NOTE='systemctl restart failed: see systemctl status for the unit'
    return 1
  fi
  mt_hex_of "$MT_PATH"
  uh=$REPLY
  mt_undo_record restart "$1" "$uh"
  MT_NOTE='restarted; a restart cannot be undone (--undo leaves the service running as it is now)'
}

mt_state_verify() { MT_STATE=pending MT_NOTE='checks every item above'; }

# --- driver -----------------------------------------------------------------------------------------

# Sets MT_KIND, MT_N (plan number), and the display fields of record $1.
mt_head() {
  mt_rec "$1"
  mt_get 0
  MT_N=$REPLY
  [[ $MT_N =~ ^[0-9]{1,9}$ ]] || MT_N=0
  mt_get 1
  MT_KIND=$REPLY
  mt_text 2
  MT_STAGE=$REPLY
  mt_text 3
  MT_TITLE=$REPLY
  mt_text 4
  MT_TARGET=$REPLY
  mt_text 5
  MT_WHY=$REPLY
  MT_GATE=''
  if [[ $MT_N != 0 ]]; then
    mt_rec_gate
  fi
}

# Runs the state check of the selected record.
mt_state() {
  MT_STATE='' MT_NOTE=''
  case $MT_KIND in
  preserve-proc) mt_state_preserve_proc "$MT_N" ;;
  preserve-file) mt_state_preserve_file "$MT_N" ;;
  freeze) mt_state_freeze ;;
  freeze-set) mt_state_freeze_set ;;
  kill-set) mt_state_kill_set ;;
  edit | edit-unit) mt_state_edit ;;
  unit) mt_state_unit ;;
  quarantine) mt_state_quarantine ;;
  unlink) mt_state_unlink ;;
  rename-back) mt_state_rename_back ;;
  rmdir) mt_state_rmdir ;;
  kill) mt_state_kill ;;
  block) mt_state_block ;;
  fw-delete) mt_state_fw_delete ;;
  lock) mt_state_lock ;;
  reinstall) mt_state_reinstall ;;
  restart) mt_state_restart ;;
  verify) mt_state_verify ;;
  *) MT_STATE=mismatch MT_NOTE='unknown action kind' ;;
  esac
  # Completed by an earlier --apply and not so any more: the operator's change (or the intrusion's).
  if [[ -n ${MT_DONE[$MT_N]-} ]] && mt_journaled_kind; then
    case $MT_STATE in
    pending | mismatch) MT_STATE=reverted MT_NOTE="completed by an earlier --apply, changed since: $MT_REVERTED_NOTE" ;;
    esac
  fi
}

mt_apply_one() {
  case $MT_KIND in
  preserve-proc) mt_apply_preserve_proc "$MT_N" ;;
  preserve-file) mt_apply_preserve_file "$MT_N" ;;
  freeze) mt_apply_freeze ;;
  freeze-set) mt_apply_freeze_set ;;
  kill-set) mt_apply_kill_set ;;
  edit) mt_apply_edit "$MT_N" ;;
  edit-unit) mt_apply_edit_unit "$MT_N" ;;
  unit) mt_apply_unit "$MT_N" ;;
  quarantine) mt_apply_quarantine "$MT_N" ;;
  unlink) mt_apply_unlink "$MT_N" ;;
  rename-back) mt_apply_rename_back "$MT_N" ;;
  rmdir) mt_apply_rmdir "$MT_N" ;;
  kill) mt_apply_kill ;;
  block) mt_apply_block ;;
  fw-delete) mt_apply_fw_delete ;;
  lock) mt_apply_lock ;;
  reinstall) mt_apply_reinstall "$MT_N" ;;
  restart) mt_apply_restart "$MT_N" ;;
  *) return 1 ;;
  esac
}

# Action kinds whose goal --verify checks (evidence copies and freezing are means, not ends).
mt_counts_for_verify() {
  case $MT_KIND in
  edit | edit-unit | unit | quarantine | unlink | rename-back | rmdir | kill | kill-set | block | fw-delete | lock | reinstall | restart) return 0 ;;
  *) return 1 ;;
  esac
}

mt_print_item() {
  printf '%4s. [%s] %s\n' "$MT_N" "$MT_STAGE" "$MT_TITLE"
  printf '      target: %s\n' "$MT_TARGET"
  printf '      why:    %s\n' "$MT_WHY"
  case $MT_GATE in
  '') ;;
  bad) printf '      gate:   malformed: never carried out\n' ;;
  *) printf '      gate:   review item %s: only with --apply --include %s (or --include-review)\n' "$MT_GATE" "$MT_GATE" ;;
  esac
}

mt_print_notes() {
  local i
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    case $MT_KIND in
    recommend) printf '  recommended: %s\n      why: %s\n' "$MT_TITLE" "$MT_WHY" ;;
    manual) printf '  by hand: %s\n' "$MT_TITLE" ;;
    esac
  done
}

# The review items: what --apply leaves alone unless the operator names them.
mt_print_reviews() {
  local i num reason shown=0
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    [[ $MT_KIND == review ]] || continue
    mt_num 6 || continue
    num=$REPLY
    mt_text 7
    reason=$REPLY
    if ((shown == 0)); then
      mt_say 'Review items (--apply leaves them alone; name them: --apply --include N,M or --include-review):'
      shown=1
    fi
    printf '  review %s: %s\n      target: %s\n      why:    %s\n      not unasked because: %s\n' \
      "$num" "$MT_TITLE" "$MT_TARGET" "$MT_WHY" "$reason"
  done
  ((shown == 0)) || mt_say ''
}

# Number of action records (besides verify) whose gate is open in this run.
mt_open_actions() {
  local i count=0
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    [[ $MT_N != 0 && $MT_KIND != verify ]] || continue
    mt_gate_open "$MT_GATE" && count=$((count + 1))
  done
  REPLY=$count
}

mt_header() {
  local host machine boot bundle at version
  mt_rec 0
  mt_get 1
  [[ $REPLY == host ]] || mt_die 'the data block does not start with the host record'
  mt_text 3
  host=$REPLY
  mt_text 4
  machine=$REPLY
  mt_text 5
  boot=$REPLY
  mt_text 6
  bundle=$REPLY
  mt_text 7
  at=$REPLY
  mt_text 8
  version=$REPLY
  MT_WANT_MACHINE=$machine MT_WANT_BOOT=$boot
  mt_say "minetrace remediation plan for host $host"
  mt_say "  machine-id $machine, boot $boot"
  mt_say "  snapshot $at, bundle sha256 $bundle, minetrace $version"
  mt_say "  plan data sha256 $MT_DATA_SHA256"
}

# 0 when this is the host and boot of the snapshot.
mt_host_matches() {
  local boot='' machine='' ok=0
  { boot=$(</proc/sys/kernel/random/boot_id); } 2>/dev/null
  { machine=$(</etc/machine-id); } 2>/dev/null
  if [[ -z $MT_WANT_BOOT || $boot != "$MT_WANT_BOOT" ]]; then
    mt_say 'warning: this is not the boot the snapshot was taken in (boot id differs): process targets will not match'
    ok=1
  fi
  if [[ -n $MT_WANT_MACHINE && $machine != "$MT_WANT_MACHINE" ]]; then
    mt_say 'warning: this is not the host the snapshot was taken on (machine-id differs)'
    ok=1
  fi
  return "$ok"
}

mt_dry_run() {
  local i root=1
  ((EUID == 0)) || root=0
  mt_say ''
  mt_say 'Dry run: nothing is changed. Run with --apply to carry the plan out.'
  ((root)) || mt_say 'Not root: the state of each target is not checked.'
  mt_say ''
  # States are shown as if every review item were named.
  MT_INCLUDE_ALL=1
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    [[ $MT_N != 0 ]] || continue
    mt_print_item
    if ((root)); then
      mt_state
      printf '      now:    %s (%s)\n' "$MT_STATE" "$MT_NOTE"
    fi
  done
  mt_say ''
  mt_print_reviews
  mt_print_notes
}

# Checks every item; prints what remains. Status 0 when nothing does.
mt_verify_all() {
  local i remain=0
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    [[ $MT_N != 0 ]] || continue
    mt_counts_for_verify || continue
    mt_gate_open "$MT_GATE" || continue
    mt_state
    case $MT_STATE in
    'done' | gone | skip) ;;
    *)
      remain=$((remain + 1))
      printf '  remains: %s. [%s] %s\n      target: %s\n      now:    %s (%s)\n' \
        "$MT_N" "$MT_STAGE" "$MT_TITLE" "$MT_TARGET" "$MT_STATE" "$MT_NOTE"
      # Changed back after an --apply completed it: --apply leaves it unless the operator says so.
      if [[ $MT_STATE == reverted ]]; then
        printf '      re-do:  bash remediate.sh --apply --redo %s%s\n' "$MT_N" "${MT_GATE:+ --include ${MT_GATE%%,*}}"
      fi
      ;;
    esac
  done
  MT_REMAIN=$remain
  ((remain == 0))
}

mt_apply_all() {
  local i before rc status closed=0
  mt_say ''
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    [[ $MT_N != 0 ]] || continue
    if [[ $MT_KIND == verify ]]; then
      printf '%4s. [%s] %s\n' "$MT_N" "$MT_STAGE" "$MT_TITLE"
      if mt_verify_all; then
        mt_say '      everything planned is gone'
        ((MT_CHANGED == 0)) || mt_log "$MT_N" verify - 'done' - 0 'nothing remains'
      else
        mt_say "      $MT_REMAIN item(s) remain"
        mt_log "$MT_N" verify - remains - 1 'items remain'
        MT_FAILED=1
      fi
      continue
    fi
    if ! mt_gate_open "$MT_GATE"; then
      closed=$((closed + 1))
      continue
    fi
    mt_state
    before=$MT_STATE
    rc=0
    case $MT_STATE in
    pending)
      if mt_apply_one; then
        local note=$MT_NOTE
        mt_state
        case $MT_STATE in
        'done' | gone | frozen | reverted) status='done' ;;
        *)
          status=failed
          rc=1
          ;;
        esac
        MT_NOTE="$note; now $MT_STATE"
      else
        rc=1
        status=failed
      fi
      ;;
    'done' | gone | reverted) status=already ;;
    frozen)
      status=already
      MT_STATE='done'
      ;;
    *)
      status=skipped
      rc=1
      ;;
    esac
    ((rc == 0)) || MT_FAILED=1
    printf '%4s. [%s] %s: %s (%s)\n      target: %s\n' "$MT_N" "$MT_STAGE" "$MT_TITLE" "$status" "$MT_NOTE" "$MT_TARGET"
    # What was already done is not written again: a second run leaves the log as it was.
    if [[ $status != already ]]; then
      MT_CHANGED=1
      mt_log "$MT_N" "$MT_KIND" "$before" "$status" "$MT_STATE" "$rc" "$MT_NOTE"
    fi
    mt_journal_item "$status"
  done
  mt_say ''
  if ((closed > 0)); then
    mt_say "$closed action(s) of review items not named were left alone (see the dry run; --include N,M)"
    mt_say ''
  fi
  mt_print_notes
  mt_say ''
  mt_say "evidence, log (log.jsonl) and undo script (undo.sh) are in the quarantine directory $MT_Q"
}

# --- undo -------------------------------------------------------------------------------------------

# The sha256 this plan pinned for the evidence copy of preserve action $1, into REPLY.
mt_pinned_sha() {
  local i
  REPLY=''
  [[ $1 =~ ^[0-9]{1,9}$ ]] || return 1
  for ((i = 1; i < ${#MT_RECS[@]}; i++)); do
    mt_head "$i"
    [[ $MT_N == "$1" && $MT_KIND == preserve-file ]] || continue
    mt_get 9 && [[ $REPLY =~ ^[0-9a-f]{64}$ ]]
    return
  done
  return 1
}

mt_undo() {
  local i kind path copy want uid gid mode target
  local -a recs=() u=()
  if [[ -f $MT_Q/undo.records ]]; then
    mapfile -t recs <"$MT_Q/undo.records"
  fi
  for ((i = ${#recs[@]} - 1; i >= 0; i--)); do
    read -r -a u <<<"${recs[i]}"
    kind=${u[0]-}
    mt_unhex "${u[2]--}" || continue
    path=$REPLY
    [[ $path == /* ]] || continue
    case $kind in
    edit | file)
      copy=$MT_Q/files/${u[3]-x}.bin
      want=${u[4]-}
      uid=${u[5]-} gid=${u[6]-} mode=${u[7]-}
      [[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ && $mode =~ ^[0-7]{1,4}$ && -f $copy ]] || continue
      # Only bytes whose hash this plan pinned go back: never what someone put in the quarantine.
      if ! mt_pinned_sha "${u[3]-x}" || ! mt_evidence_ok "${u[3]}" "$REPLY"; then
        printf '  undo %s: left alone: its evidence copy does not hash as the plan pinned\n' "${u[1]}"
        MT_FAILED=1
        continue
      fi
      if [[ $kind == edit ]]; then
        local pinned=$REPLY
        REPLY=''
        mt_lstat "$path" && mt_is_regular && mt_hash_file "$path"
        # A later edit of the same file was undone first and restored the snapshot's content.
        [[ $REPLY == "$pinned" ]] && continue
        if [[ $REPLY != "$want" ]]; then
          printf '  undo %s: left alone: the file changed since the remediation\n' "${u[1]}"
          MT_FAILED=1
          continue
        fi
      elif [[ -e $path || -L $path ]]; then
        printf '  undo %s: left alone: something is at the path again\n' "${u[1]}"
        MT_FAILED=1
        continue
      fi
      mt_clear_flags "${path%/*}"
      # An edited file whose flags were set again after the edit: cleared to put it back, then set again.
      [[ $kind == edit ]] && mt_clear_flags "$path"
      if mt_install_beside "$copy" "$path" "$uid" "$gid" "$mode"; then
        printf '  undo %s: restored\n' "${u[1]}"
        mt_log "${u[1]}" "undo-$kind" - 'done' - 0 'restored from the quarantine'
        if [[ $kind == edit ]]; then
          MT_FFLAGS=${u[8]-?} MT_DFLAGS=${u[9]-?} MT_FLAGS_POLICY=restore MT_DFLAGS_POLICY=restore MT_FLAGS_EXTRA=''
          if [[ $MT_FFLAGS =~ ^(i?a?|-)$ && $MT_DFLAGS =~ ^(i?a?|-)$ ]] && ! mt_restore_flags_around "$path"; then
            printf '  undo %s: %s\n' "${u[1]}" "${MT_FLAGS_NOTE#; }"
            MT_FAILED=1
          fi
        fi
      else
        printf '  undo %s: failed\n' "${u[1]}"
        MT_FAILED=1
      fi
      ;;
    rename-back)
      mt_undo_rename_back "${u[1]}" "$path" "${u[3]-}" "${u[4]-}" || MT_FAILED=1
      ;;
    dir)
      uid=${u[3]-} gid=${u[4]-} mode=${u[5]-}
      [[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ && $mode =~ ^[0-7]{1,4}$ ]] || continue
      if [[ -e $path || -L $path ]]; then
        printf '  undo %s: left alone: something is at the path again
' "${u[1]}"
        MT_FAILED=1
      elif mkdir -m 700 -- "$path" 2>/dev/null && chown -h -- "$uid:$gid" "$path" && chmod -- "$mode" "$path"; then
        printf '  undo %s: directory restored
' "${u[1]}"
      else
        printf '  undo %s: failed
' "${u[1]}"
        MT_FAILED=1
      fi
      ;;
    restart)
      printf '  undo %s: a service restart cannot be undone: the service runs as it is now\n' "${u[1]}"
      ;;
    link)
      mt_unhex "${u[3]--}" || continue
      target=$REPLY
      if [[ -n $target && ! -e $path && ! -L $path ]] && ln -s -- "$target" "$path" 2>/dev/null; then
        printf '  undo %s: link restored\n' "${u[1]}"
      fi
      ;;
    esac
  done
  if [[ -f $MT_Q/undo.records ]]; then
    mv -f -- "$MT_Q/undo.records" "$MT_Q/undo.records.done" 2>/dev/null
  fi
  # What was undone is not complete any more: a later --apply carries the plan out again.
  if [[ -f $MT_Q/done.records ]]; then
    mv -f -- "$MT_Q/done.records" "$MT_Q/done.records.undone" 2>/dev/null
  fi
  if command -v nft >/dev/null 2>&1 && nft list table inet "$MT_NFT_TABLE" >/dev/null 2>&1; then
    nft delete table inet "$MT_NFT_TABLE" >/dev/null 2>&1 && mt_say '  firewall table inet minetrace_remediate removed'
  fi
  local t hook
  for t in iptables ip6tables; do
    command -v "$t" >/dev/null 2>&1 || continue
    "$t" -w -n -L "$MT_IPT_CHAIN" >/dev/null 2>&1 || continue
    for hook in OUTPUT FORWARD; do
      while "$t" -w -D "$hook" -j "$MT_IPT_CHAIN" >/dev/null 2>&1; do :; done
    done
    "$t" -w -F "$MT_IPT_CHAIN" >/dev/null 2>&1
    "$t" -w -X "$MT_IPT_CHAIN" >/dev/null 2>&1 && mt_say "  $t chain $MT_IPT_CHAIN removed"
  done
  if mt_systemd; then
    timeout 90 systemctl daemon-reload >/dev/null 2>&1
  fi
  mt_say '  accounts stay locked and processes stay dead; unlock with usermod -U -e "" by hand if needed'
}

# --- main -------------------------------------------------------------------------------------------

mt_main() {
  while (($#)); do
    case $1 in
    --apply) MT_MODE=apply ;;
    --verify) MT_MODE=verify ;;
    --undo) MT_MODE=undo ;;
    --force) MT_FORCE=1 ;;
    --include)
      shift
      [[ ${1-} =~ ^[0-9]{1,9}(,[0-9]{1,9}){0,999}$ ]] || mt_die '--include needs review numbers: --include 1,4'
      MT_INCLUDE=",$1,"
      ;;
    --include-review) MT_INCLUDE_ALL=1 ;;
    --redo)
      shift
      [[ ${1-} =~ ^[0-9]{1,9}(,[0-9]{1,9}){0,999}$ ]] || mt_die '--redo needs plan item numbers: --redo 12,15'
      MT_REDO=",$1,"
      ;;
    --quarantine)
      shift
      MT_Q=${1-}
      MT_Q_GIVEN=1
      [[ $MT_Q == /* ]] || mt_die '--quarantine needs an absolute path'
      ;;
    -h | --help)
      mt_usage
      exit 0
      ;;
    *) mt_die 'unknown argument (see --help)' ;;
    esac
    shift
  done
  ((BASH_VERSINFO[0] >= 4)) || mt_die 'bash 4 or newer is needed'
  mt_load
  mt_header
  if [[ $MT_MODE != dry ]] && ((EUID != 0)); then
    mt_die 'run it as root'
  fi
  if ! mt_host_matches && [[ $MT_MODE != dry && $MT_MODE != undo ]] && ((MT_FORCE == 0)); then
    mt_die 'refusing to run on another host or boot than the snapshot was taken on (--force to override)'
  fi
  if [[ -s /etc/ld.so.preload ]]; then
    mt_say 'warning: /etc/ld.so.preload is not empty: every dynamically linked tool this script runs loads what it names'
  fi
  if [[ -z $MT_Q ]]; then
    MT_Q=/var/lib/minetrace/quarantine/${MT_DATA_SHA256:0:16}
  fi
  mt_quarantine_path
  cd / || exit 2
  case $MT_MODE in
  dry)
    mt_safe_dir "$MT_Q" || MT_Q=''
    mt_journal_load
    mt_dry_run
    exit 0
    ;;
  verify)
    mt_safe_dir "$MT_Q" || MT_Q=''
    mt_journal_load
    mt_say ''
    if mt_verify_all; then
      mt_say 'verify: every planned item is gone'
      exit 0
    fi
    mt_say "verify: $MT_REMAIN item(s) remain"
    exit 1
    ;;
  apply)
    # Nothing to do in this run: nothing is written, not even the quarantine directory or a log.
    mt_open_actions
    if ((REPLY == 0)); then
      mt_say ''
      mt_say 'Nothing to carry out: the plan holds no action --apply takes unasked, and no review item was named.'
      mt_say 'Nothing was changed.'
      mt_say ''
      mt_print_reviews
      exit 0
    fi
    mt_prepare_quarantine
    mt_journal_load
    mt_apply_all
    exit "$MT_FAILED"
    ;;
  undo)
    mt_prepare_quarantine
    mt_undo
    exit "$MT_FAILED"
    ;;
  esac
}

# --- plan data (generated; hex fields, see the header) ----------------------------------------------

readonly MT_DATA_SHA256='@MT_DATA_SHA256@'
readonly MT_DATA='@MT_DATA@'

mt_main "$@"
