"""
test_grpc.py - the gRPC API of design.md ("gRPC", port --port) against a real daemon, with
python3-grpcio clients: TF Serving's PredictionService (Predict with float_val / int_val /
bool_val and with tensor_content, GetModelMetadata), ModelService/GetModelStatus, KServe's
GRPCInferenceService (health, metadata, ModelInfer with raw_input_contents and with typed
contents), grpc.health.v1.Health/Check, every error status of issue 6 item 3 (code and
message), the call deadline as the job's deadline, and draining on SIGTERM.

Stubs are generated at test time from server/grpc/proto with `protoc` and `grpc_python_plugin`
into a temporary directory (never committed). grpc.health.v1's module is loaded by file path:
its package name `grpc` would otherwise collide with grpcio's.

Answers are compared bit for bit with `orchard run` on the same tensor (harness.py) and with
the REST answer for the same input. The module is skipped when grpcio, protoc or the plugin is
missing (scripts/bootstrap installs them).
"""
import array
import importlib.util
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import unittest

import harness as h

try:
    import grpc
except ImportError:  # pragma: no cover - depends on the machine
    grpc = None

PROTO_DIR = os.path.join(h.ROOT, "server", "grpc", "proto")
PROTOS = [
    "tensorflow/core/framework/types.proto",
    "tensorflow/core/framework/tensor_shape.proto",
    "tensorflow/core/framework/tensor.proto",
    "tensorflow/core/protobuf/error_codes.proto",
    "tensorflow/core/protobuf/meta_graph.proto",
    "tensorflow_serving/util/status.proto",
    "tensorflow_serving/apis/model.proto",
    "tensorflow_serving/apis/predict.proto",
    "tensorflow_serving/apis/get_model_metadata.proto",
    "tensorflow_serving/apis/get_model_status.proto",
    "tensorflow_serving/apis/prediction_service.proto",
    "tensorflow_serving/apis/model_service.proto",
    "grpc/health/v1/health.proto",
    "grpc_predict_v2.proto",
]

DT = {"float32": 1, "int32": 3, "bool": 10}  # tensorflow.DataType
DT_UINT8, DT_INT64, DT_HALF = 4, 9, 19
KS = {"float32": "FP32", "int32": "INT32", "bool": "BOOL"}
CODE = {"float32": "f", "int32": "i", "bool": "B"}


class pb:
    """The generated modules, filled by setUpModule."""


def setUpModule():
    # CI installs everything (scripts/bootstrap): there a missing tool is a failure, not a skip.
    missing = AssertionError if os.environ.get("CI") else unittest.SkipTest
    if grpc is None:
        raise missing("python3-grpcio is not installed (scripts/bootstrap)")
    if pb.__dict__.get("tensor") is not None:
        return  # generated already (test_tls.py reuses these stubs)
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        raise missing("protoc / grpc_python_plugin missing (scripts/bootstrap)")
    out = h.tmpdir("grpc-stubs-")
    p = subprocess.run([protoc, "-I", PROTO_DIR, "--python_out", out, "--grpc_python_out", out,
                        "--plugin=protoc-gen-grpc_python=%s" % plugin] + PROTOS,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("protoc failed on server/grpc/proto: %s" % p.stderr)
    sys.path.insert(0, out)
    from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2
    from tensorflow_serving.apis import model_service_pb2_grpc, predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc
    from tensorflow.core.framework import tensor_pb2
    import grpc_predict_v2_pb2
    import grpc_predict_v2_pb2_grpc
    spec = importlib.util.spec_from_file_location(
        "orchard_health_pb2", os.path.join(out, "grpc", "health", "v1", "health_pb2.py"))
    health = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(health)
    pb.tensor = tensor_pb2
    pb.predict, pb.meta, pb.status = predict_pb2, get_model_metadata_pb2, get_model_status_pb2
    pb.prediction_grpc, pb.model_grpc = prediction_service_pb2_grpc, model_service_pb2_grpc
    pb.kv2, pb.kv2_grpc, pb.health = grpc_predict_v2_pb2, grpc_predict_v2_pb2_grpc, health


# ---------------------------------------------------------------------------------------------
# Tensors <-> protos
# ---------------------------------------------------------------------------------------------

def tensor_proto(t, content=True):
    """TensorProto of a harness Tensor, values in tensor_content or in the typed *_val field."""
    tp = pb.tensor.TensorProto()
    tp.dtype = DT[t.dtype]
    for d in t.shape:
        tp.tensor_shape.dim.add().size = d
    if content:
        tp.tensor_content = t.raw()
    elif t.dtype == "float32":
        tp.float_val.extend(t.values)
    elif t.dtype == "int32":
        tp.int_val.extend(t.values)
    else:
        tp.bool_val.extend(t.values)
    return tp


def predict_request(model, inputs, content=True, **spec):
    req = pb.predict.PredictRequest()
    req.model_spec.name = model
    for k, v in spec.items():
        if k == "version":
            req.model_spec.version.value = v
        else:
            setattr(req.model_spec, k, v)
    for name, t in inputs.items():
        req.inputs[name].CopyFrom(tensor_proto(t, content))
    return req


def assert_raw_equal(tc, raw, shape, want, what):
    """raw little-endian bytes of an answer == the `orchard run` tensor, bit for bit."""
    tc.assertEqual(list(shape), want.shape, "%s: shape" % what)
    tc.assertEqual(len(raw), len(want.raw()), "%s: byte count" % what)
    if raw != want.raw():
        got = array.array(CODE[want.dtype])
        got.frombytes(raw)
        ref = array.array(CODE[want.dtype])
        ref.frombytes(want.raw())
        for i, (g, w) in enumerate(zip(got.tolist(), ref.tolist())):
            if g != w:
                tc.fail("%s: element %d is %r, `orchard run` gives %r" % (what, i, g, w))
        tc.fail("%s: bytes differ" % what)


def proto_values(tp):
    a = array.array({1: "f", 3: "i", 10: "B"}[tp.dtype])
    a.frombytes(tp.tensor_content)
    return a.tolist()


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ---------------------------------------------------------------------------------------------

class GrpcCase(h.ServerCase):
    """One daemon with gRPC on its --port; stubs on one channel."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.grpc_port)
        try:
            grpc.channel_ready_future(cls.channel).result(timeout=20)
        except grpc.FutureTimeoutError:
            raise AssertionError("gRPC port %d never became ready:\n%s"
                                 % (cls.server.grpc_port, cls.server.log_tail()))
        cls.tfs = pb.prediction_grpc.PredictionServiceStub(cls.channel)
        cls.models = pb.model_grpc.ModelServiceStub(cls.channel)
        cls.kv2 = pb.kv2_grpc.GRPCInferenceServiceStub(cls.channel)
        cls.health = cls.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=pb.health.HealthCheckRequest.SerializeToString,
            response_deserializer=pb.health.HealthCheckResponse.FromString)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "channel", None) is not None:
            cls.channel.close()
        super().tearDownClass()

    def rpc_error(self, fn, req, code, *needles, timeout=60):
        """Calls fn(req), which must fail with `code` and a message holding every needle."""
        try:
            fn(req, timeout=timeout)
        except grpc.RpcError as e:
            self.assertEqual(e.code(), code, "status of %s: %s" % (type(req).__name__,
                                                                   e.details()))
            for n in needles:
                self.assertIn(n, e.details() or "", "message of %s" % code)
            if os.environ.get("ORCHARD_IT_SHOW_ERRORS"):
                print("\n  %s: %s" % (code, e.details()))
            return e
        self.fail("%s answered OK; expected %s" % (type(req).__name__, code))

    def check_predict(self, resp, want, model, version=1):
        self.assertEqual(resp.model_spec.name, model)
        self.assertEqual(resp.model_spec.version.value, version)
        self.assertEqual(sorted(resp.outputs), sorted(n for n, _ in want))
        for name, t in want:
            tp = resp.outputs[name]
            self.assertEqual(tp.dtype, DT[t.dtype], "%s dtype" % name)
            self.assertEqual(len(tp.float_val) + len(tp.int_val) + len(tp.bool_val), 0,
                             "answers come in tensor_content, as TF Serving's do")
            assert_raw_equal(self, tp.tensor_content, [d.size for d in tp.tensor_shape.dim], t,
                             "outputs[%r]" % name)


class Grpc(GrpcCase):
    @classmethod
    def setUpRepo(cls):
        for m in ("emotion", "mixed", "movenet", "selfie", "blazeface"):
            cls.repo.add(m)
        cls.config = cls.repo.config([
            {"name": "emotion", "version_labels": {"stable": 1}},
            {"name": "mixed"}, {"name": "movenet"}, {"name": "selfie"}, {"name": "blazeface"},
        ])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config, "--max_request_bytes=4000000"]

    # ---- Predict ---------------------------------------------------------------------------

    def predict_and_check(self, model, content, batch=1, rest=True):
        x = h.sample_inputs(model, batch)
        want = h.expected(model, x)
        resp = self.tfs.Predict(predict_request(model, x, content), timeout=120)
        self.check_predict(resp, want, model)
        if rest:  # the REST answer for the same input is the same, value for value
            body = {"inputs": {k: t.nested() for k, t in x.items()}}
            j = self.server.post("/v1/models/%s:predict" % model, body).json()
            outs = j["outputs"] if len(want) > 1 else {want[0][0]: j["outputs"]}
            for name, t in want:
                flat, shape = h.flatten(outs[name])
                self.assertEqual(shape, [d.size for d in resp.outputs[name].tensor_shape.dim])
                got = proto_values(resp.outputs[name])
                if t.dtype == "float32":
                    self.assertEqual([f32(v) for v in flat], got, "REST vs gRPC: %s" % name)
                else:
                    self.assertEqual([int(v) for v in flat], got, "REST vs gRPC: %s" % name)
        return resp

    def test_predict_float_val(self):
        self.predict_and_check("emotion", content=False)

    def test_predict_tensor_content(self):
        self.predict_and_check("emotion", content=True, batch=3)

    def test_predict_movenet_int_val_and_tensor_content(self):
        self.predict_and_check("movenet", content=False)
        self.predict_and_check("movenet", content=True)

    def test_predict_selfie_tensor_content(self):
        # 786 KB of float32 in; the REST JSON for it would pass --max_request_bytes here.
        self.predict_and_check("selfie", content=True, rest=False)

    def test_predict_blazeface_four_outputs(self):
        self.predict_and_check("blazeface", content=True, rest=False)

    def test_predict_every_dtype_with_typed_values(self):
        self.predict_and_check("mixed", content=False, batch=2)
        self.predict_and_check("mixed", content=True, batch=2)

    def test_predict_output_filter_version_label_signature(self):
        x = h.sample_inputs("mixed", 2)
        want = dict(h.expected("mixed", x))
        req = predict_request("mixed", x, signature_name="serving_default")
        req.output_filter.append("squared")
        resp = self.tfs.Predict(req, timeout=60)
        self.assertEqual(list(resp.outputs), ["squared"])
        assert_raw_equal(self, resp.outputs["squared"].tensor_content,
                         [d.size for d in resp.outputs["squared"].tensor_shape.dim],
                         want["squared"], "squared")
        e = h.sample_inputs("emotion", 1)
        want_e = h.expected("emotion", e)
        self.check_predict(self.tfs.Predict(predict_request("emotion", e, version=1)), want_e,
                           "emotion")
        self.check_predict(self.tfs.Predict(predict_request("emotion", e, version_label="stable")),
                           want_e, "emotion")

    def test_predict_single_value_broadcasts_and_wider_dtypes(self):
        # One float_val fills the whole shape, as in TF Serving; DT_HALF, DT_UINT8 and DT_INT64
        # carry the same values as the model's dtypes.
        x = h.Tensor("float32", [1, 64, 64, 1], [0.5] * 4096)
        want = h.expected("emotion", {"input_1:0": x})
        req = pb.predict.PredictRequest()
        req.model_spec.name = "emotion"
        tp = req.inputs["input_1"]
        tp.dtype = DT["float32"]
        for d in x.shape:
            tp.tensor_shape.dim.add().size = d
        tp.float_val.append(0.5)
        self.check_predict(self.tfs.Predict(req), want, "emotion")
        tp.ClearField("float_val")
        tp.dtype = DT_HALF
        tp.half_val.append(0x3800)  # 0.5 in IEEE half
        self.check_predict(self.tfs.Predict(req), want, "emotion")
        tp.ClearField("half_val")
        tp.tensor_content = struct.pack("<H", 0x3800) * 4096
        self.check_predict(self.tfs.Predict(req), want, "emotion")
        m = h.sample_inputs("movenet", 1)
        want_m = h.expected("movenet", m)
        req = predict_request("movenet", m)
        tp = req.inputs["input:0"]
        tp.dtype = DT_INT64
        tp.tensor_content = array.array("q", m["input:0"].values).tobytes()
        self.check_predict(self.tfs.Predict(req), want_m, "movenet")
        tp.dtype = DT_UINT8
        tp.tensor_content = bytes(m["input:0"].values)
        self.check_predict(self.tfs.Predict(req), want_m, "movenet")

    # ---- metadata and status -------------------------------------------------------------

    def test_get_model_metadata(self):
        for model in ("emotion", "mixed"):
            req = pb.meta.GetModelMetadataRequest()
            req.model_spec.name = model
            req.metadata_field.append("signature_def")
            resp = self.tfs.GetModelMetadata(req, timeout=30)
            self.assertEqual(resp.model_spec.name, model)
            self.assertEqual(resp.model_spec.version.value, 1)
            anyv = resp.metadata["signature_def"]
            self.assertEqual(anyv.type_url,
                             "type.googleapis.com/tensorflow.serving.SignatureDefMap")
            sdm = pb.meta.SignatureDefMap()
            self.assertTrue(anyv.Unpack(sdm))
            sd = sdm.signature_def["serving_default"]
            self.assertEqual(sd.method_name, "tensorflow/serving/predict")
            info = h.inspect(model)
            for side, ios in (("inputs", info["inputs"]), ("outputs", info["outputs"])):
                got = getattr(sd, side)
                self.assertEqual(sorted(got), sorted(io["name"] for io in ios))
                for io in ios:
                    ti = got[io["name"]]
                    self.assertEqual(ti.name, io["name"])
                    self.assertEqual(ti.dtype, DT[io["dtype"]])
                    self.assertEqual([d.size for d in ti.tensor_shape.dim], io["shape"])

    def test_get_model_status(self):
        req = pb.status.GetModelStatusRequest()
        req.model_spec.name = "emotion"
        resp = self.models.GetModelStatus(req, timeout=30)
        self.assertEqual(len(resp.model_version_status), 1)
        st = resp.model_version_status[0]
        self.assertEqual(st.version, 1)
        self.assertEqual(st.state, pb.status.ModelVersionStatus.AVAILABLE)
        self.assertEqual(st.status.error_code, 0)
        self.assertEqual(st.status.error_message, "")
        req.model_spec.version.value = 1
        self.assertEqual(self.models.GetModelStatus(req).model_version_status[0].version, 1)

    # ---- KServe v2 -------------------------------------------------------------------------

    def test_kserve_health_and_metadata(self):
        self.assertTrue(self.kv2.ServerLive(pb.kv2.ServerLiveRequest()).live)
        self.assertTrue(self.kv2.ServerReady(pb.kv2.ServerReadyRequest()).ready)
        self.assertTrue(self.kv2.ModelReady(pb.kv2.ModelReadyRequest(name="emotion")).ready)
        self.assertTrue(self.kv2.ModelReady(pb.kv2.ModelReadyRequest(name="emotion",
                                                                     version="1")).ready)
        sm = self.kv2.ServerMetadata(pb.kv2.ServerMetadataRequest())
        self.assertEqual(sm.name, "orchard")
        self.assertTrue(sm.version)
        mm = self.kv2.ModelMetadata(pb.kv2.ModelMetadataRequest(name="mixed"))
        self.assertEqual(mm.name, "mixed")
        self.assertEqual(list(mm.versions), ["1"])
        self.assertEqual(mm.platform, "tensorflowjs_graph-model")
        info = h.inspect("mixed")
        self.assertEqual([(t.name, t.datatype, list(t.shape)) for t in mm.inputs],
                         [(io["name"], KS[io["dtype"]], io["shape"]) for io in info["inputs"]])
        self.assertEqual([(t.name, t.datatype, list(t.shape)) for t in mm.outputs],
                         [(io["name"], KS[io["dtype"]], io["shape"]) for io in info["outputs"]])
        # The same answer as REST GET /v2/models/mixed.
        j = self.server.get("/v2/models/mixed").json()
        self.assertEqual([i["name"] for i in j["inputs"]], [t.name for t in mm.inputs])

    def kserve_request(self, model, inputs, raw=True):
        req = pb.kv2.ModelInferRequest(model_name=model, id="req-42")
        for name, t in inputs.items():
            it = req.inputs.add(name=name, datatype=KS[t.dtype], shape=t.shape)
            if raw:
                req.raw_input_contents.append(t.raw())
            elif t.dtype == "float32":
                it.contents.fp32_contents.extend(t.values)
            elif t.dtype == "int32":
                it.contents.int_contents.extend(t.values)
            else:
                it.contents.bool_contents.extend(t.values)
        return req

    def check_infer(self, resp, want, model):
        self.assertEqual(resp.model_name, model)
        self.assertEqual(resp.model_version, "1")
        self.assertEqual(resp.id, "req-42")
        self.assertEqual([o.name for o in resp.outputs], [n for n, _ in want])
        self.assertEqual(len(resp.raw_output_contents), len(want))
        for o, raw, (name, t) in zip(resp.outputs, resp.raw_output_contents, want):
            self.assertEqual(o.datatype, KS[t.dtype])
            assert_raw_equal(self, raw, list(o.shape), t, "outputs[%r]" % name)

    def test_kserve_model_infer_raw(self):
        for model, batch in (("mixed", 2), ("movenet", 1), ("selfie", 1)):
            x = h.sample_inputs(model, batch)
            want = h.expected(model, x)
            self.check_infer(self.kv2.ModelInfer(self.kserve_request(model, x), timeout=120),
                             want, model)

    def test_kserve_model_infer_contents_and_outputs(self):
        x = h.sample_inputs("mixed", 3)
        want = h.expected("mixed", x)
        self.check_infer(self.kv2.ModelInfer(self.kserve_request("mixed", x, raw=False)), want,
                         "mixed")
        req = self.kserve_request("mixed", x)
        req.outputs.add(name="inverted")
        req.outputs.add(name="selected")
        resp = self.kv2.ModelInfer(req)
        self.assertEqual([o.name for o in resp.outputs], ["inverted", "selected"])
        w = dict(want)
        assert_raw_equal(self, resp.raw_output_contents[0], list(resp.outputs[0].shape),
                         w["inverted"], "inverted")

    # ---- health ----------------------------------------------------------------------------

    def test_health_check(self):
        S = pb.health.HealthCheckResponse
        self.assertEqual(self.health(pb.health.HealthCheckRequest(service="")).status, S.SERVING)
        self.assertEqual(self.health(pb.health.HealthCheckRequest()).status, S.SERVING)
        self.assertEqual(self.health(pb.health.HealthCheckRequest(service="movenet")).status,
                         S.SERVING)
        self.rpc_error(self.health, pb.health.HealthCheckRequest(service="nope"),
                       grpc.StatusCode.NOT_FOUND, "'nope'")

    # ---- errors (issue 6 item 3) -----------------------------------------------------------

    def test_errors_not_found(self):
        x = h.sample_inputs("emotion", 1)
        NF = grpc.StatusCode.NOT_FOUND
        self.rpc_error(self.tfs.Predict, predict_request("nope", x), NF, "'nope'")
        self.rpc_error(self.tfs.Predict, predict_request("emotion", x, version=7), NF, "7")
        self.rpc_error(self.tfs.Predict, predict_request("emotion", x, version_label="canary"),
                       NF, "canary")
        req = pb.meta.GetModelMetadataRequest()
        req.model_spec.name = "nope"
        req.metadata_field.append("signature_def")
        self.rpc_error(self.tfs.GetModelMetadata, req, NF, "'nope'")
        sreq = pb.status.GetModelStatusRequest()
        sreq.model_spec.name = "nope"
        self.rpc_error(self.models.GetModelStatus, sreq, NF, "nope")
        self.rpc_error(self.kv2.ModelReady, pb.kv2.ModelReadyRequest(name="nope"), NF, "'nope'")
        self.rpc_error(self.kv2.ModelMetadata, pb.kv2.ModelMetadataRequest(name="emotion",
                                                                           version="9"), NF, "9")
        self.rpc_error(self.kv2.ModelInfer, self.kserve_request("nope", x), NF, "'nope'")

    def test_errors_invalid_argument_tfs(self):
        IA = grpc.StatusCode.INVALID_ARGUMENT
        x = h.sample_inputs("emotion", 1)
        req = predict_request("emotion", x)
        req.ClearField("model_spec")
        self.rpc_error(self.tfs.Predict, req, IA, "model_spec")
        self.rpc_error(self.tfs.Predict, predict_request("emotion", x, signature_name="other"),
                       IA, "model_spec.signature_name", "'other'")
        req = predict_request("emotion", x)
        req.inputs["bogus"].CopyFrom(req.inputs["input_1:0"])
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["bogus"]', "unknown input")
        m = h.sample_inputs("mixed", 1)
        req = predict_request("mixed", {"mask": m["mask"], "x": m["x"]})
        self.rpc_error(self.tfs.Predict, req, IA, "missing input 'k'")
        req = predict_request("emotion", x)
        req.inputs["input_1:0"].dtype = DT["int32"]
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["input_1:0"].dtype', "DT_INT32")
        req = predict_request("emotion", x)
        del req.inputs["input_1:0"].tensor_shape.dim[0]
        req.inputs["input_1:0"].tensor_content = req.inputs["input_1:0"].tensor_content
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["input_1:0"].tensor_shape', "rank")
        req = predict_request("movenet", h.sample_inputs("movenet", 1))
        req.inputs["input:0"].tensor_shape.dim[1].size = 96
        req.inputs["input:0"].tensor_content = bytes(4 * 96 * 192 * 3)
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["input:0"].tensor_shape', "192")
        req = predict_request("emotion", x)
        req.inputs["input_1:0"].tensor_content = req.inputs["input_1:0"].tensor_content[:-4]
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["input_1:0"].tensor_content', "bytes")
        req = predict_request("emotion", x, content=False)
        del req.inputs["input_1:0"].float_val[-1]
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["input_1:0"].float_val', "4095")
        req = predict_request("emotion", x)
        req.inputs["input_1:0"].tensor_shape.unknown_rank = True
        self.rpc_error(self.tfs.Predict, req, IA, "tensor_shape", "unknown_rank")
        req = predict_request("emotion", x)
        req.output_filter.append("nothing")
        self.rpc_error(self.tfs.Predict, req, IA, "output_filter[0]", "'nothing'")
        req = predict_request("movenet", h.sample_inputs("movenet", 1))
        req.inputs["input:0"].dtype = DT_INT64
        req.inputs["input:0"].ClearField("tensor_content")
        req.inputs["input:0"].int64_val.extend([1 << 40] * (192 * 192 * 3))
        self.rpc_error(self.tfs.Predict, req, IA, 'inputs["input:0"].int64_val[0]', "int32")
        mreq = pb.meta.GetModelMetadataRequest()
        mreq.model_spec.name = "emotion"
        mreq.metadata_field.append("graph")
        self.rpc_error(self.tfs.GetModelMetadata, mreq, IA, "metadata_field[0]", "'graph'")

    def test_errors_invalid_argument_kserve(self):
        IA = grpc.StatusCode.INVALID_ARGUMENT
        x = h.sample_inputs("mixed", 1)
        req = self.kserve_request("mixed", x)
        del req.raw_input_contents[-1]
        self.rpc_error(self.kv2.ModelInfer, req, IA, "raw_input_contents", "2 entries for 3")
        req = self.kserve_request("mixed", x)
        req.inputs[1].datatype = "FP64"
        self.rpc_error(self.kv2.ModelInfer, req, IA, "inputs[1].datatype", "'FP64'")
        req = self.kserve_request("mixed", x)
        req.inputs[0].shape[1] = 5
        self.rpc_error(self.kv2.ModelInfer, req, IA, "raw_input_contents[0]", "bytes")
        req = self.kserve_request("mixed", x, raw=False)
        req.inputs[2].shape[:] = [2, 2]
        self.rpc_error(self.kv2.ModelInfer, req, IA, "inputs[2].shape", "[2,2]", "'k'")
        req = self.kserve_request("mixed", x)
        req.inputs[0].name = "nope"
        self.rpc_error(self.kv2.ModelInfer, req, IA, "inputs[0].name", "unknown input 'nope'")
        req = self.kserve_request("mixed", x)
        req.outputs.add(name="zzz")
        self.rpc_error(self.kv2.ModelInfer, req, IA, "outputs[0].name", "'zzz'")
        self.rpc_error(self.kv2.ModelReady, pb.kv2.ModelReadyRequest(name="emotion",
                                                                     version="x"),
                       IA, "version", "'x'")

    def test_error_message_over_max_size(self):
        req = predict_request("emotion", h.sample_inputs("emotion", 1))
        req.inputs["input_1:0"].tensor_content = bytes(4_100_000)
        self.rpc_error(self.tfs.Predict, req, grpc.StatusCode.RESOURCE_EXHAUSTED, "4000000")

    def test_error_unknown_method(self):
        call = self.channel.unary_unary("/tensorflow.serving.PredictionService/Classify")
        try:
            call(b"", timeout=10)
            self.fail("Classify answered")
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.UNIMPLEMENTED)
            self.assertIn("Classify", e.details())

    def test_metrics_count_grpc_requests(self):
        self.kv2.ServerLive(pb.kv2.ServerLiveRequest())
        self.tfs.Predict(predict_request("emotion", h.sample_inputs("emotion", 1)))
        text = self.server.get("/metrics").body.decode()
        self.assertIn('api="grpc_predict"', text)
        self.assertIn('api="grpc_server_live"', text)
        # The client has its answer a moment before the server's completion queue reports the
        # call over, so the gauge reaches 0 shortly after, not necessarily at once.
        h.wait_until(lambda: "orchard_grpc_calls_in_progress 0" in
                     self.server.get("/metrics").body.decode(), 10, "no gRPC call in progress")


# ~45 ms an inference on one thread of this machine's CPUs: queues of it take a while.
SLOW = "movenet-thunder"


def small_request(model):
    """A Predict whose one int_val fills the whole input: tiny on the wire, so a queue of them
    builds up at once (the daemon broadcasts the value on a worker)."""
    io = h.inspect(model)["inputs"][0]
    req = pb.predict.PredictRequest()
    req.model_spec.name = model
    tp = req.inputs[io["name"]]
    tp.dtype = DT[io["dtype"]]
    for d in io["shape"]:
        tp.tensor_shape.dim.add().size = d if d > 0 else 1
    tp.int_val.append(7)
    return req


def inference_count(server, model):
    text = server.get("/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith("orchard_inference_duration_seconds_count") and \
                'model="%s"' % model in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


class GrpcDeadline(GrpcCase):
    """One worker: a call whose deadline passes while it waits in the queue never runs."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add(SLOW)

    @classmethod
    def serve_args(cls):
        return ["--model_name=%s" % SLOW, "--model_base_path=%s" % cls.repo.base(SLOW),
                "--tensorflow_inter_op_parallelism=1", "--tensorflow_intra_op_parallelism=1"]

    def test_deadline_is_the_jobs_deadline(self):
        req = small_request(SLOW)
        self.tfs.Predict(req, timeout=120)  # planned and warm
        before = inference_count(self.server, SLOW)
        busy = [self.tfs.Predict.future(req, timeout=300) for _ in range(8)]
        time.sleep(0.02)
        self.rpc_error(self.tfs.Predict, req, grpc.StatusCode.DEADLINE_EXCEEDED, timeout=0.15)
        for f in busy:
            f.result()
        time.sleep(0.2)
        self.assertEqual(inference_count(self.server, SLOW) - before, 8,
                         "the expired call must not have run")


class GrpcDrain(GrpcCase):
    """SIGTERM: calls in progress finish, health says NOT_SERVING, new inference is refused
    with UNAVAILABLE, and the daemon exits 0."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add(SLOW)

    @classmethod
    def serve_args(cls):
        return ["--model_name=%s" % SLOW, "--model_base_path=%s" % cls.repo.base(SLOW),
                "--tensorflow_inter_op_parallelism=1", "--tensorflow_intra_op_parallelism=1"]

    def test_sigterm_drains(self):
        req = small_request(SLOW)
        shape = [d.size for d in req.inputs["input:0"].tensor_shape.dim]
        x = {"input:0": h.Tensor("int32", shape, [7] * h.numel(shape))}
        want = h.expected(SLOW, x)
        self.tfs.Predict(req, timeout=120)
        # Queued work must end inside the daemon's 30 s grace period: fewer calls when the build
        # is slowed down (sanitizers set ORCHARD_TEST_TIME_SCALE).
        scale = int(os.environ.get("ORCHARD_TEST_TIME_SCALE", "1"))
        busy = [self.tfs.Predict.future(req, timeout=300) for _ in range(max(6, 12 // scale))]
        time.sleep(0.1)
        self.server.send_signal(signal.SIGTERM)
        # The loop thread handles the signal; on a loaded 2-core CI machine that can take more
        # than a few ms, so poll (bounded) rather than read health once at a fixed delay.
        S = pb.health.HealthCheckResponse
        deadline = time.monotonic() + 5
        while True:
            time.sleep(0.05)
            status = self.health(pb.health.HealthCheckRequest(), timeout=10).status
            if status == S.NOT_SERVING or time.monotonic() > deadline:
                break
        self.assertEqual(status, S.NOT_SERVING)
        self.assertFalse(self.kv2.ServerReady(pb.kv2.ServerReadyRequest(), timeout=10).ready)
        self.rpc_error(self.tfs.Predict, req, grpc.StatusCode.UNAVAILABLE, "shutting down")
        for f in busy:
            self.check_predict(f.result(), want, SLOW)
        rc = self.server.proc.wait(60)
        self.assertEqual(rc, 0, self.server.log_tail())


class GrpcBatching(GrpcCase):
    """With --enable_batching, concurrent gRPC calls share batches and still get their own
    rows, bit for bit (the batcher's deliver path encodes protobuf)."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")

    @classmethod
    def serve_args(cls):
        return ["--model_name=emotion", "--model_base_path=%s" % cls.repo.base("emotion"),
                "--enable_batching"]

    def test_concurrent_calls_batched(self):
        xs = [h.sample_inputs("emotion", 1, seed=i) for i in range(8)]
        wants = [h.expected("emotion", x) for x in xs]
        for content in (True, False):
            futs = [self.tfs.Predict.future(predict_request("emotion", x, content), timeout=120)
                    for x in xs]
            kfuts = [self.kv2.ModelInfer.future(pb.kv2.ModelInferRequest(
                model_name="emotion", inputs=[pb.kv2.ModelInferRequest.InferInputTensor(
                    name="input_1:0", datatype="FP32", shape=x["input_1:0"].shape)],
                raw_input_contents=[x["input_1:0"].raw()]), timeout=120) for x in xs]
            for f, want in zip(futs, wants):
                self.check_predict(f.result(), want, "emotion")
            for f, want in zip(kfuts, wants):
                r = f.result()
                assert_raw_equal(self, r.raw_output_contents[0], list(r.outputs[0].shape),
                                 want[0][1], "ModelInfer")
        text = self.server.get("/metrics").body.decode()
        self.assertIn("orchard_batch_size", text)


class GrpcPortInUse(unittest.TestCase):
    def test_port_in_use_is_a_startup_error(self):
        import socket
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("0.0.0.0", 0))
            s.listen(1)
            port = s.getsockname()[1]
            repo = h.Repo()
            repo.add("emotion")
            p = subprocess.run([h.BIN, "serve", "--port=%d" % port,
                                "--rest_api_port=%d" % h.free_port(), "--model_name=emotion",
                                "--model_base_path=%s" % repo.base("emotion")],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("--port", p.stdout + p.stderr)
        self.assertIn("%d" % port, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
