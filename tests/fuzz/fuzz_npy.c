/*
 * fuzz_npy.c — the .npy reader of `orchard run` (header dict, dtype, shape, data length).
 */
#include "fuzz_common.h"
#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write("x.npy", data, size);
  rt_tensor t = {0};
  rt_error err = {0};
  if (srv_npy_read_any(path, &t, &err) == RT_OK)
    free(t.data);
  t = (rt_tensor){0};
  if (srv_npy_read(path, RT_DT_F32, &t, &err) == RT_OK)
    free(t.data);
  return 0;
}
