/*
 * cli.c — the offline subcommands: `orchard inspect MODEL` (JSON facts about a model) and
 * `orchard run MODEL --input NAME=FILE.npy ... --output-dir DIR [--threads T]` (one inference to
 * .npy files; T intra-op threads, default 1 so that parallel conformance runs do not contend).
 * Errors print one line naming the file, node, weight or input, and exit non-zero.
 */
#include "cli.h"
#include "npy.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static json_t *io_json(const rt_io_info *io) {
  json_t *shape = io->rank < 0 ? json_null() : json_array(); /* null: rank unknown */
  for (int d = 0; d < io->rank; d++)
    json_array_append_new(shape, json_integer(io->dims[d]));
  return json_pack("{s:s, s:s, s:o}", "name", io->name, "dtype", rt_dtype_name(io->dtype),
                   "shape", shape);
}

/* The shape inspect and bench use for unknown dims: batch 1, spatial 256, else 1. */
void srv_cli_default_shape(const rt_io_info *io, rt_tensor *t) {
  memset(t, 0, sizeof *t);
  t->dtype = io->dtype;
  t->rank = io->rank < 0 ? 0 : io->rank;
  for (int d = 0; d < t->rank; d++) {
    int64_t v = io->dims[d];
    if (v < 0)
      v = (d == 0) ? 1 : (t->rank == 4 && (d == 1 || d == 2)) ? 256 : 1;
    t->dims[d] = v;
  }
}

int srv_cli_inspect(int argc, char **argv) {
  if (argc != 1) {
    fprintf(stderr, "usage: orchard inspect MODEL\n");
    return 2;
  }
  rt_error err = {0};
  rt_model *m = NULL;
  rt_model_params p = rt_model_default_params();
  p.allow_unsupported = true;
  if (rt_model_load(argv[0], &p, &m, &err) != RT_OK) {
    fprintf(stderr, "orchard inspect: %s\n", err.msg);
    return 1;
  }
  json_t *o = json_object();
  json_object_set_new(o, "path", json_string(argv[0]));
  json_object_set_new(o, "format", json_string(rt_model_format(m)));
  json_t *ins = json_array(), *outs = json_array();
  for (int i = 0; i < rt_model_num_inputs(m); i++)
    json_array_append_new(ins, io_json(rt_model_input(m, i)));
  for (int i = 0; i < rt_model_num_outputs(m); i++)
    json_array_append_new(outs, io_json(rt_model_output(m, i)));
  json_object_set_new(o, "inputs", ins);
  json_object_set_new(o, "outputs", outs);
  const rt_op_count *h;
  int nh = rt_model_op_histogram(m, &h);
  json_t *hist = json_object(), *unsup = json_array();
  for (int i = 0; i < nh; i++) {
    json_object_set_new(hist, h[i].op, json_integer(h[i].count));
    if (!h[i].supported)
      json_array_append_new(unsup, json_string(h[i].op));
  }
  json_object_set_new(o, "ops", hist);
  json_object_set_new(o, "unsupported_ops", unsup);
  json_object_set_new(o, "nodes_after_folding", json_integer(rt_model_num_nodes(m)));
  json_object_set_new(o, "parameters", json_integer(rt_model_param_count(m)));
  json_object_set_new(o, "weight_bytes", json_integer((json_int_t)rt_model_weight_bytes(m)));
  json_object_set_new(o, "packed_weight_bytes",
                      json_integer((json_int_t)rt_model_packed_weight_bytes(m)));

  int n_in = rt_model_num_inputs(m);
  rt_tensor *shapes = calloc((size_t)n_in + 1, sizeof *shapes);
  json_t *at = json_array();
  for (int i = 0; i < n_in; i++) {
    srv_cli_default_shape(rt_model_input(m, i), &shapes[i]);
    json_t *s = json_array();
    for (int d = 0; d < shapes[i].rank; d++)
      json_array_append_new(s, json_integer(shapes[i].dims[d]));
    json_array_append_new(at, s);
  }
  double flops = 0;
  rt_session *s = NULL;
  size_t arena = 0;
  if (json_array_size(unsup) == 0 && rt_model_flops(m, shapes, n_in, &flops, &err) == RT_OK &&
      rt_session_create(m, &s, &err) == RT_OK &&
      rt_session_plan(s, shapes, n_in, &arena, &err) == RT_OK) {
    json_object_set_new(o, "flops_per_example", json_real(flops));
    json_object_set_new(o, "arena_bytes", json_integer((json_int_t)arena));
  } else {
    json_object_set_new(o, "flops_per_example", json_null());
    json_object_set_new(o, "arena_bytes", json_null());
    if (json_array_size(unsup) == 0)
      json_object_set_new(o, "plan_error", json_string(err.msg));
  }
  json_object_set_new(o, "flops_at_shapes", at);
  rt_session_destroy(s);
  free(shapes);
  char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  puts(txt);
  free(txt);
  int rc = 0;
  if (json_array_size(unsup) > 0) {
    /* The JSON above lists every op we lack; the exit status and one line say which node. */
    rt_model *strict = NULL;
    if (rt_model_load(argv[0], NULL, &strict, &err) != RT_OK)
      fprintf(stderr, "orchard inspect: %s\n", err.msg);
    rt_model_destroy(strict);
    rc = 1;
  }
  json_decref(o);
  rt_model_destroy(m);
  return rc;
}

static void sanitize(char *dst, size_t cap, const char *name) {
  size_t o = 0;
  for (const char *c = name; *c && o + 1 < cap; c++)
    dst[o++] = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')
                   ? *c
                   : '_';
  dst[o] = 0;
}

int srv_cli_run(int argc, char **argv) {
  const char *model_path = NULL, *out_dir = NULL;
  const char **in_specs = calloc((size_t)argc + 1, sizeof *in_specs);
  int n_specs = 0, rc = 1, repeat = 1, threads = 1;
  rt_model *m = NULL;
  rt_session *s = NULL;
  rt_tensor *ins = NULL, *outs = NULL;
  rt_error err = {0};
  json_t *list = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--input") && i + 1 < argc)
      in_specs[n_specs++] = argv[++i];
    else if (!strncmp(a, "--input=", 8))
      in_specs[n_specs++] = a + 8;
    else if (!strcmp(a, "--output-dir") && i + 1 < argc)
      out_dir = argv[++i];
    else if (!strncmp(a, "--output-dir=", 13))
      out_dir = a + 13;
    else if (!strcmp(a, "--repeat") && i + 1 < argc)
      repeat = atoi(argv[++i]);
    else if ((!strcmp(a, "--threads") && i + 1 < argc) || !strncmp(a, "--threads=", 10)) {
      const char *v = a[9] == '=' ? a + 10 : argv[++i];
      char *end;
      long t = strtol(v, &end, 10);
      if (!*v || *end || t < 1 || t > 1024) {
        fprintf(stderr, "orchard run: --threads %s: want an integer in [1, 1024]\n", v);
        rc = 2;
        goto done;
      }
      threads = (int)t;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "orchard run: unknown flag '%s'\n", a);
      rc = 2;
      goto done;
    } else if (!model_path)
      model_path = a;
    else {
      fprintf(stderr, "orchard run: unexpected argument '%s'\n", a);
      rc = 2;
      goto done;
    }
  }
  if (!model_path || !out_dir || repeat < 1) {
    fprintf(stderr, "usage: orchard run MODEL --input NAME=FILE.npy ... --output-dir DIR "
                    "[--threads T]\n");
    rc = 2;
    goto done;
  }
  if (rt_model_load(model_path, NULL, &m, &err) != RT_OK) {
    fprintf(stderr, "orchard run: %s\n", err.msg);
    goto done;
  }
  int n_in = rt_model_num_inputs(m), n_out = rt_model_num_outputs(m);
  ins = calloc((size_t)n_in + 1, sizeof *ins);
  outs = calloc((size_t)n_out + 1, sizeof *outs);
  for (int i = 0; i < n_specs; i++) {
    const char *spec = in_specs[i], *eq = strchr(spec, '=');
    int idx;
    const char *file;
    char name[512];
    if (!eq) {
      if (n_in != 1 || n_specs != 1) {
        fprintf(stderr, "orchard run: --input %s: the model has %d inputs; use NAME=FILE.npy\n",
                spec, n_in);
        goto done;
      }
      idx = 0;
      file = spec;
    } else {
      snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
      idx = rt_model_find_input(m, name);
      file = eq + 1;
      if (idx < 0) {
        fprintf(stderr, "orchard run: --input %s: the model has no input named '%s'\n", spec,
                name);
        goto done;
      }
    }
    if (ins[idx].data) {
      fprintf(stderr, "orchard run: input '%s' given twice\n", rt_model_input(m, idx)->name);
      goto done;
    }
    if (srv_npy_read(file, rt_model_input(m, idx)->dtype, &ins[idx], &err) != RT_OK) {
      fprintf(stderr, "orchard run: input '%s': %s\n", rt_model_input(m, idx)->name, err.msg);
      goto done;
    }
  }
  for (int i = 0; i < n_in; i++)
    if (!ins[i].data) {
      fprintf(stderr, "orchard run: missing --input for '%s'\n", rt_model_input(m, i)->name);
      goto done;
    }
  if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "orchard run: %s: %s\n", out_dir, strerror(errno));
    goto done;
  }
  rt_session_params sp = rt_session_default_params();
  sp.intra_op_threads = threads;
  if (rt_session_create_ex(m, &sp, &s, &err) != RT_OK) {
    fprintf(stderr, "orchard run: %s\n", err.msg);
    goto done;
  }
  struct timespec t0, t1;
  double best_ms = 0;
  for (int r = 0; r < repeat; r++) {
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (rt_session_run(s, ins, n_in, outs, &err) != RT_OK) {
      fprintf(stderr, "orchard run: %s\n", err.msg);
      goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (r == 0 || ms < best_ms)
      best_ms = ms;
  }
  list = json_array();
  for (int i = 0; i < n_out; i++) {
    char fname[300], path[4096], safe[200];
    sanitize(safe, sizeof safe, rt_model_output(m, i)->name);
    snprintf(fname, sizeof fname, "%d_%s.npy", i, safe);
    snprintf(path, sizeof path, "%s/%s", out_dir, fname);
    if (srv_npy_write(path, &outs[i], &err) != RT_OK) {
      fprintf(stderr, "orchard run: %s\n", err.msg);
      goto done;
    }
    json_t *shape = json_array();
    for (int d = 0; d < outs[i].rank; d++)
      json_array_append_new(shape, json_integer(outs[i].dims[d]));
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "name",
                                          rt_model_output(m, i)->name, "file", fname, "dtype",
                                          rt_dtype_name(outs[i].dtype), "shape", shape));
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/outputs.json", out_dir);
  if (json_dump_file(list, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
    fprintf(stderr, "orchard run: %s: cannot write\n", path);
    goto done;
  }
  fprintf(stderr, "orchard run: %d outputs written to %s (%.2f ms)\n", n_out, out_dir, best_ms);
  rc = 0;
done:
  json_decref(list);
  if (ins)
    for (int i = 0; m && i < rt_model_num_inputs(m); i++)
      free(ins[i].data);
  free(ins);
  free(outs);
  free(in_specs);
  rt_session_destroy(s);
  rt_model_destroy(m);
  return rc;
}
