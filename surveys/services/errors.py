"""Errors a researcher or participant can fix; every surveys service raises these."""


class SurveyError(Exception):
    """A request a researcher or participant can fix; the message says how."""


class SurveyClosed(SurveyError):
    pass


class QueryImportError(SurveyError):
    """A bad query CSV or image zip; names the file and line."""
