"""Throttling: sign-in lock-out per account and address; API rates, strictest for image search."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", password="right-password-123")


def sign_in(client, password, username="boss"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def set_rates(settings, **rates):
    """Lower some throttle rates ("scope": "n/period") for one test; the others keep their values."""
    throttle_rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": throttle_rates}


def test_the_sixth_wrong_password_locks_the_account_even_for_the_right_one(client, admin_user):
    for _ in range(5):
        wrong = sign_in(client, "guess")
        assert wrong.status_code in (200, 429)
    locked = sign_in(client, "right-password-123")
    assert locked.status_code == 429
    html = locked.content.decode()
    assert (
        "After 5 wrong passwords, signing in to this account from your address is locked for 15 minutes"
        in html
    )
    assert "Even the right password is refused until then." in html
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_account_and_address(client, admin_user, django_user_model):
    django_user_model.objects.create_superuser("other", password="other-password-123")
    for _ in range(5):
        sign_in(client, "guess")
    assert sign_in(client, "right-password-123").status_code == 429
    # Another account from the same address still signs in.
    other = sign_in(client, "other-password-123", username="other")
    assert other.status_code == 302 and other["Location"] == "/admin/"


def test_fewer_wrong_passwords_then_the_right_one_signs_in(client, admin_user):
    for _ in range(4):
        assert sign_in(client, "guess").status_code == 200
    signed_in = sign_in(client, "right-password-123")
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"


def test_anonymous_image_searches_beyond_the_limit_get_429_with_retry_after(client, settings):
    set_rates(settings, image_search="3/min")
    for _ in range(3):
        upload = SimpleUploadedFile("q.png", b"not an image", content_type="image/png")
        # Counted, then refused for what it is (no index in this test database: 409).
        assert client.post("/api/search/", {"image": upload}).status_code == 409
    upload = SimpleUploadedFile("q.png", b"not an image", content_type="image/png")
    throttled = client.post("/api/search/", {"image": upload})
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    error = throttled.json()["error"]
    assert error["code"] == "throttled" and "Request was throttled" in error["message"]
    # Text searches have their own, larger budget.
    text = client.post("/api/search/", {"text": ""}, content_type="application/json")
    assert text.status_code == 400 and text.json()["error"]["code"] == "empty_query"


def test_anonymous_api_use_has_a_rate(client, settings):
    set_rates(settings, anon="2/min")
    assert [client.get("/api/products/").status_code for _ in range(3)] == [200, 200, 429]


def test_photo_searches_on_the_search_page_share_the_image_budget(client, settings):
    set_rates(settings, image_search="2/min")
    for _ in range(2):
        upload = SimpleUploadedFile("q.png", b"not an image", content_type="image/png")
        assert client.post("/", {"image": upload}).status_code == 400  # counted, then refused as unreadable
    upload = SimpleUploadedFile("q.png", b"not an image", content_type="image/png")
    throttled = client.post("/", {"image": upload})
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert "Too many searches with a photo from your address; try again in" in throttled.content.decode()
    # Text searches on the page are not part of that budget.
    assert client.post("/", {"q": "red shirt"}).status_code == 302
