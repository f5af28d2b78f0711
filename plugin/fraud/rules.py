"""Fraud and fairness rules. Each finding carries an action and a reason a person can read.

The strictest action wins: allow < flag < hold < block. `flag` pays out but
puts the referral in the review queue; `hold` waits for a merchant; `block`
rejects. Rules and their actions are configurable per tenant
(`settings.fraud.rules.<rule> = "allow" | "flag" | "hold" | "block"`).

Rules are pure functions of a `ReferralContext` (gathered by
`plugin.fraud.context.build_context`), so each one is testable on its own and
the decision can always be explained from what was stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from plugin.fraud.lists import domain_listed
from plugin.i18n.formatting import plain_amount

ACTIONS = ("allow", "flag", "hold", "block")


@dataclass
class Finding:
    rule: str
    action: str
    reason: str  # for the merchant
    advocate_reason: str  # softened, for the advocate's portal

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Decision:
    action: str = "allow"
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        if finding.action == "allow":
            return
        self.findings.append(finding)
        if ACTIONS.index(finding.action) > ACTIONS.index(self.action):
            self.action = finding.action

    @property
    def deciding(self) -> list[Finding]:
        """The findings whose action is the decision's (the ones that explain it)."""
        return [f for f in self.findings if f.action == self.action]


@dataclass
class ReferralContext:
    """Everything the rules look at, gathered by the caller (no I/O in the rules themselves)."""

    advocate_email: str
    advocate_user_id: str | None
    advocate_shipping_fingerprint: str | None
    friend_email: str
    friend_user_id: str | None
    friend_shipping_fingerprint: str | None
    order_total: Decimal
    min_order: Decimal
    rewards_last_30d: int = 0
    friend_had_paid_order: bool | None = None  # None = unknown (Saleor not asked / unavailable)
    seconds_click_to_order: float | None = None
    landing_referrer_host: str | None = None
    coupon_site_domains: tuple[str, ...] | frozenset[str] = ()
    disposable_domains: frozenset[str] = frozenset()
    max_rewards_30d: int = 10
    claims_same_day: int = 0  # claims of the advocate's code in the 24 h before the order
    max_claims_per_day: int = 20
    min_seconds_click_to_order: float = 20.0


RULE_DEFAULTS = {
    "self_referral_email": "block",
    "self_referral_user": "block",
    "same_household": "flag",
    "disposable_email": "hold",
    "velocity": "hold",
    "claim_velocity": "hold",
    "min_order_value": "block",
    "friend_not_new": "block",
    "fast_click_to_order": "flag",
    "coupon_site_referrer": "hold",
}

# (merchant reason, softened advocate reason) or None when the rule does not apply.
Rule = Callable[[ReferralContext], "tuple[str, str] | None"]


def _self_referral_email(ctx: ReferralContext):
    if ctx.advocate_email and ctx.advocate_email == ctx.friend_email:
        return (
            "The buyer's e-mail is the advocate's own (compared after normalising case, dots and +tags).",
            "Not counted: this looks like your own order.",
        )


def _self_referral_user(ctx: ReferralContext):
    if ctx.advocate_user_id and ctx.friend_user_id and ctx.advocate_user_id == ctx.friend_user_id:
        return (
            "The friend's order was placed by the advocate's own customer account.",
            "Not counted: this looks like your own order.",
        )


def _same_household(ctx: ReferralContext):
    if ctx.advocate_shipping_fingerprint and ctx.advocate_shipping_fingerprint == ctx.friend_shipping_fingerprint:
        return (
            "Advocate and friend ship to the same address (same household).",
            "Under review: your friend ships to the same address as you.",
        )


def _disposable_email(ctx: ReferralContext):
    domain = ctx.friend_email.rpartition("@")[2]
    if domain_listed(domain, ctx.disposable_domains):
        return (
            f"The friend used a disposable e-mail domain ({domain}).",
            "Under review: we could not confirm your friend's e-mail address.",
        )


def _velocity(ctx: ReferralContext):
    if ctx.rewards_last_30d >= ctx.max_rewards_30d:
        return (
            f"The advocate already earned {ctx.rewards_last_30d} rewards in 30 days (cap {ctx.max_rewards_30d}).",
            "Under review: you reached this month's reward limit.",
        )


def _claim_velocity(ctx: ReferralContext):
    # The landing page refuses claims beyond the cap, so reaching it is the signal: a leaked link.
    if ctx.max_claims_per_day and ctx.claims_same_day >= ctx.max_claims_per_day:
        return (
            f"The advocate's code was claimed {ctx.claims_same_day} times in the 24 hours before this order "
            f"(daily cap {ctx.max_claims_per_day}): the link may have leaked.",
            "Under review: your link was used unusually often in one day.",
        )


def _min_order_value(ctx: ReferralContext):
    if ctx.min_order and ctx.order_total < ctx.min_order:
        return (
            f"Order total {plain_amount(ctx.order_total)} is below the minimum {plain_amount(ctx.min_order)}.",
            "Not counted: your friend's order was below the minimum order value.",
        )


def _friend_not_new(ctx: ReferralContext):
    if ctx.friend_had_paid_order:
        return (
            "The friend already had a paid order at this shop before.",
            "Not counted: your friend had already shopped here.",
        )


def _fast_click_to_order(ctx: ReferralContext):
    if ctx.seconds_click_to_order is not None and ctx.seconds_click_to_order < ctx.min_seconds_click_to_order:
        return (
            f"Only {ctx.seconds_click_to_order:.0f} s passed between the link click and the order "
            f"(less than {ctx.min_seconds_click_to_order:.0f} s is implausible for a person).",
            "Under review.",
        )


def _coupon_site_referrer(ctx: ReferralContext):
    host = (ctx.landing_referrer_host or "").lower()
    if host and domain_listed(host, ctx.coupon_site_domains):
        return (
            f"The friend arrived from a coupon site ({host}).",
            "Under review: your link was found on a public coupon site.",
        )


RULES: dict[str, Rule] = {
    "self_referral_email": _self_referral_email,
    "self_referral_user": _self_referral_user,
    "same_household": _same_household,
    "disposable_email": _disposable_email,
    "velocity": _velocity,
    "claim_velocity": _claim_velocity,
    "min_order_value": _min_order_value,
    "friend_not_new": _friend_not_new,
    "fast_click_to_order": _fast_click_to_order,
    "coupon_site_referrer": _coupon_site_referrer,
}


def configured_actions(configured: dict | None) -> dict[str, str]:
    """The tenant's action per rule: its overrides (valid ones only) over RULE_DEFAULTS."""
    return {**RULE_DEFAULTS, **{k: v for k, v in (configured or {}).items() if k in RULES and v in ACTIONS}}


def evaluate(ctx: ReferralContext, configured: dict | None = None) -> Decision:
    actions = configured_actions(configured)
    decision = Decision()
    for name, rule in RULES.items():
        hit = rule(ctx)
        if hit:
            decision.add(Finding(name, actions[name], hit[0], hit[1]))
    return decision
