// wakeup_probe.c: is the machine itself stalling (a halted or descheduled vCPU), or only our processes?
// Sleeps to every 1 ms deadline (absolute) and reports how late each wake-up came; run it at a real-time
// priority so that no ordinary thread delays it: then a late wake-up is the hypervisor or the kernel, never
// the run queue. Build and run (root, for chrt):
//   gcc -O2 -o /tmp/wakeup_probe scripts/wakeup_probe.c && chrt -f 50 /tmp/wakeup_probe SECONDS [LATE_US]
// Prints each wake-up later than LATE_US (default 1000) and a summary line.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: wakeup_probe SECONDS [LATE_US]\n");
    return 2;
  }
  double seconds = atof(argv[1]), late_us = argc > 2 ? atof(argv[2]) : 1000;
  double start = now_us(), sum = 0, worst = 0;
  long wakeups = 0, late = 0, over3ms = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (now_us() - start < seconds * 1e6) {
    next.tv_nsec += 1000000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    double lateness = now_us() - (next.tv_sec * 1e6 + next.tv_nsec / 1e3);
    wakeups++;
    sum += lateness;
    if (lateness > worst) worst = lateness;
    if (lateness > late_us) {
      late++;
      printf("%.3f s: %.0f us late\n", (now_us() - start) / 1e6, lateness);
    }
    if (lateness > 3000) over3ms++;
  }
  printf("wakeups %ld, mean lateness %.0f us, max %.0f us, later than %.0f us: %ld, later than 3 ms: %ld\n", wakeups,
         sum / wakeups, worst, late_us, late, over3ms);
  return 0;
}
