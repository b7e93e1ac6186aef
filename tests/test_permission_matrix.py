"""Every URL × every role: who may open what.

The URL patterns are walked from `django.urls.get_resolver()` (pages and API alike), so a new
endpoint without a row in RULES fails with "add a rule for <name>", and so does a URL keyword
the row does not fill. Each row names the objects its URL keywords stand for and the expected
status per role for GET (and for POST where the endpoint is an action).

Roles: anonymous; outsider (logged in, in no team); engineer (of the team: owns the personal
objects, is assigned the shift, is asked the swap offer's requester); other_engineer and
other_manager (of another team); manager (of the team).

Expectation codes:
  LOGIN  302 to the login page            ok     gets through: 2xx, 302/303 elsewhere, 400 (form)
  DENY   403 or 404 (hidden or refused)   405    method not allowed (POST-only action, GET)
  API_ANON  401 or 403 (DRF, unauthenticated)

Explicitly out of the matrix: admin/ (staff only, Django's own), static files, api/schema/
and api/docs/ (public by design: the schema is documentation, it holds no data).

Signed-link and token pages have their own rules:
  /healthz                      public: 200 (or 503 when a service is down), no login
  /metrics                      the bearer token (ONEHAND_METRICS_TOKEN) is the credential;
                                without one set, loopback only (the test client is loopback)
  /calendar/<token>.ics         the token is the credential: a real token gives 200 to anyone
  /calendar/rotations/<t>.ics   (anonymous included), a wrong token 404
  /shifts/<id>/cant-make-it/    without ?t=: anonymous get a 403 page "needs your personal
  /shifts/<id>/handover/        link ... or a login"; logged-in people are judged by the view
  /offers/<id>/                 (the assignee/candidate/team may act, others 403/404). With a
                                valid ?t= link anyone holding it acts as the link's owner
                                (tested in tests/test_swap_links.py).
  /dev/mail/...                 superusers only, and only with ONEHAND_DEV_MAIL_VIEWER on: 404
  /invitations/<id>/...         only the invited person may accept or decline (others 404)
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "outsider", "engineer", "other_engineer", "manager", "other_manager"]
EXCLUDED_PREFIXES = ("admin/", "static/", "api/schema/", "api/docs/", "__debug__/")

LOGIN, DENY, OK, API_ANON = "LOGIN", "DENY", "ok", "API_ANON"


def build_world():
    """One object of each kind in team A, plus the people of every role."""
    from availability import services as availability
    from availability.models import CalendarSource
    from incidents import services as incident_services
    from notifications.crypto import encrypt
    from notifications.models import Channel, ChatHook, Delivery, RotationFeed
    from planning import services as planning_services
    from planning import swaps
    from rotation import services
    from rotation.models import Person, SwapOffer
    from tests.factories import (
        DutyRequirementFactory,
        RotationFactory,
        TeamFactory,
        UserFactory,
        engineer,
        join_rotation,
        manager,
    )

    team = TeamFactory(name="Payments", slug="payments")
    boss = manager(team, username="boss")
    amara = engineer(team, username="amara")
    ben = engineer(team, username="ben")
    chloe = engineer(team, username="chloe")
    rotation = RotationFactory(team=team, lead=boss)
    join_rotation(rotation, amara, ben, chloe)
    entry = availability.mark(
        datetime(2030, 11, 1, tzinfo=UTC),
        datetime(2030, 11, 3, tzinfo=UTC),
        "unavailable",
        by=amara,
    ).entry
    roster = planning_services.draft_roster(rotation, date(2030, 12, 1), date(2031, 1, 1), by=boss)
    services.publish_roster(roster, by=boss)
    shift = roster.shifts.filter(assignee=amara).order_by("start").first()
    if shift is None:  # the draft skipped amara: give her the first slot
        shift = roster.shifts.order_by("start").first()
        planning_services.assign_slot(shift, amara, by=boss, override=True)
    swap = swaps.request_swap(shift, reason="Dentist", by=amara)
    offer = swap.offers.first() or SwapOffer.objects.create(request=swap, candidate=ben, rank=1)
    requirement = DutyRequirementFactory(rotation=rotation)
    qualification = availability.claim_qualification(
        requirement, obtained_on=date(2026, 1, 1), evidence="cert", by=amara
    )
    source = CalendarSource.objects.create(
        user=amara, name="Work", kind="url", url="https://c.example/secret.ics"
    )
    allocation = availability.set_allocation(
        by=boss,
        user=amara,
        team=team,
        period_start=date(2030, 12, 1),
        period_end=date(2031, 1, 1),
        percent=40,
    )
    lock = availability.lock_availability(team, date(2031, 3, 1), date(2031, 4, 1), by=boss)
    delivery = Delivery.objects.filter(shift__roster=roster).first() or Delivery.objects.create(
        user=amara,
        shift=shift,
        channel=Channel.EMAIL,
        sequence=shift.sequence,
        action="request",
        next_attempt_at=datetime.now(UTC),
    )
    Delivery.objects.filter(pk=delivery.pk).update(status="failed")
    feed, _ = RotationFeed.objects.get_or_create(rotation=rotation)
    issued = incident_services.create_hook_token(rotation, by=boss)
    incident = incident_services.record_incident(
        rotation, by=boss, title="Night page", started_at=datetime(2030, 12, 2, 2, tzinfo=UTC)
    )
    other_team = TeamFactory(name="Search", slug="search")
    users = {
        "anonymous": None,
        "outsider": UserFactory(username="outsider"),
        "engineer": amara,
        "other_engineer": engineer(other_team, username="other-eng"),
        "manager": boss,
        "other_manager": manager(other_team, username="other-boss"),
    }
    # Amara is invited to the other team and has not answered.
    invitation = services.invite_member(other_team, amara, by=users["other_manager"])
    objects = {
        "team": team,
        "rotation": rotation,
        "roster": roster,
        # queued for ever: the test's transaction never commits, so no worker runs it
        "draft_job": planning_services.request_draft(
            rotation, date(2031, 2, 1), date(2031, 3, 1), by=boss
        )[0],
        "shift": shift,
        "swap": swap,
        "offer": offer,
        "requirement": requirement,
        "qualification": qualification,
        "entry": entry,
        "source": source,
        "allocation": allocation,
        "lock": lock,
        "delivery": delivery,
        "audit": roster.audit_entries.order_by("id").first(),
        "membership": amara.memberships.get(team=team),
        "invitation": invitation,
        "feed": feed,
        "person_feed": Person.objects.get(user=amara),
        "hook": issued.hook,
        "hook_token": issued.token,
        "incident": incident,
        "chat_hook": ChatHook.objects.create(
            team=team,
            url_encrypted=encrypt("https://hooks.example.com/services/T0/B0/abcd"),
            url_hint="https://hooks.example.com/…abcd",
        ),
    }
    return users, objects


# What fills each kind of URL keyword: object key -> attribute.
def _value(objects, key: str):
    if key == "json":
        return "json"
    if key == "team":
        return objects["team"].slug
    if key == "team_pk":
        return objects["team"].pk
    if key == "feed":
        return objects["feed"].token
    if key == "person_feed":
        return objects["person_feed"].feed_token
    if key == "hook_token":
        return objects["hook_token"]
    if key == "mail_file":
        return "nothing.log"
    if key == "unmatched_api_address":
        return "draft-jobs/"  # the job API has no list
    return objects[key].pk


@dataclass(frozen=True)
class Rule:
    kwargs: dict = field(default_factory=dict)  # URL keyword -> object key
    get: tuple = ()  # expected GET status per role, in ROLES order
    post: tuple | None = None  # expected POST status per role (action endpoints)
    data: dict = field(default_factory=dict)  # the POST body


def roles(*codes):
    assert len(codes) == len(ROLES)
    return tuple(codes)


# ---- shorthands for the common shapes ------------------------------------------------------------
#                      anonymous  outsider  engineer  other_eng  manager  other_mgr
PAGE_ANY = roles(LOGIN, OK, OK, OK, OK, OK)  # any logged-in person, own data only
PAGE_TEAM = roles(LOGIN, DENY, OK, DENY, OK, DENY)  # members of the team
PAGE_MANAGER = roles(LOGIN, DENY, DENY, DENY, OK, DENY)  # managers of the team
POST_ONLY = roles(LOGIN, 405, 405, 405, 405, 405)  # GET of a POST-only action
API_ANY = roles(API_ANON, 200, 200, 200, 200, 200)  # lists: scoped, tested in test_outsiders
API_TEAM = roles(API_ANON, DENY, 200, DENY, 200, DENY)
API_OWN = roles(API_ANON, DENY, 200, DENY, DENY, DENY)  # the engineer's own private object
API_OWN_OR_MGR = roles(API_ANON, DENY, 200, DENY, 200, DENY)
API_POST_ONLY = roles(API_ANON, 405, 405, 405, 405, 405)
PUBLIC_TOKEN = roles(200, 200, 200, 200, 200, 200)
DEV_ONLY = roles(LOGIN, 404, 404, 404, 404, 404)


def kw(**mapping):
    return mapping


RULES: dict[str, Rule] = {
    # ---- project level
    "healthz": Rule(get=roles(OK, OK, OK, OK, OK, OK)),
    "metrics": Rule(get=roles(200, 200, 200, 200, 200, 200)),
    "login": Rule(get=roles(200, 302, 302, 302, 302, 302)),  # logged in: sent on to home
    "logout": Rule(
        get=roles(405, 405, 405, 405, 405, 405), post=roles(302, 302, 302, 302, 302, 302)
    ),
    "api-root": Rule(kwargs=kw(format="json"), get=API_ANY),
    # any /api/ address no route matched: the API's JSON 404, for everyone
    "api-not-found": Rule(
        kwargs=kw(address="unmatched_api_address"), get=roles(404, 404, 404, 404, 404, 404)
    ),
    # ---- rotation pages
    "home": Rule(get=PAGE_ANY),
    "team": Rule(kwargs=kw(slug="team"), get=PAGE_TEAM),
    "rotation": Rule(kwargs=kw(pk="rotation"), get=PAGE_TEAM),
    "plan": Rule(kwargs=kw(pk="rotation"), get=PAGE_MANAGER),
    "report": Rule(kwargs=kw(pk="rotation"), get=PAGE_TEAM),  # members read the load report
    "import-history": Rule(kwargs=kw(slug="team"), get=PAGE_MANAGER, post=PAGE_MANAGER),
    "team-settings": Rule(kwargs=kw(slug="team"), get=POST_ONLY, post=PAGE_MANAGER),
    "rotation-new": Rule(kwargs=kw(slug="team"), get=PAGE_MANAGER, post=PAGE_MANAGER),
    "rotation-edit": Rule(
        kwargs=kw(slug="team", pk="rotation"), get=PAGE_MANAGER, post=PAGE_MANAGER
    ),
    "draft": Rule(kwargs=kw(pk="rotation"), get=POST_ONLY, post=PAGE_MANAGER),
    "draft-job": Rule(kwargs=kw(pk="draft_job"), get=PAGE_MANAGER),
    "roster": Rule(kwargs=kw(pk="roster"), get=PAGE_TEAM),  # read-only for engineers
    "publish": Rule(kwargs=kw(pk="roster"), get=POST_ONLY, post=PAGE_MANAGER),
    "audit-csv": Rule(kwargs=kw(pk="roster"), get=PAGE_MANAGER),
    "compare": Rule(kwargs=kw(pk="rotation"), get=PAGE_MANAGER),
    "publish-preview": Rule(kwargs=kw(pk="roster"), get=PAGE_MANAGER),
    "slot-editor": Rule(kwargs=kw(shift_pk="shift"), get=PAGE_MANAGER),
    "slot-edit": Rule(kwargs=kw(shift_pk="shift"), get=PAGE_MANAGER),
    "assign": Rule(kwargs=kw(shift_pk="shift"), get=POST_ONLY, post=PAGE_MANAGER),
    # ---- signed-link pages (see the module docstring)
    "cant-make-it": Rule(kwargs=kw(shift_pk="shift"), get=roles(403, DENY, OK, DENY, OK, DENY)),
    "swap-offer": Rule(kwargs=kw(offer_pk="offer"), get=roles(403, DENY, DENY, DENY, DENY, DENY)),
    "handover": Rule(kwargs=kw(shift_pk="shift"), get=roles(403, DENY, OK, DENY, DENY, DENY)),
    "swap-cancel": Rule(
        kwargs=kw(pk="swap"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, OK, DENY)
    ),
    "swap-decide": Rule(kwargs=kw(pk="swap"), get=POST_ONLY, post=PAGE_MANAGER),
    # ---- availability pages (own data: every logged-in person has their own)
    "availability": Rule(get=PAGE_ANY),
    "availability-mark": Rule(get=POST_ONLY, post=PAGE_ANY),
    "availability-add": Rule(get=POST_ONLY, post=PAGE_ANY),
    "availability-delete": Rule(
        kwargs=kw(pk="entry"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),
    "calendars": Rule(get=PAGE_ANY),
    "calendar-add": Rule(get=POST_ONLY, post=PAGE_ANY),
    "calendar-upload": Rule(get=POST_ONLY, post=PAGE_ANY),
    "calendar-status": Rule(kwargs=kw(pk="source"), get=roles(LOGIN, DENY, OK, DENY, DENY, DENY)),
    "calendar-refresh": Rule(
        kwargs=kw(pk="source"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),
    "calendar-remove": Rule(
        kwargs=kw(pk="source"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),
    "requirement-claim": Rule(
        kwargs=kw(pk="requirement"), get=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),  # rotation members only
    "requirement-edit": Rule(kwargs=kw(pk="requirement"), get=PAGE_MANAGER, post=PAGE_MANAGER),
    "requirement-delete": Rule(kwargs=kw(pk="requirement"), get=POST_ONLY, post=PAGE_MANAGER),
    "requirement-new": Rule(kwargs=kw(rotation_pk="rotation"), get=PAGE_MANAGER, post=PAGE_MANAGER),
    "qualification-withdraw": Rule(
        kwargs=kw(pk="qualification"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),
    "qualification-review": Rule(kwargs=kw(pk="qualification"), get=POST_ONLY, post=PAGE_MANAGER),
    "team-readiness": Rule(kwargs=kw(slug="team"), get=PAGE_MANAGER),
    "pay": Rule(kwargs=kw(slug="team"), get=PAGE_TEAM, post=PAGE_MANAGER),  # engineers: own line
    "lock-create": Rule(kwargs=kw(slug="team"), get=POST_ONLY, post=PAGE_MANAGER),
    "lock-delete": Rule(kwargs=kw(slug="team", pk="lock"), get=POST_ONLY, post=PAGE_MANAGER),
    "allocation-set": Rule(
        kwargs=kw(slug="team"), get=POST_ONLY, post=PAGE_TEAM
    ),  # engineers: their own, if the team allows
    "team-availability-settings": Rule(kwargs=kw(slug="team"), get=POST_ONLY, post=PAGE_MANAGER),
    # ---- calendar pages and feeds
    "calendar-settings": Rule(get=PAGE_ANY),
    "calendar-rotate": Rule(get=POST_ONLY, post=PAGE_ANY, data={"feed": "personal"}),
    "caldav-connect": Rule(get=POST_ONLY, post=PAGE_ANY),
    "caldav-disconnect": Rule(get=POST_ONLY, post=PAGE_ANY),
    "rotation-feed": Rule(kwargs=kw(token="feed"), get=PUBLIC_TOKEN),
    "personal-feed": Rule(kwargs=kw(token="person_feed"), get=PUBLIC_TOKEN),
    "delivery-retry": Rule(kwargs=kw(pk="delivery"), get=POST_ONLY, post=PAGE_MANAGER),
    "roster-deliveries-retry": Rule(kwargs=kw(pk="roster"), get=POST_ONLY, post=PAGE_MANAGER),
    "invitation-accept": Rule(
        kwargs=kw(pk="invitation"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),
    "invitation-decline": Rule(
        kwargs=kw(pk="invitation"), get=POST_ONLY, post=roles(LOGIN, DENY, OK, DENY, DENY, DENY)
    ),
    "dev-mail": Rule(get=DEV_ONLY),
    "dev-mail-file": Rule(kwargs=kw(name="mail_file"), get=DEV_ONLY),
    # ---- API (token-less APIClient with force_login: session auth, CSRF not enforced)
    "team-list": Rule(get=API_ANY),
    "team-detail": Rule(kwargs=kw(pk="team_pk"), get=API_TEAM),
    "team-pay": Rule(kwargs=kw(pk="team_pk"), get=API_TEAM),
    "team-pay-rates": Rule(kwargs=kw(pk="team_pk"), get=API_TEAM),
    "membership-list": Rule(get=API_ANY),
    "membership-detail": Rule(kwargs=kw(pk="membership"), get=API_TEAM),
    "membership-accept": Rule(
        kwargs=kw(pk="invitation"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, OK, DENY, DENY, DENY),
    ),
    "rotation-list": Rule(get=API_ANY),
    "rotation-detail": Rule(kwargs=kw(pk="rotation"), get=API_TEAM),
    "rotation-draft-jobs": Rule(
        kwargs=kw(pk="rotation"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, DENY, DENY, OK, DENY),
    ),
    "draft-job-detail": Rule(
        kwargs=kw(pk="draft_job"), get=roles(API_ANON, DENY, DENY, DENY, 200, DENY)
    ),
    "rotation-draft": Rule(
        kwargs=kw(pk="rotation"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, DENY, DENY, OK, DENY),
    ),
    "rotation-oncall": Rule(kwargs=kw(pk="rotation"), get=API_TEAM),
    "roster-list": Rule(get=API_ANY),
    "roster-detail": Rule(kwargs=kw(pk="roster"), get=API_TEAM),
    "roster-publish": Rule(
        kwargs=kw(pk="roster"), get=API_POST_ONLY, post=roles(API_ANON, DENY, DENY, DENY, OK, DENY)
    ),
    "shift-list": Rule(get=API_ANY),
    "shift-detail": Rule(kwargs=kw(pk="shift"), get=API_TEAM),
    "shift-assign": Rule(
        kwargs=kw(pk="shift"), get=API_POST_ONLY, post=roles(API_ANON, DENY, DENY, DENY, OK, DENY)
    ),
    # Signed link for managers (tests/test_swap_notices.py); without ?candidate= it names
    # nobody: 400 for a manager, 404 for anyone else, 403 "needs your personal link" anonymous.
    "swap-assign": Rule(kwargs=kw(pk="swap"), get=roles(403, 404, 404, 404, 400, 404)),
    "audit-list": Rule(get=API_ANY),  # scoped to the teams one manages
    "audit-detail": Rule(kwargs=kw(pk="audit"), get=roles(API_ANON, DENY, DENY, DENY, 200, DENY)),
    "delivery-list": Rule(get=API_ANY),  # scoped to the teams one manages
    "delivery-detail": Rule(
        kwargs=kw(pk="delivery"), get=roles(API_ANON, DENY, DENY, DENY, 200, DENY)
    ),
    "swap-list": Rule(get=API_ANY),
    "swap-detail": Rule(kwargs=kw(pk="swap"), get=API_TEAM),
    "offer-list": Rule(get=API_ANY),
    "offer-detail": Rule(
        kwargs=kw(pk="offer"), get=roles(API_ANON, DENY, DENY, DENY, DENY, DENY)
    ),  # the candidate only (none of these roles)
    "offer-accept": Rule(
        kwargs=kw(pk="offer"), get=API_POST_ONLY, post=roles(API_ANON, DENY, DENY, DENY, DENY, DENY)
    ),
    "offer-decline": Rule(
        kwargs=kw(pk="offer"), get=API_POST_ONLY, post=roles(API_ANON, DENY, DENY, DENY, DENY, DENY)
    ),
    "requirement-list": Rule(get=API_ANY),
    "requirement-detail": Rule(kwargs=kw(pk="requirement"), get=API_TEAM),
    "qualification-list": Rule(get=API_ANY),
    "qualification-detail": Rule(kwargs=kw(pk="qualification"), get=API_OWN_OR_MGR),
    "qualification-verify": Rule(
        kwargs=kw(pk="qualification"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, DENY, DENY, OK, DENY),
    ),
    "qualification-reject": Rule(
        kwargs=kw(pk="qualification"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, DENY, DENY, OK, DENY),
    ),
    "availability-list": Rule(get=API_ANY),
    "availability-detail": Rule(kwargs=kw(pk="entry"), get=API_OWN_OR_MGR),
    "calendar-source-list": Rule(get=API_ANY),
    "calendar-source-upload": Rule(get=API_POST_ONLY, post=roles(API_ANON, OK, OK, OK, OK, OK)),
    "calendar-source-detail": Rule(kwargs=kw(pk="source"), get=API_OWN),
    "calendar-source-refresh": Rule(
        kwargs=kw(pk="source"), get=API_POST_ONLY, post=roles(API_ANON, DENY, OK, DENY, DENY, DENY)
    ),
    "availability-lock-list": Rule(get=API_ANY),
    "availability-lock-detail": Rule(kwargs=kw(pk="lock"), get=API_TEAM),
    "allocation-list": Rule(get=API_ANY),
    "allocation-detail": Rule(kwargs=kw(pk="allocation"), get=API_OWN_OR_MGR),
    "utilisation-list": Rule(get=API_ANY),
    "readiness-list": Rule(get=API_ANY),
    # ---- incidents: the webhook's token is the credential (a body that is not JSON: 400)
    "incident-hook": Rule(
        kwargs=kw(token="hook_token"),
        get=roles(405, 405, 405, 405, 405, 405),
        post=roles(400, 400, 400, 400, 400, 400),
    ),
    "rotation-incidents": Rule(kwargs=kw(pk="rotation"), get=PAGE_MANAGER),
    "incidents-page-hook-create": Rule(kwargs=kw(pk="rotation"), get=POST_ONLY, post=PAGE_MANAGER),
    "incidents-page-hook-revoke": Rule(
        kwargs=kw(pk="rotation", hook_pk="hook"), get=POST_ONLY, post=PAGE_MANAGER
    ),
    "incident-import": Rule(kwargs=kw(pk="rotation"), get=POST_ONLY, post=PAGE_MANAGER),
    "incident-settings": Rule(kwargs=kw(pk="rotation"), get=POST_ONLY, post=PAGE_MANAGER),
    "incident-list": Rule(get=API_ANY, post=roles(API_ANON, 400, 400, 400, 400, 400)),
    "incident-detail": Rule(kwargs=kw(pk="incident"), get=API_TEAM),
    "incident-import-csv": Rule(get=API_POST_ONLY, post=roles(API_ANON, 400, 400, 400, 400, 400)),
    "incident-load": Rule(get=roles(API_ANON, 400, 400, 400, 400, 400)),
    "chat-hook-list": Rule(get=API_ANY, post=roles(API_ANON, 400, 400, 400, 400, 400)),
    "chat-hook-detail": Rule(
        kwargs=kw(pk="chat_hook"), get=roles(API_ANON, DENY, DENY, DENY, 200, DENY)
    ),
    "team-chat": Rule(kwargs=kw(slug="team"), get=PAGE_MANAGER, post=PAGE_MANAGER),
    "import-from-tool": Rule(kwargs=kw(pk="rotation"), get=PAGE_MANAGER, post=PAGE_MANAGER),
    "rotation-history-import": Rule(
        kwargs=kw(pk="rotation"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, DENY, DENY, OK, DENY),
    ),
    "rotation-history-preview": Rule(
        kwargs=kw(pk="rotation"),
        get=API_POST_ONLY,
        post=roles(API_ANON, DENY, DENY, DENY, OK, DENY),
    ),
    "incident-hook-list": Rule(get=API_ANY, post=roles(API_ANON, 400, 400, 400, 400, 400)),
    "incident-hook-detail": Rule(kwargs=kw(pk="hook"), get=API_TEAM),
    "incident-hook-revoke": Rule(
        kwargs=kw(pk="hook"), get=API_POST_ONLY, post=roles(API_ANON, DENY, DENY, DENY, OK, DENY)
    ),
    "incident-hook-rotate": Rule(
        kwargs=kw(pk="hook"), get=API_POST_ONLY, post=roles(API_ANON, DENY, DENY, DENY, OK, DENY)
    ),
}


def _walk(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def url_patterns():
    """(route, name, keyword names, is_api) of every pattern outside the excluded prefixes."""
    seen = []
    for route, pattern in _walk(get_resolver()):
        if route.startswith(EXCLUDED_PREFIXES) or pattern.name in {"schema", "api-docs"}:
            continue
        keywords = sorted(pattern.pattern.regex.groupindex)
        seen.append((route, pattern.name, keywords, route.startswith("api/")))
    return seen


# The API viewset "swap-cancel" shares its name with the page: the API one is keyed apart.
API_CANCEL = Rule(
    kwargs=kw(pk="swap"), get=API_POST_ONLY, post=roles(API_ANON, DENY, OK, DENY, OK, DENY)
)


def rule_for(name: str, is_api: bool) -> Rule | None:
    if name == "swap-cancel" and is_api:
        return API_CANCEL
    return RULES.get(name)


def _path(route: str, name: str, keywords: list[str], rule: Rule, objects) -> str:
    missing = [k for k in keywords if k not in rule.kwargs and k != "format"]
    if missing:
        pytest.fail(f"add a rule for {name}: no value for URL keyword(s) {missing}", pytrace=False)
    kwargs = {k: _value(objects, rule.kwargs[k]) for k in keywords if k != "format"}
    if "format" in keywords:
        kwargs["format"] = "json"
    if "(?P<" in route or "^" in route:
        # A router pattern: its names are shared (the API "swap-cancel" and the page of that
        # name), so fill the regular expression rather than reverse the name.
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), route)
        return "/" + path.replace("^", "").replace("\\.", ".").replace("/?$", "").replace("$", "")
    return reverse(name, kwargs=kwargs)


def _matches(expected, response) -> bool:
    status = response.status_code
    if expected == LOGIN:
        return status == 302 and response["Location"].startswith("/accounts/login/")
    if expected == DENY:
        return status in (403, 404)
    if expected == API_ANON:
        return status in (401, 403)
    if expected == OK:
        if status in (302, 303):
            return not response["Location"].startswith("/accounts/login/")
        return status in (200, 201, 202, 204, 400, 409, 503)
    return status == expected


PATTERNS = url_patterns()


def _case_id(entry):
    route, name, keywords, is_api = entry
    suffix = ".fmt" if "format" in keywords else ""
    api = "[api]" if is_api and name == "swap-cancel" else ""
    return f"{name}{suffix}{api}"


@pytest.mark.parametrize("entry", PATTERNS, ids=[_case_id(e) for e in PATTERNS])
def test_permission_matrix(entry, settings):
    route, name, keywords, is_api = entry
    rule = rule_for(name, is_api)
    if rule is None:
        pytest.fail(f"add a rule for {name} ({route}) to RULES in {__name__}", pytrace=False)
    assert rule.get, f"add a rule for {name}: no GET expectations"
    settings.DEBUG = False
    users, objects = build_world()
    path = _path(route, name, keywords, rule, objects)
    problems = []
    for method, expectations in (("get", rule.get), ("post", rule.post)):
        if expectations is None:
            continue
        for role, expected in zip(ROLES, expectations, strict=True):
            # Each request in a savepoint rolled back after: an allowed POST (a delete, a
            # publish) does not change what the next role meets.
            with transaction.atomic():
                client = APIClient()
                if users[role] is not None:
                    client.force_login(users[role])
                if method == "post":
                    response = client.post(path, rule.data, format="multipart")
                else:
                    response = client.get(path)
                transaction.set_rollback(True)
            if not _matches(expected, response):
                problems.append(
                    f"{method.upper()} {path} as {role}: expected {expected}, got "
                    f"{response.status_code} {response.get('Location', '')}".rstrip()
                )
    assert not problems, "\n".join(problems)
