"""
harness.py - what every integration test shares: start `orchard serve` on free loopback ports
over a temporary model repository, talk HTTP to it, and compute expected answers with
`orchard run` on the same input.

Standard library only (the suite runs with /usr/bin/python3 on a bare Debian). Invariants:
- a test never changes models/ nor uses the ports 8500/8501: repositories are temp directories whose
  version dirs are real directories holding symlinks to the files of models/<name>/1 (or
  copies, when a test changes a weight), and ports come from the kernel (bind to port 0);
- expected values come from `orchard run` on the very same tensor we send, read back from its
  .npy files, and comparisons are exact: a JSON number is rounded to float32 and must equal
  the float32 of the .npy bit for bit (ints and bools compare as values);
- every daemon started is stopped at exit, even when a test fails half way.

Run: `ctest -L integration` in a build dir, or from the repository root
    ORCHARD_BIN=build/orchard /usr/bin/python3 -m unittest discover -s tests/integration -v
(one file: `cd tests/integration && python3 -m unittest test_errors -v`; set
ORCHARD_IT_SHOW_ERRORS=1 to print every error message test_errors.py checks).

Environment: ORCHARD_BIN (default <repo>/build/orchard), ORCHARD_SOURCE_DIR (default: two
levels up from this file). Inputs are build/conformance/ref/<model>/inputs/0.npy when the
conformance suite made them, else deterministic pseudo-random values.
"""
import array
import ast
import atexit
import hashlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ORCHARD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("ORCHARD_BIN") or os.path.join(ROOT, "build", "orchard")
MODELS = os.path.join(ROOT, "models")
FIXTURES = os.path.join(HERE, "fixtures")
# Conformance references are named after the npm model, the garden after its alias.
REF_NAMES = {"movenet": "movenet-lightning", "nsfw": "nsfwjs-mobilenet_v2"}

_TMP = tempfile.mkdtemp(prefix="orchard-it-")
_SERVERS = []


def _cleanup():
    for s in list(_SERVERS):
        s.kill()
    shutil.rmtree(_TMP, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=_TMP)


def model_dir(name):
    """Version 1 of a garden model, or a fixture of tests/integration/fixtures."""
    for base in (FIXTURES, MODELS):
        d = os.path.join(base, name, "1")
        if os.path.isfile(os.path.join(d, "model.json")):
            return d
    raise FileNotFoundError("model %s is missing: run scripts/fetch-models" % name)


# ---------------------------------------------------------------------------------------------
# Tensors and .npy
# ---------------------------------------------------------------------------------------------

_NPY = {  # descr -> (our dtype, array typecode)
    "<f4": ("float32", "f"), "<i4": ("int32", "i"), "|b1": ("bool", "B"),
    "|u1": ("uint8", "B"), "<i8": ("int64", "q"), "<f8": ("float64", "d"),
}
_DESCR = {"float32": "<f4", "int32": "<i4", "bool": "|b1", "uint8": "|u1"}
_CODE = {"float32": "f", "int32": "i", "bool": "B", "uint8": "B"}


class Tensor:
    """A dense C-ordered tensor: dtype ("float32", "int32", "bool", "uint8"), shape, flat values
    (Python floats, ints or bools)."""

    def __init__(self, dtype, shape, values):
        self.dtype, self.shape, self.values = dtype, list(shape), list(values)
        if numel(self.shape) != len(self.values):
            raise ValueError("shape %s holds %d values, got %d"
                             % (self.shape, numel(self.shape), len(self.values)))

    def nested(self):
        return nest(self.values, self.shape)

    def row(self, i):
        """Example i of the batch (dimension 0), as a nested list."""
        n = numel(self.shape[1:])
        return nest(self.values[i * n:(i + 1) * n], self.shape[1:])

    def raw(self):
        """The little-endian bytes of the values, as in a .npy body."""
        vals = [int(bool(v)) for v in self.values] if self.dtype == "bool" else self.values
        return array.array(_CODE[self.dtype], vals).tobytes()

    def __repr__(self):
        return "Tensor(%s, %s)" % (self.dtype, self.shape)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = numel(shape[1:])
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def flatten(value):
    """(flat values, shape) of a nested JSON list; raises ValueError when ragged."""
    if not isinstance(value, list):
        return [value], []
    if not value:
        return [], [0]
    parts = [flatten(v) for v in value]
    shape = parts[0][1]
    flat = []
    for vals, s in parts:
        if s != shape:
            raise ValueError("ragged list")
        flat.extend(vals)
    return flat, [len(value)] + shape


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError("%s: not a .npy file" % path)
    major = data[6]
    if major == 1:
        hlen, start = struct.unpack("<H", data[8:10])[0], 10
    else:
        hlen, start = struct.unpack("<I", data[8:12])[0], 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    if header.get("fortran_order"):
        raise ValueError("%s: Fortran order" % path)
    dtype, code = _NPY[header["descr"]]
    shape = list(header["shape"])
    vals = array.array(code)
    vals.frombytes(data[start + hlen:start + hlen + numel(shape) * vals.itemsize])
    vals = vals.tolist()
    if dtype == "bool":
        vals = [bool(v) for v in vals]
    elif dtype == "int64":
        dtype = "int32"
    elif dtype == "float64":
        dtype, vals = "float32", [f32(v) for v in vals]
    return Tensor(dtype, shape, vals)


def write_npy(path, t):
    shape = "(%s)" % "".join("%d, " % d for d in t.shape) if len(t.shape) != 1 \
        else "(%d,)" % t.shape[0]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (_DESCR[t.dtype], shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(t.raw())


def f32(x):
    """x rounded to float32 (what the daemon must have meant by the JSON number)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


# ---------------------------------------------------------------------------------------------
# Models: facts from `orchard inspect`, inputs, expected outputs from `orchard run`
# ---------------------------------------------------------------------------------------------

_INSPECT = {}


def inspect(name):
    """`orchard inspect` of models/<name>/1: {"inputs": [...], "outputs": [...]}."""
    if name not in _INSPECT:
        p = subprocess.run([BIN, "inspect", model_dir(name)], capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            raise AssertionError("orchard inspect %s failed: %s" % (name, p.stderr.strip()))
        _INSPECT[name] = json.loads(p.stdout)
    return _INSPECT[name]


def _lcg(seed):
    x = seed & 0xFFFFFFFF
    while True:
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        yield x


def _synth(dtype, shape, seed):
    g = _lcg(seed)
    n = numel(shape)
    if dtype == "float32":
        return Tensor(dtype, shape, [f32((next(g) % 10000) / 10000.0) for _ in range(n)])
    if dtype == "int32":
        return Tensor(dtype, shape, [next(g) % 256 for _ in range(n)])
    return Tensor(dtype, shape, [bool(next(g) & 1) for _ in range(n)])


def sample_inputs(name, batch=1, seed=0):
    """{input name: Tensor} for model `name` with batch `batch`. Example 0 of seed 0 is the
    conformance reference input when there is one; other examples are deterministic variants
    (rolled copies or pseudo-random values), so batch rows differ."""
    info = inspect(name)
    out = {}
    for k, io in enumerate(info["inputs"]):
        shape = [d if d >= 0 else 1 for d in io["shape"]]
        shape[0] = 1
        ref = os.path.join(ROOT, "build", "conformance", "ref", REF_NAMES.get(name, name),
                           "inputs", "%d.npy" % k)
        base = None
        if seed == 0 and os.path.isfile(ref):
            t = read_npy(ref)
            if t.shape == shape and t.dtype == io["dtype"]:
                base = t
        if base is None:
            base = _synth(io["dtype"], shape, seed * 7919 + k + 1)
        rows = []
        n = len(base.values)
        for b in range(batch):
            r = (b * 9973) % n if n else 0
            rows.extend(base.values[r:] + base.values[:r])
        out[io["name"]] = Tensor(io["dtype"], [batch] + shape[1:], rows)
    return out


_RUN_CACHE = {}


def orchard_run(mdir, inputs):
    """Runs `orchard run` on model dir `mdir` with {name: Tensor}; returns an ordered list of
    (output name, Tensor) as the CLI wrote them."""
    h = hashlib.sha1(mdir.encode())
    for k in sorted(inputs):
        h.update(k.encode() + inputs[k].dtype.encode() + repr(inputs[k].shape).encode())
        h.update(inputs[k].raw())
    key = h.hexdigest()
    if key in _RUN_CACHE:
        return _RUN_CACHE[key]
    d = tmpdir("run-")
    cmd = [BIN, "run", mdir]
    for i, (k, t) in enumerate(inputs.items()):
        p = os.path.join(d, "in%d.npy" % i)
        write_npy(p, t)
        cmd += ["--input", "%s=%s" % (k, p)]
    cmd += ["--output-dir", os.path.join(d, "out")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), p.stderr.strip()))
    with open(os.path.join(d, "out", "outputs.json")) as f:
        listing = json.load(f)
    res = [(o["name"], read_npy(os.path.join(d, "out", o["file"]))) for o in listing]
    _RUN_CACHE[key] = res
    return res


def expected(name, inputs, mdir=None):
    return orchard_run(mdir or model_dir(name), inputs)


def assert_values_equal(tc, got_flat, got_shape, want, what):
    """Exact comparison of decoded JSON values with a Tensor from `orchard run`."""
    tc.assertEqual(list(got_shape), want.shape, "%s: shape" % what)
    tc.assertEqual(len(got_flat), len(want.values), "%s: element count" % what)
    for i, (g, w) in enumerate(zip(got_flat, want.values)):
        if want.dtype == "float32":
            ok = isinstance(g, (int, float)) and not isinstance(g, bool) and (
                f32(g) == w or (math.isnan(w) and math.isnan(f32(g))))
        elif want.dtype == "bool":
            ok = isinstance(g, bool) and g == w
        else:
            ok = isinstance(g, int) and not isinstance(g, bool) and g == w
        if not ok:
            tc.fail("%s: element %d is %r, `orchard run` gives %r (%s)"
                    % (what, i, g, w, want.dtype))


def assert_nested_equal(tc, got, want, what):
    try:
        flat, shape = flatten(got)
    except ValueError:
        tc.fail("%s: ragged JSON array in the answer" % what)
    assert_values_equal(tc, flat, shape, want, what)


# ---------------------------------------------------------------------------------------------
# Repositories and config files
# ---------------------------------------------------------------------------------------------

class Repo:
    """A temporary model repository: <dir>/<name>/<version>/ real directories whose files link
    to a source model (so a test may add, break or delete versions freely)."""

    def __init__(self):
        self.dir = tmpdir("repo-")

    def base(self, name):
        return os.path.join(self.dir, name)

    def add(self, name, source=None, version=1, copy=False, atomic=False):
        """Adds version `version` of `name` from models/<source>/1 (source defaults to name).
        atomic: build it under a hidden name and rename it in, as a deployment tool would."""
        src = model_dir(source or name)
        base = self.base(name)
        os.makedirs(base, exist_ok=True)
        final = os.path.join(base, str(version))
        dst = os.path.join(base, ".tmp-%d" % version) if atomic else final
        os.makedirs(dst)
        for f in os.listdir(src):
            if copy:
                shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
            else:
                os.symlink(os.path.realpath(os.path.join(src, f)), os.path.join(dst, f))
        if atomic:
            os.rename(dst, final)
        return final

    def add_tweaked(self, name, source=None, version=2, delta=1.0, atomic=True):
        """Adds a version whose smallest float32 bias-like weight (rank 1) has `delta` added to
        its first element, so the model has the same signature but different answers."""
        src = model_dir(source or name)
        base = self.base(name)
        os.makedirs(base, exist_ok=True)
        tmp = os.path.join(base, ".tmp-%d" % version)
        shutil.copytree(src, tmp)
        tweak_weight(tmp, delta)
        final = os.path.join(base, str(version))
        if atomic:
            os.rename(tmp, final)
        return final

    def add_broken(self, name, version, how="truncated"):
        """A version dir that cannot load: model.json cut in the middle, or a missing shard."""
        base = self.base(name)
        os.makedirs(base, exist_ok=True)
        tmp = os.path.join(base, ".tmp-%d" % version)
        src = model_dir(name)
        shutil.copytree(src, tmp)
        mj = os.path.join(tmp, "model.json")
        if how == "truncated":
            with open(mj) as f:
                text = f.read()
            with open(mj, "w") as f:
                f.write(text[:len(text) // 2])
        else:
            with open(mj) as f:
                m = json.load(f)
            os.remove(os.path.join(tmp, m["weightsManifest"][0]["paths"][0]))
        final = os.path.join(base, str(version))
        os.rename(tmp, final)
        return final

    def config(self, entries, path=None):
        """Writes a --model_config_file. entries: list of dicts (name required; base_path
        defaults to this repository's dir for the name)."""
        lst = []
        for e in entries:
            e = dict(e)
            e.setdefault("base_path", self.base(e["name"]))
            lst.append(e)
        path = path or os.path.join(self.dir, "models.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"model_config_list": lst}, f, indent=1)
        os.replace(tmp, path)  # the daemon may be polling it: never show a half-written file
        return path


def tweak_weight(vdir, delta):
    """Adds delta to element 0 of the smallest unquantized float32 rank-1 weight of the model in
    vdir (a bias), rewriting the shard that holds it."""
    mj = os.path.join(vdir, "model.json")
    with open(mj) as f:
        m = json.load(f)
    best = None
    for group in m["weightsManifest"]:
        off = 0
        for w in group["weights"]:
            n = numel(w["shape"])
            q = w.get("quantization")
            size = n * ({"uint8": 1, "uint16": 2, "float16": 2}[q["dtype"]] if q else
                        {"float32": 4, "int32": 4, "bool": 1}[w["dtype"]])
            if not q and w["dtype"] == "float32" and len(w["shape"]) == 1 and n >= 2:
                if best is None or n < best[0]:
                    best = (n, group, off)
            off += size
    if best is None:
        raise AssertionError("%s: no float32 bias to tweak" % vdir)
    _, group, off = best
    for p in group["paths"]:
        path = os.path.join(vdir, p)
        size = os.path.getsize(path)
        if off < size:
            with open(path, "r+b") as f:
                f.seek(off)
                v = struct.unpack("<f", f.read(4))[0]
                f.seek(off)
                f.write(struct.pack("<f", v + delta))
            return
        off -= size
    raise AssertionError("%s: weight offset past the shards" % vdir)


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise AssertionError("answer is not JSON (status %d): %r"
                                 % (self.status, self.body[:300]))

    def error(self):
        """The message of a {"error": "..."} answer."""
        j = self.json()
        if not isinstance(j, dict) or not isinstance(j.get("error"), str):
            raise AssertionError('error answer is not {"error": "..."}: %r' % self.body[:300])
        return j["error"]

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:200])


def http_request(port, method, path, body=None, headers=None, timeout=60, conn=None):
    """One request on a fresh connection (or on `conn` when given, kept open)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        if conn is None:
            c.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout, what, interval=0.1):
    """Calls fn() until it returns something truthy; fails naming `what` after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException, AssertionError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %gs waiting for %s (last: %r)" % (timeout, what, last))


class Server:
    """One `orchard serve` process on free ports. args: extra flags."""

    def __init__(self, args=(), cwd=None):
        self.args, self.cwd = list(args), cwd
        self.proc = None
        self.rest_port = self.grpc_port = None
        self.log_path = None

    def start(self, ready=True, timeout=60):
        if not os.access(BIN, os.X_OK):
            raise AssertionError("no orchard binary at %s (set ORCHARD_BIN)" % BIN)
        self.rest_port, self.grpc_port = free_port(), free_port()
        while self.grpc_port == self.rest_port:
            self.grpc_port = free_port()
        fd, self.log_path = tempfile.mkstemp(prefix="serve-", suffix=".log", dir=_TMP)
        cmd = [BIN, "serve", "--port=%d" % self.grpc_port,
               "--rest_api_port=%d" % self.rest_port] + self.args
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=fd, stderr=subprocess.STDOUT, cwd=self.cwd,
                                     stdin=subprocess.DEVNULL)
        os.close(fd)
        _SERVERS.append(self)
        path = "/v2/health/ready" if ready else "/v2/health/live"
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                _SERVERS.remove(self)
                raise AssertionError("`%s` exited with %d before serving:\n%s"
                                     % (" ".join(cmd), rc, self.log_tail()))
            try:
                if self.get(path, timeout=5).status == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("`%s` did not answer %s 200 within %gs:\n%s"
                                     % (" ".join(cmd), path, timeout, self.log_tail()))
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the daemon and waits; returns its exit status (kills it after timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("orchard serve did not exit within %gs of signal %d:\n%s"
                                 % (timeout, sig, self.log_tail()))
        if self in _SERVERS:
            _SERVERS.remove(self)
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _SERVERS:
            _SERVERS.remove(self)

    # HTTP shortcuts
    def request(self, method, path, body=None, **kw):
        return http_request(self.rest_port, method, path, body, **kw)

    def get(self, path, **kw):
        return http_request(self.rest_port, "GET", path, **kw)

    def post(self, path, body, **kw):
        return http_request(self.rest_port, "POST", path, body, **kw)

    def status_of(self, model, suffix=""):
        """{version: entry} of GET /v1/models/<model><suffix>, {} when it answers 404."""
        r = self.get("/v1/models/%s%s" % (model, suffix))
        if r.status == 404:
            return {}
        if r.status != 200:
            raise AssertionError("GET /v1/models/%s%s: %r" % (model, suffix, r))
        return {e["version"]: e for e in r.json()["model_version_status"]}


def read_http_answer(s, timeout):
    """One HTTP answer from socket s: (status, head text, body bytes); (None, "", b"") when
    nothing complete came within `timeout` seconds."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data:
                head, body = data.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    except (ConnectionResetError, socket.timeout):
        pass
    if b"\r\n\r\n" not in data:
        return None, "", b""
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), head.decode("latin1"), body


def decode_png8(data, channels):
    """(width, height, bytes of rows) of an 8-bit, non-interlaced PNG with `channels` samples
    per pixel (1: gray, 3: RGB) — enough for the test images and for the masks task.c writes.
    Anything else fails the test."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("not a PNG: %r" % data[:8])
    ctype_of = {1: 0, 3: 2}
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, hgt, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, ctype, interlace) != (8, ctype_of[channels], 0):
                raise AssertionError("PNG is not 8-bit, %d-channel, non-interlaced: %d %d %d"
                                     % (channels, depth, ctype, interlace))
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride, bpp = w * channels, channels
    out, prev = bytearray(), bytearray(stride)
    for y in range(hgt):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, hgt, bytes(out)


class Client:
    """A keep-alive HTTP connection for request loops; reconnects after a failure."""

    def __init__(self, port, timeout=60):
        self.port, self.timeout, self.conn = port, timeout, None

    def request(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            return http_request(self.port, method, path, body, conn=self.conn)
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class ServerCase(unittest.TestCase):
    """A TestCase with one daemon for the whole class: subclasses fill cls.repo in
    setUpRepo() and return the serve flags from serve_args()."""

    server = None

    @classmethod
    def setUpRepo(cls):
        pass

    @classmethod
    def serve_args(cls):
        return []

    @classmethod
    def setUpClass(cls):
        cls.repo = Repo()
        cls.setUpRepo()
        cls.server = Server(cls.serve_args()).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            try:
                cls.server.stop()
            finally:
                cls.server.kill()
                cls.server = None

    def predict_body_rows(self, inputs, named=False):
        """TF Serving row format for {name: Tensor} inputs."""
        names = list(inputs)
        batch = inputs[names[0]].shape[0]
        if len(names) == 1 and not named:
            return {"instances": [inputs[names[0]].row(i) for i in range(batch)]}
        return {"instances": [{k: inputs[k].row(i) for k in names} for i in range(batch)]}


def lock_list():
    """A list plus a lock, for loops that record results from threads."""
    return [], threading.Lock()
