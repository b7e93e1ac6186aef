from datetime import time

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from rotation.models import Shift
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_setup():
    team = TeamFactory()
    boss = manager(team)
    amy = engineer(team, username="amy", first_name="Amy")
    bo = engineer(team, username="bo", first_name="Bo")
    rotation = RotationFactory(team=team, name="Payments", handoff_time=time(9))
    join_rotation(rotation, amy, bo)
    return {"team": team, "boss": boss, "amy": amy, "bo": bo, "rotation": rotation}


def upload(client, team, text):
    return client.post(
        f"/teams/{team.slug}/import-history/",
        {"file": SimpleUploadedFile("history.csv", text.encode(), content_type="text/csv")},
    )


def test_history_import_brings_past_load(client, team_setup):
    client.force_login(team_setup["boss"])
    response = upload(
        client,
        team_setup["team"],
        "email,rotation,role,start,end\n"
        "amy@example.com,Payments,primary,2026-06-06T09:00:00+00:00,2026-06-13T09:00:00+00:00\n"
        "bo@example.com,Payments,secondary,2026-06-06T09:00:00+00:00,2026-06-13T09:00:00+00:00\n",
    )
    assert response.status_code == 302
    assert Shift.objects.filter(roster__status="imported").count() == 2


def test_bad_history_rows_are_reported_by_line_and_nothing_is_imported(client, team_setup):
    client.force_login(team_setup["boss"])
    response = upload(
        client,
        team_setup["team"],
        "email,rotation,role,start,end\n"
        "amy@example.com,Payments,primary,2026-06-06T09:00:00+00:00,2026-06-13T09:00:00+00:00\n"
        "nobody@example.com,Payments,primary,2026-06-13T09:00:00+00:00,2026-06-20T09:00:00+00:00\n"
        "bo@example.com,Payments,captain,2026-06-20T09:00:00,2026-06-19T09:00:00+00:00\n",
    )
    html = response.content.decode()
    assert "Line 3:" in html and "not in the team" in html
    assert "Line 4:" in html and "role must be one of" in html and "UTC offset" in html
    assert Shift.objects.count() == 0


def test_only_managers_import_history(client, team_setup):
    client.force_login(team_setup["amy"])
    assert upload(client, team_setup["team"], "email\n").status_code == 404


@time_machine.travel("2026-07-01 12:00Z")
def test_report_counts_weekend_hours_in_the_persons_zone(client, team_setup):
    client.force_login(team_setup["boss"])
    upload(
        client,
        team_setup["team"],
        "email,rotation,role,start,end\n"
        "amy@example.com,Payments,primary,2026-06-06T00:00:00+00:00,2026-06-07T00:00:00+00:00\n",
    )
    response = client.get(
        f"/rotations/{team_setup['rotation'].pk}/report/?from=2026-06-01&to=2026-07-01&format=csv"
    )
    lines = response.content.decode().strip().splitlines()
    amy = next(line for line in lines if line.startswith("Amy"))
    # Saturday 6 June, 24 hours, all weekend in UTC (the factory's default zone).
    assert amy.split(",")[1:] == ["1", "24.00", "24.00", "0.00"]


def test_report_page_draws_charts_without_scripts(client, team_setup):
    client.force_login(team_setup["amy"])
    response = client.get(f"/rotations/{team_setup['rotation'].pk}/report/")
    assert response.status_code == 200
    assert b"<svg" in response.content


HEADER = "email,rotation,role,start,end\n"


@pytest.mark.parametrize(
    ("row", "said"),
    [
        (
            "amy@example.com,Payments,primary,9999-12-30T09:00:00+00:00,9999-12-31T09:00:00+00:00",
            "Years run from",
        ),
        (
            "amy@example.com,Payments,primary,2026-06-06T09:00:00+23:59,2026-06-13T09:00:00+00:00",
            "UTC offset must be between",
        ),
        (
            "amy@example.com,Payments,primary,2026-02-30T09:00:00+00:00,2026-03-02T09:00:00+00:00",
            "not an ISO 8601 date-time",
        ),
        (
            "amy@example.com,Payments,primary,2016-06-06T09:00:00+00:00,2026-06-13T09:00:00+00:00",
            "at most 31 days",
        ),
        ("amy@example.com,Payments," + "x" * 200_000 + ",a,b", "not readable as CSV"),
        ("amy@example.com,Payments," + "x" * 1_000 + ",a,b", "longer than 320 characters"),
        ("amy@example.com,Payments,primary,a,b,extra", "more fields than the header"),
    ],
    ids=["year-9999", "offset-23-59", "30-february", "ten-year-shift", "200kb", "1kb", "extra"],
)
def test_a_hostile_history_row_is_a_clear_error_and_nothing_is_imported(
    client, team_setup, row, said
):
    client.force_login(team_setup["boss"])
    response = upload(client, team_setup["team"], HEADER + row + "\n")
    assert response.status_code == 200
    assert said in response.content.decode()
    assert Shift.objects.count() == 0


def test_a_file_with_nul_bytes_is_refused(client, team_setup):
    client.force_login(team_setup["boss"])
    response = upload(client, team_setup["team"], HEADER + "amy@example.com\x00,Payments\n")
    assert "NUL bytes" in response.content.decode()
    assert Shift.objects.count() == 0
