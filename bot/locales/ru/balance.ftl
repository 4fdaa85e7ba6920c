# /balance и /history.
balance-card =
    <b>Ваш баланс</b>

    Доступно: <b>{ $balance }</b>
    Всего пополнено: { $deposited }
    Всего выведено: { $withdrawn }
history-empty = Операций пока нет. Пополнить баланс: /deposit
history-no-page = Этой страницы больше нет.
tx-deposit = Пополнение
tx-withdrawal = Вывод
tx-payment = Платёж
tx-refund = Возврат
tx-fee = Комиссия
tx-bonus = Бонус
tx-adjustment = Корректировка
tx-unknown = { $name }
