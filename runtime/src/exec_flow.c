/*
 * exec_flow.c — the dataflow executor for graphs with control flow: TF1-style conds
 * (Switch/Merge), while loops (Enter/Merge/Switch/LoopCond/NextIteration/Exit) and the
 * TensorArray/TensorList resources loops use. Semantics follow TensorFlow.js 4.22
 * (graph_executor.js executeWithControlFlow, execution_context.js, tensor_array.js,
 * tensor_list.js, control_executor.js).
 *
 * Create time (analysis). Only nodes the outputs depend on are used. Each gets a static frame:
 * root, or the loop frame an Enter leads into (frames nest; Exit leads back out). Consts, and
 * nodes computed from Consts alone, are global: visible in every frame and computed once, as
 * TF.js keeps weights in a map every context can see. Every edge is then
 *   - global (the producer is global),
 *   - same-frame (counted: the consumer waits for it), or
 *   - a read from an enclosing frame (TF.js looks values up through parent contexts): not
 *     counted, and the producer's value is pinned for the life of its iteration.
 * An Enter is scheduled in the parent frame and stores its output in the child; an Exit the
 * other way round; NextIteration stores into the next iteration of its own frame.
 *
 * Run time. A state is one iteration of one frame instance (the root is one state). It holds
 * a value slot per output of the frame's nodes and a pending count per node. When a node's
 * last counted input arrives the node goes on the ready stack. A dead input (the untaken
 * side of a Switch) makes every output dead; Merge instead fires on its first live input
 * (or dead once all its forward inputs are dead). is_constant Enters feed every iteration of
 * the instance; dead NextIteration values are dropped, which is what ends a loop. An instance
 * ends once all its Enters have arrived and no iteration has work queued; Exits that never
 * fired then deliver dead values to the parent. Work that NextIteration hands to iteration
 * k+1 waits until the ready stack is empty, so iteration k finishes and is freed first: a
 * loop holds one or two iterations at a time, however long it runs.
 *
 * Memory: tensors live in refcounted blocks. A slot drops its block when its last same-frame
 * reader has run; Switch/Identity/Enter/... forward blocks without copying; freed blocks
 * stay in size classes for the next run. Output views stay valid until the next run or
 * destroy. Iterations, steps, live bytes and array sizes are bounded; a breach is an
 * rt_status naming the node.
 */
#include "model.h"
#include "ops.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOW_MAX_ITERS ((int64_t)1 << 18)  /* iterations of one loop instance */
#define FLOW_MAX_STEPS ((int64_t)1 << 26)  /* node executions per run */
#define FLOW_MAX_BYTES ((size_t)4 << 30)   /* live tensor bytes per run */
#define FLOW_MAX_CACHE ((size_t)256 << 20) /* freed blocks kept for reuse */
#define FLOW_MAX_ELEMS ((int64_t)1 << 20)  /* elements of one TensorArray / TensorList */
#define FLOW_MAX_RES (1 << 16)             /* TensorArrays + TensorLists per run */
#define FLOW_MAX_DEPTH 64                  /* nesting of loop frames */
#define FLOW_N_CLASSES 256
#define FLOW_SPARE_STATES 4 /* recycled iteration states kept per frame */
#define PINNED INT_MAX

/* ---- node kinds the executor treats specially ---- */
enum {
  FK_OP = 0, /* a kernel from the op table */
  FK_CONST,
  FK_INPUT,
  FK_IDENTITY, /* forwards its input block */
  FK_SWITCH,
  FK_MERGE,
  FK_ENTER,
  FK_EXIT,
  FK_NEXT,
  FK_LOOPCOND,
  FK_TA_NEW,
  FK_TA_WRITE,
  FK_TA_READ,
  FK_TA_GATHER,
  FK_TA_SCATTER,
  FK_TA_CONCAT,
  FK_TA_SPLIT,
  FK_TA_SIZE,
  FK_TA_CLOSE,
  FK_TL_RESERVE,
  FK_TL_EMPTY,
  FK_TL_FROM,
  FK_TL_SET,
  FK_TL_GET,
  FK_TL_STACK,
  FK_TL_GATHER,
  FK_TL_LENGTH,
  FK_TL_PUSH,
  FK_TL_POP,
};

static const struct {
  const char *op;
  unsigned char kind;
} FLOW_KINDS[] = {
    {"Const", FK_CONST},
    {"Placeholder", FK_INPUT},
    {"Identity", FK_IDENTITY},
    {"StopGradient", FK_IDENTITY},
    {"Snapshot", FK_IDENTITY},
    {"Switch", FK_SWITCH},
    {"Merge", FK_MERGE},
    {"Enter", FK_ENTER},
    {"Exit", FK_EXIT},
    {"NextIteration", FK_NEXT},
    {"LoopCond", FK_LOOPCOND},
    {"TensorArrayV3", FK_TA_NEW},
    {"TensorArrayWriteV3", FK_TA_WRITE},
    {"TensorArrayReadV3", FK_TA_READ},
    {"TensorArrayGatherV3", FK_TA_GATHER},
    {"TensorArrayScatterV3", FK_TA_SCATTER},
    {"TensorArrayConcatV3", FK_TA_CONCAT},
    {"TensorArraySplitV3", FK_TA_SPLIT},
    {"TensorArraySizeV3", FK_TA_SIZE},
    {"TensorArrayCloseV3", FK_TA_CLOSE},
    {"TensorListReserve", FK_TL_RESERVE},
    {"EmptyTensorList", FK_TL_EMPTY},
    {"TensorListFromTensor", FK_TL_FROM},
    {"TensorListSetItem", FK_TL_SET},
    {"TensorListGetItem", FK_TL_GET},
    {"TensorListStack", FK_TL_STACK},
    {"TensorListGather", FK_TL_GATHER},
    {"TensorListLength", FK_TL_LENGTH},
    {"TensorListPushBack", FK_TL_PUSH},
    {"TensorListPopBack", FK_TL_POP},
};

enum { E_GLOBAL = 0, E_SAME, E_OUTER }; /* edge classes, see the top comment */
enum { V_ABSENT = 0, V_LIVE, V_DEAD };  /* value slot states */
enum { NS_QUEUED = 1, NS_DEAD = 2 };    /* per-node flags in a state */
enum { PIN_OUTER = 1, PIN_OUTPUT = 2 };

typedef rt_shape_attr flow_shape; /* rank -1: unknown rank (TF.js: a number) */

/* A refcounted block of tensor memory; refs counts slots, resources and invariants. */
typedef struct flow_buf {
  struct flow_buf *next; /* free-list link */
  size_t cap;
  int refs;
  int cls;
  _Alignas(64) unsigned char data[];
} flow_buf;

typedef struct flow_val {
  rt_tensor t;
  flow_buf *buf; /* NULL for constants, model inputs and dropped values */
  int reads;     /* same-frame reads left; PINNED never drops */
  unsigned char state;
} flow_val;

typedef struct flow_ns {
  int pending;
  int dead; /* Merge: forward inputs that arrived dead */
  unsigned char flags;
} flow_ns;

typedef struct flow_inst flow_inst;

typedef struct flow_state {
  flow_inst *inst; /* NULL for the root */
  int frame;
  int64_t iter;
  int outstanding;         /* queued items + running child instances */
  struct flow_state *next; /* next iteration of inst; spare-list link */
  flow_inst *kids;         /* child frame instances started here */
  flow_val *vals;
  flow_ns *ns;
} flow_state;

struct flow_inst {
  int frame;
  flow_state *parent;
  flow_inst *sib;                 /* next child of parent */
  flow_inst *all_prev, *all_next; /* every live instance, for cleanup */
  flow_state *first, *last;       /* live iterations, oldest first */
  int64_t n_iters;
  int pending_enters;
  flow_val *inv; /* is_constant Enter values, by frame->inv index */
  unsigned char *exit_done;
};

typedef struct flow_frame {
  int parent, depth;
  const char *name;
  bool determined; /* parent known from a real input (analysis) */
  int n_sched, n_slots;
  int n_enters;
  int n_inv, n_exits, n_eager;
  int *inv, *exits, *eager; /* node ids */
  int *pending0;            /* by local node index */
  flow_state *spare;
  int n_spare;
} flow_frame;

typedef struct flow_node {
  unsigned char kind;
  bool used, global, is_const_enter, merge_eager, determined;
  int sched, out; /* static frames (-1: global) */
  int lidx;       /* index among the sched frame's nodes */
  int lslot;      /* first output slot among the out frame's slots */
  int pending0, n_fwd;
  int child; /* Enter: the frame it enters */
  int cidx;  /* is_constant Enter: index in child->inv; Exit: in frame->exits */
  int input_index;
  rt_dtype dtype; /* TensorArray dtype / TensorList element dtype; RT_DT_COUNT: none */
  flow_shape eshape;
  bool dynamic_size, clear_after_read;
} flow_node;

typedef struct flow_item { /* one element of a TensorArray / TensorList */
  rt_tensor t;
  flow_buf *buf;
  bool set, read, cleared;
} flow_item;

typedef struct flow_res {
  bool is_list, closed, dynamic, clear_after_read;
  rt_dtype dtype;
  int64_t max_size; /* TensorArray size / TensorList max elements (-1: unbounded) */
  flow_shape es;
  flow_item *items;
  int64_t n, cap; /* n follows JS array length: highest index set + 1 */
} flow_res;

typedef struct flow_task {
  int node;
  flow_state *s;
} flow_task;

typedef struct flow_ref { /* a resolved input */
  rt_tensor t;
  flow_buf *buf;
  int state;
} flow_ref;

struct rt_flow {
  const rt_model *m;
  const rt_graph *g;
  int n_nodes, n_slots;
  flow_node *nodes;
  int *slot_base;            /* first global slot of each node */
  int *in_off;               /* edge classes of node i start at ecls[in_off[i]] */
  unsigned char *ecls;       /* data inputs, then control inputs */
  int *cons_off, *cons_node; /* same-frame data consumers per slot */
  int *ctrl_off, *ctrl_node; /* same-frame control consumers per node */
  int *reads0;
  unsigned char *pinned;
  flow_frame *frames;
  int n_frames, cap_frames;
  int *globals, n_globals; /* used non-Const global nodes, in order */
  rt_tensor *gvals;        /* per slot, for global nodes */
  void **gmem;
  int n_gmem;
  bool globals_ready;
  rt_tensor *kin, *kout;
  flow_buf **kinb, **obuf; /* blocks behind kin (NULL: not ours); fresh output blocks */
  /* per run */
  const rt_tensor *inputs;
  flow_state *root;
  flow_inst *insts;
  flow_task *stack;
  int sp, cap_stack;
  /* Work for an iteration that NextIteration just started waits here until the stack is
   * empty: iteration k finishes (and is freed) before k+1 runs, so a long loop holds one or
   * two iterations, not all of them. */
  flow_task *later;
  int n_later, cap_later;
  bool defer;
  flow_res *res;
  int n_res, cap_res;
  int64_t steps;
  size_t live_bytes, cached_bytes;
  flow_buf *cache[FLOW_N_CLASSES];
  _Alignas(16) unsigned char dummy[64]; /* data pointer for empty tensors */
};

/* ---- memory blocks ---- */
static size_t class_of(size_t n, int *cls) {
  if (n < 64)
    n = 64;
  if (n <= 1024) {
    size_t s = (n + 63) & ~(size_t)63;
    *cls = (int)(s / 64); /* 1..16 */
    return s;
  }
  int lg = 63 - __builtin_clzll((unsigned long long)n);
  size_t p = (size_t)1 << lg, step = p / 4;
  size_t s = (n + step - 1) / step * step;
  if (s == 2 * p) {
    p *= 2;
    lg++;
  }
  *cls = 17 + 4 * (lg - 10) + (int)((s - p) / (p / 4));
  if (*cls >= FLOW_N_CLASSES)
    *cls = -1; /* absurd sizes are never cached */
  return s;
}

static flow_buf *buf_get(rt_flow *f, size_t bytes, const rt_node *nd, rt_error *err) {
  int cls;
  size_t cap = class_of(bytes, &cls);
  if (cap < bytes || cap > FLOW_MAX_BYTES || f->live_bytes + cap > FLOW_MAX_BYTES) {
    rt__errorf(err, RT_ERR_NOMEM,
               "node '%s': control-flow run would hold more than %zu bytes of tensors", nd->name,
               (size_t)FLOW_MAX_BYTES);
    return NULL;
  }
  flow_buf *b = cls >= 0 ? f->cache[cls] : NULL;
  if (b) {
    f->cache[cls] = b->next;
    f->cached_bytes -= b->cap;
  } else {
    b = aligned_alloc(64, sizeof *b + cap);
    if (!b) {
      rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory (%zu bytes)", nd->name, cap);
      return NULL;
    }
    b->cap = cap;
    b->cls = cls;
  }
  b->refs = 0;
  b->next = NULL;
  f->live_bytes += b->cap;
  return b;
}

/* Gives a block with no holder left back to the cache (or the system). */
static void buf_put(rt_flow *f, flow_buf *b) {
  f->live_bytes -= b->cap;
  if (b->cls >= 0 && f->cached_bytes + b->cap <= FLOW_MAX_CACHE) {
    b->next = f->cache[b->cls];
    f->cache[b->cls] = b;
    f->cached_bytes += b->cap;
  } else {
    free(b);
  }
}

static void buf_release(rt_flow *f, flow_buf *b) {
  if (b && --b->refs == 0)
    buf_put(f, b);
}

static void buf_drop_unheld(rt_flow *f, flow_buf *b) {
  if (b && b->refs == 0)
    buf_put(f, b);
}

static void val_clear(rt_flow *f, flow_val *v) {
  buf_release(f, v->buf);
  memset(v, 0, sizeof *v);
}

/* ---- shapes (tensor_utils.js) ---- */
static flow_shape shape_of(const rt_tensor *t) {
  flow_shape s = {.rank = t->rank};
  for (int i = 0; i < t->rank; i++)
    s.dims[i] = t->dims[i];
  return s;
}

static void shape_str(const flow_shape *s, char *buf, size_t n) {
  if (s->rank < 0) {
    snprintf(buf, n, "<unknown rank>");
    return;
  }
  size_t o = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < s->rank && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)s->dims[i]);
  if (o < n)
    snprintf(buf + o, n - o, "]");
}

/* assertShapesMatchAllowUndefinedSize: -1 dims and unknown ranks match anything. */
static bool shape_compat(const flow_shape *a, const flow_shape *b) {
  if (a->rank < 0 || b->rank < 0)
    return true;
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] >= 0 && b->dims[i] >= 0 && a->dims[i] != b->dims[i])
      return false;
  return true;
}

static rt_status shape_check(const rt_node *nd, const flow_shape *a, const flow_shape *b,
                             rt_error *err) {
  if (shape_compat(a, b))
    return RT_OK;
  char sa[160], sb[160];
  shape_str(a, sa, sizeof sa);
  shape_str(b, sb, sizeof sb);
  return rt__errorf(err, RT_ERR_SHAPE, "node '%s' (%s): shapes %s and %s must match", nd->name,
                    nd->op_name, sa, sb);
}

/* mergeElementShape */
static rt_status shape_merge(const rt_node *nd, const flow_shape *a, const flow_shape *b,
                             flow_shape *out, rt_error *err) {
  if (a->rank < 0) {
    *out = *b;
    return RT_OK;
  }
  if (b->rank < 0) {
    *out = *a;
    return RT_OK;
  }
  flow_shape r = {.rank = a->rank};
  bool ok = a->rank == b->rank;
  for (int i = 0; ok && i < a->rank; i++) {
    if (a->dims[i] >= 0 && b->dims[i] >= 0 && a->dims[i] != b->dims[i])
      ok = false;
    r.dims[i] = a->dims[i] >= 0 ? a->dims[i] : b->dims[i];
  }
  if (!ok) {
    char sa[160], sb[160];
    shape_str(a, sa, sizeof sa);
    shape_str(b, sb, sizeof sb);
    return rt__errorf(err, RT_ERR_SHAPE, "node '%s' (%s): incompatible element shapes %s and %s",
                      nd->name, nd->op_name, sa, sb);
  }
  *out = r;
  return RT_OK;
}

static bool shape_full(const flow_shape *s) {
  if (s->rank < 0)
    return false;
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] < 0)
      return false;
  return true;
}

/* inferElementShape: the list's shape, the op's shape, then the elements fill in unknowns. */
static rt_status shape_infer(const rt_node *nd, const flow_res *r, const flow_shape *es,
                             flow_shape *out, rt_error *err) {
  flow_shape p;
  rt_status st = shape_merge(nd, &r->es, es, &p, err);
  if (st != RT_OK)
    return st;
  if (!shape_full(&p)) {
    if (r->n == 0)
      return rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): element shape of an empty list is not fully defined",
                        nd->name, nd->op_name);
    for (int64_t i = 0; i < r->n; i++) {
      if (!r->items[i].set)
        continue;
      flow_shape ts = shape_of(&r->items[i].t);
      if ((st = shape_merge(nd, &ts, &p, &p, err)) != RT_OK)
        return st;
    }
    if (!shape_full(&p))
      return rt__errorf(err, RT_ERR_SHAPE, "node '%s' (%s): element shape is not fully defined",
                        nd->name, nd->op_name);
  }
  *out = p;
  return RT_OK;
}

/* An input TF.js reads as a 'shape' param: a scalar means unknown rank, a vector the dims. */
static rt_status shape_input(const rt_node *nd, const rt_tensor *t, flow_shape *out,
                             rt_error *err) {
  if (t->rank == 0) {
    out->rank = -1;
    return RT_OK;
  }
  if (t->rank != 1 || t->dtype == RT_DT_STRING)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): element shape must be a scalar or a vector", nd->name,
                      nd->op_name);
  if (t->dims[0] >= RT_MAX_RANK)
    return rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "node '%s' (%s): element shape has rank %lld (at most %d)", nd->name,
                      nd->op_name, (long long)t->dims[0], RT_MAX_RANK - 1);
  out->rank = (int)t->dims[0];
  for (int i = 0; i < out->rank; i++)
    out->dims[i] = rt__tensor_get_int(t, i);
  return RT_OK;
}

/* A 'number' param: element 0, whatever the rank. */
static rt_status num_input(const rt_node *nd, const rt_tensor *t, const char *what, int64_t *v,
                           rt_error *err) {
  if (rt_tensor_numel(t) < 1 || t->dtype == RT_DT_STRING)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): %s is empty", nd->name, nd->op_name,
                      what);
  if (t->dtype == RT_DT_F32) {
    float x = ((const float *)t->data)[0];
    if (!(x >= -9e15f && x <= 9e15f))
      return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): %s is not a finite number",
                        nd->name, nd->op_name, what);
  }
  *v = rt__tensor_get_int(t, 0);
  return RT_OK;
}

/* A 'number[]' param: a vector. */
static rt_status vec_input(const rt_node *nd, const rt_tensor *t, const char *what, rt_error *err) {
  if (t->rank != 1 || t->dtype == RT_DT_STRING)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): %s must be a vector", nd->name,
                      nd->op_name, what);
  return RT_OK;
}

/* TF.js reads a Switch predicate as `(await pred.data())[0]`: truthy, NaN false. */
static bool pred_true(const rt_tensor *t) {
  if (rt_tensor_numel(t) < 1)
    return false;
  switch (t->dtype) {
  case RT_DT_F32: {
    float x = ((const float *)t->data)[0];
    return x == x && x != 0.0f;
  }
  case RT_DT_I32: return ((const int32_t *)t->data)[0] != 0;
  case RT_DT_BOOL: return ((const uint8_t *)t->data)[0] != 0;
  default: return false;
  }
}

/* ---- analysis: used nodes, global values, frames, edge classes ---- */
static int frame_get(rt_flow *f, int parent, const char *name) {
  for (int i = 1; i < f->n_frames; i++)
    if (f->frames[i].parent == parent && !strcmp(f->frames[i].name, name))
      return i;
  if (f->n_frames == f->cap_frames) {
    int cap = f->cap_frames ? 2 * f->cap_frames : 8;
    flow_frame *nf = realloc(f->frames, (size_t)cap * sizeof *nf);
    if (!nf)
      return -1;
    f->frames = nf;
    f->cap_frames = cap;
  }
  flow_frame *fr = &f->frames[f->n_frames];
  memset(fr, 0, sizeof *fr);
  fr->parent = parent;
  fr->depth = parent >= 0 ? f->frames[parent].depth + 1 : 0;
  fr->name = name;
  return f->n_frames++;
}

/* a is b or encloses it */
static bool frame_encloses(const rt_flow *f, int a, int b) {
  while (b >= 0 && f->frames[b].depth > f->frames[a].depth)
    b = f->frames[b].parent;
  return b == a;
}

/* Keeps the deeper of *acc and b; false when they sit in unrelated frames. */
static bool frame_fold(const rt_flow *f, int *acc, int b) {
  if (*acc < 0 || frame_encloses(f, *acc, b)) {
    *acc = b;
    return true;
  }
  return frame_encloses(f, b, *acc);
}

static const char *frame_label(const rt_flow *f, int fr) {
  return fr <= 0 ? "(root)" : f->frames[fr].name;
}

static int kind_of(const char *op) {
  for (size_t i = 0; i < sizeof FLOW_KINDS / sizeof FLOW_KINDS[0]; i++)
    if (!strcmp(FLOW_KINDS[i].op, op))
      return FLOW_KINDS[i].kind;
  return FK_OP;
}

/* Re-creates frame `id` of an earlier pass (by its path of names) in the current table. */
static int frame_from_old(rt_flow *f, const flow_frame *old, int id) {
  if (id <= 0)
    return 0;
  int p = frame_from_old(f, old, old[id].parent);
  return p < 0 ? -1 : frame_get(f, p, old[id].name);
}

/* One pass of frame assignment in topological order. An Enter whose inputs are all global
 * (Enter of a Const) cannot tell its parent frame from its inputs; `old` (the previous pass)
 * then supplies the parent that a determined Enter of the same frame name found. */
static rt_status assign_frames(rt_flow *f, const flow_frame *old, int n_old, rt_error *err) {
  const rt_graph *g = f->g;
  const rt_model *m = f->m;
  f->n_frames = 0;
  if (frame_get(f, -1, "") != 0)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory analysing control flow", g->path);
  for (int i = 0; i < f->n_nodes; i++)
    if (!f->nodes[i].global)
      f->nodes[i].sched = f->nodes[i].out = -2;
  for (int pos = 0; pos < m->n_order; pos++) {
    int y = m->order[pos];
    flow_node *fy = &f->nodes[y];
    const rt_node *nd = &g->nodes[y];
    if (!fy->used || fy->global)
      continue;
    int deep = -1;
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      int x = j < nd->n_inputs ? nd->inputs[j].node : nd->ctrl[j - nd->n_inputs];
      const flow_node *fx = &f->nodes[x];
      if (fx->global)
        continue;
      if (fx->kind == FK_NEXT && fy->kind == FK_MERGE)
        continue; /* loop back-edge: checked once every frame is known */
      if (fx->out < 0)
        return rt__errorf(err, RT_ERR_PARSE,
                          "%s: node '%s' reads '%s', which only a Merge may read (loop back-edge)",
                          g->path, nd->name, g->nodes[x].name);
      if (!frame_fold(f, &deep, fx->out))
        return rt__errorf(err, RT_ERR_PARSE,
                          "%s: node '%s' mixes inputs from unrelated loop frames ('%s' and '%s')",
                          g->path, nd->name, frame_label(f, deep), frame_label(f, fx->out));
    }
    switch (fy->kind) {
    case FK_INPUT: fy->sched = fy->out = 0; break;
    case FK_ENTER: {
      if (deep < 0 && nd->n_inputs > 0) {
        /* TF pins a loop body's Consts to the loop with a control edge from its pivot; that
         * edge tells which frame an Enter of such a Const starts from. */
        const rt_node *src = &g->nodes[nd->inputs[0].node];
        for (int c = 0; c < src->n_ctrl; c++) {
          const flow_node *fc = &f->nodes[src->ctrl[c]];
          if (!fc->global && fc->out >= 0 && !frame_fold(f, &deep, fc->out))
            deep = -1;
        }
      }
      const char *name = rt__attr_str(nd, "frame_name", NULL);
      if (!name || !*name)
        return rt__errorf(err, RT_ERR_PARSE, "%s: node '%s' (Enter): missing 'frame_name'", g->path,
                          nd->name);
      fy->determined = deep >= 0;
      int parent = deep;
      if (parent < 0) {
        parent = 0;
        for (int i = 1; i < n_old; i++)
          if (old[i].determined && !strcmp(old[i].name, name)) {
            parent = frame_from_old(f, old, old[i].parent);
            break;
          }
        if (!old)
          for (int i = 1; i < f->n_frames; i++)
            if (!strcmp(f->frames[i].name, name)) {
              parent = f->frames[i].parent;
              break;
            }
      }
      if (parent < 0)
        return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory analysing control flow", g->path);
      if (f->frames[parent].depth >= FLOW_MAX_DEPTH)
        return rt__errorf(err, RT_ERR_UNSUPPORTED,
                          "%s: node '%s' (Enter): loops nested more than %d deep", g->path,
                          nd->name, FLOW_MAX_DEPTH);
      int child = frame_get(f, parent, name);
      if (child < 0)
        return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory analysing control flow", g->path);
      if (fy->determined)
        f->frames[child].determined = true;
      fy->sched = parent;
      fy->out = fy->child = child;
      break;
    }
    case FK_EXIT:
      if (deep <= 0)
        return rt__errorf(err, RT_ERR_PARSE, "%s: node '%s' (Exit) is not inside a loop frame",
                          g->path, nd->name);
      fy->sched = deep;
      fy->out = f->frames[deep].parent;
      break;
    case FK_NEXT:
      if (deep <= 0)
        return rt__errorf(err, RT_ERR_PARSE,
                          "%s: node '%s' (NextIteration) is not inside a loop frame", g->path,
                          nd->name);
      fy->sched = fy->out = deep;
      break;
    default: fy->sched = fy->out = deep < 0 ? 0 : deep; break;
    }
  }
  return RT_OK;
}

/* Fills per-node attributes the executor needs (prepare() already validated them). */
static void read_attrs(flow_node *fy, const rt_node *nd) {
  fy->dtype = RT_DT_COUNT;
  fy->eshape.rank = -1;
  switch (fy->kind) {
  case FK_ENTER: fy->is_const_enter = rt__attr_bool(nd, "is_constant", false); break;
  case FK_TA_NEW: {
    fy->dtype = rt__attr_type(nd, "dtype", RT_DT_COUNT);
    const rt_attr *a = rt__attr_find(nd, "element_shape");
    if (a && a->kind == RT_ATTR_SHAPE && a->shape.rank < RT_MAX_RANK)
      fy->eshape = a->shape;
    /* TF.js reads these without defaults: absent means false */
    fy->dynamic_size = rt__attr_bool(nd, "dynamic_size", false);
    fy->clear_after_read = rt__attr_bool(nd, "clear_after_read", false);
    break;
  }
  case FK_TA_GATHER:
  case FK_TA_CONCAT: fy->dtype = rt__attr_type(nd, "dtype", RT_DT_COUNT); break;
  case FK_TL_RESERVE:
  case FK_TL_EMPTY:
  case FK_TL_FROM:
  case FK_TL_SET:
  case FK_TL_GET:
  case FK_TL_STACK:
  case FK_TL_GATHER:
  case FK_TL_PUSH:
  case FK_TL_POP: fy->dtype = rt__attr_type(nd, "element_dtype", RT_DT_COUNT); break;
  default: break;
  }
}

static int *int_array(size_t n) { return calloc(n ? n : 1, sizeof(int)); }

static rt_status analyze(rt_flow *f, rt_error *err) {
  const rt_model *m = f->m;
  const rt_graph *g = f->g;
  int n = g->n_nodes;
  rt_status st = RT_OK;
  int *stack = int_array((size_t)n);
  flow_frame *old = NULL;
  if (!stack)
    goto oom;

  /* Used nodes: everything the outputs reach through data and control inputs. */
  int sp = 0;
  for (int i = 0; i < g->n_outputs; i++) {
    int x = g->outputs[i].ref.node;
    if (!f->nodes[x].used) {
      f->nodes[x].used = true;
      stack[sp++] = x;
    }
  }
  while (sp > 0) {
    const rt_node *nd = &g->nodes[stack[--sp]];
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      int x = j < nd->n_inputs ? nd->inputs[j].node : nd->ctrl[j - nd->n_inputs];
      if (!f->nodes[x].used) {
        f->nodes[x].used = true;
        stack[sp++] = x;
      }
    }
  }

  /* Kinds, attributes, global values (topological order, so inputs come first). */
  int n_seen = 0;
  for (int pos = 0; pos < m->n_order; pos++) {
    int y = m->order[pos];
    flow_node *fy = &f->nodes[y];
    const rt_node *nd = &g->nodes[y];
    if (!fy->used)
      continue;
    n_seen++;
    if (!nd->op) {
      st = rt__errorf(err, RT_ERR_UNSUPPORTED, "%s: node '%s': unsupported op '%s'", g->path,
                      nd->name, nd->op_name);
      goto done;
    }
    fy->kind = (unsigned char)kind_of(nd->op_name);
    if (fy->kind == FK_OP && (nd->op->flags & RT_OP_CONTROL)) {
      st = rt__errorf(err, RT_ERR_UNSUPPORTED,
                      "%s: node '%s': op '%s' has no control-flow implementation", g->path,
                      nd->name, nd->op_name);
      goto done;
    }
    read_attrs(fy, nd);
    if (fy->kind == FK_CONST) {
      fy->global = true;
    } else if ((fy->kind == FK_OP || fy->kind == FK_IDENTITY) &&
               !(nd->op->flags & (RT_OP_NOFOLD | RT_OP_CONTROL)) && nd->n_inputs + nd->n_ctrl > 0) {
      bool all = true;
      for (int j = 0; j < nd->n_inputs + nd->n_ctrl && all; j++) {
        int x = j < nd->n_inputs ? nd->inputs[j].node : nd->ctrl[j - nd->n_inputs];
        all = f->nodes[x].global;
      }
      if (all) {
        fy->global = true;
        f->globals[f->n_globals++] = y;
      }
    }
    if (fy->global)
      fy->sched = fy->out = -1;
    if (fy->kind == FK_INPUT) {
      fy->input_index = -1;
      for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i].ref.node == y)
          fy->input_index = i;
      if (fy->input_index < 0) {
        st = rt__errorf(err, RT_ERR_INVALID_ARG,
                        "%s: node '%s' is a Placeholder that is not a model input", g->path,
                        nd->name);
        goto done;
      }
    }
  }
  int n_used = 0;
  for (int i = 0; i < n; i++)
    n_used += f->nodes[i].used;
  if (n_seen != n_used) {
    st =
        rt__errorf(err, RT_ERR_INTERNAL, "%s: some used nodes are not in execution order", g->path);
    goto done;
  }

  /* Frames: two passes, the second resolving Enters of Consts by frame name. */
  if ((st = assign_frames(f, NULL, 0, err)) != RT_OK)
    goto done;
  old = malloc((size_t)f->n_frames * sizeof *old);
  if (!old)
    goto oom;
  memcpy(old, f->frames, (size_t)f->n_frames * sizeof *old);
  int n_old = f->n_frames;
  if ((st = assign_frames(f, old, n_old, err)) != RT_OK)
    goto done;

  /* Edge classes, back-edge checks, slot layout, pending counts. */
  int n_edges = 0;
  for (int y = 0; y < n; y++) {
    f->in_off[y] = n_edges;
    n_edges += g->nodes[y].n_inputs + g->nodes[y].n_ctrl;
  }
  f->in_off[n] = n_edges;
  f->ecls = calloc((size_t)n_edges + 1, 1);
  if (!f->ecls)
    goto oom;
  for (int y = 0; y < n; y++) {
    flow_node *fy = &f->nodes[y];
    const rt_node *nd = &g->nodes[y];
    if (!fy->used || fy->global)
      continue;
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      bool data = j < nd->n_inputs;
      int x = data ? nd->inputs[j].node : nd->ctrl[j - nd->n_inputs];
      const flow_node *fx = &f->nodes[x];
      unsigned char c;
      if (fx->kind == FK_NEXT && fy->kind != FK_MERGE) {
        st = rt__errorf(err, RT_ERR_PARSE,
                        "%s: node '%s' reads NextIteration '%s'; only a Merge may", g->path,
                        nd->name, g->nodes[x].name);
        goto done;
      }
      if (fx->global) {
        c = E_GLOBAL;
      } else if (fx->out == fy->sched) {
        c = E_SAME;
      } else if (fx->out >= 0 && fy->sched >= 0 && frame_encloses(f, fx->out, fy->sched) &&
                 fx->kind != FK_NEXT) {
        c = E_OUTER;
        if (data)
          f->pinned[f->slot_base[x] + nd->inputs[j].index] |= PIN_OUTER;
      } else {
        st = rt__errorf(err, RT_ERR_PARSE,
                        "%s: node '%s' (frame '%s') reads '%s' from frame '%s' it is not inside",
                        g->path, nd->name, frame_label(f, fy->sched), g->nodes[x].name,
                        frame_label(f, fx->out));
        goto done;
      }
      f->ecls[f->in_off[y] + j] = c;
    }
    flow_frame *fs = &f->frames[fy->sched];
    fy->lidx = fs->n_sched++;
    fy->lslot = f->frames[fy->out].n_slots;
    f->frames[fy->out].n_slots += nd->n_outputs;
    int same = 0;
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      if (f->ecls[f->in_off[y] + j] != E_SAME)
        continue;
      if (fy->kind != FK_MERGE) {
        same++;
      } else if (j < nd->n_inputs) {
        fy->n_fwd += f->nodes[nd->inputs[j].node].kind != FK_NEXT;
      }
    }
    for (int j = 0; fy->kind == FK_MERGE && j < nd->n_inputs; j++)
      if (f->ecls[f->in_off[y] + j] != E_SAME)
        fy->merge_eager = true;
    fy->pending0 = same;
    if (fy->kind == FK_ENTER) {
      f->frames[fy->child].n_enters++;
      if (fy->is_const_enter)
        fy->cidx = f->frames[fy->child].n_inv++;
    }
    if (fy->kind == FK_EXIT)
      fy->cidx = fs->n_exits++;
    if (fy->kind == FK_MERGE ? fy->merge_eager : same == 0)
      fs->n_eager++;
  }
  for (int i = 0; i < f->n_frames; i++) {
    flow_frame *fr = &f->frames[i];
    fr->inv = int_array((size_t)fr->n_inv);
    fr->exits = int_array((size_t)fr->n_exits);
    fr->eager = int_array((size_t)fr->n_eager);
    fr->pending0 = int_array((size_t)fr->n_sched);
    if (!fr->inv || !fr->exits || !fr->eager || !fr->pending0)
      goto oom;
    fr->n_eager = 0;
  }
  for (int y = 0; y < n; y++) {
    flow_node *fy = &f->nodes[y];
    if (!fy->used || fy->global)
      continue;
    flow_frame *fs = &f->frames[fy->sched];
    fs->pending0[fy->lidx] = fy->pending0;
    if (fy->kind == FK_ENTER && fy->is_const_enter)
      f->frames[fy->child].inv[fy->cidx] = y;
    if (fy->kind == FK_EXIT)
      fs->exits[fy->cidx] = y;
    if (fy->kind == FK_MERGE ? fy->merge_eager : fy->pending0 == 0)
      fs->eager[fs->n_eager++] = y;
    if (fy->kind == FK_MERGE) {
      const rt_node *nd = &g->nodes[y];
      for (int j = 0; j < nd->n_inputs; j++) {
        const flow_node *fx = &f->nodes[nd->inputs[j].node];
        if (fx->kind == FK_NEXT && fx->out != fy->sched) {
          st = rt__errorf(err, RT_ERR_PARSE,
                          "%s: node '%s' (Merge) joins NextIteration '%s' of another frame",
                          g->path, nd->name, g->nodes[nd->inputs[j].node].name);
          goto done;
        }
      }
    }
  }

  /* Same-frame consumers (CSR): data per output slot, control per node. */
  for (int y = 0; y < n; y++) {
    const rt_node *nd = &g->nodes[y];
    if (!f->nodes[y].used || f->nodes[y].global)
      continue;
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      if (f->ecls[f->in_off[y] + j] != E_SAME)
        continue;
      if (j < nd->n_inputs) {
        int slot = f->slot_base[nd->inputs[j].node] + nd->inputs[j].index;
        f->cons_off[slot + 1]++;
        f->reads0[slot]++;
      } else if (f->nodes[y].kind != FK_MERGE) {
        f->ctrl_off[nd->ctrl[j - nd->n_inputs] + 1]++;
      }
    }
  }
  for (int i = 0; i < f->n_slots; i++)
    f->cons_off[i + 1] += f->cons_off[i];
  for (int i = 0; i < n; i++)
    f->ctrl_off[i + 1] += f->ctrl_off[i];
  f->cons_node = int_array((size_t)f->cons_off[f->n_slots]);
  f->ctrl_node = int_array((size_t)f->ctrl_off[n]);
  int *fill_s = int_array((size_t)f->n_slots), *fill_n = int_array((size_t)n);
  if (!f->cons_node || !f->ctrl_node || !fill_s || !fill_n) {
    free(fill_s);
    free(fill_n);
    goto oom;
  }
  for (int y = 0; y < n; y++) {
    const rt_node *nd = &g->nodes[y];
    if (!f->nodes[y].used || f->nodes[y].global)
      continue;
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      if (f->ecls[f->in_off[y] + j] != E_SAME)
        continue;
      if (j < nd->n_inputs) {
        int slot = f->slot_base[nd->inputs[j].node] + nd->inputs[j].index;
        f->cons_node[f->cons_off[slot] + fill_s[slot]++] = y;
      } else if (f->nodes[y].kind != FK_MERGE) {
        int x = nd->ctrl[j - nd->n_inputs];
        f->ctrl_node[f->ctrl_off[x] + fill_n[x]++] = y;
      }
    }
  }
  free(fill_s);
  free(fill_n);

  /* Outputs live in the root frame (or are global) and are never dropped. */
  for (int i = 0; i < g->n_outputs; i++) {
    rt_ref r = g->outputs[i].ref;
    const flow_node *fx = &f->nodes[r.node];
    if (!fx->global && fx->out != 0) {
      st = rt__errorf(err, RT_ERR_PARSE, "%s: output '%s' (node '%s') is inside loop frame '%s'",
                      g->path, g->outputs[i].name, g->nodes[r.node].name, frame_label(f, fx->out));
      goto done;
    }
    f->pinned[f->slot_base[r.node] + r.index] |= PIN_OUTPUT;
  }
  goto done;
oom:
  st = rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory analysing control flow", g->path);
done:
  free(stack);
  free(old);
  return st;
}

/* ---- run-time states and frame instances ---- */
static rt_status oom_at(const rt_node *nd, rt_error *err) {
  return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", nd->name);
}

static flow_state *state_alloc(rt_flow *f, int frame) {
  flow_frame *fr = &f->frames[frame];
  flow_state *s = fr->spare;
  if (s) {
    fr->spare = s->next;
    fr->n_spare--;
  } else {
    size_t vo = (sizeof *s + 63) & ~(size_t)63;
    size_t no = vo + (size_t)fr->n_slots * sizeof(flow_val);
    s = malloc(no + (size_t)fr->n_sched * sizeof(flow_ns) + 1);
    if (!s)
      return NULL;
    s->vals = (flow_val *)((char *)s + vo);
    s->ns = (flow_ns *)((char *)s + no);
  }
  memset(s->vals, 0, (size_t)fr->n_slots * sizeof(flow_val));
  for (int i = 0; i < fr->n_sched; i++)
    s->ns[i] = (flow_ns){.pending = fr->pending0[i]};
  s->inst = NULL;
  s->frame = frame;
  s->iter = 0;
  s->outstanding = 0;
  s->next = NULL;
  s->kids = NULL;
  return s;
}

static void state_free(rt_flow *f, flow_state *s) {
  flow_frame *fr = &f->frames[s->frame];
  for (int i = 0; i < fr->n_slots; i++)
    buf_release(f, s->vals[i].buf);
  if (fr->n_spare < FLOW_SPARE_STATES) {
    s->next = fr->spare;
    fr->spare = s;
    fr->n_spare++;
  } else {
    free(s);
  }
}

static bool task_grow(flow_task **a, int *cap, int n) {
  if (n < *cap)
    return true;
  int nc = *cap ? *cap : 256;
  while (nc <= n) {
    if (nc > INT_MAX / 2)
      return false;
    nc *= 2;
  }
  flow_task *na = realloc(*a, (size_t)nc * sizeof *na);
  if (!na)
    return false;
  *a = na;
  *cap = nc;
  return true;
}

static rt_status push(rt_flow *f, int y, flow_state *s, rt_error *err) {
  if (f->defer) {
    if (!task_grow(&f->later, &f->cap_later, f->n_later))
      return oom_at(&f->g->nodes[y], err);
    f->later[f->n_later++] = (flow_task){y, s};
  } else {
    if (!task_grow(&f->stack, &f->cap_stack, f->sp))
      return oom_at(&f->g->nodes[y], err);
    f->stack[f->sp++] = (flow_task){y, s};
  }
  s->outstanding++;
  return RT_OK;
}

static rt_status out_set(rt_flow *f, flow_state *os, int y, int j, const rt_tensor *t,
                         flow_buf *buf, rt_error *err) {
  flow_val *v = &os->vals[f->nodes[y].lslot + j];
  if (v->state != V_ABSENT)
    return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': output %d produced twice in one iteration",
                      f->g->nodes[y].name, j);
  int slot = f->slot_base[y] + j;
  v->t = *t;
  v->buf = buf;
  v->state = V_LIVE;
  v->reads = f->pinned[slot] ? PINNED : f->reads0[slot];
  if (buf)
    buf->refs++;
  if (v->reads == 0) { /* nobody in this frame reads it (an untaken Switch side, ...) */
    buf_release(f, v->buf);
    v->buf = NULL;
    v->t.data = NULL;
  }
  return RT_OK;
}

static rt_status out_dead(rt_flow *f, flow_state *os, int y, int j, rt_error *err) {
  flow_val *v = &os->vals[f->nodes[y].lslot + j];
  if (v->state != V_ABSENT)
    return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': output %d produced twice in one iteration",
                      f->g->nodes[y].name, j);
  v->state = V_DEAD;
  return RT_OK;
}

static rt_status all_dead(rt_flow *f, flow_state *os, int y, rt_error *err) {
  rt_status st = RT_OK;
  for (int j = 0; j < f->g->nodes[y].n_outputs && st == RT_OK; j++)
    st = out_dead(f, os, y, j, err);
  return st;
}

/* One counted input of y arrived in state s. */
static rt_status arrive(rt_flow *f, flow_state *s, int y, bool dead, rt_error *err) {
  const flow_node *fy = &f->nodes[y];
  flow_ns *ns = &s->ns[fy->lidx];
  if (ns->flags & NS_QUEUED)
    return fy->kind == FK_MERGE
               ? RT_OK
               : rt__errorf(err, RT_ERR_INTERNAL, "node '%s': input arrived after it ran",
                            f->g->nodes[y].name);
  if (fy->kind == FK_MERGE) {
    if (!dead) {
      ns->flags |= NS_QUEUED;
      return push(f, y, s, err);
    }
    if (++ns->dead >= fy->n_fwd && !fy->merge_eager) {
      ns->flags |= NS_QUEUED | NS_DEAD;
      return push(f, y, s, err);
    }
    return RT_OK;
  }
  if (dead)
    ns->flags |= NS_DEAD;
  if (--ns->pending == 0) {
    ns->flags |= NS_QUEUED;
    return push(f, y, s, err);
  }
  return RT_OK;
}

/* y's outputs are set in os: tell its same-frame consumers. */
static rt_status propagate(rt_flow *f, flow_state *os, int y, bool ran_live, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  const flow_node *fy = &f->nodes[y];
  rt_status st;
  for (int j = 0; j < nd->n_outputs; j++) {
    int slot = f->slot_base[y] + j;
    bool dead = os->vals[fy->lslot + j].state != V_LIVE;
    for (int e = f->cons_off[slot]; e < f->cons_off[slot + 1]; e++)
      if ((st = arrive(f, os, f->cons_node[e], dead, err)) != RT_OK)
        return st;
  }
  /* TF.js counts a control input as present when output 0 of its source is */
  bool live = nd->n_outputs > 0 ? os->vals[fy->lslot].state == V_LIVE : ran_live;
  for (int e = f->ctrl_off[y]; e < f->ctrl_off[y + 1]; e++)
    if ((st = arrive(f, os, f->ctrl_node[e], !live, err)) != RT_OK)
      return st;
  return RT_OK;
}

static rt_status put_val(rt_flow *f, flow_state *os, int y, const flow_val *v, rt_error *err) {
  rt_status st =
      v->state == V_LIVE ? out_set(f, os, y, 0, &v->t, v->buf, err) : out_dead(f, os, y, 0, err);
  return st != RT_OK ? st : propagate(f, os, y, v->state == V_LIVE, err);
}

/* A new iteration state: loop invariants arrive, nodes with nothing to wait for start. */
static rt_status state_start(rt_flow *f, flow_state *s, rt_error *err) {
  const flow_frame *fr = &f->frames[s->frame];
  rt_status st;
  for (int i = 0; s->inst && i < fr->n_inv; i++)
    if (s->inst->inv[i].state != V_ABSENT &&
        (st = put_val(f, s, fr->inv[i], &s->inst->inv[i], err)) != RT_OK)
      return st;
  for (int i = 0; i < fr->n_eager; i++) {
    flow_ns *ns = &s->ns[f->nodes[fr->eager[i]].lidx];
    if (ns->flags & NS_QUEUED)
      continue;
    ns->flags |= NS_QUEUED;
    if ((st = push(f, fr->eager[i], s, err)) != RT_OK)
      return st;
  }
  return RT_OK;
}

static void inst_free(rt_flow *f, flow_inst *I) {
  for (flow_state *s = I->first, *nx; s; s = nx) {
    nx = s->next;
    state_free(f, s);
  }
  for (int i = 0; i < f->frames[I->frame].n_inv; i++)
    buf_release(f, I->inv[i].buf);
  if (I->all_prev)
    I->all_prev->all_next = I->all_next;
  else
    f->insts = I->all_next;
  if (I->all_next)
    I->all_next->all_prev = I->all_prev;
  free(I->inv);
  free(I->exit_done);
  free(I);
}

/* The instance of `frame` started from parent state ps, created on first use. */
static rt_status inst_get(rt_flow *f, flow_state *ps, int frame, int y, flow_inst **out,
                          rt_error *err) {
  for (flow_inst *I = ps->kids; I; I = I->sib)
    if (I->frame == frame) {
      *out = I;
      return RT_OK;
    }
  const flow_frame *fr = &f->frames[frame];
  flow_inst *I = calloc(1, sizeof *I);
  if (!I)
    return oom_at(&f->g->nodes[y], err);
  I->inv = calloc((size_t)fr->n_inv + 1, sizeof *I->inv);
  I->exit_done = calloc((size_t)fr->n_exits + 1, 1);
  flow_state *s0 = state_alloc(f, frame);
  if (!I->inv || !I->exit_done || !s0) {
    free(I->inv);
    free(I->exit_done);
    free(I);
    if (s0)
      state_free(f, s0);
    return oom_at(&f->g->nodes[y], err);
  }
  I->frame = frame;
  I->parent = ps;
  I->pending_enters = fr->n_enters;
  I->sib = ps->kids;
  ps->kids = I;
  I->all_next = f->insts;
  if (f->insts)
    f->insts->all_prev = I;
  f->insts = I;
  ps->outstanding++;
  s0->inst = I;
  I->first = I->last = s0;
  I->n_iters = 1;
  *out = I;
  return state_start(f, s0, err);
}

/* Every Enter arrived and no iteration has work: Exits that never fired go out dead. */
static rt_status inst_complete(rt_flow *f, flow_inst *I, rt_error *err) {
  flow_state *ps = I->parent;
  const flow_frame *fr = &f->frames[I->frame];
  rt_status st;
  for (int e = 0; e < fr->n_exits; e++) {
    if (I->exit_done[e])
      continue;
    int y = fr->exits[e];
    if ((st = out_dead(f, ps, y, 0, err)) != RT_OK || (st = propagate(f, ps, y, false, err)))
      return st;
  }
  for (flow_inst **pp = &ps->kids; *pp; pp = &(*pp)->sib)
    if (*pp == I) {
      *pp = I->sib;
      break;
    }
  inst_free(f, I);
  ps->outstanding--;
  return RT_OK;
}

/* Frees finished iterations from the front and completes instances, walking outwards. */
static rt_status inst_settle(rt_flow *f, flow_inst *I, rt_error *err) {
  while (I && I->pending_enters == 0) {
    while (I->first->outstanding == 0 && I->first->next) {
      flow_state *s = I->first;
      I->first = s->next;
      state_free(f, s);
    }
    if (I->first->outstanding != 0)
      return RT_OK;
    flow_state *ps = I->parent;
    rt_status st = inst_complete(f, I, err);
    if (st != RT_OK)
      return st;
    I = ps->outstanding == 0 ? ps->inst : NULL;
  }
  return RT_OK;
}

/* The state of the next iteration, created by the first NextIteration that needs it. */
static rt_status state_next(rt_flow *f, flow_state *s, int y, flow_state **out, rt_error *err) {
  if (s->next) {
    *out = s->next;
    return RT_OK;
  }
  flow_inst *I = s->inst;
  if (I->n_iters >= FLOW_MAX_ITERS)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': loop frame '%s' ran more than %lld iterations",
                      f->g->nodes[y].name, f->frames[I->frame].name, (long long)FLOW_MAX_ITERS);
  flow_state *ns = state_alloc(f, s->frame);
  if (!ns)
    return oom_at(&f->g->nodes[y], err);
  ns->inst = I;
  ns->iter = s->iter + 1;
  I->last->next = ns;
  I->last = ns;
  I->n_iters++;
  *out = ns;
  return state_start(f, ns, err);
}

/* ---- inputs ---- */
static flow_state *enclosing(flow_state *s, int frame) {
  while (s && s->frame != frame)
    s = s->inst ? s->inst->parent : NULL;
  return s;
}

/* The value slot an E_SAME / E_OUTER input reads; NULL when the enclosing state is gone. */
static const flow_val *input_slot(rt_flow *f, flow_state *s, int x, int index, int cls) {
  const flow_node *fx = &f->nodes[x];
  flow_state *t = cls == E_SAME ? s : enclosing(s, fx->out);
  return t ? &t->vals[fx->lslot + index] : NULL;
}

static rt_status input_ref(rt_flow *f, int y, int j, flow_state *s, flow_ref *r, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  rt_ref in = nd->inputs[j];
  int cls = f->ecls[f->in_off[y] + j];
  if (cls == E_GLOBAL) {
    r->t = f->nodes[in.node].kind == FK_CONST ? f->g->nodes[in.node].value
                                              : f->gvals[f->slot_base[in.node] + in.index];
    if (!r->t.data)
      r->t.data = f->dummy;
    r->buf = NULL;
    r->state = V_LIVE;
    return RT_OK;
  }
  const flow_val *v = input_slot(f, s, in.node, in.index, cls);
  if (!v || v->state == V_ABSENT)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': input %d ('%s') has no value in this frame and iteration "
                      "(read from an enclosing frame before it was computed)",
                      nd->name, j, f->g->nodes[in.node].name);
  if (v->state == V_LIVE && !v->t.data)
    return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': input %d ('%s') was freed before use",
                      nd->name, j, f->g->nodes[in.node].name);
  r->t = v->t;
  r->buf = v->buf;
  r->state = v->state;
  return RT_OK;
}

/* Reads from enclosing frames are not counted as pending: check them now. */
static rt_status outer_inputs_dead(rt_flow *f, int y, flow_state *s, bool *dead, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  for (int j = 0; j < nd->n_inputs + nd->n_ctrl && !*dead; j++) {
    if (f->ecls[f->in_off[y] + j] != E_OUTER)
      continue;
    if (j < nd->n_inputs) {
      flow_ref r;
      rt_status st = input_ref(f, y, j, s, &r, err);
      if (st != RT_OK)
        return st;
      *dead = r.state != V_LIVE;
    } else {
      int x = nd->ctrl[j - nd->n_inputs];
      if (f->g->nodes[x].n_outputs == 0)
        continue;
      const flow_val *v = input_slot(f, s, x, 0, E_OUTER);
      if (!v || v->state == V_ABSENT)
        return rt__errorf(err, RT_ERR_INVALID_ARG,
                          "node '%s': control input '%s' from an enclosing frame has not run",
                          nd->name, f->g->nodes[x].name);
      *dead = v->state != V_LIVE;
    }
  }
  return RT_OK;
}

/* Every input is live here (the node is not dead): gather them for a kernel or resource op. */
static rt_status gather(rt_flow *f, int y, flow_state *s, flow_buf **bufs, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  for (int j = 0; j < nd->n_inputs; j++) {
    flow_ref r;
    rt_status st = input_ref(f, y, j, s, &r, err);
    if (st != RT_OK)
      return st;
    if (r.state != V_LIVE)
      return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': input %d is dead", nd->name, j);
    f->kin[j] = r.t;
    bufs[j] = r.buf;
  }
  return RT_OK;
}

/* Slots drop their block once the last same-frame reader has run. */
static void consume(rt_flow *f, int y, flow_state *s) {
  const rt_node *nd = &f->g->nodes[y];
  for (int j = 0; j < nd->n_inputs; j++) {
    if (f->ecls[f->in_off[y] + j] != E_SAME)
      continue;
    flow_val *v = &s->vals[f->nodes[nd->inputs[j].node].lslot + nd->inputs[j].index];
    if (v->state == V_LIVE && v->reads != PINNED && v->reads > 0 && --v->reads == 0) {
      buf_release(f, v->buf);
      v->buf = NULL;
      v->t.data = NULL;
    }
  }
}

/* ---- outputs ---- */
static flow_buf *out_alloc(rt_flow *f, int y, rt_tensor *t, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  int64_t numel;
  if (t->rank < 0 || t->rank > RT_MAX_RANK || !rt__checked_numel(t->dims, t->rank, &numel)) {
    rt__errorf(err, RT_ERR_SHAPE, "node '%s': output has too many elements", nd->name);
    return NULL;
  }
  flow_buf *b = buf_get(f, rt_tensor_nbytes(t), nd, err);
  if (b)
    t->data = b->data;
  return b;
}

static rt_status out_commit(rt_flow *f, flow_state *s, int y, int j, const rt_tensor *t,
                            flow_buf *b, rt_error *err) {
  rt_status st = out_set(f, s, y, j, t, b, err);
  if (st != RT_OK)
    buf_drop_unheld(f, b);
  return st;
}

static rt_status out_scalar(rt_flow *f, flow_state *s, int y, int j, rt_dtype dt, double v,
                            rt_error *err) {
  rt_tensor t = {.dtype = dt, .rank = 0};
  flow_buf *b = out_alloc(f, y, &t, err);
  if (!b)
    return err->code;
  if (dt == RT_DT_F32)
    *(float *)t.data = (float)v;
  else
    *(int32_t *)t.data = (int32_t)v;
  return out_commit(f, s, y, j, &t, b, err);
}

/* ---- kernels ---- */
static rt_status run_kernel(rt_flow *f, int y, flow_state *s, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  int n_out = nd->n_outputs;
  for (int j = 0; j < n_out; j++) {
    f->kout[j] = (rt_tensor){0};
    f->obuf[j] = NULL;
  }
  rt_kctx k = {.node = nd,
               .params = nd->params,
               .n_in = nd->n_inputs,
               .in = f->kin,
               .n_out = n_out,
               .out = f->kout,
               .err = err};
  rt_status st = nd->op->shape(&k);
  if (st == RT_ERR_NEED_VALUE)
    return rt__errorf(err, RT_ERR_INTERNAL,
                      "node '%s': output shape unknown with every input known", nd->name);
  if (st != RT_OK)
    return st;
  flow_buf *sb = NULL;
  for (int j = 0; j < n_out && st == RT_OK; j++)
    if (!(f->obuf[j] = out_alloc(f, y, &f->kout[j], err)))
      st = err->code;
  if (st == RT_OK && k.scratch_bytes) {
    if ((sb = buf_get(f, k.scratch_bytes, nd, err)))
      k.scratch = sb->data;
    else
      st = err->code;
  }
  if (st == RT_OK)
    st = nd->op->run(&k);
  buf_drop_unheld(f, sb);
  for (int j = 0; j < n_out && st == RT_OK; j++)
    if ((st = out_set(f, s, y, j, &f->kout[j], f->obuf[j], err)) == RT_OK)
      f->obuf[j] = NULL; /* the slot holds it now (or already dropped it) */
  for (int j = 0; j < n_out; j++)
    buf_drop_unheld(f, f->obuf[j]);
  return st != RT_OK ? st : propagate(f, s, y, true, err);
}

/* Nodes computed from Consts alone: once per flow object, like constant folding. */
static void globals_free(rt_flow *f) {
  for (int i = 0; i < f->n_gmem; i++)
    free(f->gmem[i]);
  f->n_gmem = 0;
  f->globals_ready = false;
}

static rt_status compute_globals(rt_flow *f, rt_error *err) {
  const rt_graph *g = f->g;
  size_t total = 0;
  rt_status st = RT_OK;
  for (int gi = 0; gi < f->n_globals && st == RT_OK; gi++) {
    int y = f->globals[gi];
    const rt_node *nd = &g->nodes[y];
    for (int j = 0; j < nd->n_inputs; j++) {
      rt_ref in = nd->inputs[j];
      f->kin[j] = f->nodes[in.node].kind == FK_CONST ? g->nodes[in.node].value
                                                     : f->gvals[f->slot_base[in.node] + in.index];
      if (!f->kin[j].data)
        f->kin[j].data = f->dummy;
    }
    for (int j = 0; j < nd->n_outputs; j++)
      f->kout[j] = (rt_tensor){0};
    rt_kctx k = {.node = nd,
                 .params = nd->params,
                 .n_in = nd->n_inputs,
                 .in = f->kin,
                 .n_out = nd->n_outputs,
                 .out = f->kout,
                 .err = err};
    if ((st = nd->op->shape(&k)) != RT_OK) {
      if (st == RT_ERR_NEED_VALUE)
        st = rt__errorf(err, RT_ERR_INTERNAL, "node '%s': output shape unknown from constants",
                        nd->name);
      break;
    }
    for (int j = 0; j < nd->n_outputs && st == RT_OK; j++) {
      int64_t numel;
      if (!rt__checked_numel(f->kout[j].dims, f->kout[j].rank, &numel)) {
        st = rt__errorf(err, RT_ERR_SHAPE, "node '%s': output has too many elements", nd->name);
        break;
      }
      size_t bytes = (rt_tensor_nbytes(&f->kout[j]) + 63) & ~(size_t)63;
      total += bytes + 64;
      void *mem = total <= FLOW_MAX_BYTES ? aligned_alloc(64, bytes + 64) : NULL;
      if (!mem) {
        st = rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory for a constant value",
                        nd->name);
        break;
      }
      f->gmem[f->n_gmem++] = mem;
      f->kout[j].data = mem;
    }
    void *scratch = NULL;
    if (st == RT_OK && k.scratch_bytes &&
        !(scratch = k.scratch = aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63)))
      st = rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory for scratch", nd->name);
    if (st == RT_OK)
      st = nd->op->run(&k);
    free(scratch);
    for (int j = 0; j < nd->n_outputs && st == RT_OK; j++)
      f->gvals[f->slot_base[y] + j] = f->kout[j];
  }
  if (st != RT_OK) {
    globals_free(f);
    return st;
  }
  f->globals_ready = true;
  return RT_OK;
}

/* ---- TensorArray / TensorList resources (tensor_array.js, tensor_list.js) ---- */
static rt_status res_new(rt_flow *f, const rt_node *nd, bool list, int *id, rt_error *err) {
  if (f->n_res >= FLOW_MAX_RES)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': more than %d TensorArrays/TensorLists in one run", nd->name,
                      FLOW_MAX_RES);
  if (f->n_res == f->cap_res) {
    int cap = f->cap_res ? 2 * f->cap_res : 16;
    flow_res *nr = realloc(f->res, (size_t)cap * sizeof *nr);
    if (!nr)
      return oom_at(nd, err);
    f->res = nr;
    f->cap_res = cap;
  }
  flow_res *r = &f->res[f->n_res];
  memset(r, 0, sizeof *r);
  r->is_list = list;
  r->es.rank = -1;
  r->max_size = -1;
  *id = f->n_res++;
  return RT_OK;
}

static void res_clear(rt_flow *f, flow_res *r) {
  for (int64_t i = 0; i < r->n; i++)
    buf_release(f, r->items[i].buf);
  free(r->items);
  r->items = NULL;
  r->n = r->cap = 0;
}

static void res_reset(rt_flow *f) {
  for (int i = 0; i < f->n_res; i++)
    res_clear(f, &f->res[i]);
  f->n_res = 0;
}

static const char *res_kind(bool list) { return list ? "TensorList" : "TensorArray"; }

static rt_status res_of(rt_flow *f, const rt_node *nd, int j, bool list, flow_res **out,
                        rt_error *err) {
  const rt_tensor *h = &f->kin[j];
  int64_t id = -1;
  if (h->dtype == RT_DT_I32 && rt_tensor_numel(h) == 1)
    id = ((const int32_t *)h->data)[0];
  if (id < 0 || id >= f->n_res || f->res[id].is_list != list)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): input %d is not a %s handle",
                      nd->name, nd->op_name, j, res_kind(list));
  *out = &f->res[id];
  return RT_OK;
}

static rt_status dtype_match(const rt_node *nd, rt_dtype want, rt_dtype got, rt_error *err) {
  if (want == got)
    return RT_OK;
  return rt__errorf(err, RT_ERR_INVALID_ARG,
                    "node '%s' (%s): invalid data types; op elements %s, but list elements %s",
                    nd->name, nd->op_name, want == RT_DT_COUNT ? "(none)" : rt_dtype_name(want),
                    rt_dtype_name(got));
}

/* Stores t (sharing its block) at idx, growing the element array. */
static rt_status item_store(rt_flow *f, const rt_node *nd, flow_res *r, int64_t idx,
                            const rt_tensor *t, flow_buf *buf, rt_error *err) {
  if (idx >= FLOW_MAX_ELEMS)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): index %lld exceeds the limit of %lld elements", nd->name,
                      nd->op_name, (long long)idx, (long long)FLOW_MAX_ELEMS);
  if (idx >= r->cap) {
    int64_t cap = r->cap ? r->cap : 8;
    while (cap <= idx)
      cap *= 2;
    flow_item *ni = realloc(r->items, (size_t)cap * sizeof *ni);
    if (!ni)
      return oom_at(nd, err);
    memset(ni + r->cap, 0, (size_t)(cap - r->cap) * sizeof *ni);
    r->items = ni;
    r->cap = cap;
  }
  flow_item *it = &r->items[idx];
  if (buf)
    buf->refs++;
  buf_release(f, it->buf);
  it->t = *t;
  it->buf = buf;
  it->set = true;
  if (idx >= r->n)
    r->n = idx + 1;
  return RT_OK;
}

/* A private copy of row i of t (rank >= 1): TensorArray/List elements come from unstack. */
static rt_status row_copy(rt_flow *f, int y, const rt_tensor *t, int64_t i, rt_tensor *row,
                          flow_buf **b, rt_error *err) {
  *row = (rt_tensor){.dtype = t->dtype, .rank = t->rank - 1};
  for (int d = 1; d < t->rank; d++)
    row->dims[d - 1] = t->dims[d];
  if (!(*b = out_alloc(f, y, row, err)))
    return err->code;
  size_t bytes = rt_tensor_nbytes(row);
  if (bytes)
    memcpy(row->data, (const char *)t->data + (size_t)i * bytes, bytes);
  return RT_OK;
}

static rt_status ta_write(rt_flow *f, const rt_node *nd, flow_res *r, int64_t idx,
                          const rt_tensor *t, flow_buf *buf, rt_error *err) {
  if (r->closed)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): TensorArray has already been closed", nd->name, nd->op_name);
  if (idx < 0 || (!r->dynamic && idx >= r->max_size))
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): tried to write to index %lld, but array is not resizeable "
                      "and size is %lld",
                      nd->name, nd->op_name, (long long)idx, (long long)r->max_size);
  if (t->dtype != r->dtype)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): could not write to index %lld: value dtype is %s, but "
                      "TensorArray dtype is %s",
                      nd->name, nd->op_name, (long long)idx, rt_dtype_name(t->dtype),
                      rt_dtype_name(r->dtype));
  flow_shape ts = shape_of(t);
  if (r->n == 0 && r->es.rank <= 0) /* TF.js: first write to an unknown (or []) shape */
    r->es = ts;
  rt_status st = shape_check(nd, &r->es, &ts, err);
  if (st != RT_OK)
    return st;
  if (idx < r->n && r->items[idx].read)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): could not write to index %lld, it has already been read",
                      nd->name, nd->op_name, (long long)idx);
  if (idx < r->n && r->items[idx].set)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): could not write to index %lld, it has already been written",
                      nd->name, nd->op_name, (long long)idx);
  return item_store(f, nd, r, idx, t, buf, err);
}

static rt_status ta_read(const rt_node *nd, flow_res *r, int64_t idx, flow_item **out,
                         rt_error *err) {
  if (r->closed)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): TensorArray has already been closed", nd->name, nd->op_name);
  if (idx < 0 || idx >= r->n)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): tried to read from index %lld, but array size is %lld",
                      nd->name, nd->op_name, (long long)idx, (long long)r->n);
  flow_item *it = &r->items[idx];
  if (!it->set)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): index %lld was never written",
                      nd->name, nd->op_name, (long long)idx);
  if (it->cleared)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s' (%s): could not read index %lld twice because it was cleared "
                      "after a previous read",
                      nd->name, nd->op_name, (long long)idx);
  if (r->clear_after_read)
    it->cleared = true;
  it->read = true;
  *out = it;
  return RT_OK;
}

/* A cleared element is never read again: its block can go once the reader holds it. */
static void ta_drop_cleared(rt_flow *f, flow_item *it) {
  if (it->cleared && it->buf) {
    buf_release(f, it->buf);
    it->buf = NULL;
    it->t.data = NULL;
  }
}

/* Stacks items (already checked to share `es`, rank < RT_MAX_RANK) along a new axis 0. */
static rt_status stack_out(rt_flow *f, flow_state *s, int y, int j, rt_dtype dt,
                           const flow_shape *es, flow_item **items, int64_t n, rt_error *err) {
  rt_tensor t = {.dtype = dt, .rank = es->rank + 1, .dims = {n}};
  for (int d = 0; d < es->rank; d++)
    t.dims[d + 1] = es->dims[d];
  flow_buf *b = out_alloc(f, y, &t, err);
  if (!b)
    return err->code;
  size_t bytes = n ? rt_tensor_nbytes(&t) / (size_t)n : 0;
  for (int64_t i = 0; i < n && bytes; i++)
    memcpy((char *)t.data + (size_t)i * bytes, items[i]->t.data, bytes);
  return out_commit(f, s, y, j, &t, b, err);
}

static rt_status empty_out(rt_flow *f, flow_state *s, int y, int j, rt_dtype dt,
                           const flow_shape *es, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  if (!shape_full(es) || es->rank >= RT_MAX_RANK)
    return rt__errorf(
        err, RT_ERR_SHAPE,
        "node '%s' (%s): empty result with an element shape that is not fully defined", nd->name,
        nd->op_name);
  return stack_out(f, s, y, j, dt, es, NULL, 0, err);
}

static bool same_dims(const rt_tensor *a, const rt_tensor *b) {
  if (a->rank != b->rank)
    return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d])
      return false;
  return true;
}

/* reshape(item, es) as TF.js does before stacking: the element count must agree. */
static rt_status reshape_check(const rt_node *nd, const rt_tensor *t, const flow_shape *es,
                               rt_error *err) {
  int64_t n = 1;
  for (int d = 0; d < es->rank; d++)
    n *= es->dims[d];
  if (n == rt_tensor_numel(t) && es->rank < RT_MAX_RANK)
    return RT_OK;
  char sa[160];
  shape_str(es, sa, sizeof sa);
  return rt__errorf(err, RT_ERR_SHAPE,
                    "node '%s' (%s): cannot reshape an element of %lld values to %s", nd->name,
                    nd->op_name, (long long)rt_tensor_numel(t), sa);
}

/* TensorArrayConcatV3: every element, concatenated on axis 0 (TF.js: concat(readMany(all))),
 * plus TensorFlow's second output, the axis-0 length of each element. */
static rt_status ta_concat(rt_flow *f, int y, flow_state *s, flow_res *r, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  int64_t n = r->n, total = 0;
  rt_tensor lt = {.dtype = RT_DT_I32, .rank = 1, .dims = {n}}, vt = {0};
  flow_buf *lb = NULL, *vb = NULL;
  rt_status st = RT_OK;
  if (n == 0) { /* TF.js: tensor([], [0, ...elementShape]) */
    if ((st = empty_out(f, s, y, 0, r->dtype, &r->es, err)) != RT_OK)
      return st;
  } else {
    flow_item **items = calloc((size_t)n, sizeof *items);
    if (!items)
      return oom_at(nd, err);
    for (int64_t i = 0; i < n && st == RT_OK; i++)
      st = ta_read(nd, r, i, &items[i], err);
    if (st == RT_OK) {
      flow_shape es0 = shape_of(&items[0]->t);
      st = shape_check(nd, &r->es, &es0, err);
    }
    if (st == RT_OK && items[0]->t.rank < 1)
      st = rt__errorf(err, RT_ERR_SHAPE, "node '%s' (%s): cannot concatenate scalars", nd->name,
                      nd->op_name);
    for (int64_t i = 0; i < n && st == RT_OK; i++) {
      const rt_tensor *t = &items[i]->t, *t0 = &items[0]->t;
      bool ok = t->rank == t0->rank;
      for (int d = 1; ok && d < t->rank; d++)
        ok = t->dims[d] == t0->dims[d];
      if (!ok)
        st = rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): element %lld does not match the others' shape", nd->name,
                        nd->op_name, (long long)i);
      total += t->dims[0];
    }
    if (st == RT_OK) {
      vt = items[0]->t;
      vt.dims[0] = total;
      if (!(vb = out_alloc(f, y, &vt, err)) || !(lb = out_alloc(f, y, &lt, err)))
        st = err->code;
    }
    for (int64_t i = 0, off = 0; i < n && st == RT_OK; i++) {
      size_t bytes = rt_tensor_nbytes(&items[i]->t);
      if (bytes)
        memcpy((char *)vt.data + off, items[i]->t.data, bytes);
      off += (int64_t)bytes;
      ((int32_t *)lt.data)[i] = (int32_t)items[i]->t.dims[0];
      ta_drop_cleared(f, items[i]);
    }
    free(items);
    if (st == RT_OK && (st = out_set(f, s, y, 0, &vt, vb, err)) == RT_OK)
      vb = NULL; /* the slot holds it now */
    if (st != RT_OK) {
      buf_drop_unheld(f, vb);
      buf_drop_unheld(f, lb);
      return st;
    }
  }
  if (!lb && !(lb = out_alloc(f, y, &lt, err)))
    return err->code;
  return out_commit(f, s, y, 1, &lt, lb, err);
}

static rt_status run_tensor_array(rt_flow *f, int y, flow_state *s, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  const flow_node *fy = &f->nodes[y];
  const rt_tensor *in = f->kin;
  flow_res *r = NULL;
  int64_t idx;
  rt_status st = RT_OK;
  if (fy->kind == FK_TA_NEW) {
    int id;
    if ((st = num_input(nd, &in[0], "size", &idx, err)) != RT_OK ||
        (st = res_new(f, nd, false, &id, err)) != RT_OK)
      return st;
    r = &f->res[id];
    r->dtype = fy->dtype;
    r->max_size = idx;
    r->es = fy->eshape;
    r->dynamic = fy->dynamic_size;
    r->clear_after_read = fy->clear_after_read;
    if ((st = out_scalar(f, s, y, 0, RT_DT_I32, id, err)) != RT_OK ||
        (st = out_scalar(f, s, y, 1, RT_DT_F32, 1.0, err)) != RT_OK)
      return st;
    return propagate(f, s, y, true, err);
  }
  if ((st = res_of(f, nd, 0, false, &r, err)) != RT_OK)
    return st;
  switch (fy->kind) {
  case FK_TA_WRITE:
    if ((st = num_input(nd, &in[1], "index", &idx, err)) != RT_OK ||
        (st = ta_write(f, nd, r, idx, &in[2], f->kinb[2], err)) != RT_OK ||
        (st = out_set(f, s, y, 0, &in[0], f->kinb[0], err)) != RT_OK)
      return st;
    break;
  case FK_TA_READ: {
    flow_item *it;
    if ((st = num_input(nd, &in[1], "index", &idx, err)) != RT_OK ||
        (st = ta_read(nd, r, idx, &it, err)) != RT_OK ||
        (st = out_set(f, s, y, 0, &it->t, it->buf, err)) != RT_OK)
      return st;
    ta_drop_cleared(f, it);
    break;
  }
  case FK_TA_GATHER: {
    if (fy->dtype != RT_DT_COUNT && fy->dtype != r->dtype)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): TensorArray dtype is %s but gather requested dtype %s",
                        nd->name, nd->op_name, rt_dtype_name(r->dtype), rt_dtype_name(fy->dtype));
    if ((st = vec_input(nd, &in[1], "indices", err)) != RT_OK)
      return st;
    int64_t n = in[1].dims[0] < r->n ? in[1].dims[0] : r->n; /* TF.js: indices.slice(0, size) */
    if (n == 0) {
      if ((st = empty_out(f, s, y, 0, r->dtype, &r->es, err)) != RT_OK)
        return st;
      break;
    }
    flow_item **items = calloc((size_t)n, sizeof *items);
    if (!items)
      return oom_at(nd, err);
    for (int64_t i = 0; i < n && st == RT_OK; i++)
      st = ta_read(nd, r, rt__tensor_get_int(&in[1], i), &items[i], err);
    flow_shape es = st == RT_OK ? shape_of(&items[0]->t) : (flow_shape){0};
    if (st == RT_OK)
      st = shape_check(nd, &r->es, &es, err);
    for (int64_t i = 1; i < n && st == RT_OK; i++)
      if (!same_dims(&items[i]->t, &items[0]->t))
        st = rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): all tensors passed to stack must have matching shapes",
                        nd->name, nd->op_name);
    if (st == RT_OK && es.rank >= RT_MAX_RANK)
      st = rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s' (%s): stacked rank exceeds %d", nd->name,
                      nd->op_name, RT_MAX_RANK);
    if (st == RT_OK)
      st = stack_out(f, s, y, 0, r->dtype, &es, items, n, err);
    for (int64_t i = 0; i < n && st == RT_OK; i++)
      ta_drop_cleared(f, items[i]);
    free(items);
    if (st != RT_OK)
      return st;
    break;
  }
  case FK_TA_SCATTER: {
    const rt_tensor *v = &in[2];
    if (v->dtype != r->dtype)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): TensorArray dtype is %s but tensor has dtype %s", nd->name,
                        nd->op_name, rt_dtype_name(r->dtype), rt_dtype_name(v->dtype));
    if ((st = vec_input(nd, &in[1], "indices", err)) != RT_OK)
      return st;
    int64_t n = in[1].dims[0];
    if (v->rank < 1 || v->dims[0] != n)
      return rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): expected len(indices) == tensor.shape[0], but saw %lld "
                        "vs. %lld",
                        nd->name, nd->op_name, (long long)n,
                        (long long)(v->rank ? v->dims[0] : -1));
    int64_t mx = INT64_MIN;
    for (int64_t i = 0; i < n; i++) {
      int64_t k = rt__tensor_get_int(&in[1], i);
      mx = k > mx ? k : mx;
    }
    if (n > 0 && !r->dynamic && mx >= r->max_size)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): max index must be < array size (%lld vs. %lld)", nd->name,
                        nd->op_name, (long long)mx, (long long)r->max_size);
    for (int64_t i = 0; i < n && st == RT_OK; i++) {
      rt_tensor row;
      flow_buf *b;
      if ((st = row_copy(f, y, v, i, &row, &b, err)) != RT_OK)
        break;
      st = ta_write(f, nd, r, rt__tensor_get_int(&in[1], i), &row, b, err);
      buf_drop_unheld(f, b);
    }
    if (st != RT_OK || (st = out_set(f, s, y, 0, &in[0], f->kinb[0], err)) != RT_OK)
      return st;
    break;
  }
  case FK_TA_CONCAT:
    if (fy->dtype != RT_DT_COUNT && fy->dtype != r->dtype)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): TensorArray dtype is %s but concat requested dtype %s",
                        nd->name, nd->op_name, rt_dtype_name(r->dtype), rt_dtype_name(fy->dtype));
    if ((st = ta_concat(f, y, s, r, err)) != RT_OK)
      return st;
    break;
  case FK_TA_SPLIT: {
    const rt_tensor *v = &in[1];
    if (v->dtype != r->dtype)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): TensorArray dtype is %s but tensor has dtype %s", nd->name,
                        nd->op_name, rt_dtype_name(r->dtype), rt_dtype_name(v->dtype));
    if ((st = vec_input(nd, &in[2], "lengths", err)) != RT_OK)
      return st;
    int64_t n = in[2].dims[0], total = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t len = rt__tensor_get_int(&in[2], i);
      if (len < 0 || len > INT32_MAX)
        return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): length %lld is invalid",
                          nd->name, nd->op_name, (long long)len);
      total += len;
    }
    if (v->rank < 1 || total != v->dims[0])
      return rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): expected sum of lengths to be equal to tensor.shape[0], "
                        "but sum of lengths is %lld",
                        nd->name, nd->op_name, (long long)total);
    if (!r->dynamic && n != r->max_size)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): TensorArray's size is not equal to the size of lengths "
                        "(%lld vs. %lld), and the TensorArray is not dynamically resizeable",
                        nd->name, nd->op_name, (long long)r->max_size, (long long)n);
    if (r->es.rank < 0)
      return rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): TensorArray element shape is unknown; cannot split",
                        nd->name, nd->op_name);
    int64_t per_row = total ? rt_tensor_numel(v) / total : 0, start = 0;
    for (int64_t i = 0; i < n && st == RT_OK; i++) {
      int64_t len = rt__tensor_get_int(&in[2], i), numel = len * per_row, known = 1;
      rt_tensor piece = {.dtype = v->dtype, .rank = r->es.rank};
      int unknown = -1;
      for (int d = 0; d < r->es.rank; d++) {
        piece.dims[d] = r->es.dims[d];
        if (piece.dims[d] < 0 && unknown < 0)
          unknown = d;
        else
          known *= piece.dims[d] < 0 ? -1 : piece.dims[d];
      }
      if (unknown >= 0 && known > 0 && numel % known == 0)
        piece.dims[unknown] = numel / known;
      if (rt_tensor_numel(&piece) != numel || known < 0) {
        st = rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s' (%s): piece %lld of %lld values does not fit the element shape",
                        nd->name, nd->op_name, (long long)i, (long long)numel);
        break;
      }
      flow_buf *b = out_alloc(f, y, &piece, err);
      if (!b) {
        st = err->code;
        break;
      }
      size_t esz = rt_dtype_size(v->dtype);
      if (numel)
        memcpy(piece.data, (const char *)v->data + (size_t)(start * per_row) * esz,
               (size_t)numel * esz);
      start += len;
      st = ta_write(f, nd, r, i, &piece, b, err);
      buf_drop_unheld(f, b);
    }
    if (st != RT_OK || (st = out_set(f, s, y, 0, &in[0], f->kinb[0], err)) != RT_OK)
      return st;
    break;
  }
  case FK_TA_SIZE:
    if ((st = out_scalar(f, s, y, 0, RT_DT_I32, (double)r->n, err)) != RT_OK)
      return st;
    break;
  case FK_TA_CLOSE:
    res_clear(f, r);
    r->closed = true;
    break;
  default: return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': not a TensorArray op", nd->name);
  }
  return propagate(f, s, y, true, err);
}

static rt_status run_tensor_list(rt_flow *f, int y, flow_state *s, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  const flow_node *fy = &f->nodes[y];
  const rt_tensor *in = f->kin;
  flow_res *r = NULL;
  flow_shape es;
  int64_t idx;
  rt_status st = RT_OK;
  switch (fy->kind) {
  case FK_TL_RESERVE:
  case FK_TL_EMPTY: {
    /* TF.js reserves nothing: the list starts empty; EmptyTensorList caps its length */
    int64_t max = -1;
    int id;
    if ((st = shape_input(nd, &in[0], &es, err)) != RT_OK ||
        (fy->kind == FK_TL_EMPTY && (st = num_input(nd, &in[1], "max_num_elements", &max, err))) ||
        (st = res_new(f, nd, true, &id, err)) != RT_OK)
      return st;
    r = &f->res[id];
    r->dtype = fy->dtype;
    r->es = es;
    r->max_size = max;
    if ((st = out_scalar(f, s, y, 0, RT_DT_I32, id, err)) != RT_OK)
      return st;
    return propagate(f, s, y, true, err);
  }
  case FK_TL_FROM: {
    const rt_tensor *t = &in[0];
    int id;
    if ((st = shape_input(nd, &in[1], &es, err)) != RT_OK)
      return st;
    if (t->rank < 1)
      return rt__errorf(err, RT_ERR_SHAPE, "node '%s' (%s): tensor must be at least a vector",
                        nd->name, nd->op_name);
    if ((st = dtype_match(nd, fy->dtype, t->dtype, err)) != RT_OK)
      return st;
    flow_shape ts = {.rank = t->rank - 1};
    for (int d = 1; d < t->rank; d++)
      ts.dims[d - 1] = t->dims[d];
    if ((st = shape_check(nd, &ts, &es, err)) != RT_OK || (st = res_new(f, nd, true, &id, err)))
      return st;
    f->res[id].dtype = t->dtype;
    f->res[id].es = es;
    for (int64_t i = 0; i < t->dims[0] && st == RT_OK; i++) {
      rt_tensor row;
      flow_buf *b;
      if ((st = row_copy(f, y, t, i, &row, &b, err)) != RT_OK)
        break;
      st = item_store(f, nd, &f->res[id], i, &row, b, err);
      buf_drop_unheld(f, b);
    }
    if (st != RT_OK || (st = out_scalar(f, s, y, 0, RT_DT_I32, id, err)) != RT_OK)
      return st;
    return propagate(f, s, y, true, err);
  }
  default: break;
  }
  if ((st = res_of(f, nd, 0, true, &r, err)) != RT_OK)
    return st;
  switch (fy->kind) {
  case FK_TL_SET: {
    const rt_tensor *t = &in[2];
    flow_shape ts = shape_of(t);
    if ((st = num_input(nd, &in[1], "index", &idx, err)) != RT_OK ||
        (st = dtype_match(nd, t->dtype, r->dtype, err)) != RT_OK)
      return st;
    if (idx < 0 || (r->max_size != -1 && idx >= r->max_size))
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): trying to set element %lld in a list with max %lld "
                        "elements",
                        nd->name, nd->op_name, (long long)idx, (long long)r->max_size);
    if ((st = shape_check(nd, &r->es, &ts, err)) != RT_OK ||
        (st = item_store(f, nd, r, idx, t, f->kinb[2], err)) != RT_OK ||
        (st = out_set(f, s, y, 0, &in[0], f->kinb[0], err)) != RT_OK)
      return st;
    break;
  }
  case FK_TL_GET: {
    if ((st = num_input(nd, &in[1], "index", &idx, err)) != RT_OK ||
        (st = shape_input(nd, &in[2], &es, err)) != RT_OK ||
        (st = dtype_match(nd, fy->dtype, r->dtype, err)) != RT_OK)
      return st;
    if (idx < 0 || idx >= r->n || !r->items[idx].set)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): element %lld of a list with %lld elements is not set",
                        nd->name, nd->op_name, (long long)idx, (long long)r->n);
    flow_item *it = &r->items[idx];
    flow_shape ts = shape_of(&it->t), os;
    if ((st = shape_check(nd, &ts, &es, err)) != RT_OK ||
        (st = shape_infer(nd, r, &es, &os, err)) != RT_OK ||
        (st = reshape_check(nd, &it->t, &os, err)) != RT_OK)
      return st;
    rt_tensor t = it->t;
    t.rank = os.rank;
    for (int d = 0; d < os.rank; d++)
      t.dims[d] = os.dims[d];
    if ((st = out_set(f, s, y, 0, &t, it->buf, err)) != RT_OK)
      return st;
    break;
  }
  case FK_TL_STACK:
  case FK_TL_GATHER: {
    bool gather = fy->kind == FK_TL_GATHER;
    const rt_tensor *ix = gather ? &in[1] : NULL;
    flow_shape os;
    if ((st = shape_input(nd, &in[gather ? 2 : 1], &es, err)) != RT_OK ||
        (st = dtype_match(nd, fy->dtype, r->dtype, err)) != RT_OK ||
        (st = shape_check(nd, &es, &r->es, err)) != RT_OK ||
        (gather && (st = vec_input(nd, ix, "indices", err)) != RT_OK))
      return st;
    int64_t n = gather ? (ix->dims[0] < r->n ? ix->dims[0] : r->n) : r->n;
    if (!gather && n == 0) /* tf.stack of nothing */
      return rt__errorf(err, RT_ERR_SHAPE, "node '%s' (%s): cannot stack an empty list", nd->name,
                        nd->op_name);
    if ((st = shape_infer(nd, r, &es, &os, err)) != RT_OK)
      return st;
    if (n == 0) {
      if ((st = empty_out(f, s, y, 0, r->dtype, &os, err)) != RT_OK)
        return st;
      break;
    }
    if (os.rank >= RT_MAX_RANK)
      return rt__errorf(err, RT_ERR_UNSUPPORTED, "node '%s' (%s): stacked rank exceeds %d",
                        nd->name, nd->op_name, RT_MAX_RANK);
    flow_item **items = calloc((size_t)n, sizeof *items);
    if (!items)
      return oom_at(nd, err);
    for (int64_t i = 0; i < n && st == RT_OK; i++) {
      int64_t k = gather ? rt__tensor_get_int(ix, i) : i;
      if (k < 0 || k >= r->n || !r->items[k].set)
        st = rt__errorf(err, RT_ERR_INVALID_ARG,
                        "node '%s' (%s): element %lld of a list with %lld elements is not set",
                        nd->name, nd->op_name, (long long)k, (long long)r->n);
      else if ((st = reshape_check(nd, &r->items[k].t, &os, err)) == RT_OK)
        items[i] = &r->items[k];
    }
    if (st == RT_OK)
      st = stack_out(f, s, y, 0, r->dtype, &os, items, n, err);
    free(items);
    if (st != RT_OK)
      return st;
    break;
  }
  case FK_TL_LENGTH:
    if ((st = out_scalar(f, s, y, 0, RT_DT_I32, (double)r->n, err)) != RT_OK)
      return st;
    break;
  case FK_TL_PUSH: {
    const rt_tensor *t = &in[1];
    flow_shape ts = shape_of(t);
    if ((st = dtype_match(nd, t->dtype, r->dtype, err)) != RT_OK ||
        (st = shape_check(nd, &ts, &r->es, err)) != RT_OK)
      return st;
    if (r->max_size == r->n)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): trying to push into a full list",
                        nd->name, nd->op_name);
    if ((st = item_store(f, nd, r, r->n, t, f->kinb[1], err)) != RT_OK ||
        (st = out_set(f, s, y, 0, &in[0], f->kinb[0], err)) != RT_OK)
      return st;
    break;
  }
  case FK_TL_POP: {
    flow_shape os;
    if ((st = shape_input(nd, &in[1], &es, err)) != RT_OK ||
        (st = dtype_match(nd, fy->dtype, r->dtype, err)) != RT_OK)
      return st;
    if (r->n == 0)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): trying to pop from an empty list",
                        nd->name, nd->op_name);
    if ((st = shape_infer(nd, r, &es, &os, err)) != RT_OK)
      return st;
    flow_item it = r->items[r->n - 1];
    memset(&r->items[--r->n], 0, sizeof it);
    if (!it.set)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (%s): popped element is not set",
                        nd->name, nd->op_name);
    flow_shape ts = shape_of(&it.t);
    rt_tensor t = it.t;
    t.rank = os.rank;
    for (int d = 0; d < os.rank; d++)
      t.dims[d] = os.dims[d];
    if ((st = shape_check(nd, &ts, &es, err)) == RT_OK &&
        (st = reshape_check(nd, &it.t, &os, err)) == RT_OK &&
        (st = out_set(f, s, y, 0, &in[0], f->kinb[0], err)) == RT_OK)
      st = out_set(f, s, y, 1, &t, it.buf, err);
    buf_release(f, it.buf);
    if (st != RT_OK)
      return st;
    break;
  }
  default: return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': not a TensorList op", nd->name);
  }
  return propagate(f, s, y, true, err);
}

/* ---- control ops ---- */
static rt_status run_merge(rt_flow *f, int y, flow_state *s, bool dead, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  int pick = -1;
  /* TF.js: the first input (in order) that has a value when the Merge runs */
  for (int j = 0; j < nd->n_inputs && !dead && pick < 0; j++) {
    int cls = f->ecls[f->in_off[y] + j];
    const flow_val *v =
        cls == E_GLOBAL ? NULL : input_slot(f, s, nd->inputs[j].node, nd->inputs[j].index, cls);
    if (cls == E_GLOBAL || (v && v->state == V_LIVE))
      pick = j;
  }
  rt_status st;
  if (pick < 0) {
    if ((st = all_dead(f, s, y, err)) != RT_OK)
      return st;
    return propagate(f, s, y, false, err);
  }
  flow_ref r;
  if ((st = input_ref(f, y, pick, s, &r, err)) != RT_OK ||
      (st = out_set(f, s, y, 0, &r.t, r.buf, err)) != RT_OK ||
      (nd->n_outputs > 1 && (st = out_scalar(f, s, y, 1, RT_DT_I32, pick, err)) != RT_OK))
    return st;
  return propagate(f, s, y, true, err);
}

static rt_status run_enter(rt_flow *f, int y, flow_state *s, bool dead, rt_error *err) {
  const flow_node *fy = &f->nodes[y];
  flow_ref r = {.state = V_DEAD};
  flow_inst *I = NULL;
  rt_status st;
  if (!dead && (st = input_ref(f, y, 0, s, &r, err)) != RT_OK)
    return st;
  if ((st = inst_get(f, s, fy->child, y, &I, err)) != RT_OK)
    return st;
  flow_val v = {.t = r.t, .buf = r.buf, .state = r.state == V_LIVE ? V_LIVE : V_DEAD};
  if (I->pending_enters <= 0)
    return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': frame '%s' entered too often",
                      f->g->nodes[y].name, f->frames[fy->child].name);
  if (fy->is_const_enter) {
    /* a loop invariant: every iteration, present and future, sees it */
    flow_val *iv = &I->inv[fy->cidx];
    *iv = v;
    if (iv->buf)
      iv->buf->refs++;
    for (flow_state *t = I->first; t; t = t->next)
      if ((st = put_val(f, t, y, iv, err)) != RT_OK)
        return st;
  } else {
    if (I->first->iter != 0)
      return rt__errorf(err, RT_ERR_INTERNAL, "node '%s': frame '%s' left iteration 0 early",
                        f->g->nodes[y].name, f->frames[fy->child].name);
    if ((st = put_val(f, I->first, y, &v, err)) != RT_OK)
      return st;
  }
  I->pending_enters--;
  return inst_settle(f, I, err);
}

static rt_status run_node(rt_flow *f, int y, flow_state *s, rt_error *err) {
  const rt_node *nd = &f->g->nodes[y];
  const flow_node *fy = &f->nodes[y];
  bool dead = (s->ns[fy->lidx].flags & NS_DEAD) != 0;
  rt_status st;
  if (++f->steps > FLOW_MAX_STEPS)
    return rt__errorf(err, RT_ERR_INVALID_ARG,
                      "node '%s': more than %lld node runs in one inference", nd->name,
                      (long long)FLOW_MAX_STEPS);
  if (fy->kind == FK_MERGE)
    return run_merge(f, y, s, dead, err);
  if (!dead && (st = outer_inputs_dead(f, y, s, &dead, err)) != RT_OK)
    return st;
  if (fy->kind == FK_ENTER)
    return run_enter(f, y, s, dead, err);
  if (fy->kind == FK_EXIT || fy->kind == FK_NEXT) {
    flow_ref r;
    if (dead) /* dead Exits wait for the end of the loop; dead NextIterations end it */
      return RT_OK;
    if ((st = input_ref(f, y, 0, s, &r, err)) != RT_OK)
      return st;
    flow_state *os = NULL;
    if (fy->kind == FK_EXIT) {
      flow_inst *I = s->inst;
      if (I->exit_done[fy->cidx])
        return rt__errorf(err, RT_ERR_INVALID_ARG, "node '%s' (Exit): fired twice in one loop",
                          nd->name);
      I->exit_done[fy->cidx] = 1;
      os = I->parent;
      if ((st = out_set(f, os, y, 0, &r.t, r.buf, err)) != RT_OK)
        return st;
      return propagate(f, os, y, true, err);
    }
    f->defer = true; /* the next iteration waits until this one is done */
    if ((st = state_next(f, s, y, &os, err)) == RT_OK &&
        (st = out_set(f, os, y, 0, &r.t, r.buf, err)) == RT_OK)
      st = propagate(f, os, y, true, err);
    f->defer = false;
    return st;
  }
  if (dead) {
    if ((st = all_dead(f, s, y, err)) != RT_OK)
      return st;
    return propagate(f, s, y, false, err);
  }
  if ((st = gather(f, y, s, f->kinb, err)) != RT_OK)
    return st;
  switch (fy->kind) {
  case FK_INPUT: {
    rt_tensor t = f->inputs[fy->input_index];
    if (!t.data)
      t.data = f->dummy;
    if ((st = out_set(f, s, y, 0, &t, NULL, err)) != RT_OK)
      return st;
    return propagate(f, s, y, true, err);
  }
  case FK_IDENTITY:
  case FK_LOOPCOND:
    if ((st = out_set(f, s, y, 0, &f->kin[0], f->kinb[0], err)) != RT_OK)
      return st;
    return propagate(f, s, y, true, err);
  case FK_SWITCH: {
    int taken = pred_true(&f->kin[1]) ? 1 : 0; /* outputs: (false, true) */
    if ((st = out_set(f, s, y, taken, &f->kin[0], f->kinb[0], err)) != RT_OK ||
        (st = out_dead(f, s, y, 1 - taken, err)) != RT_OK)
      return st;
    return propagate(f, s, y, true, err);
  }
  case FK_TA_NEW:
  case FK_TA_WRITE:
  case FK_TA_READ:
  case FK_TA_GATHER:
  case FK_TA_SCATTER:
  case FK_TA_CONCAT:
  case FK_TA_SPLIT:
  case FK_TA_SIZE:
  case FK_TA_CLOSE: return run_tensor_array(f, y, s, err);
  case FK_TL_RESERVE:
  case FK_TL_EMPTY:
  case FK_TL_FROM:
  case FK_TL_SET:
  case FK_TL_GET:
  case FK_TL_STACK:
  case FK_TL_GATHER:
  case FK_TL_LENGTH:
  case FK_TL_PUSH:
  case FK_TL_POP: return run_tensor_list(f, y, s, err);
  default: return run_kernel(f, y, s, err);
  }
}

/* ---- lifecycle ---- */
static void run_cleanup(rt_flow *f, bool keep_root) {
  while (f->insts)
    inst_free(f, f->insts);
  res_reset(f);
  f->sp = 0;
  f->n_later = 0;
  f->defer = false;
  if (!f->root)
    return;
  f->root->kids = NULL;
  if (!keep_root) {
    state_free(f, f->root);
    f->root = NULL;
    return;
  }
  /* only the outputs stay: the caller holds views of them until the next run */
  for (int x = 0; x < f->n_nodes; x++) {
    const flow_node *fx = &f->nodes[x];
    if (!fx->used || fx->global || fx->out != 0)
      continue;
    for (int j = 0; j < f->g->nodes[x].n_outputs; j++)
      if (!(f->pinned[f->slot_base[x] + j] & PIN_OUTPUT))
        val_clear(f, &f->root->vals[fx->lslot + j]);
  }
}

void rt__flow_destroy(rt_flow *f) {
  if (!f)
    return;
  run_cleanup(f, false);
  globals_free(f);
  for (int c = 0; c < FLOW_N_CLASSES; c++)
    for (flow_buf *b = f->cache[c], *nx; b; b = nx) {
      nx = b->next;
      free(b);
    }
  for (int i = 0; i < f->n_frames; i++) {
    flow_frame *fr = &f->frames[i];
    for (flow_state *s = fr->spare, *nx; s; s = nx) {
      nx = s->next;
      free(s);
    }
    free(fr->inv);
    free(fr->exits);
    free(fr->eager);
    free(fr->pending0);
  }
  free(f->frames);
  free(f->res);
  free(f->stack);
  free(f->later);
  free(f->nodes);
  free(f->slot_base);
  free(f->in_off);
  free(f->ecls);
  free(f->cons_off);
  free(f->cons_node);
  free(f->ctrl_off);
  free(f->ctrl_node);
  free(f->reads0);
  free(f->pinned);
  free(f->globals);
  free(f->gvals);
  free(f->gmem);
  free(f->kin);
  free(f->kinb);
  free(f->kout);
  free(f->obuf);
  free(f);
}

rt_status rt__flow_create(const rt_model *m, rt_flow **out, rt_error *err) {
  rt_error local;
  if (!err)
    err = &local;
  *out = NULL;
  const rt_graph *g = m->g;
  rt_flow *f = calloc(1, sizeof *f);
  if (!f)
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory creating a session", g->path);
  f->m = m;
  f->g = g;
  f->n_nodes = g->n_nodes;
  int n = g->n_nodes, max_in = 1, max_out = 1;
  f->nodes = calloc((size_t)n + 1, sizeof *f->nodes);
  f->slot_base = int_array((size_t)n + 1);
  if (!f->nodes || !f->slot_base)
    goto oom;
  for (int i = 0; i < n; i++) {
    f->slot_base[i] = f->n_slots;
    f->n_slots += g->nodes[i].n_outputs;
    max_in = g->nodes[i].n_inputs > max_in ? g->nodes[i].n_inputs : max_in;
    max_out = g->nodes[i].n_outputs > max_out ? g->nodes[i].n_outputs : max_out;
  }
  f->slot_base[n] = f->n_slots;
  f->in_off = int_array((size_t)n + 1);
  f->cons_off = int_array((size_t)f->n_slots + 1);
  f->ctrl_off = int_array((size_t)n + 1);
  f->reads0 = int_array((size_t)f->n_slots);
  f->pinned = calloc((size_t)f->n_slots + 1, 1);
  f->globals = int_array((size_t)n);
  f->gvals = calloc((size_t)f->n_slots + 1, sizeof *f->gvals);
  f->gmem = calloc((size_t)f->n_slots + 1, sizeof *f->gmem);
  f->kin = calloc((size_t)max_in, sizeof *f->kin);
  f->kinb = calloc((size_t)max_in, sizeof *f->kinb);
  f->kout = calloc((size_t)max_out, sizeof *f->kout);
  f->obuf = calloc((size_t)max_out, sizeof *f->obuf);
  if (!f->in_off || !f->cons_off || !f->ctrl_off || !f->reads0 || !f->pinned || !f->globals ||
      !f->gvals || !f->gmem || !f->kin || !f->kinb || !f->kout || !f->obuf)
    goto oom;
  rt_status st = analyze(f, err);
  if (st != RT_OK) {
    rt__flow_destroy(f);
    return st;
  }
  *out = f;
  return RT_OK;
oom:
  rt__flow_destroy(f);
  return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory creating a session", g->path);
}

static rt_status collect_outputs(rt_flow *f, rt_tensor *outputs, rt_error *err) {
  const rt_graph *g = f->g;
  for (int i = 0; i < g->n_outputs; i++) {
    rt_ref r = g->outputs[i].ref;
    const flow_node *fx = &f->nodes[r.node];
    if (fx->global) {
      outputs[i] =
          fx->kind == FK_CONST ? g->nodes[r.node].value : f->gvals[f->slot_base[r.node] + r.index];
      continue;
    }
    const flow_val *v = &f->root->vals[fx->lslot + r.index];
    if (v->state == V_ABSENT)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "output '%s' (node '%s') was never computed: an input it needs never "
                        "arrived",
                        g->outputs[i].name, g->nodes[r.node].name);
    if (v->state == V_DEAD)
      return rt__errorf(err, RT_ERR_INVALID_ARG,
                        "output '%s' (node '%s') is on a branch of a cond that was not taken",
                        g->outputs[i].name, g->nodes[r.node].name);
    outputs[i] = v->t;
  }
  return RT_OK;
}

rt_status rt__flow_run(rt_flow *f, const rt_tensor *inputs, int n_inputs, rt_tensor *outputs,
                       rt_error *err) {
  rt_error local;
  if (!err)
    err = &local;
  run_cleanup(f, false); /* the previous run's outputs die here, as documented */
  if (n_inputs != f->g->n_inputs)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "expected %d inputs, got %d", f->g->n_inputs,
                      n_inputs);
  rt_status st = RT_OK;
  if (!f->globals_ready && (st = compute_globals(f, err)) != RT_OK)
    return st;
  f->inputs = inputs;
  f->steps = 0;
  if (!(f->root = state_alloc(f, 0)))
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory starting a run", f->g->path);
  st = state_start(f, f->root, err);
  while (st == RT_OK && (f->sp > 0 || f->n_later > 0)) {
    if (f->sp == 0) { /* the deferred work, oldest on top */
      if (!task_grow(&f->stack, &f->cap_stack, f->n_later)) {
        st = rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory running", f->g->path);
        break;
      }
      for (int i = 0; i < f->n_later; i++)
        f->stack[i] = f->later[f->n_later - 1 - i];
      f->sp = f->n_later;
      f->n_later = 0;
    }
    flow_task t = f->stack[--f->sp];
    if ((st = run_node(f, t.node, t.s, err)) != RT_OK)
      break;
    consume(f, t.node, t.s);
    if (--t.s->outstanding == 0 && t.s->inst)
      st = inst_settle(f, t.s->inst, err);
  }
  if (st == RT_OK)
    st = collect_outputs(f, outputs, err);
  run_cleanup(f, st == RT_OK);
  f->inputs = NULL;
  return st;
}
