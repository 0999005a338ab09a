/*
 * garden.h — a model version's orchard.json (next to model.json): which inputs take encoded
 * images and how they are preprocessed ("inputs"), and what the outputs mean ("task",
 * delegated to task.c). The contract is the orchard.json documentation shared with task.c
 * and the dashboard.
 *
 * Parsed once per version on the manager thread, validated against the model's inputs; an
 * invalid file fails the version's load with a message naming the file and the JSON path
 * ("models/emotion/1/orchard.json: inputs.input_1.image.size: ..."). Immutable afterwards:
 * the codecs read it from any worker through srv_sig.garden.
 */
#ifndef ORCHARD_SRV_GARDEN_H
#define ORCHARD_SRV_GARDEN_H

#include "image.h"
#include "rest.h"
#include "task.h"

#include <jansson.h>

typedef struct srv_garden srv_garden;

/* Reads `path` (an orchard.json). 0 with *out NULL when the file does not exist, 0 with
 * *out set when it is valid for sig, else -1 with msg ("<path>: <json path>: ..."). */
int srv_garden_load(const char *path, const srv_sig *sig, srv_garden **out, char *msg, size_t cap);
/* The same from a parsed document; `file` only names it in messages. */
int srv_garden_parse(const json_t *root, const char *file, const srv_sig *sig, srv_garden **out,
                     char *msg, size_t cap);
void srv_garden_free(srv_garden *g); /* NULL-safe */

/* The image spec of input `index` (sig order); NULL when g is NULL or the input takes none. */
const srv_image_spec *srv_garden_image(const srv_garden *g, int index);
/* The first input (sig order) that takes images; -1 if none. */
int srv_garden_first_image(const srv_garden *g);
int srv_garden_num_images(const srv_garden *g);
/* NULL when g is NULL or has no "task". */
const srv_task *srv_garden_task(const srv_garden *g);
/* ["input_1:0", ...]: the inputs that take images (new reference). */
json_t *srv_garden_image_inputs(const srv_garden *g, const srv_sig *sig);

#endif
