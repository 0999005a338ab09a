/*
 * buf.c — growable buffer and the number/string encoders behind every JSON body we write.
 *
 * Floats: responses must round-trip bit for bit (a client that parses our JSON as double and
 * casts to float32 gets the exact tensor `orchard run` writes), and a model can return
 * millions of values, so the printer avoids snprintf: it scales |v| by a power of ten in
 * double (relative error ~1e-16, far below the 3e-8 half-ulp of float32), rounds to p digits
 * for p = 1..9 and takes the first p whose decimal provably rounds back to v. "Provably"
 * means the candidate times (1 +- 1e-15) rounds to v at both ends, so neither our own
 * rounding error nor a client's correctly rounded decimal->double->float path can flip it.
 * Nine digits always round-trip, so the loop ends.
 *
 * Most p fail that test, and running it for each p cost ~80 ns of CPU a float. A cheap filter
 * comes first: with s = |v| scaled to nine integer digits, the p-digit candidate is s rounded
 * to a multiple of 10^(9-p), and unless it lies within a half-gap of s (the float's rounding
 * interval, plus room for the filter's own error, < 1e-5 in those units: see the code) the
 * exact test cannot pass, so it is skipped. The exact test and the candidates it sees are
 * unchanged, so the text is the same as without the filter (test_rest_codec.c checks that
 * against the plain search), in about half the time.
 */
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void srv_buf_init(srv_buf *b) { memset(b, 0, sizeof *b); }

void srv_buf_free(srv_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

char *srv_buf_take(srv_buf *b, size_t *len_out) {
  char *d = NULL;
  if (!b->oom && srv_buf_reserve(b, 0))
    d = b->data;
  else
    free(b->data);
  if (len_out)
    *len_out = d ? b->len : 0;
  memset(b, 0, sizeof *b);
  return d;
}

bool srv_buf_reserve(srv_buf *b, size_t extra) {
  if (b->oom)
    return false;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap * 2 > cap ? cap * 2 : need;
  char *d = realloc(b->data, cap);
  if (!d) {
    b->oom = true;
    return false;
  }
  b->data = d;
  b->cap = cap;
  b->data[b->len] = 0;
  return true;
}

void srv_buf_append(srv_buf *b, const void *p, size_t n) {
  if (!srv_buf_reserve(b, n))
    return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
}

void srv_buf_puts(srv_buf *b, const char *s) { srv_buf_append(b, s, strlen(s)); }

void srv_buf_putc(srv_buf *b, char c) {
  if (!srv_buf_reserve(b, 1))
    return;
  b->data[b->len++] = c;
  b->data[b->len] = 0;
}

void srv_buf_printf(srv_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small) {
    srv_buf_append(b, small, (size_t)n);
    return;
  }
  if (!srv_buf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void srv_buf_json_string(srv_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  srv_buf_putc(b, '"');
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    switch (*c) {
    case '"': srv_buf_append(b, "\\\"", 2); break;
    case '\\': srv_buf_append(b, "\\\\", 2); break;
    case '\n': srv_buf_append(b, "\\n", 2); break;
    case '\r': srv_buf_append(b, "\\r", 2); break;
    case '\t': srv_buf_append(b, "\\t", 2); break;
    default:
      if (*c < 0x20) {
        char e[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
        srv_buf_append(b, e, 6);
      } else {
        srv_buf_putc(b, (char)*c);
      }
    }
  }
  srv_buf_putc(b, '"');
}

static const char DIGITS2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static int fmt_u64(char *out, uint64_t v) {
  char tmp[24];
  char *t = tmp + sizeof tmp;
  while (v >= 100) {
    t -= 2;
    memcpy(t, DIGITS2 + v % 100 * 2, 2);
    v /= 100;
  }
  if (v >= 10) {
    t -= 2;
    memcpy(t, DIGITS2 + v * 2, 2);
  } else {
    *--t = (char)('0' + v);
  }
  int n = (int)(tmp + sizeof tmp - t);
  memcpy(out, t, (size_t)n);
  return n;
}

int srv_fmt_i64(char *out, int64_t v) {
  int n = 0;
  uint64_t u = (uint64_t)v;
  if (v < 0) {
    out[n++] = '-';
    u = 0 - u;
  }
  return n + fmt_u64(out + n, u);
}

void srv_buf_i64(srv_buf *b, int64_t v) {
  char s[24];
  srv_buf_append(b, s, (size_t)srv_fmt_i64(s, v));
}

/* 10^k for k in [-64, 64] as the nearest double (the compiler rounds each literal). */
static const double POW10[129] = {
    1e-64, 1e-63, 1e-62, 1e-61, 1e-60, 1e-59, 1e-58, 1e-57, 1e-56, 1e-55, 1e-54, 1e-53, 1e-52,
    1e-51, 1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39,
    1e-38, 1e-37, 1e-36, 1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26,
    1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13,
    1e-12, 1e-11, 1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,
    1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13,
    1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,  1e22,  1e23,  1e24,  1e25,  1e26,
    1e27,  1e28,  1e29,  1e30,  1e31,  1e32,  1e33,  1e34,  1e35,  1e36,  1e37,  1e38,  1e39,
    1e40,  1e41,  1e42,  1e43,  1e44,  1e45,  1e46,  1e47,  1e48,  1e49,  1e50,  1e51,  1e52,
    1e53,  1e54,  1e55,  1e56,  1e57,  1e58,  1e59,  1e60,  1e61,  1e62,  1e63,  1e64};
static double pow10_of(int k) { return POW10[k + 64]; }

static bool rounds_to(double c, float v) {
  return (float)(c * (1 + 1e-15)) == v && (float)(c * (1 - 1e-15)) == v;
}

/* The filter's grid for p = 1..8 digits: candidates are multiples of 10^(9-p) in s's units. */
static const double STEP[8] = {1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1};
static const double INV_STEP[8] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1};

int srv_fmt_f32(char *out, float v) {
  if (isnan(v))
    return (int)(memcpy(out, "NaN", 4), 3);
  if (isinf(v))
    return v < 0 ? (int)(memcpy(out, "-Infinity", 10), 9) : (int)(memcpy(out, "Infinity", 9), 8);
  int n = 0;
  if (signbit(v))
    out[n++] = '-';
  float a = fabsf(v);
  if (a == 0) {
    out[n++] = '0';
    out[n] = 0;
    return n;
  }
  double d = a;
  /* e: the decimal exponent of the leading digit, pow10_of(e) <= d < pow10_of(e + 1), first
   * estimated from the binary exponent (floor(e2 * log10(2)) = e2 * 78913 >> 18). */
  uint64_t dbits;
  memcpy(&dbits, &d, 8);
  int e2 = (int)((dbits >> 52) & 0x7FF) - 1023;
  int e = (e2 * 78913) >> 18;
  while (d < pow10_of(e))
    e--;
  while (d >= pow10_of(e + 1))
    e++;
  /* The filter's scale: s has nine digits before the point; hws bounds, in the same units,
   * how far a candidate that can round back to v may lie from s (the upper half-gap of the
   * float is the larger one; past FLT_MAX it is infinite and nothing is filtered). */
  uint32_t abits;
  memcpy(&abits, &a, 4);
  abits++;
  float above;
  memcpy(&above, &abits, 4);
  double scale = pow10_of(8 - e);
  double s = d * scale;
  double hws = ((double)above - d) * 0.5 * scale * (1 + 1e-9) + 1e-5;
  /* Bit p-1 set: the p-digit candidate may round back (no branches: eight independent
   * multiply-round-compare chains, which the core overlaps). Errors, in s's units: s itself
   * is off by < 3e-7 (two roundings of a value < 1e9), 1/10^k and the subtraction add < 1e-7,
   * and near a tie the filter may round to the other neighbour of the exact test's candidate,
   * whose distance differs by < 3e-6; hws's 1e-5 slack covers all three. */
  unsigned maybe = 1u << 8;
  for (int i = 0; i < 8; i++)
    maybe |= (unsigned)(fabs(s - floor(s * INV_STEP[i] + 0.5) * STEP[i]) <= hws) << i;
  uint64_t m = 0;
  int p = 0, ee = e;
  bool found = false;
  for (; maybe && !found; maybe &= maybe - 1) {
    p = __builtin_ctz(maybe) + 1;
    ee = e;
    double scaled = d * pow10_of(p - 1 - e);
    m = (uint64_t)(scaled + 0.5);             /* llround: scaled < 2^30, so + 0.5 is exact */
    if (m >= (uint64_t)(pow10_of(p) + 0.5)) { /* rounding carried into a new digit */
      m /= 10;
      ee = e + 1;
    }
    found = m != 0 && rounds_to((double)m * pow10_of(ee - p + 1), a);
  }
  if (!found) { /* unreachable in theory; fall back to the C library */
    n += snprintf(out + n, 32 - (size_t)n, "%.9g", (double)a);
    return n;
  }
  char dig[24];
  int nd = fmt_u64(dig, m);
  while (nd > 1 && dig[nd - 1] == '0')
    nd--;
  /* dig[0..nd) x 10^(ee - nd + 1); ee is the exponent of the first digit */
  if (ee >= -5 && ee < 17) {
    if (ee < 0) {
      out[n++] = '0';
      out[n++] = '.';
      for (int i = -1; i > ee; i--)
        out[n++] = '0';
      memcpy(out + n, dig, (size_t)nd);
      n += nd;
    } else if (ee + 1 >= nd) {
      memcpy(out + n, dig, (size_t)nd);
      n += nd;
      for (int i = nd; i <= ee; i++)
        out[n++] = '0';
    } else {
      memcpy(out + n, dig, (size_t)ee + 1);
      n += ee + 1;
      out[n++] = '.';
      memcpy(out + n, dig + ee + 1, (size_t)(nd - ee - 1));
      n += nd - ee - 1;
    }
  } else {
    out[n++] = dig[0];
    if (nd > 1) {
      out[n++] = '.';
      memcpy(out + n, dig + 1, (size_t)nd - 1);
      n += nd - 1;
    }
    out[n++] = 'e';
    if (ee < 0) {
      out[n++] = '-';
      ee = -ee;
    }
    n += fmt_u64(out + n, (uint64_t)ee);
  }
  out[n] = 0;
  return n;
}

void srv_buf_f32(srv_buf *b, float v) {
  if (!srv_buf_reserve(b, 32))
    return;
  b->len += (size_t)srv_fmt_f32(b->data + b->len, v);
  b->data[b->len] = 0;
}

int64_t srv_b64_decode(const char *in, size_t len, unsigned char *out) {
  static const signed char map[256] = {
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62,
      -1, 62, -1, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,
      1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
      23, 24, 25, -1, -1, -1, -1, 63, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
      39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  };
  while (len > 0 && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return -1;
  int64_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = map[(unsigned char)in[i]];
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  return o;
}
