"""The refusal every domain action raises, apart so that tenants/limits.py and the actions share it."""


class ActionError(Exception):
    """A rule of the domain refused the action; the message is shown to the user."""
