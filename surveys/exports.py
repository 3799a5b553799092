"""Long-form exports of a survey's ratings (CSV, JSON, Parquet) and their codebook.

One row per rating. Rows are produced from a server-side cursor in chunks (`iterator()`), CSV and
JSON are streamed as they are produced, and Parquet is written in row groups to a temporary file
that is then streamed: 100k ratings never sit in memory at once.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
from django.http import FileResponse, Http404, StreamingHttpResponse

from surveys.models import Rating, Survey

CHUNK = 2000
PARQUET_ROW_GROUP = 5000
# A CSV cell starting with one of these is a formula to a spreadsheet; prefixing a quote makes it text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# (name, arrow type, description) of the fixed columns; per-question columns follow (see codebook()).
FIXED_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("survey", pa.string(), "survey slug"),
    ("rating_id", pa.int64(), "database id of the rating (one rating per task)"),
    ("participant_id", pa.string(), "anonymous participant id (UUID); no personal data is stored"),
    (
        "participant_entry",
        pa.string(),
        "how the participant joined: invite (personal link) or open (open link)",
    ),
    ("consent_at", pa.timestamp("us", tz="UTC"), "when the participant gave consent (UTC)"),
    ("task_id", pa.string(), "anonymous id of the task (assignment UUID)"),
    ("task_position", pa.int64(), "position of the task in the participant's (shuffled) order, from 0"),
    ("query_id", pa.int64(), "database id of the query"),
    ("query_source", pa.string(), "typed, csv, catalogue (sampled product) or participant (own query)"),
    ("query_text", pa.string(), "the query text (empty when the query is an image only)"),
    ("query_image", pa.string(), "stored path of the query image under MEDIA_ROOT (empty when none)"),
    ("query_image_name", pa.string(), "the query image's original file name"),
    ("query_source_product", pa.string(), "catalogue id of the sampled product (left out of its results)"),
    ("config_code", pa.string(), "neutral code of the configuration within the survey (A, B, …)"),
    ("config_name", pa.string(), "weight configuration name (never shown to participants)"),
    ("config_version", pa.int64(), "weight configuration version"),
    ("config_weights", pa.string(), "the configuration's weights and parameters, as JSON"),
    ("space_name", pa.string(), "embedding space searched"),
    ("space_model", pa.string(), "embedding model (open_clip name or hf-hub id)"),
    ("space_pretrained", pa.string(), "pretrained tag ('none' = random weights)"),
    ("space_weights_path", pa.string(), "local weights file, if any"),
    ("exact", pa.bool_(), "true: exact search over the catalogue; false: approximate (HNSW) stage 1"),
    ("search_run_id", pa.string(), "id of the stored (pinned) search run the participant saw"),
    ("shown_product_ids", pa.string(), "JSON list of the catalogue ids shown, in screen order"),
    ("shown_stage1_scores", pa.string(), "JSON list of the stage-1 scores of the shown products, same order"),
    ("shown_stage2_scores", pa.string(), "JSON list of the stage-2 (final) scores of the shown products"),
    ("match", pa.string(), "answer to the match question: yes, partly or no (empty if not asked)"),
    ("satisfaction", pa.int64(), "answer to the satisfaction question, 1–5 (empty if not asked)"),
    (
        "relevance",
        pa.string(),
        "JSON object {catalogue id: true/false} of products marked relevant, or {catalogue id: grade} "
        "for a graded question (0 = not relevant … 3 = perfect, labels as the survey worded them)",
    ),
    ("comment", pa.string(), "free-text comment"),
    (
        "attention_passed",
        pa.bool_(),
        "attention checks of this task: true = every one answered as instructed, false = at least one "
        "not, empty = the survey asked none",
    ),
    ("shown_at", pa.timestamp("us", tz="UTC"), "when the task was first shown (UTC)"),
    ("submitted_at", pa.timestamp("us", tz="UTC"), "when the rating was stored (UTC)"),
    ("time_on_task_s", pa.float64(), "seconds from first shown to submitted"),
]


def question_columns(survey: Survey) -> list[tuple[str, pa.DataType, str]]:
    """Two columns per question, the answer and the wording the participant saw."""
    columns = []
    for question in survey.questions.order_by("order", "id"):
        columns.append(
            (
                f"q{question.pk}_answer",
                pa.string(),
                f"answer to question {question.pk} ({question.kind}): "
                f"“{question.wording}”; JSON for relevance and graded questions",
            )
        )
        columns.append(
            (
                f"q{question.pk}_wording",
                pa.string(),
                f"wording of question {question.pk} as shown when this rating was given",
            )
        )
    return columns


def columns(survey: Survey) -> list[tuple[str, pa.DataType, str]]:
    return FIXED_COLUMNS + question_columns(survey)


def codebook(survey: Survey) -> list[dict]:
    types = {pa.string(): "text", pa.int64(): "integer", pa.float64(): "number", pa.bool_(): "boolean"}
    return [
        {"column": name, "type": types.get(kind, "timestamp (ISO 8601, UTC)"), "description": description}
        for name, kind, description in columns(survey)
    ]


def _weights(config) -> str:
    return json.dumps({field: getattr(config, field) for field in config.WEIGHT_FIELDS}, sort_keys=True)


def _answer_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


class _ShownScores:
    """Shown catalogue ids and their stored scores per result set, from its frozen items (bounded cache)."""

    def __init__(self, limit: int = 10_000):
        self.cache: dict[int, tuple[str, str, str]] = {}
        self.limit = limit

    def get(self, result_set) -> tuple[str, str, str]:
        cached = self.cache.get(result_set.pk)
        if cached is None:
            items = result_set.items
            cached = (
                json.dumps([item["catalog_id"] for item in items]),
                json.dumps([item["stage1_score"] for item in items]),
                json.dumps([item["stage2_score"] for item in items]),
            )
            if len(self.cache) >= self.limit:
                self.cache.clear()
            self.cache[result_set.pk] = cached
        return cached


def iter_rows(survey: Survey) -> Iterator[dict]:
    """The export rows of a survey, one per rating, in rating-id order, from a chunked cursor."""
    question_ids = list(survey.questions.order_by("order", "id").values_list("pk", flat=True))
    scores = _ShownScores()
    ratings = (
        Rating.objects.filter(assignment__participant__survey=survey)
        .select_related(
            "assignment__participant",
            "assignment__survey_config__weight_config",
            "assignment__result_set",
            "assignment__search_run__space",
        )
        .order_by("id")
    )
    for rating in ratings.iterator(chunk_size=CHUNK):
        assignment = rating.assignment
        participant, query, config, run = (
            assignment.participant,
            assignment.query,
            assignment.survey_config,
            assignment.search_run,
        )
        space = run.space
        shown_ids, stage1, stage2 = scores.get(assignment.result_set)
        row = {
            "survey": survey.slug,
            "rating_id": rating.pk,
            "participant_id": str(participant.public_id),
            "participant_entry": participant.entry,
            "consent_at": participant.consent_at,
            "task_id": str(assignment.public_id),
            "task_position": assignment.position,
            "query_id": query.pk,
            "query_source": query.source,
            "query_text": query.text,
            "query_image": query.image.name if query.image else "",
            "query_image_name": query.image_name,
            "query_source_product": query.source_catalog_id,
            "config_code": config.code,
            "config_name": config.weight_config.name,
            "config_version": config.weight_config.version,
            "config_weights": _weights(config.weight_config),
            "space_name": space.name if space else "",
            "space_model": space.model_name if space else "",
            "space_pretrained": space.pretrained if space else "",
            "space_weights_path": space.weights_path if space else "",
            "exact": bool(run.exact),
            "search_run_id": str(run.uuid),
            "shown_product_ids": shown_ids,
            "shown_stage1_scores": stage1,
            "shown_stage2_scores": stage2,
            "match": rating.match or None,
            "satisfaction": rating.satisfaction,
            "relevance": json.dumps(rating.relevance, sort_keys=True) if rating.relevance else None,
            "comment": rating.comment,
            "attention_passed": rating.attention_passed,
            "shown_at": rating.started_at,
            "submitted_at": rating.submitted_at,
            "time_on_task_s": rating.time_on_task_s,
        }
        for question_id in question_ids:
            answer = rating.answers.get(str(question_id))
            row[f"q{question_id}_answer"] = _answer_text(answer["value"]) if answer else None
            row[f"q{question_id}_wording"] = answer["wording"] if answer else None
        yield row


def escape_formula(value):
    """Make a text cell safe to open in a spreadsheet (prefix a quote to formula-like text)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape_formula(value)


class _Echo:
    def write(self, value):
        return value


def iter_csv(survey: Survey, rows=None, header=None) -> Iterator[str]:
    names = header or [name for name, _, _ in columns(survey)]
    writer = csv.writer(_Echo())
    yield writer.writerow(names)
    for row in rows if rows is not None else iter_rows(survey):
        yield writer.writerow([_csv_cell(row.get(name)) for name in names])


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def iter_json(survey: Survey) -> Iterator[str]:
    """A JSON array of row objects, streamed one row at a time."""
    yield "[\n"
    first = True
    for row in iter_rows(survey):
        yield ("" if first else ",\n") + json.dumps(row, default=_json_default, ensure_ascii=False)
        first = False
    yield "\n]\n"


def write_parquet(survey: Survey, target) -> None:
    """Write the rows to `target` (a path or binary file) in row groups of PARQUET_ROW_GROUP rows."""
    spec = columns(survey)
    schema = pa.schema([(name, kind) for name, kind, _ in spec])
    with pq.ParquetWriter(target, schema) as writer:
        batch: list[dict] = []
        for row in iter_rows(survey):
            batch.append(row)
            if len(batch) >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))


FORMATS = ("csv", "json", "parquet", "codebook")


def export_response(*, survey: Survey, fmt: str):
    """A streamed download of the survey's ratings in `fmt` (csv, json, parquet) or its codebook (CSV)."""
    if fmt not in FORMATS:
        raise Http404(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    stem = f"{survey.slug}-ratings"
    if fmt == "csv":
        response = StreamingHttpResponse(iter_csv(survey), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    elif fmt == "json":
        response = StreamingHttpResponse(iter_json(survey), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{stem}.json"'
    elif fmt == "parquet":
        handle = tempfile.TemporaryFile(suffix=".parquet")  # noqa: SIM115 - FileResponse closes it
        write_parquet(survey, handle)
        handle.seek(0)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"{stem}.parquet",
            content_type="application/vnd.apache.parquet",
        )
    else:
        header = ["column", "type", "description"]
        response = StreamingHttpResponse(
            iter_csv(survey, rows=codebook(survey), header=header), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{survey.slug}-codebook.csv"'
    return response
