"""The signed-in user's own account page: turning two-factor authentication on and off."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from tenants import throttle, two_factor
from tenants.access import verified_required
from tenants.actions import ActionError
from tenants.forms import TwoFactorCodeForm, TwoFactorDisableForm
from tenants.models import Membership

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


@verified_required
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def account(request):
    user = request.user
    if two_factor.is_enrolled(user):
        return render(
            request,
            "tenants/account.html",
            {
                "enrolled": True,
                "disable_form": TwoFactorDisableForm(),
                "codes_left": two_factor.recovery_codes_left(user),
            },
        )
    secret = request.session.get(_ENROL_SECRET) or two_factor.new_secret()
    request.session[_ENROL_SECRET] = secret
    form = TwoFactorCodeForm(request.POST or None)
    form.fields["code"].help_text = "The 6-digit code your authenticator app shows for Pulse now."
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor.enrol(user, secret, form.cleaned_data["code"])
        except ActionError as exc:
            form.add_error("code", str(exc))
        else:
            del request.session[_ENROL_SECRET]
            # Rendered into this response only: the codes are stored hashed and never shown again.
            return render(request, "tenants/recovery_codes.html", {"codes": codes})
    qr = two_factor.qr_svg(two_factor.provisioning_uri(user, secret))
    return render(
        request,
        "tenants/account.html",
        {
            "enrolled": False,
            # segno draws the SVG from the otpauth URI, which it encodes: no text of ours is in it.
            "qr_svg": mark_safe(qr),
            "secret": secret,
            "form": form,
            "required_by": _requiring_org(request),
        },
    )


@verified_required
@sensitive_post_parameters("password", "code")
@require_POST
def two_factor_disable(request):
    user = request.user
    form = TwoFactorDisableForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter your password and a code to turn two-factor authentication off.")
        return redirect("account")

    def attempt():
        try:
            two_factor.disable(user, form.cleaned_data["password"], form.cleaned_data["code"])
        except ActionError as exc:
            messages.error(request, str(exc))
            return False
        return True

    try:
        if throttle.check_second_factor(request, user, attempt):
            messages.success(request, "Two-factor authentication is off.")
    except throttle.LoginThrottled as exc:
        messages.error(request, str(exc))
    return redirect("account")
