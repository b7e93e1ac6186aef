from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Calendar entries and deliveries"

    def ready(self) -> None:
        from rotation import events

        from . import receivers

        events.roster_published.connect(
            receivers.roster_published, dispatch_uid="notifications.roster_published"
        )
        events.shifts_reassigned.connect(
            receivers.shifts_reassigned, dispatch_uid="notifications.shifts_reassigned"
        )
