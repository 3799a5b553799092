"""Rating surveys: researchers compare weight configurations, participants rate blinded result sets.

Data model (docs/surveys.md has the diagram and the export codebook):

    Survey ──< SurveyConfig >── search.WeightConfig      (the configurations compared; `code` is neutral)
       │──< Question                                      (wording editable; stored again with each answer)
       │──< SurveyQuery ──< ResultSet >── SurveyConfig    (one pinned search.SearchRun per (query, config) cell)
       └──< Participant ──< Assignment ──1 Rating          (one rating per assignment: DB unique constraint)

Everything a participant sees comes from a ResultSet, computed once and reused: two participants
in the same cell, or one participant re-opening a task, see the same products in the same order.
The weight-comparison report reads `Rating` → `Assignment.survey_config` → `SurveyConfig.weight_config`.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse


def _new_seed() -> int:
    return secrets.randbelow(2**31)


def _new_token() -> str:
    return secrets.token_urlsafe(18)


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class TaskKind(models.TextChoices):
        RATING = "rating", "Rating: one result set per task, rated with the questions"
        SIDE_BY_SIDE = "side_by_side", "Side by side: two arms' result sets per task, which is better"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, help_text="used in the open participant link")
    instructions = models.TextField(blank=True)
    consent_text = models.TextField(
        default=(
            "Taking part is voluntary. We store only your answers, an anonymous id and timestamps; "
            "no name, e-mail or IP address. You may stop at any time."
        )
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    task_kind = models.CharField(
        max_length=16,
        choices=TaskKind.choices,
        default=TaskKind.RATING,
        help_text="side by side: each task shows two arms' results (neutral labels, sides balanced) "
        "and asks which matches better (surveys/sidebyside/)",
    )
    results_per_task = models.PositiveSmallIntegerField(default=12, help_text="products shown per task")
    target_ratings_per_cell = models.PositiveIntegerField(
        default=10, help_text="ratings wanted for each (query, configuration) cell"
    )
    seed = models.BigIntegerField(default=_new_seed, help_text="makes assignment plans reproducible")
    space = models.ForeignKey(
        "embeddings.EmbeddingSpace",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="embedding space searched; empty = the active space when the result sets are computed",
    )
    exact = models.BooleanField(
        default=False, help_text="exact search over the whole catalogue instead of approximate stage 1"
    )
    own_query_tasks = models.PositiveSmallIntegerField(
        default=0,
        help_text="participants' own query mode: how many queries each participant types or uploads "
        "(0 = off); each gets results from a randomly assigned configuration",
    )
    allow_open_link = models.BooleanField(default=True, help_text="anyone with /surveys/s/<slug>/ may join")
    arms_hidden_from_public_search = models.BooleanField(
        default=False,
        help_text="refuse arms that use the public search's default configuration, so participants cannot "
        "reproduce an arm's results on the public search page (docs/surveys.md, Blinding)",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("conduct_survey", "Can design surveys, watch progress and export ratings")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("surveys:manage-detail", args=[self.slug])

    @property
    def own_query_mode(self) -> bool:
        return self.own_query_tasks > 0


class SurveyConfig(models.Model):
    """An arm of a survey: a weight configuration in an embedding space (empty: the survey's space,
    the common case). `code` (A, B, C…) is what plans and exports use; participants never see it,
    nor the configuration's or the space's name."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="configs")
    weight_config = models.ForeignKey("search.WeightConfig", on_delete=models.PROTECT, related_name="+")
    space = models.ForeignKey(
        "embeddings.EmbeddingSpace",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="the arm's embedding space; empty = the survey's space",
    )
    code = models.CharField(max_length=8)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "weight_config", "space"], name="survey_arm_once", nulls_distinct=False
            ),
            models.UniqueConstraint(fields=["survey", "code"], name="survey_config_code_unique"),
        ]

    def __str__(self):
        return f"{self.survey.slug}:{self.code}"

    @property
    def arm_space(self):
        """The space this arm searches (None: the active space when its result sets are computed)."""
        return self.space if self.space_id else self.survey.space


class Question(models.Model):
    class Kind(models.TextChoices):
        MATCH = "match", "Match (yes / partly / no)"
        SATISFACTION = "satisfaction", "Satisfaction (1–5)"
        RELEVANCE = "relevance", "Relevant or not, per shown product"
        GRADED = "graded", "Graded relevance (0–3), per shown product"
        COMMENT = "comment", "Free-text comment"
        ATTENTION = "attention", "Attention check (1–5, the wording names the answer)"

    MATCH_CHOICES = (("yes", "Yes"), ("partly", "Partly"), ("no", "No"))
    SATISFACTION_RANGE = (1, 5)

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    wording = models.CharField(max_length=300)
    low_label = models.CharField(max_length=60, blank=True, help_text="satisfaction: label of 1")
    high_label = models.CharField(max_length=60, blank=True, help_text="satisfaction: label of 5")
    # Attention checks are instructed-response items ("To show you are reading, choose 2"): a
    # participant who gives another answer on any task can be left out of the report.
    expected_value = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="attention check: the answer (1–5) its wording asks for"
    )
    # Graded relevance: the labels of grades 0, 1, 2, … (empty: surveys.graded.DEFAULT_GRADE_LABELS).
    grade_labels = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["survey", "order", "id"]

    def __str__(self):
        return self.wording


# The seed's Google Form, made the default questions of every new survey.
DEFAULT_QUESTIONS = (
    {
        "kind": Question.Kind.MATCH,
        "wording": "Does the returned set match the style/pattern you had in mind?",
        "required": True,
    },
    {
        "kind": Question.Kind.SATISFACTION,
        "wording": "How satisfied are you with these results?",
        "low_label": "Not at all satisfied",
        "high_label": "Very satisfied",
        "required": True,
    },
)


class SurveyQuery(models.Model):
    class Source(models.TextChoices):
        TYPED = "typed", "Typed by a researcher"
        CSV = "csv", "CSV upload"
        CATALOGUE = "catalogue", "Catalogue sample"
        PARTICIPANT = "participant", "A participant's own query"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="queries")
    text = models.CharField(max_length=500, blank=True)
    image = models.ImageField(upload_to="surveys/queries/", blank=True, max_length=255)
    image_name = models.CharField(max_length=255, blank=True, help_text="the uploaded file's name")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.TYPED)
    # Catalogue samples: the product the query came from, left out of its own results.
    source_product = models.ForeignKey(
        "catalogue.Product", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Its catalogue id as it was when sampled: exports keep it after the product is deleted.
    source_catalog_id = models.CharField(max_length=64, blank=True)
    # Own-query mode: the participant who typed it (such queries are not shown to anyone else).
    participant = models.ForeignKey(
        "Participant", on_delete=models.CASCADE, null=True, blank=True, related_name="own_queries"
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["survey", "position", "id"]
        verbose_name_plural = "survey queries"

    def __str__(self):
        return self.text or self.image_name or f"query {self.pk}"


class ResultSet(models.Model):
    """The results of one (query, configuration) cell: a pinned SearchRun, computed once, and frozen.

    `items` cites the run's stored result rows as they were shown: per product, in screen order,
    {"rank", "result_id", "product_id", "catalog_id", "title", "image", "stage1_score",
    "stage2_score"}, with `image` a copy of the product's image kept under surveys/shown/ (named by
    its content hash). The participant page, the export and the report read only `items`, so
    editing or deleting a product never changes what a past participant saw or what a report
    computed."""

    query = models.ForeignKey(SurveyQuery, on_delete=models.CASCADE, related_name="result_sets")
    survey_config = models.ForeignKey(SurveyConfig, on_delete=models.CASCADE, related_name="result_sets")
    search_run = models.ForeignKey("search.SearchRun", on_delete=models.PROTECT, related_name="+")
    # Primary keys of the products shown (catalogue.Product.pk, not catalogue ids), in order (the
    # source product left out, cut to results_per_task); live keys, kept for joins only: readers
    # use `items`.
    product_ids = models.JSONField(default=list)
    items = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["query", "survey_config"], name="one_result_set_per_cell")
        ]

    def __str__(self):
        return f"{self.query_id}×{self.survey_config_id}"


class Participant(models.Model):
    """An anonymous participant: a random id and a secret link token, nothing personal."""

    class Entry(models.TextChoices):
        INVITE = "invite", "Personal invite link"
        OPEN = "open", "Open link"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="participants")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    token = models.CharField(max_length=40, unique=True, default=_new_token)
    entry = models.CharField(max_length=8, choices=Entry.choices, default=Entry.OPEN)
    consent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The stored assignment plan: Latin-square row and ordered [query id, config code] tasks.
    plan = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["survey", "id"]

    def __str__(self):
        return str(self.public_id)

    def get_absolute_url(self):
        return reverse("surveys:invite", args=[self.token])


class Assignment(models.Model):
    """One task of a participant: a query shown under one configuration."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="assignments")
    query = models.ForeignKey(SurveyQuery, on_delete=models.PROTECT, related_name="assignments")
    survey_config = models.ForeignKey(SurveyConfig, on_delete=models.PROTECT, related_name="assignments")
    result_set = models.ForeignKey(ResultSet, on_delete=models.PROTECT, related_name="assignments")
    search_run = models.ForeignKey("search.SearchRun", on_delete=models.PROTECT, related_name="+")
    # Side-by-side surveys: survey_config / result_set are shown on the left ("Set A"), these on the
    # right ("Set B"); empty for a rating task.
    right_config = models.ForeignKey(
        SurveyConfig, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    right_result_set = models.ForeignKey(
        ResultSet, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    position = models.PositiveSmallIntegerField()
    shown_at = models.DateTimeField(null=True, blank=True, help_text="first time the task was shown")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "query"], name="query_once_per_participant"),
            models.UniqueConstraint(fields=["participant", "position"], name="task_position_unique"),
        ]
        indexes = [models.Index(fields=["query", "survey_config"])]

    def __str__(self):
        return f"{self.participant_id}#{self.position}"

    @classmethod
    def for_result_set(cls, participant, result_set: ResultSet, position: int, **fields) -> "Assignment":
        """An unsaved task of `participant` at `position` showing `result_set`: its query, its
        configuration and the search run that computed it (provenance)."""
        return cls(
            participant=participant,
            query_id=result_set.query_id,
            survey_config_id=result_set.survey_config_id,
            result_set=result_set,
            search_run_id=result_set.search_run_id,
            position=position,
            **fields,
        )


PREFERENCE_CHOICES = (
    ("left", "Set A (left)"),
    ("right", "Set B (right)"),
    ("both", "Both equally"),
    ("neither", "Neither"),
)


class Rating(models.Model):
    """A participant's answers to one task. At most one per assignment (unique constraint)."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="rating")
    # {"<question id>": {"kind", "wording", "value"}}: wording as shown when answered.
    answers = models.JSONField(default=dict)
    # Typed copies of the two default questions, for reports and SQL (null when not asked).
    match = models.CharField(max_length=8, blank=True, choices=Question.MATCH_CHOICES)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    # {"<catalog id>": true/false} for the relevance question, if asked.
    relevance = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    # Side-by-side tasks: which set matched better (left / right / both / neither) and why (optional).
    preference = models.CharField(max_length=8, blank=True, choices=PREFERENCE_CHOICES)
    preference_reason = models.TextField(blank=True)
    # Null when the survey asks no attention check; False when any attention answer was not the one asked for.
    attention_passed = models.BooleanField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    time_on_task_s = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["submitted_at", "id"]

    def __str__(self):
        return f"rating of {self.assignment_id}"


class TaskDraft(models.Model):
    """What a participant answered so far on a task they paused ("Save and continue later"): the
    raw form values, restored into the form when they come back. Not a rating: reports and
    exports never read it, and it is deleted when the task's rating is stored."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="draft")
    # {"q<question id>": value or [values]}: the task form's own field names and raw values.
    values = models.JSONField(default=dict, blank=True)
    saved_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"draft of {self.assignment_id}"


# --------------------------------------------------------------------------- plan and preregistration


class StudyPlan(models.Model):
    """What the researcher fixed before fielding: the sample-size plan (simulated power of this
    survey's design and analysis) and the preregistered analysis. The preregistration is frozen
    when the survey opens (`frozen_at`); the report then marks what was preregistered and what is
    exploratory."""

    class Metric(models.TextChoices):
        SATISFACTION = "satisfaction", "Mean satisfaction (1–5)"
        MATCH_YES = "match_yes", "Share of “matches the style: yes”"

    class Test(models.TextChoices):
        WILCOXON = "wilcoxon", "Wilcoxon signed-rank over per-query means, Holm across pairs"
        MIXED = "mixed", "Mixed model (participant, query, configuration × query), Holm-adjusted contrasts"

    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="study_plan")
    power_plan = models.JSONField(default=dict, blank=True, help_text="the planner's last result")
    preregistered = models.BooleanField(default=False)
    primary_metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.SATISFACTION)
    primary_test = models.CharField(max_length=16, choices=Test.choices, default=Test.WILCOXON)
    alpha = models.FloatField(default=0.05)
    planned_queries = models.PositiveIntegerField(null=True, blank=True)
    planned_participants = models.PositiveIntegerField(null=True, blank=True)
    exclude_failed_attention = models.BooleanField(
        default=False, help_text="leave out every rating of participants who failed an attention check"
    )
    completed_only = models.BooleanField(default=False, help_text="analyse completed participants only")
    notes = models.TextField(blank=True, help_text="hypotheses, other exclusions, stopping rule")
    updated_at = models.DateTimeField(auto_now=True)
    frozen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"plan of {self.survey_id}"


# Opening a survey in the background (surveys/opening_job.py); the offline benchmark's rows (the
# report's Recall@K and the evaluation jobs) live in surveys/offline/.
from surveys.offline.models import OfflineEvaluation, RetrievalEvaluation  # noqa: E402, F401
from surveys.opening_job import OpeningJob  # noqa: E402, F401
