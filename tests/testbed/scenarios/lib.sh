# Helpers for L1 scenario scripts (busybox sh). Source it.
pass() { echo "BULKHEAD-RESULT: PASS $*"; }
fail() { echo "BULKHEAD-RESULT: FAIL $*"; }
metric() { echo "BULKHEAD-METRIC: $*"; }
now_cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }   # centiseconds since L1 boot

# l2_initrd [LAYER...]: the L2 initramfs plus the scenario layer (and optional
# layers such as /guest/tools.cpio.gz) concatenated into /tmp/l2.cpio.gz.
l2_initrd() { cat /guest/initramfs.cpio.gz /guest/l2-scenarios.cpio.gz "$@" > /tmp/l2.cpio.gz; echo /tmp/l2.cpio.gz; }

# watch_l2 NAME TIMEOUT_S LOG CMD...: runs a VMM command whose console output
# goes to stdout, copies it to LOG with an "L2| " prefix on our console, and
# reports the time to BULKHEAD-L2-READY and whether the VMM exited with 0.
watch_l2() {
  name="$1"; timeout_s="$2"; logf="$3"; shift 3
  t0=$(now_cs)
  ( "$@" < /dev/null 2>&1; echo "VMM-EXIT $?" ) | while IFS= read -r line; do
      line=$(printf '%s' "$line" | tr -d '\r')
      echo "$line" >> "$logf"
      echo "L2| $line"
      case "$line" in
        *BULKHEAD-L2-READY*) echo "READY-AT $(( $(now_cs) - t0 ))" >> "$logf.marks" ;;
      esac
  done &
  wpid=$!
  # Time limit for the VMM inside L1.
  ( sleep "$timeout_s"; echo "l1: $name still running after ${timeout_s}s, killing it"; pkill -9 -f "$1" ) &
  kpid=$!
  wait $wpid
  kill $kpid 2>/dev/null
}
