/*
 * log.h — the daemon's log: one line per event on stderr, as text or JSON (--log_format),
 * filtered by --log_level. Safe from any thread; a line is written with one write(2) so lines
 * from different threads never interleave. A request's lines carry its request id.
 */
#ifndef ORCHARD_SRV_LOG_H
#define ORCHARD_SRV_LOG_H

#include "flags.h"

#include <stdbool.h>

void srv_log_init(int format, int level); /* srv_log_format, srv_log_level */
bool srv_log_enabled(int level);
/* request_id may be NULL. */
void srv_logf(int level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define srv_log_debug(...) srv_logf(SRV_LOG_DEBUG, NULL, __VA_ARGS__)
#define srv_log_info(...) srv_logf(SRV_LOG_INFO, NULL, __VA_ARGS__)
#define srv_log_warn(...) srv_logf(SRV_LOG_WARN, NULL, __VA_ARGS__)
#define srv_log_error(...) srv_logf(SRV_LOG_ERROR, NULL, __VA_ARGS__)

#endif
