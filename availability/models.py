"""Duty requirements, qualifications, availability, calendar sources and allocations.

Times are stored in UTC; days and months are only a way of *entering* them, in the
person's own zone. The invariants a scheduler relies on are database constraints, so a
bad API call or admin edit cannot slip past them.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from rotation.models import SlotRole

GATED_ROLES = (SlotRole.PRIMARY.value, SlotRole.SECONDARY.value, SlotRole.SHADOW.value)
# The fixed label an imported busy time gets, never the event's title (those are private).
IMPORTED_REASONS = {"busy": "Busy (calendar)", "out_of_office": "Out of office (calendar)"}


class DutyRequirement(models.Model):
    """What it takes to hold a slot role of one rotation."""

    class Kind(models.TextChoices):
        TRAINING = "training", "Training"
        ACCESS = "access", "Access"
        SHADOW_SHIFTS = "shadow_shifts", "Shadow shifts"
        OTHER = "other", "Other"

    rotation = models.ForeignKey(
        "rotation.Rotation", on_delete=models.CASCADE, related_name="requirements"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    how_to_obtain = models.TextField(blank=True, help_text="What to do to meet it.")
    how_to_url = models.URLField(blank=True, help_text="A course, form or runbook page.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TRAINING)
    shadow_shifts_needed = models.PositiveSmallIntegerField(
        default=0, help_text="Shadow shifts: how many past shadow shifts meet it."
    )
    gates_primary = models.BooleanField(default=True)
    gates_secondary = models.BooleanField(default=False)
    gates_shadow = models.BooleanField(default=False)
    valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long it stays valid once obtained; empty: forever."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rotation_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "name"], name="requirement_name_unique"),
            models.CheckConstraint(
                condition=Q(gates_primary=True) | Q(gates_secondary=True) | Q(gates_shadow=True),
                name="requirement_gates_a_role",
            ),
            # A count only means something for shadow shifts, and there it must be set.
            models.CheckConstraint(
                condition=(Q(kind="shadow_shifts") & Q(shadow_shifts_needed__gte=1))
                | (~Q(kind="shadow_shifts") & Q(shadow_shifts_needed=0)),
                name="requirement_shadow_count",
            ),
            models.CheckConstraint(
                condition=Q(valid_days__isnull=True) | Q(valid_days__gte=1),
                name="requirement_valid_days_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rotation.name}: {self.name}"

    @property
    def roles(self) -> list[str]:
        return [
            role
            for role, gated in zip(
                GATED_ROLES, (self.gates_primary, self.gates_secondary, self.gates_shadow)
            )
            if gated
        ]

    @roles.setter
    def roles(self, value) -> None:
        chosen = set(value)
        self.gates_primary = SlotRole.PRIMARY in chosen
        self.gates_secondary = SlotRole.SECONDARY in chosen
        self.gates_shadow = SlotRole.SHADOW in chosen

    def gates(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_automatic(self) -> bool:
        return self.kind == self.Kind.SHADOW_SHIFTS


class Qualification(models.Model):
    """A person's claim to meet a requirement, and a manager's decision on it.

    Rows are history: a renewal is a new claim, so the old verified row keeps counting
    until it expires and a rejected claim stays on record.
    """

    class Status(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    requirement = models.ForeignKey(
        DutyRequirement, on_delete=models.CASCADE, related_name="qualifications"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualifications"
    )
    obtained_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    evidence = models.TextField(blank=True)
    evidence_url = models.URLField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    claimed_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-claimed_at", "-id"]
        indexes = [models.Index(fields=["user", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["requirement", "user"],
                condition=Q(status="claimed"),
                name="one_open_claim_per_requirement",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("obtained_on")),
                name="qualification_expires_after_obtained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.requirement.name} ({self.status})"


class AvailabilityEntry(models.Model):
    """A span in which someone can't be on call, or would like to be."""

    class Kind(models.TextChoices):
        UNAVAILABLE = "unavailable", "Unavailable"
        PREFERRED = "preferred", "Preferred"

    class Source(models.TextChoices):
        MANUAL = "manual", "Entered"
        CALENDAR = "calendar", "Calendar"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability_entries"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.UNAVAILABLE)
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    calendar = models.ForeignKey(
        "CalendarSource", null=True, blank=True, on_delete=models.CASCADE, related_name="entries"
    )
    all_day = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "availability entries"
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["user", "start"]), models.Index(fields=["user", "end"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="availability_start_before_end"
            ),
            # Re-import replaces one source's rows; that only works if every imported row
            # names its source and no typed-in row does.
            models.CheckConstraint(
                condition=(Q(source="calendar") & Q(calendar__isnull=False))
                | (Q(source="manual") & Q(calendar__isnull=True)),
                name="availability_source_matches_calendar",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.start:%Y-%m-%d %H:%M}Z–{self.end:%Y-%m-%d %H:%M}Z"


class CalendarSource(models.Model):
    """A calendar someone imports busy times from: a secret ICS address or an uploaded file."""

    class Kind(models.TextChoices):
        URL = "url", "ICS address"
        UPLOAD = "upload", "Uploaded file"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to import"
        IMPORTING = "importing", "Importing"
        OK = "ok", "Imported"
        ERROR = "error", "Failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_sources"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.URL)
    # The secret address is a credential to the whole calendar: never shown back in full.
    url = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_imported_at = models.DateTimeField(null=True, blank=True)
    imported_count = models.PositiveIntegerField(default=0)
    # A large upload waiting for the worker to read it (emptied once read or refused).
    pending_data = models.BinaryField(blank=True, default=b"", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "url"], condition=Q(kind="url"), name="calendar_url_once_per_user"
            ),
            models.UniqueConstraint(
                fields=["user"], condition=Q(kind="upload"), name="one_upload_source_per_user"
            ),
            models.CheckConstraint(
                condition=(Q(kind="url") & ~Q(url="")) | (Q(kind="upload") & Q(url="")),
                name="calendar_url_only_for_url_sources",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"

    @property
    def url_hint(self) -> str:
        """Enough of the address to recognise it, not enough to read the calendar."""
        if not self.url:
            return ""
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(self.url)
        except ValueError:
            return "…"
        return f"{parts.scheme}://{parts.hostname or ''}/…"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.IMPORTING)


class AvailabilityLock(models.Model):
    """A team's availability for a period is frozen once a draft roster is being made."""

    team = models.ForeignKey(
        "rotation.Team", on_delete=models.CASCADE, related_name="availability_locks"
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lt=F("period_end")), name="lock_period_ordered"
            ),
            models.UniqueConstraint(
                fields=["team", "period_start", "period_end"], name="lock_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} locked {self.period_start}..{self.period_end}"


class ProjectAllocation(models.Model):
    """Share of someone's working time promised to project work in a period."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_allocations"
    )
    team = models.ForeignKey("rotation.Team", on_delete=models.CASCADE, related_name="allocations")
    project = models.CharField(max_length=120, blank=True)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    percent = models.PositiveSmallIntegerField()
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id", "period_start", "project"]
        constraints = [
            models.CheckConstraint(condition=Q(percent__lte=100), name="allocation_percent_0_100"),
            models.CheckConstraint(
                condition=Q(period_start__lt=F("period_end")), name="allocation_period_ordered"
            ),
            models.UniqueConstraint(
                fields=["user", "team", "project", "period_start", "period_end"],
                name="allocation_once_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.percent}% {self.project or 'projects'} {self.period_start}"


class TeamAvailabilitySettings(models.Model):
    """Per-team switches of the availability app (kept here so rotation stays unaware)."""

    team = models.OneToOneField(
        "rotation.Team", on_delete=models.CASCADE, related_name="availability_settings"
    )
    engineers_set_allocation = models.BooleanField(
        default=False, help_text="Engineers may enter their own project allocation."
    )

    class Meta:
        verbose_name = "team availability settings"
        verbose_name_plural = "team availability settings"

    def __str__(self) -> str:
        return f"Availability settings of {self.team}"
