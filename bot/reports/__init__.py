"""Rendering of the ledger views, the export file, the help texts and the adjustment push.
Wording lives in bot/locales (``t``); these modules only put it together."""
