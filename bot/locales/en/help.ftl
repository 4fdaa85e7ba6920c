# /help for users (with the live limits and fees) and for admins (every admin command).
help-user-title = <b>How this bot works</b>
help-user-deposit = <b>Deposits</b> (/deposit): pick a coin and an amount in USD, then send exactly the sum the invoice shows to its address. From { $min } to { $max } per deposit.
help-user-deposit-per-coin = The minimum is per coin: { $list }.
help-user-deposit-time = Your balance is credited once the network has confirmed the payment: usually within 10–60 minutes, depending on the coin. The bot checks every { $seconds } s and tells you here; the invoice shows until when it waits for the payment.
help-user-withdraw = <b>Withdrawals</b> (/withdraw): from { $min } to { $max }. The amount leaves your balance at once and is held until the withdrawal ends; at most { $open } open at a time.
help-user-withdraw-per-coin = The minimum is per coin: { $list }.
help-user-fees = Fees on a withdrawal: the network fee ({ $network }) plus our service fee ({ $service }). You see the exact amount you receive before you confirm.
help-fee-none = none
help-fee-percent = { $percent }% of the amount
help-fee-fixed = { $fixed }
help-fee-fixed-and-percent = { $fixed } + { $percent }% of the amount
help-user-withdraw-time = An admin reviews every withdrawal by hand (usually within a day), then sends it; you get a message at each step, and the coins arrive after the network's confirmations. A rejected or cancelled withdrawal returns the whole amount to your balance.
help-user-commands =
    <b>Commands</b>
    /start — main menu and your balance
    /balance — balance, total deposited and withdrawn
    /history — your transactions, newest first
    /export — your transactions as a CSV file: /export [first day] [last day]
    /deposit — top up with crypto
    /withdraw — send funds to your crypto address
    /deposits — your deposits and their status
    /withdrawals — your withdrawals and their status
    /language — English or Russian
    /cancel — leave the current step
    /help — this message
help-admin-title = <b>Admin commands</b> (this chat only)
help-admin-pending = /pending — withdrawals awaiting action. Example: /pending
help-admin-payments = /payments [status|review] — recent deposits, by status; review lists the ones waiting for a decision. Example: /payments review
help-admin-user = /user &lt;id or @username&gt; — balance, totals, last transactions. Example: /user @alice
help-admin-stats = /stats — totals by status, balances, the ledger check. Example: /stats
help-admin-currencies = /currencies — deposit coins: switch on or off, sync from the provider. Example: /currencies
help-admin-adjust = /adjust &lt;user&gt; &lt;±amount&gt; &lt;reason&gt; — correct a balance (asks to confirm; the user is told the reason). Example: /adjust @alice -5.00 duplicate credit
help-admin-bonus = /bonus &lt;user&gt; &lt;amount&gt; &lt;reason&gt; — credit a bonus (asks to confirm; the user is told the reason). Example: /bonus 123456789 10 welcome bonus
help-admin-transactions = /transactions [user] [type] [since] — the ledger, newest first, with page buttons. Example: /transactions @alice bonus 2026-01-01
help-admin-export = /export [first day] [last day] — the ledger of a period as a CSV file (UTC days; the last 30 days by default). Example: /export 2026-01-01 2026-01-31
help-admin-id = /id — this chat's id and your user id. Example: /id
help-admin-help = /help — this list. Example: /help
help-admin-cards = Withdrawal cards: Approve or Reject; after approval, Processing or Mark completed. Reject and Mark completed ask for the reason or the transaction hash: answer by replying to that message. Deposits under review: Credit posts what arrived, once; Close ends the review without moving money.
