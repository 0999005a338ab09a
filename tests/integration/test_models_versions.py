"""
test_models_versions.py - issue 4 item 3: one model by flags, many by --model_config_file,
version policies and labels, a new version dropped into the repository while a client loops on
predict (no failed request, answers switch to the new version), a broken version (the old one
keeps serving and the status shows the failure), the config file re-read when it changes, and
config errors naming the file and the field.

Version 2 of a model is version 1 with one bias weight changed (harness.tweak_weight), so the
signature is the same and the answers differ; expected answers of each version come from
`orchard run` on that version's directory.
"""
import json
import os
import subprocess
import threading
import time
import unittest

import harness as h

POLL = 1  # --file_system_poll_wait_seconds for the tests that change the repository


def emotion_answer(server, path, body):
    r = server.post(path, body)
    if r.status != 200:
        raise AssertionError("POST %s: %r" % (path, r))
    return r.json()["predictions"]


class Versions(unittest.TestCase):
    def setUp(self):
        self.repo = h.Repo()
        self.server = None
        self.x = h.sample_inputs("emotion", 1)
        self.body = {"instances": [self.x["input_1:0"].row(0)]}

    def tearDown(self):
        if self.server is not None:
            try:
                self.assertEqual(self.server.stop(), 0, "exit status after SIGTERM")
            finally:
                self.server.kill()

    def start(self, *args):
        self.server = h.Server(list(args)).start()
        return self.server

    def want(self, version):
        d = os.path.join(self.repo.base("emotion"), str(version))
        return h.orchard_run(d, self.x)[0][1]

    def assert_answer(self, path, version):
        h.assert_nested_equal(self, emotion_answer(self.server, path, self.body),
                              self.want(version), "%s (version %s)" % (path, version))

    def available(self, model, *versions):
        st = self.server.status_of(model)
        return all(st.get(str(v), {}).get("state") == "AVAILABLE" for v in versions)

    # ---- one model by flags -----------------------------------------------------------------

    def test_single_model_flags(self):
        self.repo.add("emotion")
        self.start("--model_name", "emotion", "--model_base_path", self.repo.base("emotion"))
        self.assert_answer("/v1/models/emotion:predict", 1)
        self.assertEqual(self.server.status_of("emotion")["1"]["state"], "AVAILABLE")

    def test_non_version_entries_are_ignored(self):
        self.repo.add("emotion")
        base = self.repo.base("emotion")
        os.makedirs(os.path.join(base, "latest"))
        os.makedirs(os.path.join(base, "0"))
        os.makedirs(os.path.join(base, "-3"))
        with open(os.path.join(base, "README"), "w") as f:
            f.write("not a version\n")
        self.start("--model_name=emotion", "--model_base_path=%s" % base)
        self.assertEqual(sorted(self.server.status_of("emotion")), ["1"])
        self.assert_answer("/v1/models/emotion:predict", 1)

    # ---- policies and labels ----------------------------------------------------------------

    def test_policy_all_with_labels(self):
        self.repo.add("emotion")
        self.repo.add_tweaked("emotion", version=2)
        cfg = self.repo.config([{"name": "emotion", "model_version_policy": {"all": {}},
                                 "version_labels": {"stable": 1, "canary": 2}}])
        self.start("--model_config_file=%s" % cfg)
        h.wait_until(lambda: self.available("emotion", 1, 2), 20, "versions 1 and 2")
        self.assert_answer("/v1/models/emotion/versions/1:predict", 1)
        self.assert_answer("/v1/models/emotion/versions/2:predict", 2)
        self.assert_answer("/v1/models/emotion/labels/stable:predict", 1)
        self.assert_answer("/v1/models/emotion/labels/canary:predict", 2)
        self.assert_answer("/v1/models/emotion:predict", 2)  # no version: the latest
        self.assertNotEqual(self.want(1).values, self.want(2).values)

    def test_policy_latest_and_specific(self):
        self.repo.add("emotion")
        self.repo.add_tweaked("emotion", version=2, delta=-1.0)
        self.repo.add_tweaked("emotion", version=3, delta=1.0)
        self.repo.add("gender")
        cfg = self.repo.config([
            {"name": "emotion", "model_version_policy": {"latest": {"num_versions": 2}}},
            {"name": "gender", "model_version_policy": {"specific": {"versions": [1]}}}])
        self.start("--model_config_file=%s" % cfg)
        h.wait_until(lambda: self.available("emotion", 2, 3), 20, "versions 2 and 3")
        st = self.server.status_of("emotion")
        self.assertNotEqual(st.get("1", {}).get("state"), "AVAILABLE", st)
        self.assert_answer("/v1/models/emotion/versions/2:predict", 2)
        self.assert_answer("/v1/models/emotion/versions/3:predict", 3)
        r = self.server.post("/v1/models/emotion/versions/1:predict", self.body)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.server.status_of("gender")["1"]["state"], "AVAILABLE")

    # ---- a new version while a client loops -------------------------------------------------

    def test_new_version_while_client_loops(self):
        self.repo.add("emotion")
        self.start("--model_name=emotion", "--model_base_path=%s" % self.repo.base("emotion"),
                   "--file_system_poll_wait_seconds=%d" % POLL)
        v1 = self.want(1)
        results, lock = h.lock_list()
        stop = threading.Event()

        def loop():
            c = h.Client(self.server.rest_port)
            while not stop.is_set():
                try:
                    r = c.request("POST", "/v1/models/emotion:predict", self.body)
                    item = (r.status, r.json()["predictions"] if r.status == 200 else r.body)
                except Exception as e:  # a failed request is a result too
                    item = ("exception", repr(e))
                with lock:
                    results.append(item)
            c.close()

        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            self.repo.add_tweaked("emotion", version=2)  # renamed into place in one step
            v2 = self.want(2)
            as_v2 = lambda: h.flatten(results[-1][1])[0] if results and results[-1][0] == 200 \
                else None
            h.wait_until(lambda: as_v2() is not None and
                         [h.f32(v) for v in as_v2()] == v2.values, 10 + 2 * POLL,
                         "answers from version 2")
            time.sleep(0.5)
            # Version 1 retires (latest, 1 version): it must not be AVAILABLE any more.
            h.wait_until(lambda: self.server.status_of("emotion").get("1", {}).get("state")
                         != "AVAILABLE", 10, "version 1 to retire")
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        failed = [r for r in results if r[0] != 200]
        self.assertEqual(failed[:5], [], "%d of %d requests failed during the switch"
                         % (len(failed), len(results)))
        seen = []
        for _, preds in results:
            vals = [h.f32(v) for v in h.flatten(preds)[0]]
            self.assertIn(vals, (v1.values, v2.values), "an answer from neither version")
            seen.append(1 if vals == v1.values else 2)
        self.assertGreater(seen.count(1), 0)
        self.assertGreater(seen.count(2), 0)
        # With two clients a v1 answer may still arrive just after the first v2 one, but once
        # version 1 has retired every answer is from version 2.
        self.assertEqual(seen[-5:], [2] * 5)

    # ---- a broken version -------------------------------------------------------------------

    def test_broken_version_keeps_old_serving(self):
        self.repo.add("emotion")
        self.start("--model_name=emotion", "--model_base_path=%s" % self.repo.base("emotion"),
                   "--file_system_poll_wait_seconds=%d" % POLL)
        self.assert_answer("/v1/models/emotion:predict", 1)
        self.repo.add_broken("emotion", 2, how="truncated")

        def failure_shown():
            st = self.server.status_of("emotion")
            e = st.get("2")
            return e is not None and e["status"]["error_code"] != "OK" and st
        st = h.wait_until(failure_shown, 10 + 2 * POLL, "version 2's failure in the status")
        self.assertTrue(st["2"]["status"]["error_message"], st)
        self.assertNotEqual(st["2"]["state"], "AVAILABLE", st)
        self.assertEqual(st["1"]["state"], "AVAILABLE", st)
        self.assertEqual(st["1"]["status"]["error_code"], "OK", st)
        for _ in range(3):
            self.assert_answer("/v1/models/emotion:predict", 1)
        # Reported in the log and in a metric too (item 3).
        self.assertIn(st["2"]["status"]["error_message"], self.server.log())
        metrics = self.server.get("/metrics").body.decode()
        fails = [l for l in metrics.splitlines() if l.startswith("orchard_") and "fail" in
                 l.split("{")[0] and 'model="emotion"' in l and float(l.split()[-1]) >= 1]
        self.assertTrue(fails, "no orchard_*fail* metric counts the failed load")
        # A version whose shard is missing fails the same way; version 1 still serves.
        self.repo.add_broken("emotion", 3, how="missing-shard")
        h.wait_until(lambda: self.server.status_of("emotion").get("3", {}).get(
            "status", {}).get("error_code", "OK") != "OK", 10 + 2 * POLL,
            "version 3's failure in the status")
        self.assert_answer("/v1/models/emotion:predict", 1)
        self.assertEqual(self.server.get("/v2/models/emotion/ready").status, 200)

    # ---- the config file changes --------------------------------------------------------------

    def test_config_file_reread_when_changed(self):
        self.repo.add("emotion")
        self.repo.add("liveness")
        cfg = self.repo.config([{"name": "emotion"}])
        self.start("--model_config_file=%s" % cfg, "--file_system_poll_wait_seconds=%d" % POLL)
        self.assertEqual(self.server.get("/v1/models/liveness").status, 404)
        time.sleep(1.1)  # a new mtime even on a file system with 1 s resolution
        self.repo.config([{"name": "emotion"}, {"name": "liveness"}], path=cfg)
        h.wait_until(lambda: self.available("liveness", 1), 10 + 2 * POLL, "liveness to load")
        x = h.sample_inputs("liveness", 1)
        want = h.expected("liveness", x)[0][1]
        r = self.server.post("/v1/models/liveness:predict", self.predict_rows(x))
        self.assertEqual(r.status, 200, r)
        h.assert_nested_equal(self, r.json()["predictions"], want, "liveness predictions")
        self.assert_answer("/v1/models/emotion:predict", 1)

    def predict_rows(self, x):
        (t,) = x.values()
        return {"instances": [t.row(i) for i in range(t.shape[0])]}

    # ---- errors in flags and config ---------------------------------------------------------

    def run_serve(self, *args):
        try:
            return subprocess.run([h.BIN, "serve", "--port=%d" % h.free_port(),
                                   "--rest_api_port=%d" % h.free_port()] + list(args),
                                  capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("orchard serve %s kept running instead of failing" % " ".join(args))

    def test_config_errors_name_file_and_field(self):
        self.repo.add("emotion")
        bad = os.path.join(self.repo.dir, "bad.json")
        with open(bad, "w") as f:
            json.dump({"model_config_list": [{"name": "emotion", "base_path": 5}]}, f)
        p = self.run_serve("--model_config_file=%s" % bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bad.json", p.stderr)
        self.assertIn("base_path", p.stderr)
        with open(bad, "w") as f:
            json.dump({"model_config_list": [
                {"name": "emotion", "base_path": self.repo.base("emotion"),
                 "model_version_policy": {"latest": {"num_versions": "two"}}}]}, f)
        p = self.run_serve("--model_config_file=%s" % bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bad.json", p.stderr)
        self.assertIn("num_versions", p.stderr)
        with open(bad, "w") as f:
            f.write('{"model_config_list": [')
        p = self.run_serve("--model_config_file=%s" % bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("bad.json", p.stderr)

    def test_flag_errors_name_the_flag(self):
        p = self.run_serve("--no_such_flag=1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no_such_flag", p.stderr)
        p = self.run_serve("--model_name=emotion", "--model_base_path=/nonexistent",
                           "--file_system_poll_wait_seconds=soon")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("file_system_poll_wait_seconds", p.stderr)


class DefaultGarden(unittest.TestCase):
    """config/models.json, served as the README's first command serves it (from the repo
    root): the eight garden models of design.md load, and their KServe metadata agrees with
    `orchard inspect`."""

    GARDEN = ["emotion", "gender", "nsfw", "blazeface", "selfie", "meet", "movenet",
              "centernet"]

    def test_default_garden_config(self):
        cfg = os.path.join(h.ROOT, "config", "models.json")
        with open(cfg) as f:
            names = [e["name"] for e in json.load(f)["model_config_list"]]
        self.assertEqual(sorted(names), sorted(self.GARDEN))
        for n in names:
            h.model_dir(n)  # skips when models/ was not fetched
        server = h.Server(["--model_config_file=config/models.json"], cwd=h.ROOT).start()
        try:
            for n in names:
                st = server.status_of(n)
                self.assertEqual(st.get("1", {}).get("state"), "AVAILABLE", (n, st))
                j = server.get("/v2/models/%s" % n).json()
                info = h.inspect(n)
                ty = {"float32": "FP32", "int32": "INT32", "bool": "BOOL"}
                self.assertEqual([(i["name"], i["datatype"], i["shape"]) for i in j["inputs"]],
                                 [(i["name"], ty[i["dtype"]], i["shape"])
                                  for i in info["inputs"]], n)
                self.assertEqual([(o["name"], o["datatype"]) for o in j["outputs"]],
                                 [(o["name"], ty[o["dtype"]]) for o in info["outputs"]], n)
            x = h.sample_inputs("emotion", 1)
            r = server.post("/v1/models/emotion:predict",
                            {"instances": [x["input_1:0"].row(0)]})
            self.assertEqual(r.status, 200, r)
            h.assert_nested_equal(self, r.json()["predictions"], h.expected("emotion", x)[0][1],
                                  "emotion predictions")
        finally:
            self.assertEqual(server.stop(), 0)
            server.kill()


if __name__ == "__main__":
    unittest.main()
