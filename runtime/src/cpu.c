/*
 * cpu.c — the CPUs this process may use (orchard/cpu.h).
 *
 * The quota is searched in every place a cgroup can put it, and the tightest wins:
 *   v2  <root>/<path>/cpu.max ("max 100000" = none, "200000 100000" = 2 CPUs), also under
 *       <root>/unified (the hybrid layout systemd mounts);
 *   v1  <root>/{cpu,cpu,cpuacct,cpuacct,cpu}/<path>/cpu.cfs_quota_us (-1 = none) over
 *       cpu.cfs_period_us;
 * where <path> is the process's cgroup from /proc/self/cgroup ("0::/path" for v2, the line
 * whose controller list holds "cpu" for v1), and every ancestor of it up to the mount root,
 * since a parent's limit binds its children too. In a container the mount root usually *is*
 * the container's cgroup and the path is "/", or the path does not exist under the mount:
 * walking up to the root covers both. Unreadable or malformed files mean "no limit" — a
 * wrong guess here must never stop the server from starting.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_* macros */
#include "orchard/cpu.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPU_PATH_MAX 4096

/* Reads a small file into buf (NUL-terminated); false if it cannot. */
static int read_small(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return 1;
}

/* Quota in CPUs from one cgroup directory, or 0 for none / unreadable. */
static double quota_v2(const char *dir) {
  char path[CPU_PATH_MAX + 32], buf[128], word[32];
  long long period = 0;
  snprintf(path, sizeof path, "%s/cpu.max", dir);
  if (!read_small(path, buf, sizeof buf) || sscanf(buf, "%31s %lld", word, &period) != 2)
    return 0;
  if (!strcmp(word, "max") || period <= 0)
    return 0;
  char *end;
  long long quota = strtoll(word, &end, 10);
  if (*end || quota <= 0)
    return 0;
  return (double)quota / (double)period;
}

static double quota_v1(const char *dir) {
  char path[CPU_PATH_MAX + 32], buf[64];
  long long quota = 0, period = 0;
  snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
  if (!read_small(path, buf, sizeof buf) || sscanf(buf, "%lld", &quota) != 1 || quota <= 0)
    return 0;
  snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
  if (!read_small(path, buf, sizeof buf) || sscanf(buf, "%lld", &period) != 1 || period <= 0)
    return 0;
  return (double)quota / (double)period;
}

/* The tightest quota over mount/<path> and each of its ancestors up to mount itself. */
static double tightest_up(const char *mount, const char *cg_path, double (*quota)(const char *)) {
  char dir[CPU_PATH_MAX];
  /* A path leaving the mount ("/../x", from a cgroup namespace we are outside of) tells us
   * nothing reliable: look at the mount root alone. */
  if (strstr(cg_path, ".."))
    cg_path = "/";
  int n = snprintf(dir, sizeof dir, "%s%s%s", mount, cg_path[0] == '/' ? "" : "/", cg_path);
  if (n < 0 || (size_t)n >= sizeof dir)
    return 0;
  size_t root_len = strlen(mount);
  double best = 0;
  for (;;) {
    size_t len = strlen(dir);
    while (len > root_len && dir[len - 1] == '/') /* "…/a/" -> "…/a" */
      dir[--len] = 0;
    double q = quota(dir);
    if (q > 0 && (best == 0 || q < best))
      best = q;
    if (len <= root_len)
      break;
    char *slash = strrchr(dir + root_len, '/');
    if (!slash)
      break;
    *slash = 0;
  }
  return best;
}

/* True if the comma-separated controller list `ctrls` (length n) names "cpu". */
static int lists_cpu(const char *ctrls, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && ctrls[j] != ',')
      j++;
    if (j - i == 3 && !strncmp(ctrls + i, "cpu", 3))
      return 1;
    i = j + 1;
  }
  return 0;
}

static double tighter(double a, double b) {
  if (a <= 0)
    return b;
  if (b <= 0)
    return a;
  return a < b ? a : b;
}

double rt_cpu_quota_at(const char *cgroup_root, const char *self_cgroup) {
  if (!cgroup_root || strlen(cgroup_root) >= CPU_PATH_MAX / 2)
    return 0;
  char v2_path[CPU_PATH_MAX] = "/", v1_path[CPU_PATH_MAX] = "/";
  FILE *f = self_cgroup ? fopen(self_cgroup, "r") : NULL;
  if (f) {
    char line[CPU_PATH_MAX];
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\n")] = 0;
      char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (!c2 || c2[1] != '/')
        continue;
      size_t nctrl = (size_t)(c2 - c1 - 1);
      if (!strncmp(line, "0:", 2) && nctrl == 0)
        snprintf(v2_path, sizeof v2_path, "%s", c2 + 1);
      else if (lists_cpu(c1 + 1, nctrl))
        snprintf(v1_path, sizeof v1_path, "%s", c2 + 1);
    }
    fclose(f);
  }
  char mount[CPU_PATH_MAX];
  double q = tightest_up(cgroup_root, v2_path, quota_v2);
  snprintf(mount, sizeof mount, "%s/unified", cgroup_root);
  q = tighter(q, tightest_up(mount, v2_path, quota_v2));
  static const char *const v1_dirs[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
  for (size_t i = 0; i < sizeof v1_dirs / sizeof *v1_dirs; i++) {
    snprintf(mount, sizeof mount, "%s/%s", cgroup_root, v1_dirs[i]);
    q = tighter(q, tightest_up(mount, v1_path, quota_v1));
  }
  return q;
}

int rt_cpu_affinity_count(void) {
  /* CPU_SETSIZE covers 1024 CPUs; bigger hosts need a bigger mask, found by doubling. */
  for (int ncpu = CPU_SETSIZE; ncpu <= (1 << 20); ncpu *= 2) {
    cpu_set_t *set = CPU_ALLOC((size_t)ncpu);
    if (!set)
      break;
    size_t sz = CPU_ALLOC_SIZE((size_t)ncpu);
    CPU_ZERO_S(sz, set);
    if (sched_getaffinity(0, sz, set) == 0) {
      int n = CPU_COUNT_S(sz, set);
      CPU_FREE(set);
      return n > 0 ? n : 1;
    }
    CPU_FREE(set);
    if (errno != EINVAL)
      break;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int rt_cpu_count_at(const char *cgroup_root, const char *self_cgroup) {
  int n = rt_cpu_affinity_count();
  double q = rt_cpu_quota_at(cgroup_root, self_cgroup);
  if (q > 0) {
    /* 1.5 CPUs of quota keeps two threads busy 75% of the time: round up. The epsilon keeps
     * an exact quota (200000/100000) from becoming 3 through rounding. */
    double c = ceil(q - 1e-9);
    if (c < n)
      n = (int)c;
  }
  return n < 1 ? 1 : n;
}

int rt_cpu_count(void) { return rt_cpu_count_at("/sys/fs/cgroup", "/proc/self/cgroup"); }
