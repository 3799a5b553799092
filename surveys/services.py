"""Writes for surveys: design, result sets, participants, assignment plans and ratings.

Views, the API and admin actions call these; reads live in surveys/selectors.py.
"""

from __future__ import annotations

import csv
import io
import random
import string
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from catalogue.models import Product
from fashionsite.uploads import DecodedImage, UploadRefused, decode_untrusted_image, open_zip, read_zip_entry
from search.errors import SearchError, SearchUnavailable
from search.models import SearchRun
from search.services import run_search
from surveys import assignment as plan_rules
from surveys.models import (
    DEFAULT_QUESTIONS,
    Assignment,
    Participant,
    Question,
    Rating,
    ResultSet,
    Survey,
    SurveyConfig,
    SurveyQuery,
)

# Survey settings that decide which products a (query, configuration) cell shows.
RESULT_SETTINGS = ("results_per_task", "space", "exact")

# Assignments of participants who consented this long ago and have not rated count as abandoned
# when new participants are steered to the emptiest cells.
ABANDONED_AFTER = timedelta(hours=24)


class SurveyError(Exception):
    """A request a researcher or participant can fix; the message says how."""


class SurveyClosed(SurveyError):
    pass


class QueryImportError(SurveyError):
    """A bad query CSV or image zip; names the file and line."""


# --------------------------------------------------------------------------- design


@transaction.atomic
def create_survey(*, title: str, slug: str, weight_configs, created_by=None, **fields) -> Survey:
    """A draft survey comparing `weight_configs` (two or more), with the seed's two default questions."""
    weight_configs = list(weight_configs)
    if len(weight_configs) < 2:
        raise SurveyError("A survey compares at least two weight configurations.")
    survey = Survey.objects.create(title=title, slug=slug, created_by=created_by, **fields)
    set_survey_configs(survey=survey, weight_configs=weight_configs)
    for order, question in enumerate(DEFAULT_QUESTIONS):
        Question.objects.create(survey=survey, order=order, **question)
    return survey


def _config_code(index: int) -> str:
    letters = string.ascii_uppercase
    return letters[index] if index < 26 else f"{letters[index // 26 - 1]}{letters[index % 26]}"


@transaction.atomic
def set_survey_configs(*, survey: Survey, weight_configs) -> list[SurveyConfig]:
    """Replace the compared configurations (draft surveys only). Codes are neutral letters."""
    weight_configs = list(dict.fromkeys(weight_configs))
    if len(weight_configs) < 2:
        raise SurveyError("A survey compares at least two weight configurations.")
    if survey.status != Survey.Status.DRAFT and survey.participants.exists():
        raise SurveyError("The configurations cannot change once participants have joined.")
    survey.configs.all().delete()
    return [
        SurveyConfig.objects.create(
            survey=survey, weight_config=config, code=_config_code(index), position=index
        )
        for index, config in enumerate(weight_configs)
    ]


@transaction.atomic
def add_question(
    *,
    survey: Survey,
    kind: str,
    wording: str,
    required: bool = True,
    expected_value: int | None = None,
    **labels,
) -> Question:
    """Add a question at the end of the survey. An attention check needs `expected_value` (1–5),
    the answer its wording asks for."""
    low, high = Question.SATISFACTION_RANGE
    if kind == Question.Kind.ATTENTION and (expected_value is None or not low <= expected_value <= high):
        raise SurveyError(f"An attention check needs the answer ({low}–{high}) its wording asks for.")
    order = (survey.questions.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    return Question.objects.create(
        survey=survey,
        kind=kind,
        wording=wording,
        required=required,
        order=order,
        expected_value=expected_value if kind == Question.Kind.ATTENTION else None,
        **labels,
    )


def _check_image_bytes(data: bytes, *, name: str) -> DecodedImage:
    """Refuse oversized files, non-images and decompression bombs before anything is stored."""
    try:
        return decode_untrusted_image(data, max_bytes=settings.FASHIONSITE_MAX_QUERY_IMAGE_BYTES, name=name)
    except UploadRefused as exc:
        raise SurveyError(str(exc)) from exc


def _next_query_position(survey: Survey) -> int:
    last = survey.queries.order_by("-position").values_list("position", flat=True).first()
    return 0 if last is None else last + 1


@transaction.atomic
def add_query(
    *,
    survey: Survey,
    text: str = "",
    image_bytes: bytes | None = None,
    image_name: str = "",
    source: str = SurveyQuery.Source.TYPED,
    source_product: Product | None = None,
    participant: Participant | None = None,
) -> SurveyQuery:
    """Add a query (text, an image, or both). Images are checked before they are stored."""
    text = (text or "").strip()
    if not text and not image_bytes:
        raise SurveyError("A query needs a text, an image, or both.")
    query = SurveyQuery(
        survey=survey,
        text=text[:500],
        source=source,
        source_product=source_product,
        participant=participant,
        position=_next_query_position(survey),
    )
    if image_bytes:
        name = PurePosixPath(image_name or "query.jpg").name
        decoded = _check_image_bytes(image_bytes, name=name)
        query.image_name = name[:255]
        # Stored under its content hash and decoded format, never the client's name or suffix.
        query.image.save(decoded.stored_name(f"{decoded.sha256[:2]}/"), ContentFile(image_bytes), save=False)
    query.save()
    return query


def _zip_members(zip_file) -> tuple[dict[str, zipfile.ZipInfo], zipfile.ZipFile]:
    """Image members of an uploaded zip by base name, after the catalogue importer's safety checks."""
    label = getattr(zip_file, "name", None) or "images zip"
    try:
        archive = open_zip(zip_file, label=label)
    except UploadRefused as exc:
        raise QueryImportError(str(exc)) from exc
    members = {PurePosixPath(info.filename).name: info for info in archive.infolist() if not info.is_dir()}
    return members, archive


@transaction.atomic
def import_queries_csv(*, survey: Survey, csv_file, zip_file=None) -> list[SurveyQuery]:
    """Add queries from a CSV with columns `text` and `image` (an image file name in the zip).

    All or nothing: the first bad line raises QueryImportError naming the file and line.
    """
    name = getattr(csv_file, "name", "queries.csv")
    raw = csv_file.read()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QueryImportError(f"{name}: not UTF-8 text.") from exc
    reader = csv.DictReader(io.StringIO(content))
    fields = {(field or "").strip().lower() for field in reader.fieldnames or []}
    if not fields & {"text", "image"}:
        raise QueryImportError(f"{name}: line 1 must be a header with a 'text' and/or an 'image' column.")
    members, archive = _zip_members(zip_file) if zip_file else ({}, None)
    created = []
    for row in reader:
        line = reader.line_num
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        text, image_name = row.get("text", ""), row.get("image", "")
        image_bytes = None
        if image_name:
            info = members.get(PurePosixPath(image_name).name)
            if info is None:
                raise QueryImportError(f"{name}, line {line}: image {image_name!r} is not in the zip.")
            try:
                image_bytes = read_zip_entry(archive, info)
            except UploadRefused as exc:
                raise QueryImportError(f"{name}, line {line}: {exc}") from exc
        if not text and not image_bytes:
            raise QueryImportError(f"{name}, line {line}: the row has neither text nor image.")
        try:
            created.append(
                add_query(
                    survey=survey,
                    text=text,
                    image_bytes=image_bytes,
                    image_name=image_name,
                    source=SurveyQuery.Source.CSV,
                )
            )
        except SurveyError as exc:
            raise QueryImportError(f"{name}, line {line}: {exc}") from exc
    if not created:
        raise QueryImportError(f"{name}: no query rows after the header.")
    return created


@transaction.atomic
def sample_catalogue_queries(
    *, survey: Survey, count: int, categories: list[str], use_title: bool = True, use_image: bool = True
) -> list[SurveyQuery]:
    """Sample `count` products of the chosen master categories or article types as queries.

    The product's title and/or image become the query; the product itself is left out of the
    results shown. Sampling is seeded by the survey's seed, so it is reproducible.
    """
    if not (use_title or use_image):
        raise SurveyError("Use the product's title, its image, or both as the query.")
    products = Product.objects.all()
    if categories:
        products = products.filter(Q(master_category__in=categories) | Q(article_type__in=categories))
    if use_image:
        products = products.exclude(image="")
    ids = list(products.order_by("id").values_list("id", flat=True))
    if not ids:
        raise SurveyError("No products match the chosen categories.")
    already = set(survey.queries.exclude(source_product=None).values_list("source_product_id", flat=True))
    ids = [pk for pk in ids if pk not in already]
    picked = random.Random(f"{survey.seed}:sample:{len(already)}").sample(ids, min(count, len(ids)))
    created = []
    for product in Product.objects.filter(id__in=picked).order_by("id"):
        image_bytes = None
        if use_image:
            with product.image.open("rb") as handle:
                image_bytes = handle.read()
        created.append(
            add_query(
                survey=survey,
                text=product.title if use_title else "",
                image_bytes=image_bytes,
                image_name=PurePosixPath(product.image.name).name if use_image else "",
                source=SurveyQuery.Source.CATALOGUE,
                source_product=product,
            )
        )
    return created


# --------------------------------------------------------------------------- result sets


def ensure_result_set(*, query: SurveyQuery, survey_config: SurveyConfig) -> ResultSet:
    """The cell's result set, computing (and pinning) its SearchRun the first time only.

    Concurrent callers for the same cell wait on a row lock of the query, so the search runs once.
    """
    existing = ResultSet.objects.filter(query=query, survey_config=survey_config).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        SurveyQuery.objects.select_for_update().filter(pk=query.pk).first()
        existing = ResultSet.objects.filter(query=query, survey_config=survey_config).first()
        if existing is not None:
            return existing
        survey = query.survey
        product = query.source_product
        search = {
            "space": survey.space,
            "config": survey_config.weight_config,
            "exact": survey.exact,
            "source": SearchRun.Source.SURVEY,
        }
        if product is not None and query.text == product.title and query.image:
            # Title and image of a catalogue product: search with its stored vectors; run_search
            # leaves the product itself out of the results.
            search.update(similar_to=product, k=survey.results_per_task)
        else:
            image = None
            if query.image:
                with query.image.open("rb") as handle:
                    image = handle.read()
            search.update(
                text=query.text or None, image=image, k=survey.results_per_task + (1 if product else 0)
            )
        try:
            run = run_search(**search)
        except (SearchError, SearchUnavailable) as exc:
            raise SurveyError(f"Could not compute the results of “{query}”: {exc}") from exc
        SearchRun.objects.filter(pk=run.pk).update(pinned=True)
        product_ids = [
            result.product_id
            for result in run.results.order_by("rank")
            if result.product_id != query.source_product_id
        ][: survey.results_per_task]
        return ResultSet.objects.create(
            query=query, survey_config=survey_config, search_run=run, product_ids=product_ids
        )


def compute_result_sets(*, survey: Survey) -> int:
    """Compute every (researcher query, configuration) cell now; returns how many exist."""
    configs = list(survey.configs.select_related("weight_config"))
    queries = list(survey.queries.filter(participant=None).select_related("survey"))
    for query in queries:
        for config in configs:
            ensure_result_set(query=query, survey_config=config)
    return len(queries) * len(configs)


def open_survey(*, survey: Survey) -> Survey:
    """Open a survey for participants, computing every cell's results first."""
    if survey.configs.count() < 2:
        raise SurveyError("Add at least two weight configurations before opening.")
    if not survey.questions.exists():
        raise SurveyError("Add at least one question before opening.")
    if not survey.queries.filter(participant=None).exists() and not survey.own_query_mode:
        raise SurveyError("Add queries (or turn on participants' own queries) before opening.")
    compute_result_sets(survey=survey)
    Survey.objects.filter(pk=survey.pk).update(
        status=Survey.Status.OPEN, opened_at=survey.opened_at or timezone.now(), closed_at=None
    )
    survey.refresh_from_db()
    return survey


def close_survey(*, survey: Survey) -> Survey:
    """Close a survey: participants get a 'closed' page and nothing more is stored."""
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.CLOSED, closed_at=timezone.now())
    survey.refresh_from_db()
    return survey


# --------------------------------------------------------------------------- participants


def _require_open(survey: Survey) -> None:
    if survey.status != Survey.Status.OPEN:
        raise SurveyClosed("This survey is not open.")


@transaction.atomic
def create_invites(*, survey: Survey, count: int) -> list[Participant]:
    """`count` personal invite links (participants who have not consented yet)."""
    if not 1 <= count <= 10_000:
        raise SurveyError("Generate between 1 and 10,000 invite links at a time.")
    return Participant.objects.bulk_create(
        [Participant(survey=survey, entry=Participant.Entry.INVITE) for _ in range(count)]
    )


def join_open_link(*, survey: Survey) -> Participant:
    """A new anonymous participant arriving by the open link (consent comes next)."""
    _require_open(survey)
    if not survey.allow_open_link:
        raise SurveyClosed("This survey takes part by personal invitation only.")
    return Participant.objects.create(survey=survey, entry=Participant.Entry.OPEN)


def _cell_counts(survey: Survey) -> dict[tuple[int, str], int]:
    """Live load per cell: rated assignments plus those of participants still within the time limit."""
    recent = timezone.now() - ABANDONED_AFTER
    rows = (
        Assignment.objects.filter(participant__survey=survey, query__participant=None)
        .filter(Q(rating__isnull=False) | Q(participant__consent_at__gte=recent))
        .values("query_id", "survey_config__code")
        .annotate(n=Count("id"))
    )
    return {(row["query_id"], row["survey_config__code"]): row["n"] for row in rows}


@transaction.atomic
def give_consent(*, participant: Participant) -> Participant:
    """Record consent and store the participant's assignment plan (idempotent).

    The survey row is locked while the row is chosen, so concurrent participants see each other's
    load and the cells stay balanced.
    """
    survey = Survey.objects.select_for_update().get(pk=participant.survey_id)
    _require_open(survey)
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if participant.consent_at is not None:
        return participant
    configs = list(survey.configs.order_by("position", "id"))
    codes = [config.code for config in configs]
    query_ids = list(
        survey.queries.filter(participant=None).order_by("position", "id").values_list("id", flat=True)
    )
    rotation = Participant.objects.filter(survey=survey).exclude(consent_at=None).count()
    row = plan_rules.choose_row(
        query_ids, codes, _cell_counts(survey), target=survey.target_ratings_per_cell, rotation=rotation
    )
    tasks = plan_rules.shuffled_tasks(
        plan_rules.latin_square_row(query_ids, codes, row), seed=survey.seed, participant_key=participant.pk
    )
    now = timezone.now()
    participant.consent_at = now
    participant.started_at = now
    participant.plan = {
        "row": row,
        "seed": survey.seed,
        "tasks": [{"query": query_id, "config": code} for query_id, code in tasks],
        "own_query_tasks": survey.own_query_tasks,
    }
    participant.save(update_fields=["consent_at", "started_at", "plan"])
    by_code = {config.code: config for config in configs}
    # Opening the survey computed every cell; a query added since gets its result set here.
    computed = {
        (result_set.query_id, result_set.survey_config_id): result_set
        for result_set in ResultSet.objects.filter(query_id__in=query_ids, survey_config__in=configs)
    }
    assignments = []
    for position, (query_id, code) in enumerate(tasks):
        config = by_code[code]
        result_set = computed.get((query_id, config.pk))
        if result_set is None:
            result_set = ensure_result_set(query=SurveyQuery.objects.get(pk=query_id), survey_config=config)
        assignments.append(
            Assignment(
                participant=participant,
                query_id=query_id,
                survey_config=config,
                result_set=result_set,
                search_run_id=result_set.search_run_id,
                position=position,
            )
        )
    Assignment.objects.bulk_create(assignments)
    if not tasks and not survey.own_query_mode:
        participant.finished_at = now
        participant.save(update_fields=["finished_at"])
    return participant


@transaction.atomic
def add_own_query(
    *, participant: Participant, text: str = "", image_bytes: bytes | None = None, image_name: str = ""
) -> Assignment:
    """Own-query mode: the participant's query, answered by a randomly assigned configuration."""
    participant = Participant.objects.select_for_update().select_related("survey").get(pk=participant.pk)
    survey = participant.survey
    _require_open(survey)
    done = participant.own_queries.count()
    if done >= survey.own_query_tasks:
        raise SurveyError("You have already entered all your own queries.")
    if participant.assignments.filter(rating__isnull=True).exists():
        raise SurveyError("Please rate the open task first.")
    query = add_query(
        survey=survey,
        text=text,
        image_bytes=image_bytes,
        image_name=image_name,
        source=SurveyQuery.Source.PARTICIPANT,
        participant=participant,
    )
    codes = list(survey.configs.order_by("position", "id").values_list("code", flat=True))
    code = plan_rules.own_query_config(codes, seed=survey.seed, participant_key=participant.pk, index=done)
    config = survey.configs.get(code=code)
    result_set = ensure_result_set(query=query, survey_config=config)
    last = participant.assignments.order_by("-position").values_list("position", flat=True).first()
    position = 0 if last is None else last + 1
    plan = dict(participant.plan)
    plan.setdefault("own", []).append({"query": query.pk, "config": code})
    participant.plan = plan
    participant.save(update_fields=["plan"])
    return Assignment.objects.create(
        participant=participant,
        query=query,
        survey_config=config,
        result_set=result_set,
        search_run_id=result_set.search_run_id,
        position=position,
    )


def mark_shown(*, assignment: Assignment) -> None:
    """Remember when a task was first shown (time on task starts there; re-opening keeps it)."""
    if assignment.shown_at is None:
        now = timezone.now()
        Assignment.objects.filter(pk=assignment.pk, shown_at=None).update(shown_at=now)
        assignment.shown_at = now


@dataclass
class SubmitResult:
    rating: Rating
    created: bool


def submit_rating(*, assignment: Assignment, answers: dict) -> SubmitResult:
    """Store the participant's answers to a task once.

    `answers` is the cleaned form: {question: value} keyed by Question objects. A second submit
    (double click, replayed request) stores nothing and returns the first rating with created=False.
    The assignment row is locked while the rating is written; a submit that still races past the
    check (its snapshot predates the other's commit) meets the unique constraint and is answered
    the same way.
    """
    try:
        with transaction.atomic():
            locked = (
                Assignment.objects.select_for_update(of=("self",))
                .select_related("participant__survey", "rating")
                .get(pk=assignment.pk)
            )
            _require_open(locked.participant.survey)
            if hasattr(locked, "rating"):
                return SubmitResult(locked.rating, False)
            rating = _new_rating(locked, answers)
            rating.save()
            _finish_if_done(locked.participant)
            return SubmitResult(rating, True)
    except IntegrityError:
        existing = Rating.objects.filter(assignment_id=assignment.pk).first()
        if existing is None:
            raise
        return SubmitResult(existing, False)


def _new_rating(assignment: Assignment, answers: dict) -> Rating:
    """An unsaved Rating: every answer with the wording shown, typed copies for reports and SQL."""
    now = timezone.now()
    rating = Rating(assignment=assignment, started_at=assignment.shown_at)
    stored = {}
    attention = []
    for question, value in answers.items():
        stored[str(question.pk)] = {"kind": question.kind, "wording": question.wording, "value": value}
        if question.kind == Question.Kind.ATTENTION:
            stored[str(question.pk)]["expected"] = question.expected_value
            attention.append(value == question.expected_value)
        elif question.kind == Question.Kind.MATCH and not rating.match and value:
            rating.match = value
        elif (
            question.kind == Question.Kind.SATISFACTION and rating.satisfaction is None and value is not None
        ):
            rating.satisfaction = value
        elif question.kind == Question.Kind.RELEVANCE and not rating.relevance:
            rating.relevance = value or {}
        elif question.kind == Question.Kind.COMMENT and not rating.comment:
            rating.comment = value or ""
    rating.answers = stored
    rating.attention_passed = all(attention) if attention else None
    if assignment.shown_at:
        rating.time_on_task_s = max(0.0, (now - assignment.shown_at).total_seconds())
    return rating


def _finish_if_done(participant: Participant) -> None:
    survey = participant.survey
    if participant.assignments.filter(rating__isnull=True).exists():
        return
    if survey.own_query_tasks and participant.own_queries.count() < survey.own_query_tasks:
        return
    Participant.objects.filter(pk=participant.pk, finished_at=None).update(finished_at=timezone.now())


@transaction.atomic
def update_survey(*, survey: Survey, form) -> Survey:
    """Save the survey form (a SurveyForm bound to `survey`) and its configurations.

    Settings that decide what a cell shows (results per task, space, exact search) cannot change
    once participants have been assigned tasks: everyone in a cell must see the same set. Before
    that, result sets already computed (e.g. by a preview) are dropped and computed again.
    """
    configs = list(form.cleaned_data["weight_configs"])
    current = list(survey.configs.order_by("position").values_list("weight_config_id", flat=True))
    changed = sorted(set(form.changed_data) & set(RESULT_SETTINGS))
    if changed:
        if Assignment.objects.filter(participant__survey=survey).exists():
            names = ", ".join(form.fields[name].label or name for name in changed)
            raise SurveyError(
                f"Participants have already been shown results, so these settings cannot change: {names}."
            )
        stale = ResultSet.objects.filter(query__survey=survey)
        SearchRun.objects.filter(pk__in=stale.values("search_run_id")).update(pinned=False)
        stale.delete()
    survey = form.save()
    if [config.pk for config in configs] != current:
        set_survey_configs(survey=survey, weight_configs=configs)
    return survey


@transaction.atomic
def save_questions(*, survey: Survey, formset) -> None:
    """Save reworded, added or deleted questions. Stored answers keep the wording they were given."""
    for question in formset.save(commit=False):
        question.survey = survey
        question.save()
    for question in formset.deleted_objects:
        question.delete()


@transaction.atomic
def delete_query(*, query: SurveyQuery) -> None:
    """Remove a query that nobody has been assigned yet."""
    if query.assignments.exists():
        raise SurveyError("This query has been shown to participants and cannot be removed.")
    query.result_sets.all().delete()
    query.delete()
