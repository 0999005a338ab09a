/*
 * config.c — strict parsers for the model config and batching parameter files.
 *
 * Each field is checked where it is read, with its JSON path built on the way down, so the
 * message always points at the exact field. Unknown fields are errors: a typo in a
 * manifest ("num_version") should fail at start-up, not silently serve the wrong versions.
 * A model entry's "batching_parameters" uses the batching file's parser on a sub-object and
 * remembers which fields it gave, so the rest can come from the file when merged.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *msg, size_t cap, const char *path, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *msg, size_t cap, const char *path, const char *field, const char *fmt, ...) {
  size_t o = (size_t)snprintf(msg, cap, "%s: %s%s", path, field, *field ? ": " : "");
  if (o < cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + o, cap - o, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int only_fields(json_t *obj, const char *const *allowed, const char *path, const char *at,
                       char *msg, size_t cap) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    bool ok = false;
    for (int i = 0; allowed[i]; i++)
      ok = ok || !strcmp(allowed[i], key);
    if (!ok) {
      char f[1024];
      snprintf(f, sizeof f, "%s%s%s", at, *at ? "." : "", key);
      return fail(msg, cap, path, f, "unknown field");
    }
  }
  return 0;
}

static bool positive_int(json_t *v, int64_t *out) {
  if (!json_is_integer(v) || json_integer_value(v) <= 0)
    return false;
  *out = json_integer_value(v);
  return true;
}

bool srv_config_valid_name(const char *name) {
  if (!name || !*name)
    return false;
  for (const char *c = name; *c; c++)
    if (*c == '/' || *c == ':' || (unsigned char)*c < 0x20)
      return false;
  return true;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int parse_policy(json_t *pol, const char *path, const char *at, srv_model_spec *m, char *msg,
                        size_t cap) {
  char f[1024];
  if (!json_is_object(pol) || json_object_size(pol) != 1)
    return fail(msg, cap, path, at,
                "expected exactly one of {\"latest\": {...}}, {\"all\": {}}, "
                "{\"specific\": {...}}");
  json_t *v;
  if ((v = json_object_get(pol, "latest"))) {
    snprintf(f, sizeof f, "%s.latest", at);
    if (!json_is_object(v))
      return fail(msg, cap, path, f, "expected an object");
    static const char *const ok[] = {"num_versions", NULL};
    if (only_fields(v, ok, path, f, msg, cap))
      return -1;
    m->policy = SRV_POLICY_LATEST;
    m->num_versions = 1;
    json_t *n = json_object_get(v, "num_versions");
    snprintf(f, sizeof f, "%s.latest.num_versions", at);
    if (n && !positive_int(n, &m->num_versions))
      return fail(msg, cap, path, f, "must be a positive integer");
    return 0;
  }
  if ((v = json_object_get(pol, "all"))) {
    snprintf(f, sizeof f, "%s.all", at);
    if (!json_is_object(v) || json_object_size(v) != 0)
      return fail(msg, cap, path, f, "expected {}");
    m->policy = SRV_POLICY_ALL;
    return 0;
  }
  if ((v = json_object_get(pol, "specific"))) {
    snprintf(f, sizeof f, "%s.specific", at);
    if (!json_is_object(v))
      return fail(msg, cap, path, f, "expected an object");
    static const char *const ok[] = {"versions", NULL};
    if (only_fields(v, ok, path, f, msg, cap))
      return -1;
    json_t *vs = json_object_get(v, "versions");
    snprintf(f, sizeof f, "%s.specific.versions", at);
    if (!json_is_array(vs) || json_array_size(vs) == 0)
      return fail(msg, cap, path, f, "expected a non-empty list of positive integers");
    m->policy = SRV_POLICY_SPECIFIC;
    m->n_versions = (int)json_array_size(vs);
    m->versions = calloc((size_t)m->n_versions, sizeof *m->versions);
    if (!m->versions)
      return fail(msg, cap, path, f, "out of memory");
    for (int i = 0; i < m->n_versions; i++)
      if (!positive_int(json_array_get(vs, (size_t)i), &m->versions[i])) {
        snprintf(f, sizeof f, "%s.specific.versions[%d]", at, i);
        return fail(msg, cap, path, f, "must be a positive integer");
      }
    qsort(m->versions, (size_t)m->n_versions, sizeof *m->versions, cmp_i64);
    for (int i = 1; i < m->n_versions; i++)
      if (m->versions[i] == m->versions[i - 1])
        return fail(msg, cap, path, f, "version %lld is listed twice", (long long)m->versions[i]);
    return 0;
  }
  const char *key = "?";
  json_t *dummy;
  json_object_foreach(pol, key, dummy) break;
  snprintf(f, sizeof f, "%s.%s", at, key);
  return fail(msg, cap, path, f, "unknown policy (latest, all or specific)");
}

static void batching_defaults(srv_batching_params *out);
static int parse_batching_obj(json_t *obj, const char *path, const char *at, bool whole,
                              srv_batching_params *out, char *msg, size_t cap);

static int parse_model(json_t *e, const char *path, int idx, srv_model_spec *m, char *msg,
                       size_t cap) {
  char at[64], f[1024];
  snprintf(at, sizeof at, "model_config_list[%d]", idx);
  if (!json_is_object(e))
    return fail(msg, cap, path, at, "expected an object");
  static const char *const ok[] = {"name",
                                   "base_path",
                                   "model_platform",
                                   "model_version_policy",
                                   "version_labels",
                                   "batching_parameters",
                                   NULL};
  if (only_fields(e, ok, path, at, msg, cap))
    return -1;
  json_t *name = json_object_get(e, "name"), *base = json_object_get(e, "base_path");
  snprintf(f, sizeof f, "%s.name", at);
  if (!json_is_string(name) || !srv_config_valid_name(json_string_value(name)))
    return fail(msg, cap, path, f, "expected a non-empty string without '/' or ':'");
  snprintf(f, sizeof f, "%s.base_path", at);
  if (!json_is_string(base) || !json_string_length(base))
    return fail(msg, cap, path, f, "expected a non-empty string");
  json_t *plat = json_object_get(e, "model_platform");
  snprintf(f, sizeof f, "%s.model_platform", at);
  if (plat && !json_is_string(plat))
    return fail(msg, cap, path, f, "expected a string");
  m->name = strdup(json_string_value(name));
  m->base_path = strdup(json_string_value(base));
  if (!m->name || !m->base_path)
    return fail(msg, cap, path, at, "out of memory");
  m->policy = SRV_POLICY_LATEST;
  m->num_versions = 1;
  json_t *pol = json_object_get(e, "model_version_policy");
  snprintf(f, sizeof f, "%s.model_version_policy", at);
  if (pol && parse_policy(pol, path, f, m, msg, cap))
    return -1;
  json_t *labels = json_object_get(e, "version_labels");
  if (labels) {
    snprintf(f, sizeof f, "%s.version_labels", at);
    if (!json_is_object(labels))
      return fail(msg, cap, path, f, "expected an object of label: version");
    m->labels = calloc(json_object_size(labels) + 1, sizeof *m->labels);
    if (!m->labels)
      return fail(msg, cap, path, f, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(labels, key, v) {
      snprintf(f, sizeof f, "%s.version_labels.%s", at, key);
      srv_label *l = &m->labels[m->n_labels];
      if (!srv_config_valid_name(key))
        return fail(msg, cap, path, f, "a label must be non-empty, without '/' or ':'");
      if (!positive_int(v, &l->version))
        return fail(msg, cap, path, f, "must be a positive integer version");
      if (!(l->name = strdup(key)))
        return fail(msg, cap, path, f, "out of memory");
      m->n_labels++;
    }
  }
  json_t *bp = json_object_get(e, "batching_parameters");
  if (bp) {
    /* Only the fields given are kept (m->batching->given): the rest come from the
     * --batching_parameters_file or its defaults when the version loads. */
    snprintf(f, sizeof f, "%s.batching_parameters", at);
    if (!(m->batching = calloc(1, sizeof *m->batching)))
      return fail(msg, cap, path, f, "out of memory");
    batching_defaults(m->batching);
    if (parse_batching_obj(bp, path, f, false, m->batching, msg, cap))
      return -1;
  }
  return 0;
}

int srv_config_parse_models(const char *text, size_t len, const char *path, srv_model_config *out,
                            char *msg, size_t cap) {
  memset(out, 0, sizeof *out);
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return fail(msg, cap, path, "", "bad JSON at line %d column %d: %s", je.line, je.column,
                je.text);
  int rc = -1;
  static const char *const ok[] = {"model_config_list", NULL};
  if (!json_is_object(root)) {
    fail(msg, cap, path, "", "expected an object with model_config_list");
    goto done;
  }
  if (only_fields(root, ok, path, "", msg, cap))
    goto done;
  json_t *list = json_object_get(root, "model_config_list");
  if (!json_is_array(list)) {
    fail(msg, cap, path, "model_config_list", list ? "expected a list" : "missing");
    goto done;
  }
  out->models = calloc(json_array_size(list) + 1, sizeof *out->models);
  if (!out->models) {
    fail(msg, cap, path, "", "out of memory");
    goto done;
  }
  for (size_t i = 0; i < json_array_size(list); i++) {
    srv_model_spec *m = &out->models[out->n_models++];
    if (parse_model(json_array_get(list, i), path, (int)i, m, msg, cap))
      goto done;
    for (int j = 0; j < (int)i; j++)
      if (!strcmp(out->models[j].name, m->name)) {
        char f[64];
        snprintf(f, sizeof f, "model_config_list[%zu].name", i);
        fail(msg, cap, path, f, "model '%s' is already configured at model_config_list[%d]",
             m->name, j);
        goto done;
      }
  }
  rc = 0;
done:
  json_decref(root);
  if (rc)
    srv_model_config_free(out);
  return rc;
}

static char *read_file(const char *path, size_t *len, char *msg, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fail(msg, cap, path, "", "cannot open");
    return NULL;
  }
  size_t n = 0, c = 4096;
  char *buf = malloc(c);
  while (buf) {
    size_t r = fread(buf + n, 1, c - n, f);
    n += r;
    if (n < c)
      break;
    char *nb = c < (64u << 20) ? realloc(buf, c * 2) : NULL;
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    c *= 2;
  }
  bool bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    fail(msg, cap, path, "", "cannot read (or larger than 64 MiB)");
    return NULL;
  }
  *len = n;
  return buf;
}

int srv_config_load_models(const char *path, srv_model_config *out, char *msg, size_t cap) {
  size_t len;
  memset(out, 0, sizeof *out);
  char *text = read_file(path, &len, msg, cap);
  if (!text)
    return -1;
  int rc = srv_config_parse_models(text, len, path, out, msg, cap);
  free(text);
  return rc;
}

int srv_config_single(const char *name, const char *base_path, srv_model_config *out) {
  memset(out, 0, sizeof *out);
  out->models = calloc(1, sizeof *out->models);
  if (!out->models)
    return -1;
  out->n_models = 1;
  out->models[0].name = strdup(name);
  out->models[0].base_path = strdup(base_path);
  out->models[0].policy = SRV_POLICY_LATEST;
  out->models[0].num_versions = 1;
  if (!out->models[0].name || !out->models[0].base_path) {
    srv_model_config_free(out);
    return -1;
  }
  return 0;
}

void srv_model_config_free(srv_model_config *c) {
  for (int i = 0; c->models && i < c->n_models; i++) {
    srv_model_spec *m = &c->models[i];
    free(m->name);
    free(m->base_path);
    free(m->versions);
    for (int j = 0; j < m->n_labels; j++)
      free(m->labels[j].name);
    free(m->labels);
    if (m->batching)
      srv_batching_params_free(m->batching);
    free(m->batching);
  }
  free(c->models);
  memset(c, 0, sizeof *c);
}

bool srv_model_spec_equal(const srv_model_spec *a, const srv_model_spec *b) {
  if (strcmp(a->name, b->name) || strcmp(a->base_path, b->base_path) || a->policy != b->policy ||
      a->num_versions != b->num_versions || a->n_versions != b->n_versions ||
      a->n_labels != b->n_labels)
    return false;
  for (int i = 0; i < a->n_versions; i++)
    if (a->versions[i] != b->versions[i])
      return false;
  for (int i = 0; i < a->n_labels; i++)
    if (strcmp(a->labels[i].name, b->labels[i].name) ||
        a->labels[i].version != b->labels[i].version)
      return false;
  return srv_batching_params_equal(a->batching, b->batching);
}

bool srv_batching_params_equal(const srv_batching_params *a, const srv_batching_params *b) {
  if (!a || !b)
    return a == b;
  if (a->given != b->given || a->max_batch_size != b->max_batch_size ||
      a->batch_timeout_micros != b->batch_timeout_micros ||
      a->max_enqueued_batches != b->max_enqueued_batches ||
      a->num_batch_threads != b->num_batch_threads || a->n_allowed != b->n_allowed ||
      a->enable_large_batch_splitting != b->enable_large_batch_splitting)
    return false;
  for (int i = 0; i < a->n_allowed; i++)
    if (a->allowed_batch_sizes[i] != b->allowed_batch_sizes[i])
      return false;
  return true;
}

/* Reads the batching fields present in `obj` into *out (marking them in out->given); `at` is
 * the JSON path of obj ("" for a whole file). Fields absent keep what *out holds. Checks each
 * field alone, and max_batch_size against allowed_batch_sizes and max_enqueued_batches when
 * `whole` (a file: defaults fill the rest) or when obj gives both sides. */
static int parse_batching_obj(json_t *obj, const char *path, const char *at, bool whole,
                              srv_batching_params *out, char *msg, size_t cap) {
  static const char *const ok[] = {"max_batch_size",
                                   "batch_timeout_micros",
                                   "max_enqueued_batches",
                                   "num_batch_threads",
                                   "allowed_batch_sizes",
                                   "enable_large_batch_splitting",
                                   NULL};
  char f[1024];
  if (!json_is_object(obj))
    return fail(msg, cap, path, at, "expected an object");
  if (only_fields(obj, ok, path, at, msg, cap))
    return -1;
  const char *dot = *at ? "." : "";
  /* Upper bounds keep the batcher's fixed queue table (batcher.c) and a worker's padded
   * batch within reason: memory stays bounded whatever the file says. */
  struct {
    const char *name;
    int64_t *dst;
    bool zero_ok;
    int64_t max;
    unsigned bit;
  } ints[] = {
      {"max_batch_size", &out->max_batch_size, false, 65536, SRV_BP_MAX_BATCH_SIZE},
      {"batch_timeout_micros", &out->batch_timeout_micros, true, 60000000, SRV_BP_TIMEOUT},
      {"max_enqueued_batches", &out->max_enqueued_batches, false, 1000000, SRV_BP_MAX_ENQUEUED},
      {"num_batch_threads", &out->num_batch_threads, false, 1024, SRV_BP_THREADS}};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    json_t *v = json_object_get(obj, ints[i].name);
    if (!v)
      continue;
    snprintf(f, sizeof f, "%s%s%s", at, dot, ints[i].name);
    if (!json_is_integer(v) || json_integer_value(v) < (ints[i].zero_ok ? 0 : 1))
      return fail(msg, cap, path, f, "must be a %s integer",
                  ints[i].zero_ok ? "non-negative" : "positive");
    if (json_integer_value(v) > ints[i].max)
      return fail(msg, cap, path, f, "must be at most %lld", (long long)ints[i].max);
    *ints[i].dst = json_integer_value(v);
    out->given |= ints[i].bit;
  }
  unsigned both = SRV_BP_MAX_BATCH_SIZE | SRV_BP_MAX_ENQUEUED;
  if ((whole || (out->given & both) == both) &&
      out->max_batch_size * out->max_enqueued_batches > (INT64_C(1) << 24)) {
    snprintf(f, sizeof f, "%s%smax_enqueued_batches", at, dot);
    return fail(msg, cap, path, f,
                "max_enqueued_batches x max_batch_size must be at most 16777216");
  }
  json_t *split = json_object_get(obj, "enable_large_batch_splitting");
  if (split) {
    snprintf(f, sizeof f, "%s%senable_large_batch_splitting", at, dot);
    if (!json_is_boolean(split))
      return fail(msg, cap, path, f, "must be true or false");
    out->enable_large_batch_splitting = json_is_true(split);
    out->given |= SRV_BP_SPLIT;
  }
  json_t *al = json_object_get(obj, "allowed_batch_sizes");
  if (al) {
    snprintf(f, sizeof f, "%s%sallowed_batch_sizes", at, dot);
    if (!json_is_array(al) || json_array_size(al) == 0)
      return fail(msg, cap, path, f, "expected a non-empty list");
    if (json_array_size(al) > 64)
      return fail(msg, cap, path, f, "at most 64 sizes");
    int n = (int)json_array_size(al);
    int64_t *sizes = calloc((size_t)n, sizeof *sizes);
    if (!sizes)
      return fail(msg, cap, path, f, "out of memory");
    free(out->allowed_batch_sizes);
    out->allowed_batch_sizes = sizes;
    out->n_allowed = n;
    out->given |= SRV_BP_ALLOWED;
    for (int i = 0; i < n; i++) {
      snprintf(f, sizeof f, "%s%sallowed_batch_sizes[%d]", at, dot, i);
      int64_t v;
      if (!positive_int(json_array_get(al, (size_t)i), &v))
        return fail(msg, cap, path, f, "must be a positive integer");
      if (i && v <= sizes[i - 1])
        return fail(msg, cap, path, f, "sizes must increase");
      sizes[i] = v;
    }
    if ((whole || (out->given & SRV_BP_MAX_BATCH_SIZE)) && sizes[n - 1] != out->max_batch_size)
      return fail(msg, cap, path, f, "the last size must equal max_batch_size (%lld)",
                  (long long)out->max_batch_size);
  }
  return 0;
}

static void batching_defaults(srv_batching_params *out) {
  memset(out, 0, sizeof *out);
  out->max_batch_size = 32;
  out->batch_timeout_micros = 0;
  out->max_enqueued_batches = 64;
  out->num_batch_threads = 1;
}

int srv_config_parse_batching(const char *text, size_t len, const char *path,
                              srv_batching_params *out, char *msg, size_t cap) {
  batching_defaults(out);
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return fail(msg, cap, path, "", "bad JSON at line %d column %d: %s", je.line, je.column,
                je.text);
  int rc = parse_batching_obj(root, path, "", true, out, msg, cap);
  json_decref(root);
  if (rc)
    srv_batching_params_free(out);
  return rc;
}

int srv_config_merge_batching(const srv_batching_params *base, const srv_batching_params *over,
                              srv_batching_params *out, const char *path, const char *at, char *msg,
                              size_t cap) {
  *out = *base;
  out->allowed_batch_sizes = NULL;
  out->n_allowed = 0;
  if (over->given & SRV_BP_MAX_BATCH_SIZE)
    out->max_batch_size = over->max_batch_size;
  if (over->given & SRV_BP_TIMEOUT)
    out->batch_timeout_micros = over->batch_timeout_micros;
  if (over->given & SRV_BP_MAX_ENQUEUED)
    out->max_enqueued_batches = over->max_enqueued_batches;
  if (over->given & SRV_BP_THREADS)
    out->num_batch_threads = over->num_batch_threads;
  if (over->given & SRV_BP_SPLIT)
    out->enable_large_batch_splitting = over->enable_large_batch_splitting;
  out->given = base->given | over->given;
  const int64_t *src =
      over->given & SRV_BP_ALLOWED ? over->allowed_batch_sizes : base->allowed_batch_sizes;
  int n_src = over->given & SRV_BP_ALLOWED ? over->n_allowed : base->n_allowed;
  char f[1024];
  if (n_src) {
    if (!(out->allowed_batch_sizes = calloc((size_t)n_src + 1, sizeof(int64_t))))
      return fail(msg, cap, path, at, "out of memory");
    if (over->given & SRV_BP_ALLOWED) {
      memcpy(out->allowed_batch_sizes, src, (size_t)n_src * sizeof(int64_t));
      out->n_allowed = n_src;
    } else {
      /* Only max_batch_size changed: the inherited sizes below it stay, capped by the new
       * maximum, so the last allowed size still equals max_batch_size. */
      for (int i = 0; i < n_src && src[i] < out->max_batch_size; i++)
        out->allowed_batch_sizes[out->n_allowed++] = src[i];
      out->allowed_batch_sizes[out->n_allowed++] = out->max_batch_size;
    }
  }
  if (out->n_allowed && out->allowed_batch_sizes[out->n_allowed - 1] != out->max_batch_size) {
    snprintf(f, sizeof f, "%s%sallowed_batch_sizes", at, *at ? "." : "");
    fail(msg, cap, path, f, "the last size must equal max_batch_size (%lld, from %s)",
         (long long)out->max_batch_size,
         over->given & SRV_BP_MAX_BATCH_SIZE ? "this entry" : "the batching parameters file");
    srv_batching_params_free(out);
    return -1;
  }
  if (out->max_batch_size * out->max_enqueued_batches > (INT64_C(1) << 24)) {
    snprintf(f, sizeof f, "%s%smax_enqueued_batches", at, *at ? "." : "");
    fail(msg, cap, path, f,
         "max_enqueued_batches x max_batch_size must be at most 16777216 (with the batching "
         "parameters file's values for the fields not given here)");
    srv_batching_params_free(out);
    return -1;
  }
  return 0;
}

int srv_config_load_batching(const char *path, srv_batching_params *out, char *msg, size_t cap) {
  size_t len;
  memset(out, 0, sizeof *out);
  char *text = read_file(path, &len, msg, cap);
  if (!text)
    return -1;
  int rc = srv_config_parse_batching(text, len, path, out, msg, cap);
  free(text);
  return rc;
}

void srv_batching_params_free(srv_batching_params *b) {
  free(b->allowed_batch_sizes);
  memset(b, 0, sizeof *b);
}
