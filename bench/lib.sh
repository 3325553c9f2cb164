# bench/lib.sh — process helpers shared by the benchmark scripts (bench/sipp/run.sh,
# bench/tls/compare.sh). Sourced, not run. Defines: log, die, PIDS + cleanup trap, stop_pid,
# tree_pids, cpu_ticks, and memory sums over a process tree (hwm_kib, rss_kib, pss_kib, mem_kib).

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Every process a script starts goes in PIDS; they are killed when the script exits.
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one process we started: SIGTERM, then SIGKILL after 10 s (Switchboard finishes in-flight
# transactions for up to 5 s, then flushes its database).
stop_pid() {
    local p=$1 i
    kill "$p" 2>/dev/null || return 0
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
}

# The server's processes: the pid and every descendant (Kamailio forks its workers).
tree_pids() {
    local root=$1 kids k
    echo "$root"
    kids=$(pgrep -P "$root" || true)
    for k in $kids; do tree_pids "$k"; done
}

# utime+stime of a process tree, in clock ticks (threads are included in /proc/<pid>/stat).
cpu_ticks() {
    local total=0 p f
    for p in $(tree_pids "$1"); do
        f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
        # after "comm)": state is field 1, utime field 12, stime field 13
        total=$((total + $(awk '{print $12 + $13}' <<<"$f")))
    done
    echo "$total"
}

# A memory figure (KiB) summed over a process tree: $1 pid, $2 one of VmHWM (peak RSS), VmRSS,
# Pss (shared pages split between the processes that map them; from smaps_rollup).
mem_kib() {
    local total=0 p v
    for p in $(tree_pids "$1"); do
        if [ "$2" = Pss ]; then
            v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        else
            v=$(awk -v k="$2:" '$1 == k {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        fi
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
hwm_kib() { mem_kib "$1" VmHWM; }
rss_kib() { mem_kib "$1" VmRSS; }
pss_kib() { mem_kib "$1" Pss; }
