"""Resolving the organisation of a request, once: from the URL for people, from an API token for machines.

``@org_view`` is the only way an organisation page is reached: a signed-in user whose
address is not yet confirmed (a self sign-up) is sent to confirm it; then it finds the
membership of the signed-in user in the organisation named by ``org_slug`` in one
query, answers 404 when there is none (exactly like a missing organisation), sends a
member without a second factor to turn it on when the organisation requires one
(tenants/two_factor.py says which sessions meet it), checks the role for writes and, for
an organisation that requires single sign-on, the session (tenants/sso/policy.py), and
runs the view inside ``org_scope`` so every tenant-owned query below is filtered to
that organisation.

Views that scripts use too (the query API, alerts as code) take ``@org_view(tokens=True)``:
a request with ``Authorization: Bearer`` enters with an organisation token (only its own
organisation; read scope reads as a viewer, write scope acts as an admin) or a personal
token (its user's membership and role, read at each request); anything else is a session.

``@token_view`` is the door for machine clients without an organisation in the URL (a
Prometheus scrape): the organisation is the one of the API token presented.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt

from tenants import two_factor
from tenants.api_tokens import ResolvedPersonalToken, resolve_api_token, resolve_token
from tenants.models import Membership, TokenScope
from tenants.roles import Role, role_at_least
from tenants.scoping import org_scope
from tenants.secret_tokens import bearer
from tenants.sso import policy as sso_policy

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def wants_json(request):
    """A script asking for JSON, not a browser (which accepts HTML, and anything)."""
    return request.accepts("application/json") and not request.accepts("text/html")


def find_membership(user, org_slug):
    if not user.is_authenticated or not user.email_verified:
        return None
    return (
        Membership.objects.unscoped()
        .select_related("organization")
        .filter(organization__slug=org_slug, user=user)
        .first()
    )


def verified_required(view):
    """Signed in with a confirmed address; an account waiting for confirmation is shown the
    "check your email" page (the same as the one after sign-up)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.email_verified:
            return redirect("signup_sent")
        return view(request, *args, **kwargs)

    return wrapped


def org_view(write_role=Role.MEMBER, read_role=Role.VIEWER, tokens=False):
    """Decorate a view taking ``org_slug``; it receives ``request.org`` and ``request.membership``.

    Safe methods need ``read_role``; any other method needs ``write_role``. With
    ``tokens``, a request with ``Authorization: Bearer`` is let in by its API token
    instead of a session (``_token_entry``).
    """

    def needed_role(request):
        return read_role if request.method in SAFE_METHODS else write_role

    def decorator(view):
        @verified_required
        @wraps(view)
        def by_session(request, org_slug, *args, **kwargs):
            membership = find_membership(request.user, org_slug)
            if membership is None:
                raise Http404("No such organisation")
            if membership.organization.require_two_factor and not two_factor.satisfied(request.user, request.session):
                return redirect(reverse("account") + "?" + urlencode({"required_by": org_slug}))
            if not role_at_least(membership.role, needed_role(request)):
                raise PermissionDenied("Your role in this organisation does not allow this")
            refusal = sso_policy.refusal(request, membership)
            if refusal is not None:
                return refusal
            request.org = membership.organization
            request.membership = membership
            # Written only on change: an unconditional write would save the session on every poll.
            if request.session.get("last_org") != request.org.slug:
                request.session["last_org"] = request.org.slug
            with org_scope(request.org):
                return view(request, *args, **kwargs)

        wrapped = by_session
        if tokens:

            # Exempt for tokens only: a session's write is checked below as the middleware would.
            @csrf_exempt
            @wraps(view)
            def wrapped(request, org_slug, *args, **kwargs):
                raw = bearer(request.headers.get("Authorization"))
                if raw is None:
                    refused = CsrfViewMiddleware(lambda _request: None).process_view(request, None, (), {})
                    return refused or by_session(request, org_slug, *args, **kwargs)
                refusal = _token_entry(request, raw, org_slug, needed_role(request))
                if refusal is not None:
                    return refusal
                with org_scope(request.org):
                    return view(request, *args, **kwargs)

        wrapped.org_view = {"write_role": write_role, "read_role": read_role, "tokens": tokens}
        return wrapped

    return decorator


def _token_entry(request, raw, org_slug, needed_role):
    """Let a token request into ``org_slug`` needing ``needed_role``: sets ``request.org``,
    ``request.membership`` (None for an organisation token), ``request.api_token`` and, for a
    personal token, ``request.user``; or returns the refusal. A token that does not reach the
    organisation gets the 404 of a non-member; one that reaches it but may not do this, 403."""
    token = resolve_token(raw)
    if token is None:
        return _unauthorized("this API token is unknown or revoked")
    if isinstance(token, ResolvedPersonalToken):
        membership = find_membership(token.user, org_slug)
        if membership is None:
            raise Http404("No such organisation")
        org, role = membership.organization, membership.role
        if org.sso_required:
            return _forbidden("this organisation requires single sign-on: use one of its organisation tokens")
        if org.require_two_factor and not two_factor.is_enrolled(token.user):
            return _forbidden("this organisation requires two-factor authentication: turn it on for your account")
        request.user = token.user
    else:
        if token.organization.slug != org_slug:
            raise Http404("No such organisation")
        membership, org = None, token.organization
        role = Role.ADMIN if token.scope == TokenScope.WRITE else Role.VIEWER
    scope = TokenScope.READ if request.method in SAFE_METHODS else TokenScope.WRITE
    if not token.allows(scope):
        return _forbidden(f"this needs a token with the {scope} scope")
    if not role_at_least(role, needed_role):
        return _forbidden("the role this token acts with does not allow this")
    request.org, request.membership, request.api_token = org, membership, token
    return None


def acting_user(request):
    """Who the audit log names: the signed-in user or a personal token's; None for an organisation token."""
    return request.user if request.user.is_authenticated else None


def _forbidden(message):
    return JsonResponse({"error": {"code": "forbidden", "message": message}}, status=403)


def _unauthorized(message):
    response = JsonResponse({"error": {"code": "unauthorized", "message": message}}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="pulse"'
    return response


def token_view(scope=TokenScope.READ):
    """Decorate a view for machine clients: the organisation is the one of the API token in
    ``Authorization: Bearer``; 401 without a live token, 403 when its scope is too narrow.
    The view runs inside ``org_scope`` with ``request.org`` and ``request.api_token``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            raw = bearer(request.headers.get("Authorization"))
            if raw is None:
                return _unauthorized("send an API token: Authorization: Bearer pulse_at_…")
            token = resolve_api_token(raw)
            if token is None:
                return _unauthorized("this API token is unknown or revoked")
            if not token.allows(scope):
                return _forbidden(f"this needs a token with the {scope} scope")
            request.org = token.organization
            request.api_token = token
            with org_scope(request.org):
                return view(request, *args, **kwargs)

        wrapped.token_view = {"scope": scope}
        return wrapped

    return decorator
