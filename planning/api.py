"""REST API of the planning layer: drafts, slot edits and swaps.

Domain errors raised by the services become 400/403/404/409 in `onehand.errors`; nothing here
translates them by hand.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from onehand.dates import MONTH_PROBLEM, parse_month_or_none
from onehand.errors import Busy, Invalid, NotFound
from rotation import api as core_api
from rotation import selectors as core_selectors
from rotation.models import SlotRole, SwapOffer, SwapRequest
from rotation.permissions import require_manager
from rotation.serializers import (
    AssignRequestSerializer,
    DraftRequestSerializer,
    RosterSerializer,
    ShiftSerializer,
    SwapOfferSerializer,
    SwapRequestSerializer,
)
from rotation.shifts import month_bounds

from . import selectors, services, swaps, tool_history
from .models import DraftJob


class DraftJobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, help_text="0-100")

    class Meta:
        model = DraftJob
        fields = [
            "id",
            "rotation",
            "period_start",
            "period_end",
            "mode",
            "asked",
            "state",
            "stage",
            "progress",
            "percent",
            "error",
            "roster",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


def _draft_request(request) -> tuple:
    """A draft request's body: (first day, first day of the next month, the other settings)."""
    body = DraftRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = dict(body.validated_data)
    month = parse_month_or_none(data.pop("month"))
    if month is None:
        raise Invalid(MONTH_PROBLEM, field="month")
    start, end = month_bounds(month)
    for name in ("weekend_weight", "holiday_weight"):
        if name in data:
            data[name] = float(data[name])  # the recommender's settings are floats
    return start, end, data


class RotationViewSet(core_api.RotationViewSet):
    """Rotations, plus asking the recommender for a draft."""

    @extend_schema(request=DraftRequestSerializer, responses={201: RosterSerializer})
    @action(detail=True, methods=["post"])
    def draft(self, request, pk=None):
        """Ask the recommender for a fair draft roster of a month (managers only)."""
        rotation = self.get_object()
        require_manager(
            request.user, rotation.team_id, "Only a manager of this team can draft rosters."
        )
        start, end, data = _draft_request(request)
        roster = services.draft_roster(
            rotation, start, end, by=request.user, mode=data.pop("mode"), **data
        )
        return Response(RosterSerializer(roster).data, status=201)

    @extend_schema(request=DraftRequestSerializer, responses={202: DraftJobSerializer})
    @action(detail=True, methods=["post"], url_path="draft-jobs", url_name="draft-jobs")
    def draft_jobs(self, request, pk=None):
        """Ask for a draft run by a worker (managers only): 202 with the job and its address in
        `Location`; poll `GET /api/draft-jobs/{id}/` until `state` is `done` (then `roster`) or
        `failed` (then `error`). While a job for the same month is unfinished, the same job."""
        rotation = self.get_object()
        start, end, data = _draft_request(request)
        job, _ = services.request_draft(
            rotation, start, end, by=request.user, mode=data.pop("mode"), overrides=data
        )
        job = selectors.draft_job(job_id=job.pk)
        if job.state == DraftJob.State.FAILED and job.error == services.QUEUE_DOWN:
            # the broker refused it at once: not "accepted"
            raise Busy(job.error, retry_after=30)
        return Response(
            DraftJobSerializer(job).data,
            status=202,
            headers={"Location": f"/api/draft-jobs/{job.pk}/"},
        )


class DraftJobViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A draft job's state and progress: the rotation's managers only (others 404)."""

    serializer_class = DraftJobSerializer
    queryset = DraftJob.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DraftJob.objects.none()
        return DraftJob.objects.filter(
            rotation__team__in=core_selectors.managed_teams(user=self.request.user)
        ).select_related("rotation")


class ShiftViewSet(core_api.ShiftViewSet):
    """Shifts, plus a manager's edit of one slot."""

    @extend_schema(request=AssignRequestSerializer, responses=ShiftSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Change a slot's assignee (managers only); a rule break needs override=true."""
        shift = self.get_object()
        require_manager(
            request.user,
            shift.roster.rotation.team_id,
            "Only a manager of this team can change assignments.",
        )
        body = AssignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = None
        if body.validated_data["assignee"] is not None:
            user = get_user_model().objects.filter(pk=body.validated_data["assignee"]).first()
            if user is None:
                raise ValidationError({"assignee": "No such person."})
        shift = services.assign_slot(
            shift,
            user,
            by=request.user,
            override=body.validated_data["override"],
            note=body.validated_data["note"],
        )
        return Response(ShiftSerializer(shift).data)


class SwapRequestViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Swap requests: mine, and all of my teams' for managers. Creating one = "I can't make it"."""

    serializer_class = SwapRequestSerializer
    queryset = SwapRequest.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SwapRequest.objects.none()
        user = self.request.user
        return (
            SwapRequest.objects.filter(
                Q(requester=user)
                | Q(shift__roster__rotation__team__in=core_selectors.managed_teams(user=user))
                | Q(offers__candidate=user)
            )
            .distinct()
            .select_related("shift")
            .prefetch_related("offers__candidate")
            .order_by("-created_at")
        )

    def create(self, request, *args, **kwargs):
        body = SwapRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        shift = core_selectors.shifts_for(user=request.user).filter(pk=data["shift"].pk).first()
        if shift is None:
            raise ValidationError({"shift": "No such shift in your teams."})
        users = get_user_model().objects
        named = users.filter(pk=data.get("named")).first() if data.get("named") else None
        if data.get("named") and named is None:
            # The same answer as for someone outside the team: no oracle of user ids.
            raise Invalid(swaps.NOT_IN_ROTATION, field="named")
        trade = (
            core_selectors.shifts_for(user=request.user).filter(pk=data.get("trade_shift")).first()
            if data.get("trade_shift")
            else None
        )
        if data.get("trade_shift") and trade is None:
            raise Invalid("No such shift in your teams.", field="trade_shift")
        swap = swaps.request_swap(
            shift,
            unavailable_from=data.get("unavailable_from"),
            unavailable_to=data.get("unavailable_to"),
            reason=data.get("reason", ""),
            named=named,
            trade_shift=trade,
            part=_part(data),
            by=request.user,
        )
        return Response(SwapRequestSerializer(swap).data, status=201)

    @extend_schema(request=None, responses=SwapRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        swap = swaps.cancel_request(self.get_object(), by=request.user)
        return Response(SwapRequestSerializer(swap).data)


def _part(data: dict):
    """The part asked for, or None for the whole shift (the service checks it)."""
    start, end = data.get("part_start"), data.get("part_end")
    if start is None and end is None:
        return None
    return (start, end)


class SwapOfferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Offers made to me; accept or decline them (first accept wins)."""

    serializer_class = SwapOfferSerializer
    queryset = SwapOffer.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SwapOffer.objects.none()
        return (
            SwapOffer.objects.filter(candidate=self.request.user)
            .select_related("candidate")
            .order_by("-created_at")
        )

    def _act(self, request, act):
        act(self.get_object(), by=request.user)
        return Response(SwapOfferSerializer(self.get_object()).data)

    @extend_schema(request=None, responses=SwapOfferSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._act(request, swaps.accept_offer)

    @extend_schema(request=None, responses=SwapOfferSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._act(request, swaps.decline_offer)


class ToolHistorySerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="iCal (.ics) or CSV export.")
    url = serializers.URLField(
        required=False, max_length=500, help_text="Or the schedule's iCal feed address."
    )
    role = serializers.CharField(
        default=SlotRole.PRIMARY, max_length=12, help_text="primary, secondary or shadow."
    )
    time_zone = serializers.CharField(
        required=False,
        default="",
        max_length=64,
        help_text="Zone of CSV times without an offset (default: the rotation's).",
    )
    tool = serializers.CharField(required=False, default="", max_length=40)
    mapping = serializers.JSONField(
        required=False,
        default=dict,
        help_text='{"<name in the file>": <user id> or null to skip}, for unknown names.',
    )

    def validate_mapping(self, value):
        if not isinstance(value, dict) or len(value) > tool_history.MAX_MAPPED_NAMES:
            raise serializers.ValidationError(
                f"An object of at most {tool_history.MAX_MAPPED_NAMES} names (one import "
                "maps or skips at most that many)."
            )
        for label, user in value.items():
            if not isinstance(label, str) or not (user is None or isinstance(user, int)):
                raise serializers.ValidationError("Each name maps to a user id or null.")
        return value


def _tool_history_input(request) -> tuple[bytes, dict]:
    data = ToolHistorySerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    upload = values.get("file")
    if upload is not None:
        tool_history.check_size(upload.size)
    raw = tool_history.read_source(
        data=upload.read() if upload is not None else None,
        url=values.get("url", ""),
        allow_private=getattr(settings, "ONEHAND_ICS_ALLOW_PRIVATE", False),
    )
    options = {
        "role": values["role"],
        "time_zone": values["time_zone"],
        "mapping": values["mapping"],
    }
    return raw, {**options, "tool": values["tool"]}


class ToolHistoryViewSet(viewsets.GenericViewSet):
    """History from the tool a team leaves (PagerDuty, Opsgenie, Grafana OnCall: their iCal
    export or feed, or a CSV export): preview first, then import all or nothing."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ToolHistorySerializer

    def _rotation(self, pk):
        if not (pk.isascii() and pk.isdigit() and len(pk) < 19):
            raise NotFound("No such rotation.")
        rotation = core_selectors.rotations_for(user=self.request.user).filter(pk=pk).first()
        if rotation is None:
            raise NotFound("No such rotation.")
        require_manager(
            self.request.user, rotation.team_id, "Only a manager of this team can import history."
        )
        return rotation

    @extend_schema(
        request=ToolHistorySerializer,
        description="What the import would write: people matched by e-mail or name, names "
        "nobody in the team matches (`unknown`), shift count and span. Writes nothing.",
    )
    def preview(self, request, pk=None):
        rotation = self._rotation(pk)
        raw, options = _tool_history_input(request)
        options.pop("tool")
        found = tool_history.preview_tool_history(rotation, raw, by=request.user, **options)
        return Response(tool_history.preview_as_dict(found))

    @extend_schema(
        request=ToolHistorySerializer,
        description="Import every past shift or none (unknown names must be mapped or skipped "
        "in `mapping`); answers 201 with the count.",
    )
    def create(self, request, pk=None):
        rotation = self._rotation(pk)
        raw, options = _tool_history_input(request)
        count = tool_history.import_tool_history(rotation, raw, by=request.user, **options)
        return Response({"imported": count}, status=201)
