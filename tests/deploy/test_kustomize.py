"""
test_kustomize.py - renders deploy/k8s/base and every overlay with `kubectl kustomize`, checks
the manifests against what `orchard serve` really accepts and answers, and starts `orchard
serve` with each rendering's args and ConfigMap files.

Static checks, per rendering: the Deployment, Service, ConfigMap, HPA and PDB are there and
agree (names, selectors, named ports); every container arg is `--flag=value` with a flag that
`orchard serve --help` lists; every file an arg names under the ConfigMap's mount is a key of
that ConfigMap and parses; models.json's models exist in models/; workers x intra-op threads
fit the CPU limit (with --enable_batching the workers are batching.json's num_batch_threads,
which must equal the inter-op flag); requests <= limits; the ports of the probes are the
server's --port / --rest_api_port; the pod has a lame duck (--lame_duck_seconds, or a
preStop sleep) and the grace period covers it plus the server's drain (30 s); non-root and a
read-only root filesystem; base/'s config files equal config/'s.

Live check, per rendering: the ConfigMap's files are written to a temp dir, the args' /config
paths rewritten to it and the ports to free loopback ports; `orchard serve` runs from the repo
root (so models.json's "models/..." base_paths resolve to models/), and must get ready; every
HTTP probe path answers 200, the gRPC probe (grpc.health.v1 Check, service "") answers
SERVING, one predict on the first model of models.json answers, the RSS stays under the memory
limit, and after SIGTERM (readiness 503 at once, the REST port still answering when there is a
lame duck) the process exits 0 within terminationGracePeriodSeconds.

Needs: kubectl with kustomize v5 (skipped, saying so, without one), python3-yaml, models/
(scripts/fetch-models), the orchard binary (ORCHARD_BIN, default build/orchard); the gRPC probe
also python3-grpcio and protoc.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ORCHARD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("ORCHARD_BIN") or os.path.join(ROOT, "build", "orchard")
K8S = os.path.join(ROOT, "deploy", "k8s")
sys.path.insert(0, os.path.join(ROOT, "loadtest"))
import orchard_lt  # noqa: E402

SERVER_GRACE_S = 30  # server/serve.c GRACE_SECONDS: in-flight requests get this long on SIGTERM
RENDERINGS = ["base"] + sorted("overlays/" + d for d in os.listdir(os.path.join(K8S, "overlays"))
                               if os.path.isfile(os.path.join(K8S, "overlays", d,
                                                              "kustomization.yaml")))


def setUpModule():
    # Debian 12's kubernetes-client (1.20) has a kustomize too old for these files; the machines
    # this project runs on have a recent kubectl (Google Cloud SDK's). Without one: skip, loudly,
    # except in CI, where it must be there.
    missing = AssertionError if os.environ.get("CI") else unittest.SkipTest
    if not shutil.which("kubectl"):
        raise missing("kubectl is not installed: Kustomize renderings not checked")
    p = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True,
                       text=True, timeout=30)
    try:
        kv = json.loads(p.stdout).get("kustomizeVersion", "")
    except ValueError:
        kv = ""
    m = re.match(r"v(\d+)", kv)
    if not m or int(m.group(1)) < 5:
        raise missing("kubectl's kustomize %r is older than v5: renderings not checked"
                                % kv)


def render(rel):
    p = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, rel)], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("kubectl kustomize %s failed: %s" % (rel, p.stderr.strip()))
    return [d for d in yaml.safe_load_all(p.stdout) if d]


_FLAGS = None


def serve_flags():
    global _FLAGS
    if _FLAGS is None:
        p = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=30)
        text = p.stdout + p.stderr
        _FLAGS = set(re.findall(r"^\s+--([a-z_]+)=", text, re.M))
        if "port" not in _FLAGS:
            raise AssertionError("could not read the flags of `orchard serve --help`:\n" + text)
    return _FLAGS


def cpu(q):
    q = str(q)
    return float(q[:-1]) / 1000.0 if q.endswith("m") else float(q)


def mem(q):
    q = str(q)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
             "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[:-len(u)]) * f
    return float(q)


def parse_args(args):
    out = {}
    for a in args:
        m = re.fullmatch(r"--([a-z_]+)=(.*)", a)
        if not m:
            raise AssertionError("container arg %r is not --flag=value" % a)
        # The overlays patch args by index: a shifted index shows up as a flag given twice.
        if m.group(1) in out:
            raise AssertionError("flag --%s given twice in %s" % (m.group(1), args))
        out[m.group(1)] = m.group(2)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port, path, timeout=5):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


class Rendering:
    """The objects of one rendering, by kind, plus the facts the checks share."""

    def __init__(self, rel):
        self.rel = rel
        self.docs = render(rel)
        self.by_kind = {}
        for d in self.docs:
            self.by_kind.setdefault(d["kind"], []).append(d)
        self.deploy = self.one("Deployment")
        self.pod = self.deploy["spec"]["template"]["spec"]
        self.c = self.pod["containers"][0]
        self.flags = parse_args(self.c.get("args", []))
        mounts = {m["name"]: m["mountPath"] for m in self.c.get("volumeMounts", [])}
        self.config_files, self.config_mount = {}, None
        for v in self.pod.get("volumes", []):
            if "configMap" in v and v["name"] in mounts:
                cm = [c for c in self.by_kind.get("ConfigMap", [])
                      if c["metadata"]["name"] == v["configMap"]["name"]]
                if len(cm) != 1:
                    raise AssertionError("%s: volume %s names ConfigMap %s, not rendered"
                                         % (rel, v["name"], v["configMap"]["name"]))
                self.config_mount = mounts[v["name"]]
                self.config_files = cm[0]["data"]

    def one(self, kind):
        objs = self.by_kind.get(kind, [])
        if len(objs) != 1:
            raise AssertionError("%s: %d objects of kind %s, want 1" % (self.rel, len(objs), kind))
        return objs[0]

    def config_file(self, flag):
        """Contents of the ConfigMap file a path flag names (None when the flag is absent)."""
        path = self.flags.get(flag)
        if path is None:
            return None
        prefix = self.config_mount.rstrip("/") + "/"
        if not path.startswith(prefix):
            raise AssertionError("%s: --%s=%s is not under the ConfigMap mount %s"
                                 % (self.rel, flag, path, self.config_mount))
        key = path[len(prefix):]
        if key not in self.config_files:
            raise AssertionError("%s: --%s=%s: the ConfigMap has no key %r (has %s)"
                                 % (self.rel, flag, path, key, sorted(self.config_files)))
        return self.config_files[key]

    def workers_threads(self):
        intra = int(self.flags.get("tensorflow_intra_op_parallelism", "0"))
        inter = int(self.flags.get("tensorflow_inter_op_parallelism", "0"))
        workers = inter
        if self.flags.get("enable_batching") in ("true", "1"):
            bp = json.loads(self.config_file("batching_parameters_file") or "{}")
            workers = bp.get("num_batch_threads", 1)
            if inter and inter != workers:
                raise AssertionError("%s: --tensorflow_inter_op_parallelism=%d but batching "
                                     "num_batch_threads=%d (batching uses the latter)"
                                     % (self.rel, inter, workers))
        return workers, intra


_CACHE = {}


def rendering(rel):
    if rel not in _CACHE:
        _CACHE[rel] = Rendering(rel)
    return _CACHE[rel]


class StaticChecks(unittest.TestCase):
    def test_base_config_equals_config_dir(self):
        for f in ("models.json", "batching.json"):
            with open(os.path.join(K8S, "base", f)) as a, open(os.path.join(ROOT, "config", f)) as b:
                self.assertEqual(json.load(a), json.load(b),
                                 "deploy/k8s/base/%s differs from config/%s" % (f, f))

    def test_renderings(self):
        self.assertIn("overlays/dev", RENDERINGS)
        self.assertGreaterEqual(len(RENDERINGS), 6, RENDERINGS)
        for rel in RENDERINGS:
            with self.subTest(rendering=rel):
                self.check(rendering(rel))

    def check(self, r):
        rel, c, pod, flags = r.rel, r.c, r.pod, r.flags
        # Every arg is a flag the binary knows.
        unknown = set(flags) - serve_flags()
        self.assertFalse(unknown, "%s: flags orchard serve does not list: %s" % (rel, unknown))
        self.assertNotIn("ssl_config_file", flags, "%s: TLS is not supported yet" % rel)
        # Files named by args exist in the ConfigMap and parse; models exist.
        self.assertIsNotNone(r.config_mount, "%s: no ConfigMap volume mounted" % rel)
        models = json.loads(r.config_file("model_config_file"))
        for m in models["model_config_list"]:
            bp = m["base_path"]
            self.assertFalse(os.path.isabs(bp), "%s: base_path %s: the image resolves relative "
                             "paths against /, where /models is" % (rel, bp))
            self.assertTrue(os.path.isfile(os.path.join(ROOT, bp, "1", "model.json")),
                            "%s: model %s: %s/1/model.json missing" % (rel, m["name"], bp))
        if "batching_parameters_file" in flags:
            json.loads(r.config_file("batching_parameters_file"))
        # Threads fit the CPU limit; requests <= limits.
        res = c["resources"]
        lim_cpu, req_cpu = cpu(res["limits"]["cpu"]), cpu(res["requests"]["cpu"])
        workers, intra = r.workers_threads()
        self.assertGreater(workers, 0, "%s: workers must be explicit" % rel)
        self.assertGreater(intra, 0, "%s: intra-op threads must be explicit" % rel)
        self.assertLessEqual(workers * intra, lim_cpu,
                             "%s: %d workers x %d threads > CPU limit %g"
                             % (rel, workers, intra, lim_cpu))
        self.assertLessEqual(req_cpu, lim_cpu, rel)
        self.assertLessEqual(mem(res["requests"]["memory"]), mem(res["limits"]["memory"]), rel)
        # Ports: named, and the probes' ports are the server's.
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports.get("grpc"), int(flags["port"]), rel)
        self.assertEqual(ports.get("http"), int(flags["rest_api_port"]), rel)
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            self.assertIn(kind, c, "%s: no %s" % (rel, kind))
            p = c[kind]
            if "httpGet" in p:
                port = p["httpGet"]["port"]
                self.assertEqual(ports.get(port, port), int(flags["rest_api_port"]),
                                 "%s: %s port" % (rel, kind))
                self.assertIn(p["httpGet"]["path"], ("/v2/health/ready", "/v2/health/live"),
                              "%s: %s path" % (rel, kind))
            else:
                self.assertIn("grpc", p, "%s: %s is neither httpGet nor grpc" % (rel, kind))
                self.assertEqual(p["grpc"]["port"], int(flags["port"]), rel)
        self.assertTrue(any("grpc" in c[k] for k in ("readinessProbe", "livenessProbe")),
                        "%s: no probe uses gRPC health checking" % rel)
        # Drain: endpoints drop a terminating pod some seconds late, so the pod keeps serving
        # that long (the server's lame duck, or a preStop sleep delaying SIGTERM); that plus
        # the server's grace fit the termination grace period.
        pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        pre_s = 0
        if pre:
            self.assertEqual(pre[0], "sleep", rel)
            pre_s = int(pre[1])
        lame_s = int(flags.get("lame_duck_seconds", 0))
        self.assertGreater(pre_s + lame_s, 0, "%s: no lame duck (--lame_duck_seconds) nor "
                           "preStop sleep: requests routed before the endpoints update would be "
                           "refused" % rel)
        self.assertGreaterEqual(pod["terminationGracePeriodSeconds"],
                                pre_s + lame_s + SERVER_GRACE_S, rel)
        # Non-root, read-only root filesystem, /tmp writable.
        self.assertTrue(pod["securityContext"]["runAsNonRoot"], rel)
        self.assertNotEqual(pod["securityContext"].get("runAsUser", 0), 0, rel)
        self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"], rel)
        self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"], rel)
        self.assertIn("/tmp", [m["mountPath"] for m in c["volumeMounts"]], rel)
        # Service, HPA, PDB point at this Deployment's pods.
        labels = r.deploy["spec"]["template"]["metadata"]["labels"]
        sel = r.deploy["spec"]["selector"]["matchLabels"]
        self.assertLessEqual(sel.items(), labels.items(), rel)
        svc = r.one("Service")
        self.assertLessEqual(svc["spec"]["selector"].items(), labels.items(), rel)
        sports = {p["name"]: p for p in svc["spec"]["ports"]}
        self.assertEqual(set(sports), {"grpc", "http"}, rel)
        self.assertEqual(sports["grpc"]["port"], 8500, rel)
        self.assertEqual(sports["http"]["port"], 8501, rel)
        for name, p in sports.items():
            self.assertIn(p["targetPort"], (name, ports[name]), rel)
        hpa = r.one("HorizontalPodAutoscaler")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], r.deploy["metadata"]["name"], rel)
        self.assertEqual(hpa["spec"]["minReplicas"], r.deploy["spec"]["replicas"], rel)
        self.assertGreaterEqual(hpa["spec"]["maxReplicas"], hpa["spec"]["minReplicas"], rel)
        pdb = r.one("PodDisruptionBudget")
        self.assertLessEqual(pdb["spec"]["selector"]["matchLabels"].items(), labels.items(), rel)

    def test_node_shapes(self):
        """The experiment's node pools: (vCPU, GB, replicas) per overlay."""
        shapes = {"2cpu-4gb": (2, 4, 8), "4cpu-8gb": (4, 8, 4), "8cpu-16gb": (8, 16, 2),
                  "8cpu-64gb": (8, 64, 2), "dev": (None, None, 1)}
        for name, (vcpu, gb, replicas) in shapes.items():
            with self.subTest(overlay=name):
                r = rendering("overlays/" + name)
                self.assertEqual(r.deploy["spec"]["replicas"], replicas)
                if vcpu is None:
                    continue
                res = r.c["resources"]
                self.assertLessEqual(cpu(res["limits"]["cpu"]), vcpu)
                self.assertLessEqual(cpu(res["requests"]["cpu"]), vcpu - 0.1,
                                     "leave room for the node's system pods")
                self.assertLess(mem(res["limits"]["memory"]), gb * 1e9 * 0.95)
                workers, intra = r.workers_threads()
                self.assertEqual(workers * intra, vcpu, "threads should use the whole node")


class LiveChecks(unittest.TestCase):
    """orchard serve with each rendering's args and ConfigMap files."""

    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise AssertionError("no orchard binary at %s (set ORCHARD_BIN)" % BIN)
        try:
            orchard_lt.grpc_stubs()
            cls.grpc_reason = None
        except orchard_lt.StubsUnavailable as e:
            cls.grpc_reason = str(e)
        cls.tmp = tempfile.mkdtemp(prefix="orchard-deploy-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_serves(self):
        for rel in RENDERINGS:
            with self.subTest(rendering=rel):
                self.serve(rendering(rel))

    def serve(self, r):
        cdir = os.path.join(self.tmp, r.rel.replace("/", "_"))
        os.makedirs(cdir)
        for k, v in r.config_files.items():
            with open(os.path.join(cdir, k), "w") as f:
                f.write(v)
        rest, grpc_port = free_port(), free_port()
        while grpc_port == rest:
            grpc_port = free_port()
        prefix = r.config_mount.rstrip("/") + "/"
        args = []
        for a in r.c["args"]:
            k, v = a[2:].split("=", 1)
            if k == "port":
                v = str(grpc_port)
            elif k == "rest_api_port":
                v = str(rest)
            elif v.startswith(prefix):
                v = os.path.join(cdir, v[len(prefix):])
            args.append("--%s=%s" % (k, v))
        log_path = os.path.join(cdir, "serve.log")
        log = open(log_path, "w")
        proc = subprocess.Popen([BIN, "serve"] + args, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self.probe_and_predict(r, proc, rest, grpc_port, log_path)
            # SIGTERM: the drain ends, exit status 0, within the pod's grace period.
            grace = r.pod["terminationGracePeriodSeconds"]
            proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            if int(r.flags.get("lame_duck_seconds", 0)) > 0:
                # Lame duck: not ready at once, yet the REST listener still answers.
                time.sleep(0.2)
                self.assertEqual(http_status(rest, "/v2/health/ready", 2), 503, r.rel)
                self.assertEqual(http_status(rest, "/v2/health/live", 2), 200, r.rel)
            rc = proc.wait(grace)
            self.assertEqual(rc, 0, "%s: exit status after SIGTERM\n%s" % (r.rel, tail(log_path)))
            self.assertLess(time.monotonic() - t0, grace, r.rel)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()

    def probe_and_predict(self, r, proc, rest, grpc_port, log_path):
        startup = r.c["startupProbe"]
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        deadline = time.monotonic() + min(budget, 120)
        while True:
            self.assertIsNone(proc.poll(), "%s: orchard serve exited:\n%s" % (r.rel, tail(log_path)))
            if http_status(rest, "/v2/health/ready", 2) == 200:
                break
            self.assertLess(time.monotonic(), deadline,
                            "%s: not ready within the startup probe's budget\n%s"
                            % (r.rel, tail(log_path)))
            time.sleep(0.1)
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            p = r.c[kind]
            if "httpGet" in p:
                self.assertEqual(http_status(rest, p["httpGet"]["path"]), 200,
                                 "%s: %s GET %s" % (r.rel, kind, p["httpGet"]["path"]))
            elif self.grpc_reason:
                print("\n  %s: gRPC probe not checked: %s" % (r.rel, self.grpc_reason))
            else:
                status = orchard_lt.grpc_health("127.0.0.1:%d" % grpc_port,
                                                p["grpc"].get("service", ""))
                self.assertEqual(status, "SERVING", "%s: %s gRPC health" % (r.rel, kind))
        model = json.loads(r.config_file("model_config_file"))["model_config_list"][0]["name"]
        base = "http://127.0.0.1:%d" % rest
        body = orchard_lt.rest_body(orchard_lt.spec_from_metadata(base, model))
        req = urllib.request.Request("%s/v1/models/%s:predict" % (base, model), data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            self.assertEqual(resp.status, 200)
            self.assertIn("predictions", json.load(resp))
        rss = rss_bytes(proc.pid)
        limit = mem(r.c["resources"]["limits"]["memory"])
        self.assertLess(rss, limit, "%s: RSS %d > memory limit %d" % (r.rel, rss, limit))


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "\n".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


if __name__ == "__main__":
    unittest.main()
