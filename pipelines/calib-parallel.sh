#!/usr/bin/env bash
# Calibration spread over processes or machines: GNU parallel runs one `calib --shard K/N`
# per shard (locally, or over ssh with --sshlogin), then `calib --merge` combines them.  The
# result is byte for byte the stream of a single `calib --input-meta META [options] < IN`.
#
# usage: calib-parallel.sh [-j N] [--sshlogin LOGINS] [--transfer-dataset]
#                          [--iterations N] [--batch-size B] [--moving-average-weight W]
#                          META IN.ir OUT.ir [SHARDS]
#   -j N                 jobs at a time per host (default: the local CPU count)
#   --sshlogin LOGINS    GNU parallel's --sshlogin (comma-separated; ":" is this host)
#   --transfer-dataset   also copy the dataset lists and every sample they name to each host
#   SHARDS               default: N x the number of logins
# Remote hosts need `calib` of the same qpipe version in PATH and rsync.  IN.ir and META
# are copied to each host (GNU parallel --basefile: a relative path lands relative to the
# remote home directory, an absolute one at the same path) and removed afterwards.  The
# dataset lists and samples must be at the paths META resolves to (its `path` relative to
# META's directory, list entries relative to the list's) -- a shared file system, or
# --transfer-dataset.  Environment: CALIB (the calib program, default calib), TMPDIR.
set -euo pipefail
prog=calib-parallel
die() { echo "$prog: $*" >&2; exit 2; }

jobs= logins= transfer=0
opts=()
while [ $# -gt 0 ]; do
    case $1 in
    -j) [ $# -ge 2 ] || die "option '-j' needs a value"; jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    --sshlogin) [ $# -ge 2 ] || die "option '--sshlogin' needs a value"; logins=$2; shift 2 ;;
    --transfer-dataset) transfer=1; shift ;;
    --iterations|--batch-size|--moving-average-weight)
        [ $# -ge 2 ] || die "option '$1' needs a value"; opts+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option '$1' (see '$0 --help')" ;;
    *) break ;;
    esac
done
[ $# -ge 3 ] && [ $# -le 4 ] || die "expected META IN.ir OUT.ir [SHARDS] (see '$0 --help')"
meta=$1 in=$2 out=$3
[ -n "$jobs" ] || jobs=$(nproc)
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "-j '$jobs' is not a positive count"
n_logins=1
[ -z "$logins" ] || n_logins=$(awk -F, '{ print NF }' <<<"$logins")
shards=${4:-$((jobs * n_logins))}
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "SHARDS '$shards' is not a positive count"
[ -f "$meta" ] || die "cannot read '$meta'"
[ -f "$in" ] || die "cannot read '$in'"
command -v parallel >/dev/null || die "GNU parallel is not installed (apt-get install parallel)"
calib=${CALIB:-calib}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/calib-parallel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The dataset lists named by META and the files they name, resolved as calib resolves them.
dataset_files() {
    local dir list line entry ldir
    dir=$(dirname "$meta")
    sed -n "s/^[ -]*path:[ ]*['\"]\{0,1\}\([^'\"]*\)['\"]\{0,1\}[ ]*$/\1/p" "$meta" | while read -r list; do
        case $list in /*) ;; *) list=$dir/$list ;; esac
        echo "$list"
        ldir=$(dirname "$list")
        sed -e '1s/^\xef\xbb\xbf//' -e 's/\r$//' "$list" | while read -r line; do
            for entry in $line; do
                case $entry in /*) echo "$entry" ;; *) echo "$ldir/$entry" ;; esac
            done
        done
    done
}

remote=()
if [ -n "$logins" ]; then
    remote=(--sshlogin "$logins" --basefile "$in" --basefile "$meta" --cleanup)
    if [ "$transfer" = 1 ]; then
        while read -r f; do remote+=(--basefile "$f"); done < <(dataset_files | sort -u)
    fi
fi

cmd="$(printf '%q ' "$calib" --input-meta "$meta" "${opts[@]}") --shard {}/$shards < $(printf '%q' "$in")"
rc=0
seq 1 "$shards" | parallel -j "$jobs" --halt now,fail=1 "${remote[@]}" \
    --results "$tmp/shard.{}.ir" "$cmd" >/dev/null 2>"$tmp/parallel.err" || rc=$?
for k in $(seq 1 "$shards"); do          # each shard's messages (warnings, or its error)
    [ -s "$tmp/shard.$k.ir.err" ] && sed "s|^|$prog: shard $k/$shards: |" "$tmp/shard.$k.ir.err" >&2
done
if [ "$rc" -ne 0 ]; then
    grep -q . "$tmp"/shard.*.ir.err 2>/dev/null || sed "s|^|$prog: |" "$tmp/parallel.err" >&2
    exit "$rc"
fi

files=()
for k in $(seq 1 "$shards"); do files+=("$tmp/shard.$k.ir"); done
part=$(mktemp "$out.XXXXXX")
trap 'rm -rf "$tmp" "$part"' EXIT
chmod "$(printf '%o' $((0666 & ~$(umask))))" "$part"     # as a plain redirection would
"$calib" --merge "${files[@]}" > "$part"
mv -f "$part" "$out"
