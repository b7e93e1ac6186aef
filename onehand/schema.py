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


ERROR_SCHEMA = {
    "type": "object",
    "description": "What was refused and why: `detail`, a machine `code`, and for a bad value "
    "the field's name with its messages.",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "additionalProperties": True,
}
# Statuses every operation may answer, besides its own success: the DRF exception handler and
# onehand.errors produce them with ERROR_SCHEMA bodies.
ERRORS = {
    "400": "A parameter or field is invalid; the body names it.",
    "401": "Not logged in (no session or token).",
    "403": "Logged in, but not allowed (for example: not a manager of this team).",
    "404": "No such object, or not one of yours.",
    "405": "Method not allowed here.",
    "409": "The current state refuses the request (taken, locked, superseded, a rule broken).",
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: list the error statuses on every operation, so
    the schema says what the API answers (schemathesis' status_code_conformance)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in ERRORS.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": body}
                )
    return result
