/*
 * ops_common.c — helpers every op family uses: broadcasting, axis normalization, reading
 * integer operands, checked element counts and products.
 *
 * What a kernel may assume about a tensor the executor hands it: dims >= 0 whose left-to-right
 * product stays under 2^31. A dim after a 0 can still be huge ([0, 2^40] exists and is empty),
 * so a product over a sub-range of dims (a stride, an inner size) goes through rt__dims_prod.
 */
#include "../ops.h"

#include <stdint.h>

rt_status rt__broadcast_shape(const rt_node *n, const rt_tensor *a, const rt_tensor *b,
                              rt_tensor *out, rt_error *err) {
  int rank = a->rank > b->rank ? a->rank : b->rank;
  for (int i = 0; i < rank; i++) {
    int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return rt__errorf(err, RT_ERR_SHAPE,
                        "node '%s': shapes cannot broadcast (dim %d: %lld vs %lld)", n->name, i,
                        (long long)da, (long long)db);
    out->dims[i] = da == 1 ? db : da;
  }
  out->rank = rank;
  return RT_OK;
}

int64_t rt__tensor_get_int(const rt_tensor *t, int64_t i) {
  switch (t->dtype) {
  case RT_DT_I32: return ((const int32_t *)t->data)[i];
  case RT_DT_F32: {
    /* Saturated: casting NaN or a float beyond int64 is undefined, and callers range-check. */
    float v = ((const float *)t->data)[i];
    return v >= 9.2e18f ? INT64_MAX : v > -9.2e18f ? (int64_t)v : INT64_MIN;
  }
  case RT_DT_BOOL: return ((const uint8_t *)t->data)[i];
  default: return 0;
  }
}

bool rt__norm_axis(int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1))
    return false;
  *out = (int)(axis < 0 ? axis + rank : axis);
  if (rank == 0)
    *out = 0;
  return true;
}

void rt__set_shape(rt_tensor *t, rt_dtype dt, int rank, const int64_t *dims) {
  t->dtype = dt;
  t->rank = rank;
  for (int i = 0; i < rank; i++)
    t->dims[i] = dims[i];
}

bool rt__checked_numel(const int64_t *dims, int rank, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0)
      return false;
    if (dims[i] && n > INT32_MAX / dims[i])
      return false;
    n *= dims[i];
  }
  *out = n;
  return true;
}

int64_t rt__par_grain(double ns_per_item) {
  double g = 20000.0 / (ns_per_item > 1e-3 ? ns_per_item : 1e-3);
  return g < 1 ? 1 : g > 1e15 ? INT64_MAX / 4 : (int64_t)g;
}

bool rt__checked_mul(int64_t a, int64_t b, int64_t *out) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return false;
  *out = r;
  return true;
}

int64_t rt__dims_prod(const int64_t *dims, int from, int to) {
  for (int i = from; i < to; i++)
    if (dims[i] == 0)
      return 0;
  int64_t p = 1;
  for (int i = from; i < to; i++)
    if (!rt__checked_mul(p, dims[i], &p))
      return INT64_MAX;
  return p;
}
