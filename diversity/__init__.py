"""diversity: MetaMath's diversity gain, diversity-aware selection, the report (embeddings: core.embeddings)."""

from diversity.gain import diversity_gain, gain_by_type, nearest
from diversity.report import build_report
from diversity.select import farthest_first, random_subset, subset_gains

__all__ = [
    "build_report",
    "diversity_gain",
    "farthest_first",
    "gain_by_type",
    "nearest",
    "random_subset",
    "subset_gains",
]
