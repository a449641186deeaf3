"""A month's report as CSV (UTF-8 with BOM, so spreadsheet programs read the Japanese) and as PDF."""

from __future__ import annotations

import csv
import io
from html import escape

from jichitai.modules.costshare.rules import PARTS
from jichitai.modules.costshare.services import MonthReport, TownLine
from jichitai.platform.documents import font_face_css, html_to_pdf

PART_LABELS = ("均等割", "人口割", "利用量割")


def _header(report: MonthReport) -> list[str]:
    meters = [f"{m.label} ({m.unit})" for m in report.meters]
    return ["団体コード", "団体名", *meters, *(f"{p} (円)" for p in PART_LABELS), "負担額 (円)"]


def _row(report: MonthReport, line: TownLine) -> list[str]:
    figures = [str(line.figures.get(m.code, 0)) for m in report.meters]
    share = line.share
    money = (
        [str(share.equal), str(share.population), str(share.usage), str(share.total)] if share else [""] * 4
    )
    return [line.lg_code, line.name, *figures, *money]


def report_csv(report: MonthReport) -> bytes:
    """The report as CSV: one row per town, then the total when shares exist."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_header(report))
    for line in report.towns:
        writer.writerow(_row(report, line))
    if report.cost is not None and all(line.share for line in report.towns):
        parts = [sum(getattr(line.share, p) for line in report.towns if line.share) for p in PARTS]
        writer.writerow(
            ["合計", "", *[""] * len(report.meters), *map(str, parts), str(report.cost.amount_yen)]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _yen(value: int) -> str:
    return f"{value:,}"


def report_html(report: MonthReport) -> str:
    """The report as a printable HTML document (A4 landscape, the MJ font)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in _header(report))
    body = []
    for line in report.towns:
        cells = [escape(line.lg_code), escape(line.name)]
        cells += [_yen(line.figures.get(m.code, 0)) for m in report.meters]
        share = line.share
        cells += (
            [_yen(v) for v in (share.equal, share.population, share.usage, share.total)]
            if share
            else ["—"] * 4
        )
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    cost = f"{_yen(report.cost.amount_yen)} 円" if report.cost else "未登録"
    formula = report.formula
    terms = (
        f"均等割 {formula.equal_pct}% ・ 人口割 {formula.population_pct}% ・ 利用量割 {formula.usage_pct}%"
        f" (適用開始 {formula.effective_from.isoformat()})"
        if formula
        else "未登録"
    )
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>費用負担 {escape(report.month)}</title>
<style>{font_face_css()}
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: "MJ"; font-size: 8pt; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.5pt solid #000; padding: 2pt 3pt; }}
td {{ text-align: right; }} td:nth-child(-n+2) {{ text-align: left; white-space: nowrap; }}
</style></head><body>
<h1>共同利用費用の負担額 ({escape(report.month)})</h1>
<p>費用総額: {cost}　按分方式: {escape(terms)}</p>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
</body></html>"""


def report_pdf(report: MonthReport) -> bytes:
    """The report as PDF (refused with ``certificate_font_missing`` when the MJ font is not installed)."""
    return html_to_pdf(report_html(report))
