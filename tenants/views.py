"""Account pages: home, sign-up, login/logout, invitations, new organisations, the org landing."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from tenants import actions, sign_in, throttle, two_factor, verification
from tenants.access import org_view, verified_required
from tenants.client_address import client_address
from tenants.forms import (
    AppForm,
    InvitationSignupForm,
    LoginForm,
    OrganizationForm,
    SignupForm,
    TwoFactorCodeForm,
)
from tenants.models import App, Membership, User
from tenants.roles import Role, role_at_least

LOGIN_FAILED = "Incorrect email or password."
SIGNUP_THROTTLED = "Too many sign-ups from here or for this address. Please try again later."


def safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def home(request):
    """Signed-in users go to their last (or first) organisation; others see the landing page."""
    if not request.user.is_authenticated:
        return render(request, "tenants/landing.html")
    memberships = Membership.objects.unscoped().filter(user=request.user).select_related("organization")
    last = request.session.get("last_org")
    chosen = None
    if last:
        chosen = memberships.filter(organization__slug=last).first()
    chosen = chosen or memberships.order_by("created_at").first()
    if chosen is None:
        return redirect("org_create")
    return redirect("org_home", chosen.organization.slug)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request):
    """The same answer whether or not the address has an account: "check your email".

    A new account waits for its address to be confirmed; an existing one is told by mail
    that someone tried to sign up with it. Nobody is signed in here.
    """
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not throttle.allow_signup(data["email"], client_address(request)):
            form.add_error(None, SIGNUP_THROTTLED)
            status = 429
        else:
            if not User.objects.filter(email__iexact=data["email"]).exists():
                try:
                    actions.sign_up(data["email"], data["password"], data["organization"])
                except actions.ActionError:
                    pass  # a race lost on the address: it has an account now, and is told so
            verification.send_signup_mail(data["email"])
            request.session["signup_email"] = data["email"]
            return redirect("signup_sent")
    return render(request, "tenants/signup.html", {"form": form}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def signup_sent(request):
    """ "Check your email", with a resend; for the address just signed up with, or for a
    signed-in account whose address is not confirmed yet."""
    user = request.user
    if user.is_authenticated and user.email_verified:
        return redirect("home")
    email = user.email if user.is_authenticated else request.session.get("signup_email")
    if not email:
        return redirect("signup")
    if request.method == "POST":
        if throttle.allow_signup(email, client_address(request)):
            verification.send_signup_mail(email)
            messages.success(request, "We sent the email again.")
        else:
            messages.error(request, SIGNUP_THROTTLED)
        return redirect("signup_sent")
    return render(request, "tenants/signup_sent.html", {"email": email})


@never_cache
@require_http_methods(["GET", "POST"])
def verify_email(request, uidb64, token):
    """The mailed link confirms the address for the account signed in with its password,
    and by a button (a mail scanner's GET confirms nothing). So someone who signed up with
    another person's address cannot have that person confirm the account for them; that
    person takes the address back with a password reset instead."""
    user = verification.user_for_link(uidb64, token)
    if user is None:
        return render(request, "tenants/verify_email.html", {"valid": False}, status=404)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if request.user.pk != user.pk:
        return render(request, "tenants/verify_email.html", {"valid": False}, status=404)
    if request.method == "POST":
        verification.confirm(user)
        messages.success(request, "Your email address is confirmed.")
        return redirect("home")
    return render(request, "tenants/verify_email.html", {"valid": True, "email": user.email})


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = safe_next(request, reverse("home"))
    if request.user.is_authenticated:
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password"]
        try:
            user = throttle.authenticate(request, email, password)
        except throttle.LoginThrottled as exc:
            # Refused before the password is checked, so a throttled attacker learns nothing.
            form.add_error(None, str(exc))
            status = 429
        else:
            if user is None:
                form.add_error(None, LOGIN_FAILED)  # unknown and wrong: the same message
                sign_in.failed(email, step="password")
            elif two_factor.is_enrolled(user):
                sign_in.await_second_step(request, user, next_url)
                return redirect("login_code")
            else:
                sign_in.complete(request, user, "password")
                return HttpResponseRedirect(next_url)
    return render(request, "tenants/login.html", {"form": form, "next": next_url}, status=status)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request):
    """The second step of a login: a code from the authenticator app or a recovery code."""
    pending = sign_in.pending(request)
    if pending is None:
        return redirect("login")
    user, next_url = pending
    form = TwoFactorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            method = throttle.check_second_factor(
                request, user, lambda: two_factor.verify(user, form.cleaned_data["code"])
            )
        except throttle.LoginThrottled as exc:
            form.add_error(None, str(exc))
            status = 429
        else:
            if method is None:
                form.add_error("code", two_factor.CODE_REFUSED)
                sign_in.failed(user.email, step="code")
            else:
                sign_in.complete(request, user, f"password+{method}")
                return HttpResponseRedirect(next_url)
    return render(request, "tenants/login_code.html", {"form": form}, status=status)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = actions.find_invitation(token)
    if invitation is None:
        return render(request, "tenants/invitation_invalid.html", status=404)
    org = invitation.organization
    context = {"invitation": invitation, "org": org, "token": token}

    if request.user.is_authenticated:
        if not actions.invitation_is_for(invitation, request.user):
            # Refused whatever the method: the link alone does not let another account join.
            return render(request, "tenants/invitation_wrong_account.html", context, status=403)
        if request.method == "POST":
            try:
                actions.accept_invitation(token, request.user)
            except actions.ActionError as exc:
                messages.error(request, str(exc))
                return redirect("home")
            messages.success(request, f"You joined {org.name}.")
            return redirect("org_home", org.slug)
        already = Membership.objects.for_org(org).filter(user=request.user).exists()
        return render(request, "tenants/invitation_accept.html", {**context, "already_member": already})

    form = InvitationSignupForm(request.POST or None, initial={"email": invitation.email})
    # The account is created for the invited address only: a posted e-mail is ignored.
    form.fields["email"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = actions.create_user(form.cleaned_data["email"], form.cleaned_data["password"])
                actions.accept_invitation(token, user)
        except actions.ActionError as exc:
            form.add_error(None, str(exc))
        else:
            sign_in.complete(request, user, "password", backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {org.name}.")
            return redirect("org_home", org.slug)
    return render(request, "tenants/invitation_signup.html", {**context, "form": form})


@verified_required
@require_http_methods(["GET", "POST"])
def org_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = actions.create_organization(request.user, form.cleaned_data["name"])
        except actions.ActionError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Created {org.name}.")
            return redirect("org_home", org.slug)
    return render(request, "tenants/org_create.html", {"form": form})


def _apps_page(org):
    """The path of the web UI's app list when it exists (another module serves it)."""
    path = f"/o/{org.slug}/apps/"
    try:
        resolve(path)
    except Resolver404:
        return None
    return path


@org_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def org_home(request):
    """The organisation's landing: "Add your first app" until it has apps, then the app list."""
    org = request.org
    apps = list(App.objects.all())
    can_manage = role_at_least(request.membership.role, Role.ADMIN)
    form = AppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            app = actions.create_app(org, form.cleaned_data["name"], form.cleaned_data["apdex_t"], actor=request.user)
        except actions.ActionError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Created {app.name}. Now give its agent an ingest key.")
            return redirect(reverse("settings_keys", args=[org.slug]) + f"?app={app.id}")
    if apps and request.method == "GET":
        apps_page = _apps_page(org)
        if apps_page:
            return redirect(apps_page)
    return render(
        request,
        "tenants/org_home.html",
        {"apps": apps, "form": form, "can_manage": can_manage, "public_url": settings.PUBLIC_URL},
    )
