"""A/B results of the offer: per variant, against the control and against the holdout.

Conversion = advocates with at least one friend's paid first order that still
stands / advocates. Two measures of "is the difference real":

* `p_value`: two-sided two-proportion z-test of the variant's conversion vs the
  control's (the first configured variant). Below 0.05 is the usual bar.
* `prob_to_beat_control`: P(variant's true conversion > control's) with uniform
  Beta(1, 1) priors; exact (Evan Miller's sum) for moderate counts, a normal
  approximation beyond that.

The holdout got no offer at all, so `uplift_vs_holdout` is what the program adds
on top of what those customers' friends do anyway.
"""

from __future__ import annotations

import math

from plugin.analytics.queries import ZERO, money_str, ratio
from plugin.program.experiments import HOLDOUT
from plugin.program.settings import ab_test_of

EXACT_LIMIT = 5000  # successes above which the Beta comparison uses the normal approximation
MIN_SAMPLE = 100  # advocates per arm before the page calls a result "enough data"


def z_test_p_value(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float | None:
    """Two-sided p-value that two conversion rates differ (pooled two-proportion z-test)."""
    if trials_a <= 0 or trials_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return 1.0
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def prob_b_beats_a(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float | None:
    """P(p_B > p_A) for Beta(1 + s, 1 + n - s) posteriors."""
    if trials_a <= 0 or trials_b <= 0:
        return None
    alpha_a, beta_a = 1 + successes_a, 1 + trials_a - successes_a
    alpha_b, beta_b = 1 + successes_b, 1 + trials_b - successes_b
    if alpha_b - 1 <= EXACT_LIMIT:
        total = 0.0
        base = _log_beta(alpha_a, beta_a)
        for i in range(int(alpha_b)):
            total += math.exp(
                _log_beta(alpha_a + i, beta_a + beta_b) - math.log(beta_b + i) - _log_beta(1 + i, beta_b) - base
            )
        return min(1.0, max(0.0, total))
    mean_a, mean_b = alpha_a / (alpha_a + beta_a), alpha_b / (alpha_b + beta_b)
    var_a = alpha_a * beta_a / ((alpha_a + beta_a) ** 2 * (alpha_a + beta_a + 1))
    var_b = alpha_b * beta_b / ((alpha_b + beta_b) ** 2 * (alpha_b + beta_b + 1))
    return 0.5 * math.erfc(-(mean_b - mean_a) / math.sqrt(2 * (var_a + var_b)))


def _arm(name: str, counts: dict) -> dict:
    advocates = counts["advocates"]
    revenue, cost = counts["revenue"], counts["reward_cost"]
    return {
        "variant": name,
        "advocates": advocates,
        "sharers": counts["sharers"],
        "share_rate": ratio(counts["sharers"], advocates),
        "converters": counts["converters"],
        "conversion": ratio(counts["converters"], advocates),
        "referrals": counts["referrals"],
        "revenue": money_str(revenue),
        "reward_cost": money_str(cost),
        "revenue_per_advocate": money_str(revenue / advocates) if advocates else None,
        "net_per_advocate": money_str((revenue - cost) / advocates) if advocates else None,
        "enough_data": advocates >= MIN_SAMPLE,
    }


def experiment_report(settings: dict, counts: dict[tuple[str, str], dict]) -> dict:
    """Arms in configured order (control first), then old variants, then the holdout; one block per currency."""
    test = ab_test_of(settings)
    configured = [v.name for v in test.variants]
    blocks = []
    for currency in sorted({currency for _, currency in counts}):
        present = {variant for variant, cur in counts if cur == currency}
        order = [v for v in configured if v in present or test.enabled]
        order += sorted(v for v in present if v not in order and v != HOLDOUT)
        if HOLDOUT in present or test.holdout_percent > 0:
            order.append(HOLDOUT)
        empty = {"advocates": 0, "sharers": 0, "converters": 0, "referrals": 0, "revenue": ZERO, "reward_cost": ZERO}
        arms = [_arm(name, counts.get((name, currency), empty)) for name in order]
        control = next((a for a in arms if a["variant"] != HOLDOUT), None)
        holdout = next((a for a in arms if a["variant"] == HOLDOUT), None)
        for arm in arms:
            counts_arm = counts.get((arm["variant"], currency), empty)
            if control is not None and arm is not control and arm["variant"] != HOLDOUT:
                counts_control = counts.get((control["variant"], currency), empty)
                args = (
                    counts_control["converters"],
                    counts_control["advocates"],
                    counts_arm["converters"],
                    counts_arm["advocates"],
                )
                p_value, beat = z_test_p_value(*args), prob_b_beats_a(*args)
                arm["vs_control"] = {
                    "p_value": None if p_value is None else round(p_value, 4),
                    "prob_to_beat_control": None if beat is None else round(beat, 4),
                    "conversion_lift": (
                        None
                        if not control["conversion"] or arm["conversion"] is None
                        else round(arm["conversion"] / control["conversion"] - 1, 4)
                    ),
                }
            if holdout is not None and arm is not holdout and holdout["advocates"]:
                counts_holdout = counts.get((HOLDOUT, currency), empty)
                uplift = None
                if arm["conversion"] is not None and holdout["conversion"] is not None:
                    uplift = round(arm["conversion"] - holdout["conversion"], 4)
                revenue_uplift = None
                if counts_arm["advocates"]:
                    revenue_uplift = money_str(
                        counts_arm["revenue"] / counts_arm["advocates"]
                        - counts_holdout["revenue"] / holdout["advocates"]
                    )
                p_value = z_test_p_value(
                    counts_holdout["converters"],
                    counts_holdout["advocates"],
                    counts_arm["converters"],
                    counts_arm["advocates"],
                )
                arm["uplift_vs_holdout"] = {
                    "conversion": uplift,
                    "revenue_per_advocate": revenue_uplift,
                    "p_value": None if p_value is None else round(p_value, 4),
                }
        blocks.append({"currency": currency, "control": control["variant"] if control else None, "arms": arms})
    return {
        "enabled": test.enabled,
        "holdout_percent": (settings.get("ab_test") or {}).get("holdout_percent", 0),  # as the merchant wrote it
        "variants": (settings.get("ab_test") or {}).get("variants") or [],
        "results": blocks,
        "min_sample": MIN_SAMPLE,
    }
