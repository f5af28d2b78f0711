"""The revisions form one line from 0001, and 0001 (what every deployed database was built with) is
frozen: schema changes are new revisions (plugin/migrations/README.md)."""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

from tests.migrations.revisions import revision_chain, script_directory

# Digest of 0001's code, formatting and comments aside (canonical_code below).
FROZEN_0001 = "67fb14095135cb9948e6c25912ce2fda827401d65c9368acff5dc55476338795"


def canonical_code(source: str) -> str:
    """The module's syntax tree without its docstring, in a form that does not depend on formatting,
    quote style or the Python version's optional AST fields."""
    tree = ast.parse(source)
    body = (
        tree.body[1:]
        if tree.body
        and isinstance(tree.body[0], ast.Expr)
        and isinstance(getattr(tree.body[0], "value", None), ast.Constant)
        and isinstance(tree.body[0].value.value, str)
        else tree.body
    )

    def dump(node) -> str:
        if isinstance(node, ast.AST):
            fields = [
                (name, value)
                for name, value in ast.iter_fields(node)
                if value not in (None, []) and name not in ("ctx", "kind", "type_comment", "type_params")
            ]
            return f"{type(node).__name__}(" + ",".join(f"{name}={dump(value)}" for name, value in fields) + ")"
        if isinstance(node, list):
            return "[" + ",".join(dump(item) for item in node) + "]"
        return repr(node)

    return dump(body)


def test_revisions_form_one_line_starting_at_0001():
    script = script_directory()
    heads = script.get_heads()
    assert len(heads) == 1, (
        f"several heads {sorted(heads)}: two branches both added a revision; set the newer "
        f"one's down_revision to the other so that the revisions form one line"
    )
    chain = revision_chain()
    assert chain[0] == "0001"
    for earlier, later in zip(chain, chain[1:]):
        assert script.get_revision(later).down_revision == earlier


def test_revision_0001_is_frozen():
    path = next(Path(script_directory().dir, "versions").glob("0001_*.py"))
    digest = hashlib.sha256(canonical_code(path.read_text()).encode()).hexdigest()
    assert digest == FROZEN_0001, (
        f"{path.name} changed: 0001 is what every deployed database was built "
        f"with and is never edited; put the change in a new revision instead "
        f"(plugin/migrations/README.md)"
    )


def test_the_frozen_digest_ignores_formatting_but_not_code():
    original = "'''doc'''\nfrom alembic import op\n\ndef upgrade():\n    op.create_table('t', op.x(1, ),)\n"
    reformatted = (
        '"""Other doc."""\nfrom alembic import op\n\n\ndef upgrade():\n'
        '    # a comment\n    op.create_table(\n        "t",\n        op.x(\n            1,\n        ),\n    )\n'
    )
    changed = "'''doc'''\nfrom alembic import op\n\ndef upgrade():\n    op.create_table('t', op.x(2, ),)\n"
    assert canonical_code(original) == canonical_code(reformatted)
    assert canonical_code(original) != canonical_code(changed)


def test_each_revision_is_numbered_in_order_and_fits_alembic_version():
    chain = revision_chain()
    for number, revision in enumerate(chain, start=1):
        assert revision.split("_", 1)[0] == f"{number:04d}", f"{revision} should start with {number:04d}"
        assert len(revision) <= 32, f"{revision}: alembic_version.version_num holds 32 characters"


def test_new_migration_numbers_the_revision_after_the_head():
    scripts = str(Path(__file__).resolve().parents[2] / "scripts")
    sys.path.insert(0, scripts)
    try:
        import new_migration
    finally:
        sys.path.remove(scripts)
    assert new_migration.next_revision_id() == f"{len(revision_chain()) + 1:04d}"
