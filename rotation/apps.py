from django.apps import AppConfig


class RotationConfig(AppConfig):
    name = "rotation"
    verbose_name = "Rotations and rosters"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        from . import api_access, events, signals

        events.roster_published.connect(
            signals._on_publish, dispatch_uid="rotation.oncall_cache.publish"
        )
        events.shifts_reassigned.connect(
            signals._on_reassign, dispatch_uid="rotation.oncall_cache.reassign"
        )
        # Kept on-call responses are granted to a token under a stamp renewed by every write
        # that could change who may read what (a revoked token, a member who left).
        connection_created.connect(api_access.watch, dispatch_uid="rotation.api_access")
        for connection in connections.all(initialized_only=True):
            api_access.watch(sender=None, connection=connection)
