from django.urls import path

from . import views

urlpatterns = [
    path("availability/", views.availability, name="availability"),
    path("availability/mark/", views.mark_days, name="availability-mark"),
    path("availability/entries/", views.add_entry, name="availability-add"),
    path("availability/entries/<int:pk>/delete/", views.delete_entry, name="availability-delete"),
    path("availability/calendars/", views.calendars, name="calendars"),
    path("availability/calendars/add/", views.calendar_add, name="calendar-add"),
    path("availability/calendars/upload/", views.calendar_upload, name="calendar-upload"),
    path("availability/calendars/<int:pk>/", views.calendar_status, name="calendar-status"),
    path(
        "availability/calendars/<int:pk>/refresh/", views.calendar_refresh, name="calendar-refresh"
    ),
    path("availability/calendars/<int:pk>/remove/", views.calendar_remove, name="calendar-remove"),
    path("requirements/<int:pk>/claim/", views.claim, name="requirement-claim"),
    path("requirements/<int:pk>/edit/", views.requirement_edit, name="requirement-edit"),
    path("requirements/<int:pk>/delete/", views.requirement_delete, name="requirement-delete"),
    path(
        "rotations/<int:rotation_pk>/requirements/new/",
        views.requirement_new,
        name="requirement-new",
    ),
    path("qualifications/<int:pk>/withdraw/", views.withdraw, name="qualification-withdraw"),
    path("qualifications/<int:pk>/review/", views.review, name="qualification-review"),
    path("teams/<slug:slug>/readiness/", views.team_readiness, name="team-readiness"),
    path("teams/<slug:slug>/readiness/locks/", views.lock_create, name="lock-create"),
    path(
        "teams/<slug:slug>/readiness/locks/<int:pk>/delete/", views.lock_delete, name="lock-delete"
    ),
    path("teams/<slug:slug>/readiness/allocation/", views.allocation_set, name="allocation-set"),
    path(
        "teams/<slug:slug>/readiness/settings/",
        views.team_settings,
        name="team-availability-settings",
    ),
]
