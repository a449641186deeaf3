"""The module contract: what a module brings, declared once, and the catalogue the platform fills from it.

A business module states everything it brings in one :class:`ModuleDeclaration` in
``modules/<name>/module.py``: tables, routers, templates, permissions and audit actions, purposes and role
fragments, per-town settings, navigation, CLI commands, demo seeding, change feeds, feed consumers and
periodic jobs. The loader (``jichitai.bootstrap.load``) reads every declaration, checks them against each
other and installs one :class:`Catalog`; the platform asks :func:`catalog` for what exists and never names
a module.

Import side effects are not registration (DESIGN §2): :func:`catalog` raises :class:`ModulesNotLoaded` in a
process that never ran the loader, so a forgotten import fails loudly instead of working on half the schema.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table
from sqlalchemy.sql.util import sort_tables

from jichitai.platform.jp.text import character_problem

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from jichitai.platform.db import UnitOfWork
    from jichitai.platform.tenancy import Tenant
    from jichitai.settings import Settings


class ModulesNotLoaded(RuntimeError):
    """The process asked what exists before the loader ran (a bug in that entry point, never a user error)."""


class DeclarationError(ValueError):
    """Two declarations contradict each other, or one is incomplete."""


@dataclass(frozen=True)
class PermissionSpec:
    """A permission a role may grant; ``my_number`` marks the one that lets 個人番号 be shown."""

    code: str
    description: str
    my_number: bool = False


@dataclass(frozen=True)
class ActionSpec:
    """An audit action (``scope:resource:verb``) and what an entry of it records; ``personal_read`` marks
    the reads of a person's record that auditors count for mass reading."""

    code: str
    description: str
    personal_read: bool = False


def described(
    members: type[enum.StrEnum], descriptions: Mapping[Any, str], *, my_number: Iterable[Any] = ()
) -> tuple[PermissionSpec, ...]:
    """Permission specs from an enum and its descriptions (every member must be described)."""
    flagged = set(my_number)
    return tuple(PermissionSpec(str(m), _description(m, descriptions), m in flagged) for m in members)


def actions(
    members: type[enum.StrEnum], descriptions: Mapping[Any, str], *, personal_reads: Iterable[Any] = ()
) -> tuple[ActionSpec, ...]:
    """Audit action specs from an enum and its descriptions (every member must be described)."""
    reads = set(personal_reads)
    return tuple(ActionSpec(str(m), _description(m, descriptions), m in reads) for m in members)


def _description(member: enum.StrEnum, descriptions: Mapping[Any, str]) -> str:
    if member not in descriptions:
        raise DeclarationError(f"{type(member).__name__}.{member.name} has no description")
    return descriptions[member]


@dataclass(frozen=True)
class PurposeSpec:
    """A 事務 a request may declare; ``my_number`` marks a 個人番号利用事務 (番号法 9条)."""

    code: str
    name: str
    my_number: bool
    default: bool = False
    """The purpose the sign-in screen offers first."""


@dataclass(frozen=True)
class RoleFragment:
    """A module's share of a standard role: the purposes it adds and the permissions it grants.

    Fragments with the same code (from several modules) merge into one role every new town starts with.
    """

    code: str
    name: str
    purposes: tuple[str, ...]
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class SettingSpec:
    """A per-town setting: its key, what it means, its type and range, and the national default.

    Values are rows with an effective date (``municipality_setting``); the default applies where a town has
    set nothing. ``default=None`` means "not set" (the module then says so, e.g. a fee 未設定).
    """

    key: str
    description: str
    kind: type[int] | type[str] = str
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 200
    default: int | str | None = None
    dated: bool = True
    pattern: str | None = None
    """A text setting's whole value must match this regular expression (e.g. a telephone number's form)."""
    pattern_hint: str = ""
    """How the pattern is described to the user, in Japanese (e.g. ``0193-42-2111 の形``)."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable for this setting (Japanese), or None."""
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{self.key} は整数で指定してください。"
            if self.minimum is not None and value < self.minimum:
                return f"{self.key} は {self.minimum} 以上で指定してください。"
            if self.maximum is not None and value > self.maximum:
                return f"{self.key} は {self.maximum} 以下で指定してください。"
            return None
        if not isinstance(value, str) or not value.strip():
            return f"{self.key} は空でない文字列で指定してください。"
        if len(value) > self.max_length:
            return f"{self.key} は {self.max_length} 文字以内で指定してください。"
        problem = character_problem(value)
        if problem:
            return f"{self.key}: {problem}"
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return f"{self.key} の形式が正しくありません ({self.pattern_hint or self.pattern})。"
        return None

    def parse(self, text: str) -> int | str:
        """A value typed on a command line or a form, converted to the setting's type (ValueError if not)."""
        return int(text) if self.kind is int else text


@dataclass(frozen=True)
class NavEntry:
    """A menu entry of the counter screens, shown to staff holding ``permission`` (None: everyone)."""

    label: str
    path: str
    """Path under the town's screens, e.g. ``<name>/search`` (the platform prefixes ``/ui/{lg_code}/``)."""
    permission: str | None = None
    accesskey: str | None = None


@dataclass(frozen=True)
class JobContext:
    """What a periodic job is given: the engine and the installation's settings."""

    engine: Engine
    settings: Settings


@dataclass(frozen=True)
class JobSpec:
    """A periodic job run by the one scheduler under a lease (never twice at once across workers).

    ``interval`` reads the interval in seconds from the settings; 0 or less disables the job. ``lease`` is
    how long (seconds) a holder that died keeps the job from running elsewhere (None: the scheduler's
    default); a short, frequent job that is safe to race (its own writes are conditional) takes a short one,
    so a crashed worker does not stop it for a minute.
    """

    name: str
    description: str
    interval: Callable[[Settings], float]
    run: Callable[[JobContext], None]
    lease: float | None = None


@dataclass(frozen=True)
class Change:
    """One item of a change feed: its position (gap-free per town), kind and JSON-safe body."""

    position: int
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True)
class FeedSpec:
    """A change feed a module publishes: ``read(session, tenant, after, limit)`` returns the changes after
    position ``after`` in order, gap-free; ``head(session, tenant)`` the last position."""

    name: str
    description: str
    read: Callable[[Session, Tenant, int, int], list[Change]]
    head: Callable[[Session, Tenant], int]


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer of a feed: ``handle(uow, tenant, change)`` runs in the transaction that moves its cursor,
    so each change takes effect exactly once; it must not commit."""

    name: str
    feed: str
    handle: Callable[[UnitOfWork, Tenant, Change], None]


@dataclass(frozen=True)
class DemoSpec:
    """How a module seeds a demo town (``jichitai demo``): ``seed(engine, tenant, residents, seed)``."""

    seed: Callable[[Engine, Tenant, int, int], None]
    order: int = 100


@dataclass(frozen=True)
class MeterSpec:
    """A figure of a town's use of the installation, per month, for the cost split (:mod:`metering`).

    ``measure(session, tenant, month)`` returns the figure for the month starting on ``month`` (a first day),
    read from the module's own tables in a session that declared the town; the platform's metering job calls
    it a few times a day and keeps the last answer of each month. ``measure=None`` marks a figure counted as
    it happens instead (``metering.add``), such as requests. ``usage`` marks figures that count towards the
    利用量割; ``population`` marks the one figure that is the town's population (人口割).
    """

    code: str
    label: str
    unit: str
    measure: Callable[[Session, Tenant, dt.date], int] | None = None
    usage: bool = True
    population: bool = False


@dataclass(frozen=True)
class ModuleDeclaration:
    """Everything one module brings to the platform, in one place."""

    name: str
    title: str
    tables: Sequence[Table] = ()
    not_copied: Sequence[str] = ()
    """Town-keyed tables that are not part of the town's off-site copy (shipping state, counters)."""
    routers: Sequence[APIRouter] = ()
    templates: str | None = None
    """Package whose ``templates/`` folder holds the module's page templates."""
    static: str | None = None
    permissions: Sequence[PermissionSpec] = ()
    audit_actions: Sequence[ActionSpec] = ()
    purposes: Sequence[PurposeSpec] = ()
    roles: Sequence[RoleFragment] = ()
    settings: Sequence[SettingSpec] = ()
    navigation: Sequence[NavEntry] = ()
    cli: Sequence[tuple[str, typer.Typer]] = ()
    demo: DemoSpec | None = None
    feeds: Sequence[FeedSpec] = ()
    consumers: Sequence[ConsumerSpec] = ()
    jobs: Sequence[JobSpec] = ()
    meters: Sequence[MeterSpec] = ()
    """Monthly figures of a town's use the module can tell (certificates issued, residents)."""


@dataclass(frozen=True)
class StandardRole:
    """A role every new town starts with, merged from the modules' fragments."""

    code: str
    name: str
    purposes: frozenset[str]
    permissions: frozenset[str]


@dataclass
class Catalog:
    """What the loaded declarations bring, indexed; filled once by the loader, read by the platform."""

    modules: tuple[ModuleDeclaration, ...]
    permissions: dict[str, PermissionSpec] = field(default_factory=dict)
    audit_actions: dict[str, ActionSpec] = field(default_factory=dict)
    purposes: dict[str, PurposeSpec] = field(default_factory=dict)
    roles: dict[str, StandardRole] = field(default_factory=dict)
    settings: dict[str, SettingSpec] = field(default_factory=dict)
    feeds: dict[str, FeedSpec] = field(default_factory=dict)
    consumers: dict[str, ConsumerSpec] = field(default_factory=dict)
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    meters: dict[str, MeterSpec] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    """Which module declared each table."""

    @property
    def town_tables(self) -> list[Table]:
        """Every table that is part of a town's copy, in foreign-key order (parents first)."""
        skipped = {name for m in self.modules for name in m.not_copied}
        tables = [t for m in self.modules for t in m.tables if is_town_keyed(t) and t.name not in skipped]
        return list(sort_tables(tables))

    @property
    def not_copied(self) -> frozenset[str]:
        """Town-keyed tables deliberately left out of the copy."""
        return frozenset(name for m in self.modules for name in m.not_copied)

    @property
    def tables(self) -> list[Table]:
        """Every declared table, in foreign-key order."""
        return list(sort_tables([t for m in self.modules for t in m.tables]))

    def my_number_permissions(self) -> frozenset[str]:
        """Permissions that let 個人番号 be shown."""
        return frozenset(code for code, spec in self.permissions.items() if spec.my_number)

    def default_purpose(self) -> str | None:
        """The purpose the sign-in screen offers first (a declared default, else the first purpose)."""
        marked = [code for code, spec in self.purposes.items() if spec.default]
        ordered = marked or list(self.purposes)
        return ordered[0] if ordered else None

    def navigation(self) -> list[NavEntry]:
        """Menu entries of every module, in load order."""
        return [entry for m in self.modules for entry in m.navigation]


def is_town_keyed(table: Table) -> bool:
    """True for tables holding one town's rows: ``lg_code`` is part of the primary key."""
    return "lg_code" in table.primary_key.columns


def _merge_unique(target: dict[str, Any], items: Iterable[Any], kind: str, module: str) -> None:
    for item in items:
        code = item.code if hasattr(item, "code") else item.key if hasattr(item, "key") else item.name
        previous = target.get(code)
        if previous is not None and previous != item:
            raise DeclarationError(f"{kind} {code} of module {module} contradicts an earlier declaration")
        target[code] = item


def build_catalog(declarations: Sequence[ModuleDeclaration]) -> Catalog:
    """Index the declarations and check them: names unique, every table owned once, roles and consumers
    naming only declared permissions, purposes and feeds."""
    names = [d.name for d in declarations]
    if len(set(names)) != len(names):
        raise DeclarationError(f"module names repeat: {names}")
    catalog = Catalog(tuple(declarations))
    fragments: dict[str, list[RoleFragment]] = {}
    for d in declarations:
        for table in d.tables:
            owner = catalog.owners.setdefault(table.name, d.name)
            if owner != d.name:
                raise DeclarationError(f"table {table.name} is declared by {owner} and {d.name}")
        _merge_unique(catalog.permissions, d.permissions, "permission", d.name)
        _merge_unique(catalog.audit_actions, d.audit_actions, "audit action", d.name)
        _merge_unique(catalog.purposes, d.purposes, "purpose", d.name)
        _merge_unique(catalog.settings, d.settings, "setting", d.name)
        _merge_unique(catalog.feeds, d.feeds, "feed", d.name)
        _merge_unique(catalog.consumers, d.consumers, "consumer", d.name)
        _merge_unique(catalog.jobs, d.jobs, "job", d.name)
        _merge_unique(catalog.meters, d.meters, "meter", d.name)
        for fragment in d.roles:
            fragments.setdefault(fragment.code, []).append(fragment)
    for code, parts in fragments.items():
        catalog.roles[code] = StandardRole(
            code,
            parts[0].name,
            frozenset(p for part in parts for p in part.purposes),
            frozenset(p for part in parts for p in part.permissions),
        )
    _check_references(catalog)
    return catalog


def _check_references(catalog: Catalog) -> None:
    for role in catalog.roles.values():
        unknown = sorted(
            (role.permissions - set(catalog.permissions)) | (role.purposes - set(catalog.purposes))
        )
        if unknown:
            raise DeclarationError(f"role {role.code} names undeclared permissions or purposes: {unknown}")
    for consumer in catalog.consumers.values():
        if consumer.feed not in catalog.feeds:
            raise DeclarationError(f"consumer {consumer.name} reads undeclared feed {consumer.feed}")
    for entry in catalog.navigation():
        if entry.permission is not None and entry.permission not in catalog.permissions:
            raise DeclarationError(f"menu entry {entry.label} needs undeclared permission {entry.permission}")


_installed: Catalog | None = None


def install(loaded: Catalog) -> None:
    """Make ``loaded`` the process's catalogue (the loader's last step)."""
    global _installed
    _installed = loaded


def installed() -> Catalog | None:
    """The installed catalogue, or None before the loader ran."""
    return _installed


def catalog() -> Catalog:
    """The installed catalogue; raises :class:`ModulesNotLoaded` when no loader ran in this process."""
    if _installed is None:
        raise ModulesNotLoaded(
            "modules were not loaded: the entry point must call jichitai.bootstrap.load() before using the "
            "platform"
        )
    return _installed


__all__ = [
    "ActionSpec",
    "Catalog",
    "Change",
    "ConsumerSpec",
    "DeclarationError",
    "DemoSpec",
    "FeedSpec",
    "JobContext",
    "JobSpec",
    "MeterSpec",
    "ModuleDeclaration",
    "ModulesNotLoaded",
    "NavEntry",
    "PermissionSpec",
    "PurposeSpec",
    "RoleFragment",
    "SettingSpec",
    "StandardRole",
    "actions",
    "build_catalog",
    "catalog",
    "described",
    "install",
    "installed",
    "is_town_keyed",
]
