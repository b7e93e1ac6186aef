"""Email: iTIP invitations (RFC 5546 over RFC 6047), reminders and handoff notes.

An invitation is multipart/mixed: a multipart/alternative of text/plain (entries.describe),
text/html (the same, escaped by the template engine) and text/calendar; method=REQUEST (or
CANCEL), plus the same calendar attached as invite.ics, also text/calendar with its method
and charset (RFC 6047; application/ics is not an iCalendar media type). That is the shape
Outlook, Gmail and Apple Mail recognise as an invitation with Accept/Add buttons.
"""

import logging
import secrets
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from email.policy import Compat32
from typing import ClassVar

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import SafeMIMEText
from django.template.loader import render_to_string

from onehand.dates import local_words
from rotation.selectors import OnCall

from . import entries
from .errors import Permanent, Transient
from .selectors import site_domain

logger = logging.getLogger(__name__)

# Every time a message gives, in the reader's zone and named (onehand.dates.local_words).
local = local_words


def message_id(delivery_id: int) -> str:
    """Stable per delivery: a re-send after a crash carries the same Message-ID, which many
    receiving systems (Gmail among them) use to drop the duplicate."""
    return f"<onehand.delivery.{delivery_id}@{site_domain()}>"


class _RememberingCompat32(Compat32):
    """The compat32 policy of Django's messages, remembering how it folded each header: an
    invite has some twenty headers, most of them the same in every invite (MIME-Version,
    each part's Content-Type and Content-Transfer-Encoding, From), and compat32 folds each
    through email.header.Header, the largest share of writing a message out. The folding is
    a function of the header and these settings alone, so the remembered text is the same."""

    _known: ClassVar[dict[tuple, bytes]] = {}
    _limit = 2048

    def fold_binary(self, name, value):
        if not isinstance(value, str):
            return super().fold_binary(name, value)
        key = (name, value, self.linesep, self.max_line_length, self.cte_type)
        folded = self._known.get(key)
        if folded is None:
            folded = super().fold_binary(name, value)
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[key] = folded
        return folded


_REMEMBERING_COMPAT32 = _RememberingCompat32()


class _Invite(EmailMultiAlternatives):
    """An invitation whose MIME boundaries are chosen up front: left to itself, the email
    generator makes a random boundary per multipart and compiles a regular expression to
    check the body against it, a good share of the CPU of sending an invite. A 128-bit random
    token is as unlikely to occur in the body as the generator's 63-bit one it checks. It is
    written out with compat32 remembering its folded headers (the same bytes)."""

    def message(self, *args, **kwargs):
        message = super().message(*args, **kwargs)
        for part in message.walk():
            if part.is_multipart() and part.get_boundary() is None:
                part.set_boundary(f"==============={secrets.token_hex(16)}==")
        message.policy = _REMEMBERING_COMPAT32
        return message


def invite_message(
    entry: entries.ShiftEntry,
    *,
    to: str,
    delivery_id: int,
    is_update: bool,
    now: datetime,
    viewer_zone: str | None = None,
) -> EmailMultiAlternatives:
    """The subject, text and HTML say the time in the reader's zone (`viewer_zone`), named; the
    calendar part carries the rotation's zone, which calendar apps convert themselves."""
    method = "CANCEL" if entry.cancelled else "REQUEST"
    calendar = entries.invite(entry, now=now)
    zone = viewer_zone or entry.time_zone
    when = local(entry.start, zone)
    if entry.cancelled:
        subject = f"Cancelled: {entries.summary(entry)}, {when}"
    elif is_update:
        subject = f"Updated: {entries.summary(entry)}, {when}"
    else:
        subject = f"Invitation: {entries.summary(entry)}, {when}"
    message = _Invite(
        subject=subject,
        body=entries.describe(entry, zone=zone),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id(delivery_id)},
    )
    html = render_to_string(
        "notifications/email/invite.html",
        {
            "entry": entry,
            "when": entries.span(entry.start, entry.end, zone),
            "runbook_is_link": entry.runbook_url.startswith(("https://", "http://")),
        },
    )
    message.attach_alternative(html, "text/html")
    message.attach_alternative(calendar.decode(), f"text/calendar; method={method}")
    message.attach(_invite_attachment(calendar, method))
    return message


def _invite_attachment(calendar: bytes, method: str) -> SafeMIMEText:
    """invite.ics as RFC 6047 wants it: ``text/calendar; method=REQUEST; charset="utf-8"``
    (or CANCEL), the same bytes as the inline part, as an attachment. Django's own
    ``attach(name, content, mimetype)`` would add the charset to a type that already
    carries parameters; building the part here keeps every parameter once."""
    part = SafeMIMEText(calendar.decode(), "calendar", "utf-8")
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    return part


def plain_message(*, subject: str, lines: list[str], to: str, delivery_id: int) -> EmailMessage:
    return EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id(delivery_id)},
    )


def _on_call_lines(on_call: OnCall, zone: str) -> list[str]:
    lines = []
    for label, contact in (
        ("Primary", on_call.primary),
        ("Secondary", on_call.secondary),
        ("Shadow", on_call.shadow),
    ):
        if contact is not None:
            lines.append(f"  {label}: {_contact(contact)}")
    if not lines:
        lines.append("  Nobody.")
    if on_call.escalation:
        lines.append("Escalation, in order:")
        lines += [
            f"  {n}. {_contact(c)} ({c.role})" for n, c in enumerate(on_call.escalation, start=1)
        ]
    return lines


def _contact(contact) -> str:
    text = entries._line(contact.name)
    details = [f"phone {entries._line(contact.phone)}"] if contact.phone else []
    if contact.email:
        details.append(f"email {entries._line(contact.email)}")
    return f"{text}, {', '.join(details)}" if details else text


def reminder_message(
    entry: entries.ShiftEntry,
    *,
    to: str,
    viewer_zone: str,
    delivery_id: int,
    handover_url: str = "",
) -> EmailMessage:
    starts = local(entry.start, viewer_zone)
    body = f"Reminder: your {entry.role} shift starts {starts}.\n\n" + entries.describe(
        entry, zone=viewer_zone
    )
    if handover_url:
        body += (
            "\nAt the end of your shift, leave a handover note for the next person: "
            f"{handover_url}\n"
        )
    return EmailMessage(
        subject=f"Reminder: {entries.summary(entry)} starts {starts}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id(delivery_id)},
    )


def handoff_message(
    *,
    incoming: bool,
    role: str,
    rotation_name: str,
    at: datetime,
    until: datetime | None,
    other_name: str,
    on_call: OnCall,
    to: str,
    viewer_zone: str,
    shift_link: str,
    delivery_id: int,
    handover: str = "",
    incidents: list[str] | None = None,
) -> EmailMessage:
    rotation_name = entries._line(rotation_name)
    when = local(at, viewer_zone)
    if incoming:
        subject = f"You are now on call: {rotation_name}, {role}"
        first = f"Handoff at {when}: you are now on call as {role} for {rotation_name}"
        first += f", taking over from {other_name}." if other_name else "."
        if until is not None:
            first += f"\nYour shift ends {local(until, viewer_zone)}."
    else:
        subject = f"Handoff done: {rotation_name}, {role}"
        first = f"Handoff at {when}: your {role} shift for {rotation_name} has ended"
        first += f"; {other_name} took over." if other_name else "."
    lines = [
        first,
        "",
        "Now on call:",
        *_on_call_lines(on_call, viewer_zone),
        "",
        *([f"Handover from {other_name}:", handover, ""] if handover else []),
        *(
            [
                f"Incidents during the last shift ({len(incidents)}):",
                *[f"  - {entries._line(line)}" for line in incidents],
                "",
            ]
            if incidents
            else []
        ),
        f"Rotation: {shift_link}",
    ]
    return EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id(delivery_id)},
    )


class _SharedConnection:
    """One SMTP connection for a batch of deliveries, opened on the first message.

    Only the SMTP backend is shared: the file backend would write a whole batch into one
    file, and the others have no connection worth keeping. Any error closes the connection
    (the next message opens a fresh one); when the server dropped a reused connection (idle
    too long) or closed it with 421, the message at hand is tried once on a new one.
    """

    def __init__(self):
        self.connection = None
        self.sent = 0

    def send(self, message: EmailMessage) -> None:
        if self.connection is None:
            connection = get_connection(fail_silently=False)
            if not isinstance(connection, SmtpBackend):
                with connection:
                    connection.send_messages([message])
                return
            connection.open()
            self.connection, self.sent = connection, 0
        try:
            self.connection.send_messages([message])
        except BaseException as exc:
            reused = self.sent > 0
            self.close()
            if reused and _closed_by_server(exc):
                # Idle too long, or enough messages on one connection for the server's
                # taste: once more, on a new connection.
                self.send(message)
                return
            raise
        self.sent += 1

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - already broken; nothing to keep
                logger.debug("closing a shared SMTP connection failed", exc_info=True)


def _closed_by_server(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
        return True
    # 421: "service not available, closing transmission channel".
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421


_shared: ContextVar[_SharedConnection | None] = ContextVar("onehand_shared_smtp", default=None)


@contextmanager
def one_connection() -> Iterator[None]:
    """Within this block `send` reuses one SMTP connection (a delivery batch)."""
    shared = _SharedConnection()
    token = _shared.set(shared)
    try:
        yield
    finally:
        _shared.reset(token)
        shared.close()


def send(message: EmailMessage) -> None:
    """Send one message, turning SMTP trouble into Transient or Permanent."""
    try:
        shared = _shared.get()
        if shared is not None:
            shared.send(message)
        else:
            with get_connection(fail_silently=False) as connection:
                connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        error = f"recipient refused: {', '.join(str(c) for c in codes)}"
        if codes and all(400 <= code < 500 for code in codes):
            raise Transient(error) from None
        raise Permanent(error) from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        error = f"SMTP {exc.smtp_code} {text}"[:250]
        if exc.smtp_code >= 500:
            raise Permanent(error) from None
        raise Transient(error) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        # Connection refused or dropped, timeouts, DNS: the server may be back later.
        raise Transient(f"{exc.__class__.__name__}: {exc}"[:250]) from None
