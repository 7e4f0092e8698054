"""Forms of the organisation's single sign-on settings."""

from django import forms

from tenants.roles import Role
from tenants.sso.actions import DOMAIN_ROLES


class RequireSsoForm(forms.Form):
    required = forms.BooleanField(
        required=False,
        label="Require single sign-on for members",
        help_text="Admins, members and viewers open this organisation only after signing in through a provider "
        "(through a provider of its domains, when it has some). Owners may still use their password.",
    )


class DomainForm(forms.Form):
    identity = forms.ChoiceField(label="Domain", help_text="The domain of one of your own verified sign-in addresses.")
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in DOMAIN_ROLES], initial=Role.MEMBER)

    def __init__(self, *args, identities, labels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["identity"].choices = [
            (str(i.pk), f"{i.email_domain} (through {labels.get(i.issuer, i.issuer)})") for i in identities
        ]
