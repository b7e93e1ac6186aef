"""Who is guessing passwords: the real client address, and a lock that grows with guessing.

django-axes counts failed logins per (username, client address). Behind a reverse proxy every
request comes from the proxy's address, so that pair would let anyone lock anyone out; here the
client address is read from `X-Forwarded-For` only as far as the configured, trusted proxies
vouch for it:

* `ONEHAND_TRUSTED_PROXY_COUNT` (default 0): how many proxies in front of Django append to
  `X-Forwarded-For`. 0 uses `REMOTE_ADDR` and ignores the header (a client can write it).
  With N, the N-th address from the right is the one the outermost trusted proxy saw.
* `ONEHAND_TRUSTED_PROXIES` (optional): the proxies' own addresses; a request whose
  `REMOTE_ADDR` is not one of them does not get its header believed.

The lock is a fixed `ONEHAND_LOGIN_COOLOFF_MINUTES` (not progressive: axes expires every
stored attempt against the threshold of the request at hand, so a per-person growing lock
would be cut short by anyone else's login).
"""

from ipaddress import ip_address

from django.conf import settings


def _valid(address: str) -> str | None:
    try:
        return str(ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request) -> str | None:
    """The address of the client as far as the trusted proxies tell (AXES_CLIENT_IP_CALLABLE)."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.ONEHAND_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    trusted = settings.ONEHAND_TRUSTED_PROXIES
    if trusted and remote not in trusted:
        return remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote  # fewer hops than proxies: the header was not written by ours
    return _valid(hops[-count]) or remote
