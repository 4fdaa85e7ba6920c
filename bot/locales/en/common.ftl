# Shared words. One file per feature; every key exists in every locale (tests/unit/test_i18n.py).
language-name = English
# A "label: value" line, and the tail of a list cut to fit one message.
line = { $label }: { $value }
and-more = … and { $count } more

## Buttons (plain text)
btn-deposit = ➕ Deposit
btn-balance = 💰 Balance
btn-history = 📜 History
btn-withdraw = ➖ Withdraw
btn-deposits = My deposits
btn-withdrawals = My withdrawals
btn-help = ❓ Help
btn-menu = ☰ Menu
btn-newer = ◀ Newer
btn-older = Older ▶
btn-check-status = 🔄 Check status
btn-confirm = ✅ Confirm
btn-cancel = ✖️ Cancel
btn-page-previous = ◀ Back
btn-page-next = More ▶
btn-check-deposit = 🔄 Check { $id }
btn-cancel-withdrawal = ✖️ Cancel { $id }

## Labels of "label: value" lines
label-deposit = Deposit
label-withdrawal = Withdrawal
label-amount = Amount
label-send-exactly = Send exactly
label-to-address = To address
label-memo = Memo / tag
label-paid = Paid
label-credited = Credited
label-balance = Balance
label-returned = Returned to your balance
label-sent-to-you = Sent to you
label-you-receive = You receive
label-coin = Coin
label-transaction = Transaction
label-reason = Reason
label-status = Status
label-user = User
label-fees = Fees
label-to-send = To send
label-currency = Currency
label-address = Address
label-tx-hash = Tx hash
label-what = What
label-to = To
label-status-then = Status then
label-queued = Queued
label-why = Why
label-provider-payment = Provider payment
label-asked = Asked
label-worth-invoice = Worth at the invoice's rate
label-worth-current = Worth at the current rate
label-provider-says = Provider says
label-repeat-payment = Repeat payment
label-repeat-paid = Repeat paid
