"""httpx2, the successor of httpx that FastAPI's and Starlette's extras install: the
same client API, so the httpx hooks apply unchanged."""

from pulse_agent.instrumentation.httpx import unwrap_clients, wrap_clients

LIBRARY = "httpx2"
SUPPORTED = ("2.0", "3.0")


def instrument():
    import httpx2

    wrap_clients(httpx2)


def uninstrument():
    import httpx2

    unwrap_clients(httpx2)
