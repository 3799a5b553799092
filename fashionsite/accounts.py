"""The site's own account pages: sign in/out, password change and reset (Django's auth views in the
site's layout), and the profile page where a user sees what they may open and gets their API token.

Group membership is enough to sign in here (the admin's login wants `is_staff`). Password reset by
e-mail is offered only when settings.PASSWORD_RESET_BY_EMAIL (an e-mail backend is configured)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from fashionsite.permissions import forbidden, navigation


@transaction.atomic
def rotate_api_token(*, user) -> Token:
    """Give `user` a new REST API token; the old one (if any) stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@login_required
def profile(request):
    """Who you are, your groups, the pages you may open, and your API token."""
    token = Token.objects.filter(user=request.user).first()
    context = {
        "groups": list(request.user.groups.order_by("name").values_list("name", flat=True)),
        "pages": [item for item in navigation(request.user) if item[1] != "/"],
        "token": token,
    }
    return render(request, "registration/profile.html", context)


@login_required
@require_POST
def token_rotate(request):
    had_one = Token.objects.filter(user=request.user).exists()
    rotate_api_token(user=request.user)
    messages.success(
        request,
        "A new API token was made; the old one no longer works." if had_one else "Your API token was made.",
    )
    return redirect("profile")


def permission_denied(request, exception=None):
    """handler403: the site's 403 page with the exception's reason."""
    reason = str(exception) if exception and str(exception) else "You may not open this page."
    return forbidden(request, reason)


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"reset_by_email": settings.PASSWORD_RESET_BY_EMAIL}


def _needs_email(view):
    """Password reset pages answer 404 while no e-mail backend is configured."""

    def wrapped(request, *args, **kwargs):
        if not settings.PASSWORD_RESET_BY_EMAIL:
            raise Http404("Password reset by e-mail is not configured on this site.")
        return view(request, *args, **kwargs)

    return wrapped


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", profile, name="profile"),
    path("profile/token/", token_rotate, name="profile-token"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("password_change_done")),
        name="password_change",
    ),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", _needs_email(auth_views.PasswordResetView.as_view()), name="password_reset"),
    path(
        "password/reset/sent/",
        _needs_email(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        _needs_email(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        _needs_email(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]
