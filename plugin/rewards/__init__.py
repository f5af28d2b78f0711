"""Rewards that grow with the advocate: tiers, milestones, progress and commission (docs/REWARDS.md).

`ladder` holds the pure rules (which reward the Nth rewarded friend earns, which milestone it
reaches, how far the next goal is) and `next_goal(session, advocate, program)`, the one function
the widget, the portal and the e-mails ask for progress; `commission` computes a commission.
"""
