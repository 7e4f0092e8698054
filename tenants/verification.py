"""E-mail verification for self sign-up, on Django's token pattern.

A sign-up proves nothing about the address typed in, so its account may not use an
organisation until the link mailed there is confirmed. The token is Django's
PasswordResetTokenGenerator with its own salt and the verified flag in its hash: it
expires after PASSWORD_RESET_TIMEOUT and stops working once used. Sign-up answers the
same whether or not the address has an account; only the mail sent there differs.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from tenants.models import User


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "tenants.verification.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{user.pk}{user.email}{user.email_verified}{timestamp}"


tokens = EmailVerificationTokenGenerator()


def verification_url(user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return settings.PUBLIC_URL + reverse("verify_email", args=[uid, tokens.make_token(user)])


def send_signup_mail(email):
    """The mail a sign-up (or its resend) sends to ``email``: the link that confirms a new
    account, or, when the address already has a verified account, a note saying so."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        return  # the sign-up lost a race, or failed: nothing to confirm
    if user.email_verified:
        subject, template = "Your Pulse account", "tenants/email/account_exists.txt"
        context = {"login_url": settings.PUBLIC_URL + reverse("login"),
                   "reset_url": settings.PUBLIC_URL + reverse("password_reset")}
    else:
        subject, template = "Confirm your e-mail address for Pulse", "tenants/email/verify.txt"
        context = {"url": verification_url(user), "hours": settings.PASSWORD_RESET_TIMEOUT // 3600 or 1}
    send_mail(subject, render_to_string(template, context), None, [user.email])


def user_for_link(uidb64, token):
    """The unverified user a link is for, or None when the link is wrong, used or expired."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, email_verified=False).first()
    if user is None or not tokens.check_token(user, token):
        return None
    return user


@transaction.atomic
def confirm(user):
    User.objects.filter(pk=user.pk).update(email_verified=True)
    user.email_verified = True
