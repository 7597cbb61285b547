"""Specifications of the actors stage (toolkit.actors) on small made-up inputs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from toolkit import actors as A
from toolkit.runs import join_runs

ROOT = Path(__file__).resolve().parents[1]

TABLE_YML = """\
titles: [President, Prime Minister, Secretary General, Mr.]
exclude: [Reuters]
actors:
  - name: Russia
    type: country
    demonyms: [Russian, Russians]
    metonyms: [Kremlin]
    capitals: [Moscow]
  - name: Ukraine
    type: country
    demonyms: [Ukrainian]
    capitals: [Kyiv, Kiev]
  - name: Jordan
    type: country
  - name: NATO
    type: organization
    aliases: [Nato]
  - name: Vladimir Putin
    type: person
  - name: Volodymyr Zelensky
    type: person
    aliases: [Zelensky]
  - name: Keir Starmer
    type: person
"""


@pytest.fixture()
def table(tmp_path: Path) -> A.ActorTable:
    path = tmp_path / "actors.yml"
    path.write_text(TABLE_YML, encoding="utf-8")
    return A.load_actor_table(path)


def entities(*rows: tuple) -> pd.DataFrame:
    """Entity rows (doc_id, sent_id, label, surface, start[, preceding]); para_id = 0, end = start + len."""
    out = []
    for row in rows:
        doc_id, sent_id, label, surface, start, *rest = row
        out.append((doc_id, 0, sent_id, label, surface, start, start + len(surface), rest[0] if rest else ""))
    return pd.DataFrame(out, columns=A.ENTITY_COLUMNS)


def resolved_pairs(frame: pd.DataFrame) -> list[tuple]:
    return list(frame[["surface", "actor", "method"]].itertuples(index=False, name=None))


# ------------------------------------------------------------- normalisation


@pytest.mark.parametrize(("surface", "key"), [
    ("Erdoğan", "erdogan"), ("U.S.", "us"), ("Kim Jong-un", "kim jong un"),
    ("the Kremlin’s", "kremlin"), ("Reuters'", "reuters"), ("  NATO ", "nato"),
])
def test_name_key(surface: str, key: str) -> None:
    assert A.name_key(surface) == key


def test_strip_titles_repeatedly_and_never_to_nothing(table: A.ActorTable) -> None:
    assert A.strip_titles("Mr. Putin", table.titles) == "Putin"
    assert A.strip_titles("President Vladimir Putin", table.titles) == "Vladimir Putin"
    assert A.strip_titles("Secretary-General Mark Rutte", table.titles) == "Mark Rutte"
    assert A.strip_titles("Prime Minister", table.titles) == "Prime Minister"


# ------------------------------------------------------------- resolution


def test_alias_metonym_capital_demonym_and_title(table: A.ActorTable) -> None:
    ents = entities(
        ("d", 0, "ORG", "Nato", 0), ("d", 0, "ORG", "the Kremlin", 10), ("d", 0, "GPE", "Moscow", 30, "said"),
        ("d", 0, "NORP", "Russian", 50), ("d", 0, "PERSON", "President Vladimir Putin", 70),
        ("d", 0, "PERSON", "Putin's", 100),
    )
    out = A.resolve_entities(ents, table)
    assert resolved_pairs(out) == [
        ("Nato", "NATO", "name"), ("the Kremlin", "Russia", "metonym"), ("Moscow", "Russia", "capital"),
        ("Russian", "Russia", "demonym"), ("President Vladimir Putin", "Vladimir Putin", "name"),
        ("Putin's", "Vladimir Putin", "surname"),
    ]
    assert out["via_metonym"].tolist() == [False, True, True, False, False, False]
    assert out["via_norp"].tolist() == [False, False, False, True, False, False]
    assert out["actor_type"].tolist() == ["organization", "country", "country", "country", "person", "person"]


def test_capital_after_locative_word_is_a_place_with_the_first_listed_spelling(table: A.ActorTable) -> None:
    ents = entities(("d", 0, "GPE", "Kiev", 0, "in"), ("d", 1, "GPE", "Kiev", 20, "said"))
    out = A.resolve_entities(ents, table)
    assert resolved_pairs(out) == [("Kiev", "Kyiv", "place"), ("Kiev", "Ukraine", "capital")]
    assert out["actor_type"].tolist() == ["place", "country"]


def test_switches_turn_off_norp_and_metonyms(table: A.ActorTable) -> None:
    ents = entities(("d", 0, "NORP", "Russian", 0), ("d", 0, "GPE", "Moscow", 20), ("d", 0, "ORG", "Kremlin", 40))
    out = A.resolve_entities(ents, table, norp=False, metonyms=False)
    assert out["status"].tolist() == ["unmapped", "auto", "auto"]
    assert out["actor"].isna().tolist() == [True, False, False]
    assert out["actor"].tolist()[1:] == ["Moscow", "Kremlin"]


def test_country_names_do_not_match_person_spans_and_keep_distinct_names(table: A.ActorTable) -> None:
    out = A.resolve_entities(entities(("d", 0, "PERSON", "Jordan", 0), ("d", 1, "GPE", "Jordan", 30)), table)
    assert out["actor"].tolist() == ["Jordan (person)", "Jordan"]
    assert out["actor_type"].tolist() == ["person", "country"]


def test_type_override_from_the_table(table: A.ActorTable) -> None:
    out = A.resolve_entities(entities(("d", 0, "ORG", "Keir Starmer", 0)), table)
    assert out[["actor", "actor_type", "method"]].values.tolist() == [["Keir Starmer", "person", "name"]]


def test_unknown_nationality_words_are_not_counted(table: A.ActorTable) -> None:
    out = A.resolve_entities(entities(("d", 0, "NORP", "Martian", 0), ("d", 0, "FAC", "Big Bridge", 20)), table)
    assert out["status"].tolist() == ["unmapped", "unmapped"]
    assert A.mentions_table(out).empty


def test_exclusion_including_after_title_stripping(table: A.ActorTable) -> None:
    out = A.resolve_entities(entities(("d", 0, "ORG", "Reuters", 0), ("d", 0, "ORG", "Mr. Reuters", 20)), table)
    assert out["status"].tolist() == ["excluded", "excluded"]
    assert A.mentions_table(out).empty


def test_surname_resolves_to_the_person_named_in_the_same_article(table: A.ActorTable) -> None:
    ents = entities(
        ("a", 0, "PERSON", "Anna Kowalczyk", 0), ("a", 1, "PERSON", "Kowalczyk", 40),
        ("a", 2, "PERSON", "Mr. Kowalczyk", 80),
        ("b", 0, "PERSON", "Kowalczyk", 0),  # another article: no full name, stays as written
    )
    out = A.resolve_entities(ents, table)
    assert out["actor"].tolist() == ["Anna Kowalczyk", "Anna Kowalczyk", "Anna Kowalczyk", "Kowalczyk"]
    assert out["method"].tolist() == ["ner", "surname", "surname", "ner"]


def test_surname_prefers_the_earlier_full_name_and_skips_ambiguous_ones(table: A.ActorTable) -> None:
    ents = entities(
        ("a", 0, "PERSON", "Kowalczyk", 0),            # only later full name: used
        ("a", 1, "PERSON", "Anna Kowalczyk", 40),
        ("b", 0, "PERSON", "Anna Kowalczyk", 0), ("b", 1, "PERSON", "Jan Kowalczyk", 40),
        ("b", 2, "PERSON", "Kowalczyk", 80),            # two candidates: left alone
    )
    out = A.resolve_entities(ents, table)
    assert out["actor"].tolist() == ["Anna Kowalczyk", "Anna Kowalczyk", "Anna Kowalczyk", "Jan Kowalczyk",
                                     "Kowalczyk"]


def test_fuzzy_merge_into_table_and_between_spellings(table: A.ActorTable) -> None:
    ents = entities(
        ("a", 0, "PERSON", "Zelenskyy", 0), ("a", 1, "PERSON", "Zelenskyi", 20),
        ("b", 0, "ORG", "Quincy Institute", 0), ("b", 1, "ORG", "Quincy Institute", 40),
        ("b", 2, "ORG", "Quincy Institutes", 80), ("c", 0, "GPE", "Iraq", 0), ("c", 1, "GPE", "Iran", 20),
    )
    out = A.resolve_entities(ents, table)
    assert out["actor"].tolist() == ["Volodymyr Zelensky", "Volodymyr Zelensky", "Quincy Institute",
                                     "Quincy Institute", "Quincy Institute", "Iraq", "Iran"]
    assert out["method"].tolist() == ["fuzzy", "fuzzy", "ner", "ner", "fuzzy", "ner", "ner"]
    assert out["score"].round(2).tolist()[:2] == [94.12, 94.12]
    merges = A.merges_table(out)
    assert merges[merges["method"] == "fuzzy"][["surface", "actor"]].values.tolist() == [
        ["Quincy Institutes", "Quincy Institute"], ["Zelenskyi", "Volodymyr Zelensky"],
        ["Zelenskyy", "Volodymyr Zelensky"],
    ]


def test_kept_table_pass_resolves_only_new_spans_and_gives_the_same_entities(
        table: A.ActorTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = entities(
        ("a", 0, "PERSON", "Zelenskyy", 0), ("a", 1, "ORG", "the Kremlin", 20), ("b", 0, "GPE", "Moscow", 30, "in"),
        ("b", 0, "GPE", "Moscow", 30, "said"), ("b", 1, "NORP", "Russian", 50), ("c", 0, "PERSON", "Putin's", 0),
        ("c", 0, "PERSON", "President Vladimir Putin", 20), ("c", 1, "ORG", "Quincy Institute", 40),
    )
    more = pd.concat([first, entities(("d", 0, "PERSON", "Zelenskyi", 0), ("d", 1, "GPE", "Moscow", 9, "in"),
                                      ("d", 2, "ORG", "Nato", 0))], ignore_index=True)
    resolved = []

    def counting(forms, label, *args):
        resolved.append((forms[0], label))
        return resolve(forms, label, *args)

    resolve = A._resolve_distinct
    monkeypatch.setattr(A, "_resolve_distinct", counting)
    known = tmp_path / "table-pass.arrow"
    counts = []
    for ents in (first, more, more):
        resolved.clear()
        A.resolve_entities(ents, table, known=known)
        counts.append(len(resolved))
        pd.testing.assert_frame_equal(A.resolve_entities(ents, table, known=known), A.resolve_entities(ents, table))
    assert counts == [8, 2, 0]  # Zelenskyi and Nato are new; Moscow after "in" was resolved before
    resolved.clear()
    A.resolve_entities(more, table, known=known)
    assert resolved == []
    A.resolve_entities(more, table, known=known, norp=False)  # other options: resolved again
    assert len(resolved) == 10
    edited = tmp_path / "edited.yml"
    edited.write_text(TABLE_YML.replace("Zelensky", "Selensky"), encoding="utf-8")
    resolved.clear()
    again = A.resolve_entities(more, A.load_actor_table(edited), known=known)
    assert len(resolved) == 10
    pd.testing.assert_frame_equal(again, A.resolve_entities(more, A.load_actor_table(edited)))


def test_unresolved_entities_from_raw_and_resolved(table: A.ActorTable) -> None:
    ents = entities(
        ("a", 0, "ORG", "Quincy Institute", 0), ("b", 3, "ORG", "Quincy Institute", 0),
        ("a", 1, "NORP", "Martians", 0), ("a", 2, "NORP", "Martians", 0), ("a", 2, "ORG", "NATO", 20),
        ("a", 4, "ORG", "Lonely Org", 0),
    )
    expected = [["Martians", "NORP", 2, 1, "a:1"], ["Quincy Institute", "ORG", 2, 2, "a:0"]]
    raw = A.unresolved_entities(ents, table=table, min_count=2)
    assert raw.values.tolist() == expected
    assert A.unresolved_entities(A.resolve_entities(ents, table), min_count=2).values.tolist() == expected


# ------------------------------------------------------------- the yml


def test_bundled_table_loads_and_covers_the_usual_spellings() -> None:
    table = A.load_actor_table(ROOT / "data" / "actors.yml")
    for spelling, actor in [("Zelenskyy", "Volodymyr Zelensky"), ("U.S.", "United States"), ("Nato", "NATO"),
                            ("EU", "European Union"), ("Britain", "United Kingdom")]:
        assert table.names[A.name_key(spelling)].actor == actor
    assert table.capitals["kiev"].actor == "Ukraine"
    assert table.metonyms["kremlin"].actor == "Russia"
    assert ("PERSON", "Keir Starmer") in A.entity_patterns(table)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("actors:\n  - name: Russia\n    type: country\n  - name: Putin\n    type: persn\n", 5, "type 'persn'"),
    ("actors:\n  - name: Russia\n    type: country\n    alias: [RF]\n", 4, "unknown actor key 'alias'"),
    ("actors:\n  - name: Russia\n    type: country\n    aliases: [RF]\n  - name: France\n    type: country\n"
     "    aliases: [RF]\n", 7, "'RF' is already a spelling of 'Russia' (line 4)"),
    ("actors:\n  - name: Russia\n    type: country\n    aliases: RF\n", 4, "aliases must be a list"),
    ("actors:\n  - name: Russia\n  - type: country\n", 2, "actor without 'type'"),
    ("actors:\n  - name: Russia\n    type: [country\n", 4, "not valid YAML"),
    ("actor:\n  - name: Russia\n", 1, "unknown top-level key 'actor'"),
])
def test_validation_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "actors.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(A.ActorsFileError) as caught:
        A.load_actor_table(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_ner_excludes_keeps_the_listened_to_embedding_layer() -> None:
    sm = {"nlp": {"pipeline": ["tok2vec", "tagger", "parser", "ner"]},
          "components": {"tok2vec": {"factory": "tok2vec"}, "tagger": {}, "parser": {},
                         "ner": {"model": {"tok2vec": {"@architectures": "spacy.HashEmbedCNN.v2"}}}}}
    trf = {"nlp": {"pipeline": ["transformer", "tagger", "ner"]},
           "components": {"transformer": {"factory": "transformer"}, "tagger": {},
                          "ner": {"model": {"tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1",
                                                        "upstream": "transformer"}}}}}
    assert A.ner_excludes(sm) == ["tok2vec", "tagger", "parser"]
    assert A.ner_excludes(trf) == ["tagger"]


# ------------------------------------------------------------- aggregates


def tiny_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two outlets, 3 articles, 6 sentences in 4 paragraphs; mentions placed by hand."""
    sentences = pd.DataFrame(
        [("a", 0, 0, "A and B."), ("a", 0, 1, "A alone."), ("a", 1, 2, "B and C."),
         ("b", 0, 0, "A, B and C."), ("b", 0, 1, "Nothing."), ("c", 0, 0, "A and C.")],
        columns=["doc_id", "para_id", "sent_id", "text"],
    )
    articles = pd.DataFrame({"doc_id": ["a", "b", "c"], "outlet": ["X", "X", "Y"]})
    rows = [("a", 0, 0, "A"), ("a", 0, 0, "B"), ("a", 0, 0, "A"), ("a", 0, 1, "A"), ("a", 1, 2, "B"),
            ("a", 1, 2, "C"), ("b", 0, 0, "A"), ("b", 0, 0, "B"), ("b", 0, 0, "C"), ("c", 0, 0, "A"),
            ("c", 0, 0, "C")]
    mentions = pd.DataFrame(rows, columns=["doc_id", "para_id", "sent_id", "actor"]).assign(
        actor_type="person", surface=lambda f: f["actor"])
    return mentions, sentences, articles


def test_comentions_counts_pmi_jaccard_and_order() -> None:
    mentions, sentences, articles = tiny_tables()
    out = A.comention_table(mentions, sentences, articles)
    assert list(out.columns) == A.COMENTION_COLUMNS
    assert (out["actor_a"] < out["actor_b"]).all()
    sent_all = out[(out["level"] == "sentence") & (out["outlet"] == "ALL")]
    # ALL: 6 sentences; A in 4, B in 3, C in 3; A&B in 2, A&C in 2, B&C in 2
    assert sent_all[["actor_a", "actor_b", "units", "articles", "units_a", "units_b", "n_units"]].values.tolist() == [
        ["A", "B", 2, 2, 4, 3, 6], ["A", "C", 2, 2, 4, 3, 6], ["B", "C", 2, 2, 3, 3, 6]]
    assert sent_all["pmi"].tolist() == pytest.approx([math.log2(2 * 6 / 12), math.log2(2 * 6 / 12), math.log2(2 * 6 / 9)])
    assert sent_all["jaccard"].tolist() == pytest.approx([2 / 5, 2 / 5, 2 / 4])
    assert sent_all["evidence"].tolist() == ["a:0;b:0", "b:0;c:0", "a:2;b:0"]
    assert A.evidence_text(sent_all, sentences).tolist() == ["A and B.", "A, B and C.", "B and C."]
    sent_x = out[(out["level"] == "sentence") & (out["outlet"] == "X")]
    assert sent_x[["actor_a", "actor_b", "units", "n_units"]].values.tolist() == [
        ["A", "B", 2, 5], ["B", "C", 2, 5], ["A", "C", 1, 5]]
    assert out["outlet"].drop_duplicates().tolist() == ["ALL", "X", "Y"]
    assert out["level"].drop_duplicates().tolist() == ["sentence", "paragraph"]


def test_comentions_paragraph_level_counts_units_and_sentences_behind() -> None:
    mentions, sentences, articles = tiny_tables()
    out = A.comention_table(mentions, sentences, articles, levels=("paragraph",))
    x = out[out["outlet"] == "X"]
    # paragraphs of X: a/0 {A,B}, a/1 {B,C}, b/0 {A,B,C}; 3 paragraphs
    assert x[["actor_a", "actor_b", "units", "sentences", "units_a", "units_b", "n_units"]].values.tolist() == [
        ["A", "B", 2, 3, 2, 3, 3], ["B", "C", 2, 2, 3, 2, 3], ["A", "C", 1, 1, 2, 2, 3]]
    assert x["evidence"].tolist() == ["a:0;a:1;b:0", "a:2;b:0", "b:0"]


def test_paragraph_evidence_keeps_the_first_sentences_in_reading_order() -> None:
    mentions, sentences, articles = tiny_tables()
    out = A.comention_table(mentions, sentences, articles, levels=("paragraph",), max_evidence=2)
    x = out[out["outlet"] == "X"].set_index(["actor_a", "actor_b"])
    assert x.loc[("A", "B"), "evidence"] == "a:0;a:1" and x.loc[("A", "B"), "sentences"] == 3
    assert A.evidence_text(x, sentences).loc[("A", "B")] == "A and B."


def test_evidence_text_is_the_first_keys_sentence_or_missing() -> None:
    _, sentences, _ = tiny_tables()
    frame = pd.DataFrame({"evidence": ["b:0;a:0", "a:2", "z:0", ""]}, index=[5, 6, 7, 8])
    out = A.evidence_text(frame, sentences)
    assert out.index.tolist() == [5, 6, 7, 8]
    assert out[:2].tolist() == ["A, B and C.", "B and C."] and out[2:].isna().all()


def test_sorted_rows_packs_or_lexsorts_to_the_same_distinct_rows() -> None:
    first, second = [3, 1, 3, 0, 1], [2, 5, 2, 7, 4]
    columns = [pd.Series(first).to_numpy(), pd.Series(second).to_numpy()]
    packed, packed_counts = A._sorted_rows(columns, [4, 8])
    lexsorted, lexsorted_counts = A._sorted_rows(columns, [2**40, 2**40])
    for rows, counts in ((packed, packed_counts), (lexsorted, lexsorted_counts)):
        assert [r.tolist() for r in rows] == [[0, 1, 1, 3], [7, 4, 5, 2]]
        assert counts.tolist() == [1, 1, 1, 2]


def test_comentions_built_in_arrow_are_the_tables_arrow_makes_of_the_frame_byte_for_byte(tmp_path) -> None:
    import pyarrow as pa

    from toolkit.store import arrow_table, write_table

    mentions, sentences, articles = tiny_tables()
    frame = A._aggregates(mentions, sentences, articles)["comentions"]
    built = A._aggregates(mentions, sentences, articles, arrow=True)["comentions"]
    assert isinstance(built, pa.Table)
    pd.testing.assert_frame_equal(frame, A.comention_table(mentions, sentences, articles))
    assert built.equals(arrow_table(frame)) and built.schema.equals(arrow_table(frame).schema, check_metadata=True)
    write_table(frame, tmp_path / "frame.parquet")
    write_table(built, tmp_path / "built.parquet")
    assert (tmp_path / "frame.parquet").read_bytes() == (tmp_path / "built.parquet").read_bytes()


def test_comentions_reject_an_unknown_level() -> None:
    mentions, sentences, articles = tiny_tables()
    with pytest.raises(ValueError, match="levels must be among sentence, paragraph"):
        A.comention_table(mentions, sentences, articles, levels=("article",))


def test_comentions_all_rows_of_a_pair_seen_in_one_outlet_repeat_its_evidence() -> None:
    mentions, sentences, articles = tiny_tables()
    out = A.comention_table(mentions, sentences, articles)
    rows = out.set_index(["level", "outlet", "actor_a", "actor_b"])
    # B and C: only outlet X (a:2 and b:0); A and C: X (b:0) and Y (c:0).
    for level in ("sentence", "paragraph"):
        assert rows.loc[(level, "ALL", "B", "C"), "evidence"] == rows.loc[(level, "X", "B", "C"), "evidence"]
    assert rows.loc[("sentence", "ALL", "A", "C"), "evidence"] == "b:0;c:0"
    assert A.evidence_text(rows, sentences).loc[("sentence", "ALL", "A", "C")] == "A, B and C."


def test_unions_of_two_sorted_runs_keep_the_first_distinct_values() -> None:
    values = pd.Series([3, 7, 3, 5, 7, 9, 1, 2, 4, 6, 8]).to_numpy()
    # i=0: [3] and [7]; i=1: [3] and [3]; i=2: [5, 7, 9] and [7]; i=3: [1, 2] and [4, 6, 8]
    lo_a, n_a = pd.Series([0, 0, 3, 6]).to_numpy(), pd.Series([1, 1, 3, 2]).to_numpy()
    lo_b, n_b = pd.Series([1, 2, 4, 8]).to_numpy(), pd.Series([1, 1, 1, 3]).to_numpy()
    sizes, start, count, out = A._unions(lo_a, n_a, lo_b, n_b, values, limit=4)
    assert sizes.tolist() == [2, 1, 3, 5]
    assert [out[s:s + c].tolist() for s, c in zip(start, count)] == [[3, 7], [3], [5, 7, 9], [1, 2, 4, 6]]
    sizes, start, count, out = A._unions(lo_a, n_a, lo_b, n_b, values, limit=1)
    assert sizes.tolist() == [2, 1, 3, 5] and out.tolist() == [3, 3, 5, 1] and count.tolist() == [1, 1, 1, 1]


def test_join_runs_joins_the_texts_of_each_run_in_order() -> None:
    texts = pd.Series(["a", "b", "c", "d"], dtype=object).to_numpy()
    codes = pd.Series([2, 0, 1, 3, 3, 1, 0]).to_numpy()
    new = pd.Series([True, True, False, True, False, False, True]).to_numpy()
    assert join_runs(texts, new, ";", codes).tolist() == ["c", "a;b", "d;d;b", "a"]


def test_sorted_codes_number_values_in_sorted_order_with_or_without_runs() -> None:
    for values in (["b", "b", "a", "a", "a", "c"], ["c", "a", "b", "a", "c", "b"]):
        codes, names = A._sorted_codes(values)
        assert names.tolist() == ["a", "b", "c"] and names[codes].tolist() == values


def test_similar_pairs_equal_a_brute_force_search() -> None:
    from rapidfuzz import fuzz

    strings = ["zelensky", "zelenskyy", "zelenskiy", "zelenskyi", "zeleny", "zelensky", "putin", "putins",
               "zelenskyy", "quincy institute", "quincy institutes", "quincy inst", "zelenski"]
    groups = ["person"] * 9 + ["organization", "organization", "organization", None]
    asking = pd.Series([False, False, True, True, True, True, True, True, True, False, True, True, True]).to_numpy()
    asker, other, ratio = A._similar_pairs(strings, groups, asking, 90.0)
    expected = sorted((i, j, fuzz.ratio(a, b)) for i, a in enumerate(strings) for j, b in enumerate(strings)
                      if i != j and asking[i] and groups[i] is not None and groups[i] == groups[j] and a[0] == b[0]
                      and min(len(a), len(b)) >= A.FUZZY_MIN_LENGTH and fuzz.ratio(a, b) >= 90.0)
    assert list(zip(asker.tolist(), other.tolist(), ratio.tolist())) == expected
    assert (5, 0, 100.0) in expected and (8, 1, 100.0) in expected


def test_fuzzy_ties_go_to_the_table_then_to_the_spelling_taken_first(table: A.ActorTable) -> None:
    ents = entities(
        ("a", 0, "PERSON", "Smiths", 0), ("a", 1, "PERSON", "Smiths", 20), ("a", 2, "PERSON", "Smiths", 40),
        ("a", 3, "PERSON", "Smitth", 60), ("a", 4, "PERSON", "Smitth", 80), ("a", 5, "PERSON", "Smith", 100),
        ("b", 0, "PERSON", "Zlenskyz", 0), ("b", 1, "PERSON", "Zlenskyz", 20), ("b", 2, "PERSON", "Zelenskyz", 40),
    )
    out = A.resolve_entities(ents, table)
    # "smith" is 90.9 similar to both "smiths" (taken first, more frequent) and "smitth";
    # "zelenskyz" is 94.1 similar to both the table's "zelensky" and the open "zlenskyz".
    assert resolved_pairs(out) == [("Smiths", "Smiths", "ner")] * 3 + [("Smitth", "Smitth", "ner")] * 2 + [
        ("Smith", "Smiths", "fuzzy"), ("Zlenskyz", "Zlenskyz", "ner"), ("Zlenskyz", "Zlenskyz", "ner"),
        ("Zelenskyz", "Volodymyr Zelensky", "fuzzy")]
    assert out["score"].round(1).tolist()[5::3] == [90.9, 94.1]


@pytest.mark.parametrize("surface", [
    "the the Kremlin's", "X's's", "(the Kremlin)", "Mr. Putin's", "President Mr. Putin", "the Prime Minister",
    "THE  U.S.'", "Erdoğan’s", "Kim Jong–un", "Secretary-General Guterres",
])
def test_surface_forms_equal_the_public_normalisation(table: A.ActorTable, surface: str) -> None:
    clean = A.clean_surface(surface)
    stripped = A.strip_titles(clean, table.titles)
    expected = (clean, A.name_key(clean), stripped, A.name_key(stripped))
    assert A._surface_forms(surface, A._title_lookup(table.titles)) == expected


def test_prominence_shares_with_wilson_interval() -> None:
    mentions, sentences, articles = tiny_tables()
    out = A.actor_prominence(mentions, sentences, articles)
    y = out[out["outlet"] == "Y"]
    assert y[["actor", "sentences", "n_sentences_outlet", "share"]].values.tolist() == [["A", 1, 1, 1.0], ["C", 1, 1, 1.0]]
    x_a = out[(out["outlet"] == "X") & (out["actor"] == "A")].iloc[0]
    assert (x_a["sentences"], x_a["n_sentences_outlet"], x_a["share"]) == (3, 5, 0.6)
    assert (x_a["ci_low"], x_a["ci_high"]) == pytest.approx((0.2307, 0.8824), abs=1e-4)
    assert x_a["evidence"] == "a:0"


def test_actor_summary() -> None:
    mentions, _, articles = tiny_tables()
    out = A.actor_summary(mentions, articles)
    assert out[["actor", "mentions", "sentences", "articles", "outlets"]].values.tolist() == [
        ["A", 5, 4, 3, 2], ["B", 3, 3, 2, 1], ["C", 3, 3, 3, 2]]


# ------------------------------------------------------------- with the model


def sentence_tables(docs: dict[str, tuple[str, list[list[str]]]]) -> dict[str, pd.DataFrame]:
    """``sentences`` and ``articles`` from {doc_id: (outlet, paragraphs of sentences)}."""
    rows, arts = [], []
    for doc_id, (outlet, paragraphs) in docs.items():
        text, sent_id = "", 0
        for para_id, paragraph in enumerate(paragraphs):
            if text:
                text += "\n\n"
            for i, sentence in enumerate(paragraph):
                if i:
                    text += " "
                rows.append((doc_id, para_id, sent_id, len(text), len(text) + len(sentence), sentence))
                text += sentence
                sent_id += 1
        arts.append((doc_id, outlet, text))
    return {"sentences": pd.DataFrame(rows, columns=["doc_id", "para_id", "sent_id", "start", "end", "text"]),
            "articles": pd.DataFrame(arts, columns=["doc_id", "outlet", "text"])}


DOCS = {
    "d1": ("Alpha", [["Russian President Vladimir Putin met Chinese leader Xi Jinping in Moscow on Tuesday.",
                      "Putin's spokesman said the Kremlin was satisfied."],
                     ["Prime Minister Keir Starmer said Britain and the EU would support Ukraine.",
                      "Reuters could not reach Mr. Zelenskyy, who had met NATO leaders."]]),
    "d2": ("Beta", [["Ukrainian President Volodymyr Zelensky said Moscow must withdraw from Ukraine."]]),
}


def test_run_on_made_up_articles_offsets_and_tables() -> None:
    tables = sentence_tables(DOCS)
    out = A.run(tables, data_dir=ROOT / "data")
    assert set(out) == {"mentions", "comentions", "actors", "actor_prominence", "actor_merges", "unresolved_entities"}
    mentions = out["mentions"]
    assert list(mentions.columns) == A.MENTION_COLUMNS
    text = tables["articles"].set_index("doc_id")["text"]
    assert all(text[d][s:e] == surface for d, s, e, surface in
               mentions[["doc_id", "start", "end", "surface"]].itertuples(index=False))
    got = set(mentions[["doc_id", "actor"]].itertuples(index=False, name=None))
    assert got == {("d1", "Russia"), ("d1", "Vladimir Putin"), ("d1", "China"), ("d1", "Xi Jinping"),
                   ("d1", "Moscow"), ("d1", "Keir Starmer"), ("d1", "United Kingdom"), ("d1", "European Union"),
                   ("d1", "Ukraine"), ("d1", "Volodymyr Zelensky"), ("d1", "NATO"),
                   ("d2", "Ukraine"), ("d2", "Volodymyr Zelensky"), ("d2", "Russia")}
    assert "Reuters" not in set(mentions["surface"])
    starmer = mentions[mentions["actor"] == "Keir Starmer"]
    assert starmer["actor_type"].tolist() == ["person"]
    moscow = mentions[mentions["surface"] == "Moscow"].set_index("doc_id")
    assert moscow.loc["d1", "method"] == "place" and moscow.loc["d2", "method"] == "capital"
    top = out["comentions"].query("level == 'sentence' and outlet == 'ALL'").iloc[0]
    assert (top["actor_a"], top["actor_b"], top["units"], top["evidence"]) == ("Russia", "Vladimir Putin", 2,
                                                                                "d1:0;d1:1")
    merges = out["actor_merges"].set_index("surface")
    assert merges.loc["Kremlin", "method"] == "metonym" and merges.loc["Zelenskyy", "actor"] == "Volodymyr Zelensky"
    assert {"Alpha", "Beta", "ALL"} == set(out["actor_prominence"]["outlet"])


def test_ner_units_join_a_paragraphs_sentences_keeping_offsets() -> None:
    sentences = pd.DataFrame([("d", 0, 0, 0, "One."), ("d", 0, 1, 6, "Two."), ("d", 1, 2, 12, "Three."),
                              ("e", 0, 0, 0, "Four.")], columns=["doc_id", "para_id", "sent_id", "start", "text"])
    texts, units = A.ner_units(sentences)
    assert texts == ["One.  Two.", "Three.", "Four."] and units.tolist() == [0, 0, 1, 2]
    texts, units = A.ner_units(sentences, "sentence")
    assert texts == ["One.", "Two.", "Three.", "Four."] and units.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="overlap"):
        A.ner_units(sentences.assign(start=[0, 2, 12, 0]))


def test_paragraph_ner_maps_spans_to_their_sentence_and_keeps_split_names_whole() -> None:
    tables = sentence_tables({"d": ("Alpha", [["Talks went on.", "He met Jean"], ["Dupont and Putin spoke.",
                                                                                  "They left."]])})
    sentences = tables["sentences"]
    sentences.loc[2, ["para_id", "start", "end"]] = [0, sentences.loc[1, "end"] + 1, sentences.loc[1, "end"] + 24]
    text = sentences.loc[0, "text"] + " " + sentences.loc[1, "text"] + " " + sentences.loc[2, "text"]
    got = A.extract_entities(sentences.iloc[:3], patterns=(("PERSON", "Jean Dupont"),))
    assert got[["sent_id", "surface", "start", "end", "preceding"]].values.tolist() == [
        [1, "Jean Dupont", 22, 33, "met"], [2, "Putin", 38, 43, "and"]]
    assert all(text[s:e] == surface for s, e, surface in got[["start", "end", "surface"]].itertuples(index=False))


def test_parallel_extraction_equals_serial() -> None:
    sentences = sentence_tables(DOCS)["sentences"]
    many = pd.concat([sentences.assign(doc_id=f"{i}") for i in range(6)], ignore_index=True)
    serial = A.extract_entities(many, n_process=1, batch_size=4)
    parallel = A.extract_entities(many, n_process=2, batch_size=4)
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(serial) == 6 * len(A.extract_entities(sentences, n_process=1))


def test_no_entities_gives_empty_tables_with_the_contract_columns() -> None:
    tables = sentence_tables({"d": ("Alpha", [["It rained all day.", "Nobody came."]])})
    out = A.run(tables, data_dir=ROOT / "data")
    assert out["mentions"].empty and list(out["mentions"].columns) == A.MENTION_COLUMNS
    assert out["comentions"].empty and list(out["comentions"].columns) == A.COMENTION_COLUMNS
    assert list(out["actor_prominence"].columns) == A.PROMINENCE_COLUMNS
    assert list(out["actor_merges"].columns) == A.MERGE_COLUMNS


def test_missing_outlet_gets_its_own_placeholder() -> None:
    mentions, sentences, articles = tiny_tables()
    articles = articles.assign(outlet=["X", None, "Y"])
    out = A.actor_summary(mentions, articles)
    assert out.set_index("actor").loc["B", "outlets"] == 2
    missing = articles.loc[articles["outlet"].isna(), "doc_id"].iloc[0]
    assert f"(unknown: {missing})" in set(A.actor_prominence(mentions, sentences, articles)["outlet"])


def test_figures_from_the_actor_tables() -> None:
    from toolkit.charts import actors as charts

    docs = dict(DOCS, d3=("Beta", [["Zelensky and Putin spoke as Russia and Ukraine traded accusations.",
                                    "Putin said Russia would not stop."]]))
    tables = sentence_tables(docs)
    tables["articles"]["title"] = ["One", "Two", "Three"]
    tables.update(A.run(tables, data_dir=ROOT / "data"))
    figs = charts.figures(tables)
    assert [f.name for f in figs] == ["actors-network", "actors-network-by-outlet", "actors-comention-matrix",
                                      "actors-ego", "actors-prominence"]
    assert figs[0].alt_text.startswith("Network chart of the ")
    assert "Russia and Vladimir Putin" in figs[0].alt_text
    assert set(figs[1].data["outlet"]) == {"Alpha", "Beta"}

    def marks(node, found):
        if isinstance(node, dict):
            if isinstance(node.get("mark"), dict):
                found.append(node)
            for value in node.values():
                marks(value, found)
        elif isinstance(node, list):
            for value in node:
                marks(value, found)
        return found

    # edges fade by stroke opacity (a rasterised SVG line with plain opacity costs a layer of its own)
    edges = [m["encoding"] for f in figs[:2] for m in marks(f.chart.to_dict(), []) if m["mark"]["type"] == "rule"]
    assert len(edges) == 1 + 2 and all("strokeOpacity" in e and "opacity" not in e for e in edges)
    assert "Who appears with Vladimir Putin" in figs[3].chart.to_json()
    assert all(not f.data.empty for f in figs)
