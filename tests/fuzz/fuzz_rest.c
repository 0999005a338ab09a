/*
 * fuzz_rest.c — the REST request decoders (TF Serving predict: row and columnar, b64; KServe v2
 * infer) and, for requests they accept, the response encoders.
 *
 * The first byte picks the API and one of two signatures: several named inputs of each dtype
 * with unknown dims, or one float input (where TF Serving's row format takes bare values).
 */
#include "fuzz_common.h"
#include "rest.h"

static rt_io_info many[] = {
    {.name = "x:0", .dtype = RT_DT_F32, .rank = 3, .dims = {-1, 2, 3}},
    {.name = "ids", .dtype = RT_DT_I32, .rank = 2, .dims = {-1, -1}},
    {.name = "mask", .dtype = RT_DT_BOOL, .rank = 1, .dims = {-1}},
};
static rt_io_info one[] = {{.name = "image", .dtype = RT_DT_F32, .rank = 4, .dims = {-1, 4, 4, 1}}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  srv_sig sig = data[0] & 2 ? (srv_sig){1, 1, one, one, NULL} : (srv_sig){3, 3, many, many, NULL};
  bool kserve = data[0] & 1;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  srv_infer_req r;
  memset(&r, 0, sizeof r);
  char msg[1024];
  int st = kserve ? srv_kserve_decode(&sig, body, len, &r, msg, sizeof msg)
                  : srv_tfs_decode(&sig, body, len, &r, msg, sizeof msg);
  if (st == 200) {
    srv_buf b;
    srv_buf_init(&b);
    if (kserve)
      (void)srv_kserve_encode(&sig, &r, "m", "1", r.in, &b, msg, sizeof msg);
    else
      (void)srv_tfs_encode(&sig, &r, r.in, &b, msg, sizeof msg);
    srv_buf_free(&b);
  }
  srv_infer_req_free(&r);
  return 0;
}
