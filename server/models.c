/*
 * models.c — model manager: config, repository polling, version lifecycle, routing.
 *
 * Tables: an array of model entries, each with its spec (config.h) and the records of every
 * version seen (serving, loading, retired or failed; old END records are trimmed). Only the
 * manager thread changes them, always under `mu`; the loop thread reads under `mu` too.
 * A record's model, sig and pool are set when it turns AVAILABLE and cleared when it turns
 * END, after its pool has drained: a job never outlives the pool it ran on, so nothing can
 * reach a version's model once it is END.
 *
 * A version directory is a positive integer without leading zeros. Its "signature" (a hash
 * of its files' names, sizes and mtimes) lets a failed version be retried only once its
 * files change, e.g. when a copy into the repository finishes.
 *
 * A version's pool is sized on the load path: with --auto_tune the measurement of bench.c
 * runs there (a few seconds, never on the loop) before the version turns AVAILABLE; its
 * batching parameters are the global ones with the model entry's override merged in. What
 * was chosen is kept in the record (srv_serving_info) for the metadata endpoints.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "models.h"
#include "flags.h"
#include "garden.h"
#include "log.h"
#include "metrics.h"
#include "orchard/cpu.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef enum vstate { V_START = 0, V_LOADING, V_AVAILABLE, V_UNLOADING, V_END } vstate;
static const char *const VSTATE_NAMES[] = {"START", "LOADING", "AVAILABLE", "UNLOADING", "END"};
#define N_VSTATES 5
#define MAX_END_RECORDS 8

typedef struct vrec {
  int64_t number;
  char number_str[24];
  vstate state;
  char *error;            /* load failure, NULL if none */
  const char *error_code; /* TF Serving status code name */
  uint64_t dirsig;        /* of the directory when last loaded or tried */
  double load_seconds;
  rt_model *model;
  srv_sig sig;
  srv_pool *pool;
  srv_servable servable;
  char platform[64];
  srv_serving_info info;
} vrec;

typedef struct entry {
  srv_model_spec spec; /* owned */
  bool removed;        /* gone from the config: retire everything, then drop */
  vrec **vers;         /* ascending by number */
  int n_vers;
} entry;

struct srv_models {
  srv_models_params p;
  char *config_file;
  srv_pool_registry *pools; /* the batching pools, for their metrics */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  bool thread_started, stopping, stopped, reload_requested, initial_done;
  entry **entries;
  int n_entries;
  int64_t scans;
  /* config file change detection (manager thread only) */
  struct timespec cfg_mtime;
  off_t cfg_size;
  bool cfg_bad_reported;
};

/* ---------------------------------------------------------------- helpers */

static const char *status_code_name(rt_status st) {
  switch (st) {
  case RT_ERR_IO: return "NOT_FOUND";
  case RT_ERR_PARSE:
  case RT_ERR_INVALID_ARG:
  case RT_ERR_SHAPE: return "INVALID_ARGUMENT";
  case RT_ERR_UNSUPPORTED: return "UNIMPLEMENTED";
  case RT_ERR_NOMEM: return "RESOURCE_EXHAUSTED";
  default: return "INTERNAL";
  }
}

static void spec_free(srv_model_spec *s) {
  free(s->name);
  free(s->base_path);
  free(s->versions);
  for (int j = 0; j < s->n_labels; j++)
    free(s->labels[j].name);
  free(s->labels);
  if (s->batching)
    srv_batching_params_free(s->batching);
  free(s->batching);
  memset(s, 0, sizeof *s);
}

/* Moves src's members into dst (src left empty). */
static void spec_move(srv_model_spec *dst, srv_model_spec *src) {
  *dst = *src;
  memset(src, 0, sizeof *src);
}

static void vrec_free(vrec *r) {
  if (!r)
    return;
  srv_pool_destroy(r->pool);
  srv_sig_free(&r->sig);
  rt_model_destroy(r->model);
  free(r->error);
  free(r);
}

static void entry_free(entry *e) {
  if (!e)
    return;
  for (int i = 0; i < e->n_vers; i++)
    vrec_free(e->vers[i]);
  free(e->vers);
  spec_free(&e->spec);
  free(e);
}

/* Under mu. */
static entry *find_entry(srv_models *M, const char *name) {
  for (int i = 0; i < M->n_entries; i++)
    if (!M->entries[i]->removed && !strcmp(M->entries[i]->spec.name, name))
      return M->entries[i];
  return NULL;
}

static vrec *find_vrec(entry *e, int64_t v) {
  for (int i = 0; i < e->n_vers; i++)
    if (e->vers[i]->number == v)
      return e->vers[i];
  return NULL;
}

/* Under mu. Inserts keeping ascending order. */
static vrec *add_vrec(entry *e, int64_t v) {
  vrec *r = calloc(1, sizeof *r);
  vrec **nv = realloc(e->vers, (size_t)(e->n_vers + 1) * sizeof *nv);
  if (!r || !nv) {
    free(r);
    if (nv)
      e->vers = nv;
    return NULL;
  }
  e->vers = nv;
  r->number = v;
  snprintf(r->number_str, sizeof r->number_str, "%" PRId64, v);
  int at = e->n_vers;
  while (at > 0 && e->vers[at - 1]->number > v)
    at--;
  memmove(e->vers + at + 1, e->vers + at, (size_t)(e->n_vers - at) * sizeof *e->vers);
  e->vers[at] = r;
  e->n_vers++;
  return r;
}

/* Under mu. Drops the oldest END records beyond MAX_END_RECORDS. */
static void trim_records(entry *e) {
  int n_end = 0;
  for (int i = 0; i < e->n_vers; i++)
    n_end += e->vers[i]->state == V_END;
  for (int i = 0; i < e->n_vers && n_end > MAX_END_RECORDS;) {
    if (e->vers[i]->state == V_END) {
      vrec_free(e->vers[i]);
      memmove(e->vers + i, e->vers + i + 1, (size_t)(e->n_vers - i - 1) * sizeof *e->vers);
      e->n_vers--;
      n_end--;
    } else {
      i++;
    }
  }
}

static bool version_name(const char *s, int64_t *out) {
  if (!*s || *s == '0' || strlen(s) > 18)
    return false;
  int64_t v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9')
      return false;
    v = v * 10 + (*c - '0');
  }
  *out = v;
  return true;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

/* Order-independent hash of the names, sizes and mtimes of the files in dir. */
static uint64_t dir_signature(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  uint64_t sum = 1;
  struct dirent *de;
  char path[4096];
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0)
      continue;
    uint64_t h = 1469598103934665603ull;
    for (const char *c = de->d_name; *c; c++)
      h = (h ^ (unsigned char)*c) * 1099511628211ull;
    h = mix(h, (uint64_t)st.st_size);
    h = mix(h, (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec);
    sum += h;
  }
  closedir(d);
  return sum;
}

typedef struct disk_version {
  int64_t number;
  uint64_t sig;
} disk_version;

static int cmp_disk_desc(const void *a, const void *b) {
  int64_t x = ((const disk_version *)a)->number, y = ((const disk_version *)b)->number;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Version directories under base, newest first. Returns -1 if base cannot be read. */
static int list_versions(const char *base, disk_version **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  DIR *d = opendir(base);
  if (!d)
    return -1;
  int n = 0, cap = 0;
  disk_version *v = NULL;
  struct dirent *de;
  char path[4096];
  while ((de = readdir(d))) {
    int64_t num;
    if (!version_name(de->d_name, &num))
      continue;
    snprintf(path, sizeof path, "%s/%s", base, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      disk_version *nv = realloc(v, (size_t)cap * sizeof *nv);
      if (!nv)
        break;
      v = nv;
    }
    v[n].number = num;
    v[n].sig = dir_signature(path);
    n++;
  }
  closedir(d);
  if (n)
    qsort(v, (size_t)n, sizeof *v, cmp_disk_desc);
  *out = v;
  *n_out = n;
  return 0;
}

static bool wanted(const srv_model_spec *s, const disk_version *dv, int n, int i) {
  switch (s->policy) {
  case SRV_POLICY_LATEST: return i < s->num_versions; /* dv is newest first */
  case SRV_POLICY_ALL: return true;
  case SRV_POLICY_SPECIFIC:
    for (int k = 0; k < s->n_versions; k++)
      if (s->versions[k] == dv[i].number)
        return true;
    return false;
  }
  (void)n;
  return false;
}

/* ---------------------------------------------------------------- load / retire */

/* The parameters a version of `e` batches with: the global ones with the entry's override
 * applied. *owned tells whether out must be freed. */
static int effective_batching(const srv_models *M, const entry *e, srv_batching_params *out,
                              bool *owned, char *msg, size_t cap) {
  *owned = false;
  if (!e->spec.batching) {
    *out = *M->p.batching;
    return 0;
  }
  *owned = true;
  return srv_config_merge_batching(M->p.batching, e->spec.batching, out,
                                   M->config_file ? M->config_file : "(model config)",
                                   "batching_parameters", msg, cap);
}

/* Batch sizes the batcher pads to, for the tuning: the allowed sizes, else max_batch_size. */
static int tune_sizes(const srv_batching_params *bp, int *out, int cap) {
  int n = 0;
  for (int i = 0; i < bp->n_allowed && n < cap; i++)
    out[n++] = (int)bp->allowed_batch_sizes[i];
  if (!bp->n_allowed && cap > 0)
    out[n++] = (int)bp->max_batch_size;
  return n;
}

/* Manager thread, outside mu: decides workers x threads (measuring when --auto_tune) and
 * creates the version's pool. A version serves only after this returns. */
static rt_status start_pool(srv_models *M, entry *e, int64_t number, const char *number_str,
                            const rt_model *model, srv_pool **pool, srv_serving_info *info,
                            rt_error *err) {
  char pname[256], msg[1024];
  snprintf(pname, sizeof pname, "model '%s' version %" PRId64, e->spec.name, number);
  srv_batching_params bp = {0};
  bool owned = false;
  if (M->p.batching && effective_batching(M, e, &bp, &owned, msg, sizeof msg) != 0) {
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    err->code = RT_ERR_INVALID_ARG;
    return RT_ERR_INVALID_ARG;
  }
  info->batching_requested = M->p.batching != NULL;
  info->batching_override = M->p.batching && e->spec.batching;
  int workers = M->p.batching ? (int)bp.num_batch_threads : M->p.inter_op;
  int intra = M->p.intra_op;
  if (M->p.auto_tune) {
    /* With batching, num_batch_threads given in a file counts as an explicit worker count. */
    int fixed_w = M->p.batching && (bp.given & SRV_BP_THREADS) ? (int)bp.num_batch_threads
                                                               : M->p.inter_op_given;
    int fixed_t = M->p.intra_op_given;
    if (fixed_w > 0 && fixed_t > 0) {
      info->auto_tune_pinned = true;
      srv_log_info("%s: --auto_tune: %d workers x %d threads were given explicitly; not "
                   "measuring",
                   pname, fixed_w, fixed_t);
    } else {
      srv_autotune_params ap = srv_autotune_default_params();
      int sizes[SRV_AUTOTUNE_MAX_SIZES];
      ap.cpus = rt_cpu_count();
      ap.fixed_workers = fixed_w;
      ap.fixed_threads = fixed_t;
      if (M->p.auto_tune_seconds > 0)
        ap.budget_seconds = M->p.auto_tune_seconds;
      if (M->p.batching) {
        ap.batch_sizes = sizes;
        ap.n_batch_sizes = tune_sizes(&bp, sizes, SRV_AUTOTUNE_MAX_SIZES);
      }
      srv_autotune_result res;
      rt_error terr = {0};
      srv_log_info("%s: --auto_tune: measuring workers x threads on %d CPUs (about %.0f s)", pname,
                   ap.cpus, ap.budget_seconds);
      if (srv_bench_autotune(model, &ap, &res, &terr) != RT_OK) {
        srv_log_warn("%s: --auto_tune failed, keeping %d workers x %d threads: %s", pname, workers,
                     intra, terr.msg);
      } else {
        workers = res.workers;
        intra = res.threads;
        info->auto_tuned = true;
        info->tune = res;
        if (res.measured)
          srv_log_info("%s: --auto_tune pick: %d workers x %d threads (batch %d: %.1f "
                       "inferences/s, p99 %.2f ms; %d configs measured, %d skipped, %.2f s)",
                       pname, res.workers, res.threads, res.batch, res.inferences_per_s, res.p99_ms,
                       res.configs, res.skipped, res.seconds);
        else
          srv_log_info("%s: --auto_tune: only %d workers x %d threads fit; nothing to measure",
                       pname, res.workers, res.threads);
      }
    }
  }
  srv_pool_params pp = srv_pool_default_params();
  pp.workers = workers;
  pp.intra_op_threads = intra;
  pp.queue_capacity = M->p.queue_capacity;
  pp.warmup = M->p.warmup;
  pp.name = pname;
  pp.batching = M->p.batching ? &bp : NULL;
  pp.model = e->spec.name;
  pp.version = number_str;
  pp.registry = M->pools;
  rt_status st = srv_pool_create(model, &pp, pool, err);
  if (owned)
    srv_batching_params_free(&bp);
  if (st == RT_OK) {
    info->workers = srv_pool_workers(*pool);
    info->intra_op_threads = srv_pool_intra(*pool);
  }
  return st;
}

/* "2 workers x 1 threads (auto-tuned ...); batching max_batch_size 8, ..." for the log. */
static void describe_serving(const srv_serving_info *info, srv_pool *pool, char *out, size_t cap) {
  size_t o =
      (size_t)snprintf(out, cap, "%d workers x %d threads", info->workers, info->intra_op_threads);
  if (o < cap && info->auto_tuned)
    o += (size_t)snprintf(out + o, cap - o, ", auto-tuned%s",
                          info->tune.measured ? "" : " (single fit)");
  else if (o < cap && info->auto_tune_pinned)
    o += (size_t)snprintf(out + o, cap - o, ", given explicitly (--auto_tune not needed)");
  const srv_batcher_params *bp = srv_pool_batcher_params(pool);
  if (o < cap && bp) {
    o += (size_t)snprintf(out + o, cap - o,
                          "; batching%s: max_batch_size %d, batch_timeout_micros %lld, "
                          "max_enqueued_batches %d, num_batch_threads %d, allowed_batch_sizes [",
                          info->batching_override ? " (model override)" : "", bp->max_batch_size,
                          (long long)bp->batch_timeout_micros, bp->max_enqueued_batches,
                          info->workers);
    for (int i = 0; i < bp->n_allowed && o < cap; i++)
      o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", bp->allowed[i]);
    if (o < cap)
      o += (size_t)snprintf(out + o, cap - o, "], enable_large_batch_splitting %s",
                            bp->split ? "true" : "false");
  } else if (o < cap && info->batching_requested) {
    snprintf(out + o, cap - o, "; not batching (no open batch dimension)");
  }
}

static void load_version(srv_models *M, entry *e, int64_t number, uint64_t sig) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%" PRId64, e->spec.base_path, number);
  pthread_mutex_lock(&M->mu);
  vrec *r = find_vrec(e, number);
  if (!r)
    r = add_vrec(e, number);
  if (!r) {
    pthread_mutex_unlock(&M->mu);
    srv_log_error("model '%s' version %" PRId64 ": out of memory", e->spec.name, number);
    return;
  }
  r->state = V_LOADING;
  free(r->error);
  r->error = NULL;
  r->error_code = NULL;
  r->dirsig = sig;
  pthread_mutex_unlock(&M->mu);

  srv_log_info("model '%s' version %" PRId64 ": loading %s", e->spec.name, number, path);
  double t0 = srv_now();
  rt_error err = {0};
  rt_model *model = NULL;
  srv_pool *pool = NULL;
  srv_sig sg = {0};
  rt_status st = rt_model_load(path, NULL, &model, &err);
  if (st == RT_OK && !srv_sig_from_model(model, &sg)) {
    st = RT_ERR_NOMEM;
    snprintf(err.msg, sizeof err.msg, "out of memory");
  }
  if (st == RT_OK) {
    /* orchard.json (garden.h): invalid fails the load like a bad model.json would. */
    char gpath[4200];
    snprintf(gpath, sizeof gpath, "%s/orchard.json", path);
    if (srv_garden_load(gpath, &sg, &sg.garden, err.msg, sizeof err.msg) != 0)
      st = RT_ERR_INVALID_ARG;
  }
  srv_serving_info info = {0};
  if (st == RT_OK)
    st = start_pool(M, e, number, r->number_str, model, &pool, &info, &err);
  double secs = srv_now() - t0;
  pthread_mutex_lock(&M->mu);
  r->load_seconds = secs;
  if (st == RT_OK) {
    r->model = model;
    r->sig = sg;
    r->pool = pool;
    r->info = info;
    snprintf(r->platform, sizeof r->platform, "tensorflowjs_%s", rt_model_format(model));
    r->servable = (srv_servable){.model_name = e->spec.name,
                                 .version = number,
                                 .version_str = r->number_str,
                                 .platform = r->platform,
                                 .model = model,
                                 .sig = &r->sig,
                                 .pool = pool,
                                 .serving = &r->info};
    r->state = V_AVAILABLE;
  } else {
    r->error = strdup(err.msg);
    r->error_code = status_code_name(st);
    r->state = V_END;
  }
  pthread_mutex_unlock(&M->mu);
  srv_metrics_load(M->p.metrics, e->spec.name, r->number_str, secs, st == RT_OK);
  if (st == RT_OK) {
    char how[1024];
    describe_serving(&info, pool, how, sizeof how);
    srv_log_info("model '%s' version %" PRId64 ": AVAILABLE (%.3f s, %s)", e->spec.name, number,
                 secs, how);
  } else {
    srv_sig_free(&sg);
    rt_model_destroy(model);
    srv_log_error("model '%s' version %" PRId64 ": failed to load: %s", e->spec.name, number,
                  err.msg);
  }
}

static void retire_version(srv_models *M, entry *e, vrec *r) {
  pthread_mutex_lock(&M->mu);
  if (r->state != V_AVAILABLE) {
    pthread_mutex_unlock(&M->mu);
    return;
  }
  r->state = V_UNLOADING; /* routing stops here: acquire only returns AVAILABLE */
  srv_pool *pool = r->pool;
  int64_t number = r->number;
  pthread_mutex_unlock(&M->mu);
  srv_log_info("model '%s' version %" PRId64 ": UNLOADING (finishing queued requests)",
               e->spec.name, number);
  srv_pool_destroy(pool); /* drains: every queued job runs and is handed back */
  pthread_mutex_lock(&M->mu);
  rt_model *model = r->model;
  r->pool = NULL;
  r->model = NULL;
  srv_sig_free(&r->sig);
  memset(&r->servable, 0, sizeof r->servable);
  r->state = V_END;
  trim_records(e); /* may free r */
  pthread_mutex_unlock(&M->mu);
  rt_model_destroy(model);
  srv_log_info("model '%s' version %" PRId64 ": END (unloaded)", e->spec.name, number);
}

/* Brings one model in line with its directory and policy. Returns the number of version
 * directories seen, or -1 if the base path cannot be read. */
static int scan_entry(srv_models *M, entry *e) {
  disk_version *dv;
  int n;
  if (list_versions(e->spec.base_path, &dv, &n) != 0)
    return -1;
  for (int i = 0; i < n; i++) {
    if (!wanted(&e->spec, dv, n, i))
      continue;
    pthread_mutex_lock(&M->mu);
    vrec *r = find_vrec(e, dv[i].number);
    bool need = !r || (r->state == V_END && (!r->error || r->dirsig != dv[i].sig));
    pthread_mutex_unlock(&M->mu);
    if (need)
      load_version(M, e, dv[i].number, dv[i].sig);
  }
  /* Retire what the policy no longer wants, but only once something it wants serves. */
  vrec **retire = calloc((size_t)e->n_vers + 1, sizeof *retire);
  int n_retire = 0;
  bool wanted_available = false;
  pthread_mutex_lock(&M->mu);
  for (int j = 0; retire && j < e->n_vers; j++) {
    vrec *r = e->vers[j];
    if (r->state != V_AVAILABLE)
      continue;
    bool w = false;
    for (int i = 0; i < n; i++)
      if (dv[i].number == r->number)
        w = wanted(&e->spec, dv, n, i);
    if (w)
      wanted_available = true;
    else
      retire[n_retire++] = r;
  }
  pthread_mutex_unlock(&M->mu);
  if (wanted_available)
    for (int i = 0; i < n_retire; i++)
      retire_version(M, e, retire[i]);
  free(retire);
  free(dv);
  return n;
}

static void retire_all(srv_models *M, entry *e) {
  for (;;) {
    vrec *r = NULL;
    pthread_mutex_lock(&M->mu);
    for (int j = 0; j < e->n_vers && !r; j++)
      if (e->vers[j]->state == V_AVAILABLE)
        r = e->vers[j];
    pthread_mutex_unlock(&M->mu);
    if (!r)
      break;
    retire_version(M, e, r);
  }
}

/* ---------------------------------------------------------------- config */

static int add_entry(srv_models *M, srv_model_spec *spec) {
  entry *e = calloc(1, sizeof *e);
  entry **ne = realloc(M->entries, (size_t)(M->n_entries + 1) * sizeof *ne);
  if (!e || !ne) {
    free(e);
    if (ne)
      M->entries = ne;
    return -1;
  }
  spec_move(&e->spec, spec);
  M->entries = ne;
  M->entries[M->n_entries++] = e;
  return 0;
}

/* Manager thread. Applies a new config: removed models are marked (retired by the scan),
 * new ones added, changed policies and labels take effect on the next scan. */
static void apply_config(srv_models *M, srv_model_config *c) {
  pthread_mutex_lock(&M->mu);
  for (int i = 0; i < M->n_entries; i++) {
    entry *e = M->entries[i];
    if (e->removed)
      continue;
    srv_model_spec *ns = NULL;
    for (int k = 0; k < c->n_models; k++)
      if (c->models[k].name && !strcmp(c->models[k].name, e->spec.name))
        ns = &c->models[k];
    if (!ns || strcmp(ns->base_path, e->spec.base_path) != 0) {
      e->removed = true; /* a new base path is a new model under the same name */
      srv_log_info("model '%s': removed from the config", e->spec.name);
      continue;
    }
    if (!srv_model_spec_equal(ns, &e->spec)) {
      srv_log_info("model '%s': policy, labels or batching parameters changed (new "
                   "batching parameters apply to versions loaded from now on)",
                   e->spec.name);
      /* Servables point at the entry's name string: keep that allocation. */
      char *name = e->spec.name;
      e->spec.name = NULL;
      spec_free(&e->spec);
      spec_move(&e->spec, ns);
      free(e->spec.name);
      e->spec.name = name;
    } else {
      spec_free(ns);
    }
  }
  for (int k = 0; k < c->n_models; k++)
    if (c->models[k].name) {
      srv_log_info("model '%s': added (base path %s)", c->models[k].name, c->models[k].base_path);
      if (add_entry(M, &c->models[k]) != 0)
        srv_log_error("model '%s': out of memory", c->models[k].name);
    }
  pthread_mutex_unlock(&M->mu);
}

/* Every model's batching_parameters merged with the global parameters must be valid; with
 * batching off they are ignored, and said so. */
static int check_overrides(const srv_models_params *p, const srv_model_config *c, const char *path,
                           char *msg, size_t cap) {
  for (int i = 0; i < c->n_models; i++) {
    if (!c->models[i].batching)
      continue;
    if (!p->batching) {
      srv_log_warn("model '%s': batching_parameters ignored: --enable_batching is off",
                   c->models[i].name);
      continue;
    }
    char at[64];
    snprintf(at, sizeof at, "model_config_list[%d].batching_parameters", i);
    srv_batching_params eff;
    if (srv_config_merge_batching(p->batching, c->models[i].batching, &eff, path, at, msg, cap) !=
        0)
      return -1;
    srv_batching_params_free(&eff);
  }
  return 0;
}

static bool config_changed(srv_models *M) {
  struct stat st;
  if (stat(M->config_file, &st) != 0)
    return false;
  bool changed = st.st_size != M->cfg_size || st.st_mtim.tv_sec != M->cfg_mtime.tv_sec ||
                 st.st_mtim.tv_nsec != M->cfg_mtime.tv_nsec;
  M->cfg_size = st.st_size;
  M->cfg_mtime = st.st_mtim;
  return changed;
}

static void reread_config(srv_models *M, bool forced) {
  if (!M->config_file)
    return;
  if (!config_changed(M) && !forced)
    return;
  srv_model_config c;
  char msg[1024];
  if (srv_config_load_models(M->config_file, &c, msg, sizeof msg) != 0) {
    srv_log_error("config not reloaded, still serving the previous one: %s", msg);
    return;
  }
  if (check_overrides(&M->p, &c, M->config_file, msg, sizeof msg) != 0) {
    srv_log_error("config not reloaded, still serving the previous one: %s", msg);
    srv_model_config_free(&c);
    return;
  }
  srv_log_info("config %s re-read (%d models)", M->config_file, c.n_models);
  apply_config(M, &c);
  srv_model_config_free(&c);
}

/* One pass: scan every model, retire and drop removed ones. */
static void scan_all(srv_models *M) {
  for (int i = 0;; i++) {
    pthread_mutex_lock(&M->mu);
    entry *e = i < M->n_entries ? M->entries[i] : NULL;
    pthread_mutex_unlock(&M->mu);
    if (!e)
      break;
    if (e->removed) {
      retire_all(M, e);
      continue;
    }
    if (scan_entry(M, e) < 0)
      srv_log_warn("model '%s': cannot read base path %s", e->spec.name, e->spec.base_path);
  }
  pthread_mutex_lock(&M->mu);
  for (int i = 0; i < M->n_entries;) {
    if (M->entries[i]->removed) {
      entry_free(M->entries[i]);
      memmove(M->entries + i, M->entries + i + 1,
              (size_t)(M->n_entries - i - 1) * sizeof *M->entries);
      M->n_entries--;
    } else {
      i++;
    }
  }
  M->scans++;
  pthread_mutex_unlock(&M->mu);
}

static void *poll_main(void *arg) {
  srv_models *M = arg;
  for (;;) {
    pthread_mutex_lock(&M->mu);
    if (!M->stopping && !M->reload_requested) {
      if (M->p.poll_seconds > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += M->p.poll_seconds;
        pthread_cond_timedwait(&M->cv, &M->mu, &until);
      } else {
        pthread_cond_wait(&M->cv, &M->mu);
      }
    }
    bool stop = M->stopping, forced = M->reload_requested;
    M->reload_requested = false;
    pthread_mutex_unlock(&M->mu);
    if (stop)
      break;
    reread_config(M, forced);
    scan_all(M);
  }
  return NULL;
}

/* ---------------------------------------------------------------- public */

int srv_models_create(const srv_models_params *p, srv_models **out, char *msg, size_t cap) {
  *out = NULL;
  srv_model_config c;
  if (p->config_file) {
    if (srv_config_load_models(p->config_file, &c, msg, cap) != 0)
      return -1;
  } else if (p->base_path) {
    if (!srv_config_valid_name(p->model_name)) {
      snprintf(msg, cap, "--model_name: '%s' is not a valid name (no '/' or ':')",
               p->model_name ? p->model_name : "");
      return -1;
    }
    if (srv_config_single(p->model_name, p->base_path, &c) != 0) {
      snprintf(msg, cap, "out of memory");
      return -1;
    }
  } else {
    snprintf(msg, cap,
             "no models: give --model_base_path (with --model_name) or "
             "--model_config_file");
    return -1;
  }
  if (check_overrides(p, &c, p->config_file ? p->config_file : "(model config)", msg, cap)) {
    srv_model_config_free(&c);
    return -1;
  }
  srv_models *M = calloc(1, sizeof *M);
  if (!M) {
    srv_model_config_free(&c);
    snprintf(msg, cap, "out of memory");
    return -1;
  }
  M->p = *p;
  if (srv_pool_registry_create(p->metrics, &M->pools) != 0 ||
      (p->config_file && !(M->config_file = strdup(p->config_file)))) {
    srv_pool_registry_destroy(M->pools);
    free(M);
    srv_model_config_free(&c);
    snprintf(msg, cap, "out of memory");
    return -1;
  }
  M->p.config_file = M->config_file;
  M->p.model_name = M->p.base_path = NULL;
  pthread_mutex_init(&M->mu, NULL);
  pthread_cond_init(&M->cv, NULL);
  if (M->config_file)
    config_changed(M); /* remember the file as read */
  apply_config(M, &c);
  srv_model_config_free(&c);
  *out = M;
  return 0;
}

int srv_models_start(srv_models *M, char *msg, size_t cap) {
  for (int i = 0; i < M->n_entries; i++) {
    entry *e = M->entries[i];
    struct stat st;
    if (stat(e->spec.base_path, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(msg, cap, "model '%s': base path %s is not a directory", e->spec.name,
               e->spec.base_path);
      return -1;
    }
  }
  scan_all(M);
  for (int i = 0; i < M->n_entries; i++) {
    entry *e = M->entries[i];
    bool any_available = false;
    const vrec *failed = NULL;
    for (int j = 0; j < e->n_vers; j++) {
      any_available = any_available || e->vers[j]->state == V_AVAILABLE;
      if (e->vers[j]->error)
        failed = e->vers[j];
    }
    if (!any_available && failed) {
      snprintf(msg, cap, "model '%s' version %" PRId64 " failed to load: %s", e->spec.name,
               failed->number, failed->error);
      return -1;
    }
    if (!any_available)
      srv_log_warn("model '%s': no version under %s yet; waiting for one", e->spec.name,
                   e->spec.base_path);
  }
  pthread_mutex_lock(&M->mu);
  M->initial_done = true;
  pthread_mutex_unlock(&M->mu);
  if (M->p.poll_seconds > 0 || M->config_file) {
    if (pthread_create(&M->thread, NULL, poll_main, M) != 0) {
      snprintf(msg, cap, "cannot start the model manager thread");
      return -1;
    }
    M->thread_started = true;
  }
  return 0;
}

void srv_models_reload(srv_models *M) {
  pthread_mutex_lock(&M->mu);
  M->reload_requested = true;
  pthread_cond_broadcast(&M->cv);
  pthread_mutex_unlock(&M->mu);
}

void srv_models_stop(srv_models *M) {
  if (!M)
    return;
  pthread_mutex_lock(&M->mu);
  bool already = M->stopped;
  M->stopping = true;
  M->stopped = true;
  pthread_cond_broadcast(&M->cv);
  pthread_mutex_unlock(&M->mu);
  if (already)
    return;
  if (M->thread_started)
    pthread_join(M->thread, NULL);
  M->thread_started = false;
  for (int i = 0; i < M->n_entries; i++)
    retire_all(M, M->entries[i]);
}

void srv_models_destroy(srv_models *M) {
  if (!M)
    return;
  srv_models_stop(M);
  for (int i = 0; i < M->n_entries; i++)
    entry_free(M->entries[i]);
  free(M->entries);
  srv_pool_registry_destroy(M->pools); /* every pool is gone with its entry */
  free(M->config_file);
  pthread_mutex_destroy(&M->mu);
  pthread_cond_destroy(&M->cv);
  free(M);
}

static void available_list(char *out, size_t cap, const entry *e) {
  size_t o = 0;
  out[0] = 0;
  for (int j = 0; j < e->n_vers && o < cap; j++)
    if (e->vers[j]->state == V_AVAILABLE)
      o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", e->vers[j]->number_str);
  if (!o)
    snprintf(out, cap, "none");
}

static void model_list(char *out, size_t cap, const srv_models *M) {
  size_t o = 0;
  out[0] = 0;
  for (int i = 0; i < M->n_entries && o < cap; i++)
    if (!M->entries[i]->removed)
      o += (size_t)snprintf(out + o, cap - o, "%s'%s'", o ? ", " : "", M->entries[i]->spec.name);
}

/* Under mu: resolves a label to a version number; 404 if unknown. */
static int resolve_label(const entry *e, const char *label, int64_t *v, char *msg, size_t cap) {
  for (int i = 0; i < e->spec.n_labels; i++)
    if (!strcmp(e->spec.labels[i].name, label)) {
      *v = e->spec.labels[i].version;
      return 200;
    }
  snprintf(msg, cap, "model '%s' has no version label '%s'", e->spec.name, label);
  return 404;
}

int srv_models_acquire(srv_models *M, const srv_model_ref *ref, const srv_servable **out, char *msg,
                       size_t cap) {
  char list[512];
  pthread_mutex_lock(&M->mu);
  entry *e = find_entry(M, ref->name);
  int code = 404;
  if (!e) {
    model_list(list, sizeof list, M);
    snprintf(msg, cap, "model '%s' is not served (models: %s)", ref->name, list);
    goto fail;
  }
  if (ref->sel == SRV_SELECT_LATEST) {
    for (int j = e->n_vers - 1; j >= 0; j--)
      if (e->vers[j]->state == V_AVAILABLE) {
        *out = &e->vers[j]->servable;
        return 200; /* lock held */
      }
    const vrec *last = e->n_vers ? e->vers[e->n_vers - 1] : NULL;
    code = 503;
    if (last && last->state == V_LOADING)
      snprintf(msg, cap, "model '%s' is loading", e->spec.name);
    else if (last && last->error)
      snprintf(msg, cap, "model '%s' has no available version: version %s failed to load: %s",
               e->spec.name, last->number_str, last->error);
    else
      snprintf(msg, cap, "model '%s' has no available version", e->spec.name);
    goto fail;
  }
  int64_t v = ref->version;
  char via[300] = "";
  if (ref->sel == SRV_SELECT_LABEL) {
    if ((code = resolve_label(e, ref->label, &v, msg, cap)) != 200)
      goto fail;
    snprintf(via, sizeof via, " (label '%s')", ref->label);
  }
  vrec *r = find_vrec(e, v);
  if (r && r->state == V_AVAILABLE) {
    *out = &r->servable;
    return 200;
  }
  available_list(list, sizeof list, e);
  if (r && (r->state == V_LOADING || r->state == V_START)) {
    code = 503;
    snprintf(msg, cap, "model '%s' version %" PRId64 "%s is still loading", e->spec.name, v, via);
  } else {
    code = 404;
    snprintf(msg, cap, "model '%s' has no version %" PRId64 "%s being served (available: %s)",
             e->spec.name, v, via, list);
  }
fail:
  pthread_mutex_unlock(&M->mu);
  *out = NULL;
  return code;
}

void srv_models_release(srv_models *M) { pthread_mutex_unlock(&M->mu); }

json_t *srv_models_available_locked(srv_models *M, const char *name) {
  json_t *a = json_array();
  entry *e = find_entry(M, name);
  for (int j = 0; e && j < e->n_vers; j++)
    if (e->vers[j]->state == V_AVAILABLE)
      json_array_append_new(a, json_string(e->vers[j]->number_str));
  return a;
}

static json_t *vrec_status(const vrec *r) {
  return json_pack("{s:s, s:s, s:{s:s, s:s}}", "version", r->number_str, "state",
                   VSTATE_NAMES[r->state], "status", "error_code",
                   r->error_code ? r->error_code : "OK", "error_message", r->error ? r->error : "");
}

int srv_models_status(srv_models *M, const srv_model_ref *ref, json_t **out, char *msg,
                      size_t cap) {
  char list[512];
  *out = NULL;
  pthread_mutex_lock(&M->mu);
  int code = 404;
  entry *e = find_entry(M, ref->name);
  if (!e) {
    model_list(list, sizeof list, M);
    snprintf(msg, cap, "model '%s' is not served (models: %s)", ref->name, list);
    goto done;
  }
  json_t *arr = json_array();
  if (ref->sel == SRV_SELECT_LATEST) {
    for (int j = e->n_vers - 1; j >= 0; j--)
      json_array_append_new(arr, vrec_status(e->vers[j]));
  } else {
    int64_t v = ref->version;
    if (ref->sel == SRV_SELECT_LABEL && resolve_label(e, ref->label, &v, msg, cap) != 200) {
      json_decref(arr);
      goto done;
    }
    vrec *r = find_vrec(e, v);
    if (!r) {
      json_decref(arr);
      available_list(list, sizeof list, e);
      snprintf(msg, cap, "model '%s' has no version %" PRId64 " (available: %s)", e->spec.name, v,
               list);
      goto done;
    }
    json_array_append_new(arr, vrec_status(r));
  }
  *out = json_pack("{s:o}", "model_version_status", arr);
  code = 200;
done:
  pthread_mutex_unlock(&M->mu);
  return code;
}

json_t *srv_models_describe(srv_models *M) {
  json_t *models = json_array();
  pthread_mutex_lock(&M->mu);
  for (int i = 0; i < M->n_entries; i++) {
    entry *e = M->entries[i];
    if (e->removed)
      continue;
    json_t *vers = json_array(), *labels = json_object();
    for (int j = e->n_vers - 1; j >= 0; j--) {
      json_t *s = vrec_status(e->vers[j]);
      json_object_set_new(s, "load_seconds", json_real(e->vers[j]->load_seconds));
      if (e->vers[j]->pool) {
        json_object_set_new(s, "workers", json_integer(srv_pool_workers(e->vers[j]->pool)));
        json_object_set_new(s, "intra_op_threads", json_integer(srv_pool_intra(e->vers[j]->pool)));
        json_object_set_new(s, "auto_tuned", json_boolean(e->vers[j]->info.auto_tuned));
        json_object_set_new(s, "platform", json_string(e->vers[j]->platform));
      }
      json_array_append_new(vers, s);
    }
    for (int l = 0; l < e->spec.n_labels; l++)
      json_object_set_new(labels, e->spec.labels[l].name, json_integer(e->spec.labels[l].version));
    const char *pol = e->spec.policy == SRV_POLICY_LATEST ? "latest"
                      : e->spec.policy == SRV_POLICY_ALL  ? "all"
                                                          : "specific";
    json_array_append_new(models, json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", e->spec.name,
                                            "base_path", e->spec.base_path, "policy", pol,
                                            "versions", vers, "labels", labels));
  }
  pthread_mutex_unlock(&M->mu);
  return models;
}

bool srv_models_ready(srv_models *M) {
  pthread_mutex_lock(&M->mu);
  bool ready = M->initial_done && M->n_entries > 0 && !M->stopping;
  for (int i = 0; ready && i < M->n_entries; i++) {
    entry *e = M->entries[i];
    if (e->removed)
      continue;
    bool any = false;
    for (int j = 0; j < e->n_vers; j++)
      any = any || e->vers[j]->state == V_AVAILABLE;
    ready = any;
  }
  pthread_mutex_unlock(&M->mu);
  return ready;
}

int64_t srv_models_scans(srv_models *M) {
  pthread_mutex_lock(&M->mu);
  int64_t n = M->scans;
  pthread_mutex_unlock(&M->mu);
  return n;
}

/* Prometheus collector: model state, queue depth and running inferences per version. Each
 * family goes to its own buffer so its samples stay contiguous, as the text format wants. */
void srv_models_collect(srv_buf *b, void *arg) {
  srv_models *M = arg;
  srv_buf fam[3];
  for (int i = 0; i < 3; i++)
    srv_buf_init(&fam[i]);
  srv_buf_puts(&fam[0], "# HELP orchard_model_state 1 for the state each model version is in\n"
                        "# TYPE orchard_model_state gauge\n");
  srv_buf_puts(&fam[1], "# HELP orchard_queue_depth Requests waiting for a worker\n"
                        "# TYPE orchard_queue_depth gauge\n");
  srv_buf_puts(&fam[2], "# HELP orchard_inflight_inferences Requests running on a worker\n"
                        "# TYPE orchard_inflight_inferences gauge\n");
  pthread_mutex_lock(&M->mu);
  for (int i = 0; i < M->n_entries; i++) {
    entry *e = M->entries[i];
    for (int j = 0; j < e->n_vers; j++) {
      vrec *r = e->vers[j];
      for (int s = 0; s < N_VSTATES; s++) {
        const char *l[] = {"model", e->spec.name,    "version", r->number_str,
                           "state", VSTATE_NAMES[s], NULL};
        srv_metrics_sample(&fam[0], "orchard_model_state", l, r->state == (vstate)s);
      }
      if (r->pool) {
        const char *l[] = {"model", e->spec.name, "version", r->number_str, NULL};
        srv_metrics_sample(&fam[1], "orchard_queue_depth", l, srv_pool_depth(r->pool));
        srv_metrics_sample(&fam[2], "orchard_inflight_inferences", l, srv_pool_running(r->pool));
      }
    }
  }
  pthread_mutex_unlock(&M->mu);
  for (int i = 0; i < 3; i++) {
    if (fam[i].data)
      srv_buf_append(b, fam[i].data, fam[i].len);
    srv_buf_free(&fam[i]);
  }
}
