"""run_search end to end: real query encoding, provenance, bad input, Redis down, configs, retention."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from embeddings.models import EmbeddingSpace, ProductEmbedding
from search.errors import SearchError, SearchUnavailable
from search.models import DEFAULT_WEIGHT_CONFIG, SEED_WEIGHT_CONFIGS, QueryImage, SearchRun, WeightConfig
from search.querycache import text_cache_key
from search.services import pin_runs, prune_search_runs, run_search, unpin_runs, update_weight_config
from surveys.services import add_query, create_survey
from tests.fixtures import png_bytes
from tests.search.conftest import tiny_catalogue_per_module

# The one transactional test of stage one's settings is in test_stage_one_settings.py.
tiny_catalogue = tiny_catalogue_per_module()


@pytest.mark.django_db
def test_seed_migration_created_the_named_configs():
    names = set(WeightConfig.objects.filter(is_current=True).values_list("name", flat=True))
    assert {d["name"] for d in SEED_WEIGHT_CONFIGS} <= names
    seed = WeightConfig.objects.get(name=DEFAULT_WEIGHT_CONFIG, is_current=True)
    assert (seed.stage1_text, seed.stage1_image, seed.stage2_text, seed.stage2_image) == (0.5, 0.5, 0.9, 0.1)
    # Blank ef_search: each query kind gets its measured default (settings.SEARCH_EF_SEARCH).
    assert seed.ef_search is None


@pytest.mark.django_db
def test_a_search_is_stored_with_its_provenance(tiny_catalogue):
    upload = SimpleUploadedFile("query.png", png_bytes(), content_type="image/png")
    run = run_search(text="red cotton shirt", image=upload, filters={"gender": "Women"}, k=5)
    run.refresh_from_db()
    assert run.query_text == "red cotton shirt" and run.query_image is not None
    assert run.space == tiny_catalogue.space and run.config.name == DEFAULT_WEIGHT_CONFIG
    assert run.filters == {"gender": ["Women"]} and run.matched_count == 30
    assert run.results.count() == 5
    assert [r.rank for r in run.results.order_by("rank")] == [1, 2, 3, 4, 5]
    assert all(r.product.gender == "Women" for r in run.results.all())
    assert run.encode_ms > 0 and run.stage1_ms > 0 and run.stage2_ms > 0
    assert run.total_ms >= run.encode_ms + run.stage1_ms + run.stage2_ms
    # The same photo again is stored once.
    again = run_search(image=SimpleUploadedFile("same.png", png_bytes(), content_type="image/png"))
    assert again.query_image_id == run.query_image_id and QueryImage.objects.count() == 1


@pytest.mark.django_db
def test_results_keep_a_readable_snapshot_when_the_product_is_removed(tiny_catalogue):
    run = run_search(text="shirt")
    first = run.results.order_by("rank").first()
    title, catalog_id = first.product.title, first.product.catalog_id
    first.product.delete()
    first.refresh_from_db()
    assert first.product is None and first.title == title and first.catalog_id == catalog_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({}, "empty_query"),
        ({"text": "   "}, "empty_query"),
        ({"text": "x" * 1001}, "invalid_search"),
        ({"text": "shirt", "k": 0}, "invalid_search"),
        ({"text": "shirt", "k": 101}, "invalid_search"),
        ({"text": "shirt", "k": "ten"}, "invalid_search"),
        ({"text": "shirt", "page": 0}, "invalid_search"),
        ({"text": "shirt", "page": 11}, "invalid_search"),  # K1 100 / k 10: ten pages at most
        ({"text": "shirt", "filters": {"gender": "Martian"}}, "invalid_filter"),
        ({"text": "shirt", "filters": {"colour": "Blue"}}, "invalid_filter"),
        ({"image": b"this is not an image"}, "image_unreadable"),
        ({"image": b""}, "image_unreadable"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(tiny_catalogue, kwargs, code):
    with pytest.raises(SearchError) as caught:
        run_search(**kwargs)
    assert caught.value.code == code and caught.value.status == 400
    assert caught.value.message
    assert SearchRun.objects.count() == 0


@pytest.mark.django_db
def test_oversized_and_100_megapixel_images_are_refused(tiny_catalogue, settings):
    hundred_megapixels = png_bytes(10_000, 10_000, mode="1")  # a small file, a huge bitmap
    assert len(hundred_megapixels) < settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES
    with pytest.raises(SearchError) as caught:
        run_search(image=SimpleUploadedFile("bomb.png", hundred_megapixels))
    assert caught.value.code == "image_too_many_pixels" and "megapixels" in caught.value.message
    settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES = 1000
    with pytest.raises(SearchError) as caught:
        run_search(image=SimpleUploadedFile("big.png", png_bytes(400, 400, colour=(1, 2, 3)) + b"\0" * 2000))
    assert caught.value.code == "image_too_large"
    assert QueryImage.objects.count() == 0


@pytest.mark.django_db
def test_no_embeddings_yet_says_indexing_is_in_progress(tiny_catalogue):
    ProductEmbedding.objects.filter(space=tiny_catalogue.space).delete()
    with pytest.raises(SearchUnavailable) as caught:
        run_search(text="shirt")
    assert caught.value.status == 409
    assert caught.value.progress["products"] == 90 and caught.value.progress["embedded"] == 0
    assert "Indexing is in progress" in caught.value.message
    EmbeddingSpace.objects.update(is_active=False)
    with pytest.raises(SearchUnavailable):
        run_search(text="shirt")


@pytest.mark.django_db
def test_more_like_this_leaves_the_product_out(tiny_catalogue):
    product = tiny_catalogue.products[3]
    run = run_search(similar_to=product, k=20)
    ids = list(run.results.values_list("product_id", flat=True))
    assert len(ids) == 20 and product.pk not in ids
    assert run.similar_to == product


@pytest.mark.django_db
def test_query_text_vectors_are_cached_and_search_works_with_redis_down(tiny_catalogue, request):
    space = tiny_catalogue.space
    cache.delete(text_cache_key(space, "blue jeans"))
    first = run_search(text="blue jeans")
    assert cache.get(text_cache_key(space, "blue jeans")) is not None
    request.getfixturevalue("cache_down")
    with pytest.raises(RedisTimeoutError):
        cache.get("anything")  # the frozen server costs one socket timeout ...
    with pytest.raises(RedisConnectionError, match="circuit open"):
        cache.get("anything")  # ... then the breaker answers at once
    second = run_search(text="blue jeans")
    third = run_search(text="never cached before")
    assert third.results.count() == 10
    assert list(second.results.values_list("product_id", flat=True)) == list(
        first.results.values_list("product_id", flat=True)
    )


@pytest.mark.django_db
def test_editing_a_used_config_creates_a_new_version(tiny_catalogue, weight_config):
    config = weight_config(stage2_text=0.8, stage2_image=0.2)
    unused = update_weight_config(config=config, stage2_text=0.7, stage2_image=0.3)
    assert unused.pk == config.pk and unused.version == 1  # nobody used it: edited in place
    run = run_search(text="shirt", config=config)
    new = update_weight_config(config=config, stage2_text=0.6, stage2_image=0.4)
    config.refresh_from_db()
    run.refresh_from_db()
    assert new.pk != config.pk and new.version == 2 and new.is_current
    assert not config.is_current and config.superseded_by == new
    assert (config.stage2_text, run.config_id) == (0.7, config.pk)  # the run still cites what it showed
    with pytest.raises(ValidationError, match="was superseded by a newer version; edit the current one"):
        update_weight_config(config=config, k=5)


@pytest.mark.django_db
def test_a_config_a_survey_compares_is_versioned_before_any_run(tiny_catalogue, weight_config):
    config, other = weight_config(), weight_config()
    survey = create_survey(title="Fit", slug="fit", weight_configs=[config, other])
    assert not config.runs.exists()
    new = update_weight_config(config=config, k=5)
    assert new.pk != config.pk and new.version == 2
    assert survey.configs.get(code="A").weight_config_id == config.pk  # the survey keeps its version
    with pytest.raises(ValidationError, match="cannot be renamed"):  # refused, not ignored
        update_weight_config(config=new, name="something-else")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "values",
    [
        {"stage1_text": -0.1},
        {"stage2_text": 0, "stage2_image": 0},
        {"product_image_share": 0.5, "product_title_share": 0.4},
        {"k1": 100, "ef_search": 50},
        {"k": 0},
        {"k": 20, "k1": 10, "ef_search": 100},
        {"k1": 5000, "ef_search": 5000},
    ],
)
def test_invalid_configs_are_refused(db, weight_config, values):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        weight_config(**values)


@pytest.mark.django_db
def test_prune_keeps_pinned_recent_and_signed_in_runs(tiny_catalogue, settings, django_user_model):
    settings.SEARCH_RETENTION_DAYS = 30
    user = django_user_model.objects.create_user("researcher")
    old = run_search(text="old")
    pinned = run_search(text="pinned")
    mine = run_search(text="mine", user=user)
    survey = run_search(text="survey", source="survey")
    recent = run_search(text="recent")
    unpinned_again = run_search(text="unpinned again")
    assert pin_runs(run_ids=[pinned.pk, unpinned_again.pk]) == 2
    assert unpin_runs(run_ids=SearchRun.objects.filter(pk=unpinned_again.pk).values("pk")) == 1
    SearchRun.objects.exclude(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert prune_search_runs().runs == 2
    assert set(SearchRun.objects.values_list("pk", flat=True)) == {pinned.pk, mine.pk, survey.pk, recent.pk}
    assert not SearchRun.objects.filter(pk__in=[old.pk, unpinned_again.pk]).exists()


@pytest.mark.django_db
def test_prune_keeps_runs_a_survey_cites_and_removes_orphan_query_images(
    tiny_catalogue, weight_config, django_capture_on_commit_callbacks
):
    from surveys.models import ResultSet

    long_ago = timezone.now() - timedelta(days=400)
    cited = run_search(text="cited")
    survey = create_survey(title="Cite", slug="cite", weight_configs=[weight_config(), weight_config()])
    ResultSet.objects.create(
        query=add_query(survey=survey, text="cited"),
        survey_config=survey.configs.first(),
        search_run=cited,
    )
    lonely = run_search(image=png_bytes(colour=(1, 200, 3)))
    shared = png_bytes(colour=(9, 9, 9))
    kept = run_search(image=shared, user=None, source="api")
    pruned_too = run_search(image=shared)
    SearchRun.objects.update(created_at=long_ago)
    QueryImage.objects.update(created_at=long_ago)
    lonely_file = lonely.query_image.file
    assert lonely_file.storage.exists(lonely_file.name)

    with django_capture_on_commit_callbacks(execute=True):
        pruned = prune_search_runs()
    assert (pruned.runs, pruned.query_images) == (2, 1)
    assert set(SearchRun.objects.values_list("pk", flat=True)) == {cited.pk, kept.pk}
    assert not SearchRun.objects.filter(pk=pruned_too.pk).exists()
    assert set(QueryImage.objects.values_list("pk", flat=True)) == {kept.query_image_id}
    assert not lonely_file.storage.exists(lonely_file.name)


@pytest.mark.django_db
def test_prune_command_reports_what_it_deleted(tiny_catalogue):
    from io import StringIO

    from django.core.management import call_command

    run = run_search(text="old")
    SearchRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=400))
    out = StringIO()
    call_command("prune_search_runs", stdout=out)
    assert "Deleted 1 search run(s) and 0 query image(s)." in out.getvalue()


@pytest.mark.django_db
def test_a_cached_text_search_reads_the_config_and_the_active_space_in_two_queries(tiny_catalogue):
    """Before stage 1 a search needs the weight config and the active space with whether it has
    vectors yet: two queries, not three (issue 17: where a cached text search spends its time)."""
    first = run_search(text="red cotton shirt")
    with CaptureQueriesContext(connection) as queries:
        again = run_search(text="red cotton shirt")
    before_storing = []
    for query in queries.captured_queries:
        # Then the shown products and the stored run (tests/search/test_cached_text_search.py).
        if '"search_product"' in query["sql"] or query["sql"].startswith("SAVEPOINT"):
            break
        before_storing.append(query["sql"])
    assert len(before_storing) == 2, before_storing
    assert [r.product_id for r in again.results.order_by("rank")] == [
        r.product_id for r in first.results.order_by("rank")
    ]
    assert again.space == tiny_catalogue.space
