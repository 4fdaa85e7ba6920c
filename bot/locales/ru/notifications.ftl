# Уведомления: статусы пополнений и выводов, оповещения администраторам об очереди сообщений.
deposit-title-waiting = ⏳ Ждём вашего платежа
deposit-title-confirming = 🔄 Платёж виден, ждём подтверждений
deposit-title-confirmed = 🔄 Платёж подтверждён сетью
deposit-title-sending = 🔄 Платёж подтверждён, завершаем
deposit-title-partially_paid = ⚠️ Оплачено частично
deposit-title-finished = ✅ Пополнение зачислено
deposit-title-failed = ❌ Пополнение не удалось
deposit-title-refunded = ↩️ Пополнение возвращено
deposit-title-expired = ⌛ Срок пополнения истёк (платёж не пришёл вовремя)
deposit-title-cancelled = ❌ Пополнение отменено
deposit-title-create_failed = ❌ Не удалось создать пополнение
deposit-title-unknown = Статус пополнения: { $name }
deposit-title-under-review = 🔎 Пополнение на проверке
deposit-title-review_credit = ✅ Пополнение зачислено после проверки
deposit-title-review_close = Пополнение проверено
deposit-title-overpaid = 🔎 Платёж получен: его проверяет администратор
deposit-title-finished_underpaid = 🔎 Платёж получен: его проверяет администратор
deposit-title-finished_nothing_paid = 🔎 Пополнение на проверке
deposit-title-paid_after_final = 🔎 Получен запоздавший платёж: его проверяет администратор
deposit-title-ended_with_payment = 🔎 Платёж получен: его проверяет администратор
deposit-note-partial_hold = Пришло меньше, чем в счёте. Ничего не пропадёт: администратор проверит платёж, и я напишу сюда, чем всё закончилось. Пока не отправляйте больше на этот адрес.
deposit-note-partial_credit = Пришло меньше, чем в счёте; пришедшее зачислено. Не отправляйте остаток на этот адрес: чтобы пополнить ещё, начните новое пополнение: /deposit
deposit-note-amount_unknown = Провайдер не сообщил, сколько пришло. Ничего не пропадёт: администратор проверит платёж, и я напишу сюда, чем всё закончилось.
deposit-note-overpaid = Пришло больше, чем в счёте, поэтому автоматически ничего не зачислено. Ничего не пропадёт: администратор проверит платёж, и я напишу сюда, чем всё закончилось.
deposit-note-finished_underpaid = Пришло меньше, чем в счёте, поэтому автоматически ничего не зачислено. Ничего не пропадёт: администратор проверит платёж, и я напишу сюда, чем всё закончилось.
deposit-note-finished_nothing_paid = Провайдер сообщает, что пополнение завершено, но сумма с ним не пришла. Ничего не пропадёт: администратор проверит его, и я напишу сюда, чем всё закончилось.
deposit-note-paid_after_final = Ваш платёж пришёл после того, как пополнение закрылось. Ничего не пропадёт: администратор проверит платёж, и я напишу сюда, чем всё закончилось.
deposit-note-ended_with_payment = Пополнение закрылось до полной оплаты, но часть денег пришла. Ничего не пропадёт: администратор проверит платёж, и я напишу сюда, чем всё закончилось.
deposit-note-review_credit = Администратор проверил платёж: пришедшая сумма зачислена на ваш баланс.
deposit-note-review_close = Администратор проверил платёж: ничего не зачислено. Если вы считаете это ошибкой, напишите в поддержку и укажите номер пополнения.
deposit-status-note-expired = Ничего не зачислено. Больше не платите на этот адрес: чтобы пополнить баланс, начните новое пополнение: /deposit. Если вы заплатили с опозданием, администратор проверит платёж, когда он придёт, и я напишу сюда.
deposit-status-note-failed = Ничего не зачислено. Чтобы пополнить баланс, начните новое пополнение: /deposit
withdrawal-title-pending = 🕓 Заявка на вывод создана, ждёт одобрения
withdrawal-title-approved = 👍 Вывод одобрен
withdrawal-title-processing = 🔄 Вывод отправляется
withdrawal-title-completed = ✅ Вывод отправлен
withdrawal-title-rejected = ❌ Вывод отклонён, сумма вернулась на баланс
withdrawal-title-cancelled = ↩️ Вывод отменён, сумма вернулась на баланс
withdrawal-title-unknown = Статус вывода: { $name }
withdrawal-card-title = Вывод { $id }
user-id = (id { $id })
facts-deposit-review = 🔎 Пополнение требует проверки
facts-deposit-alert = ⚠️ Тревога по пополнению
facts-reconcile-alert = 🚨 Сверка журнала нашла расхождения
outbox-via-private = Отправлено вам лично: чат администраторов его не принял ({ $error }).
undelivered-title = 🚨 <b>Сообщение не удалось доставить</b>
undelivered-what-withdrawal_card = карточка вывода
undelivered-what-withdrawal_status = сообщение пользователю о статусе вывода
undelivered-what-deposit_status = сообщение пользователю о статусе пополнения
undelivered-what-deposit_review = проверка пополнения
undelivered-what-deposit_alert = тревога по пополнению
undelivered-what-reconcile_alert = тревога сверки журнала
undelivered-what-unknown = сообщение ({ $name })
undelivered-to-admin-chat = чат администраторов
undelivered-to-chat = чат { $chat }
undelivered-decide-later = Решите её через /pending в чате администраторов, когда бот снова сможет туда писать.
undelivered-decide-here = Решите её кнопками ниже или найдите через /pending.
undelivered-user-not-told = Пользователь не получил сообщение: свяжитесь с ним иначе, если это важно.
undelivered-nothing-sent = Ничего не отправлено; строка остаётся в очереди как неудачная.
outbox-backlog =
    ⚠️ <b>Сообщения копятся в очереди</b>

    В очереди: { $depth }, самое старое ждёт { $oldest } мин (оповещение после { $threshold } мин).
    Возможно, Telegram недоступен или отклоняет бота; очередь видна в /stats.
    Это оповещение приходит один раз, пока очередь не опустеет.
