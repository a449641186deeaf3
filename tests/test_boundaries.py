"""Architecture rules: the platform never imports a module; modules use each other's facades only."""

from __future__ import annotations

import ast
from pathlib import Path

from jichitai.bootstrap import load

SRC = Path(__file__).resolve().parent.parent / "src" / "jichitai"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations_of_platform(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)} imports {name}"
        for path in sorted((root / "platform").rglob("*.py"))
        for name in sorted(imports(path))
        if name.startswith(("jichitai.modules", "jichitai.bootstrap", "jichitai.app", "jichitai.cli"))
    ]


def violations_between_modules(root: Path) -> list[str]:
    found = []
    modules = sorted(p.name for p in (root / "modules").iterdir() if (p / "__init__.py").exists())
    for module in modules:
        for path in sorted((root / "modules" / module).rglob("*.py")):
            for name in sorted(imports(path)):
                parts = name.split(".")
                if len(parts) >= 3 and parts[:2] == ["jichitai", "modules"] and parts[2] != module:
                    # Another module is reachable only as its package (the facade) or names it exports.
                    other = parts[2]
                    exported = _facade_names(root / "modules" / other / "__init__.py")
                    if len(parts) > 4 or (len(parts) == 4 and parts[3] not in exported):
                        found.append(f"{path.relative_to(root)} imports {name}")
    return found


def _facade_names(init: Path) -> set[str]:
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}  # type: ignore[attr-defined]
    return set()


def names_of_modules_in_platform(root: Path, words: set[str]) -> list[str]:
    """Lines of ``platform/`` that name a module, or one of its permissions, actions, settings or tables."""
    found = []
    for path in sorted((root / "platform").rglob("*")):
        if path.suffix not in {".py", ".html", ".js", ".css"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            hits = sorted(word for word in words if word in line)
            if hits:
                found.append(f"{path.relative_to(root)}:{number}: {', '.join(hits)}")
    return found


def module_words() -> set[str]:
    """What a module declares that the platform must never spell out."""
    catalog = load(())
    words: set[str] = set()
    for declaration in catalog.modules:
        if declaration.name == "platform":
            continue
        # the bare name and the Japanese title too: `grep registry src/jichitai/platform` finds nothing
        words |= {declaration.name, declaration.title}
        words |= {p.code for p in declaration.permissions} | {a.code for a in declaration.audit_actions}
        words |= {s.key for s in declaration.settings} | {t.name for t in declaration.tables}
        words |= {f'"{p.code}"' for p in declaration.purposes}
    return words


def test_platform_names_no_module() -> None:
    """The platform learns modules from their declarations only (DESIGN §2)."""
    assert names_of_modules_in_platform(SRC, module_words()) == []


def test_the_name_check_catches_a_module_name(tmp_path: Path) -> None:
    (tmp_path / "platform").mkdir()
    (tmp_path / "platform" / "bad.py").write_text(
        'DEFAULT = "resident_registry"\nFEE = "fee_juminhyo"\n# see the registry\n'
    )
    (tmp_path / "platform" / "page.html").write_text("<h1>住民記録</h1>\n")
    assert names_of_modules_in_platform(tmp_path, module_words()) == [
        'platform/bad.py:1: "resident_registry", registry',
        "platform/bad.py:2: fee_juminhyo",
        "platform/bad.py:3: registry",
        "platform/page.html:1: 住民記録",
    ]


def test_platform_never_imports_modules() -> None:
    assert violations_of_platform(SRC) == []


def test_modules_use_only_facades() -> None:
    assert violations_between_modules(SRC) == []


def test_the_checks_catch_violations(tmp_path: Path) -> None:
    (tmp_path / "platform").mkdir()
    (tmp_path / "platform" / "bad.py").write_text("from jichitai.modules.registry import models\n")
    for name, body in (("registry", "__all__ = ['count_residents']\n"), ("tax", "__all__ = []\n")):
        (tmp_path / "modules" / name).mkdir(parents=True)
        (tmp_path / "modules" / name / "__init__.py").write_text(body)
    (tmp_path / "modules" / "tax" / "services.py").write_text(
        "from jichitai.modules.registry.records.models import PersonRecord\n"
        "from jichitai.modules.registry import count_residents\n"
    )
    assert violations_of_platform(tmp_path) == [
        "platform/bad.py imports jichitai.modules.registry",
        "platform/bad.py imports jichitai.modules.registry.models",
    ]
    assert violations_between_modules(tmp_path) == [
        "modules/tax/services.py imports jichitai.modules.registry.records.models",
        "modules/tax/services.py imports jichitai.modules.registry.records.models.PersonRecord",
    ]
