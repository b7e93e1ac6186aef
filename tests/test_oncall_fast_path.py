"""An alerting tool polls "who is on call now" with an API token. A repeated poll is answered
from the cache without a query; every change to the answer, and every change to who may read
it (a revoked token, a deactivated account, a member who left), is seen at once."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from onehand import settings as configured
from onehand.change_stamps import check_forced_remembering, written_tables
from planning import services as planning_services
from rotation import oncall as services_oncall
from rotation import services
from rotation.models import Membership, Rotation, Shift
from tests.factories import engineer
from tests.swap_support import published_team

User = get_user_model()
# Committed writes, as in production: the stamps are renewed after the commit.
pytestmark = pytest.mark.django_db(transaction=True)
NOW = "2026-12-09 12:00Z"


@pytest.fixture(autouse=True)
def _responses_remembered(settings):
    """Kept responses need a cache every process shares; the tests' one process shares this."""
    settings.ONEHAND_ONCALL_REMEMBER = True


@pytest.fixture
def team():
    with time_machine.travel(NOW, tick=False):
        yield published_team(size=4)


def tool_with_token(user):
    """An alerting tool: a token, no session, no cookie."""
    tool = APIClient()
    tool.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return tool


def on_call_url(team):
    return f"/api/rotations/{team['rotation'].pk}/oncall/"


@pytest.mark.parametrize("size", [5, 50])
def test_a_repeated_poll_costs_no_query_whatever_the_team_size(size, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        team = published_team(size=size)
        tool = tool_with_token(team["boss"])
        first = tool.get(on_call_url(team))
        assert first.status_code == 200
        with django_assert_num_queries(0):
            again = tool.get(on_call_url(team))
    assert again.status_code == 200
    assert again.content == first.content


def test_a_kept_response_has_the_full_paths_headers(team, settings):
    tool = tool_with_token(team["boss"])
    settings.ONEHAND_ONCALL_REMEMBER = False
    full = tool.get(on_call_url(team))
    settings.ONEHAND_ONCALL_REMEMBER = True
    tool.get(on_call_url(team))  # kept now
    kept = tool.get(on_call_url(team))
    assert kept.content == full.content
    assert dict(kept.items()) == dict(full.items())
    assert kept["Cache-Control"] == "private, no-store"


def test_a_revoked_token_is_refused_at_once(team):
    tool = tool_with_token(team["boss"])
    assert tool.get(on_call_url(team)).status_code == 200
    assert tool.get(on_call_url(team)).status_code == 200  # from the cache
    Token.objects.filter(user=team["boss"]).delete()
    assert tool.get(on_call_url(team)).status_code == 403  # refused, as without the cache


def test_a_deactivated_account_is_refused_at_once(team):
    tool = tool_with_token(team["boss"])
    tool.get(on_call_url(team))
    assert tool.get(on_call_url(team)).status_code == 200
    team["boss"].is_active = False
    team["boss"].save()
    assert tool.get(on_call_url(team)).status_code == 403  # refused, as without the cache


def test_someone_who_left_the_team_no_longer_sees_its_rotation(team):
    leaver = engineer(team["team"], first_name="Lena")
    tool = tool_with_token(leaver)
    tool.get(on_call_url(team))
    assert tool.get(on_call_url(team)).status_code == 200
    services.leave_team(Membership.objects.get(user=leaver), by=leaver)
    assert tool.get(on_call_url(team)).status_code == 404


def test_a_kept_response_is_not_given_to_a_token_that_may_not_read_the_rotation(team):
    insider = tool_with_token(team["boss"])
    insider.get(on_call_url(team))
    assert insider.get(on_call_url(team)).status_code == 200  # kept for the rotation
    outsider = tool_with_token(User.objects.create_user("olga", password="pw-olga-123456"))
    assert outsider.get(on_call_url(team)).status_code == 404
    assert outsider.get(on_call_url(team)).status_code == 404


def test_a_reassigned_slot_shows_at_once(team):
    tool = tool_with_token(team["boss"])
    tool.get(on_call_url(team))
    primary = tool.get(on_call_url(team)).json()["primary"]["user_id"]
    shift = team["roster"].shifts.get(role="primary", assignee_id=primary, start__lte=NOW)
    taken = set(
        team["roster"].shifts.filter(start=shift.start).values_list("assignee_id", flat=True)
    )
    other = next(p for p in team["people"] if p.pk not in taken)
    planning_services.assign_slot(shift, other, by=team["boss"], override=True)
    assert tool.get(on_call_url(team)).json()["primary"]["user_id"] == other.pk


def test_the_answer_is_recomputed_at_the_handoff(team):
    tool = tool_with_token(team["boss"])
    first = tool.get(on_call_url(team)).json()
    with time_machine.travel(first["shift_end"], tick=False):
        after = tool.get(on_call_url(team)).json()
    assert after["shift_start"] == first["shift_end"]


def test_a_browser_gets_the_browsable_api_not_the_kept_json(team):
    tool = tool_with_token(team["boss"])
    tool.get(on_call_url(team))
    page = tool.get(on_call_url(team), HTTP_ACCEPT="text/html")
    assert page["Content-Type"].startswith("text/html")


def test_with_the_cache_down_polls_are_answered_from_the_database(team, settings):
    tool = tool_with_token(team["boss"])
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    answers = [tool.get(on_call_url(team)) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["primary"] == answers[1].json()["primary"]


def test_the_answer_changes_when_a_secondary_part_ends_before_the_shift(team):
    """A secondary's part can end while the primary's shift goes on (a partial cover): the
    answer names no secondary from that instant, not a minute later (red-team finding)."""
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        secondary = team["roster"].shifts.get(role="secondary", start__lte=NOW, end__gt=NOW)
        part_ends = parse_datetime("2026-12-09T12:00:30Z")
        Shift.objects.filter(pk=secondary.pk).update(end=part_ends)  # as a partial cover leaves it
        first = tool.get(on_call_url(team)).json()
        assert first["secondary"] is not None
        assert parse_datetime(first["next_change"]) == part_ends
        tool.get(on_call_url(team))  # kept now
    with time_machine.travel(part_ends, tick=False):
        after = tool.get(on_call_url(team)).json()
    assert after["secondary"] is None
    assert after["primary"]["user_id"] == first["primary"]["user_id"]


def test_between_shifts_the_answer_changes_when_the_next_shift_starts(team):
    """In a gap nobody is on call; the next shift's first second names its primary."""
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        current = team["roster"].shifts.filter(start__lte=NOW, end__gt=NOW)
        next_start = current.first().end
        current.delete()
        gap = tool.get(on_call_url(team)).json()
        tool.get(on_call_url(team))  # kept now
    assert gap["primary"] is None
    # who can be reached between shifts changes with time away: asked again within a minute
    assert parse_datetime(gap["next_change"]) == min(
        next_start, parse_datetime(gap["at"]) + timedelta(minutes=1)
    )
    with time_machine.travel(next_start, tick=False):
        after = tool.get(on_call_url(team)).json()
    assert after["primary"] is not None


def test_a_login_does_not_forget_the_kept_answers(team, django_assert_num_queries):
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        tool.get(on_call_url(team))
        APIClient().force_login(team["people"][0])  # renews last_login only
        with django_assert_num_queries(0):
            assert tool.get(on_call_url(team)).status_code == 200


@pytest.mark.parametrize("space", ["\xa0", "\x85"])
def test_a_token_header_split_by_a_non_ascii_space_is_refused_as_on_the_full_path(team, space):
    """DRF reads the header as bytes and does not split on NBSP or NEL; neither may the fast
    path, even for a token it has seen (red-team finding)."""
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        assert tool.get(on_call_url(team)).status_code == 200
        odd_tool = APIClient()
        key = Token.objects.get(user=team["boss"]).key
        odd_tool.credentials(HTTP_AUTHORIZATION=f"Token{space}{key}")
        odd = odd_tool.get(on_call_url(team))
    assert odd.status_code in (401, 403)


def test_a_path_with_a_final_newline_is_not_the_on_call_answer(team):
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        assert tool.get(on_call_url(team)).status_code == 200
        assert tool.get(on_call_url(team) + "%0A").status_code == 404


def test_a_token_deleted_in_a_multi_statement_sql_call_is_refused_at_once(team):
    """An operator's fix-up "SET LOCAL ...; DELETE ..." renews the access stamp like any write."""
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        assert tool.get(on_call_url(team)).status_code == 200
        assert tool.get(on_call_url(team)).status_code == 200  # from the cache
        key = Token.objects.get(user=team["boss"]).key
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL lock_timeout = '5s'; DELETE FROM authtoken_token WHERE key = %s", [key]
            )
        assert tool.get(on_call_url(team)).status_code in (401, 403)


def test_remembering_forced_on_over_a_cache_of_one_process_is_a_warning(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.ONEHAND_ONCALL_REMEMBER = True
    warnings = check_forced_remembering()
    assert [w.id for w in warnings] == ["onehand.W001"]
    assert "ONEHAND_ONCALL_REMEMBER" in warnings[0].msg


def test_a_silent_cache_server_is_given_up_on_within_a_second():
    """A Redis that accepts but never answers must not hold each request for redis-py's 5 s."""
    assert configured.REDIS_URL  # the suite runs with Redis (tests/conftest.py)
    options = configured.CACHES["default"]["OPTIONS"]  # as configured, before the test's cache
    assert 0 < options["socket_timeout"] <= 1
    assert 0 < options["socket_connect_timeout"] <= 1


def test_an_operators_commented_or_merge_sql_renews_the_stamps():
    """Fix-up SQL through Django in any spelling counts as a write (red-team finding)."""
    for sql in (
        "UPDATE/**/auth_user SET first_name = 'x'",
        "UPDATE -- ticket 42\n auth_user SET first_name = 'x'",
        "MERGE INTO auth_user u USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET x = 1",
        "SET LOCAL lock_timeout = '5s'; DELETE FROM authtoken_token",
    ):
        assert written_tables(sql) & {"auth_user", "authtoken_token"}, sql


# ---- writes made through Django without the services' events (a shell, a command) -----------


def someone_off_now(team, primary_id):
    shift = team["roster"].shifts.get(role="primary", assignee_id=primary_id, start__lte=NOW)
    taken = set(
        team["roster"].shifts.filter(start=shift.start).values_list("assignee_id", flat=True)
    )
    return shift, next(p for p in team["people"] if p.pk not in taken)


def test_a_bulk_reassignment_in_a_shell_shows_on_the_next_poll(team):
    tool = tool_with_token(team["boss"])
    tool.get(on_call_url(team))
    shift, other = someone_off_now(team, tool.get(on_call_url(team)).json()["primary"]["user_id"])

    Shift.objects.filter(pk=shift.pk).update(assignee=other)  # no signal, no event

    assert tool.get(on_call_url(team)).json()["primary"]["user_id"] == other.pk


def test_a_bulk_rename_in_a_shell_shows_on_the_next_poll(team):
    tool = tool_with_token(team["boss"])
    tool.get(on_call_url(team))
    primary = tool.get(on_call_url(team)).json()["primary"]["user_id"]

    User.objects.filter(pk=primary).update(first_name="Zelda")

    assert tool.get(on_call_url(team)).json()["primary"]["name"].startswith("Zelda")


def test_the_rotation_page_never_mixes_a_new_name_with_an_old_grid(team, client, settings):
    settings.ONEHAND_PLAN_REMEMBER = settings.ONEHAND_PAGE_REMEMBER = True
    primary = tool_with_token(team["boss"]).get(on_call_url(team)).json()["primary"]
    page = f"/rotations/{team['rotation'].pk}/"
    client.force_login(team["boss"])
    old_name = primary["name"]
    assert old_name in client.get(page).content.decode()  # the grid and the panel, kept

    User.objects.filter(pk=primary["user_id"]).update(first_name="Zelda")

    html = client.get(page).content.decode()
    assert "Zelda" in html and old_name not in html


def test_an_answer_asked_inside_a_write_that_rolls_back_is_not_kept(team):
    tool = tool_with_token(team["boss"])
    primary = tool.get(on_call_url(team)).json()["primary"]["user_id"]
    shift, other = someone_off_now(team, primary)

    with pytest.raises(RuntimeError), transaction.atomic():
        Shift.objects.filter(pk=shift.pk).update(assignee=other)
        seen = services_oncall.who_is_on_call(rotation=team["rotation"])
        assert seen["primary"]["user_id"] == other.pk  # its own write, seen by itself only
        raise RuntimeError("the write is refused")

    assert tool.get(on_call_url(team)).json()["primary"]["user_id"] == primary
    assert services_oncall.who_is_on_call(rotation=team["rotation"])["primary"]["user_id"] == (
        primary
    )


def test_a_rotation_renamed_after_the_caller_loaded_it_is_not_kept_under_the_new_stamp(team):
    """The answer is made from rows read after the stamp it is kept under: a rename that commits
    between loading the rotation and asking is not served for a minute (red-team finding)."""
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        loaded_before = Rotation.objects.get(pk=team["rotation"].pk)
        Rotation.objects.filter(pk=loaded_before.pk).update(name="Payments (renamed)")

        answered = services_oncall.who_is_on_call(rotation=loaded_before)
        polled = tool.get(on_call_url(team)).json()

    assert answered["rotation_name"] == polled["rotation_name"] == "Payments (renamed)"


def test_the_kept_answer_is_in_utc_whoever_asked_first(team):
    """One answer is kept for every reader: the first reader's zone does not leak into it."""
    tool = tool_with_token(team["boss"])
    with time_machine.travel(NOW, tick=False):
        with timezone.override(ZoneInfo("Asia/Kolkata")):
            services_oncall.who_is_on_call(rotation=team["rotation"])  # kept now
        polled = tool.get(on_call_url(team)).json()

    assert polled["at"].endswith("Z") and polled["shift_start"].endswith("Z")
