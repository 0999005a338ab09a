/*
 * exec.c — sessions: plans per input shape and the executor that runs them.
 *
 * A plan is made once per distinct set of input shapes (a batch size, an image size). It walks
 * the compiled graph in order and, for every node, either
 *   - knows its value already (constants; nodes computable from constants and input *shapes*,
 *     such as TF.js's Shape -> StridedSlice -> Pack -> Reshape chains, which it evaluates on
 *     the spot into plan memory), or
 *   - knows its output shapes: the node is a static step whose outputs get fixed offsets in
 *     the session arena, reused once their last reader has run (liveness, first-fit), or
 *   - cannot know them before seeing data (Where, NonMaxSuppression, and everything after):
 *     a dynamic step, whose shapes are computed at run time and whose outputs go to a
 *     growable region that is kept between runs.
 * A run then binds the caller's inputs, walks the steps and returns views of the outputs. A
 * model without dynamic steps allocates nothing per inference once planned.
 */
#include "model.h"
#include "ops.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT_MAX_PLANS 8
#define RT_FOLD_MAX_ELEMS (1 << 20)

enum { SLOT_NONE = 0, SLOT_CONST, SLOT_INPUT, SLOT_ARENA, SLOT_DYN };

typedef struct rt_slot {
  rt_tensor t;
  int state;
  size_t offset, bytes;
  int def_pos, last_pos;
} rt_slot;

typedef struct rt_step {
  int node;
  bool dynamic;
  size_t scratch_off, scratch_bytes;
  void *state; /* from the op's plan() hook */
} rt_step;

typedef struct rt_plan {
  int64_t key[16 * RT_MAX_RANK + 16]; /* input ranks and dims */
  int key_len;
  rt_slot *slots;
  rt_step *steps;
  int n_steps;
  size_t arena_bytes;
  double flops;
  bool dynamic;
  rt_pool *pool; /* values folded at plan time */
  unsigned long last_used;
} rt_plan;

typedef struct rt_dyn_block {
  struct rt_dyn_block *next;
  size_t cap, used;
  _Alignas(64) unsigned char data[];
} rt_dyn_block;

struct rt_session {
  const rt_model *m;
  int *slot_base; /* first slot of each node */
  int n_slots;
  int max_inputs;
  rt_tensor *kin;
  rt_tensor *kout;
  int max_outputs;
  rt_plan *plans[RT_MAX_PLANS];
  int n_plans;
  unsigned long tick;
  unsigned char *arena;
  size_t arena_cap;
  rt_dyn_block *dyn, *dyn_cur;
  rt_flow *flow; /* graphs with control flow run here instead of through plans */
  rt_threadpool *tp;
};

/* ---- dynamic region ---- */
static void dyn_reset(rt_session *s) {
  for (rt_dyn_block *b = s->dyn; b; b = b->next)
    b->used = 0;
  s->dyn_cur = s->dyn;
}

static void *dyn_alloc(rt_session *s, size_t n) {
  n = (n + 63) & ~(size_t)63;
  if (!n)
    n = 64;
  for (rt_dyn_block *b = s->dyn_cur; b; b = b->next) {
    if (b->cap - b->used >= n) {
      s->dyn_cur = b;
      void *r = b->data + b->used;
      b->used += n;
      return r;
    }
  }
  /* Grows only until the biggest run so far fits; later runs reuse the blocks. */
  size_t cap = n > (4u << 20) ? n : (4u << 20);
  rt_dyn_block *nb = aligned_alloc(64, (sizeof *nb + cap + 63) & ~(size_t)63);
  if (!nb)
    return NULL;
  nb->cap = cap;
  nb->used = n;
  nb->next = NULL;
  rt_dyn_block **pp = &s->dyn;
  while (*pp)
    pp = &(*pp)->next;
  *pp = nb;
  s->dyn_cur = nb;
  return nb->data;
}

/* ---- session ---- */
rt_session_params rt_session_default_params(void) {
  return (rt_session_params){.intra_op_threads = 1};
}

rt_status rt_session_create(const rt_model *m, rt_session **out, rt_error *err) {
  return rt_session_create_ex(m, NULL, out, err);
}

rt_status rt_session_create_ex(const rt_model *m, const rt_session_params *params,
                               rt_session **out, rt_error *err) {
  rt_session_params sp = params ? *params : rt_session_default_params();
  *out = NULL;
  if (sp.intra_op_threads < 0 || sp.intra_op_threads > 1024)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "intra_op_threads %d out of range [0, 1024]",
                      sp.intra_op_threads);
  rt_session *s = calloc(1, sizeof *s);
  if (!s)
    return rt__errorf(err, RT_ERR_NOMEM, "out of memory creating a session");
  s->m = m;
  if (sp.intra_op_threads > 1) {
    rt_status st = rt__threadpool_create(sp.intra_op_threads, &s->tp, err);
    if (st != RT_OK) {
      free(s);
      return st;
    }
  }
  const rt_graph *g = m->g;
  s->slot_base = malloc((size_t)(g->n_nodes + 1) * sizeof *s->slot_base);
  if (!s->slot_base)
    goto oom;
  for (int i = 0; i < g->n_nodes; i++) {
    s->slot_base[i] = s->n_slots;
    s->n_slots += g->nodes[i].n_outputs;
    if (g->nodes[i].n_inputs > s->max_inputs)
      s->max_inputs = g->nodes[i].n_inputs;
    if (g->nodes[i].n_outputs > s->max_outputs)
      s->max_outputs = g->nodes[i].n_outputs;
  }
  s->slot_base[g->n_nodes] = s->n_slots;
  s->kin = calloc((size_t)s->max_inputs + 1, sizeof *s->kin);
  s->kout = calloc((size_t)s->max_outputs + 1, sizeof *s->kout);
  if (!s->kin || !s->kout)
    goto oom;
  if (m->has_control_flow) {
    rt_status st = rt__flow_create(m, &s->flow, err);
    if (st != RT_OK) {
      rt_session_destroy(s);
      return st;
    }
  }
  *out = s;
  return RT_OK;
oom:
  rt_session_destroy(s);
  return rt__errorf(err, RT_ERR_NOMEM, "out of memory creating a session");
}

static void plan_destroy(const rt_model *m, rt_plan *p) {
  if (!p)
    return;
  for (int i = 0; i < p->n_steps; i++) {
    const rt_op_def *op = m->g->nodes[p->steps[i].node].op;
    if (p->steps[i].state && op->unplan)
      op->unplan(p->steps[i].state);
  }
  free(p->slots);
  free(p->steps);
  rt__pool_destroy(p->pool);
  free(p);
}

void rt_session_destroy(rt_session *s) {
  if (!s)
    return;
  for (int i = 0; i < s->n_plans; i++)
    plan_destroy(s->m, s->plans[i]);
  for (rt_dyn_block *b = s->dyn, *n; b; b = n) {
    n = b->next;
    free(b);
  }
  rt__flow_destroy(s->flow);
  rt__threadpool_destroy(s->tp);
  free(s->arena);
  free(s->kin);
  free(s->kout);
  free(s->slot_base);
  free(s);
}

size_t rt_session_arena_bytes(const rt_session *s) { return s->arena_cap; }

/* ---- planning ---- */
static rt_status check_inputs(const rt_model *m, const rt_tensor *inputs, int n,
                              rt_error *err) {
  if (n != m->g->n_inputs)
    return rt__errorf(err, RT_ERR_INVALID_ARG, "expected %d inputs, got %d", m->g->n_inputs, n);
  for (int i = 0; i < n; i++) {
    const rt_io_info *io = &m->inputs[i];
    const rt_tensor *t = &inputs[i];
    if (t->dtype != io->dtype)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "input '%s': dtype %s, expected %s", io->name,
                        rt_dtype_name(t->dtype), rt_dtype_name(io->dtype));
    if (t->rank < 0 || t->rank > RT_MAX_RANK)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "input '%s': rank %d out of range", io->name,
                        t->rank);
    if (io->rank >= 0 && t->rank != io->rank)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "input '%s': rank %d, expected %d", io->name,
                        t->rank, io->rank);
    for (int d = 0; d < t->rank; d++) {
      if (t->dims[d] < 0)
        return rt__errorf(err, RT_ERR_INVALID_ARG, "input '%s': dimension %d is negative",
                          io->name, d);
      if (io->rank >= 0 && io->dims[d] >= 0 && io->dims[d] != t->dims[d])
        return rt__errorf(err, RT_ERR_INVALID_ARG,
                          "input '%s': dimension %d is %lld, expected %lld", io->name, d,
                          (long long)t->dims[d], (long long)io->dims[d]);
    }
    int64_t numel;
    if (!rt__checked_numel(t->dims, t->rank, &numel))
      return rt__errorf(err, RT_ERR_INVALID_ARG, "input '%s': too many elements", io->name);
  }
  return RT_OK;
}

static int make_key(const rt_tensor *inputs, int n, int64_t *key) {
  int k = 0;
  for (int i = 0; i < n && k < 16 * RT_MAX_RANK + 8; i++) {
    key[k++] = inputs[i].rank;
    for (int d = 0; d < inputs[i].rank; d++)
      key[k++] = inputs[i].dims[d];
  }
  return k;
}

static rt_slot *slot_of(rt_session *s, rt_plan *p, rt_ref r) {
  return &p->slots[s->slot_base[r.node] + r.index];
}

static int input_index_of_node(const rt_model *m, int node) {
  for (int i = 0; i < m->g->n_inputs; i++)
    if (m->g->inputs[i].ref.node == node)
      return i;
  return -1;
}

/* First-fit placement of [def, last] intervals into one arena. */
typedef struct {
  size_t off, bytes;
  int last;
} rt_live_block;

static size_t place(rt_live_block *act, int *n_act, int pos, size_t bytes, int last,
                    size_t *high) {
  int w = 0;
  for (int i = 0; i < *n_act; i++)
    if (act[i].last >= pos)
      act[w++] = act[i];
  *n_act = w;
  bytes = (bytes + 63) & ~(size_t)63;
  size_t off = 0;
  for (;;) { /* blocks are kept sorted by offset */
    bool moved = false;
    for (int i = 0; i < *n_act; i++) {
      if (off < act[i].off + act[i].bytes && act[i].off < off + bytes) {
        off = act[i].off + act[i].bytes;
        moved = true;
      }
    }
    if (!moved)
      break;
  }
  int at = *n_act;
  while (at > 0 && act[at - 1].off > off) {
    act[at] = act[at - 1];
    at--;
  }
  act[at] = (rt_live_block){off, bytes, last};
  (*n_act)++;
  if (off + bytes > *high)
    *high = off + bytes;
  return off;
}

static rt_status plan_build(rt_session *s, const rt_tensor *inputs, int n_inputs,
                            rt_plan **out, rt_error *err) {
  const rt_model *m = s->m;
  const rt_graph *g = m->g;
  rt_status st = RT_OK;
  rt_live_block *act = NULL;
  rt_plan *p = calloc(1, sizeof *p);
  if (!p)
    return rt__errorf(err, RT_ERR_NOMEM, "out of memory planning");
  p->slots = calloc((size_t)s->n_slots + 1, sizeof *p->slots);
  p->steps = calloc((size_t)m->n_order + 1, sizeof *p->steps);
  p->pool = rt__pool_create();
  if (!p->slots || !p->steps || !p->pool) {
    st = rt__errorf(err, RT_ERR_NOMEM, "out of memory planning");
    goto error;
  }
  p->key_len = make_key(inputs, n_inputs, p->key);

  for (int pos = 0; pos < m->n_order; pos++) {
    int ni = m->order[pos];
    const rt_node *nd = &g->nodes[ni];
    rt_slot *os = &p->slots[s->slot_base[ni]];
    if (!nd->op) {
      st = rt__errorf(err, RT_ERR_UNSUPPORTED, "%s: node '%s': unsupported op '%s'", g->path,
                      nd->name, nd->op_name);
      goto error;
    }
    if (!strcmp(nd->op_name, "Const")) {
      os->t = nd->value;
      os->state = SLOT_CONST;
      continue;
    }
    int ii = input_index_of_node(m, ni);
    if (ii >= 0 || !strcmp(nd->op_name, "Placeholder")) {
      /* Model inputs (Placeholder, or PlaceholderWithDefault as TF.js allows) are bound. */
      if (ii < 0) {
        st = rt__errorf(err, RT_ERR_INVALID_ARG,
                        "%s: node '%s' is a Placeholder that is not a model input", g->path,
                        nd->name);
        goto error;
      }
      os->t = inputs[ii];
      os->t.data = NULL;
      os->state = SLOT_INPUT;
      os->def_pos = pos;
      continue;
    }
    bool all_known = true, any_dyn = false;
    for (int j = 0; j < nd->n_inputs; j++) {
      rt_slot *is = slot_of(s, p, nd->inputs[j]);
      s->kin[j] = is->t;
      if (is->state != SLOT_CONST)
        s->kin[j].data = NULL, all_known = false;
      if (is->state == SLOT_DYN)
        any_dyn = true;
      if (is->state == SLOT_NONE) {
        st = rt__errorf(err, RT_ERR_INTERNAL, "node '%s': input %d not planned", nd->name, j);
        goto error;
      }
    }
    rt_step *step = &p->steps[p->n_steps];
    step->node = ni;
    for (int j = 0; j < nd->n_outputs; j++)
      s->kout[j] = (rt_tensor){0};
    rt_kctx k = {.node = nd, .params = nd->params, .n_in = nd->n_inputs, .in = s->kin,
                 .n_out = nd->n_outputs, .out = s->kout, .err = err};
    st = any_dyn ? RT_ERR_NEED_VALUE : nd->op->shape(&k);
    if (st == RT_ERR_NEED_VALUE) {
      step->dynamic = true;
      p->dynamic = true;
      for (int j = 0; j < nd->n_outputs; j++)
        os[j].state = SLOT_DYN, os[j].def_pos = pos;
      p->n_steps++;
      st = RT_OK;
      continue;
    }
    if (st != RT_OK)
      goto error;
    int64_t total = 0;
    for (int j = 0; j < nd->n_outputs; j++) {
      int64_t numel;
      if (!rt__checked_numel(s->kout[j].dims, s->kout[j].rank, &numel)) {
        st = rt__errorf(err, RT_ERR_SHAPE, "node '%s': output %d has too many elements",
                        nd->name, j);
        goto error;
      }
      total += numel;
    }
    if (nd->op->flops)
      p->flops += nd->op->flops(&k);
    if (nd->op->flags & RT_OP_SHAPE_ONLY)
      all_known = true;
    if (all_known && !(nd->op->flags & (RT_OP_NOFOLD | RT_OP_CONTROL)) &&
        total <= RT_FOLD_MAX_ELEMS) {
      /* Shape-derived values: compute now, once per plan. */
      for (int j = 0; j < nd->n_outputs; j++) {
        s->kout[j].data = rt__pool_alloc(p->pool, rt_tensor_nbytes(&s->kout[j]) + 1);
        if (!s->kout[j].data) {
          st = rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", nd->name);
          goto error;
        }
      }
      k.scratch = k.scratch_bytes ? rt__pool_alloc(p->pool, k.scratch_bytes) : NULL;
      if ((st = nd->op->run(&k)) != RT_OK)
        goto error;
      for (int j = 0; j < nd->n_outputs; j++)
        os[j].t = s->kout[j], os[j].state = SLOT_CONST;
      continue;
    }
    for (int j = 0; j < nd->n_outputs; j++) {
      os[j].t = s->kout[j];
      os[j].t.data = NULL;
      os[j].state = SLOT_ARENA;
      os[j].bytes = rt_tensor_nbytes(&s->kout[j]);
      os[j].def_pos = -1; /* step indices, set after the walk */
      os[j].last_pos = -1;
    }
    p->n_steps++;
    if (nd->op->plan) {
      k.tp = s->tp;
      k.graph = m->g;
      if ((st = nd->op->plan(&k)) != RT_OK)
        goto error;
      step->state = k.state;
    }
    step->scratch_bytes = k.scratch_bytes; /* plan() may have asked for more */
  }

  /* Liveness: the last step that reads each arena slot; model outputs live to the end. */
  for (int si = 0; si < p->n_steps; si++) {
    const rt_node *nd = &g->nodes[p->steps[si].node];
    for (int j = 0; j < nd->n_inputs; j++) {
      rt_slot *is = slot_of(s, p, nd->inputs[j]);
      if (is->last_pos < si)
        is->last_pos = si;
    }
  }
  for (int si = 0; si < p->n_steps; si++) {
    int ni = p->steps[si].node;
    for (int j = 0; j < g->nodes[ni].n_outputs; j++) {
      rt_slot *os = &p->slots[s->slot_base[ni] + j];
      os->def_pos = si;
      if (os->last_pos < si)
        os->last_pos = si;
    }
  }
  for (int i = 0; i < g->n_outputs; i++)
    slot_of(s, p, g->outputs[i].ref)->last_pos = INT_MAX;

  act = calloc((size_t)s->n_slots + (size_t)p->n_steps + 1, sizeof *act);
  if (!act) {
    st = rt__errorf(err, RT_ERR_NOMEM, "out of memory planning");
    goto error;
  }
  int n_act = 0;
  size_t high = 0;
  for (int si = 0; si < p->n_steps; si++) {
    rt_step *step = &p->steps[si];
    if (step->dynamic)
      continue;
    const rt_node *nd = &g->nodes[step->node];
    for (int j = 0; j < nd->n_outputs; j++) {
      rt_slot *os = &p->slots[s->slot_base[step->node] + j];
      os->offset = place(act, &n_act, si, os->bytes, os->last_pos, &high);
    }
    if (step->scratch_bytes)
      step->scratch_off = place(act, &n_act, si, step->scratch_bytes, si, &high);
  }
  p->arena_bytes = high;
  free(act);
  *out = p;
  return RT_OK;
error:
  free(act);
  plan_destroy(m, p);
  return st;
}

static rt_status get_plan(rt_session *s, const rt_tensor *inputs, int n, rt_plan **out,
                          rt_error *err) {
  int64_t key[16 * RT_MAX_RANK + 16];
  int kl = make_key(inputs, n, key);
  s->tick++;
  for (int i = 0; i < s->n_plans; i++) {
    rt_plan *p = s->plans[i];
    if (p->key_len == kl && !memcmp(p->key, key, (size_t)kl * sizeof key[0])) {
      p->last_used = s->tick;
      *out = p;
      return RT_OK;
    }
  }
  rt_plan *p = NULL;
  rt_status st = plan_build(s, inputs, n, &p, err);
  if (st != RT_OK)
    return st;
  if (p->arena_bytes > s->arena_cap) {
    size_t need = p->arena_bytes;
    unsigned char *a = aligned_alloc(64, (need + 63) & ~(size_t)63);
    if (!a) {
      plan_destroy(s->m, p);
      return rt__errorf(err, RT_ERR_NOMEM, "out of memory: arena of %zu bytes", need);
    }
    free(s->arena);
    s->arena = a;
    s->arena_cap = p->arena_bytes;
  }
  if (s->n_plans == RT_MAX_PLANS) { /* evict the least recently used plan */
    int lru = 0;
    for (int i = 1; i < s->n_plans; i++)
      if (s->plans[i]->last_used < s->plans[lru]->last_used)
        lru = i;
    plan_destroy(s->m, s->plans[lru]);
    s->plans[lru] = s->plans[--s->n_plans];
  }
  p->last_used = s->tick;
  s->plans[s->n_plans++] = p;
  *out = p;
  return RT_OK;
}

rt_status rt_session_plan(rt_session *s, const rt_tensor *inputs, int n_inputs,
                          size_t *arena_bytes_out, rt_error *err) {
  rt_status st = check_inputs(s->m, inputs, n_inputs, err);
  if (st != RT_OK)
    return st;
  rt_plan *p;
  if (s->flow) { /* control flow: memory is found while running, nothing to plan */
    if (arena_bytes_out)
      *arena_bytes_out = 0;
    return RT_OK;
  }
  if ((st = get_plan(s, inputs, n_inputs, &p, err)) != RT_OK)
    return st;
  if (arena_bytes_out)
    *arena_bytes_out = p->arena_bytes;
  return RT_OK;
}

rt_status rt_model_flops(const rt_model *m, const rt_tensor *inputs, int n_inputs,
                         double *flops_out, rt_error *err) {
  rt_session *s;
  rt_status st = rt_session_create(m, &s, err);
  if (st != RT_OK)
    return st;
  rt_plan *p;
  *flops_out = 0;
  if (s->flow) {
    rt_session_destroy(s);
    return rt__errorf(err, RT_ERR_UNSUPPORTED, "FLOPs of graphs with control flow depend on data");
  }
  if ((st = check_inputs(m, inputs, n_inputs, err)) == RT_OK &&
      (st = get_plan(s, inputs, n_inputs, &p, err)) == RT_OK)
    *flops_out = p->flops;
  rt_session_destroy(s);
  return st;
}

/* ---- running ---- */
rt_status rt_session_run(rt_session *s, const rt_tensor *inputs, int n_inputs,
                         rt_tensor *outputs, rt_error *err) {
  const rt_model *m = s->m;
  const rt_graph *g = m->g;
  rt_status st = check_inputs(m, inputs, n_inputs, err);
  if (st != RT_OK)
    return st;
  for (int i = 0; i < n_inputs; i++)
    if (!inputs[i].data && rt_tensor_numel(&inputs[i]) > 0)
      return rt__errorf(err, RT_ERR_INVALID_ARG, "input '%s' has no data", m->inputs[i].name);
  if (s->flow)
    return rt__flow_run(s->flow, inputs, n_inputs, outputs, err);
  rt_plan *p;
  if ((st = get_plan(s, inputs, n_inputs, &p, err)) != RT_OK)
    return st;
  for (int i = 0; i < n_inputs; i++) {
    rt_slot *is = slot_of(s, p, g->inputs[i].ref);
    is->t.data = inputs[i].data;
  }
  if (p->dynamic)
    dyn_reset(s);
  for (int si = 0; si < p->n_steps; si++) {
    const rt_step *step = &p->steps[si];
    const rt_node *nd = &g->nodes[step->node];
    rt_slot *os = &p->slots[s->slot_base[step->node]];
    for (int j = 0; j < nd->n_inputs; j++)
      s->kin[j] = slot_of(s, p, nd->inputs[j])->t;
    rt_kctx k = {.node = nd, .params = nd->params, .n_in = nd->n_inputs, .in = s->kin,
                 .n_out = nd->n_outputs, .out = s->kout, .err = err, .tp = s->tp,
                 .state = step->state};
    if (!step->dynamic) {
      for (int j = 0; j < nd->n_outputs; j++) {
        /* The arena may have moved since planning (a later plan grew it). */
        os[j].t.data = s->arena + os[j].offset;
        s->kout[j] = os[j].t;
      }
      k.scratch_bytes = step->scratch_bytes;
      k.scratch = step->scratch_bytes ? s->arena + step->scratch_off : NULL;
    } else {
      for (int j = 0; j < nd->n_outputs; j++)
        s->kout[j] = (rt_tensor){0};
      if ((st = nd->op->shape(&k)) != RT_OK) {
        if (st == RT_ERR_NEED_VALUE)
          st = rt__errorf(err, RT_ERR_INTERNAL, "node '%s': shape unknown at run time",
                          nd->name);
        return st;
      }
      for (int j = 0; j < nd->n_outputs; j++) {
        int64_t numel;
        if (!rt__checked_numel(s->kout[j].dims, s->kout[j].rank, &numel))
          return rt__errorf(err, RT_ERR_SHAPE, "node '%s': output %d has too many elements",
                            nd->name, j);
        s->kout[j].data = dyn_alloc(s, rt_tensor_nbytes(&s->kout[j]));
        if (!s->kout[j].data)
          return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", nd->name);
      }
      k.scratch = k.scratch_bytes ? dyn_alloc(s, k.scratch_bytes) : NULL;
      if (k.scratch_bytes && !k.scratch)
        return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory", nd->name);
    }
    if ((st = nd->op->run(&k)) != RT_OK)
      return st;
    if (step->dynamic)
      for (int j = 0; j < nd->n_outputs; j++)
        os[j].t = s->kout[j];
  }
  for (int i = 0; i < g->n_outputs; i++)
    outputs[i] = slot_of(s, p, g->outputs[i].ref)->t;
  return RT_OK;
}

/* ---- output facts for inspect and metadata ---- */
rt_status rt__plan_output_shapes(const rt_model *m, const rt_tensor *inputs, int n_inputs,
                                 rt_tensor *outs, bool *known, rt_error *err) {
  rt_session *s;
  rt_status st = rt_session_create(m, &s, err);
  if (st != RT_OK)
    return st;
  rt_plan *p = NULL;
  if (s->flow)
    st = rt__errorf(err, RT_ERR_UNSUPPORTED, "control flow: output shapes depend on data");
  else if ((st = check_inputs(m, inputs, n_inputs, err)) == RT_OK)
    st = plan_build(s, inputs, n_inputs, &p, err);
  if (st == RT_OK) {
    for (int i = 0; i < m->g->n_outputs; i++) {
      const rt_slot *os = slot_of(s, p, m->g->outputs[i].ref);
      known[i] = os->state != SLOT_DYN;
      outs[i] = os->t;
      outs[i].data = NULL;
    }
  }
  plan_destroy(m, p);
  rt_session_destroy(s);
  return st;
}
