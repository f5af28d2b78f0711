"""Line every language's catalog up with English: `python -m plugin.i18n.sync [NEW_LOCALE ...]`.

en.po is the source of message ids. For ru.po, pl.po, lv.po (and any locale named on the command
line, which gets a new file) this adds the messages English gained — empty, for a translator —,
drops the ones English lost, turns a message that became plural (or singular) into an empty entry
of the right shape with the locale's number of plural forms, writes the English text above every
entry as a comment (the ids are keys, so translators need it) and sets the Plural-Forms header from
Babel's CLDR data. Existing translations, translator comments and flags are kept. tests/i18n then
fails until every new entry is translated.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from gettext import c2py
from io import BytesIO

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from plugin.i18n.catalogs import DEFAULT_LOCALE, DOMAIN, LOCALES, po_path, read_catalog
from plugin.i18n.check import problems

PROJECT = "saleor-referrals"


def _english_comments(message: Message) -> list[str]:
    if isinstance(message.id, str):
        return [f"English: {message.string}"]
    one, other = message.string
    return [f"English, one: {one}", f"English, other: {other}"]


def _plural_samples(catalog: Catalog) -> str:
    """Which counts take which form, e.g. "msgstr[0]: 1, 21, 31…; msgstr[1]: 2, 3, 4…; …"."""
    rule = c2py(catalog.plural_expr)
    counts: dict[int, list[int]] = {index: [] for index in range(catalog.num_plurals)}
    for n in range(0, 112):
        counts[rule(n)].append(n)
    return "; ".join(f"msgstr[{index}]: " + ", ".join(map(str, found[:4])) + "…" for index, found in counts.items())


def synced(english: Catalog, current: Catalog | None, locale: str) -> Catalog:
    now = datetime.now(UTC)
    out = Catalog(
        locale=locale,
        domain=DOMAIN,
        project=PROJECT,
        version="1",
        fuzzy=False,
        header_comment=(
            f"# {Locale.parse(locale).english_name} messages of {PROJECT}.\n"
            "# Message ids are keys; the English text is in en.po and in the comment above each entry.\n"
            "# After changing en.po run `python -m plugin.i18n.sync` (see plugin/i18n/README.md)."
        ),
        creation_date=current.creation_date if current else now,
        revision_date=current.revision_date if current and isinstance(current.revision_date, datetime) else now,
        language_team=Locale.parse(locale).english_name,
        last_translator=PROJECT,
    )
    for message in english:
        if not message.id:
            continue
        plural = not isinstance(message.id, str)
        old = current.get(message.id if isinstance(message.id, str) else message.id[0]) if current else None
        same_shape = old is not None and (not isinstance(old.id, str)) == plural
        if same_shape:
            string, flags, comments = old.string, set(old.flags), list(old.user_comments)
        else:
            string, flags, comments = ("" if not plural else ()), set(), list(old.user_comments) if old else []
        if plural:
            forms = list(string)[: out.num_plurals]
            string = tuple(forms + [""] * (out.num_plurals - len(forms)))
        flags.discard("python-format")  # the placeholders are str.format's, not %-style
        comments_for_translators = [] if locale == DEFAULT_LOCALE else _english_comments(message)
        if plural and locale != DEFAULT_LOCALE:
            comments_for_translators.append(_plural_samples(out))
        out.add(message.id, string, auto_comments=comments_for_translators, user_comments=comments, flags=flags)
    return out


def render(catalog: Catalog) -> bytes:
    buffer = BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, omit_header=False)
    return buffer.getvalue()


def sync(locales: list[str]) -> list[str]:
    """Rewrite each locale's .po in line with en.po; returns the locales whose file changed."""
    english = read_catalog(po_path(DEFAULT_LOCALE), DEFAULT_LOCALE)
    changed = []
    for locale in [DEFAULT_LOCALE, *locales]:
        path = po_path(locale)
        current = read_catalog(path, locale) if path.exists() else None
        text = render(synced(english, current, locale))
        if not path.exists() or path.read_bytes() != text:
            path.write_bytes(text)
            changed.append(locale)
    return changed


def main(argv: list[str]) -> int:
    new = [Locale.parse(code).language for code in argv]
    locales = list(dict.fromkeys([locale for locale in LOCALES if locale != DEFAULT_LOCALE] + new))
    changed = sync(locales)
    print("updated: " + (", ".join(changed) if changed else "nothing"))
    english = read_catalog(po_path(DEFAULT_LOCALE), DEFAULT_LOCALE)
    left = {locale: problems(english, read_catalog(po_path(locale), locale)) for locale in [DEFAULT_LOCALE, *locales]}
    for locale, found in left.items():
        for problem in found:
            print(f"{po_path(locale).name}: {problem}")
    return 1 if any(left.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
