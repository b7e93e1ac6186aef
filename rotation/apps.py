from django.apps import AppConfig


class RotationConfig(AppConfig):
    name = "rotation"
    verbose_name = "Rotations and rosters"

    def ready(self) -> None:
        from . import events, signals

        events.roster_published.connect(
            signals._on_publish, dispatch_uid="rotation.oncall_cache.publish"
        )
        events.shifts_reassigned.connect(
            signals._on_reassign, dispatch_uid="rotation.oncall_cache.reassign"
        )
