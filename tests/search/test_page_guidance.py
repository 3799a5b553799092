"""The search page guides a shopper (issue 16, item 15): filters counted behind "Filters (n)",
"More like this" keeps the active filters, and a cold model is announced instead of a silent wait."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from embeddings.models import EmbeddingSpace
from embeddings.warmup import warm_query_encoder
from tests.search.conftest import tiny_catalogue_per_module

pytestmark = pytest.mark.django_db
tiny_catalogue = tiny_catalogue_per_module()


def more_like_this_links(html: str) -> list[dict]:
    hrefs = re.findall(r'class="button secondary more-like-this" href="([^"]+)"', html)
    return [parse_qs(urlsplit(unescape(href)).query) for href in hrefs]


def test_filters_are_counted_and_more_like_this_keeps_them(client, tiny_catalogue):
    html = client.get("/", {"q": "blue shirt", "gender": "Women", "year_min": "2011"}).content.decode()
    assert '<summary data-testid="filters-toggle">Filters (2)</summary>' in html
    links = more_like_this_links(html)
    assert len(links) == 10
    assert all(link["gender"] == ["Women"] and link["year_min"] == ["2011"] for link in links)
    assert all("q" not in link for link in links)

    similar = client.get("/", links[0]).content.decode()
    assert "More like" in similar and "Filters (2)" in similar
    shown = re.findall(r'<p class="meta">(\w+) ·', similar)
    assert shown and set(shown) == {"Women"}  # the filter still holds for the similar products


def test_no_filters_no_count_and_plain_more_like_this(client, tiny_catalogue):
    html = client.get("/", {"q": "blue shirt"}).content.decode()
    assert "Filters (0)" in html
    assert all(set(link) == {"similar"} for link in more_like_this_links(html))


def test_the_page_says_when_the_model_is_not_loaded_yet(client, tiny_catalogue):
    EmbeddingSpace.objects.update(is_active=False)
    EmbeddingSpace.objects.create(
        name="cold", model_name="never-loaded-in-this-process", pretrained="none", dimension=8, is_active=True
    )
    html = client.get("/").content.decode()
    assert 'data-testid="model-loading"' in html
    assert "the first search loads it" in html


def test_no_loading_notice_once_the_model_is_warm(client, tiny_catalogue):
    assert warm_query_encoder() is not None
    html = client.get("/").content.decode()
    assert 'data-testid="model-loading"' not in html
