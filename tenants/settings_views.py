"""Organisation settings: the organisation itself (rename, leave, delete), apps, members
and invitations, ingest keys, API tokens.

Every view is an ``@org_view``: viewers may look, only admins and owners change
things. Objects are fetched through ``request.org`` (inside its scope), so another
organisation's id is a 404 like a missing one.
"""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants import actions, limits, two_factor
from tenants.access import org_view
from tenants.forms import (
    ApiTokenForm,
    AppDeleteForm,
    AppForm,
    IngestKeyForm,
    InviteForm,
    OrganizationDeleteForm,
    OrganizationForm,
    RoleForm,
    TwoFactorRequirementForm,
)
from tenants.models import ApiToken, App, IngestKey, Invitation, Membership
from tenants.roles import Role, role_at_least


def _can_manage(request):
    return role_at_least(request.membership.role, Role.ADMIN)


@org_view(write_role=Role.ADMIN)
@require_GET
def settings_index(request):
    return redirect("settings_apps", request.org.slug)


# --- The organisation -------------------------------------------------------


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_organization(request):
    form = OrganizationForm(request.POST or None, initial={"name": request.org.name})
    if request.method == "POST" and form.is_valid():
        try:
            org = actions.rename_organization(request.membership, form.cleaned_data["name"])
        except actions.ActionError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Renamed to {org.name}.")
            return redirect("settings_organization", org.slug)
    return render(
        request,
        "tenants/settings_organization.html",
        {
            "form": form,
            "can_manage": _can_manage(request),
            "is_owner": request.membership.role == Role.OWNER,
            "sole_owner": actions.is_sole_owner(request.membership),
            "two_factor_form": TwoFactorRequirementForm(initial={"require_two_factor": request.org.require_two_factor}),
            "tab": "organization",
        },
    )


@org_view(write_role=Role.ADMIN)
@require_POST
def org_two_factor(request):
    form = TwoFactorRequirementForm(request.POST)
    form.is_valid()  # an unticked box is the only other answer: every POST is valid
    if form.cleaned_data["require_two_factor"] and not two_factor.satisfied(request.user, request.session):
        # Else the rule would send the admin who set it away from these settings at once.
        messages.error(request, "Turn on two-factor authentication for your own account first.")
        return redirect("settings_organization", request.org.slug)
    org = actions.set_two_factor_required(request.membership, form.cleaned_data["require_two_factor"])
    if org.require_two_factor:
        messages.success(request, "Members who sign in with a password now need two-factor authentication.")
    else:
        messages.success(request, "Two-factor authentication is no longer required.")
    return redirect("settings_organization", org.slug)


# Every member may leave, viewers included: leaving is about oneself, not the organisation.
@org_view(write_role=Role.VIEWER)
@require_POST
def org_leave(request):
    org = request.org
    try:
        actions.leave_organization(request.membership)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
        return redirect("settings_organization", org.slug)
    if request.session.get("last_org") == org.slug:
        del request.session["last_org"]
    messages.success(request, f"You left {org.name}.")
    return redirect("home")


@org_view(write_role=Role.OWNER)
@require_http_methods(["GET", "POST"])
def org_delete(request):
    org = request.org
    form = OrganizationDeleteForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        try:
            actions.delete_organization(request.membership, form.cleaned_data["confirm"])
        except actions.ActionError as exc:
            form.add_error("confirm", str(exc))
        else:
            if request.session.get("last_org") == org.slug:
                del request.session["last_org"]
            messages.success(request, f"Deleted {org.name} and all of its data.")
            return redirect("home")
    return render(
        request,
        "tenants/org_delete.html",
        {"form": form, "is_owner": request.membership.role == Role.OWNER, "tab": "organization"},
    )


# --- Apps -------------------------------------------------------------------


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_apps(request):
    form = AppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            app = actions.create_app(
                request.org, form.cleaned_data["name"], form.cleaned_data["apdex_t"], actor=request.user
            )
        except actions.ActionError as exc:
            if refusal := limits.json_refusal(request, exc):
                return refusal
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Created {app.name}.")
            return redirect("settings_apps", request.org.slug)
    return render(
        request,
        "tenants/settings_apps.html",
        {
            "apps": App.objects.all(),
            "form": form,
            "can_manage": _can_manage(request),
            "limit": limits.APPS.most,
            "tab": "apps",
        },
    )


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def app_edit(request, app_id):
    app = get_object_or_404(App, pk=app_id)
    form = AppForm(request.POST or None, initial={"name": app.name, "apdex_t": app.apdex_t})
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_app(
                request.org, app.pk, form.cleaned_data["name"], form.cleaned_data["apdex_t"], actor=request.user
            )
        except actions.ActionError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, "Saved.")
            return redirect("settings_apps", request.org.slug)
    return render(
        request,
        "tenants/app_edit.html",
        {"app": app, "form": form, "can_manage": _can_manage(request), "tab": "apps"},
    )


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def app_delete(request, app_id):
    app = get_object_or_404(App, pk=app_id)
    form = AppDeleteForm(request.POST or None, app=app)
    if request.method == "POST" and form.is_valid():
        actions.delete_app(request.org, app.pk, actor=request.user)
        messages.success(request, f"Deleted {app.name} and its data.")
        return redirect("settings_apps", request.org.slug)
    return render(
        request,
        "tenants/app_delete.html",
        {"app": app, "form": form, "can_manage": _can_manage(request), "tab": "apps"},
    )


# --- Members ----------------------------------------------------------------


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_members(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = actions.invite(request.membership, form.cleaned_data["email"], form.cleaned_data["role"])
        except actions.ActionError as exc:
            if refusal := limits.json_refusal(request, exc):
                return refusal
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Invitation sent to {sent.invitation.email}.")
            return redirect("settings_members", request.org.slug)
    members = Membership.objects.select_related("user").order_by("user__email")
    invitations = Invitation.objects.filter(accepted_at__isnull=True).select_related("invited_by")
    return render(
        request,
        "tenants/settings_members.html",
        {
            "members": members,
            "invitations": invitations.order_by("-created_at"),
            "form": form,
            "roles": Role.choices,
            "can_manage": _can_manage(request),
            "tab": "members",
        },
    )


@org_view(write_role=Role.ADMIN)
@require_POST
def member_role(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
    else:
        try:
            actions.change_role(request.membership, membership.pk, form.cleaned_data["role"])
        except actions.ActionError as exc:
            messages.error(request, str(exc))
        else:
            role = Role(form.cleaned_data["role"]).label.lower()
            messages.success(request, f"{membership.user.email} is now {role}.")
    return redirect("settings_members", request.org.slug)


@org_view(write_role=Role.ADMIN)
@require_POST
def member_remove(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id)
    try:
        actions.remove_member(request.membership, membership.pk)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
        return redirect("settings_members", request.org.slug)
    if membership.pk == request.membership.pk:
        messages.success(request, f"You left {request.org.name}.")
        return redirect("home")
    messages.success(request, f"Removed {membership.user.email}.")
    return redirect("settings_members", request.org.slug)


@org_view(write_role=Role.ADMIN)
@require_POST
def invitation_revoke(request, invitation_id):
    invitation = get_object_or_404(Invitation, pk=invitation_id, accepted_at__isnull=True)
    actions.revoke_invitation(request.membership, invitation.pk)
    messages.success(request, f"Cancelled the invitation to {invitation.email}.")
    return redirect("settings_members", request.org.slug)


# --- Ingest keys ------------------------------------------------------------


def _keys_context(request, form, **extra):
    return {
        "keys": IngestKey.objects.select_related("created_by", "app"),
        "form": form,
        "can_manage": _can_manage(request),
        "public_url": settings.PUBLIC_URL,
        "tab": "keys",
        **extra,
    }


def _app_from_query(request):
    app_id = request.GET.get("app")  # the app just created; the form carries the choice on POST
    if not app_id:
        return None
    try:
        app_uuid = uuid.UUID(app_id)
    except ValueError:  # the page works without it
        return None
    return App.objects.filter(pk=app_uuid).first()


@org_view(write_role=Role.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def settings_keys(request):
    app = _app_from_query(request)
    initial = {"label": app.name, "app": app} if app else {}
    form = IngestKeyForm(request.POST or None, initial=initial, apps=App.objects.all())
    if request.method == "POST" and form.is_valid():
        app = form.cleaned_data["app"]
        try:
            created = actions.create_ingest_key(request.org, form.cleaned_data["label"], request.user, app=app)
        except actions.ActionError as exc:
            if refusal := limits.json_refusal(request, exc):
                return refusal
            form.add_error("label", str(exc))
        else:
            # Rendered straight into this response, never stored (not even in the session):
            # this page is the only time the full key exists outside the agent's config.
            return render(
                request,
                "tenants/key_created.html",
                {"created": created, "app": app, "public_url": settings.PUBLIC_URL, "tab": "keys"},
            )
    return render(request, "tenants/settings_keys.html", _keys_context(request, form, app=app))


@org_view(write_role=Role.ADMIN)
@require_POST
def key_revoke(request, key_id):
    key = get_object_or_404(IngestKey, pk=key_id)
    actions.revoke_ingest_key(request.org, key.pk, actor=request.user)
    messages.success(request, f"Revoked “{key.label}” ({key.prefix}…). Agents using it are refused within seconds.")
    return redirect("settings_keys", request.org.slug)


# --- API tokens -------------------------------------------------------------


@org_view(write_role=Role.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def settings_tokens(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = actions.create_api_token(
                request.org, form.cleaned_data["label"], form.cleaned_data["scope"], request.user
            )
        except actions.ActionError as exc:
            form.add_error("label", str(exc))
        else:
            # As for ingest keys: the full token exists only in this response.
            return render(
                request,
                "tenants/token_created.html",
                {"created": created, "public": urlsplit(settings.PUBLIC_URL), "tab": "tokens"},
            )
    return render(
        request,
        "tenants/settings_tokens.html",
        {
            "tokens": ApiToken.objects.select_related("created_by"),
            "form": form,
            "can_manage": _can_manage(request),
            "public_url": settings.PUBLIC_URL,
            "tab": "tokens",
        },
    )


@org_view(write_role=Role.ADMIN)
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id)
    actions.revoke_api_token(request.org, token.pk, actor=request.user)
    messages.success(request, f"Revoked “{token.label}” ({token.prefix}…). It is refused from now on.")
    return redirect("settings_tokens", request.org.slug)
