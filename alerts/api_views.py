"""Alerts as code: JSON create/read/update/delete of conditions, channels and SLOs under
/o/<org_slug>/api/alerts/ (docs/api.md). Thin: alerts/definitions_json.py turns bodies into
form data and definitions into answers, alerts/forms.py validates, alerts/actions.py saves
and deletes (with the organisation's limits and the audit entries).

A session or an API token enters (``@org_view(tokens=True)``): anyone of the organisation
reads; admins (an organisation token with write scope, or a personal one of an admin) write.
The definition is looked up through the organisation before the body is read, so another
organisation's id is a 404 like a missing one.
"""

import json
from functools import wraps

from django.http import Http404, HttpResponse

from alerts import actions
from alerts import definitions_json as dj
from apm.json_output import json_response
from tenants import limits
from tenants.access import acting_user, org_view
from tenants.roles import Role


def _error(status, code, message, field=None):
    body = {"code": code, "message": message, **({"field": field} if field else {})}
    return json_response({"error": body}, status=status)


def _methods(*allowed):
    def decorate(view):
        @org_view(write_role=Role.ADMIN, tokens=True)
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in allowed:
                response = _error(405, "method_not_allowed", "use " + ", ".join(allowed))
                response["Allow"] = ", ".join(allowed)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _body(request):
    if request.content_type != "application/json":
        raise dj.BadBody("Content-Type must be application/json", "Content-Type")
    try:
        return json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise dj.BadBody(f"the body is not JSON: {exc}")


def _via(request):
    token = getattr(request, "api_token", None)
    return token.described if token is not None else ""


def _save(request, kind, instance, partial):
    """Validate the body with the kind's form and save it; the answer, or the 400/409 refusal."""
    try:
        data = dj.form_data(kind, _body(request), instance if partial else None)
    except dj.BadBody as exc:
        status = 415 if exc.field == "Content-Type" else 400
        return _error(status, "unsupported_media_type" if status == 415 else "invalid", str(exc), exc.field)
    form = kind.make_form(data, instance, request.org)
    if not form.is_valid():
        return json_response(dj.form_errors(form), status=400)
    try:
        saved = actions.save_definition(
            form, request.org, acting_user(request), limit=kind.limit, reevaluate=kind.reevaluate, via=_via(request)
        )
    except limits.LimitReached as exc:
        return limits.limit_refusal(exc)
    return json_response(dj.shown(kind, saved), status=201 if instance is None else 200)


def _views(kind, id_name, delete):
    """The list/create and read/replace/change/delete views of one kind of definition."""

    @_methods("GET", "HEAD", "POST")
    def collection(request):
        if request.method == "POST":
            return _save(request, kind, None, partial=False)
        items = kind.model.objects.all()
        return json_response({kind.noun.lower() + "s": [dj.shown(kind, item) for item in items]})

    @_methods("GET", "HEAD", "PUT", "PATCH", "DELETE")
    def item(request, **kwargs):
        found = kind.model.objects.filter(pk=kwargs[id_name]).first()
        if found is None:
            raise Http404(f"No such {kind.noun}")
        if request.method == "DELETE":
            delete(found, acting_user(request), via=_via(request))
            return HttpResponse(status=204)
        if request.method in ("PUT", "PATCH"):
            return _save(request, kind, found, partial=request.method == "PATCH")
        return json_response(dj.shown(kind, found))

    return collection, item


conditions, condition = _views(dj.CONDITIONS, "condition_id", actions.delete_source)
channels, channel = _views(dj.CHANNELS, "channel_id", actions.delete_channel)
slos, slo = _views(dj.SLOS, "slo_id", actions.delete_source)
