"""
test_dashboard.py - the dashboard's files (server/dashboard/, embedded by cmake/embed.cmake and
served by server/dashboard.c) through a real daemon, without a browser (tests/browser/run
drives chromium): GET / and every asset the page loads answer 200 with their Content-Type and
the bytes of the file in the source tree (the embedding is exact), HEAD answers the same
headers, and names that are not an embedded file answer a JSON 404.
"""
import os
import re
import unittest

import harness

DASH = os.path.join(harness.ROOT, "server", "dashboard")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}


class DashboardAssets(harness.ServerCase):
    @classmethod
    def setUpRepo(cls):
        cls.repo.add("emotion")

    @classmethod
    def serve_args(cls):
        return ["--model_config_file=%s" % cls.repo.config([{"name": "emotion"}])]

    def test_index_is_the_page(self):
        r = self.server.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        with open(os.path.join(DASH, "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read())

    def test_every_asset_is_embedded_byte_for_byte(self):
        names = sorted(n for n in os.listdir(DASH) if not n.startswith("."))
        self.assertIn("app.js", names)
        for name in names:
            ext = os.path.splitext(name)[1]
            if ext not in TYPES:
                continue
            with self.subTest(name=name):
                r = self.server.get("/dashboard/" + name)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers["content-type"], TYPES[ext])
                with open(os.path.join(DASH, name), "rb") as f:
                    self.assertEqual(r.body, f.read())

    def test_the_page_loads_only_embedded_assets(self):
        html = self.server.get("/").body.decode()
        app = self.server.get("/dashboard/app.js").body.decode()
        refs = set(re.findall(r'(?:href|src)="(/dashboard/[^"]+)"', html))
        refs |= {"/dashboard/" + m for m in re.findall(r"from '\./([^']+)'", app)}
        self.assertGreaterEqual(len(refs), 5, refs)
        for ref in sorted(refs):
            with self.subTest(ref=ref):
                self.assertEqual(self.server.get(ref).status, 200)
        # nothing from another host: the page works offline
        for name in os.listdir(DASH):
            with open(os.path.join(DASH, name), encoding="utf-8") as f:
                self.assertNotRegex(f.read(), r"(?:src|href)=\"(?:https?:)?//", name)

    def test_head_answers_the_headers(self):
        r = self.server.request("HEAD", "/dashboard/style.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/css; charset=utf-8")
        self.assertEqual(r.body, b"")

    def test_unknown_files_are_404(self):
        for path in ["/dashboard/nope.js", "/dashboard/index", "/dashboard/app.js.map",
                     "/dashboard/..%2Fdashboard.c", "/dashboard/sub/app.js", "/index.html"]:
            with self.subTest(path=path):
                r = self.server.get(path)
                self.assertEqual(r.status, 404)
                self.assertIn("error", r.json())


if __name__ == "__main__":
    unittest.main()
