/*
 * fuzz_model.c — the model loaders (graph and layers model.json, weight manifests, every
 * attribute kind, dequantization), the compiler and one planned run.
 *
 * The input is model.json; one 4 MiB weight shard named group1-shard1of1.bin sits beside it so
 * manifests that name it get real bytes (tests/fuzz/run points the garden models' manifests at
 * it when it seeds the corpus). A model that loads is run once with its inputs'
 * unknown dims set to 1, when the inputs are small, so the planner and kernels meet whatever
 * shapes and attributes the loader accepted.
 */
#include "fuzz_common.h"
#include "orchard/rt.h"

#define FUZZ_MAX_ELEMS (1 << 16)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  static uint8_t shard[4 << 20];
  for (size_t i = 0; i < sizeof shard; i++)
    shard[i] = (uint8_t)(i * 2654435761u >> 13);
  fuzz_write("group1-shard1of1.bin", shard, sizeof shard);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_write("model.json", data, size);
  rt_model *m = NULL;
  rt_error err = {0};
  rt_model_params p = rt_model_default_params();
  if (rt_model_load(path, &p, &m, &err) != RT_OK)
    return 0;
  int n = rt_model_num_inputs(m);
  rt_tensor in[16];
  void *bufs[16] = {0};
  bool ok = n <= 16;
  for (int i = 0; ok && i < n; i++) {
    const rt_io_info *io = rt_model_input(m, i);
    in[i] = (rt_tensor){.dtype = io->dtype, .rank = io->rank < 0 ? 1 : io->rank};
    int64_t numel = 1;
    for (int d = 0; d < in[i].rank; d++) {
      in[i].dims[d] = io->rank < 0 || io->dims[d] < 0 ? 1 : io->dims[d];
      numel *= in[i].dims[d] > 0 ? in[i].dims[d] : 1;
      ok = ok && numel <= FUZZ_MAX_ELEMS;
    }
    if (ok) {
      bufs[i] = calloc(1, rt_tensor_nbytes(&in[i]) + 8);
      in[i].data = bufs[i];
    }
  }
  rt_session *s = NULL;
  if (ok && rt_session_create(m, &s, &err) == RT_OK) {
    rt_tensor out[64];
    if (rt_model_num_outputs(m) <= 64)
      (void)rt_session_run(s, in, n, out, &err);
    rt_session_destroy(s);
  }
  for (int i = 0; i < n && i < 16; i++)
    free(bufs[i]);
  rt_model_destroy(m);
  return 0;
}
