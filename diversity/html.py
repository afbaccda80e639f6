"""The self-contained report.html: inline CSS, inline SVG, one small inline script, no network.

Model text only ever enters the page through `html.escape`, and a Content-Security-Policy allows no
script but ours (by its hash), so a `<script>` inside a sample is shown as text and could not run anyway.
"""

from __future__ import annotations

import base64
import hashlib
import math
from html import escape

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1180px;color:#222;
padding:0 16px}
h1{font-size:24px}h2{font-size:19px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td.name,th.name{text-align:left}
.bar{display:inline-block;height:10px;background:#1f77b4;vertical-align:middle;margin-right:6px}
.hist{display:flex;flex-wrap:wrap;gap:10px}.note{color:#555;font-size:13px}
.controls{margin:10px 0;display:flex;gap:12px;align-items:center;font-size:14px}
.card{display:grid;grid-template-columns:1fr 1fr;gap:12px;border:1px solid #ddd;border-radius:6px;padding:10px;
margin:10px 0}
.card h3{font-size:13px;margin:0 0 6px 0;color:#444}.card pre{white-space:pre-wrap;word-break:break-word;font-size:12px;
margin:0;background:#f8f8f8;padding:6px;border-radius:4px;max-height:320px;overflow:auto}
.tag{display:inline-block;padding:1px 6px;border-radius:8px;color:#fff;font-size:11px;margin-right:6px}
.meta{font-size:12px;color:#555;grid-column:1/3}
"""

_SCRIPT = """
(function(){
  var typeBox=document.getElementById('type-filter'), textBox=document.getElementById('text-filter');
  var cards=Array.prototype.slice.call(document.querySelectorAll('.card')), shown=document.getElementById('shown');
  function apply(){
    var t=typeBox.value, q=textBox.value.toLowerCase(), n=0;
    cards.forEach(function(c){
      var ok=(t==='' || c.getAttribute('data-type')===t) && (q==='' || c.textContent.toLowerCase().indexOf(q)>=0);
      c.style.display=ok?'':'none'; if(ok){n++;}
    });
    shown.textContent=String(n);
  }
  typeBox.addEventListener('change',apply); textBox.addEventListener('input',apply); apply();
  document.body.setAttribute('data-browser-ready','1');
})();
"""


def _script_hash() -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


def _num(value: float | int | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _funnel_table(funnel: dict[str, dict[str, int]], colors: dict[str, str]) -> str:
    rows = [
        '<table><tr><th class="name">type</th><th>generated</th><th>parsed</th><th>verified</th><th>kept</th>'
        '<th class="name">kept / generated</th></tr>'
    ]
    for name, counts in funnel.items():
        generated = max(counts.get("generated", 0), 1)
        share = counts.get("kept", 0) / generated
        cells = "".join(f"<td>{counts.get(stage, 0)}</td>" for stage in ("generated", "parsed", "verified", "kept"))
        rows.append(
            f'<tr><td class="name">{escape(name)}</td>{cells}<td class="name"><span class="bar" '
            f'style="width:{160 * share:.0f}px;background:{colors.get(name, "#1f77b4")}"></span>'
            f"{100 * share:.1f}%</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _gain_table(report: dict) -> str:
    rows = [
        '<table><tr><th class="name">type</th><th>kept samples</th><th>gain over base</th>'
        "<th>gain over base ∪ other types</th><th>median distance</th></tr>"
    ]
    for name, info in report["types"].items():
        rows.append(
            f'<tr><td class="name">{escape(name)}</td><td>{info["count"]}</td><td>{_num(info["gain"])}</td>'
            f"<td>{_num(info['gain_vs_base_and_other_types'])}</td>"
            f"<td>{_num(info['distance_quantiles']['p50'])}</td></tr>"
        )
    overall = report["overall"]
    rows.append(
        f'<tr><th class="name">all types</th><th>{overall["count"]}</th><th>{_num(overall["gain"])}</th>'
        "<th></th><th></th></tr></table>"
    )
    return "".join(rows)


def _behaviour_table(behaviours: dict | None) -> str:
    """Per type: share of kept responses showing each reasoning behaviour, and its mean count per response."""
    if not behaviours or not behaviours.get("table"):
        return '<p class="note">No kept samples to read behaviours from.</p>'
    names = ("verification", "backtracking", "subgoal_setting", "backward_chaining")
    head = "".join(f"<th>{escape(n.replace('_', ' '))}<br>share · mean</th>" for n in names)
    rows = [
        f'<p class="note">Counted by {escape(behaviours["method"])}: a sentence showing a behaviour counts once.</p>',
        f'<table><tr><th class="name">type</th><th>responses</th>{head}</tr>',
    ]
    for row in behaviours["table"]:
        cells = "".join(f"<td>{_num(row[f'{n}_share'], 2)} · {_num(row[f'{n}_mean'], 2)}</td>" for n in names)
        rows.append(f'<tr><td class="name">{escape(str(row["group"]))}</td><td>{row["responses"]}</td>{cells}</tr>')
    rows.append("</table>")
    return "".join(rows)


def _selection_table(selection: dict | None) -> str:
    if not selection:
        return '<p class="note">No selection was asked for (use --select-budget N).</p>'
    rows = [
        f'<p class="note">Budget {selection["budget"]} of {selection["candidates"]} kept samples; '
        f"ids in {escape(selection['path'])}. Selected by farthest-first traversal seeded with the base; "
        "random: a uniform draw of the same size (seed 0).</p>",
        '<table><tr><th class="name">subset</th><th>gain over base</th><th>gain over base ∪ rest of subset</th></tr>',
    ]
    for label, key in (("farthest-first", "selected"), ("random", "random")):
        gains = selection[key]
        rows.append(
            f'<tr><td class="name">{label}</td><td>{_num(gains["gain"])}</td>'
            f"<td>{_num(gains['gain_vs_base_and_rest_of_subset'])}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _card(entry: dict, color: str) -> str:
    base_text = entry["base_question"] + ("\n\n" + entry["base_solution"] if entry.get("base_solution") else "")
    return (
        f'<div class="card" data-type="{escape(entry["type"])}">'
        f'<div class="meta"><span class="tag" style="background:{color}">{escape(entry["type"])}</span>'
        f"squared distance {entry['distance']:.4f} · sample {escape(entry['id'])} · nearest base "
        f"{escape(entry['base_id'])}</div>"
        f"<div><h3>New sample</h3><pre>{escape(entry['query'])}\n\n{escape(entry['response'])}</pre></div>"
        f"<div><h3>Nearest base problem</h3><pre>{escape(base_text)}</pre></div></div>"
    )


def render(
    report: dict, gain_svg: str, histograms: list[str], scatter_svg: str, browser: list[dict], colors: dict[str, str]
) -> str:
    options = "".join(f'<option value="{escape(t)}">{escape(t)}</option>' for t in report["types"])
    cards = "".join(_card(entry, colors.get(entry["type"], "#555")) for entry in browser)
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '{_script_hash()}'"
    embedding = report["embedding"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Diversity report</title><style>{_STYLE}</style></head>
<body>
<h1>Diversity report</h1>
<p class="note">Run {escape(report["run"])} · embedder {escape(report["model"])} · base: {report["base"]["count"]}
problems from {escape(report["base"]["source"])} · {report["overall"]["count"]} kept new samples ·
{embedding["texts_embedded"]} of {embedding["texts_total"]} texts embedded in this run
(the rest came from the cache).</p>
<p class="note">{escape(report["metric"])}</p>
<h2>Funnel per type</h2>{_funnel_table(report["funnel"], colors)}
<h2>Diversity gain per type</h2>{gain_svg}{_gain_table(report)}
<h2>Reasoning behaviours per type</h2>{_behaviour_table(report.get("behaviours"))}
<h2>Nearest-base distances per type</h2><div class="hist">{"".join(histograms)}</div>
<h2>2-D projection (PCA) of base and new samples</h2>
<p class="note">{report["projection"]["base_points"]} base and {report["projection"]["new_points"]} new points
(at most {report["projection"]["cap"]} of each, drawn at random).</p>{scatter_svg}
<h2>Diversity-aware selection</h2>{_selection_table(report.get("selection"))}
<h2>Sample browser</h2>
<p class="note">Each new sample beside its nearest base problem: up to {report["browser_per_type"]} per type
(the nearest, the farthest and a random draw).</p>
<div class="controls"><label>type <select id="type-filter"><option value="">all</option>{options}</select></label>
<label>contains <input id="text-filter" type="search" placeholder="filter text"></label>
<span><span id="shown">{len(browser)}</span> shown</span></div>
<div id="browser">{cards}</div>
<script>{_SCRIPT}</script>
</body></html>
"""
