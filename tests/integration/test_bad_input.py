"""
test_bad_input.py - issue 8 item 4: hostile and malformed input through the real server, REST
and gRPC. Every case asserts the status, that the message names the field or says what is
wrong, and that the server still answers the next good request with the right values (compared
bit for bit with `orchard run`, harness.py).

Covered: deeply nested JSON, numbers beyond double, NaN/Infinity literals, strings where
numbers belong, ragged rows, empty instances, rank and dimension mismatches, declared shapes
whose product overflows int64 (KServe JSON and gRPC), tensor_content whose length disagrees
with the shape, unknown dtypes, model names with "../", NUL and thousands of bytes, invalid
UTF-8, a body over --max_request_bytes, a body in thousands of one-byte chunks, slowloris
headers and bodies (cut with a JSON 408 within the 30 s receive deadline, http.h, while others
are served), a URI over 16 KiB and headers over 64 KiB (JSON 414 / 431), 2000 idle
connections, clients that disconnect mid-inference, a flood of 500 concurrent gRPC streams, a
64 KiB metadata value, NUL bytes in gRPC string fields (INVALID_ARGUMENT naming the field:
protobuf-c would read "emo\0tion" as "emo"), and model files deleted or truncated under a
serving version.

Still libmicrohttpd's small HTML pages, not our JSON (it answers before any callback of ours
runs; asserted as such): a head over its 256 KiB per-connection memory (414/431), a request
line it cannot parse (400) and an unknown HTTP version (505).

ORCHARD_BAD_INPUT_TABLE=<file> writes the table of every case (case, API, status, message)
there; ORCHARD_IT_SHOW_ERRORS=1 prints it.
"""
import http.client
import json
import os
import re
import resource
import socket
import threading
import time
import unittest

import harness as h

try:
    import grpc
except ImportError:  # pragma: no cover - depends on the machine
    grpc = None

LIMIT = 2_000_000  # --max_request_bytes: a movenet-thunder JSON request is ~0.8 MB
TABLE = []  # (case, api, status, message) of every case, for the report


def record(case, api, status, msg):
    TABLE.append((case, api, str(status), (msg or "").replace("\n", " ")[:160]))


def tearDownModule():
    lines = ["| case | API | status | message |", "|---|---|---|---|"]
    lines += ["| %s | %s | %s | %s |" % (c, a, s, m.replace("|", "\\|")) for c, a, s, m in TABLE]
    if os.environ.get("ORCHARD_BAD_INPUT_TABLE"):
        with open(os.environ["ORCHARD_BAD_INPUT_TABLE"], "w") as f:
            f.write("\n".join(lines) + "\n")
    if os.environ.get("ORCHARD_IT_SHOW_ERRORS"):
        print("\n" + "\n".join(lines))


def grpc_stubs():
    """test_grpc's generated stubs (protoc at test time); skips without grpcio outside CI."""
    missing = AssertionError if os.environ.get("CI") else unittest.SkipTest
    if grpc is None:
        raise missing("python3-grpcio is not installed (scripts/bootstrap)")
    import test_grpc as tg
    tg.setUpModule()
    return tg


def names_any(msg, needles):
    return any(re.search(r"(?<![\w])%s(?![\w])" % re.escape(n), msg, re.I) for n in needles)


def emotion_json_row(value="0.5"):
    """A TF Serving body for one 64x64x1 emotion example whose first value is `value` (raw
    JSON text, so literals JSON cannot express can be planted)."""
    row = [[[0.25] for _ in range(64)] for _ in range(64)]
    return json.dumps({"instances": [row]}).replace("0.25", value, 1)


def kserve_body(shape, datatype="FP32", data=None, first=None):
    body = json.dumps({"inputs": [{"name": "input_1:0", "shape": shape, "datatype": datatype,
                                   "data": data if data is not None else [0.25] * 4096}]})
    return body.replace("0.25", first, 1) if first else body


def recv_answer(s, timeout):
    """Reads one HTTP answer from socket s: (status, body); (None, b"") when it closed first."""
    status, _, body = h.read_http_answer(s, timeout)
    return status, body


class BadInputCase(h.ServerCase):
    """emotion (small, fast) and movenet-thunder (slow) on REST and gRPC."""

    grpc_on = True

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.repo.add("movenet-thunder")
        cls.config = cls.repo.config([{"name": "emotion"}, {"name": "movenet-thunder"}])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config, "--max_request_bytes=%d" % LIMIT]

    @classmethod
    def setUpClass(cls):
        cls.tg = grpc_stubs() if cls.grpc_on else None
        super().setUpClass()
        cls.channel = None
        if cls.tg:
            cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.grpc_port)
            grpc.channel_ready_future(cls.channel).result(timeout=20)
            cls.tfs = cls.tg.pb.prediction_grpc.PredictionServiceStub(cls.channel)
            cls.kv2 = cls.tg.pb.kv2_grpc.GRPCInferenceServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "channel", None) is not None:
            cls.channel.close()
        super().tearDownClass()

    # ---- good requests -----------------------------------------------------------------

    def good_rest(self, model="emotion"):
        x = h.sample_inputs(model, 1)
        want = h.expected(model, x)[0][1]
        r = self.server.post("/v1/models/%s:predict" % model, self.predict_body_rows(x),
                             timeout=120)
        self.assertEqual(r.status, 200, "good request after a bad one: %r" % r)
        h.assert_nested_equal(self, r.json()["predictions"], want, "predictions")

    def good_grpc(self, model="emotion"):
        x = h.sample_inputs(model, 1)
        want = h.expected(model, x)
        resp = self.tfs.Predict(self.tg.predict_request(model, x), timeout=120)
        for name, t in want:
            tp = resp.outputs[name]
            self.tg.assert_raw_equal(self, tp.tensor_content,
                                     [d.size for d in tp.tensor_shape.dim], t, name)

    def good(self):
        self.good_rest()
        if self.tg:
            self.good_grpc()

    # ---- bad requests ------------------------------------------------------------------

    def rest_bad(self, case, path, body, statuses, needles, headers=None):
        if isinstance(statuses, int):
            statuses = (statuses,)
        r = self.server.request("POST", path, body, headers=headers, timeout=60)
        msg = r.error() if r.body[:1] == b"{" else r.body.decode("latin1")[:160]
        record(case, "REST " + ("KServe" if path.startswith("/v2") else "TFS"), r.status, msg)
        self.assertIn(r.status, statuses, "%s: %r" % (case, r))
        self.assertTrue(names_any(msg, needles), "%s: %r names none of %r" % (case, msg, needles))
        self.good()
        return msg

    def grpc_bad(self, case, fn, req, codes, needles, metadata=None):
        if not isinstance(codes, (tuple, list)):
            codes = (codes,)
        try:
            fn(req, timeout=60, metadata=metadata)
        except grpc.RpcError as e:
            msg = e.details() or ""
            record(case, "gRPC " + ("KServe" if fn is self.kv2.ModelInfer else "TFS"),
                   e.code().name, msg)
            self.assertIn(e.code(), codes, "%s: %s" % (case, msg))
            self.assertTrue(names_any(msg, needles),
                            "%s: %r names none of %r" % (case, msg, needles))
            self.good()
            return msg
        self.fail("%s answered OK; expected %s" % (case, codes))


class BadInput(BadInputCase):
    P = "/v1/models/emotion:predict"
    K = "/v2/models/emotion/infer"

    # ---- JSON ----------------------------------------------------------------------------

    def test_deeply_nested_json(self):
        deep = "[" * 100000 + "]" * 100000
        self.rest_bad("100k nested '['", self.P, '{"instances":%s}' % deep, 400,
                      ["nested", "deep", "depth"])
        self.rest_bad("100k nested '[' (unclosed)", self.P, '{"instances":' + "[" * 100000,
                      400, ["nested", "deep", "depth"])
        self.rest_bad("100k nested '['", self.K,
                      '{"inputs":[{"name":"input_1:0","datatype":"FP32","shape":[1],"data":%s}]}'
                      % deep, 400, ["nested", "deep", "depth"])

    def test_numbers_beyond_double(self):
        for v in ("1e999", "-1e999"):
            self.rest_bad("number %s" % v, self.P, emotion_json_row(v), 400, [v, "range"])
            self.rest_bad("number %s" % v, self.K, kserve_body([1, 64, 64, 1], first=v), 400,
                          [v, "range"])

    def test_nan_and_infinity_literals(self):
        for v in ("NaN", "Infinity", "-Infinity"):
            # "-Infinity" reads as a minus sign then a letter: "expected a digit, got 'I'".
            needles = ["NaN", "Infinity", "digit"]
            self.rest_bad("literal %s" % v, self.P, emotion_json_row(v), 400, needles)
            self.rest_bad("literal %s" % v, self.K, kserve_body([1, 64, 64, 1], first=v), 400,
                          needles)

    def test_strings_where_numbers_belong(self):
        self.rest_bad("string for a float", self.P, emotion_json_row('"abc"'), 400,
                      ["instances[0][0][0][0]", "number"])
        self.rest_bad("string for a float", self.K, kserve_body([1, 64, 64, 1], first='"x"'),
                      400, ["inputs[0].data[0]", "number"])

    def test_ragged_rows(self):
        row = [[[0.5] for _ in range(64)] for _ in range(64)]
        short = row[:63] + [[[0.5]] * 63]
        self.rest_bad("ragged row", self.P, {"instances": [short]}, 400,
                      ["instances[0][63]", "ragged"])
        self.rest_bad("ragged batch", self.P, {"instances": [row, row[:10]]}, 400,
                      ["instances[1]", "ragged"])
        self.rest_bad("ragged columnar", self.P, {"inputs": [row, row[:10]]}, 400,
                      ["inputs", "ragged"])

    def test_empty_instances(self):
        self.rest_bad("empty instances", self.P, {"instances": []}, 400, ["instances"])
        self.rest_bad("empty inputs", self.P, {"inputs": []}, 400, ["inputs"])
        self.rest_bad("empty inputs list", self.K, {"inputs": []}, 400, ["inputs"])

    def test_rank_and_dimension_mismatch(self):
        row = [[[0.5] for _ in range(64)] for _ in range(64)]
        self.rest_bad("rank 3 for rank 4", self.P, {"instances": [row[0]]}, 400,
                      ["rank", "input_1:0"])
        self.rest_bad("dimension 32 for 64", self.P, {"instances": [row[:32]]}, 400,
                      ["dimension 1", "input_1:0"])
        self.rest_bad("data length != shape", self.K,
                      kserve_body([1, 64, 64, 1], data=[0.5] * 4095), 400, ["inputs[0].data"])
        self.rest_bad("shape [1,32,64,1]", self.K,
                      kserve_body([1, 32, 64, 1], data=[0.5] * 2048), 400,
                      ["input_1:0", "shape"])

    def test_shape_product_overflows(self):
        self.rest_bad("shape [2^62, 4]", self.K,
                      kserve_body([4611686018427387904, 4], data=[1, 2, 3, 4]), 400,
                      ["inputs[0].shape"])
        self.rest_bad("shape [2^63, 2]", self.K,
                      kserve_body([9223372036854775808, 2], data=[1, 2]), 400,
                      ["inputs[0].shape", "64-bit range"])
        self.rest_bad("shape [-1, 4]", self.K, kserve_body([-1, 4], data=[1, 2, 3, 4]), 400,
                      ["inputs[0].shape[0]"])

    def test_unknown_dtype(self):
        self.rest_bad("datatype FP128", self.K, kserve_body([1, 64, 64, 1], datatype="FP128"),
                      400, ["inputs[0].datatype", "FP128"])

    def test_invalid_utf8(self):
        self.rest_bad("invalid UTF-8 in a string", self.P,
                      b'{"instances":[[[[0.5]]]], "signature_name":"\xff\xfe"}', 400,
                      ["UTF-8"])
        self.rest_bad("invalid UTF-8 in a key", self.P, b'{"inst\xc3\x28nces":[]}', 400,
                      ["UTF-8"])
        self.rest_bad("invalid UTF-8 in a key", self.K, b'{"\xed\xa0\x80":[]}', 400, ["UTF-8"])

    # ---- model names ---------------------------------------------------------------------

    def test_model_name_dot_dot(self):
        for path in ("/v1/models/..%2F..%2Fetc%2Fpasswd:predict", "/v1/models/../emotion:predict",
                     "/v2/models/..%2femotion/infer"):
            self.rest_bad("model name with ../", path, {"instances": [1]}, 404,
                          ["no such endpoint"])
        self.rest_bad("model name '..'", "/v1/models/..:predict", {"instances": [1]}, 404,
                      ["model", ".."])

    def test_model_name_nul(self):
        # %00 would end libmicrohttpd's decoded path there ("/v1/models/emotion:predict%00junk"
        # served as emotion); http.c keeps it as text and refuses the path.
        for path in ("/v1/models/emo%00tion:predict", "/v2/models/emo%00tion/infer",
                     "/v1/models/emotion:predict%00junk"):
            self.rest_bad("path with %00", path, self.predict_body_rows(h.sample_inputs("emotion", 1)),
                          400, ["NUL byte"])
        # gRPC: protobuf-c hands string fields over NUL-terminated, so "emotion\0junk" would
        # read as "emotion"; server/grpc/wire.c refuses it before unpacking.
        if self.tg:
            x = h.sample_inputs("emotion", 1)
            with self.assertRaises(grpc.RpcError) as e:
                self.tfs.Predict(self.tg.predict_request("emotion\0junk", x), timeout=60)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("model_spec.name", e.exception.details())
            self.good()

    def test_model_name_long(self):
        self.rest_bad("5000-byte model name", "/v1/models/%s:predict" % ("a" * 5000),
                      {"instances": [1]}, (404, 414), ["too long"])
        self.rest_bad("300-byte model name", "/v1/models/%s:predict" % ("a" * 300),
                      {"instances": [1]}, 404, ["model", "not found"])
        # Over our 16 KiB URI limit: a JSON 414 (http.c), the body never read.
        status, body = self.raw(b"POST /v1/models/" + b"a" * 100000 + b":predict HTTP/1.1\r\n"
                                b"Host: x\r\nContent-Length: 2\r\n\r\n{}")
        msg = json.loads(body)["error"]
        record("100000-byte model name", "REST TFS", status, msg)
        self.assertEqual(status, 414)
        self.assertIn("request URI: 100019 bytes, over the limit of 16384", msg)
        self.good()
        # Past MHD's 256 KiB per-connection memory: MHD's own 414 (an HTML page).
        status, body = self.raw(b"GET /v1/models/" + b"a" * 300000 + b" HTTP/1.1\r\n"
                                b"Host: x\r\n\r\n")
        record("300000-byte URI (libmicrohttpd's page)", "REST", status,
               body.decode("latin1")[:100])
        self.assertEqual(status, 414)
        self.good()

    def raw(self, data, timeout=10):
        """Sends raw bytes on a new connection and reads one answer: (status, body)."""
        s = socket.create_connection(("127.0.0.1", self.server.rest_port), timeout=timeout)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, body = recv_answer(s, timeout)
        s.close()
        return status, body

    def test_headers_too_large(self):
        status, body = self.raw(b"GET /v1/models/emotion HTTP/1.1\r\nHost: x\r\n" +
                                b"".join(b"X-Pad-%d: %s\r\n" % (i, b"b" * 1000)
                                         for i in range(70)) + b"\r\n")
        msg = json.loads(body)["error"]
        record("70 KB of headers", "REST", status, msg)
        self.assertEqual(status, 431)
        self.assertRegex(msg, r"request headers: \d+ bytes with the request line, over the "
                              r"limit of 65536")
        self.good()
        status, body = self.raw(b"POST /v1/models/emotion:predict HTTP/1.1\r\nHost: x\r\n"
                                b"X-Big: " + b"c" * 70000 + b"\r\nContent-Length: 5000000\r\n"
                                b"\r\n")
        record("one 70 KB header, 5 MB body declared", "REST TFS", status,
               json.loads(body)["error"])
        self.assertEqual(status, 431)
        self.good()

    def test_malformed_request_line(self):
        # libmicrohttpd answers these before any callback of ours: its own HTML pages.
        for case, data, want in (("request line without a version", b"GET /\r\n\r\n", 400),
                                 ("header line without a colon",
                                  b"GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400),
                                 ("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505)):
            status, body = self.raw(data)
            record(case + " (libmicrohttpd's page)", "REST", status, body.decode("latin1")[:100])
            self.assertEqual(status, want, case)
        self.good()

    # ---- body size and framing -----------------------------------------------------------

    def test_body_over_max_request_bytes(self):
        body = emotion_json_row() + " " * LIMIT
        self.rest_bad("body over --max_request_bytes", self.P, body, 413,
                      ["max_request_bytes", str(LIMIT)])

    def test_one_byte_chunks(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        body = json.dumps(self.predict_body_rows(x)).encode()
        s = socket.create_connection(("127.0.0.1", self.server.rest_port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"POST /v1/models/emotion:predict HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        # The first 3000 chunks each in its own write; the rest (still one-byte chunks) in
        # bulk, so the test stays fast.
        for i in range(3000):
            s.sendall(b"1\r\n" + body[i:i + 1] + b"\r\n")
        s.sendall(b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(3000, len(body))))
        s.sendall(b"0\r\n\r\n")
        status, resp = recv_answer(s, 60)
        s.close()
        record("%d one-byte chunks" % len(body), "REST TFS", status, "(correct predictions)")
        self.assertEqual(status, 200, resp[:200])
        h.assert_nested_equal(self, json.loads(resp)["predictions"], want, "predictions")
        self.good()

    # ---- connections -------------------------------------------------------------------

    def test_thousands_of_idle_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 2500:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        socks = []
        try:
            for _ in range(2000):
                socks.append(socket.create_connection(("127.0.0.1", self.server.rest_port),
                                                      timeout=10))
            if self.tg:  # and as many idle TCP connections on the gRPC port
                for _ in range(200):
                    socks.append(socket.create_connection(
                        ("127.0.0.1", self.server.grpc_port), timeout=10))
            time.sleep(0.5)
            record("2000 idle REST + 200 idle gRPC connections", "REST+gRPC", 200,
                   "(next good request answered)")
            self.good()
        finally:
            for s in socks:
                s.close()
        self.good()

    def test_disconnect_mid_inference(self):
        x = h.sample_inputs("movenet-thunder", 1)
        body = json.dumps(self.predict_body_rows(x)).encode()
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", self.server.rest_port), timeout=30)
            s.sendall(b"POST /v1/models/movenet-thunder:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            s.close()
        if self.tg:
            futs = [self.tfs.Predict.future(self.tg.predict_request("movenet-thunder", x),
                                            timeout=60) for _ in range(3)]
            for f in futs:
                f.cancel()
        time.sleep(0.2)
        self.assertIsNone(self.server.proc.poll(), "the daemon died:\n" + self.server.log_tail())
        record("client closes during movenet-thunder inference", "REST+gRPC", 200,
               "(next good request answered)")
        self.good_rest("movenet-thunder")
        self.good()


class BadInputGrpc(BadInputCase):
    """gRPC-only cases (skipped without grpcio outside CI)."""

    def tensor(self, dtype, dims, content):
        tp = self.tg.pb.tensor.TensorProto()
        tp.dtype = dtype
        for d in dims:
            tp.tensor_shape.dim.add().size = d
        tp.tensor_content = content
        return tp

    def predict(self, tp, model="emotion", name="input_1:0"):
        req = self.tg.pb.predict.PredictRequest()
        req.model_spec.name = model
        req.inputs[name].CopyFrom(tp)
        return req

    def test_shape_product_overflows(self):
        # Refused by size before the product is formed: RESOURCE_EXHAUSTED ("larger than the
        # N bytes allowed") is as right an answer as INVALID_ARGUMENT.
        IA = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.grpc_bad("tensor_shape [2^62, 4]", self.tfs.Predict,
                      self.predict(self.tensor(1, [4611686018427387904, 4], b"\0" * 16)), IA,
                      ["tensor_shape", "shape", "input_1:0"])
        self.grpc_bad("tensor_shape [-5, 4]", self.tfs.Predict,
                      self.predict(self.tensor(1, [-5, 4], b"\0" * 16)), IA,
                      ["tensor_shape", "shape", "input_1:0"])
        req = self.tg.pb.kv2.ModelInferRequest(model_name="emotion")
        it = req.inputs.add(name="input_1:0", datatype="FP32")
        it.shape.extend([4611686018427387904, 4])
        req.raw_input_contents.append(b"\0" * 64)
        self.grpc_bad("shape [2^62, 4]", self.kv2.ModelInfer, req, IA,
                      ["shape", "input_1:0", "raw_input_contents[0]"])

    def test_tensor_content_length_disagrees(self):
        IA = grpc.StatusCode.INVALID_ARGUMENT
        self.grpc_bad("tensor_content 100 B for [1,64,64,1] f32", self.tfs.Predict,
                      self.predict(self.tensor(1, [1, 64, 64, 1], b"\0" * 100)), IA,
                      ["tensor_content", "input_1:0"])
        req = self.tg.pb.kv2.ModelInferRequest(model_name="emotion")
        it = req.inputs.add(name="input_1:0", datatype="FP32")
        it.shape.extend([1, 64, 64, 1])
        req.raw_input_contents.append(b"\0" * 100)
        self.grpc_bad("raw_input_contents 100 B", self.kv2.ModelInfer, req, IA,
                      ["raw_input_contents[0]", "bytes"])

    def test_unknown_dtype(self):
        IA = grpc.StatusCode.INVALID_ARGUMENT
        self.grpc_bad("DataType 999", self.tfs.Predict,
                      self.predict(self.tensor(999, [1, 64, 64, 1], b"\0" * 16384)), IA,
                      ["dtype", "999", "input_1:0"])
        req = self.tg.pb.kv2.ModelInferRequest(model_name="emotion")
        it = req.inputs.add(name="input_1:0", datatype="FP128")
        it.shape.extend([1, 64, 64, 1])
        req.raw_input_contents.append(b"\0" * 65536)
        self.grpc_bad("datatype FP128", self.kv2.ModelInfer, req, IA, ["FP128", "datatype"])

    def test_model_names(self):
        x = h.sample_inputs("emotion", 1)["input_1:0"]
        NF = grpc.StatusCode.NOT_FOUND
        for name, case in (("../emotion", "model name ../emotion"),
                           ("../../etc/passwd", "model name ../../etc/passwd"),
                           ("a" * 5000, "5000-byte model name")):
            self.grpc_bad(case, self.tfs.Predict,
                          self.predict(self.tg.tensor_proto(x), model=name),
                          (NF, grpc.StatusCode.INVALID_ARGUMENT), ["model", "name"])

    def test_nul_in_string_fields(self):
        # protobuf-c reads a string up to its first NUL: "emotion\0junk" would be served as
        # emotion. server/grpc/wire.c refuses any string field holding one, naming it.
        IA = grpc.StatusCode.INVALID_ARGUMENT
        x = h.sample_inputs("emotion", 1)["input_1:0"]
        self.grpc_bad("ModelSpec.name 'emotion\\0junk'", self.tfs.Predict,
                      self.predict(self.tg.tensor_proto(x), model="emotion\0junk"), IA,
                      ["model_spec.name", "NUL"])
        self.grpc_bad("input key 'input_1:0\\0x'", self.tfs.Predict,
                      self.predict(self.tg.tensor_proto(x), name="input_1:0\0x"), IA,
                      ["inputs[0].key", "NUL"])
        req = self.tg.pb.kv2.ModelInferRequest(model_name="emotion\0junk")
        it = req.inputs.add(name="input_1:0", datatype="FP32")
        it.shape.extend(x.shape)
        req.raw_input_contents.append(x.raw())
        self.grpc_bad("ModelInferRequest.model_name 'emotion\\0junk'", self.kv2.ModelInfer, req,
                      IA, ["model_name", "NUL"])
        req.model_name = "emotion"
        req.inputs[0].datatype = "FP32\0"
        self.grpc_bad("inputs[0].datatype 'FP32\\0'", self.kv2.ModelInfer, req, IA,
                      ["inputs[0].datatype", "NUL"])
        try:
            self.kv2.ModelReady(self.tg.pb.kv2.ModelReadyRequest(name="emotion\0"), timeout=30)
            self.fail("ModelReady with a NUL in the name answered OK")
        except grpc.RpcError as e:
            record("ModelReadyRequest.name 'emotion\\0'", "gRPC KServe", e.code().name,
                   e.details())
            self.assertEqual(e.code(), IA, e.details())
            self.assertIn("name: contains a NUL byte", e.details())
        self.good()

    def test_message_over_max_request_bytes(self):
        RE = grpc.StatusCode.RESOURCE_EXHAUSTED
        tp = self.tensor(1, [1, 64, 64, 1], b"\0" * (LIMIT + 10000))
        msg = self.grpc_bad("message 10 KB over --max_request_bytes", self.tfs.Predict,
                            self.predict(tp), RE, ["max_request_bytes"])
        self.assertIn("over --max_request_bytes (%d)" % LIMIT, msg)
        # Over the limit by more than server.c's 1 MiB margin: grpc core's own words.
        tp = self.tensor(1, [1, 64, 64, 1], b"\0" * (LIMIT + (2 << 20)))
        self.grpc_bad("message 2 MiB over --max_request_bytes (grpc core's message)",
                      self.tfs.Predict, self.predict(tp), RE, ["larger", "max"])

    def test_flood_of_concurrent_streams(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)
        req = self.tg.predict_request("emotion", x)
        futs = [self.tfs.Predict.future(req, timeout=120) for _ in range(500)]
        ok = refused = 0
        other = []
        for f in futs:
            try:
                resp = f.result()
                for name, t in want:
                    tp = resp.outputs[name]
                    self.tg.assert_raw_equal(self, tp.tensor_content,
                                             [d.size for d in tp.tensor_shape.dim], t, name)
                ok += 1
            except grpc.RpcError as e:
                if e.code() in (grpc.StatusCode.UNAVAILABLE,
                                grpc.StatusCode.RESOURCE_EXHAUSTED):
                    refused += 1
                else:
                    other.append((e.code(), e.details()))
        record("500 concurrent streams on one channel", "gRPC TFS", "OK/UNAVAILABLE",
               "%d answered, %d refused" % (ok, refused))
        self.assertEqual(other, [], "calls failed otherwise than UNAVAILABLE/RESOURCE_EXHAUSTED")
        self.assertGreater(ok, 0)
        self.assertIsNone(self.server.proc.poll(), "the daemon died")
        self.good()

    def test_oversized_metadata(self):
        # On its own channel: grpc core may drop the whole connection over it, and calls
        # racing that on a shared channel would fail UNAVAILABLE ("Socket closed").
        x = h.sample_inputs("emotion", 1)
        # grpcio shares TCP connections between channels to one target (the global subchannel
        # pool); a local pool gives this call a connection of its own to lose.
        ch = grpc.insecure_channel("127.0.0.1:%d" % self.server.grpc_port,
                                   options=[("grpc.use_local_subchannel_pool", 1)])
        self.addCleanup(ch.close)
        try:
            self.tg.pb.prediction_grpc.PredictionServiceStub(ch).Predict(
                self.tg.predict_request("emotion", x), timeout=30,
                metadata=[("x-big", "a" * 65536)])
        except grpc.RpcError as e:
            record("64 KiB metadata value", "gRPC TFS", e.code().name, e.details())
            self.assertIn(e.code(), (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE),
                          e.details())
            self.assertTrue(names_any(e.details() or "", ["metadata", "header", "size",
                                                          "exceeds", "limit"]), e.details())
        else:
            self.fail("a 64 KiB metadata value was accepted")
        self.assertIsNone(self.server.proc.poll(), "the daemon died")
        self.good()


class Slowloris(BadInputCase):
    """Clients that dribble a byte every 0.5 s, in their request line, headers or body: each is
    answered a JSON 408 and closed once its receive deadline passes (http.h: 30 s from the
    request's first byte, plus 1 s per 64 KiB of declared body), long before the 120 s idle
    timeout that every byte would otherwise reset, while other clients are served."""

    grpc_on = False
    BASE = 30.0
    SCALE = int(os.environ.get("ORCHARD_TEST_TIME_SCALE", "1"))
    SLACK = 4.0 * SCALE  # the 1 s sweep period, scheduling; sanitizer builds are slower

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.config = cls.repo.config([{"name": "emotion"}])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config, "--port=0", "--rest_api_timeout_in_ms=2000"]

    def dribble(self, start, seconds, state):
        """Sends start[0] at once, then start[1] one byte every 0.5 s for up to `seconds`;
        state["cut"] = seconds until the server closed the connection (None if it never
        did), state["got"] = what it sent meanwhile."""
        s = socket.create_connection(("127.0.0.1", self.server.rest_port), timeout=5)
        t0 = time.monotonic()
        state["cut"], state["got"] = None, b""
        try:
            s.sendall(start[0])
            for b in start[1]:
                if time.monotonic() - t0 > seconds or state.get("stop"):
                    break
                s.send(bytes([b]))
                s.settimeout(0.5)
                try:
                    got = s.recv(4096)
                    if got == b"":
                        state["cut"] = time.monotonic() - t0
                        return
                    state["got"] += got
                except socket.timeout:
                    pass
        except (BrokenPipeError, ConnectionResetError):
            state["cut"] = time.monotonic() - t0
        finally:
            s.close()

    # (sent at once, dribbled, deadline): a slow request line; slow headers; whole headers
    # then a slow 100000-byte body (30 s + 100000 / 65536 s).
    LINE = (b"", b"GET /v2/health/live" + b"a" * 1000, BASE)
    HEADERS = (b"GET /v2/health/live HTTP/1.1\r\n", b"Host: x\r\nX-Slow: " + b"a" * 1000, BASE)
    BODY = (b"POST /v1/models/emotion:predict HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            b'{"instances":' + b"[" * 5000, BASE + 100000 / 65536)

    def test_cut_at_the_receive_deadline(self):
        self.good_rest()  # `orchard run` for the expected values, before the clock starts
        cases = (("slowloris request line", self.LINE), ("slowloris headers", self.HEADERS),
                 ("slowloris body", self.BODY))
        states = [{} for _ in cases]
        limit = self.BASE + 2 + self.SLACK + 10
        threads = [threading.Thread(target=self.dribble, args=(c[1], limit, st))
                   for c, st in zip(cases, states)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        n = 0
        try:
            while any(t.is_alive() for t in threads) and time.monotonic() - t0 < limit:
                self.good_rest()
                n += 1
                time.sleep(0.2)  # the point is being served, not load
        finally:
            for st in states:
                st["stop"] = True
            for t in threads:
                t.join()
        for (case, spec), st in zip(cases, states):
            deadline = spec[2]
            self.assertIsNotNone(st["cut"], "%s: never cut off" % case)
            got = st["got"]
            status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else None
            msg = json.loads(got.split(b"\r\n\r\n", 1)[1])["error"] if status else ""
            record(case + " (a byte / 0.5 s)", "REST", status,
                   "%s [cut after %.1f s]" % (msg, st["cut"]))
            self.assertGreater(st["cut"], deadline - 0.5, case)
            self.assertLess(st["cut"], deadline + self.SLACK, case)
            self.assertEqual(status, 408, "%s: %r" % (case, got[:300]))
            self.assertIn("not complete within", msg)
            self.assertIn("a whole request must arrive within 30 s", msg)
        record("good requests while 3 slowloris clients dribble", "REST", 200,
               "%d answered" % n)
        self.assertGreater(n, 10)
        self.good()


class ModelFileFaults(h.ServerCase):
    """Model files deleted or truncated under a serving version: it keeps serving."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion", version=1, copy=True)
        cls.config = cls.repo.config([{"name": "emotion"}])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config, "--file_system_poll_wait_seconds=1"]

    def good_v(self, version):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        r = self.server.post("/v2/models/emotion/infer", {"inputs": [
            {"name": "input_1:0", "shape": x["input_1:0"].shape, "datatype": "FP32",
             "data": x["input_1:0"].values}]})
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["model_version"], str(version))
        out = j["outputs"][0]
        h.assert_values_equal(self, out["data"], out["shape"], want, "outputs")

    def test_truncated_then_deleted_model_json(self):
        mj = os.path.join(self.repo.base("emotion"), "1", "model.json")
        self.good_v(1)
        with open(mj) as f:
            text = f.read()
        with open(mj, "w") as f:
            f.write(text[:len(text) // 2])
        time.sleep(2.5)  # two polls
        record("serving version's model.json truncated", "repository", 200, "(v1 still serves)")
        self.good_v(1)
        os.remove(mj)
        time.sleep(2.5)
        record("serving version's model.json deleted", "repository", 200, "(v1 still serves)")
        self.good_v(1)
        # A new version that cannot load does not replace the one that serves.
        self.repo.add_broken("emotion", 2, how="truncated")
        time.sleep(2.5)
        record("new version 2 with truncated model.json", "repository", 200, "(v1 still serves)")
        self.good_v(1)
        self.assertIsNone(self.server.proc.poll(), "the daemon died")


if __name__ == "__main__":
    unittest.main()
