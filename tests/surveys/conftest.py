from tests.surveys.fixtures import (  # noqa: F401 - pytest fixtures
    catalogue,
    client_factory,
    draft_survey,
    make_survey,
    media_root,
    module_survey_catalogue,
    module_survey_data,
    open_survey,
    weight_configs,
)
