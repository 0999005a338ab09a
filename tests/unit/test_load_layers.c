/*
 * test_load_layers.c — the Keras layers-model loader (load_layers.c). Each test writes a small
 * model.json and its weight shard into a fresh temp dir and calls rt__load_layers_model()
 * directly, then checks the IR the compiler will see: ops, inputs, attributes, Const values,
 * weights shared between the calls of a shared layer, model input and output names. Loader
 * errors must name the file, the layer and what was wrong.
 *
 * The value tests run the same models through rt_model_load / rt_session_run and compare with
 * TensorFlow.js 4.22 (CPU backend); a kernel the model needs but lacks is a failure.
 * Reference values come from tf.loadLayersModel(tf.io.fromMemory(...)) on the very same JSON,
 * with weights and inputs made by the formulas below (exact in float32), then model.predict()
 * (the script is in the comment above each block of expected values).
 *
 * JSON in this file is written with single quotes, turned into double quotes by js().
 */
#include "ir.h"
#include "ops.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static char model_path[512];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/orchard-ll-XXXXXX");
  cr_assert(mkdtemp(dir));
  snprintf(model_path, sizeof model_path, "%s/model.json", dir);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(layers, .init = setup, .fini = teardown);
TestSuite(layers_errors, .init = setup, .fini = teardown);
TestSuite(layers_values, .init = setup, .fini = teardown);

/* Parses test JSON written with single quotes. */
static json_t *js(const char *text) {
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  json_error_t je;
  json_t *r = json_loads(s, 0, &je);
  cr_assert(r, "bad test JSON (%s): %s", je.text, s);
  free(s);
  return r;
}

/* Weight element i of a model's one shard (i counts across all its weights, in manifest
 * order); moving variances must be positive. The same formulas made the TF.js references. */
static float weight_value(int64_t i, const char *name) {
  size_t n = strlen(name), t = strlen("moving_variance");
  if (n >= t && !strcmp(name + n - t, "moving_variance"))
    return (float)(((i * 7 + 3) % 13) + 1) / 8.0f;
  return (float)(((i * 7 + 3) % 13) - 6) / 8.0f;
}

/* Input k, element i. */
static float input_value(int64_t i, int k) {
  return (float)(((i * 5 + 1 + 3 * k) % 11) - 5) / 4.0f;
}

/* Writes model.json and w.bin (the values of weight_value() for its first manifest group). */
static void write_model(const char *text) {
  json_t *root = js(text);
  cr_assert_eq(json_dump_file(root, model_path, 0), 0);
  json_t *ws =
      json_object_get(json_array_get(json_object_get(root, "weightsManifest"), 0), "weights");
  size_t total = 0, cap = 1024;
  float *buf = malloc(cap * sizeof *buf);
  for (size_t w = 0; w < json_array_size(ws); w++) {
    json_t *spec = json_array_get(ws, w);
    json_t *shape = json_object_get(spec, "shape");
    int64_t n = 1;
    for (size_t d = 0; d < json_array_size(shape); d++)
      n *= json_integer_value(json_array_get(shape, d));
    const char *name = json_string_value(json_object_get(spec, "name"));
    for (int64_t k = 0; k < n; k++, total++) {
      if (total == cap)
        buf = realloc(buf, (cap *= 2) * sizeof *buf);
      buf[total] = weight_value((int64_t)total, name);
    }
  }
  char path[512];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  cr_assert_eq(fwrite(buf, sizeof *buf, total, f), total);
  fclose(f);
  free(buf);
  json_decref(root);
}

/* Writes the model and lowers it; the graph is returned even on failure (NULL never). */
static rt_status load(const char *text, rt_graph **g, rt_error *err) {
  write_model(text);
  json_error_t je;
  json_t *root = json_load_file(model_path, 0, &je);
  cr_assert(root);
  *g = rt__graph_create("layers-model", model_path);
  memset(err, 0, sizeof *err);
  rt_status st = rt__load_layers_model(*g, root, dir, err);
  json_decref(root);
  return st;
}

static rt_graph *load_ok(const char *text) {
  rt_graph *g;
  rt_error err;
  rt_status st = load(text, &g, &err);
  cr_assert_eq(st, RT_OK, "load failed: %s", err.msg);
  return g;
}

static void expect_error(const char *text, rt_status code, const char *const *needles) {
  rt_graph *g;
  rt_error err;
  rt_status st = load(text, &g, &err);
  cr_assert_eq(st, code, "status %d (%s), wanted %d", st, err.msg, code);
  cr_assert_eq(err.code, code);
  cr_assert(strstr(err.msg, model_path), "message does not name the file: %s", err.msg);
  for (; *needles; needles++)
    cr_assert(strstr(err.msg, *needles), "message lacks '%s': %s", *needles, err.msg);
  rt__graph_destroy(g);
}

static const rt_node *node(const rt_graph *g, const char *name) {
  int i = rt__graph_find(g, name);
  cr_assert_geq(i, 0, "no node '%s'", name);
  return &g->nodes[i];
}

/* Asserts node `name` runs `op` and reads the nodes named in `ins` (NULL-terminated, output
 * 0 of each). */
static const rt_node *expect_node(const rt_graph *g, const char *name, const char *op,
                                  const char *const *ins) {
  const rt_node *n = node(g, name);
  cr_assert_str_eq(n->op_name, op, "node '%s' is %s, wanted %s", name, n->op_name, op);
  int k = 0;
  for (; ins && ins[k]; k++) {
    cr_assert_lt(k, n->n_inputs, "node '%s' has %d inputs", name, n->n_inputs);
    cr_assert_str_eq(g->nodes[n->inputs[k].node].name, ins[k], "node '%s' input %d", name, k);
    cr_assert_eq(n->inputs[k].index, 0);
  }
  cr_assert_eq(n->n_inputs, k, "node '%s' has %d inputs, wanted %d", name, n->n_inputs, k);
  return n;
}

static void expect_ints(const rt_node *n, const char *attr, const int64_t *v, int count) {
  const int64_t *got;
  int m = rt__attr_ints(n, attr, &got);
  cr_assert_eq(m, count, "node '%s' attr %s has %d ints", n->name, attr, m);
  for (int i = 0; i < count; i++)
    cr_assert_eq(got[i], v[i], "node '%s' attr %s[%d]", n->name, attr, i);
}

static void expect_strs(const rt_node *n, const char *attr, const char *const *v, int count) {
  const rt_attr *a = rt__attr_find(n, attr);
  cr_assert(a && a->kind == RT_ATTR_LIST_STRING, "node '%s' has no list attr %s", n->name, attr);
  cr_assert_eq(a->n, count);
  for (int i = 0; i < count; i++)
    cr_assert_str_eq(a->strs[i], v[i]);
}

/* Const node `name` holds int32 `v`. */
static void expect_i32_const(const rt_graph *g, const char *name, const int32_t *v, int count) {
  const rt_node *n = node(g, name);
  cr_assert_str_eq(n->op_name, "Const");
  cr_assert_eq(n->value.dtype, RT_DT_I32, "%s is not int32", name);
  cr_assert_eq(rt_tensor_numel(&n->value), count, "%s has %lld values", name,
               (long long)rt_tensor_numel(&n->value));
  for (int i = 0; i < count; i++)
    cr_assert_eq(((const int32_t *)n->value.data)[i], v[i], "%s[%d]", name, i);
}

static void expect_dims(const rt_tensor *t, int rank, const int64_t *dims) {
  cr_assert_eq(t->rank, rank);
  for (int i = 0; i < rank; i++)
    cr_assert_eq(t->dims[i], dims[i], "dim %d is %lld", i, (long long)t->dims[i]);
}

static void expect_io(const rt_graph_io *io, const char *name, int rank, const int64_t *dims) {
  cr_assert_str_eq(io->name, name);
  cr_assert_eq(io->shape.rank, rank, "%s has rank %d", name, io->shape.rank);
  for (int i = 0; i < rank; i++)
    cr_assert_eq(io->shape.dims[i], dims[i], "%s dim %d is %lld", name, i,
                 (long long)io->shape.dims[i]);
}

static int count_prefix(const rt_graph *g, const char *prefix) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    n += !strncmp(g->nodes[i].name, prefix, strlen(prefix));
  return n;
}

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})
#define I(...) ((const int64_t[]){__VA_ARGS__})
#define NO_INPUTS ((const char *const[]){NULL})

/* ------------------------------------------------------------------ the models */

/* Sequential, the nsfwjs mobilenet_v2 pattern: InputLayer, ZeroPadding2D, Conv2D without bias,
 * BatchNormalization, ReLU(6), DepthwiseConv2D with bias + relu, MaxPooling2D, Flatten,
 * Dropout, Dense + softmax. */
static const char SEQ_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Sequential','config':{'name':'seq',"
    "'layers':[{'class_name':'InputLayer','config':{'batch_input_shape':[null,5,5,2],"
    "'dtype':'float32','name':'img'}},{'class_name':'ZeroPadding2D','config':{'name':'pad',"
    "'padding':[[0,1],[0,1]],'data_format':'channels_last'}},{'class_name':'Conv2D',"
    "'config':{'name':'conv','filters':3,'kernel_size':[3,3],'strides':[2,2],"
    "'padding':'valid','data_format':'channels_last','dilation_rate':[1,1],"
    "'activation':'linear','use_bias':false}},{'class_name':'BatchNormalization',"
    "'config':{'name':'bn','axis':-1,'epsilon':0.001,'center':true,'scale':true}},"
    "{'class_name':'ReLU','config':{'name':'relu6','max_value':6}},"
    "{'class_name':'DepthwiseConv2D','config':{'name':'dw','kernel_size':[3,3],'strides':[1,"
    "1],'padding':'same','depth_multiplier':1,'activation':'relu','use_bias':true}},"
    "{'class_name':'MaxPooling2D','config':{'name':'pool','pool_size':[1,2],'strides':[1,1],"
    "'padding':'valid'}},{'class_name':'Flatten','config':{'name':'flat'}},"
    "{'class_name':'Dropout','config':{'name':'drop','rate':0.5}},{'class_name':'Dense',"
    "'config':{'name':'out','units':4,'activation':'softmax','use_bias':true}}]}}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':[{'name':'conv/kernel','shape':[3,3,2,"
    "3],'dtype':'float32'},{'name':'bn/gamma','shape':[3],'dtype':'float32'},"
    "{'name':'bn/beta','shape':[3],'dtype':'float32'},{'name':'bn/moving_mean','shape':[3],"
    "'dtype':'float32'},{'name':'bn/moving_variance','shape':[3],'dtype':'float32'},"
    "{'name':'dw/depthwise_kernel','shape':[3,3,3,1],'dtype':'float32'},{'name':'dw/bias',"
    "'shape':[3],'dtype':'float32'},{'name':'out/kernel','shape':[6,4],'dtype':'float32'},"
    "{'name':'out/bias','shape':[4],'dtype':'float32'}]}]}";

/* Functional (Keras 2 inbound nodes): Dense `shared` called on both inputs; `cat` is listed
 * before the layers it reads, so it waits in the queue; outputs are `head` and the second
 * call of `shared` (node index 1). */
static const char FUNC_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Model','config':{'name':'func',"
    "'layers':[{'class_name':'InputLayer','name':'in_a','config':{'batch_input_shape':[null,"
    "4],'dtype':'float32','name':'in_a'},'inbound_nodes':[]},{'class_name':'InputLayer',"
    "'name':'in_b','config':{'batch_input_shape':[null,4],'dtype':'float32','name':'in_b'},"
    "'inbound_nodes':[]},{'class_name':'Concatenate','name':'cat','config':{'name':'cat',"
    "'axis':-1},'inbound_nodes':[[['shared',1,0,{}],['sum',0,0,{}]]]},{'class_name':'Add',"
    "'name':'sum','config':{'name':'sum'},'inbound_nodes':[[['shared',0,0,{}],['shared',1,0,"
    "{}]]]},{'class_name':'Dense','name':'shared','config':{'name':'shared','units':3,"
    "'activation':'tanh','use_bias':true},'inbound_nodes':[[['in_a',0,0,{}]],[['in_b',0,0,"
    "{}]]]},{'class_name':'Dense','name':'head','config':{'name':'head','units':2,"
    "'activation':'linear','use_bias':false},'inbound_nodes':[[['cat',0,0,{}]]]}],"
    "'input_layers':[['in_a',0,0],['in_b',0,0]],'output_layers':[['head',0,0],['shared',1,"
    "0]]}}},'weightsManifest':[{'paths':['w.bin'],'weights':[{'name':'shared/kernel',"
    "'shape':[4,3],'dtype':'float32'},{'name':'shared/bias','shape':[3],'dtype':'float32'},"
    "{'name':'head/kernel','shape':[6,2],'dtype':'float32'}]}]}";

/* Functional with a nested Sequential called twice (node indices 1 and 2: node 0 is the
 * nested model's own graph). This is the shape TF.js's own model.toJSON() writes. */
static const char NEST_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Model','config':{'name':'outer',"
    "'layers':[{'class_name':'InputLayer','name':'inp','config':{'batch_input_shape':[null,"
    "4],'dtype':'float32','name':'inp'},'inbound_nodes':[]},{'class_name':'Dense',"
    "'name':'pre','config':{'name':'pre','units':4,'activation':'relu','use_bias':true},"
    "'inbound_nodes':[[['inp',0,0,{}]]]},{'class_name':'Sequential','name':'inner_seq',"
    "'config':{'name':'inner_seq','layers':[{'class_name':'Dense','config':{'name':'d1',"
    "'units':3,'activation':'relu','use_bias':true,'batch_input_shape':[null,4]}},"
    "{'class_name':'Dense','config':{'name':'d2','units':2,'activation':'linear',"
    "'use_bias':true}}]},'inbound_nodes':[[['inp',0,0,{}]],[['pre',0,0,{}]]]},"
    "{'class_name':'Add','name':'sum','config':{'name':'sum'},'inbound_nodes':[[['inner_seq',"
    "1,0,{}],['inner_seq',2,0,{}]]]}],'input_layers':[['inp',0,0]],'output_layers':[['sum',0,"
    "0],['inner_seq',1,0]]}}},'weightsManifest':[{'paths':['w.bin'],"
    "'weights':[{'name':'pre/kernel','shape':[4,4],'dtype':'float32'},{'name':'pre/bias',"
    "'shape':[4],'dtype':'float32'},{'name':'d1/kernel','shape':[4,3],'dtype':'float32'},"
    "{'name':'d1/bias','shape':[3],'dtype':'float32'},{'name':'d2/kernel','shape':[3,2],"
    "'dtype':'float32'},{'name':'d2/bias','shape':[2],'dtype':'float32'}]}]}";

/* Keras 3 form: InputLayer batch_shape, inbound nodes {args, kwargs} with keras_history,
 * a DTypePolicy dtype, bare input_layers / output_layers triples. */
static const char K3_JSON[] =
    "{'format':'layers-model','modelTopology':{'class_name':'Functional','config':{"
    "'name':'k3','trainable':true,'layers':["
    "{'module':'keras.layers','class_name':'InputLayer','registered_name':null,'name':'x',"
    "'config':{'batch_shape':[null,4],'dtype':'float32','sparse':false,'name':'x'},"
    "'inbound_nodes':[]},"
    "{'module':'keras.layers','class_name':'Dense','registered_name':null,'name':'d',"
    "'config':{'name':'d','units':3,'activation':'relu','use_bias':true,'dtype':{"
    "'module':'keras','class_name':'DTypePolicy','config':{'name':'float32'}}},"
    "'inbound_nodes':[{'args':[{'class_name':'__keras_tensor__','config':{'shape':[null,4],"
    "'dtype':'float32','keras_history':['x',0,0]}}],'kwargs':{}}]},"
    "{'module':'keras.layers','class_name':'Concatenate','registered_name':null,'name':'c',"
    "'config':{'name':'c','axis':-1},"
    "'inbound_nodes':[{'args':[[{'class_name':'__keras_tensor__','config':{'shape':[null,3],"
    "'dtype':'float32','keras_history':['d',0,0]}},{'class_name':'__keras_tensor__',"
    "'config':{'shape':[null,4],'dtype':'float32','keras_history':['x',0,0]}}]],"
    "'kwargs':{}}]}],"
    "'input_layers':['x',0,0],'output_layers':['c',0,0]}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':["
    "{'name':'d/kernel','shape':[4,3],'dtype':'float32'},"
    "{'name':'d/bias','shape':[3],'dtype':'float32'}]}]}";

/* UpSampling2D on an input whose spatial dims are unknown (esrgan-slim): the resize size is
 * computed from the input's shape. */
static const char UP_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Sequential','config':{'name':'up',"
    "'layers':[{'class_name':'InputLayer','config':{'batch_input_shape':[null,null,null,1],"
    "'dtype':'float32','name':'x'}},{'class_name':'UpSampling2D','config':{'name':'up',"
    "'size':[2,3],'data_format':'channels_last','interpolation':'nearest'}},"
    "{'class_name':'Conv2D','config':{'name':'conv','filters':2,'kernel_size':[1,1],"
    "'strides':[1,1],'padding':'same','activation':'relu','use_bias':true}}]}}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':[{'name':'conv/kernel','shape':[1,1,1,"
    "2],'dtype':'float32'},{'name':'conv/bias','shape':[2],'dtype':'float32'}]}]}";

/* Cropping2D, AveragePooling2D 'same', Flatten. */
static const char CROP_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Sequential','config':{'name':'crop',"
    "'layers':[{'class_name':'InputLayer','config':{'batch_input_shape':[null,4,5,2],"
    "'dtype':'float32','name':'x'}},{'class_name':'Cropping2D','config':{'name':'crop',"
    "'cropping':[[1,0],[0,2]],'data_format':'channels_last'}},"
    "{'class_name':'AveragePooling2D','config':{'name':'avg','pool_size':[2,2],'strides':[1,"
    "1],'padding':'same'}},{'class_name':'Flatten','config':{'name':'flat'}}]}}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':[]}]}";

/* Weight names as converters write them: a model-name prefix and ":0" (fc), an RNN cell
 * component tfjs-layers drops (fc2). modelTopology is the bare model config, and the
 * Sequential config is a plain list of layers. */
static const char NAMES_JSON[] =
    "{'modelTopology':{'class_name':'Sequential','config':["
    "{'class_name':'Dense','config':{'name':'fc','units':2,'batch_input_shape':[null,2]}},"
    "{'class_name':'Dense','config':{'name':'fc2','units':1,'activation':'sigmoid'}}]},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':["
    "{'name':'my_model/fc/kernel:0','shape':[2,2],'dtype':'float32'},"
    "{'name':'my_model/fc/bias:0','shape':[2],'dtype':'float32'},"
    "{'name':'fc2/cell/kernel','shape':[2,1],'dtype':'float32'},"
    "{'name':'fc2/cell/bias','shape':[1],'dtype':'float32'}]}]}";

/* More layer classes: SeparableConv2D, Conv2DTranspose, PReLU, LeakyReLU, bilinear
 * UpSampling2D, hard_sigmoid and swish (MISC_IMG); Conv1D, MaxPooling1D, LayerNormalization,
 * Permute, Reshape, Dense on rank 3 + gelu, Softmax, ThresholdedReLU, RepeatVector, ELU,
 * Masking (MISC_SEQ); a nested Functional model with two outputs called twice, Average of
 * three tensors, Maximum (NESTF). */
static const char MISC_IMG_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Sequential','config':{'name':'misc_img',"
    "'layers':[{'class_name':'InputLayer','config':{'batch_input_shape':[null,6,6,2],"
    "'dtype':'float32','name':'x'}},{'class_name':'SeparableConv2D','config':{'name':'sep',"
    "'filters':3,'kernel_size':[3,3],'padding':'same','depth_multiplier':2,"
    "'activation':'relu','use_bias':true}},{'class_name':'Conv2DTranspose',"
    "'config':{'name':'up','filters':2,'kernel_size':[3,3],'strides':[2,2],'padding':'valid',"
    "'activation':'linear','use_bias':true}},{'class_name':'PReLU','config':{'name':'prelu',"
    "'shared_axes':[1,2]}},{'class_name':'AveragePooling2D','config':{'name':'avg',"
    "'pool_size':[2,2],'strides':[2,2],'padding':'valid'}},{'class_name':'LeakyReLU',"
    "'config':{'name':'leaky','alpha':0.2}},{'class_name':'UpSampling2D',"
    "'config':{'name':'bil','size':[2,2],'interpolation':'bilinear'}},"
    "{'class_name':'GlobalAveragePooling2D','config':{'name':'gap'}},{'class_name':'Dense',"
    "'config':{'name':'d','units':3,'activation':'hard_sigmoid','use_bias':true}},"
    "{'class_name':'Activation','config':{'name':'sw','activation':'swish'}}]}}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':[{'name':'sep/depthwise_kernel',"
    "'shape':[3,3,2,2],'dtype':'float32'},{'name':'sep/pointwise_kernel','shape':[1,1,4,3],"
    "'dtype':'float32'},{'name':'sep/bias','shape':[3],'dtype':'float32'},"
    "{'name':'up/kernel','shape':[3,3,2,3],'dtype':'float32'},{'name':'up/bias','shape':[2],"
    "'dtype':'float32'},{'name':'prelu/alpha','shape':[1,1,2],'dtype':'float32'},"
    "{'name':'d/kernel','shape':[2,3],'dtype':'float32'},{'name':'d/bias','shape':[3],"
    "'dtype':'float32'}]}]}";

static const char MISC_SEQ_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Sequential','config':{'name':'misc_seq',"
    "'layers':[{'class_name':'InputLayer','config':{'batch_input_shape':[null,6,3],"
    "'dtype':'float32','name':'x'}},{'class_name':'Conv1D','config':{'name':'c1','filters':4,"
    "'kernel_size':[3],'strides':[1],'padding':'same','activation':'relu','use_bias':true}},"
    "{'class_name':'MaxPooling1D','config':{'name':'mp','pool_size':[2],'strides':[2],"
    "'padding':'valid'}},{'class_name':'LayerNormalization','config':{'name':'ln',"
    "'axis':[-1],'epsilon':0.001,'center':true,'scale':true}},{'class_name':'Permute',"
    "'config':{'name':'perm','dims':[2,1]}},{'class_name':'Reshape','config':{'name':'resh',"
    "'target_shape':[2,6]}},{'class_name':'Dense','config':{'name':'dn','units':2,"
    "'activation':'gelu','use_bias':true}},{'class_name':'Softmax','config':{'name':'sm',"
    "'axis':-1}},{'class_name':'ThresholdedReLU','config':{'name':'thr','theta':0.45}},"
    "{'class_name':'Flatten','config':{'name':'fl'}},{'class_name':'RepeatVector',"
    "'config':{'name':'rep','n':2}},{'class_name':'ELU','config':{'name':'elu','alpha':1}},"
    "{'class_name':'Masking','config':{'name':'mask','mask_value':0}}]}}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':[{'name':'c1/kernel','shape':[3,3,4],"
    "'dtype':'float32'},{'name':'c1/bias','shape':[4],'dtype':'float32'},{'name':'ln/gamma',"
    "'shape':[4],'dtype':'float32'},{'name':'ln/beta','shape':[4],'dtype':'float32'},"
    "{'name':'dn/kernel','shape':[6,2],'dtype':'float32'},{'name':'dn/bias','shape':[2],"
    "'dtype':'float32'}]}]}";

static const char NESTF_JSON[] =
    "{'modelTopology':{'keras_version':'2.2.4','backend':'tensorflow',"
    "'model_config':{'class_name':'Model','config':{'name':'outer',"
    "'layers':[{'class_name':'InputLayer','name':'a','config':{'batch_input_shape':[null,3],"
    "'dtype':'float32','name':'a'},'inbound_nodes':[]},{'class_name':'InputLayer','name':'b',"
    "'config':{'batch_input_shape':[null,3],'dtype':'float32','name':'b'},"
    "'inbound_nodes':[]},{'class_name':'Model','name':'inner','config':{'name':'inner',"
    "'layers':[{'class_name':'InputLayer','name':'ix','config':{'batch_input_shape':[null,3],"
    "'dtype':'float32','name':'ix'},'inbound_nodes':[]},{'class_name':'Dense','name':'sh',"
    "'config':{'name':'sh','units':3,'activation':'elu','use_bias':true},"
    "'inbound_nodes':[[['ix',0,0,{}]]]},{'class_name':'Dense','name':'sh2',"
    "'config':{'name':'sh2','units':3,'activation':'sigmoid','use_bias':true},"
    "'inbound_nodes':[[['sh',0,0,{}]]]},{'class_name':'Multiply','name':'mul',"
    "'config':{'name':'mul'},'inbound_nodes':[[['sh',0,0,{}],['sh2',0,0,{}]]]}],"
    "'input_layers':[['ix',0,0]],'output_layers':[['mul',0,0],['sh',0,0]]},"
    "'inbound_nodes':[[['a',0,0,{}]],[['b',0,0,{}]]]},{'class_name':'Average','name':'avg',"
    "'config':{'name':'avg'},'inbound_nodes':[[['inner',1,0,{}],['inner',2,0,{}],['inner',2,"
    "1,{}]]]},{'class_name':'Maximum','name':'mx','config':{'name':'mx'},"
    "'inbound_nodes':[[['inner',1,1,{}],['a',0,0,{}]]]}],'input_layers':[['a',0,0],['b',0,"
    "0]],'output_layers':[['avg',0,0],['inner',1,1],['mx',0,0]]}}},"
    "'weightsManifest':[{'paths':['w.bin'],'weights':[{'name':'sh/kernel','shape':[3,3],"
    "'dtype':'float32'},{'name':'sh/bias','shape':[3],'dtype':'float32'},"
    "{'name':'sh2/kernel','shape':[3,3],'dtype':'float32'},{'name':'sh2/bias','shape':[3],"
    "'dtype':'float32'}]}]}";

/* ------------------------------------------------------------------ structure */

Test(layers, sequential_lowers_to_graph_ops) {
  rt_graph *g = load_ok(SEQ_JSON);
  cr_assert_str_eq(g->format, "layers-model");
  cr_assert_eq(g->n_inputs, 1);
  expect_io(&g->inputs[0], "img", 4, I(-1, 5, 5, 2));
  cr_assert_eq(g->inputs[0].dtype, RT_DT_F32);
  cr_assert_eq(g->n_outputs, 1);
  expect_io(&g->outputs[0], "out", 2, I(-1, 4));
  cr_assert_str_eq(g->nodes[g->outputs[0].ref.node].name, "out/Softmax");

  expect_node(g, "img", "Placeholder", NO_INPUTS);
  expect_node(g, "pad/Pad", "Pad", S("img", "pad/Pad/paddings"));
  expect_i32_const(g, "pad/Pad/paddings", (const int32_t[]){0, 0, 0, 1, 0, 1, 0, 0}, 8);
  const rt_node *n = expect_node(g, "conv/Conv2D", "Conv2D", S("pad/Pad", "conv/kernel"));
  expect_ints(n, "strides", I(1, 2, 2, 1), 4);
  expect_ints(n, "dilations", I(1, 1, 1, 1), 4);
  cr_assert_str_eq(rt__attr_str(n, "padding", ""), "VALID");
  cr_assert_str_eq(rt__attr_str(n, "data_format", ""), "NHWC");
  expect_dims(&node(g, "conv/kernel")->value, 4, I(3, 3, 2, 3));
  cr_assert_float_eq(((const float *)node(g, "conv/kernel")->value.data)[1], weight_value(1, ""),
                     0);

  /* BatchNormalization folded: scale = gamma / sqrt(var + eps), offset = beta - mean * scale;
   * gamma, beta, mean, var are weights 54.., 57.., 60.., 63.. of the shard. */
  expect_node(g, "bn/Mul", "Mul", S("conv/Conv2D", "bn/scale"));
  expect_node(g, "bn/AddV2", "AddV2", S("bn/Mul", "bn/offset"));
  const float *scale = node(g, "bn/scale")->value.data, *offset = node(g, "bn/offset")->value.data;
  for (int i = 0; i < 3; i++) {
    double gm = weight_value(54 + i, ""), bt = weight_value(57 + i, "");
    double mn = weight_value(60 + i, ""), vr = weight_value(63 + i, "moving_variance");
    double s = gm / sqrt(vr + 0.001);
    cr_assert_float_eq(scale[i], (float)s, 1e-7);
    cr_assert_float_eq(offset[i], (float)(bt - mn * s), 1e-7);
  }
  expect_dims(&node(g, "bn/scale")->value, 1, I(3));

  expect_node(g, "relu6/Relu6", "Relu6", S("bn/AddV2"));
  n = expect_node(g, "dw/FusedDepthwiseConv2dNative", "FusedDepthwiseConv2dNative",
                  S("relu6/Relu6", "dw/depthwise_kernel", "dw/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd", "Relu"), 2);
  cr_assert_eq(rt__attr_int(n, "num_args", 0), 1);
  cr_assert_str_eq(rt__attr_str(n, "padding", ""), "SAME");
  expect_dims(&node(g, "dw/depthwise_kernel")->value, 4, I(3, 3, 3, 1));
  n = expect_node(g, "pool/MaxPool", "MaxPool", S("dw/FusedDepthwiseConv2dNative"));
  expect_ints(n, "ksize", I(1, 1, 2, 1), 4);
  expect_ints(n, "strides", I(1, 1, 1, 1), 4);
  expect_node(g, "flat/Reshape", "Reshape", S("pool/MaxPool", "flat/Reshape/shape"));
  expect_i32_const(g, "flat/Reshape/shape", (const int32_t[]){-1, 6}, 2);
  expect_node(g, "drop/Identity", "Identity", S("flat/Reshape"));
  n = expect_node(g, "out/MatMul", "_FusedMatMul", S("drop/Identity", "out/kernel", "out/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd"), 1);
  cr_assert_eq(rt__attr_bool(n, "transpose_a", true), false);
  cr_assert_eq(rt__attr_bool(n, "transpose_b", true), false);
  expect_node(g, "out/Softmax", "Softmax", S("out/MatMul"));
  for (int i = 0; i < g->n_nodes; i++)
    cr_assert_str_neq(g->nodes[i].op_name, "", "node %s has no op", g->nodes[i].name);
  rt__graph_destroy(g);
}

Test(layers, functional_shared_layer_reuses_its_weights) {
  rt_graph *g = load_ok(FUNC_JSON);
  cr_assert_eq(g->n_inputs, 2);
  expect_io(&g->inputs[0], "in_a", 2, I(-1, 4));
  expect_io(&g->inputs[1], "in_b", 2, I(-1, 4));
  cr_assert_eq(g->n_outputs, 2); /* TF.js outputNames: ["head", "shared"] */
  expect_io(&g->outputs[0], "head", 2, I(-1, 2));
  expect_io(&g->outputs[1], "shared", 2, I(-1, 3));
  cr_assert_str_eq(g->nodes[g->outputs[0].ref.node].name, "head/MatMul");
  cr_assert_str_eq(g->nodes[g->outputs[1].ref.node].name, "shared/Tanh_1");

  /* Two calls, one set of weights. */
  expect_node(g, "shared/MatMul", "_FusedMatMul", S("in_a", "shared/kernel", "shared/bias"));
  expect_node(g, "shared/MatMul_1", "_FusedMatMul", S("in_b", "shared/kernel", "shared/bias"));
  cr_assert_eq(count_prefix(g, "shared/kernel"), 1);
  cr_assert_eq(count_prefix(g, "shared/bias"), 1);
  expect_node(g, "shared/Tanh", "Tanh", S("shared/MatMul")); /* tanh is not fused */
  expect_node(g, "shared/Tanh_1", "Tanh", S("shared/MatMul_1"));
  expect_node(g, "sum/AddV2", "AddV2", S("shared/Tanh", "shared/Tanh_1"));
  const rt_node *n = expect_node(g, "cat/ConcatV2", "ConcatV2",
                                 S("shared/Tanh_1", "sum/AddV2", "cat/ConcatV2/axis"));
  cr_assert_eq(rt__attr_int(n, "N", 0), 2);
  expect_i32_const(g, "cat/ConcatV2/axis", (const int32_t[]){1}, 1);
  expect_node(g, "head/MatMul", "MatMul", S("cat/ConcatV2", "head/kernel"));
  expect_dims(&node(g, "head/kernel")->value, 2, I(6, 2));
  rt__graph_destroy(g);
}

Test(layers, nested_sequential_is_applied_like_a_layer) {
  rt_graph *g = load_ok(NEST_JSON);
  cr_assert_eq(g->n_inputs, 1);
  expect_io(&g->inputs[0], "inp", 2, I(-1, 4));
  cr_assert_eq(g->n_outputs, 2);
  expect_io(&g->outputs[0], "sum", 2, I(-1, 2));
  expect_io(&g->outputs[1], "inner_seq", 2, I(-1, 2));
  const rt_node *n =
      expect_node(g, "pre/MatMul", "_FusedMatMul", S("inp", "pre/kernel", "pre/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd", "Relu"), 2);
  /* Call 1 (node index 1) reads inp, call 2 reads pre; both use the inner weights, found by
   * their TF.js names "d1/kernel" ... */
  expect_node(g, "inner_seq/d1/MatMul", "_FusedMatMul",
              S("inp", "inner_seq/d1/kernel", "inner_seq/d1/bias"));
  expect_node(g, "inner_seq/d1/MatMul_1", "_FusedMatMul",
              S("pre/MatMul", "inner_seq/d1/kernel", "inner_seq/d1/bias"));
  expect_node(g, "inner_seq/d2/MatMul", "_FusedMatMul",
              S("inner_seq/d1/MatMul", "inner_seq/d2/kernel", "inner_seq/d2/bias"));
  expect_node(g, "inner_seq/d2/MatMul_1", "_FusedMatMul",
              S("inner_seq/d1/MatMul_1", "inner_seq/d2/kernel", "inner_seq/d2/bias"));
  expect_node(g, "sum/AddV2", "AddV2", S("inner_seq/d2/MatMul", "inner_seq/d2/MatMul_1"));
  cr_assert_str_eq(g->nodes[g->outputs[1].ref.node].name, "inner_seq/d2/MatMul");
  /* d1/kernel is weights 20..31 of the shard (after pre/kernel and pre/bias). */
  const float *k = node(g, "inner_seq/d1/kernel")->value.data;
  for (int i = 0; i < 12; i++)
    cr_assert_float_eq(k[i], weight_value(20 + i, ""), 0);
  rt__graph_destroy(g);
}

Test(layers, keras3_inbound_nodes) {
  rt_graph *g = load_ok(K3_JSON);
  cr_assert_eq(g->n_inputs, 1);
  expect_io(&g->inputs[0], "x", 2, I(-1, 4));
  cr_assert_eq(g->n_outputs, 1);
  expect_io(&g->outputs[0], "c", 2, I(-1, 7));
  const rt_node *n = expect_node(g, "d/MatMul", "_FusedMatMul", S("x", "d/kernel", "d/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd", "Relu"), 2);
  expect_node(g, "c/ConcatV2", "ConcatV2", S("d/MatMul", "x", "c/ConcatV2/axis"));
  rt__graph_destroy(g);
}

Test(layers, upsampling_with_unknown_spatial_dims) {
  rt_graph *g = load_ok(UP_JSON);
  expect_io(&g->inputs[0], "x", 4, I(-1, -1, -1, 1));
  expect_io(&g->outputs[0], "conv", 4, I(-1, -1, -1, 2));
  expect_node(g, "up/Shape", "Shape", S("x"));
  expect_node(g, "up/GatherV2", "GatherV2",
              S("up/Shape", "up/GatherV2/indices", "up/GatherV2/axis"));
  expect_i32_const(g, "up/GatherV2/indices", (const int32_t[]){1, 2}, 2);
  expect_node(g, "up/shape/mul", "Mul", S("up/GatherV2", "up/shape/mul/y"));
  expect_i32_const(g, "up/shape/mul/y", (const int32_t[]){2, 3}, 2);
  const rt_node *n =
      expect_node(g, "up/ResizeNearestNeighbor", "ResizeNearestNeighbor", S("x", "up/shape/mul"));
  cr_assert_eq(rt__attr_bool(n, "align_corners", true), false);
  cr_assert_eq(rt__attr_bool(n, "half_pixel_centers", true), false);
  n = expect_node(g, "conv/_FusedConv2D", "_FusedConv2D",
                  S("up/ResizeNearestNeighbor", "conv/kernel", "conv/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd", "Relu"), 2);
  cr_assert_eq(rt__attr_int(n, "num_args", 0), 1);
  rt__graph_destroy(g);
}

Test(layers, cropping_pooling_flatten) {
  rt_graph *g = load_ok(CROP_JSON);
  const rt_node *n = expect_node(
      g, "crop/StridedSlice", "StridedSlice",
      S("x", "crop/StridedSlice/begin", "crop/StridedSlice/end", "crop/StridedSlice/strides"));
  expect_i32_const(g, "crop/StridedSlice/begin", (const int32_t[]){0, 1, 0, 0}, 4);
  expect_i32_const(g, "crop/StridedSlice/end", (const int32_t[]){0, 0, -2, 0}, 4);
  cr_assert_eq(rt__attr_int(n, "begin_mask", -1), 1 | 8);
  cr_assert_eq(rt__attr_int(n, "end_mask", -1), 1 | 2 | 8);
  n = expect_node(g, "avg/AvgPool", "AvgPool", S("crop/StridedSlice"));
  cr_assert_str_eq(rt__attr_str(n, "padding", ""), "SAME");
  expect_i32_const(g, "flat/Reshape/shape", (const int32_t[]){-1, 18}, 2);
  expect_io(&g->outputs[0], "flat", 2, I(-1, 18));
  rt__graph_destroy(g);
}

Test(layers, weight_names_with_prefix_suffix_and_cell) {
  rt_graph *g = load_ok(NAMES_JSON);
  expect_io(&g->inputs[0], "fc_input", 2, I(-1, 2)); /* TF.js Sequential.add's name */
  expect_io(&g->outputs[0], "fc2", 2, I(-1, 1));
  expect_node(g, "fc/MatMul", "_FusedMatMul", S("fc_input", "fc/kernel", "fc/bias"));
  const rt_node *n =
      expect_node(g, "fc2/MatMul", "_FusedMatMul", S("fc/MatMul", "fc2/kernel", "fc2/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd", "Sigmoid"), 2);
  const float *k = node(g, "fc/kernel")->value.data, *b = node(g, "fc2/bias")->value.data;
  for (int i = 0; i < 4; i++)
    cr_assert_float_eq(k[i], weight_value(i, ""), 0);
  cr_assert_float_eq(b[0], weight_value(8, ""), 0);
  rt__graph_destroy(g);
}

Test(layers, more_layer_classes) {
  rt_graph *g = load_ok(MISC_IMG_JSON);
  expect_node(g, "sep/DepthwiseConv2dNative", "DepthwiseConv2dNative",
              S("x", "sep/depthwise_kernel"));
  const rt_node *n =
      expect_node(g, "sep/_FusedConv2D", "_FusedConv2D",
                  S("sep/DepthwiseConv2dNative", "sep/pointwise_kernel", "sep/bias"));
  cr_assert_str_eq(rt__attr_str(n, "padding", ""), "VALID");
  expect_strs(n, "fused_ops", S("BiasAdd", "Relu"), 2);
  /* input_sizes = [batch, 6 * 2 + 1, 6 * 2 + 1, 2], from the input's shape at plan time */
  n = node(g, "up/conv2d_transpose");
  cr_assert_str_eq(n->op_name, "Conv2DBackpropInput");
  cr_assert_str_eq(g->nodes[n->inputs[1].node].name, "up/kernel");
  cr_assert_str_eq(g->nodes[n->inputs[2].node].name, "sep/_FusedConv2D");
  expect_i32_const(g, "up/shape/mul/y", (const int32_t[]){1, 2, 2, 0}, 4);
  expect_i32_const(g, "up/shape/add/y", (const int32_t[]){0, 1, 1, 2}, 4);
  expect_node(g, "up/BiasAdd", "BiasAdd", S("up/conv2d_transpose", "up/bias"));
  expect_node(g, "prelu/Prelu", "Prelu", S("up/BiasAdd", "prelu/alpha"));
  expect_dims(&node(g, "prelu/alpha")->value, 3, I(1, 1, 2));
  cr_assert_float_eq(rt__attr_float(node(g, "leaky/LeakyRelu"), "alpha", 0), 0.2f, 1e-7);
  expect_node(g, "bil/ResizeBilinear", "ResizeBilinear", S("leaky/LeakyRelu", "bil/shape"));
  expect_i32_const(g, "bil/shape", (const int32_t[]){12, 12}, 2);
  expect_node(g, "gap/Mean", "Mean", S("bil/ResizeBilinear", "gap/Mean/reduction_indices"));
  expect_i32_const(g, "gap/Mean/reduction_indices", (const int32_t[]){1, 2}, 2);
  /* hard_sigmoid: clip(0.5 + 0.2 x, 0, 1); swish: sigmoid(x) * x */
  expect_node(g, "d/Mul", "Mul", S("d/Mul/x", "d/MatMul"));
  expect_node(g, "d/AddV2", "AddV2", S("d/AddV2/x", "d/Mul"));
  expect_node(g, "d/Maximum", "Maximum", S("d/AddV2", "d/Maximum/y"));
  expect_node(g, "d/Minimum", "Minimum", S("d/Maximum", "d/Minimum/y"));
  expect_node(g, "sw/Sigmoid", "Sigmoid", S("d/Minimum"));
  expect_node(g, "sw/Mul", "Mul", S("sw/Sigmoid", "d/Minimum"));
  rt__graph_destroy(g);

  g = load_ok(MISC_SEQ_JSON);
  expect_node(g, "c1/ExpandDims", "ExpandDims", S("x", "c1/ExpandDims/dim"));
  n = expect_node(g, "c1/_FusedConv2D", "_FusedConv2D", S("c1/ExpandDims", "c1/kernel", "c1/bias"));
  expect_ints(n, "strides", I(1, 1, 1, 1), 4);
  expect_dims(&node(g, "c1/kernel")->value, 4, I(1, 3, 3, 4));
  expect_ints(expect_node(g, "c1/Squeeze", "Squeeze", S("c1/_FusedConv2D")), "squeeze_dims", I(1),
              1);
  expect_ints(node(g, "mp/MaxPool"), "ksize", I(1, 2, 1, 1), 4);
  expect_ints(node(g, "mp/Squeeze"), "squeeze_dims", I(2), 1);
  expect_node(g, "ln/Sub", "Sub", S("mp/Squeeze", "ln/Mean"));
  expect_node(g, "ln/Rsqrt", "Rsqrt", S("ln/AddV2"));
  expect_dims(&node(g, "ln/gamma")->value, 3, I(1, 1, 4));
  expect_i32_const(g, "perm/Transpose/perm", (const int32_t[]){0, 2, 1}, 3);
  expect_i32_const(g, "resh/Reshape/shape", (const int32_t[]){-1, 2, 6}, 3);
  expect_node(g, "dn/Reshape", "Reshape", S("resh/Reshape", "dn/Reshape/shape"));
  expect_node(g, "dn/MatMul", "_FusedMatMul", S("dn/Reshape", "dn/kernel", "dn/bias"));
  expect_i32_const(g, "dn/Reshape_1/shape", (const int32_t[]){-1, 2, 2}, 3);
  expect_node(g, "dn/Erf", "Erf", S("dn/RealDiv"));
  expect_node(g, "sm/Softmax", "Softmax", S("dn/Mul_1"));
  expect_node(g, "thr/Greater", "Greater", S("sm/Softmax", "thr/Greater/y"));
  expect_node(g, "thr/Mul", "Mul", S("sm/Softmax", "thr/Cast"));
  expect_i32_const(g, "rep/Tile/multiples", (const int32_t[]){1, 2, 1}, 3);
  expect_node(g, "elu/Elu", "Elu", S("rep/Tile"));
  n = expect_node(g, "mask/Any", "Any", S("mask/NotEqual", "mask/Any/reduction_indices"));
  cr_assert_eq(rt__attr_bool(n, "keep_dims", false), true);
  expect_node(g, "mask/Mul", "Mul", S("elu/Elu", "mask/Cast"));
  expect_io(&g->outputs[0], "mask", 3, I(-1, 2, 4));
  rt__graph_destroy(g);

  g = load_ok(NESTF_JSON);
  cr_assert_eq(g->n_outputs, 3);
  expect_io(&g->outputs[1], "inner", 2, I(-1, 3));
  n = expect_node(g, "inner/sh/MatMul", "_FusedMatMul", S("a", "inner/sh/kernel", "inner/sh/bias"));
  expect_strs(n, "fused_ops", S("BiasAdd", "Elu"), 2);
  expect_node(g, "inner/sh/MatMul_1", "_FusedMatMul", S("b", "inner/sh/kernel", "inner/sh/bias"));
  expect_node(g, "inner/mul/Mul_1", "Mul", S("inner/sh/MatMul_1", "inner/sh2/MatMul_1"));
  expect_node(g, "avg/AddV2", "AddV2", S("inner/mul/Mul", "inner/mul/Mul_1"));
  expect_node(g, "avg/AddV2_1", "AddV2", S("avg/AddV2", "inner/sh/MatMul_1"));
  expect_node(g, "avg/Mul", "Mul", S("avg/Mul/x", "avg/AddV2_1"));
  cr_assert_float_eq(*(const float *)node(g, "avg/Mul/x")->value.data, 1.0f / 3, 1e-7);
  expect_node(g, "mx/Maximum", "Maximum", S("inner/sh/MatMul", "a"));
  cr_assert_str_eq(g->nodes[g->outputs[1].ref.node].name, "inner/sh/MatMul");
  rt__graph_destroy(g);
}

Test(layers, every_lowered_op_is_a_graph_model_op_name) {
  /* The op names the loader emits must be the TF names the kernel table uses. */
  static const char *const known[] = {"Placeholder",
                                      "Const",
                                      "Identity",
                                      "Pad",
                                      "Conv2D",
                                      "_FusedConv2D",
                                      "Mul",
                                      "AddV2",
                                      "Relu",
                                      "Relu6",
                                      "FusedDepthwiseConv2dNative",
                                      "MaxPool",
                                      "AvgPool",
                                      "Reshape",
                                      "_FusedMatMul",
                                      "MatMul",
                                      "Softmax",
                                      "Tanh",
                                      "Sigmoid",
                                      "ConcatV2",
                                      "Shape",
                                      "GatherV2",
                                      "ResizeNearestNeighbor",
                                      "StridedSlice",
                                      "DepthwiseConv2dNative",
                                      "Conv2DBackpropInput",
                                      "BiasAdd",
                                      "Prelu",
                                      "LeakyRelu",
                                      "ResizeBilinear",
                                      "Mean",
                                      "Maximum",
                                      "Minimum",
                                      "ExpandDims",
                                      "Squeeze",
                                      "Sub",
                                      "Square",
                                      "Rsqrt",
                                      "Transpose",
                                      "RealDiv",
                                      "Erf",
                                      "Greater",
                                      "Cast",
                                      "Tile",
                                      "Elu",
                                      "NotEqual",
                                      "Any",
                                      NULL};
  const char *const models[] = {SEQ_JSON,  FUNC_JSON,  NEST_JSON,     K3_JSON,       UP_JSON,
                                CROP_JSON, NAMES_JSON, MISC_IMG_JSON, MISC_SEQ_JSON, NESTF_JSON};
  for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
    rt_graph *g = load_ok(models[m]);
    for (int i = 0; i < g->n_nodes; i++) {
      bool ok = false;
      for (int k = 0; known[k] && !ok; k++)
        ok = !strcmp(g->nodes[i].op_name, known[k]);
      cr_assert(ok, "model %zu: node %s has op %s", m, g->nodes[i].name, g->nodes[i].op_name);
      cr_assert(g->nodes[i].origin, "node %s has no origin layer", g->nodes[i].name);
    }
    rt__graph_destroy(g);
  }
}

/* ------------------------------------------------------------------ errors */

#define SEQ1(layer)                                                                                \
  "{'modelTopology':{'model_config':{'class_name':'Sequential','config':{'layers':["               \
  "{'class_name':'InputLayer','config':{'batch_input_shape':[null,2],'name':'x'}}," layer "]}}}}"

Test(layers_errors, unsupported_layer_class_names_layer_and_class) {
  expect_error(SEQ1("{'class_name':'Lambda','config':{'name':'lambda_1','function':'x'}}"),
               RT_ERR_UNSUPPORTED, S("lambda_1", "Lambda", "not supported"));
}

Test(layers_errors, missing_weight_names_it) {
  expect_error(SEQ1("{'class_name':'Dense','config':{'name':'fc','units':2}}"), RT_ERR_PARSE,
               S("'fc'", "fc/kernel", "weightsManifest"));
}

Test(layers_errors, weight_shape_mismatch) {
  expect_error(
      "{'modelTopology':{'model_config':{'class_name':'Sequential','config':{'layers':["
      "{'class_name':'Dense','config':{'name':'fc','units':2,'batch_input_shape':[null,2]}}"
      "]}}},'weightsManifest':[{'paths':['w.bin'],'weights':["
      "{'name':'fc/kernel','shape':[3,2],'dtype':'float32'},"
      "{'name':'fc/bias','shape':[2],'dtype':'float32'}]}]}",
      RT_ERR_SHAPE, S("'fc'", "kernel", "[3,2]", "[2,2]"));
}

Test(layers_errors, inbound_node_never_produced) {
  expect_error("{'modelTopology':{'model_config':{'class_name':'Model','config':{'layers':["
               "{'class_name':'InputLayer','name':'x','config':{'batch_input_shape':[null,2]},"
               "'inbound_nodes':[]},"
               "{'class_name':'Activation','name':'a','config':{'activation':'relu'},"
               "'inbound_nodes':[[['x',0,0,{}]]]},"
               "{'class_name':'Activation','name':'b','config':{'activation':'relu'},"
               "'inbound_nodes':[[['a',1,0,{}]]]}],"
               "'input_layers':[['x',0,0]],'output_layers':[['b',0,0]]}}}}",
               RT_ERR_PARSE, S("'b'", "never produced"));
}

Test(layers_errors, unknown_inbound_layer) {
  expect_error("{'modelTopology':{'model_config':{'class_name':'Model','config':{'layers':["
               "{'class_name':'InputLayer','name':'x','config':{'batch_input_shape':[null,2]},"
               "'inbound_nodes':[]},"
               "{'class_name':'Activation','name':'a','config':{'activation':'relu'},"
               "'inbound_nodes':[[['nope',0,0,{}]]]}],"
               "'input_layers':[['x',0,0]],'output_layers':[['a',0,0]]}}}}",
               RT_ERR_PARSE, S("unknown layer", "nope"));
}

Test(layers_errors, malformed_inbound_entry) {
  expect_error("{'modelTopology':{'model_config':{'class_name':'Model','config':{'layers':["
               "{'class_name':'InputLayer','name':'x','config':{'batch_input_shape':[null,2]},"
               "'inbound_nodes':[]},"
               "{'class_name':'Activation','name':'a','config':{'activation':'relu'},"
               "'inbound_nodes':[[['x','zero',0,{}]]]}],"
               "'input_layers':[['x',0,0]],'output_layers':[['a',0,0]]}}}}",
               RT_ERR_PARSE, S("'a'", "inbound node 0"));
}

Test(layers_errors, topology_without_a_model) {
  expect_error("{'modelTopology':{'model_config':{'foo':1}}}", RT_ERR_PARSE, S("class_name"));
  expect_error("{'modelTopology':{'class_name':'Bidirectional','config':{}}}", RT_ERR_UNSUPPORTED,
               S("Bidirectional"));
}

Test(layers_errors, sequential_without_input_shape) {
  expect_error("{'modelTopology':{'model_config':{'class_name':'Sequential','config':{'layers':["
               "{'class_name':'Activation','config':{'name':'a','activation':'relu'}}]}}}}",
               RT_ERR_PARSE, S("'a'", "batch_input_shape"));
}

Test(layers_errors, bad_configs_name_the_field) {
  expect_error(SEQ1("{'class_name':'Activation','config':{'name':'a','activation':'bogus'}}"),
               RT_ERR_UNSUPPORTED, S("'a'", "bogus"));
  expect_error(SEQ1("{'class_name':'ELU','config':{'name':'e','alpha':0.5}}"), RT_ERR_UNSUPPORTED,
               S("'e'", "alpha"));
  expect_error(SEQ1("{'class_name':'Dense','config':{'name':'d','units':'many'}}"), RT_ERR_PARSE,
               S("'d'", "units"));
  expect_error(SEQ1("{'class_name':'Conv2D','config':{'name':'cv','filters':2,"
                    "'kernel_size':[3,3]}}"),
               RT_ERR_SHAPE, S("'cv'", "rank-4"));
  expect_error(SEQ1("{'class_name':'Reshape','config':{'name':'r','target_shape':[3]}}"),
               RT_ERR_SHAPE, S("'r'", "reshape"));
  expect_error(SEQ1("{'class_name':'InputLayer','config':{'name':'y',"
                    "'batch_input_shape':[null,2]}}"),
               RT_ERR_PARSE, S("'y'", "first layer"));
}

Test(layers_errors, duplicate_layer_names) {
  expect_error(SEQ1("{'class_name':'Activation','config':{'name':'x','activation':'relu'}}"),
               RT_ERR_PARSE, S("two layers named 'x'"));
}

/* ------------------------------------------------------------------ values vs TF.js */

/* TF.js 4.22, CPU backend, in node:
 *   const m = await tf.loadLayersModel(tf.io.fromMemory({modelTopology, weightSpecs:
 *       weightsManifest[0].weights, weightData}));   // the JSON above, weights by weight_value()
 *   m.predict(inputs)                                 // input k element i: input_value(i, k)
 * K3 and NAMES: TF.js cannot read Keras 3 inbound nodes, nor the prefixed weight names, so
 * their values come from the same models written the Keras 2 way with plain names. */
/* shape [2,4] */
static const float SEQ_OUT0[] = {0.265137017f, 0.0964952707f, 0.468030393f, 0.170337304f,
                                 0.284257919f, 0.144552320f,  0.378641188f, 0.192548588f};
/* shape [2,2] */
static const float FUNC_OUT0[] = {0.529597044f, -1.51773190f, 0.176781327f, -0.661940098f};
/* shape [2,3] */
static const float FUNC_OUT1[] = {0.554599702f, -0.0624187477f, 0.703905582f,
                                  0.670967102f, 0.00000000f,    0.670967102f};
/* shape [2,2] */
static const float NEST_OUT0[] = {-1.73437500f, 2.14843750f, -0.761230469f, 1.50488281f};
/* shape [2,2] */
static const float NEST_OUT1[] = {-1.48437500f, 1.52343750f, -0.296875000f, 0.660156250f};
/* shape [2,7] */
static const float K3_OUT0[] = {0.906250000f, 0.0312500000f, 0.781250000f, -1.00000000f,
                                0.250000000f, -1.25000000f,  0.00000000f,  0.0625000000f,
                                0.00000000f,  0.375000000f,  1.25000000f,  -0.250000000f,
                                1.00000000f,  -0.500000000f};
/* shape [1,4,6,2] */
static const float UP_OUT0[] = {
    0.125000000f, 0.125000000f, 0.125000000f, 0.125000000f, 0.125000000f, 0.125000000f,
    0.00000000f,  0.750000000f, 0.00000000f,  0.750000000f, 0.00000000f,  0.750000000f,
    0.125000000f, 0.125000000f, 0.125000000f, 0.125000000f, 0.125000000f, 0.125000000f,
    0.00000000f,  0.750000000f, 0.00000000f,  0.750000000f, 0.00000000f,  0.750000000f,
    0.218750000f, 0.00000000f,  0.218750000f, 0.00000000f,  0.218750000f, 0.00000000f,
    0.00000000f,  0.625000000f, 0.00000000f,  0.625000000f, 0.00000000f,  0.625000000f,
    0.218750000f, 0.00000000f,  0.218750000f, 0.00000000f,  0.218750000f, 0.00000000f,
    0.00000000f,  0.625000000f, 0.00000000f,  0.625000000f, 0.00000000f,  0.625000000f};
/* shape [1,18] */
static const float CROP_OUT0[] = {
    -0.250000000f, -0.375000000f, -0.500000000f, 0.0625000000f, -0.625000000f, 0.625000000f,
    -0.125000000f, -0.250000000f, -0.375000000f, -0.500000000f, -0.500000000f, -0.625000000f,
    0.625000000f,  -0.875000000f, 0.375000000f,  -1.12500000f,  0.250000000f,  -1.25000000f};
/* shape [3,1] */
static const float NAMES_OUT0[] = {0.455198616f, 0.507811844f, 0.312370002f};
/* shape [2,3] */
static const float MISC_IMG_OUT0[] = {0.305048883f, 0.350475669f, 0.203327075f,
                                      0.313464582f, 0.343241692f, 0.199524969f};
/* shape [2,2,4] */
static const float MISC_SEQ_OUT0[] = {0.456546396f, 0.543453574f, 0.638066828f, 0.00000000f,
                                      0.456546396f, 0.543453574f, 0.638066828f, 0.00000000f,
                                      0.00000000f,  0.748643160f, 0.638428748f, 0.00000000f,
                                      0.00000000f,  0.748643160f, 0.638428748f, 0.00000000f};
/* shape [2,3] */
static const float NESTF_OUT0[] = {0.0355670191f, 0.273879826f, 0.0891519934f,
                                   -0.296878397f, 0.203379601f, -0.300528646f};
/* shape [2,3] */
static const float NESTF_OUT1[] = {-0.0894896388f, 0.656250000f, -0.196477428f,
                                   0.156250000f,   0.281250000f, 0.406250000f};
/* shape [2,3] */
static const float NESTF_OUT2[] = {-0.0894896388f, 0.656250000f, -0.196477428f,
                                   0.156250000f,   1.25000000f,  0.406250000f};

/* The ops of this model that have no kernel yet ("" when all do). */
static void missing_kernels(const char *text, char *out, size_t n) {
  rt_graph *g = load_ok(text);
  out[0] = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const char *op = g->nodes[i].op_name;
    if (!rt__op_find(op) && !strstr(out, op) && strlen(out) + strlen(op) + 2 < n) {
      strcat(out, op);
      strcat(out, " ");
    }
  }
  rt__graph_destroy(g);
}

typedef struct want {
  const float *v;
  int rank;
  int64_t dims[4];
} want;

static void check_values(const char *text, int n_in, const int64_t (*in_dims)[4],
                         const int *in_rank, int n_out, const want *w) {
  char missing[256];
  missing_kernels(text, missing, sizeof missing);
  cr_assert_eq(missing[0], 0, "kernels missing: %s", missing);
  rt_model *m = NULL;
  rt_session *s = NULL;
  rt_error err = {0};
  rt_status st = rt_model_load(dir, NULL, &m, &err);
  cr_assert_eq(st, RT_OK, "rt_model_load: %s", err.msg);
  cr_assert_eq(rt_model_num_inputs(m), n_in);
  cr_assert_eq(rt_model_num_outputs(m), n_out);
  cr_assert_eq(rt_session_create(m, &s, &err), RT_OK, "%s", err.msg);
  rt_tensor in[4], out[4];
  for (int k = 0; k < n_in; k++) {
    in[k] = (rt_tensor){.dtype = RT_DT_F32, .rank = in_rank[k]};
    memcpy(in[k].dims, in_dims[k], sizeof in_dims[k]);
    int64_t n = rt_tensor_numel(&in[k]);
    float *d = malloc((size_t)n * sizeof *d);
    for (int64_t i = 0; i < n; i++)
      d[i] = input_value(i, k);
    in[k].data = d;
  }
  st = rt_session_run(s, in, n_in, out, &err);
  cr_assert_eq(st, RT_OK, "rt_session_run: %s", err.msg);
  for (int o = 0; o < n_out; o++) {
    expect_dims(&out[o], w[o].rank, w[o].dims);
    const float *got = out[o].data;
    for (int64_t i = 0; i < rt_tensor_numel(&out[o]); i++)
      cr_assert(fabsf(got[i] - w[o].v[i]) <= 2e-6f + 1e-5f * fabsf(w[o].v[i]),
                "output %d [%lld]: %.9g, TF.js %.9g", o, (long long)i, got[i], w[o].v[i]);
  }
  for (int k = 0; k < n_in; k++)
    free(in[k].data);
  rt_session_destroy(s);
  rt_model_destroy(m);
}

Test(layers_values, sequential_mobilenet_pattern) {
  check_values(SEQ_JSON, 1, (const int64_t[][4]){{2, 5, 5, 2}}, (const int[]){4}, 1,
               (const want[]){{SEQ_OUT0, 2, {2, 4}}});
}

Test(layers_values, functional_shared_layer) {
  check_values(FUNC_JSON, 2, (const int64_t[][4]){{2, 4}, {2, 4}}, (const int[]){2, 2}, 2,
               (const want[]){{FUNC_OUT0, 2, {2, 2}}, {FUNC_OUT1, 2, {2, 3}}});
}

Test(layers_values, nested_sequential) {
  check_values(NEST_JSON, 1, (const int64_t[][4]){{2, 4}}, (const int[]){2}, 2,
               (const want[]){{NEST_OUT0, 2, {2, 2}}, {NEST_OUT1, 2, {2, 2}}});
}

Test(layers_values, keras3_form) {
  check_values(K3_JSON, 1, (const int64_t[][4]){{2, 4}}, (const int[]){2}, 1,
               (const want[]){{K3_OUT0, 2, {2, 7}}});
}

Test(layers_values, upsampling_dynamic) {
  check_values(UP_JSON, 1, (const int64_t[][4]){{1, 2, 2, 1}}, (const int[]){4}, 1,
               (const want[]){{UP_OUT0, 4, {1, 4, 6, 2}}});
}

Test(layers_values, cropping_pooling_flatten) {
  check_values(CROP_JSON, 1, (const int64_t[][4]){{1, 4, 5, 2}}, (const int[]){4}, 1,
               (const want[]){{CROP_OUT0, 2, {1, 18}}});
}

Test(layers_values, renamed_weights) {
  check_values(NAMES_JSON, 1, (const int64_t[][4]){{3, 2}}, (const int[]){2}, 1,
               (const want[]){{NAMES_OUT0, 2, {3, 1}}});
}

Test(layers_values, more_layer_classes_image) {
  check_values(MISC_IMG_JSON, 1, (const int64_t[][4]){{2, 6, 6, 2}}, (const int[]){4}, 1,
               (const want[]){{MISC_IMG_OUT0, 2, {2, 3}}});
}

Test(layers_values, more_layer_classes_sequence) {
  check_values(MISC_SEQ_JSON, 1, (const int64_t[][4]){{2, 6, 3}}, (const int[]){3}, 1,
               (const want[]){{MISC_SEQ_OUT0, 3, {2, 2, 4}}});
}

Test(layers_values, nested_functional) {
  check_values(
      NESTF_JSON, 2, (const int64_t[][4]){{2, 3}, {2, 3}}, (const int[]){2, 2}, 3,
      (const want[]){{NESTF_OUT0, 2, {2, 3}}, {NESTF_OUT1, 2, {2, 3}}, {NESTF_OUT2, 2, {2, 3}}});
}
