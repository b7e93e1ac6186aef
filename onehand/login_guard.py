"""Who is guessing passwords: the real client address, and a lock that grows with guessing.

django-axes counts failed logins per (username, client address). Behind a reverse proxy every
request comes from the proxy's address, so that pair would let anyone lock anyone out; here the
client address is read from `X-Forwarded-For` only as far as the configured, trusted proxies
vouch for it:

* `ONEHAND_TRUSTED_PROXY_COUNT` (default 0): how many proxies in front of Django append to
  `X-Forwarded-For`. 0 uses `REMOTE_ADDR` and ignores the header (a client can write it).
  With N, the N-th address from the right is the one the outermost trusted proxy saw.
* `ONEHAND_TRUSTED_PROXIES` (optional): the proxies' own addresses; a request whose
  `REMOTE_ADDR` is not one of them does not get its header believed. Unset, only a peer on
  loopback or a private network (a reverse proxy on the same host or network) is believed: a
  client reaching gunicorn from a public address is counted by that address, whatever it writes.

Through trusted proxies the client is the right-most address in `X-Forwarded-For` that is not
itself a trusted proxy, looking at most `ONEHAND_TRUSTED_PROXY_COUNT` hops back.

The lock is a fixed `ONEHAND_LOGIN_COOLOFF_MINUTES` (not progressive: axes expires every
stored attempt against the threshold of the request at hand, so a per-person growing lock
would be cut short by anyone else's login).
"""

from ipaddress import ip_address, ip_network

from django.conf import settings

# Loopback and the private networks (RFC 1918, IPv6 unique-local): where a reverse proxy on the
# same host or network talks from. Not `is_private`, which also counts documentation ranges.
LOCAL_NETWORKS = tuple(
    ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)


def _valid(address: str) -> str | None:
    try:
        return str(ip_address(address.strip()))
    except ValueError:
        return None


def _is_trusted_proxy(address: str | None) -> bool:
    """Whether `address` is one of our proxies: the configured list, else a local/private peer."""
    if not address:
        return False
    configured = settings.ONEHAND_TRUSTED_PROXIES
    if configured:
        return address in {_valid(a) or a for a in configured}
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    parsed = getattr(parsed, "ipv4_mapped", None) or parsed
    return any(parsed in network for network in LOCAL_NETWORKS)


def client_address(request) -> str | None:
    """The address of the client as far as the trusted proxies tell (AXES_CLIENT_IP_CALLABLE)."""
    remote = _valid(request.META.get("REMOTE_ADDR") or "") or None
    count = settings.ONEHAND_TRUSTED_PROXY_COUNT
    if count <= 0 or not _is_trusted_proxy(remote):
        return remote  # no proxies, or the peer is not one of ours: its header is its own words
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote  # fewer hops than proxies: the header was not written by ours
    for back in range(1, count + 1):
        hop = _valid(hops[-back])
        if hop is None:
            return remote
        if back == count or not _is_trusted_proxy(hop):
            return hop
    return remote
