"""A service in the middle of a distributed trace, under the agent: a WSGI app served
by wsgiref and an ASGI app served by uvicorn (real servers, so repeated header lines
arrive as each server gives them), both wrapped in the agent's middleware. Every
request to ``/<server>/<case>`` calls DOWNSTREAM with requests, httpx and urllib,
each call marked by an ``x-case`` header.

The requests come from this process over real sockets with http.client (which the
agent does not instrument), one per case of TRACE_CASES: a JSON list of
``{"name": ..., "headers": [[name, value], ...]}``, lines sent as given.
"""

import http.client
import json
import os
import socket
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import requests
import uvicorn

from pulse_agent import ASGIMiddleware, WSGIMiddleware

DOWNSTREAM = os.environ["DOWNSTREAM"] + "/downstream"


def call_downstream(label):
    requests.get(DOWNSTREAM, headers={"x-case": label + "/requests"}, timeout=10).raise_for_status()
    httpx.get(DOWNSTREAM, headers={"x-case": label + "/httpx"}, timeout=10).raise_for_status()
    req = urllib.request.Request(DOWNSTREAM, headers={"x-case": label + "/urllib"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def wsgi_app(environ, start_response):
    call_downstream(environ["PATH_INFO"].strip("/"))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


async def asgi_app(scope, receive, send):
    call_downstream(scope["path"].strip("/"))  # blocking is fine here: one request at a time
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve_wsgi():
    server = make_server("127.0.0.1", 0, WSGIMiddleware(wsgi_app), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1], server.shutdown


def serve_asgi():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(ASGIMiddleware(asgi_app), log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def stop():
        server.should_exit = True
        thread.join(10)

    while not server.started:
        thread.join(0.05)
    return sock.getsockname()[1], stop


def send(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", path)
    for name, value in headers:
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


def main():
    cases = json.loads(os.environ["TRACE_CASES"])
    statuses = {}
    for kind, serve in (("wsgi", serve_wsgi), ("asgi", serve_asgi)):
        port, stop = serve()
        for case in cases:
            label = "%s/%s" % (kind, case["name"])
            statuses[label] = send(port, "/" + label, case["headers"])
        stop()
    print(json.dumps(statuses))


if __name__ == "__main__":
    main()
