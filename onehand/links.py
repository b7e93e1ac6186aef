"""Signed links for calendar entries and emails.

Each link is bound to one action, one person and one object, and expires. Single use (where a
link acts) is enforced by the object's own state (an offer can be accepted once), so a link
needs no server-side storage. Lives at project level because notifications *makes* links
while rotation's views *read* them, and rotation must not import notifications.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

SALT = "onehand.links"


class LinkError(Exception):
    """Why a link cannot be used, in words a person can act on."""


class LinkExpired(LinkError):
    pass


class LinkInvalid(LinkError):
    pass


@dataclass(frozen=True)
class LinkClaim:
    action: str
    user_id: int
    object_id: int


def make_token(action: str, user_id: int, object_id: int) -> str:
    return signing.dumps({"a": action, "u": user_id, "o": object_id}, salt=SALT, compress=True)


def read_token(token: str, action: str, max_age: timedelta) -> LinkClaim:
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired("This link has expired.") from None
    except signing.BadSignature:
        raise LinkInvalid(
            "This link is not valid: it may have been cut short or changed."
        ) from None
    if not isinstance(data, dict) or data.get("a") != action:
        raise LinkInvalid("This link is for something else.")
    return LinkClaim(action=action, user_id=int(data["u"]), object_id=int(data["o"]))


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"
