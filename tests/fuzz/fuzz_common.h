/*
 * fuzz_common.h — helpers shared by the libFuzzer targets: a private temporary directory per
 * fuzzing process, for the readers whose API takes a path (model loader, .npy).
 */
#ifndef ORCHARD_FUZZ_COMMON_H
#define ORCHARD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* mkdtemp once per process; the directory is left for the OS's /tmp cleaning when the fuzzer
 * exits (libFuzzer has no teardown hook). */
static inline const char *fuzz_dir(void) {
  static char dir[64];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/orchard-fuzz-XXXXXX");
    if (!mkdtemp(dir))
      abort();
  }
  return dir;
}

/* Writes data to fuzz_dir()/name and returns the path (static buffer). */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  if (size && fwrite(data, 1, size, f) != size)
    abort();
  fclose(f);
  return path;
}

#endif
