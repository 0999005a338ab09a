"""
test_tfserving_rest.py - the TensorFlow Serving REST API of design.md against a real daemon:
predict in row (`instances`) and columnar (`inputs`) form, `signature_name`, `{"b64": ...}`
values, versions and labels in the path, model status and metadata.

Every answer is compared exactly with `orchard run` on the same tensor (harness.py explains the
comparison). Models: emotion (one float input, one output), movenet (int32 input, a garden
model), and the fixture `mixed` (bool + float + int32 inputs; float, bool and int32 outputs) so
that multi-input/multi-output forms and every dtype are seen.
"""
import base64
import unittest

import harness as h


class TFServingRest(h.ServerCase):
    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.repo.add("mixed")
        cls.repo.add("movenet")
        cls.config = cls.repo.config([
            {"name": "emotion", "version_labels": {"stable": 1}},
            {"name": "mixed"},
            {"name": "movenet"},
        ])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config]

    def predict(self, path, body, status=200):
        r = self.server.post(path, body)
        self.assertEqual(r.status, status, "POST %s: %r" % (path, r))
        return r.json()

    # ---- row format ------------------------------------------------------------------------

    def test_row_unnamed_single_input(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        j = self.predict("/v1/models/emotion:predict",
                         {"instances": [x["input_1:0"].row(0)]})
        self.assertEqual(list(j), ["predictions"])
        h.assert_nested_equal(self, j["predictions"], want, "predictions")

    def test_row_named_single_input(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        j = self.predict("/v1/models/emotion:predict",
                         {"instances": [{"input_1:0": x["input_1:0"].row(0)}]})
        # One output: each prediction is the value itself, not {"Identity:0": ...}.
        h.assert_nested_equal(self, j["predictions"], want, "predictions")

    def test_row_batch_of_three(self):
        x = h.sample_inputs("emotion", 3)
        want = h.expected("emotion", x)[0][1]
        j = self.predict("/v1/models/emotion:predict", self.predict_body_rows(x))
        self.assertEqual(len(j["predictions"]), 3)
        h.assert_nested_equal(self, j["predictions"], want, "predictions")

    def test_row_signature_name(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        body = self.predict_body_rows(x)
        body["signature_name"] = "serving_default"
        j = self.predict("/v1/models/emotion:predict", body)
        h.assert_nested_equal(self, j["predictions"], want, "predictions")

    def test_row_multi_io_all_dtypes(self):
        x = h.sample_inputs("mixed", 2)
        want = h.expected("mixed", x)
        j = self.predict("/v1/models/mixed:predict", self.predict_body_rows(x, named=True))
        preds = j["predictions"]
        self.assertEqual(len(preds), 2)
        for name, t in want:
            for i in range(2):
                self.assertIsInstance(preds[i], dict, "several outputs: one object per row")
                self.assertEqual(sorted(preds[i]), sorted(n for n, _ in want))
            h.assert_nested_equal(self, [p[name] for p in preds], t, "predictions[*].%s" % name)

    def test_row_int32_input_garden_model(self):
        x = h.sample_inputs("movenet", 1)
        want = h.expected("movenet", x)[0][1]
        j = self.predict("/v1/models/movenet:predict", self.predict_body_rows(x))
        h.assert_nested_equal(self, j["predictions"], want, "movenet predictions")

    # ---- columnar format -------------------------------------------------------------------

    def test_columnar_unnamed(self):
        x = h.sample_inputs("emotion", 2)
        want = h.expected("emotion", x)[0][1]
        j = self.predict("/v1/models/emotion:predict", {"inputs": x["input_1:0"].nested()})
        self.assertEqual(list(j), ["outputs"])
        h.assert_nested_equal(self, j["outputs"], want, "outputs")

    def test_columnar_named(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        j = self.predict("/v1/models/emotion:predict",
                         {"signature_name": "serving_default",
                          "inputs": {"input_1:0": x["input_1:0"].nested()}})
        # One output: "outputs" is the value itself.
        h.assert_nested_equal(self, j["outputs"], want, "outputs")

    def test_columnar_multi_io_all_dtypes(self):
        x = h.sample_inputs("mixed", 3)
        want = h.expected("mixed", x)
        j = self.predict("/v1/models/mixed:predict",
                         {"inputs": {k: t.nested() for k, t in x.items()}})
        outs = j["outputs"]
        self.assertIsInstance(outs, dict)
        self.assertEqual(sorted(outs), sorted(n for n, _ in want))
        for name, t in want:
            h.assert_nested_equal(self, outs[name], t, "outputs.%s" % name)

    # ---- {"b64": ...} ----------------------------------------------------------------------
    # Our models have no string tensors, so a b64 value carries the raw little-endian bytes of
    # the tensor it stands for (one instance in row form, the whole input in columnar form).

    def test_b64_row(self):
        x = h.sample_inputs("emotion", 2)
        want = h.expected("emotion", x)[0][1]
        t = x["input_1:0"]
        rows = []
        for i in range(2):
            sub = h.Tensor(t.dtype, t.shape[1:],
                           t.values[i * h.numel(t.shape[1:]):(i + 1) * h.numel(t.shape[1:])])
            rows.append({"input_1:0": {"b64": base64.b64encode(sub.raw()).decode()}})
        j = self.predict("/v1/models/emotion:predict", {"instances": rows})
        h.assert_nested_equal(self, j["predictions"], want, "predictions (b64 input)")

    def test_b64_columnar(self):
        x = h.sample_inputs("mixed", 2)
        want = h.expected("mixed", x)
        body = {"inputs": {k: {"b64": base64.b64encode(t.raw()).decode()} for k, t in x.items()}}
        j = self.predict("/v1/models/mixed:predict", body)
        for name, t in want:
            h.assert_nested_equal(self, j["outputs"][name], t, "outputs.%s (b64 input)" % name)

    # ---- versions and labels in the path ----------------------------------------------------

    def test_predict_version_and_label_paths(self):
        x = h.sample_inputs("emotion", 1)
        want = h.expected("emotion", x)[0][1]
        for path in ("/v1/models/emotion/versions/1:predict",
                     "/v1/models/emotion/labels/stable:predict"):
            j = self.predict(path, self.predict_body_rows(x))
            h.assert_nested_equal(self, j["predictions"], want, path)

    # ---- status and metadata ----------------------------------------------------------------

    def test_model_status(self):
        want = {"model_version_status": [
            {"version": "1", "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}}]}
        for path in ("/v1/models/emotion", "/v1/models/emotion/versions/1",
                     "/v1/models/emotion/labels/stable"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "GET %s: %r" % (path, r))
            self.assertEqual(r.json(), want, path)

    def test_metadata(self):
        for path in ("/v1/models/emotion/metadata", "/v1/models/emotion/versions/1/metadata"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "GET %s: %r" % (path, r))
            j = r.json()
            self.assertEqual(j["model_spec"]["name"], "emotion")
            self.assertEqual(str(j["model_spec"]["version"]), "1")
            # TF Serving's layout: metadata.signature_def.signature_def.<name>.{inputs,outputs}
            sig = j["metadata"]["signature_def"]["signature_def"]["serving_default"]
            self.assertEqual(list(sig["inputs"]), ["input_1:0"])
            self.assertEqual(list(sig["outputs"]), ["Identity:0"])
            inp = sig["inputs"]["input_1:0"]
            self.assertEqual(inp["dtype"], "DT_FLOAT")
            self.assertEqual([int(d["size"]) for d in inp["tensor_shape"]["dim"]],
                             [-1, 64, 64, 1])
            out = sig["outputs"]["Identity:0"]
            self.assertEqual(out["dtype"], "DT_FLOAT")
            self.assertEqual([int(d["size"]) for d in out["tensor_shape"]["dim"]], [-1, 7])

    def test_metadata_dtypes_of_mixed(self):
        j = self.server.get("/v1/models/mixed/metadata").json()
        sig = j["metadata"]["signature_def"]["signature_def"]["serving_default"]
        self.assertEqual({k: v["dtype"] for k, v in sig["inputs"].items()},
                         {"mask": "DT_BOOL", "x": "DT_FLOAT", "k": "DT_INT32"})
        self.assertEqual({k: v["dtype"] for k, v in sig["outputs"].items()},
                         {"selected": "DT_FLOAT", "inverted": "DT_BOOL", "squared": "DT_INT32"})


if __name__ == "__main__":
    unittest.main()
