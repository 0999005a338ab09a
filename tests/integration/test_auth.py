"""
test_auth.py - issue 8 item 7: bearer-token access (--auth_token_file for predict/infer,
--admin_token_file for everything else but the probes) against a real daemon, REST and gRPC.

For each API: no token, a wrong token, the other scope's token and the right token; the
probes (REST /v2/health/live and /ready, /metrics, /monitoring/prometheus/metrics; gRPC
Health/Check, ServerLive, ServerReady) answer without any token; start-up fails naming the flag
and the file when a token file is empty or missing; with only --auth_token_file the admin
endpoints stay open. Answers given with the right token are compared with `orchard run`.
A request without the right token is refused from its headers alone, before its body is read:
a client declaring a 50 MB body it never sends gets its 401 at once (RestAuth.
test_refused_before_the_body).
"""
import json
import os
import socket
import subprocess
import time
import unittest

import harness as h

try:
    import grpc
except ImportError:  # pragma: no cover - depends on the machine
    grpc = None

PREDICT_TOKEN = "p-7f3c9a1e5b"
ADMIN_TOKEN = "a-0d4e8b2c6f"


def write_token(name, text):
    path = os.path.join(h.tmpdir("tokens-"), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def bearer(tok):
    return {"Authorization": "Bearer %s" % tok}


def read_answer(s, timeout):
    return h.read_http_answer(s, timeout)


class AuthCase(h.ServerCase):
    tokens = ("predict", "admin")

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.config = cls.repo.config([{"name": "emotion"}])

    @classmethod
    def serve_args(cls):
        args = ["--model_config_file=%s" % cls.config]
        if "predict" in cls.tokens:
            args.append("--auth_token_file=%s" % write_token("p", PREDICT_TOKEN + "\n"))
        if "admin" in cls.tokens:
            args.append("--admin_token_file=%s" % write_token("a", ADMIN_TOKEN))
        return args

    def predict(self, headers):
        x = h.sample_inputs("emotion", 1)
        return x, self.server.post("/v1/models/emotion:predict", self.predict_body_rows(x),
                                   headers=headers)

    def assert_401(self, r, flag, wrong):
        self.assertEqual(r.status, 401, r)
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"), r.headers)
        msg = r.error()
        self.assertIn(flag, msg)
        self.assertIn("not the one" if wrong else "Authorization: Bearer", msg)


class RestAuth(AuthCase):
    def test_predict_needs_the_predict_token(self):
        _, r = self.predict(None)
        self.assert_401(r, "--auth_token_file", wrong=False)
        _, r = self.predict(bearer("nope"))
        self.assert_401(r, "--auth_token_file", wrong=True)
        _, r = self.predict(bearer(ADMIN_TOKEN))  # the admin token does not open predict
        self.assert_401(r, "--auth_token_file", wrong=True)
        _, r = self.predict(bearer(PREDICT_TOKEN[:-1]))  # a prefix
        self.assert_401(r, "--auth_token_file", wrong=True)
        _, r = self.predict({"Authorization": "Basic " + PREDICT_TOKEN})
        self.assert_401(r, "--auth_token_file", wrong=False)
        x, r = self.predict(bearer(PREDICT_TOKEN))
        self.assertEqual(r.status, 200, r)
        h.assert_nested_equal(self, r.json()["predictions"], h.expected("emotion", x)[0][1],
                              "predictions")
        x, r = self.predict({"Authorization": "bearer  %s" % PREDICT_TOKEN})
        self.assertEqual(r.status, 200, r)

    def test_kserve_infer_needs_the_predict_token(self):
        x = h.sample_inputs("emotion", 1)["input_1:0"]
        body = {"inputs": [{"name": "input_1:0", "shape": x.shape, "datatype": "FP32",
                            "data": x.values}]}
        self.assert_401(self.server.post("/v2/models/emotion/infer", body), "--auth_token_file",
                        wrong=False)
        r = self.server.post("/v2/models/emotion/infer", body, headers=bearer(PREDICT_TOKEN))
        self.assertEqual(r.status, 200, r)

    def test_admin_endpoints_need_the_admin_token(self):
        for path in ("/v1/models/emotion", "/v1/models/emotion/metadata", "/v2",
                     "/v2/models/emotion", "/v2/models/emotion/ready"):
            self.assert_401(self.server.get(path), "--admin_token_file", wrong=False)
            self.assert_401(self.server.get(path, headers=bearer(PREDICT_TOKEN)),
                            "--admin_token_file", wrong=True)
            r = self.server.get(path, headers=bearer(ADMIN_TOKEN))
            self.assertEqual(r.status, 200, "%s: %r" % (path, r))
        r = self.server.get("/v1/models/emotion", headers=bearer(ADMIN_TOKEN))
        self.assertEqual(r.json()["model_version_status"][0]["state"], "AVAILABLE")

    def test_refused_before_the_body(self):
        # Content-Length 50 MB (under the default --max_request_bytes, 64 MiB) and no body
        # byte ever sent: only the headers can be answered, and they are, at once.
        for path, tok, flag in (("/v1/models/emotion:predict", None, "--auth_token_file"),
                                ("/v1/models/emotion:predict", "nope", "--auth_token_file"),
                                ("/v2/models/emotion/infer", ADMIN_TOKEN, "--auth_token_file"),
                                ("/v2/repository/index", None, "--admin_token_file")):
            s = socket.create_connection(("127.0.0.1", self.server.rest_port), timeout=10)
            head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 50000000\r\n" % path)
            if tok:
                head += "Authorization: Bearer %s\r\n" % tok
            t0 = time.monotonic()
            s.sendall((head + "\r\n").encode())
            status, rhead, body = read_answer(s, 10)
            elapsed = time.monotonic() - t0
            s.close()
            self.assertEqual(status, 401, "%s: %r" % (path, rhead))
            self.assertLess(elapsed, 2.0, "%s: the 401 waited for the body" % path)
            self.assertRegex(rhead, r"(?im)^www-authenticate: bearer", path)
            self.assertRegex(rhead, r"(?im)^content-type: application/json", path)
            msg = json.loads(body)["error"]
            self.assertIn(flag, msg)
            self.assertIn("not the one" if tok else "Authorization: Bearer", msg)
        # The right token: the same headers are accepted and the server waits for the body.
        s = socket.create_connection(("127.0.0.1", self.server.rest_port), timeout=10)
        s.sendall(("POST /v1/models/emotion:predict HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Length: 50000000\r\n\r\n"
                   % PREDICT_TOKEN).encode())
        status, _, _ = read_answer(s, 1.0)
        s.close()
        self.assertIsNone(status, "answered before the body came, with the right token")
        x, r = self.predict(bearer(PREDICT_TOKEN))
        self.assertEqual(r.status, 200, r)
        h.assert_nested_equal(self, r.json()["predictions"], h.expected("emotion", x)[0][1],
                              "predictions")

    def test_probes_stay_open(self):
        for path in ("/v2/health/live", "/v2/health/ready", "/metrics",
                     "/monitoring/prometheus/metrics"):
            self.assertEqual(self.server.get(path).status, 200, path)
            self.assertEqual(self.server.get(path, headers=bearer("junk")).status, 200, path)

    def test_dashboard_files_stay_open(self):
        # The page holds no data; a browser cannot add a bearer token when it opens it.
        for path in ("/", "/dashboard/app.js"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.headers.get("cache-control"), "no-cache", path)
        self.assert_401(self.server.post("/v2/repository/index", b"{}"), "--admin_token_file",
                        wrong=False)


class RestPredictTokenOnly(AuthCase):
    tokens = ("predict",)

    def test_admin_open_when_no_admin_token(self):
        self.assertEqual(self.server.get("/v1/models/emotion").status, 200)
        _, r = self.predict(None)
        self.assert_401(r, "--auth_token_file", wrong=False)
        _, r = self.predict(bearer(PREDICT_TOKEN))
        self.assertEqual(r.status, 200)


class StartupErrors(unittest.TestCase):
    def start_fails(self, flag, path, needle):
        p = subprocess.run([h.BIN, "serve", "--port=0", "--rest_api_port=%d" % h.free_port(),
                            "--model_base_path=%s" % os.path.dirname(h.model_dir("emotion")),
                            "--model_name=emotion", "%s=%s" % (flag, path)],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        out = p.stdout + p.stderr
        self.assertIn(flag, out)
        self.assertIn(path, out)
        self.assertIn(needle, out)

    def test_empty_and_missing_files(self):
        self.start_fails("--auth_token_file", write_token("e", "\n"), "empty")
        self.start_fails("--admin_token_file", write_token("e", ""), "empty")
        self.start_fails("--admin_token_file", "/nonexistent/token", "cannot read")


class GrpcAuth(AuthCase):
    @classmethod
    def setUpClass(cls):
        missing = AssertionError if os.environ.get("CI") else unittest.SkipTest
        if grpc is None:
            raise missing("python3-grpcio is not installed (scripts/bootstrap)")
        import test_grpc as tg
        tg.setUpModule()
        cls.tg = tg
        super().setUpClass()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.grpc_port)
        grpc.channel_ready_future(cls.channel).result(timeout=20)
        cls.tfs = tg.pb.prediction_grpc.PredictionServiceStub(cls.channel)
        cls.models = tg.pb.model_grpc.ModelServiceStub(cls.channel)
        cls.kv2 = tg.pb.kv2_grpc.GRPCInferenceServiceStub(cls.channel)
        cls.health = cls.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=tg.pb.health.HealthCheckRequest.SerializeToString,
            response_deserializer=tg.pb.health.HealthCheckResponse.FromString)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "channel", None) is not None:
            cls.channel.close()
        super().tearDownClass()

    def unauth(self, fn, req, md, flag):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(req, timeout=30, metadata=md)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED,
                         cm.exception.details())
        self.assertIn(flag, cm.exception.details())

    @staticmethod
    def md(tok):
        return [("authorization", "Bearer %s" % tok)]

    def test_predict(self):
        x = h.sample_inputs("emotion", 1)
        req = self.tg.predict_request("emotion", x)
        self.unauth(self.tfs.Predict, req, None, "--auth_token_file")
        self.unauth(self.tfs.Predict, req, self.md("nope"), "--auth_token_file")
        self.unauth(self.tfs.Predict, req, self.md(ADMIN_TOKEN), "--auth_token_file")
        resp = self.tfs.Predict(req, timeout=60, metadata=self.md(PREDICT_TOKEN))
        want = h.expected("emotion", x)
        for name, t in want:
            tp = resp.outputs[name]
            self.tg.assert_raw_equal(self, tp.tensor_content,
                                     [d.size for d in tp.tensor_shape.dim], t, name)
        kreq = self.tg.pb.kv2.ModelInferRequest(model_name="emotion")
        it = kreq.inputs.add(name="input_1:0", datatype="FP32")
        it.shape.extend(x["input_1:0"].shape)
        kreq.raw_input_contents.append(x["input_1:0"].raw())
        self.unauth(self.kv2.ModelInfer, kreq, None, "--auth_token_file")
        self.kv2.ModelInfer(kreq, timeout=60, metadata=self.md(PREDICT_TOKEN))

    def test_admin_methods(self):
        mreq = self.tg.pb.meta.GetModelMetadataRequest()
        mreq.model_spec.name = "emotion"
        mreq.metadata_field.append("signature_def")
        sreq = self.tg.pb.status.GetModelStatusRequest()
        sreq.model_spec.name = "emotion"
        kreq = self.tg.pb.kv2.ModelMetadataRequest(name="emotion")
        for fn, req in ((self.tfs.GetModelMetadata, mreq), (self.models.GetModelStatus, sreq),
                        (self.kv2.ModelMetadata, kreq)):
            self.unauth(fn, req, None, "--admin_token_file")
            self.unauth(fn, req, self.md(PREDICT_TOKEN), "--admin_token_file")
            fn(req, timeout=30, metadata=self.md(ADMIN_TOKEN))

    def test_probes_stay_open(self):
        resp = self.health(self.tg.pb.health.HealthCheckRequest(), timeout=30)
        self.assertEqual(resp.status, 1)  # SERVING
        self.assertTrue(self.kv2.ServerLive(self.tg.pb.kv2.ServerLiveRequest(), timeout=30).live)
        self.assertTrue(
            self.kv2.ServerReady(self.tg.pb.kv2.ServerReadyRequest(), timeout=30).ready)


if __name__ == "__main__":
    unittest.main()
