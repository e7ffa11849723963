//! Reports in the app: conversations over a range of days grouped by day, agent, team, number
//! or country, with the spread of first responses and resolutions (median, 90th and 99th
//! percentiles, mean and standard deviation, not an average alone), counted on the wall clock or
//! in business hours; customers' satisfaction with its 95% interval and the scores' spread;
//! agents' working time (online, available, on a break) and how many conversations they held at
//! once; each as CSV, and the printable page of the last 30 days.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::reports::{
    AgentActivityReport, AgentActivityRow, ConversationReport, CsatReport, CsatRow, Durations,
    ReportClock, ReportGroup, ReportRow,
};

use crate::app::{encode, App};
use crate::i18n::{duration, T};
use crate::net;

fn group_label(g: ReportGroup) -> T {
    match g {
        ReportGroup::Day => T::ByDay,
        ReportGroup::Agent => T::ByAgent,
        ReportGroup::Team => T::ByTeam,
        ReportGroup::Number => T::ByNumber,
        ReportGroup::Country => T::ByCountry,
    }
}

/// A group as people read it: its label, else its key, else "none".
fn shown(key: &Option<String>, label: &Option<String>, app: App) -> String {
    label
        .clone()
        .or_else(|| key.clone())
        .unwrap_or_else(|| app.t(T::None).to_owned())
}

#[component]
pub(crate) fn ReportsView() -> impl IntoView {
    let app = expect_context::<App>();
    let group = RwSignal::new(ReportGroup::Day);
    let clock = RwSignal::new(ReportClock::Wall);
    let from = RwSignal::new(net::utc_day(-29));
    let to = RwSignal::new(net::utc_day(1));
    let report = RwSignal::new(None::<ConversationReport>);
    let csat = RwSignal::new(None::<CsatReport>);
    let agents = RwSignal::new(None::<AgentActivityReport>);
    let query = move || {
        format!(
            "group_by={}&from={}&to={}&clock={}",
            group.get().as_str(),
            encode(&from.get()),
            encode(&to.get()),
            match clock.get() {
                ReportClock::Wall => "wall",
                ReportClock::Business => "business",
            }
        )
    };
    let generation = StoredValue::new(0u32);
    Effect::new(move |_| {
        let q = query();
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        spawn_local(async move {
            let conversations =
                net::get::<ConversationReport>(&format!("/api/v1/reports/conversations?{q}")).await;
            let plain = q.split("&clock=").next().unwrap_or_default().to_owned();
            let satisfaction =
                net::get::<CsatReport>(&format!("/api/v1/reports/csat?{plain}")).await;
            // Working time is by agent, team or day only.
            let activity = if matches!(
                group.get_untracked(),
                ReportGroup::Agent | ReportGroup::Team | ReportGroup::Day
            ) {
                net::get::<AgentActivityReport>(&format!("/api/v1/reports/agents?{plain}"))
                    .await
                    .ok()
            } else {
                None
            };
            if generation.try_get_value() != Some(mine) {
                return;
            }
            match conversations {
                Ok(r) => report.set(Some(r)),
                Err(e) => app.fail(e.message),
            }
            if let Ok(c) = satisfaction {
                csat.set(Some(c));
            }
            agents.set(activity);
        });
    });
    let lang = move || app.session.lang.get();
    let n = move |v: u64| net::format_number(v as f64, lang().locale());
    let ms = move |v: Option<f64>| {
        v.map(|v| duration(lang(), v.round() as i64))
            .unwrap_or_else(|| "—".to_owned())
    };
    let spread = move |d: &Durations| {
        view! {
            <td class="median">{ms(d.median_ms)}</td>
            <td>{ms(d.p90_ms)}</td>
            <td>{ms(d.p99_ms)}</td>
            <td>{ms(d.stddev_ms)}</td>
        }
    };
    let row = move |r: &ReportRow, class: &'static str| {
        view! {
            <tr class=class data-key=r.key.clone().unwrap_or_default()>
                <td>{if class == "total" { app.t(T::Total).to_owned() } else { shown(&r.key, &r.label, app) }}</td>
                <td>{n(r.conversations)}</td>
                <td>{n(r.resolved)}</td>
                <td>{n(r.unanswered)}</td>
                {spread(&r.first_response)}
                {spread(&r.resolution)}
            </tr>
        }
    };
    let date = move |sig: RwSignal<String>, label: T| {
        view! { <label>{app.text(label)}<input type="date" prop:value=move || sig.get() on:change=move |e| sig.set(event_target_value(&e))/></label> }
    };
    let score = move |r: &CsatRow| {
        let mean = r
            .mean
            .map(|m| crate::decimal(m, 2))
            .unwrap_or_else(|| "—".to_owned());
        let interval = r
            .ci95
            .map(|[lo, hi]| format!("{}–{}", crate::decimal(lo, 2), crate::decimal(hi, 2)))
            .unwrap_or_else(|| "—".to_owned());
        let rate = r
            .response_rate
            .map(|x| format!("{}%", crate::decimal(x * 100.0, 0)))
            .unwrap_or_else(|| "—".to_owned());
        let most = r.distribution.iter().copied().max().unwrap_or(0).max(1);
        view! {
            <td>{n(r.sent)}</td><td>{n(r.n)}</td><td>{rate}</td><td class="mean">{mean}</td><td>{interval}</td>
            <td class="distribution">{r.distribution.iter().enumerate().map(|(i, c)| view! {
                <span class="bar" title=format!("{}: {c}", i + 1)
                    style=format!("height:{}%", crate::decimal(*c as f64 * 100.0 / most as f64, 0))></span>
            }).collect_view()}</td>
        }
    };
    let hours = move |v: i64| {
        if v == 0 {
            "—".to_owned()
        } else {
            duration(lang(), v)
        }
    };
    let working = move |r: &AgentActivityRow, class: &'static str| {
        let mean = r
            .concurrency_mean
            .map(|m| crate::decimal(m, 1))
            .unwrap_or_else(|| "—".to_owned());
        view! {
            <tr class=class>
                <td>{if class == "total" { app.t(T::Total).to_owned() } else { shown(&r.key, &r.label, app) }}</td>
                <td>{hours(r.online_ms)}</td><td>{hours(r.available_ms)}</td><td>{hours(r.break_ms)}</td>
                <td>{mean}</td><td>{r.concurrency_peak}</td><td>{n(r.first_responses)}</td><td>{n(r.resolved)}</td>
            </tr>
        }
    };
    view! {
        <main class="reports">
            <div class="toolbar">
                <h1>{app.text(T::Reports)}</h1>
                <a class="button secondary export" download="conversations.csv"
                    href=move || format!("/api/v1/reports/conversations?{}&format=csv", query())>{app.text(T::ExportCsv)}</a>
                <a class="button secondary" target="_blank" rel="noopener"
                    href=move || format!("/api/v1/reports/overview?format=html&lang={}", lang().code())>{app.text(T::PrintableReport)}</a>
            </div>
            <div class="tabs" role="tablist">
                {ReportGroup::ALL.into_iter().map(|g| view! {
                    <button class="tab" role="tab" data-group=g.as_str() aria-selected=move || (group.get() == g).to_string()
                        class:active=move || group.get() == g on:click=move |_| group.set(g)>{app.text(group_label(g))}</button>
                }).collect_view()}
            </div>
            <div class="inline">
                {date(from, T::From)}{date(to, T::To)}
                <label>{app.text(T::Clock)}<select class="clock" on:change=move |e| clock.set(
                    if event_target_value(&e) == "business" { ReportClock::Business } else { ReportClock::Wall })>
                    <option value="wall">{app.text(T::WallClock)}</option>
                    <option value="business">{app.text(T::BusinessHours)}</option>
                </select></label>
            </div>
            {move || report.get().map(|r| view! {
                <div class="scroll">
                    <table class="spread">
                        <thead>
                            <tr><th rowspan="2">{app.text(group_label(r.group_by))}</th><th rowspan="2">{app.text(T::Conversations)}</th>
                                <th rowspan="2">{app.text(T::StateResolved)}</th><th rowspan="2">{app.text(T::Unanswered)}</th>
                                <th colspan="4">{app.text(T::FirstResponse)}</th><th colspan="4">{app.text(T::Resolution)}</th></tr>
                            <tr><th>{app.text(T::Median)}</th><th>"p90"</th><th>"p99"</th><th>"σ"</th>
                                <th>{app.text(T::Median)}</th><th>"p90"</th><th>"p99"</th><th>"σ"</th></tr>
                        </thead>
                        <tbody>{r.groups.iter().map(|g| row(g, "group")).collect_view()}</tbody>
                        <tfoot>{row(&r.total, "total")}</tfoot>
                    </table>
                </div>
                {r.groups.is_empty().then(|| view! { <p class="empty">{app.text(T::NoConversationsInRange)}</p> })}
            })}
            {move || agents.get().filter(|a| !a.groups.is_empty()).map(|a| view! {
                <h2>{app.text(T::WorkingTime)}</h2>
                <div class="scroll">
                    <table class="working">
                        <thead><tr><th>{app.text(group_label(a.group_by))}</th><th>{app.text(T::Online)}</th><th>{app.text(T::StatusAvailable)}</th>
                            <th>{app.text(T::StatusBreak)}</th><th>{app.text(T::AtOnceMean)}</th><th>{app.text(T::AtOncePeak)}</th>
                            <th>{app.text(T::FirstResponses)}</th><th>{app.text(T::StateResolved)}</th></tr></thead>
                        <tbody>{a.groups.iter().map(|g| working(g, "group")).collect_view()}</tbody>
                        <tfoot>{working(&a.total, "total")}</tfoot>
                    </table>
                </div>
            })}
            {move || csat.get().filter(|c| c.total.sent > 0).map(|c| view! {
                <h2>{app.text(T::Satisfaction)}</h2>
                <div class="scroll">
                    <table class="csat">
                        <thead><tr><th>{app.text(group_label(c.group_by))}</th><th>{app.text(T::SurveysSent)}</th><th>{app.text(T::Scores)}</th>
                            <th>{app.text(T::ResponseRate)}</th><th>{app.text(T::Mean)}</th><th>{app.text(T::Interval95)}</th><th>"1–5"</th></tr></thead>
                        <tbody>{c.groups.iter().map(|g| view! { <tr><td>{shown(&g.key, &g.label, app)}</td>{score(g)}</tr> }).collect_view()}</tbody>
                        <tfoot><tr class="total"><td>{app.text(T::Total)}</td>{score(&c.total)}</tr></tfoot>
                    </table>
                </div>
                <ul class="comments">
                    {c.total.comments.iter().take(5).map(|m| view! {
                        <li><b>{"★".repeat(m.score as usize)}</b>" "{m.comment.clone()}</li>
                    }).collect_view()}
                </ul>
            })}
        </main>
    }
}
