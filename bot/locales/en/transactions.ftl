# Ledger rows: the user's /history and the admins' /transactions.
ledger-type-deposit = Deposit
ledger-type-withdrawal = Withdrawal
ledger-type-payment = Payment
ledger-type-refund = Refund
ledger-type-fee = Fee
ledger-type-bonus = Bonus
ledger-type-adjustment = Adjustment
ledger-row-amount = <b>{ $amount }</b> → balance { $balance }
ledger-row-reason = Reason: { $reason }
ledger-row-reference = ref { $reference }
ledger-history-title = <b>Transactions</b> (page { $page } of { $pages })
transactions-title = <b>Transactions</b> { $first }–{ $last } of { $total }, newest first
transactions-filter-user = user { $user }
transactions-filter-type = type { $type }
transactions-filter-since = since { $since }
transactions-none = No transactions match.
transactions-button-newer = ◀ Newer
transactions-button-older = Older ▶
transactions-bad-argument = I can't read “{ $argument }”: give a Telegram id or @username, a type ({ $types }) and a date like 2026-01-31, each optional, in any order.
transactions-bad-date = “{ $argument }” is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31.
transactions-repeated = “{ $argument }” is a second { $what ->
        [user] user
        [type] type
       *[date] date
    }: give at most one user, one type and one date.
transactions-user-not-found = No user with the Telegram id or username “{ $user }”.
transactions-page-gone = That page is not there any more: send /transactions again.
