"""integrations/nextjs type-checks with TypeScript (the versions pinned in its package-lock.json,
against the real type definitions of React and Next.js), and what it sends to Saleor is valid on
every supported line."""

from __future__ import annotations

import re

import pytest
from graphql import parse, validate

from tests.saleor_emulator.schema import get_schema
from tests.storefront.conftest import NEXTJS_KIT, run

DOCUMENTS = NEXTJS_KIT / "src" / "referrals" / "documents.ts"


def kit_documents() -> dict[str, str]:
    found = re.findall(r"export const (\w+) = /\* GraphQL \*/ `([^`]*)`;", DOCUMENTS.read_text())
    return dict(found)


def test_the_kit_type_checks(nextjs_kit):
    done = run(["npx", "--no-install", "tsc", "--noEmit", "-p", "."], nextjs_kit, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_kit_sends_three_documents():
    assert sorted(kit_documents()) == ["APPLY_FRIEND_CODE", "REFERRAL_CHECKOUT", "REMEMBER_REFERRAL"]


@pytest.mark.parametrize("line", ["3.21", "3.22", "3.23"])
@pytest.mark.parametrize("name", sorted(kit_documents()))
def test_kit_documents_validate_against_every_supported_saleor(name, line):
    assert [e.message for e in validate(get_schema(line), parse(kit_documents()[name]))] == []
