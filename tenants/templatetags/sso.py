"""``{% sso_providers as providers %}``: the configured sign-in providers, for the login page's
buttons (the login view stays as it is)."""

from django import template

from tenants.sso import providers

register = template.Library()


@register.simple_tag
def sso_providers():
    return providers.configured()
