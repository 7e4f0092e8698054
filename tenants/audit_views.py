"""The organisation's audit log for its owners and admins: a filtered, paginated page and a
streamed JSON export of the same entries."""

import json

from asgiref.sync import sync_to_async
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tenants.access import org_view
from tenants.audit import Action
from tenants.forms import AuditFilterForm
from tenants.models import AuditEntry
from tenants.roles import Role

PAGE_SIZE = 50
_EXPORT_CHUNK = 500


def _filtered(request):
    """(form, entries) for the query string; entries is None when the filter is not valid."""
    form = AuditFilterForm(request.GET, actions=Action.choices)
    if not form.is_valid():
        return form, None
    # Explicitly the organisation's: the export is read after the view (and its scope) returned.
    entries = AuditEntry.objects.for_org(request.org)
    if form.cleaned_data["action"]:
        entries = entries.filter(action=form.cleaned_data["action"])
    if form.cleaned_data["actor"]:
        entries = entries.filter(actor_email__iexact=form.cleaned_data["actor"])
    return form, entries.order_by("-created_at", "-id")


@org_view(read_role=Role.ADMIN, write_role=Role.ADMIN)
@require_GET
def settings_audit(request):
    form, entries = _filtered(request)
    if entries is None:
        return render(request, "tenants/settings_audit.html", {"form": form, "tab": "audit"}, status=400)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = dict(Action.choices)
    for entry in page:
        entry.label = labels.get(entry.action, entry.action)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tenants/settings_audit.html",
        {"form": form, "page": page, "query": query.urlencode(), "tab": "audit"},
    )


def _as_json(entry):
    return {
        "time": entry.created_at.isoformat(),
        "actor": entry.actor_email or None,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "address": entry.address or None,
    }


def _page_after(entries, last):
    """The next chunk of ``entries`` (newest first) after ``last``, found by key, so
    no cursor or transaction stays open between chunks."""
    if last is not None:
        entries = entries.filter(Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, id__lt=last.id))
    return list(entries[:_EXPORT_CHUNK])


async def _stream(entries):
    # Asynchronous, so the ASGI server sends each chunk as it is read instead of
    # gathering the whole log first (which Django does with a synchronous iterator).
    yield "["
    last, separator = None, "\n"
    while True:
        chunk = await sync_to_async(_page_after)(entries, last)
        if chunk:
            yield separator + ",\n".join(json.dumps(_as_json(entry)) for entry in chunk)
            last, separator = chunk[-1], ",\n"
        if len(chunk) < _EXPORT_CHUNK:
            break
    yield "\n]\n"


@org_view(read_role=Role.ADMIN, write_role=Role.ADMIN)
@never_cache
@require_GET
def settings_audit_export(request):
    form, entries = _filtered(request)
    if entries is None:
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        return JsonResponse({"error": "invalid filter", "fields": errors}, status=400)
    response = StreamingHttpResponse(_stream(entries), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="pulse-audit-{request.org.slug}.json"'
    return response
