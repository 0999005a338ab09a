/*
 * npy.c — the .npy reader and writer. The header is parsed strictly enough that a file whose
 * declared shape disagrees with its byte length, or whose header is cut, is an error naming
 * the file rather than a short read.
 */
#include "npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static rt_status fail(rt_error *err, rt_status code, const char *path, const char *what) {
  if (err) {
    snprintf(err->msg, sizeof err->msg, "%s: %s", path, what);
    err->code = code;
  }
  return code;
}

typedef enum { NPY_F4, NPY_F8, NPY_I4, NPY_I8, NPY_B1, NPY_U1 } npy_kind;

static int parse_descr(const char *h, npy_kind *kind) {
  const char *d = strstr(h, "'descr'");
  if (!d)
    return -1;
  d = strchr(d + 7, '\'');
  if (!d)
    return -1;
  d++;
  static const struct {
    const char *s;
    npy_kind k;
  } kinds[] = {{"<f4'", NPY_F4}, {"<f8'", NPY_F8}, {"<i4'", NPY_I4}, {"<i8'", NPY_I8},
               {"|b1'", NPY_B1}, {"|u1'", NPY_U1}, {"<u1'", NPY_U1}, {"|i1'", NPY_U1}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strncmp(d, kinds[i].s, strlen(kinds[i].s))) {
      *kind = kinds[i].k;
      return 0;
    }
  return -1;
}

static size_t kind_size(npy_kind k) {
  switch (k) {
  case NPY_F8:
  case NPY_I8: return 8;
  case NPY_F4:
  case NPY_I4: return 4;
  default: return 1;
  }
}

static int parse_shape(const char *h, rt_tensor *t) {
  const char *s = strstr(h, "'shape'");
  if (!s || !(s = strchr(s, '(')))
    return -1;
  s++;
  t->rank = 0;
  /* A Python tuple: "()", "(3,)", "(1, 64, 64, 1)"; numbers are separated by commas only. */
  for (;;) {
    while (*s == ' ')
      s++;
    if (*s == ')')
      return 0;
    if (*s < '0' || *s > '9' || t->rank == RT_MAX_RANK)
      return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0 || v > INT32_MAX)
      return -1;
    t->dims[t->rank++] = v;
    s = end;
    while (*s == ' ')
      s++;
    if (*s == ',')
      s++;
    else if (*s != ')')
      return -1;
  }
}

static rt_status read_raw(const char *path, rt_tensor *t, npy_kind *kind, void **raw,
                          rt_error *err) {
  FILE *f = fopen(path, "rb");
  unsigned char pre[12];
  char *hdr = NULL;
  *raw = NULL;
  if (!f)
    return fail(err, RT_ERR_IO, path, strerror(errno));
  rt_status st = RT_OK;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
    st = fail(err, RT_ERR_PARSE, path, "not a .npy file (bad magic)");
    goto done;
  }
  size_t hlen;
  if (pre[6] == 1) {
    hlen = pre[8] | (size_t)pre[9] << 8;
  } else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) {
      st = fail(err, RT_ERR_PARSE, path, "truncated .npy header");
      goto done;
    }
    hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  } else {
    st = fail(err, RT_ERR_PARSE, path, "unsupported .npy version");
    goto done;
  }
  if (hlen > (1u << 20) || !(hdr = calloc(1, hlen + 1)) || fread(hdr, 1, hlen, f) != hlen) {
    st = fail(err, RT_ERR_PARSE, path, "truncated .npy header");
    goto done;
  }
  if (strstr(hdr, "'fortran_order': True")) {
    st = fail(err, RT_ERR_UNSUPPORTED, path, "Fortran-ordered arrays are not supported");
    goto done;
  }
  if (parse_descr(hdr, kind)) {
    st = fail(err, RT_ERR_UNSUPPORTED, path,
              "unsupported dtype (want <f4, <f8, <i4, <i8, |b1 or |u1)");
    goto done;
  }
  if (parse_shape(hdr, t)) {
    st = fail(err, RT_ERR_PARSE, path, "bad 'shape' in .npy header");
    goto done;
  }
  int64_t numel = 1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] && numel > INT32_MAX / t->dims[i]) {
      st = fail(err, RT_ERR_PARSE, path, "shape has too many elements");
      goto done;
    }
    numel *= t->dims[i];
  }
  size_t bytes = (size_t)numel * kind_size(*kind);
  /* The header alone must not decide an allocation: a 128-byte file may claim gigabytes. */
  struct stat sb;
  long at = ftell(f);
  if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && at >= 0) {
    uint64_t left = (uint64_t)sb.st_size > (uint64_t)at ? (uint64_t)sb.st_size - (uint64_t)at : 0;
    if (left != bytes) {
      st = fail(err, RT_ERR_PARSE, path,
                left < bytes ? "data shorter than the shape in its header"
                             : "data longer than the shape in its header");
      goto done;
    }
  }
  *raw = malloc(bytes ? bytes : 1);
  if (!*raw) {
    st = fail(err, RT_ERR_NOMEM, path, "out of memory");
    goto done;
  }
  if (fread(*raw, 1, bytes, f) != bytes) {
    st = fail(err, RT_ERR_PARSE, path, "data shorter than the shape in its header");
    goto done;
  }
  if (fgetc(f) != EOF) {
    st = fail(err, RT_ERR_PARSE, path, "data longer than the shape in its header");
    goto done;
  }
done:
  if (st != RT_OK) {
    free(*raw);
    *raw = NULL;
  }
  free(hdr);
  fclose(f);
  return st;
}

static double get_elem(const void *raw, npy_kind k, int64_t i) {
  switch (k) {
  case NPY_F4: return ((const float *)raw)[i];
  case NPY_F8: return ((const double *)raw)[i];
  case NPY_I4: return ((const int32_t *)raw)[i];
  case NPY_I8: return (double)((const int64_t *)raw)[i];
  default: return ((const uint8_t *)raw)[i];
  }
}

static rt_status convert(const char *path, void *raw, npy_kind kind, rt_dtype want,
                         rt_tensor *out, rt_error *err) {
  int64_t n = rt_tensor_numel(out);
  out->dtype = want;
  if ((want == RT_DT_F32 && kind == NPY_F4) || (want == RT_DT_I32 && kind == NPY_I4) ||
      (want == RT_DT_BOOL && (kind == NPY_B1 || kind == NPY_U1) && kind == NPY_B1)) {
    out->data = raw;
    return RT_OK;
  }
  void *data = malloc((size_t)(n ? n : 1) * rt_dtype_size(want));
  if (!data) {
    free(raw);
    return fail(err, RT_ERR_NOMEM, path, "out of memory");
  }
  for (int64_t i = 0; i < n; i++) {
    double v = get_elem(raw, kind, i);
    if (want == RT_DT_F32)
      ((float *)data)[i] = (float)v;
    else if (want == RT_DT_I32) {
      if (!(v >= INT32_MIN && v <= INT32_MAX)) {
        free(raw);
        free(data);
        return fail(err, RT_ERR_INVALID_ARG, path, "value out of int32 range");
      }
      ((int32_t *)data)[i] = (int32_t)v;
    } else
      ((uint8_t *)data)[i] = v != 0;
  }
  free(raw);
  out->data = data;
  return RT_OK;
}

rt_status srv_npy_read(const char *path, rt_dtype want, rt_tensor *out, rt_error *err) {
  npy_kind kind;
  void *raw;
  memset(out, 0, sizeof *out);
  rt_status st = read_raw(path, out, &kind, &raw, err);
  if (st != RT_OK)
    return st;
  return convert(path, raw, kind, want, out, err);
}

rt_status srv_npy_read_any(const char *path, rt_tensor *out, rt_error *err) {
  npy_kind kind;
  void *raw;
  memset(out, 0, sizeof *out);
  rt_status st = read_raw(path, out, &kind, &raw, err);
  if (st != RT_OK)
    return st;
  rt_dtype want = (kind == NPY_F4 || kind == NPY_F8) ? RT_DT_F32
                  : (kind == NPY_B1)                 ? RT_DT_BOOL
                                                     : RT_DT_I32;
  return convert(path, raw, kind, want, out, err);
}

rt_status srv_npy_write(const char *path, const rt_tensor *t, rt_error *err) {
  const char *descr = t->dtype == RT_DT_F32 ? "<f4" : t->dtype == RT_DT_I32 ? "<i4" : "|b1";
  char shape[256] = "";
  size_t o = 0;
  for (int i = 0; i < t->rank; i++)
    o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld,%s", (long long)t->dims[i],
                          (t->rank > 1 && i < t->rank - 1) ? " " : "");
  if (t->rank > 1) /* numpy writes (2, 3) but (4,) for rank 1 */
    shape[o - 1] = 0;
  char hdr[512];
  int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                    descr, shape);
  int total = 10 + hl + 1;
  int pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f)
    return fail(err, RT_ERR_IO, path, strerror(errno));
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  int hlen = hl + pad + 1;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8);
  fwrite(pre, 1, 10, f);
  fwrite(hdr, 1, (size_t)hl, f);
  for (int i = 0; i < pad; i++)
    fputc(' ', f);
  fputc('\n', f);
  size_t bytes = rt_tensor_nbytes(t);
  size_t wrote = bytes ? fwrite(t->data, 1, bytes, f) : 0;
  if (fclose(f) != 0 || wrote != bytes)
    return fail(err, RT_ERR_IO, path, "write failed");
  return RT_OK;
}
