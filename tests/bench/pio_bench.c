/* Runs inside the L2 guest as root: times single port accesses, one per
 * loop iteration, and prints the median and 99th percentile in ns.
 *   port 0x3fd read   serial LSR: forwarded to the bulkhead-serial process,
 *                     the vCPU waits for the reply
 *   port 0x3ff write  serial SCR: forwarded, posted
 *   port 0x71 read    CMOS RTC data: handled in the core
 *   port 0x80 write   POST sink: handled in the core
 * Built static (tests/bench/meson.build) so it needs nothing from L2. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <time.h>

enum { kIterations = 4000, kWarmup = 200 };

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

static void run(const char* name, unsigned short port, int write) {
  static uint64_t t[kIterations];
  volatile unsigned char sink = 0;
  for (int i = 0; i < kWarmup + kIterations; ++i) {
    uint64_t t0 = now_ns();
    if (write) outb(0x5a, port); else sink = inb(port);
    uint64_t t1 = now_ns();
    if (i >= kWarmup) t[i - kWarmup] = t1 - t0;
  }
  (void)sink;
  qsort(t, kIterations, sizeof(t[0]), cmp);
  printf("PIO-BENCH %s port=0x%x n=%d median_ns=%llu p99_ns=%llu\n", name, port, kIterations,
         (unsigned long long)t[kIterations / 2], (unsigned long long)t[kIterations * 99 / 100]);
}

int main(void) {
  if (iopl(3) != 0) { perror("iopl"); return 1; }
  outb(0x00, 0x70);  /* CMOS index: seconds */
  run("forwarded_read", 0x3fd, 0);
  run("forwarded_write", 0x3ff, 1);
  run("core_read", 0x71, 0);
  run("core_write", 0x80, 1);
  return 0;
}
