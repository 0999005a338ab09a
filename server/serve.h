/*
 * serve.h — `orchard serve`: the daemon. Parses the flags (flags.h), loads the models
 * (models.h), serves REST on one libuv loop (loop.h, http.h, api.h) until SIGTERM/SIGINT,
 * then drains and exits 0. Returns the process exit code: 0 after a clean shutdown or
 * --help, 2 for bad flags or config, 1 when the server cannot start.
 */
#ifndef ORCHARD_SRV_SERVE_H
#define ORCHARD_SRV_SERVE_H

int srv_serve_main(int argc, char **argv);

#endif
