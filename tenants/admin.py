"""Django admin for operators of the Pulse installation (staff users, not customers).

The admin works across organisations, so every tenant-owned model is listed through
``.unscoped()`` on purpose. Key hashes and invitation token hashes are read-only. Its
login goes through the same throttle as the customers' login page, and refuses accounts
with a second factor: they sign in on the customers' login page, which asks for the code,
and open the admin from there.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from tenants import throttle, two_factor
from tenants.models import App, IngestKey, Invitation, Membership, Organization, SsoDomain, SsoIdentity, User


ADMIN_TWO_FACTOR = "This account uses two-factor authentication: log in on Pulse's login page, then open the admin."


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    def clean(self):
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = throttle.authenticate(self.request, email, password)
            except throttle.LoginThrottled as exc:
                raise forms.ValidationError(str(exc), code="throttled")
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
            if two_factor.is_enrolled(self.user_cache):
                raise forms.ValidationError(ADMIN_TWO_FACTOR, code="two_factor")
        return self.cleaned_data


admin.site.login_form = ThrottledAdminLoginForm


class UnscopedAdmin(admin.ModelAdmin):
    raw_id_fields = ("organization",)

    def get_queryset(self, request):
        # The scoped manager refuses to run without an organisation; the admin spans all of them.
        qs = self.model.objects.unscoped().select_related("organization")
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["turn_off_two_factor"]

    @admin.action(description="Turn off two-factor (lost phone and recovery codes)")
    def turn_off_two_factor(self, request, queryset):
        for user in queryset:
            two_factor.turn_off_for(user, operator=request.user)
        self.message_user(request, "Two-factor is off for the selected accounts; they sign in with the password alone.")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "sso_required", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    # No membership inline: model formsets build their pk field from the scoped default
    # manager, which (rightly) refuses to run unscoped. Memberships have their own list.


@admin.register(Membership)
class MembershipAdmin(UnscopedAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "organization__slug")
    raw_id_fields = ("organization", "user")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Invitation)
class InvitationAdmin(UnscopedAdmin):
    list_display = ("email", "organization", "role", "created_at", "expires_at", "accepted_at")
    search_fields = ("email", "organization__slug")
    readonly_fields = ("token_hash", "invited_by", "created_at", "accepted_at")


@admin.register(App)
class AppAdmin(UnscopedAdmin):
    list_display = ("name", "organization", "apdex_t", "created_at")
    search_fields = ("name", "organization__slug")


@admin.register(IngestKey)
class IngestKeyAdmin(UnscopedAdmin):
    list_display = ("prefix", "label", "organization", "created_by", "created_at", "last_used_at", "revoked_at")
    search_fields = ("prefix", "label", "organization__slug")
    readonly_fields = ("prefix", "key_hash", "app", "created_by", "created_at", "last_used_at")

    def has_add_permission(self, request):
        # A key made here would never be shown to anyone; keys are created in the app.
        return False


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    """Deleting one disconnects the provider's account; its next sign-in is a first one."""

    list_display = ("user", "issuer", "subject", "email", "email_verified", "last_login_at")
    search_fields = ("user__email", "email", "subject")
    list_filter = ("issuer",)
    readonly_fields = ("issuer", "subject", "email", "email_verified", "created_at", "last_login_at")
    raw_id_fields = ("user",)

    def has_add_permission(self, request):
        return False  # made by signing in


@admin.register(SsoDomain)
class SsoDomainAdmin(UnscopedAdmin):
    list_display = ("domain", "issuer", "organization", "role", "added_by", "created_at")
    search_fields = ("domain", "organization__slug")
    readonly_fields = ("added_by", "created_at")
