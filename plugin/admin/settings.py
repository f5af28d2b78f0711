"""Reading and changing a shop's program settings, with an audit trail.

A PUT replaces the top-level sections it names (`{"channels": {...}}` replaces
every channel override) and keeps the others. The result is validated as a
whole, stored as its difference from DEFAULTS (so a later default change still
reaches shops that never touched that setting), and the change is recorded in
`SettingsChange`: who (the Dashboard user's e-mail), when, and a path → from/to diff.
"""

from __future__ import annotations

import copy

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import serialized, session_scope, utcnow
from plugin.program.models import ProgramSettings, SettingsChange
from plugin.program.settings import DEFAULTS, deep_merge
from plugin.program.validation import validate_settings
from plugin.tenants.models import Tenant

HISTORY_LIMIT = 50


class VersionConflict(Exception):
    def __init__(self, current: int):
        super().__init__(f"settings changed meanwhile (now version {current})")
        self.current = current


def _row(session: Session, tenant_id: int, *, lock: bool = False) -> ProgramSettings | None:
    query = select(ProgramSettings).where(ProgramSettings.tenant_id == tenant_id).order_by(ProgramSettings.id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def effective(session: Session, tenant_id: int) -> tuple[dict, int]:
    row = _row(session, tenant_id)
    return deep_merge(DEFAULTS, row.data if row else {}), row.version if row else 0


def overrides(document: dict, defaults: dict = DEFAULTS) -> dict:
    """The parts of `document` that differ from `defaults` (recursively for objects)."""
    out = {}
    for key, value in document.items():
        if key in defaults and isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            nested = overrides(value, defaults[key])
            if nested:
                out[key] = nested
        elif key not in defaults or defaults[key] != value:
            out[key] = copy.deepcopy(value)
    return out


def diff(before, after, prefix: str = "") -> dict[str, dict]:
    """Flat {path: {"from": old, "to": new}} of everything that changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = {}
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            changes.update(diff(before.get(key), after.get(key), path))
        return changes
    if before == after:
        return {}
    return {prefix: {"from": before, "to": after}}


def candidate(current: dict, body: dict) -> dict:
    merged = copy.deepcopy(current)
    for key, value in body.items():
        merged[key] = copy.deepcopy(value)
    return merged


def save(
    tenant_id: int, body: dict, *, actor: str, channels: dict[str, str] | None, expected_version: int | None = None
) -> tuple[dict, int, dict]:
    """Validate and store; returns (effective settings, new version, diff). Raises SettingsInvalid, VersionConflict."""
    with session_scope(tenant_id) as session, serialized(session):
        # The tenant row lock serialises writers, including the very first save (no row to lock yet).
        session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
        row = _row(session, tenant_id, lock=True)
        current = deep_merge(DEFAULTS, row.data if row else {})
        version = row.version if row else 0
        if expected_version is not None and expected_version != version:
            raise VersionConflict(version)
        updated = validate_settings(candidate(current, body), channels=channels)
        changes = diff(current, updated)
        if not changes:
            return current, version, {}
        if row is None:
            row = ProgramSettings(tenant_id=tenant_id, data={}, version=0)
            session.add(row)
        row.data = overrides(updated)
        row.version = version + 1
        row.updated_at = utcnow()
        session.add(SettingsChange(tenant_id=tenant_id, actor=actor, at=utcnow(), changes=changes))
        return deep_merge(DEFAULTS, row.data), row.version, changes


def history(session: Session, tenant_id: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    rows = session.scalars(
        select(SettingsChange)
        .where(SettingsChange.tenant_id == tenant_id)
        .order_by(SettingsChange.id.desc())
        .limit(limit)
    )
    return [{"id": r.id, "actor": r.actor, "at": r.at.isoformat(), "changes": r.changes} for r in rows]
