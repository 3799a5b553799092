"""Blinding rule: a survey may refuse arms that use the public search's default configuration.

Participants never see configuration names, but anyone can run the public search, which uses the
default configuration: an arm with that configuration can be reproduced there, result for result.
A survey with `arms_hidden_from_public_search` refuses such arms (docs/surveys.md, Blinding).
"""

from __future__ import annotations

from search.models import DEFAULT_WEIGHT_CONFIG


def public_default_arms(configs) -> list[str]:
    """The given weight configurations that are (a version of) the public search's default."""
    return [str(config) for config in configs if config.name == DEFAULT_WEIGHT_CONFIG]


def blinding_problem(*, hidden: bool, configs) -> str:
    """Why these arms break the survey's blinding rule, or "" when they keep it."""
    found = public_default_arms(configs) if hidden else []
    if not found:
        return ""
    return (
        f"This survey keeps its arms off the public search, but {', '.join(found)} is the public "
        "search's default configuration: choose another, or untick that option."
    )
