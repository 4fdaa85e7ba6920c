# The admin chat (telegram.admin_language).
admin-only = Sorry, only admins can do that.
admin-command-pending = Withdrawals awaiting action
admin-command-payments = Recent deposits: /payments [status|review]
admin-command-user = Look up a user: /user <id or @name>
admin-command-stats = Totals, balances and the ledger check
admin-command-transactions = Ledger rows: /transactions [user] [type] [since]
admin-command-export = The ledger as CSV: /export [since] [until]
admin-command-currencies = Deposit coins: switch on or off, sync
admin-command-adjust = Correct a balance: /adjust <user> <±amount> <reason>
admin-command-bonus = Credit a bonus: /bonus <user> <amount> <reason>
admin-command-id = This chat's id and your user id
admin-command-help = Admin commands
admin-btn-approve = ✅ Approve
admin-btn-reject = ❌ Reject
admin-btn-process = 🔄 Processing
admin-btn-complete = 🏁 Mark completed
admin-btn-currency-sync = 🔄 Sync from provider
admin-btn-credit = ✅ Credit { $amount }
admin-btn-close-review = ✖ Close review
admin-prompt-reason-placeholder = Reason for the user
admin-prompt-hash-placeholder = Transaction hash
admin-wd-status-pending = 🕓 Pending
admin-wd-status-approved = 👍 Approved
admin-wd-status-processing = 🔄 Processing
admin-wd-status-completed = ✅ Completed
admin-wd-status-rejected = ❌ Rejected
admin-wd-status-cancelled = ↩️ Cancelled by the user
admin-wd-now-pending = pending
admin-wd-now-approved = approved
admin-wd-now-processing = being sent
admin-wd-step-approved = approved
admin-wd-step-processing = marked processing
admin-wd-step-completed = completed
admin-wd-step-rejected = rejected
admin-wd-step-cancelled = cancelled
admin-by-user = by the user
admin-by = by { $who }
admin-at = at { $when }
admin-changed = changed
admin-ledger-line = { $when } · { $type } { $amount } → { $balance }
admin-card-title = <b>💸 Withdrawal { $id }</b>
admin-card-status = Status: <b>{ $status }</b>
admin-card-fees = Fees: { $total } (network { $network }, service { $service })
admin-card-to-send = To send: <b>{ $amount }</b> in { $coin }
admin-card-currency = Currency: { $code } · network { $network }
admin-card-notes = Notes: { $notes }
admin-card-balance = Balance now: <b>{ $balance }</b> (deposited { $deposited }, withdrawn { $withdrawn })
admin-card-recent = Recent activity:
admin-card-requested = 🕓 { $when } requested
admin-not-possible = Not possible now: the withdrawal is { $state }.
admin-already-handled = Already handled: { $step }
admin-review-toast-credit = Credited. The user is told.
admin-review-toast-close = Review closed.
admin-review-credited = credited { $amount }
admin-review-closed = review closed
admin-review-decided = ✔️ { $id }: { $what } by { $who } at { $when }
admin-review-already = Already decided
admin-toast-approve = Approved. The user is told; the card updates.
admin-toast-process = Marked as processing. The user is told.
admin-toast-prompt = Reply to my message below.
admin-reply-needs-text = Please answer with text, as a reply to my question.
admin-reject-prompt =
    { $admin }, reason for rejecting withdrawal <code>{ $id }</code> ({ $status }, { $amount } to { $user })?
    Reply to this message: the user sees the reason, and the amount goes back to their balance.
admin-complete-prompt =
    { $admin }, transaction hash of withdrawal <code>{ $id }</code> ({ $amount } in { $coin } to <code>{ $address }</code>)?
    Reply to this message with it.
admin-prompt-unknown = I am not waiting for an answer to that message: to reject or complete a withdrawal, press the button on its card.
admin-prompt-expired = This question has expired and nothing was changed: press the button on the card again.
admin-prompt-used = This question has already been answered: nothing more was changed.
admin-prompt-not_yours = This question was asked of another admin and nothing was changed: press the button on the card yourself.
admin-rejected = ❌ Withdrawal <code>{ $id }</code> rejected; { $amount } is back on the user's balance. The user is told.
admin-completed = ✅ Withdrawal <code>{ $id }</code> completed (tx <code>{ $tx }</code>). The user is told.
admin-pending-none = No withdrawals awaiting action. 🎉
admin-pending-title = <b>Withdrawals awaiting action</b> ({ $count }, oldest first)
admin-payments-title = <b>Recent deposits</b>
admin-payments-title-status = <b>Recent deposits</b> ({ $status })
admin-none = None.
admin-none-lower = none
admin-payment-credited = , credited { $amount }
admin-payment-review = { " · ⚠️ review" }
admin-payment-line = <code>{ $id }</code> · { $amount } in { $coin } · { $status }{ $credited }{ $review } · user { $user } · { $when }
admin-unknown-filter = Unknown status “{ $status }”. Use one of: { $filters }.
admin-user-usage = Usage: /user &lt;telegram id or @username&gt;
admin-user-not-found = No user with that Telegram id or username.
admin-flag-banned = banned
admin-flag-blocked = blocked us
admin-user-title = <b>User</b> { $who }
admin-user-registered = Registered { $when } · internal id { $id }
admin-total-deposited = Total deposited: { $amount }
admin-total-withdrawn = Total withdrawn: { $amount }
admin-transactions-count = Transactions: { $count }
admin-user-deposits = Deposits: { $totals }
admin-user-withdrawals = Withdrawals: { $totals }
admin-last-transactions = <b>Last transactions</b>
admin-withdrawals-heading = <b>Withdrawals</b>
admin-deposits-heading = <b>Deposits</b>
admin-user-deposit-line = <code>{ $id }</code> · { $amount } in { $coin } · { $status } · { $when }
admin-stats-title = <b>Stats</b> · { $when }
admin-stats-users = Users: { $count }
admin-stats-balances = Balances held by users: <b>{ $amount }</b>
admin-stats-held = In open withdrawals: { $amount }
admin-stats-deposited = Deposited: { $amount } · credited for deposits: { $credited }
admin-stats-withdrawn = Withdrawn: { $amount }
admin-stats-deposits-by-status = <b>Deposits by status</b>
admin-stats-withdrawals-by-status = <b>Withdrawals by status</b>
admin-ledger-mismatches = 🚨 <b>Ledger check: { $count } mismatches</b>
admin-ledger-mismatch = user { $user }: { $kind } expected { $expected } found { $actual }
admin-ledger-ok = ✅ Ledger check: every balance matches the ledger.
admin-outbox = <b>Outbox</b>: { $depth } queued · { $failed } undelivered in the last day
admin-outbox-oldest = <b>Outbox</b>: { $depth } queued, the oldest for { $oldest } · { $failed } undelivered in the last day
duration-seconds = { $s } s
duration-minutes = { $m } min
duration-hours = { $h } h { $m } min
admin-currencies-none = No currencies yet. Press Sync to load them from the provider.
admin-currencies-title = <b>Currencies</b> ({ $count }; a button switches a coin off ⛔ or on ✅)
admin-currencies-title-paged = <b>Currencies</b> ({ $count }, page { $page } of { $pages }; a button switches a coin off ⛔ or on ✅)
admin-currency-on = ✅ on
admin-currency-off-admin = ⛔ off (switched off by an admin)
admin-currency-off-provider = ⛔ off (not offered by the provider)
admin-currency-min = { " · min " }{ $amount }
admin-currency-now-on = { $code } is now on.
admin-currency-now-off = { $code } is now off.
admin-currency-sync-started = Syncing with the provider…
admin-sync-failed = ⚠️ Sync failed, nothing changed: { $error }
admin-sync-title = 🔄 <b>Currencies synced</b>
admin-sync-title-seed = 🔄 <b>Currencies synced</b> (the provider was unreachable: built-in list used)
admin-sync-active = Active now: { $count }
admin-sync-added = Added
admin-sync-back-on = Back on
admin-sync-switched-off = Switched off (no longer offered)
admin-adjust-usage =
    Usage: /adjust &lt;telegram id | @username&gt; &lt;±amount&gt; &lt;reason&gt;
    e.g. <code>/adjust @alice -5.00 duplicate deposit</code>
admin-bonus-usage =
    Usage: /bonus &lt;telegram id | @username&gt; &lt;amount&gt; &lt;reason&gt;
    e.g. <code>/bonus 123456 10 welcome bonus</code>
admin-kind-adjustment = adjustment
admin-kind-bonus = bonus
admin-kind-title-adjustment = Adjustment
admin-kind-title-bonus = Bonus
admin-adjust-confirm =
    <b>Confirm { $kind }</b>

    User: { $user }
    Change: <b>{ $change }</b>
    Balance: { $balance } → { $after }
    Reason: { $reason }
admin-adjust-done =
    ✅ <b>{ $kind } posted</b> by { $admin }

    User: { $user }
    Change: <b>{ $change }</b> → balance { $balance }
    Reason: { $reason }
admin-adjust-cancelled = ✖️ Cancelled by { $admin }: nothing was posted.
admin-adjust-done-toast = Posted.
admin-adjust-unknown = This button has expired: send the command again.
admin-adjust-expired = This confirmation has expired and nothing was posted: send the command again.
admin-adjust-used = This confirmation has already been used: nothing more was done.
admin-adjust-not_yours = Only the admin who sent the command can confirm or cancel it.
admin-adjust-insufficient = Refused: that would take the balance below zero (it is { $balance } now).
admin-deposit-reason-overpaid = Paid more than the tolerance allows; nothing credited. Credit posts the invoiced amount (the rest by /adjust), or Close.
admin-deposit-reason-overpaid_credited = Paid a little more than asked (within tolerance); credited pro rata.
admin-deposit-reason-finished_underpaid = Finished by the provider with less paid than asked; nothing credited. Credit posts what arrived at the invoice's rate, or Close.
admin-deposit-reason-finished_nothing_paid = Finished by the provider with nothing paid; nothing credited.
admin-deposit-reason-ended_with_payment = Expired or failed at the provider, yet some money arrived; nothing credited. Credit posts what arrived at the invoice's rate, at most the invoice.
admin-deposit-reason-amount_unknown = Partially paid, amount unknown: nothing credited until an admin decides.
admin-deposit-reason-partial_hold = Partially paid: nothing credited until an admin decides.
admin-deposit-reason-price_changed = The provider reports another price than the one we created.
admin-deposit-reason-amount_changed_after_credit = The paid amount changed after we credited the deposit.
admin-deposit-reason-changed_after_credit = The provider changed the status after we credited the deposit.
admin-deposit-reason-paid_after_final = Money arrived after the deposit ended (or more than when it was held): nothing credited. Credit posts what arrived at the invoice's rate, at most the invoice.
admin-deposit-reason-changed_under_review = The provider changed a deposit that is under review.
admin-deposit-reason-child_payment = A repeated payment to the same address: not credited automatically.
admin-rate-unavailable = unavailable (the provider's estimate failed)
admin-look-up = Look up: /user { $id }
admin-deposit-review-title = 🔎 Deposit needs a decision
admin-deposit-alert-title = ⚠️ Deposit alert
admin-reconcile-title = 🚨 Ledger reconciliation found { $count } mismatches
admin-reconcile-users = ({ $users } users)
admin-reconcile-hint = Full list: <code>python -m bot reconcile</code>. See /stats.
