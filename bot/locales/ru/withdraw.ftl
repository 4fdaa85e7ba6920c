# Вывод средств и /withdrawals.
withdraw-use-buttons = Пожалуйста, воспользуйтесь кнопками выше — или /cancel, чтобы выйти.
withdraw-step-expired = Эта кнопка от предыдущего шага. Начните заново: /withdraw
withdraw-confirm-expired = Это подтверждение больше не действует (отменено, уже использовано или заменено новым). Начните заново: /withdraw
withdraw-aborted = Вывод отменён. С баланса ничего не списано.
network-btc = Bitcoin
network-eth = Ethereum
network-family-eth = Ethereum или другой EVM-сети
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
    <b>Вывод</b>

    Ваш баланс: <b>{ $balance }</b>
    Сколько вывести, в долларах США? Отправьте число, например 25 или 12,50. Комиссии вы увидите до подтверждения.
withdraw-amount-refused =
    { $problem }
    Отправьте сумму в долларах США, например 25 или 12,50 — или /cancel.
withdraw-kept-coin = Сохранено с прошлого шага: монета <b>{ $coin }</b>. Чтобы её изменить, начните заново: /withdraw
withdraw-kept-both = Сохранено с прошлого шага: монета <b>{ $coin }</b>, адрес <code>{ $address }</code>. Чтобы их изменить, начните заново: /withdraw
withdraw-coin-minimum = Минимум для { $coin } — { $minimum }.
withdraw-pick-currency =
    <b>Вывод { $amount }</b>

    В какой монете хотите получить?
withdraw-ask-address =
    Отправьте ваш адрес <b>{ $coin }</b>.
    Проверьте его дважды: перевод на неверный адрес нельзя отменить.
withdraw-ask-memo = Для { $coin } нужен <b>memo / тег назначения</b>. Отправьте тот, что ваш кошелёк или биржа выдали для этого адреса.
address-problem-empty = Здесь нет адреса.
address-problem-testnet = Это адрес тестовой сети.
address-problem-burn = На этот адрес нельзя получить средства.
address-problem-wrong-network = Это адрес в сети { $looks_like }, а этот вывод отправляется в сети { $expected }.
address-ask-address = Отправьте адрес
address-ask-mainnet = Отправьте адрес основной сети
address-ask-own = Отправьте свой адрес
address-ask-again = Отправьте адрес ещё раз
address-ask-memo-again = Отправьте memo / тег ещё раз
address-ask-network = Отправьте адрес в сети { $expected }
address-refused =
    { $problem }
    { $ask } — или /cancel.
withdraw-confirm-title = <b>Подтвердите вывод</b>
withdraw-network-fee = Комиссия сети: { $fee }
withdraw-service-fee = Комиссия сервиса: { $fee }
withdraw-you-receive = Вы получите: <b>{ $amount }</b> в { $coin }
withdraw-confirm-note = После подтверждения { $amount } списывается с баланса и удерживается, пока администратор не отправит перевод. Проверьте адрес: перевод на неверный адрес нельзя отменить.
withdraw-requested =
    <b>✅ Заявка на вывод создана</b> · { $id }

    { $amount } удержано с вашего баланса. Вы получите { $final } в { $coin } на <code>{ $address }</code>, когда администратор одобрит и отправит перевод. Я буду писать сюда о каждом шаге.

    Пока заявка ожидает, её можно отменить: /withdrawals
withdrawal-state-pending = 🕓 ждёт одобрения
withdrawal-state-approved = 👍 одобрено
withdrawal-state-processing = 🔄 отправляется
withdrawal-state-completed = ✅ отправлено
withdrawal-state-rejected = ❌ отклонено, сумма вернулась на баланс
withdrawal-state-cancelled = ↩️ отменено, сумма вернулась на баланс
withdrawals-empty = Выводов пока нет. Вывести средства на кошелёк: /withdraw
withdrawals-title = <b>Ваши выводы</b> (сначала новые)
withdrawals-entry = <b>{ $amount }</b> в { $coin } · { $state }
withdrawals-entry-sent = <b>{ $amount }</b> → { $final } в { $coin } · { $state }
withdrawals-to = Куда: <code>{ $address }</code>
withdrawal-cancelled = Вывод { $id } отменён: { $amount } вернулось на баланс.
