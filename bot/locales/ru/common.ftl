# Общие слова. Один файл на тему; каждый ключ есть в каждом языке (tests/unit/test_i18n.py).
language-name = Русский
# Строка «подпись: значение» и хвост списка, обрезанного под одно сообщение.
line = { $label }: { $value }
and-more = … и ещё { $count }

## Кнопки (обычный текст)
btn-deposit = ➕ Пополнить
btn-balance = 💰 Баланс
btn-history = 📜 История
btn-withdraw = ➖ Вывести
btn-deposits = Мои пополнения
btn-withdrawals = Мои выводы
btn-help = ❓ Помощь
btn-menu = ☰ Меню
btn-newer = ◀ Новее
btn-older = Старше ▶
btn-check-status = 🔄 Проверить статус
btn-confirm = ✅ Подтвердить
btn-cancel = ✖️ Отменить
btn-page-previous = ◀ Назад
btn-page-next = Дальше ▶
btn-check-deposit = 🔄 Проверить { $id }
btn-cancel-withdrawal = ✖️ Отменить { $id }

## Подписи строк «подпись: значение»
label-deposit = Пополнение
label-withdrawal = Вывод
label-amount = Сумма
label-send-exactly = Отправьте ровно
label-to-address = На адрес
label-memo = Memo / тег
label-paid = Оплачено
label-credited = Зачислено
label-balance = Баланс
label-returned = Возвращено на баланс
label-sent-to-you = Отправлено вам
label-you-receive = Вы получите
label-coin = Монета
label-transaction = Транзакция
label-reason = Причина
label-status = Статус
label-user = Пользователь
label-fees = Комиссии
label-to-send = К отправке
label-currency = Валюта
label-address = Адрес
label-tx-hash = Хеш транзакции
label-what = Что
label-to = Кому
label-status-then = Статус на тот момент
label-queued = В очереди с
label-why = Почему
label-provider-payment = Платёж у провайдера
label-asked = Запрошено
label-worth-invoice = Стоимость по курсу счёта
label-worth-current = Стоимость по текущему курсу
label-provider-says = Ответ провайдера
label-repeat-payment = Повторный платёж
label-repeat-paid = Повторно оплачено
