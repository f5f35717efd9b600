"""Serve the Flask app with gunicorn's gevent worker: cheap idle WebSockets, one port.

``python app.py`` runs gunicorn in-process (the master is this process, so Ctrl-C and
SIGTERM stop everything it started). The app is built inside each worker, after gevent has
patched the standard library.
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from genova.config import Settings
from genova.realtime.limits import HTTP_ROOM, socket_cap


class _Gunicorn(BaseApplication):
    def __init__(self, factory, options: dict):
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.factory()


def gunicorn_options(settings: Settings) -> dict:
    return {
        "bind": f"{settings.host}:{settings.port}",
        "worker_class": "gevent",
        "workers": settings.web_workers,
        # the socket cap plus room for HTTP, so that a full house of sockets never keeps
        # /healthz or an API call waiting
        "worker_connections": socket_cap(settings.max_sockets) + HTTP_ROOM,
        # gunicorn would answer an over-long request line itself, in HTML; let the app see
        # it and answer 414 in JSON like every other error
        "limit_request_line": 0,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-",
        # the path without the query string: sockets carry credentials in the query
        "access_log_format": '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # one per host by default; would collide
    }


def serve(settings: Settings) -> None:
    from genova import create_app

    _Gunicorn(lambda: create_app(settings), gunicorn_options(settings)).run()
