"""REST API for requirements, qualifications, availability, calendars, locks and utilisation.

Scoping: everyone sees and edits only their own availability, qualifications and
calendars; a manager also reads their team members' rows and verifies claims; anything
else is not in the queryset (404). Writes go through services, whose refusals map to
403 (not allowed), 409 (period locked) or 400.
"""

from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from onehand.dates import MAX_RANGE_DAYS, instant_problem, span_problem
from onehand.people import display_name
from rotation.permissions import IsTeamManagerOrReadOnly
from rotation.selectors import is_manager, person_of, teams_for

from . import selectors, services
from .ics import MAX_ICS_BYTES, CalendarImportError
from .models import DutyRequirement
from .serializers import (
    AvailabilityEntrySerializer,
    AvailabilityLockSerializer,
    CalendarSourceSerializer,
    CalendarUploadSerializer,
    DutyRequirementSerializer,
    ProjectAllocationSerializer,
    QualificationSerializer,
    ReadinessSerializer,
    ReviewSerializer,
    UtilisationSerializer,
)


@contextmanager
def service_errors():
    """Calendar and model validation errors as 400s; domain errors go to onehand.errors."""
    try:
        yield
    except CalendarImportError as error:
        raise ValidationError({"detail": str(error)}) from error
    except DjangoValidationError as error:
        raise ValidationError(
            error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
        ) from error


def _int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: "Must be a whole number."}) from None
    if not -(2**63) < value < 2**63:
        raise ValidationError({name: "Out of range."})
    return value


def _instant(name: str, raw: str, tz: ZoneInfo) -> datetime:
    """An ISO date-time with offset, or a date (the start of that local day)."""
    raw = raw.strip().replace(" ", "+")  # a "+" in a query string arrives as a space
    try:
        day = parse_date(raw)
        value = None if day else parse_datetime(raw)
    except ValueError:
        day = value = None
    if day is not None:
        value = datetime.combine(day, time(0), tzinfo=tz)
    if value is None:
        raise ValidationError({name: "Use an ISO 8601 date or date-time."})
    if timezone.is_naive(value):
        raise ValidationError({name: "Give a time zone offset or Z."})
    problem = instant_problem(value)
    if problem:
        raise ValidationError({name: problem})
    return value.astimezone(UTC)


def _zone_of(request) -> ZoneInfo:
    # The page middleware runs before DRF's token authentication, so ask the profile.
    return ZoneInfo(person_of(user=request.user).time_zone)


WINDOW_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.STR, description="ISO date or date-time; dates are in your zone."
    ),
    OpenApiParameter("end", OpenApiTypes.STR, description="ISO date or date-time (exclusive)."),
]


class DutyRequirementViewSet(viewsets.ModelViewSet):
    """What it takes to hold each slot role of a rotation. Members read; managers write."""

    serializer_class = DutyRequirementSerializer
    permission_classes = [IsAuthenticated, IsTeamManagerOrReadOnly]

    @extend_schema(parameters=[OpenApiParameter("rotation", OpenApiTypes.INT)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = selectors.requirements_for(viewer=self.request.user).order_by("rotation_id", "name")
        if self.request.query_params.get("rotation"):
            qs = qs.filter(rotation_id=_int("rotation", self.request.query_params["rotation"]))
        return qs

    def perform_create(self, serializer):
        requirement = DutyRequirement(**serializer.validated_data)
        with service_errors():
            serializer.instance = services.save_requirement(requirement, by=self.request.user)

    def perform_update(self, serializer):
        requirement = serializer.instance
        for key, value in serializer.validated_data.items():
            setattr(requirement, key, value)
        with service_errors():
            serializer.instance = services.save_requirement(requirement, by=self.request.user)

    def perform_destroy(self, instance):
        with service_errors():
            services.delete_requirement(instance, by=self.request.user)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("requirement", OpenApiTypes.INT),
            OpenApiParameter("rotation", OpenApiTypes.INT),
            OpenApiParameter("user", OpenApiTypes.INT),
            OpenApiParameter("status", OpenApiTypes.STR, enum=["claimed", "verified", "rejected"]),
        ]
    ),
    create=extend_schema(
        description="Claim to meet a requirement, with evidence; a manager verifies it."
    ),
    destroy=extend_schema(description="Withdraw your own claim while it is still waiting."),
)
class QualificationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your qualifications; managers also see and review those for their teams' rotations."""

    serializer_class = QualificationSerializer

    def get_queryset(self):
        qs = selectors.qualifications_for(viewer=self.request.user).order_by("-claimed_at", "-id")
        params = self.request.query_params
        for name, field in (
            ("requirement", "requirement_id"),
            ("user", "user_id"),
            ("rotation", "requirement__rotation_id"),
        ):
            if params.get(name):
                qs = qs.filter(**{field: _int(name, params[name])})
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs

    def perform_create(self, serializer):
        data = serializer.validated_data
        requirement = data["requirement"]
        if (
            not selectors.requirements_for(viewer=self.request.user)
            .filter(pk=requirement.pk)
            .exists()
        ):
            raise PermissionDenied("Only members of this rotation can claim its requirements.")
        with service_errors():
            serializer.instance = services.claim_qualification(
                requirement,
                obtained_on=data["obtained_on"],
                expires_on=data.get("expires_on"),
                evidence=data.get("evidence", ""),
                evidence_url=data.get("evidence_url", ""),
                by=self.request.user,
            )

    def perform_destroy(self, instance):
        with service_errors():
            services.withdraw_claim(instance, by=self.request.user)

    def _review(self, request, verify: bool):
        qualification = self.get_object()
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors():
            qualification = services.review_qualification(
                qualification,
                by=request.user,
                verify=verify,
                note=body.validated_data.get("note", ""),
            )
        return Response(QualificationSerializer(qualification).data)

    @extend_schema(request=ReviewSerializer, responses=QualificationSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """A manager of the rotation's team verifies a claim."""
        return self._review(request, verify=True)

    @extend_schema(request=ReviewSerializer, responses=QualificationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """A manager of the rotation's team rejects a claim (say why in the note)."""
        return self._review(request, verify=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            *WINDOW_PARAMETERS,
            OpenApiParameter("user", OpenApiTypes.INT, description="Managers: one team member."),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=["unavailable", "preferred"]),
            OpenApiParameter("source", OpenApiTypes.STR, enum=["manual", "calendar"]),
        ]
    ),
    create=extend_schema(
        description="Mark a span. It replaces what you entered there before, and joins "
        "adjacent entries of the same kind and reason, so the answer may be wider than asked.",
        responses={
            201: AvailabilityEntrySerializer,
            409: OpenApiResponse(description="Locked period."),
        },
    ),
)
class AvailabilityEntryViewSet(viewsets.ModelViewSet):
    """Unavailable and preferred spans (UTC). Yours to edit; managers read their teams'."""

    serializer_class = AvailabilityEntrySerializer

    def get_queryset(self):
        qs = selectors.entries_for(viewer=self.request.user).order_by("start", "id")
        params = self.request.query_params
        if self.action == "list":
            tz = _zone_of(self.request)
            if params.get("start"):
                qs = qs.filter(end__gt=_instant("start", params["start"], tz))
            if params.get("end"):
                qs = qs.filter(start__lt=_instant("end", params["end"], tz))
            if params.get("user"):
                qs = qs.filter(user_id=_int("user", params["user"]))
            if params.get("kind"):
                qs = qs.filter(kind=params["kind"])
            if params.get("source"):
                qs = qs.filter(source=params["source"])
        return qs

    def perform_create(self, serializer):
        data = serializer.validated_data
        with service_errors():
            change = services.mark(
                data["start"],
                data["end"],
                data["kind"],
                reason=data.get("reason", ""),
                by=self.request.user,
            )
        serializer.instance = change.entry

    def perform_update(self, serializer):
        entry = serializer.instance
        data = serializer.validated_data
        with service_errors():
            serializer.instance = services.change_entry(
                entry,
                start=data.get("start", entry.start),
                end=data.get("end", entry.end),
                kind=data.get("kind", entry.kind),
                reason=data.get("reason", entry.reason),
                by=self.request.user,
            )

    def perform_destroy(self, instance):
        with service_errors():
            services.delete_entry(instance, by=self.request.user)


@extend_schema_view(
    create=extend_schema(
        description="Connect a calendar by its secret ICS address; the import runs on a worker "
        "(poll the source's status)."
    ),
    destroy=extend_schema(description="Disconnect the calendar and remove what it imported."),
)
class CalendarSourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your calendars (only ever your own: the address is a secret)."""

    serializer_class = CalendarSourceSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        return selectors.calendar_sources_for(viewer=self.request.user).order_by("id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        with service_errors():
            serializer.instance = services.add_calendar_url(
                data["url"], name=data.get("name", ""), by=self.request.user
            )

    def perform_destroy(self, instance):
        with service_errors():
            services.remove_calendar(instance, by=self.request.user)

    @extend_schema(request=None, responses={202: CalendarSourceSerializer})
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Import the calendar again now (runs on a worker)."""
        with service_errors():
            source = services.refresh_calendar(self.get_object(), by=self.request.user)
        return Response(CalendarSourceSerializer(source).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request={"multipart/form-data": CalendarUploadSerializer},
        responses={
            201: CalendarSourceSerializer,
            202: OpenApiResponse(
                CalendarSourceSerializer,
                description="A large file, read by the worker: poll the source's status.",
            ),
            400: OpenApiResponse(description="Not a usable calendar; nothing changed."),
            413: OpenApiResponse(description="The request is over the size limit."),
            429: OpenApiResponse(
                description="An upload of yours is still being read, or too many a minute "
                "(see Retry-After)."
            ),
            503: OpenApiResponse(description="The server is busy reading calendars."),
        },
    )
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def upload(self, request):
        """Import an .ics file; uploading again replaces the last upload's busy times.

        Files over 256 KB are read by the worker: the answer is 202 with status "pending"."""
        body = CalendarUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > MAX_ICS_BYTES:
            raise ValidationError({"file": f"The limit is {MAX_ICS_BYTES // (1024 * 1024)} MB."})
        with service_errors():
            source = services.upload_calendar(upload.read(), filename=upload.name, by=request.user)
        answer = status.HTTP_202_ACCEPTED if source.in_progress else status.HTTP_201_CREATED
        return Response(CalendarSourceSerializer(source).data, status=answer)


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("team", OpenApiTypes.INT)]))
class AvailabilityLockViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Periods whose availability a team's manager froze once drafting began."""

    serializer_class = AvailabilityLockSerializer

    def get_queryset(self):
        qs = selectors.locks_for(viewer=self.request.user).order_by("-period_start", "id")
        if self.request.query_params.get("team"):
            qs = qs.filter(team_id=_int("team", self.request.query_params["team"]))
        return qs

    def perform_create(self, serializer):
        data = serializer.validated_data
        with service_errors():
            serializer.instance = services.lock_availability(
                data["team"],
                data["period_start"],
                data["period_end"],
                by=self.request.user,
                note=data.get("note", ""),
            )

    def perform_destroy(self, instance):
        with service_errors():
            services.unlock_availability(instance, by=self.request.user)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("user", OpenApiTypes.INT),
            OpenApiParameter("team", OpenApiTypes.INT),
        ]
    ),
    create=extend_schema(
        description="Set the share of a period someone's projects take. Managers of the team "
        "set anyone's; engineers their own when the team allows it. Posting the same person, "
        "team, project and period again replaces the percentage."
    ),
)
class ProjectAllocationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ProjectAllocationSerializer

    def get_queryset(self):
        qs = selectors.allocations_for(viewer=self.request.user).order_by(
            "period_start", "user_id", "id"
        )
        params = self.request.query_params
        if params.get("user"):
            qs = qs.filter(user_id=_int("user", params["user"]))
        if params.get("team"):
            qs = qs.filter(team_id=_int("team", params["team"]))
        return qs

    def perform_create(self, serializer):
        data = serializer.validated_data
        with service_errors():
            serializer.instance = services.set_allocation(by=self.request.user, **data)

    def perform_destroy(self, instance):
        if not is_manager(user=self.request.user, team_id=instance.team_id):
            raise PermissionDenied("Only a manager of this team can remove an allocation.")
        instance.delete()


class UtilisationViewSet(viewsets.GenericViewSet):
    """How much of each person's working time in a period is already committed."""

    serializer_class = UtilisationSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.visible_people(viewer=self.request.user)

    @extend_schema(
        parameters=[
            *WINDOW_PARAMETERS,
            OpenApiParameter(
                "team", OpenApiTypes.INT, description="Managers: everyone in this team."
            ),
            OpenApiParameter(
                "exclude_rotation",
                OpenApiTypes.INT,
                description="Leave this rotation's shifts out of on-call.",
            ),
        ],
        responses=UtilisationSerializer(many=True),
        description="Yourself, plus the people of the teams you manage (or of `team`). "
        "The period defaults to next month in your time zone and may span at most "
        f"{MAX_RANGE_DAYS} days (400 naming `end` otherwise).",
    )
    def list(self, request):
        params = request.query_params
        tz = _zone_of(request)
        month = selectors.next_month(timezone.now().astimezone(tz).date())
        default_start, default_end = selectors.month_span(month, tz)
        start = _instant("start", params["start"], tz) if params.get("start") else default_start
        end = _instant("end", params["end"], tz) if params.get("end") else default_end
        problem = span_problem(start, end)
        if problem:
            raise ValidationError({"end": problem})
        team = None
        if params.get("team"):
            team = teams_for(user=request.user).filter(pk=_int("team", params["team"])).first()
            if team is None:
                raise NotFound("No such team.")
        people = list(selectors.visible_people(viewer=request.user, team=team))
        exclude = (
            _int("exclude_rotation", params["exclude_rotation"])
            if params.get("exclude_rotation")
            else None
        )
        shares = selectors.utilisation_for(
            user_ids=[p.pk for p in people],
            start=start,
            end=end,
            exclude_rotation_id=exclude,
            named_for_teams=(
                (team.pk,) if team is not None else {t.pk for t in teams_for(user=request.user)}
            ),
        )
        rows = [
            {
                "user": p.pk,
                "name": display_name(p),
                "start": start,
                "end": end,
                **asdict(shares[p.pk]),
            }
            for p in people
        ]
        return Response(UtilisationSerializer(rows, many=True).data)


class ReadinessViewSet(viewsets.GenericViewSet):
    """Your standing on every requirement of every rotation you are in."""

    serializer_class = ReadinessSerializer
    pagination_class = None

    def get_queryset(self):
        return DutyRequirement.objects.none()

    @extend_schema(responses=ReadinessSerializer(many=True))
    def list(self, request):
        return Response(
            ReadinessSerializer(selectors.readiness_for(user=request.user), many=True).data
        )
