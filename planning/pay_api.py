"""The pay report and rates in the API: GET /api/teams/{id}/pay/?from=YYYY-MM&to=YYYY-MM."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from onehand.dates import parse_month_or_none
from onehand.errors import Invalid
from rotation import api as core_api

from . import pay


class PayLineSerializer(serializers.Serializer):
    person_id = serializers.IntegerField()
    name = serializers.CharField()
    month = serializers.DateField(format="%Y-%m")
    weekday_hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    weekend_hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    holiday_hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    incidents = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    provisional = serializers.BooleanField()


class PayRatesSerializer(serializers.Serializer):
    currency = serializers.CharField(max_length=3)
    weekday_hour = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    weekend_hour = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    holiday_hour = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    per_incident = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0)
    pay_shadow = serializers.BooleanField(default=False)


def _month(raw, field):
    month = parse_month_or_none(raw)
    if month is None:
        raise Invalid("Give the month as YYYY-MM.", field=field)
    return month


class TeamViewSet(core_api.TeamViewSet):
    """Teams, plus their on-call pay."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.STR, description="First month, YYYY-MM (default: this one)."
            ),
            OpenApiParameter("to", OpenApiTypes.STR, description="Last month (included)."),
        ],
        responses=PayLineSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def pay(self, request, pk=None):
        """Pay per person per month (managers: everybody; others: their own lines)."""
        team = self.get_object()
        now = timezone.now()
        raw_first = request.query_params.get("from")
        first = _month(raw_first, "from") if raw_first else now.date().replace(day=1)
        raw_last = request.query_params.get("to")
        last = _month(raw_last, "to") if raw_last else first
        lines = pay.pay_report(
            team=team, viewer=request.user, first_month=first, last_month=last, now=now
        )
        return Response(PayLineSerializer(lines, many=True).data)

    @extend_schema(request=PayRatesSerializer, responses=PayRatesSerializer)
    @action(detail=True, methods=["get", "put"], url_path="pay-rates")
    def pay_rates(self, request, pk=None):
        """The team's pay rates; a manager changes them with PUT."""
        team = self.get_object()
        if request.method == "PUT":
            body = PayRatesSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            rates = pay.set_pay_rates(team=team, by=request.user, **body.validated_data)
        else:
            rates = pay.rates_for(team=team)
        return Response(PayRatesSerializer(rates).data)
