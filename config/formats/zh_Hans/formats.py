"""Simplified Chinese number formats beyond Django's own: digits grouped by three with a comma,
as CLDR's zh locale writes them (12,345 credits), where Django's data leaves them ungrouped."""

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
