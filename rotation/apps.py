from django.apps import AppConfig


class RotationConfig(AppConfig):
    name = "rotation"
    verbose_name = "Rotations and rosters"

    def ready(self) -> None:
        from . import signals  # noqa: F401
