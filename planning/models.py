"""What the planning layer keeps of its own: the team's on-call pay rates."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

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
