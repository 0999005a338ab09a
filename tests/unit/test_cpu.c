/*
 * test_cpu.c — rt_cpu_count and friends on fake cgroup trees: v2 cpu.max (limited, "max",
 * nested parents), v1 cfs quota/period under the directory names distributions use, paths
 * from /proc/self/cgroup that do not exist under the mount (containers without a cgroup
 * namespace), malformed files, and the affinity mask (set in the test's own forked process).
 */
#define _GNU_SOURCE
#include "orchard/cpu.h"

#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[256];

static void setup(void) {
  snprintf(root, sizeof root, "/tmp/orchard-cpu-XXXXXX");
  cr_assert(mkdtemp(root));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(cpu, .init = setup, .fini = teardown);

/* Writes root/rel (making its directories) with the given text. */
static void put(const char *rel, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(path, 0755);
      *p = '/';
    }
  FILE *f = fopen(path, "w");
  cr_assert(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

static const char *at(const char *rel) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  return path;
}

static double quota(const char *self_text) {
  char self[1024];
  snprintf(self, sizeof self, "%s/self-cgroup", root);
  if (self_text)
    put("self-cgroup", self_text);
  char fs[1024];
  snprintf(fs, sizeof fs, "%s/fs", root);
  return rt_cpu_quota_at(fs, self_text ? self : NULL);
}

static int count(const char *self_text) {
  char self[1024], fs[1024];
  snprintf(self, sizeof self, "%s/self-cgroup", root);
  if (self_text)
    put("self-cgroup", self_text);
  snprintf(fs, sizeof fs, "%s/fs", root);
  return rt_cpu_count_at(fs, self_text ? self : NULL);
}

static int min_int(int a, int b) { return a < b ? a : b; }

Test(cpu, v2_quota_at_the_root_of_a_namespaced_container) {
  put("fs/cgroup.controllers", "cpu memory\n");
  put("fs/cpu.max", "200000 100000\n");
  cr_assert_float_eq(quota("0::/\n"), 2.0, 1e-12);
  cr_assert_eq(count("0::/\n"), min_int(2, rt_cpu_affinity_count()));
}

Test(cpu, v2_max_means_no_limit) {
  put("fs/cpu.max", "max 100000\n");
  cr_assert_float_eq(quota("0::/\n"), 0.0, 0);
  cr_assert_eq(count("0::/\n"), rt_cpu_affinity_count());
}

Test(cpu, v2_fractional_quota_rounds_up) {
  put("fs/cpu.max", "150000 100000\n");
  cr_assert_float_eq(quota("0::/\n"), 1.5, 1e-12);
  cr_assert_eq(count("0::/\n"), min_int(2, rt_cpu_affinity_count()));
  put("fs/cpu.max", "50000 100000\n"); /* half a CPU still runs one thread */
  cr_assert_eq(count("0::/\n"), 1);
  put("fs/cpu.max", "300000 100000\n"); /* exact: 3, not 4 */
  cr_assert_eq(count("0::/\n"), min_int(3, rt_cpu_affinity_count()));
}

/* A parent's limit binds its children: the tightest of the path and its ancestors wins. */
Test(cpu, v2_nested_cgroups_take_the_tightest) {
  put("fs/kubepods/cpu.max", "400000 100000\n");
  put("fs/kubepods/pod1/cpu.max", "max 100000\n");
  put("fs/kubepods/pod1/ctr/cpu.max", "250000 100000\n");
  cr_assert_float_eq(quota("0::/kubepods/pod1/ctr\n"), 2.5, 1e-12);
  put("fs/kubepods/cpu.max", "100000 100000\n");
  cr_assert_float_eq(quota("0::/kubepods/pod1/ctr\n"), 1.0, 1e-12);
  cr_assert_eq(count("0::/kubepods/pod1/ctr\n"), 1);
}

Test(cpu, v2_hybrid_unified_mount) {
  put("fs/unified/user.slice/cpu.max", "100000 50000\n");
  cr_assert_float_eq(quota("1:name=systemd:/user.slice\n0::/user.slice\n"), 2.0, 1e-12);
}

Test(cpu, v1_cfs_quota_and_period) {
  put("fs/cpu/cpu.cfs_quota_us", "-1\n");
  put("fs/cpu/cpu.cfs_period_us", "100000\n");
  cr_assert_float_eq(quota("4:cpu:/\n"), 0.0, 0);
  put("fs/cpu/cpu.cfs_quota_us", "50000\n");
  cr_assert_float_eq(quota("4:cpu:/\n"), 0.5, 1e-12);
  cr_assert_eq(count("4:cpu:/\n"), 1);
}

/* Docker without a cgroup namespace: /proc/self/cgroup says /docker/<id>, but the container's
 * own cgroup is what is mounted at the root, so the path does not exist under it. */
Test(cpu, v1_combined_controller_dir_and_foreign_path) {
  put("fs/cpu,cpuacct/cpu.cfs_quota_us", "300000\n");
  put("fs/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  const char *self = "12:memory:/docker/abc\n11:cpuacct,cpu:/docker/abc\n0::/\n";
  cr_assert_float_eq(quota(self), 3.0, 1e-12);
  cr_assert_eq(count(self), min_int(3, rt_cpu_affinity_count()));
}

Test(cpu, v1_path_below_the_mount) {
  put("fs/cpuacct,cpu/system.slice/cpu.cfs_quota_us", "200000\n");
  put("fs/cpuacct,cpu/system.slice/cpu.cfs_period_us", "100000\n");
  put("fs/cpuacct,cpu/system.slice/orchard.service/cpu.cfs_quota_us", "-1\n");
  put("fs/cpuacct,cpu/system.slice/orchard.service/cpu.cfs_period_us", "100000\n");
  cr_assert_float_eq(quota("3:cpuacct,cpu:/system.slice/orchard.service\n"), 2.0, 1e-12);
  /* "cpuacct" alone is not the cpu controller */
  cr_assert_float_eq(quota("3:cpuacct:/system.slice/orchard.service\n"), 0.0, 0);
}

Test(cpu, malformed_or_missing_files_mean_no_limit) {
  cr_assert_float_eq(quota(NULL), 0.0, 0); /* no tree, no self file */
  put("fs/cpu.max", "lots 100000\n");
  cr_assert_float_eq(quota("0::/\n"), 0.0, 0);
  put("fs/cpu.max", "100000 0\n");
  cr_assert_float_eq(quota("0::/\n"), 0.0, 0);
  put("fs/cpu.max", "");
  cr_assert_float_eq(quota("0::/\n"), 0.0, 0);
  put("fs/cpu/cpu.cfs_quota_us", "100000\n"); /* period missing */
  cr_assert_float_eq(quota("4:cpu:/\n"), 0.0, 0);
  cr_assert_float_eq(quota("garbage\n::\n0::relative\n"), 0.0, 0);
  cr_assert_eq(count("garbage\n"), rt_cpu_affinity_count());
  cr_assert_float_eq(rt_cpu_quota_at(at("nowhere"), at("nowhere/self")), 0.0, 0);
  cr_assert_float_eq(rt_cpu_quota_at(NULL, NULL), 0.0, 0);
}

/* A path that climbs out of the mount (we are outside the reader's cgroup namespace) must not
 * make us read files outside the cgroup tree: only the mount root counts. */
Test(cpu, dotdot_paths_stay_inside_the_mount) {
  put("cpu.max", "100000 100000\n"); /* root/, i.e. above fs/ */
  put("fs/cpu.max", "300000 100000\n");
  cr_assert_float_eq(quota("0::/../..\n"), 3.0, 1e-12);
}

Test(cpu, affinity_mask_bounds_the_count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
  cr_assert_eq(rt_cpu_affinity_count(), CPU_COUNT(&set));
  /* Criterion runs each test in its own process, so pinning here stays here. */
  int first = 0;
  while (!CPU_ISSET(first, &set))
    first++;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
  cr_assert_eq(rt_cpu_affinity_count(), 1);
  put("fs/cpu.max", "800000 100000\n");
  cr_assert_eq(count("0::/\n"), 1, "quota 8 but pinned to one CPU");
  cr_assert_eq(rt_cpu_count(), 1);
}

Test(cpu, real_machine_is_sane) {
  int n = rt_cpu_count();
  cr_assert(n >= 1 && n <= rt_cpu_affinity_count());
}
