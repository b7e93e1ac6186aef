from django.contrib import admin

from . import pay
from .models import DraftJob, PayRates


@admin.register(PayRates)
class PayRatesAdmin(admin.ModelAdmin):
    list_display = ["team", "currency", "weekday_hour", "weekend_hour", "holiday_hour"]
    list_select_related = ["team"]
    readonly_fields = ["updated_at", "updated_by"]

    def save_model(self, request, obj, form, change):
        # The same rule as the page and the API: managers (or superusers) only, checked values.
        pay.set_pay_rates(
            team=obj.team,
            by=request.user,
            currency=obj.currency,
            weekday_hour=obj.weekday_hour,
            weekend_hour=obj.weekend_hour,
            holiday_hour=obj.holiday_hour,
            per_incident=obj.per_incident,
            pay_shadow=obj.pay_shadow,
        )


@admin.register(DraftJob)
class DraftJobAdmin(admin.ModelAdmin):
    """Read only: operators see what drafts ran, how far they got and why they failed. No
    delete either: deleting a running job only made its worker task fail with an error."""

    list_display = [
        "pk",
        "rotation",
        "period_start",
        "mode",
        "state",
        "stage",
        "progress",
        "error",
        "created_at",
        "updated_at",
    ]
    list_filter = ["state", "mode"]
    list_select_related = ["rotation"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
