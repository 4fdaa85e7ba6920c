# Pushes: deposit and withdrawal status, and the outbox's own alerts to the admins.
deposit-title-waiting = ⏳ Waiting for your payment
deposit-title-confirming = 🔄 Payment seen, waiting for confirmations
deposit-title-confirmed = 🔄 Payment confirmed by the network
deposit-title-sending = 🔄 Payment confirmed, finishing up
deposit-title-partially_paid = ⚠️ Partially paid
deposit-title-finished = ✅ Deposit credited
deposit-title-failed = ❌ Deposit failed
deposit-title-refunded = ↩️ Deposit refunded
deposit-title-expired = ⌛ Deposit expired (no payment received in time)
deposit-title-cancelled = ❌ Deposit cancelled
deposit-title-create_failed = ❌ The deposit could not be created
deposit-title-unknown = Deposit status: { $name }
deposit-title-under-review = 🔎 Deposit under review
deposit-title-review_credit = ✅ Deposit credited after review
deposit-title-review_close = Deposit reviewed
deposit-title-overpaid = 🔎 Payment received: an admin is reviewing it
deposit-title-finished_underpaid = 🔎 Payment received: an admin is reviewing it
deposit-title-finished_nothing_paid = 🔎 Deposit under review
deposit-title-paid_after_final = 🔎 Late payment received: an admin is reviewing it
deposit-title-ended_with_payment = 🔎 Payment received: an admin is reviewing it
deposit-note-partial_hold = Less than the invoice arrived. Nothing is lost: an admin will review it and you will be told here how it ends. Please don't send more to this address meanwhile.
deposit-note-partial_credit = Less than the invoice arrived; what arrived is credited. Please don't send the rest to this address: to top up more, start a new deposit with /deposit.
deposit-note-amount_unknown = The provider did not say how much arrived. Nothing is lost: an admin will review it and you will be told here how it ends.
deposit-note-overpaid = We received more than the invoice asked for, so nothing is credited automatically. Nothing is lost: an admin will review it and you will be told here how it ends.
deposit-note-finished_underpaid = We received less than the invoice asked for, so nothing is credited automatically. Nothing is lost: an admin will review it and you will be told here how it ends.
deposit-note-finished_nothing_paid = The provider reports the deposit as done, but no amount arrived with it. Nothing is lost: an admin will review it and you will be told here how it ends.
deposit-note-paid_after_final = Your payment arrived after the deposit had ended. Nothing is lost: an admin will review it and you will be told here how it ends.
deposit-note-ended_with_payment = The deposit ended before it was paid in full, but some money arrived. Nothing is lost: an admin will review it and you will be told here how it ends.
deposit-note-review_credit = An admin reviewed it: what arrived is credited to your balance.
deposit-note-review_close = An admin reviewed it: nothing is credited. If you think that is wrong, contact support with the deposit id.
deposit-status-note-expired = Nothing was credited. Please don't pay to this address any more: to top up, start a new deposit with /deposit. If you paid late, the money is reviewed by an admin when it arrives and you will be told here.
deposit-status-note-failed = Nothing was credited. To top up, start a new deposit with /deposit.
withdrawal-title-pending = 🕓 Withdrawal requested, waiting for approval
withdrawal-title-approved = 👍 Withdrawal approved
withdrawal-title-processing = 🔄 Withdrawal is being sent
withdrawal-title-completed = ✅ Withdrawal sent
withdrawal-title-rejected = ❌ Withdrawal rejected, the amount is back on your balance
withdrawal-title-cancelled = ↩️ Withdrawal cancelled, the amount is back on your balance
withdrawal-title-unknown = Withdrawal status: { $name }
withdrawal-card-title = Withdrawal { $id }
user-id = (id { $id })
facts-deposit-review = 🔎 Deposit needs review
facts-deposit-alert = ⚠️ Deposit alert
facts-reconcile-alert = 🚨 Ledger reconciliation found mismatches
outbox-via-private = Sent to you privately: the admin chat refused it ({ $error }).
undelivered-title = 🚨 <b>A message could not be delivered</b>
undelivered-what-withdrawal_card = a withdrawal card
undelivered-what-withdrawal_status = a withdrawal status message to the user
undelivered-what-deposit_status = a deposit status message to the user
undelivered-what-deposit_review = a deposit review
undelivered-what-deposit_alert = a deposit alert
undelivered-what-reconcile_alert = a ledger reconciliation alert
undelivered-what-unknown = a message ({ $name })
undelivered-to-admin-chat = the admin chat
undelivered-to-chat = chat { $chat }
undelivered-decide-later = Decide it with /pending in the admin chat once the bot can post there again.
undelivered-decide-here = Decide it with the buttons below, or find it with /pending.
undelivered-user-not-told = The user was not told: reach them another way if it matters.
undelivered-nothing-sent = Nothing was sent; the row stays in the outbox as failed.
outbox-backlog =
    ⚠️ <b>Messages are piling up</b>

    Queued: { $depth }, the oldest for { $oldest } min (alert above { $threshold } min).
    Telegram may be unreachable or refusing the bot; /stats shows the queue.
    This alert is sent once until the queue has cleared.
