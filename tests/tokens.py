"""API tokens for tests: organisation and personal, and the header that carries them."""

from tenants import actions


def org_token(org, scope, created_by=None):
    return actions.create_api_token(org, f"test {scope}", scope, created_by).raw


def personal_token(user, scope):
    return actions.create_personal_token(user, f"test {scope}", scope).raw


def auth(raw):
    """Keyword arguments of a Django test client call sending ``raw`` as a bearer token."""
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
