"""Forms for sign-up, login and the organisation settings pages."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm

from tenants.models import App, TokenScope, User
from tenants.roles import Role


class EmailPasswordMixin:
    """Validation shared by both ways of creating an account."""

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            # The validators compare the password with the e-mail address too.
            candidate = User(email=cleaned.get("email") or "", name=cleaned.get("name") or "")
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class SignupForm(EmailPasswordMixin, forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common password.",
    )
    organization = forms.CharField(
        label="Organisation name", max_length=100, help_text="Your company or team. You can create more later."
    )


class InvitationSignupForm(EmailPasswordMixin, forms.Form):
    # The invited address is fixed and known to whoever holds the link: saying that it
    # has an account already tells them nothing new.
    def clean_email(self):
        email = super().clean_email()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists. Log in instead.")
        return email

    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
        help_text="At least 10 characters, not a common password.",
    )


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "numeric"}),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


def _code_field(help_text):
    return forms.CharField(
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=help_text,
    )


def _password_field():
    return forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class TwoFactorEnrolForm(forms.Form):
    code = _code_field("The 6-digit code your authenticator app shows for Pulse now.")
    password = _password_field()


class TwoFactorDisableForm(forms.Form):
    password = _password_field()
    code = _code_field("A code from your authenticator app, or a recovery code.")


class RecoveryCodesForm(forms.Form):
    code = _code_field("A code from your authenticator app: the codes you have now stop working.")


class TwoFactorRequirementForm(forms.Form):
    require_two_factor = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members who sign in with a password must turn on two-factor authentication before "
        "they can open this organisation. Single sign-on leaves it to the identity provider.",
    )


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.EmailField(required=False, max_length=254, label="Actor's email")

    def __init__(self, *args, actions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action"), *actions]


class PasswordResetForm(DjangoPasswordResetForm):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


class OrganizationForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=100)


class OrganizationDeleteForm(forms.Form):
    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = org
        self.fields["confirm"] = forms.CharField(
            label=f"Type the organisation's name ({org.name}) to confirm", max_length=100
        )

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != self.org.name:
            raise forms.ValidationError("That is not the organisation's name.")
        return value


class AppForm(forms.Form):
    name = forms.CharField(max_length=255, help_text="As the agent reports it in PULSE_APP_NAME.")
    apdex_t = forms.FloatField(
        label="Apdex T (seconds)",
        initial=0.5,
        min_value=0.001,
        max_value=60,
        help_text="Requests faster than T are satisfying, up to 4T tolerable, slower frustrating.",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )


class AppDeleteForm(forms.Form):
    def __init__(self, *args, app: App, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app
        self.fields["confirm"] = forms.CharField(
            label=f"Type the app name ({app.name}) to confirm", max_length=255
        )

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != self.app.name:
            raise forms.ValidationError("That is not the app's name.")
        return value


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class IngestKeyForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="What the key is for, e.g. “shop production”.")
    app = forms.ModelChoiceField(
        queryset=App.objects.unscoped().none(),  # the organisation's apps, set per form
        required=False,
        empty_label="Every app of the organisation",
        help_text="A key for one app sends data for that app only and cannot create apps, "
        "so a leaked key writes nowhere else.",
    )

    def __init__(self, *args, apps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["app"].queryset = apps


class ApiTokenForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="What the token is for, e.g. “Prometheus in prod”.")
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text="Read is enough for a Prometheus scrape; give write only to what must change settings.",
    )


class PersonalTokenForm(ApiTokenForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].help_text = "What the token is for, e.g. “alerts repository CI”."
        self.fields["scope"].help_text = "Read is enough for reports; write changes alerts where you are an admin."
