from django.apps import AppConfig


class RotationConfig(AppConfig):
    name = "rotation"
    verbose_name = "Rotations and rosters"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        from . import api_access, signals  # noqa: F401 - signals: its receivers connect

        # Kept on-call responses are granted to a token under a stamp renewed by every write
        # that could change who may read what (a revoked token, a member who left).
        connection_created.connect(api_access.watch, dispatch_uid="rotation.api_access")
        for connection in connections.all(initialized_only=True):
            api_access.watch(sender=None, connection=connection)
