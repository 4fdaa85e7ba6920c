# Чат администраторов (telegram.admin_language).
admin-only = Простите, это могут только администраторы.
admin-command-pending = Выводы, ждущие действия
admin-command-payments = Последние пополнения: /payments [статус|review]
admin-command-user = Найти пользователя: /user <id или @имя>
admin-command-stats = Итоги, балансы и сверка журнала
admin-command-transactions = Операции журнала: /transactions [пользователь] [тип] [с даты]
admin-command-export = Журнал в CSV: /export [с даты] [по дату]
admin-command-currencies = Монеты для пополнения: вкл/выкл, синхронизация
admin-command-adjust = Исправить баланс: /adjust <кто> <±сумма> <причина>
admin-command-bonus = Начислить бонус: /bonus <кто> <сумма> <причина>
admin-command-id = ID этого чата и ваш ID
admin-command-help = Команды администратора
admin-btn-approve = ✅ Одобрить
admin-btn-reject = ❌ Отклонить
admin-btn-process = 🔄 Отправляется
admin-btn-complete = 🏁 Завершён
admin-btn-currency-sync = 🔄 Синхронизировать с провайдером
admin-btn-credit = ✅ Зачислить { $amount }
admin-btn-close-review = ✖ Закрыть проверку
admin-prompt-reason-placeholder = Причина для пользователя
admin-prompt-hash-placeholder = Хеш транзакции
admin-wd-status-pending = 🕓 Ожидает
admin-wd-status-approved = 👍 Одобрен
admin-wd-status-processing = 🔄 Отправляется
admin-wd-status-completed = ✅ Завершён
admin-wd-status-rejected = ❌ Отклонён
admin-wd-status-cancelled = ↩️ Отменён пользователем
admin-wd-now-pending = ожидает
admin-wd-now-approved = одобрен
admin-wd-now-processing = отправляется
admin-wd-step-approved = одобрен
admin-wd-step-processing = отмечен как отправляемый
admin-wd-step-completed = завершён
admin-wd-step-rejected = отклонён
admin-wd-step-cancelled = отменён
admin-by-user = пользователем
admin-by = — { $who }
admin-at = в { $when }
admin-changed = изменён
admin-ledger-line = { $when } · { $type } { $amount } → { $balance }
admin-card-title = <b>💸 Вывод { $id }</b>
admin-card-status = Статус: <b>{ $status }</b>
admin-card-fees = Комиссии: { $total } (сеть { $network }, сервис { $service })
admin-card-to-send = К отправке: <b>{ $amount }</b> в { $coin }
admin-card-currency = Валюта: { $code } · сеть { $network }
admin-card-notes = Заметки: { $notes }
admin-card-balance = Баланс сейчас: <b>{ $balance }</b> (пополнено { $deposited }, выведено { $withdrawn })
admin-card-recent = Последние операции:
admin-card-requested = 🕓 { $when } заявка создана
admin-not-possible = Сейчас нельзя: вывод { $state }.
admin-already-handled = Уже обработан: { $step }
admin-review-toast-credit = Зачислено. Пользователь уведомлён.
admin-review-toast-close = Проверка закрыта.
admin-review-credited = зачислено { $amount }
admin-review-closed = проверка закрыта
admin-review-decided = ✔️ { $id }: { $what }, решил { $who }, { $when }
admin-review-already = Решение уже принято
admin-toast-approve = Одобрено. Пользователь уведомлён; карточка обновится.
admin-toast-process = Отмечено как отправляемый. Пользователь уведомлён.
admin-toast-prompt = Ответьте на моё сообщение ниже.
admin-reply-needs-text = Пожалуйста, ответьте текстом, ответом на мой вопрос.
admin-reject-prompt =
    { $admin }, почему отклоняется вывод <code>{ $id }</code> ({ $status }, { $amount } для { $user })?
    Ответьте на это сообщение: причину увидит пользователь, а сумма вернётся на его баланс.
admin-complete-prompt =
    { $admin }, какой хеш транзакции у вывода <code>{ $id }</code> ({ $amount } в { $coin } на <code>{ $address }</code>)?
    Ответьте им на это сообщение.
admin-prompt-unknown = Я не жду ответа на это сообщение: чтобы отклонить или завершить вывод, нажмите кнопку на его карточке.
admin-prompt-expired = Этот вопрос устарел, ничего не изменено: нажмите кнопку на карточке ещё раз.
admin-prompt-used = На этот вопрос уже ответили: больше ничего не изменено.
admin-prompt-not_yours = Этот вопрос задан другому админу, ничего не изменено: нажмите кнопку на карточке сами.
admin-rejected = ❌ Вывод <code>{ $id }</code> отклонён; { $amount } вернулось на баланс пользователя. Пользователь уведомлён.
admin-completed = ✅ Вывод <code>{ $id }</code> завершён (tx <code>{ $tx }</code>). Пользователь уведомлён.
admin-pending-none = Выводов, ждущих действия, нет. 🎉
admin-pending-title = <b>Выводы, ждущие действия</b> ({ $count }, сначала старые)
admin-payments-title = <b>Последние пополнения</b>
admin-payments-title-status = <b>Последние пополнения</b> ({ $status })
admin-none = Нет.
admin-none-lower = нет
admin-payment-credited = , зачислено { $amount }
admin-payment-review = { " · ⚠️ проверка" }
admin-payment-line = <code>{ $id }</code> · { $amount } в { $coin } · { $status }{ $credited }{ $review } · пользователь { $user } · { $when }
admin-unknown-filter = Неизвестный статус «{ $status }». Возможные: { $filters }.
admin-user-usage = Как использовать: /user &lt;telegram id или @username&gt;
admin-user-not-found = Нет пользователя с таким Telegram id или именем.
admin-flag-banned = заблокирован
admin-flag-blocked = заблокировал бота
admin-user-title = <b>Пользователь</b> { $who }
admin-user-registered = Зарегистрирован { $when } · внутренний id { $id }
admin-total-deposited = Всего пополнено: { $amount }
admin-total-withdrawn = Всего выведено: { $amount }
admin-transactions-count = Операций: { $count }
admin-user-deposits = Пополнения: { $totals }
admin-user-withdrawals = Выводы: { $totals }
admin-last-transactions = <b>Последние операции</b>
admin-withdrawals-heading = <b>Выводы</b>
admin-deposits-heading = <b>Пополнения</b>
admin-user-deposit-line = <code>{ $id }</code> · { $amount } в { $coin } · { $status } · { $when }
admin-stats-title = <b>Статистика</b> · { $when }
admin-stats-users = Пользователей: { $count }
admin-stats-balances = На балансах пользователей: <b>{ $amount }</b>
admin-stats-held = В открытых выводах: { $amount }
admin-stats-deposited = Пополнено: { $amount } · зачислено за пополнения: { $credited }
admin-stats-withdrawn = Выведено: { $amount }
admin-stats-deposits-by-status = <b>Пополнения по статусам</b>
admin-stats-withdrawals-by-status = <b>Выводы по статусам</b>
admin-ledger-mismatches = 🚨 <b>Сверка журнала: расхождений — { $count }</b>
admin-ledger-mismatch = пользователь { $user }: { $kind } ожидалось { $expected }, найдено { $actual }
admin-ledger-ok = ✅ Сверка журнала: все балансы сходятся с журналом.
admin-outbox = <b>Очередь сообщений</b>: { $depth } в очереди · { $failed } не доставлено за сутки
admin-outbox-oldest = <b>Очередь сообщений</b>: { $depth } в очереди, самое старое ждёт { $oldest } · { $failed } не доставлено за сутки
duration-seconds = { $s } с
duration-minutes = { $m } мин
duration-hours = { $h } ч { $m } мин
admin-currencies-none = Валют пока нет. Нажмите «Синхронизировать», чтобы загрузить их у провайдера.
admin-currencies-title = <b>Валюты</b> ({ $count }; кнопка выключает ⛔ или включает ✅ монету)
admin-currencies-title-paged = <b>Валюты</b> ({ $count }, страница { $page } из { $pages }; кнопка выключает ⛔ или включает ✅ монету)
admin-currency-on = ✅ вкл
admin-currency-off-admin = ⛔ выкл (выключена администратором)
admin-currency-off-provider = ⛔ выкл (провайдер её не предлагает)
admin-currency-min = { " · мин. " }{ $amount }
admin-currency-now-on = { $code } теперь включена.
admin-currency-now-off = { $code } теперь выключена.
admin-currency-sync-started = Синхронизирую с провайдером…
admin-sync-failed = ⚠️ Синхронизация не удалась, ничего не изменилось: { $error }
admin-sync-title = 🔄 <b>Валюты синхронизированы</b>
admin-sync-title-seed = 🔄 <b>Валюты синхронизированы</b> (провайдер недоступен: взят встроенный список)
admin-sync-active = Сейчас активны: { $count }
admin-sync-added = Добавлены
admin-sync-back-on = Снова включены
admin-sync-switched-off = Выключены (больше не предлагаются)
admin-adjust-usage =
    Как использовать: /adjust &lt;telegram id | @username&gt; &lt;±сумма&gt; &lt;причина&gt;
    например <code>/adjust @alice -5.00 двойное пополнение</code>
admin-bonus-usage =
    Как использовать: /bonus &lt;telegram id | @username&gt; &lt;сумма&gt; &lt;причина&gt;
    например <code>/bonus 123456 10 приветственный бонус</code>
admin-kind-adjustment = корректировку
admin-kind-bonus = бонус
admin-kind-title-adjustment = Корректировка
admin-kind-title-bonus = Бонус
admin-adjust-confirm =
    <b>Подтвердите { $kind }</b>

    Пользователь: { $user }
    Изменение: <b>{ $change }</b>
    Баланс: { $balance } → { $after }
    Причина: { $reason }
admin-adjust-done =
    ✅ <b>{ $kind }: проведено</b>, провёл { $admin }

    Пользователь: { $user }
    Изменение: <b>{ $change }</b> → баланс { $balance }
    Причина: { $reason }
admin-adjust-cancelled = ✖️ Отменено ({ $admin }): ничего не проведено.
admin-adjust-done-toast = Проведено.
admin-adjust-unknown = Эта кнопка устарела: отправьте команду ещё раз.
admin-adjust-expired = Это подтверждение устарело, ничего не проведено: отправьте команду ещё раз.
admin-adjust-used = Это подтверждение уже использовано: больше ничего не сделано.
admin-adjust-not_yours = Подтвердить или отменить может только админ, отправивший команду.
admin-adjust-insufficient = Отказано: баланс ушёл бы в минус (сейчас { $balance }).
admin-deposit-reason-overpaid = Оплачено больше допустимого; ничего не зачислено. «Зачислить» проводит сумму счёта (остаток — через /adjust), или «Закрыть».
admin-deposit-reason-overpaid_credited = Оплачено чуть больше запрошенного (в пределах допуска); зачислено пропорционально.
admin-deposit-reason-finished_underpaid = Провайдер завершил платёж, оплачено меньше запрошенного; ничего не зачислено. «Зачислить» проводит пришедшее по курсу счёта, или «Закрыть».
admin-deposit-reason-finished_nothing_paid = Провайдер завершил платёж без оплаты; ничего не зачислено.
admin-deposit-reason-ended_with_payment = У провайдера истёк срок или платёж не удался, но часть денег пришла; ничего не зачислено. «Зачислить» проводит пришедшее по курсу счёта, не больше суммы счёта.
admin-deposit-reason-amount_unknown = Оплачено частично, сумма неизвестна: ничего не зачислено до решения администратора.
admin-deposit-reason-partial_hold = Оплачено частично: ничего не зачислено до решения администратора.
admin-deposit-reason-price_changed = Провайдер сообщает другую цену, чем при создании.
admin-deposit-reason-amount_changed_after_credit = Оплаченная сумма изменилась после зачисления.
admin-deposit-reason-changed_after_credit = Провайдер изменил статус после зачисления.
admin-deposit-reason-paid_after_final = Деньги пришли после закрытия пополнения (или больше, чем при удержании): ничего не зачислено. «Зачислить» проводит пришедшее по курсу счёта, не больше суммы счёта.
admin-deposit-reason-changed_under_review = Провайдер изменил пополнение, которое на проверке.
admin-deposit-reason-child_payment = Повторный платёж на тот же адрес: автоматически не зачисляется.
admin-rate-unavailable = недоступно (оценка провайдера не удалась)
admin-look-up = Найти: /user { $id }
admin-deposit-review-title = 🔎 Пополнение ждёт решения
admin-deposit-alert-title = ⚠️ Тревога по пополнению
admin-reconcile-title = 🚨 Сверка журнала нашла расхождения: { $count }
admin-reconcile-users = (пользователей: { $users })
admin-reconcile-hint = Полный список: <code>python -m bot reconcile</code>. См. /stats.
