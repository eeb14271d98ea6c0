# Helpers for L1 scenario scripts (busybox sh). Source it.
pass() { echo "BULKHEAD-RESULT: PASS $*"; }
fail() { echo "BULKHEAD-RESULT: FAIL $*"; }
metric() { echo "BULKHEAD-METRIC: $*"; }
now_cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }   # centiseconds since L1 boot

# l2_initrd [LAYER...]: the L2 initramfs plus the scenario layer (and optional
# layers such as /guest/tools.cpio.gz) concatenated into /tmp/l2.cpio.gz.
l2_initrd() { cat /guest/initramfs.cpio.gz /guest/l2-scenarios.cpio.gz "$@" > /tmp/l2.cpio.gz; echo /tmp/l2.cpio.gz; }

# watch_l2 NAME TIMEOUT_S LOG CMD...: runs a VMM command whose console output
# goes to stdout (stdin from $WATCH_STDIN, default /dev/null), copies it to
# LOG and to our console with an "L2| " prefix, kills it after TIMEOUT_S, and
# records the time to BULKHEAD-L2-READY (LOG.marks) and the exit status
# ("VMM-EXIT n" in LOG).
watch_l2() {
  name="$1"; timeout_s="$2"; logf="$3"; shift 3
  t0=$(now_cs)
  fifo=/tmp/watch.$$.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  "$@" < "${WATCH_STDIN:-/dev/null}" > "$fifo" 2>&1 &
  vpid=$!
  ( sleep "$timeout_s"; kill -9 $vpid 2>/dev/null && echo "l1: $name still running after ${timeout_s}s, killed it" ) &
  tpid=$!
  while IFS= read -r line; do
    line=$(printf '%s' "$line" | tr -d '\r')
    echo "$line" >> "$logf"
    echo "L2| $line"
    case "$line" in
      *BULKHEAD-L2-READY*) echo "READY-AT $(( $(now_cs) - t0 ))" >> "$logf.marks" ;;
    esac
  done < "$fifo"
  wait $vpid
  rc=$?
  kill $tpid 2>/dev/null
  rm -f "$fifo"
  echo "VMM-EXIT $rc" >> "$logf"
  echo "L2| VMM-EXIT $rc"
}

# pids_matching TEXT: processes whose command line contains TEXT (busybox
# here has no pgrep).
pids_matching() {
  for p in /proc/[0-9]*; do
    tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "$1" && echo "${p#/proc/}"
  done
}
