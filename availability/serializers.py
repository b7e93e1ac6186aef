from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from onehand.dates import instant_problem
from rotation.models import SlotRole
from rotation.serializers import UserSummarySerializer

from .models import (
    AvailabilityEntry,
    AvailabilityLock,
    CalendarSource,
    DutyRequirement,
    ProjectAllocation,
    Qualification,
)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "pattern": "^(primary|secondary|shadow)$"},
        "minItems": 1,
    }
)
class RolesField(serializers.ListField):
    """Slot roles as a list of names; validated here rather than as an enum so the schema
    keeps the one slot-role enum the shift endpoints already define."""

    child = serializers.CharField()

    def to_internal_value(self, data):
        roles = super().to_internal_value(data)
        unknown = sorted(set(roles) - set(SlotRole.values))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown role(s) {', '.join(unknown)}; use {', '.join(SlotRole.values)}."
            )
        return list(dict.fromkeys(roles))


class DutyRequirementSerializer(serializers.ModelSerializer):
    roles = RolesField(
        min_length=1, help_text="Slot roles this requirement gates: primary, secondary, shadow."
    )

    class Meta:
        model = DutyRequirement
        fields = [
            "id",
            "rotation",
            "name",
            "description",
            "how_to_obtain",
            "how_to_url",
            "kind",
            "shadow_shifts_needed",
            "roles",
            "valid_days",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", DutyRequirement.Kind.TRAINING))
        count = attrs.get("shadow_shifts_needed", getattr(self.instance, "shadow_shifts_needed", 0))
        if kind == DutyRequirement.Kind.SHADOW_SHIFTS and not count:
            raise serializers.ValidationError(
                {"shadow_shifts_needed": "Say how many shadow shifts are needed."}
            )
        if kind != DutyRequirement.Kind.SHADOW_SHIFTS:
            attrs["shadow_shifts_needed"] = 0
        return attrs


class QualificationSerializer(serializers.ModelSerializer):
    user_detail = UserSummarySerializer(source="user", read_only=True)

    class Meta:
        model = Qualification
        fields = [
            "id",
            "requirement",
            "user",
            "user_detail",
            "obtained_on",
            "expires_on",
            "evidence",
            "evidence_url",
            "status",
            "claimed_at",
            "reviewed_by",
            "reviewed_at",
            "review_note",
        ]
        read_only_fields = [
            "user",
            "status",
            "claimed_at",
            "reviewed_by",
            "reviewed_at",
            "review_note",
        ]


class ReviewSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class AvailabilityEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AvailabilityEntry
        fields = [
            "id",
            "user",
            "start",
            "end",
            "kind",
            "reason",
            "source",
            "calendar",
            "all_day",
            "created_at",
        ]
        read_only_fields = ["user", "source", "calendar", "all_day", "created_at"]
        extra_kwargs = {"kind": {"required": True}}

    def validate(self, attrs):
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        for name, value in (("start", start), ("end", end)):
            if value is not None and (problem := instant_problem(value)):
                raise serializers.ValidationError({name: problem})
        if start and end and start >= end:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        return attrs


class CalendarSourceSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        write_only=True,
        max_length=2000,
        help_text="The calendar's secret iCal/ICS address. Never returned; see url_hint.",
    )
    url_hint = serializers.CharField(read_only=True)
    name = serializers.CharField(required=False, allow_blank=True, max_length=120)

    class Meta:
        model = CalendarSource
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "url_hint",
            "status",
            "last_error",
            "last_attempt_at",
            "last_imported_at",
            "imported_count",
            "created_at",
        ]
        read_only_fields = [
            "kind",
            "status",
            "last_error",
            "last_attempt_at",
            "last_imported_at",
            "imported_count",
            "created_at",
        ]


class CalendarUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An iCalendar (.ics) file.")


class AvailabilityLockSerializer(serializers.ModelSerializer):
    class Meta:
        model = AvailabilityLock
        fields = ["id", "team", "period_start", "period_end", "locked_by", "locked_at", "note"]
        read_only_fields = ["locked_by", "locked_at"]
        validators = []  # locking a locked period again is a no-op, not an error


class ProjectAllocationSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(min_value=0, max_value=100)

    class Meta:
        model = ProjectAllocation
        fields = [
            "id",
            "user",
            "team",
            "project",
            "period_start",
            "period_end",
            "percent",
            "set_by",
            "updated_at",
        ]
        read_only_fields = ["set_by", "updated_at"]
        # Posting the same person, team, project and period again replaces the percentage.
        validators = []


class UtilisationSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    name = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    allocation = serializers.FloatField(help_text="Share of working time, 0..1.")
    time_off = serializers.FloatField(help_text="Share of working time, 0..1.")
    on_call = serializers.FloatField(help_text="Share of working time, 0..1.")
    total = serializers.FloatField(help_text="Sum of the parts, capped at 1.")


class RequirementStatusSerializer(serializers.Serializer):
    requirement = serializers.IntegerField(source="requirement.pk")
    name = serializers.CharField(source="requirement.name")
    kind = serializers.CharField(source="requirement.kind")
    roles = serializers.ListField(child=serializers.CharField(), source="requirement.roles")
    state = serializers.ChoiceField(choices=["met", "expiring", "pending", "missing"])
    expires_on = serializers.DateField(allow_null=True)
    shadow_done = serializers.IntegerField()
    how_to_obtain = serializers.CharField(source="requirement.how_to_obtain")
    how_to_url = serializers.CharField(source="requirement.how_to_url")


class ReadinessSerializer(serializers.Serializer):
    rotation = serializers.IntegerField(source="rotation.pk")
    rotation_name = serializers.CharField(source="rotation.name")
    eligible_roles = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()
    requirements = RequirementStatusSerializer(many=True)
