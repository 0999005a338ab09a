"""
test_ops.py - issue 4 item 5, operations: Prometheus metrics (orchard_ names, model labels,
status codes, histograms), health, the dashboard, JSON logs with a request id, SIGTERM during
load (every request the daemon accepted is answered, exit 0 within the grace period) and
SIGHUP reloading the config.
"""
import http.client
import json
import re
import signal
import socket
import threading
import time
import unittest

import harness as h

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')


def parse_metrics(text):
    """[(name, {label: value}, value)] of a Prometheus text exposition; raises on bad lines."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


class Operations(h.ServerCase):
    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")
        cls.repo.add("liveness")
        cls.config = cls.repo.config([{"name": "emotion"}, {"name": "liveness"}])

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.config]

    def test_metrics(self):
        x = h.sample_inputs("emotion", 1)
        body = self.predict_body_rows(x)
        for _ in range(3):
            self.assertEqual(self.server.post("/v1/models/emotion:predict", body).status, 200)
        self.assertEqual(self.server.post("/v1/models/emotion/versions/9:predict", body).status,
                         404)
        for path in ("/monitoring/prometheus/metrics", "/metrics"):
            r = self.server.get(path)
            self.assertEqual(r.status, 200, "GET %s: %r" % (path, r))
            self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"),
                            r.headers.get("content-type"))
            samples = parse_metrics(r.body.decode())
            self.assertTrue(samples)
            bad = sorted({n for n, _, _ in samples if not n.startswith("orchard_")})
            self.assertEqual(bad, [], "metric names without the orchard_ prefix")
            emotion = [(n, l, v) for n, l, v in samples if l.get("model") == "emotion"]
            self.assertTrue(emotion, 'no sample labelled model="emotion"')
            # A request counter by model and status code: 3 x 200 and 1 x 404 so far at least.
            codes = {}
            for n, l, v in emotion:
                if n.endswith("_total") and not n.endswith("_bucket"):
                    for val in l.values():
                        if val in ("200", "404"):
                            codes[val] = max(codes.get(val, 0), v)
            self.assertGreaterEqual(codes.get("200", 0), 3, "no request counter for code 200")
            self.assertGreaterEqual(codes.get("404", 0), 1, "no request counter for code 404")
            # Latency histograms with buckets.
            buckets = [n for n, l, _ in samples if n.endswith("_bucket") and "le" in l]
            self.assertTrue(buckets, "no histogram")
            self.assertTrue(any("latency" in n or "seconds" in n or "duration" in n
                                for n in buckets), buckets[:5])

    def test_health_and_dashboard(self):
        self.assertEqual(self.server.get("/v2/health/live").status, 200)
        self.assertEqual(self.server.get("/v2/health/ready").status, 200)
        r = self.server.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/html", r.headers.get("content-type", ""))
        self.assertEqual(self.server.get("/dashboard/nope.js").status, 404)

    def test_repository_index(self):
        r = self.server.post("/v2/repository/index", b"{}")
        self.assertEqual(r.status, 200, r)
        entries = r.json()
        self.assertIn({"name": "emotion", "version": "1", "state": "READY", "reason": ""}, entries)
        self.assertEqual(self.server.get("/v2/repository/index").status, 405)


class Signals(unittest.TestCase):
    def setUp(self):
        self.repo = h.Repo()
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.kill()

    def test_sigterm_during_load(self):
        """Clients on fresh connections keep sending a ~10-40 ms request; SIGTERM arrives while
        several are in flight. A request either never reached the daemon (connection refused)
        or gets a full answer: 200, or 503 with a JSON error for one that came after readiness
        turned false. A reset or an empty answer to a request that was sent is a lost
        request."""
        self.repo.add("emotion")
        self.server = h.Server(["--model_name=emotion",
                                "--model_base_path=%s" % self.repo.base("emotion")]).start()
        port = self.server.rest_port
        x = h.sample_inputs("emotion", 4)
        body = json.dumps({"instances": [x["input_1:0"].row(i) for i in range(4)]}).encode()
        results, lock = h.lock_list()
        stop = threading.Event()

        def loop(tid):
            while not stop.is_set():
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                t0 = time.monotonic()
                try:
                    c.connect()
                except (ConnectionRefusedError, socket.timeout):
                    with lock:
                        results.append(("refused", t0, time.monotonic(), None))
                    time.sleep(0.01)
                    continue
                try:
                    c.request("POST", "/v1/models/emotion:predict", body=body,
                              headers={"Content-Type": "application/json"})
                    r = c.getresponse()
                    data = r.read()
                    item = (r.status, t0, time.monotonic(), data)
                except Exception as e:
                    item = ("lost", t0, time.monotonic(), repr(e))
                finally:
                    c.close()
                with lock:
                    results.append(item)

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            t_sig = time.monotonic()
            self.server.send_signal(signal.SIGTERM)
            try:
                # The in-flight requests take milliseconds: exiting must not wait for the
                # grace period to run out.
                rc = self.server.proc.wait(15)
            except Exception:
                self.fail("orchard serve did not exit within 15 s of SIGTERM although its "
                          "requests in flight take milliseconds:\n" + self.server.log_tail(8))
            t_exit = time.monotonic()
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(rc, 0, "exit status after SIGTERM:\n%s" % self.server.log_tail())
        before = [r for r in results if r[1] < t_sig]
        ok_before = [r for r in before if r[0] == 200]
        self.assertGreater(len(ok_before), 5, "the load did not run before SIGTERM")
        # A connection the kernel queued on the listening socket after SIGTERM, but which the
        # daemon never accepted, is reset when the listener closes: that request never reached
        # the daemon, like a refused one. A reset of a request begun before SIGTERM is lost.
        def never_reached(r):
            return r[0] == "lost" and r[1] > t_sig and "ConnectionResetError" in r[3]
        lost = [r for r in results
                if r[0] not in (200, 503, "refused") and not never_reached(r)]
        self.assertEqual(lost[:5], [], "%d of %d requests lost around SIGTERM"
                         % (len(lost), len(results)))
        for st, _, _, data in results:
            if st == 503:
                self.assertIn("error", json.loads(data))
        in_flight = [r for r in results if r[0] == 200 and r[1] < t_sig < r[2]]
        self.assertTrue(in_flight, "no request in flight at SIGTERM was answered")
        self.assertLess(t_exit - t_sig, 15)

    def test_sighup_reloads_config(self):
        self.repo.add("emotion")
        self.repo.add("liveness")
        cfg = self.repo.config([{"name": "emotion"}])
        # Polling effectively off: only SIGHUP may pick the change up.
        self.server = h.Server(["--model_config_file=%s" % cfg,
                                "--file_system_poll_wait_seconds=3600"]).start()
        self.assertEqual(self.server.get("/v1/models/liveness").status, 404)
        self.repo.config([{"name": "liveness"}], path=cfg)
        self.server.send_signal(signal.SIGHUP)
        h.wait_until(lambda: self.server.status_of("liveness").get("1", {}).get("state")
                     == "AVAILABLE", 15, "liveness after SIGHUP")
        x = h.sample_inputs("liveness", 1)
        want = h.expected("liveness", x)[0][1]
        r = self.server.post("/v1/models/liveness:predict",
                             {"instances": [x["conv2d_1_input"].row(0)]})
        self.assertEqual(r.status, 200, r)
        h.assert_nested_equal(self, r.json()["predictions"], want, "liveness predictions")
        # emotion left the config: it stops serving.
        h.wait_until(lambda: self.server.get("/v2/models/emotion/ready").status != 200, 15,
                     "emotion to unload after SIGHUP")
        r = self.server.post("/v1/models/emotion:predict",
                             {"instances": [h.nest([0.5] * 4096, [64, 64, 1])]})
        self.assertIn(r.status, (404, 503), r)
        self.assertEqual(self.server.stop(), 0)

    def test_json_logs_with_request_id(self):
        self.repo.add("emotion")
        self.server = h.Server(["--model_name=emotion",
                                "--model_base_path=%s" % self.repo.base("emotion"),
                                "--log_format=json"]).start()
        x = h.sample_inputs("emotion", 1)
        r = self.server.post("/v1/models/emotion:predict",
                             {"instances": [x["input_1:0"].row(0)]})
        self.assertEqual(r.status, 200)
        self.server.post("/v1/models/nosuchmodel:predict", {"instances": [1]})
        self.assertEqual(self.server.stop(), 0)
        lines = [l for l in self.server.log().splitlines() if l.strip()]
        self.assertTrue(lines, "no log lines")
        objs = []
        for l in lines:
            try:
                objs.append(json.loads(l))
            except ValueError:
                self.fail("log line is not JSON: %r" % l)
        self.assertTrue(all(isinstance(o, dict) for o in objs))
        keyed = [o for o in objs if any(re.search(r"req.*id", k, re.I) for k in o)]
        self.assertTrue(keyed, "no log line carries a request id")


if __name__ == "__main__":
    unittest.main()
