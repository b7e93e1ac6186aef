from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from onehand.people import display_name

from .models import (
    AuditEntry,
    Membership,
    Roster,
    Rotation,
    Shift,
    SwapOffer,
    SwapRequest,
    Team,
)
from .selectors import is_active_member
from .timezones import validate_time_zone

User = get_user_model()


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "name", "email"]

    def get_name(self, user) -> str:
        return display_name(user)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug"]


class MembershipSerializer(serializers.ModelSerializer):
    """A place in a team. Adding one invites the person: `status` stays "invited" (and their
    details hidden from the team) until they accept it."""

    user_detail = serializers.SerializerMethodField()
    fte = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("1"),
        default=Decimal("1"),
        help_text="Share of full time, more than 0 and at most 1.",
    )

    class Meta:
        model = Membership
        fields = ["id", "team", "user", "user_detail", "role", "fte", "status", "joined_on"]
        read_only_fields = ["joined_on", "status"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # Who and which team are fixed: a changed `user` would be a membership nobody
            # accepted.
            for name in ("team", "user"):
                fields[name].read_only = True
        return fields

    @extend_schema_field(UserSummarySerializer(allow_null=True))
    def get_user_detail(self, membership):
        viewer = getattr(self.context.get("request"), "user", None)
        if membership.status != Membership.Status.ACTIVE and (
            viewer is None or viewer.pk != membership.user_id
        ):
            return None
        return UserSummarySerializer(membership.user).data


class CoverageWindowSerializer(serializers.Serializer):
    """A follow-the-sun region's daily window in that region's own time zone."""

    label = serializers.CharField(max_length=40)
    time_zone = serializers.CharField(validators=[validate_time_zone])
    start = serializers.TimeField()
    end = serializers.TimeField()


class RotationSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField(validators=[validate_time_zone], default="UTC")
    windows = CoverageWindowSerializer(
        many=True,
        required=False,
        help_text="Follow-the-sun regions (at least two, covering the day); omit to keep them.",
    )

    class Meta:
        model = Rotation
        fields = ["id", "team", *Rotation.SETTINGS_FIELDS, "windows"]

    def validate(self, attrs):
        """The lead and mentor are reached by phone from the on-call answer: they must be
        active members of the rotation's team (a membership they accepted)."""
        team = attrs.get("team") or getattr(self.instance, "team", None)
        for name in ("lead", "mentor"):
            user = attrs.get(name)
            if user is not None and (
                team is None or not is_active_member(user_id=user.pk, team_id=team.pk)
            ):
                raise serializers.ValidationError({name: "Pick an active member of this team."})
        return attrs


class RosterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Roster
        fields = [
            "id",
            "rotation",
            "period_start",
            "period_end",
            "status",
            "version",
            "created_at",
            "published_at",
            "summary",
        ]
        read_only_fields = fields


class ShiftSerializer(serializers.ModelSerializer):
    rotation = serializers.IntegerField(source="roster.rotation_id", read_only=True)
    assignee_detail = UserSummarySerializer(source="assignee", read_only=True, allow_null=True)

    class Meta:
        model = Shift
        fields = [
            "id",
            "roster",
            "rotation",
            "role",
            "start",
            "end",
            "assignee",
            "assignee_detail",
            "sequence",
            "reason",
            "overridden",
        ]
        read_only_fields = fields


class ContactSerializer(serializers.Serializer):
    role = serializers.CharField()
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField()
    local_time = serializers.CharField(
        help_text="The instant in this contact's own time zone, ISO 8601."
    )


class OnCallSerializer(serializers.Serializer):
    rotation = serializers.IntegerField()
    rotation_name = serializers.CharField()
    at = serializers.DateTimeField()
    shift_start = serializers.DateTimeField(allow_null=True)
    shift_end = serializers.DateTimeField(allow_null=True)
    next_change = serializers.DateTimeField(
        allow_null=True,
        help_text="When this answer may next change: the first end or start of a slot of any "
        "role after `at`; between shifts a minute after `at` at the latest (who can be reached "
        "changes with time away). Poll again then at the latest.",
    )
    primary = ContactSerializer(allow_null=True)
    secondary = ContactSerializer(allow_null=True)
    shadow = ContactSerializer(allow_null=True)
    escalation = ContactSerializer(many=True)


class DraftRequestSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="The month to draft, YYYY-MM.")
    mode = serializers.ChoiceField(choices=["greedy", "exact"], default="greedy")
    # the same precision as the rotation's own weights and the draft form's, so a job asked
    # through the API can be tried again from its page
    weekend_weight = serializers.DecimalField(
        required=False, max_digits=3, decimal_places=2, min_value=1, max_value=5
    )
    holiday_weight = serializers.DecimalField(
        required=False, max_digits=3, decimal_places=2, min_value=1, max_value=5
    )
    half_life_days = serializers.IntegerField(required=False, min_value=7, max_value=3650)


class PublishRequestSerializer(serializers.Serializer):
    previewed = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="The preview token the publish is checked against (the roster page's "
        "preview); if the draft or the published roster changed since, 409 and nothing is "
        "published. Also accepted as the `previewed` query parameter.",
    )


class AssignRequestSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(allow_null=True)
    override = serializers.BooleanField(default=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class SwapOfferSerializer(serializers.ModelSerializer):
    candidate_detail = UserSummarySerializer(source="candidate", read_only=True)

    class Meta:
        model = SwapOffer
        fields = [
            "id",
            "request",
            "candidate",
            "candidate_detail",
            "rank",
            "status",
            "reason",
            "trade_shift",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class OffsetDateTimeField(serializers.DateTimeField):
    """An instant written with its UTC offset ("2026-12-08T18:00:00+00:00"): a local time
    without one would be read in the server's zone, which is nobody's."""

    default_error_messages = {
        "no_offset": "Give the time with its UTC offset, e.g. 2026-12-08T18:00:00+00:00.",
        "impossible": "{value} is not a real time: check the date (e.g. 30 February does not "
        "exist) and the UTC offset (between -23:59 and +23:59).",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip()) if len(value) <= 40 else None
            except ValueError:
                self.fail("impossible", value=value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("no_offset")
        return super().to_internal_value(value)


class SwapRequestSerializer(serializers.ModelSerializer):
    offers = SwapOfferSerializer(many=True, read_only=True)
    # Partial cover: only this part of the shift (both, or neither for the whole shift).
    part_start = OffsetDateTimeField(required=False, allow_null=True)
    part_end = OffsetDateTimeField(required=False, allow_null=True)
    unavailable_from = serializers.DateTimeField(write_only=True, required=False)
    unavailable_to = serializers.DateTimeField(write_only=True, required=False)
    named = serializers.IntegerField(write_only=True, required=False, allow_null=True)
    trade_shift = serializers.IntegerField(write_only=True, required=False, allow_null=True)

    class Meta:
        model = SwapRequest
        fields = [
            "id",
            "shift",
            "requester",
            "reason",
            "status",
            "deadline",
            "winner",
            "created_at",
            "decided_at",
            "offers",
            "unavailable_from",
            "unavailable_to",
            "named",
            "trade_shift",
            "part_start",
            "part_end",
        ]
        read_only_fields = [
            "requester",
            "status",
            "deadline",
            "winner",
            "created_at",
            "decided_at",
            "offers",
        ]
        # The one-open-request-per-shift rule is the service's: it returns the same request
        # for a double submit and says in words why a different one can't be asked.
        validators = []


class AuditEntrySerializer(serializers.ModelSerializer):
    """One audit row: the state before and after as stored (JSON) and in words."""

    actor_name = serializers.SerializerMethodField()
    action_display = serializers.CharField(source="get_action_display", read_only=True)
    before_words = serializers.SerializerMethodField()
    after_words = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "team",
            "rotation",
            "roster",
            "actor",
            "actor_name",
            "action",
            "action_display",
            "summary",
            "before",
            "after",
            "before_words",
            "after_words",
        ]
        read_only_fields = fields

    def get_actor_name(self, entry) -> str:
        return display_name(entry.actor, nobody="system")

    def _words(self, entry) -> tuple[str, str]:
        return self.context.get("words", {}).get(entry.pk, ("", ""))

    def get_before_words(self, entry) -> str:
        return self._words(entry)[0]

    def get_after_words(self, entry) -> str:
        return self._words(entry)[1]
