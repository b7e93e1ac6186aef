"""Teams, people, rotations, rosters and shifts.

Invariants that matter for an on-call tool are enforced by the database, not only forms:
one assignee per slot, one slot per person per shift, start before end, one published
roster per rotation and period.
"""

import secrets
from datetime import time, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from onehand.people import display_name

from .timezones import validate_time_zone


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Person(models.Model):
    """Profile data Onehand needs about a user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(
        max_length=2, default="GB", help_text="ISO 3166 country code, for public holidays."
    )
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mentees",
        help_text="A peer to escalate to as a last resort.",
    )
    work_start = models.TimeField(default=time(9, 0))
    work_end = models.TimeField(default=time(17, 0))
    work_days = models.CharField(
        max_length=13, default="0,1,2,3,4", help_text="Weekday numbers, Monday=0."
    )
    reminder_hours = models.PositiveIntegerField(default=24)
    feed_token = models.CharField(max_length=64, unique=True, default=new_token)

    class Meta:
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return display_name(self.user)


class Team(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    max_oncall_share = models.PositiveSmallIntegerField(
        default=30,
        help_text="Largest share of a period (percent of its hours) one person may be on call.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        through_fields=("team", "user"),
        related_name="teams",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_oncall_share__gte=1) & Q(max_oncall_share__lte=100),
                name="team_max_oncall_share_1_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person in a team. Only an ACTIVE membership shares anything of the person's.

    A manager adds someone by inviting them (status INVITED); until that person accepts,
    the team sees nothing of theirs and they are not a member for any rule.
    """

    class Role(models.TextChoices):
        ENGINEER = "engineer", "Engineer"
        MANAGER = "manager", "Manager"

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENGINEER)
    fte = models.DecimalField(max_digits=3, decimal_places=2, default=1)
    joined_on = models.DateField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_once_per_team"),
            models.CheckConstraint(
                condition=Q(fte__gt=0) & Q(fte__lte=1), name="membership_fte_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class SlotRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    SHADOW = "shadow", "Shadow"


class Rotation(models.Model):
    # What a manager may set on the rotation page and through the API (one list for both).
    SETTINGS_FIELDS = (
        "name",
        "description",
        "time_zone",
        "pattern",
        "handoff_weekday",
        "handoff_time",
        "has_secondary",
        "has_shadow",
        "lead",
        "mentor",
        "runbook_url",
        "weekend_weight",
        "holiday_weight",
        "history_half_life_days",
        "min_rest_hours",
        "no_back_to_back",
        "offers_at_once",
        "swap_deadline_hours",
        "swap_answer_time",
        "swaps_need_approval",
        "level_shadow_shifts",
        "level_secondary_shifts",
        "level_primary_ready_shifts",
        "level_first_primaries_paired",
        "pairing",
        "pairing_weight",
        "bus_factor_warning",
    )

    class Pattern(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        DAILY = "daily", "Daily"
        # Daily windows per region, each staffed in its own working hours.
        FOLLOW_THE_SUN = "follow_the_sun", "Follow the sun"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    pattern = models.CharField(max_length=16, choices=Pattern.choices, default=Pattern.WEEKLY)
    handoff_weekday = models.PositiveSmallIntegerField(
        default=0, help_text="Monday=0 (weekly rotations)."
    )
    handoff_time = models.TimeField(default=time(9, 0))
    has_secondary = models.BooleanField(default=True)
    has_shadow = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="RotationMember", related_name="rotations"
    )
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Fallback mentor when the on-call person has none of their own.",
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Last escalation contact.",
    )
    runbook_url = models.URLField(blank=True)
    # Fairness settings for the recommender.
    weekend_weight = models.DecimalField(max_digits=4, decimal_places=2, default=1.5)
    holiday_weight = models.DecimalField(max_digits=4, decimal_places=2, default=2.0)
    history_half_life_days = models.PositiveIntegerField(default=180)
    min_rest_hours = models.PositiveIntegerField(default=0)
    no_back_to_back = models.BooleanField(default=True)
    # Swap settings.
    offers_at_once = models.PositiveSmallIntegerField(
        default=3, help_text="How many people are asked at the same time."
    )
    swap_deadline_hours = models.PositiveIntegerField(
        default=48, help_text="Managers are told when the shift is this close and nobody took it."
    )
    swap_answer_time = models.DurationField(
        default=timedelta(hours=24),
        help_text="How long each person asked has to answer before the next one is asked.",
    )
    swaps_need_approval = models.BooleanField(default=False)
    # Experience levels (issue 16): newcomer -> shadowed -> secondary-ready -> primary-ready.
    level_shadow_shifts = models.PositiveSmallIntegerField(
        default=2, help_text="Shadow shifts a newcomer serves to become 'shadowed'."
    )
    level_secondary_shifts = models.PositiveSmallIntegerField(
        default=2, help_text="Secondary shifts served to become 'secondary-ready'."
    )
    level_primary_ready_shifts = models.PositiveSmallIntegerField(
        default=4,
        help_text="Secondary shifts served (in all) to become 'primary-ready' (experienced).",
    )
    level_first_primaries_paired = models.PositiveSmallIntegerField(
        default=2,
        help_text="A person's first primary shifts that get an experienced secondary.",
    )

    class Pairing(models.TextChoices):
        HARD = "hard", "Hard: always pair a newcomer with someone experienced"
        SOFT = "soft", "Soft: pair when it costs little fairness"
        OFF = "off", "Off"

    pairing = models.CharField(max_length=4, choices=Pairing.choices, default=Pairing.HARD)
    pairing_weight = models.DecimalField(
        max_digits=6,
        decimal_places=1,
        default=50,
        help_text="Soft pairing: the penalty per shift without an experienced person.",
    )
    bus_factor_warning = models.PositiveSmallIntegerField(
        default=2,
        help_text="Warn when fewer people than this are ready for primary (0 turns it off).",
    )

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="rotation_name_unique_in_team"),
            models.CheckConstraint(
                condition=Q(handoff_weekday__lte=6), name="rotation_weekday_0_6"
            ),
            models.CheckConstraint(
                condition=Q(weekend_weight__gte=1), name="rotation_weekend_weight_ge_1"
            ),
            models.CheckConstraint(
                condition=Q(holiday_weight__gte=1), name="rotation_holiday_weight_ge_1"
            ),
            models.CheckConstraint(
                condition=Q(level_shadow_shifts__lte=50)
                & Q(level_secondary_shifts__lte=100)
                & Q(level_primary_ready_shifts__gte=F("level_secondary_shifts"))
                & Q(level_primary_ready_shifts__lte=100)
                & Q(level_first_primaries_paired__lte=50),
                name="rotation_level_thresholds_ordered",
                violation_error_message=(
                    "Level thresholds: primary-ready needs at least as many secondary shifts as "
                    "secondary-ready, and each threshold is at most 50 (shadow, first primaries) "
                    "or 100 (secondary)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(pairing__in=["hard", "soft", "off"]), name="rotation_pairing_mode"
            ),
            models.CheckConstraint(
                condition=Q(pairing_weight__gte=0) & Q(pairing_weight__lte=10000),
                name="rotation_pairing_weight_range",
            ),
            models.CheckConstraint(
                condition=Q(bus_factor_warning__lte=1000), name="rotation_bus_factor_warning_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} / {self.name}"

    @property
    def slot_roles(self) -> list[str]:
        roles = [SlotRole.PRIMARY.value]
        if self.has_secondary:
            roles.append(SlotRole.SECONDARY.value)
        if self.has_shadow:
            roles.append(SlotRole.SHADOW.value)
        return roles


class CoverageWindow(models.Model):
    """A follow-the-sun region's daily window, defined in that region's own time zone."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="windows")
    label = models.CharField(max_length=40, help_text="e.g. APAC, EMEA, AMER")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    start = models.TimeField()
    end = models.TimeField(
        help_text="May be earlier than start: the window then runs past midnight."
    )

    class Meta:
        ordering = ["rotation", "start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "label"], name="window_label_unique"),
            models.CheckConstraint(condition=~Q(start=F("end")), name="window_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.start:%H:%M}-{self.end:%H:%M} {self.time_zone}"


class RotationMember(models.Model):
    rotation = models.ForeignKey(
        Rotation, on_delete=models.CASCADE, related_name="rotation_members"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    since = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rotation", "user"], name="rotation_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.rotation.name}"


class Roster(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        SUPERSEDED = "superseded", "Superseded"
        IMPORTED = "imported", "Imported history"

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="rosters")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    # What the recommender reported: objective, bound, gap, metrics and the settings used.
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lt=F("period_end")), name="roster_period_ordered"
            ),
            models.UniqueConstraint(
                fields=["rotation", "period_start", "period_end"],
                condition=Q(status="published"),
                name="one_published_roster_per_period",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.rotation.name} {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d} "
            f"({self.status})"
        )


class Shift(models.Model):
    """One slot (primary, secondary or shadow) of one shift of a roster."""

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="shifts")
    role = models.CharField(max_length=10, choices=SlotRole.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shifts",
    )
    # Grows with every change so calendar updates replace the entry (iCalendar SEQUENCE).
    sequence = models.PositiveIntegerField(default=0)
    reason = models.JSONField(default=dict, blank=True)
    overridden = models.BooleanField(default=False)
    window = models.ForeignKey(
        CoverageWindow, null=True, blank=True, on_delete=models.SET_NULL, related_name="shifts"
    )
    # Partial cover: a later piece of a shift that was split. Always the original (whole)
    # shift's row, which keeps its start and UID, so pieces of pieces still name the week.
    split_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="pieces"
    )

    class Meta:
        ordering = ["start", "role"]
        indexes = [
            models.Index(fields=["start", "end"]),
            models.Index(fields=["assignee", "start"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="shift_start_before_end"),
            models.UniqueConstraint(
                fields=["roster", "start", "role"], name="one_assignee_per_slot"
            ),
            models.UniqueConstraint(
                fields=["roster", "start", "assignee"], name="one_slot_per_person_per_shift"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.roster.rotation.name} {self.role} {self.start:%Y-%m-%d %H:%M}Z"

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


class Heartbeat(models.Model):
    """Written by a beat-scheduled task on a worker: proves beat and a worker are alive."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class AuditEntry(models.Model):
    """Who did what to a roster, when, with the state before and after."""

    class Action(models.TextChoices):
        DRAFT = "draft", "Drafted"
        EDIT = "edit", "Edited"
        OVERRIDE = "override", "Edited with override"
        PUBLISH = "publish", "Published"
        SUPERSEDE = "supersede", "Superseded"
        SWAP = "swap", "Swapped"
        IMPORT = "import", "Imported history"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="audit_entries")
    rotation = models.ForeignKey(
        Rotation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    roster = models.ForeignKey(
        Roster, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    summary = models.CharField(max_length=300)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}: {self.summary}"


class SwapRequest(models.Model):
    """Someone can't make a shift: Onehand asks fair replacements until one accepts."""

    class Status(models.TextChoices):
        OPEN = "open", "Looking for a replacement"
        PENDING_APPROVAL = "pending", "Waiting for a manager's approval"
        DONE = "done", "Swapped"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="swap_requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="swap_requests"
    )
    reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    deadline = models.DateTimeField(
        help_text="After this the managers are told; offers expire at shift start."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    managers_told_at = models.DateTimeField(null=True, blank=True)
    # Partial cover: only this part of the shift needs someone (both empty: the whole shift).
    part_start = models.DateTimeField(null=True, blank=True)
    part_end = models.DateTimeField(null=True, blank=True)
    # Why a request closed without a swap when nobody chose to: "republished" (the roster
    # its shift is on was replaced). Empty otherwise.
    closed_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(part_start__isnull=True, part_end__isnull=True)
                | Q(part_start__isnull=False, part_end__isnull=False, part_start__lt=F("part_end")),
                name="swap_part_whole_or_ordered",
            ),
            models.UniqueConstraint(
                fields=["shift"],
                condition=Q(status__in=["open", "pending"]),
                name="one_open_swap_per_shift",
            ),
        ]

    def __str__(self) -> str:
        return f"Swap of {self.shift} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.PENDING_APPROVAL)

    @property
    def is_partial(self) -> bool:
        return self.part_start is not None

    @property
    def cover_start(self):
        """When the cover asked for starts: the part's start, or the shift's."""
        return self.part_start or self.shift.start

    @property
    def cover_end(self):
        return self.part_end or self.shift.end


class SwapOffer(models.Model):
    """One person asked to take a shift; accept/decline links act on exactly this row."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Asked"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "No answer in time"

    request = models.ForeignKey(SwapRequest, on_delete=models.CASCADE, related_name="offers")
    candidate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="swap_offers"
    )
    rank = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFERED)
    reason = models.JSONField(default=dict, blank=True)
    # A true two-way swap: the candidate gives this shift of theirs to the requester.
    trade_shift = models.ForeignKey(
        Shift, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Unanswered by then, the offer expires and the next fairest person is asked.
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "candidate"], name="one_offer_per_candidate"
            ),
            # The database, not only Python, guarantees a single winner.
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(status="accepted"),
                name="one_accepted_offer_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"Offer to {self.candidate} for {self.request.shift} ({self.status})"


class HandoverNote(models.Model):
    """What the outgoing person tells the incoming one at a handoff."""

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="handover_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    open_incidents = models.TextField(blank=True, max_length=4000)
    notes = models.TextField(blank=True, max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Handover from {self.author} at {self.shift.end:%Y-%m-%d %H:%M}Z"
