"""Specifications for toolkit.clean: page dumps in, article and accounted-for removals out."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toolkit.clean import REASONS, CleanedPage, clean_documents, clean_page, furniture_lines

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"

PARA1 = ("The city council voted on Tuesday to expand the bus network to three new districts, "
         "a plan that officials said would cut commuting times for thousands of residents.")
PARA2 = ("Supporters of the measure argued that the expansion was long overdue, while critics "
         "warned that the cost of the project could rise well above the initial estimate.")
PARA3 = ("The first new routes are expected to open next spring, and the council will review "
         "the budget again in the autumn before any further lines are approved.")

PAGE = "\n".join([
    "Home",
    "News",
    "Sports",
    "Opinion",
    "BREAKING: Storm warning issued for coastal towns",
    "",
    "City expands bus network to three districts",
    "",
    "Council approves a plan that officials say will cut commuting times for thousands",
    "By Jane Doe",
    "March 4, 2024",
    "",
    PARA1,
    "",
    "Photo: Buses wait at the central depot. (Getty Images)",
    "",
    PARA2,
    "",
    "What comes next",
    "",
    PARA3,
    "",
    "Share",
    "Related stories",
    "Mayor announces new parks plan",
    "Schools face budget cuts",
    "Sign up for our daily newsletter",
    "© 2024 Example News. All rights reserved.",
])


@pytest.fixture(scope="module")
def page() -> CleanedPage:
    return clean_page(PAGE)


def _accounted(text: str, page: CleanedPage) -> None:
    """Every non-blank input line is a paragraph or a removed line, exactly once."""
    lines = {i + 1: raw for i, raw in enumerate(text.split("\n")) if raw.strip()}
    removed = {r.line_no: r for r in page.removed}
    assert len(removed) == len(page.removed)
    for r in page.removed:
        assert lines[r.line_no] == r.text
        assert r.reason in REASONS
    kept = [lines[n].strip() for n in sorted(set(lines) - set(removed))]
    assert kept == [p.text for p in page.paragraphs]


def test_made_up_page_metadata(page):
    assert page.title == "City expands bus network to three districts"
    assert page.dek == "Council approves a plan that officials say will cut commuting times for thousands"
    assert page.byline == "Jane Doe"
    assert page.published == "2024-03-04"


def test_made_up_page_body(page):
    assert [(p.text, p.is_heading) for p in page.paragraphs] == [
        (PARA1, False), (PARA2, False), ("What comes next", True), (PARA3, False)]
    assert page.body == "\n\n".join([PARA1, PARA2, "What comes next", PARA3])


def test_made_up_page_reasons(page):
    reasons = {r.text: r.reason for r in page.removed}
    assert reasons["Home"] == "menu"
    assert reasons["City expands bus network to three districts"] == "title"
    assert reasons["By Jane Doe"] == "byline"
    assert reasons["March 4, 2024"] == "date"
    assert reasons["Photo: Buses wait at the central depot. (Getty Images)"] == "caption"
    assert reasons["Share"] == "share"
    assert reasons["Related stories"] == "teaser"
    assert reasons["Mayor announces new parks plan"] == "teaser"
    assert reasons["Sign up for our daily newsletter"] == "newsletter"
    assert reasons["© 2024 Example News. All rights reserved."] == "footer"
    _accounted(PAGE, page)


def test_empty_and_blank_pages():
    for text in ("", "\n\n  \n"):
        page = clean_page(text)
        assert page.paragraphs == () and page.removed == () and page.title is None and page.body == ""


def test_furniture_lines_skip_shared_prose():
    a = "Menu\nSubscribe\n" + PARA1 + "\nOnly here"
    b = "Menu\nSubscribe\n" + PARA1 + "\nSomething else"
    assert furniture_lines([a, b]) == frozenset({"menu", "subscribe"})
    assert furniture_lines([a, b], min_pages=3) == frozenset()


def test_furniture_marks_repeated_lines():
    text = "Trending Topics Today\n" + PAGE
    page = clean_page(text, furniture=frozenset({"trending topics today"}))
    assert page.removed[0] == page.removed[0].__class__(1, "Trending Topics Today", "repeated-across-pages")
    _accounted(text, page)


def test_clean_documents_tables():
    docs = pd.DataFrame({
        "doc_id": ["a", "b"],
        "source_path": ["a.txt", "b.csv"],
        "format": ["txt", "csv"],
        "raw_text": [PAGE, "First paragraph here.\n\nSecond one\ncontinues."],
        "encoding": ["utf-8", "utf-8"],
        "n_bytes": [len(PAGE), 40],
        "title": [None, "Given title"],
        "outlet": ["Example News", None],
    })
    articles, removed, paragraphs = clean_documents(docs)
    assert list(articles.columns) == ["doc_id", "outlet", "title", "dek", "byline", "published", "url",
                                      "source_credit", "text", "n_words"]
    assert list(articles["doc_id"]) == ["a", "b"]
    assert articles.loc[0, "outlet"] == "Example News"
    assert articles.loc[0, "title"] == "City expands bus network to three districts"
    assert articles.loc[1, "title"] == "Given title"
    assert articles.loc[1, "text"] == "First paragraph here.\n\nSecond one continues."
    assert articles.loc[1, "n_words"] == 6
    assert list(removed.columns) == ["doc_id", "line_no", "text", "reason"]
    assert set(removed["doc_id"]) == {"a"}
    assert list(paragraphs.columns) == ["doc_id", "para_id", "text", "is_heading", "start", "end"]
    for doc_id, group in paragraphs.groupby("doc_id"):
        text = articles.set_index("doc_id").loc[doc_id, "text"]
        assert list(group["para_id"]) == list(range(len(group)))
        assert all(text[s:e] == t for s, e, t in zip(group["start"], group["end"], group["text"]))


def test_clean_documents_with_given_furniture_matches_whole_corpus():
    texts = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(RAW.glob("*.txt"))}
    docs = pd.DataFrame({"doc_id": list(texts), "format": "txt", "raw_text": list(texts.values())})
    whole = clean_documents(docs)
    furniture = furniture_lines(texts.values())
    subset = docs[docs["doc_id"].isin(["001", "003"])].reset_index(drop=True)
    part = clean_documents(subset, furniture=furniture)
    alone = clean_documents(subset)
    for table_whole, table_part, table_alone in zip(whole, part, alone):
        expected = table_whole[table_whole["doc_id"].isin(["001", "003"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(table_part, expected)
    assert not whole[1][whole[1]["doc_id"] == "001"].reset_index(drop=True).equals(
        alone[1][alone[1]["doc_id"] == "001"].reset_index(drop=True))


def test_empty_furniture_disables_corpus_furniture():
    docs = pd.DataFrame({"doc_id": ["a", "b"], "format": "txt",
                         "raw_text": ["Trending Topics Today\n" + PAGE, "Trending Topics Today\nOther page"]})
    removed = clean_documents(docs)[1]
    assert removed.iloc[0].tolist() == ["a", 1, "Trending Topics Today", "repeated-across-pages"]
    removed = clean_documents(docs, furniture=frozenset())[1]
    assert removed.iloc[0].tolist() == ["a", 1, "Trending Topics Today", "menu"]


def test_stopwords_follow_page_language():
    from toolkit.clean import _page_lines

    portuguese = ("O governo anunciou nesta terça-feira que vai ampliar a rede de ônibus para três novos bairros, "
                  "uma medida que deve reduzir o tempo de viagem de milhares de moradores da cidade.")
    line = _page_lines(portuguese)[0]
    assert line.stop_density > 0.3
    english = _page_lines(PARA1)[0]
    assert english.stop_density > 0.3
    assert _page_lines("Home\nNews")[1].stop_density == 0.0


def test_comments_after_article_are_cut():
    comment = ("I think the council should have voted for this years ago, and the new routes will be "
               "a great help for everyone who works in the city centre.")
    text = "\n".join([PAGE.split("\nShare")[0], "3 Comments", "Reader42", comment, comment.replace("I think", "Honestly,")])
    page = clean_page(text)
    reasons = {r.line_no: r.reason for r in page.removed}
    n = len(text.split("\n"))
    assert [reasons[k] for k in range(n - 3, n + 1)] == ["comments"] * 4
    assert page.paragraphs[-1].text == PARA3
    _accounted(text, page)


# ---------------------------------------------------------------- bundled corpus


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[str, CleanedPage]]:
    texts = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(RAW.glob("*.txt"))}
    furniture = furniture_lines(texts.values())
    return {k: (t, clean_page(t, furniture=furniture)) for k, t in texts.items()}


def _line(text: str, no: int) -> str:
    return text.split("\n")[no - 1].strip()


def test_corpus_titles(corpus):
    assert corpus["000"][1].title == "Is Europe deliberately sabotaging Ukraine War negotiations?"
    assert corpus["001"][1].title == "How Europe is undermining Ukraine war negotiations: RS"
    assert corpus["002"][1].title == "Diplomacy Watch: The musical chairs of security guarantees"
    assert corpus["004"][1].title == ("Europe weighs the deployment of troops to Ukraine contingent on a ceasefire, "
                                      "but will Russia agree?")


def test_corpus_001_metadata(corpus):
    page = corpus["001"][1]
    assert page.byline == "Al Mayadeen English"
    assert page.published == "2025-09-10"
    assert page.source_credit == "Source: Responsible Statecraft"


@pytest.mark.parametrize("doc, first, last", [
    ("000", 11, 37), ("001", 88, 132), ("002", 14, 48), ("003", 1, 9), ("004", 8, 34)])
def test_corpus_first_and_last_paragraphs(corpus, doc, first, last):
    text, page = corpus[doc]
    assert page.paragraphs[0].text == _line(text, first)
    assert page.paragraphs[-1].text == _line(text, last)


def test_corpus_all_article_lines_kept(corpus):
    text, page = corpus["003"]
    assert [p.text for p in page.paragraphs] == [l.strip() for l in text.split("\n") if l.strip()]
    text, page = corpus["000"]
    assert [p.text for p in page.paragraphs] == [_line(text, n) for n in range(11, 38, 2)]


def test_corpus_001_subheadings(corpus):
    text, page = corpus["001"]
    headings = [p.text for p in page.paragraphs if p.is_heading]
    assert headings == [_line(text, n) for n in (92, 100, 112, 120, 128)]


def test_corpus_no_furniture_survives(corpus):
    for text, page in corpus.values():
        body = page.body
        for needle in ("Blinken", "Kim Jong Un", "Gustavo Petro", "keep reading", "Subscribe", "Dear RS readers",
                       "Top image credit", "Related News", "All Rights Reserved", "Read Next"):
            assert needle not in body
        _accounted(text, page)
