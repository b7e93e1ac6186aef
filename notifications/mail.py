"""Email: iTIP invitations (RFC 5546 over RFC 6047), reminders and handoff notes.

An invitation is multipart/mixed: a multipart/alternative of text/plain (entries.describe),
text/html (the same, escaped by the template engine) and text/calendar; method=REQUEST (or
CANCEL), plus the same calendar attached as invite.ics, also text/calendar with its method
and charset (RFC 6047; application/ics is not an iCalendar media type). That is the shape
Outlook, Gmail and Apple Mail recognise as an invitation with Accept/Add buttons.

Over SMTP an invitation is written out directly as bytes (`InviteMail.as_bytes`, the same
bytes Django's objects give) and sent with MAIL, RCPT and DATA pipelined when the server
announces PIPELINING (`_transaction`); the other backends get Django's objects.
"""

import logging
import re
import secrets
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from email.policy import Compat32
from email.utils import formatdate
from functools import lru_cache
from typing import ClassVar

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import SafeMIMEText, forbid_multi_line_headers, sanitize_address
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
_REMEMBERING_COMPAT32_CRLF = _REMEMBERING_COMPAT32.clone(linesep="\r\n")


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
                part.set_boundary(_boundary())
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
    """The invitation as Django's email objects (what the non-SMTP backends take); see
    `invite_mail`."""
    return invite_mail(
        entry,
        to=to,
        delivery_id=delivery_id,
        is_update=is_update,
        now=now,
        viewer_zone=viewer_zone,
    ).email_message()


def invite_mail(
    entry: entries.ShiftEntry,
    *,
    to: str,
    delivery_id: int,
    is_update: bool,
    now: datetime,
    viewer_zone: str | None = None,
) -> "InviteMail":
    """The subject, text and HTML say the time in the reader's zone (`viewer_zone`), named; the
    calendar part carries the rotation's zone, which calendar apps convert themselves."""
    zone = viewer_zone or entry.time_zone
    when = local(entry.start, zone)
    if entry.cancelled:
        subject = f"Cancelled: {entries.summary(entry)}, {when}"
    elif is_update:
        subject = f"Updated: {entries.summary(entry)}, {when}"
    else:
        subject = f"Invitation: {entries.summary(entry)}, {when}"
    html = render_to_string(
        "notifications/email/invite.html",
        {
            "entry": entry,
            "when": entries.span(entry.start, entry.end, zone),
            "runbook_is_link": entry.runbook_url.startswith(("https://", "http://")),
        },
    )
    return InviteMail(
        subject=subject,
        body=entries.describe(entry, zone=zone),
        html=html,
        calendar=entries.invite(entry, now=now).decode(),
        method="CANCEL" if entry.cancelled else "REQUEST",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        message_id=message_id(delivery_id),
    )


# Lines longer than this (in bytes) make Django's text parts quoted-printable.
_LONGEST_8BIT_LINE = 998
_CRLF = "\r\n"
_NEWLINES = re.compile(r"\r\n|\r|\n")


def _part(headers: str, text: str) -> str:
    """A text part as compat32 writes it: its headers, a blank line, the text with every
    line ending CRLF (a last line without one stays without)."""
    return headers + _CRLF + _NEWLINES.sub(_CRLF, text)


@dataclass(frozen=True)
class InviteMail:
    """An invitation, written out directly as the bytes Django's email objects would be
    written out as (`as_bytes`; `tests/test_invite_mime.py` compares them): an invite is
    always the same tree of parts, and building it through email.mime, Django's SafeMIME
    classes and the email generator was a third of a worker's CPU per invite. Text with a
    line too long for 8bit (which Django sends quoted-printable) goes through Django's
    objects, as before; so does every backend but SMTP (`email_message`)."""

    subject: str
    body: str
    html: str
    calendar: str
    method: str
    from_email: str
    to: str
    message_id: str

    def email_message(self) -> EmailMultiAlternatives:
        message = _Invite(
            subject=self.subject,
            body=self.body,
            from_email=self.from_email,
            to=[self.to],
            headers={"Message-ID": self.message_id},
        )
        message.attach_alternative(self.html, "text/html")
        message.attach_alternative(self.calendar, f"text/calendar; method={self.method}")
        message.attach(_invite_attachment(self.calendar.encode(), self.method))
        return message

    def envelope(self) -> tuple[str, str]:
        """(sender, recipient) for MAIL FROM and RCPT TO, as Django's SMTP backend gives them."""
        charset = settings.DEFAULT_CHARSET
        return _sanitized(self.from_email, charset), _sanitized(self.to, charset)

    def as_bytes(self, *, boundaries: tuple[str, str] | None = None, date: str = "") -> bytes:
        """The message as Django's SMTP backend sends it (``message().as_bytes(linesep=
        "\\r\\n")``). `boundaries` and `date` are for comparing with that in tests."""
        texts = (self.body, self.html, self.calendar)
        if any(
            len(line.encode(errors="surrogateescape")) > _LONGEST_8BIT_LINE
            for text in texts
            for line in text.splitlines()
        ):
            return self._through_django(boundaries, date)
        mixed, alternative = boundaries or (_boundary(), _boundary())
        fold = _REMEMBERING_COMPAT32_CRLF.fold_binary
        head = [
            f'Content-Type: multipart/mixed;{_CRLF} boundary="{mixed}"{_CRLF}'
            f"MIME-Version: 1.0{_CRLF}".encode()
        ]
        for name, value in (
            ("Subject", self.subject),
            ("From", self.from_email),
            ("To", self.to),
            ("Date", date or formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
            ("Message-ID", self.message_id),
        ):
            head.append(fold(*forbid_multi_line_headers(name, value, "utf-8")))
        body, html, calendar = (_cte(text) for text in texts)
        charset = 'charset="utf-8"'
        inline = f'method="{self.method}"; {charset}'
        attached = f'{charset}; method="{self.method}"'
        text = "".join(
            (
                _CRLF,
                f"--{mixed}{_CRLF}",
                f'Content-Type: multipart/alternative;{_CRLF} boundary="{alternative}"{_CRLF}',
                f"MIME-Version: 1.0{_CRLF}{_CRLF}",
                f"--{alternative}{_CRLF}",
                _part(
                    f"Content-Type: text/plain; {charset}{_CRLF}MIME-Version: 1.0{_CRLF}"
                    f"Content-Transfer-Encoding: {body}{_CRLF}",
                    self.body,
                ),
                f"{_CRLF}--{alternative}{_CRLF}",
                _part(
                    f"Content-Type: text/html; {charset}{_CRLF}MIME-Version: 1.0{_CRLF}"
                    f"Content-Transfer-Encoding: {html}{_CRLF}",
                    self.html,
                ),
                f"{_CRLF}--{alternative}{_CRLF}",
                _part(
                    f"MIME-Version: 1.0{_CRLF}Content-Type: text/calendar; {inline}{_CRLF}"
                    f"Content-Transfer-Encoding: {calendar}{_CRLF}",
                    self.calendar,
                ),
                f"{_CRLF}--{alternative}--{_CRLF}",
                f"{_CRLF}--{mixed}{_CRLF}",
                _part(
                    f"MIME-Version: 1.0{_CRLF}Content-Transfer-Encoding: {calendar}{_CRLF}"
                    f"Content-Type: text/calendar; {attached}{_CRLF}"
                    f'Content-Disposition: attachment; filename="invite.ics"{_CRLF}',
                    self.calendar,
                ),
                f"{_CRLF}--{mixed}--{_CRLF}",
            )
        )
        return b"".join(head) + text.encode(errors="surrogateescape")

    def _through_django(self, boundaries: tuple[str, str] | None, date: str) -> bytes:
        message = self.email_message().message()
        if boundaries:
            parts = [part for part in message.walk() if part.is_multipart()]
            for part, boundary in zip(parts, boundaries, strict=True):
                part.set_boundary(boundary)
        if date:
            message.replace_header("Date", date)
        return message.as_bytes(linesep=_CRLF)


def _boundary() -> str:
    """As `_Invite` chooses them: 128 random bits."""
    return f"==============={secrets.token_hex(16)}=="


def _cte(text: str) -> str:
    """What compat32 calls a utf-8 text part Django does not make quoted-printable."""
    return "7bit" if text.isascii() else "8bit"


@lru_cache(maxsize=1024)
def _sanitized(address: str, charset: str) -> str:
    """An envelope address as Django's SMTP backend sends it (its parsing costs ~0.2 ms)."""
    return sanitize_address(address, charset)


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

    def send(self, message: "EmailMessage | InviteMail") -> None:
        if self.connection is None:
            connection = get_connection(fail_silently=False)
            if not isinstance(connection, SmtpBackend):
                with connection:
                    connection.send_messages([_django(message)])
                return
            connection.open()
            self.connection, self.sent = connection, 0
        try:
            _send_over(self.connection, message)
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


def _django(message: "EmailMessage | InviteMail") -> EmailMessage:
    return message.email_message() if isinstance(message, InviteMail) else message


def _send_over(backend: SmtpBackend, message: "EmailMessage | InviteMail") -> None:
    """Send over an open SMTP backend: an invite as its bytes, pipelined (`_transaction`);
    anything else through Django."""
    if not isinstance(message, InviteMail):
        backend.send_messages([message])
        return
    sender, recipient = message.envelope()
    _transaction(backend.connection, sender, recipient, message.as_bytes())


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _transaction(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """One message, as ``smtp.sendmail(sender, [recipient], data)`` sends it, raising the same
    exceptions; with a server that announces PIPELINING (RFC 2920), MAIL, RCPT and DATA go
    in one write and their three replies are read together: two round trips per message
    instead of four. The message itself is sent only after the 354 to DATA, as before."""
    smtp.ehlo_or_helo_if_needed()
    if not (smtp.does_esmtp and smtp.has_extn("pipelining")):
        smtp.sendmail(sender, [recipient], data)
        return
    options = f" size={len(data)}" if smtp.has_extn("size") else ""
    smtp.send(
        f"mail FROM:{smtplib.quoteaddr(sender)}{options}\r\n"
        f"rcpt TO:{smtplib.quoteaddr(recipient)}\r\ndata\r\n"
    )
    (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = (
        smtp.getreply(),
        smtp.getreply(),
        smtp.getreply(),
    )
    if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
        # A server that takes DATA without a sender or recipient: the only way out of the
        # message it waits for, without sending one, is to hang up.
        smtp.close()
    if mail_code != 250:
        _end(smtp, mail_code)
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
    if rcpt_code not in (250, 251):
        _end(smtp, rcpt_code)
        raise smtplib.SMTPRecipientsRefused({recipient: (rcpt_code, rcpt_reply)})
    if data_code != 354:
        _end(smtp, data_code)
        raise smtplib.SMTPDataError(data_code, data_reply)
    body = _LEADING_DOT.sub(b"..", data)
    smtp.send(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
    code, reply = smtp.getreply()
    if code != 250:
        _end(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _end(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal, as smtplib does: hang up on a 421, else reset the transaction."""
    if code == 421 or smtp.sock is None:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def send(message: "EmailMessage | InviteMail") -> None:
    """Send one message, turning SMTP trouble into Transient or Permanent."""
    try:
        shared = _shared.get()
        if shared is not None:
            shared.send(message)
        else:
            with get_connection(fail_silently=False) as connection:
                if isinstance(connection, SmtpBackend):
                    _send_over(connection, message)
                else:
                    connection.send_messages([_django(message)])
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
