"""The signed-in user's own account page: personal API tokens (created, shown once,
revoked), two-factor authentication on, off, and new recovery codes. Each change takes the password or a code, checked behind the throttle of
a login's second step, so a borrowed session cannot guess its way to either."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from tenants import actions, throttle, two_factor
from tenants.access import verified_required
from tenants.actions import ActionError
from tenants.forms import PersonalTokenForm, RecoveryCodesForm, TwoFactorDisableForm, TwoFactorEnrolForm
from tenants.models import Membership, PersonalToken

# The secret being enrolled, until a code from it is confirmed (a reload shows the same QR code).
_ENROL_SECRET = "pulse_2fa_enrol_secret"


def _requiring_org(request):
    """The organisation that sent the user here to enrol, when the user is one of its members."""
    slug = request.GET.get("required_by")
    if not slug:
        return None
    membership = Membership.objects.unscoped().select_related("organization")
    membership = membership.filter(user=request.user, organization__slug=slug[:60]).first()
    return membership.organization if membership else None


def _throttled(request, form, field, change):
    """Run ``change()`` behind the second step's throttle: (True, its result), or (False, None)
    with the reason put on ``form`` when it was refused or raised ActionError."""
    outcome = {}

    def attempt():
        try:
            outcome["result"] = change()
        except ActionError as exc:
            form.add_error(field, str(exc))
            return False
        return True

    try:
        throttle.check_second_factor(request, request.user, attempt)
    except throttle.LoginThrottled as exc:
        form.add_error(None, str(exc))
    return "result" in outcome, outcome.get("result")


def _tokens_context(request, token_form=None):
    return {
        "personal_tokens": PersonalToken.objects.filter(user=request.user),
        "token_form": token_form or PersonalTokenForm(),
    }


def _enrolled_page(request, disable_form=None, renew_form=None, status=200, token_form=None):
    context = {
        **_tokens_context(request, token_form),
        "enrolled": True,
        "disable_form": disable_form or TwoFactorDisableForm(),
        "renew_form": renew_form or RecoveryCodesForm(),
        "codes_left": two_factor.recovery_codes_left(request.user),
    }
    return render(request, "tenants/account.html", context, status=status)


def _enrol_secret(request):
    """The secret being enrolled, kept in the session until a code from it is confirmed."""
    secret = request.session.get(_ENROL_SECRET) or two_factor.new_secret()
    request.session[_ENROL_SECRET] = secret
    return secret


def _enrol_page(request, form, status=200, token_form=None):
    secret = _enrol_secret(request)
    qr = two_factor.qr_svg(two_factor.provisioning_uri(request.user, secret))
    return render(
        request,
        "tenants/account.html",
        {
            **_tokens_context(request, token_form),
            "enrolled": False,
            # segno draws the SVG from the otpauth URI, which it encodes: no text of ours is in it.
            "qr_svg": mark_safe(qr),
            "secret": secret,
            "form": form,
            "required_by": _requiring_org(request),
        },
        status=status,
    )


def _account_page(request, status=200, token_form=None):
    if two_factor.is_enrolled(request.user):
        return _enrolled_page(request, status=status, token_form=token_form)
    return _enrol_page(request, TwoFactorEnrolForm(), status=status, token_form=token_form)


@verified_required
@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def account(request):
    user = request.user
    if request.method == "GET" or two_factor.is_enrolled(user):
        return _account_page(request)
    form = TwoFactorEnrolForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        secret = _enrol_secret(request)
        done, codes = _throttled(
            request, form, "code", lambda: two_factor.enrol(user, data["password"], secret, data["code"])
        )
        if done:
            del request.session[_ENROL_SECRET]
            # Rendered into this response only: the codes are stored hashed and never shown again.
            return render(request, "tenants/recovery_codes.html", {"codes": codes})
    return _enrol_page(request, form, status=400)


@verified_required
@sensitive_post_parameters("password", "code")
@require_POST
def two_factor_disable(request):
    if not two_factor.is_enrolled(request.user):
        return redirect("account")
    form = TwoFactorDisableForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done, _ = _throttled(request, form, None, lambda: two_factor.disable(request.user, data["password"], data["code"]))
        if done:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("account")
    return _enrolled_page(request, disable_form=form, status=400)


@verified_required
@sensitive_post_parameters("code")
@require_POST
def recovery_codes_renew(request):
    if not two_factor.is_enrolled(request.user):
        return redirect("account")
    form = RecoveryCodesForm(request.POST)
    if form.is_valid():
        code = form.cleaned_data["code"]
        done, codes = _throttled(request, form, "code", lambda: two_factor.renew_recovery_codes(request.user, code))
        if done:
            return render(request, "tenants/recovery_codes.html", {"codes": codes})
    return _enrolled_page(request, renew_form=form, status=400)


@verified_required
@never_cache
@require_POST
def personal_token_create(request):
    form = PersonalTokenForm(request.POST)
    if form.is_valid():
        try:
            created = actions.create_personal_token(request.user, form.cleaned_data["label"], form.cleaned_data["scope"])
        except ActionError as exc:
            form.add_error("label", str(exc))
        else:
            # The full token exists only in this response.
            context = {"created": created, "public_url": settings.PUBLIC_URL}
            return render(request, "tenants/personal_token_created.html", context)
    return _account_page(request, status=400, token_form=form)


@verified_required
@require_POST
def personal_token_revoke(request, token_id):
    try:
        token = actions.revoke_personal_token(request.user, token_id)
    except PersonalToken.DoesNotExist:
        raise Http404("No such token")
    messages.success(request, f"Revoked “{token.label}” ({token.prefix}…). It is refused from now on.")
    return redirect("account")
