"""Where the register answers: every JSON route under :data:`API`, every screen under :data:`UI`.

A module's routes carry its name, so that modules added later never collide with each other or with the
platform's own ``/api/v1/municipalities/{lg_code}/…`` routes (audit, staff, off-site copy).
"""

from __future__ import annotations

API = "/api/v1/municipalities/{lg_code}/registry"
"""Prefix of the register's JSON API."""

UI = "/ui/{lg_code}/registry"
"""Prefix of the register's counter screens."""


def ui(lg_code: str, path: str = "") -> str:
    """The address of a screen of the register, e.g. ``ui("034614", "persons/0000000018")``."""
    return f"/ui/{lg_code}/registry/{path}"


def api(lg_code: str, path: str = "") -> str:
    """The address of a JSON resource of the register."""
    return f"/api/v1/municipalities/{lg_code}/registry/{path}"
