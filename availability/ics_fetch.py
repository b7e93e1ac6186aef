"""Fetching .ics feeds through the shared guard (:mod:`onehand.fetch`), in calendar words.

The guard (scheme, resolve once, refuse private addresses, pinned connection, size,
time and redirect caps, no HTML) lives in :mod:`onehand.fetch`; this module only turns
its errors into :class:`~availability.ics.CalendarImportError` messages that tell a
person what to do with their calendar address.
"""

from __future__ import annotations

from onehand import fetch

from .ics import MAX_ICS_BYTES, CalendarImportError, too_big

__all__ = ["WEB_PAGE_MESSAGE", "fetch_ics"]

WEB_PAGE_MESSAGE = (
    "The address answered with a web page, not a calendar. "
    "Use the calendar's secret iCal/ICS address."
)


def _calendar_error(error: fetch.FetchError) -> CalendarImportError:
    if isinstance(error, fetch.PrivateAddress):
        return CalendarImportError(
            f'The address "{error.host}" points to a private or local network, which is '
            "not allowed. Use a public calendar address."
        )
    if isinstance(error, fetch.TooLarge):
        return too_big(error.size, error.limit)
    if isinstance(error, fetch.UnwantedContent):
        return CalendarImportError(WEB_PAGE_MESSAGE)
    if isinstance(error, fetch.TooManyRedirects):
        return CalendarImportError(
            f"The address redirected more than {error.limit} times; "
            "use the calendar's final iCal/ICS address."
        )
    if isinstance(error, fetch.BadAddress) and error.reason == "scheme":
        return CalendarImportError(
            "Only http://, https:// and webcal:// calendar addresses are supported."
        )
    if isinstance(error, fetch.BadAddress) and error.reason == "credentials":
        return CalendarImportError(
            "Calendar addresses with a user name or password are not supported. "
            "Use the calendar's secret iCal/ICS address."
        )
    if isinstance(error, fetch.HTTPStatusError):
        code, status = error.code, error.status
        if status in (401, 403):
            return CalendarImportError(
                f"The calendar server refused access ({code}). Make sure you use the "
                "calendar's secret iCal/ICS address and that it has not been reset."
            )
        if status in (404, 410):
            return CalendarImportError(
                f"No calendar was found at this address ({code}). The address may have "
                "been reset or deleted; copy the secret iCal/ICS address again."
            )
        if status == 429:
            return CalendarImportError(
                f"The calendar server is rate-limiting us ({code}). Try again later."
            )
        if status >= 500:
            return CalendarImportError(
                f"The calendar server at {error.host} had a problem ({code}). Try again later."
            )
        return CalendarImportError(f"The calendar server answered with an error ({code}).")
    return CalendarImportError(str(error))


def fetch_ics(
    url: str,
    *,
    max_bytes: int = MAX_ICS_BYTES,
    timeout: float = 10.0,
    total_timeout: float | None = None,
    allow_private: bool = False,
) -> bytes:
    """Download an .ics feed, refusing anything but a calendar of sane size.

    Only http, https and webcal (fetched as https); see :func:`onehand.fetch.fetch`
    for the guard; ``total_timeout`` bounds the whole download.
    Raises :class:`CalendarImportError`.
    """
    try:
        return fetch.fetch(
            url,
            max_bytes=max_bytes,
            timeout=timeout,
            total_timeout=total_timeout,
            allow_private=allow_private,
            accept="text/calendar, text/plain;q=0.5, */*;q=0.1",
            user_agent="Onehand calendar import",
        )
    except fetch.FetchError as error:
        raise _calendar_error(error) from error
