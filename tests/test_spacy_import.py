"""spaCy is imported without torch (toolkit.models.import_spacy), and its pipelines give what
they give with torch imported.

The test process itself may have spaCy imported the ordinary way (with torch, as thinc does
when torch is installed), so the torch-free import is checked in a fresh interpreter and its
results compared with this process's."""

import json
import subprocess
import sys

TEXT = ("President Emmanuel Macron met Chancellor Olaf Scholz in Berlin on Tuesday. "
        "“We will not back down,” Macron told reporters at the U.S. embassy.")

PROBE = """
import json, sys
import pandas as pd
from toolkit.actors import load_ner
from toolkit.framing.attribution import parser
from toolkit.segment import split_sentences

text = sys.argv[1]
paragraphs = pd.DataFrame({"doc_id": ["d"], "para_id": [0], "text": [text], "is_heading": [False], "start": [0]})
result = {
    "sentences": split_sentences(paragraphs)["text"].tolist(),
    "entities": [[e.text, e.label_] for e in load_ner()(text).ents],
    "heads": [[t.text, t.dep_, t.head.i] for t in parser()(text)],
    "torch_imported": "torch" in sys.modules,
}
import torch  # still importable afterwards: the blocking entry is gone
result["torch_after"] = torch.__name__
print(json.dumps(result))
"""


def spacy_results(text: str) -> dict:
    import pandas as pd

    from toolkit.actors import load_ner
    from toolkit.framing.attribution import parser
    from toolkit.segment import split_sentences

    paragraphs = pd.DataFrame({"doc_id": ["d"], "para_id": [0], "text": [text], "is_heading": [False], "start": [0]})
    return {
        "sentences": split_sentences(paragraphs)["text"].tolist(),
        "entities": [[e.text, e.label_] for e in load_ner()(text).ents],
        "heads": [[t.text, t.dep_, t.head.i] for t in parser()(text)],
    }


def test_splitting_ner_and_parsing_import_spacy_without_torch_and_match_this_process():
    done = subprocess.run([sys.executable, "-c", PROBE, TEXT], capture_output=True, text=True, check=True)
    fresh = json.loads(done.stdout)
    assert fresh.pop("torch_imported") is False
    assert fresh.pop("torch_after") == "torch"
    assert fresh["sentences"] == [
        "President Emmanuel Macron met Chancellor Olaf Scholz in Berlin on Tuesday.",
        "“We will not back down,” Macron told reporters at the U.S. embassy.",
    ]
    assert ["Berlin", "GPE"] in fresh["entities"]
    assert fresh == spacy_results(TEXT)


def test_spacy_imported_after_torch_is_the_ordinary_import():
    probe = ("import sys, torch; from toolkit.models import import_spacy; import thinc.compat; "
             "print(import_spacy().__name__, thinc.compat.has_torch)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["spacy", "True"]


def _models_of(nlp) -> list:
    """Every thinc layer of the pipeline's components, except the transition models' output layer
    (their ``upper`` layer), which spaCy builds on the default CPU ops itself (``use_ops("cpu")``
    in its parser model)."""
    layers = []
    for _, component in nlp.pipeline:
        if hasattr(component, "model"):
            model = component.model
            upper = model.get_ref("upper") if model.has_ref("upper") else None
            layers += [node for node in model.walk() if node is not upper]
    return layers


def test_the_packages_pipelines_multiply_with_numpy_and_match_spacys_defaults():
    import spacy
    from thinc.api import NumpyOps

    from toolkit.actors import DEFAULT_MODEL, load_ner
    from toolkit.framing.attribution import SPACY_MODEL, parser
    from toolkit.segment import sentence_splitter

    for nlp in (load_ner(), parser(), sentence_splitter()):
        layers = _models_of(nlp)
        assert layers and all(isinstance(m.ops, NumpyOps) and m.ops.use_blis is False for m in layers)
    ner_default = spacy.load(DEFAULT_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])
    assert all(m.ops.use_blis for m in _models_of(ner_default))  # spaCy's own default: blis
    parse_default = spacy.load(SPACY_MODEL, exclude=["ner"])
    assert [(e.text, e.label_) for e in load_ner()(TEXT).ents] == [(e.text, e.label_) for e in ner_default(TEXT).ents]
    assert [(t.dep_, t.head.i, t.tag_) for t in parser()(TEXT)] == [(t.dep_, t.head.i, t.tag_) for t in parse_default(TEXT)]


def test_the_pipelines_run_on_one_blas_thread_wherever_they_run():
    """OpenBLAS sums some products differently on one and on two threads: a document must get
    the same analysis in the main process (which may have two) as in a forked worker (one). A
    probe component added to each of the package's pipelines records the BLAS threads while the
    package's own functions run them."""
    import pandas as pd
    from spacy.language import Language
    from threadpoolctl import threadpool_info, threadpool_limits

    from toolkit.actors import DEFAULT_MODEL, extract_entities, load_ner
    from toolkit.framing.attribution import parse, parser
    from toolkit.segment import SPACY_MODEL, sentence_splitter, split_sentences

    seen: list[set[int]] = []

    @Language.component("newsangle_blas_probe")
    def probe(doc):
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
        return doc

    sentences = pd.DataFrame({"doc_id": ["d"], "para_id": [0], "sent_id": [0], "start": [0], "text": [TEXT]})
    paragraphs = sentences.drop(columns=["sent_id"]).assign(is_heading=False)
    # the loaders' cached pipelines, called as the functions call them
    runs = [(load_ner(DEFAULT_MODEL, ()), lambda: extract_entities(sentences)), (parser(), lambda: list(parse([TEXT]))),
            (sentence_splitter(SPACY_MODEL), lambda: split_sentences(paragraphs))]
    with threadpool_limits(2, user_api="blas"):
        for nlp, run in runs:
            nlp.add_pipe("newsangle_blas_probe", last=True)
            try:
                run()
            finally:
                nlp.remove_pipe("newsangle_blas_probe")
    assert seen == [{1}, {1}, {1}]


def test_a_forked_worker_keeps_numpys_blas_to_one_thread():
    probe = ("import json, numpy; from threadpoolctl import threadpool_info; from toolkit.models import after_fork; "
             "after_fork(); print(json.dumps([p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) and set(json.loads(done.stdout)) == {1}
