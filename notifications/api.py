"""/api/deliveries/: the outbox as managers see it (read only), e.g. ?status=failed."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from rotation.selectors import managed_teams

from .models import Delivery


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
        if status in Delivery.Status.values:
            rows = rows.filter(status=status)
        roster = self.request.query_params.get("roster")
        if roster and roster.isdigit():
            rows = rows.filter(shift__roster_id=int(roster))
        return rows.order_by("-id")
