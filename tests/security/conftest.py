from tests.search.conftest import tiny_catalogue, weight_config  # noqa: F401 - pytest fixtures
from tests.surveys.fixtures import (  # noqa: F401 - pytest fixtures
    catalogue,
    make_survey,
    media_root,
    module_survey_catalogue,
    module_survey_data,
    open_survey,
    weight_configs,
)
