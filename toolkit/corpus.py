"""Finding and decoding input files: the ``documents`` and ``rejects`` tables.

This module knows about files, encodings and tabular formats; it knows nothing about
boilerplate or NLP. Every input ends up either as a row of ``documents`` or as a row of
``rejects`` with a one-line, human-readable reason naming the file (and row, for tabular
exports). Nothing raises on bad input and nothing is dropped silently.

Supported inputs
----------------
- page dumps: ``.txt``, ``.md`` (what "select all, copy" on a web page gives);
- HTML: ``.html``, ``.htm`` — the article is extracted with trafilatura, keeping its
  metadata (title, author, date, site name, url);
- tabular exports, one article per row: ``.csv``, ``.jsonl``, ``.json`` (optionally
  ``.gz``-compressed), with a text column and optional title/outlet/date/url/author/id
  columns (Media Cloud, scraper and spreadsheet exports).

Tables
------
``documents``: ``doc_id``, ``source_path``, ``format``, ``raw_text``, ``encoding``,
``n_bytes``, and the source's own metadata where the format carries it: ``title``,
``outlet``, ``published``, ``url``, ``author`` (missing for page dumps).

``rejects``: ``source_path``, ``reason``.

The manifest ``data/corpus.csv`` (columns ``file``, ``outlet``, ``published``, ``url``,
``author``, ``title``) is the reporter's per-file override table; see :func:`read_manifest`
and :func:`apply_manifest`.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import json
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DOCUMENT_COLUMNS = [
    "doc_id",
    "source_path",
    "format",
    "raw_text",
    "encoding",
    "n_bytes",
    "title",
    "outlet",
    "published",
    "url",
    "author",
]
REJECT_COLUMNS = ["source_path", "reason"]
MANIFEST_COLUMNS = ["file", "outlet", "published", "url", "author", "title"]

TEXT_FORMATS = {".txt": "txt", ".md": "md"}
HTML_FORMATS = {".html": "html", ".htm": "html"}
TABULAR_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}

#: Candidate column names in tabular exports, first match wins (case-insensitive).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "content", "article", "article_text", "full_text", "maintext", "story_text"),
    "title": ("title", "headline", "heading"),
    "outlet": ("outlet", "source", "media_name", "publisher", "sitename", "site_name", "site", "domain"),
    "published": ("published", "publish_date", "pub_date", "publication_date", "date", "datetime", "published_at"),
    "url": ("url", "link", "permalink", "guid"),
    "author": ("author", "authors", "byline"),
    "id": ("id", "doc_id", "stories_id", "article_id", "story_id"),
}

_MAGIC = [
    (b"%PDF", "a PDF file"),
    (b"PK\x03\x04", "a ZIP archive (e.g. .docx/.xlsx)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file"),
]
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\u2060\ufeff]")
"""Zero-width and stray control characters (not tab or newline): removed from every text."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class LoadLimits:
    """Size limits that turn absurd inputs into rejects instead of memory blow-ups.

    ``max_bytes``: largest page dump or HTML file accepted (one article).
    ``max_table_bytes``: largest tabular export accepted (many articles).
    ``max_chars``: longest single article text accepted (any format).
    """

    max_bytes: int = 10_000_000
    max_table_bytes: int = 2_000_000_000
    max_chars: int = 2_000_000


class RejectError(Exception):
    """An input that cannot become a document; the message is the one-line reason."""


# --------------------------------------------------------------------------- discovery


def find_inputs(paths: str | Path | Iterable[str | Path]) -> tuple[list[Path], list[dict]]:
    """Expand folders, globs and paths into a sorted list of files.

    Folders are searched recursively for supported extensions; hidden files and folders
    are skipped. A path that does not exist, or a glob that matches nothing, becomes a
    reject. Returns ``(files, rejects)`` with files in a stable (sorted, de-duplicated)
    order.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    rejects: list[dict] = []
    for item in paths:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            files.extend(found)
        elif p.is_file():
            files.append(p)
        elif glob.has_magic(text):
            matched = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matched:
                rejects.append({"source_path": text, "reason": "glob pattern matched no files"})
            files.extend(matched)
        else:
            rejects.append({"source_path": text, "reason": "file not found"})
    unique = list(dict.fromkeys(files))
    return unique, rejects


def input_format(path: Path) -> str | None:
    """Return the format name for a path (``txt``, ``md``, ``html``, ``csv``, ``jsonl``, ``json``) or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if not suffixes:
        return None
    ext = suffixes[-1]
    return TEXT_FORMATS.get(ext) or HTML_FORMATS.get(ext) or TABULAR_FORMATS.get(ext)


# --------------------------------------------------------------------------- decoding


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode bytes of a text file, returning ``(text, encoding)``.

    Order of evidence: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32); UTF-16 without a
    BOM recognised by its pattern of NUL bytes; strict UTF-8; then cp1252 (the Windows
    superset of Latin-1 that most "ANSI" exports use); Latin-1 last, which decodes any
    byte string. Hand-written because the order matters for news text: statistical
    detectors (charset-normalizer, chardet) mislabel short English UTF-8/cp1252 texts.

    Raises :class:`RejectError` for binary data (known magic numbers, NUL bytes that
    are not UTF-16, or many control characters).
    """
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise RejectError(f"binary file: looks like {what}, not text")
    boms = [
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ]
    for bom, enc in boms:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as err:
                raise RejectError(f"starts with a {enc} byte-order mark but does not decode as {enc}: {err.reason}") from None
    sample = data[:4096]
    if b"\x00" in sample:
        even = sample[0::2].count(0)
        odd = sample[1::2].count(0)
        half = len(sample) / 2
        for enc, zeros in (("utf-16-le", odd), ("utf-16-be", even)):
            if zeros > 0.3 * half:
                try:
                    return data.decode(enc), enc
                except UnicodeDecodeError:
                    break
        raise RejectError("binary file: contains NUL bytes and is not UTF-16 text")
    try:
        text, enc = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, enc = data.decode("latin-1"), "latin-1"
    controls = len(_CONTROL.findall(text[:100_000]))
    if controls > max(10, 0.01 * min(len(text), 100_000)):
        raise RejectError(f"binary file: {controls} control characters, not text")
    return text, enc


def normalize_text(text: str) -> str:
    """Normalise decoded text: ``\\n`` line endings, Unicode NFC, no zero-width characters.

    Non-breaking spaces become plain spaces and stray control characters are removed.
    Curly quotes, dashes and ellipses are kept as written: they are evidence.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text).replace("\u00a0", " ")
    return unicodedata.normalize("NFC", text)


def _read_bytes(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size == 0:
        raise RejectError("empty file (0 bytes)")
    if path.suffix.lower() == ".gz":
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
    else:
        if size > limit:
            raise RejectError(f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit (raise LoadLimits to load it)")
        data = path.read_bytes()
    if len(data) > limit:
        raise RejectError(f"file is over the {limit / 1e6:.0f} MB limit once decompressed (raise LoadLimits to load it)")
    return data


def content_id(text: str) -> str:
    """A stable 16-hex-digit id for a text (SHA-256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- per format


def _empty_meta() -> dict:
    return {"title": None, "outlet": None, "published": None, "url": None, "author": None}


def _load_text(path: Path, fmt: str, limits: LoadLimits) -> dict:
    data = _read_bytes(path, limits.max_bytes)
    text, enc = decode_bytes(data)
    text = normalize_text(text)
    if not text.strip():
        raise RejectError("empty file (only whitespace)")
    if len(text) > limits.max_chars:
        raise RejectError(f"text is {len(text):,} characters, over the {limits.max_chars:,} limit for one article")
    return {"doc_id": path.name.split(".")[0], "source_path": str(path), "format": fmt, "raw_text": text,
            "encoding": enc, "n_bytes": len(data), **_empty_meta()}


def _load_html(path: Path, limits: LoadLimits) -> dict:
    import trafilatura

    data = _read_bytes(path, limits.max_bytes)
    html, enc = decode_bytes(data)
    if not html.strip():
        raise RejectError("empty file (only whitespace)")
    result = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False, as_dict=True
    )
    body = normalize_text((result or {}).get("text") or "")
    if not body.strip():
        raise RejectError("no article text found in the HTML (trafilatura extracted nothing)")
    meta = result or {}
    paragraphs = [line.strip() for line in body.split("\n") if line.strip()]
    title = (meta.get("title") or "").strip()
    if len(paragraphs) > 1 and title and paragraphs[0].casefold() == title.casefold():
        paragraphs = paragraphs[1:]
    return {
        "doc_id": path.name.split(".")[0],
        "source_path": str(path),
        "format": "html",
        "raw_text": "\n\n".join(paragraphs),
        "encoding": enc,
        "n_bytes": len(data),
        "title": meta.get("title"),
        "outlet": meta.get("sitename"),
        "published": meta.get("date"),
        "url": meta.get("url"),
        "author": meta.get("author"),
    }


def _pick_columns(columns: Iterable[str]) -> dict[str, str]:
    lower = {str(c).strip().lower(): c for c in columns}
    picked = {}
    for role, names in COLUMN_ALIASES.items():
        for name in names:
            if name in lower:
                picked[role] = lower[name]
                break
    return picked


def _records_to_documents(
    path: Path, fmt: str, records: Iterator[tuple[int, object]], limits: LoadLimits, enc: str, unit: str
) -> tuple[list[dict], list[dict]]:
    """Turn ``(row_number, record)`` pairs of a tabular export into documents and rejects."""
    docs: list[dict] = []
    rejects: list[dict] = []
    seen: dict[str, int] = {}
    for row_no, record in records:
        where = f"{path}#{unit}={row_no}"
        if isinstance(record, RejectError):
            rejects.append({"source_path": where, "reason": str(record)})
            continue
        if not isinstance(record, dict):
            rejects.append({"source_path": where, "reason": f"{unit} {row_no} is not an object with named fields"})
            continue
        columns = _pick_columns(record.keys())
        if "text" not in columns:
            names = ", ".join(COLUMN_ALIASES["text"])
            found = ", ".join(map(str, record.keys())) or "none"
            if fmt == "csv":
                rejects.append({"source_path": str(path), "reason": f"no text column (looked for {names}; found {found})"})
                return docs, rejects
            rejects.append({"source_path": where, "reason": f"{unit} {row_no}: no text field (looked for {names}; found {found})"})
            continue
        raw = record.get(columns["text"])
        text = normalize_text(str(raw)) if raw is not None and not (isinstance(raw, float) and pd.isna(raw)) else ""
        if not text.strip():
            rejects.append({"source_path": where, "reason": f"{unit} {row_no}: empty text"})
            continue
        if len(text) > limits.max_chars:
            rejects.append({"source_path": where, "reason": f"{unit} {row_no}: text is {len(text):,} characters, over the {limits.max_chars:,} limit"})
            continue

        def field(role: str) -> str | None:
            value = record.get(columns[role]) if role in columns else None
            if value is None or (isinstance(value, float) and pd.isna(value)):
                return None
            if isinstance(value, list):
                value = "; ".join(map(str, value))
            value = normalize_text(str(value)).strip()
            return value or None

        ident = field("id")
        base = f"{path.name.split('.')[0]}-{ident}" if ident else f"{path.name.split('.')[0]}-{content_id(text)}"
        seen[base] = seen.get(base, 0) + 1
        doc_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        docs.append({
            "doc_id": doc_id, "source_path": where, "format": fmt, "raw_text": text, "encoding": enc,
            "n_bytes": len(text.encode("utf-8")), "title": field("title"), "outlet": field("outlet"),
            "published": field("published"), "url": field("url"), "author": field("author"),
        })
    return docs, rejects


def _csv_records(text: str) -> Iterator[tuple[int, object]]:
    """Yield ``(row_number, dict | RejectError)`` for a CSV text; malformed rows become errors.

    The csv module rather than ``pandas.read_csv`` because malformed rows must be reported
    one by one with their row number, not skipped or fatal.
    """
    try:
        dialect = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return
    header = [h.strip() for h in header]
    row_no = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            row_no += 1
            yield row_no, RejectError(f"row {row_no}: malformed CSV ({err})")
            continue
        row_no += 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield row_no, RejectError(f"row {row_no}: expected {len(header)} fields, found {len(row)}")
            continue
        yield row_no, dict(zip(header, row))


def _jsonl_records(text: str) -> Iterator[tuple[int, object]]:
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as err:
            yield line_no, RejectError(f"line {line_no}: invalid JSON ({err.msg} at column {err.colno})")


def _json_records(text: str) -> Iterator[tuple[int, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RejectError(f"invalid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if isinstance(data, dict):
        for key in ("articles", "stories", "data", "results", "items", "documents"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise RejectError("JSON is neither a list of articles nor an object holding one")
    yield from enumerate(data, start=1)


def _load_tabular(path: Path, fmt: str, limits: LoadLimits) -> tuple[list[dict], list[dict]]:
    data = _read_bytes(path, limits.max_table_bytes)
    text, enc = decode_bytes(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise RejectError("empty file (only whitespace)")
    if fmt == "csv":
        records, unit = _csv_records(text), "row"
    elif fmt == "jsonl":
        records, unit = _jsonl_records(text), "line"
    else:
        records, unit = _json_records(text), "item"
    docs, rejects = _records_to_documents(path, fmt, records, limits, enc, unit)
    if not docs and not rejects:
        rejects.append({"source_path": str(path), "reason": "no rows (only a header, or nothing)"})
    return docs, rejects


# --------------------------------------------------------------------------- public API


def load_documents(
    paths: str | Path | Iterable[str | Path], *, limits: LoadLimits = LoadLimits()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load inputs into the ``documents`` and ``rejects`` tables.

    ``paths``: a folder (searched recursively), a glob pattern, a file, or a list of them.
    Every file (and every row of a tabular export) becomes a document or a reject; a
    warning naming the file is issued for each reject. ``doc_id`` is the file name up to
    its first dot for files and ``<file stem>-<id column or content hash>`` for rows;
    clashes get a ``-2``, ``-3`` … suffix in input order.
    """
    files, rejects = find_inputs(paths)
    docs: list[dict] = []
    for path in files:
        fmt = input_format(path)
        try:
            if fmt is None:
                raise RejectError(f"unsupported file type '{''.join(path.suffixes) or path.name}' (expected .txt, .md, .html, .htm, .csv, .jsonl, .json)")
            if fmt in ("txt", "md"):
                docs.append(_load_text(path, fmt, limits))
            elif fmt == "html":
                docs.append(_load_html(path, limits))
            else:
                new_docs, new_rejects = _load_tabular(path, fmt, limits)
                docs.extend(new_docs)
                rejects.extend(new_rejects)
        except RejectError as err:
            rejects.append({"source_path": str(path), "reason": str(err)})
        except OSError as err:
            rejects.append({"source_path": str(path), "reason": f"cannot read file: {err.strerror or err}"})
    documents = pd.DataFrame(docs, columns=DOCUMENT_COLUMNS)
    counts: dict[str, int] = {}
    ids = []
    for doc_id in documents["doc_id"]:
        counts[doc_id] = counts.get(doc_id, 0) + 1
        ids.append(doc_id if counts[doc_id] == 1 else f"{doc_id}-{counts[doc_id]}")
    documents["doc_id"] = ids
    documents["n_bytes"] = documents["n_bytes"].astype("int64")
    rejects_df = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    for row in rejects_df.itertuples():
        warnings.warn(f"{row.source_path}: {row.reason}", stacklevel=2)
    return documents, rejects_df


class ManifestError(ValueError):
    """A problem in the manifest file; the message names the file and line."""


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate the manifest ``data/corpus.csv``.

    Columns: ``file`` (required; a file name, matched against the input file names) and
    any of ``outlet``, ``published`` (ISO ``YYYY-MM-DD``), ``url``, ``author``, ``title``.
    Empty cells mean "no override". Raises :class:`ManifestError` naming the line for an
    unknown column, a missing file name, a duplicate file, or a malformed date.
    """
    path = Path(path)
    text = normalize_text(decode_bytes(path.read_bytes())[0]) if path.stat().st_size else ""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return pd.DataFrame(columns=MANIFEST_COLUMNS)
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    if unknown or "file" not in header:
        raise ManifestError(f"{path}, line 1: columns must be {', '.join(MANIFEST_COLUMNS)} ('file' required); found {', '.join(header)}")
    records = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ManifestError(f"{path}, line {line_no}: expected {len(header)} fields, found {len(row)}")
        rec = {h: (cell.strip() or None) for h, cell in zip(header, row)}
        if not rec["file"]:
            raise ManifestError(f"{path}, line {line_no}: 'file' is empty")
        if rec["file"] in seen:
            raise ManifestError(f"{path}, line {line_no}: '{rec['file']}' already listed on line {seen[rec['file']]}")
        seen[rec["file"]] = line_no
        if rec.get("published") and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", rec["published"]):
            raise ManifestError(f"{path}, line {line_no}: published '{rec['published']}' is not an ISO date (YYYY-MM-DD)")
        records.append(rec)
    return pd.DataFrame(records, columns=MANIFEST_COLUMNS).reindex(columns=MANIFEST_COLUMNS)


def apply_manifest(articles: pd.DataFrame, documents: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """Override article metadata with the manifest's non-empty cells.

    A manifest row applies to every document whose source file name equals its ``file``
    (so one row can set the outlet of a whole CSV export). ``author`` overrides
    ``byline``. Manifest rows naming files that are not in the corpus trigger a warning.
    Returns a new ``articles`` table.
    """
    out = articles.copy()
    if manifest.empty:
        return out
    file_of = documents.set_index("doc_id")["source_path"].map(lambda p: Path(str(p).split("#")[0]).name)
    names = out["doc_id"].map(file_of)
    target = {"outlet": "outlet", "published": "published", "url": "url", "author": "byline", "title": "title"}
    for rec in manifest.itertuples(index=False):
        hit = names == rec.file
        if not hit.any():
            warnings.warn(f"manifest: '{rec.file}' is not among the loaded inputs", stacklevel=2)
            continue
        for column, dest in target.items():
            value = getattr(rec, column)
            if value is not None and not (isinstance(value, float) and pd.isna(value)):
                out.loc[hit, dest] = value
    return out


def fill_unknown_outlets(articles: pd.DataFrame) -> pd.DataFrame:
    """Give each article without a known outlet its own placeholder, ``(unknown: <doc_id>)``.

    Two articles whose outlet neither the page nor the manifest names may come from
    different outlets; pooling them under one "unknown" label would invent an outlet.
    Each stays its own group until the reporter fills the manifest.
    """
    out = articles.copy()
    missing = out["outlet"].isna() | (out["outlet"].astype(str).str.strip() == "")
    out.loc[missing, "outlet"] = "(unknown: " + out.loc[missing, "doc_id"] + ")"
    return out


def relative_source_paths(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    """``source_path`` relative to ``root`` where the file lies inside it (``#row=…`` kept).

    Tables then read the same wherever the project is cloned, so two clones produce
    byte-identical Parquet files. Paths outside ``root`` stay as given.
    """
    root = Path(root).resolve()

    def rel(path: str) -> str:
        try:
            return Path(path).resolve().relative_to(root).as_posix()
        except ValueError:
            return path

    if not len(table):
        return table
    # the rows of one tabular export share its path: each distinct path is resolved once
    parts = table["source_path"].astype(str).str.partition("#")
    relative = {path: rel(path) for path in parts[0].unique()}
    return table.assign(source_path=parts[0].map(relative) + parts[1] + parts[2])
