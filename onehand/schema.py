"""OpenAPI schema tweaks (drf-spectacular extensions), imported by onehand.urls."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension


class WallClockTimeField(OpenApiSerializerFieldExtension):
    """DRF's TimeField: a wall-clock time such as a rotation's handoff "09:00:00", in the
    rotation's own zone and so without an offset. drf-spectacular documents it as
    `format: time`, which JSON Schema reads as RFC 3339 full-time and so requires an offset
    ("09:00:00Z"): every response failed its own schema (found by tests/test_schemathesis.py)."""

    target_class = "rest_framework.fields.TimeField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
            "example": "09:00:00",
        }
