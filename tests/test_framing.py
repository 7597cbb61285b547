"""Specifications of toolkit.framing (frames, distinctive terms, naming, attribution, rewrites)."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit.framing as fr
from toolkit.charts import framing as charts
from toolkit.framing.datafile import DataFileError
from toolkit.framing.frames import cue_pattern
from toolkit.stats import wilson_interval

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def sentences_of(texts: dict[str, list[str]]) -> pd.DataFrame:
    """A sentences table from {doc_id: [sentence, ...]} with offsets as if joined by spaces."""
    rows = []
    for doc_id, sents in texts.items():
        start = 0
        for i, text in enumerate(sents):
            rows.append((doc_id, 0, i, start, start + len(text), text))
            start += len(text) + 1
    return pd.DataFrame(rows, columns=["doc_id", "para_id", "sent_id", "start", "end", "text"])


def articles_of(outlets: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": list(outlets), "outlet": list(outlets.values()),
                         "derived_from": [None] * len(outlets)})


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


CODEBOOK = """
frames:
  - id: test.economy
    label: Economy
    description: money
    cues:
      sanction: 2
      cost: 1
      negotiat*: 1
    prototypes:
      - The deal will cost billions.
  - id: test.conflict
    label: Conflict
    description: fights
    cues:
      clash: 2
"""


# ----------------------------------------------------------------------------- frames

def test_cues_match_inflections_and_record_the_words_as_evidence(tmp_path):
    codebook = fr.load_codebook(write(tmp_path, "frames.yml", CODEBOOK))
    sents = sentences_of({"d": ["Washington sanctioned the firms and negotiators clashed.", "Nothing to see."]})
    frames = fr.score_frames(sents, codebook, embed=None)
    assert frames[["sent_id", "frame", "evidence"]].values.tolist() == [
        [0, "test.economy", "sanctioned; negotiators"],
        [0, "test.conflict", "clashed"],
    ]
    assert frames["score"].tolist() == pytest.approx([1 - np.exp(-3), 1 - np.exp(-2)], abs=1e-4)


def test_cue_patterns_accept_hyphens_spelling_and_reject_longer_words():
    import re

    assert re.fullmatch(cue_pattern("peace talk"), "peace-talks", re.I)
    assert re.fullmatch(cue_pattern("stabilize"), "stabilised", re.I)
    assert re.fullmatch(cue_pattern("casualty"), "casualties", re.I)
    assert not re.fullmatch(cue_pattern("war"), "warsaw", re.I)


def test_a_single_weak_cue_needs_semantic_support_and_embedding_only_labels_name_the_prototype(tmp_path):
    codebook = fr.load_codebook(write(tmp_path, "frames.yml", CODEBOOK))
    sents = sentences_of({"d": ["It will cost a lot.", "A price tag in the billions.", "The cat sat."]})
    vectors = {"It will cost a lot.": [0, 1, 0], "A price tag in the billions.": [1, 0, 0],
               "The cat sat.": [0, 0, 1], "The deal will cost billions.": [1, 0, 0]}
    frames = fr.score_frames(sents, codebook, embed=lambda texts: np.array([vectors[t] for t in texts], float))
    assert frames[["sent_id", "frame", "evidence"]].values.tolist() == [
        [1, "test.economy", "similar to: The deal will cost billions."],
    ]
    assert frames["embed_score"].tolist() == [1.0]
    assert frames["cue_score"].tolist() == [0.0]


def test_codebook_errors_name_file_and_line(tmp_path):
    bad = CODEBOOK.replace("cost: 1", "cost: lots")
    path = write(tmp_path, "frames.yml", bad)
    with pytest.raises(DataFileError, match=r"frames\.yml, line 7: weight of cue 'cost'"):
        fr.load_codebook(path)
    path = write(tmp_path, "dup.yml", CODEBOOK.replace("id: test.conflict", "id: test.economy"))
    with pytest.raises(DataFileError, match=r"dup\.yml, line 11: id 'test.economy' is used twice"):
        fr.load_codebook(path)
    path = write(tmp_path, "syntax.yml", "frames:\n  - id: [unclosed\n")
    with pytest.raises(DataFileError, match=r"syntax\.yml, line 3: YAML syntax error"):
        fr.load_codebook(path)


def test_bundled_codebook_has_both_schemes():
    codebook = fr.load_codebook(DATA / "frames.yml")
    families = pd.Series([f.family for f in codebook]).value_counts().to_dict()
    assert families == {"generic": 5, "policy": 14}  # the codebook's 15th frame, "other", is not scored
    assert all(3 <= len(f.prototypes) <= 5 and f.cues for f in codebook)


def test_frame_shares_use_wilson_intervals_and_list_zero_rows(tmp_path):
    codebook = fr.load_codebook(write(tmp_path, "frames.yml", CODEBOOK))
    sents = sentences_of({"a": ["They clashed.", "Calm.", "Calm again.", "Still calm."], "b": ["Quiet."]})
    frames = fr.score_frames(sents, codebook, embed=None)
    shares = fr.frame_shares(frames, sents, articles_of({"a": "A", "b": "B"}), codebook)
    row = shares[(shares.outlet == "A") & (shares.frame == "test.conflict")].iloc[0]
    assert (row.sentences, row.n, row.share, row.articles, row.example) == (1, 4, 0.25, 1, "They clashed.")
    assert (row.ci_low, row.ci_high) == pytest.approx((0.0456, 0.6994), abs=1e-4)
    assert wilson_interval(1, 4) == pytest.approx((row.ci_low, row.ci_high))
    assert len(shares) == 4 and shares.loc[shares.outlet == "B", "sentences"].tolist() == [0, 0]


# ----------------------------------------------------------------------------- distinctive terms

def test_log_odds_sign_and_ordering_on_two_outlets():
    sents = sentences_of({
        "a1": ["The regime attacked the rebels.", "The regime regime regime won."],
        "b1": ["The government attacked the rebels.", "The government government won."],
    })
    terms = fr.distinctive_terms(sents, articles_of({"a1": "A", "b1": "B"}), min_count=3, min_z=1.0)
    a = terms[terms.outlet == "A"]
    assert a["term"].tolist() == ["regime", "government"]
    assert a["z"].iloc[0] > 1.0 > -1.0 > a["z"].iloc[1]
    assert a[["count", "count_rest"]].values.tolist() == [[4, 0], [0, 3]]
    assert a["example"].tolist() == ["The regime attacked the rebels.", "The government attacked the rebels."]
    b = terms[terms.outlet == "B"]
    assert b["term"].tolist() == ["government", "regime"]
    assert b["z"].iloc[0] == pytest.approx(-a["z"].iloc[1])


def test_distinctive_terms_drop_stopword_edges_and_outlet_names():
    analyze = fr.distinctive.ngram_analyzer(frozenset({"of", "the"}), 3)
    assert analyze("Coalition of the willing") == ["coalition", "willing"]
    assert fr.distinctive.outlet_name_words(["Al Mayadeen English"]) == {"al", "mayadeen", "english"}


# ----------------------------------------------------------------------------- naming

def test_naming_counts_respect_case_quotes_and_exclusions():
    concepts = fr.load_naming(DATA / "naming.yml")
    sents = sentences_of({
        "a": ["NATO met in Kyiv.", "Nato is a word, NATO an acronym.", "After the Cold War came the war."],
        "b": ["Officials in Kiev said the “coalition of the willing” met.", "The so-called 'coalition of the willing'."],
    })
    table = fr.naming_table(sents, articles_of({"a": "A", "b": "B"}), concepts)
    got = table[table["count"] > 0].set_index(["concept", "variant", "outlet"])["count"].to_dict()
    assert got == {
        ("Ukraine's capital", "Kyiv", "A"): 1,
        ("Ukraine's capital", "Kiev", "B"): 1,
        ("NATO spelling", "NATO", "A"): 2,
        ("NATO spelling", "Nato", "A"): 1,
        ("Russia-Ukraine war", "war", "A"): 1,
        ("Coalition of the willing", "so-called coalition of the willing", "B"): 1,
        ("Coalition of the willing", "“coalition of the willing” (quoted)", "B"): 1,
    }
    nato = table[(table.variant == "NATO") & (table.outlet == "A")].iloc[0]
    assert (nato.doc_ids, nato.sent_keys, nato.concept_count, nato.share) == ("a", "a:0; a:1", 3, 2 / 3)
    assert table[(table.concept == "NATO spelling") & (table.outlet == "B")]["share"].isna().all()


def test_naming_file_errors_name_the_line(tmp_path):
    path = write(tmp_path, "naming.yml", """
        concepts:
          - concept: capital
            variants:
              - variant: Kyiv
                forms: [Kyiv]
              - variant: Kiev
                regex: ['Kiev(']
        """)
    with pytest.raises(DataFileError, match=r"naming\.yml, line 7: a regex is not a valid regular expression"):
        fr.load_naming(path)


def test_scare_quotes_found_with_curly_and_straight_quotes_but_not_apostrophes():
    sents = sentences_of({
        "a": ["Officials urged 'Israel' to comply.", "They attacked “Israel” again.", "Israel's army moved."],
        "b": ["Israel said no.", "It was the \"Global South\" speaking."],
    })
    cands = fr.naming_candidates(sents, articles_of({"a": "A", "b": "B"}))
    quotes = cands[cands.kind == "scare_quote"].set_index(["key", "variant", "outlet"])["count"].to_dict()
    assert quotes == {("Global South", "“Global South”", "B"): 1, ("Israel", "Israel", "A"): 1,
                      ("Israel", "Israel", "B"): 1, ("Israel", "“Israel”", "A"): 2}


def test_spelling_candidates_group_variants_that_differ_between_outlets():
    sents = sentences_of({
        "a": ["Talks in Kyiv went on.", "Then Zelensky spoke in Kyiv.", "The German side and Germany agreed."],
        "b": ["Talks in Kiev went on.", "Then Zelenskyy spoke.", "The German side and Germany agreed."],
    })
    cands = fr.naming_candidates(sents, articles_of({"a": "A", "b": "B"}))
    spelled = cands[cands.kind == "spelling"].set_index(["key", "variant", "outlet"])["count"].to_dict()
    assert spelled == {("Kyiv", "Kiev", "B"): 1, ("Kyiv", "Kyiv", "A"): 2,
                       ("Zelensky", "Zelensky", "A"): 1, ("Zelensky", "Zelenskyy", "B"): 1}


# ----------------------------------------------------------------------------- attribution

ATTRIBUTION_TEXTS = [
    "Putin said the talks would continue.",                                   # X said
    "“We are ready,” said Lavrov.",                                           # said X
    "Boris Pistorius, the German defence minister, insisted that it was wrong.",  # X, the …, said
    "According to Reuters, the pipeline will be built.",                      # according to X
    "Officials claimed without providing evidence that Moscow was behind it.",  # doubting + flag
    "“Nobody wants this,” Zelensky warned.",                                  # quote before attribution
    "“We will not stop.”",                                                    # continuation
    "He added that peace was possible.",                                      # pronoun
    "This view suggests a change.",                                           # not a speaker
]


def test_attribution_patterns_verbs_and_groups():
    sents = sentences_of({"d": ATTRIBUTION_TEXTS})
    got = fr.attribute_sentences(sents)
    assert got[["sent_id", "speaker", "verb", "verb_group", "pattern"]].values.tolist() == [
        [0, "Putin", "said", "neutral", "subject"],
        [1, "Lavrov", "said", "neutral", "subject"],
        [2, "Boris Pistorius", "insisted", "emphatic", "subject"],
        [3, "Reuters", "according to", "neutral", "according_to"],
        [4, "Officials", "claimed", "doubting", "subject"],
        [5, "Zelensky", "warned", "emphatic", "subject"],
        [6, "Zelensky", "warned", "emphatic", "continuation"],
        [7, "Zelensky", "added", "neutral", "pronoun"],
    ]
    assert got["quote"].tolist()[:2] == ["the talks would continue", "We are ready"]
    assert got["quote_kind"].tolist()[:2] == ["indirect", "direct"]
    assert got["without_evidence"].tolist() == [False, False, False, False, True, False, False, False]


def test_speakers_are_linked_to_canonical_actors_through_mentions():
    sents = sentences_of({"d": ["Russian President Vladimir Putin said no.", "Mr Lavrov said yes."]})
    second = int(sents.at[1, "start"])
    mentions = pd.DataFrame({
        "doc_id": ["d", "d"], "sent_id": [0, 1], "actor": ["Vladimir Putin", "Sergey Lavrov"],
        "actor_type": ["person", "person"], "surface": ["Vladimir Putin", "Lavrov"],
        "start": [17, second + 3], "end": [31, second + 9]})
    got = fr.attribute_sentences(sents, mentions)
    assert got[["speaker", "speaker_type", "surface"]].values.tolist() == [
        ["Vladimir Putin", "person", "Russian President Vladimir Putin"],
        ["Sergey Lavrov", "person", "Mr Lavrov"],
    ]
    by_outlet = fr.attribution_by_outlet(got, articles_of({"d": "A"}), sents)
    assert by_outlet[["speaker", "verb_group", "count", "n", "verbs"]].values.tolist() == [
        ["Sergey Lavrov", "neutral", 1, 2, "said ×1"], ["Vladimir Putin", "neutral", 1, 2, "said ×1"]]


# ----------------------------------------------------------------------------- rewrites and run

def test_rewrite_changes_show_direction_of_word_changes():
    sents = sentences_of({
        "src": ["Leaders met in Kyiv on Monday to discuss the reassurance force.", "The meeting ended late."],
        "der": ["Leaders met in Kiev on Monday to discuss the peacekeeping force.", "A new sentence appears here."],
    })
    articles = pd.DataFrame({"doc_id": ["src", "der"], "outlet": ["A", "B"], "derived_from": [None, "src"]})
    changes = fr.rewrite_changes(articles, sents)
    assert changes[["doc_id", "source_doc_id", "change", "before", "after"]].values.tolist() == [
        ["der", "src", "replaced", "Kyiv", "Kiev"],
        ["der", "src", "replaced", "reassurance", "peacekeeping"],
        ["der", "src", "added_sentence", "", "A new sentence appears here."],
        ["der", "src", "dropped_sentence", "The meeting ended late.", ""],
    ]


def test_one_outlet_corpus_warns_and_keeps_every_table_with_columns():
    sents = sentences_of({"a": ["Putin said the war would go on.", "Kyiv rejected it."]})
    tables = {"sentences": sents, "articles": articles_of({"a": "Only"})}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fr.run(tables, data_dir=DATA, use_embeddings=False)
    messages = " ".join(str(w.message) for w in caught)
    assert "1 outlet(s) (Only)" in messages and "spelling variants are compared between outlets" in messages
    assert set(out) == set(fr.TABLE_COLUMNS)
    for name, columns in fr.TABLE_COLUMNS.items():
        assert list(out[name].columns) == columns, name
    assert out["distinctive_terms"].empty and out["rewrite_changes"].empty
    assert out["attribution"]["speaker"].tolist() == ["Putin"]
    assert out["naming"].query("count > 0")["variant"].tolist() == ["Kyiv", "war"]


def test_figures_from_framing_tables():
    sents = sentences_of({"a": ["Troops clashed as Putin said the war would go on.", "Kyiv rejected it."],
                          "b": ["Kiev said talks failed.", "Troops deployed in the war zone."]})
    articles = articles_of({"a": "A", "b": "B"})
    tables = {"sentences": sents, "articles": articles}
    tables.update(fr.run(tables, data_dir=DATA, use_embeddings=False))
    figs = charts.figures(tables)
    assert [f.name for f in figs] == ["framing-frame-shares", "framing-naming", "framing-attribution"]
    assert all(f.alt_text and not f.data.empty for f in figs)


def test_bundled_corpus_naming_and_speakers():
    import toolkit

    corpus = toolkit.load_corpus(ROOT / "data" / "raw")
    tables = dict(corpus.tables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fr.run(tables, data_dir=DATA, use_embeddings=False)
    naming = out["naming"]
    kiev = naming[(naming.variant == "Kiev") & (naming["count"] > 0)]
    outlets = tables["articles"].set_index("doc_id")["outlet"]
    assert kiev["doc_ids"].tolist() == ["001_5fb1e9cc04ceade5"]
    assert outlets["001_5fb1e9cc04ceade5"] in kiev["outlet"].tolist()
    assert naming[(naming.variant == "Kyiv") & (naming["count"] > 0)]["outlet"].nunique() >= 2
    assert naming[naming.variant == "‘Israel’ (quoted)"]["count"].sum() == 0
    speakers = " | ".join(out["attribution"]["speaker"])
    for name in ("Putin", "Pistorius", "Lavrov", "Zelensky"):
        assert name in speakers, name


# ----------------------------------------------------------------------------- scale: per-document outputs

def test_run_from_per_document_outputs_equals_run_on_the_whole_corpus():
    sents = sentences_of({
        "a": ["Officials said the “special operation” would go on in Kiev.", "Zelensky warned of a cold war.",
              "“We will not stop.”", "The so-called coalition of the willing met."],
        "b": ["Kyiv said the special operation failed.", "Zelenskyy said NATO and Nato differ.",
              "According to Reuters, the war goes on."],
        "c": ["The coalition of the willing met in Kyiv.", "He added that the special operation failed."],
    })
    tables = {"sentences": sents, "articles": articles_of({"a": "A", "b": "B", "c": "C"})}
    parts = [{**fr.document_step({"sentences": sents[sents.doc_id == d]}, data_dir=DATA, use_embeddings=False),
              **fr.early_document_step({"sentences": sents[sents.doc_id == d]})} for d in ("a", "b", "c")]
    precomputed = {name: pd.concat([p[name] for p in parts], ignore_index=True)
                   for name in fr.DOCUMENT_OUTPUTS + fr.EARLY_OUTPUTS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = fr.run(tables, data_dir=DATA, use_embeddings=False)
        cached = fr.run(tables, data_dir=DATA, use_embeddings=False, precomputed=precomputed)
    assert not whole["naming"].query("count > 0").empty and not whole["naming_candidates"].empty
    for name in fr.TABLE_COLUMNS:
        pd.testing.assert_frame_equal(whole[name].reset_index(drop=True), cached[name].reset_index(drop=True),
                                      check_dtype=False, obj=name)


def test_find_variants_runs_regexes_and_trigger_words_alike(tmp_path):
    path = write(tmp_path, "naming.yml", """
        concepts:
          - concept: force
            exclude: ['\\bno force\\b']
            variants:
              - variant: full-scale
                forms: [full-scale force]
              - variant: so-called
                regex: ['so-called\\s+force']
              - variant: force
                forms: [force]
        """)
    concepts = fr.load_naming(path)
    assert [v.triggers for v in concepts[0].variants] == [("full",), (None,), ("force",)]
    sents = sentences_of({"d": ["A Full-Scale Force and a so-called force.", "There was no force.", "Forceful."]})
    hits = fr.find_variants(sents, concepts)
    assert hits[["variant", "sent_id", "start", "end"]].values.tolist() == [
        ["full-scale", 0, 2, 18], ["so-called", 0, 25, 40]]


def test_scare_quotes_find_plain_uses_of_terms_with_punctuation():
    sents = sentences_of({"a": ["The “AT&T-style deal” was signed."],
                          "b": ["An AT&T-style deal, again.", "No AT&T-style dealer here.", "AT&T style deal."]})
    cands = fr.naming_candidates(sents, articles_of({"a": "A", "b": "B"}))
    quotes = cands[cands.kind == "scare_quote"]
    assert quotes[["variant", "outlet", "sent_keys"]].values.tolist() == [
        ["AT&T-style deal", "B", "b:0"], ["“AT&T-style deal”", "A", "a:0"]]


def test_vectorised_ngrams_equal_the_analyzer():
    from collections import Counter

    from toolkit.framing.distinctive import ngram_analyzer, ngram_occurrences, sentence_tokens

    texts = ["The coalition of the willing met Putin's envoys.", "", "Putin’s envoys met the coalition.", "Of the"]
    stop = frozenset({"the", "of"})
    tokens = sentence_tokens(pd.DataFrame({"doc_id": "d", "sent_id": range(4), "text": texts}))["tokens"].tolist()
    rows, keys, spell = ngram_occurrences(tokens, stop)
    names = spell(np.arange(keys.max() + 1)).to_pylist()
    got = Counter((int(r), names[k]) for r, k in zip(rows, keys))
    assert got == Counter((i, g) for i, t in enumerate(texts) for g in ngram_analyzer(stop)(t))


def test_pronoun_speakers_take_the_nearest_person_before():
    from toolkit.framing.attribution import DocMentions, _link, _nearest_person

    mentions = DocMentions(pd.DataFrame({"actor": ["Kyiv", "Putin", "Lavrov"], "actor_type": ["place", "person", "person"],
                                         "start": [0, 10, 30], "end": [4, 15, 36]}))
    assert _nearest_person(mentions, before=40, after=0) == ("Lavrov", "person")
    assert _nearest_person(mentions, before=20, after=0) == ("Putin", "person")
    assert _nearest_person(mentions, before=40, after=12) == ("Lavrov", "person")
    assert _nearest_person(mentions, before=9, after=0) is None
    assert _link(mentions, 0, 16, head_start=12) == ("Putin", "person")
    assert _link(mentions, 0, 3, head_start=1) == ("Kyiv", "place")
    assert _link(mentions, 5, 9, head_start=6) is None


def test_naming_candidates_computed_beside_the_other_tables_are_the_same_tables():
    """On a corpus the engine forks for, naming candidates run in a forked process while
    distinctive terms and rewrite changes are computed here; the tables and warnings do not change."""
    from toolkit.engine import Engine

    sents = sentences_of({"a": ["Putin called it a “special operation” in Kiev.", "Kyiv rejected it."],
                          "b": ["Kyiv said the special operation failed.", "Troops deployed in the war zone."]})
    tables = {"sentences": sents, "articles": articles_of({"a": "A", "b": "B"})}
    serial = fr.run(tables, data_dir=DATA, use_embeddings=False)
    side = fr.run(tables, data_dir=DATA, use_embeddings=False,
                  early_tables=fr.early(tables, engine=Engine(n_jobs=2, min_parallel_docs=1)))
    assert list(side) == list(serial)
    for name in serial:
        pd.testing.assert_frame_equal(side[name], serial[name], obj=name)
    quoted = serial["naming_candidates"].query("kind == 'scare_quote'")
    assert quoted[["variant", "outlet", "count"]].values.tolist() == [
        ["special operation", "B", 1], ["“special operation”", "A", 1]]
    one_outlet = {"sentences": sents, "articles": articles_of({"a": "A", "b": "A"})}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fr.early(one_outlet, engine=Engine(n_jobs=2, min_parallel_docs=1))
    assert any("spelling variants are compared between outlets" in str(w.message) for w in caught)
