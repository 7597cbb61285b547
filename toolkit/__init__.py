"""newsangle: clean multi-outlet news corpora and compare what outlets say, how, in what tone, and about whom.

Start with :func:`analyze` (every stage) or :func:`load_corpus` (loading and cleaning
only); both return a :class:`Corpus` holding the tables described in DESIGN.md.
"""

__version__ = "0.1.0"

from .pipeline import Corpus, analyze, export_charts, figures, load_corpus, project_root  # noqa: E402

__all__ = ["Corpus", "analyze", "export_charts", "figures", "load_corpus", "project_root", "__version__"]
