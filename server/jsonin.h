/*
 * jsonin.h — the strict JSON reader behind the REST codecs' request decoding.
 *
 * One pass over the body validates it (RFC 8259, with exactly the rejections jansson's
 * json_loadb(JSON_REJECT_DUPLICATES) makes: trailing garbage, bad escapes and lone
 * surrogates, invalid UTF-8, control characters and \u0000 in strings, duplicate keys, values
 * nested deeper than 2048 levels, NaN/Infinity, integers outside int64, reals beyond double)
 * and records a flat token tape: one 16-byte token per value, in document order, each with
 * the index just past its subtree. Numbers are not converted here: a token keeps its text span,
 * and the codecs convert each number once, straight into the input tensor, with
 * srv_jsonin_int / srv_jsonin_real (the same decimal -> nearest double jansson's strtod gives).
 *
 * Token 0 is unused, so 0 means "no value"; the root is token 1. An array's elements are
 * v+1, next(v+1), ...; an object's members are (key, value) token pairs starting at v+1.
 * The document borrows the body: the body must outlive it.
 */
#ifndef ORCHARD_SRV_JSONIN_H
#define ORCHARD_SRV_JSONIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* jansson's JSON_PARSER_MAX_DEPTH: values nested deeper are rejected, as before. */
#define SRV_JSONIN_MAX_DEPTH 2048

typedef enum srv_jsonin_type {
  SRV_JSONIN_NULL,
  SRV_JSONIN_FALSE,
  SRV_JSONIN_TRUE,
  SRV_JSONIN_INTEGER, /* no '.', 'e' or 'E': jansson's json_integer (int64) */
  SRV_JSONIN_REAL,
  SRV_JSONIN_STRING,
  SRV_JSONIN_ARRAY,
  SRV_JSONIN_OBJECT,
} srv_jsonin_type;

typedef struct srv_jsonin_tok {
  uint32_t pos;  /* number: offset of its text in the body; string: offset of its bytes in the
                    body, or in `strs` when it had escapes; container: offset of its bracket */
  uint32_t len;  /* number: text length; string: decoded byte length; container: elements
                    (array) or members (object) */
  uint32_t next; /* index of the token after this value and everything inside it */
  uint8_t type;  /* srv_jsonin_type */
  uint8_t esc;   /* string decoded into strs */
  uint16_t pad;
} srv_jsonin_tok;

typedef struct srv_jsonin_doc {
  const char *body;
  size_t len;
  srv_jsonin_tok *tok;
  uint32_t n, cap;
  char *strs; /* decoded strings that had escapes, each NUL-terminated */
  size_t strs_len, strs_cap;
} srv_jsonin_doc;

/* Parses body[0..len) into d. Returns 200; 400 with "bad JSON at line L column C (byte B):
 * what was expected" in msg; 413 when the body is too large to index (>= 4 GiB); 500 when
 * out of memory. d needs srv_jsonin_free either way. */
int srv_jsonin_parse(srv_jsonin_doc *d, const char *body, size_t len, char *msg, size_t cap);
void srv_jsonin_free(srv_jsonin_doc *d);

static inline srv_jsonin_type srv_jsonin_typeof(const srv_jsonin_doc *d, uint32_t v) {
  return (srv_jsonin_type)d->tok[v].type;
}
static inline bool srv_jsonin_is(const srv_jsonin_doc *d, uint32_t v, srv_jsonin_type t) {
  return v && d->tok[v].type == t;
}
static inline bool srv_jsonin_is_number(const srv_jsonin_doc *d, uint32_t v) {
  return v && (d->tok[v].type == SRV_JSONIN_INTEGER || d->tok[v].type == SRV_JSONIN_REAL);
}
static inline bool srv_jsonin_is_bool(const srv_jsonin_doc *d, uint32_t v) {
  return v && (d->tok[v].type == SRV_JSONIN_TRUE || d->tok[v].type == SRV_JSONIN_FALSE);
}
/* Elements of an array, members of an object. */
static inline uint32_t srv_jsonin_size(const srv_jsonin_doc *d, uint32_t v) {
  return d->tok[v].len;
}
static inline uint32_t srv_jsonin_next(const srv_jsonin_doc *d, uint32_t v) {
  return d->tok[v].next;
}
/* A string's bytes (valid UTF-8, no NUL inside; NUL-terminated only when it had escapes). */
static inline const char *srv_jsonin_str(const srv_jsonin_doc *d, uint32_t v, size_t *len) {
  const srv_jsonin_tok *t = &d->tok[v];
  *len = t->len;
  return (t->esc ? d->strs : d->body) + t->pos;
}

/* "an object", "a list", "a string", "an integer", "a number", "true", "false", "null": how
 * the codecs' messages name what they got. */
const char *srv_jsonin_type_name(const srv_jsonin_doc *d, uint32_t v);
/* Element i of array v (walks the tape: O(i)); 0 past the end. */
uint32_t srv_jsonin_at(const srv_jsonin_doc *d, uint32_t v, uint32_t i);
/* The value of key in object v; 0 when v is not an object or has no such key. */
uint32_t srv_jsonin_get(const srv_jsonin_doc *d, uint32_t v, const char *key);
/* A malloc'd NUL-terminated copy of string v; NULL when out of memory. */
char *srv_jsonin_strdup(const srv_jsonin_doc *d, uint32_t v);

/* An INTEGER token's value (its range was checked by the parse). */
int64_t srv_jsonin_int(const srv_jsonin_doc *d, uint32_t v);
/* A REAL token's value: the double nearest its decimal, as strtod gives. */
double srv_jsonin_real(const srv_jsonin_doc *d, uint32_t v);
/* Either kind as a double (jansson's json_number_value: an integer converts from int64). */
double srv_jsonin_number(const srv_jsonin_doc *d, uint32_t v);

/* Row converters for the codecs' hot loops. Each converts up to n consecutive tokens from v
 * and stops at the first it cannot take, returning how many it converted.
 * _numbers_f32: numbers; a real becomes (float)srv_jsonin_real, an integer (float)int64, or
 * with via_double (float)(double)int64 (what jansson's json_number_value led to).
 * _ints_i32: integers within int32. */
uint32_t srv_jsonin_numbers_f32(const srv_jsonin_doc *d, uint32_t v, uint32_t n, bool via_double,
                                float *out);
uint32_t srv_jsonin_ints_i32(const srv_jsonin_doc *d, uint32_t v, uint32_t n, int32_t *out);
/* The same over `rows` consecutive lists from token v, each exactly `len` values (an image's
 * pixels): stops at the first list that is not, returning how many rows it converted. */
uint32_t srv_jsonin_rows_f32(const srv_jsonin_doc *d, uint32_t v, uint32_t rows, uint32_t len,
                             bool via_double, float *out);
uint32_t srv_jsonin_rows_i32(const srv_jsonin_doc *d, uint32_t v, uint32_t rows, uint32_t len,
                             int32_t *out);

/* The conversion behind srv_jsonin_real, for any JSON number text s[0..n): correctly rounded
 * (a fast exact path for up to 19 significant digits, strtod otherwise). s[n] must not be a
 * character that could continue a number (NUL, or the delimiter after a token). */
double srv_jsonin_strtod(const char *s, size_t n);

#endif
