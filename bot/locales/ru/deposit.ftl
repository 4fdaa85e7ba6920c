# Пополнение, счёт на оплату и /deposits.
usd-range = от { $minimum } до { $maximum }
or-cancel =
    { $text }
    Или /cancel, чтобы выйти.
amount-problem = Сумма выглядит неправильно.
amount-problem-empty = Здесь нет суммы.
amount-problem-not-a-number = Не могу прочитать это как число.
amount-problem-too-long = Слишком длинно для суммы.
amount-problem-ambiguous = Не понять, какой знак в этой сумме отделяет дробную часть.
state-unknown = { $name }
deposit-pick-currency =
    <b>Пополнение</b>

    Какой монетой будете платить?
deposit-use-buttons = Выберите монету кнопками выше — или /cancel, чтобы выйти.
deposit-step-expired = Эта кнопка больше не действует. Начните новое пополнение: /deposit
no-currencies = Сейчас нет доступных монет. Попробуйте позже.
deposit-memo-warning = ⚠️ <b>Укажите memo / тег в переводе.</b> Без него пополнение не удастся связать с вашим аккаунтом, и средства будут потеряны.
deposit-ask-amount =
    <b>Пополнение в { $coin }</b>

    На какую сумму пополнить, в долларах США ({ $range })?
    Нажмите на сумму или отправьте свою, например 25 или 12,50.
deposit-below-coin-minimum = Это меньше минимума для { $coin }.
deposit-below-minimum = Это меньше минимума.
deposit-above-maximum = Это больше максимума.
deposit-amount-refused =
    { $problem }
    Отправьте сумму в долларах США { $range }, например 25 или 12,50 — или /cancel.
deposit-provider-unavailable = Платёжный провайдер сейчас недоступен. Отправьте сумму ещё раз через минуту — или /cancel.
deposit-create-pending-id =
    ⏳ Платёжный провайдер не успел подтвердить ваше пополнение { $id }. Я уточняю у него и пришлю сюда адрес, как только он будет готов.

    Пожалуйста, не отправляйте деньги, пока не получите адрес.
deposit-create-pending =
    ⏳ Платёжный провайдер не успел подтвердить ваше пополнение. Я уточняю у него и пришлю сюда адрес, как только он будет готов.

    Пожалуйста, не отправляйте деньги, пока не получите адрес.
deposit-invoice-title = <b>Пополнение { $id }</b>
deposit-pay-before = Оплатить до: { $when }
deposit-invoice-hint = Отправляйте на этот адрес только { $coin }, одним переводом. Нажмите на значение, чтобы скопировать, или отсканируйте QR-код. Я напишу сюда, когда платёж придёт, или нажмите «Проверить статус», чтобы узнать сейчас.
deposit-state-creating = ⏳ создаётся
deposit-state-waiting = ⏳ ждём вашего платежа
deposit-state-confirming = 🔄 платёж виден, ждём подтверждений
deposit-state-confirmed = 🔄 платёж подтверждён сетью
deposit-state-sending = 🔄 платёж подтверждён, завершаем
deposit-state-partially_paid = ⚠️ оплачено частично
deposit-state-finished = ✅ зачислено
deposit-state-failed = ❌ не удалось
deposit-state-refunded = ↩️ возвращено
deposit-state-expired = ⌛ истекло, платёж не получен
deposit-state-cancelled = ❌ отменено
deposit-state-create_failed = ❌ не удалось создать
deposit-state-partial-review = { $state }: пришло { $paid }, администратор проверяет
deposit-state-partial-credited = { $state }: пришло { $paid }, зачислено { $credited }
deposit-state-credited-amount = { $state }: { $credited }
deposit-state-review = платёж получен, администратор проверяет
deposit-check-answer = Пополнение { $id }: { $state }
deposits-empty = Пополнений пока нет. Пополнить баланс: /deposit
deposits-title = <b>Ваши пополнения</b> (сначала новые)
deposits-entry = <b>{ $amount }</b> в { $coin } · { $state }
deposits-pay = Отправьте <code>{ $amount }</code> { $coin } на <code>{ $address }</code>
deposits-pay-memo = , memo <code>{ $memo }</code>
deposits-pay-before = , до { $when }
