"""A request the size/NUL guard refuses is answered as refused by a real WSGI server too."""

import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.django_db


def test_the_guard_adds_no_hop_by_hop_header(client):
    response = client.get("/?month=%00")
    assert response.status_code == 400
    assert not response.has_header("Connection")


def test_the_dev_server_answers_a_nul_query_with_a_400_not_a_500(live_server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_server.url}/api/teams/?name=%00", timeout=30)  # noqa: S310
    assert refused.value.code == 400
