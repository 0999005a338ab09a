/*
 * buf.h — a growable byte buffer for building HTTP bodies, plus the few text encodings the
 * REST codecs need on hot paths: JSON strings, float32 numbers in their shortest round-trip
 * form, and base64 decoding.
 *
 * Invariant: after any append the buffer stays NUL-terminated (data[len] == 0) so a body can
 * be logged or parsed as a C string. An allocation failure sets `oom` and turns later
 * appends into no-ops; callers check it once when the body is complete.
 */
#ifndef ORCHARD_SRV_BUF_H
#define ORCHARD_SRV_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct srv_buf {
  char *data;
  size_t len, cap;
  bool oom;
} srv_buf;

void srv_buf_init(srv_buf *b);
void srv_buf_free(srv_buf *b);
/* Hands the bytes to the caller (malloc'd, NUL-terminated; NULL after an allocation failure)
 * and leaves the buffer empty. */
char *srv_buf_take(srv_buf *b, size_t *len_out);
bool srv_buf_reserve(srv_buf *b, size_t extra);
void srv_buf_append(srv_buf *b, const void *p, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_putc(srv_buf *b, char c);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with quotes; bytes >= 0x80 pass through (the input is UTF-8). */
void srv_buf_json_string(srv_buf *b, const char *s);
void srv_buf_i64(srv_buf *b, int64_t v);
/* The shortest decimal that parses (as a double, then rounded to float32) back to exactly v.
 * NaN and infinities are written as NaN / Infinity / -Infinity, as TF Serving and Python's
 * json module do. */
void srv_buf_f32(srv_buf *b, float v);

/* Writes the shortest round-trip decimal of v into out (>= 32 bytes; at most 18 characters
 * and a NUL are written); returns its length. */
int srv_fmt_f32(char *out, float v);
/* Writes v in decimal into out (>= 21 bytes, no NUL); returns its length. */
int srv_fmt_i64(char *out, int64_t v);

/* Standard or URL-safe base64, padding optional, whitespace not allowed. Returns the decoded
 * length or -1 on a bad character or length. `out` needs (len / 4 + 1) * 3 bytes. */
int64_t srv_b64_decode(const char *in, size_t len, unsigned char *out);

#endif
