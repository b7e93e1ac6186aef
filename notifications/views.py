from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from onehand.errors import Invalid
from onehand.links import absolute
from planning import changes as planning_changes
from rotation import selectors as rotation_selectors
from rotation.models import Roster

from . import caldav_push, chat, dispatch, feeds, outbox, selectors, services
from .errors import DeliveryError
from .forms import CalendarConnectionForm
from .models import ChatHook

# --------------------------------------------------------------------------- feeds


def _feed_response(request, feed: feeds.Feed) -> HttpResponse:
    """200 with the body, or 304, from the cache when it holds this ETag's rendering."""
    etag, modified, rendered = feeds.validators(feed)
    not_modified = get_conditional_response(
        request,
        etag=etag,
        last_modified=int(modified.timestamp()) if modified else None,
        response=None,
    )
    if not_modified is None:
        body = rendered.body if rendered is not None else feeds.cached_body(feed)
        if body is None:  # the body left the cache: validators and body afresh, together
            etag, modified, rendered = feeds.rendered_now(feed)
            body = rendered.body
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    else:
        response = not_modified
    headers = {"ETag": etag, "X-Robots-Tag": "noindex"}
    if modified is not None:
        headers["Last-Modified"] = http_date(modified.timestamp())
    for key, value in headers.items():
        response[key] = value
    if not_modified is None:
        response["Content-Disposition"] = 'inline; filename="onehand.ics"'
    # The URL is the secret: no shared caches; clients revalidate with the ETag.
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_safe
def personal_feed(request, token: str):
    user = selectors.person_by_feed_token(token)
    if user is None:
        raise Http404("No such feed.")
    return _feed_response(request, feeds.personal(user, timezone.now()))


@require_safe
def rotation_feed(request, token: str):
    feed = selectors.feed_by_token(token)
    if feed is None:
        raise Http404("No such feed.")
    return _feed_response(request, feeds.team(feed, timezone.now()))


# --------------------------------------------------------------------------- calendar page


def _links(path: str) -> dict:
    https = absolute(path)
    parts = urlsplit(https)
    return {"https": https, "webcal": urlunsplit(("webcal", *parts[1:]))}


@login_required
def calendar_settings(request):
    person = rotation_selectors.person_of(user=request.user)
    rotations = []
    for rotation in rotation_selectors.rotations_for(user=request.user):
        feed = selectors.rotation_feed(rotation)
        rotations.append(
            {
                "rotation": rotation,
                "links": _links(reverse("rotation-feed", args=[feed.token])),
                "can_rotate": rotation_selectors.is_manager(
                    user=request.user, team_id=rotation.team_id
                ),
            }
        )
    connection = selectors.calendar_connection(request.user)
    return render(
        request,
        "notifications/calendar.html",
        {
            "personal": _links(reverse("personal-feed", args=[person.feed_token])),
            "rotations": rotations,
            "connection": connection,
            "form": CalendarConnectionForm(
                initial={"url": connection.url, "username": connection.username}
                if connection
                else None
            ),
        },
    )


@login_required
@require_POST
def rotate_feed(request):
    which = request.POST.get("feed", "")
    if which == "personal":
        services.rotate_personal_feed(by=request.user)
        messages.success(
            request, "Your personal feed has a new address; the old one no longer works."
        )
    elif which.startswith("rotation-") and which.removeprefix("rotation-").isdigit():
        rotation = (
            rotation_selectors.rotations_for(user=request.user)
            .filter(pk=int(which.removeprefix("rotation-")))
            .first()
        )
        if rotation is None:
            raise Http404("No such rotation.")
        services.rotate_rotation_feed(rotation, by=request.user)
        messages.success(request, f"{rotation.name}: the team feed has a new address.")
    else:
        raise Http404("No such feed.")
    return redirect("calendar-settings")


@sensitive_post_parameters("password")
@login_required
@require_POST
def connect_caldav(request):
    form = CalendarConnectionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            caldav_push.verify(data["url"], data["username"], data["password"])
        except DeliveryError as exc:
            form.add_error(
                None, f"Could not open that calendar ({exc}). Check the address and password."
            )
        else:
            services.connect_calendar(
                url=data["url"],
                username=data["username"],
                password=data["password"],
                by=request.user,
            )
            messages.success(request, "Calendar connected: your shifts will appear in it shortly.")
            return redirect("calendar-settings")
    person = rotation_selectors.person_of(user=request.user)
    return render(
        request,
        "notifications/calendar.html",
        {
            "personal": _links(reverse("personal-feed", args=[person.feed_token])),
            "rotations": [],
            "connection": selectors.calendar_connection(request.user),
            "form": form,
        },
        status=400,
    )


@login_required
@require_POST
def disconnect_caldav(request):
    services.disconnect_calendar(by=request.user)
    messages.success(
        request, "Calendar disconnected. Events already there stay until you delete them."
    )
    return redirect("calendar-settings")


# --------------------------------------------------------------------------- publish preview


@login_required
def publish_preview(request, pk: int):
    """What publishing this draft would change and exactly which notices would go out (the
    dry run of the outbox write that publishing does), then the one confirmed publish."""
    roster = get_object_or_404(rotation_selectors.rosters_for(user=request.user), pk=pk)
    if not rotation_selectors.is_manager(user=request.user, team_id=roster.rotation.team_id):
        raise Http404("Drafts are visible to the team's managers only.")
    if roster.status != Roster.Status.DRAFT:
        return render(
            request, "notifications/publish_preview.html", {"roster": roster, "done": True}
        )
    notices = selectors.notice_lines(rows=outbox.publish_notices(roster=roster))
    counts = {what: sum(1 for n in notices if n.what == what) for what in ("invite", "update")}
    counts["cancel"] = sum(1 for n in notices if n.what == "cancel")
    counts["chat"] = sum(1 for n in notices if n.what == "chat")
    return render(
        request,
        "notifications/publish_preview.html",
        {
            "roster": roster,
            "rotation": roster.rotation,
            "token": rotation_selectors.publish_token(roster=roster),
            "changes": planning_changes.publish_changes(roster=roster),
            "replaced": list(rotation_selectors.superseded_by_publishing(roster=roster)),
            "notices": notices,
            "counts": counts,
            "clashes": [c.words() for c in rotation_selectors.publish_clashes(roster=roster)],
            "gone": rotation_selectors.holders_not_in_team(roster=roster),
        },
    )


# --------------------------------------------------------------------------- failed deliveries


def _back(request, roster: Roster):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect("rotation", pk=roster.rotation_id)


@login_required
@require_POST
def retry_delivery(request, pk: int):
    delivery = selectors.delivery_for_retry(pk)
    if delivery is None or not rotation_selectors.is_member(
        user=request.user, team_id=delivery.shift.roster.rotation.team_id
    ):
        raise Http404("No such delivery.")
    if not rotation_selectors.is_manager(
        user=request.user, team_id=delivery.shift.roster.rotation.team_id
    ):
        raise PermissionDenied("Only the team's managers can retry deliveries.")
    if dispatch.retry_delivery(delivery):
        messages.success(request, "Trying that delivery again.")
    return _back(request, delivery.shift.roster)


@login_required
@require_POST
def retry_roster_deliveries(request, pk: int):
    roster = get_object_or_404(rotation_selectors.rosters_for(user=request.user), pk=pk)
    if not rotation_selectors.is_manager(user=request.user, team_id=roster.rotation.team_id):
        raise PermissionDenied("Only the team's managers can retry deliveries.")
    count = dispatch.retry_failed(roster)
    messages.success(request, f"Trying {count} deliveries again.")
    return _back(request, roster)


# --------------------------------------------------------------------------- development mail


def _require_dev_mail_viewer(request) -> None:
    """Every team's mail, with working signed links: superusers only, and only when the
    viewer is explicitly switched on (ONEHAND_DEV_MAIL_VIEWER). Anyone else gets a 404."""
    if not (settings.ONEHAND_DEV_MAIL_VIEWER and request.user.is_superuser):
        raise Http404("No such page.")


@login_required
def dev_mail(request):
    _require_dev_mail_viewer(request)
    folder = Path(getattr(settings, "EMAIL_FILE_PATH", "") or settings.VAR_DIR / "mail")
    files = sorted(folder.glob("*.log"), reverse=True)[:50] if folder.is_dir() else []
    return render(
        request,
        "notifications/dev_mail.html",
        {
            "deliveries": selectors.recent_deliveries(),
            "folder": folder,
            "files": [f.name for f in files],
        },
    )


@login_required
def dev_mail_file(request, name: str):
    _require_dev_mail_viewer(request)
    folder = Path(getattr(settings, "EMAIL_FILE_PATH", "") or settings.VAR_DIR / "mail").resolve()
    path = (folder / name).resolve()
    if path.parent != folder or path.suffix != ".log" or not path.is_file():
        raise Http404("No such file.")
    return HttpResponse(path.read_bytes(), content_type="text/plain; charset=utf-8")


# --------------------------------------------------------------------------- team chat


def _hook_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise Invalid("Choose a chat hook to disconnect from the list.", field="remove")
    return int(raw)


@login_required
@sensitive_post_parameters("url")
def team_chat(request, slug):
    """A manager connects the team's chat (incoming webhooks) or disconnects one."""
    team = rotation_selectors.managed_teams(user=request.user).filter(slug=slug).first()
    if team is None:
        raise Http404("Only managers of this team can connect its chat.")
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                hook = get_object_or_404(
                    ChatHook, pk=_hook_id(request.POST["remove"]), team=team, enabled=True
                )
                chat.remove_chat_hook(hook, by=request.user)
                messages.success(request, "Disconnected: nothing more is posted there.")
            else:
                chat.add_chat_hook(
                    team,
                    url=request.POST.get("url", ""),
                    label=request.POST.get("label", ""),
                    by=request.user,
                )
                messages.success(request, "Connected. Handoffs, rosters, swaps and risks go there.")
            return redirect("team-chat", slug=team.slug)
        except Invalid as exc:
            error = str(exc)
    hooks = ChatHook.objects.filter(team=team, enabled=True).order_by("id")
    failed = selectors.failed_chat_messages(team_id=team.pk)
    return render(
        request,
        "notifications/team_chat.html",
        {"team": team, "hooks": hooks, "error": error, "failed": failed},
        status=400 if error else 200,
    )
