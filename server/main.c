/*
 * main.c — the `orchard` binary: dispatches to a subcommand (design.md pins the five names).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f, "usage: orchard <command> [args]\n"
             "  serve [flags]            run the daemon (gRPC :8500, REST :8501)\n"
             "  run MODEL --input NAME=FILE.npy ... --output-dir DIR\n"
             "  inspect MODEL            model facts as JSON\n"
             "  bench MODEL [--batch B] [--workers N] [--threads T] [--seconds S] [--json]\n"
             "  tune MODEL               measure inter-op x intra-op combinations\n");
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
  if (!strcmp(cmd, "serve") || !strcmp(cmd, "bench") || !strcmp(cmd, "tune")) {
    fprintf(stderr, "orchard %s: not available in this build yet\n", cmd);
    return 2;
  }
  fprintf(stderr, "orchard: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
