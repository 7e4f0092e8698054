"""Account pages at the root and organisation settings under /o/<org_slug>/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from tenants import account_views, audit_views, settings_views, views
from tenants.sso import views as sso_views
from tenants.forms import PasswordResetForm
from tenants.password_reset import PasswordResetConfirmView, PasswordResetView

org = "o/<slug:org_slug>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("verify/<uidb64>/<token>/", views.verify_email, name="verify_email"),
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("account/", account_views.account, name="account"),
    path("account/tokens/", account_views.personal_token_create, name="personal_token_create"),
    path("account/tokens/<uuid:token_id>/revoke", account_views.personal_token_revoke, name="personal_token_revoke"),
    path("account/two-factor/disable/", account_views.two_factor_disable, name="two_factor_disable"),
    path("account/two-factor/recovery-codes/", account_views.recovery_codes_renew, name="recovery_codes_renew"),
    path("sso/<slug:provider>/start/", sso_views.start, name="sso_start"),
    path("sso/<slug:provider>/callback/", sso_views.callback, name="sso_callback"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", PasswordResetView.as_view(form_class=PasswordResetForm), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="tenants/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="tenants/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("organizations/new/", views.org_create, name="org_create"),
    path(org, views.org_home, name="org_home"),
    path(org + "settings/", settings_views.settings_index, name="org_settings"),
    path(org + "settings/organization/", settings_views.settings_organization, name="settings_organization"),
    path(org + "settings/organization/two-factor/", settings_views.org_two_factor, name="org_two_factor"),
    path(org + "settings/audit/", audit_views.settings_audit, name="settings_audit"),
    path(org + "settings/audit/export.json", audit_views.settings_audit_export, name="settings_audit_export"),
    path(org + "settings/organization/leave/", settings_views.org_leave, name="org_leave"),
    path(org + "settings/organization/delete/", settings_views.org_delete, name="org_delete"),
    path(org + "settings/apps/", settings_views.settings_apps, name="settings_apps"),
    path(org + "settings/apps/<uuid:app_id>/", settings_views.app_edit, name="app_edit"),
    path(org + "settings/apps/<uuid:app_id>/delete/", settings_views.app_delete, name="app_delete"),
    path(org + "settings/members/", settings_views.settings_members, name="settings_members"),
    path(org + "settings/members/<uuid:membership_id>/role/", settings_views.member_role, name="member_role"),
    path(org + "settings/members/<uuid:membership_id>/remove/", settings_views.member_remove, name="member_remove"),
    path(
        org + "settings/invitations/<uuid:invitation_id>/revoke/",
        settings_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(org + "settings/sso/", sso_views.settings_sso, name="settings_sso"),
    path(org + "settings/sso/domains/<uuid:domain_id>/remove/", sso_views.domain_remove, name="sso_domain_remove"),
    path(org + "settings/keys/", settings_views.settings_keys, name="settings_keys"),
    path(org + "settings/keys/<uuid:key_id>/revoke/", settings_views.key_revoke, name="key_revoke"),
    path(org + "settings/tokens/", settings_views.settings_tokens, name="settings_tokens"),
    path(org + "settings/tokens/<uuid:token_id>/revoke/", settings_views.token_revoke, name="token_revoke"),
]
