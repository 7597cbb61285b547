"""Specifications of the vectorised corpus-level framing code: each equals the plain per-item
definition it replaces (a regex per term, a regex per frame and sentence, a join per group)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa

import toolkit.framing as fr
from toolkit.framing.distinctive import top_terms
from toolkit.framing.frames import Frame, _cue_regex, match_cues
from toolkit.engine import doc_keys
from toolkit.framing import naming
from toolkit.framing.naming import (
    MAX_CANDIDATE_KEYS,
    _plain_uses,
    evidence,
    form_pattern,
    is_quoted,
    merge_sorted,
    quoted_terms,
    sorted_group_codes,
)
from toolkit.framing.naming import plain_uses as plain_uses_kept
from toolkit.store import Kept

EDGE_TEXTS = [
    "The U.S. and the U.S.-led coalition; U.S.", "U.S.", "“U.S.” is quoted, U.S.A. is not.",
    "ha ha ha ha", "ha ha, ha ha", "Fake news and fake\u00a0news and Fake  news and Fake\nnews.",
    "Kyiv-based Kyiv Kyiv_x x-Kyiv ‘Kyiv’ 'Kyiv's' \"Kyiv\"a “Kyiv”", "Israel's Israel’s Israel",
    "", "AT&T-style deal, AT&T style deal, AT&T-style dealer", "Yes — no. Yes —, Yes —x Yes —",
    "F❤️CK YEAAHHHH and F❤️CK YEAAHHHH!", "Fair (or great) Fair(or great) Fair ( or great)",
    "Zelenskyy Zelenskyy’s cafe\u0301 café 2020 Fair", "\x00Yes —\x00 ha ha", "!!", "",
]
EDGE_TERMS = ["AT&T-style deal", "F❤️CK YEAAHHHH", "Fair", "Fair (or great)", "Fake news", "Israel", "Kyiv",
              "U.S", "U.S.", "Yes —", "Zelenskyy", "cafe\u0301", "ha ha", "ha ha ha", "news"]


def sentences_of(texts: list[str], doc_size: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": [f"d{i // doc_size}" for i in range(len(texts))],
                         "sent_id": [i % doc_size for i in range(len(texts))], "text": texts})


def plain_uses_by_regex(sentences: pd.DataFrame, terms: list[str]) -> list[tuple[str, str, int]]:
    """The definition: every match of each term's pattern in each sentence that is not quoted."""
    return [(term, doc_id, sent_id) for term in terms
            for doc_id, sent_id, text in sentences[["doc_id", "sent_id", "text"]].itertuples(index=False)
            for m in form_pattern(term, 0).finditer(text) if not is_quoted(text, *m.span())]


def plain_uses(sentences: pd.DataFrame, terms: list[str], **options) -> list[tuple[str, str, int]]:
    found = _plain_uses(sentences, terms, **options)
    return list(zip(found["term"].astype(str), found["doc_id"].astype(str), found["sent_id"]))


def test_plain_uses_equal_a_regex_per_term_on_edge_cases():
    sents = sentences_of(EDGE_TEXTS)
    expected = plain_uses_by_regex(sents, EDGE_TERMS)
    assert plain_uses(sents, EDGE_TERMS) == expected
    assert plain_uses(sents, EDGE_TERMS, chunk=4) == plain_uses(sents, EDGE_TERMS, chunk=1) == expected
    assert plain_uses(sents, []) == [] and plain_uses(sents.iloc[:0], EDGE_TERMS) == []
    assert ("ha ha", "d1", 0) in expected and expected.count(("ha ha", "d1", 0)) == 2
    assert ("U.S.", "d0", 0) in expected and ("Kyiv", "d2", 0) in expected


def test_plain_uses_equal_a_regex_per_term_on_random_text():
    rng = random.Random(8)
    words = ["ha", "Ha", "U", "S", "news", "Fake", "fake", "x-y", "a_b", "é", "2", "Kyiv"]
    gaps = [" ", "  ", "\u00a0", ". ", ".", "-", "’", "'", "“", "”", "\"", ", ", "\n", " — ", "&"]
    texts = ["".join(rng.choice(words) + rng.choice(gaps) for _ in range(rng.randrange(0, 12)))
             for _ in range(300)]
    sents = sentences_of(texts, doc_size=7)
    terms = sorted(set(quoted_terms(sents)["term"]) | {"ha ha", "Fake news", "U.S.", "x-y", "U.S", "Kyiv"})
    assert plain_uses(sents, terms, chunk=50) == plain_uses_by_regex(sents, terms)


def random_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    words = ["ha", "Ha", "U", "S", "news", "Fake", "fake", "x-y", "a_b", "é", "2", "Kyiv", "Fair", "great"]
    gaps = [" ", "  ", "\u00a0", ". ", ".", "-", "’", "'", "“", "”", "\"", ", ", "\n", " — ", "&"]
    return ["".join(rng.choice(words) + rng.choice(gaps) for _ in range(rng.randrange(0, 12))) for _ in range(n)]


def kept_uses(path, sents: pd.DataFrame) -> Kept:
    doc_ids = pd.unique(sents["doc_id"]).tolist()
    return Kept(path, doc_keys({"sentences": sents}, doc_ids, "test salt"))


def test_plain_uses_kept_for_the_next_run_are_updated_where_the_corpus_changed(tmp_path, monkeypatch):
    path = tmp_path / "plain-uses.arrow"
    before = sentences_of(random_texts(8, 280), doc_size=7)  # documents d0 .. d39
    before_terms = sorted(set(quoted_terms(before)["term"]) | {"ha ha", "Fake news", "U.S.", "Kyiv"})
    first = plain_uses_kept(before, before_terms, known=kept_uses(path, before))
    pd.testing.assert_frame_equal(first, _plain_uses(before, before_terms))
    # d3 is gone, d5 reworded, d40 new; the new document brings the terms "great news" and
    # "Fair" (which unchanged documents use), and "Kyiv" is no longer asked for
    after = pd.concat([before[before["doc_id"] != "d3"],
                       pd.DataFrame({"doc_id": ["d40", "d40"], "sent_id": [0, 1],
                                     "text": ["A “great news” day, said “Fair”.", "great news and Fake news"]})],
                      ignore_index=True)
    after.loc[after["doc_id"] == "d5", "text"] = "Fair news. Fake news, fake news."
    after = after.sort_values(["doc_id", "sent_id"], ignore_index=True)
    after_terms = sorted((set(quoted_terms(after)["term"]) | {"ha ha", "Fake news", "U.S."}) - {"Kyiv"})
    assert {"Fair", "great news"} <= set(after_terms) - set(before_terms)
    searched = []

    def counting(sentences, terms, **options):
        searched.append((len(sentences), len(terms)))
        return _plain_uses(sentences, terms, **options)

    monkeypatch.setattr(naming, "_plain_uses", counting)
    updated = plain_uses_kept(after, after_terms, known=kept_uses(path, after))
    pd.testing.assert_frame_equal(updated, _plain_uses(after, after_terms))
    docs_using = {t: set(updated.loc[updated["term"] == t, "doc_id"].astype(str)) for t in ("Fair", "great news")}
    assert all(docs - {"d5", "d40"} for docs in docs_using.values())  # found in unchanged documents too
    # the new and the reworded document for every term; the others only where the new terms' first
    # words occur, for those terms alone
    assert searched[0] == (9, len(after_terms))
    assert searched[1][0] < len(after) - 9 and searched[1][1] == len(set(after_terms) - set(before_terms))
    searched.clear()
    again = plain_uses_kept(after, after_terms, known=kept_uses(path, after))
    pd.testing.assert_frame_equal(again, updated)
    assert searched == [(0, len(after_terms))]


def test_an_unreadable_file_of_kept_plain_uses_is_rebuilt(tmp_path):
    path = tmp_path / "plain-uses.arrow"
    path.write_bytes(b"not an Arrow file")
    sents = sentences_of(EDGE_TEXTS)
    found = plain_uses_kept(sents, EDGE_TERMS, known=kept_uses(path, sents))
    pd.testing.assert_frame_equal(found, _plain_uses(sents, EDGE_TERMS))
    assert naming._read_known(path) is not None  # written again, readable
    pd.testing.assert_frame_equal(plain_uses_kept(sents, EDGE_TERMS, known=kept_uses(path, sents)), found)


def test_scare_quote_candidates_keep_the_unquoted_uses_of_other_outlets():
    sents = pd.DataFrame({"doc_id": ["a", "a", "b", "c"], "sent_id": [0, 1, 0, 0],
                          "text": ["A ‘regime’ fell.", "The regime won.", "The regime lost.", "No ‘Regime’ here."]})
    articles = pd.DataFrame({"doc_id": ["a", "b", "c"], "outlet": ["A", "B", "A"]})
    cands = fr.naming_candidates(sents, articles)
    assert cands[["key", "variant", "outlet", "count", "doc_ids", "sent_keys"]].values.tolist() == [
        ["Regime", "“Regime”", "A", 1, "c", "c:0"],
        ["regime", "regime", "A", 1, "a", "a:1"], ["regime", "regime", "B", 1, "b", "b:0"],
        ["regime", "“regime”", "A", 1, "a", "a:0"]]
    assert all(cands[c].dtype == object for c in ("kind", "key", "variant", "outlet", "doc_ids", "sent_keys"))


def test_sorted_group_codes_equal_pandas_ngroup():
    rng = np.random.default_rng(3)
    n = 2_000
    frame = pd.DataFrame({
        "term": pd.Categorical(rng.choice(["b", "a", "c", "d"], n), categories=["d", "b", "a", "c", "unused"]),
        "outlet": rng.choice(["Z", "Y", "X"], n), "sent": rng.integers(0, 50, n)})
    for by in (["term"], ["outlet"], ["term", "outlet"], ["outlet", "term", "sent"]):
        expected = frame.groupby(by, sort=True, observed=True).ngroup().to_numpy()
        assert sorted_group_codes(frame, by).tolist() == expected.tolist()
    assert sorted_group_codes(frame.iloc[:0], ["term", "outlet"]).tolist() == []


def test_evidence_groups_hits_alike_from_plain_and_categorical_columns():
    sents = pd.DataFrame({"doc_id": ["b", "b", "a"], "sent_id": [0, 1, 0], "text": ["B0", "B1", "A0"]})
    hits = pd.DataFrame({"word": ["x", "x", "x", "y", "x"], "doc_id": ["b", "a", "b", "b", "b"],
                         "sent_id": [1, 0, 1, 0, 0]})
    out = evidence(hits, ["word"], sents)
    assert out.values.tolist() == [["x", 4, "a, b", "a:0; b:0; b:1", "A0", "a", 0],
                                   ["y", 1, "b", "b:0", "B0", "b", 0]]
    categorical = evidence(hits.astype({"word": "category", "doc_id": "category"}), ["word"], sents)
    pd.testing.assert_frame_equal(categorical, out)


def test_evidence_lists_the_first_sentence_keys_and_counts_every_hit():
    sents = pd.DataFrame({"doc_id": ["b", "b", "a"], "sent_id": [0, 1, 0], "text": ["B0", "B1", "A0"]})
    hits = pd.DataFrame({"word": ["x", "x", "x", "y", "x"], "doc_id": ["b", "a", "b", "b", "b"],
                         "sent_id": [1, 0, 1, 0, 0]})
    out = evidence(hits, ["word"], sents, max_keys=2)
    assert out.values.tolist() == [["x", 4, "a, b", "a:0; b:0", "A0", "a", 0],
                                   ["y", 1, "b", "b:0", "B0", "b", 0]]


def test_naming_candidates_list_at_most_max_candidate_keys_sentences():
    n = MAX_CANDIDATE_KEYS + 5
    sents = pd.DataFrame({"doc_id": ["q"] + ["p"] * n, "sent_id": [0, *range(n)],
                          "text": ["A ‘regime’ fell."] + ["The regime won."] * n})
    cands = fr.naming_candidates(sents, pd.DataFrame({"doc_id": ["p", "q"], "outlet": ["P", "Q"]}))
    plain = cands[(cands["kind"] == "scare_quote") & (cands["variant"] == "regime")].iloc[0]
    assert plain["count"] == n
    assert plain["sent_keys"] == "; ".join(f"p:{i}" for i in range(MAX_CANDIDATE_KEYS))


def match_cues_by_regex(texts: list[str], frames: list[Frame]) -> tuple[np.ndarray, list]:
    """The definition: every frame's cue regex over every text, each distinct cue counted once."""
    weights, phrases = np.zeros((len(texts), len(frames))), [[[] for _ in frames] for _ in texts]
    for j, frame in enumerate(frames):
        cues = sorted(frame.cues, key=lambda c: (-len(c), c))
        for i, text in enumerate(texts if cues else []):
            found = set()
            for m in _cue_regex(frame).finditer(text):
                cue = cues[int(m.lastgroup[1:])]
                if cue not in found:
                    found.add(cue)
                    weights[i, j] += frame.cues[cue]
                    phrases[i][j].append(m.group(0))
    return weights, phrases


def test_match_cues_equal_every_cue_regex_on_every_text():
    frames = [Frame("t.a", "t", "A", "", {"negotiat*": 1, "peace talks": 2, "war": 0.5}, ()),
              Frame("t.b", "t", "B", "", {"renegotiat*": 1, "war crime": 1, "crime": 1}, ()),
              Frame("t.c", "t", "C", "", {"9/11": 1, "un*": 0.5}, ()),
              Frame("t.d", "t", "D", "", {}, ("prototype only",))]
    texts = ["They negotiated; NEGOTIATIONS and renegotiation.", "foo_negotiate", "Peace-talks, war crimes, wars.",
             "After 9/11 the UN met.", "Unless", "", "nothing here", "War-crime crime crime"]
    weights, phrases = match_cues(texts, frames)
    expected_weights, expected_phrases = match_cues_by_regex(texts, frames)
    assert phrases == expected_phrases and np.array_equal(weights, expected_weights)
    assert phrases[0][0] == ["negotiated"] and phrases[0][1] == ["renegotiation"] and weights[0, 0] == 1
    assert phrases[1][0] == [] and phrases[3][2] == ["9/11", "UN"]


def test_top_terms_sort_only_the_best_but_break_ties_by_term():
    score = np.array([5.0, 1.0, 5.0, 3.0, 5.0, 3.0])
    terms = np.array(["e", "a", "c", "b", "d", "a"], dtype=object)
    assert top_terms(np.arange(6), score, terms, 2).tolist() == [2, 4]
    assert top_terms(np.arange(6), score, terms, 4).tolist() == [2, 4, 0, 5]
    assert top_terms(np.array([1, 3]), score, terms, 5).tolist() == [3, 1]


PEOPLE = [["Zelensky", "Zelenskyy", "Zelenskiy"], ["Kyiv", "Kiev", "KIEV"], ["Navalny", "Navalnyy"], ["Biden"],
          ["Moscow"], ["Kremlin", "KREMLIN"]]
QUOTABLE = ["regime", "special military operation", "Fake News", "freedom fighters", "invasion", "terror"]


def news_corpus(seed: int, n_docs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sentences and articles of ``n_docs`` made-up articles from four outlets, each with its own
    habits: one spelling of a name spelled two ways, two of a name spelled three ways, and how
    often it quotes a loaded term rather than using it plainly (one outlet never does)."""
    rng = random.Random(seed)
    filler = ["the", "said", "officials", "on", "Monday", "war", "talks", "in", "and", "of", "troops"]
    outlets = ["Alpha", "Beta", "Gamma", "Delta"]
    quoting = [0.0, 0.2, 0.5, 0.8]
    rows, outlet_of = [], []
    for d in range(n_docs):
        o = rng.randrange(len(outlets))
        outlet_of.append(outlets[o])
        for s in range(rng.randrange(1, 6)):
            words = [rng.choice(filler) for _ in range(rng.randrange(3, 9))]
            for _ in range(rng.randrange(0, 3)):
                spellings = rng.choice(PEOPLE)
                pick = o + rng.randrange(2) if len(spellings) > 2 else o
                words.insert(rng.randrange(1, len(words) + 1), spellings[pick % len(spellings)])
            if rng.random() < 0.6:
                term = rng.choice(QUOTABLE)
                words.insert(rng.randrange(1, len(words) + 1), f"“{term}”" if rng.random() < quoting[o] else term)
            rows.append((f"d{d:03d}", s, "The " + " ".join(words) + "."))
    return (pd.DataFrame(rows, columns=["doc_id", "sent_id", "text"]),
            pd.DataFrame({"doc_id": [f"d{d:03d}" for d in range(n_docs)], "outlet": outlet_of}))


def kept_candidates(tmp_path, sents: pd.DataFrame) -> Kept:
    return Kept(tmp_path / "naming-candidates.arrow",
                doc_keys({"sentences": sents}, pd.unique(sents["doc_id"]).tolist(), "test salt"))


def candidates_with(tmp_path, sents: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """naming_candidates with both kept files, as the pipeline calls it."""
    return fr.naming_candidates(sents, articles, known=kept_uses(tmp_path / "plain-uses.arrow", sents),
                                kept=kept_candidates(tmp_path, sents))


def test_naming_candidates_after_added_articles_compute_only_what_those_touch(tmp_path, monkeypatch):
    sents, articles = news_corpus(3, 120)

    def first(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        docs = [f"d{d:03d}" for d in range(n)]
        return sents[sents["doc_id"].isin(docs)].reset_index(drop=True), articles[articles["doc_id"].isin(docs)]

    grouped = []

    def counting(hits, by, *args, **options):
        grouped.append(len(hits))
        return evidence(hits, by, *args, **options)

    monkeypatch.setattr(naming, "evidence", counting)
    start = candidates_with(tmp_path, *first(100))
    pd.testing.assert_frame_equal(start, fr.naming_candidates(*first(100)))
    grouped.clear()
    one_more = candidates_with(tmp_path, *first(101))
    incremental = sum(grouped)
    grouped.clear()
    pd.testing.assert_frame_equal(one_more, fr.naming_candidates(*first(101)))
    assert 0 < incremental < sum(grouped) / 2  # the evidence of the untouched groups was kept, not recomputed
    whole = candidates_with(tmp_path, sents, articles)
    pd.testing.assert_frame_equal(whole, fr.naming_candidates(sents, articles))
    changed = start.merge(whole, how="outer", indicator=True).query("_merge != 'both'")
    assert set(changed["kind"]) == {"scare_quote", "spelling", "case"}  # the new articles changed rows of each kind
    grouped.clear()
    again = candidates_with(tmp_path, sents, articles)  # nothing new: the kept table
    pd.testing.assert_frame_equal(again, whole)
    assert grouped == []


def test_naming_candidates_recompute_everything_when_articles_change_move_or_go(tmp_path):
    sents, articles = news_corpus(5, 90)
    candidates_with(tmp_path, sents, articles)
    reworded = sents.assign(text=sents["text"].where(sents["doc_id"] != "d004", "The “regime” of Kiev fell."))
    moved = articles.assign(outlet=articles["outlet"].where(articles["doc_id"] != "d007", "Epsilon"))
    gone = sents[sents["doc_id"] != "d010"].reset_index(drop=True)
    for later_sents, later_articles in ((reworded, articles), (reworded, moved), (gone, moved), (sents, articles)):
        pd.testing.assert_frame_equal(candidates_with(tmp_path, later_sents, later_articles),
                                      fr.naming_candidates(later_sents, later_articles))


def test_unreadable_kept_naming_candidates_are_computed_again(tmp_path):
    sents, articles = news_corpus(7, 40)
    (tmp_path / "naming-candidates.arrow").write_bytes(b"not an Arrow file")
    whole = fr.naming_candidates(sents, articles)
    pd.testing.assert_frame_equal(candidates_with(tmp_path, sents, articles), whole)
    assert naming._read_candidates(tmp_path / "naming-candidates.arrow") is not None


def test_merge_sorted_gives_the_sort_of_the_kept_and_new_rows():
    rng = random.Random(3)
    words = ["Kiev", "Kyiv", "régime", "regime", "“regime”", "Zelensky", "zelensky", "Ωmega", "a b", "a"]
    rows = sorted({(rng.choice(["case", "scare_quote", "spelling"]), rng.choice(words), rng.choice(words),
                    rng.choice(["Alpha", "Beta", "Ça va"])) for _ in range(300)})
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(["kind", "key", "variant", "outlet"])}
                     ).append_column("count", pa.array(range(len(rows))))
    by = ["kind", "key", "variant", "outlet"]
    moved = np.array([rng.random() < 0.2 for _ in rows])
    gone = np.array([rng.random() < 0.1 for _ in rows]) & ~moved
    new = table.filter(pa.array(moved)).take(pa.array(rng.sample(range(int(moved.sum())), int(moved.sum()))))
    merged = merge_sorted(table, moved | gone, new, by)
    assert merged.equals(table.filter(pa.array(~gone)))
    assert merged.column("count").num_chunks == 1
    # a new row equal to a kept one, or a missing value: the plain sort of everything
    missing = table.slice(0, 1).set_column(3, "outlet", pa.array([None], type=pa.string()))
    for odd in (table.slice(0, 1), missing):
        everything = pa.concat_tables([table.filter(pa.array(~gone)), odd])
        assert merge_sorted(table, gone, odd, by).equals(
            everything.sort_by([(c, "ascending") for c in by]).combine_chunks())
    assert merge_sorted(table, np.ones(len(rows), dtype=bool), new.slice(0, 0), by).num_rows == 0


def kept_counts(tmp_path, sents: pd.DataFrame) -> Kept:
    return Kept(tmp_path / "outlet-ngrams", doc_keys({"sentences": sents}, pd.unique(sents["doc_id"]).tolist(), "salt"))


def test_distinctive_terms_count_again_only_the_outlets_whose_articles_changed(tmp_path, monkeypatch):
    from toolkit.framing import distinctive

    sents, articles = news_corpus(11, 60)
    counted = []

    def recording(sentences, rows, *args):
        counted.append(sorted(set(sentences["outlet"].iloc[rows])))
        return counting(sentences, rows, *args)

    counting = distinctive._counted
    monkeypatch.setattr(distinctive, "_counted", recording)

    def both(later_sents, later_articles):
        kept = fr.distinctive_terms(later_sents, later_articles, min_z=1.0, kept=kept_counts(tmp_path, later_sents))
        pd.testing.assert_frame_equal(kept, fr.distinctive_terms(later_sents, later_articles, min_z=1.0))
        return kept

    first = sents[sents["doc_id"] != "d059"].reset_index(drop=True)
    assert not both(first, articles).empty
    files = sorted(p.name for p in (tmp_path / "outlet-ngrams").iterdir())
    assert len(files) == articles["outlet"].nunique()
    outlet = articles.set_index("doc_id").at["d059", "outlet"]
    counted.clear()
    both(sents, articles)  # one article added: its outlet is counted again, the others are read
    assert counted[0] == [outlet]
    counted.clear()
    both(sents, articles)  # nothing changed: nothing counted
    assert counted[0] == []
    reworded = sents.assign(text=sents["text"].where(sents["doc_id"] != "d010", "The regime of Kiev fell."))
    moved = articles.assign(outlet=articles["outlet"].where(articles["doc_id"] != "d007", "Epsilon"))
    for later_sents, later_articles in ((reworded, articles), (reworded, moved), (sents, articles)):
        both(later_sents, later_articles)
    # a new outlet changes the stopwords (outlet names), so every outlet is counted again; an
    # unreadable file is counted again too; files of outlets that left are removed
    assert len(list((tmp_path / "outlet-ngrams").iterdir())) == len(files)
    next(iter((tmp_path / "outlet-ngrams").iterdir())).write_bytes(b"not Arrow")
    counted.clear()
    both(sents, articles)
    assert len(counted[0]) == 1
    counted.clear()
    both(sents, moved)
    assert counted[0] == sorted(moved["outlet"].unique())
    gone = moved[moved["outlet"] != "Epsilon"]
    both(sents[sents["doc_id"].isin(gone["doc_id"])].reset_index(drop=True), gone)
    assert len(list((tmp_path / "outlet-ngrams").iterdir())) == len(files)
