"""What is wrong with a translated catalog compared with English (tests/i18n runs this on every locale).

A catalog is complete when it has exactly English's messages, none fuzzy or empty, every plural
message has as many non-empty forms as the locale's Plural-Forms says, that header agrees with
CLDR's plural rule for the language, and every form uses the same `{placeholders}` as English.
"""

from __future__ import annotations

from gettext import c2py
from string import Formatter

from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural

SAMPLE_COUNTS = range(0, 1001)


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a str.format template; ValueError on stray braces."""
    return {field for _literal, field, _spec, _conversion in Formatter().parse(text) if field is not None}


def _forms(message: Message) -> list[str]:
    return [message.string] if isinstance(message.id, str) else list(message.string)


def plural_rule_problems(catalog: Catalog) -> list[str]:
    expected = get_plural(str(catalog.locale))
    if catalog.num_plurals != expected.num_plurals:
        return [f"Plural-Forms: nplurals={catalog.num_plurals}, CLDR says {expected.num_plurals}"]
    ours, cldr = c2py(catalog.plural_expr), c2py(expected.plural_expr)
    differing = [n for n in SAMPLE_COUNTS if ours(n) != cldr(n)]
    return [f"Plural-Forms: the rule picks other forms than CLDR for n={differing[:5]}"] if differing else []


def problems(english: Catalog, translated: Catalog) -> list[str]:
    found = plural_rule_problems(translated)
    english_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in english if m.id}
    for message in translated:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if message.id and key not in english_ids:
            found.append(f"{key}: not an English message (remove it or add it to en.po)")
    for source in english:
        if not source.id:
            continue
        key = source.id if isinstance(source.id, str) else source.id[0]
        message = translated.get(key)
        if message is None:
            found.append(f"{key}: missing")
            continue
        if message.fuzzy:
            found.append(f"{key}: marked fuzzy (check it, then remove the flag)")
        plural = not isinstance(source.id, str)
        if plural != (not isinstance(message.id, str)):
            found.append(f"{key}: {'plural' if plural else 'singular'} in English, not here")
            continue
        forms = _forms(message)
        if plural and len(forms) != translated.num_plurals:
            found.append(f"{key}: {len(forms)} plural forms, the language has {translated.num_plurals}")
        try:
            wanted = placeholders(_forms(source)[-1])
        except ValueError as exc:
            found.append(f"{key}: English text does not format ({exc})")
            continue
        for index, form in enumerate(forms):
            where = f"{key}[{index}]" if plural else key
            if not form:
                found.append(f"{where}: empty")
                continue
            try:
                used = placeholders(form)
                form.format(**dict.fromkeys(used, "x"))
            except (ValueError, KeyError, IndexError, AttributeError) as exc:
                found.append(f"{where}: does not format ({exc!r})")
                continue
            if used != wanted:
                found.append(f"{where}: placeholders {sorted(used)}, English has {sorted(wanted)}")
    return found
