/*
 * jsonin.c — strict JSON validation into a token tape, and exact decimal -> double.
 *
 * Why not jansson: a 256x256x3 image request is ~200k numbers (4 MB as Python prints them),
 * and a json_t per number, each its own malloc, cost 100-200 ms before inference even started.
 * Here one pass validates the body and appends a 16-byte token per value (~2 ms for those
 * 4 MB); nothing is converted until a codec asks, and then straight into the tensor (~3 ms).
 *
 * Accepts and rejects exactly what json_loadb(body, len, JSON_REJECT_DUPLICATES) did (the unit
 * tests check that against jansson itself), so a request the old codecs took still decodes to
 * the same bits and a bad one is still a 400. Messages say where (line, column, byte offset)
 * and what was expected there.
 *
 * Numbers: srv_jsonin_strtod is correctly rounded like glibc's strtod, which jansson used.
 * Up to 19 significant digits it takes Clinger's exact path (mantissa < 2^53, |exp10| <= 22:
 * one correctly rounded multiply or divide) or the Eisel-Lemire algorithm (a 64x128-bit product
 * with a truncated power of ten; it gives up, rather than guess, when the product cannot decide
 * the rounding). Everything else goes to strtod.
 */
#include "jsonin.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tape ----------------------------------------------------------------------------- */

void srv_jsonin_free(srv_jsonin_doc *d) {
  free(d->tok);
  free(d->strs);
  memset(d, 0, sizeof *d);
}

static bool tape_grow(srv_jsonin_doc *d) {
  size_t cap = d->cap ? (size_t)d->cap * 2 : 64;
  if (cap > UINT32_MAX)
    cap = UINT32_MAX;
  if (cap <= d->cap)
    return false;
  srv_jsonin_tok *t = realloc(d->tok, cap * sizeof *t);
  if (!t)
    return false;
  d->tok = t;
  d->cap = (uint32_t)cap;
  return true;
}

/* ---- errors --------------------------------------------------------------------------- */

typedef struct parse {
  srv_jsonin_doc *d;
  const unsigned char *s, *end;
  char *msg;
  size_t cap;
  int st;
} parse;

/* Line and column (1-based, columns in characters as jansson counts them) of byte `at`. */
static void locate(const parse *ps, const unsigned char *at, int *line, int *col) {
  int l = 1, c = 1;
  for (const unsigned char *p = ps->s; p < at; p++) {
    if (*p == '\n') {
      l++;
      c = 1;
    } else if ((*p & 0xC0) != 0x80) {
      c++;
    }
  }
  *line = l;
  *col = c;
}

static void describe(const parse *ps, const unsigned char *at, char *out, size_t cap) {
  if (at >= ps->end)
    snprintf(out, cap, "the end of the body");
  else if (*at >= 0x21 && *at < 0x7f)
    snprintf(out, cap, "'%c'", *at);
  else
    snprintf(out, cap, "byte 0x%02x", *at);
}

/* Sets the message for an error at `at`; fmt may use "%s" once for what is at `at`. */
__attribute__((format(printf, 3, 4))) static int fail(parse *ps, const unsigned char *at,
                                                      const char *fmt, ...) {
  if (ps->st != 200)
    return ps->st;
  int line, col;
  locate(ps, at, &line, &col);
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(ps->msg, ps->cap, "bad JSON at line %d column %d (byte %zu): %s", line, col,
           (size_t)(at - ps->s), what);
  ps->st = 400;
  return 400;
}

static int fail_got(parse *ps, const unsigned char *at, const char *expected) {
  char got[32];
  describe(ps, at, got, sizeof got);
  return fail(ps, at, "expected %s, got %s", expected, got);
}

/* ---- scanning ------------------------------------------------------------------------- */

enum { C_PLAIN, C_QUOTE, C_BSLASH, C_CTRL, C_HIGH };
static unsigned char str_class(unsigned char c) {
  return c == '"'    ? C_QUOTE
         : c == '\\' ? C_BSLASH
         : c < 0x20  ? C_CTRL
         : c >= 0x80 ? C_HIGH
                     : C_PLAIN;
}

static inline bool is_ws(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
static inline bool is_digit(unsigned char c) { return (unsigned)(c - '0') < 10; }

/* The first non-digit at or after q. Eight bytes at a time: a byte is a digit when its high
 * nibble is 3 and adding 6 keeps it so; the add can carry into the next byte only from a byte
 * >= 0xFA, itself a non-digit, so the lowest flagged byte is exact. */
static inline const unsigned char *skip_digits(const unsigned char *q, const unsigned char *end) {
  while (end - q >= 8) {
    uint64_t v;
    memcpy(&v, q, 8);
    uint64_t bad = ((v & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL) |
                   (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL);
    if (bad)
      return q + (__builtin_ctzll(bad) >> 3);
    q += 8;
  }
  while (q < end && is_digit(*q))
    q++;
  return q;
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end) {
  while (p < end && is_ws(*p))
    p++;
  return p;
}

static int hex4(const unsigned char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    int h = is_digit(c)                              ? c - '0'
            : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                     : -1;
    if (h < 0)
      return -1;
    v = v << 4 | h;
  }
  return v;
}

/* Length of the valid UTF-8 sequence at p (jansson's rules: no overlongs, no surrogates,
 * nothing above U+10FFFF), 0 if invalid. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  int n;
  uint32_t v;
  if (c < 0xC2)
    return 0;
  if (c <= 0xDF) {
    n = 2;
    v = c & 0x1F;
  } else if (c <= 0xEF) {
    n = 3;
    v = c & 0x0F;
  } else if (c <= 0xF4) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (end - p < n)
    return 0;
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    v = v << 6 | (p[i] & 0x3F);
  }
  if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
      (n == 4 && v < 0x10000))
    return 0;
  return n;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* True when one of the 8 bytes of x is '"', '\\', a control character or >= 0x80. */
static inline bool swar_special(uint64_t x) {
  uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
  return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x) | x) & HIGHS;
}

/* Validates the string whose opening quote is at p; returns the byte after its closing
 * quote (NULL on error). *esc: it has escapes (its bytes differ from the body's). */
static const unsigned char *scan_string(parse *ps, const unsigned char *p, bool *esc) {
  const unsigned char *end = ps->end, *open = p;
  p++;
  *esc = false;
  for (;;) {
    while (end - p >= 8) {
      uint64_t x;
      memcpy(&x, p, 8);
      if (swar_special(x))
        break;
      p += 8;
    }
    while (p < end && str_class(*p) == C_PLAIN)
      p++;
    if (p == end) {
      fail(ps, open, "unterminated string (no closing quote before the end of the body)");
      return NULL;
    }
    switch (str_class(*p)) {
    case C_QUOTE: return p + 1;
    case C_CTRL:
      fail(ps, p, "control character 0x%02x in a string (write it as an escape)", *p);
      return NULL;
    case C_HIGH: {
      int n = utf8_len(p, end);
      if (!n) {
        fail(ps, p, "invalid UTF-8 byte 0x%02x in a string", *p);
        return NULL;
      }
      p += n;
      break;
    }
    case C_BSLASH: {
      *esc = true;
      const unsigned char *e = p;
      if (end - p < 2) {
        fail(ps, e, "unterminated escape at the end of the body");
        return NULL;
      }
      unsigned char c = p[1];
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
          c == 't') {
        p += 2;
        break;
      }
      if (c != 'u') {
        fail(ps, e,
             "invalid escape '\\%c' (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
             c >= 0x21 && c < 0x7f ? c : '?');
        return NULL;
      }
      int v = end - p >= 6 ? hex4(p + 2) : -1;
      if (v < 0) {
        fail(ps, e, "invalid \\u escape (expected 4 hex digits)");
        return NULL;
      }
      p += 6;
      if (v == 0) {
        fail(ps, e, "\\u0000 is not allowed in a string");
        return NULL;
      }
      if (v >= 0xDC00 && v <= 0xDFFF) {
        fail(ps, e, "invalid Unicode '\\u%04X' (a low surrogate without a high one)", v);
        return NULL;
      }
      if (v >= 0xD800 && v <= 0xDBFF) {
        int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
          fail(ps, e,
               "invalid Unicode '\\u%04X' (a high surrogate must be followed by a \\u escape "
               "of a low one)",
               v);
          return NULL;
        }
        p += 6;
      }
      break;
    }
    }
  }
}

static size_t put_utf8(char *o, uint32_t v) {
  if (v < 0x80) {
    o[0] = (char)v;
    return 1;
  }
  if (v < 0x800) {
    o[0] = (char)(0xC0 | v >> 6);
    o[1] = (char)(0x80 | (v & 0x3F));
    return 2;
  }
  if (v < 0x10000) {
    o[0] = (char)(0xE0 | v >> 12);
    o[1] = (char)(0x80 | (v >> 6 & 0x3F));
    o[2] = (char)(0x80 | (v & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | v >> 18);
  o[1] = (char)(0x80 | (v >> 12 & 0x3F));
  o[2] = (char)(0x80 | (v >> 6 & 0x3F));
  o[3] = (char)(0x80 | (v & 0x3F));
  return 4;
}

/* Decodes the validated string body [p, q) (between the quotes) into d->strs; sets the
 * token's pos and len. */
static bool decode_string(srv_jsonin_doc *d, const unsigned char *p, const unsigned char *q,
                          srv_jsonin_tok *t) {
  size_t need = d->strs_len + (size_t)(q - p) + 1;
  if (need > UINT32_MAX)
    return false;
  if (need > d->strs_cap) {
    size_t cap = d->strs_cap ? d->strs_cap : 256;
    while (cap < need)
      cap *= 2;
    char *s = realloc(d->strs, cap);
    if (!s)
      return false;
    d->strs = s;
    d->strs_cap = cap;
  }
  char *o = d->strs + d->strs_len, *o0 = o;
  while (p < q) {
    if (*p != '\\') {
      *o++ = (char)*p++;
      continue;
    }
    unsigned char c = p[1];
    p += 2;
    switch (c) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      uint32_t v = (uint32_t)hex4(p);
      p += 4;
      if (v >= 0xD800 && v <= 0xDBFF) {
        v = 0x10000 + ((v - 0xD800) << 10) + ((uint32_t)hex4(p + 2) - 0xDC00);
        p += 6;
      }
      o += put_utf8(o, v);
      break;
    }
    default: *o++ = (char)c; /* " \ / */
    }
  }
  *o = 0;
  t->pos = (uint32_t)d->strs_len;
  t->len = (uint32_t)(o - o0);
  t->esc = 1;
  d->strs_len += (size_t)(o - o0) + 1;
  return true;
}

/* Would strtod overflow (return +-HUGE_VAL with ERANGE, which jansson rejects) on the real
 * number [p, q)? Decided from the decimal exponent; strtod itself only at the boundary. */
static bool real_overflows(const unsigned char *p, const unsigned char *q) {
  const unsigned char *s = p;
  if (*s == '-')
    s++;
  int64_t lead = 0; /* the value is 0.d1d2... x 10^(lead + exp), d1 its first nonzero digit */
  bool nonzero = false;
  const unsigned char *t = s;
  if (*t != '0') {
    while (t < q && is_digit(*t))
      t++;
    lead = t - s;
    nonzero = true;
  } else {
    t++;
  }
  if (!nonzero && t < q && *t == '.') {
    t++;
    int64_t zeros = 0;
    while (t < q && *t == '0')
      t++, zeros++;
    if (t < q && is_digit(*t)) {
      nonzero = true;
      lead = -zeros;
    }
  }
  if (!nonzero)
    return false;
  while (t < q && (*t | 0x20) != 'e')
    t++;
  int64_t e = 0;
  if (t < q) {
    t++;
    bool neg = *t == '-';
    if (*t == '-' || *t == '+')
      t++;
    for (; t < q; t++)
      if (e < 100000000)
        e = e * 10 + (*t - '0');
    if (neg)
      e = -e;
  }
  int64_t mag = lead + e;
  if (mag <= 308)
    return false;
  if (mag >= 310)
    return true;
  size_t n = (size_t)(q - p);
  char *copy = malloc(n + 1);
  if (!copy)
    return true;
  memcpy(copy, p, n);
  copy[n] = 0;
  double v = strtod(copy, NULL);
  free(copy);
  return v == HUGE_VAL || v == -HUGE_VAL;
}

/* Validates the number at p; returns the byte after it (NULL on error). */
static const unsigned char *scan_number(parse *ps, const unsigned char *p, uint8_t *type) {
  const unsigned char *end = ps->end, *q = p;
  if (*q == '-')
    q++;
  if (q == end || !is_digit(*q)) {
    fail_got(ps, q, "a digit");
    return NULL;
  }
  const unsigned char *d0 = q;
  if (*q == '0') {
    q++;
    if (q < end && is_digit(*q)) {
      fail(ps, d0, "a number cannot start with 0 followed by a digit");
      return NULL;
    }
  } else {
    q = skip_digits(q, end);
  }
  size_t nint = (size_t)(q - d0);
  bool real = false, exp = false;
  if (q < end && *q == '.') {
    q++;
    if (q == end || !is_digit(*q)) {
      fail_got(ps, q, "a digit after the decimal point");
      return NULL;
    }
    q = skip_digits(q, end);
    real = true;
  }
  if (q < end && (*q | 0x20) == 'e') {
    q++;
    if (q < end && (*q == '+' || *q == '-'))
      q++;
    if (q == end || !is_digit(*q)) {
      fail_got(ps, q, "a digit in the exponent");
      return NULL;
    }
    q = skip_digits(q, end);
    real = exp = true;
  }
  if (!real) {
    if (nint >= 19 &&
        (nint > 19 ||
         memcmp(d0, *p == '-' ? "9223372036854775808" : "9223372036854775807", 19) > 0)) {
      fail(ps, p, "integer %.*s is out of the 64-bit range", (int)(q - p > 40 ? 40 : q - p),
           (const char *)p);
      return NULL;
    }
    *type = SRV_JSONIN_INTEGER;
  } else {
    if ((exp || nint > 300) && real_overflows(p, q)) {
      fail(ps, p, "number %.*s%s is beyond the range of a double", (int)(q - p > 40 ? 40 : q - p),
           (const char *)p, q - p > 40 ? "..." : "");
      return NULL;
    }
    *type = SRV_JSONIN_REAL;
  }
  return q;
}

static bool key_eq(const srv_jsonin_doc *d, uint32_t a, uint32_t b) {
  size_t la, lb;
  const char *pa = srv_jsonin_str(d, a, &la), *pb = srv_jsonin_str(d, b, &lb);
  return la == lb && !memcmp(pa, pb, la);
}

typedef struct keyref {
  const char *p;
  size_t len;
} keyref;

static int keyref_cmp(const void *a, const void *b) {
  const keyref *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->p, y->p, x->len);
}

/* Keys checked one by one against the earlier ones up to this many; a larger object is
 * checked once more, sorted, when it closes (no quadratic cost on hostile bodies). */
#define DUP_LINEAR 32

/* Duplicate keys of a large object o; false (error set) on one. */
static bool check_dups_sorted(parse *ps, uint32_t o) {
  srv_jsonin_doc *d = ps->d;
  uint32_t n = d->tok[o].len;
  keyref *keys = malloc((size_t)n * sizeof *keys);
  if (!keys) {
    snprintf(ps->msg, ps->cap, "out of memory reading the request body");
    ps->st = 500;
    return false;
  }
  uint32_t k = o + 1;
  for (uint32_t i = 0; i < n; i++) {
    keys[i].p = srv_jsonin_str(d, k, &keys[i].len);
    k = d->tok[k + 1].next;
  }
  qsort(keys, n, sizeof *keys, keyref_cmp);
  for (uint32_t i = 1; i < n; i++)
    if (!keyref_cmp(&keys[i - 1], &keys[i])) {
      fail(ps, ps->s + d->tok[o].pos, "duplicate key '%.*s' in the object starting here",
           (int)(keys[i].len > 64 ? 64 : keys[i].len), keys[i].p);
      free(keys);
      return false;
    }
  free(keys);
  return true;
}

static int fail_oom(parse *ps) {
  if (ps->st == 200) {
    snprintf(ps->msg, ps->cap, "out of memory reading the request body");
    ps->st = 500;
  }
  return ps->st;
}

/* Reads the key at p (the first non-space after '{' or ',') of object token o, checks it
 * against the object's earlier keys, and returns the byte after its ':' (NULL on error). */
static const unsigned char *scan_key(parse *ps, const unsigned char *p, uint32_t o) {
  srv_jsonin_doc *d = ps->d;
  const unsigned char *end = ps->end;
  if (p == end || *p != '"') {
    fail_got(ps, p, "a string key");
    return NULL;
  }
  bool esc;
  const unsigned char *q = scan_string(ps, p, &esc);
  if (!q)
    return NULL;
  if (d->n == d->cap && !tape_grow(d)) {
    fail_oom(ps);
    return NULL;
  }
  uint32_t kt = d->n++;
  d->tok[kt] = (srv_jsonin_tok){.pos = (uint32_t)(p + 1 - ps->s),
                                .len = (uint32_t)(q - p - 2),
                                .next = kt + 1,
                                .type = SRV_JSONIN_STRING};
  if (esc && !decode_string(d, p + 1, q - 1, &d->tok[kt])) {
    fail_oom(ps);
    return NULL;
  }
  uint32_t members = d->tok[o].len, k = o + 1;
  for (uint32_t i = 0; i < members && i < DUP_LINEAR; i++) {
    if (key_eq(d, k, kt)) {
      size_t len;
      const char *key = srv_jsonin_str(d, kt, &len);
      fail(ps, p, "duplicate key '%.*s'", (int)(len > 64 ? 64 : len), key);
      return NULL;
    }
    k = d->tok[k + 1].next;
  }
  p = skip_ws(q, end);
  if (p == end || *p != ':') {
    fail_got(ps, p, "':' after an object key");
    return NULL;
  }
  return p + 1;
}

/* ---- the parser ----------------------------------------------------------------------- */

int srv_jsonin_parse(srv_jsonin_doc *d, const char *body, size_t len, char *msg, size_t cap) {
  memset(d, 0, sizeof *d);
  d->body = body;
  d->len = len;
  parse ps = {.d = d,
              .s = (const unsigned char *)body,
              .end = (const unsigned char *)body + len,
              .msg = msg,
              .cap = cap,
              .st = 200};
  if (len >= UINT32_MAX) {
    snprintf(msg, cap, "request body: %zu bytes is more than the JSON reader indexes", len);
    return 413;
  }
  /* Most of a tensor body is numbers of a few bytes each; the tape doubles when short (a
   * realloc of a large block remaps pages rather than copying them). */
  size_t guess = len / 8 + 64;
  if (guess > (1u << 20))
    guess = 1u << 20;
  d->tok = malloc(guess * sizeof *d->tok);
  if (!d->tok)
    goto oom;
  d->cap = (uint32_t)guess;
  memset(&d->tok[0], 0, sizeof d->tok[0]);
  d->n = 1;

  uint32_t stack[SRV_JSONIN_MAX_DEPTH];
  uint32_t depth = 0;
  const unsigned char *p = skip_ws(ps.s, ps.end), *end = ps.end;
  if (p == end || (*p != '{' && *p != '[')) {
    fail_got(&ps, p, "'{' or '[' at the start of the body");
    return ps.st;
  }

#define ADD_TOK(TYPE, POS, LEN)                                                                    \
  do {                                                                                             \
    if (d->n == d->cap && !tape_grow(d))                                                           \
      goto oom;                                                                                    \
    srv_jsonin_tok *t_ = &d->tok[d->n];                                                            \
    t_->pos = (uint32_t)(POS);                                                                     \
    t_->len = (uint32_t)(LEN);                                                                     \
    t_->next = d->n + 1;                                                                           \
    t_->type = (TYPE);                                                                             \
    t_->esc = 0;                                                                                   \
    t_->pad = 0;                                                                                   \
    d->n++;                                                                                        \
  } while (0)

value:
  p = skip_ws(p, end);
  if (p == end)
    return fail_got(&ps, p, "a value");
  if (depth + 1 > SRV_JSONIN_MAX_DEPTH)
    return fail(&ps, p, "values nested deeper than %d levels", SRV_JSONIN_MAX_DEPTH);
  switch (*p) {
  case '{':
  case '[': {
    bool obj = *p == '{';
    ADD_TOK(obj ? SRV_JSONIN_OBJECT : SRV_JSONIN_ARRAY, p - ps.s, 0);
    stack[depth++] = d->n - 1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == (obj ? '}' : ']')) {
      p++;
      depth--;
      goto after_value;
    }
    if (obj)
      goto key;
    goto value;
  }
  case '"': {
    bool esc;
    const unsigned char *q = scan_string(&ps, p, &esc);
    if (!q)
      return ps.st;
    ADD_TOK(SRV_JSONIN_STRING, p + 1 - ps.s, q - p - 2);
    if (esc && !decode_string(d, p + 1, q - 1, &d->tok[d->n - 1]))
      goto oom;
    p = q;
    goto after_value;
  }
  case 't':
    if (end - p >= 4 && !memcmp(p, "true", 4)) {
      ADD_TOK(SRV_JSONIN_TRUE, p - ps.s, 4);
      p += 4;
      goto after_value;
    }
    return fail(&ps, p, "invalid literal (expected true, false or null)");
  case 'f':
    if (end - p >= 5 && !memcmp(p, "false", 5)) {
      ADD_TOK(SRV_JSONIN_FALSE, p - ps.s, 5);
      p += 5;
      goto after_value;
    }
    return fail(&ps, p, "invalid literal (expected true, false or null)");
  case 'n':
    if (end - p >= 4 && !memcmp(p, "null", 4)) {
      ADD_TOK(SRV_JSONIN_NULL, p - ps.s, 4);
      p += 4;
      goto after_value;
    }
    return fail(&ps, p, "invalid literal (expected true, false or null)");
  default:
    if (*p == '-' || is_digit(*p)) {
      uint8_t type;
      const unsigned char *q = scan_number(&ps, p, &type);
      if (!q)
        return ps.st;
      ADD_TOK(type, p - ps.s, q - p);
      p = q;
      goto after_value;
    }
    if (*p == 'N' || *p == 'I')
      return fail(&ps, p, "NaN and Infinity are not JSON numbers");
    return fail_got(&ps, p, "a value (object, list, string, number, true, false or null)");
  }

key:
  p = scan_key(&ps, p, stack[depth - 1]);
  if (!p)
    return ps.st;
  goto value;

after_value:
  if (depth == 0) {
    p = skip_ws(p, end);
    if (p != end)
      return fail_got(&ps, p, "the end of the body after the top-level value");
    return 200;
  }
  {
    uint32_t top = stack[depth - 1];
    srv_jsonin_tok *t = &d->tok[top];
    p = skip_ws(p, end);
    t->len++;
    if (t->type == SRV_JSONIN_ARRAY) {
      if (p < end && *p == ',') {
        p++;
        goto value;
      }
      if (p < end && *p == ']') {
        p++;
        t->next = d->n;
        depth--;
        goto after_value;
      }
      return fail_got(&ps, p, "',' or ']' after a list element");
    }
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      goto key;
    }
    if (p < end && *p == '}') {
      p++;
      t->next = d->n;
      depth--;
      if (t->len > DUP_LINEAR && !check_dups_sorted(&ps, top))
        return ps.st;
      goto after_value;
    }
    return fail_got(&ps, p, "',' or '}' after an object member");
  }
#undef ADD_TOK

oom:
  return fail_oom(&ps);
}

/* ---- reading values --------------------------------------------------------------------- */

static inline double text_to_double(const char *str, size_t n);
static inline int64_t tok_int(const char *body, const srv_jsonin_tok *t);

const char *srv_jsonin_type_name(const srv_jsonin_doc *d, uint32_t v) {
  if (!v)
    return "nothing";
  switch (srv_jsonin_typeof(d, v)) {
  case SRV_JSONIN_OBJECT: return "an object";
  case SRV_JSONIN_ARRAY: return "a list";
  case SRV_JSONIN_STRING: return "a string";
  case SRV_JSONIN_INTEGER: return "an integer";
  case SRV_JSONIN_REAL: return "a number";
  case SRV_JSONIN_TRUE: return "true";
  case SRV_JSONIN_FALSE: return "false";
  case SRV_JSONIN_NULL: return "null";
  }
  return "a value";
}

uint32_t srv_jsonin_at(const srv_jsonin_doc *d, uint32_t v, uint32_t i) {
  if (!srv_jsonin_is(d, v, SRV_JSONIN_ARRAY) || i >= d->tok[v].len)
    return 0;
  uint32_t c = v + 1;
  while (i--)
    c = d->tok[c].next;
  return c;
}

uint32_t srv_jsonin_get(const srv_jsonin_doc *d, uint32_t v, const char *key) {
  if (!srv_jsonin_is(d, v, SRV_JSONIN_OBJECT))
    return 0;
  size_t klen = strlen(key);
  uint32_t k = v + 1;
  for (uint32_t i = 0; i < d->tok[v].len; i++) {
    size_t len;
    const char *s = srv_jsonin_str(d, k, &len);
    if (len == klen && !memcmp(s, key, len))
      return k + 1;
    k = d->tok[k + 1].next;
  }
  return 0;
}

char *srv_jsonin_strdup(const srv_jsonin_doc *d, uint32_t v) {
  size_t len;
  const char *s = srv_jsonin_str(d, v, &len);
  char *c = malloc(len + 1);
  if (c) {
    memcpy(c, s, len);
    c[len] = 0;
  }
  return c;
}

double srv_jsonin_real(const srv_jsonin_doc *d, uint32_t v) {
  return text_to_double(d->body + d->tok[v].pos, d->tok[v].len);
}

double srv_jsonin_number(const srv_jsonin_doc *d, uint32_t v) {
  return d->tok[v].type == SRV_JSONIN_INTEGER ? (double)srv_jsonin_int(d, v)
                                              : srv_jsonin_real(d, v);
}

/* ---- decimal -> double ---------------------------------------------------------------- */

/* 128-bit significands of 10^q, rounded down and normalized (top bit set), q in
 * [POW_MIN, POW_MAX]: the table Eisel-Lemire needs. Computed once with a small bignum rather
 * than pasted as 1300 hex constants. */
#define POW_MIN (-342)
#define POW_MAX 308
static uint64_t POW_HI[POW_MAX - POW_MIN + 1], POW_LO[POW_MAX - POW_MIN + 1];
static pthread_once_t pow_once = PTHREAD_ONCE_INIT;
static bool pow_ready; /* set (release) once the table is written: skips pthread_once after */

#define BIG_LIMBS 48 /* 1536 bits: 10^308 < 2^1024, and 2^1500 / 10^342 keeps > 128 bits */

/* Top 128 bits of the bignum x (little-endian 32-bit limbs), truncated. */
static void big_top128(const uint32_t *x, uint64_t *hi, uint64_t *lo) {
  int top = BIG_LIMBS - 1;
  while (top > 0 && !x[top])
    top--;
  int msb = top * 32 + 31 - __builtin_clz(x[top]);
  uint64_t h = 0, l = 0;
  for (int k = 0; k < 128; k++) {
    int bit = msb - k;
    unsigned b = bit >= 0 ? (x[bit / 32] >> (bit % 32)) & 1 : 0;
    h = h << 1 | l >> 63;
    l = l << 1 | b;
  }
  *hi = h;
  *lo = l;
}

static void pow_init(void) {
  uint32_t x[BIG_LIMBS] = {1};
  for (int q = 0; q <= POW_MAX; q++) {
    big_top128(x, &POW_HI[q - POW_MIN], &POW_LO[q - POW_MIN]);
    uint64_t carry = 0;
    for (int i = 0; i < BIG_LIMBS; i++) {
      uint64_t v = (uint64_t)x[i] * 10 + carry;
      x[i] = (uint32_t)v;
      carry = v >> 32;
    }
  }
  /* floor(floor(X / 10) / 10) == floor(X / 100): dividing 2^1500 by ten q times gives
   * floor(2^1500 / 10^q) exactly, whose top bits are 10^-q's significand, rounded down. */
  memset(x, 0, sizeof x);
  x[1500 / 32] = 1u << (1500 % 32);
  for (int q = -1; q >= POW_MIN; q--) {
    uint64_t rem = 0;
    for (int i = BIG_LIMBS - 1; i >= 0; i--) {
      uint64_t cur = rem << 32 | x[i];
      x[i] = (uint32_t)(cur / 10);
      rem = cur % 10;
    }
    big_top128(x, &POW_HI[q - POW_MIN], &POW_LO[q - POW_MIN]);
  }
  __atomic_store_n(&pow_ready, true, __ATOMIC_RELEASE);
}

/* man * 10^exp10 correctly rounded (man != 0), or false when undecided: subnormal or out of
 * range results, or a product too close to a rounding boundary (Lemire, "Number Parsing at a
 * Gigabyte per Second", 2021; this follows Go's strconv.eiselLemire64). */
static bool eisel_lemire(uint64_t man, int exp10, double *out) {
  if (exp10 < POW_MIN || exp10 > POW_MAX)
    return false;
  if (!__atomic_load_n(&pow_ready, __ATOMIC_ACQUIRE))
    pthread_once(&pow_once, pow_init);
  int clz = __builtin_clzll(man);
  man <<= clz;
  /* floor(log2(10^exp10)) = (217706 * exp10) >> 16 over this range (an arithmetic shift). */
  uint64_t ret_exp2 = (uint64_t)((217706 * exp10 >> 16) + 64 + 1023) - (uint64_t)clz;
  unsigned __int128 x = (unsigned __int128)man * POW_HI[exp10 - POW_MIN];
  uint64_t x_hi = (uint64_t)(x >> 64), x_lo = (uint64_t)x;
  if ((x_hi & 0x1FF) == 0x1FF && x_lo + man < man) {
    unsigned __int128 y = (unsigned __int128)man * POW_LO[exp10 - POW_MIN];
    uint64_t y_hi = (uint64_t)(y >> 64), y_lo = (uint64_t)y;
    uint64_t m_hi = x_hi, m_lo = x_lo + y_hi;
    if (m_lo < x_lo)
      m_hi++;
    if ((m_hi & 0x1FF) == 0x1FF && m_lo + 1 == 0 && y_lo + man < man)
      return false;
    x_hi = m_hi;
    x_lo = m_lo;
  }
  uint64_t msb = x_hi >> 63;
  uint64_t ret_man = x_hi >> (msb + 9);
  ret_exp2 -= 1 ^ msb;
  if (x_lo == 0 && (x_hi & 0x1FF) == 0 && (ret_man & 3) == 1)
    return false; /* exactly halfway in the product: let strtod break the tie */
  ret_man += ret_man & 1;
  ret_man >>= 1;
  if (ret_man >> 53) {
    ret_man >>= 1;
    ret_exp2++;
  }
  if (ret_exp2 - 1 >= 0x7FF - 1)
    return false;
  uint64_t bits = ret_exp2 << 52 | (ret_man & 0x000FFFFFFFFFFFFFULL);
  memcpy(out, &bits, 8);
  return true;
}

/* 10^k, k <= 22: exact in a double. */
static const double EXACT_POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool eight_digits(uint64_t v) {
  return (((v & 0xF0F0F0F0F0F0F0F0ULL) |
           (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL);
}
static inline uint32_t parse_eight(uint64_t v) {
  v = (v & 0x0F0F0F0F0F0F0F0FULL) * 2561 >> 8;
  v = (v & 0x00FF00FF00FF00FFULL) * 6553601 >> 16;
  return (uint32_t)((v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL >> 32);
}

static double slow_strtod(const char *s, size_t n) {
  char small[128];
  if (n < sizeof small) {
    memcpy(small, s, n);
    small[n] = 0;
    return strtod(small, NULL);
  }
  return strtod(s, NULL); /* s[n] cannot continue the number: strtod stops there */
}

/* Always inlined: in a row loop the core then overlaps one number's divide or 128-bit
 * multiply with parsing the next. */
__attribute__((always_inline)) static inline double text_to_double(const char *str, size_t n) {
  const unsigned char *p = (const unsigned char *)str, *end = p + n;
  bool neg = p < end && *p == '-';
  p += neg;
  uint64_t w = 0;
  int nd = 0;           /* significant digits in w */
  int64_t exp10 = 0;    /* value = w * 10^exp10 (before the exponent part) */
  bool dropped = false; /* a nonzero digit beyond the 19 w holds */
  while (p < end && is_digit(*p)) {
    unsigned dg = *p++ - '0';
    if (nd < 19) {
      w = w * 10 + dg;
      nd += w != 0;
    } else {
      exp10++;
      dropped |= dg != 0;
    }
  }
  if (p < end && *p == '.') {
    p++;
    if (w == 0)
      while (p < end && *p == '0')
        p++, exp10--;
    while (end - p >= 8 && nd <= 11) {
      uint64_t v;
      memcpy(&v, p, 8);
      if (!eight_digits(v))
        break;
      w = w * 100000000 + parse_eight(v);
      nd += 8;
      exp10 -= 8;
      p += 8;
    }
    while (p < end && is_digit(*p)) {
      unsigned dg = *p++ - '0';
      if (nd < 19) {
        w = w * 10 + dg;
        nd += w != 0;
        exp10--;
      } else {
        dropped |= dg != 0;
      }
    }
  }
  if (p < end && (*p | 0x20) == 'e') {
    p++;
    bool eneg = *p == '-';
    if (*p == '-' || *p == '+')
      p++;
    int64_t e = 0;
    while (p < end && is_digit(*p)) {
      if (e < 100000000)
        e = e * 10 + (*p - '0');
      p++;
    }
    exp10 += eneg ? -e : e;
  }
  if (w == 0 && !dropped)
    return neg ? -0.0 : 0.0;
  if (!dropped) {
    double r;
    if (w < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
      r = (double)w;
      r = exp10 < 0 ? r / EXACT_POW10[-exp10] : r * EXACT_POW10[exp10];
      return neg ? -r : r;
    }
    if (exp10 >= POW_MIN && exp10 <= POW_MAX && eisel_lemire(w, (int)exp10, &r))
      return neg ? -r : r;
  }
  return slow_strtod(str, n);
}

double srv_jsonin_strtod(const char *s, size_t n) { return text_to_double(s, n); }

static inline int64_t tok_int(const char *body, const srv_jsonin_tok *t) {
  const unsigned char *p = (const unsigned char *)body + t->pos, *end = p + t->len;
  bool neg = *p == '-';
  p += neg;
  uint64_t u = 0;
  while (p < end)
    u = u * 10 + (uint64_t)(*p++ - '0');
  if (!neg)
    return (int64_t)u;
  return u ? -(int64_t)(u - 1) - 1 : 0;
}

int64_t srv_jsonin_int(const srv_jsonin_doc *d, uint32_t v) { return tok_int(d->body, &d->tok[v]); }

/* The two row converters below are where a tensor request spends its decoding time; they
 * live here so the number parsing inlines into their loops. */
__attribute__((always_inline)) static inline uint32_t
numbers_f32(const srv_jsonin_doc *d, uint32_t v, uint32_t n, bool via_double, float *out) {
  const srv_jsonin_tok *t = d->tok + v;
  for (uint32_t i = 0; i < n; i++, t++) {
    if (t->type == SRV_JSONIN_REAL) {
      out[i] = (float)text_to_double(d->body + t->pos, t->len);
    } else if (t->type == SRV_JSONIN_INTEGER) {
      int64_t x = tok_int(d->body, t);
      out[i] = via_double ? (float)(double)x : (float)x;
    } else {
      return i;
    }
  }
  return n;
}

__attribute__((always_inline)) static inline uint32_t ints_i32(const srv_jsonin_doc *d, uint32_t v,
                                                               uint32_t n, int32_t *out) {
  const srv_jsonin_tok *t = d->tok + v;
  for (uint32_t i = 0; i < n; i++, t++) {
    if (t->type != SRV_JSONIN_INTEGER)
      return i;
    int64_t x = tok_int(d->body, t);
    if (x < INT32_MIN || x > INT32_MAX)
      return i;
    out[i] = (int32_t)x;
  }
  return n;
}

uint32_t srv_jsonin_numbers_f32(const srv_jsonin_doc *d, uint32_t v, uint32_t n, bool via_double,
                                float *out) {
  return numbers_f32(d, v, n, via_double, out);
}

uint32_t srv_jsonin_ints_i32(const srv_jsonin_doc *d, uint32_t v, uint32_t n, int32_t *out) {
  return ints_i32(d, v, n, out);
}

/* A list of `len` scalars is its token and then theirs: the next row starts len + 1 on. */
uint32_t srv_jsonin_rows_f32(const srv_jsonin_doc *d, uint32_t v, uint32_t rows, uint32_t len,
                             bool via_double, float *out) {
  for (uint32_t r = 0; r < rows; r++, v += len + 1, out += len) {
    const srv_jsonin_tok *t = &d->tok[v];
    if (t->type != SRV_JSONIN_ARRAY || t->len != len ||
        numbers_f32(d, v + 1, len, via_double, out) < len)
      return r;
  }
  return rows;
}

uint32_t srv_jsonin_rows_i32(const srv_jsonin_doc *d, uint32_t v, uint32_t rows, uint32_t len,
                             int32_t *out) {
  for (uint32_t r = 0; r < rows; r++, v += len + 1, out += len) {
    const srv_jsonin_tok *t = &d->tok[v];
    if (t->type != SRV_JSONIN_ARRAY || t->len != len || ints_i32(d, v + 1, len, out) < len)
      return r;
  }
  return rows;
}
