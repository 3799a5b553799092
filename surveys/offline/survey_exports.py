"""Download of a survey's judgements and runs for IR tools: one zip with TREC qrels (majority and
mean rules), the per-rater qrels, one TREC run per arm (the shown ranking with its stage-2 scores)
and the same as ranx-loadable JSON, with a README stating the rules."""

from __future__ import annotations

import io
import json
import re
import zipfile

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from surveys.models import Survey
from surveys.offline import judgements, trec
from surveys.offline.views import researcher_required


def _tag(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "arm"


def judgements_zip(survey: Survey) -> bytes:
    """The zip's bytes (see the module docstring)."""
    found = judgements.survey_judgements(survey)
    runs = judgements.arm_runs(survey)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        readme = [
            f"Judgements and runs of survey {survey.slug!r}.",
            "Query ids are survey query ids, product ids are catalogue ids (as shown, frozen in the result set).",
            "Grades: 0-3 (graded scale) or 1/0 (binary relevant / not relevant).",
            "qrels-majority.txt: " + judgements.RULES["majority"] + ".",
            "qrels-mean.txt: " + judgements.RULES["mean"] + ".",
            "qrels-per-rater.txt: one line per rater, 'query rater product grade'.",
            "run-<arm>.txt: TREC run of the arm's shown ranking ('query Q0 product rank score tag').",
            "qrels-majority.json / runs.json: the same for ranx (Qrels.from_file / Run.from_dict).",
        ]
        archive.writestr("README.txt", "\n".join(readme) + "\n")
        for rule in judgements.RULES:
            qrels = judgements.aggregate(found, rule)
            archive.writestr(f"qrels-{rule}.txt", trec.qrels_trec(qrels))
            archive.writestr(f"qrels-{rule}.json", trec.ranx_json(qrels))
        archive.writestr("qrels-per-rater.txt", judgements.per_rater_trec(found))
        for label, run in runs.items():
            archive.writestr(f"run-{_tag(label)}.txt", trec.run_trec(run, tag=_tag(label)))
        archive.writestr(
            "runs.json",
            json.dumps({_tag(label): trec.run_dict(run) for label, run in runs.items()}, indent=1),
        )
    return buffer.getvalue()


@researcher_required
def download_judgements(request, slug: str):
    survey = get_object_or_404(Survey, slug=slug)
    response = HttpResponse(judgements_zip(survey), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{survey.slug}-judgements.zip"'
    return response
