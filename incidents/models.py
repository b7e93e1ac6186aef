"""Incidents that paged a rotation, the webhook tokens that bring them in, load settings.

The database holds the invariants: one group row per (rotation, group key), at most one open
incident per group, start before resolve, token hashes unique, weights at least one.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from rotation.models import Rotation


class Source(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    GENERIC = "generic", "Generic JSON"
    CSV = "csv", "CSV import"
    API = "api", "Recorded via the API"


class Escalation(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    MENTOR = "mentor", "Mentor"
    LEAD = "lead", "Lead"


class HookToken(models.Model):
    """A secret webhook URL of one rotation. Only a SHA-256 of the token is stored."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="hook_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8, help_text="The token's last characters, to tell apart.")
    label = models.CharField(max_length=80, blank=True)
    require_signature = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rotation", "-created_at", "-id"]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.rotation.name} hook …{self.hint} ({state})"


class IncidentGroup(models.Model):
    """One alert group of a rotation (Alertmanager's groupKey, a generic key...).

    The row exists once per (rotation, key): it is inserted with ON CONFLICT DO NOTHING and
    then locked, so concurrent notifications of one group are applied one after the other.
    """

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="incident_groups")
    key = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rotation", "key"], name="incident_group_unique_key")
        ]

    def __str__(self) -> str:
        return self.key


class Incident(models.Model):
    """One firing episode of a group: from the first alert to the resolve."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="incidents")
    group = models.ForeignKey(IncidentGroup, on_delete=models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=300)
    source = models.CharField(max_length=16, choices=Source.choices)
    severity = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Distinct alert fingerprints seen in this episode (capped by the payload limits).
    fingerprints = models.JSONField(default=list, blank=True)
    notifications = models.PositiveIntegerField(default=1)
    attributed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attributed_incidents",
        help_text="Primary on call when the incident started (published shifts).",
    )
    escalation = models.CharField(max_length=10, choices=Escalation.choices, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalated_incidents",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["rotation", "started_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(started_at__lt=F("resolved_at")),
                name="incident_start_before_resolve",
            ),
            models.UniqueConstraint(
                fields=["group"],
                condition=Q(resolved_at__isnull=True),
                name="incident_one_open_per_group",
            ),
            models.UniqueConstraint(
                fields=["group", "started_at"], name="incident_one_episode_per_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.started_at:%Y-%m-%d %H:%M}Z)"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class IncidentSettings(models.Model):
    """How much a page weighs against scheduled on-call hours, per rotation.

    A page in working hours counts `weight_hours_per_page` hours; outside working hours,
    at night (22:00-07:00 in the person's zone) and on weekends or public holidays the
    multipliers apply (night replaces off-hours; weekend/holiday multiplies on top).
    """

    rotation = models.OneToOneField(
        Rotation, on_delete=models.CASCADE, related_name="incident_settings"
    )
    weight_hours_per_page = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00")
    )
    off_hours_multiplier = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.50")
    )
    night_multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("3.00"))
    weekend_multiplier = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.50")
    )

    class Meta:
        verbose_name_plural = "incident settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_hours_per_page__gte=0), name="incident_weight_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(off_hours_multiplier__gte=1)
                & Q(night_multiplier__gte=1)
                & Q(weekend_multiplier__gte=1),
                name="incident_multipliers_ge_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rotation.name}: {self.weight_hours_per_page} h a page"
