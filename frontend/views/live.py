"""The Live page of an app: its transactions as they happen, over the websocket."""

from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from apm.live import events_per_second
from frontend.views.common import app_page_context
from tenants.access import org_view
from tenants.models import App

WINDOW_SECONDS = 300  # the scatter's sliding window


def _trace_url(org, app):
    # The trace page of a sampled transaction; the script puts the real trace id in place of the zeros.
    try:
        return reverse("trace_detail", args=[org.slug, app.id, "0" * 32])
    except NoReverseMatch:
        return ""


@org_view()
def app_live(request, app_id):
    app = App.objects.filter(id=app_id).first()  # inside org_scope: another org's app is missing
    if app is None:
        raise Http404("No such app")
    context = app_page_context(
        request,
        app,
        "live",
        window_seconds=WINDOW_SECONDS,
        window_minutes=WINDOW_SECONDS // 60,
        events_per_second=events_per_second(),
        trace_url=_trace_url(request.org, app),
        socket_path=f"/ws/o/{request.org.slug}/apps/{app.id}/live/",
        api_base=f"/o/{request.org.slug}/api/apps/{app.id}/",
    )
    return render(request, "frontend/live.html", context)
