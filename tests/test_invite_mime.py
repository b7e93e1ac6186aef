"""Invites are written out with compat32 remembering its folded headers: the bytes are those
compat32 itself writes, for the first invite and for every later one."""

from dataclasses import replace

from django.core.mail import EmailMultiAlternatives

from notifications import mail
from tests.test_entries import NOW, make_entry


def _both(entry, delivery_id: int) -> tuple[bytes, bytes]:
    message = mail.invite_message(
        entry, to="zoë@example.com", delivery_id=delivery_id, is_update=False, now=NOW
    )
    remembering = message.message()
    plain = EmailMultiAlternatives.message(message)  # Django's own, compat32 as it comes
    for ours, theirs in zip(remembering.walk(), plain.walk(), strict=True):
        if ours.is_multipart():
            theirs.set_boundary(ours.get_boundary())
    return remembering.as_bytes(linesep="\r\n"), plain.as_bytes(linesep="\r\n")


def test_invites_are_written_byte_for_byte_as_compat32_writes_them():
    for n, name in enumerate(["Payments", "Zoë Payments with a much longer name, on call"] * 3):
        ours, theirs = _both(replace(make_entry(), rotation_name=name, sequence=n), n + 1)
        assert ours == theirs
        assert b'text/calendar; method="REQUEST"' in ours
