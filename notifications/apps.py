from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Calendar entries and deliveries"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun
        from django.db import connections
        from django.db.backends.signals import connection_created

        from availability import events as availability_events
        from rotation import events

        from . import feed_stamp, metrics, receivers, swap_mail

        # Feeds remember their validators under a stamp renewed by every write they show.
        connection_created.connect(feed_stamp.watch, dispatch_uid="notifications.feed_stamp")
        for connection in connections.all(initialized_only=True):
            feed_stamp.watch(sender=None, connection=connection)

        events.roster_published.connect(
            receivers.roster_published, dispatch_uid="notifications.roster_published"
        )
        events.shifts_reassigned.connect(
            receivers.shifts_reassigned, dispatch_uid="notifications.shifts_reassigned"
        )
        events.swap_offers_made.connect(
            swap_mail.offers_made, dispatch_uid="notifications.swap_offers"
        )
        events.swap_needs_manager.connect(
            swap_mail.needs_manager, dispatch_uid="notifications.swap_manager"
        )
        events.swap_awaits_approval.connect(
            swap_mail.awaits_approval, dispatch_uid="notifications.swap_approval"
        )
        events.swap_settled.connect(swap_mail.settled, dispatch_uid="notifications.swap_settled")
        events.swap_offers_closed.connect(
            swap_mail.offers_closed, dispatch_uid="notifications.swap_offers_closed"
        )
        events.swap_rejected.connect(swap_mail.rejected, dispatch_uid="notifications.swap_rejected")
        events.swap_uncovered.connect(
            swap_mail.uncovered, dispatch_uid="notifications.swap_uncovered"
        )
        availability_events.unavailability_changed.connect(
            receivers.unavailability_changed, dispatch_uid="notifications.unavailability_changed"
        )
        task_prerun.connect(metrics.task_started, dispatch_uid="notifications.task_started")
        task_postrun.connect(metrics.task_finished, dispatch_uid="notifications.task_finished")
