/*
 * compile.c — turns a loaded graph into one the executor can trust.
 *
 * Steps, in order: resolve every op in the op table; check input arity and that every
 * reference names an existing output; let each op read its attributes (prepare); order the
 * nodes topologically (a cycle that is not a loop back-edge through NextIteration is an
 * error); fold nodes whose inputs are all constants into new constants; mark the nodes the
 * outputs depend on (everything else is dead and never planned).
 *
 * Folded values live in the graph pool, so they are shared by every session like weights.
 */
#include "model.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ops name the node; messages from the compiler also name the file, once. */
static void prefix_path(const rt_graph *g, rt_error *err) {
  if (strstr(err->msg, g->path))
    return;
  char tmp[sizeof err->msg];
  int n = snprintf(tmp, sizeof tmp, "%.300s: ", g->path);
  snprintf(tmp + n, sizeof tmp - (size_t)n, "%.*s", (int)(sizeof tmp - (size_t)n - 1), err->msg);
  memcpy(err->msg, tmp, sizeof tmp);
}

static bool is_back_edge(const rt_graph *g, int from) {
  return !strcmp(g->nodes[from].op_name, "NextIteration");
}

/* Kahn's algorithm over data + control edges, skipping loop back-edges. */
static rt_status topo_order(rt_graph *g, int *order, rt_error *err) {
  int n = g->n_nodes;
  int *indeg = calloc((size_t)n, sizeof *indeg);
  int *cnt = calloc((size_t)n + 1, sizeof *cnt);
  int *adj = NULL, *queue = calloc((size_t)n, sizeof *queue);
  rt_status st = RT_OK;
  int edges = 0;
  if (!indeg || !cnt || !queue) {
    st = rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory ordering the graph", g->path);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    const rt_node *nd = &g->nodes[i];
    for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
      int src = j < nd->n_inputs ? nd->inputs[j].node : nd->ctrl[j - nd->n_inputs];
      if (is_back_edge(g, src))
        continue;
      cnt[src + 1]++;
      indeg[i]++;
      edges++;
    }
  }
  for (int i = 0; i < n; i++)
    cnt[i + 1] += cnt[i];
  adj = malloc((size_t)(edges ? edges : 1) * sizeof *adj);
  if (!adj) {
    st = rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory ordering the graph", g->path);
    goto done;
  }
  {
    int *fill = calloc((size_t)n, sizeof *fill);
    if (!fill) {
      st = rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory ordering the graph", g->path);
      goto done;
    }
    for (int i = 0; i < n; i++) {
      const rt_node *nd = &g->nodes[i];
      for (int j = 0; j < nd->n_inputs + nd->n_ctrl; j++) {
        int src = j < nd->n_inputs ? nd->inputs[j].node : nd->ctrl[j - nd->n_inputs];
        if (is_back_edge(g, src))
          continue;
        adj[cnt[src] + fill[src]++] = i;
      }
    }
    free(fill);
  }
  int head = 0, tail = 0, k = 0;
  for (int i = 0; i < n; i++)
    if (!indeg[i])
      queue[tail++] = i;
  while (head < tail) {
    int v = queue[head++];
    order[k++] = v;
    for (int e = cnt[v]; e < cnt[v + 1]; e++)
      if (--indeg[adj[e]] == 0)
        queue[tail++] = adj[e];
  }
  if (k != n) {
    int bad = 0;
    for (int i = 0; i < n; i++)
      if (indeg[i]) {
        bad = i;
        break;
      }
    st = rt__errorf(err, RT_ERR_PARSE, "%s: node '%s': the graph has a cycle through it",
                    g->path, g->nodes[bad].name);
  }
done:
  free(indeg);
  free(cnt);
  free(adj);
  free(queue);
  return st;
}

static rt_status check_and_prepare(rt_model *m, const rt_model_params *p, rt_error *err) {
  rt_graph *g = m->g;
  for (int i = 0; i < g->n_nodes; i++) {
    rt_node *nd = &g->nodes[i];
    nd->op = rt__op_find(nd->op_name);
    if (!nd->op) {
      if (p->allow_unsupported)
        continue;
      return rt__errorf(err, RT_ERR_UNSUPPORTED, "%s: node '%s': unsupported op '%s'", g->path,
                        nd->name, nd->op_name);
    }
    const rt_op_def *op = nd->op;
    if (nd->n_inputs < op->min_inputs || (op->max_inputs >= 0 && nd->n_inputs > op->max_inputs))
      return rt__errorf(err, RT_ERR_PARSE, "%s: node '%s' (%s): %d inputs, expected %d..%d",
                        g->path, nd->name, nd->op_name, nd->n_inputs, op->min_inputs,
                        op->max_inputs);
    int want = op->num_outputs ? op->num_outputs(nd) : op->n_outputs;
    if (want < 0)
      return rt__errorf(err, RT_ERR_PARSE, "%s: node '%s' (%s): bad output count attribute",
                        g->path, nd->name, nd->op_name);
    nd->n_outputs = want;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    rt_node *nd = &g->nodes[i];
    for (int j = 0; j < nd->n_inputs; j++) {
      rt_ref r = nd->inputs[j];
      if (r.node < 0 || r.node >= g->n_nodes)
        return rt__errorf(err, RT_ERR_PARSE, "%s: node '%s': input %d names no node", g->path,
                          nd->name, j);
      const rt_node *src = &g->nodes[r.node];
      if (src->op && (r.index < 0 || r.index >= src->n_outputs))
        return rt__errorf(err, RT_ERR_PARSE,
                          "%s: node '%s': input %d reads output %d of '%s', which has %d",
                          g->path, nd->name, j, r.index, src->name, src->n_outputs);
    }
    for (int j = 0; j < nd->n_ctrl; j++)
      if (nd->ctrl[j] < 0 || nd->ctrl[j] >= g->n_nodes)
        return rt__errorf(err, RT_ERR_PARSE, "%s: node '%s': control input names no node",
                          g->path, nd->name);
    if (nd->op && (nd->op->flags & RT_OP_CONTROL))
      m->has_control_flow = true;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    rt_node *nd = &g->nodes[i];
    if (nd->op && nd->op->prepare) {
      rt_status st = nd->op->prepare(g, nd, err);
      if (st != RT_OK) {
        /* Ops name the node; prefix the file unless they already did. */
        prefix_path(g, err);
        return st;
      }
    }
  }
  return RT_OK;
}

/* Evaluates a node whose inputs are all constants and turns it into a Const. Only
 * single-output ops are folded: multi-output ones are rare in constant subgraphs. */
static rt_status fold_node(rt_graph *g, rt_node *nd, rt_error *err, bool *folded) {
  *folded = false;
  if (!nd->op || (nd->op->flags & (RT_OP_NOFOLD | RT_OP_CONTROL)) || nd->n_outputs != 1 ||
      nd->n_ctrl || !nd->op->run)
    return RT_OK;
  if (!strcmp(nd->op_name, "Const") || !strcmp(nd->op_name, "Placeholder"))
    return RT_OK;
  rt_tensor in[64];
  if (nd->n_inputs > 64)
    return RT_OK;
  for (int j = 0; j < nd->n_inputs; j++) {
    const rt_node *src = &g->nodes[nd->inputs[j].node];
    if (!src->op || strcmp(src->op_name, "Const"))
      return RT_OK;
    in[j] = src->value;
  }
  rt_tensor out = {0};
  rt_kctx k = {.node = nd, .params = nd->params, .n_in = nd->n_inputs, .in = in, .n_out = 1,
               .out = &out, .err = err};
  rt_status st = nd->op->shape(&k);
  if (st == RT_ERR_NEED_VALUE)
    return RT_OK;
  if (st != RT_OK)
    return st;
  int64_t numel;
  if (!rt__checked_numel(out.dims, out.rank, &numel))
    return rt__errorf(err, RT_ERR_SHAPE, "node '%s': constant result too large", nd->name);
  /* Folding must not blow a small graph up into a huge one (Fill/Tile of big shapes). */
  if (numel > (1 << 24))
    return RT_OK;
  out.data = rt__pool_alloc(g->pool, rt_tensor_nbytes(&out) + 1);
  k.scratch = k.scratch_bytes ? rt__pool_alloc(g->pool, k.scratch_bytes) : NULL;
  if (!out.data || (k.scratch_bytes && !k.scratch))
    return rt__errorf(err, RT_ERR_NOMEM, "node '%s': out of memory folding", nd->name);
  st = nd->op->run(&k);
  if (st != RT_OK)
    return st;
  nd->op = rt__op_find("Const");
  nd->op_name = "Const";
  nd->value = out;
  nd->n_inputs = 0;
  nd->params = NULL;
  *folded = true;
  return RT_OK;
}

rt_status rt__model_compile(rt_model *m, const rt_model_params *p, rt_error *err) {
  rt_graph *g = m->g;
  rt_status st = check_and_prepare(m, p, err);
  if (st != RT_OK)
    return st;
  int n = g->n_nodes;
  int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
  bool *live = calloc((size_t)(n ? n : 1), sizeof *live);
  if (!order || !live) {
    free(order);
    free(live);
    return rt__errorf(err, RT_ERR_NOMEM, "%s: out of memory", g->path);
  }
  st = topo_order(g, order, err);
  if (st != RT_OK)
    goto done;
  if (p->fold_constants && !m->has_control_flow) {
    for (int i = 0; i < n; i++) {
      bool folded;
      st = fold_node(g, &g->nodes[order[i]], err, &folded);
      if (st != RT_OK) {
        prefix_path(g, err);
        goto done;
      }
    }
  }
  /* Liveness from the outputs backwards (reverse topological order). */
  for (int i = 0; i < g->n_outputs; i++)
    live[g->outputs[i].ref.node] = true;
  for (int i = 0; i < g->n_inputs; i++)
    live[g->inputs[i].ref.node] = true;
  if (m->has_control_flow) {
    /* Loop bodies are reached through back-edges the reverse walk cannot see; keep all. */
    for (int i = 0; i < n; i++)
      live[i] = true;
  }
  for (int i = n - 1; i >= 0; i--) {
    const rt_node *nd = &g->nodes[order[i]];
    if (!live[order[i]])
      continue;
    for (int j = 0; j < nd->n_inputs; j++)
      live[nd->inputs[j].node] = true;
    for (int j = 0; j < nd->n_ctrl; j++)
      live[nd->ctrl[j]] = true;
  }
  m->n_order = 0;
  for (int i = 0; i < n; i++)
    if (live[order[i]])
      order[m->n_order++] = order[i];
  /* Pack weights once, now that folding has made every constant input a Const. */
  for (int i = 0; i < m->n_order; i++) {
    rt_node *nd = &g->nodes[order[i]];
    if (nd->op && nd->op->pack && (st = nd->op->pack(g, nd, err)) != RT_OK) {
      prefix_path(g, err);
      goto done;
    }
  }
  m->order = order;
  m->n_live = m->n_order;
  order = NULL;
done:
  free(order);
  free(live);
  return st;
}
