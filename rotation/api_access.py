"""The API access stamp: renewed after every committed write that could change which token
may read which rotation, so the on-call answer's fast path (`rotation.middleware.
KeptOnCallResponseMiddleware`) can remember "this token may read this rotation" under it and
answer a repeated poll without asking the database who the token belongs to.

Which writes (`onehand.change_stamps`): API tokens (a revoked or replaced token), users (one
deactivated, deleted or made superuser; a login's own ``last_login`` update does not count),
memberships (joining, leaving, an invitation accepted), teams and rotations (one deleted or
moved to another team). Writes from outside Django (psql) are not seen: a grant lives at most
`rotation.oncall.GRANT_SECONDS`.
"""

from __future__ import annotations

from onehand.change_stamps import ChangeStamp

STAMP_KEY = "onehand:api-access-stamp"

ACCESS = ChangeStamp(
    key=STAMP_KEY,
    watched_apps=("authtoken",),
    watched_models=("rotation.Membership", "rotation.Team", "rotation.Rotation"),
    ignored_models=(),
    # Unset, ONEHAND_PLAN_REMEMBER decides (one switch for every remembered part).
    settings_names=("ONEHAND_ONCALL_REMEMBER", "ONEHAND_PLAN_REMEMBER"),
    what="kept on-call responses",
    skip_unchanged=True,
)
watch = ACCESS.watch
usable = ACCESS.usable
