//! Costs: what Meta priced, from the ledger, grouped by month, number, country, campaign, team
//! or category over a range of days, as a bar chart and a table with the exact amounts, the
//! rate card in force, and the per-message CSV to reconcile with Meta's invoice.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_shared::costs::{CostGroup, CostLine, CostReport, RateCard};

use crate::app::{encode, App};
use crate::i18n::T;
use crate::net;

fn group_label(g: CostGroup) -> T {
    match g {
        CostGroup::Month => T::ByMonth,
        CostGroup::Number => T::ByNumber,
        CostGroup::Team => T::ByTeam,
        CostGroup::Campaign => T::ByCampaign,
        CostGroup::Country => T::ByCountry,
        CostGroup::Category => T::ByCategory,
    }
}

/// A line's group as people read it: its label (a campaign's name, a number as dialled), else
/// its key, and "none" for messages outside any group (no campaign, no team).
fn shown(l: &CostLine, app: App) -> String {
    match (&l.label, l.key.is_empty()) {
        (Some(label), _) => label.clone(),
        (None, true) => app.t(T::None).to_owned(),
        (None, false) => l.key.clone(),
    }
}

/// `YYYY-MM-01` of the month `offset` months from this one (UTC).
fn month_start(offset: i32) -> String {
    let now = js_sys::Date::new_0();
    let months = now.get_utc_full_year() as i32 * 12 + now.get_utc_month() as i32 + offset;
    format!(
        "{:04}-{:02}-01",
        months.div_euclid(12),
        months.rem_euclid(12) + 1
    )
}

#[component]
pub(crate) fn CostsView() -> impl IntoView {
    let app = expect_context::<App>();
    let group = RwSignal::new(CostGroup::Month);
    let from = RwSignal::new(month_start(-11));
    let to = RwSignal::new(month_start(1));
    let report = RwSignal::new(None::<CostReport>);
    let card = RwSignal::new(None::<RateCard>);
    spawn_local(async move {
        if let Ok(c) = net::get::<RateCard>("/api/v1/costs/rate-card").await {
            card.set(Some(c));
        }
    });
    let range = move || format!("from={}&to={}", encode(&from.get()), encode(&to.get()));
    let generation = StoredValue::new(0u32);
    Effect::new(move |_| {
        let path = format!(
            "/api/v1/costs?group_by={}&{}",
            group.get().as_str(),
            range()
        );
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        spawn_local(async move {
            let answer = net::get::<CostReport>(&path).await;
            if generation.try_get_value() != Some(mine) {
                return;
            }
            match answer {
                Ok(r) => report.set(Some(r)),
                Err(e) => app.fail(e.message),
            }
        });
    });
    let lang = move || app.session.lang.get();
    let n = move |v: u64| net::format_number(v as f64, lang().locale());
    let date = move |sig: RwSignal<String>, label: T| {
        view! { <label>{app.text(label)}<input type="date" prop:value=move || sig.get() on:change=move |e| sig.set(event_target_value(&e))/></label> }
    };
    view! {
        <main class="costs">
            <div class="toolbar">
                <h1>{app.text(T::Costs)}</h1>
                <a class="button secondary" download="charges.csv"
                    href=move || format!("/api/v1/costs/charges?{}", range())>{app.text(T::ExportCsv)}</a>
            </div>
            <div class="tabs" role="tablist">
                {CostGroup::ALL.into_iter().map(|g| view! {
                    <button class="tab" role="tab" aria-selected=move || (group.get() == g).to_string()
                        class:active=move || group.get() == g on:click=move |_| group.set(g)>{app.text(group_label(g))}</button>
                }).collect_view()}
            </div>
            <div class="inline">{date(from, T::From)}{date(to, T::To)}</div>
            {move || report.get().map(|r| {
                let top = r.lines.iter().map(|l| l.amount.parse::<f64>().unwrap_or(0.0)).fold(0.0, f64::max);
                let (total, title) = (r.total.amount.clone(), r.total.amount.clone());
                view! {
                    <p class="total">{app.text(T::Total)}": "<strong title=title>{move || net::format_usd(&total, lang().locale())}</strong>
                        {format!(" · {} ", n(r.total.messages))}{move || app.t(T::Messages).to_lowercase()}
                        {format!(" · {} ", n(r.total.billed))}{move || app.t(T::Billed).to_lowercase()}</p>
                    <Show when=move || { r.total.unpriced > 0 }>
                        <p class="warning">{move || format!("{}: {}", app.t(T::Unpriced), r.total.unpriced)}</p>
                    </Show>
                    {if r.lines.is_empty() {
                        view! { <p class="empty">{app.text(T::NoCosts)}</p> }.into_any()
                    } else {
                        view! {
                            <figure class="cost-chart" aria-hidden="true">
                                {r.lines.iter().map(|l| {
                                    let v = l.amount.parse::<f64>().unwrap_or(0.0);
                                    let width = if top > 0.0 { v * 100.0 / top } else { 0.0 };
                                    let amount = l.amount.clone();
                                    view! {
                                        <div class="chart-row">
                                            <span class="label">{shown(l, app)}</span>
                                            <span class="meter"><span style=format!("width:{}%", crate::decimal(width, 1))></span></span>
                                            <span class="value">{move || net::format_usd(&amount, lang().locale())}</span>
                                        </div>
                                    }
                                }).collect_view()}
                            </figure>
                            <table>
                                <thead><tr><th>{app.text(group_label(r.group_by))}</th><th>{app.text(T::Messages)}</th><th>{app.text(T::Billed)}</th><th>{app.text(T::Unpriced)}</th><th>{app.text(T::Cost)}</th></tr></thead>
                                <tbody>
                                    {r.lines.iter().map(|l| {
                                        let (amount, title) = (l.amount.clone(), l.amount.clone());
                                        view! { <tr><td>{shown(l, app)}</td><td>{n(l.messages)}</td><td>{n(l.billed)}</td><td>{n(l.unpriced)}</td><td title=title>{move || net::format_usd(&amount, lang().locale())}</td></tr> }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                }
            })}
            {move || card.get().map(|c| view! {
                <p class="hint">{app.text(T::RateCard)}": "{c.source.clone()}" · "{c.origin.clone()}{format!(" · {} ", c.countries)}{app.text(T::Countries)}</p>
            })}
        </main>
    }
}
