"""Writes for surveys, one module per reason to change: `design` (survey, configurations, questions),
`queries` (query intake), `result_sets` (each cell's frozen results), `arms` (can the arms differ?),
`planning` (sample-size plan, preregistration), `fielding` (opening, which freezes the
preregistration, and closing), `participation` (participants, plans,
ratings), `preferences` (side-by-side pair plans and answers). Services take plain keyword arguments, never forms; `surveys` writes only its own tables
(search runs are pinned through `search.services.pin_runs`).

Views, the API and admin actions call these; reads live in surveys/selectors.py.
"""

from surveys.services.arms import IdenticalArms, arm_overlaps
from surveys.services.design import (
    RESULT_SETTINGS,
    add_question,
    create_survey,
    save_questions,
    set_survey_configs,
    update_survey,
)
from surveys.services.errors import QueryImportError, SurveyClosed, SurveyError
from surveys.services.fielding import (
    active_opening,
    check_openable,
    close_survey,
    open_survey,
    run_opening,
    start_opening,
)
from surveys.services.participation import (
    ABANDONED_AFTER,
    SubmitResult,
    add_own_query,
    create_invites,
    give_consent,
    join_open_link,
    mark_shown,
    save_task_draft,
    submit_rating,
)
from surveys.services.planning import plan_sample_size, preregister
from surveys.services.preferences import submit_preference
from surveys.services.queries import add_query, delete_query, import_queries_csv, sample_catalogue_queries
from surveys.services.result_sets import compute_result_sets, ensure_result_set, missing_cells

__all__ = [
    "active_opening",
    "check_openable",
    "missing_cells",
    "run_opening",
    "start_opening",
    "ABANDONED_AFTER",
    "IdenticalArms",
    "arm_overlaps",
    "RESULT_SETTINGS",
    "QueryImportError",
    "SubmitResult",
    "SurveyClosed",
    "SurveyError",
    "add_own_query",
    "add_query",
    "add_question",
    "close_survey",
    "compute_result_sets",
    "create_invites",
    "create_survey",
    "delete_query",
    "ensure_result_set",
    "give_consent",
    "import_queries_csv",
    "join_open_link",
    "mark_shown",
    "open_survey",
    "plan_sample_size",
    "preregister",
    "save_task_draft",
    "sample_catalogue_queries",
    "save_questions",
    "set_survey_configs",
    "submit_preference",
    "submit_rating",
    "update_survey",
]
