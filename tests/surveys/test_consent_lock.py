"""Consent locks the survey's row while it balances the cells (surveys/services/participation.py),
so concurrent consents see each other's load. That lock must not stop other participants from
joining meanwhile: a new participant's row refers to the survey, and PostgreSQL's check of that
reference waits for a FOR UPDATE lock of the survey's row (it does not wait for FOR NO KEY UPDATE)."""

import threading

import pytest
from django.db import connection, connections

from surveys import assignment as plan_rules
from surveys import services
from surveys.models import Participant

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_participant_can_join_while_another_consent_is_being_recorded(open_survey, monkeypatch):
    consenting = services.join_open_link(survey=open_survey)
    inside, release = threading.Event(), threading.Event()
    choose_row = plan_rules.choose_row

    def paused_choose_row(*args, **kwargs):  # holds the consent's transaction (and lock) open
        inside.set()
        release.wait(20)
        return choose_row(*args, **kwargs)

    monkeypatch.setattr(plan_rules, "choose_row", paused_choose_row)
    outcome = {}

    def consent():
        try:
            outcome["participant"] = services.give_consent(participant=consenting)
        finally:
            connections.close_all()

    thread = threading.Thread(target=consent)
    thread.start()
    try:
        assert inside.wait(20), "the consent never reached its balancing step"
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            joined = services.join_open_link(survey=open_survey)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        release.set()
        thread.join(30)
    assert Participant.objects.get(pk=joined.pk).consent_at is None
    assert outcome["participant"].consent_at is not None
    assert consenting.assignments.count() == len(outcome["participant"].plan["tasks"]) > 0
