"""Pushing a person's entries to their own CalDAV calendar with the `caldav` client.

Objects are stored under the entry's UID, so an update replaces the event and a
cancellation deletes it. ORGANIZER and ATTENDEE are left out on purpose: with them a
scheduling-aware server (RFC 6638: iCloud, Google, Nextcloud) would treat the event as a
meeting and send invitations of its own.

The app password is decrypted only here, at the moment of use, and never logged; error
texts keep the HTTP status and reason only.
"""

from datetime import datetime

import caldav
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http_library
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from onehand import fetch

from . import entries
from .crypto import DecryptionError, decrypt
from .errors import Permanent, Transient
from .models import CalendarConnection

TIMEOUT = 20


def _target(url: str) -> fetch.Target:
    """The shared SSRF guard (onehand.fetch): https only and public addresses only,
    unless ONEHAND_CALDAV_ALLOW_PRIVATE (development, tests) also allows http and
    private networks. Raises ValueError with a message for the form."""
    allow = settings.ONEHAND_CALDAV_ALLOW_PRIVATE
    try:
        return fetch.check_url(
            url, allow_private=allow, schemes=("http", "https") if allow else ("https",)
        )
    except fetch.PrivateAddress:
        raise ValueError("That address is on a private network.") from None
    except fetch.BadAddress as exc:
        if exc.reason == "credentials":
            raise ValueError(
                "Put the username and password in their own fields, not in the address."
            ) from None
        if exc.reason == "unresolved":
            raise ValueError("That server's name does not resolve.") from None
        raise ValueError("Use the calendar's https:// address.") from None


def check_url(url: str) -> None:
    """Refuse URLs we must not fetch on a person's behalf (SSRF), unless allowed for dev."""
    _target(url)


def _pin(client: caldav.DAVClient, target: fetch.Target) -> None:
    """Make the client connect only to the addresses the guard vetted (no DNS rebinding)."""
    try:
        client.session = http_library.Session(resolver=fetch.pinned_resolver(target))
    except TypeError:  # the plain `requests` library has no resolver hook; checked above
        pass


@sensitive_variables("password")
def _calendar(connection: CalendarConnection, password: str | None = None) -> caldav.Calendar:
    if password is None:
        try:
            password = decrypt(connection.password_encrypted)
        except DecryptionError as exc:
            raise Permanent(str(exc)) from None
    try:
        target = _target(connection.url)  # checked again at every use: DNS may change
    except ValueError as exc:
        raise Permanent(f"CalDAV address refused: {exc}") from None
    client = caldav.DAVClient(
        url=connection.url,
        username=connection.username,
        password=password,
        timeout=TIMEOUT,
        enable_rfc6764=False,
    )
    _pin(client, target)
    return client.calendar(url=connection.url)


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, dav_error.DAVError):
        status = exc.status
        reason = f"CalDAV {exc.__class__.__name__} {status or ''}".strip()
        if status is None or status >= 500 or status in (408, 425, 429):
            return Transient(reason)
        return Permanent(reason)
    if isinstance(exc, (OSError, TimeoutError)):
        return Transient(f"CalDAV connection: {exc.__class__.__name__}")
    name = exc.__class__.__name__
    # niquests/urllib3 connection and timeout errors do not share a base we can import cheaply.
    if any(word in name for word in ("Connection", "Timeout", "Protocol")):
        return Transient(f"CalDAV connection: {name}")
    return Permanent(f"CalDAV {name}")


def _ical(entry: entries.ShiftEntry, now: datetime) -> str:
    event = entries.build_event(entry, now=now)
    for name in ("ORGANIZER", "ATTENDEE"):
        event.pop(name, None)
    return entries.build_calendar(
        [event], method=None, name=entry.rotation_name, time_zones=[entry.time_zone]
    ).decode()


def put(connection: CalendarConnection, entry: entries.ShiftEntry, *, now: datetime) -> None:
    """Create or replace the entry's event (it is found by UID)."""
    try:
        calendar = _calendar(connection)
        calendar.add_event(_ical(entry, now), increase_seqno=False)
    except (Transient, Permanent):
        raise
    except Exception as exc:  # noqa: BLE001 - translated, never swallowed
        raise _translate(exc) from None


def delete(connection: CalendarConnection, uid: str) -> None:
    """Remove the entry's event; one that is not there any more is fine."""
    try:
        calendar = _calendar(connection)
        try:
            event = calendar.get_event_by_uid(uid)
        except dav_error.NotFoundError:
            return
        event.delete()
    except dav_error.NotFoundError:
        return
    except (Transient, Permanent):
        raise
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc) from None


@sensitive_variables("password")
def verify(url: str, username: str, password: str) -> str:
    """Check the calendar can be reached with these credentials; returns its display name."""
    connection = CalendarConnection(url=url, username=username)
    try:
        calendar = _calendar(connection, password=password)
        return calendar.get_display_name() or ""
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc) from None
