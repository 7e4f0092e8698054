"""Single sign-on routes: start and callback per provider, and the organisation's SSO settings.

The callback signs in (or, for a signed-in user, connects the provider's account), then
marks the session as signed in through the provider (tenants/sso/policy.py).
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants import sign_in, two_factor
from tenants.access import org_view
from tenants.actions import ActionError
from tenants.models import SsoDomain, SsoIdentity
from tenants.roles import Role, role_at_least
from tenants.sso import actions, policy, providers
from tenants.sso.forms import DomainForm, RequireSsoForm
from tenants.views import safe_next

NEXT_SESSION_KEY = "sso_next"
LOCKOUT = "Sign in with a provider on this session first (below): requiring it now would lock you out."


def _callback_url(provider):
    # PUBLIC_URL, not the request's host: the provider knows this one exact redirect URI.
    return settings.PUBLIC_URL + reverse("sso_callback", args=[provider.name])


@never_cache
@require_GET
def start(request, provider):
    provider = providers.get(provider)
    request.session[NEXT_SESSION_KEY] = safe_next(request, reverse("home"))
    try:
        return providers.redirect_to_provider(request, provider, _callback_url(provider))
    except providers.SignInFailed as exc:
        return _failed(request, provider, str(exc), status=503)


def _failed(request, provider, error, status=400):
    return render(request, "tenants/sso_failed.html", {"provider": provider, "error": error}, status=status)


def _welcome(request, joined):
    for org in joined:
        messages.success(request, f"You joined {org.name}.")


@never_cache
@require_GET
def callback(request, provider):
    provider = providers.get(provider)
    next_url = request.session.pop(NEXT_SESSION_KEY, None) or reverse("home")
    try:
        claims = providers.finish(request, provider)
        if request.user.is_authenticated:
            _, joined = actions.connect(request.user, claims)
            request.session[two_factor.AUTH_METHOD_KEY] = two_factor.SSO  # the provider vouches from now on
            messages.success(request, f"Signed in with {provider.label}.")
        else:
            user, joined = actions.sign_in(claims)
            sign_in.complete(request, user, two_factor.SSO, backend="django.contrib.auth.backends.ModelBackend")
    except (providers.SignInFailed, ActionError) as exc:
        return _failed(request, provider, str(exc))
    policy.mark_session(request, claims)
    _welcome(request, joined)
    return HttpResponseRedirect(next_url)


# --- The organisation's settings ---------------------------------------------


def _settings_context(request, require_form, domain_form):
    labels = {p.issuer: p.label for p in providers.configured()}
    return {
        "require_form": require_form,
        "domain_form": domain_form,
        "domains": [(d, labels.get(d.issuer, d.issuer)) for d in SsoDomain.objects.select_related("added_by")],
        "identities": [
            (i, labels.get(i.issuer, i.issuer)) for i in SsoIdentity.objects.filter(user=request.user).order_by("email")
        ],
        "providers": providers.configured(),
        "can_manage": role_at_least(request.membership.role, Role.ADMIN),
        "tab": "sso",
    }


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_sso(request):
    identities = actions.provable_identities(request.user)
    labels = {p.issuer: p.label for p in providers.configured()}
    posted = request.POST if request.method == "POST" else None
    action = request.POST.get("action")
    require_form = RequireSsoForm(
        posted if action == "require" else None, initial={"required": request.org.sso_required}
    )
    domain_form = DomainForm(posted if action == "domain" else None, identities=identities, labels=labels)
    form = {"require": require_form, "domain": domain_form}.get(action)
    if posted is not None and form is None:
        messages.error(request, "Choose what to change.")
    elif form is require_form and form.is_valid() and not policy.admits(request.session, request.membership, form.cleaned_data["required"]):
        form.add_error(None, LOCKOUT)
    elif form is not None and form.is_valid():
        try:
            if form is require_form:
                org = actions.set_required(request.membership, form.cleaned_data["required"])
                messages.success(request, "Single sign-on is " + ("required." if org.sso_required else "optional."))
            else:
                added = actions.add_domain(request.membership, form.cleaned_data["identity"], form.cleaned_data["role"])
                messages.success(request, f"People signing in with an address at {added.domain} now join as "
                                 f"{Role(added.role).label.lower()}.")
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("settings_sso", request.org.slug)
    status = 400 if form is not None and form.errors else 200
    return render(request, "tenants/settings_sso.html", _settings_context(request, require_form, domain_form),
                  status=status)


@org_view(write_role=Role.ADMIN)
@require_POST
def domain_remove(request, domain_id):
    domain = get_object_or_404(SsoDomain, pk=domain_id)
    actions.remove_domain(request.membership, domain.pk)
    messages.success(request, f"Removed {domain.domain}: new sign-ins there no longer join.")
    return redirect("settings_sso", request.org.slug)
