"""Charts of the corpus stage: what each outlet contributes and what cleaning removed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from toolkit.charts.core import Figure, bar_chart, select_outlets, source_line


def figures(tables: Mapping[str, pd.DataFrame]) -> list[Figure]:
    """Articles per outlet and removed page lines by reason.

    Reads ``outlet_summary``, ``removal_reasons`` and ``articles``. The outlet chart draws the
    outlets with the most articles (see :func:`~toolkit.charts.core.select_outlets`); its CSV
    holds every outlet.
    """
    arts = tables["articles"]
    outlets = sorted(arts["outlet"].unique())
    source = source_line(len(arts), len(outlets))
    figs = []

    summary = tables["outlet_summary"].assign(n=lambda d: d["articles"])
    if not summary.empty:
        top = summary.sort_values(["sentences", "outlet"], ascending=[False, True]).iloc[0]
        selection = select_outlets(arts, summary["outlet"])
        figs.append(Figure(
            name="corpus-outlets",
            chart=bar_chart(
                summary[summary["outlet"].isin(selection.shown)], category="outlet", value="sentences",
                color="outlet", outlets=outlets,
                tooltip=["articles", "words"], value_title="Sentences analysed", value_format=",.0f",
                n_label="articles", min_n=2, category_title=None,
                title="How much text each outlet contributes",
                subtitle="Sentences of article text after cleaning; n = articles", source=source,
                notes=[selection.note()],
            ),
            data=summary[["outlet", "articles", "words", "sentences"]],
            alt_text=(
                f"Bar chart of sentences of article text per outlet, for {len(outlets)} outlets; "
                f"{top['outlet']} contributes the most, {int(top['sentences'])} sentences "
                f"from {int(top['articles'])} article{'s' if top['articles'] != 1 else ''}."
            ),
        ))

    by_reason = tables["removal_reasons"].assign(n=lambda d: d["lines"])
    if not by_reason.empty:
        top = by_reason.sort_values(["lines", "reason"], ascending=[False, True]).iloc[0]
        figs.append(Figure(
            name="corpus-removed-lines",
            chart=bar_chart(
                by_reason, category="reason", value="lines", n_col=None, tooltip=["articles", "example"],
                value_title="Page lines removed", value_format=",.0f",
                title="What cleaning removed from the pages",
                subtitle="Page lines that are not article text, by reason (title and byline lines become metadata)",
                source=source,
            ),
            data=by_reason[["reason", "lines", "articles", "example"]],
            alt_text=(
                f"Bar chart of page lines removed during cleaning, by reason; the most common reason is "
                f"'{top['reason']}' with {int(top['lines'])} lines across {int(top['articles'])} article"
                f"{'s' if top['articles'] != 1 else ''}."
            ),
        ))
    return figs
