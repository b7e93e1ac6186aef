"""Hostile input: markup in free text is escaped (pages and emails), unknown time zones are
refused with a clear message, very long strings never make a 500, and history CSV imports of
oversized or binary files are refused by name (bad rows: tests/test_history_and_reports.py)."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from availability.models import DutyRequirement
from rotation.models import HandoverNote, Team
from tests.factories import DutyRequirementFactory
from tests.test_permission_matrix import build_world

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"
IMG = '"><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;"


@pytest.fixture
def hostile():
    """The permission matrix's world with markup in every free-text field people can type."""
    users, objects = build_world()
    team, rotation, shift, swap = (
        objects["team"],
        objects["rotation"],
        objects["shift"],
        objects["swap"],
    )
    Team.objects.filter(pk=team.pk).update(name=f"Pay{SCRIPT}ments")
    rotation.name = f"Rota{SCRIPT}"
    rotation.description = f"About {IMG}"
    rotation.save(update_fields=["name", "description"])
    for user in users.values():
        if user is not None:
            user.first_name, user.last_name = f"Eve{SCRIPT}", f"Mallory{IMG}"
            user.save(update_fields=["first_name", "last_name"])
    type(swap).objects.filter(pk=swap.pk).update(reason=f"Sick {SCRIPT}")
    DutyRequirement.objects.filter(pk=objects["requirement"].pk).update(
        name=f"Req{SCRIPT}", description=f"Do {SCRIPT}", how_to_obtain=f"Ask {IMG}"
    )
    HandoverNote.objects.create(
        shift=shift, author=shift.assignee, notes=f"Note {SCRIPT}", open_incidents=f"INC {IMG}"
    )
    team.refresh_from_db()
    return users, objects


def _assert_escaped(response, *, must_show_escaped=True):
    assert response.status_code == 200, response.status_code
    body = response.content.decode()
    assert SCRIPT not in body
    assert "<img src=x onerror" not in body
    if must_show_escaped:
        assert ESCAPED in body, (
            "the hostile text is not on the page at all: the test proves nothing"
        )


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("engineer", "/"),
        ("engineer", "/teams/{team.slug}/"),
        ("engineer", "/rotations/{rotation.pk}/"),
        ("manager", "/rosters/{roster.pk}/"),
        ("manager", "/rotations/{rotation.pk}/plan/"),
        ("manager", "/rotations/{rotation.pk}/report/"),
        ("manager", "/teams/{team.slug}/readiness/"),
        ("engineer", "/requirements/{requirement.pk}/claim/"),
        ("engineer", "/shifts/{shift.pk}/cant-make-it/"),
        ("engineer", "/shifts/{shift.pk}/handover/"),
        ("engineer", "/calendar/"),
        ("engineer", "/availability/"),
    ],
)
def test_markup_in_free_text_is_escaped_on_pages(client, hostile, role, path):
    users, objects = hostile
    client.force_login(users[role])
    _assert_escaped(client.get(path.format(**objects)))


def test_markup_in_names_is_escaped_in_the_invitation_emails_html_part(hostile, settings):
    """Invitations (with the rotation, team, partner and escalation names) have an HTML part;
    swap emails are plain text only, so markup there is inert."""
    from notifications import dispatch as notifications

    settings.ONEHAND_DELIVERY_SWEEP_GRACE = 0
    mail.outbox.clear()
    assert notifications.sweep(grace=0) > 0  # the publish's outbox, sent in-process
    html_parts = [
        content
        for message in mail.outbox
        for content, mimetype in getattr(message, "alternatives", [])
        if mimetype == "text/html"
    ]
    assert html_parts, "the invitations have no HTML part"
    for html in html_parts:
        assert SCRIPT not in html
        assert "<img src=x onerror" not in html
    assert any(ESCAPED in html for html in html_parts)


# --- time zones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "Europe/Lodnon", "../../etc/passwd", "UTC+25", "x" * 200]
)
def test_unknown_time_zones_are_refused_by_the_api_with_a_clear_message(hostile, zone):
    users, objects = hostile
    api = APIClient()
    api.force_authenticate(users["manager"])
    response = api.patch(
        f"/api/rotations/{objects['rotation'].pk}/", {"time_zone": zone}, format="json"
    )
    assert response.status_code == 400
    assert "time zone" in str(response.json()["time_zone"]).lower()
    created = api.post(
        "/api/rotations/",
        {"team": objects["team"].pk, "name": "New", "time_zone": zone},
        format="json",
    )
    assert created.status_code == 400
    assert "time zone" in str(created.json()["time_zone"]).lower()


def test_unknown_time_zone_is_refused_by_the_rotation_form(client, hostile):
    users, objects = hostile
    client.force_login(users["manager"])
    response = client.post(
        f"/teams/{objects['team'].slug}/rotations/new/",
        {
            "name": "Night",
            "time_zone": "Mars/Olympus_Mons",
            "pattern": "weekly",
            "handoff_weekday": 0,
            "handoff_time": "09:00",
        },
    )
    assert response.status_code in (200, 400)
    assert "time zone" in response.content.decode().lower()
    from rotation.models import Rotation

    assert not Rotation.objects.filter(name="Night").exists()


# --- very long strings -------------------------------------------------------------------------

LONG = "A" * 20_000


def test_long_strings_in_the_api_are_refused_not_500(hostile):
    users, objects = hostile
    api = APIClient()
    api.force_authenticate(users["manager"])
    checks = [
        ("patch", f"/api/teams/{objects['team'].pk}/", {"name": LONG}),
        ("patch", f"/api/rotations/{objects['rotation'].pk}/", {"name": LONG}),
        ("post", "/api/rotations/", {"team": objects["team"].pk, "name": LONG}),
        ("patch", f"/api/requirements/{objects['requirement'].pk}/", {"name": LONG}),
        ("patch", f"/api/availability-locks/{objects['lock'].pk}/", {"note": LONG}),
    ]
    for method, path, body in checks:
        response = getattr(api, method)(path, body, format="json")
        assert response.status_code in (400, 403, 405), (method, path, response.status_code)
    engineer = APIClient()
    engineer.force_authenticate(users["engineer"])
    response = engineer.post(
        "/api/availability/",
        {"start": "2031-05-01T00:00:00Z", "end": "2031-05-02T00:00:00Z", "reason": LONG},
        format="json",
    )
    assert response.status_code == 400


def test_long_strings_in_forms_are_refused_or_truncated_not_500(client, hostile):
    users, objects = hostile
    shift = objects["shift"]
    client.force_login(users["manager"])
    response = client.post(
        f"/teams/{objects['team'].slug}/rotations/new/",
        {
            "name": LONG,
            "time_zone": "Europe/London",
            "pattern": "weekly",
            "handoff_weekday": 0,
            "handoff_time": "09:00",
        },
    )
    assert response.status_code in (200, 400)
    client.force_login(users["engineer"])
    response = client.post(f"/shifts/{shift.pk}/handover/", {"notes": LONG, "open_incidents": LONG})
    assert response.status_code == 200
    note = HandoverNote.objects.filter(shift=shift).latest("created_at")
    assert len(note.notes) <= 4000 and len(note.open_incidents) <= 4000
    response = client.post(
        "/availability/entries/", {"start": "2031-05-01", "end": "2031-05-02", "reason": LONG}
    )
    assert response.status_code in (200, 302, 400)
    req = DutyRequirementFactory(rotation=objects["rotation"])
    client.force_login(users["manager"])
    response = client.post(f"/requirements/{req.pk}/edit/", {"name": LONG, "kind": "training"})
    assert response.status_code in (200, 302, 400)
    assert DutyRequirement.objects.get(pk=req.pk).name != LONG


# --- history CSV import: oversized and binary files -----------------------------------------


def _import(client, users, objects, content: bytes, name="history.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(users["manager"])
    return client.post(
        f"/teams/{objects['team'].slug}/import-history/",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


def test_an_oversized_history_file_is_refused_by_name(client, hostile):
    users, objects = hostile
    header = b"rotation,role,start,end,person\n"
    row = b"Payments API,primary,2025-01-06T09:00:00+00:00,2025-01-13T09:00:00+00:00,amara\n"
    content = header + row * (6 * 1024 * 1024 // len(row) + 1)
    response = _import(client, users, objects, content)
    assert response.status_code in (200, 400)
    assert "larger than" in response.content.decode()


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 64,  # binary noise
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000,  # an image
        b"PK\x03\x04" + b"\x00\xff" * 1000,  # a zip (an .xlsx saved as .csv)
        "rotation,role,start,end,person\n".encode("utf-16"),  # UTF-16 with a BOM
        b"",  # empty
    ],
    ids=["noise", "png", "zip", "utf16", "empty"],
)
def test_a_binary_history_file_is_refused_with_a_message(client, hostile, content):
    users, objects = hostile
    from rotation.models import Shift

    before = Shift.objects.count()
    response = _import(client, users, objects, content)
    assert response.status_code in (200, 400), response.status_code
    assert Shift.objects.count() == before
    body = response.content.decode()
    assert "Imported" not in body


def test_markup_in_a_history_file_is_escaped_in_the_error_list(client, hostile):
    users, objects = hostile
    content = f"rotation,role,start,end,person\n{SCRIPT},primary,nope,nope,{IMG}\n".encode()
    response = _import(client, users, objects, content)
    body = response.content.decode()
    assert SCRIPT not in body
    assert "<img src=x onerror" not in body
