from django.contrib.auth import views as auth_views
from django.urls import path

from hubbub.accounts import views
from hubbub.accounts.forms import LoginForm

app_name = "accounts"

# Django's own auth views reverse these names without a namespace.
auth_urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("invite/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("settings/profile/", views.profile, name="profile"),
    path("settings/profile/avatar/", views.upload_avatar, name="upload_avatar"),
    path("settings/status/", views.change_status, name="change_status"),
    path("settings/people/", views.people, name="people"),
    path("settings/people/invite/", views.invite, name="invite"),
    path(
        "settings/people/invitations/<int:invitation_id>/revoke/",
        views.revoke_invitation,
        name="revoke_invitation",
    ),
    path("settings/people/<int:member_id>/role/", views.change_role, name="change_role"),
    path(
        "settings/people/<int:member_id>/approval/",
        views.set_needs_approval,
        name="set_needs_approval",
    ),
    path("settings/people/<int:member_id>/active/", views.set_active, name="set_active"),
    path("settings/teams/", views.teams, name="teams"),
    path("settings/teams/<int:team_id>/", views.team, name="team"),
    path("settings/teams/<int:team_id>/delete/", views.delete_team, name="delete_team"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
]
