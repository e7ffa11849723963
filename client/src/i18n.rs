//! English and Russian. Every string the app shows is a [`T`] variant, so a missing translation
//! is a compile error, never a key shown to a user. Dates and numbers go through the browser's
//! `Intl` with the chosen language's locale.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// The language for a BCP 47 tag such as the browser's `navigator.language`: Russian for
    /// `ru`, `ru-RU`…, English otherwise.
    pub fn from_tag(tag: &str) -> Lang {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if primary == "ru" {
            Lang::Ru
        } else {
            Lang::En
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// The locale handed to `Intl` for dates and numbers.
    pub fn locale(self) -> &'static str {
        match self {
            Lang::En => "en-GB",
            Lang::Ru => "ru-RU",
        }
    }

    /// The language's own name, as shown in the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ru => "Русский",
        }
    }

    pub fn t(self, key: T) -> &'static str {
        let (en, ru) = key.texts();
        match self {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }
}

macro_rules! texts {
    ($($variant:ident => $en:literal, $ru:literal;)+) => {
        /// A text of the interface.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum T {
            $($variant,)+
        }

        impl T {
            pub const ALL: &'static [T] = &[$(T::$variant,)+];

            fn texts(self) -> (&'static str, &'static str) {
                match self {
                    $(T::$variant => ($en, $ru),)+
                }
            }
        }
    };
}

texts! {
    AppName => "Switchboard", "Switchboard";
    Campaigns => "Campaigns", "Рассылки";
    SpreadOver => "Spread over, minutes", "Растянуть на, минут";
    TagEveryRow => "Tag every row (optional)", "Метка для всех строк (необязательно)";
    FromFileHint => "For a file of customers: import it on the Contacts page with a tag for every row, then pick that tag here.", "Для файла с клиентами: импортируйте его на странице «Контакты» с меткой для всех строк и выберите здесь эту метку.";
    Costs => "Costs", "Расходы";
    NewCampaign => "New campaign", "Новая рассылка";
    EditCampaign => "Campaign draft", "Черновик рассылки";
    NoCampaigns => "No campaigns yet. A campaign sends an approved template to a segment or a tag, within WhatsApp's limits.", "Рассылок пока нет. Рассылка отправляет одобренный шаблон сегменту или метке в пределах лимитов WhatsApp.";
    Draft => "Draft", "Черновик";
    Scheduled => "Scheduled", "Запланирована";
    Running => "Sending", "Идёт отправка";
    Paused => "Paused", "На паузе";
    Completed => "Completed", "Завершена";
    Cancelled => "Cancelled", "Отменена";
    Sent => "Sent", "Отправлено";
    Delivered => "Delivered", "Доставлено";
    Read => "Read", "Прочитано";
    Replied => "Replied", "Ответили";
    Clicked => "Tapped a button", "Нажали кнопку";
    Failed => "Failed", "Ошибка";
    Skipped => "Skipped", "Пропущено";
    CampaignName => "Name", "Название";
    NumbersAndTemplate => "Numbers and template", "Номера и шаблон";
    Template => "Template", "Шаблон";
    Audience => "Audience", "Аудитория";
    Segment => "Segment", "Сегмент";
    Variables => "Template values", "Значения шаблона";
    ValueSource => "Where the value comes from", "Откуда значение";
    ContactField => "Contact field", "Поле контакта";
    Attribute => "Attribute", "Атрибут";
    FixedText => "Fixed text", "Постоянный текст";
    Fallback => "If empty", "Если пусто";
    FallbackHint => "A contact without the value and without an \"if empty\" text is skipped, with the reason.", "Контакт без значения и без текста «если пусто» будет пропущен с указанием причины.";
    ScheduleAndPace => "Schedule and pace", "Расписание и скорость";
    StartLater => "Start at a set time", "Начать в заданное время";
    StartAt => "Start", "Начало";
    TimeZone => "Time zone", "Часовой пояс";
    LocalWindow => "Send only during the day in each recipient's own time", "Отправлять только днём по местному времени получателя";
    From => "From", "С";
    To => "To", "По";
    MaxPerSecond => "At most, messages a second", "Не больше сообщений в секунду";
    FrequencyCap => "Skip who got a campaign in the last days", "Пропускать получивших рассылку за последние дни";
    RunPreflight => "Save and check", "Сохранить и проверить";
    Preflight => "Before it starts", "Перед запуском";
    WillReceive => "Will receive it", "Получат";
    SkipInvalidNumber => "No WhatsApp number", "Нет номера WhatsApp";
    SkipUsMarketing => "Marketing to +1 numbers (Meta blocks it)", "Маркетинг на номера +1 (Meta блокирует)";
    SkipMissingVariable => "A value is missing", "Не хватает значения";
    SkipBlocked => "Blocked by the word filter", "Заблокировано фильтром слов";
    Cost => "Cost", "Стоимость";
    Eta => "Time to send", "Время отправки";
    Unpriced => "Not on the rate card", "Нет в тарифах";
    Messages => "Messages", "Сообщения";
    SampleFor => "As it reaches", "Так получит";
    Schedule => "Schedule", "Запланировать";
    StartNow => "Start sending", "Начать отправку";
    PausedBecause => "Paused:", "Пауза:";
    WaitingForWindow => "Outside recipients' hours; goes on at", "Вне дневных часов получателей; продолжит в";
    Pause => "Pause", "Пауза";
    Resume => "Resume", "Продолжить";
    RetryFailed => "Retry the failed", "Повторить неудачные";
    Funnel => "Funnel", "Воронка";
    Estimate => "Estimate", "Оценка";
    Recipients => "Recipients", "Получатели";
    ByMonth => "Month", "Месяц";
    ByNumber => "Number", "Номер";
    ByTeam => "Team", "Команда";
    ByCampaign => "Campaign", "Рассылка";
    ByCountry => "Country", "Страна";
    ByCategory => "Category", "Категория";
    ExportCsv => "Export CSV", "Выгрузить CSV";
    Total => "Total", "Итого";
    Billed => "Billed", "Платные";
    NoCosts => "Nothing priced in these days.", "За эти дни ничего не тарифицировано.";
    RateCard => "Rate card", "Тарифы";
    Countries => "countries", "стран";
    Contacts => "Contacts", "Контакты";
    Contact => "Contact", "Контакт";
    Import => "Import", "Импорт";
    Segments => "Segments", "Сегменты";
    StopWordsTab => "Stop words", "Стоп-слова";
    StopWordsServer => "The server's stop words are in force. A customer whose whole message is one of them is opted out of marketing. One per line; saving makes them this workspace's own.", "Действуют стоп-слова сервера. Клиент, всё сообщение которого — одно из них, отписывается от рассылок. По одному в строке; после сохранения список станет собственным для этого пространства.";
    StopWordsSaved => "This workspace's own stop words are in force. A customer whose whole message is one of them is opted out of marketing. One per line.", "Действуют собственные стоп-слова этого пространства. Клиент, всё сообщение которого — одно из них, отписывается от рассылок. По одному в строке.";
    UseServerList => "Use the server's list", "Вернуть список сервера";
    SearchContacts => "Name or number", "Имя или номер";
    AllTags => "All tags", "Все метки";
    Selected => "selected", "выбрано";
    Apply => "Apply", "Применить";
    OptedIn => "Agreed to marketing", "Согласен на рассылки";
    OptedOut => "Opted out", "Отписан";
    ConsentUnknown => "Not asked", "Не спрашивали";
    NoContacts => "No contacts here.", "Здесь нет контактов.";
    LoadMore => "Show more", "Показать ещё";
    Phone => "Phone", "Телефон";
    Country => "Country", "Страна";
    LastMessage => "Last message", "Последнее сообщение";
    Consent => "Marketing consent", "Согласие на рассылки";
    SetConsent => "Set consent", "Изменить согласие";
    Reason => "Reason (kept as evidence)", "Причина (сохранится как основание)";
    ConsentHistory => "Consent history", "История согласий";
    SourceWebhook => "in WhatsApp", "в WhatsApp";
    SourceKeyword => "by a stop word", "стоп-словом";
    SourceSendFailure => "refused by WhatsApp (131050)", "отказ WhatsApp (131050)";
    SourceManual => "set by hand", "вручную";
    SourceImport => "from an import", "из импорта";
    Conversations => "Conversations", "Диалоги";
    ContactFile => "Contact file (CSV)", "Файл контактов (CSV)";
    DefaultRegion => "Country of national numbers", "Страна для местных номеров";
    CheckFile => "Check the file", "Проверить файл";
    DryRun => "Check", "Проверка";
    Rows => "rows", "строк";
    Create => "new", "новых";
    Update => "updated", "обновится";
    Unchanged => "unchanged", "без изменений";
    Rejected => "rejected", "отклонено";
    NewTags => "New tags", "Новые метки";
    FirstRejected => "First rejected rows", "Первые отклонённые строки";
    DownloadRejected => "Download rejected rows", "Скачать отклонённые строки";
    ImportNow => "Import", "Импортировать";
    Importing => "Importing", "Импорт";
    RowsPerSecond => "rows/s", "строк/с";
    Undo => "Undo this import", "Отменить импорт";
    Undone => "Undone.", "Отменён.";
    RecentImports => "Recent imports", "Последние импорты";
    SegmentName => "Segment name", "Название сегмента";
    AllOf => "Contacts matching all of:", "Контакты, у которых всё сразу:";
    Not => "not", "не";
    Condition => "Condition", "Условие";
    Tag => "tag", "метка";
    AttributeSet => "has attribute", "заполнено поле";
    InboundWithin => "wrote within days", "писал за последние дни";
    OpenConversation => "has an open conversation", "есть открытый диалог";
    Value => "Value", "Значение";
    AddCondition => "Add a condition", "Добавить условие";
    Matching => "Contacts now:", "Контактов сейчас:";
    SaveSegment => "Save segment", "Сохранить сегмент";
    SignInTitle => "Sign in", "Вход";
    Email => "Email", "Электронная почта";
    Password => "Password", "Пароль";
    SignIn => "Sign in", "Войти";
    SigningIn => "Signing in…", "Входим…";
    SignOut => "Sign out", "Выйти";
    Language => "Language", "Язык";
    Inbox => "Inbox", "Входящие";
    Board => "Board", "Мониторинг";
    Admin => "Admin", "Администрирование";
    TabMine => "Mine", "Мои";
    TabUnassigned => "Unassigned", "Без агента";
    TabTeam => "Team", "Команда";
    TabAll => "All", "Все";
    Search => "Search by name, number or tag", "Поиск по имени, номеру или метке";
    NoConversations => "No conversations here.", "Здесь нет диалогов.";
    Loading => "Loading…", "Загрузка…";
    CrmCard => "CRM", "Данные CRM";
    Webhooks => "Webhooks", "Вебхуки";
    EndpointUrl => "Endpoint URL", "URL получателя";
    Description => "Description", "Описание";
    Events => "Events", "События";
    AddEndpoint => "Add endpoint", "Добавить получателя";
    SecretOnce => "The signing secret, shown only now: copy it into the receiver.", "Секрет подписи показан только сейчас: скопируйте его в получатель.";
    Done => "Done", "Готово";
    FailingSince => "Failing since", "Не принимает с";
    Deliveries => "Deliveries", "Доставки";
    RotateSecret => "New secret", "Новый секрет";
    NoDeliveries => "No deliveries yet.", "Доставок пока нет.";
    DeliveryPending => "pending", "ожидает";
    DeliveryDelivered => "delivered", "доставлено";
    DeliveryFailed => "failed", "не доставлено";
    Attempts => "attempts", "попыток";
    Replay => "Send again", "Отправить снова";
    Body => "Body", "Тело";
    CrmConnectorTab => "CRM connector", "Подключение CRM";
    CrmUrl => "CRM URL", "URL CRM";
    Method => "Method", "Метод";
    HeaderName => "Auth header", "Заголовок авторизации";
    HeaderValue => "Header value", "Значение заголовка";
    KeptSecret => "saved, hidden", "сохранено, скрыто";
    BudgetMs => "Wait at most (ms)", "Ждать не дольше (мс)";
    FreshSecs => "Fresh for (s)", "Свежие (с)";
    Enabled => "On", "Включено";
    Label => "Label", "Подпись";
    EveryRole => "every role", "все роли";
    AddField => "Add field", "Добавить поле";
    Saved => "Saved.", "Сохранено.";
    CrmFetchedAt => "From the CRM at", "Из CRM в";
    CrmCachedAt => "Saved copy from", "Сохранённая копия от";
    CrmUnavailable => "The CRM did not answer in time.", "CRM не ответила вовремя.";
    LoadOlder => "Loading older messages…", "Загружаем более ранние сообщения…";
    StartOfConversation => "Start of the conversation", "Начало диалога";
    Back => "Back", "Назад";
    TypeMessage => "Type a message", "Введите сообщение";
    Send => "Send", "Отправить";
    Resolve => "Resolve", "Закрыть";
    Reopen => "Reopen", "Открыть снова";
    Assign => "Assign to…", "Назначить…";
    Tags => "Tags", "Метки";
    AddTag => "Add a tag", "Добавить метку";
    Notes => "Internal notes", "Внутренние заметки";
    AddNote => "Write a note (colleagues only)", "Заметка (видна только коллегам)";
    SaveNote => "Add note", "Добавить заметку";
    Customer => "Customer", "Клиент";
    Number => "Business number", "Номер компании";
    State => "State", "Состояние";
    StateQueued => "Waiting in queue", "В очереди";
    StateAssigned => "Assigned", "Назначен";
    StateResolved => "Resolved", "Закрыт";
    Assignee => "Agent", "Агент";
    Nobody => "Nobody", "Никто";
    Waiting => "Waiting since", "Ждёт с";
    StatusAvailable => "Available", "На связи";
    StatusBusy => "Busy", "Занят";
    StatusBreak => "On a break", "Перерыв";
    Offline => "You are offline. Replies are kept and sent when the connection returns.", "Нет сети. Ответы сохранены и уйдут, когда связь вернётся.";
    Reconnecting => "Reconnecting…", "Переподключение…";
    Queued => "Waiting to send", "Ожидает отправки";
    FailedToSend => "Not delivered", "Не доставлено";
    OutsideWindow => "The customer last wrote more than 24 hours ago: WhatsApp accepts only an approved template now.", "Клиент писал более 24 часов назад: WhatsApp примет теперь только одобренный шаблон.";
    Emoji => "Emoji", "Эмодзи";
    CannedHint => "Type / for saved replies", "Наберите / для готовых ответов";
    CannedReplies => "Saved replies", "Готовые ответы";
    CannedShortcut => "Shortcut", "Сокращение";
    CannedText => "Reply text", "Текст ответа";
    CannedAdd => "Save reply", "Сохранить ответ";
    ReplyFor => "For", "Для";
    Templates => "Templates", "Шаблоны";
    TemplateName => "Template name", "Название шаблона";
    Category => "Category", "Категория";
    Header => "Header", "Заголовок";
    TemplateBody => "Body", "Текст";
    ExampleFor => "Example for", "Пример для";
    Footer => "Footer", "Подпись";
    QuickReplies => "Quick replies (comma-separated)", "Быстрые ответы (через запятую)";
    LinkButton => "Link button's text", "Текст кнопки-ссылки";
    LinkUrl => "Link", "Ссылка";
    PhoneButton => "Call button's text", "Текст кнопки звонка";
    PhoneNumber => "Phone number", "Номер телефона";
    CopyCode => "Code to copy (example)", "Код для копирования (пример)";
    SubmitTemplate => "Submit to WhatsApp", "Отправить в WhatsApp";
    NotHeld => "You do not hold this permission, so you cannot grant it", "У вас нет этого права, поэтому выдать его нельзя";
    AddRole => "Add role", "Добавить роль";
    Edit => "Edit", "Изменить";
    AddTeam => "Add team", "Добавить команду";
    AddKey => "Create key", "Создать ключ";
    KeyOnce => "The key, shown only now: copy it into the client that uses it.", "Ключ показан только сейчас: скопируйте его в клиент, который его использует.";
    Revoked => "Revoked", "Отозван";
    Revoke => "Revoke", "Отозвать";
    Mention => "Mention a colleague", "Упомянуть коллегу";
    MentionedYou => "mentioned you", "упомянул(а) вас";
    OpenIt => "Open", "Открыть";
    ReplyPersonal => "Only me", "Только я";
    ReplyTeam => "Team", "Команда";
    ReplyWorkspace => "Everyone", "Все";
    ReplyVariables => "Type / in a reply to use one. {{contact.name}}, {{contact.<attribute>}} and {{agent.name}} are filled in.", "Наберите / в ответе, чтобы вставить. {{contact.name}}, {{contact.<атрибут>}} и {{agent.name}} подставляются.";
    NewAssignment => "New conversation assigned to you", "Вам назначен новый диалог";
    Queue => "Queue", "Очередь";
    OldestWait => "Longest wait", "Дольше всех ждёт";
    FirstResponseMedian => "First response, median", "Первый ответ, медиана";
    FirstResponseP90 => "First response, 90th percentile", "Первый ответ, 90-й перцентиль";
    FirstResponsesToday => "First responses today", "Первых ответов сегодня";
    ResolvedLastHour => "Resolved in the last hour", "Закрыто за час";
    FullReports => "Reports: 30 days, medians, CSAT", "Отчёты: 30 дней, медианы, CSAT";
    AtRisk => "At risk of missing the deadline", "Под угрозой срыва срока";
    Breached => "Deadline missed", "Срок нарушен";
    Agents => "Agents", "Агенты";
    Load => "Load", "Нагрузка";
    Presence => "Presence", "Присутствие";
    Online => "Online", "В сети";
    Away => "Away", "Отошёл";
    OfflinePresence => "Offline", "Не в сети";
    Users => "Users", "Пользователи";
    Teams => "Teams", "Команды";
    AllTeams => "All teams", "Все команды";
    Numbers => "Numbers", "Номера";
    ApiKeys => "API keys", "API-ключи";
    Audit => "Audit log", "Журнал аудита";
    Routing => "Routing", "Маршрутизация";
    RoutingSource => "This workspace's routing: each change is saved and in force at once. Durations are in seconds (0: never).", "Маршрутизация этого пространства: каждое изменение сохраняется и действует сразу. Длительности в секундах (0 — никогда).";
    Strategy => "Strategy", "Стратегия";
    LeastLoad => "Least loaded agent", "Наименее загруженный агент";
    RoundRobin => "In turn (round robin)", "По очереди";
    Capacity => "Conversations per agent", "Диалогов на агента";
    ReplyDeadline => "Reassign when unanswered after", "Переназначать без ответа через";
    OfflineGrace => "Keep conversations of a dropped agent for", "Сохранять диалоги отключившегося агента";
    SlaTarget => "At risk after waiting", "Под угрозой после ожидания";
    QueueNotice => "Message to waiting customers", "Сообщение ожидающим клиентам";
    Never => "never", "никогда";
    Name => "Name", "Имя";
    Role => "Role", "Роль";
    Disabled => "Disabled", "Отключён";
    Active => "Active", "Активен";
    Created => "Created", "Создан";
    When => "When", "Когда";
    Who => "Who", "Кто";
    Action => "Action", "Действие";
    Target => "Target", "Объект";
    Outcome => "Outcome", "Результат";
    Members => "Members", "Участники";
    Prefix => "Prefix", "Префикс";
    Permissions => "Permissions", "Права";
    CreateUser => "Add user", "Добавить пользователя";
    Save => "Save", "Сохранить";
    Cancel => "Cancel", "Отмена";
    Reply => "Reply", "Ответить";
    Attach => "Attach a file", "Прикрепить файл";
    Uploading => "Uploading", "Загрузка";
    Remove => "Remove", "Убрать";
    RemoveFile => "Remove the file", "Убрать файл";
    EarlierMessage => "An earlier message", "Более раннее сообщение";
    SendTemplate => "Send a template", "Отправить шаблон";
    NoTemplates => "This number has no approved templates.", "У этого номера нет одобренных шаблонов.";
    TemplateValue => "Value", "Значение";
    Caption => "Add a caption…", "Добавьте подпись…";
    FilterBlocked => "Blocked words: change them to send", "Запрещённые слова: измените их, чтобы отправить";
    FilterWarned => "Words to check before sending", "Слова, которые стоит проверить перед отправкой";
    FilterBlockedTag => "blocked", "запрещено";
    FilterWarnTag => "warning", "предупреждение";
    SendAnyway => "Send anyway", "Всё равно отправить";
    OverrideReason => "Reason to send anyway (recorded in the audit log)", "Причина отправки (записывается в журнал)";
    CustomerConversations => "Conversations with this customer", "Диалоги с этим клиентом";
    ThisConversation => "this one", "этот";
    None => "None", "Нет";
    Minutes => "min", "мин";
    Seconds => "s", "с";
    Hours => "h", "ч";
    NotFound => "This conversation is not available to you.", "Этот диалог вам недоступен.";
    ReplyTo => "Reply", "Ответить";
    Sidebar => "Details", "Подробности";
    Select => "Pick a conversation", "Выберите диалог";
    Me => "me", "я";
    Settings => "Settings", "Настройки";
    Roles => "Roles", "Роли";
    Enable => "Enable", "Включить";
    Disable => "Disable", "Отключить";
    TemplateHeader => "Header", "Заголовок";
    Reports => "Reports", "Отчёты";
    Archive => "Archive", "Архив";
    SearchMessages => "Words in any message", "Слова из любого сообщения";
    SearchButton => "Search", "Искать";
    Found => "Found", "Найдено";
    NothingFound => "Nothing found.", "Ничего не найдено.";
    StateOpen => "Open", "Открытые";
    TagFilter => "Tag", "Метка";
    Transcript => "Transcript", "Переписка";
    ByDay => "Day", "День";
    ByAgent => "Agent", "Агент";
    PrintableReport => "Printable page", "Страница для печати";
    Clock => "Time counted", "Время";
    WallClock => "All hours", "Всё время";
    BusinessHours => "Business hours", "Рабочие часы";
    Unanswered => "Unanswered", "Без ответа";
    FirstResponse => "First response", "Первый ответ";
    Resolution => "Resolution", "Решение";
    Median => "Median", "Медиана";
    NoConversationsInRange => "No conversations in these days.", "В эти дни диалогов не было.";
    Satisfaction => "Customer satisfaction", "Удовлетворённость клиентов";
    SurveysSent => "Surveys sent", "Отправлено опросов";
    Scores => "Scores", "Оценок";
    ResponseRate => "Response rate", "Доля ответов";
    Mean => "Mean", "Среднее";
    Interval95 => "95% interval", "95% интервал";
    WorkingTime => "Agents' working time", "Рабочее время агентов";
    AtOnceMean => "At once, mean", "Одновременно, в среднем";
    AtOncePeak => "At once, most", "Одновременно, максимум";
    FirstResponses => "First responses", "Первых ответов";
    TemplateQuality => "Quality", "Качество";
    PushTitle => "Notifications on this device", "Уведомления на этом устройстве";
    PushIsOn => "On: assignments, mentions and customers' replies reach this device while the app is not in view.", "Включены: назначения, упоминания и ответы клиентов приходят на это устройство, пока приложение не на экране.";
    PushIsOff => "Off on this device.", "На этом устройстве выключены.";
    PushUnsupported => "This browser cannot receive notifications. On an iPhone, add the app to the home screen first.", "Этот браузер не может получать уведомления. На iPhone сначала добавьте приложение на экран «Домой».";
    PushBlocked => "Notifications are blocked for this site in the browser's settings.", "Уведомления для этого сайта запрещены в настройках браузера.";
    PushTurnOn => "Turn on", "Включить уведомления";
    PushTurnOff => "Turn off", "Выключить уведомления";
    PushTest => "Send a test", "Отправить проверку";
    PushTestSent => "Sent: it should appear on this device now.", "Отправлено: уведомление должно появиться на этом устройстве.";
    PushDevices => "Your devices", "Ваши устройства";
    PushThisDevice => "this device", "это устройство";
    NumberId => "Phone number ID", "ID номера";
    Waba => "WhatsApp Business Account", "Аккаунт WhatsApp Business";
    GraphUrl => "Graph API URL", "URL Graph API";
    AccessToken => "Access token", "Токен доступа";
    AppSecret => "App secret", "Секрет приложения";
    VerifyToken => "Verify token", "Токен проверки";
    ConnectNumber => "Connect number", "Подключить номер";
    Tier => "Messages/s", "Сообщений/с";
    FromConfig => "Set in the configuration", "Задан в конфигурации";
    Disconnected => "Removed (history kept)", "Удалён (история сохранена)";
}

/// Russian plural forms: 1 сообщение, 2 сообщения, 5 сообщений (and 21, 22, 25…).
pub fn plural_ru<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let (d10, d100) = (n % 10, n % 100);
    if d10 == 1 && d100 != 11 {
        one
    } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
        few
    } else {
        many
    }
}

/// "3 unread" in the chosen language.
pub fn unread(lang: Lang, n: u64) -> String {
    match lang {
        Lang::En => format!("{n} unread"),
        Lang::Ru => format!(
            "{n} {}",
            plural_ru(n, "непрочитанное", "непрочитанных", "непрочитанных")
        ),
    }
}

/// A duration as people read it on a dashboard: `45 s`, `12 min`, `3 h 5 min`.
pub fn duration(lang: Lang, ms: i64) -> String {
    let secs = (ms.max(0) + 500) / 1000;
    if secs < 60 {
        format!("{secs} {}", lang.t(T::Seconds))
    } else if secs < 3600 {
        format!("{} {}", secs / 60, lang.t(T::Minutes))
    } else {
        let (h, m) = (secs / 3600, secs % 3600 / 60);
        format!("{h} {} {m} {}", lang.t(T::Hours), lang.t(T::Minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_tags_pick_the_language() {
        assert_eq!(Lang::from_tag("ru-RU"), Lang::Ru);
        assert_eq!(Lang::from_tag("RU"), Lang::Ru);
        assert_eq!(Lang::from_tag("en-US"), Lang::En);
        assert_eq!(Lang::from_tag("de"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
    }

    #[test]
    fn every_text_is_translated() {
        for &key in T::ALL {
            let (en, ru) = key.texts();
            assert!(!en.is_empty() && !ru.is_empty(), "{key:?} is empty");
            // Only names and units may be the same in both languages.
            let same_allowed = matches!(key, T::AppName);
            assert!(same_allowed || en != ru, "{key:?} is not translated");
        }
    }

    #[test]
    fn russian_plurals() {
        let f = |n| plural_ru(n, "one", "few", "many");
        assert_eq!(
            [f(1), f(2), f(5), f(11), f(12), f(21), f(22), f(25), f(111)],
            ["one", "few", "many", "many", "many", "one", "few", "many", "many"]
        );
        assert_eq!(unread(Lang::Ru, 3), "3 непрочитанных");
        assert_eq!(unread(Lang::Ru, 21), "21 непрочитанное");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Lang::En, 4_400), "4 s");
        assert_eq!(duration(Lang::En, 125_000), "2 min");
        assert_eq!(duration(Lang::Ru, 3_900_000), "1 ч 5 мин");
        assert_eq!(duration(Lang::En, -5), "0 s");
    }
}
