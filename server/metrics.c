/*
 * metrics.c — a small Prometheus registry.
 *
 * A series is (family, rendered label text) -> counter / gauge / histogram. Series are few
 * (models x versions x APIs x codes), so they live in one array searched linearly under one
 * mutex; recording a request costs a short scan and a few adds. Label text is rendered once
 * when the series is created, with values escaped as the text format requires. All of it
 * lives in the srv_metrics handle main owns; nothing here is process-wide.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum fam_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } fam_kind;

typedef struct family {
  const char *name, *help;
  fam_kind kind;
} family;

enum {
  FAM_REQUESTS,
  FAM_REQUEST_SECONDS,
  FAM_INFERENCE_SECONDS,
  FAM_LOAD_SECONDS,
  FAM_LOAD_FAILURES,
  FAM_COUNT
};

static const family FAMILIES[FAM_COUNT] = {
    {"orchard_requests_total", "HTTP requests by model, version, API and status code",
     KIND_COUNTER},
    {"orchard_request_duration_seconds", "HTTP request latency, body received to response",
     KIND_HISTOGRAM},
    {"orchard_inference_duration_seconds", "Model execution time on a worker", KIND_HISTOGRAM},
    {"orchard_model_load_seconds", "Time the last load of a model version took", KIND_GAUGE},
    {"orchard_model_load_failures_total", "Model version loads that failed", KIND_COUNTER},
};

static const double BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BUCKETS (sizeof BUCKETS / sizeof BUCKETS[0])

typedef struct series {
  int fam;
  char *labels; /* rendered: model="a",version="1" */
  double value; /* counter / gauge / histogram sum */
  uint64_t count;
  uint64_t buckets[N_BUCKETS]; /* non-cumulative; summed when rendered */
} series;

typedef struct collector {
  srv_metrics_collector fn;
  void *arg;
} collector;

#define MAX_COLLECTORS 8

struct srv_metrics {
  pthread_mutex_t mu;
  series *series;
  int n, cap;
  collector collectors[MAX_COLLECTORS];
  int n_collectors;
  double start_time;
};

static void escape_label(srv_buf *b, const char *v) {
  for (const char *c = v; *c; c++) {
    if (*c == '\\' || *c == '"')
      srv_buf_putc(b, '\\'), srv_buf_putc(b, *c);
    else if (*c == '\n')
      srv_buf_puts(b, "\\n");
    else
      srv_buf_putc(b, *c);
  }
}

static void render_labels(srv_buf *b, const char *const *labels) {
  for (int i = 0; labels && labels[i]; i += 2) {
    if (i)
      srv_buf_putc(b, ',');
    srv_buf_printf(b, "%s=\"", labels[i]);
    escape_label(b, labels[i + 1] ? labels[i + 1] : "");
    srv_buf_putc(b, '"');
  }
}

/* Under m->mu. NULL on allocation failure (the sample is dropped). */
static series *find_series(srv_metrics *m, int fam, const char *const *labels) {
  srv_buf key;
  srv_buf_init(&key);
  render_labels(&key, labels);
  if (key.oom) {
    srv_buf_free(&key);
    return NULL;
  }
  const char *k = key.data ? key.data : "";
  for (int i = 0; i < m->n; i++)
    if (m->series[i].fam == fam && !strcmp(m->series[i].labels, k)) {
      srv_buf_free(&key);
      return &m->series[i];
    }
  if (m->n == m->cap) {
    int cap = m->cap ? m->cap * 2 : 64;
    series *s = realloc(m->series, (size_t)cap * sizeof *s);
    if (!s) {
      srv_buf_free(&key);
      return NULL;
    }
    m->series = s;
    m->cap = cap;
  }
  char *owned = strdup(k);
  srv_buf_free(&key);
  if (!owned)
    return NULL;
  series *s = &m->series[m->n++];
  memset(s, 0, sizeof *s);
  s->fam = fam;
  s->labels = owned;
  return s;
}

static double now_wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int srv_metrics_create(srv_metrics **out) {
  *out = NULL;
  srv_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return -1;
  if (pthread_mutex_init(&m->mu, NULL) != 0) {
    free(m);
    return -1;
  }
  m->start_time = now_wall();
  *out = m;
  return 0;
}

/* Under m->mu. */
static void drop_series(srv_metrics *m) {
  for (int i = 0; i < m->n; i++)
    free(m->series[i].labels);
  free(m->series);
  m->series = NULL;
  m->n = m->cap = 0;
}

void srv_metrics_destroy(srv_metrics *m) {
  if (!m)
    return;
  drop_series(m);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

void srv_metrics_reset(srv_metrics *m) {
  if (!m)
    return;
  pthread_mutex_lock(&m->mu);
  drop_series(m);
  m->n_collectors = 0;
  pthread_mutex_unlock(&m->mu);
}

static void observe(series *s, double v) {
  s->value += v;
  s->count++;
  for (size_t b = 0; b < N_BUCKETS; b++)
    if (v <= BUCKETS[b]) {
      s->buckets[b]++;
      break;
    }
}

void srv_metrics_request(srv_metrics *m, const char *model, const char *version, const char *api,
                         int code, double seconds) {
  if (!m)
    return;
  char codes[16];
  snprintf(codes, sizeof codes, "%d", code);
  const char *l1[] = {"model", model, "version", version, "api", api, "code", codes, NULL};
  const char *l2[] = {"model", model, "api", api, NULL};
  pthread_mutex_lock(&m->mu);
  series *s = find_series(m, FAM_REQUESTS, l1);
  if (s)
    s->value += 1;
  if ((s = find_series(m, FAM_REQUEST_SECONDS, l2)))
    observe(s, seconds);
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_inference(srv_metrics *m, const char *model, const char *version, double seconds) {
  if (!m)
    return;
  const char *l[] = {"model", model, "version", version, NULL};
  pthread_mutex_lock(&m->mu);
  series *s = find_series(m, FAM_INFERENCE_SECONDS, l);
  if (s)
    observe(s, seconds);
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_load(srv_metrics *m, const char *model, const char *version, double seconds,
                      bool ok) {
  if (!m)
    return;
  const char *l[] = {"model", model, "version", version, NULL};
  pthread_mutex_lock(&m->mu);
  series *s = find_series(m, ok ? FAM_LOAD_SECONDS : FAM_LOAD_FAILURES, l);
  if (s)
    s->value = ok ? seconds : s->value + 1;
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_add_collector(srv_metrics *m, srv_metrics_collector fn, void *arg) {
  if (!m)
    return;
  pthread_mutex_lock(&m->mu);
  if (m->n_collectors < MAX_COLLECTORS)
    m->collectors[m->n_collectors++] = (collector){fn, arg};
  pthread_mutex_unlock(&m->mu);
}

void srv_metrics_remove_collector(srv_metrics *m, srv_metrics_collector fn, void *arg) {
  if (!m)
    return;
  pthread_mutex_lock(&m->mu);
  for (int i = 0; i < m->n_collectors; i++)
    if (m->collectors[i].fn == fn && m->collectors[i].arg == arg) {
      m->collectors[i] = m->collectors[--m->n_collectors];
      break;
    }
  pthread_mutex_unlock(&m->mu);
}

static void put_number(srv_buf *b, double v) {
  if (isnan(v))
    srv_buf_puts(b, "NaN");
  else if (isinf(v))
    srv_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 1e15)
    srv_buf_printf(b, "%.0f", v);
  else
    srv_buf_printf(b, "%.9g", v);
}

void srv_metrics_sample(srv_buf *b, const char *name, const char *const *labels, double value) {
  srv_buf_puts(b, name);
  if (labels && labels[0]) {
    srv_buf_putc(b, '{');
    render_labels(b, labels);
    srv_buf_putc(b, '}');
  }
  srv_buf_putc(b, ' ');
  put_number(b, value);
  srv_buf_putc(b, '\n');
}

static void render_series(srv_buf *b, const family *f, const series *s) {
  const char *sep = s->labels[0] ? "," : "";
  if (f->kind != KIND_HISTOGRAM) {
    srv_buf_printf(b, "%s%s%s%s ", f->name, s->labels[0] ? "{" : "", s->labels,
                   s->labels[0] ? "}" : "");
    put_number(b, s->value);
    srv_buf_putc(b, '\n');
    return;
  }
  uint64_t cum = 0;
  for (size_t i = 0; i < N_BUCKETS; i++) {
    cum += s->buckets[i];
    srv_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, s->labels, sep, BUCKETS[i],
                   (unsigned long long)cum);
  }
  srv_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, sep,
                 (unsigned long long)s->count);
  srv_buf_printf(b, "%s_sum%s%s%s ", f->name, s->labels[0] ? "{" : "", s->labels,
                 s->labels[0] ? "}" : "");
  put_number(b, s->value);
  srv_buf_printf(b, "\n%s_count%s%s%s %llu\n", f->name, s->labels[0] ? "{" : "", s->labels,
                 s->labels[0] ? "}" : "", (unsigned long long)s->count);
}

static void render_process(srv_buf *b, double start_time) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
      rss = 0;
    fclose(f);
  }
  srv_buf_puts(b, "# HELP orchard_process_resident_memory_bytes Resident set size\n"
                  "# TYPE orchard_process_resident_memory_bytes gauge\n");
  srv_metrics_sample(b, "orchard_process_resident_memory_bytes", NULL,
                     (double)rss * (double)sysconf(_SC_PAGESIZE));
  srv_buf_puts(b, "# HELP orchard_process_start_time_seconds Start time, Unix seconds\n"
                  "# TYPE orchard_process_start_time_seconds gauge\n");
  srv_metrics_sample(b, "orchard_process_start_time_seconds", NULL, start_time);
}

char *srv_metrics_render(srv_metrics *m, size_t *len) {
  if (!m) {
    if (len)
      *len = 0;
    return NULL;
  }
  srv_buf b;
  srv_buf_init(&b);
  collector cols[MAX_COLLECTORS];
  int nc;
  pthread_mutex_lock(&m->mu);
  for (int fi = 0; fi < FAM_COUNT; fi++) {
    const family *f = &FAMILIES[fi];
    srv_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                   f->kind == KIND_COUNTER ? "counter"
                   : f->kind == KIND_GAUGE ? "gauge"
                                           : "histogram");
    for (int i = 0; i < m->n; i++)
      if (m->series[i].fam == fi)
        render_series(&b, f, &m->series[i]);
  }
  render_process(&b, m->start_time);
  nc = m->n_collectors;
  memcpy(cols, m->collectors, sizeof cols);
  pthread_mutex_unlock(&m->mu);
  /* Collectors take their own locks; calling them outside ours avoids lock-order cycles. */
  for (int i = 0; i < nc; i++)
    cols[i].fn(&b, cols[i].arg);
  return srv_buf_take(&b, len);
}
