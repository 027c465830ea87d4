"""Bar charts as server-rendered SVG: no script, nothing loaded from elsewhere (the CSP allows neither)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

_W, _H, _PAD, _LABEL = 640, 240, 36, 28


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    parts: tuple[Decimal, ...]  # stacked from the bottom, one per series


def bars(items: Sequence[Bar], series: Sequence[str], title: str) -> Markup:
    """A stacked bar chart of `items`; `series` names each part (its CSS class is `s0`, `s1`...)."""
    top = max((sum(b.parts, Decimal(0)) for b in items), default=Decimal(0)) or Decimal(1)
    plot_h = _H - _PAD - _LABEL
    step = (_W - 2 * _PAD) / max(len(items), 1)
    width = max(min(step * 0.6, 60), 4)
    out = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{_PAD}" y1="{_H - _LABEL}" x2="{_W - _PAD}" y2="{_H - _LABEL}"/>',
        f'<text class="tick" x="{_PAD - 4}" y="{_PAD}" text-anchor="end">{escape(_num(top))}</text>',
    ]
    for i, b in enumerate(items):
        x = _PAD + i * step + (step - width) / 2
        y = float(_H - _LABEL)
        for k, part in enumerate(b.parts):
            h = float(part / top) * plot_h
            y -= h
            out.append(
                f'<rect class="s{k}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}">'
                f"<title>{escape(series[k])}: {escape(_num(part))}</title></rect>"
            )
        out.append(
            f'<text class="tick" x="{x + width / 2:.1f}" y="{_H - _LABEL + 16}" text-anchor="middle">'
            f"{escape(b.label)}</text>"
        )
    for k, s in enumerate(series):
        out.append(f'<rect class="s{k}" x="{_W - _PAD - 90}" y="{8 + 16 * k}" width="10" height="10"/>')
        out.append(f'<text class="tick" x="{_W - _PAD - 75}" y="{17 + 16 * k}">{escape(s)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _num(d: Decimal) -> str:
    return f"{d:,.2f}".rstrip("0").rstrip(".") if d % 1 else f"{d:,.0f}"
