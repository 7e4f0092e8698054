"""The API reference: the OpenAPI document (apm/api_docs.py) for people, on one page."""

import json

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apm import api_docs


def _type_of(schema):
    schema = api_docs.resolve(schema or {})
    kind = schema.get("type", "object")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        text += ": " + ", ".join(str(v) for v in schema["enum"])
    limits = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "minLength", "maxLength", "default") if k in schema]
    return text + (f" ({', '.join(limits)})" if limits else "")


def _schema_text(content):
    """The JSON schema of a body, indented, ``$ref``s kept short."""
    schema = (content or {}).get("application/json", {}).get("schema")
    return json.dumps(schema, indent=2) if schema else ""


@require_GET
def api_reference(request):
    doc = api_docs.document()
    ops = []
    for op in api_docs.operations():
        body = op.get("requestBody", {}).get("content")
        ops.append({
            **op,
            "anchor": op["operationId"],
            "params": [{**p, "type": _type_of(p.get("schema"))} for p in op["parameters"]],
            "body": _schema_text(body),
            "answers": [
                {"code": code, "description": r.get("description", ""), "schema": _schema_text(r.get("content"))}
                for code, r in op["responses"].items()
            ],
        })
    return render(request, "frontend/api_reference.html", {"info": doc["info"], "operations": ops,
                                                           "schemas": doc["components"]["schemas"]})
