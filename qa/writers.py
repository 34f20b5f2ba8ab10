"""Table writers, looked up by name: one class per output format.

Every command that produces tables hands a ``{name: DataFrame}`` mapping to a writer:

- ``table``: rich tables on the terminal (stdout);
- ``md``: Markdown tables (stdout, or ``<stem>.md``);
- ``csv``: one ``<stem>_<table>.csv`` per table (a single table may go to stdout);
- ``json``: one JSON document ``{table: [rows...]}`` (stdout, or ``<stem>.json``);
- ``xlsx``: one workbook, one sheet per table, frozen header row, fitted column widths;
- ``parquet``: one ``<stem>_<table>.parquet`` per table (needs ``pyarrow``).

``get_writer(name)`` raises :class:`~qa.errors.QAError` listing the known formats.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO

from .errors import QAError, UsageError

Tables = Mapping[str, Any]  # name -> pandas.DataFrame


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Text that is only a number (a phone number, "-5") is not escaped: as a formula it is that
# number, and a quote would change it.
_NUMBER_TEXT = re.compile(r"[+-]?[\d\s().,-]*\d[\d\s().,-]*")


def formula_like(value: Any) -> bool:
    """True for text a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``@SUM(..)``)."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _NUMBER_TEXT.fullmatch(value)
    )


def safe_cell(value: Any) -> Any:
    """A cell value safe to open in a spreadsheet: formula-like text gets a leading ``'``.

    Numbers, negative numbers and other values are returned as they are. Every table writer
    that produces spreadsheet files uses it (CSV here; xlsx writes such text as a string cell).

    >>> safe_cell("=HYPERLINK(\"http://x\")"), safe_cell(-3), safe_cell("-3"), safe_cell("ivanov")
    ('\'=HYPERLINK("http://x")', -3, '-3', 'ivanov')
    """
    return "'" + value if formula_like(value) else value


def safe_frame(df: Any) -> Any:
    """``df`` with :func:`safe_cell` applied to its text columns (a copy when anything changed)."""
    out = df
    for col in df.columns:
        series = df[col]
        if not _may_hold_text(series):
            continue
        mask = series.map(formula_like)
        if mask.any():
            if out is df:
                out = df.copy()
            out[col] = series.where(~mask, series.map(safe_cell))
    return out


def _may_hold_text(series: Any) -> bool:
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    dtype = series.dtype
    return not (is_numeric_dtype(dtype) or is_bool_dtype(dtype) or is_datetime64_any_dtype(dtype))


def frame_records(df: Any) -> list[dict[str, Any]]:
    """DataFrame -> list of plain-JSON dicts (NaN -> null, numpy -> Python)."""
    return [{str(k): _jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


class Writer:
    """Base class. ``write`` returns the files written (empty when it wrote to ``stream``).

    ``per_table=True`` writes one file per table (``<stem>_<table><ext>``, or ``<table><ext>``
    with an empty stem); csv and parquet always do.
    """

    name: ClassVar[str] = ""
    extension: ClassVar[str] = ""
    #: True when the format can go to stdout.
    streams: ClassVar[bool] = True
    #: True for formats made for people (table, md): commands give them readable tables
    #: and header lines; the others get the data as it is.
    for_people: ClassVar[bool] = False
    #: True when the format has one file per table whatever ``per_table`` says.
    always_per_table: ClassVar[bool] = False

    def __init__(self, per_table: bool = False):
        self.per_table = per_table or self.always_per_table

    def write(
        self,
        tables: Tables,
        output: Path | None = None,
        *,
        stem: str = "qa",
        stream: TextIO | None = None,
        header: Sequence[str] = (),
    ) -> list[Path]:
        """Write ``tables`` to ``stream`` (stdout) or, with ``output``, into that folder.

        ``header``: lines shown above the tables by the formats made for people.
        """
        if output is None:
            if not self.streams:
                raise UsageError(f"--format {self.name} writes files; add --output DIR")
            self.write_stream(tables, stream or sys.stdout, header)
            return []
        output.mkdir(parents=True, exist_ok=True)
        if not self.per_table:
            return [self.write_file(tables, output / f"{stem}{self.extension}", header)]
        return [
            self.write_file({title: df}, output / f"{stem + '_' if stem else ''}{title}{self.extension}", header)
            for title, df in tables.items()
        ]

    def write_stream(self, tables: Tables, stream: TextIO, header: Sequence[str] = ()) -> None:
        raise NotImplementedError

    def write_file(self, tables: Tables, path: Path, header: Sequence[str] = ()) -> Path:
        with path.open("w", encoding="utf-8", newline="") as f:
            self.write_stream(tables, f, header)
        return path


class TableWriter(Writer):
    """Rich tables for people at a terminal."""

    name = "table"
    extension = ".txt"
    for_people = True

    def write_stream(self, tables: Tables, stream: TextIO, header: Sequence[str] = ()) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(file=stream, highlight=False, width=max(100, Console().width))
        for line in header:
            console.print(line, markup=False, soft_wrap=True)
        for title, df in tables.items():
            table = Table(title=title.replace("_", " "), title_justify="left")
            for col in df.columns:
                numeric = str(df[col].dtype).startswith(("int", "float", "Int", "Float"))
                table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
            for row in df.itertuples(index=False):
                table.add_row(*(_cell(v) for v in row))
            console.print(table)


def _cell(value: Any) -> str:
    value = _jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


class MarkdownWriter(Writer):
    name = "md"
    extension = ".md"
    for_people = True

    def write_stream(self, tables: Tables, stream: TextIO, header: Sequence[str] = ()) -> None:
        if header:  # two trailing spaces: a Markdown line break
            stream.write("\n".join(f"{h}  " for h in header) + "\n\n")
        for title, df in tables.items():
            stream.write(f"### {title.replace('_', ' ')}\n\n")
            stream.write(markdown_table(df))
            stream.write("\n")


def markdown_table(df: Any) -> str:
    """A GitHub-flavoured Markdown table (no tabulate dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        cells = [_cell(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


class CsvWriter(Writer):
    """CSV, cells escaped with :func:`safe_cell`; files: one per table."""

    name = "csv"
    extension = ".csv"
    always_per_table = True

    def write_stream(self, tables: Tables, stream: TextIO, header: Sequence[str] = ()) -> None:
        for i, (title, df) in enumerate(tables.items()):
            if len(tables) > 1:
                stream.write(("\n" if i else "") + f"# {title}\n")
            safe_frame(df).to_csv(stream, index=False)

    def write_file(self, tables: Tables, path: Path, header: Sequence[str] = ()) -> Path:
        (df,) = tables.values()
        safe_frame(df).to_csv(path, index=False, encoding="utf-8")
        return path


class JsonWriter(Writer):
    name = "json"
    extension = ".json"

    def write_stream(self, tables: Tables, stream: TextIO, header: Sequence[str] = ()) -> None:
        doc = {title: frame_records(df) for title, df in tables.items()}
        json.dump(doc, stream, ensure_ascii=False, indent=2, default=str)
        stream.write("\n")


class XlsxWriter(Writer):
    """One workbook, one sheet per table, frozen header, fitted widths."""

    name = "xlsx"
    extension = ".xlsx"
    streams = False

    def write_file(self, tables: Tables, path: Path, header: Sequence[str] = ()) -> Path:
        write_xlsx(tables, path)
        return path


def write_xlsx(tables: Tables, path: Path) -> None:
    """One workbook, one sheet per table. Text is always a text cell, never a formula
    (``=HYPERLINK(...)`` in a manager's name stays the text it is; see :func:`safe_cell`)."""
    import pandas as pd
    from openpyxl.utils import get_column_letter

    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for title, df in tables.items():
            sheet = _sheet_name(title)
            df.to_excel(xl, sheet_name=sheet, index=False)
            ws = xl.sheets[sheet]
            _text_not_formulas(ws, df)
            ws.freeze_panes = "A2"
            for i, col in enumerate(df.columns, start=1):
                sample = [str(col)] + [str(v) for v in df[col].head(200).tolist()]
                width = min(60, max(8, max(len(s) for s in sample) + 2))
                ws.column_dimensions[get_column_letter(i)].width = width
            if len(df.columns):
                ws.auto_filter.ref = ws.dimensions


def _text_not_formulas(ws: Any, df: Any) -> None:
    # openpyxl stores text starting with "=" as a formula; make those cells (and the header)
    # plain strings. Only the cells that look like formulas are touched: tables are large.
    for j, col in enumerate(df.columns, start=1):
        if formula_like(str(col)):
            ws.cell(row=1, column=j).data_type = "s"
        if not _may_hold_text(df[col]):
            continue
        for i in df[col].map(formula_like).to_numpy().nonzero()[0]:  # positions, not labels
            ws.cell(row=int(i) + 2, column=j).data_type = "s"


def _sheet_name(title: str) -> str:
    bad = '[]:*?/\\'
    name = "".join("_" if ch in bad else ch for ch in title)
    return name[:31] or "sheet"


class ParquetWriter(Writer):
    name = "parquet"
    extension = ".parquet"
    streams = False
    always_per_table = True

    def write_file(self, tables: Tables, path: Path, header: Sequence[str] = ()) -> Path:
        try:
            import pyarrow  # noqa: F401
        except ImportError as e:
            raise QAError("--format parquet needs pyarrow: pip install 'call-qa[parquet]'") from e
        (df,) = tables.values()
        df.to_parquet(path, index=False)
        return path


WRITERS: dict[str, type[Writer]] = {
    w.name: w for w in (TableWriter, MarkdownWriter, CsvWriter, JsonWriter, XlsxWriter, ParquetWriter)
}


def get_writer(name: str, *, per_table: bool = False) -> Writer:
    """The writer of a format by name; ``per_table``: one file per table (see :class:`Writer`)."""
    try:
        return WRITERS[name.lower()](per_table=per_table)
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose one of: {', '.join(WRITERS)}") from None


def render(tables: Tables, fmt: str, header: Sequence[str] = ()) -> str:
    """Render to a string (for tests and for embedding in other outputs)."""
    buf = io.StringIO()
    get_writer(fmt).write(tables, None, stream=buf, header=header)
    return buf.getvalue()
