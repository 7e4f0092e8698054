"""The API's OpenAPI document (apm/openapi.yaml), read once, served as JSON at
/api/v1/openapi.json and rendered for people by the API reference page."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from apm.json_output import json_response

SOURCE = Path(__file__).with_name("openapi.yaml")
METHODS = ("get", "post", "put", "patch", "delete")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))


def resolve(node: Any) -> Any:
    """``node`` with a ``$ref`` to this document replaced by what it points at."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve(target)
    return node


def operations() -> list[dict[str, Any]]:
    """Every operation, in the document's order, with its path, method and resolved parameters
    (the path's own first, then the operation's)."""
    out = []
    for path, item in document()["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                out.append({
                    "path": path,
                    "method": method.upper(),
                    **op,
                    "parameters": [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])],
                    "responses": {code: resolve(r) for code, r in op["responses"].items()},
                })
    return out


@require_GET
@cache_control(public=True, max_age=3600)
def openapi_json(request: HttpRequest) -> HttpResponse:
    return json_response(document())
