"""Which sessions may open the pages of an organisation that requires single sign-on.

A sign-in through a provider marks the session with the provider's issuer and the verified
address it vouched for. An organisation that requires SSO lets its members in only from
such a session; when it has SSO domains, the session's address must be at one of them,
through the provider that proved it (so any account at a public provider will not do).
Owners are let in from any session: they are the way back in if the provider is lost.
"""

from django.shortcuts import render
from django.utils import timezone

from tenants.models import SsoDomain, email_domain
from tenants.roles import Role
from tenants.sso import providers

SESSION_KEY = "sso"


def mark_session(request, claims):
    """Called right after login(): this session was signed in through ``claims.provider``."""
    request.session[SESSION_KEY] = {
        "issuer": claims.issuer,
        "email": claims.email if claims.email_verified else "",
        "at": timezone.now().isoformat(),
    }


def session_satisfies(session, org):
    signed = session.get(SESSION_KEY)
    if not signed:
        return False
    domains = list(SsoDomain.objects.for_org(org).values_list("domain", "issuer"))
    if not domains:
        return True
    return (email_domain(signed["email"]), signed["issuer"]) in domains


def admits(session, membership, required):
    """Whether ``session`` may use ``membership``'s organisation when it requires SSO (or not).
    Pages ask through ``refusal``; live sockets ask at connect."""
    return not required or membership.role == Role.OWNER or session_satisfies(session, membership.organization)


def refusal(request, membership):
    """None when ``membership`` may use its organisation from this session; else the page
    that says why, with a way to sign in through a provider."""
    org = membership.organization
    if admits(request.session, membership, org.sso_required):
        return None
    context = {"org": org, "providers": providers.configured(), "next": request.get_full_path()}
    return render(request, "tenants/sso_required.html", context, status=403)
