"""The advocate's updates about a friend's order, each switchable in the program's `messages.updates`.

One message per thing that happened, never two saying the same at once:

* **held** — the friend's order counted but the reward waits: "on hold until <date>" (the return
  window, `hold_days`) or "on hold while the shop checks the order" (a fraud rule's hold for review;
  the reason stays with the merchant). Sent when the referral is held.
* **approved** — the advocate's reward e-mail (plugin.coupons.service, sent once the reward exists in
  Saleor) is the news: it says the friend's order counted, gives the code and the progress. A
  **counted** update ("your reward is on its way") is queued at approval to go out only
  `COUNTED_UPDATE_DELAY` later, and is withdrawn when the reward e-mail is written; so the advocate
  hears about it only when creating the reward takes longer (Saleor down or refusing: the sweeper
  keeps retrying).
* **progress** toward the next tier or milestone (plugin.rewards.ladder) is folded into these
  updates and into the advocate's reward e-mail, not sent alone.

All of them are non-transactional: they carry an unsubscribe link and honour the suppression list.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from plugin.coupons.models import Coupon
from plugin.db import utcnow
from plugin.identity import is_pseudonym
from plugin.mail.compose import COUNTED, HELD, HELD_FOR_REVIEW, queue_advocate_update, withdraw_counted_update
from plugin.program.settings import Program
from plugin.referrals.models import Advocate, Referral
from plugin.rewards.ladder import next_goal
from plugin.tenants.models import Tenant

COUNTED_UPDATE_DELAY = timedelta(minutes=15)


def _advocate(session: Session, referral: Referral) -> Advocate | None:
    advocate = session.get(Advocate, referral.advocate_id)
    if advocate is None or advocate.erased_at is not None or is_pseudonym(advocate.contact_email):
        return None
    return advocate


def _goal(session: Session, advocate: Advocate, program: Program):
    return next_goal(session, advocate, program) if program.messages.progress else None


def referral_held(session: Session, tenant: Tenant, program: Program, referral: Referral) -> None:
    """The friend's order was attributed and the referral held (return window or review)."""
    advocate = _advocate(session, referral)
    if advocate is None or not program.messages.held:
        return
    update = HELD if referral.hold_until is not None else HELD_FOR_REVIEW
    queue_advocate_update(session, tenant, program, advocate, referral, update, goal=_goal(session, advocate, program))


def referral_approved(
    session: Session, tenant: Tenant, program: Program, referral: Referral, reserved: list[Coupon]
) -> None:
    """The referral was approved and `reserved` its rewards: a "counted, on its way" update for
    later, in case the advocate's reward is late (withdrawn when its e-mail is written)."""
    advocate = _advocate(session, referral)
    if advocate is None or not program.messages.counted:
        return
    if not any(c.purpose in (Coupon.REFERRER_REWARD, Coupon.MILESTONE_REWARD) for c in reserved):
        return  # nothing on its way to the advocate
    queue_advocate_update(
        session,
        tenant,
        program,
        advocate,
        referral,
        COUNTED,
        goal=_goal(session, advocate, program),
        not_before=utcnow() + COUNTED_UPDATE_DELAY,
    )


def referral_ended(session: Session, referral: Referral) -> None:
    """Revoked or rejected: a "your reward is on its way" not sent yet would now be untrue."""
    withdraw_counted_update(session, referral.tenant_id, referral.id)
