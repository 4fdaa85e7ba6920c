# Строки журнала: /history пользователя и /transactions администраторов.
ledger-type-deposit = Пополнение
ledger-type-withdrawal = Вывод
ledger-type-payment = Оплата
ledger-type-refund = Возврат
ledger-type-fee = Комиссия
ledger-type-bonus = Бонус
ledger-type-adjustment = Корректировка
ledger-row-amount = <b>{ $amount }</b> → баланс { $balance }
ledger-row-reason = Причина: { $reason }
ledger-row-reference = номер { $reference }
ledger-history-title = <b>Операции</b> (страница { $page } из { $pages })
transactions-title = <b>Операции</b> { $first }–{ $last } из { $total }, сначала новые
transactions-filter-user = пользователь { $user }
transactions-filter-type = тип { $type }
transactions-filter-since = с { $since }
transactions-none = Подходящих операций нет.
transactions-button-newer = ◀ Новые
transactions-button-older = Старые ▶
transactions-bad-argument = Не понимаю «{ $argument }»: укажите Telegram id или @username, тип ({ $types }) и дату вида 2026-01-31 — всё необязательно и в любом порядке.
transactions-bad-date = «{ $argument }» — не дата: пишите ГГГГ-ММ-ДД, например 2026-01-31.
transactions-repeated = «{ $argument }» — { $what ->
        [user] второй пользователь
        [type] второй тип
       *[date] вторая дата
    }: можно указать не больше одного пользователя, одного типа и одной даты.
transactions-user-not-found = Нет пользователя с Telegram id или именем «{ $user }».
transactions-page-gone = Этой страницы больше нет: отправьте /transactions ещё раз.
