"""diversity: embeddings with a content-hash cache, MetaMath's diversity gain, diversity-aware selection, the report."""

from diversity.embed import Embedder
from diversity.gain import diversity_gain, gain_by_type, nearest
from diversity.report import build_report
from diversity.select import farthest_first, random_subset, subset_gains

__all__ = [
    "Embedder",
    "build_report",
    "diversity_gain",
    "farthest_first",
    "gain_by_type",
    "nearest",
    "random_subset",
    "subset_gains",
]
