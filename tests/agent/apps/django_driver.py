"""Django sample app under the agent: runs a scenario through the real WSGI handler."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djshop.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from djshop.models import Item  # noqa: E402
from wsgi_client import call  # noqa: E402

call_command("migrate", run_syncdb=True, verbosity=0)
Item.objects.all().delete()
first = Item.objects.create(name="item one", price=50)
for i in range(4):
    Item.objects.create(name="item %d" % i, price=100 + i * 50)

app = get_wsgi_application()
scenario = sys.argv[1] if len(sys.argv) > 1 else "basic"
out = {"statuses": {}}
TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

if scenario == "basic":
    for _ in range(5):
        out["statuses"]["/"] = call(app, "/")[0]
    for _ in range(3):
        status, body = call(app, "/items/%d/" % first.pk, headers={"traceparent": TP, "tracestate": "vendor=1"})
        out["statuses"]["/items"] = status
        out["item_body"] = body.decode()
    out["statuses"]["/boom"] = call(app, "/boom/")[0]
    out["statuses"]["/nowhere"] = call(app, "/no/such/page/")[0]
    out["statuses"]["/slow"] = call(app, "/slow/?s=0.25")[0]
    out["statuses"]["/ping"] = call(app, "/ping/")[0]
    out["statuses"]["/call"] = call(app, "/call/", headers={"traceparent": TP})[0]
elif scenario == "asgi":
    import asyncio

    from django.core.asgi import get_asgi_application

    asgi_app = get_asgi_application()

    async def asgi_get(path, headers=()):
        sent = []
        requested = []

        async def receive():
            if not requested:
                requested.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # no disconnect: Django cancels this when done

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"testserver")] + list(headers),
            "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
        }
        await asgi_app(scope, receive, send)
        return sent[0]["status"]

    async def run():
        out["statuses"]["/"] = await asgi_get("/")
        out["statuses"]["/items"] = await asgi_get(
            "/items/%d/" % first.pk, [(b"traceparent", TP.encode())]
        )
        out["statuses"]["/boom"] = await asgi_get("/boom/")

    asyncio.run(run())
elif scenario == "loop":
    n = int(sys.argv[2])
    codes = set()
    for _ in range(n):
        codes.add(call(app, "/")[0])
    out["codes"] = sorted(codes)
print(json.dumps(out))
