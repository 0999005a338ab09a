/*
 * main.c — the `orchard` binary: dispatches to a subcommand (design.md pins the five names).
 */
#include "bench.h"
#include "cli.h"
#include "serve.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f, "usage: orchard <command> [args]\n"
             "  serve [flags]            run the daemon (gRPC :8500, REST :8501)\n"
             "  run MODEL --input NAME=FILE.npy ... --output-dir DIR\n"
             "  inspect MODEL            model facts as JSON\n"
             "  bench MODEL [--batch B] [--workers N] [--threads T] [--seconds S] [--json]\n"
             "  tune MODEL [--seconds-per-config S] [--batches 1,4,8] [--json]\n"
             "                           measure inter-op x intra-op combinations, pick one\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "inspect"))
    return srv_cli_inspect(argc - 2, argv + 2);
  if (!strcmp(cmd, "run"))
    return srv_cli_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "bench"))
    return srv_bench_main(argc - 2, argv + 2);
  if (!strcmp(cmd, "tune"))
    return srv_bench_tune_main(argc - 2, argv + 2);
  if (!strcmp(cmd, "serve"))
    return srv_serve_main(argc - 2, argv + 2);
  fprintf(stderr, "orchard: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
