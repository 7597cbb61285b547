"""Frame codebook: loading ``data/frames.yml``, scoring sentences, frame shares per outlet.

A sentence gets a frame when its cue words (weighted lexicon, inflection-aware) and its
embedding similarity to the frame's prototype sentences together pass a threshold; the
matched words (or the nearest prototype, for embedding-only labels) are kept as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.framing import datafile
from toolkit.stats import wilson_interval

FRAMES_COLUMNS = ["doc_id", "sent_id", "frame", "family", "score", "evidence", "cue_score", "embed_score"]
SHARES_COLUMNS = ["outlet", "frame", "family", "label", "sentences", "n", "share", "ci_low", "ci_high",
                  "articles", "example", "example_doc_id", "example_sent_id"]

VOWELS = frozenset("aeiou")
WORD = re.compile(r"[^\W_]+")
FRAME_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Frame:
    """One codebook entry: ``id`` is ``<family>.<name>``; cues map a word or phrase to its weight."""

    id: str
    family: str
    label: str
    description: str
    cues: dict[str, float]
    prototypes: tuple[str, ...]


def word_forms(word: str) -> list[str]:
    """Regular inflections and British/American spellings of one lowercase cue word.

    Hand-written because no installed library generates English inflections (spaCy only
    lemmatises, and only with its tagger, ~6k words/s — too slow to run on every sentence).
    Over-generation (``war`` → ``wared``) is harmless: such strings do not occur in text.

    >>> {"escalated", "escalates", "escalating"} <= set(word_forms("escalate"))
    True
    """
    stems = {word}
    for a, b in (("ize", "ise"), ("yze", "yse"), ("ization", "isation")):
        if word.endswith(a):
            stems.add(word[: -len(a)] + b)
        elif word.endswith(b) and len(word) > 5:
            stems.add(word[: -len(b)] + a)
    if word.endswith("our") and len(word) >= 6:
        stems.add(word[:-3] + "or")
    forms = set()
    for w in stems:
        forms.update({w, w + "s", w + "es", w + "ed", w + "ing"})
        if w.endswith("e"):
            forms.update({w + "d", w[:-1] + "ing"})
        if w.endswith("y") and len(w) > 2 and w[-2] not in VOWELS:
            forms.update({w[:-1] + "ies", w[:-1] + "ied"})
        if w.endswith("is"):
            forms.add(w[:-2] + "es")
        if len(w) >= 3 and w[-1] not in VOWELS | set("wxy") and w[-2] in VOWELS and w[-3] not in VOWELS:
            forms.update({w + w[-1] + "ed", w + w[-1] + "ing"})
    return sorted(forms)


def cue_pattern(cue: str) -> str:
    """Regex source matching a cue word or phrase in its inflected forms (case-insensitive use).

    Words of a phrase may be separated by spaces or hyphens; a trailing ``*`` is a prefix
    wildcard (``negotiat*``); words with digits or punctuation match literally.

    >>> bool(re.fullmatch(cue_pattern("peace talk"), "peace-talks", re.I))
    True
    """
    parts = []
    for word in re.split(r"[\s\-]+", cue.strip().lower()):
        if word.endswith("*"):
            parts.append(re.escape(word[:-1]) + r"\w*")
        elif word.isalpha():
            parts.append("(?:" + "|".join(map(re.escape, sorted(word_forms(word), key=len, reverse=True))) + ")")
        else:
            parts.append(re.escape(word))
    return r"[\s\-]+".join(parts)


def load_codebook(path: Path | str) -> list[Frame]:
    """Read and validate a frame codebook (see ``data/frames.yml`` for the format).

    Raises :class:`toolkit.framing.datafile.DataFileError` naming the file and line for: YAML
    syntax errors, missing or unknown keys, ids not of the form ``family.name`` or repeated,
    a family that does not match the id, weights outside (0, 5], empty cue words, frames with
    neither cues nor prototypes. Entries with ``scored: false`` (a codebook's residual "other"
    category) are validated and skipped.
    """
    root = datafile.mapping(path, datafile.compose(path), "the file", required=("frames",))
    frames: list[Frame] = []
    seen: set[str] = set()
    for node in datafile.sequence(path, root["frames"], "'frames'", min_len=1):
        entry = datafile.mapping(path, node, "a frame", required=("id", "label", "description"),
                                 allowed=("id", "family", "label", "source", "description", "cues",
                                          "prototypes", "scored"))
        frame_id = datafile.text(path, entry["id"], "'id'")
        if not FRAME_ID.match(frame_id):
            raise datafile.fail(path, entry["id"], f"id '{frame_id}' must look like family.name "
                                                   "(lowercase letters, digits, underscores)")
        if frame_id in seen:
            raise datafile.fail(path, entry["id"], f"id '{frame_id}' is used twice")
        seen.add(frame_id)
        family = frame_id.split(".")[0]
        if "family" in entry and datafile.text(path, entry["family"], "'family'") != family:
            raise datafile.fail(path, entry["family"], f"family must be '{family}' (the part of the id before the dot)")
        cues: dict[str, float] = {}
        if "cues" in entry:
            cue_nodes = datafile.mapping(path, entry["cues"], f"cues of '{frame_id}'")
            for cue, weight_node in cue_nodes.items():
                if not re.search(r"\w", cue):
                    raise datafile.fail(path, weight_node, f"cue {cue!r} of '{frame_id}' has no letters")
                cues[cue.strip()] = datafile.number(path, weight_node, f"weight of cue '{cue}'", low=0, high=5)
        prototypes = tuple(datafile.text(path, p, f"a prototype of '{frame_id}'")
                           for p in datafile.sequence(path, entry["prototypes"], f"prototypes of '{frame_id}'")) \
            if "prototypes" in entry else ()
        scored = datafile.flag(path, entry["scored"], "'scored'") if "scored" in entry else True
        if not scored:
            continue
        if not cues and not prototypes:
            raise datafile.fail(path, node, f"frame '{frame_id}' needs cues or prototypes (or scored: false)")
        frames.append(Frame(frame_id, family, datafile.text(path, entry["label"], "'label'"),
                            datafile.text(path, entry["description"], "'description'"), cues, prototypes))
    return frames


def _cue_regex(frame: Frame) -> re.Pattern[str] | None:
    """One alternation over a frame's cues (longest cue first), one named group per cue."""
    if not frame.cues:
        return None
    cues = sorted(frame.cues, key=lambda c: (-len(c), c))
    body = "|".join(f"(?P<c{i}>{cue_pattern(c)})" for i, c in enumerate(cues))
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def _triggers(cues: Sequence[str]) -> tuple[frozenset[str], tuple[str, ...], bool]:
    """Words whose presence makes a cue match possible: the forms of each cue's first word,
    prefixes of wildcard first words, and whether some cue starts with a non-word (always try).
    Checking them against a sentence's words first skips most regex searches."""
    forms: set[str] = set()
    prefixes: list[str] = []
    always = False
    for cue in cues:
        first = re.split(r"[\s\-]+", cue.strip().lower())[0]
        if first.endswith("*"):
            prefixes.append(first[:-1])
        elif first.isalpha():
            forms.update(word_forms(first))
        else:
            always = True
    return frozenset(forms), tuple(prefixes), always


def _prefix_search(prefixes: Sequence[str]) -> re.Pattern[str] | None:
    """A regex finding, in lowercase text, the start of each word (``[^\W_]+`` run) that begins
    with one of the prefixes: one C-level scan per sentence instead of testing its every word
    against every frame's prefixes in Python. A prefix with a non-word character never begins a
    word, so it is left out ("" begins any word). None when no prefix can match.

    >>> [m.start() for m in _prefix_search(["negotiat", "u.s"]).finditer("renegotiate, negotiated")]
    [13]
    """
    alternatives = sorted({re.escape(p) for p in prefixes if not p or WORD.fullmatch(p)})
    return re.compile(rf"(?<![^\W_])(?=[^\W_])(?:{'|'.join(alternatives)})") if alternatives else None


def match_cues(texts: Sequence[str], frames: Sequence[Frame]) -> tuple[np.ndarray, list[list[list[str]]]]:
    """Cue weights and matched phrases per text and frame.

    Returns ``weights`` (``len(texts) x len(frames)``: sum of the weights of the distinct cues
    found) and ``phrases[i][j]``: the matched surface strings in order of appearance (each
    distinct cue once). A frame's cue regex runs only on the texts holding one of its trigger
    words (:func:`_triggers`), found for all frames at once: each text's words meet one set of
    all trigger words, and one regex finds the words that begin with any frame's prefix.
    """
    weights = np.zeros((len(texts), len(frames)))
    phrases: list[list[list[str]]] = [[[] for _ in frames] for _ in texts]
    matchers: dict[int, tuple[re.Pattern[str], list[str]]] = {}
    frames_of_word: dict[str, list[int]] = {}
    prefixed: list[tuple[int, tuple[str, ...]]] = []
    always: set[int] = set()
    for j, frame in enumerate(frames):
        pattern = _cue_regex(frame)
        if pattern is None:
            continue
        cues = sorted(frame.cues, key=lambda c: (-len(c), c))
        matchers[j] = pattern, cues
        triggers, prefixes, tries_always = _triggers(cues)
        for word in triggers:
            frames_of_word.setdefault(word, []).append(j)
        if prefixes:
            prefixed.append((j, prefixes))
        if tries_always:
            always.add(j)
    trigger_words = frozenset(frames_of_word)
    prefix_search = _prefix_search([p for _, prefixes in prefixed for p in prefixes])
    for i, text in enumerate(texts):
        lowered = text.lower()
        candidates = set(always)
        for word in trigger_words.intersection(WORD.findall(lowered)):
            candidates.update(frames_of_word[word])
        for m in prefix_search.finditer(lowered) if prefix_search else ():
            word = WORD.match(lowered, m.start()).group(0)
            candidates.update(j for j, prefixes in prefixed if word.startswith(prefixes))
        for j in candidates:
            pattern, cues = matchers[j]
            found: set[str] = set()
            for m in pattern.finditer(text):
                cue = cues[int(m.lastgroup[1:])]
                if cue not in found:
                    found.add(cue)
                    weights[i, j] += frames[j].cues[cue]
                    phrases[i][j].append(m.group(0))
    return weights, phrases


def score_frames(sentences: pd.DataFrame, frames: Sequence[Frame], *,
                 embed: Callable[[list[str]], np.ndarray] | None, min_score: float = 0.35,
                 embed_floor: float = 0.25, embed_ceiling: float = 0.6, max_frames: int = 3) -> pd.DataFrame:
    """Label sentences with frames.

    Input ``sentences``: doc_id, sent_id, text. For each sentence and frame:

    - ``cue_score`` = 1 − exp(−Σ weights of the distinct cues found) (one weight-1 cue → 0.63);
    - ``embed_score`` = the highest cosine similarity to the frame's prototypes (raw);
    - ``score`` = mean of ``cue_score`` and the embedding similarity rescaled to [0, 1] between
      ``embed_floor`` and ``embed_ceiling``.

    A frame is kept when ``score >= min_score`` (a lone weight-1 cue needs some semantic support;
    embedding-only labels need a cosine of about 0.5 at the defaults), at most ``max_frames`` per
    sentence, best first. ``embed=None`` scores by cues alone (``embed_score`` 0 and ``score`` =
    ``cue_score``).

    Returns the ``frames`` table: doc_id, sent_id, frame, family, score, evidence (matched phrases
    joined by "; ", or "similar to: <prototype>" when no cue matched), cue_score, embed_score;
    sorted by doc_id, sent_id, descending score, frame.
    """
    texts = sentences["text"].astype(str).tolist()
    if not texts or not frames:
        return pd.DataFrame(columns=FRAMES_COLUMNS)
    weights, phrases = match_cues(texts, frames)
    cue = 1.0 - np.exp(-weights)
    sims = np.zeros_like(cue)
    nearest = np.zeros(cue.shape, dtype=int)
    prototypes = [(j, p) for j, f in enumerate(frames) for p in f.prototypes]
    if embed is not None and prototypes:
        vectors = embed(texts + [p for _, p in prototypes])
        sent_v, proto_v = vectors[: len(texts)], vectors[len(texts):]
        cos = sent_v @ proto_v.T
        owner = np.array([j for j, _ in prototypes])
        for j in range(len(frames)):
            cols = np.flatnonzero(owner == j)
            if cols.size:
                sims[:, j] = cos[:, cols].max(axis=1)
                nearest[:, j] = cols[cos[:, cols].argmax(axis=1)]
        semantic = np.clip((sims - embed_floor) / (embed_ceiling - embed_floor), 0, 1)
        score = (cue + semantic) / 2
    else:
        score = cue
    rows = []
    doc_ids, sent_ids = sentences["doc_id"].tolist(), sentences["sent_id"].tolist()
    for i, j in zip(*np.nonzero(score >= min_score)):
        if phrases[i][j]:
            evidence = "; ".join(phrases[i][j])
        else:
            evidence = f"similar to: {prototypes[nearest[i, j]][1]}"
        rows.append((doc_ids[i], int(sent_ids[i]), frames[j].id, frames[j].family, round(float(score[i, j]), 4),
                     evidence, round(float(cue[i, j]), 4), round(float(sims[i, j]), 4)))
    out = pd.DataFrame(rows, columns=FRAMES_COLUMNS)
    out = out.sort_values(["doc_id", "sent_id", "score", "frame"], ascending=[True, True, False, True])
    out = out.groupby(["doc_id", "sent_id"], sort=False).head(max_frames)
    return out.reset_index(drop=True)


def frame_shares(frames_table: pd.DataFrame, sentences: pd.DataFrame, articles: pd.DataFrame,
                 codebook: Sequence[Frame], *, confidence: float = 0.95) -> pd.DataFrame:
    """Share of each outlet's sentences carrying each frame, with a Wilson interval.

    Inputs: the ``frames`` table, ``sentences`` (doc_id, sent_id, text), ``articles`` (doc_id,
    outlet). One row per outlet and codebook frame, zeros included: outlet, frame, family, label,
    sentences (sentences with the frame), n (sentences of the outlet), share, ci_low, ci_high,
    articles (articles of the outlet), example / example_doc_id / example_sent_id (the
    highest-scoring sentence with the frame, empty when none). Sentences within an article are
    not independent, so the interval is optimistic for outlets with few articles — ``articles``
    shows how many stand behind a share.
    """
    outlet_of = articles.set_index("doc_id")["outlet"]
    sents = sentences.assign(outlet=sentences["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    totals = sents.groupby("outlet").agg(n=("sent_id", "size"), articles=("doc_id", "nunique"))
    labelled = frames_table.assign(outlet=frames_table["doc_id"].map(outlet_of)).dropna(subset=["outlet"])
    best = labelled.sort_values(["score", "doc_id", "sent_id"], ascending=[False, True, True])
    best = best.drop_duplicates(["outlet", "frame"])[["outlet", "frame", "doc_id", "sent_id"]]
    best = best.merge(sents[["doc_id", "sent_id", "text"]], on=["doc_id", "sent_id"], how="left")
    counts = labelled.groupby(["outlet", "frame"]).size().rename("sentences").reset_index()
    codebook_table = pd.DataFrame([(f.id, f.family, f.label) for f in codebook], columns=["frame", "family", "label"])
    out = totals.reset_index().merge(codebook_table, how="cross")
    out = out.merge(counts, how="left", on=["outlet", "frame"]).merge(best, how="left", on=["outlet", "frame"])
    out["sentences"] = out["sentences"].fillna(0).astype(int)
    low, high = wilson_interval(out["sentences"], out["n"], confidence)
    found = out["doc_id"].notna()
    out = out.assign(share=out["sentences"] / out["n"], ci_low=low, ci_high=high,
                     example=out["text"].astype(str).where(found, ""),
                     example_doc_id=out["doc_id"].astype(str).where(found, ""),
                     example_sent_id=out["sent_id"].where(found, -1).astype(int))[SHARES_COLUMNS]
    return out.sort_values(["outlet", "frame"]).reset_index(drop=True)
