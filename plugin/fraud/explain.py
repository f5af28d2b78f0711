"""Plain-words explanations of referral decisions: full for the merchant, softened for the advocate.

The advocate never sees internal signals (flags, other people's data): only whether the
referral counts, and a gentle reason when it does not (yet).
"""

from __future__ import annotations

from plugin.fraud.rules import Decision
from plugin.i18n import t
from plugin.referrals.models import Referral

VERB = {"allow": "Approved", "flag": "Flagged for review", "hold": "Held for review", "block": "Blocked"}
CONSEQUENCE = {
    "allow": "",
    "flag": " Pays out as usual; shown in the review queue.",
    "hold": " No reward until a merchant approves it.",
    "block": " No rewards.",
}


def decision_summary(decision: Decision) -> str:
    """'Blocked (self_referral_email): <reason> No rewards.' — what the merchant reads."""
    if decision.action == "allow":
        return "Approved by the fraud rules."
    parts = "; ".join(f"{f.rule}: {f.reason}" for f in decision.deciding)
    others = [f for f in decision.findings if f.action != decision.action]
    also = (" Also noted: " + "; ".join(f"{f.rule} ({f.action}): {f.reason}" for f in others)) if others else ""
    return f"{VERB[decision.action]} ({parts}).{CONSEQUENCE[decision.action]}{also}"


def attribution_note(referred_by: str, decision: Decision) -> str:
    """The order's attribution note: who referred it and what the rules decided, with why."""
    return f"{referred_by} {decision_summary(decision)}"


def _advocate_reason(finding: dict, locale: str) -> str:
    key = f"fraud.advocate.{finding.get('rule')}"
    text = t(locale, key)
    return text if text != key else (finding.get("advocate_reason") or t(locale, "fraud.advocate.under_review"))


def _deciding(referral: Referral) -> list[dict]:
    reasons = [r for r in (referral.reasons or []) if isinstance(r, dict)]
    return [r for r in reasons if r.get("action") == referral.decision] or reasons


def advocate_message(referral: Referral, locale: str = "en") -> str:
    """One sentence for the advocate's portal about a referral's status (softened reasons only).

    Flags stay internal: a flagged referral that paid out reads like any rewarded one.
    """
    state = referral.state
    if state == Referral.ISSUED:
        return t(locale, "fraud.advocate.issued")
    if state in (Referral.APPROVED, Referral.PENDING) and referral.decision in ("allow", "flag"):
        return t(locale, "fraud.advocate.approved" if state == Referral.APPROVED else "fraud.advocate.pending")
    if state == Referral.HELD:
        if referral.hold_until is not None:  # cleared by the rules or a merchant; return window
            return t(locale, "fraud.advocate.return_window", date=referral.hold_until.date().isoformat())
        reasons = _deciding(referral)
        return _advocate_reason(reasons[0], locale) if reasons else t(locale, "fraud.advocate.under_review")
    if state == Referral.REJECTED:
        reasons = _deciding(referral)
        return _advocate_reason(reasons[0], locale) if reasons else t(locale, "fraud.advocate.not_counted")
    if state == Referral.REVOKED:
        return t(locale, "fraud.advocate.revoked")
    return t(locale, "fraud.advocate.pending")
