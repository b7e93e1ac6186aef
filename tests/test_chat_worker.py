"""Chat messages through a real Celery worker, Redis and PostgreSQL to a local chat server."""

from datetime import date

import pytest

from notifications import chat
from notifications.models import Delivery, Kind
from tests.chat_support import chat_receiver
from tests.notifications_support import FAST_HASHERS, make_team, publish
from tests.services import eventually

pytestmark = [pytest.mark.worker, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True


def test_a_published_roster_reaches_the_chat_exactly_once_after_server_errors(
    celery_worker, smtp_sink
):
    smtp_sink.reset()
    setup = make_team(prefix="chatw-")
    with chat_receiver() as receiver:
        chat.add_chat_hook(setup.team, url=receiver.url, label="#oncall", by=setup.boss)
        receiver.answers = [503, 502]
        roster = publish(setup, date(2031, 5, 5), date(2031, 5, 12))
        row = Delivery.objects.filter(channel="chat", kind=Kind.CHAT_ROSTER)
        assert eventually(lambda: row.get().status == "sent", timeout=60)
        # Nothing else is on its way for this notice: every row of the roster is settled.
        assert eventually(
            lambda: (
                not Delivery.objects.filter(
                    shift__roster=roster, status__in=["pending", "sending"]
                ).exists()
            ),
            timeout=60,
        )
        assert [p["status"] for p in receiver.posts] == [503, 502, 200]
        (message,) = receiver.delivered()
        assert "is published (14 slots)" in message["text"]
        assert [b["type"] for b in message["blocks"]] == ["section", "context"]
        assert row.get().attempts == 3
