# The deposit flow, the invoice and /deposits.
usd-range = from { $minimum } to { $maximum }
or-cancel =
    { $text }
    Or /cancel to stop.
amount-problem = That amount doesn't look right.
amount-problem-empty = There is no amount in that.
amount-problem-not-a-number = That is not a number I can read.
amount-problem-too-long = That is too long for an amount.
amount-problem-ambiguous = I can't tell which sign in that amount is the decimal point.
state-unknown = { $name }
deposit-pick-currency =
    <b>Deposit</b>

    Which coin will you pay with?
deposit-use-buttons = Pick a coin with the buttons above — or /cancel to stop.
deposit-step-expired = This button is no longer valid. Start a new deposit: /deposit
no-currencies = No coins are available right now. Please try again later.
deposit-memo-warning = ⚠️ <b>Put the memo / tag in your transfer.</b> Without it the deposit cannot be matched to your account and is lost.
deposit-ask-amount =
    <b>Deposit with { $coin }</b>

    How much do you want to deposit, in USD ({ $range })?
    Tap an amount or send your own, e.g. 25 or 12.50.
deposit-below-coin-minimum = That is below the minimum for { $coin }.
deposit-below-minimum = That is below the minimum.
deposit-above-maximum = That is above the maximum.
deposit-amount-refused =
    { $problem }
    Send an amount in USD { $range }, e.g. 25 or 12.50 — or /cancel.
deposit-provider-unavailable = The payment provider is not reachable right now. Send the amount again in a minute — or /cancel.
deposit-create-pending-id =
    ⏳ The payment provider did not confirm your deposit { $id } in time. I'm checking with it and will send you the address here as soon as it is ready.

    Please don't send any money before you have it.
deposit-create-pending =
    ⏳ The payment provider did not confirm your deposit in time. I'm checking with it and will send you the address here as soon as it is ready.

    Please don't send any money before you have it.
deposit-invoice-title = <b>Deposit { $id }</b>
deposit-pay-before = Pay before: { $when }
deposit-invoice-hint = Send only { $coin } to this address, in one transfer. Tap a value to copy it, or scan the QR code. I'll message you here when the payment arrives, or tap “Check status” to ask now.
deposit-state-creating = ⏳ being set up
deposit-state-waiting = ⏳ waiting for your payment
deposit-state-confirming = 🔄 payment seen, waiting for confirmations
deposit-state-confirmed = 🔄 payment confirmed by the network
deposit-state-sending = 🔄 payment confirmed, finishing up
deposit-state-partially_paid = ⚠️ partially paid
deposit-state-finished = ✅ credited
deposit-state-failed = ❌ failed
deposit-state-refunded = ↩️ refunded
deposit-state-expired = ⌛ expired, no payment received
deposit-state-cancelled = ❌ cancelled
deposit-state-create_failed = ❌ could not be created
deposit-state-partial-review = { $state }: { $paid } arrived, an admin is reviewing it
deposit-state-partial-credited = { $state }: { $paid } arrived, { $credited } credited
deposit-state-credited-amount = { $state }: { $credited }
deposit-state-review = payment received, an admin is reviewing it
deposit-check-answer = Deposit { $id }: { $state }
deposits-empty = No deposits yet. Use /deposit to top up.
deposits-title = <b>Your deposits</b> (newest first)
deposits-entry = <b>{ $amount }</b> in { $coin } · { $state }
deposits-pay = Send <code>{ $amount }</code> { $coin } to <code>{ $address }</code>
deposits-pay-memo = , memo <code>{ $memo }</code>
deposits-pay-before = , before { $when }
