"""
orchard_lt.py - what the load test, its runner and tests/deploy share: gRPC stubs generated at
run time from server/grpc/proto, model input specs, and request payloads made from real images.

Stubs: protoc + grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc) write
*_pb2.py / *_pb2_grpc.py for every .proto of server/grpc/proto into a fresh temp dir that is
put on sys.path; nothing generated is kept in the tree. grpc_stubs() raises StubsUnavailable
with the reason (no protos yet, no protoc, no grpcio) so callers can skip with a clear message.

Payloads: an input spec is [{"name", "dtype", "shape"}] as `orchard inspect` prints it (-1 for
an unknown dim), or the same read from GET /v1/models/{name}/metadata. make_input() picks a
picture of skimage/data (astronaut for 3 channels, camera for 1), resizes it to the spec's
height x width (unknown dims: 256), and scales it: float32 in [0, 1], int32/uint8 in 0..255.
Models with non-image inputs get a deterministic ramp of the right shape and dtype.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(ROOT, "server", "grpc", "proto")

_DT_NAMES = {"DT_FLOAT": "float32", "DT_INT32": "int32", "DT_BOOL": "bool", "DT_UINT8": "uint8",
             "DT_INT64": "int32"}
_TF_DTYPE = {"float32": 1, "int32": 3, "uint8": 4, "bool": 10}  # tensorflow.DataType values


class StubsUnavailable(Exception):
    pass


_STUBS = None


def grpc_stubs():
    """Generated modules as a dict: {"predict_pb2", "prediction_service_pb2_grpc", "tensor_pb2",
    "tensor_shape_pb2", "health_pb2", "health_pb2_grpc", "grpc"}; generated once per process."""
    global _STUBS
    if _STUBS is not None:
        return _STUBS
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise StubsUnavailable("python3-grpcio is not installed")
    protos = sorted(os.path.relpath(p, PROTO_DIR)
                    for p in glob.glob(os.path.join(PROTO_DIR, "**", "*.proto"), recursive=True))
    if not protos:
        raise StubsUnavailable("no .proto files under %s (the gRPC front is not in this tree)"
                               % PROTO_DIR)
    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        raise StubsUnavailable("protoc / grpc_python_plugin missing (apt-get install "
                               "protobuf-compiler protobuf-compiler-grpc)")
    out = tempfile.mkdtemp(prefix="orchard-stubs-")
    p = subprocess.run([protoc, "-I", PROTO_DIR, "--python_out", out, "--grpc_python_out", out,
                        "--plugin=protoc-gen-grpc_python=%s" % plugin] + protos,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise StubsUnavailable("protoc failed on server/grpc/proto: %s" % p.stderr.strip())
    # Packages in the generated tree (tensorflow_serving/apis/...) need no __init__.py on py3.
    sys.path.insert(0, out)
    import importlib
    # health.proto's package is grpc.health.v1, inside grpcio's own `grpc` package: let that
    # package also look in the generated tree so `grpc.health.v1.health_pb2` imports.
    gen_grpc = os.path.join(out, "grpc")
    if gen_grpc not in grpc.__path__:
        grpc.__path__.append(gen_grpc)
    mods = {"grpc": grpc}
    for key, mod in [("predict_pb2", "tensorflow_serving.apis.predict_pb2"),
                     ("prediction_service_pb2_grpc",
                      "tensorflow_serving.apis.prediction_service_pb2_grpc"),
                     ("tensor_pb2", "tensorflow.core.framework.tensor_pb2"),
                     ("tensor_shape_pb2", "tensorflow.core.framework.tensor_shape_pb2"),
                     ("health_pb2", "grpc.health.v1.health_pb2"),
                     ("health_pb2_grpc", "grpc.health.v1.health_pb2_grpc")]:
        try:
            mods[key] = importlib.import_module(mod)
        except ImportError as e:
            raise StubsUnavailable("generated stubs lack %s: %s" % (mod, e))
    _STUBS = mods
    return mods


def grpc_health(target, service="", timeout=5.0):
    """grpc.health.v1.Health/Check on target ("host:port"): the status name, e.g. "SERVING"."""
    s = grpc_stubs()
    with s["grpc"].insecure_channel(target) as ch:
        stub = s["health_pb2_grpc"].HealthStub(ch)
        r = stub.Check(s["health_pb2"].HealthCheckRequest(service=service), timeout=timeout)
        return s["health_pb2"].HealthCheckResponse.ServingStatus.Name(r.status)


def spec_from_metadata(base_url, model, timeout=10):
    """Input spec of `model` from GET /v1/models/{model}/metadata (TF Serving's format)."""
    with urllib.request.urlopen("%s/v1/models/%s/metadata" % (base_url.rstrip("/"), model),
                                timeout=timeout) as r:
        md = json.load(r)
    sig = md["metadata"]["signature_def"]["signature_def"]["serving_default"]
    spec = []
    for name, t in sig["inputs"].items():
        shape = [int(d["size"]) for d in t.get("tensor_shape", {}).get("dim", [])]
        spec.append({"name": t.get("name") or name, "key": name,
                     "dtype": _DT_NAMES.get(t["dtype"], "float32"), "shape": shape})
    return spec


def spec_from_inspect(orchard_bin, model_dir):
    p = subprocess.run([orchard_bin, "inspect", model_dir], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError("orchard inspect %s: %s" % (model_dir, p.stderr.strip()))
    return [{"name": i["name"], "key": i["name"], "dtype": i["dtype"], "shape": i["shape"]}
            for i in json.loads(p.stdout)["inputs"]]


def _image(channels):
    from skimage import data
    img = data.astronaut() if channels != 1 else data.camera()
    return img


def make_input(spec_entry, batch=1, unknown=256):
    """A numpy array for one input: batch x the spec's shape, from a real picture."""
    import numpy as np
    shape = [d if d > 0 else unknown for d in spec_entry["shape"]]
    if not shape:
        shape = [1]
    shape[0] = batch
    dtype = spec_entry["dtype"]
    np_dtype = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8,
                "bool": np.bool_}[dtype]
    if len(shape) == 4 and shape[3] in (1, 3, 4):
        from skimage.transform import resize
        h, w, c = shape[1], shape[2], shape[3]
        img = _image(c).astype(np.float32) / 255.0
        if img.ndim == 2:
            img = img[:, :, None]
        if c == 4:
            img = np.concatenate([img, np.ones(img.shape[:2] + (1,), np.float32)], axis=2)
        img = resize(img, (h, w, img.shape[2]), anti_aliasing=True).astype(np.float32)
        img = img[:, :, :c] if img.shape[2] >= c else np.repeat(img, c, axis=2)[:, :, :c]
        x = np.broadcast_to(img, (batch, h, w, c))
        if dtype == "float32":
            return np.ascontiguousarray(x, np.float32)
        return np.ascontiguousarray(np.clip(np.rint(x * 255.0), 0, 255).astype(np_dtype))
    n = 1
    for d in shape:
        n *= d
    ramp = (np.arange(n) % 256).reshape(shape)
    if dtype == "float32":
        return (ramp / 255.0).astype(np.float32)
    if dtype == "bool":
        return (ramp % 2).astype(np.bool_)
    return ramp.astype(np_dtype)


def rest_body(spec, batch=1):
    """TF Serving row-format predict body (bytes)."""
    arrays = {e["key"]: make_input(e, batch) for e in spec}
    if len(arrays) == 1:
        (x,) = arrays.values()
        inst = x.tolist()
    else:
        inst = [{k: a[i].tolist() for k, a in arrays.items()} for i in range(batch)]
    return json.dumps({"instances": inst}).encode()


def grpc_request(spec, model, batch=1):
    """A tensorflow.serving.PredictRequest with tensor_content inputs."""
    s = grpc_stubs()
    tensor_pb2, tensor_shape_pb2 = s["tensor_pb2"], s["tensor_shape_pb2"]
    req = s["predict_pb2"].PredictRequest()
    req.model_spec.name = model
    for e in spec:
        x = make_input(e, batch)
        t = tensor_pb2.TensorProto(dtype=_TF_DTYPE[e["dtype"]])
        t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in x.shape]))
        t.tensor_content = x.astype(x.dtype.newbyteorder("<")).tobytes()
        req.inputs[e["key"]].CopyFrom(t)
    return req
