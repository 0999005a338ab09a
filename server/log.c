/*
 * log.c — formats a line (timestamp, level, request id, message) into a stack buffer and
 * writes it with a single write(2) to stderr. The settings are written once at start-up,
 * before any other thread exists, and only read after.
 */
/* Messages and paths are cut at their buffer size on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "log.h"
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_format = SRV_LOG_FORMAT_TEXT;
static int g_level = SRV_LOG_INFO;

void srv_log_init(int format, int level) {
  g_format = format;
  g_level = level;
}

bool srv_log_enabled(int level) { return level >= g_level; }

void srv_logf(int level, const char *request_id, const char *fmt, ...) {
  if (level < g_level)
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[40];
  size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);
  const char *lv = srv_log_level_name(level);
  srv_buf b;
  srv_buf_init(&b);
  if (g_format == SRV_LOG_FORMAT_JSON) {
    srv_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\"", when, lv);
    if (request_id) {
      srv_buf_puts(&b, ",\"request_id\":");
      srv_buf_json_string(&b, request_id);
    }
    srv_buf_puts(&b, ",\"msg\":");
    srv_buf_json_string(&b, msg);
    srv_buf_puts(&b, "}\n");
  } else {
    srv_buf_printf(&b, "%s %-5s ", when, lv);
    if (request_id)
      srv_buf_printf(&b, "[%s] ", request_id);
    srv_buf_puts(&b, msg);
    srv_buf_putc(&b, '\n');
  }
  if (!b.oom && b.data) {
    ssize_t r = write(STDERR_FILENO, b.data, b.len);
    (void)r;
  }
  srv_buf_free(&b);
}
