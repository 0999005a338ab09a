"""
test_dockerfile.py - static checks that keep the Dockerfile in step with the binary and the
manifests (the image build itself is scripts/build-image, run by tests/deploy/run when
ORCHARD_TEST_IMAGE=1): the runtime stage's ENTRYPOINT is `orchard serve`, its CMD flags are
flags `orchard serve --help` lists and name files the image has, it EXPOSEs 8500 and 8501, its
USER is the numeric non-root uid the Deployment runs as, and the context whitelist
(.dockerignore) lets in what the COPY lines need.
"""
import json
import os
import re
import unittest

import yaml

import test_kustomize as tk

ROOT = tk.ROOT


def runtime_stage():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    stages, cur = {}, None
    for ln in lines:
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", ln, re.I)
        if m:
            cur = m.group(1) or "stage%d" % len(stages)
            stages[cur] = []
        elif cur:
            stages[cur].append(ln)
    return stages, list(stages)[-1]


class Dockerfile(unittest.TestCase):
    def setUp(self):
        self.stages, last = runtime_stage()
        self.rt = self.stages[last]

    def instr(self, name):
        return [ln[len(name):].strip() for ln in self.rt if ln.upper().startswith(name + " ")]

    def test_entrypoint_and_cmd(self):
        self.assertEqual(json.loads(self.instr("ENTRYPOINT")[-1]), ["orchard", "serve"])
        cmd = json.loads(self.instr("CMD")[-1])
        flags = tk.parse_args(cmd)
        self.assertFalse(set(flags) - tk.serve_flags(), "CMD flags orchard serve lacks")
        self.assertEqual(flags["port"], "8500")
        self.assertEqual(flags["rest_api_port"], "8501")
        copied = " ".join(self.instr("COPY"))
        for k in ("model_config_file", "batching_parameters_file"):
            if k in flags:
                base = os.path.basename(flags[k])
                self.assertIn(base, copied, "--%s=%s is not copied into the image" % (k, flags[k]))
                self.assertTrue(os.path.isfile(os.path.join(ROOT, "config", base)))

    def test_expose_user(self):
        self.assertEqual(sorted(" ".join(self.instr("EXPOSE")).split()), ["8500", "8501"])
        user = self.instr("USER")[-1].split(":")[0]
        self.assertTrue(user.isdigit() and int(user) != 0, "USER must be a numeric non-root uid")
        with open(os.path.join(ROOT, "deploy", "k8s", "base", "deployment.yaml")) as f:
            dep = yaml.safe_load(f)
        self.assertEqual(dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
                         int(user))

    def test_context_whitelist(self):
        with open(os.path.join(ROOT, ".dockerignore")) as f:
            allowed = [ln.strip()[1:].rstrip("/") for ln in f if ln.strip().startswith("!")]
        for stage in self.stages.values():
            for ln in stage:
                m = re.match(r"COPY\s+(?!--from)(.*)\s+\S+$", ln, re.I)
                if not m:
                    continue
                for src in m.group(1).split():
                    if src == ".":
                        continue
                    src = src.rstrip("/")
                    self.assertTrue(any(src == a or src.startswith(a + "/") for a in allowed),
                                    "COPY %s: not let in by .dockerignore" % src)
                    self.assertTrue(os.path.exists(os.path.join(ROOT, src)), src)


if __name__ == "__main__":
    unittest.main()
