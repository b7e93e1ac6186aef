from django.urls import path

from . import views

urlpatterns = [
    path("hooks/incidents/<str:token>/", views.hook, name="incident-hook"),
    path("rotations/<int:pk>/incidents/", views.incidents_page, name="rotation-incidents"),
    path(
        "rotations/<int:pk>/incidents/hooks/", views.hook_create, name="incidents-page-hook-create"
    ),
    path(
        "rotations/<int:pk>/incidents/hooks/<int:hook_pk>/revoke/",
        views.hook_revoke,
        name="incidents-page-hook-revoke",
    ),
    path("rotations/<int:pk>/incidents/import/", views.import_incidents, name="incident-import"),
    path("rotations/<int:pk>/incidents/settings/", views.save_settings, name="incident-settings"),
]
