# /start, /help, /language, /id and the command menu.
start-welcome-named =
    👋 Welcome, { $name }!

    Your balance: <b>{ $balance }</b>

    Top up with crypto, keep track of every transaction and withdraw when you like. Pick an action below, or send /help.
start-welcome =
    👋 Welcome!

    Your balance: <b>{ $balance }</b>

    Top up with crypto, keep track of every transaction and withdraw when you like. Pick an action below, or send /help.
start-menu = Main menu. Your balance: <b>{ $balance }</b>
language-choose = Choose your language:
language-changed = Done: the bot speaks { $language } now.
ids-chat = This chat's id: <code>{ $chat_id }</code>
ids-group-hint = (for telegram.admin_chat_id when this is the admin group)
ids-anonymous = You are posting anonymously as the group, so your user id is hidden: turn off “Remain anonymous” in your admin rights, or send /id to the bot privately.
ids-user = Your user id: <code>{ $user_id }</code> (for telegram.admin_ids)

## The command menu (setMyCommands)
command-start = Main menu and balance
command-balance = Balance and totals
command-history = Transaction history
command-export = My transactions as a CSV file
command-deposit = Top up with crypto
command-withdraw = Withdraw to a crypto address
command-deposits = My deposits
command-withdrawals = My withdrawals
command-language = Language: English or Russian
command-cancel = Leave the current step
command-help = What this bot can do
