"""Outbound webhooks to the merchant's own systems (CRM, e-mail marketing, data warehouse).

`outbox.emit` stores an event in the caller's transaction (called by plugin.merchant_webhooks.events),
`delivery` sends it signed per the Standard Webhooks specification, `endpoints` manages the
merchant's URLs and secrets. Docs: docs/ADMIN_API.md, "Webhooks".
"""
