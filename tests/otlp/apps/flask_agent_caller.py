"""A Flask app under the Pulse agent whose /checkout calls the Node.js service (requests,
instrumented by the agent: it sends traceparent). Serves a few requests on a real HTTP
server and prints their statuses. Run by tests/otlp/test_node_service.py with
``pulse-agent run``."""

import json
import os
import threading
import urllib.error
import urllib.request

import requests
from flask import Flask
from werkzeug.serving import make_server

app = Flask(__name__)
PRICING = os.environ["PRICING_URL"]


@app.route("/checkout")
def checkout():
    price = requests.get(PRICING + "/price/42", timeout=10).json()["price"]
    return {"total": price}


def main():
    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    statuses = []
    for _ in range(int(os.environ.get("REQUESTS", "3"))):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/checkout" % server.server_port) as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
    server.shutdown()
    print(json.dumps(statuses))


if __name__ == "__main__":
    main()
