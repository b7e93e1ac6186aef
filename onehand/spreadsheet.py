"""CSV exports that are safe to open in a spreadsheet."""

FORMULA_PREFIXES = ("=", "+", "-", "@")


def csv_safe(value: str) -> str:
    """Spreadsheets run cells starting with these as formulas; a leading quote defuses them."""
    return "'" + value if value[:1] in FORMULA_PREFIXES else value
