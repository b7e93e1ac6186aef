from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from onehand.dates import instant_problem

from . import selectors, services
from .models import AuditEntry, Membership, Roster
from .oncall import cached_now, who_is_on_call
from .permissions import IsTeamManagerOrReadOnly
from .serializers import (
    AuditEntrySerializer,
    MembershipSerializer,
    OnCallSerializer,
    PublishRequestSerializer,
    RosterSerializer,
    RotationSerializer,
    ShiftSerializer,
    TeamSerializer,
)


class TeamScopedWriteMixin:
    """Creating an object requires being a manager of the team it will belong to."""

    def perform_create(self, serializer):
        team = serializer.validated_data.get("team")
        if team is None or not selectors.is_manager(user=self.request.user, team_id=team.pk):
            raise PermissionDenied("Only a manager of that team can add to it.")
        serializer.save()

    def perform_update(self, serializer):
        team = serializer.validated_data.get("team")
        if team is not None and not selectors.is_manager(user=self.request.user, team_id=team.pk):
            raise PermissionDenied("Only a manager of that team can move things into it.")
        serializer.save()


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    permission_classes = [IsAuthenticated, IsTeamManagerOrReadOnly]

    def get_queryset(self):
        return selectors.teams_for(user=self.request.user).order_by("name")

    def perform_create(self, serializer):
        serializer.instance = services.create_team(
            by=self.request.user, **serializer.validated_data
        )


class MembershipViewSet(viewsets.ModelViewSet):
    """Adding a membership invites the person; they accept it with `accept`."""

    serializer_class = MembershipSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return selectors.memberships_for(user=self.request.user).order_by("team_id", "id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.invite_member(
            data["team"],
            data["user"],
            by=self.request.user,
            role=data.get("role", Membership.Role.ENGINEER),
            fte=data.get("fte", 1),
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.change_membership(
            serializer.instance, by=self.request.user, role=data.get("role"), fte=data.get("fte")
        )

    def perform_destroy(self, instance):
        services.leave_team(instance, by=self.request.user)

    @extend_schema(request=None, responses=MembershipSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """The invited person accepts: only then does the team see what members share."""
        membership = services.accept_invitation(self.get_object(), by=request.user)
        return Response(MembershipSerializer(membership, context={"request": request}).data)


class RotationViewSet(viewsets.ModelViewSet):
    serializer_class = RotationSerializer
    permission_classes = [IsAuthenticated, IsTeamManagerOrReadOnly]

    def get_queryset(self):
        return selectors.rotations_for(user=self.request.user).order_by("id")

    def _save(self, serializer, rotation=None):
        """The same service as the rotation page: one coverage rule, one message."""
        data = dict(serializer.validated_data)
        windows = data.pop("windows", None)
        team = data.pop("team", None) or rotation.team
        serializer.instance = services.save_rotation(
            by=self.request.user,
            team=team,
            fields=data,
            windows=None if windows is None else [services.WindowSpec(**w) for w in windows],
            rotation=rotation,
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, rotation=serializer.instance)

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
        raw = request.query_params.get("at")
        if not raw:
            # The hot path: a kept answer needs only the permission check, not the rotation.
            kept = cached_now(rotation_id=self._visible_rotation_id())
            if kept is not None:
                return Response(kept)
        rotation = self.get_object()
        if raw:
            try:
                at = parse_datetime(raw.replace(" ", "+"))
            except ValueError:
                at = None
            if at is None:
                raise ValidationError(
                    {"at": "Use an ISO 8601 date-time, e.g. 2026-03-29T00:30:00Z."}
                )
            if timezone.is_naive(at):
                raise ValidationError(
                    {"at": "Give a time zone offset or Z; a local time is ambiguous."}
                )
            if problem := instant_problem(at):
                raise ValidationError({"at": problem})
            return Response(who_is_on_call(rotation=rotation, at=at))
        # "Who is on call now" is what alerting tools poll: cached, with the database behind.
        return Response(who_is_on_call(rotation=rotation))

    def _visible_rotation_id(self) -> int:
        """The URL's rotation if the caller may read it (what get_object checks for a read),
        in one query on the caller's memberships, without loading the rotation."""
        try:
            rotation_id = int(self.kwargs["pk"])
        except (TypeError, ValueError):
            raise NotFound() from None
        if not selectors.rotation_visible(user=self.request.user, rotation_id=rotation_id):
            raise NotFound()
        return rotation_id


class RosterViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RosterSerializer

    @extend_schema(
        request=PublishRequestSerializer,
        responses=RosterSerializer,
        parameters=[
            OpenApiParameter(
                "previewed",
                OpenApiTypes.STR,
                description="The preview token the publish was checked against (the roster "
                "page's preview); if the draft changed since, 409 and nothing is published.",
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish a draft (managers only). Publishing twice publishes once."""
        roster = self.get_object()
        body = PublishRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        previewed = (
            body.validated_data.get("previewed") or request.query_params.get("previewed") or None
        )
        roster = services.publish_roster(roster, by=request.user, previewed=previewed)
        return Response(RosterSerializer(roster).data)

    def get_queryset(self):
        qs = selectors.rosters_for(user=self.request.user)
        if not self.request.user.is_superuser:
            # Drafts are the managers' working copies.
            qs = qs.exclude(
                ~Q(rotation__team__in=selectors.managed_teams(user=self.request.user)),
                status=Roster.Status.DRAFT,
            )
        rotation = self.request.query_params.get("rotation")
        if rotation:
            qs = qs.filter(rotation_id=int_param("rotation", rotation))
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

    def get_queryset(self):
        qs = selectors.shifts_for(user=self.request.user).order_by("start", "role")
        if not self.request.user.is_superuser:
            qs = qs.exclude(
                ~Q(roster__rotation__team__in=selectors.managed_teams(user=self.request.user)),
                roster__status=Roster.Status.DRAFT,
            )
        params = self.request.query_params
        if params.get("rotation"):
            qs = qs.filter(roster__rotation_id=int_param("rotation", params["rotation"]))
        if params.get("roster"):
            qs = qs.filter(roster_id=int_param("roster", params["roster"]))
        if params.get("mine") in {"1", "true"}:
            qs = qs.filter(assignee=self.request.user)
        return qs


def int_param(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValidationError({name: "Must be a whole number."}) from None
    if not -(2**63) < number < 2**63:
        raise ValidationError({name: "Out of range."})
    return number


def _instant_param(name: str, raw: str):
    try:
        at = parse_datetime(raw.replace(" ", "+"))
    except ValueError:
        at = None
    if at is None:
        raise ValidationError({name: "Use an ISO 8601 date-time, e.g. 2026-12-01T00:00:00Z."})
    if timezone.is_naive(at):
        raise ValidationError({name: "Give a time zone offset or Z; a local time is ambiguous."})
    if problem := instant_problem(at):
        raise ValidationError({name: problem})
    return at


def _id_param(name: str, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValidationError({name: "Must be a whole number (an id)."})
    return int(raw)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("roster", OpenApiTypes.INT, description="Only this roster."),
            OpenApiParameter("rotation", OpenApiTypes.INT, description="Only this rotation."),
            OpenApiParameter("actor", OpenApiTypes.INT, description="Only this person's acts."),
            OpenApiParameter("action", OpenApiTypes.STR, enum=AuditEntry.Action.values),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="At or after this instant (ISO 8601)."
            ),
            OpenApiParameter(
                "until", OpenApiTypes.DATETIME, description="Before this instant (ISO 8601)."
            ),
        ]
    )
)
class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log of the teams you manage, newest first: who drafted, edited, overrode,
    published, superseded, swapped or imported what, with the state before and after (as
    stored, and in words). Engineers see none."""

    serializer_class = AuditEntrySerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        rows = selectors.audit_entries_for(user=self.request.user)
        params = self.request.query_params
        for name in ("roster", "rotation", "actor"):
            if params.get(name):
                rows = rows.filter(**{f"{name}_id": _id_param(name, params[name])})
        if params.get("action"):
            if params["action"] not in AuditEntry.Action.values:
                raise ValidationError({"action": f"One of: {', '.join(AuditEntry.Action.values)}."})
            rows = rows.filter(action=params["action"])
        if params.get("since"):
            rows = rows.filter(at__gte=_instant_param("since", params["since"]))
        if params.get("until"):
            rows = rows.filter(at__lt=_instant_param("until", params["until"]))
        return rows.order_by("-at", "-id")

    def get_serializer(self, *args, **kwargs):
        if args:
            entries = args[0] if isinstance(args[0], list) else [args[0]]
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["words"] = selectors.audit_in_words(entries=entries)
        return super().get_serializer(*args, **kwargs)
