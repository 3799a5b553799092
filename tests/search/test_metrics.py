"""/metrics: search latency per stage, queue depth and ratings, in Prometheus text format."""

from __future__ import annotations

import re

import pytest


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


@pytest.mark.django_db
def test_a_search_shows_in_the_per_stage_latency_and_the_scrape_reads_queue_and_ratings(
    client, tiny_catalogue
):
    before = client.get("/metrics").content.decode()
    count = 'fashionsite_search_stage_seconds_count{stage="stage1"}'
    searched_before = sample(before, count) if count in before else 0.0

    response = client.post("/api/search/", {"text": "blue shirt"}, content_type="application/json")
    assert len(response.json()["results"]) == 10

    after = client.get("/metrics")
    assert after["Content-Type"].startswith("text/plain")
    text = after.content.decode()
    assert sample(text, count) == searched_before + 1
    for stage in ("encode", "stage2", "total"):
        assert sample(text, f'fashionsite_search_stage_seconds_count{{stage="{stage}"}}') >= 1
    assert sample(text, 'fashionsite_queue_depth{queue="embeddings"}') >= 0
    assert sample(text, "fashionsite_ratings") == 0
    assert (
        'django_http_requests_latency_seconds_by_view_method_count{method="POST",view="api-search"}' in text
    )
