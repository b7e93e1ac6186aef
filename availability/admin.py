from django.contrib import admin

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
