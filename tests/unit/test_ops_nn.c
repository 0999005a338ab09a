/*
 * test_ops_nn.c — the nn op family (ops_nn.c) called directly: convolutions, depthwise,
 * transposed conv, pooling and matmuls, fused epilogues, NCHW, explicit padding, empty tensors
 * and the errors a bad model or request must produce.
 *
 * Expected values marked "TF.js" were produced with TF.js 4.22 (cpu backend) in node by a small
 * script: inputs come from fill() below (the same formula in JS: Math.fround of
 * ((i*7919 + seed*104729) % 1000 - 500) / 997 * scale), each case is the tf call named in its
 * comment, and outputs were printed with toPrecision(9) (which round-trips float32). MatMul,
 * AvgPool and Conv2DBackpropInput sum in TF.js's order in double, and convolutions sum in its
 * order with one rounding per product (FMA), so all are compared bit for bit (convolutions to
 * 2e-6 on a CPU without FMA, see conv_tol). Larger shapes (tiling, 1x1 fast path, NCHW,
 * dilation) are checked against a naive double-precision convolution in this file, and every
 * path of the blocked/vectorized conv and depthwise kernels bit for bit against references
 * that add one fmaf per product in TF.js's loop order (exact_ref).
 *
 * pack(): inputs made Const as folding leaves them (tn_exec_ex's pack_mask) are packed once;
 * packed and unpacked runs must give the same bytes, and g->packed_bytes counts the layouts.
 * With oneDNN in the build, ORCHARD_KERNELS=dnnl must take the oneDNN path (plan() state).
 */
#include "ir.h"
#include "ops.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- harness: one node in a throwaway graph, run through prepare/shape/run ---- */

/* These tests pin the portable kernels' bits: where oneDNN is the default (AVX-512 builds) the
 * environment chooses the portable path, and the oneDNN tests below ask for dnnl by name. */
static void portable_kernels(void) { setenv("ORCHARD_KERNELS", "portable", 1); }
TestSuite(nn_conv, .init = portable_kernels);
TestSuite(nn_depthwise, .init = portable_kernels);
TestSuite(nn_pack, .init = portable_kernels);
TestSuite(nn_deconv, .init = portable_kernels);
TestSuite(nn_empty, .init = portable_kernels);
TestSuite(nn_errors, .init = portable_kernels);
TestSuite(nn_flops, .init = portable_kernels);
TestSuite(nn_fused_conv, .init = portable_kernels);
TestSuite(nn_matmul, .init = portable_kernels);
TestSuite(nn_pool, .init = portable_kernels);

typedef struct tnode {
  rt_graph *g;
  int id;
  rt_tensor out;
  rt_error err;
  size_t scratch_bytes;
  bool planned; /* the op's plan() hook made per-plan state (the oneDNN path) */
} tnode;

static tnode tn(const char *op, int n_inputs) {
  tnode t = {0};
  t.g = rt__graph_create("graph-model", "test.json");
  cr_assert(t.g);
  t.id = rt__graph_add_node(t.g, "conv_node", op);
  cr_assert(t.id >= 0);
  rt_ref refs[8] = {{0}};
  cr_assert_eq(rt__node_set_inputs(t.g, t.id, refs, n_inputs), RT_OK);
  return t;
}

static void tn_free(tnode *t) {
  free(t->out.data);
  rt__graph_destroy(t->g);
}

static void a_ints(tnode *t, const char *name, int n, const int64_t *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->id, name, n ? RT_ATTR_LIST_INT : RT_ATTR_EMPTY_LIST);
  cr_assert(a);
  a->n = n;
  a->ints = rt__pool_alloc(t->g->pool, (size_t)(n + 1) * sizeof *a->ints);
  if (n)
    memcpy(a->ints, v, (size_t)n * sizeof *v);
}
#define A_INTS(t, name, ...)                                                                       \
  a_ints(t, name, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                       \
         (int64_t[]){__VA_ARGS__})

static void a_str(tnode *t, const char *name, const char *s) {
  rt_attr *a = rt__node_add_attr(t->g, t->id, name, RT_ATTR_STRING);
  cr_assert(a);
  a->s = rt__pool_strdup(t->g->pool, s);
  a->s_len = strlen(s);
}

static void a_strs(tnode *t, const char *name, int n, const char *const *v) {
  rt_attr *a = rt__node_add_attr(t->g, t->id, name, RT_ATTR_LIST_STRING);
  cr_assert(a);
  a->n = n;
  a->strs = rt__pool_alloc(t->g->pool, (size_t)(n + 1) * sizeof *a->strs);
  a->str_lens = rt__pool_alloc(t->g->pool, (size_t)(n + 1) * sizeof *a->str_lens);
  for (int i = 0; i < n; i++) {
    a->strs[i] = rt__pool_strdup(t->g->pool, v[i]);
    a->str_lens[i] = strlen(v[i]);
  }
}
#define A_STRS(t, name, ...)                                                                       \
  a_strs(t, name, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),             \
         (const char *[]){__VA_ARGS__})

static void a_bool(tnode *t, const char *name, bool b) {
  rt_attr *a = rt__node_add_attr(t->g, t->id, name, RT_ATTR_BOOL);
  cr_assert(a);
  a->b = b;
}

static void a_float(tnode *t, const char *name, float f) {
  rt_attr *a = rt__node_add_attr(t->g, t->id, name, RT_ATTR_FLOAT);
  cr_assert(a);
  a->f = f;
}

static void a_int(tnode *t, const char *name, int64_t i) {
  rt_attr *a = rt__node_add_attr(t->g, t->id, name, RT_ATTR_INT);
  cr_assert(a);
  a->i = i;
}

/* Inputs i whose bit is set in pack_mask become Const nodes (their data copied into the graph
 * pool, in[i].data pointed at the copy), as folding leaves a model's weights. */
static void tn_make_consts(tnode *t, rt_tensor *in, int n_in, unsigned pack_mask) {
  for (int i = 0; i < n_in; i++) {
    if (!(pack_mask & (1u << i)))
      continue;
    char name[32];
    snprintf(name, sizeof name, "const_%d", i);
    int c = rt__graph_add_node(t->g, name, "Const");
    cr_assert(c >= 0);
    size_t bytes = rt_tensor_nbytes(&in[i]);
    void *copy = rt__pool_alloc(t->g->pool, bytes + 1);
    cr_assert(copy);
    if (bytes)
      memcpy(copy, in[i].data, bytes);
    in[i].data = copy;
    t->g->nodes[c].value = in[i];
    t->g->nodes[t->id].inputs[i] = (rt_ref){c, 0};
  }
}

/* prepare (+ pack of the inputs in pack_mask) + shape (+ run when `run`) like the executor,
 * on the thread pool tp (may be NULL); the output is malloc'd into t->out. */
static rt_status tn_exec_ex(tnode *t, const rt_tensor *in_, int n_in, bool run, unsigned pack_mask,
                            rt_threadpool *tp) {
  rt_tensor in[8];
  cr_assert(n_in <= 8);
  memcpy(in, in_, (size_t)n_in * sizeof *in);
  const rt_op_def *op = rt__op_find(t->g->nodes[t->id].op_name);
  cr_assert(op, "op %s not in the table", t->g->nodes[t->id].op_name);
  cr_assert(n_in >= op->min_inputs && (op->max_inputs < 0 || n_in <= op->max_inputs));
  t->g->nodes[t->id].op = op;
  memset(&t->err, 0, sizeof t->err);
  rt_status st = RT_OK;
  if (op->prepare && (st = op->prepare(t->g, &t->g->nodes[t->id], &t->err)) != RT_OK)
    return st;
  if (pack_mask) {
    tn_make_consts(t, in, n_in, pack_mask);
    if (op->pack && (st = op->pack(t->g, &t->g->nodes[t->id], &t->err)) != RT_OK)
      return st;
  }
  rt_node *n = &t->g->nodes[t->id];
  rt_kctx k = {.node = n,
               .params = n->params,
               .n_in = n_in,
               .in = in,
               .n_out = 1,
               .out = &t->out,
               .err = &t->err,
               .tp = tp,
               .graph = t->g};
  if ((st = op->shape(&k)) != RT_OK || !run)
    return st;
  if (op->plan && (st = op->plan(&k)) != RT_OK)
    return st;
  t->planned = k.state != NULL;
  t->scratch_bytes = k.scratch_bytes;
  t->out.data = malloc(rt_tensor_nbytes(&t->out) + 4);
  /* Poison the output so a kernel that skips an element is caught. */
  memset(t->out.data, 0x7f, rt_tensor_nbytes(&t->out));
  k.scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
  if (k.scratch_bytes)
    memset(k.scratch, 0x5a, k.scratch_bytes);
  st = op->run(&k);
  free(k.scratch);
  if (k.state && op->unplan)
    op->unplan(k.state);
  return st;
}

static rt_status tn_exec(tnode *t, const rt_tensor *in, int n_in, bool run) {
  return tn_exec_ex(t, in, n_in, run, 0, NULL);
}

static rt_status tn_run(tnode *t, const rt_tensor *in, int n_in) {
  return tn_exec(t, in, n_in, true);
}

static rt_tensor tt(rt_dtype dt, const void *data, int rank, ...) {
  rt_tensor t = {.dtype = dt, .rank = rank, .data = (void *)data};
  va_list ap;
  va_start(ap, rank);
  for (int i = 0; i < rank; i++)
    t.dims[i] = va_arg(ap, int);
  va_end(ap);
  return t;
}
#define TF(data, rank, ...) tt(RT_DT_F32, data, rank, __VA_ARGS__)

/* Deterministic inputs; the TF.js script uses the same formula. */
static float g_buf[8][65536];
static float *fill(int slot, int64_t n, int seed, float scale) {
  cr_assert(n <= 65536);
  for (int64_t i = 0; i < n; i++)
    g_buf[slot][i] =
        (float)((double)((i * 7919 + seed * 104729) % 1000 - 500) / 997.0 * (double)scale);
  return g_buf[slot];
}

static void expect_shape(const rt_tensor *t, int rank, ...) {
  va_list ap;
  va_start(ap, rank);
  cr_assert_eq(t->rank, rank, "rank %d, want %d", t->rank, rank);
  for (int i = 0; i < rank; i++) {
    int64_t d = va_arg(ap, int);
    cr_assert_eq(t->dims[i], d, "dim %d is %lld, want %lld", i, (long long)t->dims[i],
                 (long long)d);
  }
  va_end(ap);
}

static void expect_close(const tnode *t, const float *want, int64_t n, float rtol) {
  const float *got = t->out.data;
  cr_assert_eq(rt_tensor_numel(&t->out), n, "numel %lld, want %lld",
               (long long)rt_tensor_numel(&t->out), (long long)n);
  for (int64_t i = 0; i < n; i++) {
    if (isnan(want[i])) {
      cr_assert(isnan(got[i]), "[%lld]: got %.9g, want NaN", (long long)i, got[i]);
      continue;
    }
    float tol = rtol * (fabsf(want[i]) > 1.0f ? fabsf(want[i]) : 1.0f);
    cr_assert(fabsf(got[i] - want[i]) <= tol, "[%lld]: got %.9g, want %.9g", (long long)i, got[i],
              want[i]);
  }
}

static void expect_exact(const tnode *t, const float *want, int64_t n) {
  expect_close(t, want, n, 0.0f);
}

/* Conv and depthwise sum in TF.js's order with one rounding per product (fmaf) wherever the
 * kernels can use FMA (the same test as ops_nn.c's nn_use_fma); then they give TF.js's bits. */
static float conv_tol(void) {
#if defined(FP_FAST_FMAF)
  return 0.0f;
#elif defined(__GNUC__) && defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 0.0f : 2e-6f;
#else
  return 2e-6f;
#endif
}
#define CONV_TOL conv_tol()

static void expect_err(const tnode *t, rt_status got, rt_status want, const char *needle) {
  cr_assert_eq(got, want, "status %s, want %s (%s)", rt_status_str(got), rt_status_str(want),
               t->err.msg);
  cr_assert(strstr(t->err.msg, "conv_node"), "message does not name the node: %s", t->err.msg);
  if (needle)
    cr_assert(strstr(t->err.msg, needle), "message lacks '%s': %s", needle, t->err.msg);
}

/* ---- TF.js reference values (see the header comment) ---- */
static const float EXP_CONV_SAME_S2[27] = {
    /* shape [1,3,3,3] */
    -0.159958318f,  0.196960002f,   0.0649491176f, -0.0147041008f, -0.0706733987f, -0.0310701560f,
    0.182944015f,   -0.121169925f,  0.0636453182f, 0.276315421f,   0.536021292f,   0.548244596f,
    -0.225340009f,  0.630305231f,   0.434652030f,  -0.237901285f,  0.0362833738f,  0.0348165818f,
    -0.0101407403f, -0.0358749069f, 0.112433590f,  0.864032388f,   0.242635623f,   0.295277029f,
    0.312093765f,   -0.293184489f,  -0.398467243f,
};
static const float EXP_CONV_SAME_ODDPAD[24] = {
    /* shape [1,3,4,2] */
    -0.132063210f, 0.103111744f,  0.187386632f,   0.0874820724f,  -0.0484905019f, -0.157521710f,
    -0.181913838f, -0.117619656f, 0.00752509432f, 0.0158368740f,  -0.0351948440f, -0.198986128f,
    -0.112119719f, 0.0409151278f, 0.0815445408f,  0.195383564f,   -0.161736965f,  -0.351115525f,
    0.0286194663f, 0.0504583009f, -0.173374683f,  -0.0218066480f, -0.0355369002f, -0.0842668489f,
};
static const float EXP_MAXPOOL_ODDPAD[24] = {
    /* shape [1,3,4,2] */
    0.474423259f, 0.393179536f, 0.149448350f, 0.0682046115f, 0.396188557f,   0.477432311f,
    0.368104309f, 0.421263784f, 0.205616847f, 0.124373123f,  0.452357084f,   0.371113330f,
    0.424272805f, 0.477432311f, 0.233701110f, 0.152457371f,  -0.0631895661f, -0.144433305f,
    0.480441332f, 0.399197578f, 0.289869606f, 0.208625883f,  -0.0351053141f, -0.116349049f,
};
static const float EXP_AVGPOOL_ODDPAD[24] = {
    /* shape [1,3,4,2] */
    0.258776337f,  0.177532598f, -0.0661985949f, -0.147442326f,  -0.224005342f, 0.0290872660f,
    0.0337679684f, 0.286860585f, -0.0100300899f, -0.0912738219f, -0.167836845f, -0.249080569f,
    0.175860912f,  0.261785358f, 0.0992978960f,  0.0180541612f,  -0.211634904f, -0.292878628f,
    0.215646952f,  0.134403199f, 0.141424268f,   0.0601805449f,  -0.102306925f, -0.183550656f,
};
static const float EXP_CONV_DIL2[60] = {
    /* shape [1,6,5,2] */
    -0.0882849172f, -0.0636754930f,  -0.213330045f,  -0.217404455f,  -0.288214684f,  -0.294326305f,
    -0.197032407f,  -0.201106817f,   -0.0443658009f, -0.0771240667f, -0.0118469847f, 0.0373718925f,
    0.0963532701f,  0.169692636f,    -0.411622018f,  -0.423845232f,  -0.197004259f,  -0.123664849f,
    0.0561604723f,  -0.00935604889f, 0.0120562250f,  0.0189012457f,  -0.0427199453f, -0.0117544290f,
    0.126602471f,   0.173050761f,    -0.166581973f,  -0.135616481f,  -0.154863805f,  -0.0997777656f,
    0.198935822f,   0.163406968f,    0.377557963f,   0.447637826f,   0.254367918f,   0.196511298f,
    0.0972385481f,  0.167318404f,    -0.124441534f,  -0.111729376f,  -0.0890293717f, -0.0854438990f,
    0.168062851f,   0.114280671f,    0.211108744f,   0.293411821f,   0.383191705f,   0.329409510f,
    0.139379025f,   0.191205516f,    -0.0297582820f, -0.109453738f,  0.0686794594f,  0.0417883545f,
    0.447714239f,   0.407377601f,    0.176243871f,   0.149352774f,   0.0634642094f,  0.0893774554f,
};
static const float EXP_CONV_NCHW[12] = {
    /* shape [1,3,2,2] */
    0.256765246f, -0.187798128f, 0.237047151f,  -0.179347485f, 0.204123929f,  -0.163514599f,
    0.166152447f, -0.173317373f, -0.124168880f, 0.265191764f,  -0.478177726f, -0.0606483109f,
};
static const float EXP_CONV_EXPLICIT[24] = {
    /* shape [1,3,4,2] */
    0.0708605275f,  0.142162696f,   -0.0721703768f, -0.0691553131f, -0.0522248782f, -0.117496923f,
    0.00289735803f, -0.0264383908f, 0.146207929f,   0.121272549f,   0.117198125f,   0.118664928f,
    0.0881883353f,  0.116057299f,   0.00970614981f, 0.0302411765f,  -0.200207427f,  -0.133468613f,
    -0.0700899065f, -0.0716381818f, 0.223004013f,   0.153168634f,   0.129592374f,   0.0979749635f,
};
static const float EXP_FUSED_RELU[36] = {
    /* shape [1,3,3,4] */
    0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f,
    4.63901806f, 2.10582423f, 0.00000000f, 3.55557132f, 4.53703022f, 2.58491373f,
    2.28730583f, 2.74053264f, 2.43219614f, 0.00000000f, 0.00000000f, 7.58642578f,
    0.00000000f, 2.19671655f, 1.64501071f, 0.00000000f, 3.19738865f, 3.59279656f,
    3.54768109f, 0.00000000f, 0.00000000f, 0.00000000f, 3.70913672f, 0.00000000f,
    0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f,
};
static const float EXP_FUSED_RELU6[36] = {
    /* shape [1,3,3,4] */
    0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f,
    4.63901806f, 2.10582423f, 0.00000000f, 3.55557132f, 4.53703022f, 2.58491373f,
    2.28730583f, 2.74053264f, 2.43219614f, 0.00000000f, 0.00000000f, 6.00000000f,
    0.00000000f, 2.19671655f, 1.64501071f, 0.00000000f, 3.19738865f, 3.59279656f,
    3.54768109f, 0.00000000f, 0.00000000f, 0.00000000f, 3.70913672f, 0.00000000f,
    0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f, 0.00000000f,
};
static const float EXP_FUSED_ELU[36] = {
    /* shape [1,3,3,4] */
    -0.714312017f, -0.394760013f, -0.974977732f, -0.435658276f,  -0.905187607f, -0.989559770f,
    4.63901806f,   2.10582423f,   -0.674054563f, 3.55557132f,    4.53703022f,   2.58491373f,
    2.28730583f,   2.74053264f,   2.43219614f,   -0.312787086f,  -0.890801132f, 7.58642578f,
    -0.731150746f, 2.19671655f,   1.64501071f,   -0.123303294f,  3.19738865f,   3.59279656f,
    3.54768109f,   -0.905430377f, -0.201768726f, -0.767873645f,  3.70913672f,   -0.692284167f,
    -0.752243876f, -0.870832503f, -0.988697529f, -0.0162071269f, -0.299343914f, -0.500993609f,
};
static const float EXP_FUSED_SIGMOID[36] = {
    /* shape [1,3,3,4] */
    0.222206324f, 0.377040178f,  0.0244114138f, 0.360753477f, 0.0866015106f, 0.0103323450f,
    0.990425348f, 0.891467988f,  0.245821148f,  0.972228229f, 0.989408255f,  0.929884315f,
    0.907820225f, 0.939376414f,  0.919249713f,  0.407306582f, 0.0984483883f, 0.999492943f,
    0.211884305f, 0.899954259f,  0.838215590f,  0.467148840f, 0.960735917f,  0.973215878f,
    0.972014427f, 0.0863988921f, 0.443897992f,  0.188394904f, 0.976087153f,  0.235307887f,
    0.198561341f, 0.114391811f,  0.0111761605f, 0.495915115f, 0.411991626f,  0.332891434f,
};
static const float EXP_FUSED_LEAKYRELU[36] = {
    /* shape [1,3,3,4] */
    -0.250570983f, -0.100426041f, -0.737598062f,  -0.114419065f,   -0.471170992f,  -0.912418008f,
    4.63901806f,   2.10582423f,   -0.224205062f,  3.55557132f,     4.53703022f,    2.58491373f,
    2.28730583f,   2.74053264f,   2.43219614f,    -0.0750222206f,  -0.442916960f,  7.58642578f,
    -0.262720883f, 2.19671655f,   1.64501071f,    -0.0263188370f,  3.19738865f,    3.59279656f,
    3.54768109f,   -0.471683830f, -0.0450713821f, -0.292094707f,   3.70913672f,    -0.235715702f,
    -0.279062092f, -0.409329027f, -0.896546662f,  -0.00326797972f, -0.0711476281f, -0.139027268f,
};
static const float EXP_FUSED_PRELU[36] = {
    /* shape [1,3,3,4] */
    -0.311642975f, -0.0841080695f, -0.318121523f,  -0.00286908378f, -0.586010098f,  -0.764161527f,
    4.63901806f,   2.10582423f,    -0.278850853f,  3.55557132f,     4.53703022f,    2.58491373f,
    2.28730583f,   2.74053264f,    2.43219614f,    -0.00188119907f, -0.550869644f,  7.58642578f,
    -0.113309912f, 2.19671655f,    1.64501071f,    -0.0220423546f,  3.19738865f,    3.59279656f,
    3.54768109f,   -0.395041138f,  -0.0194390118f, -0.00732434029f, 3.70913672f,    -0.197414860f,
    -0.120357767f, -0.0102640176f, -1.11506307f,   -0.00273697381f, -0.0306855366f, -0.00348614017f,
};
static const float EXP_FUSED_TANH[36] = {
    /* shape [1,3,3,4] */
    -0.849082291f, -0.463790804f, -0.998748541f, -0.516896427f,  -0.982181370f, -0.999782026f,
    0.999813080f,  0.970789135f,  -0.807925284f, 0.998369396f,   0.999770820f,  0.988693178f,
    0.979589820f,  0.991704762f,  0.984685123f,  -0.358454227f,  -0.976432264f, 0.999999464f,
    -0.865184605f, 0.975585282f,  0.928169787f,  -0.130839795f,  0.996665061f,  0.998486280f,
    0.998343468f,  -0.982271731f, -0.221617877f, -0.897744536f,  0.998800337f,  -0.827002823f,
    -0.884333789f, -0.967179120f, -0.999744534f, -0.0163384434f, -0.341454566f, -0.601271570f,
};
static const float EXP_DW_S2_M2[36] = {
    /* shape [1,3,3,4] */
    0.0486675650f,  0.0516011417f,  0.0219394378f,  0.0512751900f, -0.158103198f, -0.116381243f,
    -0.0397823453f, -0.226060331f,  -0.131258368f,  -0.132888138f, 0.167917997f,  0.523673296f,
    0.0731381774f,  0.0196819156f,  0.201841235f,   0.106500044f,  -0.117083445f, -0.141285434f,
    -0.102904506f,  -0.0294725765f, -0.235116586f,  -0.132441461f, 0.235563248f,  -0.317323059f,
    -0.296874553f,  -0.235269517f,  -0.0522651188f, -0.127234250f, 0.281184554f,  0.207193300f,
    -0.248810619f,  0.438122809f,   -0.0873151049f, -0.111761570f, -0.102308929f, 0.0505508482f,
};
static const float EXP_DW_FUSED_RELU6[64] = {
    /* shape [1,4,4,4] */
    0.00000000f,  0.0858813450f, 6.00000000f,  0.00000000f,  0.00000000f,  0.00000000f,
    0.00000000f,  6.00000000f,   0.00000000f,  0.00000000f,  0.00000000f,  0.00000000f,
    0.00000000f,  0.00000000f,   1.00847578f,  0.00000000f,  0.00000000f,  0.00000000f,
    0.00000000f,  0.00000000f,   0.166353226f, 0.961269617f, 6.00000000f,  4.51377535f,
    0.00000000f,  0.00000000f,   4.42941046f,  0.00000000f,  0.00000000f,  0.00000000f,
    1.03735280f,  0.126885280f,  0.00000000f,  0.00000000f,  0.00000000f,  3.39413953f,
    0.724770010f, 1.19112694f,   0.00000000f,  4.18308973f,  0.345264733f, 0.00000000f,
    0.00000000f,  0.00000000f,   0.00000000f,  0.00000000f,  0.958930969f, 0.00000000f,
    0.00000000f,  0.00000000f,   5.32727766f,  5.19909716f,  0.00000000f,  0.00000000f,
    0.00000000f,  0.00000000f,   4.83660364f,  3.65233588f,  0.00000000f,  0.00000000f,
    1.65066910f,  1.46772814f,   1.62117040f,  2.07188177f,
};
static const float EXP_MAXPOOL_SAME[18] = {
    /* shape [1,3,3,2] */
    0.464393169f, 0.383149445f, 0.464393169f,  0.383149445f, 0.139418259f, 0.0581745245f,
    0.464393169f, 0.383149445f, 0.492477447f,  0.439317942f, 0.358074218f, 0.439317942f,
    0.195586756f, 0.114343032f, 0.0330992974f, 0.439317942f, 0.358074218f, 0.467402220f,
};
static const float EXP_AVGPOOL_SAME[18] = {
    /* shape [1,3,3,2] */
    0.199598789f,   0.118355066f,   0.206619859f,  0.125376135f,  -0.0371113345f, -0.118355066f,
    -0.0996322259f, -0.180875957f,  0.0466956422f, 0.0768973604f, 0.0815780684f,  0.167502508f,
    0.0190571696f,  -0.0621865615f, -0.224674031f, -0.138749585f, -0.217652962f,  0.202607825f,
};
static const float EXP_AVGPOOL_VALID[4] = {
    /* shape [1,2,2,1] */
    -0.0180541668f,
    0.0678702742f,
    -0.166499496f,
    -0.247743234f,
};
static const float EXP_DECONV_SAME[50] = {
    /* shape [1,5,5,2] */
    -0.106904462f,  0.101329066f,    0.0736311302f, 0.0459251367f,   0.0376555957f,  -0.0272593107f,
    0.0367984585f,  0.114701174f,    0.182215646f,  -0.155847684f,   -0.158177629f,  -0.155726954f,
    -0.0976087749f, 0.000828976685f, 0.458907306f,  -0.0849388689f,  -0.113930561f,  -0.130228192f,
    0.151453361f,   0.0673374310f,   0.326775700f,  -0.284436047f,   -0.197831199f,  -0.0716874748f,
    -0.0155813517f, -0.0568908341f,  -0.120982818f, -0.215183169f,   -0.276450217f,  0.252142578f,
    0.277597070f,   -0.189839318f,   -0.147580147f, -0.0673957616f,  -0.0550075546f, -0.0627137199f,
    -0.0512269065f, -0.0857779011f,  -0.306124002f, 0.145900086f,    -0.131890148f,  0.123554215f,
    0.0799972638f,  0.0340379216f,   0.0126699051f, -0.00503415940f, 0.0431645997f,  0.102813959f,
    0.157229960f,   -0.133622527f,
};
static const float EXP_DECONV_VALID[50] = {
    /* shape [1,5,5,2] */
    0.121858053f,   -0.0129234241f, -0.147704899f,  -0.282486379f,  0.0333900452f,  0.273367763f,
    -0.0885444656f, -0.170521602f,  -0.0402269922f, 0.171555787f,   0.145153627f,   0.0103721395f,
    -0.124409340f,  -0.259190828f,  0.0708544925f,  0.310832202f,   -0.0743755847f, -0.156352714f,
    -0.0260581095f, 0.185724676f,   0.197410688f,   0.0334564410f,  -0.130497813f,  -0.294452071f,
    -0.322850198f,  0.417617977f,   -0.0304303057f, -0.0887758583f, -0.260802478f,  0.154690757f,
    0.0340037197f,  0.00483094249f, -0.0243418328f, -0.0535146110f, -0.0549632907f, 0.0702790469f,
    0.0256919190f,  0.0493234992f,  -0.0407259911f, -0.0492872782f, 0.0390459262f,  0.00987315085f,
    -0.0192996245f, -0.0484724008f, -0.103300877f,  0.0712367818f,  0.0216074493f,  0.0452390276f,
    0.0688706040f,  -0.0533717535f,
};
static const float EXP_DECONV_EXPLICIT[60] = {
    /* shape [1,5,6,2] */
    -0.128465638f,   0.143839747f,    0.0945806354f, 0.0421022363f,  0.00370821799f,
    0.00286516361f,  0.0329755545f,   0.0861058608f, 0.135882065f,   -0.138109416f,
    -0.0286295209f,  0.130109489f,    -0.168586001f, -0.0767357349f, -0.00134808128f,
    -0.172799245f,   -0.299606949f,   0.251973569f,  0.160147443f,   0.0369372927f,
    -0.0352592394f,  0.133000806f,    0.0369372927f, 0.124944538f,   -0.0484583154f,
    -0.0256959517f,  -0.0844358653f,  -0.203408629f, -0.283484370f,  0.309180290f,
    0.166833505f,    -0.00950695667f, -0.151310503f, 0.168205723f,   0.105228424f,
    0.0344966687f,   0.0729168579f,   0.317586660f,  -0.0575729273f, -0.0360600427f,
    -0.00176658144f, -0.303393632f,   0.160260111f,  0.230014011f,   0.262581110f,
    -0.422366381f,   -0.183269963f,   -0.228251442f, 0.113037206f,   -0.113743432f,
    -0.0179817285f,  0.122503921f,    0.245211065f,  -0.254718006f,  -0.0795868039f,
    0.166507542f,    0.377384901f,    -0.395692587f, -0.305174291f,  -0.279424042f,
};
static const float EXP_MATMUL_TB[12] = {
    /* shape [3,4] */
    -0.121417426f,  -0.243649706f, 0.316204399f,  -0.186306164f, 0.118293703f,  0.00624742825f,
    -0.0474492759f, 0.0588123426f, -0.239575297f, 0.0660054311f, -0.193801060f, -0.0773534253f,
};
static const float EXP_MATMUL_TA[12] = {
    /* shape [3,4] */
    -0.223981872f, -0.197905660f,  -0.171829432f, -0.00893352553f, -0.265948296f,  -0.206869364f,
    -0.147790417f, -0.0333799794f, 0.100532293f,  0.0296375621f,   -0.0412571691f, -0.138308600f,
};
static const float EXP_MATMUL_K100[6] = {
    /* shape [2,3] */
    1.47292435f, 0.425398588f, -0.270017654f, -0.370117396f, 0.613525569f, 1.04385376f,
};
static const float EXP_BMM_BCAST[60] = {
    /* shape [2,3,2,5] */
    0.0508808307f,   0.0644078702f,  -0.0860475078f, -0.0725204721f,   0.0214887336f,
    0.114115678f,    0.233251408f,   -0.137548044f,  -0.0184123088f,   -0.144747183f,
    0.103870295f,    0.00266195531f, -0.0985464007f, -0.199754730f,    0.0521524437f,
    -0.00239031948f, 0.00201004208f, 0.00641040597f, 0.0108107692f,    0.0423738621f,
    -0.0271627288f,  -0.134455517f,  -0.0244464595f, 0.0855626091f,    -0.184706584f,
    -0.131894186f,   0.220543265f,   0.110208258f,   -0.000126765852f, 0.189334303f,
    0.0399513505f,   0.0352250338f,  -0.0771461800f, -0.0818725005f,   0.0502208695f,
    0.103186198f,    0.204068586f,   -0.128646731f,  -0.0277643427f,   -0.116015062f,
    0.122236326f,    0.00277463137f, -0.116687074f,  -0.236148775f,    0.0538425706f,
    0.0159757137f,   0.00212271884f, -0.0117302760f, -0.0255832691f,   0.0440639853f,
    -0.0358387083f,  -0.105047338f,  -0.0132916328f, 0.0784640834f,    -0.153720930f,
    0.293027550f,    -0.240989760f,  -0.288089931f,  -0.335190117f,    -0.0261567030f,
};
static const float EXP_BMM_ADJY[40] = {
    /* shape [4,2,5] */
    0.0289011467f,  -0.183049649f,  -0.185746789f,   0.265274256f,    0.0533234589f,
    0.0157000590f,  -0.0180360544f, -0.0869831145f,  0.0533234589f,   0.0195873473f,
    -0.158627346f,  -0.161324486f,  0.289696574f,    0.0777457729f,   -0.134205028f,
    -0.0141487662f, -0.0830958262f, 0.0572107472f,   0.0234746356f,   -0.0102614770f,
    -0.346155822f,  0.314118892f,   0.102168091f,    -0.109782711f,   -0.321733505f,
    -0.0439975932f, 0.0610980392f,  0.0273619257f,   -0.00637418777f, -0.0401103050f,
    0.338541210f,   0.126590401f,   -0.0853603929f,  -0.297311187f,   0.362963498f,
    0.0649853274f,  0.0312492140f,  -0.00248689973f, -0.0362230167f,  0.0688726157f,
};
static const float EXP_FUSED_MATMUL[8] = {
    /* shape [2,4] */
    0.478573114f, 0.00000000f, 0.118735358f, 0.284889787f,
    0.406714559f, 0.00000000f, 0.00000000f,  0.00000000f,
};

/* ---- builders ---- */

static void conv_attrs(tnode *t, const char *pad, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                       bool nchw) {
  if (nchw) {
    A_INTS(t, "strides", 1, 1, sh, sw);
    A_INTS(t, "dilations", 1, 1, dh, dw);
    a_str(t, "data_format", "NCHW");
  } else {
    A_INTS(t, "strides", 1, sh, sw, 1);
    A_INTS(t, "dilations", 1, dh, dw, 1);
    a_str(t, "data_format", "NHWC");
  }
  a_str(t, "padding", pad);
  if (strcmp(pad, "EXPLICIT"))
    a_ints(t, "explicit_paddings", 0, NULL); /* as TF.js writes it: "list": {} */
}

static void pool_attrs(tnode *t, const char *pad, int64_t kh, int64_t kw, int64_t sh, int64_t sw) {
  A_INTS(t, "ksize", 1, kh, kw, 1);
  A_INTS(t, "strides", 1, sh, sw, 1);
  a_str(t, "padding", pad);
  a_str(t, "data_format", "NHWC");
}

/* Naive double-precision convolution (depthwise when `dw`), any layout. */
typedef struct ref_geom {
  int n, ih, iw, ic, kh, kw, fo; /* fo: filter's last dim (out channels or multiplier) */
  int sh, sw, dh, dw, pt, pl, oh, ow;
  bool nchw, dw_conv;
} ref_geom;

static void ref_conv(const ref_geom *g, const float *x, const float *w, float *y) {
  int oc = g->dw_conv ? g->ic * g->fo : g->fo;
  for (int b = 0; b < g->n; b++)
    for (int oy = 0; oy < g->oh; oy++)
      for (int ox = 0; ox < g->ow; ox++)
        for (int o = 0; o < oc; o++) {
          double s = 0;
          for (int kr = 0; kr < g->kh; kr++)
            for (int kc = 0; kc < g->kw; kc++) {
              int iy = oy * g->sh - g->pt + kr * g->dh, ix = ox * g->sw - g->pl + kc * g->dw;
              if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw)
                continue;
              for (int c = 0; c < g->ic; c++) {
                if (g->dw_conv && c != o / g->fo)
                  continue;
                size_t xi = g->nchw ? (((size_t)b * g->ic + c) * g->ih + iy) * g->iw + ix
                                    : (((size_t)b * g->ih + iy) * g->iw + ix) * g->ic + c;
                size_t wi = g->dw_conv ? (((size_t)kr * g->kw + kc) * g->ic + c) * g->fo + o % g->fo
                                       : (((size_t)kr * g->kw + kc) * g->ic + c) * g->fo + o;
                s += (double)x[xi] * (double)w[wi];
              }
            }
          size_t yi = g->nchw ? (((size_t)b * oc + o) * g->oh + oy) * g->ow + ox
                              : (((size_t)b * g->oh + oy) * g->ow + ox) * oc + o;
          y[yi] = (float)s;
        }
}

/* ---- Conv2D ---- */

Test(nn_conv, same_stride2_odd_input) {
  /* TF.js: tf.conv2d(T([1,5,5,2],1), T([3,3,2,3],2), 2, 'same') */
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 2, 2, 1, 1, false);
  rt_tensor in[2] = {TF(fill(0, 50, 1, 1), 4, 1, 5, 5, 2), TF(fill(1, 54, 2, 1), 4, 3, 3, 2, 3)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 3, 3);
  expect_close(&t, EXP_CONV_SAME_S2, 27, CONV_TOL);
  tn_free(&t);
}

Test(nn_conv, same_odd_total_padding_goes_after) {
  /* TF.js: tf.conv2d(T([1,6,7,2],35), T([3,2,2,2],36), 2, 'same'): one row and one column of
   * padding in total, which TF puts at the bottom/right. */
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 2, 2, 1, 1, false);
  rt_tensor in[2] = {TF(fill(0, 84, 35, 1), 4, 1, 6, 7, 2), TF(fill(1, 24, 36, 1), 4, 3, 2, 2, 2)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 4, 2);
  expect_close(&t, EXP_CONV_SAME_ODDPAD, 24, CONV_TOL);
  tn_free(&t);
}

Test(nn_conv, dilation_same) {
  /* TF.js: tf.conv2d(T([1,6,5,2],3), T([2,3,2,2],4), 1, 'same', 'NHWC', 2) */
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 1, 1, 2, 2, false);
  rt_tensor in[2] = {TF(fill(0, 60, 3, 1), 4, 1, 6, 5, 2), TF(fill(1, 24, 4, 1), 4, 2, 3, 2, 2)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 6, 5, 2);
  expect_close(&t, EXP_CONV_DIL2, 60, CONV_TOL);
  tn_free(&t);
}

Test(nn_conv, nchw_valid_stride2) {
  /* TF.js: tf.conv2d(T([1,2,5,4],5), T([3,2,2,3],6), 2, 'valid', 'NCHW') */
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "VALID", 2, 2, 1, 1, true);
  rt_tensor in[2] = {TF(fill(0, 40, 5, 1), 4, 1, 2, 5, 4), TF(fill(1, 36, 6, 1), 4, 3, 2, 2, 3)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 2, 2);
  expect_close(&t, EXP_CONV_NCHW, 12, CONV_TOL);
  tn_free(&t);
}

Test(nn_conv, explicit_padding) {
  /* TF.js: tf.conv2d(T([1,4,4,1],7), T([2,2,1,2],8), [2,1], [[0,0],[1,2],[0,1],[0,0]]);
   * height (4 - 2 + 3) / 2 + 1 truncates to 3. */
  tnode t = tn("Conv2D", 2);
  A_INTS(&t, "strides", 1, 2, 1, 1);
  a_str(&t, "padding", "EXPLICIT");
  A_INTS(&t, "explicit_paddings", 0, 0, 1, 2, 0, 1, 0, 0);
  rt_tensor in[2] = {TF(fill(0, 16, 7, 1), 4, 1, 4, 4, 1), TF(fill(1, 8, 8, 1), 4, 2, 2, 1, 2)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 4, 2);
  expect_close(&t, EXP_CONV_EXPLICIT, 24, CONV_TOL);
  tn_free(&t);
}

Test(nn_conv, rank3_input_keeps_rank3) {
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 2, 2, 1, 1, false);
  rt_tensor in[2] = {TF(fill(0, 50, 1, 1), 3, 5, 5, 2), TF(fill(1, 54, 2, 1), 4, 3, 3, 2, 3)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 3, 3, 3, 3);
  expect_close(&t, EXP_CONV_SAME_S2, 27, CONV_TOL);
  tn_free(&t);
}

/* Shapes that exercise the GEMM paths: 1x1 direct, K beyond one depth block, several pixel
 * tiles, output channels not a multiple of 8, NCHW gather/scatter, dilation, big padding. */
Test(nn_conv, matches_naive_reference) {
  static const struct {
    int n, ih, iw, ic, kh, kw, oc, sh, sw, dh, dw;
    const char *pad;
    int pads[4];
    bool nchw;
  } cases[] = {
      {2, 7, 9, 20, 1, 1, 13, 1, 1, 1, 1, "VALID", {0}, false},
      {1, 9, 9, 40, 3, 3, 17, 1, 1, 1, 1, "SAME", {0}, false},
      {1, 30, 30, 40, 3, 3, 9, 1, 1, 1, 1, "SAME", {0}, false},
      {2, 5, 11, 13, 3, 2, 6, 1, 1, 2, 2, "SAME", {0}, true},
      {1, 9, 8, 5, 1, 1, 8, 2, 2, 1, 1, "VALID", {0}, false},
      {1, 6, 7, 3, 4, 3, 5, 3, 2, 1, 1, "EXPLICIT", {3, 2, 0, 4}, false},
      {3, 8, 8, 7, 5, 5, 3, 2, 2, 1, 1, "SAME", {0}, true},
      {1, 1, 1, 600, 1, 1, 33, 1, 1, 1, 1, "SAME", {0}, false},
  };
  static float ref[16384];
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    __typeof__(cases[0]) c = cases[ci];
    ref_geom g = {c.n,  c.ih, c.iw, c.ic, c.kh, c.kw, c.oc,   c.sh, c.sw,
                  c.dh, c.dw, 0,    0,    0,    0,    c.nchw, false};
    int keh = (c.kh - 1) * c.dh + 1, kew = (c.kw - 1) * c.dw + 1;
    if (!strcmp(c.pad, "SAME")) {
      g.oh = (c.ih + c.sh - 1) / c.sh, g.ow = (c.iw + c.sw - 1) / c.sw;
      int th = (g.oh - 1) * c.sh + keh - c.ih, tw = (g.ow - 1) * c.sw + kew - c.iw;
      g.pt = th > 0 ? th / 2 : 0, g.pl = tw > 0 ? tw / 2 : 0;
    } else if (!strcmp(c.pad, "VALID")) {
      g.oh = (c.ih - keh + c.sh) / c.sh, g.ow = (c.iw - kew + c.sw) / c.sw;
    } else {
      g.pt = c.pads[0], g.pl = c.pads[2];
      g.oh = (c.ih - keh + c.pads[0] + c.pads[1]) / c.sh + 1;
      g.ow = (c.iw - kew + c.pads[2] + c.pads[3]) / c.sw + 1;
    }
    tnode t = tn("Conv2D", 2);
    conv_attrs(&t, c.pad, c.sh, c.sw, c.dh, c.dw, c.nchw);
    if (!strcmp(c.pad, "EXPLICIT"))
      A_INTS(&t, "explicit_paddings", 0, 0, c.pads[0], c.pads[1], c.pads[2], c.pads[3], 0, 0);
    int nx = c.n * c.ih * c.iw * c.ic, nw = c.kh * c.kw * c.ic * c.oc;
    float *x = fill(0, nx, 40 + (int)ci, 1), *w = fill(1, nw, 50 + (int)ci, 1);
    rt_tensor in[2] = {c.nchw ? TF(x, 4, c.n, c.ic, c.ih, c.iw) : TF(x, 4, c.n, c.ih, c.iw, c.ic),
                       TF(w, 4, c.kh, c.kw, c.ic, c.oc)};
    cr_assert_eq(tn_run(&t, in, 2), RT_OK, "case %zu: %s", ci, t.err.msg);
    if (c.nchw)
      expect_shape(&t.out, 4, c.n, c.oc, g.oh, g.ow);
    else
      expect_shape(&t.out, 4, c.n, g.oh, g.ow, c.oc);
    ref_conv(&g, x, w, ref);
    expect_close(&t, ref, (int64_t)c.n * g.oh * g.ow * c.oc, 2e-5f);
    tn_free(&t);
  }
}

/* ---- _FusedConv2D ---- */

static tnode fused_conv(const char *act, int n_in) {
  tnode t = tn("_FusedConv2D", n_in);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  if (act)
    A_STRS(&t, "fused_ops", "BiasAdd", act);
  else
    A_STRS(&t, "fused_ops", "BiasAdd");
  a_int(&t, "num_args", n_in - 2);
  a_float(&t, "leakyrelu_alpha", 0.2f);
  return t;
}

Test(nn_fused_conv, every_activation) {
  /* TF.js: tf.fused.conv2d({x: T([1,3,3,3],9,4), filter: T([3,3,3,4],10,3), strides: 1,
   * pad: 'same', bias: T([4],11), activation, preluActivationWeights: T([4],12),
   * leakyreluAlpha: 0.2}); tanh (absent from the cpu backend's fused set) is
   * tf.tanh(conv + bias). */
  static const struct {
    const char *act;
    const float *want;
  } cases[] = {
      {"Relu", EXP_FUSED_RELU},
      {"Relu6", EXP_FUSED_RELU6},
      {"Elu", EXP_FUSED_ELU},
      {"Sigmoid", EXP_FUSED_SIGMOID},
      {"LeakyRelu", EXP_FUSED_LEAKYRELU},
      {"Prelu", EXP_FUSED_PRELU},
      {"Tanh", EXP_FUSED_TANH},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bool prelu = !strcmp(cases[i].act, "Prelu");
    tnode t = fused_conv(cases[i].act, prelu ? 4 : 3);
    rt_tensor in[4] = {TF(fill(0, 27, 9, 4), 4, 1, 3, 3, 3), TF(fill(1, 108, 10, 3), 4, 3, 3, 3, 4),
                       TF(fill(2, 4, 11, 1), 1, 4), TF(fill(3, 4, 12, 1), 1, 4)};
    cr_assert_eq(tn_run(&t, in, prelu ? 4 : 3), RT_OK, "%s: %s", cases[i].act, t.err.msg);
    expect_shape(&t.out, 4, 1, 3, 3, 4);
    expect_close(&t, cases[i].want, 36, CONV_TOL);
    tn_free(&t);
  }
}

Test(nn_fused_conv, nchw_matches_nhwc) {
  /* Bias and PReLU alpha are per channel in both layouts (TF.js reshapes them to [C,1,1]). */
  float *x = fill(0, 2 * 5 * 6 * 3, 60, 2), *w = fill(1, 3 * 3 * 3 * 5, 61, 2);
  float *bias = fill(2, 5, 62, 1), *alpha = fill(3, 5, 63, 1);
  static float xc[180];
  for (int b = 0; b < 2; b++)
    for (int h = 0; h < 5; h++)
      for (int ww = 0; ww < 6; ww++)
        for (int c = 0; c < 3; c++)
          xc[((b * 3 + c) * 5 + h) * 6 + ww] = x[((b * 5 + h) * 6 + ww) * 3 + c];
  tnode a = fused_conv("Prelu", 4), nc = tn("_FusedConv2D", 4);
  conv_attrs(&nc, "SAME", 1, 1, 1, 1, true);
  A_STRS(&nc, "fused_ops", "BiasAdd", "Prelu");
  rt_tensor ia[4] = {TF(x, 4, 2, 5, 6, 3), TF(w, 4, 3, 3, 3, 5), TF(bias, 1, 5), TF(alpha, 1, 5)};
  rt_tensor ib[4] = {TF(xc, 4, 2, 3, 5, 6), ia[1], ia[2], ia[3]};
  cr_assert_eq(tn_run(&a, ia, 4), RT_OK, "%s", a.err.msg);
  cr_assert_eq(tn_run(&nc, ib, 4), RT_OK, "%s", nc.err.msg);
  expect_shape(&nc.out, 4, 2, 5, 5, 6);
  const float *ya = a.out.data, *yb = nc.out.data;
  for (int b = 0; b < 2; b++)
    for (int h = 0; h < 5; h++)
      for (int ww = 0; ww < 6; ww++)
        for (int c = 0; c < 5; c++)
          cr_assert_float_eq(yb[((b * 5 + c) * 5 + h) * 6 + ww], ya[((b * 5 + h) * 6 + ww) * 5 + c],
                             1e-6f);
  tn_free(&a);
  tn_free(&nc);
}

Test(nn_fused_conv, bias_only_and_scalar_bias) {
  /* fused_ops [BiasAdd] with a scalar bias: conv + b everywhere. */
  tnode t = fused_conv(NULL, 3), plain = tn("Conv2D", 2);
  conv_attrs(&plain, "SAME", 1, 1, 1, 1, false);
  float b = 0.75f;
  rt_tensor in[3] = {TF(fill(0, 27, 9, 4), 4, 1, 3, 3, 3), TF(fill(1, 108, 10, 3), 4, 3, 3, 3, 4),
                     TF(&b, 0, 0)};
  cr_assert_eq(tn_run(&t, in, 3), RT_OK, "%s", t.err.msg);
  cr_assert_eq(tn_run(&plain, in, 2), RT_OK, "%s", plain.err.msg);
  for (int i = 0; i < 36; i++)
    cr_assert_eq(((float *)t.out.data)[i], ((float *)plain.out.data)[i] + 0.75f);
  tn_free(&t);
  tn_free(&plain);
}

Test(nn_fused_conv, rejects_what_tfjs_cannot_run) {
  tnode t = tn("_FusedConv2D", 3);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  A_STRS(&t, "fused_ops", "FusedBatchNorm", "Relu");
  rt_tensor in[3] = {TF(fill(0, 27, 9, 4), 4, 1, 3, 3, 3), TF(fill(1, 108, 10, 3), 4, 3, 3, 3, 4),
                     TF(fill(2, 4, 11, 1), 1, 4)};
  expect_err(&t, tn_run(&t, in, 3), RT_ERR_UNSUPPORTED, "FusedBatchNorm");
  tn_free(&t);

  t = tn("_FusedConv2D", 3);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  A_STRS(&t, "fused_ops", "BiasAdd", "GeluExact");
  expect_err(&t, tn_run(&t, in, 3), RT_ERR_UNSUPPORTED, "GeluExact");
  tn_free(&t);

  t = tn("_FusedConv2D", 3); /* Prelu needs its alpha as a fourth input */
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  A_STRS(&t, "fused_ops", "BiasAdd", "Prelu");
  a_int(&t, "num_args", 1);
  expect_err(&t, tn_run(&t, in, 3), RT_ERR_INVALID_ARG, "num_args");
  tn_free(&t);

  t = fused_conv("Relu", 3); /* bias of the wrong length */
  in[2] = TF(fill(2, 3, 11, 1), 1, 3);
  expect_err(&t, tn_run(&t, in, 3), RT_ERR_SHAPE, "bias");
  tn_free(&t);
}

/* ---- depthwise ---- */

Test(nn_depthwise, multiplier2_stride2_same) {
  /* TF.js: tf.depthwiseConv2d(T([1,5,5,2],13), T([3,3,2,2],14), 2, 'same') */
  tnode t = tn("DepthwiseConv2dNative", 2);
  conv_attrs(&t, "SAME", 2, 2, 1, 1, false);
  rt_tensor in[2] = {TF(fill(0, 50, 13, 1), 4, 1, 5, 5, 2), TF(fill(1, 36, 14, 1), 4, 3, 3, 2, 2)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 3, 4);
  expect_close(&t, EXP_DW_S2_M2, 36, CONV_TOL);
  tn_free(&t);
}

Test(nn_depthwise, fused_bias_relu6) {
  /* TF.js: tf.fused.depthwiseConv2d({x: T([1,4,4,2],22,6), filter: T([3,3,2,2],23,4),
   * strides: 1, pad: 'same', bias: T([4],24), activation: 'relu6'}) */
  tnode t = tn("FusedDepthwiseConv2dNative", 3);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  A_STRS(&t, "fused_ops", "BiasAdd", "Relu6");
  a_int(&t, "num_args", 1);
  rt_tensor in[3] = {TF(fill(0, 32, 22, 6), 4, 1, 4, 4, 2), TF(fill(1, 36, 23, 4), 4, 3, 3, 2, 2),
                     TF(fill(2, 4, 24, 1), 1, 4)};
  cr_assert_eq(tn_run(&t, in, 3), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 4, 4, 4);
  expect_close(&t, EXP_DW_FUSED_RELU6, 64, CONV_TOL);
  tn_free(&t);
}

Test(nn_depthwise, matches_naive_reference) {
  static const struct {
    int n, ih, iw, ic, kh, kw, m, s, d;
    const char *pad;
    bool nchw;
  } cases[] = {
      {2, 9, 7, 19, 3, 3, 1, 1, 1, "SAME", false},
      {1, 8, 9, 5, 3, 3, 3, 2, 1, "SAME", false},
      {1, 9, 10, 4, 3, 2, 2, 1, 2, "VALID", true},
      {2, 6, 5, 3, 5, 5, 1, 2, 1, "SAME", true},
  };
  static float ref[16384];
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    __typeof__(cases[0]) c = cases[ci];
    ref_geom g = {c.n, c.ih, c.iw, c.ic, c.kh, c.kw, c.m,    c.s, c.s,
                  c.d, c.d,  0,    0,    0,    0,    c.nchw, true};
    int keh = (c.kh - 1) * c.d + 1, kew = (c.kw - 1) * c.d + 1;
    if (!strcmp(c.pad, "SAME")) {
      g.oh = (c.ih + c.s - 1) / c.s, g.ow = (c.iw + c.s - 1) / c.s;
      int th = (g.oh - 1) * c.s + keh - c.ih, tw = (g.ow - 1) * c.s + kew - c.iw;
      g.pt = th > 0 ? th / 2 : 0, g.pl = tw > 0 ? tw / 2 : 0;
    } else {
      g.oh = (c.ih - keh + c.s) / c.s, g.ow = (c.iw - kew + c.s) / c.s;
    }
    tnode t = tn("DepthwiseConv2dNative", 2);
    conv_attrs(&t, c.pad, c.s, c.s, c.d, c.d, c.nchw);
    int nx = c.n * c.ih * c.iw * c.ic, nw = c.kh * c.kw * c.ic * c.m;
    float *x = fill(0, nx, 70 + (int)ci, 1), *w = fill(1, nw, 80 + (int)ci, 1);
    rt_tensor in[2] = {c.nchw ? TF(x, 4, c.n, c.ic, c.ih, c.iw) : TF(x, 4, c.n, c.ih, c.iw, c.ic),
                       TF(w, 4, c.kh, c.kw, c.ic, c.m)};
    cr_assert_eq(tn_run(&t, in, 2), RT_OK, "case %zu: %s", ci, t.err.msg);
    ref_conv(&g, x, w, ref);
    expect_close(&t, ref, (int64_t)c.n * g.oh * g.ow * c.ic * c.m, 1e-5f);
    tn_free(&t);
  }
}

/* ---- pooling ---- */

Test(nn_pool, max_and_avg_same_odd) {
  /* TF.js: tf.maxPool / tf.avgPool(T([1,5,5,2],15), 3, 2, 'same'); the average divides by the
   * number of in-bounds elements, so corners differ from a zero-padded mean. */
  rt_tensor in = TF(fill(0, 50, 15, 1), 4, 1, 5, 5, 2);
  tnode t = tn("MaxPool", 1);
  pool_attrs(&t, "SAME", 3, 3, 2, 2);
  cr_assert_eq(tn_run(&t, &in, 1), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 3, 2);
  expect_exact(&t, EXP_MAXPOOL_SAME, 18);
  tn_free(&t);
  t = tn("AvgPool", 1);
  pool_attrs(&t, "SAME", 3, 3, 2, 2);
  cr_assert_eq(tn_run(&t, &in, 1), RT_OK, "%s", t.err.msg);
  expect_exact(&t, EXP_AVGPOOL_SAME, 18);
  tn_free(&t);
}

Test(nn_pool, same_odd_total_padding) {
  /* TF.js: tf.maxPool / tf.avgPool(T([1,6,7,2],37), [3,2], 2, 'same') */
  rt_tensor in = TF(fill(0, 84, 37, 1), 4, 1, 6, 7, 2);
  tnode t = tn("MaxPool", 1);
  pool_attrs(&t, "SAME", 3, 2, 2, 2);
  cr_assert_eq(tn_run(&t, &in, 1), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 3, 4, 2);
  expect_exact(&t, EXP_MAXPOOL_ODDPAD, 24);
  tn_free(&t);
  t = tn("AvgPool", 1);
  pool_attrs(&t, "SAME", 3, 2, 2, 2);
  cr_assert_eq(tn_run(&t, &in, 1), RT_OK, "%s", t.err.msg);
  expect_exact(&t, EXP_AVGPOOL_ODDPAD, 24);
  tn_free(&t);
}

Test(nn_pool, avg_valid_rectangular) {
  /* TF.js: tf.avgPool(T([1,5,4,1],25), [2,3], [2,1], 'valid') */
  rt_tensor in = TF(fill(0, 20, 25, 1), 4, 1, 5, 4, 1);
  tnode t = tn("AvgPool", 1);
  pool_attrs(&t, "VALID", 2, 3, 2, 1);
  cr_assert_eq(tn_run(&t, &in, 1), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 2, 2, 1);
  expect_exact(&t, EXP_AVGPOOL_VALID, 4);
  tn_free(&t);
}

Test(nn_pool, max_skips_nan_and_nchw_agrees) {
  /* TF.js's `v > max` never takes NaN; an all-NaN window stays -Infinity. */
  float x[8] = {NAN, 1.0f, NAN, NAN, -2.0f, NAN, NAN, NAN}; /* [1,2,2,2] NHWC */
  tnode t = tn("MaxPool", 1);
  pool_attrs(&t, "VALID", 2, 2, 1, 1);
  rt_tensor in = TF(x, 4, 1, 2, 2, 2);
  cr_assert_eq(tn_run(&t, &in, 1), RT_OK, "%s", t.err.msg);
  cr_assert_eq(((float *)t.out.data)[0], -2.0f);
  cr_assert_eq(((float *)t.out.data)[1], 1.0f);
  tn_free(&t);

  float *xn = fill(0, 2 * 3 * 7 * 6, 90, 1);
  static float xc[252]; /* the same input, NCHW */
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 3; c++)
      for (int i = 0; i < 42; i++)
        xc[(n * 3 + c) * 42 + i] = xn[(n * 42 + i) * 3 + c];
  for (int avg = 0; avg < 2; avg++) {
    tnode a = tn(avg ? "AvgPool" : "MaxPool", 1), b = tn(avg ? "AvgPool" : "MaxPool", 1);
    pool_attrs(&a, "SAME", 3, 2, 2, 3);
    A_INTS(&b, "ksize", 1, 1, 3, 2);
    A_INTS(&b, "strides", 1, 1, 2, 3);
    a_str(&b, "padding", "SAME");
    a_str(&b, "data_format", "NCHW");
    rt_tensor ia = TF(xn, 4, 2, 7, 6, 3), ib = TF(xc, 4, 2, 3, 7, 6);
    cr_assert_eq(tn_run(&a, &ia, 1), RT_OK, "%s", a.err.msg);
    cr_assert_eq(tn_run(&b, &ib, 1), RT_OK, "%s", b.err.msg);
    expect_shape(&b.out, 4, 2, 3, 4, 2);
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 3; c++)
        for (int s = 0; s < 8; s++)
          cr_assert_eq(((float *)b.out.data)[(n * 3 + c) * 8 + s],
                       ((float *)a.out.data)[(n * 8 + s) * 3 + c]);
    tn_free(&a);
    tn_free(&b);
  }
}

/* ---- Conv2DBackpropInput ---- */

static tnode deconv(const char *pad) {
  tnode t = tn("Conv2DBackpropInput", 3);
  conv_attrs(&t, pad, 2, 2, 1, 1, false);
  return t;
}

Test(nn_deconv, same_and_valid_stride2) {
  /* TF.js: tf.conv2dTranspose(T([1,3,3,2],16), T([3,3,2,2],17), [1,5,5,2], 2, 'same') and
   * tf.conv2dTranspose(T([1,2,2,2],26), T([3,3,2,2],27), [1,5,5,2], 2, 'valid'); summed in
   * double in TF.js's order, so equal bit for bit. */
  int32_t os[4] = {1, 5, 5, 2};
  tnode t = deconv("SAME");
  rt_tensor in[3] = {tt(RT_DT_I32, os, 1, 4), TF(fill(1, 36, 17, 1), 4, 3, 3, 2, 2),
                     TF(fill(0, 18, 16, 1), 4, 1, 3, 3, 2)};
  cr_assert_eq(tn_run(&t, in, 3), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 5, 5, 2);
  expect_exact(&t, EXP_DECONV_SAME, 50);
  tn_free(&t);
  t = deconv("VALID");
  in[1] = TF(fill(1, 36, 27, 1), 4, 3, 3, 2, 2);
  in[2] = TF(fill(0, 8, 26, 1), 4, 1, 2, 2, 2);
  cr_assert_eq(tn_run(&t, in, 3), RT_OK, "%s", t.err.msg);
  expect_exact(&t, EXP_DECONV_VALID, 50);
  tn_free(&t);
}

Test(nn_deconv, explicit_padding) {
  /* TF.js: tf.conv2dTranspose(T([1,3,4,2],38), T([3,3,2,2],39), [1,5,6,2], 2,
   * [[0,0],[1,1],[1,2],[0,0]]) */
  int32_t os[4] = {1, 5, 6, 2};
  tnode t = tn("Conv2DBackpropInput", 3);
  A_INTS(&t, "strides", 1, 2, 2, 1);
  a_str(&t, "padding", "EXPLICIT");
  A_INTS(&t, "explicit_paddings", 0, 0, 1, 1, 1, 2, 0, 0);
  rt_tensor in[3] = {tt(RT_DT_I32, os, 1, 4), TF(fill(1, 36, 39, 1), 4, 3, 3, 2, 2),
                     TF(fill(0, 24, 38, 1), 4, 1, 3, 4, 2)};
  cr_assert_eq(tn_run(&t, in, 3), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 5, 6, 2);
  expect_exact(&t, EXP_DECONV_EXPLICIT, 60);
  tn_free(&t);
}

Test(nn_deconv, nchw_matches_nhwc) {
  /* Channel counts differ on purpose (dy 3, result 2), stride 2, odd result size. */
  int32_t os_h[4] = {2, 7, 5, 2}, os_c[4] = {2, 2, 7, 5};
  float *w = fill(1, 3 * 3 * 2 * 3, 91, 1), *dy = fill(0, 2 * 4 * 3 * 3, 92, 1);
  static float dyc[72];
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 3; c++)
      for (int i = 0; i < 12; i++)
        dyc[(n * 3 + c) * 12 + i] = dy[(n * 12 + i) * 3 + c];
  tnode a = deconv("SAME"), b = tn("Conv2DBackpropInput", 3);
  conv_attrs(&b, "SAME", 2, 2, 1, 1, true);
  rt_tensor ia[3] = {tt(RT_DT_I32, os_h, 1, 4), TF(w, 4, 3, 3, 2, 3), TF(dy, 4, 2, 4, 3, 3)};
  rt_tensor ib[3] = {tt(RT_DT_I32, os_c, 1, 4), ia[1], TF(dyc, 4, 2, 3, 4, 3)};
  cr_assert_eq(tn_run(&a, ia, 3), RT_OK, "%s", a.err.msg);
  cr_assert_eq(tn_run(&b, ib, 3), RT_OK, "%s", b.err.msg);
  expect_shape(&b.out, 4, 2, 2, 7, 5);
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 2; c++)
      for (int i = 0; i < 35; i++)
        cr_assert_eq(((float *)b.out.data)[(n * 2 + c) * 35 + i],
                     ((float *)a.out.data)[(n * 35 + i) * 2 + c]);
  tn_free(&a);
  tn_free(&b);
}

Test(nn_deconv, needs_output_shape_value_and_matching_dy) {
  int32_t os[4] = {1, 5, 5, 2};
  tnode t = deconv("SAME");
  rt_tensor in[3] = {tt(RT_DT_I32, NULL, 1, 4), TF(fill(1, 36, 17, 1), 4, 3, 3, 2, 2),
                     TF(fill(0, 18, 16, 1), 4, 1, 3, 3, 2)};
  cr_assert_eq(tn_exec(&t, in, 3, false), RT_ERR_NEED_VALUE);
  tn_free(&t);
  t = deconv("SAME"); /* dy 4x4 cannot come from a 5x5 result at stride 2 */
  in[0].data = os;
  in[2] = TF(fill(0, 32, 16, 1), 4, 1, 4, 4, 2);
  expect_err(&t, tn_run(&t, in, 3), RT_ERR_SHAPE, "dy");
  tn_free(&t);
}

/* ---- matmul ---- */

static tnode matmul(const char *op, bool ta, bool tb) {
  tnode t = tn(op, 2);
  bool batch = strncmp(op, "Batch", 5) == 0;
  a_bool(&t, batch ? "adj_x" : "transpose_a", ta);
  a_bool(&t, batch ? "adj_y" : "transpose_b", tb);
  return t;
}

Test(nn_matmul, transposes_and_blocks_bit_exact) {
  /* TF.js: tf.matMul(T([3,5],18), T([4,5],19), false, true), tf.matMul(T([5,3],18),
   * T([5,4],19), true, false), tf.matMul(T([2,100],28), T([100,3],29)) */
  tnode t = matmul("MatMul", false, true);
  rt_tensor in[2] = {TF(fill(0, 15, 18, 1), 2, 3, 5), TF(fill(1, 20, 19, 1), 2, 4, 5)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 2, 3, 4);
  expect_exact(&t, EXP_MATMUL_TB, 12);
  tn_free(&t);
  t = matmul("MatMul", true, false);
  in[0] = TF(fill(0, 15, 18, 1), 2, 5, 3);
  in[1] = TF(fill(1, 20, 19, 1), 2, 5, 4);
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_exact(&t, EXP_MATMUL_TA, 12);
  tn_free(&t);
  t = matmul("MatMul", false, false);
  in[0] = TF(fill(0, 200, 28, 1), 2, 2, 100);
  in[1] = TF(fill(1, 300, 29, 1), 2, 100, 3);
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_exact(&t, EXP_MATMUL_K100, 6);
  tn_free(&t);
}

Test(nn_matmul, batch_broadcast) {
  /* TF.js: tf.matMul(T([2,3,2,4],20), T([3,4,5],21)) and
   * tf.matMul(T([1,2,3],30), T([4,5,3],31), false, true) */
  tnode t = matmul("BatchMatMulV2", false, false);
  rt_tensor in[2] = {TF(fill(0, 48, 20, 1), 4, 2, 3, 2, 4), TF(fill(1, 60, 21, 1), 3, 3, 4, 5)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 2, 3, 2, 5);
  expect_exact(&t, EXP_BMM_BCAST, 60);
  tn_free(&t);
  t = matmul("BatchMatMul", false, true);
  in[0] = TF(fill(0, 6, 30, 1), 3, 1, 2, 3);
  in[1] = TF(fill(1, 60, 31, 1), 3, 4, 5, 3);
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 3, 4, 2, 5);
  expect_exact(&t, EXP_BMM_ADJY, 40);
  tn_free(&t);
  t = matmul("BatchMatMulV2", false, false); /* [2,1] x [1,3] batch dims -> [2,3] */
  in[0] = TF(fill(0, 2 * 2 * 3, 35, 1), 4, 2, 1, 2, 3);
  in[1] = TF(fill(1, 3 * 3 * 2, 36, 1), 4, 1, 3, 3, 2);
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 2, 3, 2, 2);
  const float *a = in[0].data, *b = in[1].data, *y = t.out.data;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
          double s = 0;
          for (int k = 0; k < 3; k++)
            s += (double)a[(i * 2 + r) * 3 + k] * b[(j * 3 + k) * 2 + c];
          cr_assert_eq(y[((i * 3 + j) * 2 + r) * 2 + c], (float)s);
        }
  tn_free(&t);
}

Test(nn_matmul, fused_bias_relu) {
  /* TF.js: tf.fused.matMul({a: T([2,3],32,2), b: T([3,4],33,2), bias: T([4],34),
   * activation: 'relu'}) */
  tnode t = tn("_FusedMatMul", 3);
  a_bool(&t, "transpose_a", false);
  a_bool(&t, "transpose_b", false);
  A_STRS(&t, "fused_ops", "BiasAdd", "Relu");
  a_int(&t, "num_args", 1);
  rt_tensor in[3] = {TF(fill(0, 6, 32, 2), 2, 2, 3), TF(fill(1, 12, 33, 2), 2, 3, 4),
                     TF(fill(2, 4, 34, 1), 1, 4)};
  cr_assert_eq(tn_run(&t, in, 3), RT_OK, "%s", t.err.msg);
  expect_exact(&t, EXP_FUSED_MATMUL, 8);
  tn_free(&t);
}

Test(nn_matmul, int32_wraps_like_tfjs) {
  /* TF.js: tf.matMul(int32 [[65536,3],[-7,2147483647]], int32 [[65536],[5]]) = [15, 2147024891]
   * (2^32 + 15 and -458752 + 5 * (2^31 - 1), both modulo 2^32). */
  int32_t a[4] = {65536, 3, -7, 2147483647}, b[2] = {65536, 5};
  tnode t = matmul("MatMul", false, false);
  rt_tensor in[2] = {tt(RT_DT_I32, a, 2, 2, 2), tt(RT_DT_I32, b, 2, 2, 1)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  cr_assert_eq(t.out.dtype, RT_DT_I32);
  cr_assert_eq(((int32_t *)t.out.data)[0], 15);
  cr_assert_eq(((int32_t *)t.out.data)[1], 2147024891);
  tn_free(&t);
}

Test(nn_matmul, errors) {
  tnode t = matmul("MatMul", false, false);
  rt_tensor in[2] = {TF(fill(0, 6, 1, 1), 2, 2, 3), TF(fill(1, 8, 2, 1), 2, 4, 2)};
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_SHAPE, "inner");
  tn_free(&t);
  t = matmul("BatchMatMulV2", false, false);
  in[0] = TF(fill(0, 12, 1, 1), 3, 2, 2, 3);
  in[1] = TF(fill(1, 18, 2, 1), 3, 3, 3, 2);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_SHAPE, "broadcast");
  tn_free(&t);
  t = matmul("MatMul", false, false);
  int32_t ib[6] = {0};
  in[0] = TF(fill(0, 6, 1, 1), 2, 2, 3);
  in[1] = tt(RT_DT_I32, ib, 2, 3, 2);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_UNSUPPORTED, "int32");
  tn_free(&t);
}

/* ---- empty tensors ---- */

Test(nn_empty, zero_sized_dims) {
  /* batch 0: empty output, nothing read */
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  rt_tensor in[2] = {TF(NULL, 4, 0, 4, 4, 2), TF(fill(1, 36, 2, 1), 4, 3, 3, 2, 2)};
  cr_assert_eq(tn_run(&t, in, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 0, 4, 4, 2);
  tn_free(&t);
  /* no input channels: the sum is empty, so out = 0 + bias */
  t = fused_conv(NULL, 3);
  float bias[3] = {1.5f, -2.0f, 0.25f}, dummy[1] = {0};
  in[0] = TF(dummy, 4, 1, 2, 2, 0);
  in[1] = TF(dummy, 4, 3, 3, 0, 3);
  rt_tensor in3[3] = {in[0], in[1], TF(bias, 1, 3)};
  cr_assert_eq(tn_run(&t, in3, 3), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 2, 2, 3);
  for (int i = 0; i < 12; i++)
    cr_assert_eq(((float *)t.out.data)[i], bias[i % 3]);
  tn_free(&t);
  /* K = 0 matmul: zeros */
  t = matmul("MatMul", false, false);
  rt_tensor mm[2] = {TF(dummy, 2, 3, 0), TF(dummy, 2, 0, 2)};
  cr_assert_eq(tn_run(&t, mm, 2), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 2, 3, 2);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(((float *)t.out.data)[i], 0.0f);
  tn_free(&t);
  /* VALID window that exactly misses: output size 0, not an error */
  t = tn("MaxPool", 1);
  pool_attrs(&t, "VALID", 3, 3, 2, 2);
  rt_tensor px = TF(fill(0, 8, 1, 1), 4, 1, 2, 2, 2);
  cr_assert_eq(tn_run(&t, &px, 1), RT_OK, "%s", t.err.msg);
  expect_shape(&t.out, 4, 1, 0, 0, 2);
  tn_free(&t);
}

/* ---- attribute and shape errors ---- */

Test(nn_errors, bad_models_and_requests_fail_cleanly) {
  rt_tensor in[2] = {TF(fill(0, 50, 1, 1), 4, 1, 5, 5, 2), TF(fill(1, 54, 2, 1), 4, 3, 3, 2, 3)};
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "FULL", 1, 1, 1, 1, false);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_UNSUPPORTED, "FULL");
  tn_free(&t);

  t = tn("Conv2D", 2);
  a_str(&t, "padding", "SAME");
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_INVALID_ARG, "strides");
  tn_free(&t);

  t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 2, 2, 2, 2, false); /* TF.js: either strides or dilations must be 1 */
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_INVALID_ARG, "dilations");
  tn_free(&t);

  t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 0, 1, 1, 1, false);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_INVALID_ARG, "strides");
  tn_free(&t);

  t = tn("Conv2D", 2);
  a_str(&t, "data_format", "NDHWC");
  A_INTS(&t, "strides", 1, 1, 1, 1);
  a_str(&t, "padding", "SAME");
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_UNSUPPORTED, "NDHWC");
  tn_free(&t);

  t = tn("Conv2D", 2); /* request with the wrong channel count */
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  in[0] = TF(fill(0, 75, 1, 1), 4, 1, 5, 5, 3);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_SHAPE, "channels");
  tn_free(&t);

  t = tn("Conv2D", 2); /* request of the wrong rank */
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  in[0] = TF(fill(0, 10, 1, 1), 2, 5, 2);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_SHAPE, "rank");
  tn_free(&t);

  t = tn("Conv2D", 2); /* VALID window larger than the input */
  conv_attrs(&t, "VALID", 1, 1, 1, 1, false);
  in[0] = TF(fill(0, 8, 1, 1), 4, 1, 2, 2, 2);
  in[1] = TF(fill(1, 50, 2, 1), 4, 5, 5, 2, 1);
  expect_err(&t, tn_run(&t, in, 2), RT_ERR_SHAPE, "height");
  tn_free(&t);

  t = tn("MaxPool", 1);
  A_INTS(&t, "ksize", 1, 2, 2);
  A_INTS(&t, "strides", 1, 1, 1, 1);
  a_str(&t, "padding", "SAME");
  expect_err(&t, tn_run(&t, in, 1), RT_ERR_INVALID_ARG, "ksize");
  tn_free(&t);

  int32_t xi[8] = {0};
  t = tn("AvgPool", 1);
  pool_attrs(&t, "SAME", 2, 2, 1, 1);
  rt_tensor bad = tt(RT_DT_I32, xi, 4, 1, 2, 2, 2);
  expect_err(&t, tn_run(&t, &bad, 1), RT_ERR_UNSUPPORTED, "float32");
  tn_free(&t);
}

Test(nn_flops, conv_depthwise_matmul) {
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 2, 2, 1, 1, false);
  rt_tensor in[2] = {TF(NULL, 4, 1, 5, 5, 2), TF(NULL, 4, 3, 3, 2, 3)};
  cr_assert_eq(tn_exec(&t, in, 2, false), RT_OK, "%s", t.err.msg);
  rt_kctx k = {.node = &t.g->nodes[t.id],
               .params = t.g->nodes[t.id].params,
               .n_in = 2,
               .in = in,
               .n_out = 1,
               .out = &t.out};
  cr_assert_float_eq(t.g->nodes[t.id].op->flops(&k), 2.0 * 27 * 18, 1e-9);
  tn_free(&t);
  t = matmul("MatMul", false, true);
  in[0] = TF(NULL, 2, 3, 5);
  in[1] = TF(NULL, 2, 4, 5);
  cr_assert_eq(tn_exec(&t, in, 2, false), RT_OK, "%s", t.err.msg);
  k.node = &t.g->nodes[t.id];
  k.params = k.node->params;
  cr_assert_float_eq(k.node->op->flops(&k), 2.0 * 12 * 5, 1e-9);
  tn_free(&t);
}

/* ---- exact TF.js order: depthwise and conv against one-rounding-per-product references ----
 * TF.js's loops add x * w to each output in the order (filter row, filter column, input
 * channel), skipping taps outside the input, one rounding per product (what fmaf computes, see
 * the header). These references do exactly that, element by element, so the blocked,
 * vectorized kernels must give the same bits (with FMA hardware; conv_tol() otherwise). */

typedef struct exact_case {
  int n, ih, iw, c, kh, kw, oc; /* oc: depthwise multiplier for depthwise cases */
  int s, d;
  const char *pad;
  int pads[4];     /* EXPLICIT: top, bottom, left, right */
  const char *act; /* NULL: plain op; else fused BiasAdd + act ("" for BiasAdd only) */
  bool nchw;
} exact_case;

static void exact_geom(const exact_case *c, int *oh, int *ow, int *pt, int *pl) {
  int keh = (c->kh - 1) * c->d + 1, kew = (c->kw - 1) * c->d + 1;
  if (!strcmp(c->pad, "SAME")) {
    *oh = (c->ih + c->s - 1) / c->s, *ow = (c->iw + c->s - 1) / c->s;
    int th = (*oh - 1) * c->s + keh - c->ih, tw = (*ow - 1) * c->s + kew - c->iw;
    *pt = th > 0 ? th / 2 : 0, *pl = tw > 0 ? tw / 2 : 0;
  } else if (!strcmp(c->pad, "VALID")) {
    *oh = (c->ih - keh + c->s) / c->s, *ow = (c->iw - kew + c->s) / c->s, *pt = *pl = 0;
  } else {
    *pt = c->pads[0], *pl = c->pads[2];
    *oh = (c->ih - keh + c->pads[0] + c->pads[1]) / c->s + 1;
    *ow = (c->iw - kew + c->pads[2] + c->pads[3]) / c->s + 1;
  }
}

static float exact_act(const char *act, float v, float alpha) {
  if (!act || !*act)
    return v;
  if (!strcmp(act, "Relu"))
    return v <= 0.0f ? 0.0f : v;
  if (!strcmp(act, "Relu6"))
    return v <= 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
  if (!strcmp(act, "Elu"))
    return v >= 0.0f ? v : (float)(exp((double)v) - 1.0);
  if (!strcmp(act, "Sigmoid"))
    return (float)(1.0 / (1.0 + exp(-(double)v)));
  if (!strcmp(act, "LeakyRelu"))
    return v < 0.0f ? (float)(0.2 * (double)v) : v;
  cr_assert_fail("activation %s", act);
  return v;
}

/* NHWC or NCHW; depthwise when dw (oc = c * multiplier). */
static void exact_ref(const exact_case *c, bool dw, const float *x, const float *w,
                      const float *bias, float *y) {
  int oh, ow, pt, pl, m = dw ? c->oc : 1, oc = dw ? c->c * c->oc : c->oc;
  exact_geom(c, &oh, &ow, &pt, &pl);
  for (int b = 0; b < c->n; b++)
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        for (int o = 0; o < oc; o++) {
          float acc = 0.0f;
          for (int kr = 0; kr < c->kh; kr++) {
            int iy = oy * c->s - pt + kr * c->d;
            if (iy < 0 || iy >= c->ih)
              continue;
            for (int kc = 0; kc < c->kw; kc++) {
              int ix = ox * c->s - pl + kc * c->d;
              if (ix < 0 || ix >= c->iw)
                continue;
              for (int ch = dw ? o / m : 0; ch < (dw ? o / m + 1 : c->c); ch++) {
                size_t xi = c->nchw ? (((size_t)b * c->c + ch) * c->ih + iy) * c->iw + ix
                                    : (((size_t)b * c->ih + iy) * c->iw + ix) * c->c + ch;
                size_t wi = dw ? ((size_t)(kr * c->kw + kc) * c->c + ch) * m + o % m
                               : ((size_t)(kr * c->kw + kc) * c->c + ch) * oc + o;
                acc = conv_tol() == 0.0f ? fmaf(x[xi], w[wi], acc) : acc + x[xi] * w[wi];
              }
            }
          }
          if (c->act)
            acc = exact_act(c->act, acc + bias[o], 0.2f);
          size_t yi = c->nchw ? (((size_t)b * oc + o) * oh + oy) * ow + ox
                              : (((size_t)b * oh + oy) * ow + ox) * oc + o;
          y[yi] = acc;
        }
}

/* Runs case c as op (plain or fused) with the filter packed or not; the output in t. */
static tnode exact_run(const exact_case *c, bool dw, int ci, bool packed, rt_threadpool *tp,
                       const float *x, const float *w, const float *bias) {
  const char *op = dw ? (c->act ? "FusedDepthwiseConv2dNative" : "DepthwiseConv2dNative")
                      : (c->act ? "_FusedConv2D" : "Conv2D");
  tnode t = tn(op, c->act ? 3 : 2);
  conv_attrs(&t, c->pad, c->s, c->s, c->d, c->d, c->nchw);
  if (!strcmp(c->pad, "EXPLICIT"))
    A_INTS(&t, "explicit_paddings", 0, 0, c->pads[0], c->pads[1], c->pads[2], c->pads[3], 0, 0);
  if (c->act) {
    if (*c->act)
      A_STRS(&t, "fused_ops", "BiasAdd", c->act);
    else
      A_STRS(&t, "fused_ops", "BiasAdd");
    a_int(&t, "num_args", 1);
  }
  int oc = dw ? c->c * c->oc : c->oc;
  rt_tensor in[3] = {c->nchw ? TF(x, 4, c->n, c->c, c->ih, c->iw)
                             : TF(x, 4, c->n, c->ih, c->iw, c->c),
                     TF(w, 4, c->kh, c->kw, c->c, c->oc), TF(bias, 1, oc)};
  rt_status st = tn_exec_ex(&t, in, c->act ? 3 : 2, true, packed ? 0x6u : 0u, tp);
  cr_assert_eq(st, RT_OK, "case %d: %s", ci, t.err.msg);
  return t;
}

static void exact_check(const exact_case *cases, int n_cases, bool dw) {
  static float ref[65536];
  for (int ci = 0; ci < n_cases; ci++) {
    const exact_case *c = &cases[ci];
    int oh, ow, pt, pl, oc = dw ? c->c * c->oc : c->oc;
    exact_geom(c, &oh, &ow, &pt, &pl);
    int64_t nx = (int64_t)c->n * c->ih * c->iw * c->c, nw = (int64_t)c->kh * c->kw * c->c * c->oc;
    int64_t ny = (int64_t)c->n * oh * ow * oc;
    cr_assert(ny <= 65536);
    float *x = fill(0, nx, 300 + ci, 2), *w = fill(1, nw, 400 + ci, 1);
    float *bias = fill(2, oc, 500 + ci, 3);
    exact_ref(c, dw, x, w, bias, ref);
    for (int packed = 0; packed < 2; packed++) {
      tnode t = exact_run(c, dw, ci, packed, NULL, x, w, bias);
      const float *got = t.out.data;
      float tol = conv_tol() * 10;
      for (int64_t i = 0; i < ny; i++)
        cr_assert(tol == 0.0f ? memcmp(&got[i], &ref[i], 4) == 0
                              : fabsf(got[i] - ref[i]) <= tol * fmaxf(1.0f, fabsf(ref[i])),
                  "case %d (packed %d) [%lld]: got %.9g, want %.9g", ci, packed, (long long)i,
                  got[i], ref[i]);
      tn_free(&t);
    }
  }
}

/* Every path of the depthwise kernel: 8-, 4- and 1-pixel interior blocks, borders, channel
 * tails (< 8), 2 and 4 channel vectors per block, channel blocks beyond 64, the specialised
 * 3x3/5x5 filters at strides 1 and 2, dilation and other windows (generic), windows wider
 * than the input, explicit padding, a channel multiplier, simple and general epilogues. */
Test(nn_depthwise, bit_exact_tfjs_order_every_path) {
  static const exact_case cases[] = {
      {1, 13, 21, 8, 3, 3, 1, 1, 1, "SAME", {0}, NULL, false},
      {2, 12, 19, 19, 3, 3, 1, 1, 1, "VALID", {0}, "Relu6", false},
      {1, 15, 23, 40, 3, 3, 1, 2, 1, "SAME", {0}, "Relu", false},
      {1, 16, 27, 72, 5, 5, 1, 1, 1, "SAME", {0}, "", false},
      {1, 17, 25, 24, 5, 5, 1, 2, 1, "SAME", {0}, "Relu6", false},
      {1, 11, 14, 33, 3, 3, 1, 1, 2, "SAME", {0}, NULL, false},
      {1, 10, 12, 20, 2, 2, 1, 1, 1, "VALID", {0}, "Elu", false},
      {1, 7, 7, 96, 3, 3, 1, 1, 1, "SAME", {0}, "Relu6", false},
      {1, 3, 4, 32, 5, 5, 1, 1, 1, "SAME", {0}, NULL, false},
      {1, 8, 9, 16, 3, 3, 1, 2, 1, "EXPLICIT", {2, 0, 3, 1}, "Sigmoid", false},
      {1, 9, 10, 5, 3, 3, 3, 1, 1, "SAME", {0}, "Relu", false},
      {2, 6, 9, 12, 3, 3, 1, 2, 1, "SAME", {0}, "Relu6", true},
      {1, 20, 30, 16, 3, 3, 1, 1, 1, "SAME", {0}, "LeakyRelu", false},
  };
  exact_check(cases, (int)(sizeof cases / sizeof cases[0]), true);
}

/* Conv2D: depth blocks (K = kh*kw*ic beyond 128 continue the same accumulator), partial
 * micro-tiles, output channels not a multiple of 8, the 1x1 direct path, NCHW, epilogues in
 * registers and after. */
Test(nn_conv, bit_exact_tfjs_order_depth_blocks) {
  static const exact_case cases[] = {
      {1, 9, 11, 40, 3, 3, 17, 1, 1, "SAME", {0}, NULL, false},
      {2, 6, 7, 150, 1, 1, 20, 1, 1, "VALID", {0}, "Relu6", false},
      {1, 5, 6, 300, 1, 1, 9, 2, 1, "SAME", {0}, "", false},
      {1, 7, 5, 33, 3, 3, 12, 1, 1, "SAME", {0}, "Sigmoid", true},
      {1, 12, 13, 7, 5, 5, 8, 2, 1, "SAME", {0}, "Relu", false},
      {1, 10, 10, 16, 3, 3, 24, 1, 2, "SAME", {0}, "Elu", false},
  };
  exact_check(cases, (int)(sizeof cases / sizeof cases[0]), false);
}

/* ---- pack(): constant weights laid out once per model ---- */

static void expect_same_bytes(const tnode *a, const tnode *b, const char *what) {
  cr_assert_eq(rt_tensor_nbytes(&a->out), rt_tensor_nbytes(&b->out), "%s: sizes differ", what);
  cr_assert(memcmp(a->out.data, b->out.data, rt_tensor_nbytes(&a->out)) == 0,
            "%s: packed and unpacked results differ", what);
}

Test(nn_pack, packs_once_and_matches_the_unpacked_path) {
  /* Conv2D [3,3,40,17]: 3 panels of 8 columns x K = 360 floats. */
  float *x = fill(0, 9 * 11 * 40, 1, 1), *w = fill(1, 3 * 3 * 40 * 17, 2, 1);
  rt_tensor in[4] = {TF(x, 4, 1, 9, 11, 40), TF(w, 4, 3, 3, 40, 17)};
  tnode a = tn("Conv2D", 2), b = tn("Conv2D", 2);
  conv_attrs(&a, "SAME", 1, 1, 1, 1, false);
  conv_attrs(&b, "SAME", 1, 1, 1, 1, false);
  cr_assert_eq(tn_exec_ex(&a, in, 2, true, 0x2, NULL), RT_OK, "%s", a.err.msg);
  cr_assert_eq(tn_run(&b, in, 2), RT_OK, "%s", b.err.msg);
  cr_assert_eq(a.g->packed_bytes, (size_t)3 * 8 * 360 * 4);
  cr_assert_eq(a.scratch_bytes, 0, "a packed conv repacks nothing per run");
  cr_assert(b.scratch_bytes >= (size_t)3 * 8 * 360 * 4);
  expect_same_bytes(&a, &b, "conv");
  tn_free(&a);
  tn_free(&b);

  /* Depthwise multiplier 1 [3,3,19,1]: 3 blocks of 8 channels x 9 taps; multiplier 2 is read
   * as it is (nothing packed). */
  x = fill(0, 10 * 12 * 19, 3, 1), w = fill(1, 3 * 3 * 19 * 2, 4, 1);
  in[0] = TF(x, 4, 1, 10, 12, 19);
  for (int m = 1; m <= 2; m++) {
    in[1] = TF(w, 4, 3, 3, 19, m);
    a = tn("DepthwiseConv2dNative", 2), b = tn("DepthwiseConv2dNative", 2);
    conv_attrs(&a, "SAME", 2, 2, 1, 1, false);
    conv_attrs(&b, "SAME", 2, 2, 1, 1, false);
    cr_assert_eq(tn_exec_ex(&a, in, 2, true, 0x2, NULL), RT_OK, "%s", a.err.msg);
    cr_assert_eq(tn_run(&b, in, 2), RT_OK, "%s", b.err.msg);
    cr_assert_eq(a.g->packed_bytes, m == 1 ? (size_t)3 * 9 * 8 * 4 : 0);
    expect_same_bytes(&a, &b, "depthwise");
    tn_free(&a);
    tn_free(&b);
  }

  /* Conv2DBackpropInput: filter [2,2,c1,8] transposed once when c1 >= 8; c1 = 3 reads the TF
   * layout (dot products over dy channels). */
  int32_t osz[4] = {1, 10, 12, 0};
  for (int c1 = 3; c1 <= 16; c1 += 13) {
    osz[3] = c1;
    float *dy = fill(0, 5 * 6 * 8, 5, 1), *wf = fill(1, 2 * 2 * c1 * 8, 6, 1);
    rt_tensor bin[3] = {tt(RT_DT_I32, osz, 1, 4), TF(wf, 4, 2, 2, c1, 8), TF(dy, 4, 1, 5, 6, 8)};
    a = tn("Conv2DBackpropInput", 3), b = tn("Conv2DBackpropInput", 3);
    conv_attrs(&a, "SAME", 2, 2, 1, 1, false);
    conv_attrs(&b, "SAME", 2, 2, 1, 1, false);
    cr_assert_eq(tn_exec_ex(&a, bin, 3, true, 0x3, NULL), RT_OK, "%s", a.err.msg);
    cr_assert_eq(tn_run(&b, bin, 3), RT_OK, "%s", b.err.msg);
    cr_assert_eq(a.g->packed_bytes, c1 >= 8 ? (size_t)2 * 2 * c1 * 8 * 4 : 0);
    cr_assert_eq(a.scratch_bytes, 0);
    expect_same_bytes(&a, &b, "transposed conv");
    tn_free(&a);
    tn_free(&b);
  }

  /* MatMul / BatchMatMulV2 with a constant [37,19] (or [19,37] transposed) right operand: 3
   * panels of 8 columns x 37. */
  float *ma = fill(0, 3 * 21 * 37, 7, 1), *mb = fill(1, 37 * 19, 8, 1);
  for (int tb = 0; tb < 2; tb++) {
    const char *ops[] = {"MatMul", "BatchMatMulV2"};
    for (int oi = 0; oi < 2; oi++) {
      rt_tensor min[2] = {oi ? TF(ma, 3, 3, 21, 37) : TF(ma, 2, 63, 37),
                          tb ? TF(mb, 2, 19, 37) : TF(mb, 2, 37, 19)};
      a = matmul(ops[oi], false, tb), b = matmul(ops[oi], false, tb);
      cr_assert_eq(tn_exec_ex(&a, min, 2, true, 0x2, NULL), RT_OK, "%s", a.err.msg);
      cr_assert_eq(tn_run(&b, min, 2), RT_OK, "%s", b.err.msg);
      cr_assert_eq(a.g->packed_bytes, (size_t)3 * 8 * 37 * 4);
      expect_same_bytes(&a, &b, ops[oi]);
      tn_free(&a);
      tn_free(&b);
    }
  }
}

Test(nn_pack, orchard_kernels_must_be_portable_or_dnnl) {
  float *w = fill(1, 3 * 3 * 2 * 3, 2, 1);
  rt_tensor in[2] = {TF(fill(0, 50, 1, 1), 4, 1, 5, 5, 2), TF(w, 4, 3, 3, 2, 3)};
  setenv("ORCHARD_KERNELS", "fastest", 1);
  tnode t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  rt_status st = tn_exec_ex(&t, in, 2, true, 0x2, NULL);
  setenv("ORCHARD_KERNELS", "portable", 1);
  expect_err(&t, st, RT_ERR_INVALID_ARG, "ORCHARD_KERNELS");
  tn_free(&t);
  setenv("ORCHARD_KERNELS", "portable", 1);
  t = tn("Conv2D", 2);
  conv_attrs(&t, "SAME", 1, 1, 1, 1, false);
  st = tn_exec_ex(&t, in, 2, true, 0x2, NULL);
  setenv("ORCHARD_KERNELS", "portable", 1);
  cr_assert_eq(st, RT_OK, "%s", t.err.msg);
  tn_free(&t);
}

#ifdef ORCHARD_HAVE_DNNL
/* ORCHARD_KERNELS=dnnl: pack() packs for oneDNN, plan() makes a primitive, run() uses it. The
 * result is oneDNN's (its own summation order), so it matches the portable kernels to 1e-4
 * relative, not bit for bit. */
Test(nn_pack, orchard_kernels_dnnl_runs_the_onednn_path) {
  static const exact_case conv[] = {{1, 12, 13, 24, 3, 3, 40, 1, 1, "SAME", {0}, "Relu6", false},
                                    {1, 12, 13, 32, 3, 3, 1, 2, 1, "SAME", {0}, "Relu", false}};
  for (int ci = 0; ci < 2; ci++) {
    const exact_case *c = &conv[ci];
    bool dw = ci == 1;
    int oc = dw ? c->c : c->oc;
    float *x = fill(0, c->ih * c->iw * c->c, 600 + ci, 1), *w = fill(1, 9 * c->c * c->oc, 601, 1);
    float *bias = fill(2, oc, 602, 1);
    tnode p = exact_run(c, dw, ci, true, NULL, x, w, bias);
    cr_assert(!p.planned, "the portable path has no per-plan state");
    setenv("ORCHARD_KERNELS", "dnnl", 1);
    tnode d = exact_run(c, dw, ci, true, NULL, x, w, bias);
    setenv("ORCHARD_KERNELS", "portable", 1);
    cr_assert(d.planned, "case %d: oneDNN took no primitive", ci);
    cr_assert_gt(d.g->packed_bytes, p.g->packed_bytes);
    expect_close(&d, p.out.data, rt_tensor_numel(&p.out), 1e-4f);
    tn_free(&p);
    tn_free(&d);
  }
  float *a = fill(0, 5 * 64, 603, 1), *b = fill(1, 64 * 20, 604, 1), *bias = fill(2, 20, 605, 1);
  rt_tensor in[3] = {TF(a, 2, 5, 64), TF(b, 2, 64, 20), TF(bias, 1, 20)};
  tnode t[2];
  for (int i = 0; i < 2; i++) {
    if (i)
      setenv("ORCHARD_KERNELS", "dnnl", 1);
    t[i] = tn("_FusedMatMul", 3);
    A_STRS(&t[i], "fused_ops", "BiasAdd", "Relu");
    a_int(&t[i], "num_args", 1);
    cr_assert_eq(tn_exec_ex(&t[i], in, 3, true, 0x6, NULL), RT_OK, "%s", t[i].err.msg);
    setenv("ORCHARD_KERNELS", "portable", 1);
  }
  cr_assert(t[1].planned && !t[0].planned);
  expect_close(&t[1], t[0].out.data, 100, 1e-4f);
  tn_free(&t[0]);
  tn_free(&t[1]);
}
#endif
