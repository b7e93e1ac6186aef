"""What the planning layer keeps of its own: the team's on-call pay rates, and draft jobs."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from rotation.models import Team


class PayRates(models.Model):
    """On-call pay of one team: per hour held (weekday, weekend, public holiday) and per incident.

    Hours are the person's own: a weekend or holiday is read on their local calendar and their
    country's public holidays, so two people on the same shift may be paid at different rates.
    """

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="pay_rates")
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code, e.g. EUR.")
    weekday_hour = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    weekend_hour = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    holiday_hour = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    per_incident = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    # Shadows learn rather than answer pages; teams that pay them too say so here.
    pay_shadow = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "pay rates"
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday_hour__gte=0)
                & Q(weekend_hour__gte=0)
                & Q(holiday_hour__gte=0)
                & Q(per_incident__gte=0),
                name="pay_rates_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="pay_currency_iso_code"
            ),
        ]

    def __str__(self) -> str:
        return f"Pay rates of {self.team}"


class DraftJob(models.Model):
    """A manager's request for a draft, run by a worker: what was asked, how far it is, and
    how it ended (the roster, or the reason it failed). At most one unfinished job per rotation
    and period, so a double click drafts once."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Drafting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    UNFINISHED = (State.QUEUED, State.RUNNING)

    rotation = models.ForeignKey(
        "rotation.Rotation", on_delete=models.CASCADE, related_name="draft_jobs"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    mode = models.CharField(max_length=16, default="greedy")
    # the draft form's settings as asked (JSON: numbers; the rest time in seconds)
    asked = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(max_length=120, blank=True, default="")
    progress = models.FloatField(default=0.0)  # 0-1 of the whole draft
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started (redeliveries count)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # the last sign of life: queued, started, progress written, finished (the stuck sweep reads it)
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # a deleted draft takes its job with it (a done job always names its roster)
    roster = models.ForeignKey(
        "rotation.Roster", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["state", "updated_at"], name="draft_job_state_age")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["queued", "running", "done", "failed"]),
                name="draft_job_state_known",
            ),
            models.CheckConstraint(
                condition=(Q(state="done") & Q(roster__isnull=False))
                | (~Q(state="done") & Q(roster__isnull=True)),
                name="draft_job_roster_iff_done",
            ),
            models.CheckConstraint(
                condition=(Q(state="failed") & ~Q(error="")) | (~Q(state="failed") & Q(error="")),
                name="draft_job_reason_iff_failed",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="draft_job_progress_0_1"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")), name="draft_job_period_forward"
            ),
            models.UniqueConstraint(
                fields=["rotation", "period_start", "period_end"],
                condition=Q(state__in=["queued", "running"]),
                name="draft_job_one_unfinished_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"Draft of {self.rotation} {self.period_start:%b %Y} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    def draft_settings(self) -> dict:
        """The settings asked, as `draft_roster` takes them (a duration from its seconds)."""
        out = {}
        for key, value in self.asked.items():
            if key.endswith("_seconds"):
                out[key.removesuffix("_seconds")] = timedelta(seconds=value)
            else:
                out[key] = value
        return out

    @property
    def percent(self) -> int:
        return round(100 * self.progress)
