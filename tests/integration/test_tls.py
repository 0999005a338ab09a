"""
test_tls.py - issue 6 item 4: TLS and mutual TLS from --ssl_config_file (TF Serving's SSLConfig
text format), on the REST port, with certificates made by the test with the openssl CLI.

Covered: HTTPS predict answers equal `orchard run` bit for bit; plain HTTP on the TLS port gets
no answer; gRPC over TLS (Predict, health) with the same certificate, and with client_verify a
gRPC client without a certificate is refused in the handshake; with client_verify, no client certificate or one from another CA gets 403 naming
the requirement and a certificate from custom_ca gets 200; PEM given inline (escaped) works as
well as *_file paths; a bad configuration (key of another certificate, missing file,
client_verify without custom_ca, unknown field) stops `orchard serve` at start with exit 2 and
a message naming the file and the problem.
"""
import http.client
import json
import os
import socket
import ssl
import subprocess
import time
import unittest

import harness as h
import test_grpc as tg


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """CA, server certificate for localhost/127.0.0.1, a client certificate from the CA and
    one from another CA."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
                "-subj", "/CN=%s" % ca, cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, ca, ext in (("server", "ca", ["-extfile", "san.ext"]), ("client", "ca", []),
                          ("stranger", "other-ca", [])):
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj",
                "/CN=%s" % name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", *ext, cwd=d)


class TLSServer:
    """`orchard serve` on emotion with --ssl_config_file; REST only (gRPC has its own test)."""

    def __init__(self, cfg_path, ca, grpc_port=0):
        self.port = h.free_port()
        self.grpc_port = grpc_port
        self.ca = ca
        self.log_path = cfg_path + ".log"
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [h.BIN, "serve", "--port=%d" % grpc_port, "--rest_api_port=%d" % self.port,
                 "--model_name=emotion",
                 "--model_base_path=" + os.path.dirname(h.model_dir("emotion")),
                 "--ssl_config_file=" + cfg_path],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("orchard serve exited %d:\n%s" % (self.proc.returncode,
                                                                       self.log()))
            try:
                if self.request("GET", "/v2/health/ready", cert=("client.crt", "client.key"))[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("TLS server not ready:\n" + self.log())
            time.sleep(0.1)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def context(self, cert=None):
        ctx = ssl.create_default_context(cafile=os.path.join(os.path.dirname(self.ca), "ca.crt"))
        if cert:
            d = os.path.dirname(self.ca)
            ctx.load_cert_chain(os.path.join(d, cert[0]), os.path.join(d, cert[1]))
        return ctx

    def request(self, method, path, body=None, cert=None):
        conn = http.client.HTTPSConnection("localhost", self.port, timeout=30,
                                           context=self.context(cert))
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


class TLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = h.tmpdir("tls-")
        make_pki(cls.dir)
        cls.ca = os.path.join(cls.dir, "ca.crt")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def pem(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return json.dumps(f.read())  # a quoted string with \n escapes, as text format has

    def predict(self, server, cert=None):
        x = h.sample_inputs("emotion", 1)
        name = list(x)[0]
        body = {"instances": [x[name].row(0)]}
        status, data = server.request("POST", "/v1/models/emotion:predict", body, cert=cert)
        return status, data, x

    def test_https_predict_matches_orchard_run(self):
        cfg = self.write("tls.cfg", "# inline PEM, as TF Serving writes it\nserver_key: %s\n"
                         "server_cert: %s\n" % (self.pem("server.key"), self.pem("server.crt")))
        s = TLSServer(cfg, self.ca)
        try:
            status, data, x = self.predict(s)
            self.assertEqual(status, 200, data)
            want = h.expected("emotion", x)[0][1]
            h.assert_nested_equal(self, json.loads(data)["predictions"], want,
                                  "predictions over HTTPS")
            self.assertIn("TLS on REST and gRPC: certificate /CN=server", s.log())
            # Plain HTTP on the TLS port gets no HTTP answer.
            with self.assertRaises((OSError, http.client.HTTPException)):
                conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
                conn.request("GET", "/v2/health/ready")
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    raise AssertionError("plain HTTP answered 200 on the TLS port")
                raise OSError("answered %d" % r.status)
        finally:
            s.stop()
        self.assertEqual(s.proc.returncode, 0)

    def test_mutual_tls_requires_a_client_certificate_from_custom_ca(self):
        cfg = self.write("mtls.cfg", 'server_key_file: "server.key"\n'
                         'server_cert_file: "server.crt"\ncustom_ca_file: "ca.crt"\n'
                         "client_verify: true\n")
        s = TLSServer(cfg, self.ca)
        try:
            status, data, _ = self.predict(s, cert=("client.crt", "client.key"))
            self.assertEqual(status, 200, data)
            for cert in (None, ("stranger.crt", "stranger.key")):
                try:
                    status, data, _ = self.predict(s, cert=cert)
                except (ssl.SSLError, ConnectionError):
                    continue  # refused in the handshake: also no answer
                self.assertEqual(status, 403, "client cert %s: %r" % (cert, data))
                self.assertIn("client certificate", json.loads(data)["error"])
            status, _, _ = self.predict(s, cert=("client.crt", "client.key"))
            self.assertEqual(status, 200, "a good client after refused ones")
        finally:
            s.stop()

    def grpc_channel(self, port, cert=None):
        def read(name):
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read()

        creds = tg.grpc.ssl_channel_credentials(
            root_certificates=read("ca.crt"),
            private_key=read(cert[1]) if cert else None,
            certificate_chain=read(cert[0]) if cert else None)
        return tg.grpc.secure_channel("localhost:%d" % port, creds)

    def test_grpc_over_tls_and_mutual_tls(self):
        tg.setUpModule()
        cfg = self.write("grpc-mtls.cfg", 'server_key_file: "server.key"\n'
                         'server_cert_file: "server.crt"\ncustom_ca_file: "ca.crt"\n'
                         "client_verify: true\n")
        s = TLSServer(cfg, self.ca, grpc_port=h.free_port())
        try:
            x = h.sample_inputs("emotion", 1)
            want = h.expected("emotion", x)[0][1]
            with self.grpc_channel(s.grpc_port, ("client.crt", "client.key")) as ch:
                stub = tg.pb.prediction_grpc.PredictionServiceStub(ch)
                resp = stub.Predict(tg.predict_request("emotion", x), timeout=30)
                out = list(resp.outputs.values())[0]
                tg.assert_raw_equal(self, out.tensor_content, [d.size for d in out.tensor_shape.dim],
                                    want, "Predict over TLS")
            for cert in (None, ("stranger.crt", "stranger.key")):
                with self.grpc_channel(s.grpc_port, cert) as ch:
                    stub = tg.pb.kv2_grpc.GRPCInferenceServiceStub(ch)
                    with self.assertRaises(tg.grpc.RpcError) as e:
                        stub.ServerReady(tg.pb.kv2.ServerReadyRequest(), timeout=10)
                    self.assertEqual(e.exception.code(), tg.grpc.StatusCode.UNAVAILABLE,
                                     "client cert %s" % (cert,))
            # A plaintext gRPC client gets nothing from the TLS port.
            with tg.grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port) as ch:
                stub = tg.pb.kv2_grpc.GRPCInferenceServiceStub(ch)
                with self.assertRaises(tg.grpc.RpcError):
                    stub.ServerReady(tg.pb.kv2.ServerReadyRequest(), timeout=10)
        finally:
            s.stop()
        self.assertEqual(s.proc.returncode, 0)

    def test_bad_configurations_stop_the_server_at_start(self):
        cases = [
            ('server_key_file: "client.key"\nserver_cert_file: "server.crt"\n',
             "server_key does not match server_cert"),
            ('server_key_file: "nope.key"\nserver_cert_file: "server.crt"\n',
             "server_key_file"),
            ('server_key_file: "server.key"\nserver_cert_file: "server.crt"\n'
             "client_verify: true\n", "client_verify needs custom_ca"),
            ('server_key_file: "server.key"\nserver_cert: "x"\nverify_client: true\n',
             "verify_client: unknown field"),
        ]
        for i, (text, want) in enumerate(cases):
            cfg = self.write("bad%d.cfg" % i, text)
            p = subprocess.run([h.BIN, "serve", "--port=0", "--rest_api_port=%d" % h.free_port(),
                                "--model_name=emotion",
                                "--model_base_path=" + os.path.dirname(h.model_dir("emotion")),
                                "--ssl_config_file=" + cfg],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, "case %d: %s" % (i, p.stderr))
            self.assertIn(want, p.stderr, "case %d" % i)
            self.assertIn(cfg, p.stderr, "case %d names the file" % i)


if __name__ == "__main__":
    unittest.main()
