//! The supervisor's live board.

use leptos::prelude::*;
use switchboard_shared::protocol::{AgentStatus, BoardStats, Presence};

use crate::app::App;
use crate::components::*;
use crate::i18n::{self, T};
use crate::net;

#[component]
pub(crate) fn BoardView() -> impl IntoView {
    let app = expect_context::<App>();
    // The team whose part of the board is shown (none: the whole workspace).
    let team = RwSignal::new(String::new());
    let board = move || {
        let b = app.inbox.board.get().unwrap_or_default();
        let chosen = team.get();
        match b.teams.iter().find(|t| t.team.as_str() == chosen) {
            Some(t) => BoardStats {
                teams: b.teams.clone(),
                ..t.board.clone()
            },
            None => b,
        }
    };
    let shown = move |u: &switchboard_shared::ids::UserId| {
        let chosen = team.get();
        chosen.is_empty()
            || app.inbox.board.with(|b| {
                b.iter()
                    .flat_map(|b| &b.teams)
                    .any(|t| t.team.as_str() == chosen && t.members.contains(u))
            })
    };
    let lang = move || app.session.lang.get();
    let ms = move |v: Option<i64>| {
        v.map(|v| i18n::duration(lang(), v))
            .unwrap_or_else(|| "—".into())
    };
    let agent_name = move |u: &switchboard_shared::ids::UserId| {
        app.inbox
            .agents
            .with(|a| a.iter().find(|a| &a.user == u).map(|a| a.name.clone()))
            .unwrap_or_else(|| u.to_string())
    };
    view! {
        <main class="board">
            <Show when=move || app.inbox.board.with(|b| b.as_ref().is_some_and(|b| !b.teams.is_empty()))>
                <select class="team" aria-label=move || app.t(T::Teams) on:change=move |e| team.set(event_target_value(&e))>
                    <option value="">{app.text(T::AllTeams)}</option>
                    {move || board().teams.into_iter().map(|t| view! { <option value=t.team.to_string()>{t.name}</option> }).collect_view()}
                </select>
            </Show>
            <section class="cards">
                <div class="stat"><span class="label">{app.text(T::Queue)}</span>
                    <span class="value" data-figure="queue">{move || net::format_number(board().queue_depth as f64, lang().locale())}</span>
                    <span class="sub">{move || board().oldest_queued_since.map(|s| format!("{}: {}", app.t(T::OldestWait), i18n::duration(lang(), app.session.now.get() - s))).unwrap_or_default()}</span></div>
                <div class="stat"><span class="label">{app.text(T::FirstResponseMedian)}</span>
                    <span class="value">{move || ms(board().first_response_median_ms)}</span>
                    <span class="sub">{move || format!("{}: {}", app.t(T::FirstResponsesToday), net::format_number(board().first_responses_today as f64, lang().locale()))}</span></div>
                <div class="stat"><span class="label">{move || app.t(T::FirstResponseP90)}</span>
                    <span class="value">{move || ms(board().first_response_p90_ms)}</span></div>
                <div class="stat"><span class="label">{app.text(T::ResolvedLastHour)}</span>
                    <span class="value">{move || net::format_number(board().resolved_last_hour as f64, lang().locale())}</span></div>
            </section>
            <a class="reports" target="_blank" rel="noopener"
                href=move || format!("/api/v1/reports/overview?format=html&lang={}", lang().code())>
                {app.text(T::FullReports)}</a>
            <section class="chart">
                <h2>{app.text(T::Queue)}</h2>
                <QueueChart/>
            </section>
            <section>
                <h2>{app.text(T::AtRisk)}</h2>
                <Show when=move || board().at_risk.is_empty()>
                    <p class="sub">{app.text(T::None)}</p>
                </Show>
                <ul class="risk">
                    {move || board().at_risk.into_iter().map(|r| {
                        let id = r.conversation.clone();
                        let who = r.assignee.as_ref().map(agent_name).unwrap_or_else(|| app.t(T::Nobody).to_owned());
                        view! {
                            <li class:breached=r.breached>
                                <button class="link" on:click=move |_| app.open_conversation(id.clone())>{r.conversation.to_string()}</button>
                                <span>{who}</span>
                                <span class="wait">{move || i18n::duration(lang(), app.session.now.get() - r.waiting_since)}</span>
                                {r.breached.then(|| view! { <span class="state breached">{app.text(T::Breached)}</span> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
            <section>
                <h2>{app.text(T::Agents)}</h2>
                <table class="agents">
                    <thead><tr><th>{app.text(T::Name)}</th><th>{app.text(T::Presence)}</th><th>{app.text(T::State)}</th><th>{app.text(T::Load)}</th></tr></thead>
                    <tbody>
                        {move || app.inbox.agents.get().into_iter().filter(|a| shown(&a.user)).map(|a| {
                            let load = board().agents.into_iter().find(|l| l.user == a.user);
                            let (active, capacity) = load.map(|l| (l.active, l.capacity)).unwrap_or((0, 0));
                            let pct = (active * 100).checked_div(capacity).unwrap_or(0).min(100);
                            let presence = match a.presence { Presence::Online => T::Online, Presence::Away => T::Away, Presence::Offline => T::OfflinePresence };
                            let status = match a.status { AgentStatus::Available => T::StatusAvailable, AgentStatus::Busy => T::StatusBusy, AgentStatus::Break => T::StatusBreak };
                            view! {
                                <tr>
                                    <td>{a.name.clone()}</td>
                                    <td><span class=match a.presence { Presence::Online => "dot online", Presence::Away => "dot away", Presence::Offline => "dot offline" }></span>{app.text(presence)}</td>
                                    <td>{app.text(status)}</td>
                                    <td><div class="bar"><div class="fill" style=format!("width:{pct}%")></div></div><span class="sub">{if capacity == 0 { "—".to_owned() } else { format!("{active}/{capacity}") }}</span></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </main>
    }
}
