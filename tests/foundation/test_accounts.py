"""The site's own sign-in: group membership is enough; role-aware navigation; the 403 page;
API tokens on the profile page; password reset by e-mail only when mail is configured (#16)."""

import logging
import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

PASSWORD = "pw-group-only-9Q"


def group_member(django_user_model, username: str, group: str):
    user = django_user_model.objects.create_user(username, password=PASSWORD, email=f"{username}@example.org")
    user.groups.add(Group.objects.get(name=group))
    return user


def nav_labels(html: str) -> list[str]:
    nav = html.split('data-testid="site-nav"')[1].split("</nav>")[0]
    return re.findall(r'<a href="[^"]*"[^>]*>([^<]+)</a>', nav)


def test_a_group_only_researcher_signs_in_on_the_site_and_sees_only_their_pages(client, django_user_model):
    group_member(django_user_model, "res", "Researchers")
    page = client.get("/accounts/login/?next=/surveys/manage/")
    assert 'name="password"' in page.content.decode() and 'class="site-header"' in page.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "res", "password": PASSWORD, "next": "/surveys/manage/"}
    )
    assert response.status_code == 302 and response["Location"] == "/surveys/manage/"
    surveys = client.get("/surveys/manage/").content.decode()
    assert nav_labels(surveys) == ["Search", "Surveys", "API", "res"]
    assert "Sign out" in surveys


def test_a_group_only_catalogue_admin_sees_catalogue_and_embeddings_but_not_surveys(
    client, django_user_model
):
    group_member(django_user_model, "cat", "Catalogue admins")
    assert client.post("/accounts/login/", {"username": "cat", "password": PASSWORD}).status_code == 302
    html = client.get("/catalogue/").content.decode()
    assert nav_labels(html) == ["Search", "Catalogue", "Embeddings", "API", "cat"]
    assert client.get("/surveys/manage/").status_code == 403


def test_anonymous_visitors_see_a_sign_in_link_and_no_role_pages(client):
    html = client.get("/").content.decode()
    assert nav_labels(html) == ["Search", "API", "Sign in"]


def test_a_forbidden_page_is_in_the_layout_with_the_reason_a_way_back_and_one_log_line(
    client, django_user_model, caplog
):
    client.force_login(group_member(django_user_model, "res2", "Researchers"))
    with caplog.at_level(logging.WARNING):
        response = client.get("/catalogue/")
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="forbidden-reason">This page needs the Catalogue admins group.<' in html
    assert 'class="site-header"' in html and 'data-testid="way-back"' in html
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage() for record in warnings] == ["Forbidden: /catalogue/"]
    assert warnings[0].exc_info is None


def test_anonymous_visitors_go_to_the_site_login_page(client):
    response = client.get("/surveys/manage/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/surveys/manage/"


def test_a_wrong_password_says_so_on_the_login_page(client, django_user_model):
    group_member(django_user_model, "res3", "Researchers")
    html = client.post("/accounts/login/", {"username": "res3", "password": "wrong"}).content.decode()
    assert 'data-testid="login-error"' in html and "correct username and password" in html
    assert "staff account" not in html


def test_a_researcher_makes_and_replaces_their_own_api_token(client, django_user_model):
    user = group_member(django_user_model, "res4", "Researchers")
    client.force_login(user)
    assert 'data-testid="no-token"' in client.get("/accounts/profile/").content.decode()
    client.post("/accounts/profile/token/")
    first = Token.objects.get(user=user).key
    profile = client.get("/accounts/profile/").content.decode()
    assert f'data-testid="api-token">{first}<' in profile and "Surveys" in profile
    api = client_class_for_token(first)
    assert api.get("/api/surveys/").status_code == 200
    client.post("/accounts/profile/token/")
    second = Token.objects.get(user=user).key
    assert second != first
    old = client_class_for_token(first).get("/api/surveys/")
    assert old.status_code in (401, 403) and "Invalid token" in old.json()["error"]["message"]
    assert client_class_for_token(second).get("/api/surveys/").status_code == 200


def client_class_for_token(key):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_password_reset_is_not_offered_without_an_email_backend(client, settings):
    settings.PASSWORD_RESET_BY_EMAIL = False
    assert "Forgot your password? Ask a site admin" in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/password/reset/").status_code == 404


def test_password_reset_by_email_sets_a_new_password(client, settings, django_user_model):
    settings.PASSWORD_RESET_BY_EMAIL = True
    group_member(django_user_model, "res5", "Researchers")
    assert 'href="/accounts/password/reset/"' in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password/reset/", {"email": "res5@example.org"}, follow=True)
    assert 'data-testid="reset-sent"' in response.content.decode()
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    new = "another-Pw-77x"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, follow=True)
    assert "Your new password is set" in done.content.decode()
    client.logout()
    assert client.post("/accounts/login/", {"username": "res5", "password": new}).status_code == 302
