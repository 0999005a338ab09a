/*
 * cli.h — the offline subcommands of the `orchard` binary (inspect, run). Each takes the
 * arguments after its name and returns the process exit code.
 */
#ifndef ORCHARD_SRV_CLI_H
#define ORCHARD_SRV_CLI_H

#include "orchard/rt.h"

int srv_cli_inspect(int argc, char **argv);
int srv_cli_run(int argc, char **argv);
void srv_cli_default_shape(const rt_io_info *io, rt_tensor *t);

#endif
