from django.contrib import admin

from .models import Heartbeat, Membership, Person, Roster, Rotation, RotationMember, Shift, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone", "country", "phone", "mentor"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    list_select_related = ["user", "mentor"]
    autocomplete_fields = ["user", "mentor"]
    exclude = ["feed_token"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "fte"]
    list_filter = ["team", "role"]
    list_select_related = ["user", "team"]


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "pattern", "time_zone", "handoff_time"]
    list_filter = ["team", "pattern"]
    list_select_related = ["team"]
    inlines = [RotationMemberInline]


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0
    fields = ["role", "start", "end", "assignee", "sequence", "overridden"]
    raw_id_fields = ["assignee"]


@admin.register(Roster)
class RosterAdmin(admin.ModelAdmin):
    list_display = ["rotation", "period_start", "period_end", "status", "version", "published_at"]
    list_filter = ["status", "rotation"]
    list_select_related = ["rotation__team"]
    inlines = [ShiftInline]


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["roster", "role", "start", "end", "assignee"]
    list_filter = ["role", "roster__status"]
    list_select_related = ["roster__rotation__team", "assignee"]
    raw_id_fields = ["assignee", "roster"]


admin.site.register(Heartbeat)
