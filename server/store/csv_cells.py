"""CSV cells a spreadsheet will not run: text starting with ``= + - @`` or a tab or carriage return gets a
leading apostrophe (OWASP "CSV Injection").

Issue 25: a user named ``=HYPERLINK(...)`` saved a scale and the scales CSV wrote
the name as it was; opened in a spreadsheet, such a cell is a formula that runs
(fetches a URL, or worse with DDE). Every CSV the server writes goes through
:func:`csv_writer`. Only text is escaped: numbers (a negative reading) are
written as numbers, since a spreadsheet reads them as values.
"""
from __future__ import annotations

import csv
from typing import IO, Any, Iterable

# The first characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"  # shown as nothing by spreadsheets, and it turns the cell into text


def safe_cell(value: Any) -> Any:
    """``value``, with an apostrophe in front when it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return ESCAPE + value
    return value


class _SafeWriter:
    """A ``csv.writer`` whose rows go through :func:`safe_cell`."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])


def csv_writer(out: IO[str]) -> _SafeWriter:
    """The writer every CSV export uses: RFC 4180 line ends, formula-like text escaped."""
    return _SafeWriter(out)
