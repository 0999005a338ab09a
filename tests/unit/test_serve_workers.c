/*
 * test_serve_workers.c — the server's worker pool (workers.c) and model manager (models.c)
 * on a two-node graph model written to a temp directory (y = x * x; version 2: y = x + x, so
 * answers show which version ran): jobs run and come back, a queued job can be cancelled, the
 * queue is bounded, closing drains; the manager loads versions by policy, switches to a new
 * version, keeps serving when a newer version is broken, and reports it.
 */
#include "log.h"
#include "models.h"
#include "workers.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *MODEL_JSON =
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": ["
    "{\"name\": \"x\", \"op\": \"Placeholder\", \"attr\": {\"dtype\": {\"type\": \"DT_FLOAT\"},"
    " \"shape\": {\"shape\": {\"dim\": [{\"size\": \"-1\"}, {\"size\": \"2\"}]}}}},"
    "{\"name\": \"y\", \"op\": \"%s\", \"input\": [\"x\", \"x\"], \"attr\": {\"T\": {\"type\": "
    "\"DT_FLOAT\"}}}], \"library\": {}, \"versions\": {\"producer\": 1}}, "
    "\"weightsManifest\": []}";

static void write_version(const char *base, int v, const char *op) {
  char path[512];
  snprintf(path, sizeof path, "%s/%d", base, v);
  mkdir(base, 0755);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%d/model.json", base, v);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, MODEL_JSON, op);
  fclose(f);
}

static char *temp_repo(void) {
  char tmpl[] = "/tmp/orchard-test-XXXXXX";
  char *d = mkdtemp(tmpl);
  cr_assert_not_null(d);
  return strdup(d);
}

static void rm_rf(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

/* ---- pool ---- */

typedef struct tjob {
  srv_job job;
  float x, y;
  bool ran, came_back;
  struct tctx *ctx;
} tjob;

typedef struct tctx {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int back;
  bool gate_open;
  bool use_gate;
} tctx;

static void t_run(srv_job *j, const rt_model *m, rt_session *s) {
  tjob *t = (tjob *)j;
  tctx *c = t->ctx;
  if (c->use_gate) {
    pthread_mutex_lock(&c->mu);
    while (!c->gate_open)
      pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
  }
  float in[2] = {t->x, 1};
  rt_tensor ti = {.dtype = RT_DT_F32, .rank = 2, .dims = {1, 2}, .data = in}, out;
  rt_error err;
  cr_assert_eq(rt_session_run(s, &ti, 1, &out, &err), RT_OK, "%s", err.msg);
  t->y = ((float *)out.data)[0];
  t->ran = true;
}

static void t_done(srv_job *j) {
  tjob *t = (tjob *)j;
  pthread_mutex_lock(&t->ctx->mu);
  t->came_back = true;
  t->ctx->back++;
  pthread_cond_broadcast(&t->ctx->cv);
  pthread_mutex_unlock(&t->ctx->mu);
}

static void wait_back(tctx *c, int n) {
  pthread_mutex_lock(&c->mu);
  while (c->back < n)
    pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
}

static rt_model *load_square(char **dir_out) {
  char *repo = temp_repo();
  write_version(repo, 1, "Mul");
  char path[600];
  snprintf(path, sizeof path, "%s/1", repo);
  rt_model *m;
  rt_error err;
  cr_assert_eq(rt_model_load(path, NULL, &m, &err), RT_OK, "%s", err.msg);
  *dir_out = repo;
  return m;
}

Test(pool, jobs_run_on_workers_and_come_back) {
  char *repo;
  rt_model *m = load_square(&repo);
  srv_pool_params p = srv_pool_default_params();
  p.workers = 3;
  srv_pool *pool;
  rt_error err;
  cr_assert_eq(srv_pool_create(m, &p, &pool, &err), RT_OK, "%s", err.msg);
  tctx c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  tjob jobs[40];
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < 40; i++) {
    jobs[i] = (tjob){.job = {.run = t_run, .done = t_done}, .x = (float)i, .ctx = &c};
    cr_assert_eq(srv_pool_submit(pool, &jobs[i].job), SRV_SUBMIT_OK);
  }
  wait_back(&c, 40);
  for (int i = 0; i < 40; i++) {
    cr_assert(jobs[i].ran);
    cr_assert_eq(jobs[i].y, (float)(i * i));
  }
  srv_pool_destroy(pool);
  rt_model_destroy(m);
  rm_rf(repo);
  free(repo);
}

Test(pool, cancel_bound_and_drain) {
  char *repo;
  rt_model *m = load_square(&repo);
  srv_pool_params p = srv_pool_default_params();
  p.workers = 1;
  p.queue_capacity = 2;
  p.warmup = false;
  srv_pool *pool;
  rt_error err;
  cr_assert_eq(srv_pool_create(m, &p, &pool, &err), RT_OK, "%s", err.msg);
  tctx c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .use_gate = true};
  tjob j[4];
  for (int i = 0; i < 4; i++)
    j[i] = (tjob){.job = {.run = t_run, .done = t_done}, .x = 2, .ctx = &c};
  cr_assert_eq(srv_pool_submit(pool, &j[0].job), SRV_SUBMIT_OK);
  while (srv_pool_running(pool) == 0) /* the worker holds job 0 at the gate */
    usleep(1000);
  cr_assert_eq(srv_pool_submit(pool, &j[1].job), SRV_SUBMIT_OK);
  cr_assert_eq(srv_pool_submit(pool, &j[2].job), SRV_SUBMIT_OK);
  cr_assert_eq(srv_pool_submit(pool, &j[3].job), SRV_SUBMIT_FULL);
  cr_assert_eq(srv_pool_depth(pool), 2);
  cr_assert(srv_job_cancel(&j[1].job));  /* queued: cancelled */
  cr_assert(!srv_job_cancel(&j[0].job)); /* running: too late */
  srv_pool_close(pool);
  cr_assert_eq(srv_pool_submit(pool, &j[3].job), SRV_SUBMIT_CLOSED);
  pthread_mutex_lock(&c.mu);
  c.gate_open = true;
  pthread_cond_broadcast(&c.cv);
  pthread_mutex_unlock(&c.mu);
  srv_pool_destroy(pool); /* drains: job 2 still runs, job 1 comes back unrun */
  cr_assert(j[0].ran && j[0].came_back);
  cr_assert(!j[1].ran && j[1].came_back);
  cr_assert(j[2].ran && j[2].came_back);
  cr_assert_eq(j[2].y, 4);
  cr_assert(!j[3].came_back);
  rt_model_destroy(m);
  rm_rf(repo);
  free(repo);
}

Test(pool, decide_from_the_cpu_quota) {
  int inter, intra;
  srv_pool_decide(0, 0, 4, &inter, &intra);
  cr_assert(inter == 4 && intra == 1);
  srv_pool_decide(2, 0, 8, &inter, &intra);
  cr_assert(inter == 2 && intra == 4);
  srv_pool_decide(0, 3, 8, &inter, &intra);
  cr_assert(inter == 2 && intra == 3);
  srv_pool_decide(0, 16, 8, &inter, &intra);
  cr_assert(inter == 1 && intra == 16);
  srv_pool_decide(5, 5, 2, &inter, &intra);
  cr_assert(inter == 5 && intra == 5);
  cr_assert_geq(srv_cpu_quota(), 1);
}

/* Retry-After: queued work at the recent pace over the workers, at least the batch timeout,
 * whole seconds rounded up, 1 .. 3600. */
Test(pool, retry_after_estimate) {
  cr_assert_eq(srv_retry_after_seconds(0, 0, 1, 0), 1);      /* nothing known: 1 */
  cr_assert_eq(srv_retry_after_seconds(10, 0.25, 2, 0), 2);  /* 10 x 0.25 / 2 = 1.25 */
  cr_assert_eq(srv_retry_after_seconds(8, 0.25, 2, 0), 1);   /* exactly 1 */
  cr_assert_eq(srv_retry_after_seconds(1, 0.01, 1, 1.5), 2); /* batch timeout 1.5 s */
  cr_assert_eq(srv_retry_after_seconds(64, 2.0, 1, 0), 128);
  cr_assert_eq(srv_retry_after_seconds(1000000, 10.0, 1, 0), 3600);
  cr_assert_eq(srv_retry_after_seconds(3, 1.0, 0, 0), 3); /* no workers counts as one */
}

/* ---- model manager ---- */

static float answer(srv_models *M, const srv_model_ref *ref, int *code) {
  const srv_servable *sv;
  char msg[512];
  *code = srv_models_acquire(M, ref, &sv, msg, sizeof msg);
  if (*code != 200)
    return -1;
  rt_session *s;
  rt_error err;
  cr_assert_eq(rt_session_create(sv->model, &s, &err), RT_OK);
  srv_models_release(M);
  float in[2] = {3, 1};
  rt_tensor ti = {.dtype = RT_DT_F32, .rank = 2, .dims = {1, 2}, .data = in}, out;
  cr_assert_eq(rt_session_run(s, &ti, 1, &out, &err), RT_OK, "%s", err.msg);
  float y = ((float *)out.data)[0];
  rt_session_destroy(s);
  return y;
}

static void rescan(srv_models *M) {
  int64_t before = srv_models_scans(M);
  srv_models_reload(M);
  for (int i = 0; i < 2000 && srv_models_scans(M) == before; i++)
    usleep(1000);
  cr_assert_gt(srv_models_scans(M), before, "no rescan happened");
}

static const char *state_of(srv_models *M, const char *name, int64_t v) {
  static char st[32];
  srv_model_ref ref = {.name = name, .sel = SRV_SELECT_VERSION, .version = v};
  json_t *j;
  char msg[512];
  if (srv_models_status(M, &ref, &j, msg, sizeof msg) != 200)
    return "none";
  json_t *e = json_array_get(json_object_get(j, "model_version_status"), 0);
  snprintf(st, sizeof st, "%s", json_string_value(json_object_get(e, "state")));
  json_decref(j);
  return st;
}

Test(models, versions_come_and_go_by_policy) {
  srv_log_init(SRV_LOG_FORMAT_TEXT, SRV_LOG_ERROR + 1); /* quiet: failures are expected */
  char *repo = temp_repo();
  char base[600];
  snprintf(base, sizeof base, "%s/sq", repo);
  write_version(base, 1, "Mul");
  mkdir(strcat(strcpy((char[700]){0}, base), "/notaversion"), 0755);
  srv_models_params p = {.model_name = "sq",
                         .base_path = base,
                         .poll_seconds = 3600,
                         .inter_op = 1,
                         .intra_op = 1,
                         .queue_capacity = 8,
                         .warmup = true};
  srv_models *M;
  char msg[1024];
  cr_assert_eq(srv_models_create(&p, &M, msg, sizeof msg), 0, "%s", msg);
  cr_assert_eq(srv_models_start(M, msg, sizeof msg), 0, "%s", msg);
  cr_assert(srv_models_ready(M));
  srv_model_ref latest = {.name = "sq"};
  int code;
  cr_assert_eq(answer(M, &latest, &code), 9); /* 3 * 3 */
  srv_model_ref other = {.name = "nope"};
  answer(M, &other, &code);
  cr_assert_eq(code, 404);

  /* A new version serves once loaded; latest{1} retires version 1. */
  write_version(base, 2, "Add");
  rescan(M);
  cr_assert_eq(answer(M, &latest, &code), 6); /* 3 + 3 */
  cr_assert_str_eq(state_of(M, "sq", 2), "AVAILABLE");
  cr_assert_str_eq(state_of(M, "sq", 1), "END");
  srv_model_ref v1 = {.name = "sq", .sel = SRV_SELECT_VERSION, .version = 1};
  answer(M, &v1, &code);
  cr_assert_eq(code, 404);

  /* A broken version 3 is reported; version 2 keeps serving. */
  char path[700];
  snprintf(path, sizeof path, "%s/3", base);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/3/model.json", base);
  FILE *f = fopen(path, "w");
  fputs("{\"format\": \"graph-model\", \"modelTop", f);
  fclose(f);
  rescan(M);
  cr_assert_eq(answer(M, &latest, &code), 6);
  cr_assert_str_eq(state_of(M, "sq", 3), "END");
  srv_model_ref v3 = {.name = "sq", .sel = SRV_SELECT_VERSION, .version = 3};
  json_t *j;
  cr_assert_eq(srv_models_status(M, &v3, &j, msg, sizeof msg), 200);
  json_t *st =
      json_object_get(json_array_get(json_object_get(j, "model_version_status"), 0), "status");
  cr_assert_str_neq(json_string_value(json_object_get(st, "error_code")), "OK");
  cr_assert_gt(strlen(json_string_value(json_object_get(st, "error_message"))), 0);
  json_decref(j);

  /* Fixing version 3 (its files change) retries it. */
  write_version(base, 3, "Mul");
  rescan(M);
  cr_assert_eq(answer(M, &latest, &code), 9);
  cr_assert_str_eq(state_of(M, "sq", 3), "AVAILABLE");
  cr_assert_str_eq(state_of(M, "sq", 2), "END");

  srv_models_destroy(M);
  rm_rf(repo);
  free(repo);
}

Test(models, config_file_labels_and_start_errors) {
  srv_log_init(SRV_LOG_FORMAT_TEXT, SRV_LOG_ERROR + 1);
  char *repo = temp_repo();
  char base[600], cfg[600];
  snprintf(base, sizeof base, "%s/sq", repo);
  write_version(base, 1, "Mul");
  write_version(base, 2, "Add");
  snprintf(cfg, sizeof cfg, "%s/models.json", repo);
  FILE *f = fopen(cfg, "w");
  fprintf(f,
          "{\"model_config_list\": [{\"name\": \"sq\", \"base_path\": \"%s\", "
          "\"model_version_policy\": {\"all\": {}}, \"version_labels\": {\"old\": 1}}]}",
          base);
  fclose(f);
  srv_models_params p = {
      .config_file = cfg, .poll_seconds = 3600, .inter_op = 1, .intra_op = 1, .queue_capacity = 8};
  srv_models *M;
  char msg[1024];
  cr_assert_eq(srv_models_create(&p, &M, msg, sizeof msg), 0, "%s", msg);
  cr_assert_eq(srv_models_start(M, msg, sizeof msg), 0, "%s", msg);
  int code;
  srv_model_ref latest = {.name = "sq"},
                old = {.name = "sq", .sel = SRV_SELECT_LABEL, .label = "old"};
  srv_model_ref nolabel = {.name = "sq", .sel = SRV_SELECT_LABEL, .label = "new"};
  cr_assert_eq(answer(M, &latest, &code), 6);
  cr_assert_eq(answer(M, &old, &code), 9);
  answer(M, &nolabel, &code);
  cr_assert_eq(code, 404);
  srv_models_destroy(M);

  /* A base path that does not exist stops the start, naming the model. */
  srv_models_params bad = {.model_name = "ghost",
                           .base_path = "/nonexistent/ghost",
                           .poll_seconds = 1,
                           .inter_op = 1,
                           .intra_op = 1,
                           .queue_capacity = 1};
  cr_assert_eq(srv_models_create(&bad, &M, msg, sizeof msg), 0, "%s", msg);
  cr_assert_eq(srv_models_start(M, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "ghost"), "%s", msg);
  srv_models_destroy(M);
  rm_rf(repo);
  free(repo);
}
