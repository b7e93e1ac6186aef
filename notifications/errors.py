"""How a send failed: worth trying again later, or not."""


class DeliveryError(Exception):
    """A send failed; the message is safe to store (no secrets in it)."""


class Transient(DeliveryError):
    """Try again later: SMTP 4xx, connection refused or dropped, timeouts, CalDAV 5xx/429."""


class Permanent(DeliveryError):
    """Trying again will not help: SMTP 5xx, CalDAV 401/403/404, unusable data."""


class Unconfirmed(DeliveryError):
    """Sent, but the server did not confirm in time: it may have taken it, so it is recorded as
    sent (with this note) and never sent again, which could post it twice."""
