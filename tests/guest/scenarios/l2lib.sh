# Helpers for L2 scenario scripts (busybox sh). Source it.
#
# ask_l1 ACTION: asks the L1 side of the scenario to do ACTION (a word its
# responder knows: tests/testbed/scenarios/lib.sh, respond_to_l2) and waits
# until it has: L2 prints "L2-ASK ACTION PORT" on the console, L1 sees the
# line, acts, and then connects to PORT here. Needs eth0 up with 10.0.2.2.
ask_port=7000
ask_l1() {
  ask_port=$((ask_port + 1))
  echo "L2-ASK $1 $ask_port"
  nc -l -p $ask_port -e /bin/true
}

# Kernel messages of priority err (3) or worse, from the raw ring buffer.
report_kernel_errors() { dmesg -r | grep -E '^<[0-3]>' | sed 's/^/L2-KERNEL-ERROR /'; }

# l2_arg NAME [DEFAULT]: bulkhead.NAME= from the guest's kernel command line.
l2_arg() {
  for a in $(cat /proc/cmdline); do
    case "$a" in "bulkhead.$1="*) echo "${a#bulkhead.$1=}"; return ;; esac
  done
  echo "$2"
}
