# /export: the ledger of a period as a CSV file.
export-column-id = Transaction
export-column-time = Time (UTC)
export-column-telegram-id = Telegram ID
export-column-username = Username
export-column-type = Type
export-column-amount = Amount (USD)
export-column-balance = Balance after (USD)
export-column-reference = Reference
export-column-reason = Reason
export-caption-all = Ledger from { $since } to { $until } (UTC): { $count ->
        [one] one transaction
       *[other] { $count } transactions
    }.
export-caption-own = Your transactions from { $since } to { $until } (UTC): { $count ->
        [one] one transaction
       *[other] { $count } transactions
    }.
export-empty = No transactions from { $since } to { $until } (UTC).
export-bad-date = “{ $argument }” is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31.
export-too-many = Give at most two dates, the first and the last day: /export 2026-01-01 2026-01-31.
export-order = The first day ({ $since }) is after the last day ({ $until }).
export-too-long = One file covers at most { $days } days: choose a shorter period.
export-too-large = That period has { $rows } transactions, more than the { $limit } one file may hold: choose a shorter period.
