from rest_framework import serializers

from rotation.serializers import UserSummarySerializer

from .models import Escalation, HookToken, Incident


class IncidentSerializer(serializers.ModelSerializer):
    attributed_to = UserSummarySerializer(read_only=True, allow_null=True)
    escalated_to = UserSummarySerializer(read_only=True, allow_null=True)
    alerts = serializers.SerializerMethodField()
    escalation = serializers.ChoiceField(
        choices=Escalation.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "rotation",
            "title",
            "source",
            "severity",
            "started_at",
            "resolved_at",
            "alerts",
            "notifications",
            "attributed_to",
            "escalation",
            "escalated_to",
        ]
        read_only_fields = fields

    def get_alerts(self, incident) -> int:
        return len(incident.fingerprints)


class RecordIncidentSerializer(serializers.Serializer):
    rotation = serializers.IntegerField()
    title = serializers.CharField(max_length=300)
    started_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    severity = serializers.CharField(max_length=40, required=False, allow_blank=True)
    escalation = serializers.ChoiceField(
        choices=Escalation.choices,
        required=False,
        allow_blank=True,
        help_text="Who was paged beyond the primary (resolved from the published shifts).",
    )


class ImportSerializer(serializers.Serializer):
    rotation = serializers.IntegerField()
    file = serializers.FileField(
        help_text="CSV with columns title, started_at, resolved_at, severity, escalation."
    )


class ImportResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class InterruptionLoadSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    pages = serializers.IntegerField()
    off_hours_pages = serializers.IntegerField()
    night_pages = serializers.IntegerField()
    weekend_pages = serializers.IntegerField()
    holiday_pages = serializers.IntegerField()
    escalations = serializers.IntegerField()
    nights_interrupted = serializers.IntegerField()
    weighted_pages = serializers.FloatField()
    hours_equivalent = serializers.FloatField()


class HookTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = HookToken
        fields = [
            "id",
            "rotation",
            "label",
            "hint",
            "require_signature",
            "created_at",
            "revoked_at",
            "last_used_at",
        ]
        read_only_fields = ["hint", "created_at", "revoked_at", "last_used_at"]


class IssuedTokenSerializer(serializers.Serializer):
    hook = HookTokenSerializer()
    url = serializers.CharField(help_text="The webhook URL; shown only in this answer.")
    signing_secret = serializers.CharField(
        help_text="HMAC-SHA256 key for the optional signature header; shown only here."
    )
