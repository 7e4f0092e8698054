from tenants.models import Membership


def navigation(request):
    """The current organisation and the others the user can switch to, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = list(
        Membership.objects.unscoped().filter(user=user).select_related("organization").order_by("organization__name")
    )
    return {
        "current_org": getattr(request, "org", None),
        "current_membership": getattr(request, "membership", None),
        "nav_memberships": memberships,
    }
