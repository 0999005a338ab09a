/*
 * fuzz_config.c — the --model_config_file, --batching_parameters_file and --ssl_config_file
 * parsers. The first byte picks the parser; the rest is the file.
 */
#include "config.h"
#include "fuzz_common.h"
#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  char msg[1024];
  switch (data[0] % 3) {
  case 0: {
    srv_model_config c;
    memset(&c, 0, sizeof c);
    if (srv_config_parse_models(text, len, "models.json", &c, msg, sizeof msg) == 0)
      srv_model_config_free(&c);
    break;
  }
  case 1: {
    srv_batching_params b;
    memset(&b, 0, sizeof b);
    if (srv_config_parse_batching(text, len, "batching.json", &b, msg, sizeof msg) == 0)
      srv_batching_params_free(&b);
    break;
  }
  default: {
    srv_tls *t = NULL;
    if (srv_tls_parse(text, len, "ssl.cfg", &t, msg, sizeof msg) == 0)
      srv_tls_free(t);
    break;
  }
  }
  return 0;
}
