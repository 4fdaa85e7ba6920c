# The withdrawal flow and /withdrawals.
withdraw-use-buttons = Please use the buttons above — or /cancel to stop.
withdraw-step-expired = This button belongs to an earlier step. Start again: /withdraw
withdraw-confirm-expired = This confirmation is no longer valid (cancelled, already used or replaced by a newer one). Start again: /withdraw
withdraw-aborted = Withdrawal cancelled. Nothing was taken from your balance.
network-btc = Bitcoin
network-eth = Ethereum
network-family-eth = Ethereum or another EVM chain
network-trx = Tron
network-ltc = Litecoin
network-xrp = XRP Ledger
network-bsc = BNB Smart Chain
network-matic = Polygon
network-arbitrum = Arbitrum
network-op = Optimism
network-base = Base
network-sol = Solana
network-ton = TON
withdraw-ask-amount =
    <b>Withdraw</b>

    Your balance: <b>{ $balance }</b>
    How much do you want to withdraw, in USD? Send a number like 25 or 12.50. You see the fees before you confirm.
withdraw-amount-refused =
    { $problem }
    Send the amount in USD, e.g. 25 or 12.50 — or /cancel.
withdraw-kept-coin = Kept from before: coin <b>{ $coin }</b>. To change it, start again with /withdraw.
withdraw-kept-both = Kept from before: coin <b>{ $coin }</b>, address <code>{ $address }</code>. To change them, start again with /withdraw.
withdraw-coin-minimum = The minimum for { $coin } is { $minimum }.
withdraw-pick-currency =
    <b>Withdraw { $amount }</b>

    Which coin do you want to receive?
withdraw-ask-address =
    Send your <b>{ $coin }</b> address.
    Check it twice: a transfer to a wrong address cannot be undone.
withdraw-ask-memo = { $coin } needs a <b>memo / destination tag</b>. Send the one your wallet or exchange gave you for this address.
address-problem-empty = There is no address in that.
address-problem-testnet = That is a testnet address.
address-problem-burn = That address can't receive funds.
address-problem-wrong-network = That is an address on { $looks_like }, but this withdrawal is sent on { $expected }.
address-ask-address = Send the address
address-ask-mainnet = Send a mainnet address
address-ask-own = Send your own address
address-ask-again = Send the address again
address-ask-memo-again = Send the memo / tag again
address-ask-network = Send an address on { $expected }
address-refused =
    { $problem }
    { $ask } — or /cancel.
withdraw-confirm-title = <b>Please confirm your withdrawal</b>
withdraw-network-fee = Network fee: { $fee }
withdraw-service-fee = Service fee: { $fee }
withdraw-you-receive = You receive: <b>{ $amount }</b> in { $coin }
withdraw-confirm-note = { $amount } is taken from your balance when you confirm and held until an admin sends it. Check the address: a transfer to a wrong address cannot be undone.
withdraw-requested =
    <b>✅ Withdrawal requested</b> · { $id }

    { $amount } is held from your balance. You receive { $final } in { $coin } at <code>{ $address }</code> once an admin approves and sends it. I'll message you here at every step.

    While it is pending you can cancel it: /withdrawals
withdrawal-state-pending = 🕓 waiting for approval
withdrawal-state-approved = 👍 approved
withdrawal-state-processing = 🔄 being sent
withdrawal-state-completed = ✅ sent
withdrawal-state-rejected = ❌ rejected, back on your balance
withdrawal-state-cancelled = ↩️ cancelled, back on your balance
withdrawals-empty = No withdrawals yet. Use /withdraw to send funds to your wallet.
withdrawals-title = <b>Your withdrawals</b> (newest first)
withdrawals-entry = <b>{ $amount }</b> in { $coin } · { $state }
withdrawals-entry-sent = <b>{ $amount }</b> → { $final } in { $coin } · { $state }
withdrawals-to = To: <code>{ $address }</code>
withdrawal-cancelled = Withdrawal { $id } cancelled: { $amount } is back on your balance.
