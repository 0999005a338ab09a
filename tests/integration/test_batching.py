"""
test_batching.py - dynamic batching (issue 5) through a real daemon started with
--enable_batching and a --batching_parameters_file.

Batch rows are independent in these models, so a request answered from a shared, padded or
split batch must equal `orchard run` on that request alone bit for bit (harness.py explains
the comparison). Covered: concurrent requests of different sizes, a request larger than
max_batch_size split and reassembled, requests of different spatial sizes (esrgan-slim takes
any H x W) never sharing a batch, the queue bound refusing at once (429), a request larger
than max_batch_size refused when splitting is off, and a request whose deadline
(--rest_api_timeout_in_ms) passes while queued being answered with a timeout and dropped
before a worker runs it (orchard_batch_expired_total counts it), with Retry-After on the
queue-full refusal. Issue 5's later parts: the metadata endpoints' "orchard" key (workers x
threads, auto-tune, effective batching parameters) and the matching log line; a model's
batching_parameters override in the model config (another model keeps the file's values; a
bad override stops the start naming the file and JSON path); --auto_tune with batching (the
pick fits the CPUs, is logged before the version serves, and answers stay exact).

The timing cases are made deterministic by long batch timeouts rather than by racing: a
batch that waits 1.5 s for company is still queued when the next request arrives.
"""
import json
import os
import re
import threading
import time
import unittest

import harness as h


def batching_file(**fields):
    d = h.tmpdir("batching-")
    path = os.path.join(d, "batching.json")
    with open(path, "w") as f:
        json.dump(fields, f)
    return path


def metric(server, name, labels_contain=""):
    """Sum of the samples of `name` whose label text contains `labels_contain`."""
    text = server.get("/metrics").body.decode()
    total, seen = 0.0, False
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
        if m and labels_contain in (m.group(1) or ""):
            total += float(m.group(2))
            seen = True
    return total if seen else None


class BatchingCase(h.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert "batching is not available" not in cls.server.log(), "the server did not batch"


class Batching(BatchingCase):
    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.repo.add("mixed")
        cls.repo.add("esrgan", source="esrgan-slim-x2")
        cls.config = cls.repo.config([{"name": "emotion"}, {"name": "mixed"},
                                      {"name": "esrgan"}])

    @classmethod
    def serve_args(cls):
        f = batching_file(max_batch_size=8, batch_timeout_micros=20000, max_enqueued_batches=64,
                          num_batch_threads=2, allowed_batch_sizes=[1, 2, 4, 8],
                          enable_large_batch_splitting=True)
        return ["--model_config_file=%s" % cls.config, "--enable_batching",
                "--batching_parameters_file=%s" % f]

    def concurrent(self, jobs):
        """Runs fn() of every job on its own thread at once; returns their results in order."""
        results = [None] * len(jobs)
        start = threading.Barrier(len(jobs))

        def go(i):
            start.wait()
            try:
                results[i] = jobs[i]()
            except Exception as e:  # reported by the caller
                results[i] = e

        ts = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        return results

    def test_concurrent_requests_get_their_own_answers(self):
        cases = [h.sample_inputs("emotion", 1 + i % 3, seed=i + 1) for i in range(12)]
        wants = [h.expected("emotion", x)[0][1] for x in cases]
        body = [self.predict_body_rows(x) for x in cases]
        res = self.concurrent([lambda b=b: self.server.post("/v1/models/emotion:predict", b)
                               for b in body])
        for i, r in enumerate(res):
            self.assertNotIsInstance(r, Exception, "request %d: %r" % (i, r))
            self.assertEqual(r.status, 200, "request %d: %r" % (i, r))
            h.assert_nested_equal(self, r.json()["predictions"], wants[i], "request %d" % i)
        count = metric(self.server, "orchard_batch_size_count", 'model="emotion"')
        self.assertIsNotNone(count, "no orchard_batch_size for emotion in /metrics")
        self.assertGreaterEqual(count, 1)
        self.assertIsNotNone(metric(self.server, "orchard_batch_padding_fraction"))

    def test_multi_input_model_batches_every_dtype(self):
        cases = [h.sample_inputs("mixed", 1 + i % 2, seed=i + 3) for i in range(6)]
        wants = [h.expected("mixed", x) for x in cases]
        body = [{"inputs": {k: t.nested() for k, t in x.items()}} for x in cases]
        res = self.concurrent([lambda b=b: self.server.post("/v1/models/mixed:predict", b)
                               for b in body])
        for i, r in enumerate(res):
            self.assertEqual(r.status, 200, "request %d: %r" % (i, r))
            outs = r.json()["outputs"]
            for name, want in wants[i]:
                h.assert_nested_equal(self, outs[name], want, "request %d %s" % (i, name))

    def test_a_large_request_is_split_and_reassembled(self):
        x = h.sample_inputs("emotion", 19, seed=5)  # 8 + 8 + 3 rows
        want = h.expected("emotion", x)[0][1]
        r = self.server.post("/v1/models/emotion:predict", self.predict_body_rows(x))
        self.assertEqual(r.status, 200, repr(r))
        h.assert_nested_equal(self, r.json()["predictions"], want, "19-row request")

    def test_metadata_shows_how_the_version_is_served(self):
        want = {"max_batch_size": 8, "batch_timeout_micros": 20000, "max_enqueued_batches": 64,
                "num_batch_threads": 2, "allowed_batch_sizes": [1, 2, 4, 8],
                "enable_large_batch_splitting": True, "model_override": False}
        for path in ("/v1/models/emotion/metadata", "/v1/models/emotion/versions/1/metadata",
                     "/v2/models/emotion", "/v2/models/emotion/versions/1"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "%s: %r" % (path, r))
            o = r.json().get("orchard")
            self.assertIsInstance(o, dict, "%s has no 'orchard' key: %r" % (path, r))
            self.assertEqual(o["batching"], want, path)
            self.assertEqual(o["workers"], 2, path)  # num_batch_threads
            self.assertGreaterEqual(o["intra_op_threads"], 1, path)
            self.assertIs(o["auto_tuned"], False, path)
        # The same numbers in the log line of the version going AVAILABLE.
        line = [l for l in self.server.log().splitlines()
                if "model 'emotion' version 1: AVAILABLE" in l]
        self.assertTrue(line, self.server.log_tail())
        self.assertIn("2 workers x %d threads" % o["intra_op_threads"], line[0])
        self.assertIn("max_batch_size 8, batch_timeout_micros 20000, max_enqueued_batches 64, "
                      "num_batch_threads 2, allowed_batch_sizes [1,2,4,8], "
                      "enable_large_batch_splitting true", line[0])

    def test_different_spatial_sizes_never_share_a_batch(self):
        sizes = [(4, 4), (6, 4), (4, 4), (5, 7), (6, 4), (4, 4)]
        cases = []
        for i, (hh, ww) in enumerate(sizes):
            g = h._lcg(100 + i)
            vals = [h.f32((next(g) % 1000) / 1000.0) for _ in range(hh * ww * 3)]
            cases.append({"LR": h.Tensor("float32", [1, hh, ww, 3], vals)})
        wants = [h.expected("esrgan", x, mdir=h.model_dir("esrgan-slim-x2"))[0][1]
                 for x in cases]
        body = [{"inputs": {"LR": x["LR"].nested()}} for x in cases]
        res = self.concurrent([lambda b=b: self.server.post("/v1/models/esrgan:predict", b)
                               for b in body])
        for i, r in enumerate(res):
            self.assertEqual(r.status, 200, "request %d (%dx%d): %r" % (i, *sizes[i], r))
            h.assert_nested_equal(self, r.json()["outputs"], wants[i],
                                  "request %d (%dx%d)" % (i, *sizes[i]))


class BatchingLimits(BatchingCase):
    """One slot of at most 4 rows that waits 1.5 s for company; requests time out at 500 ms."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")

    @classmethod
    def serve_args(cls):
        f = batching_file(max_batch_size=4, batch_timeout_micros=1500000, max_enqueued_batches=1,
                          num_batch_threads=2, enable_large_batch_splitting=False)
        return ["--model_name=emotion", "--model_base_path=%s" % cls.repo.base("emotion"),
                "--enable_batching", "--batching_parameters_file=%s" % f,
                "--rest_api_timeout_in_ms=500"]

    def setUp(self):
        # The previous test's batch leaves at most 1.5 s after it was opened.
        h.wait_until(lambda: metric(self.server, "orchard_batch_queued_batches") == 0, 5,
                     "an empty batching queue")

    def post_rows(self, n, seed):
        x = h.sample_inputs("emotion", n, seed=seed)
        return self.server.post("/v1/models/emotion:predict", self.predict_body_rows(x))

    def test_a_full_queue_refuses_at_once_and_deadlines_expire(self):
        first = []
        t = threading.Thread(target=lambda: first.append(self.post_rows(3, 1)))
        t.start()
        h.wait_until(lambda: metric(self.server, "orchard_batch_queued_batches") == 1, 5,
                     "the first request to wait in the batcher")
        t0 = time.monotonic()
        r = self.post_rows(3, 2)  # 3 + 3 > 4: needs a second slot, and there is none
        self.assertLess(time.monotonic() - t0, 0.4, "refusal was not immediate")
        self.assertIn(r.status, (429, 503), repr(r))
        self.assertIn("max_enqueued_batches", r.error())
        # Retry-After: the one waiting batch still has to wait out its 1.5 s timeout, so the
        # estimate is whole seconds >= 1 and, here, about 2 (never absurd).
        ra = r.headers.get("retry-after")
        self.assertIsNotNone(ra, "no Retry-After on a queue-full refusal: %r" % r.headers)
        self.assertRegex(ra, r"^[0-9]+$")
        self.assertGreaterEqual(int(ra), 1)
        self.assertLessEqual(int(ra), 10)
        t.join(10)
        # The first request waited past its 500 ms deadline: a timeout, not an answer.
        self.assertIn(first[0].status, (503, 504), repr(first[0]))
        before = metric(self.server, "orchard_batch_size_count") or 0
        h.wait_until(lambda: (metric(self.server, "orchard_batch_expired_total") or 0) >= 1, 5,
                     "the expired request to be dropped")
        # Dropped before any worker ran it: no batch of it was counted.
        self.assertEqual(metric(self.server, "orchard_batch_size_count") or 0, before)
        self.assertGreaterEqual(metric(self.server, "orchard_batch_rejected_total"), 1)

    def test_too_large_without_splitting_is_refused(self):
        r = self.post_rows(5, 3)
        self.assertEqual(r.status, 400, repr(r))
        self.assertIn("max_batch_size 4", r.error())
        self.assertIn("enable_large_batch_splitting", r.error())


class BatchingOverride(BatchingCase):
    """Two models on the same files: 'small' overrides max_batch_size to 2 in the model config,
    'emotion' keeps the batching file's 8; splitting is off for both."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.repo.add("small", source="emotion")
        cls.config = cls.repo.config([
            {"name": "emotion"},
            {"name": "small", "batching_parameters": {"max_batch_size": 2,
                                                      "batch_timeout_micros": 0}}])

    @classmethod
    def serve_args(cls):
        f = batching_file(max_batch_size=8, batch_timeout_micros=5000, max_enqueued_batches=16,
                          num_batch_threads=1, allowed_batch_sizes=[1, 2, 4, 8],
                          enable_large_batch_splitting=False)
        return ["--model_config_file=%s" % cls.config, "--enable_batching",
                "--batching_parameters_file=%s" % f]

    def test_the_override_applies_to_its_model_only(self):
        x = h.sample_inputs("emotion", 3, seed=11)
        want = h.expected("emotion", x)[0][1]
        r = self.server.post("/v1/models/emotion:predict", self.predict_body_rows(x))
        self.assertEqual(r.status, 200, repr(r))
        h.assert_nested_equal(self, r.json()["predictions"], want, "emotion, 3 rows")
        r = self.server.post("/v1/models/small:predict", self.predict_body_rows(x))
        self.assertEqual(r.status, 400, repr(r))
        self.assertIn("max_batch_size 2", r.error())
        x2 = h.sample_inputs("emotion", 2, seed=12)
        r = self.server.post("/v1/models/small:predict", self.predict_body_rows(x2))
        self.assertEqual(r.status, 200, repr(r))
        h.assert_nested_equal(self, r.json()["predictions"], h.expected("emotion", x2)[0][1],
                              "small, 2 rows")

    def test_metadata_shows_each_models_effective_parameters(self):
        small = self.server.get("/v1/models/small/metadata").json()["orchard"]["batching"]
        # Fields the override gave, the rest from the file; the file's allowed sizes are cut
        # at the new maximum.
        self.assertEqual(small, {"max_batch_size": 2, "batch_timeout_micros": 0,
                                 "max_enqueued_batches": 16, "num_batch_threads": 1,
                                 "allowed_batch_sizes": [1, 2],
                                 "enable_large_batch_splitting": False,
                                 "model_override": True})
        emo = self.server.get("/v2/models/emotion").json()["orchard"]["batching"]
        self.assertEqual(emo["max_batch_size"], 8)
        self.assertEqual(emo["batch_timeout_micros"], 5000)
        self.assertEqual(emo["allowed_batch_sizes"], [1, 2, 4, 8])
        self.assertIs(emo["model_override"], False)
        self.assertIn("model 'small' version 1: AVAILABLE", self.server.log())
        self.assertIn("batching (model override): max_batch_size 2", self.server.log())


class BatchingOverrideErrors(unittest.TestCase):
    def test_a_bad_override_stops_the_start_naming_file_and_path(self):
        repo = h.Repo()
        repo.add("emotion")
        cfg = repo.config([{"name": "emotion",
                            "batching_parameters": {"max_batch_size": 4,
                                                    "allowed_batch_sizes": [1, 2]}}])
        s = h.Server(["--model_config_file=%s" % cfg, "--enable_batching"])
        with self.assertRaises(AssertionError) as cm:
            s.start(timeout=30)
        text = str(cm.exception)
        self.assertIn("exited", text)
        self.assertIn("%s: model_config_list[0].batching_parameters.allowed_batch_sizes[1]" % cfg,
                      text)


class AutoTune(BatchingCase):
    """--auto_tune with batching: workers come from the measurement (num_batch_threads is not
    in the file), threads too; answers stay exact."""

    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")

    @classmethod
    def serve_args(cls):
        f = batching_file(max_batch_size=4, batch_timeout_micros=2000,
                          allowed_batch_sizes=[1, 2, 4], enable_large_batch_splitting=True)
        return ["--model_name=emotion", "--model_base_path=%s" % cls.repo.base("emotion"),
                "--enable_batching", "--batching_parameters_file=%s" % f, "--auto_tune"]

    def test_pick_fits_the_cpus_and_shows_in_log_and_metadata(self):
        cpus = len(os.sched_getaffinity(0))
        o = self.server.get("/v1/models/emotion/metadata").json()["orchard"]
        self.assertIs(o["auto_tuned"], True, o)
        t = o["auto_tune"]
        self.assertEqual((o["workers"], o["intra_op_threads"]), (t["workers"], t["threads"]))
        self.assertLessEqual(o["workers"] * o["intra_op_threads"], cpus, o)
        self.assertEqual(o["batching"]["num_batch_threads"], o["workers"])
        self.assertEqual(o["batching"]["allowed_batch_sizes"], [1, 2, 4])
        log = self.server.log()
        if t["measured"]:
            self.assertGreaterEqual(t["configs_measured"], 2, t)
            self.assertIn(t["batch"], (1, 2, 4))
            self.assertIn("--auto_tune pick: %d workers x %d threads"
                          % (t["workers"], t["threads"]), log)
        else:  # one CPU: a single split fits
            self.assertIn("nothing to measure", log)
        self.assertIn("AVAILABLE", log)
        self.assertRegex(log, r"AVAILABLE \([0-9.]+ s, %d workers x %d threads, auto-tuned"
                         % (o["workers"], o["intra_op_threads"]))
        # The tuning ran before the version served: its log line comes first.
        tuned = "--auto_tune pick" if t["measured"] else "nothing to measure"
        self.assertLess(log.index(tuned), log.index("AVAILABLE"))

    def test_predictions_match_orchard_run(self):
        for n, seed in ((1, 21), (3, 22), (6, 23)):
            x = h.sample_inputs("emotion", n, seed=seed)
            r = self.server.post("/v1/models/emotion:predict", self.predict_body_rows(x))
            self.assertEqual(r.status, 200, repr(r))
            h.assert_nested_equal(self, r.json()["predictions"], h.expected("emotion", x)[0][1],
                                  "%d rows" % n)


if __name__ == "__main__":
    unittest.main()
