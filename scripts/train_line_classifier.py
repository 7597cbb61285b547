"""Train the page-dump line classifier of ``toolkit.clean`` and estimate its unseen-page quality.

Data: the page-dump extraction dev set in ``../shared/extraction-dev`` (45 pages
from 45 sites of the public Zyte/scrapinghub article-extraction benchmark, MIT).
It is read at training time and never copied into the repository; only the
weights are written, as JSON, to ``toolkit/resources/clean_line_model.json``.

Labels: a dump line is body when at least half of its 4-token shingles (the
benchmark's own unit; whole-line token run for lines under 4 tokens) occur in
the gold article body.

Model: two stacked logistic regressions. Stage 1 sees per-line shape features
and those of the neighbours (``toolkit.clean._line_features``); stage 2 sees the
stage-1 probabilities of the line and its context
(``toolkit.clean._context_features``) and is fitted on out-of-fold stage-1
probabilities so it learns from realistic inputs.

Honest estimate: 9-fold cross-validation of the whole procedure by page (every
page is a different site, so this is leave-sites-out), each fold's model run
through the whole cleaner (``toolkit.clean._clean_lines``: rules, classifier,
selection, metadata) and scored with the benchmark's ``score.py``. In-sample
figures are printed next to it. Everything is deterministic (fixed folds,
``SEED``), so a rerun writes a byte-identical model file.

Usage: ``.venv/bin/python scripts/train_line_classifier.py [--no-cv] [--per-page] [--dump-cv DIR]``
(``--per-page``: the 12 worst pages; ``--dump-cv DIR``: write the cross-validated bodies there).
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "extraction-dev"
sys.path.insert(0, str(ROOT))

from toolkit import clean  # noqa: E402

SEED = 0
C = 0.5
THRESHOLD = 0.5
CV_FOLDS = 9
_TOKEN_RE = re.compile(r"\w+")


def _scorer():
    spec = importlib.util.spec_from_file_location("score", DEV / "score.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def line_labels(lines: list[clean._Line], gold: str) -> np.ndarray:
    """1 for dump lines whose shingles mostly occur in the gold body, else 0."""
    g = _TOKEN_RE.findall(gold)
    grams = {n: {tuple(g[i:i + n]) for i in range(len(g) - n + 1)} for n in (1, 2, 3, 4)}
    out = []
    for line in lines:
        t = _TOKEN_RE.findall(line.raw)
        if not t:
            out.append(0)
        elif len(t) < 4:
            out.append(int(tuple(t) in grams[len(t)]))
        else:
            sh = [tuple(t[i:i + 4]) for i in range(len(t) - 3)]
            out.append(int(sum(s in grams[4] for s in sh) / len(sh) >= 0.5))
    return np.array(out)


def load_pages() -> list[dict]:
    """Lines, rule reasons, stage-1 features and labels of every dev page."""
    pages = []
    for dump in sorted((DEV / "dumps").glob("*.txt")):
        text = dump.read_text(encoding="utf-8")
        lines = clean._page_lines(text)
        rules = clean._rule_reasons(lines, clean.furniture_lines([text]))
        pages.append({
            "id": dump.stem,
            "lines": lines,
            "rules": rules,
            "x1": clean._line_features(lines, rules),
            "y": line_labels(lines, (DEV / "gold" / dump.name).read_text(encoding="utf-8")),
        })
    return pages


def fit_lr(x: np.ndarray, y: np.ndarray) -> dict:
    """Standardised L2 logistic regression, returned as JSON-ready weights."""
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    lr = LogisticRegression(C=C, max_iter=2000, random_state=SEED).fit((x - scaler.mean_) / scale, y)
    return {"mean": scaler.mean_.tolist(), "scale": scale.tolist(),
            "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}


def train(pages: list[dict]) -> dict:
    """Fit stage 1 on all given pages, stage 2 on 5-fold out-of-fold stage-1 probabilities."""
    x1 = np.vstack([p["x1"] for p in pages])
    y = np.concatenate([p["y"] for p in pages])
    stage1 = fit_lr(x1, y)
    groups = np.concatenate([[i] * len(p["y"]) for i, p in enumerate(pages)])
    oof = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=min(5, len(pages))).split(x1, y, groups):
        oof[te] = clean._predict(clean._compile_stage(fit_lr(x1[tr], y[tr])), x1[te])
    x2 = np.vstack([clean._context_features(oof[groups == i], x1[groups == i]) for i in range(len(pages))])
    return {"stage1": stage1, "stage2": fit_lr(x2, y), "threshold": THRESHOLD}


def predict_body(model: dict, page: dict) -> str:
    """The body ``clean_page`` outputs for a page under ``model`` (the whole cleaner, not just the classifier)."""
    return clean._clean_lines(page["lines"], page["rules"], clean._compile_model(model)).body


def report(name: str, pages: list[dict], bodies: dict[str, str], score, per_page: bool = False) -> None:
    """Print the benchmark's macro F1/P/R of ``bodies`` (and per-page F1, worst first, if asked)."""
    gold = {p["id"]: (DEV / "gold" / f"{p['id']}.txt").read_text(encoding="utf-8") for p in pages}
    res = score.evaluate(gold, bodies, 4, 0)
    macro = res["macro"]
    print(f"{name}: F1 {macro['f1']:.3f}  P {macro['precision']:.3f}  R {macro['recall']:.3f}")
    if per_page:
        for row in sorted(res["per_page"], key=lambda r: r["f1"])[:12]:
            print(f"  {row['id'][:12]}  P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}")


def main(argv: list[str]) -> int:
    if not (DEV / "score.py").exists():
        print(f"skipped: {DEV} not found")
        return 0
    score = _scorer()
    pages = load_pages()
    model = train(pages)
    print(f"model: two-stage logistic regression; {sum(len(p['y']) for p in pages)} lines from {len(pages)} pages")
    report("in-sample (train = test)", pages, {p["id"]: predict_body(model, p) for p in pages}, score, "--per-page" in argv)
    if "--no-cv" not in argv:
        bodies = {}
        ids = np.arange(len(pages))
        for tr, te in GroupKFold(n_splits=CV_FOLDS).split(ids, ids, ids):
            fold_model = train([pages[i] for i in tr])
            bodies.update({pages[i]["id"]: predict_body(fold_model, pages[i]) for i in te})
        report(f"{CV_FOLDS}-fold cross-validation by site (unseen sites)", pages, bodies, score, "--per-page" in argv)
        if "--dump-cv" in argv:
            out_dir = Path(argv[argv.index("--dump-cv") + 1])
            out_dir.mkdir(parents=True, exist_ok=True)
            for pid, body in bodies.items():
                (out_dir / f"{pid}.txt").write_text(body, encoding="utf-8")
    out = ROOT / "toolkit" / "resources" / clean.MODEL_FILE
    out.parent.mkdir(exist_ok=True)
    rounded = json.loads(json.dumps(model), parse_float=lambda v: round(float(v), 6))
    out.write_text(json.dumps(rounded, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
