"""Inline SVG charts for the report: plain strings, no script, no network. Every label is escaped."""

from __future__ import annotations

import math
from html import escape

import numpy as np

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#8c564b", "#bcbd22"]
BASE_COLOR = "#9a9a9a"


def type_colors(types: list[str]) -> dict[str, str]:
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(sorted(types))}


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def gain_bars(rows: list[tuple[str, float | None, float | None]], colors: dict[str, str]) -> str:
    """Per type two bars: gain over the base (solid) and over base ∪ other types (light)."""
    width, label_w, bar_h, gap = 760, 170, 14, 12
    values = [v for _, a, b in rows for v in (a, b) if v is not None and not math.isnan(v)]
    top = max(values + [1e-9]) * 1.1
    height = len(rows) * (2 * bar_h + gap) + 40
    scale = (width - label_w - 70) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="diversity gain per type">'
    ]
    y = 10
    for name, gain, gain_rest in rows:
        color = colors.get(name, BASE_COLOR)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end" font-size="12">{escape(name)}</text>'
        )
        for value, opacity, label in ((gain, 1.0, "vs base"), (gain_rest, 0.45, "vs base+others")):
            w = 0 if value is None or math.isnan(value) else value * scale
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" '
                f'fill-opacity="{opacity}"><title>{escape(name)} {label}: {_fmt(value, 4)}</title></rect>'
            )
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="11">{_fmt(value, 4)}</text>')
            y += bar_h
        y += gap
    parts.append(
        f'<text x="{label_w}" y="{height - 8}" font-size="11" fill="#555">solid: gain over the base; '
        "light: gain over base ∪ all other types</text></svg>"
    )
    return "".join(parts)


def histogram(distances: np.ndarray, x_max: float, color: str, title: str, bins: int = 30) -> str:
    """Counts of nearest-base squared distances in [0, x_max], one small chart."""
    width, height, pad = 360, 150, 28
    counts, edges = np.histogram(np.clip(distances, 0, x_max), bins=bins, range=(0.0, max(x_max, 1e-9)))
    peak = max(int(counts.max()) if len(counts) else 0, 1)
    bar_w = (width - 2 * pad) / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><text x="{pad}" y="14" font-size="12">{escape(title)}</text>'
    ]
    for i, count in enumerate(counts.tolist()):
        h = (height - 2 * pad) * count / peak
        parts.append(
            f'<rect x="{pad + i * bar_w:.1f}" y="{height - pad - h:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>[{edges[i]:.3f}, {edges[i + 1]:.3f}): {count}'
            "</title></rect>"
        )
    axis_y = height - pad
    parts.append(f'<line x1="{pad}" y1="{axis_y}" x2="{width - pad}" y2="{axis_y}" stroke="#333"/>')
    parts.append(f'<text x="{pad}" y="{axis_y + 14}" font-size="10">0</text>')
    parts.append(f'<text x="{width - pad}" y="{axis_y + 14}" font-size="10" text-anchor="end">{x_max:.2f}</text>')
    parts.append(
        f'<text x="{width / 2}" y="{axis_y + 24}" font-size="10" text-anchor="middle">'
        "squared distance to nearest base</text>"
    )
    parts.append(f'<text x="{pad - 4}" y="{pad}" font-size="10" text-anchor="end">{peak}</text></svg>')
    return "".join(parts)


def scatter(base_xy: np.ndarray, new_xy: np.ndarray, new_types: list[str], colors: dict[str, str]) -> str:
    """2-D projection: base points grey underneath, new points coloured by type, with a legend."""
    width, height, pad, legend_w = 760, 520, 20, 170
    everything = np.concatenate([base_xy, new_xy]) if len(new_xy) else base_xy
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)

    def to_px(xy: np.ndarray) -> np.ndarray:
        unit = (xy - lo) / span
        xs = pad + unit[:, 0] * (width - legend_w - 2 * pad)
        return np.column_stack([xs, height - pad - unit[:, 1] * (height - 2 * pad)])

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="2-D projection of base and new samples">',
        f'<rect x="0" y="0" width="{width - legend_w}" height="{height}" fill="#fafafa" stroke="#ddd"/>',
    ]
    parts.extend(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{BASE_COLOR}" fill-opacity="0.5"/>'
        for x, y in to_px(base_xy).tolist()
    )
    for (x, y), name in zip(to_px(new_xy).tolist(), new_types, strict=True):
        color = colors.get(name, "#000")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{color}" fill-opacity="0.75"/>')
    legend = [("base problems", BASE_COLOR)] + [(t, c) for t, c in colors.items()]
    for i, (name, color) in enumerate(legend):
        ly = 24 + i * 20
        parts.append(
            f'<circle cx="{width - legend_w + 16}" cy="{ly - 4}" r="5" fill="{color}"/>'
            f'<text x="{width - legend_w + 28}" y="{ly}" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def pca_2d(points: np.ndarray) -> np.ndarray:
    """Project rows onto their first two principal components (numpy SVD)."""
    if len(points) == 0:
        return np.zeros((0, 2))
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    if components.shape[0] < 2:
        components = np.vstack([components, np.zeros((2 - components.shape[0], points.shape[1]))])
    return centred @ components.T
