"""
locustfile.py - Locust users for Orchard: TF Serving predict over REST (RestUser) and over gRPC
(GrpcUser, PredictionService/Predict with tensor_content).

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8501 --model movenet RestUser
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8501 --grpc-target 127.0.0.1:8500 \
        --model movenet GrpcUser

(`loadtest/run` wraps this with the experiment's ramp, CSVs and plots.) Every user sends the
same request, built once per process at test start: a real picture (skimage.data) resized to
the model's input shape and dtype, which come from GET /v1/models/{model}/metadata on --host
or, for servers without that endpoint (bench/tfjs-server.js), from --input-spec (a JSON list of
{"name", "dtype", "shape"} as `orchard inspect` prints). Users wait --wait-ms between requests
(0: back to back, as the experiment's closed-loop users did).

A REST answer counts as a failure unless it is 200 with "predictions"; a gRPC call unless it
returns OK. The gRPC user needs the gRPC front (server/grpc/proto) and python3-grpcio: without
them it stops the run with a message saying which is missing.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:  # grpcio must cooperate with gevent before the first channel exists
    import grpc.experimental.gevent as _grpc_gevent
    _grpc_gevent.init_gevent()
except ImportError:
    pass

from locust import HttpUser, User, events, task  # noqa: E402
from locust.exception import StopUser  # noqa: E402
import locust.stats  # noqa: E402

# Locust 2.12 flushes the history CSV every 10 s and not at exit, so a short run could end with
# only its header on disk: flush every second, and once more when Locust quits.
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1

import orchard_lt  # noqa: E402


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--model", default=os.environ.get("ORCHARD_LT_MODEL", "movenet"),
                        help="model name to predict on")
    parser.add_argument("--grpc-target", default="",
                        help="host:port of the gRPC front (default: --host's host, port 8500)")
    parser.add_argument("--input-spec", default="",
                        help='JSON [{"name","dtype","shape"}] when the server has no metadata')
    parser.add_argument("--batch", type=int, default=1, help="examples per request")
    parser.add_argument("--wait-ms", type=float, default=0.0, help="pause between requests")


class _Payload:
    spec = None
    rest = None
    grpc = None
    grpc_error = None


def _prepare(environment):
    o = environment.parsed_options
    if _Payload.spec is not None:
        return
    if o.input_spec:
        spec = json.loads(o.input_spec)
        for e in spec:
            e.setdefault("key", e["name"])
    else:
        spec = orchard_lt.spec_from_metadata(environment.host, o.model)
    _Payload.spec = spec
    _Payload.rest = orchard_lt.rest_body(spec, o.batch)


@events.quit.add_listener
def _flush_csv(**kw):
    import gc
    for o in gc.get_objects():
        if isinstance(o, locust.stats.StatsCSVFileWriter):
            for f in (o.requests_flush, o.stats_history_flush, o.failures_flush,
                      o.exceptions_flush):
                try:
                    f()
                except (OSError, ValueError):
                    pass


@events.test_start.add_listener
def _on_start(environment, **kw):
    _prepare(environment)


class RestUser(HttpUser):
    """POST /v1/models/{model}:predict, row format."""
    def wait_time(self):
        return self.environment.parsed_options.wait_ms / 1000.0

    def on_start(self):
        _prepare(self.environment)
        o = self.environment.parsed_options
        self.path = "/v1/models/%s:predict" % o.model

    @task
    def predict(self):
        with self.client.post(self.path, data=_Payload.rest, name="rest predict",
                              headers={"Content-Type": "application/json"},
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure("HTTP %d: %s" % (r.status_code, (r.text or "")[:200]))
            elif b'"predictions"' not in (r.content or b"")[:64]:
                r.failure("answer without predictions: %r" % (r.content or b"")[:200])
            else:
                r.success()


class GrpcUser(User):
    """tensorflow.serving.PredictionService/Predict, tensor_content inputs."""
    def wait_time(self):
        return self.environment.parsed_options.wait_ms / 1000.0

    def on_start(self):
        o = self.environment.parsed_options
        try:
            stubs = orchard_lt.grpc_stubs()
        except orchard_lt.StubsUnavailable as e:
            msg = "GrpcUser skipped: %s" % e
            print(msg, file=sys.stderr)
            if self.environment.runner is not None:
                self.environment.runner.quit()
            raise StopUser()
        _prepare(self.environment)
        if _Payload.grpc is None:
            _Payload.grpc = orchard_lt.grpc_request(_Payload.spec, o.model, o.batch)
        target = o.grpc_target
        if not target:
            from urllib.parse import urlparse
            target = "%s:8500" % (urlparse(self.environment.host).hostname or "127.0.0.1")
        self.channel = stubs["grpc"].insecure_channel(
            target, options=[("grpc.max_receive_message_length", 64 << 20),
                             ("grpc.max_send_message_length", 64 << 20)])
        self.stub = stubs["prediction_service_pb2_grpc"].PredictionServiceStub(self.channel)

    def on_stop(self):
        ch = getattr(self, "channel", None)
        if ch is not None:
            ch.close()

    @task
    def predict(self):
        t0 = time.perf_counter()
        exc, size = None, 0
        try:
            r = self.stub.Predict(_Payload.grpc, timeout=60)
            size = r.ByteSize()
        except Exception as e:  # grpc.RpcError and channel errors alike count as failures
            exc = e
        self.environment.events.request.fire(
            request_type="grpc", name="grpc predict",
            response_time=(time.perf_counter() - t0) * 1000.0, response_length=size,
            exception=exc, context={})
