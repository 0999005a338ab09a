"""
test_images.py - encoded image inputs (issue 9 item 1) and :annotate through a real daemon:
orchard.json files written by the test into a temporary repository give emotion (float32,
gray, range [0, 1]) and movenet (int32, rgb) image inputs and tasks.

- A b64 PNG to :predict answers exactly what the same pixels, preprocessed here in Python the
  way the contract says (gray in float32, tf.image.resizeBilinear's double math stored as
  float32, range, round-half-even for int32), answer as a JSON array: bit for bit (PNG is
  lossless and every step is reproduced operation for operation).
- The same file (PNG or JPEG) answers the same through every way in: b64 row and columnar,
  raw body, KServe BYTES, gRPC Predict string_val, gRPC ModelInfer BYTES (bytes_contents, and
  raw_input_contents with KServe's 4-byte length prefixes); and batched (--enable_batching)
  like alone. gRPC keeps its per-tensor limit for image batches (RESOURCE_EXHAUSTED).
- :annotate answers the task object (raw body) or {"predictions": [...]} (JSON), with the
  original image size, ?top_k, ?raw=true, and 400s naming a bad parameter; on a model whose
  batch is fixed at 1 it runs several instances one by one.
- Errors: corrupt, truncated, bomb, an image for a model without image input, a model without
  a task, each with its status and message; a bad orchard.json in version 2 leaves version 1
  serving, with the error (file and JSON path) in the version status.

Images: python3-skimage's data directory (scripts/bootstrap). PNG pixels are decoded here by a
small zlib-based reader (8-bit RGB, non-interlaced: enough for chelsea.png).
"""
import base64
import json
import os
import struct
import unittest
import zlib

import harness as h

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
EMOTION_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
EMOTION_JSON = {
    "inputs": {"input_1": {"image": {"range": [0, 1]}}},
    "task": {"kind": "classification", "output": "Identity:0", "labels": EMOTION_LABELS},
}
MOVENET_JSON = {
    "inputs": {"input:0": {"image": {}}},
    "task": {"kind": "pose", "output": "Identity:0",
             "keypoints": ["nose", "left_eye", "right_eye", "left_ear", "right_ear",
                           "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                           "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                           "right_knee", "left_ankle", "right_ankle"]},
}


def put_orchard_json(vdir, doc):
    """Writes vdir/orchard.json as a file of its own (None: none). Repo.add links the files of
    models/<name>/1, which has the garden's orchard.json: writing through that link would
    change models/ (never: harness.py's invariant), so the link is removed first."""
    path = os.path.join(vdir, "orchard.json")
    if os.path.lexists(path):
        os.remove(path)
    if doc is not None:
        with open(path, "w") as f:
            json.dump(doc, f)


def read(name):
    path = os.path.join(SKIMAGE, name)
    if not os.path.isfile(path):
        raise AssertionError("%s is missing: scripts/bootstrap installs python3-skimage" % path)
    with open(path, "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(data).decode()


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def decode_png_rgb8(data):
    """(width, height, bytes of RGB rows) of an 8-bit RGB non-interlaced PNG."""
    return h.decode_png8(data, 3)


f32 = h.f32


def preprocess(w, hgt, px, oh, ow, gray, lo, hi, to_int):
    """The contract's pipeline in Python, operation for operation (see image.c)."""
    W = [f32(0.299), f32(0.587), f32(0.114)]

    def value(y, x, ch):
        p = (y * w + x) * 3
        if gray:
            return f32(f32(f32(px[p] * W[0]) + f32(px[p + 1] * W[1])) + f32(px[p + 2] * W[2]))
        return float(px[p + ch])

    C = 1 if gray else 3
    rr, cr = hgt / oh, w / ow
    out = []
    scale = not (lo == 0 and hi == 255)
    for r in range(oh):
        fr = rr * r
        r0 = max(0, int(fr // 1))
        rf = fr - r0
        r1 = min(hgt - 1, -int((-fr) // 1))
        row = []
        for c in range(ow):
            fc = cr * c
            c0 = max(0, int(fc // 1))
            cf = fc - c0
            c1 = min(w - 1, -int((-fc) // 1))
            px_out = []
            for ch in range(C):
                tl, tr = value(r0, c0, ch), value(r0, c1, ch)
                bl, br = value(r1, c0, ch), value(r1, c1, ch)
                top = tl + (tr - tl) * cf
                bottom = bl + (br - bl) * cf
                v = f32(top + (bottom - top) * rf)
                if scale:
                    v = f32(f32(f32(v * f32(hi - lo)) / 255.0) + f32(lo))
                px_out.append(int(round(v)) if to_int else v)  # round(): half to even
            row.append(px_out)
        out.append(row)
    return out


class ImageCase(h.ServerCase):
    @classmethod
    def setUpRepo(cls):
        for name, doc in (("emotion", EMOTION_JSON), ("movenet", MOVENET_JSON)):
            put_orchard_json(cls.repo.add(name), doc)
        put_orchard_json(cls.repo.add("plain", source="emotion"), None)
        cls.config = cls.repo.config([{"name": "emotion"}, {"name": "movenet"},
                                      {"name": "plain"}])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config, "--enable_batching"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.png = read("chelsea.png")
        cls.jpg = read("rocket.jpg")
        cls.png2 = read("coffee.png")

    def ok(self, r):
        self.assertEqual(r.status, 200, r)
        return r.json()

    def predict(self, model, body, **kw):
        return self.ok(self.server.post("/v1/models/%s:predict" % model, body, **kw))

    def raw_post(self, path, data, ctype):
        return self.server.post(path, data, headers={"Content-Type": ctype})

    # -------------------------------------------------------------- exact preprocessing

    def test_png_b64_equals_python_preprocessed_floats(self):
        w, hgt, px = decode_png_rgb8(self.png)
        x = preprocess(w, hgt, px, 64, 64, gray=True, lo=0, hi=1, to_int=False)
        want = self.predict("emotion", {"instances": [x]})
        got = self.predict("emotion", {"instances": [{"b64": b64(self.png)}]})
        self.assertEqual(got, want)

    def test_png_b64_into_int32_input_equals_python_preprocessed_ints(self):
        w, hgt, px = decode_png_rgb8(self.png)
        x = preprocess(w, hgt, px, 192, 192, gray=False, lo=0, hi=255, to_int=True)
        want = self.predict("movenet", {"instances": [x]})
        got = self.predict("movenet", {"instances": [{"b64": b64(self.png)}]})
        self.assertEqual(got, want)

    # -------------------------------------------------------------- every way in agrees

    def all_ways(self, data, ctype):
        """:predict answers (as lists of floats) of the same file through every way in."""
        ans = {}
        ans["b64 row"] = self.predict("emotion", {"instances": [{"b64": b64(data)}]})["predictions"]
        ans["b64 row named"] = self.predict(
            "emotion", {"instances": [{"input_1": {"b64": b64(data)}}]})["predictions"]
        ans["b64 columnar"] = self.predict("emotion", {"inputs": {"b64": b64(data)}})["outputs"]
        ans["b64 columnar list"] = self.predict(
            "emotion", {"inputs": {"input_1": [{"b64": b64(data)}]}})["outputs"]
        ans["raw body"] = self.ok(self.raw_post("/v1/models/emotion:predict", data,
                                                ctype))["predictions"]
        ks = self.ok(self.server.post("/v2/models/emotion/infer", {"inputs": [
            {"name": "input_1", "shape": [1], "datatype": "BYTES", "data": [b64(data)]}]}))
        self.assertEqual(ks["outputs"][0]["shape"], [1, 7])
        ans["kserve BYTES"] = [ks["outputs"][0]["data"]]
        ans["annotate raw=true"] = self.ok(self.raw_post(
            "/v1/models/emotion:annotate?raw=true", data, ctype))["predictions"]
        return ans

    def check_all_ways(self, data, ctype):
        ans = self.all_ways(data, ctype)
        first = ans["b64 row"]
        self.assertEqual(len(first), 1)
        self.assertEqual(len(first[0]), 7)
        for k, v in ans.items():
            self.assertEqual(v, first, "%s differs from b64 row" % k)
        return first

    def test_png_every_way_in_agrees(self):
        self.check_all_ways(self.png, "image/png")

    def test_jpeg_every_way_in_agrees(self):
        jp = self.check_all_ways(self.jpg, "image/jpeg")
        pn = self.predict("emotion", {"instances": [{"b64": b64(self.png)}]})["predictions"]
        self.assertNotEqual(jp, pn)  # different pictures, different answers

    def test_grpc_string_val_equals_rest(self):
        import test_grpc as tg
        tg.setUpModule()  # generates the stubs (or skips, as test_grpc.py does)
        ch = tg.grpc.insecure_channel("127.0.0.1:%d" % self.server.grpc_port)
        try:
            stub = tg.pb.prediction_grpc.PredictionServiceStub(ch)
            for data in (self.png, self.jpg):
                req = tg.pb.predict.PredictRequest()
                req.model_spec.name = "emotion"
                tp = req.inputs["input_1"]
                tp.dtype = 7  # DT_STRING
                tp.string_val.append(data)
                resp = stub.Predict(req, timeout=30)
                out = resp.outputs["Identity:0"]
                self.assertEqual([d.size for d in out.tensor_shape.dim], [1, 7])
                got = list(struct.unpack("<7f", out.tensor_content))
                want = self.predict("emotion", {"instances": [{"b64": b64(data)}]})
                self.assertEqual([f32(v) for v in want["predictions"][0]], got)
            req = tg.pb.predict.PredictRequest()
            req.model_spec.name = "emotion"
            tp = req.inputs["input_1"]
            tp.dtype = 7
            tp.string_val.append(self.png[:200])
            with self.assertRaises(tg.grpc.RpcError) as e:
                stub.Predict(req, timeout=30)
            self.assertEqual(e.exception.code(), tg.grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("inputs[\"input_1\"].string_val[0]: input 'input_1:0': corrupt or "
                          "truncated PNG", e.exception.details())
            # The per-tensor limit, as in test_grpc_kserve_bytes_equals_rest.
            tiny = (b"\x89PNG\r\n\x1a\n"
                    + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
                    + png_chunk(b"IDAT", zlib.compress(b"\x00\x80")) + png_chunk(b"IEND", b""))
            req = tg.pb.predict.PredictRequest()
            req.model_spec.name = "emotion"
            tp = req.inputs["input_1"]
            tp.dtype = 7
            tp.string_val.extend([tiny] * 16385)
            with self.assertRaises(tg.grpc.RpcError) as e:
                stub.Predict(req, timeout=30)
            self.assertEqual(e.exception.code(), tg.grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("inputs[\"input_1\"]: 16385 images for input 'input_1:0' make a tensor "
                          "larger than the 268435456 bytes allowed", e.exception.details())
        finally:
            ch.close()

    def test_grpc_kserve_bytes_equals_rest(self):
        """gRPC ModelInfer with a BYTES image input, as contents.bytes_contents and as
        raw_input_contents in KServe's BYTES serialization (a little-endian uint32 length before
        each element), answers what REST KServe BYTES answers for the same files, bit for bit."""
        import test_grpc as tg
        tg.setUpModule()  # generates the stubs (or skips, as test_grpc.py does)
        kv2 = tg.pb.kv2
        ch = tg.grpc.insecure_channel("127.0.0.1:%d" % self.server.grpc_port)

        def request(images, raw, shape=None):
            req = kv2.ModelInferRequest(model_name="emotion")
            it = req.inputs.add(name="input_1", datatype="BYTES",
                                shape=shape if shape is not None else [len(images)])
            if raw:
                req.raw_input_contents.append(
                    b"".join(struct.pack("<I", len(d)) + d for d in images))
            else:
                it.contents.bytes_contents.extend(images)
            return req

        def rest(images):
            ks = self.ok(self.server.post("/v2/models/emotion/infer", {"inputs": [
                {"name": "input_1", "shape": [len(images)], "datatype": "BYTES",
                 "data": [b64(d) for d in images]}]}))
            return ks["outputs"][0]

        try:
            stub = tg.pb.kv2_grpc.GRPCInferenceServiceStub(ch)
            for images in ([self.png], [self.jpg], [self.png, self.jpg, self.png2]):
                want = rest(images)
                for raw in (False, True):
                    resp = stub.ModelInfer(request(images, raw), timeout=60)
                    self.assertEqual([o.name for o in resp.outputs], ["Identity:0"])
                    self.assertEqual(list(resp.outputs[0].shape), want["shape"])
                    self.assertEqual(list(resp.outputs[0].shape), [len(images), 7])
                    got = struct.unpack("<%df" % (7 * len(images)), resp.raw_output_contents[0])
                    self.assertEqual([f32(v) for v in want["data"]], list(got),
                                     "raw=%s, %d images" % (raw, len(images)))
            IA = tg.grpc.StatusCode.INVALID_ARGUMENT
            cut = request([self.png], raw=True)
            cut.raw_input_contents[0] = cut.raw_input_contents[0][:-1]
            bad = [
                (request([self.png[:200]], raw=False), "inputs[0].contents.bytes_contents[0]: "
                 "input 'input_1:0': corrupt or truncated PNG"),
                (request([self.jpg[:300]], raw=True), "raw_input_contents[0][0]: "
                 "input 'input_1:0': corrupt or truncated JPEG"),
                (cut, "raw_input_contents[0]: element 0 at byte 0: its 4-byte length prefix runs "
                 "past the end"),
                (request([self.png, self.png], raw=True, shape=[3]),
                 "raw_input_contents[0]: 2 BYTES elements, but inputs[0].shape is [3]"),
                (request([self.png], raw=False, shape=[2]),
                 "inputs[0].contents.bytes_contents: 1 values, but shape [2] holds 2"),
                (request([self.png], raw=False, shape=[1, 1]),
                 "inputs[0].shape: [1,1]; BYTES images for input 'input_1:0' take shape [N]"),
                (request([b"GIF89a not an image"], raw=False),
                 "not a JPEG or PNG image"),
            ]
            for req, text in bad:
                with self.assertRaises(tg.grpc.RpcError) as e:
                    stub.ModelInfer(req, timeout=30)
                self.assertEqual(e.exception.code(), IA, text)
                self.assertIn(text, e.exception.details())
            # The gRPC front's per-tensor limit (4 x --max_request_bytes, at least 256 MiB) holds
            # for images too, counted before any decoding: 16385 one-pixel PNGs (a 1.3 MB
            # message) would make 16385 x 64 x 64 float32 = 256 MiB + 16 KiB.
            px = zlib.compress(b"\x00\x80")
            tiny = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0,
                                                                          0, 0))
                    + png_chunk(b"IDAT", px) + png_chunk(b"IEND", b""))
            with self.assertRaises(tg.grpc.RpcError) as e:
                stub.ModelInfer(request([tiny] * 16385, raw=True), timeout=30)
            self.assertEqual(e.exception.code(), tg.grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("inputs[0]: 16385 images for input 'input_1:0' make a tensor larger "
                          "than the 268435456 bytes allowed", e.exception.details())
            one = stub.ModelInfer(request([tiny], raw=True), timeout=30)
            self.assertEqual(list(one.outputs[0].shape), [1, 7])
            # BYTES to a model without image input keeps the old answer: not a datatype it takes.
            req = request([self.png], raw=False)
            req.model_name = "plain"
            with self.assertRaises(tg.grpc.RpcError) as e:
                stub.ModelInfer(req, timeout=30)
            self.assertEqual(e.exception.code(), IA)
            self.assertIn("inputs[0].datatype: 'BYTES'", e.exception.details())
        finally:
            ch.close()

    def test_batch_of_images_equals_each_alone(self):
        pair = self.predict("emotion", {"instances": [{"b64": b64(self.png)},
                                                      {"b64": b64(self.png2)}]})["predictions"]
        a = self.predict("emotion", {"instances": [{"b64": b64(self.png)}]})["predictions"]
        b = self.predict("emotion", {"instances": [{"b64": b64(self.png2)}]})["predictions"]
        self.assertEqual(pair, a + b)
        ks = self.ok(self.server.post("/v2/models/emotion/infer", {"inputs": [
            {"name": "input_1", "shape": [2], "datatype": "BYTES",
             "data": [b64(self.png), b64(self.png2)]}]}))
        self.assertEqual(ks["outputs"][0]["shape"], [2, 7])
        self.assertEqual(ks["outputs"][0]["data"], a[0] + b[0])

    # -------------------------------------------------------------- :annotate

    def test_annotate_raw_body_answers_one_object(self):
        r = self.ok(self.raw_post("/v1/models/emotion:annotate?top_k=3", self.png, "image/png"))
        self.assertEqual(r["model"], "emotion")
        self.assertEqual(r["version"], "1")
        self.assertEqual(r["task"], "classification")
        self.assertEqual(r["image"], {"width": 451, "height": 300})
        self.assertEqual(len(r["classes"]), 3)
        scores = self.predict("emotion", {"instances": [{"b64": b64(self.png)}]})["predictions"][0]
        best = max(range(7), key=lambda i: scores[i])
        self.assertEqual(r["classes"][0]["label"], EMOTION_LABELS[best])
        self.assertEqual(f32(r["classes"][0]["score"]), f32(scores[best]))

    def test_annotate_json_instances_answer_predictions(self):
        r = self.ok(self.server.post("/v1/models/emotion:annotate",
                                     {"instances": [{"b64": b64(self.png)},
                                                    {"b64": b64(self.jpg)}]}))
        self.assertEqual(len(r["predictions"]), 2)
        self.assertEqual(r["predictions"][0]["image"], {"width": 451, "height": 300})
        self.assertEqual(r["predictions"][1]["image"], {"width": 640, "height": 427})
        for p in r["predictions"]:
            self.assertEqual((p["model"], p["version"], p["task"]),
                             ("emotion", "1", "classification"))
        pose = self.ok(self.raw_post("/v1/models/movenet:annotate", self.jpg, "image/jpeg"))
        self.assertEqual(pose["task"], "pose")
        self.assertEqual(pose["image"], {"width": 640, "height": 427})

    def test_annotate_runs_instances_one_by_one_on_a_batch_of_one_model(self):
        # movenet's input is [1, 192, 192, 3]: :predict refuses two instances (as TF Serving
        # would), :annotate runs them one by one and answers each as alone.
        body = {"instances": [{"b64": b64(self.png)}, {"b64": b64(self.jpg)}]}
        r = self.server.post("/v1/models/movenet:predict", body)
        self.assertEqual(r.status, 400, r)
        both = self.ok(self.server.post("/v1/models/movenet:annotate", body))["predictions"]
        alone = [self.ok(self.raw_post("/v1/models/movenet:annotate", self.png, "image/png")),
                 self.ok(self.raw_post("/v1/models/movenet:annotate", self.jpg, "image/jpeg"))]
        self.assertEqual(both, alone)
        raw = self.ok(self.server.post("/v1/models/movenet:annotate?raw=true", body))
        one = self.predict("movenet", {"instances": [{"b64": b64(self.jpg)}]})["predictions"]
        self.assertEqual(raw["predictions"][1:], one)

    def test_annotate_errors(self):
        for q, name in (("top_k=abc", "top_k"), ("top_k=0", "top_k"), ("threshold=2", "threshold"),
                        ("threshold=x", "threshold"), ("raw=maybe", "raw")):
            r = self.raw_post("/v1/models/emotion:annotate?" + q, self.png, "image/png")
            self.assertEqual(r.status, 400, (q, r))
            self.assertTrue(r.error().startswith(name + ": "), r.error())
        r = self.raw_post("/v1/models/plain:annotate", self.png, "image/png")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.error(), "model 'plain' has no task (no orchard.json task)")
        r = self.raw_post("/v1/models/nosuch:annotate", self.png, "image/png")
        self.assertEqual(r.status, 404)
        r = self.server.post("/v1/models/emotion:annotate", {"inputs": {"b64": b64(self.png)}})
        self.assertEqual(r.status, 400)
        self.assertIn("':annotate' takes {\"instances\": [...]}", r.error())

    def test_metadata_lists_task_and_image_inputs(self):
        o = self.ok(self.server.get("/v1/models/emotion/metadata"))["orchard"]
        self.assertEqual(o["image_inputs"], ["input_1:0"])
        self.assertEqual(o["task"]["kind"], "classification")
        o = self.ok(self.server.get("/v2/models/plain"))["orchard"]
        self.assertEqual(o["image_inputs"], [])
        self.assertIsNone(o["task"])

    # -------------------------------------------------------------- bad images

    def test_bad_images_are_400_naming_the_input(self):
        bomb = bytearray(self.png[:33])  # signature + IHDR
        struct.pack_into(">II", bomb, 16, 100000, 100000)
        struct.pack_into(">I", bomb, 29, zlib.crc32(bytes(bomb[12:29])))
        bomb = bytes(bomb) + self.png[33:]
        corrupt = self.png[:8] + b"garbage" * 20
        cases = [
            (corrupt, "corrupt or truncated PNG"),
            (self.png[:len(self.png) // 2], "corrupt or truncated PNG"),
            (self.jpg[:len(self.jpg) // 2], "corrupt or truncated JPEG"),
            (bomb, "the PNG image is 100000x100000; at most 16384 pixels a side"),
        ]
        for data, want in cases:
            r = self.predict_error({"instances": [{"b64": b64(data)}]})
            self.assertEqual(r.status, 400, r)
            self.assertIn("instances[0]: input 'input_1:0': " + want, r.error())
            r = self.raw_post("/v1/models/emotion:predict", data, "image/png")
            self.assertEqual(r.status, 400, r)
            self.assertIn("request body: input 'input_1:0': " + want, r.error())
            r = self.server.post("/v2/models/emotion/infer", {"inputs": [
                {"name": "input_1", "shape": [1], "datatype": "BYTES", "data": [b64(data)]}]})
            self.assertEqual(r.status, 400, r)
            self.assertIn("inputs[0].data[0]: input 'input_1:0': " + want, r.error())
        r = self.predict_error({"instances": [{"b64": b64(self.png)}, {"b64": "!!"}]})
        self.assertEqual(r.status, 400)
        self.assertIn("instances[1]", r.error())

    def predict_error(self, body, model="emotion"):
        return self.server.post("/v1/models/%s:predict" % model, body)

    def test_image_to_a_model_without_image_input(self):
        r = self.raw_post("/v1/models/plain:predict", self.png, "image/png")
        self.assertEqual(r.status, 400)
        self.assertIn("input 'input_1:0' takes no encoded images (no \"image\" entry for it in "
                      "the model's orchard.json)", r.error())
        r = self.server.post("/v2/models/plain/infer", {"inputs": [
            {"name": "input_1", "shape": [1], "datatype": "BYTES", "data": [b64(self.png)]}]})
        self.assertEqual(r.status, 400)
        self.assertIn("inputs[0].datatype: 'BYTES' is not supported", r.error())
        # Without orchard.json a b64 value keeps its raw-bytes meaning: a PNG is just bytes.
        r = self.predict_error({"instances": [{"b64": b64(self.png)}]}, model="plain")
        self.assertEqual(r.status, 400)
        self.assertIn("bytes, but input 'input_1:0'", r.error())


class BadGardenCase(unittest.TestCase):
    """An invalid orchard.json fails its version; the version before keeps serving."""

    def test_bad_orchard_json_in_version_2_leaves_version_1_serving(self):
        repo = h.Repo()
        d = repo.add("emotion")
        put_orchard_json(d, EMOTION_JSON)
        cfg = repo.config([{"name": "emotion"}])
        s = h.Server(["--model_config_file=%s" % cfg, "--file_system_poll_wait_seconds=1"])
        s.start()
        try:
            png = read("chelsea.png")
            before = s.post("/v1/models/emotion:predict", png,
                            headers={"Content-Type": "image/png"})
            self.assertEqual(before.status, 200, before)
            bad = dict(EMOTION_JSON, task=dict(EMOTION_JSON["task"]))
            bad["inputs"] = {"input_1": {"image": {"size": [32, 32]}}}
            tmp = os.path.join(repo.base("emotion"), ".tmp-2")
            os.makedirs(tmp)
            for f in os.listdir(d):
                if f != "orchard.json":
                    os.symlink(os.path.realpath(os.path.join(d, f)), os.path.join(tmp, f))
            put_orchard_json(tmp, bad)
            os.rename(tmp, os.path.join(repo.base("emotion"), "2"))
            st = h.wait_until(lambda: s.status_of("emotion").get("2", {}).get("state") == "END"
                              and s.status_of("emotion")["2"], 30, "version 2 to fail")
            err = st["status"]["error_message"]
            self.assertIn("/emotion/2/orchard.json: inputs.input_1.image.size: [32, 32] does not "
                          "match input 'input_1:0'", err)
            self.assertEqual(s.status_of("emotion")["1"]["state"], "AVAILABLE")
            after = s.post("/v1/models/emotion:predict", png, headers={"Content-Type": "image/png"})
            self.assertEqual(after.status, 200, after)
            self.assertEqual(after.json(), before.json())
        finally:
            s.stop()
            s.kill()


if __name__ == "__main__":
    unittest.main()
