"""The incident webhook and the manager's incidents page.

The webhook is CSRF-exempt and ignores sessions: the secret token in the URL names the
rotation (an unknown or revoked token is 404), an optional HMAC header signs the body.
"""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from onehand.dates import local_day_bounds, parse_day_or_none
from onehand.errors import DomainError, NotFound, error_body
from onehand.people import display_name
from rotation.permissions import SYSTEM
from rotation.selectors import is_manager, rotations_for

from . import selectors, services
from .payloads import MAX_BODY_BYTES, parse
from .services import MAX_CSV_BYTES

SIGNATURE_HEADERS = ("X-Onehand-Signature", "X-Grafana-Alerting-Signature")


def _refuse(error: DomainError) -> JsonResponse:
    return JsonResponse(error_body(error), status=error.status)


@csrf_exempt
def hook(request, token: str):
    """POST an Alertmanager, Grafana or generic JSON notification for the token's rotation."""
    try:
        hook = selectors.active_hook(token)
    except NotFound as error:
        return _refuse(error)
    if request.method != "POST":
        return JsonResponse({"detail": "POST a JSON notification."}, status=405)
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        return JsonResponse(
            {"detail": f"The body is larger than {MAX_BODY_BYTES} bytes.", "code": "too_large"},
            status=400,
        )
    body = request.read(MAX_BODY_BYTES + 1)
    signature = next((request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers), "")
    if (signature or hook.require_signature) and not services.signature_ok(hook, body, signature):
        return JsonResponse(
            {"detail": "The signature header does not match the body.", "code": "bad_signature"},
            status=403,
        )
    try:
        event = parse(body)
        incident, created = services.ingest(hook, event, by=SYSTEM)
    except DomainError as error:
        return _refuse(error)
    return JsonResponse(
        {
            "incident": incident.pk,
            "created": created,
            "status": "open" if incident.is_open else "resolved",
        },
        status=201 if created else 200,
    )


# --- the manager's page -------------------------------------------------------------------


def _managed_rotation(request, pk: int):
    rotation = rotations_for(user=request.user).filter(pk=pk).first()
    if rotation is None or not is_manager(user=request.user, team_id=rotation.team_id):
        raise Http404("No such rotation.")
    return rotation


def _window(request, tz: ZoneInfo) -> tuple[datetime, datetime, object, object]:
    today = timezone.now().astimezone(tz).date()
    first = parse_day_or_none(request.GET.get("from")) or today - timedelta(days=30)
    last = parse_day_or_none(request.GET.get("to")) or today + timedelta(days=1)
    if last <= first:
        last = first + timedelta(days=1)
    if (last - first).days > 400:
        first = last - timedelta(days=400)
    return local_day_bounds(first, tz)[0], local_day_bounds(last, tz)[0], first, last


@login_required
def incidents_page(request, pk: int, issued=None):
    rotation = _managed_rotation(request, pk)
    tz = ZoneInfo(request.time_zone)
    start, end, first, last = _window(request, tz)
    incidents = list(selectors.rotation_incidents(rotation_id=rotation.pk, start=start, end=end))
    loads = selectors.interruption_load(rotation_id=rotation.pk, start=start, end=end)
    names = {}
    for incident in incidents:
        for user in (incident.attributed_to, incident.escalated_to):
            if user is not None:
                names[user.pk] = display_name(user)
    people = sorted(
        ((names.get(user_id, "?"), load) for user_id, load in loads.items()),
        key=lambda row: (-row[1].hours_equivalent, row[0]),
    )
    return render(
        request,
        "incidents/rotation.html",
        {
            "rotation": rotation,
            "incidents": incidents,
            "people": people,
            "first": first,
            "last": last,
            "settings": selectors.incident_settings(rotation_id=rotation.pk),
            "hooks": selectors.hook_tokens(rotation_id=rotation.pk),
            "issued": issued,
            "hook_url": request.build_absolute_uri(
                reverse("incident-hook", args=[issued.token]) if issued else "/"
            ),
            "max_csv_kb": MAX_CSV_BYTES // 1024,
            "max_csv_rows": services.MAX_CSV_ROWS,
        },
    )


@login_required
@require_POST
def hook_create(request, pk: int):
    rotation = _managed_rotation(request, pk)
    issued = services.create_hook_token(
        rotation,
        by=request.user,
        label=request.POST.get("label", ""),
        require_signature=request.POST.get("require_signature") == "on",
    )
    # The token is shown once, on this answer; only its hash is kept.
    return incidents_page(request, pk, issued=issued)


@login_required
@require_POST
def hook_revoke(request, pk: int, hook_pk: int):
    rotation = _managed_rotation(request, pk)
    hook = selectors.hook_tokens(rotation_id=rotation.pk).filter(pk=hook_pk).first()
    if hook is None:
        raise Http404("No such webhook.")
    services.revoke_hook_token(hook, by=request.user)
    messages.success(request, f"Webhook …{hook.hint} revoked: it now answers 404.")
    return redirect("rotation-incidents", pk=rotation.pk)


@login_required
@require_POST
def import_incidents(request, pk: int):
    rotation = _managed_rotation(request, pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a CSV file.")
    elif upload.size > MAX_CSV_BYTES:
        messages.error(request, f"The file is larger than {MAX_CSV_BYTES // 1024} KB.")
    else:
        try:
            result = services.import_csv(rotation, upload.read(), by=request.user)
        except DomainError as error:
            messages.error(request, f"Nothing imported. {error.message}")
        else:
            messages.success(
                request,
                f"Imported {result.rows} rows: {result.created} new incidents, "
                f"{result.updated} already known.",
            )
    return redirect("rotation-incidents", pk=rotation.pk)


@login_required
@require_POST
def save_settings(request, pk: int):
    rotation = _managed_rotation(request, pk)
    try:
        values = {
            name: Decimal(request.POST.get(name, "").strip())
            for name in (
                "weight_hours_per_page",
                "off_hours_multiplier",
                "night_multiplier",
                "weekend_multiplier",
            )
        }
    except InvalidOperation:
        return _refused(request, pk, "Weights must be numbers.")
    try:
        services.update_settings(rotation, by=request.user, **values)
    except DomainError as error:
        return _refused(request, pk, error.message)
    messages.success(request, "Interruption weights saved.")
    return redirect("rotation-incidents", pk=rotation.pk)


def _refused(request, pk: int, message: str):
    """The incidents page again with the reason, answered 400: nothing was saved."""
    messages.error(request, message)
    response = incidents_page(request, pk)
    response.status_code = 400
    return response
