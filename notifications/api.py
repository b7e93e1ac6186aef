"""/api/deliveries/: the outbox as managers see it (read only), e.g. ?status=failed;
/api/chat-hooks/: a team's chat webhooks (managers)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from onehand.errors import Invalid, NotFound
from rotation.models import Team
from rotation.selectors import managed_teams, teams_for

from . import chat
from .models import ChatHook, Delivery


class DeliverySerializer(serializers.ModelSerializer):
    person = serializers.CharField(source="user.get_username", read_only=True)
    rotation = serializers.IntegerField(source="shift.roster.rotation_id", read_only=True)
    roster = serializers.IntegerField(source="shift.roster_id", read_only=True)
    shift_start = serializers.DateTimeField(source="shift.start", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "person",
            "rotation",
            "roster",
            "shift",
            "shift_start",
            "channel",
            "kind",
            "chat_hook",
            "action",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Delivery.Status.values),
            OpenApiParameter("roster", OpenApiTypes.INT),
        ]
    )
)
class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """Deliveries about the rosters of teams you manage; `?status=failed` for the ones that
    gave up (retry them from the roster page)."""

    serializer_class = DeliverySerializer

    def get_queryset(self):
        rows = Delivery.objects.filter(
            shift__roster__rotation__team__in=managed_teams(user=self.request.user)
        ).select_related("user", "shift__roster")
        status = self.request.query_params.get("status")
        if status is not None:
            if status not in Delivery.Status.values:
                raise Invalid(
                    f"status must be one of {', '.join(Delivery.Status.values)}.", field="status"
                )
            rows = rows.filter(status=status)
        roster = self.request.query_params.get("roster")
        if roster is not None:
            if not (roster.isascii() and roster.isdigit() and len(roster) <= 18):
                raise Invalid("roster must be a roster id (a whole number).", field="roster")
            rows = rows.filter(shift__roster_id=int(roster))
        return rows.order_by("-id")


class ChatHookSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        write_only=True,
        max_length=500,
        help_text="The incoming webhook address (Slack, Mattermost, Rocket.Chat); shown back "
        "only as `url_hint`.",
    )

    class Meta:
        model = ChatHook
        fields = ["id", "team", "label", "url", "url_hint", "enabled", "created_at"]
        read_only_fields = ["id", "url_hint", "enabled", "created_at"]
        extra_kwargs = {"team": {"queryset": Team.objects.all()}}


class ChatHookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Chat hooks of teams you manage: handoffs, published rosters, swap offers and shifts at
    risk are posted there. The address is stored encrypted and never shown again in full;
    failed posts are in `/api/deliveries/?status=failed` (channel `chat`)."""

    serializer_class = ChatHookSerializer

    def get_queryset(self):
        return ChatHook.objects.filter(
            team__in=managed_teams(user=self.request.user), enabled=True
        ).order_by("id")

    def perform_create(self, serializer):
        team = serializer.validated_data["team"]
        if not teams_for(user=self.request.user).filter(pk=team.pk).exists():
            raise NotFound("No such team.")
        serializer.instance = chat.add_chat_hook(
            team,
            url=serializer.validated_data["url"],
            label=serializer.validated_data.get("label", ""),
            by=self.request.user,
        )

    def perform_destroy(self, instance):
        chat.remove_chat_hook(instance, by=self.request.user)
