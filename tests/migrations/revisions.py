"""The Alembic revision chain of plugin/migrations, read from the files (no database needed)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from plugin.migrations import HERE


def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(HERE))


def revision_chain() -> list[str]:
    """Revision ids from the first to the head. With several heads (two branches that both added a
    revision) the order is still base first; the line itself is checked by test_revisions."""
    return [rev.revision for rev in script_directory().walk_revisions()][::-1]
