/*
 * wire.c — the protobuf wire walker (wire.h).
 *
 * A message is a series of (tag, value) pairs; only length-delimited values can hold a string
 * or a sub-message, so the walker decodes tags and skips every other value by its wire type.
 * Paths are built on the way out of the recursion, only when a NUL was found: the repeated
 * field's index is then recounted by a second pass over the message up to the offending
 * value, which keeps the common (clean) path free of bookkeeping.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum { WT_VARINT = 0, WT_64BIT = 1, WT_LEN = 2, WT_32BIT = 5 };

/* A base-128 varint of at most 10 bytes at buf[*pos]. */
static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (*pos >= len)
      return false;
    uint8_t b = buf[(*pos)++];
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

/* Where the next field's value ends, after its tag was read at *pos; false if it does not
 * fit in the message or the wire type is one protobuf-c does not take (groups). */
static bool skip_value(const uint8_t *buf, size_t len, size_t *pos, unsigned wt, size_t *vstart,
                       size_t *vlen) {
  uint64_t v;
  *vstart = *pos;
  switch (wt) {
  case WT_VARINT:
    if (!read_varint(buf, len, pos, &v))
      return false;
    break;
  case WT_64BIT:
  case WT_32BIT: {
    size_t n = wt == WT_64BIT ? 8 : 4;
    if (len - *pos < n)
      return false;
    *pos += n;
    break;
  }
  case WT_LEN:
    if (!read_varint(buf, len, pos, &v) || v > len - *pos)
      return false;
    *vstart = *pos;
    *pos += (size_t)v;
    break;
  default: return false;
  }
  *vlen = *pos - *vstart;
  return true;
}

/* Occurrences of field `num` whose tag starts before offset `at` (its index if repeated).
 * Everything before `at` was walked already, so it parses. */
static unsigned index_of(const uint8_t *buf, size_t len, size_t at, uint32_t num) {
  unsigned n = 0;
  size_t pos = 0, vs, vl;
  uint64_t tag;
  while (pos < at) {
    if (!read_varint(buf, len, &pos, &tag) ||
        !skip_value(buf, len, &pos, (unsigned)(tag & 7), &vs, &vl))
      break;
    if ((tag >> 3) == num)
      n++;
  }
  return n;
}

/* Prepends "name[i]." (or "name.") to the path the callee left in where. */
static void prepend(char *where, size_t cap, const ProtobufCFieldDescriptor *f, unsigned idx,
                    bool leaf) {
  char head[160], rest[512];
  if (f->label == PROTOBUF_C_LABEL_REPEATED)
    snprintf(head, sizeof head, "%s[%u]", f->name, idx);
  else
    snprintf(head, sizeof head, "%s", f->name);
  snprintf(rest, sizeof rest, "%s", leaf ? "" : where);
  snprintf(where, cap, "%s%s%s", head, leaf ? "" : ".", rest);
}

static srv_wire_verdict walk(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                             int depth, size_t base, char *where, size_t cap) {
  if (depth > SRV_WIRE_MAX_DEPTH) {
    snprintf(where, cap, "messages nested more than %d deep at byte %zu", SRV_WIRE_MAX_DEPTH, base);
    return SRV_WIRE_MALFORMED;
  }
  size_t pos = 0;
  while (pos < len) {
    size_t at = pos, vs, vl;
    uint64_t tag;
    if (!read_varint(buf, len, &pos, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
      snprintf(where, cap, "bad field tag at byte %zu", base + at);
      return SRV_WIRE_MALFORMED;
    }
    unsigned wt = (unsigned)(tag & 7);
    if (!skip_value(buf, len, &pos, wt, &vs, &vl)) {
      snprintf(where, cap, "field %u (wire type %u) at byte %zu runs past the message's end",
               (unsigned)(tag >> 3), wt, base + at);
      return SRV_WIRE_MALFORMED;
    }
    if (wt != WT_LEN)
      continue;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3));
    if (!f)
      continue;
    if (f->type == PROTOBUF_C_TYPE_STRING && memchr(buf + vs, 0, vl)) {
      prepend(where, cap, f, index_of(buf, len, at, f->id), true);
      return SRV_WIRE_NUL;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor) {
      srv_wire_verdict v = walk(f->descriptor, buf + vs, vl, depth + 1, base + vs, where, cap);
      if (v == SRV_WIRE_NUL)
        prepend(where, cap, f, index_of(buf, len, at, f->id), false);
      if (v != SRV_WIRE_OK)
        return v;
    }
  }
  return SRV_WIRE_OK;
}

srv_wire_verdict srv_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                size_t len, char *where, size_t cap) {
  if (cap)
    where[0] = 0;
  if (!desc || (!buf && len))
    return SRV_WIRE_MALFORMED;
  return walk(desc, buf, len, 0, 0, where, cap);
}
