"""DRF parsers with limits: JSON nesting is checked before anything walks the body."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .jsondepth import MAX_JSON_DEPTH, json_depth_ok


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing deep nesting with a 400 instead of a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if not json_depth_ok(text):
            raise ParseError(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
        return super().parse(_BytesStream(raw), media_type, parser_context)


class _BytesStream:
    def __init__(self, raw: bytes):
        self._raw = raw

    def read(self, *args) -> bytes:
        raw, self._raw = self._raw, b""
        return raw
