from django.contrib import admin

from . import services
from .models import (
    AvailabilityEntry,
    AvailabilityLock,
    CalendarSource,
    DutyRequirement,
    ProjectAllocation,
    Qualification,
    TeamAvailabilitySettings,
)


@admin.register(DutyRequirement)
class DutyRequirementAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "rotation",
        "kind",
        "gates_primary",
        "gates_secondary",
        "gates_shadow",
        "valid_days",
    ]
    list_filter = ["kind", "rotation__team", "rotation"]
    list_select_related = ["rotation__team"]
    search_fields = ["name", "rotation__name"]


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["user", "requirement", "status", "obtained_on", "expires_on", "reviewed_by"]
    list_filter = ["status", "requirement__rotation"]
    list_select_related = ["user", "requirement__rotation", "reviewed_by"]
    raw_id_fields = ["user", "reviewed_by", "requirement"]
    search_fields = ["user__username", "requirement__name"]


@admin.register(AvailabilityEntry)
class AvailabilityEntryAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "start", "end", "source", "reason"]
    list_filter = ["kind", "source"]
    list_select_related = ["user", "calendar"]
    raw_id_fields = ["user", "calendar"]
    search_fields = ["user__username"]
    date_hierarchy = "start"

    # Escalation chains name only reachable people: an edit here is a change of availability
    # like any other (entries that named the person are updated, the on-call answer too).
    def save_model(self, request, obj, form, change):
        before = (
            AvailabilityEntry.objects.filter(pk=obj.pk).values_list("user_id", "start", "end")
            if change
            else []
        )
        spans = list(before)
        super().save_model(request, obj, form, change)
        spans.append((obj.user_id, obj.start, obj.end))
        services.unavailability_edited(spans=spans, by=request.user)

    def delete_model(self, request, obj):
        span = (obj.user_id, obj.start, obj.end)
        super().delete_model(request, obj)
        services.unavailability_edited(spans=[span], by=request.user)

    def delete_queryset(self, request, queryset):
        spans = list(queryset.values_list("user_id", "start", "end"))
        super().delete_queryset(request, queryset)
        services.unavailability_edited(spans=spans, by=request.user)


@admin.register(CalendarSource)
class CalendarSourceAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "kind", "status", "last_imported_at", "imported_count"]
    list_filter = ["kind", "status"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    # The address is a credential to someone's whole calendar: not shown to admins either.
    exclude = ["url"]
    readonly_fields = [
        "url_hint",
        "last_error",
        "last_attempt_at",
        "last_imported_at",
        "imported_count",
    ]


@admin.register(AvailabilityLock)
class AvailabilityLockAdmin(admin.ModelAdmin):
    list_display = ["team", "period_start", "period_end", "locked_by", "locked_at"]
    list_filter = ["team"]
    list_select_related = ["team", "locked_by"]
    raw_id_fields = ["locked_by"]


@admin.register(ProjectAllocation)
class ProjectAllocationAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "project", "period_start", "period_end", "percent"]
    list_filter = ["team"]
    list_select_related = ["user", "team"]
    raw_id_fields = ["user", "set_by"]


@admin.register(TeamAvailabilitySettings)
class TeamAvailabilitySettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "engineers_set_allocation"]
    list_select_related = ["team"]
