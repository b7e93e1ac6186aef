"""REST API: incidents of the caller's rotations, recording and CSV import, load, webhooks.

Everything is scoped to the caller's teams (`rotation.selectors.rotations_for`): another
team's rotation or incident is 404. Writes go through services (managers only: 403).
"""

from datetime import UTC, timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from . import selectors, services
from .serializers import (
    HookTokenSerializer,
    ImportResultSerializer,
    ImportSerializer,
    IncidentSerializer,
    InterruptionLoadSerializer,
    IssuedTokenSerializer,
    RecordIncidentSerializer,
)
from .services import MAX_CSV_BYTES

ROTATION = OpenApiParameter("rotation", OpenApiTypes.INT, description="Only this rotation.")
WINDOW = [
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Started at or after."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Started before."),
]
ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body says which field and why."),
    403: OpenApiResponse(description="Not a manager of the rotation's team."),
    404: OpenApiResponse(description="No such rotation in your teams."),
}


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: "Must be a whole number."}) from None


def _instant(name: str, raw: str):
    try:
        value = parse_datetime(raw.strip().replace(" ", "+"))
        if value is None or value.tzinfo is None:
            raise ValueError(raw)
        return value.astimezone(UTC)  # PostgreSQL refuses offsets beyond ±15:59
    except (ValueError, OverflowError):
        raise ValidationError({name: "An ISO 8601 date-time with an offset."}) from None


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents that paged your teams' rotations, newest first."""

    serializer_class = IncidentSerializer

    def get_queryset(self):
        qs = selectors.incidents_for(self.request.user)
        params = self.request.query_params
        if params.get("rotation"):
            qs = qs.filter(rotation_id=_int("rotation", params["rotation"]))
        if params.get("since"):
            qs = qs.filter(started_at__gte=_instant("since", params["since"]))
        if params.get("until"):
            qs = qs.filter(started_at__lt=_instant("until", params["until"]))
        return qs.order_by("-started_at", "-id")

    @extend_schema(
        parameters=[ROTATION, *WINDOW],
        responses={200: IncidentSerializer(many=True), 400: ERRORS[400]},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=RecordIncidentSerializer,
        responses={201: IncidentSerializer, **ERRORS},
        description="Record an incident by hand, with the escalation used (managers). The "
        "primary on call at `started_at` and the escalated person come from the published "
        "shifts. Recording the same title and start again updates that incident.",
    )
    def create(self, request):
        data = RecordIncidentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        rotation = selectors.rotation_of(request.user, values.pop("rotation"))
        incident = services.record_incident(rotation, by=request.user, **values)
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={200: ImportResultSerializer, **ERRORS},
        description=f"Past incidents from a CSV file (at most {MAX_CSV_BYTES // 1024} KB, "
        f"{services.MAX_CSV_ROWS} rows), all or nothing: one bad row and nothing is written. "
        "Rows already imported (same title and start) are updated, not duplicated.",
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_csv(self, request):
        data = ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rotation = selectors.rotation_of(request.user, data.validated_data["rotation"])
        upload = data.validated_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise ValidationError({"file": f"Larger than {MAX_CSV_BYTES // 1024} KB."})
        result = services.import_csv(rotation, upload.read(), by=request.user)
        return Response(ImportResultSerializer(result).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("rotation", OpenApiTypes.INT, required=True),
            *WINDOW,
        ],
        responses={200: InterruptionLoadSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
        description="Pages per person, weighted by when they hit (outside working hours, at "
        "night 22:00-07:00 in the person's zone, weekends and holidays). `hours_equivalent` "
        "is what the pages weigh in on-call hours. The window defaults to the last 90 days.",
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def load(self, request):
        params = request.query_params
        if not params.get("rotation"):
            raise ValidationError({"rotation": "Required."})
        rotation = selectors.rotation_of(request.user, _int("rotation", params["rotation"]))
        end = _instant("until", params["until"]) if params.get("until") else timezone.now()
        start = _instant("since", params["since"]) if params.get("since") else end - timedelta(90)
        if start >= end:
            raise ValidationError({"until": "Must be after since."})
        loads = selectors.interruption_load(rotation_id=rotation.pk, start=start, end=end)
        rows = [
            {**vars(load), "nights_interrupted": load.nights_interrupted}
            for load in sorted(loads.values(), key=lambda load: load.user_id)
        ]
        return Response(InterruptionLoadSerializer(rows, many=True).data)


def _issued(request, issued: services.IssuedToken) -> dict:
    return {
        "hook": HookTokenSerializer(issued.hook).data,
        "url": request.build_absolute_uri(reverse("incident-hook", args=[issued.token])),
        "signing_secret": issued.signing_secret,
    }


class IncidentHookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook URLs of your rotations. Only a hash of each token is kept: the URL and its
    signing secret are shown once, when created or rotated."""

    serializer_class = HookTokenSerializer
    parser_classes = [*viewsets.GenericViewSet.parser_classes, FormParser]

    def get_queryset(self):
        qs = selectors.hook_tokens_for(self.request.user)
        if self.request.query_params.get("rotation"):
            qs = qs.filter(rotation_id=_int("rotation", self.request.query_params["rotation"]))
        return qs

    @extend_schema(parameters=[ROTATION])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=HookTokenSerializer,
        responses={201: IssuedTokenSerializer, **ERRORS},
        description="A new webhook URL for a rotation (managers).",
    )
    def create(self, request):
        data = HookTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rotation = data.validated_data["rotation"]
        rotation = selectors.rotation_of(request.user, rotation.pk)
        issued = services.create_hook_token(
            rotation,
            by=request.user,
            label=data.validated_data.get("label", ""),
            require_signature=data.validated_data.get("require_signature", False),
        )
        return Response(_issued(request, issued), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: HookTokenSerializer, 403: ERRORS[403], 404: ERRORS[404]},
        description="Revoke: the URL answers 404 from now on.",
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        hook = services.revoke_hook_token(self.get_object(), by=request.user)
        return Response(HookTokenSerializer(hook).data)

    @extend_schema(
        request=None,
        responses={201: IssuedTokenSerializer, **ERRORS},
        description="Rotate: a new URL and secret with the same settings; the old URL stops "
        "at once (404).",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        issued = services.rotate_hook_token(self.get_object(), by=request.user)
        return Response(_issued(request, issued), status=status.HTTP_201_CREATED)
