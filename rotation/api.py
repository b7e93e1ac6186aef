from dataclasses import asdict
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from . import selectors, services, swaps
from .calendar import parse_month
from .models import Membership, Roster, SwapOffer, SwapRequest
from .permissions import IsTeamManagerOrReadOnly
from .serializers import (
    AssignRequestSerializer,
    DraftRequestSerializer,
    MembershipSerializer,
    OnCallSerializer,
    RosterSerializer,
    RotationSerializer,
    ShiftSerializer,
    SwapOfferSerializer,
    SwapRequestSerializer,
    TeamSerializer,
)
from .shifts import month_bounds

ONCALL_CACHE_SECONDS = 60


def oncall_cache_key(rotation_id: int) -> str:
    return f"oncall:{rotation_id}:{cache.get_or_set(f'oncall-version:{rotation_id}', 1, None)}"


def on_call_payload(rotation, at) -> dict:
    result = selectors.on_call(rotation, at)

    def contact(c):
        if c is None:
            return None
        data = asdict(c)
        data["local_time"] = at.astimezone(ZoneInfo(c.time_zone)).isoformat()
        return data

    payload = {
        "rotation": rotation.pk,
        "rotation_name": rotation.name,
        "at": at,
        "shift_start": result.shift_start,
        "shift_end": result.shift_end,
        "primary": contact(result.primary),
        "secondary": contact(result.secondary),
        "shadow": contact(result.shadow),
        "escalation": [contact(c) for c in result.escalation],
    }
    return OnCallSerializer(payload).data


class TeamScopedWriteMixin:
    """Creating an object requires being a manager of the team it will belong to."""

    def perform_create(self, serializer):
        team = serializer.validated_data.get("team")
        if team is None or not selectors.is_manager(self.request.user, team.pk):
            raise PermissionDenied("Only a manager of that team can add to it.")
        serializer.save()

    def perform_update(self, serializer):
        team = serializer.validated_data.get("team")
        if team is not None and not selectors.is_manager(self.request.user, team.pk):
            raise PermissionDenied("Only a manager of that team can move things into it.")
        serializer.save()


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    permission_classes = [IsAuthenticated, IsTeamManagerOrReadOnly]

    def get_queryset(self):
        return selectors.teams_for(self.request.user).order_by("name")

    def perform_create(self, serializer):
        team = serializer.save()
        Membership.objects.create(team=team, user=self.request.user, role=Membership.Role.MANAGER)


class MembershipViewSet(TeamScopedWriteMixin, viewsets.ModelViewSet):
    serializer_class = MembershipSerializer
    permission_classes = [IsAuthenticated, IsTeamManagerOrReadOnly]

    def get_queryset(self):
        return selectors.memberships_for(self.request.user).order_by("team_id", "id")


class RotationViewSet(TeamScopedWriteMixin, viewsets.ModelViewSet):
    serializer_class = RotationSerializer
    permission_classes = [IsAuthenticated, IsTeamManagerOrReadOnly]

    def get_queryset(self):
        return selectors.rotations_for(self.request.user).order_by("id")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "at", OpenApiTypes.DATETIME, description="ISO 8601 instant; defaults to now."
            )
        ],
        responses=OnCallSerializer,
    )
    @action(detail=True, methods=["get"])
    def oncall(self, request, pk=None):
        """Who is on call at an instant: primary, secondary and the escalation chain."""
        rotation = self.get_object()
        raw = request.query_params.get("at")
        if raw:
            at = parse_datetime(raw.replace(" ", "+"))
            if at is None:
                raise ValidationError({"at": "Use an ISO 8601 date-time, e.g. 2026-03-29T00:30:00Z."})
            if timezone.is_naive(at):
                raise ValidationError({"at": "Give a time zone offset or Z; a local time is ambiguous."})
            return Response(on_call_payload(rotation, at))
        # "Who is on call now" is what alerting tools poll: answer from the cache until the
        # next handoff (at most a minute); publishing, edits and swaps clear it.
        key = oncall_cache_key(rotation.pk)
        payload = cache.get(key)
        if payload is None:
            now = timezone.now()
            payload = on_call_payload(rotation, now)
            until = parse_datetime(payload["shift_end"]) if payload["shift_end"] else None
            ttl = ONCALL_CACHE_SECONDS if until is None else min(ONCALL_CACHE_SECONDS, (until - now).total_seconds())
            if ttl >= 1:
                cache.set(key, payload, int(ttl))
        return Response(payload)

    @extend_schema(request=DraftRequestSerializer, responses={201: RosterSerializer})
    @action(detail=True, methods=["post"])
    def draft(self, request, pk=None):
        """Ask the recommender for a fair draft roster of a month (managers only)."""
        rotation = self.get_object()
        if not selectors.is_manager(request.user, rotation.team_id):
            raise PermissionDenied("Only a manager of this team can draft rosters.")
        body = DraftRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        start, end = month_bounds(parse_month(data.pop("month"), timezone.now().date()))
        roster = services.draft_roster(rotation, start, end, by=request.user, mode=data.pop("mode"), **data)
        return Response(RosterSerializer(roster).data, status=201)


class RosterViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RosterSerializer

    @extend_schema(request=None, responses=RosterSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish a draft (managers only). Publishing twice publishes once."""
        roster = self.get_object()
        try:
            roster = services.publish_roster(roster, by=request.user)
        except services.NotAllowed as exc:
            raise PermissionDenied(str(exc)) from None
        return Response(RosterSerializer(roster).data)

    def get_queryset(self):
        qs = selectors.rosters_for(self.request.user)
        if not self.request.user.is_superuser:
            # Drafts are the managers' working copies.
            qs = qs.exclude(
                ~Q(rotation__team__in=selectors.managed_teams(self.request.user)), status=Roster.Status.DRAFT
            )
        rotation = self.request.query_params.get("rotation")
        if rotation:
            qs = qs.filter(rotation_id=_int_param("rotation", rotation))
        return qs


class ShiftViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ShiftSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("rotation", OpenApiTypes.INT),
            OpenApiParameter("roster", OpenApiTypes.INT),
            OpenApiParameter("mine", OpenApiTypes.BOOL),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=AssignRequestSerializer, responses=ShiftSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Change a slot's assignee (managers only); a rule break needs override=true."""
        shift = self.get_object()
        if not selectors.is_manager(request.user, shift.roster.rotation.team_id):
            raise PermissionDenied("Only a manager of this team can change assignments.")
        body = AssignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = None
        if body.validated_data["assignee"] is not None:
            user = get_user_model().objects.filter(pk=body.validated_data["assignee"]).first()
            if user is None:
                raise ValidationError({"assignee": "No such person."})
        try:
            shift = services.assign_slot(
                shift, user, by=request.user, override=body.validated_data["override"],
                note=body.validated_data["note"],
            )
        except services.AssignmentRefused as exc:
            return Response({"detail": str(exc), "code": "rule_broken"}, status=409)
        return Response(ShiftSerializer(shift).data)

    def get_queryset(self):
        qs = selectors.shifts_for(self.request.user).order_by("start", "role")
        if not self.request.user.is_superuser:
            qs = qs.exclude(
                ~Q(roster__rotation__team__in=selectors.managed_teams(self.request.user)),
                roster__status=Roster.Status.DRAFT,
            )
        params = self.request.query_params
        if params.get("rotation"):
            qs = qs.filter(roster__rotation_id=_int_param("rotation", params["rotation"]))
        if params.get("roster"):
            qs = qs.filter(roster_id=_int_param("roster", params["roster"]))
        if params.get("mine") in {"1", "true"}:
            qs = qs.filter(assignee=self.request.user)
        return qs


def _int_param(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError({name: "Must be a whole number."}) from None




class SwapRequestViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Swap requests: mine, and all of my teams' for managers. Creating one = "I can't make it"."""

    serializer_class = SwapRequestSerializer
    queryset = SwapRequest.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SwapRequest.objects.none()
        user = self.request.user
        return (
            SwapRequest.objects.filter(
                Q(requester=user) | Q(shift__roster__rotation__team__in=selectors.managed_teams(user))
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
        shift = selectors.shifts_for(request.user).filter(pk=data["shift"].pk).first()
        if shift is None:
            raise ValidationError({"shift": "No such shift in your teams."})
        users = get_user_model().objects
        named = users.filter(pk=data.get("named")).first() if data.get("named") else None
        trade = selectors.shifts_for(request.user).filter(pk=data.get("trade_shift")).first() if data.get("trade_shift") else None
        try:
            swap = swaps.request_swap(
                shift, request.user, unavailable_from=data.get("unavailable_from"),
                unavailable_to=data.get("unavailable_to"), reason=data.get("reason", ""), named=named, trade_shift=trade,
            )
        except swaps.SwapError as exc:
            return Response({"detail": str(exc)}, status=409)
        return Response(SwapRequestSerializer(swap).data, status=201)

    @extend_schema(request=None, responses=SwapRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        try:
            swap = swaps.cancel_request(self.get_object(), request.user)
        except swaps.SwapError as exc:
            return Response({"detail": str(exc)}, status=409)
        return Response(SwapRequestSerializer(swap).data)


class SwapOfferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Offers made to me; accept or decline them (first accept wins)."""

    serializer_class = SwapOfferSerializer
    queryset = SwapOffer.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SwapOffer.objects.none()
        return SwapOffer.objects.filter(candidate=self.request.user).select_related("candidate").order_by("-created_at")

    def _act(self, request, act):
        try:
            act(self.get_object(), request.user)
        except swaps.AlreadyTaken as exc:
            return Response({"detail": str(exc), "code": "already_taken"}, status=409)
        except swaps.SwapError as exc:
            return Response({"detail": str(exc)}, status=409)
        return Response(SwapOfferSerializer(self.get_object()).data)

    @extend_schema(request=None, responses=SwapOfferSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._act(request, swaps.accept_offer)

    @extend_schema(request=None, responses=SwapOfferSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._act(request, swaps.decline_offer)
