/*
 * wire.h — a protobuf wire-format walker for the gRPC front (issue 8): checks a received
 * message before protobuf-c unpacks it.
 *
 * protobuf-c hands string fields over NUL-terminated, so "emo\0tion" would be read as "emo":
 * a request could name one thing and be served as another. srv_wire_check finds every field
 * the descriptor declares as `string` — in sub-messages too, map entries included — and
 * refuses one holding a NUL byte, naming its path ("model_spec.name", "inputs[1].key").
 * Fields the descriptor does not know are skipped unread, as protobuf-c skips them.
 *
 * Bounds: never reads past `len`; recursion is at most SRV_WIRE_MAX_DEPTH messages deep; no
 * allocation. Pure, so any thread may call it.
 */
#ifndef ORCHARD_SRV_WIRE_H
#define ORCHARD_SRV_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_WIRE_MAX_DEPTH 32

typedef enum srv_wire_verdict {
  SRV_WIRE_OK = 0,
  SRV_WIRE_NUL,      /* a string field holds a NUL byte; `where` is its path */
  SRV_WIRE_MALFORMED /* not a protobuf message; `where` says why and at which byte */
} srv_wire_verdict;

srv_wire_verdict srv_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                size_t len, char *where, size_t cap);

#endif
