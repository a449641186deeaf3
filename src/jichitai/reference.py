"""The generated reference of what the loaded modules declare (``docs/reference/catalog.md``).

``python -m jichitai.reference > docs/reference/catalog.md`` regenerates it; ``tests/test_docs.py`` fails
when the committed page differs, so every permission, audit action, purpose, role, setting, menu entry,
command, feed, consumer and job is documented the moment it is declared.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jichitai.bootstrap import load
from jichitai.platform.modules import Catalog, ModuleDeclaration, SettingSpec, is_town_keyed


def _rows(header: str, rows: Sequence[tuple[str, ...]]) -> list[str]:
    if not rows:
        return []
    cells = header.split("|")
    return [
        "| " + " | ".join(cells) + " |",
        "|" + "|".join("---" for _ in cells) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _module(m: ModuleDeclaration, catalog: Catalog) -> list[str]:
    lines = [f"## {m.title} (`{m.name}`)", ""]
    copied = {t.name for t in catalog.town_tables}
    tables = [
        (
            f"`{t.name}`",
            "yes" if t.name in copied else "no" if is_town_keyed(t) else "no (installation)",
        )
        for t in sorted(m.tables, key=lambda t: t.name)
    ]
    lines += ["### Tables", "", *_rows("table|in the town's off-site copy", tables)]
    lines += [
        "### Permissions",
        "",
        *_rows(
            "permission|allows|shows 個人番号",
            [(f"`{p.code}`", p.description, "yes" if p.my_number else "") for p in m.permissions],
        ),
    ]
    lines += [
        "### Audit actions",
        "",
        *_rows("action|recorded when", [(f"`{a.code}`", a.description) for a in m.audit_actions]),
    ]
    lines += [
        "### Purposes (事務)",
        "",
        *_rows(
            "purpose|name|個人番号利用事務",
            [(f"`{p.code}`", p.name, "yes" if p.my_number else "no") for p in m.purposes],
        ),
    ]
    lines += [
        "### Standard roles (fragments)",
        "",
        *_rows(
            "role|name|purposes|permissions",
            [
                (
                    f"`{r.code}`",
                    r.name,
                    ", ".join(f"`{p}`" for p in r.purposes),
                    ", ".join(f"`{p}`" for p in r.permissions),
                )
                for r in m.roles
            ],
        ),
    ]
    lines += [
        "### Per-town settings",
        "",
        *_rows(
            "key|meaning|type and range|national default|dated",
            [
                (
                    f"`{s.key}`",
                    s.description,
                    _range(s),
                    "—" if s.default is None else f"`{s.default}`",
                    "yes" if s.dated else "no",
                )
                for s in m.settings
            ],
        ),
    ]
    lines += [
        "### Menu entries",
        "",
        *_rows(
            "label|path|permission",
            [
                (n.label, f"`/ui/{{lg_code}}/{n.path}`", f"`{n.permission}`" if n.permission else "—")
                for n in m.navigation
            ],
        ),
    ]
    lines += [
        "### Commands",
        "",
        *_rows(
            "command|what",
            [
                (
                    f"`jichitai {name}`",
                    (typer_app.info.help or "") if isinstance(typer_app.info.help, str) else "",
                )
                for name, typer_app in m.cli
            ],
        ),
    ]
    lines += ["### Change feeds", "", *_rows("feed|what", [(f"`{f.name}`", f.description) for f in m.feeds])]
    lines += [
        "### Feed consumers",
        "",
        *_rows("consumer|feed", [(f"`{c.name}`", f"`{c.feed}`") for c in m.consumers]),
    ]
    lines += ["### Periodic jobs", "", *_rows("job|what", [(f"`{j.name}`", j.description) for j in m.jobs])]
    return lines


def _range(spec: SettingSpec) -> str:
    if spec.kind is int:
        low = "" if spec.minimum is None else f"{spec.minimum} ≤ "
        high = "" if spec.maximum is None else f" ≤ {spec.maximum}"
        return f"{low}integer{high}"
    return f"text, ≤ {spec.max_length} characters"


def render(catalog: Catalog) -> str:
    """The reference page for ``catalog``."""
    lines = [
        "# What the modules declare",
        "",
        "Generated from the module declarations by",
        "`python -m jichitai.reference > docs/reference/catalog.md`; a test fails when this page and the",
        "declarations differ. How to add a module:",
        "[adding-a-module](../modules/adding-a-module.md).",
        "",
    ]
    for module in catalog.modules:
        lines += _module(module, catalog)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Print the reference of the installed modules (extra modules are not part of the product's docs)."""
    sys.stdout.write(render(load(())))


if __name__ == "__main__":
    main()
