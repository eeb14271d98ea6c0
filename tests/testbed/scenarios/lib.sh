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
  fifo=/tmp/watch.$$.fifo; efifo=/tmp/watch.$$.err.fifo
  rm -f "$fifo" "$efifo"; mkfifo "$fifo" "$efifo"
  # The VMM's own log (stderr) comes through a pipe of its own, read line by
  # line: in one pipe with the console, a log line could land in the middle
  # of a guest line that the serial port was still writing byte by byte.
  "$@" < "${WATCH_STDIN:-/dev/null}" > "$fifo" 2> "$efifo" &
  vpid=$!
  ( while IFS= read -r line; do echo "$line" >> "$logf"; echo "L2| $line"; done < "$efifo" ) &
  epid=$!
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
  wait $epid
  kill $tpid 2>/dev/null
  rm -f "$fifo" "$efifo"
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

# respond_to_l2 LOG HANDLER: answers the L2 side's ask_l1 requests
# (tests/guest/scenarios/l2lib.sh) until LOG records the VMM's exit. For
# each "L2-ASK ACTION PORT" line it runs `HANDLER ACTION`, then connects to
# the guest's PORT to say it is done. Run it in the background.
respond_to_l2() {
  r_log="$1"; r_handler="$2"; r_done=0
  while ! grep -q '^VMM-EXIT' "$r_log" 2>/dev/null; do
    r_n=$(grep -c '^L2-ASK ' "$r_log" 2>/dev/null)
    while [ "$r_done" -lt "${r_n:-0}" ]; do
      r_done=$((r_done + 1))
      r_line=$(grep '^L2-ASK ' "$r_log" | sed -n "${r_done}p")
      r_action=$(echo "$r_line" | cut -d' ' -f2)
      r_port=$(echo "$r_line" | cut -d' ' -f3)
      "$r_handler" "$r_action"
      # The guest may not be listening yet: retry for a few seconds.
      for r_try in 1 2 3 4 5 6 7 8 9 10; do
        nc -w 2 "${L2_ADDR:-10.0.2.2}" "$r_port" < /dev/null 2>/dev/null && break
        sleep 0.5
      done
    done
    sleep 0.2
  done
}

# wait_for_path PATH SECONDS: polls until PATH exists; false on timeout.
wait_for_path() {
  w_end=$(( $(now_cs) + $2 * 100 ))
  while [ ! -e "$1" ]; do
    [ "$(now_cs)" -lt "$w_end" ] || return 1
    sleep 0.1
  done
}

# l1_arg NAME [DEFAULT]: bulkhead.NAME= from L1's kernel command line
# (tests/testbed/run --append bulkhead.NAME=VALUE), or DEFAULT.
l1_arg() {
  for a in $(cat /proc/cmdline); do
    case "$a" in "bulkhead.$1="*) echo "${a#bulkhead.$1=}"; return ;; esac
  done
  echo "$2"
}
