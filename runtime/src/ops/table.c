/*
 * table.c — merges the op family tables into one name lookup. A name may appear in only one
 * family; the first match wins (tests/unit/test_ops_table.c checks there are no duplicates).
 */
#include "../ops.h"

#include <string.h>

typedef struct {
  const rt_op_def *defs;
  const int *count;
} rt_op_family;

static const rt_op_family RT_FAMILIES[] = {
    {rt__ops_core, &rt__ops_core_count},   {rt__ops_nn, &rt__ops_nn_count},
    {rt__ops_math, &rt__ops_math_count},   {rt__ops_array, &rt__ops_array_count},
    {rt__ops_image, &rt__ops_image_count}, {rt__ops_ctrl, &rt__ops_ctrl_count},
};

const rt_op_def *rt__op_find(const char *name) {
  for (size_t f = 0; f < sizeof RT_FAMILIES / sizeof RT_FAMILIES[0]; f++)
    for (int i = 0; i < *RT_FAMILIES[f].count; i++)
      if (!strcmp(RT_FAMILIES[f].defs[i].name, name))
        return &RT_FAMILIES[f].defs[i];
  return NULL;
}
