#!/usr/bin/python3
"""
make_reference.py - the TF.js reference answers tests/integration/test_annotate.py compares
Orchard's :annotate against, cached by content.

    /usr/bin/python3 tests/annotate/make_reference.py      # prints the reference's path

reference.js takes about a minute (eight models x three images on TF.js's CPU backend), so
its output is kept in <repo>/.cache/annotate/ref-<key>.json, where <key> hashes everything
the answers depend on: reference.js, package-lock.json, the garden's orchard.json files, the
models' model.json files and the test images. scripts/test runs this before ctest so the
integration suite only reads the file; the test runs it too when it is missing (standalone
runs). `npm ci` installs tests/annotate/node_modules when absent. Standard library only.
"""
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ORCHARD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
IMAGES = [os.path.join(SKIMAGE, f) for f in ("astronaut.png", "chelsea.png", "coffee.png")]
MODELS = ["emotion", "gender", "nsfw", "blazeface", "selfie", "meet", "movenet", "centernet"]


def _key():
    h = hashlib.sha256()
    files = [os.path.join(HERE, "reference.js"), os.path.join(HERE, "package-lock.json")]
    files += [os.path.join(ROOT, "config", "garden", m + ".orchard.json") for m in MODELS]
    files += [os.path.join(ROOT, "models", m, "1", "model.json") for m in MODELS]
    files += IMAGES
    for f in files:
        h.update(f.encode() + b"\0")
        with open(f, "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()[:16]


def reference_path():
    """Path of the reference JSON, generating it first when it is not cached."""
    for f in IMAGES:
        if not os.path.isfile(f):
            raise FileNotFoundError("%s is missing: install python3-skimage (scripts/bootstrap)" % f)
    out_dir = os.path.join(ROOT, ".cache", "annotate")
    out = os.path.join(out_dir, "ref-%s.json" % _key())
    if os.path.isfile(out):
        return out
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@tensorflow", "tfjs")) or \
            not os.path.isdir(os.path.join(HERE, "node_modules", "pngjs")):
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=HERE,
                       check=True, stdout=sys.stderr)
    os.makedirs(out_dir, exist_ok=True)
    tmp = "%s.tmp-%d" % (out, os.getpid())
    subprocess.run(["node", os.path.join(HERE, "reference.js"), tmp, "--root", ROOT,
                    "--images", ",".join(IMAGES), "--models", ",".join(MODELS)],
                   check=True, stdout=sys.stderr)
    os.replace(tmp, out)
    return out


if __name__ == "__main__":
    print(reference_path())
