"""Plain WSGI and ASGI apps wrapped in the agent's generic middleware, plus the
``background_task`` API and urllib."""

import asyncio
import json
import os
import urllib.request

import pulse_agent
from pulse_agent import ASGIMiddleware, WSGIMiddleware
from wsgi_client import call


def wsgi_app(environ, start_response):
    if environ["PATH_INFO"].startswith("/fail"):
        raise OSError("wsgi failure")
    status = "404 Not Found" if environ["PATH_INFO"] == "/missing" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return iter([b"hello ", b"world"])  # an iterator: the transaction ends on close()


async def asgi_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"created"})


async def drive_asgi(app, path):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"traceparent", ("00-" + "56" * 16 + "-" + "78" * 8 + "-01").encode())]}
    await app(scope, receive, send)
    return sent[0]["status"]


@pulse_agent.background_task("nightly.cleanup")
def cleanup():
    with urllib.request.urlopen(os.environ["DOWNSTREAM"] + "/downstream?job=1") as r:
        r.read()


def main():
    out = {}
    wrapped = WSGIMiddleware(wsgi_app)
    out["orders"] = [call(wrapped, "/orders/%d" % i)[0] for i in (1, 2, 3)]
    out["missing"] = call(wrapped, "/missing")[0]
    try:
        call(wrapped, "/fail")
    except OSError as exc:
        out["fail"] = str(exc)
    out["asgi"] = asyncio.run(drive_asgi(ASGIMiddleware(asgi_app), "/api/things/9f8e7d6c5b4a39281706f5e4d3c2b1a0"))
    cleanup()
    cleanup()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
