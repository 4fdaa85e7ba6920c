# /start, /help, /language, /id и меню команд.
start-welcome-named =
    👋 Здравствуйте, { $name }!

    Ваш баланс: <b>{ $balance }</b>

    Пополняйте баланс криптовалютой, следите за каждой операцией и выводите средства, когда захотите. Выберите действие ниже или отправьте /help.
start-welcome =
    👋 Здравствуйте!

    Ваш баланс: <b>{ $balance }</b>

    Пополняйте баланс криптовалютой, следите за каждой операцией и выводите средства, когда захотите. Выберите действие ниже или отправьте /help.
start-menu = Главное меню. Ваш баланс: <b>{ $balance }</b>
language-choose = Выберите язык:
language-changed = Готово: теперь язык бота — { $language }.
ids-chat = ID этого чата: <code>{ $chat_id }</code>
ids-group-hint = (для telegram.admin_chat_id, если это группа администраторов)
ids-anonymous = Вы пишете анонимно от имени группы, поэтому ваш ID скрыт: отключите «Оставаться анонимным» в своих правах администратора или отправьте /id боту в личные сообщения.
ids-user = Ваш ID пользователя: <code>{ $user_id }</code> (для telegram.admin_ids)

## Меню команд (setMyCommands)
command-start = Главное меню и баланс
command-balance = Баланс и итоги
command-history = История операций
command-export = Мои операции файлом CSV
command-deposit = Пополнить криптовалютой
command-withdraw = Вывести на криптоадрес
command-deposits = Мои пополнения
command-withdrawals = Мои выводы
command-language = Язык: русский или английский
command-cancel = Выйти из текущего шага
command-help = Что умеет бот
