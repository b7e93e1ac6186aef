"""A team's chat hears about handoffs, published rosters, swap offers and shifts at risk,
once each, through the outbox (retried on 5xx, failures in the failed list)."""

from datetime import date, timedelta

import pytest

from notifications import chat, dispatch, outbox
from notifications.crypto import decrypt
from notifications.models import ChatHook, Delivery, Kind
from onehand.errors import Invalid, NotAllowed
from planning.swaps import request_swap
from rotation.models import Shift
from tests.chat_support import chat_receiver
from tests.notifications_support import FAST_HASHERS, make_team, publish

pytestmark = pytest.mark.django_db

WEEK = (date(2031, 3, 3), date(2031, 3, 10))  # daily shifts at 09:00 Europe/London


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True


@pytest.fixture
def receiver():
    with chat_receiver() as running:
        yield running


def chat_rows(**filters):
    return Delivery.objects.filter(channel="chat", **filters)


def test_a_manager_connects_the_team_chat_and_the_address_is_kept_secret(receiver):
    setup = make_team()
    hook = chat.add_chat_hook(setup.team, url=receiver.url, label="#oncall", by=setup.boss)
    assert receiver.url not in hook.url_hint
    assert hook.url_hint.startswith("http://127.0.0.1:") and hook.url_hint.endswith("XXXX")
    assert receiver.url not in hook.url_encrypted
    assert decrypt(hook.url_encrypted) == receiver.url


def test_an_engineer_cannot_connect_the_team_chat(receiver):
    setup = make_team()
    with pytest.raises(NotAllowed):
        chat.add_chat_hook(setup.team, url=receiver.url, by=setup.people[0])
    assert not ChatHook.objects.exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://chat.example.com/hooks/x", "must start with https://"),
        ("", "Paste the incoming webhook address"),
        ("https://user:pw@chat.example.com/hooks/x", "user name or password"),
        ("https://no-such-host.invalid/hooks/x", "Could not find the server"),
    ],
)
def test_a_bad_chat_address_is_refused_with_the_reason(url, reason):
    setup = make_team()
    with pytest.raises(Invalid) as refused:
        chat.add_chat_hook(setup.team, url=url, by=setup.boss)
    assert reason in str(refused.value)
    assert not ChatHook.objects.exists()


def test_a_loopback_chat_address_is_refused_outside_tests_and_development(settings, receiver):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = False
    setup = make_team()
    with pytest.raises(Invalid) as refused:
        chat.add_chat_hook(setup.team, url=receiver.url.replace("http:", "https:"), by=setup.boss)
    assert "private or local network" in str(refused.value)


def test_the_handoff_is_posted_with_text_and_blocks_naming_primary_secondary_and_zone(
    receiver, django_capture_on_commit_callbacks
):
    setup = make_team()
    chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    roster = publish(setup, *WEEK)
    second = Shift.objects.filter(roster=roster, role="primary").order_by("start")[1]
    secondary = Shift.objects.get(roster=roster, role="secondary", start=second.start)
    handoff = second.start + timedelta(minutes=1)
    outbox.queue_notes(now=handoff)
    outbox.queue_notes(now=handoff + timedelta(minutes=5))  # the beat runs again
    (row,) = chat_rows(kind=Kind.CHAT_HANDOFF)
    dispatch.deliver(row.pk, now=handoff)
    (message,) = receiver.delivered()
    primary_name = second.assignee.get_full_name()
    expected = (
        f"{setup.rotation.name}: {primary_name} is primary until Wed 5 Mar 2031 09:00 GMT "
        f"(Europe/London), {secondary.assignee.get_full_name()} secondary."
    )
    assert message["text"].startswith(expected)
    section, context = message["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": expected}}
    assert context["type"] == "context"
    assert f"/rosters/{roster.pk}/|Roster>" in context["elements"][0]["text"]


def test_a_published_roster_is_posted_once_with_its_link(
    receiver, django_capture_on_commit_callbacks
):
    setup = make_team()
    chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    with django_capture_on_commit_callbacks(execute=True):
        roster = publish(setup, *WEEK)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.queue_roster(roster)  # the outbox written again
    (message,) = receiver.delivered()
    assert (
        "the roster from Mon 03 Mar 2031 to Mon 10 Mar 2031 is published (14 slots)"
        in (message["text"])
    )
    assert "Primary: Mon 3 Mar 2031 09:00 GMT (Europe/London): Amara Eng0" in message["text"]
    assert chat_rows(kind=Kind.CHAT_ROSTER).count() == 1


def test_a_chat_server_error_is_retried_with_backoff_then_sent_once(
    receiver, django_capture_on_commit_callbacks
):
    setup = make_team()
    chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    receiver.answers = [503]
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *WEEK)
    row = chat_rows(kind=Kind.CHAT_ROSTER).get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "503" in row.last_error
    assert row.next_attempt_at > row.created_at  # backoff: not due again at once
    dispatch.deliver(row.pk)  # not due yet: nothing happens
    assert len(receiver.posts) == 1
    dispatch.deliver(row.pk, now=row.next_attempt_at + timedelta(seconds=1))
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert [p["status"] for p in receiver.posts] == [503, 200]


def test_a_chat_hook_that_refuses_for_good_lands_in_the_failed_list(
    receiver, django_capture_on_commit_callbacks, client
):
    setup = make_team()
    chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    receiver.answers = [404]
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *WEEK)
    row = chat_rows(kind=Kind.CHAT_ROSTER).get()
    assert row.status == "failed"
    assert "404" in row.last_error
    client.force_login(setup.boss)
    failed = client.get("/api/deliveries/?status=failed").json()
    items = failed["results"] if isinstance(failed, dict) else failed
    assert [(i["channel"], i["kind"]) for i in items] == [("chat", "chat_roster")]


def test_a_swap_offer_is_posted_once_per_request_however_many_waves(
    receiver, django_capture_on_commit_callbacks
):
    setup = make_team()
    chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    roster = publish(setup, *WEEK)
    shift = Shift.objects.filter(roster=roster, role="primary").order_by("start").last()
    with django_capture_on_commit_callbacks(execute=True):
        request = request_swap(shift, by=shift.assignee, now=shift.start - timedelta(days=3))
    messages = receiver.delivered()
    assert len(messages) == 1
    text = messages[0]["text"]
    assert f"{shift.assignee.get_full_name()} needs cover for primary" in text
    assert "Asked first:" in text and "Open swaps and offers" in text
    assert chat_rows(kind=Kind.CHAT_SWAP, swap_request=request).count() == 1


def test_a_removed_chat_hook_posts_nothing_more(receiver, django_capture_on_commit_callbacks):
    setup = make_team()
    hook = chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    chat.remove_chat_hook(hook, by=setup.boss)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *WEEK)
    assert receiver.posts == []
    assert not chat_rows().exists()


def test_a_manager_connects_the_chat_on_the_team_page_and_sees_only_a_hint(receiver, client):
    setup = make_team()
    client.force_login(setup.boss)
    page = client.post(
        f"/teams/{setup.team.slug}/chat/", {"url": receiver.url, "label": "#oncall"}, follow=True
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "#oncall" in text and "XXXX" in text
    assert receiver.url not in text


def test_the_team_page_refuses_a_plain_http_address_with_the_reason(settings, client):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = False
    setup = make_team()
    client.force_login(setup.boss)
    page = client.post(f"/teams/{setup.team.slug}/chat/", {"url": "http://chat.example.com/h"})
    assert page.status_code == 400
    assert "must start with https://" in page.content.decode()
    assert not ChatHook.objects.exists()
