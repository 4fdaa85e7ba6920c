# Бонус или ручная корректировка баланса: сообщение пользователю (core/adjustment_notify.py).
adjustment-push-bonus = 🎁 <b>Вам начислен бонус { $amount }</b>
adjustment-push-credit = ✏️ <b>Администратор добавил на ваш баланс { $amount }</b>
adjustment-push-debit = ✏️ <b>Администратор списал с вашего баланса { $amount }</b>
adjustment-push-balance = Ваш баланс теперь: <b>{ $balance }</b>
adjustment-push-reason = Причина: { $reason }
adjustment-push-history = Все операции — в /history.
