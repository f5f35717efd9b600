"""Local HTTP servers standing in for what sits between a client and Genova: a reverse
proxy that does not pass WebSockets, and a scripted server for failure answers (5xx,
429, dropped connections) that the real app should never produce on demand."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer",
              "proxy-connection"}


class _Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class NoSocketProxy(_Server):
    """Forwards plain HTTP to ``upstream`` and answers every WebSocket upgrade with 403,
    as some corporate proxies do. ``upgrades`` counts refused upgrades and ``paths`` the
    forwarded requests."""

    def __init__(self, upstream: str):
        target = urlsplit(upstream)
        proxy = self
        self.upgrades, self.paths = 0, []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    proxy.upgrades += 1
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                proxy.paths.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                upstream_response = conn.getresponse()
                data = upstream_response.read()
                self.send_response(upstream_response.status)
                for key, value in upstream_response.getheaders():
                    if key.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _forward

        super().__init__(Handler)


class ScriptedServer(_Server):
    """Answers requests from a script of ``(status, headers, body)`` (the last one
    repeats); ``"drop"`` closes the connection without answering. ``requests`` records
    ``(method, path)``."""

    def __init__(self, script: list):
        server = self
        self.script, self.requests = list(script), []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.requests.append((self.command, self.path))
                step = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                if step == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, headers, body = step
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _answer

        super().__init__(Handler)
