# /export: журнал за период в файле CSV.
export-column-id = Операция
export-column-time = Время (UTC)
export-column-telegram-id = Telegram ID
export-column-username = Имя пользователя
export-column-type = Тип
export-column-amount = Сумма (USD)
export-column-balance = Баланс после (USD)
export-column-reference = Номер платежа или вывода
export-column-reason = Причина
export-caption-all = Журнал с { $since } по { $until } (UTC): { $count ->
        [one] { $count } операция
        [few] { $count } операции
       *[many] { $count } операций
    }.
export-caption-own = Ваши операции с { $since } по { $until } (UTC): { $count ->
        [one] { $count } операция
        [few] { $count } операции
       *[many] { $count } операций
    }.
export-empty = С { $since } по { $until } (UTC) операций нет.
export-bad-date = «{ $argument }» — не дата: пишите ГГГГ-ММ-ДД, например 2026-01-31.
export-too-many = Укажите не больше двух дат — первый и последний день: /export 2026-01-01 2026-01-31.
export-order = Первый день ({ $since }) позже последнего ({ $until }).
export-too-long = Один файл охватывает не больше { $days } дней: выберите период короче.
export-too-large = За этот период { $rows } операций — больше, чем { $limit }, помещающихся в один файл: выберите период короче.
