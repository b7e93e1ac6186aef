from django.urls import path

from . import manage_views, views

urlpatterns = [
    path("teams/<slug:slug>/", views.team_detail, name="team"),
    path("rotations/<int:pk>/", views.rotation_detail, name="rotation"),
    path("teams/<slug:slug>/settings/", manage_views.team_settings, name="team-settings"),
    path("teams/<slug:slug>/import-history/", manage_views.import_history, name="import-history"),
    path("teams/<slug:slug>/rotations/new/", manage_views.rotation_edit, name="rotation-new"),
    path(
        "teams/<slug:slug>/rotations/<int:pk>/edit/",
        manage_views.rotation_edit,
        name="rotation-edit",
    ),
    path("invitations/<int:pk>/accept/", views.accept_invitation, name="invitation-accept"),
    path("invitations/<int:pk>/decline/", views.decline_invitation, name="invitation-decline"),
    path("rosters/<int:pk>/publish/", manage_views.publish, name="publish"),
    path("rosters/<int:pk>/audit.csv", manage_views.audit_csv, name="audit-csv"),
]
