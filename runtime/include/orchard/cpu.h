/*
 * cpu.h — how many CPUs this process may really use, for sizing thread pools.
 *
 * A container with a 2-CPU limit on a 64-core host sees 64 CPUs in sysconf() but gets only
 * two CPUs' worth of time; threads beyond that just queue. The count is the smaller of the
 * scheduler affinity mask and the cgroup CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us /
 * cpu.cfs_period_us, the tightest of the process's cgroup and its ancestors), rounded up, and
 * at least 1. Nothing is cached: every call reads the files again.
 */
#ifndef ORCHARD_CPU_H
#define ORCHARD_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/* CPUs this process may use: min(affinity, ceil(cgroup quota)), at least 1. */
int rt_cpu_count(void);

/* The same with the cgroup file system mounted at `cgroup_root` (normally "/sys/fs/cgroup")
 * and the process's cgroup membership read from `self_cgroup` (normally "/proc/self/cgroup";
 * NULL or unreadable means the root cgroup "/"). Tests point both at a fake tree. */
int rt_cpu_count_at(const char *cgroup_root, const char *self_cgroup);

/* The CPU quota alone, in CPUs (1.5 for "150000 100000"), or 0 when no cgroup limits the
 * process. Same arguments as rt_cpu_count_at. */
double rt_cpu_quota_at(const char *cgroup_root, const char *self_cgroup);

/* CPUs in the scheduler affinity mask (sched_getaffinity), at least 1. */
int rt_cpu_affinity_count(void);

#ifdef __cplusplus
}
#endif
#endif
