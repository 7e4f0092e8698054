"""Password reset by e-mailed link, on Django's views and its one-time, expiring tokens.

Django's token hashes the password and last login, so it stops working once used,
and expires after PASSWORD_RESET_TIMEOUT. Links point at PUBLIC_URL, never at the
Host header of the request (which an attacker could set). Requests are counted per
address and per client with the login limits, so the form cannot flood an inbox. A
completed reset confirms the address too (tenants/verification.py).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect

from tenants import throttle, verification
from tenants.client_address import client_address


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "tenants/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        # The link was mailed to the address: following it proves the address is this user's
        # (and takes an account someone else signed up with it back from them).
        verification.confirm(self.user)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "tenants/password_reset.html"
    email_template_name = "tenants/email/password_reset.txt"
    subject_template_name = "tenants/email/password_reset_subject.txt"

    def form_valid(self, form):
        if not throttle.allow_reset_email(form.cleaned_data["email"], client_address(self.request)):
            # Same answer as a sent e-mail: the page must not tell who has an account.
            return HttpResponseRedirect(self.get_success_url())
        url = urlsplit(settings.PUBLIC_URL)
        self.domain_override = url.netloc
        self.extra_email_context = {"public_url": settings.PUBLIC_URL, "protocol": url.scheme}
        return super().form_valid(form)
