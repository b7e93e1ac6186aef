"""Team chat against awkward servers and addresses: a slow server gets a message once, an
address in a special-purpose block or on port 0 is refused, the deliveries list refuses
filters it does not know, the team chat page answers bad input with a 400, and the publish
preview lists the chat messages publishing posts."""

from datetime import date

import pytest

from notifications import chat, outbox
from notifications.models import ChatHook, Delivery, Kind
from onehand.errors import Invalid
from rotation.services import create_roster, publish_roster
from tests.chat_support import chat_receiver
from tests.notifications_support import FAST_HASHERS, assignments, make_team, publish

pytestmark = pytest.mark.django_db

WEEK = (date(2031, 3, 3), date(2031, 3, 10))


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def receiver(settings):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True
    with chat_receiver() as running:
        yield running


def test_a_chat_server_slower_than_the_timeout_gets_the_message_once(
    receiver, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(chat, "POST_TIMEOUT", 0.3)
    receiver.slow_for = 1.0  # it takes the post, then answers 200 too late
    setup = make_team()
    chat.add_chat_hook(setup.team, url=receiver.url, by=setup.boss)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *WEEK)
    row = Delivery.objects.get(channel="chat", kind=Kind.CHAT_ROSTER)
    assert len(receiver.posts) == 1
    assert row.status == "sent"
    assert "did not confirm in time" in row.last_error


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://192.0.0.8/hooks/x", "private or local network"),
        ("https://[2001:db8::1]/hooks/x", "private or local network"),
        ("https://192.88.99.1/hooks/x", "private or local network"),
        ("https://chat.example.com:0/hooks/x", "port 0"),
        ("https://chat.example.com:70000/hooks/x", "not a valid address"),
    ],
)
def test_a_chat_address_in_a_special_purpose_block_or_on_port_0_is_refused(settings, url, reason):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = False
    setup = make_team()
    with pytest.raises(Invalid) as refused:
        chat.add_chat_hook(setup.team, url=url, by=setup.boss)
    assert reason in str(refused.value)
    assert not ChatHook.objects.exists()


def test_development_may_use_loopback_but_not_other_special_purpose_addresses(settings):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True
    setup = make_team()
    with pytest.raises(Invalid) as refused:
        chat.add_chat_hook(setup.team, url="https://192.0.0.8/hooks/x", by=setup.boss)
    assert "private or local network" in str(refused.value)


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=bogus", "status"), ("roster=abc", "roster"), ("roster=%C2%B2", "roster")],
)
def test_the_deliveries_list_refuses_a_filter_it_does_not_know(client, query, field):
    setup = make_team()
    client.force_login(setup.boss)
    answer = client.get(f"/api/deliveries/?{query}")
    assert answer.status_code == 400
    assert field in str(answer.json())


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"remove": "abc"}, "Choose a chat hook to disconnect"),
        ({"remove": "1\x00"}, "Choose a chat hook to disconnect"),
        ({"remove": "9" * 400}, "Choose a chat hook to disconnect"),
        ({"url": "https://chat.example.com/hooks/x", "label": "\x00"}, "printable characters"),
        ({"url": "https://chat.exa\x00mple.com/hooks/x"}, "control characters"),
    ],
)
def test_the_team_chat_page_answers_bad_input_with_a_clear_400(client, form, reason):
    setup = make_team()
    client.force_login(setup.boss)
    answer = client.post(f"/teams/{setup.team.slug}/chat/", form)
    assert answer.status_code == 400
    assert reason in answer.content.decode()
    assert not ChatHook.objects.exists()


def test_the_publish_preview_lists_the_chat_message_for_each_hook(
    client, settings, django_capture_on_commit_callbacks
):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True
    setup = make_team()
    with chat_receiver() as first, chat_receiver() as second:
        chat.add_chat_hook(setup.team, url=first.url, label="#oncall", by=setup.boss)
        chat.add_chat_hook(setup.team, url=second.url, label="#payments", by=setup.boss)
        draft = create_roster(
            setup.rotation,
            *WEEK,
            by=setup.boss,
            assignments=assignments(setup.rotation, setup.people, *WEEK),
        )
        preview = [r for r in outbox.publish_notices(roster=draft) if r.channel == "chat"]
        client.force_login(setup.boss)
        page = client.get(f"/rosters/{draft.pk}/preview/").content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            publish_roster(draft, by=setup.boss)
    written = Delivery.objects.filter(channel="chat")
    assert sorted((r.kind, r.chat_hook_id, r.shift_id) for r in preview) == sorted(
        (r.kind, r.chat_hook_id, r.shift_id) for r in written
    )
    assert "Team chat #oncall" in page and "Team chat #payments" in page
    assert "2 team chat messages" in page
