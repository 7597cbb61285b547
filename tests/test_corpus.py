"""Loading: every input becomes a document or a reject with a one-line reason, never a crash."""

import gzip
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from toolkit.corpus import (
    DOCUMENT_COLUMNS,
    LoadLimits,
    ManifestError,
    apply_manifest,
    decode_bytes,
    load_documents,
    normalize_text,
    read_manifest,
    relative_source_paths,
)

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


def load(paths, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs, rejects = load_documents(paths, **kw)
    return docs, rejects, [str(w.message) for w in caught]


def test_bundled_corpus_loads_as_five_utf8_page_dumps():
    docs, rejects, _ = load(RAW)
    assert list(docs.columns) == DOCUMENT_COLUMNS
    assert docs["doc_id"].tolist() == [
        "000_a1fb5527ba674ec0", "001_5fb1e9cc04ceade5", "002_e7cf198c34dc2028",
        "003_b63af3b6e6b2829a", "004_70a8d252e6705c76",
    ]
    assert set(docs["format"]) == {"txt"}
    assert set(docs["encoding"]) == {"utf-8"}
    assert docs["n_bytes"].tolist() == [p.stat().st_size for p in sorted(RAW.glob("*.txt"))]
    assert rejects.empty
    assert "“coalition of the willing”" in docs.loc[0, "raw_text"]  # curly quotes kept


@pytest.mark.parametrize(
    "data, encoding, expected",
    [
        ("Café “quoted” — fine".encode("utf-8"), "utf-8", "Café “quoted” — fine"),
        ("\ufeffCafé".encode("utf-8"), "utf-8-sig", "Café"),
        ("Café “q”".encode("utf-16"), "utf-16", "Café “q”"),
        ("Café only".encode("utf-16-le"), "utf-16-le", "Café only"),
        ("Café “q” – €5".encode("cp1252"), "cp1252", "Café “q” – €5"),
        (b"caf\xe9 \x81", "latin-1", "caf\xe9 \x81"),
    ],
)
def test_encodings_are_detected(data, encoding, expected):
    assert decode_bytes(data) == (expected, encoding)


def test_normalisation_nfc_line_endings_and_invisible_characters():
    assert normalize_text("Cafe\u0301\r\nline\rtwo\u00a0x\u200b") == "Café\nline\ntwo x"


def test_hostile_files_become_rejects_with_one_line_reasons(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\n \t\n")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "report.txt").write_bytes(b"%PDF-1.7 rest")
    (tmp_path / "huge.txt").write_bytes(b"x" * 20_000_001)
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    docs, rejects, warned = load(tmp_path)
    assert docs.empty
    reasons = dict(zip(rejects["source_path"].map(lambda p: Path(p).name), rejects["reason"]))
    assert reasons == {
        "binary.txt": "binary file: contains NUL bytes and is not UTF-16 text",
        "blank.txt": "empty file (only whitespace)",
        "empty.txt": "empty file (0 bytes)",
        "huge.txt": "file is 20.0 MB, over the 10 MB limit (raise LoadLimits to load it)",
        "notes.docx": "unsupported file type '.docx' (expected .txt, .md, .html, .htm, .csv, .jsonl, .json)",
        "report.txt": "binary file: looks like a PDF file, not text",
    }
    assert all("\n" not in r for r in reasons.values())
    assert len(warned) == 6 and all(Path(p).name in w for p, w in zip(rejects["source_path"], warned))


def test_a_20_mb_single_line_is_rejected_by_the_article_length_limit(tmp_path):
    (tmp_path / "line.txt").write_bytes(b"word " * 4_000_000)
    docs, rejects, _ = load(tmp_path, limits=LoadLimits(max_bytes=50_000_000))
    assert docs.empty
    assert rejects["reason"].tolist() == ["text is 20,000,000 characters, over the 2,000,000 limit for one article"]


def test_missing_path_and_empty_glob_are_rejects(tmp_path):
    docs, rejects, _ = load([tmp_path / "nope.txt", str(tmp_path / "*.csv")])
    assert docs.empty
    assert rejects["reason"].tolist() == ["file not found", "glob pattern matched no files"]


def test_utf16_and_cp1252_page_dumps_load_and_normalise(tmp_path):
    (tmp_path / "a.txt").write_bytes("Title\r\n\r\nKyiv’s “plan”.\r\n".encode("utf-16"))
    (tmp_path / "b.md").write_bytes("Déjà vu – “yes”\r\n".encode("cp1252"))
    docs, rejects, _ = load(tmp_path)
    assert rejects.empty
    assert docs[["doc_id", "format", "encoding", "raw_text"]].values.tolist() == [
        ["a", "txt", "utf-16", "Title\n\nKyiv’s “plan”.\n"],
        ["b", "md", "cp1252", "Déjà vu – “yes”\n"],
    ]


def test_html_is_extracted_with_trafilatura_keeping_metadata(tmp_path):
    body = " ".join(["The minister said the talks would continue next week in Geneva."] * 6)
    html = f"""<html><head><title>Talks resume | The Daily</title>
    <meta property="og:site_name" content="The Daily"><meta name="author" content="Ana Ruiz">
    <meta property="article:published_time" content="2025-09-10T10:00:00Z">
    <script>alert("x")</script><style>p{{color:red}}</style></head>
    <body><nav><a href="/">Home</a><a href="/world">World</a></nav>
    <article><h1>Talks resume</h1><p>{body}</p><p>{body}</p></article>
    <footer>© The Daily. Subscribe now!</footer><script>var tracking = 1;</script></body></html>"""
    (tmp_path / "page.html").write_text(html)
    (tmp_path / "scripts.html").write_text("<html><script>" + "var a=1;" * 1000 + "</script></html>")
    docs, rejects, _ = load(tmp_path)
    assert docs["doc_id"].tolist() == ["page"]
    row = docs.iloc[0]
    assert row["format"] == "html"
    assert row["raw_text"].startswith("The minister said")
    assert "alert" not in row["raw_text"] and "tracking" not in row["raw_text"] and "Subscribe" not in row["raw_text"]
    assert (row["outlet"], row["author"], row["published"]) == ("The Daily", "Ana Ruiz", "2025-09-10")
    assert rejects["reason"].tolist() == ["no article text found in the HTML (trafilatura extracted nothing)"]


def test_csv_export_rows_become_documents_and_bad_rows_rejects(tmp_path):
    csv_text = (
        "id,headline,body,media_name,publish_date,url\n"
        "1,First,\"Para one.\n\nPara two, with a comma.\",Outlet A,2025-01-02,http://a/1\n"
        "2,Second,,Outlet B,2025-01-03,http://b/2\n"
        "3,Third,Too,many,fields,here,oops\n"
        "4,Fourth,=HYPERLINK(\"x\") text,Outlet A,,\n"
    )
    (tmp_path / "export.csv").write_text(csv_text)
    docs, rejects, _ = load(tmp_path)
    assert docs[["doc_id", "title", "outlet", "published", "url"]].values.tolist() == [
        ["export-1", "First", "Outlet A", "2025-01-02", "http://a/1"],
        ["export-4", "Fourth", "Outlet A", None, None],
    ]
    assert docs.loc[0, "raw_text"] == "Para one.\n\nPara two, with a comma."
    assert docs.loc[0, "source_path"].endswith("export.csv#row=2")
    assert rejects["reason"].tolist() == ["row 3: empty text", "row 4: expected 6 fields, found 7"]


def test_csv_without_a_text_column_is_one_reject(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    docs, rejects, _ = load(tmp_path)
    assert docs.empty
    assert rejects["reason"].tolist() == [
        "no text column (looked for text, body, content, article, article_text, full_text, maintext, story_text; found a, b)"
    ]


def test_jsonl_malformed_lines_are_rejected_one_by_one(tmp_path):
    lines = [
        json.dumps({"text": "Alpha text.", "title": "A", "outlet": "X"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"text": "Beta text.", "authors": ["Kim", "Lee"]}),
    ]
    with gzip.open(tmp_path / "feed.jsonl.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    docs, rejects, _ = load(tmp_path)
    assert docs[["format", "title", "author", "raw_text"]].values.tolist() == [
        ["jsonl", "A", None, "Alpha text."],
        ["jsonl", None, "Kim; Lee", "Beta text."],
    ]
    assert rejects["reason"].tolist() == [
        "line 2: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 3 is not an object with named fields",
    ]


def test_json_document_and_duplicate_texts_get_distinct_ids(tmp_path):
    (tmp_path / "dump.json").write_text(json.dumps({"articles": [{"content": "Same."}, {"content": "Same."}]}))
    (tmp_path / "broken.json").write_text("{")
    docs, rejects, _ = load(tmp_path)
    assert len(docs) == 2 and docs["doc_id"].is_unique
    assert docs["doc_id"].iloc[1] == docs["doc_id"].iloc[0] + "-2"
    assert rejects["reason"].tolist() == ["invalid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"]


def test_manifest_validation_names_the_line(tmp_path):
    m = tmp_path / "corpus.csv"
    m.write_text("file,outlet,published\na.txt,X,2025-01-01\nb.txt,Y,10 Sep 2025\n")
    with pytest.raises(ManifestError, match=r"corpus.csv, line 3: published '10 Sep 2025' is not an ISO date"):
        read_manifest(m)
    m.write_text("file,publisher\na.txt,X\n")
    with pytest.raises(ManifestError, match=r"line 1: columns must be"):
        read_manifest(m)
    m.write_text("file,outlet\na.txt,X\na.txt,Y\n")
    with pytest.raises(ManifestError, match=r"line 3: 'a.txt' already listed on line 2"):
        read_manifest(m)


def test_manifest_overrides_only_non_empty_cells_and_warns_on_unknown_files(tmp_path):
    m = tmp_path / "corpus.csv"
    m.write_text("file,outlet,published,author\na.txt,Outlet A,,Jo\nghost.txt,Z,,\n")
    documents = pd.DataFrame({"doc_id": ["a", "b"], "source_path": ["/x/a.txt", "/x/b.txt"]})
    articles = pd.DataFrame({"doc_id": ["a", "b"], "outlet": [None, "B"], "published": ["2024-01-01", None],
                             "url": [None, None], "byline": [None, None], "title": ["T", "U"]})
    with pytest.warns(UserWarning, match="'ghost.txt' is not among the loaded inputs"):
        out = apply_manifest(articles, documents, read_manifest(m))
    assert out[["outlet", "published", "byline"]].values.tolist() == [["Outlet A", "2024-01-01", "Jo"], ["B", None, None]]


def test_bundled_manifest_is_valid_and_covers_every_file():
    manifest = read_manifest(ROOT / "data" / "corpus.csv")
    assert sorted(manifest["file"]) == sorted(p.name for p in RAW.glob("*.txt"))
    assert manifest.set_index("file").loc["001_5fb1e9cc04ceade5.txt", "published"] == "2025-09-10"


def test_articles_without_outlet_each_get_their_own_placeholder():
    from toolkit.corpus import fill_unknown_outlets

    articles = pd.DataFrame({"doc_id": ["a", "b", "c"], "outlet": [None, "Known", " "]})
    assert fill_unknown_outlets(articles)["outlet"].tolist() == ["(unknown: a)", "Known", "(unknown: c)"]


def test_source_paths_are_made_relative_to_the_project_with_their_row_kept(tmp_path):
    inside = tmp_path / "data" / "raw" / "export.csv"
    table = pd.DataFrame({"source_path": [f"{inside}#row=2", f"{inside}#row=10", str(tmp_path / "data" / "a.txt"),
                                          "/elsewhere/b.txt"]})
    assert relative_source_paths(table, tmp_path)["source_path"].tolist() == [
        "data/raw/export.csv#row=2", "data/raw/export.csv#row=10", "data/a.txt", "/elsewhere/b.txt"]
    assert relative_source_paths(table.head(0), tmp_path).empty
