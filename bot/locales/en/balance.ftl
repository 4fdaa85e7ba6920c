# /balance and /history.
balance-card =
    <b>Your balance</b>

    Available: <b>{ $balance }</b>
    Total deposited: { $deposited }
    Total withdrawn: { $withdrawn }
history-empty = No transactions yet. Use /deposit to top up.
history-no-page = That page does not exist any more.
tx-deposit = Deposit
tx-withdrawal = Withdrawal
tx-payment = Payment
tx-refund = Refund
tx-fee = Fee
tx-bonus = Bonus
tx-adjustment = Adjustment
tx-unknown = { $name }
