"""
test_kserve_rest.py - the KServe v2 (Open Inference Protocol) REST API of design.md against a
real daemon: server metadata, health, model metadata and readiness (with and without a version
in the path), and infer with FP32, INT32, INT64, BOOL and UINT8 data, flat and nested.

Answers are compared exactly with `orchard run` on the same tensor. Integer datatypes wider or
narrower than the model's int32 (INT64, UINT8) must give the answer of the same values sent as
INT32: the runtime computes every integer type as int32, as TF.js does.
"""
import unittest

import harness as h

KS_TYPE = {"float32": "FP32", "int32": "INT32", "bool": "BOOL"}


def ks_input(name, t, datatype=None, nested=False):
    return {"name": name, "shape": t.shape, "datatype": datatype or KS_TYPE[t.dtype],
            "data": t.nested() if nested else t.values}


class KServeRest(h.ServerCase):
    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.repo.add("mixed")
        cls.repo.add("movenet")
        cls.config = cls.repo.config([{"name": "emotion"}, {"name": "mixed"},
                                      {"name": "movenet"}])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file", cls.config]  # the "--flag value" spelling

    def infer(self, model, inputs, status=200, version=None, **extra):
        path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
        body = {"inputs": inputs}
        body.update(extra)
        r = self.server.post(path, body)
        self.assertEqual(r.status, status, "POST %s: %r" % (path, r))
        return r.json()

    def check_outputs(self, j, want, model, version="1"):
        self.assertEqual(j["model_name"], model)
        if "model_version" in j:
            self.assertEqual(j["model_version"], version)
        outs = {o["name"]: o for o in j["outputs"]}
        self.assertEqual([o["name"] for o in j["outputs"]], [n for n, _ in want],
                         "outputs in the model's order")
        for name, t in want:
            o = outs[name]
            self.assertEqual(o["datatype"], KS_TYPE[t.dtype], "%s datatype" % name)
            self.assertEqual(o["shape"], t.shape, "%s shape" % name)
            flat, shape = h.flatten(o["data"])
            if len(shape) > 1:  # nested data is allowed by the protocol; it must agree
                self.assertEqual(shape, t.shape, "%s nested data shape" % name)
            h.assert_values_equal(self, flat, t.shape, t, "outputs.%s" % name)

    # ---- server --------------------------------------------------------------------------

    def test_server_metadata(self):
        r = self.server.get("/v2")
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertIsInstance(j.get("name"), str)
        self.assertTrue(j["name"])
        self.assertIsInstance(j.get("version"), str)
        self.assertIsInstance(j.get("extensions"), list)

    def test_health(self):
        for path in ("/v2/health/live", "/v2/health/ready"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "GET %s: %r" % (path, r))

    # ---- models ---------------------------------------------------------------------------

    def test_model_metadata(self):
        for path in ("/v2/models/emotion", "/v2/models/emotion/versions/1"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "GET %s: %r" % (path, r))
            j = r.json()
            self.assertEqual(j["name"], "emotion")
            self.assertIn("1", j.get("versions", ["1"]))
            self.assertIsInstance(j.get("platform"), str)
            self.assertEqual(j["inputs"], [{"name": "input_1:0", "datatype": "FP32",
                                            "shape": [-1, 64, 64, 1]}])
            self.assertEqual(j["outputs"], [{"name": "Identity:0", "datatype": "FP32",
                                             "shape": [-1, 7]}])

    def test_model_metadata_dtypes(self):
        j = self.server.get("/v2/models/mixed").json()
        self.assertEqual([(i["name"], i["datatype"]) for i in j["inputs"]],
                         [("mask", "BOOL"), ("x", "FP32"), ("k", "INT32")])
        self.assertEqual([(o["name"], o["datatype"]) for o in j["outputs"]],
                         [("selected", "FP32"), ("inverted", "BOOL"), ("squared", "INT32")])

    def test_model_ready(self):
        for path in ("/v2/models/emotion/ready", "/v2/models/emotion/versions/1/ready"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "GET %s: %r" % (path, r))
            if r.body.strip():
                j = r.json()
                self.assertIs(j.get("ready", True), True)
        for path in ("/v2/models/nosuchmodel/ready", "/v2/models/emotion/versions/9/ready"):
            r = self.server.get(path)
            self.assertEqual(r.status, 404, "GET %s: %r" % (path, r))

    # ---- infer ----------------------------------------------------------------------------

    def test_infer_fp32_flat(self):
        x = h.sample_inputs("emotion", 2)
        want = h.expected("emotion", x)
        j = self.infer("emotion", [ks_input("input_1:0", x["input_1:0"])])
        self.check_outputs(j, want, "emotion")

    def test_infer_fp32_nested_with_version_and_id(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)
        j = self.infer("emotion", [ks_input("input_1:0", x["input_1:0"], nested=True)],
                       version="1", id="req-42")
        self.check_outputs(j, want, "emotion")
        self.assertEqual(j.get("id"), "req-42", "the request id is echoed")

    def test_infer_bool_fp32_int32_mixed(self):
        x = h.sample_inputs("mixed", 3)
        want = h.expected("mixed", x)
        j = self.infer("mixed", [ks_input(k, t) for k, t in x.items()])
        self.check_outputs(j, want, "mixed")

    def test_infer_inputs_in_any_order(self):
        x = h.sample_inputs("mixed", 1)
        want = h.expected("mixed", x)
        j = self.infer("mixed", [ks_input(k, t) for k, t in reversed(list(x.items()))])
        self.check_outputs(j, want, "mixed")

    def test_infer_requested_outputs(self):
        x = h.sample_inputs("mixed", 1)
        want = [(n, t) for n, t in h.expected("mixed", x) if n == "inverted"]
        j = self.infer("mixed", [ks_input(k, t) for k, t in x.items()],
                       outputs=[{"name": "inverted"}])
        self.check_outputs(j, want, "mixed")

    def test_infer_int32_garden_model(self):
        x = h.sample_inputs("movenet", 1)
        want = h.expected("movenet", x)
        j = self.infer("movenet", [ks_input("input:0", x["input:0"])])
        self.check_outputs(j, want, "movenet")

    def test_infer_int64_and_uint8_as_int32(self):
        x = h.sample_inputs("movenet", 1)
        t = x["input:0"]
        self.assertTrue(all(0 <= v <= 255 for v in t.values))
        want = h.expected("movenet", x)
        for dt in ("INT64", "UINT8"):
            j = self.infer("movenet", [ks_input("input:0", t, datatype=dt)])
            self.check_outputs(j, want, "movenet")


if __name__ == "__main__":
    unittest.main()
