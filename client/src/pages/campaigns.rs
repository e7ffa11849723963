//! Broadcast campaigns: the list with each one's progress, the wizard (numbers and template,
//! audience with its live count, variables with fallbacks, schedule and pace, then the
//! pre-flight with the cost and ETA) and a campaign's page (progress bar, rate, ETA, funnel,
//! pause, resume, cancel, retry of the failed, recipients by state).
//!
//! Progress comes from the hub's `campaign_progressed` events when the socket carries them, and
//! from a reload every few seconds otherwise (a user who may send campaigns but not read every
//! conversation does not follow the tenant stream).

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::api::Page;
use switchboard_shared::campaign::*;
use switchboard_shared::contacts::{Filter, FilterInput, Segment, SegmentCount, Tag};
use switchboard_shared::ids::{CampaignId, PhoneNumberId, SegmentId};
use switchboard_shared::schedule::Interval;

use crate::app::{encode, App, Progress};
use crate::i18n::{self, T};
use crate::net;

#[derive(Clone, PartialEq, Eq)]
enum Screen {
    List,
    /// The wizard, for a new campaign or a draft.
    Edit(Option<CampaignId>),
    Open(CampaignId),
    /// The numbers' templates, and a new one.
    Templates,
}

#[component]
pub(crate) fn CampaignsView() -> impl IntoView {
    let screen = RwSignal::new(Screen::List);
    view! {
        <main class="campaigns">
            {move || match screen.get() {
                Screen::List => view! { <CampaignList screen/> }.into_any(),
                Screen::Edit(id) => view! { <Wizard screen id/> }.into_any(),
                Screen::Open(id) => view! { <CampaignPage screen id/> }.into_any(),
                Screen::Templates => view! {
                    <super::templates::TemplatesView back=move || screen.set(Screen::List)/>
                }.into_any(),
            }}
        </main>
    }
}

pub(crate) fn state_label(state: CampaignState) -> T {
    match state {
        CampaignState::Draft => T::Draft,
        CampaignState::Scheduled => T::Scheduled,
        CampaignState::Running => T::Running,
        CampaignState::Paused => T::Paused,
        CampaignState::Completed => T::Completed,
        CampaignState::Cancelled => T::Cancelled,
    }
}

/// A campaign with the hub's latest word on it, if newer.
fn with_progress(mut c: Campaign, live: Option<&Progress>) -> Campaign {
    if let Some(p) = live.filter(|p| p.campaign == c.id) {
        c.state = p.state;
        c.total = p.total;
        c.counts = p.counts;
        c.paused_reason = p.paused_reason.clone();
    }
    c
}

/// Recipients past the queue (sent, failed or skipped), of all.
fn done(c: &Campaign) -> (u64, u64) {
    (c.total.saturating_sub(c.counts.queued), c.total)
}

#[component]
fn Bar(value: Signal<(u64, u64)>) -> impl IntoView {
    let pct = move || {
        let (d, t) = value.get();
        if t == 0 {
            0.0
        } else {
            (d as f64 * 100.0 / t as f64).min(100.0)
        }
    };
    view! {
        <div class="progress-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=move || crate::decimal(pct(), 0)>
            <span style=move || format!("width:{}%", crate::decimal(pct(), 1))></span>
        </div>
    }
}

#[component]
fn CampaignList(screen: RwSignal<Screen>) -> impl IntoView {
    let app = expect_context::<App>();
    let items = RwSignal::new(None::<Vec<Campaign>>);
    spawn_local(async move {
        match net::get::<Page<Campaign>>("/api/v1/campaigns").await {
            Ok(p) => items.set(Some(p.items)),
            Err(e) => app.fail(e.message),
        }
    });
    let lang = move || app.session.lang.get();
    view! {
        <div class="toolbar">
            <h1>{app.text(T::Campaigns)}</h1>
            <button class="primary" on:click=move |_| screen.set(Screen::Edit(None))>{app.text(T::NewCampaign)}</button>
            <button class="secondary templates-button" on:click=move |_| screen.set(Screen::Templates)>{app.text(T::Templates)}</button>
        </div>
        {move || match items.get() {
            None => view! { <p class="hint">{app.text(T::Loading)}</p> }.into_any(),
            Some(list) if list.is_empty() => view! { <p class="empty">{app.text(T::NoCampaigns)}</p> }.into_any(),
            Some(list) => view! {
                <ul class="campaign-list">
                    {list.into_iter().map(|c| {
                        let id = c.id.clone();
                        let target = if c.state == CampaignState::Draft { Screen::Edit(Some(id.clone())) } else { Screen::Open(id.clone()) };
                        let current = Memo::new(move |_| with_progress(c.clone(), app.live.campaigns.with(|m| m.get(&id).cloned()).as_ref()));
                        view! {
                            <li><button class="card campaign-row" on:click=move |_| screen.set(target.clone())>
                                <span class="title">{move || current.with(|c| c.input.name.clone())}</span>
                                <span class=move || format!("badge {}", current.with(|c| c.state.as_str()))>{move || app.t(state_label(current.with(|c| c.state)))}</span>
                                <Bar value=Signal::derive(move || current.with(done))/>
                                <span class="sub">{move || current.with(|c| format!("{} · {} {} · {} {}",
                                    c.input.template.name,
                                    net::format_number(c.counts.delivered as f64, lang().locale()), app.t(T::Delivered).to_lowercase(),
                                    net::format_number(c.counts.failed as f64, lang().locale()), app.t(T::Failed).to_lowercase()))}</span>
                            </button></li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
    }
}

/// How the wizard picks the audience (a file of customers is imported on the Contacts page
/// with a tag for every row, and picked here by that tag).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pick {
    Segment,
    Tag,
}

/// Where a template variable's value comes from, as the wizard edits it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Field,
    Attribute,
    Text,
}

#[derive(Clone)]
struct VarRow {
    source: RwSignal<Source>,
    value: RwSignal<String>,
    fallback: RwSignal<String>,
}

impl VarRow {
    fn new(v: Option<&Variable>) -> Self {
        let (source, value) = match v {
            Some(Variable {
                attribute: Some(a), ..
            }) => (Source::Attribute, a.clone()),
            Some(Variable { text: Some(t), .. }) => (Source::Text, t.clone()),
            Some(Variable { field: Some(f), .. }) => (Source::Field, f.clone()),
            _ => (Source::Field, "name".to_owned()),
        };
        VarRow {
            source: RwSignal::new(source),
            value: RwSignal::new(value),
            fallback: RwSignal::new(v.and_then(|v| v.fallback.clone()).unwrap_or_default()),
        }
    }

    fn variable(&self) -> Variable {
        let value = self.value.get_untracked().trim().to_owned();
        let fallback = Some(self.fallback.get_untracked())
            .filter(|f| !f.trim().is_empty())
            .map(|f| f.trim().to_owned());
        match self.source.get_untracked() {
            Source::Field => Variable {
                field: Some(value),
                fallback,
                ..Default::default()
            },
            Source::Attribute => Variable {
                attribute: Some(value),
                fallback,
                ..Default::default()
            },
            Source::Text => Variable {
                text: Some(value),
                ..Default::default()
            },
        }
    }
}

#[component]
fn Wizard(screen: RwSignal<Screen>, id: Option<CampaignId>) -> impl IntoView {
    let app = expect_context::<App>();
    let draft = RwSignal::new(id);
    let name = RwSignal::new(String::new());
    let senders = RwSignal::new(Vec::<SenderTemplates>::new());
    let numbers = RwSignal::new(Vec::<PhoneNumberId>::new());
    // `name|language` of the chosen template.
    let template = RwSignal::new(String::new());
    let mode = RwSignal::new(Pick::Segment);
    let segment = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let segments = RwSignal::new(Vec::<Segment>::new());
    let tags = RwSignal::new(Vec::<Tag>::new());
    let count = RwSignal::new(None::<u64>);
    let vars = RwSignal::new(Vec::<VarRow>::new());
    let start_later = RwSignal::new(false);
    let start_at = RwSignal::new(String::new());
    let zone = RwSignal::new(net::time_zone());
    let windowed = RwSignal::new(false);
    let (win_from, win_to) = (
        RwSignal::new("09:00".to_owned()),
        RwSignal::new("20:00".to_owned()),
    );
    let pace = RwSignal::new(String::new());
    let cap = RwSignal::new(String::new());
    let spread = RwSignal::new(String::new());
    let checked = RwSignal::new(None::<Preflight>);
    let busy = RwSignal::new(false);

    spawn_local(async move {
        match net::get::<Page<SenderTemplates>>("/api/v1/templates").await {
            Ok(p) => senders.set(p.items),
            Err(e) => app.fail(e.message),
        }
        if let Ok(s) = net::get::<Vec<Segment>>("/api/v1/segments").await {
            segments.set(s);
        }
        if let Ok(t) = net::get::<Vec<Tag>>("/api/v1/tags").await {
            tags.set(t);
        }
        // A draft: its fields, as they were saved.
        let Some(id) = draft.get_untracked() else {
            return;
        };
        match net::get::<Campaign>(&format!("/api/v1/campaigns/{id}")).await {
            Ok(c) => {
                let i = c.input;
                name.set(i.name);
                numbers.set(i.numbers);
                template.set(format!("{}|{}", i.template.name, i.template.language));
                mode.set(if i.audience.tag.is_some() {
                    Pick::Tag
                } else {
                    Pick::Segment
                });
                segment.set(
                    i.audience
                        .segment
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                );
                tag.set(i.audience.tag.unwrap_or_default());
                vars.set(i.variables.iter().map(|v| VarRow::new(Some(v))).collect());
                start_later.set(i.start_at.is_some());
                start_at.set(
                    i.start_at
                        .map(|s| s.chars().take(16).collect())
                        .unwrap_or_default(),
                );
                if let Some(z) = i.time_zone {
                    zone.set(z);
                }
                if let Some(w) = i.local_window {
                    windowed.set(true);
                    win_from.set(w.from);
                    win_to.set(w.to);
                }
                pace.set(i.max_per_second.map(|n| n.to_string()).unwrap_or_default());
                cap.set(
                    i.frequency_cap_days
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                );
                spread.set(i.target_minutes.map(|n| n.to_string()).unwrap_or_default());
            }
            Err(e) => app.fail(e.message),
        }
    });

    // The templates every chosen number can send (a campaign spreads over all of them).
    let offered = move || -> Vec<switchboard_shared::api::MessageTemplate> {
        senders.with(|s| {
            let chosen = numbers.get();
            let mut lists = s
                .iter()
                .filter(|x| chosen.contains(&x.number.phone_number_id))
                .map(|x| &x.templates);
            let Some(first) = lists.next() else {
                return Vec::new();
            };
            let rest: Vec<_> = lists.collect();
            first
                .iter()
                .filter(|t| {
                    rest.iter().all(|l| {
                        l.iter()
                            .any(|u| u.name == t.name && u.language == t.language)
                    })
                })
                .cloned()
                .collect()
        })
    };
    let chosen_template = move || {
        let key = template.get();
        offered()
            .into_iter()
            .find(|t| format!("{}|{}", t.name, t.language) == key)
    };
    // One row per `{{n}}` of the chosen template, keeping what was typed.
    Effect::new(move |_| {
        let want = chosen_template().map(|t| t.params as usize).unwrap_or(0);
        let have = vars.with_untracked(Vec::len);
        if want != have {
            vars.update(|v| {
                v.truncate(want);
                while v.len() < want {
                    v.push(VarRow::new(None));
                }
            });
        }
    });
    // The audience's live count.
    let generation = StoredValue::new(0u32);
    Effect::new(move |_| {
        let (is_tag, seg, t) = (mode.get() != Pick::Segment, segment.get(), tag.get());
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        count.set(None);
        let csrf = app.csrf_token();
        spawn_local(async move {
            let answer = if is_tag {
                if t.is_empty() {
                    return;
                }
                let body = FilterInput {
                    filter: Filter::Tag(t),
                };
                net::write::<SegmentCount, _>(
                    "POST",
                    "/api/v1/segments/count",
                    &body,
                    csrf.as_deref(),
                )
                .await
            } else {
                if seg.is_empty() {
                    return;
                }
                net::get::<SegmentCount>(&format!("/api/v1/segments/{}/count", encode(&seg))).await
            };
            if generation.try_get_value() == Some(mine) {
                if let Ok(c) = answer {
                    count.set(Some(c.count));
                }
            }
        });
    });
    // Any change makes the last pre-flight stale.
    Effect::new(move |_| {
        name.track();
        numbers.track();
        template.track();
        mode.track();
        segment.track();
        tag.track();
        start_later.track();
        start_at.track();
        zone.track();
        windowed.track();
        win_from.track();
        win_to.track();
        pace.track();
        cap.track();
        spread.track();
        vars.with(|v| {
            for r in v {
                r.source.track();
                r.value.track();
                r.fallback.track();
            }
        });
        checked.set(None);
    });

    let input = move || -> CampaignInput {
        let key = template.get_untracked();
        let (t_name, t_lang) = key.split_once('|').unwrap_or((&key, ""));
        let number = |s: RwSignal<String>| s.get_untracked().trim().parse::<u32>().ok();
        CampaignInput {
            name: name.get_untracked().trim().to_owned(),
            template: TemplateRef {
                name: t_name.to_owned(),
                language: t_lang.to_owned(),
                ..TemplateRef::default()
            },
            audience: if mode.get_untracked() != Pick::Segment {
                Audience {
                    segment: None,
                    tag: Some(tag.get_untracked()),
                }
            } else {
                Audience {
                    segment: Some(SegmentId::new(segment.get_untracked())),
                    tag: None,
                }
            },
            variables: vars.with_untracked(|v| v.iter().map(VarRow::variable).collect()),
            numbers: numbers.get_untracked(),
            start_at: start_later
                .get_untracked()
                .then(|| format!("{}:00", start_at.get_untracked())),
            time_zone: start_later.get_untracked().then(|| zone.get_untracked()),
            max_per_second: number(pace),
            frequency_cap_days: number(cap),
            target_minutes: number(spread),
            local_window: windowed.get_untracked().then(|| Interval {
                from: win_from.get_untracked(),
                to: win_to.get_untracked(),
            }),
        }
    };
    // Saves the draft (made on the first check) and runs pre-flight on it.
    let check = move |e: ev::SubmitEvent| {
        e.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let body = input();
        spawn_local(async move {
            let saved = match draft.get_untracked() {
                Some(id) => {
                    app.write::<Campaign, _>("PATCH", &format!("/api/v1/campaigns/{id}"), &body)
                        .await
                }
                None => {
                    app.write::<Campaign, _>("POST", "/api/v1/campaigns", &body)
                        .await
                }
            };
            match saved {
                Ok(c) => {
                    draft.set(Some(c.id.clone()));
                    match app
                        .write::<Preflight, _>(
                            "POST",
                            &format!("/api/v1/campaigns/{}/preflight", c.id),
                            &(),
                        )
                        .await
                    {
                        Ok(p) => checked.set(Some(p)),
                        Err(e) => app.fail(e.message),
                    }
                }
                Err(e) => app.fail(e.message),
            }
            busy.set(false);
        });
    };
    let start = move |_| {
        let Some(id) = draft.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match app
                .write::<Campaign, _>("POST", &format!("/api/v1/campaigns/{id}/start"), &())
                .await
            {
                Ok(c) => screen.set(Screen::Open(c.id)),
                Err(e) => app.fail(e.message),
            }
            busy.set(false);
        });
    };

    let text_input = move |sig: RwSignal<String>, label: T, kind: &'static str| {
        view! { <label>{app.text(label)}<input type=kind bind:value=sig/></label> }
    };
    view! {
        <div class="toolbar">
            <button class="secondary" on:click=move |_| screen.set(Screen::List)>{app.text(T::Back)}</button>
            <h1>{move || app.t(if draft.with(Option::is_some) { T::EditCampaign } else { T::NewCampaign })}</h1>
        </div>
        <form class="wizard" on:submit=check>
            <fieldset>
                <legend>"1 · "{app.text(T::CampaignName)}</legend>
                <label>{app.text(T::Name)}<input required maxlength="200" bind:value=name/></label>
            </fieldset>
            <fieldset>
                <legend>"2 · "{app.text(T::NumbersAndTemplate)}</legend>
                {move || senders.get().into_iter().map(|s| {
                    let pid = s.number.phone_number_id.clone();
                    let (p1, p2) = (pid.clone(), pid.clone());
                    view! {
                        <label class="check">
                            <input type="checkbox" prop:checked=move || numbers.with(|n| n.contains(&p1))
                                on:change=move |e| {
                                    let on = event_target_checked(&e);
                                    numbers.update(|n| {
                                        n.retain(|x| x != &p2);
                                        if on { n.push(p2.clone()); }
                                    });
                                }/>
                            {format!("+{}", s.number.display_phone_number)}
                            {s.error.map(|e| view! { <span class="error">" · "{e}</span> })}
                        </label>
                    }
                }).collect_view()}
                <label>{app.text(T::Template)}
                    <select required on:change=move |e| template.set(event_target_value(&e))>
                        <option value="" selected=move || template.with(String::is_empty)>"—"</option>
                        {move || offered().into_iter().map(|t| {
                            let key = format!("{}|{}", t.name, t.language);
                            let k = key.clone();
                            view! { <option value=key selected=move || template.get() == k>{format!("{} ({}, {})", t.name, t.language, t.category)}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <Show when=move || numbers.with(|n| !n.is_empty()) && offered().is_empty()>
                    <p class="hint">{app.text(T::NoTemplates)}</p>
                </Show>
                {move || chosen_template().map(|t| view! { <blockquote class="template-body" dir="auto">{t.body}</blockquote> })}
            </fieldset>
            <fieldset>
                <legend>"3 · "{app.text(T::Audience)}</legend>
                <div class="segmented" role="radiogroup">
                    {[(Pick::Segment, T::Segment), (Pick::Tag, T::Tag)].into_iter()
                        .map(|(p, label)| view! {
                            <label class="check"><input type="radio" name="audience" prop:checked=move || mode.get() == p on:change=move |_| mode.set(p)/>{app.text(label)}</label>
                        }).collect_view()}
                </div>
                {move || match mode.get() {
                    Pick::Tag => view! {
                        <p class="sub">{app.text(T::FromFileHint)}</p>
                        <label>{app.text(T::Tag)}
                            <select required on:change=move |e| tag.set(event_target_value(&e))>
                                <option value="" selected=move || tag.with(String::is_empty)>"—"</option>
                                {move || tags.get().into_iter().map(|t| {
                                    let (n, value) = (t.name.clone(), t.name.clone());
                                    view! { <option value=value selected=move || tag.get() == n>{t.name}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    }.into_any(),
                    Pick::Segment => view! {
                        <label>{app.text(T::Segment)}
                            <select required on:change=move |e| segment.set(event_target_value(&e))>
                                <option value="" selected=move || segment.with(String::is_empty)>"—"</option>
                                {move || segments.get().into_iter().map(|s| {
                                    let id = s.id.to_string();
                                    let i = id.clone();
                                    view! { <option value=id selected=move || segment.get() == i>{s.name}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    }.into_any(),
                }}
                <p class="count" aria-live="polite">{move || count.get().map(|n| format!("{}: {}", app.t(T::Contacts), net::format_number(n as f64, app.session.lang.get().locale())))}</p>
            </fieldset>
            <Show when=move || vars.with(|v| !v.is_empty())>
                <fieldset>
                    <legend>"4 · "{app.text(T::Variables)}</legend>
                    {move || vars.get().into_iter().enumerate().map(|(i, row)| {
                        let VarRow { source, value, fallback } = row;
                        view! {
                            <div class="var-row">
                                <span class="var">{format!("{{{{{}}}}}", i + 1)}</span>
                                <select aria-label=app.text(T::ValueSource) on:change=move |e| {
                                    let s = match event_target_value(&e).as_str() { "attribute" => Source::Attribute, "text" => Source::Text, _ => Source::Field };
                                    source.set(s);
                                    if s == Source::Field { value.set("name".to_owned()); } else { value.set(String::new()); }
                                }>
                                    <option value="field" selected=move || source.get() == Source::Field>{app.text(T::ContactField)}</option>
                                    <option value="attribute" selected=move || source.get() == Source::Attribute>{app.text(T::Attribute)}</option>
                                    <option value="text" selected=move || source.get() == Source::Text>{app.text(T::FixedText)}</option>
                                </select>
                                {move || match source.get() {
                                    Source::Field => view! {
                                        <select aria-label=app.text(T::TemplateValue) on:change=move |e| value.set(event_target_value(&e))>
                                            {[("name", T::Name), ("phone", T::Phone), ("country", T::Country)].into_iter().map(|(f, label)| view! {
                                                <option value=f selected=move || value.get() == f>{app.text(label)}</option>
                                            }).collect_view()}
                                        </select>
                                    }.into_any(),
                                    _ => view! {
                                        <input required aria-label=app.text(T::TemplateValue) bind:value=value/>
                                    }.into_any(),
                                }}
                                <Show when=move || source.get() != Source::Text>
                                    <input placeholder=app.text(T::Fallback) aria-label=app.text(T::Fallback) bind:value=fallback/>
                                </Show>
                            </div>
                        }
                    }).collect_view()}
                    <p class="hint">{app.text(T::FallbackHint)}</p>
                </fieldset>
            </Show>
            <fieldset>
                <legend>{move || if vars.with(Vec::is_empty) { "4 · " } else { "5 · " }}{app.text(T::ScheduleAndPace)}</legend>
                <label class="check"><input type="checkbox" prop:checked=move || start_later.get() on:change=move |e| start_later.set(event_target_checked(&e))/>{app.text(T::StartLater)}</label>
                <Show when=move || start_later.get()>
                    <label>{app.text(T::StartAt)}<input type="datetime-local" required bind:value=start_at/></label>
                    {text_input(zone, T::TimeZone, "text")}
                </Show>
                <label class="check"><input type="checkbox" prop:checked=move || windowed.get() on:change=move |e| windowed.set(event_target_checked(&e))/>{app.text(T::LocalWindow)}</label>
                <Show when=move || windowed.get()>
                    <div class="inline">
                        {text_input(win_from, T::From, "time")}
                        {text_input(win_to, T::To, "time")}
                    </div>
                </Show>
                <div class="inline">
                    {text_input(pace, T::MaxPerSecond, "number")}
                    {text_input(cap, T::FrequencyCap, "number")}
                    {text_input(spread, T::SpreadOver, "number")}
                </div>
            </fieldset>
            <button type="submit" class="primary" disabled=move || busy.get()>{app.text(T::RunPreflight)}</button>
        </form>
        {move || checked.get().map(|p| view! { <PreflightSummary p/> <button class="primary start" disabled=move || busy.get() on:click=start>{move || app.t(if start_later.get() { T::Schedule } else { T::StartNow })}</button> })}
    }
}

fn skip_label(reason: SkipReason) -> T {
    match reason {
        SkipReason::OptedOut => T::OptedOut,
        SkipReason::InvalidNumber => T::SkipInvalidNumber,
        SkipReason::UsMarketing => T::SkipUsMarketing,
        SkipReason::MissingVariable => T::SkipMissingVariable,
        SkipReason::FrequencyCap => T::FrequencyCap,
        SkipReason::BlockedByFilter => T::SkipBlocked,
    }
}

#[component]
fn PreflightSummary(p: Preflight) -> impl IntoView {
    let app = expect_context::<App>();
    let lang = move || app.session.lang.get();
    let n = move |v: u64| net::format_number(v as f64, lang().locale());
    let (total, title) = (p.total_cost.clone(), p.total_cost.clone());
    view! {
        <section class="card preflight" aria-live="polite">
            <h2>{app.text(T::Preflight)}</h2>
            <dl>
                <dt>{app.text(T::Audience)}</dt><dd>{n(p.audience)}</dd>
                <dt>{app.text(T::WillReceive)}</dt><dd><strong>{n(p.eligible)}</strong></dd>
                {p.skipped.iter().map(|s| {
                    let (reason, count) = (s.reason, s.count);
                    view! { <dt class="sub">{app.text(skip_label(reason))}</dt><dd>{n(count)}</dd> }
                }).collect_view()}
                <dt>{app.text(T::Cost)}</dt><dd title=title><strong>{move || net::format_usd(&total, lang().locale())}</strong>{format!(" · {}", p.category)}</dd>
                <dt>{app.text(T::Eta)}</dt><dd>{move || i18n::duration(lang(), p.eta_seconds as i64 * 1000)}{format!(" · {}/s", crate::decimal(p.rate_per_second, 0))}</dd>
            </dl>
            <Show when=move || { p.unpriced > 0 }>
                <p class="hint">{move || format!("{}: {}", app.t(T::Unpriced), p.unpriced)}</p>
            </Show>
            <table>
                <thead><tr><th>{app.text(T::Country)}</th><th>{app.text(T::Messages)}</th><th>{app.text(T::Cost)}</th></tr></thead>
                <tbody>
                    {p.cost.iter().map(|c| {
                        let (amount, title) = (c.amount.clone(), c.amount.clone());
                        view! { <tr><td>{c.country.clone()}</td><td>{n(c.messages)}</td><td title=title>{move || net::format_usd(&amount, lang().locale())}</td></tr> }
                    }).collect_view()}
                </tbody>
            </table>
            {p.sample.map(|s| view! {
                <p class="sub">{app.text(T::SampleFor)}" "{s.to}</p>
                <blockquote class="template-body" dir="auto">{s.text}</blockquote>
            })}
        </section>
    }
}

#[component]
fn CampaignPage(screen: RwSignal<Screen>, id: CampaignId) -> impl IntoView {
    let app = expect_context::<App>();
    let loaded = RwSignal::new(None::<Campaign>);
    let path = format!("/api/v1/campaigns/{id}");
    let reload = {
        let path = path.clone();
        move || {
            let path = path.clone();
            spawn_local(async move {
                match net::get::<Campaign>(&path).await {
                    Ok(c) => {
                        let _ = loaded.try_set(Some(c));
                    }
                    Err(e) => app.fail(e.message),
                }
            });
        }
    };
    reload();
    // A reload every few seconds while it may still move, for users without the tenant stream
    // and for what events do not carry (the finish time, the pre-flight).
    {
        let reload = reload.clone();
        spawn_local(async move {
            loop {
                net::sleep_ms(5_000).await;
                let Some(state) = loaded.try_with_untracked(|c| c.as_ref().map(|c| c.state)) else {
                    return;
                };
                if state.is_some_and(|s| !s.finished()) {
                    reload();
                }
            }
        });
    }
    let live_id = StoredValue::new(id.clone());
    let live = move || live_id.with_value(|id| app.live.campaigns.with(|m| m.get(id).cloned()));
    let current = Memo::new(move |_| loaded.get().map(|c| with_progress(c, live().as_ref())));
    let base = StoredValue::new(path);
    let act = move |verb: &'static str| {
        let path = format!("{}/{verb}", base.get_value());
        spawn_local(async move {
            match app.write::<Campaign, _>("POST", &path, &()).await {
                Ok(c) if verb == "retry" => screen.set(Screen::Edit(Some(c.id))),
                Ok(c) => {
                    let _ = loaded.try_set(Some(c));
                }
                Err(e) => app.fail(e.message),
            }
        });
    };
    let lang = move || app.session.lang.get();
    let n = move |v: u64| net::format_number(v as f64, lang().locale());
    let state = move || current.with(|c| c.as_ref().map(|c| c.state));
    let rate = move || live().map(|p| (p.rate_per_second, p.eta_seconds));
    let id_for_recipients = id.clone();
    view! {
        <div class="toolbar">
            <button class="secondary" on:click=move |_| screen.set(Screen::List)>{app.text(T::Back)}</button>
            <h1>{move || current.with(|c| c.as_ref().map(|c| c.input.name.clone()))}</h1>
        </div>
        {move || current.get().map(|c| {
            let funnel = [
                (T::Queued, c.counts.queued),
                (T::Sent, c.counts.sent),
                (T::Delivered, c.counts.delivered),
                (T::Read, c.counts.read),
                (T::Replied, c.counts.replied),
                (T::Clicked, c.counts.clicked),
                (T::Failed, c.counts.failed),
                (T::Skipped, c.counts.skipped),
            ];
            let top = c.total.max(1);
            let (d, t) = done(&c);
            view! {
                <section class="card progress">
                    <p>
                        <span class=format!("badge {}", c.state.as_str())>{app.text(state_label(c.state))}</span>
                        " "{format!("{} / {}", n(d), n(t))}
                    </p>
                    <Bar value=Signal::derive(move || current.with(|c| c.as_ref().map(done).unwrap_or((0, 0))))/>
                    {move || rate().filter(|_| state() == Some(CampaignState::Running)).map(|(r, eta)| view! {
                        <p class="sub">{format!("{}/s", crate::decimal(r, 1))}{eta.map(|s| format!(" · {} {}", app.t(T::Eta), i18n::duration(lang(), s as i64 * 1000)))}</p>
                    })}
                    {c.paused_reason.clone().map(|r| view! { <p class="warning" role="status">{app.text(T::PausedBecause)}" "{r.clone()}</p> })}
                    {c.waiting_until.filter(|_| c.state == CampaignState::Running).map(|w| view! {
                        <p class="hint">{app.text(T::WaitingForWindow)}" "{app.time(w)}</p>
                    })}
                    <div class="actions">
                        <Show when=move || matches!(state(), Some(CampaignState::Running | CampaignState::Scheduled))>
                            <button class="secondary" on:click=move |_| act("pause")>{app.text(T::Pause)}</button>
                        </Show>
                        <Show when=move || state() == Some(CampaignState::Paused)>
                            <button class="primary" on:click=move |_| act("resume")>{app.text(T::Resume)}</button>
                        </Show>
                        <Show when=move || state().is_some_and(|s| !s.finished() && s != CampaignState::Draft)>
                            <button class="danger" on:click=move |_| act("cancel")>{app.text(T::Cancel)}</button>
                        </Show>
                        <Show when=move || state().is_some_and(CampaignState::finished) && current.with(|c| c.as_ref().is_some_and(|c| c.counts.failed > 0))>
                            <button class="secondary" on:click=move |_| act("retry")>{app.text(T::RetryFailed)}</button>
                        </Show>
                    </div>
                </section>
                <section class="card funnel">
                    <h2>{app.text(T::Funnel)}</h2>
                    <ul>
                        {funnel.into_iter().map(|(label, v)| view! {
                            <li>
                                <span class="label">{app.text(label)}</span>
                                <span class="meter"><span style=format!("width:{}%", crate::decimal(v as f64 * 100.0 / top as f64, 1))></span></span>
                                <span class="value">{n(v)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                </section>
                {c.preflight.clone().map(|p| view! {
                    <section class="card">
                        <h2>{app.text(T::Estimate)}</h2>
                        <p>{app.text(T::Cost)}": "<span title=p.total_cost.clone()>{net::format_usd(&p.total_cost, lang().locale())}</span>" · "{app.text(T::Eta)}" "{i18n::duration(lang(), p.eta_seconds as i64 * 1000)}</p>
                    </section>
                })}
            }
        })}
        <Recipients id=id_for_recipients/>
    }
}

#[component]
fn Recipients(id: CampaignId) -> impl IntoView {
    let app = expect_context::<App>();
    let filter = RwSignal::new(String::new());
    let items = RwSignal::new(Vec::<Recipient>::new());
    let next = RwSignal::new(None::<String>);
    let generation = StoredValue::new(0u32);
    let load = move |more: bool| {
        let mut path = format!("/api/v1/campaigns/{id}/recipients?limit=50");
        let f = filter.get_untracked();
        if !f.is_empty() {
            path.push_str(&format!("&state={f}"));
        }
        if more {
            match next.get_untracked() {
                Some(c) => path.push_str(&format!("&cursor={}", encode(&c))),
                None => return,
            }
        } else {
            generation.update_value(|g| *g += 1);
        }
        let mine = generation.get_value();
        spawn_local(async move {
            match net::get::<Page<Recipient>>(&path).await {
                Ok(p) if generation.try_get_value() == Some(mine) => {
                    if more {
                        items.update(|i| i.extend(p.items));
                    } else {
                        items.set(p.items);
                    }
                    next.set(p.next);
                }
                Ok(_) => {}
                Err(e) => app.fail(e.message),
            }
        });
    };
    let load = StoredValue::new(load);
    load.with_value(|l| l(false));
    let label = |s: RecipientState| match s {
        RecipientState::Queued => T::Queued,
        RecipientState::Sent => T::Sent,
        RecipientState::Delivered => T::Delivered,
        RecipientState::Read => T::Read,
        RecipientState::Replied => T::Replied,
        RecipientState::Failed => T::Failed,
        RecipientState::Skipped => T::Skipped,
    };
    view! {
        <section class="card recipients">
            <h2>{app.text(T::Recipients)}</h2>
            <label>{app.text(T::State)}
                <select on:change=move |e| { filter.set(event_target_value(&e)); load.with_value(|l| l(false)); }>
                    <option value="">"—"</option>
                    {RecipientState::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{app.text(label(s))}</option> }).collect_view()}
                </select>
            </label>
            <ul class="recipient-rows">
                {move || items.get().into_iter().map(|r| view! {
                    <li>
                        <span>{r.wa_id}</span>
                        <span class=format!("badge {}", r.state.as_str())>{app.text(label(r.state))}</span>
                        {r.clicked.then(|| view! { <span class="badge">{app.text(T::Clicked)}</span> })}
                        {r.reason.map(|x| view! { <span class="sub">{x}</span> })}
                    </li>
                }).collect_view()}
            </ul>
            <Show when=move || next.with(Option::is_some)>
                <button class="secondary" on:click=move |_| load.with_value(|l| l(true))>{app.text(T::LoadMore)}</button>
            </Show>
        </section>
    }
}
