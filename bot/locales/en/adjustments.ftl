# A bonus or a manual balance adjustment, pushed to the user (core/adjustment_notify.py).
adjustment-push-bonus = 🎁 <b>You received a bonus of { $amount }</b>
adjustment-push-credit = ✏️ <b>An admin added { $amount } to your balance</b>
adjustment-push-debit = ✏️ <b>An admin took { $amount } from your balance</b>
adjustment-push-balance = Your balance now: <b>{ $balance }</b>
adjustment-push-reason = Reason: { $reason }
adjustment-push-history = Every change is in /history.
