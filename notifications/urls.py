from django.urls import path

from . import views

urlpatterns = [
    path("calendar/", views.calendar_settings, name="calendar-settings"),
    path("calendar/rotate/", views.rotate_feed, name="calendar-rotate"),
    path("calendar/caldav/", views.connect_caldav, name="caldav-connect"),
    path("calendar/caldav/disconnect/", views.disconnect_caldav, name="caldav-disconnect"),
    path("calendar/rotations/<str:token>.ics", views.rotation_feed, name="rotation-feed"),
    path("calendar/<str:token>.ics", views.personal_feed, name="personal-feed"),
    path("rosters/<int:pk>/preview/", views.publish_preview, name="publish-preview"),
    path("deliveries/<int:pk>/retry/", views.retry_delivery, name="delivery-retry"),
    path(
        "rosters/<int:pk>/deliveries/retry/",
        views.retry_roster_deliveries,
        name="roster-deliveries-retry",
    ),
    path("teams/<slug:slug>/chat/", views.team_chat, name="team-chat"),
    path("dev/mail/", views.dev_mail, name="dev-mail"),
    path("dev/mail/<str:name>", views.dev_mail_file, name="dev-mail-file"),
]
