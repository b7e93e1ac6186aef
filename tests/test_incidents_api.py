"""The incidents API and the manager's page: scoped to the caller's teams, documented."""

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from incidents import services
from incidents.models import HookToken, Incident
from rotation.models import Person
from tests.incidents_support import hook_url, post, published_rotation

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    setup = published_rotation()
    services.record_incident(
        setup.rotation,
        by=setup.boss,
        title="Night page",
        started_at=datetime(2026, 3, 4, 2, tzinfo=UTC),
    )
    return setup


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_member_lists_the_incidents_of_their_rotation(setup):
    answer = _api(setup.people[0]).get(f"/api/incidents/?rotation={setup.rotation.pk}")
    assert answer.status_code == 200
    assert [row["title"] for row in answer.json()["results"]] == ["Night page"]


def test_another_teams_member_sees_no_incidents(setup):
    other = published_rotation(prefix="other-")
    answer = _api(other.people[0]).get(f"/api/incidents/?rotation={setup.rotation.pk}")
    assert answer.json()["results"] == []


def test_a_manager_records_an_incident_with_its_escalation(setup):
    body = {
        "rotation": setup.rotation.pk,
        "title": "Payments down",
        "started_at": "2026-03-05T12:00:00Z",
        "escalation": "lead",
    }
    answer = _api(setup.boss).post("/api/incidents/", body, format="json")
    assert answer.status_code == 201
    assert answer.json()["escalated_to"]["id"] == setup.boss.pk


def test_an_engineer_recording_an_incident_is_403(setup):
    body = {"rotation": setup.rotation.pk, "title": "x", "started_at": "2026-03-05T12:00:00Z"}
    assert _api(setup.people[0]).post("/api/incidents/", body, format="json").status_code == 403


def test_recording_on_another_teams_rotation_is_404(setup):
    other = published_rotation(prefix="other-")
    body = {"rotation": setup.rotation.pk, "title": "x", "started_at": "2026-03-05T12:00:00Z"}
    assert _api(other.boss).post("/api/incidents/", body, format="json").status_code == 404


def test_a_bad_csv_through_the_api_is_400_and_writes_nothing(setup):
    upload = SimpleUploadedFile("i.csv", b"title,started_at\nx,never\n", "text/csv")
    answer = _api(setup.boss).post(
        "/api/incidents/import/", {"rotation": setup.rotation.pk, "file": upload}
    )
    assert answer.status_code == 400
    assert "Row 2" in answer.json()["detail"]
    assert Incident.objects.count() == 1


def test_the_load_endpoint_gives_hours_equivalent_per_person(setup):
    answer = _api(setup.boss).get(
        f"/api/incidents/load/?rotation={setup.rotation.pk}"
        "&since=2026-03-01T00:00:00Z&until=2026-03-10T00:00:00Z"
    )
    (row,) = answer.json()
    assert (row["night_pages"], row["hours_equivalent"]) == (1, 3.0)


def test_a_manager_creates_and_rotates_a_webhook_through_the_api(setup):
    api = _api(setup.boss)
    created = api.post("/api/incident-hooks/", {"rotation": setup.rotation.pk}, format="json")
    assert created.status_code == 201
    url = created.json()["url"]
    rotated = api.post(f"/api/incident-hooks/{created.json()['hook']['id']}/rotate/")
    assert rotated.status_code == 201
    alert = {"title": "x", "started_at": "2026-03-05T12:00:00Z"}
    assert post(url.removeprefix("http://testserver"), alert).status_code == 404
    assert post(rotated.json()["url"].removeprefix("http://testserver"), alert).status_code == 201


def test_an_engineer_cannot_revoke_a_webhook(setup):
    issued = services.create_hook_token(setup.rotation, by=setup.boss)
    answer = _api(setup.people[0]).post(f"/api/incident-hooks/{issued.hook.pk}/revoke/")
    assert answer.status_code == 403
    assert (
        post(hook_url(issued), {"title": "x", "started_at": "2026-03-05T12:00Z"}).status_code == 201
    )


def test_the_schema_documents_the_incident_endpoints(setup):
    schema = _api(setup.boss).get("/api/schema/?format=json").json()
    assert {"200", "400", "403", "404"} <= set(
        schema["paths"]["/api/incidents/import/"]["post"]["responses"]
    )
    assert "/api/incidents/load/" in schema["paths"]
    assert "/api/incident-hooks/{id}/rotate/" in schema["paths"]


def test_the_manager_page_lists_incidents_in_the_viewers_zone(setup, client):
    Person.objects.filter(user=setup.boss).update(time_zone="America/New_York")
    client.force_login(setup.boss)
    page = client.get(f"/rotations/{setup.rotation.pk}/incidents/?from=2026-03-01&to=2026-03-10")
    text = page.content.decode()
    assert page.status_code == 200
    assert "America/New_York" in text
    assert "Tue 3 Mar 2026 21:00" in text  # 02:00Z on the 4th, in New York
    assert "Nights interrupted" in text


def test_the_manager_page_is_404_for_an_engineer(setup, client):
    client.force_login(setup.people[0])
    assert client.get(f"/rotations/{setup.rotation.pk}/incidents/").status_code == 404


def test_a_new_webhook_from_the_page_shows_its_url_once(setup, client):
    client.force_login(setup.boss)
    page = client.post(f"/rotations/{setup.rotation.pk}/incidents/hooks/", {"label": "prod"})
    hook = HookToken.objects.get()
    assert "/hooks/incidents/" in page.content.decode()
    assert hook.token_hash not in page.content.decode()
    again = client.get(f"/rotations/{setup.rotation.pk}/incidents/")
    assert "/hooks/incidents/" not in again.content.decode()


def test_a_csv_import_from_the_page_reports_what_it_did(setup, client):
    client.force_login(setup.boss)
    upload = SimpleUploadedFile(
        "i.csv", b"title,started_at\nOld outage,2026-03-03T09:30:00Z\n", "text/csv"
    )
    page = client.post(
        f"/rotations/{setup.rotation.pk}/incidents/import/", {"file": upload}, follow=True
    )
    assert "Imported 1 rows: 1 new" in page.content.decode()
