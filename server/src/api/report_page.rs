//! The supervisors' report page: `GET reports/overview?format=html`, one self-contained HTML
//! document (inline CSS and SVG charts, no script) in English or Russian, opened from the PWA's
//! board and printable as it is. The figures are `service::reports::overview`'s, the same the
//! JSON form and the other report endpoints give.

use std::fmt::Write as _;

use html_escape::encode_text as esc;
use switchboard_shared::reports::{
    AgentActivityRow, CsatRow, Durations, ReportOverview, ReportRow,
};

/// The page's words in one language.
struct Words {
    lang: &'static str,
    title: &'static str,
    range: &'static str,
    conversations: &'static str,
    resolved: &'static str,
    unanswered: &'static str,
    messages: &'static str,
    first_response: &'static str,
    resolution: &'static str,
    median: &'static str,
    csat: &'static str,
    by_day: &'static str,
    frt_by_day: &'static str,
    distribution: &'static str,
    csat_scores: &'static str,
    by_team: &'static str,
    by_country: &'static str,
    team: &'static str,
    country: &'static str,
    no_team: &'static str,
    unknown: &'static str,
    answers: &'static str,
    comments: &'static str,
    none: &'static str,
    up_to: &'static str,
    over: &'static str,
    /// Units: seconds, minutes, hours, days.
    units: [&'static str; 4],
    note: &'static str,
    agents: &'static str,
    agent: &'static str,
    online: &'static str,
    available: &'static str,
    on_break: &'static str,
    at_once: &'static str,
    first_responses: &'static str,
}

const EN: Words = Words {
    lang: "en",
    title: "Reports",
    range: "Conversations opened",
    conversations: "Conversations",
    resolved: "Resolved",
    unanswered: "Unanswered",
    messages: "Messages in / out",
    first_response: "First response",
    resolution: "Resolution",
    median: "median",
    csat: "CSAT",
    by_day: "Conversations by day",
    frt_by_day: "Median first response by day",
    distribution: "How long customers waited for a first response",
    csat_scores: "CSAT scores",
    by_team: "By team",
    by_country: "By country",
    team: "Team",
    country: "Country",
    no_team: "No team",
    unknown: "Unknown",
    answers: "answers",
    comments: "Latest comments",
    none: "Nothing in this range yet.",
    up_to: "up to",
    over: "over",
    units: ["s", "min", "h", "d"],
    note: "Percentiles interpolate between ranks; σ is the sample standard deviation; the CSAT \
           interval is Student's t at 95%. Times are UTC.",
    agents: "Agents",
    agent: "Agent",
    online: "Online",
    available: "Available",
    on_break: "Break",
    at_once: "At once (mean / peak)",
    first_responses: "First responses",
};

const RU: Words = Words {
    lang: "ru",
    title: "Отчёты",
    range: "Обращения, открытые",
    conversations: "Обращения",
    resolved: "Решено",
    unanswered: "Без ответа",
    messages: "Сообщения вх. / исх.",
    first_response: "Первый ответ",
    resolution: "Решение",
    median: "медиана",
    csat: "CSAT",
    by_day: "Обращения по дням",
    frt_by_day: "Медиана первого ответа по дням",
    distribution: "Сколько клиенты ждали первого ответа",
    csat_scores: "Оценки CSAT",
    by_team: "По командам",
    by_country: "По странам",
    team: "Команда",
    country: "Страна",
    no_team: "Без команды",
    unknown: "Неизвестно",
    answers: "ответов",
    comments: "Последние комментарии",
    none: "За этот период данных пока нет.",
    up_to: "до",
    over: "более",
    units: ["с", "мин", "ч", "д"],
    note: "Процентили интерполируются между рангами; σ — выборочное стандартное отклонение; \
           интервал CSAT — t-распределение Стьюдента, 95%. Время — UTC.",
    agents: "Агенты",
    agent: "Агент",
    online: "В сети",
    available: "Доступен",
    on_break: "Перерыв",
    at_once: "Одновременно (сред. / макс.)",
    first_responses: "Первые ответы",
};

/// The words for `lang` (`ru…` is Russian; anything else English).
fn words(lang: &str) -> &'static Words {
    if lang.starts_with("ru") {
        &RU
    } else {
        &EN
    }
}

/// A duration as people read it: `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`.
fn duration(ms: f64, w: &Words) -> String {
    let s = (ms / 1000.0).round() as i64;
    let [sec, min, hour, day] = w.units;
    // The larger unit and the next, the next left out when it is zero.
    let (big, big_unit, small, small_unit) = match s {
        s if s < 60 => return format!("{s} {sec}"),
        s if s < 3_600 => (s / 60, min, s % 60, sec),
        s if s < 86_400 => (s / 3_600, hour, s % 3_600 / 60, min),
        s => (s / 86_400, day, s % 86_400 / 3_600, hour),
    };
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small} {small_unit}")
    }
}

fn opt_duration(ms: Option<f64>, w: &Words) -> String {
    ms.map_or_else(|| "–".to_owned(), |ms| duration(ms, w))
}

fn number(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn csat_cell(c: &CsatRow) -> String {
    match (c.mean, c.ci95) {
        (Some(m), Some([lo, hi])) => format!(
            "{m:.2} (σ {}, n {}, 95%: {lo:.2}–{hi:.2})",
            number(c.stddev, 2),
            c.n
        ),
        (Some(m), None) => format!("{m:.2} (n {})", c.n),
        _ => "–".to_owned(),
    }
}

/// A bar chart of `values` under `labels`, `format` writing a value for its tooltip.
fn bars(title: &str, labels: &[String], values: &[f64], format: impl Fn(f64) -> String) -> String {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const PAD: f64 = 24.0;
    let max = values.iter().copied().fold(0.0f64, f64::max).max(1.0);
    let n = values.len().max(1) as f64;
    let slot = (W - PAD) / n;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(title),
        H + PAD,
        esc(title)
    );
    for (i, (label, &v)) in labels.iter().zip(values).enumerate() {
        let h = (v / max) * (H - PAD);
        let x = PAD + i as f64 * slot;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{}: {}</title></rect>",
            x + slot * 0.1,
            H - h,
            slot * 0.8,
            esc(label),
            esc(&format(v))
        );
        // A label under every bar when they fit, else under every seventh.
        if slot >= 40.0 || i % 7 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + slot / 2.0,
                H + 16.0,
                esc(label)
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\" class=\"max\">{}</text></svg></figure>",
        esc(&format(max))
    );
    svg
}

fn durations_cells(d: &Durations, w: &Words) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td>",
        opt_duration(d.median_ms, w),
        opt_duration(d.p90_ms, w),
        opt_duration(d.stddev_ms, w)
    )
}

fn group_table(
    title: &str,
    column: &str,
    rows: &[ReportRow],
    csat: &[CsatRow],
    unnamed: &str,
    w: &Words,
) -> String {
    let mut html = format!(
        "<h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
         <th>{} ({})</th><th>p90</th><th>σ</th><th>{} ({})</th><th>{}</th></tr></thead><tbody>",
        esc(title),
        esc(column),
        esc(w.conversations),
        esc(w.unanswered),
        esc(w.first_response),
        esc(w.median),
        esc(w.resolution),
        esc(w.median),
        esc(w.csat)
    );
    for r in rows {
        let name = r.label.as_deref().or(r.key.as_deref()).unwrap_or(unnamed);
        let scores = csat
            .iter()
            .find(|c| c.key == r.key)
            .map_or_else(|| "–".to_owned(), csat_cell);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
            esc(name),
            r.conversations,
            r.unanswered,
            durations_cells(&r.first_response, w),
            opt_duration(r.resolution.median_ms, w),
            esc(&scores)
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// Each agent's working time, how many conversations they held at once and what they handled.
fn agents_table(rows: &[AgentActivityRow], w: &Words) -> String {
    let mut html = format!(
        "<h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(w.agents),
        esc(w.agent),
        esc(w.online),
        esc(w.available),
        esc(w.on_break),
        esc(w.at_once),
        esc(w.conversations),
        esc(w.resolved),
        esc(w.first_responses),
    );
    let time = |ms: i64| duration(ms as f64, w);
    for r in rows {
        let name = r.label.as_deref().or(r.key.as_deref()).unwrap_or("–");
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(name),
            time(r.online_ms),
            time(r.available_ms),
            time(r.break_ms),
            number(r.concurrency_mean, 1),
            r.concurrency_peak,
            r.conversations,
            r.resolved,
            r.first_responses,
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// The whole page.
pub fn render(o: &ReportOverview, lang: &str) -> String {
    let w = words(lang);
    let t = &o.total;
    let mut html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Switchboard</title><style>{STYLE}</style></head><body><main>\
         <h1>{}</h1><p class=\"range\">{}: {} – {}</p>",
        w.lang,
        esc(w.title),
        esc(w.title),
        esc(w.range),
        esc(&o.from),
        esc(&o.to)
    );
    let kpi = |label: &str, value: String, detail: String| {
        format!(
            "<div class=\"kpi\"><span>{}</span><strong>{}</strong><small>{}</small></div>",
            esc(label),
            esc(&value),
            esc(&detail)
        )
    };
    html.push_str("<section class=\"kpis\">");
    html.push_str(&kpi(
        w.conversations,
        t.conversations.to_string(),
        format!("{} {}", w.resolved, t.resolved),
    ));
    html.push_str(&kpi(
        w.unanswered,
        t.unanswered.to_string(),
        format!("{} {} / {}", w.messages, t.messages_in, t.messages_out),
    ));
    html.push_str(&kpi(
        &format!("{}, {}", w.first_response, w.median),
        opt_duration(t.first_response.median_ms, w),
        format!(
            "p90 {} · p99 {} · σ {}",
            opt_duration(t.first_response.p90_ms, w),
            opt_duration(t.first_response.p99_ms, w),
            opt_duration(t.first_response.stddev_ms, w)
        ),
    ));
    html.push_str(&kpi(
        &format!("{}, {}", w.resolution, w.median),
        opt_duration(t.resolution.median_ms, w),
        format!("p90 {}", opt_duration(t.resolution.p90_ms, w)),
    ));
    html.push_str(&kpi(
        w.csat,
        number(o.csat.mean, 2),
        o.csat.ci95.map_or_else(
            || format!("n {}", o.csat.n),
            |[lo, hi]| {
                format!(
                    "σ {} · n {} · 95%: {lo:.2}–{hi:.2}",
                    number(o.csat.stddev, 2),
                    o.csat.n
                )
            },
        ),
    ));
    html.push_str("</section>");
    if t.conversations == 0 {
        let _ = write!(html, "<p class=\"none\">{}</p>", esc(w.none));
    }
    let days: Vec<String> = o
        .by_day
        .iter()
        .map(|r| {
            r.key
                .as_deref()
                .unwrap_or("")
                .get(5..)
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let counts: Vec<f64> = o.by_day.iter().map(|r| r.conversations as f64).collect();
    html.push_str(&bars(w.by_day, &days, &counts, |v| format!("{v:.0}")));
    let medians: Vec<f64> = o
        .by_day
        .iter()
        .map(|r| r.first_response.median_ms.unwrap_or(0.0))
        .collect();
    html.push_str(&bars(w.frt_by_day, &days, &medians, |v| duration(v, w)));
    let mut previous = None;
    let buckets: Vec<String> = o
        .first_response_histogram
        .iter()
        .map(|b| {
            let label = match b.upto_ms {
                Some(ms) => format!("{} {}", w.up_to, duration(ms as f64, w)),
                None => format!(
                    "{} {}",
                    w.over,
                    previous.map_or_else(String::new, |p: i64| duration(p as f64, w))
                ),
            };
            previous = b.upto_ms;
            label
        })
        .collect();
    let counts: Vec<f64> = o
        .first_response_histogram
        .iter()
        .map(|b| b.count as f64)
        .collect();
    html.push_str(&bars(w.distribution, &buckets, &counts, |v| {
        format!("{v:.0}")
    }));
    let scores: Vec<String> = (1..=5).map(|s| s.to_string()).collect();
    let given: Vec<f64> = o.csat.distribution.iter().map(|&c| c as f64).collect();
    html.push_str(&bars(
        &format!("{} ({} {})", w.csat_scores, o.csat.n, w.answers),
        &scores,
        &given,
        |v| format!("{v:.0}"),
    ));
    html.push_str(&group_table(
        w.by_team,
        w.team,
        &o.by_team,
        &o.csat_by_team,
        w.no_team,
        w,
    ));
    html.push_str(&group_table(
        w.by_country,
        w.country,
        &o.by_country,
        &[],
        w.unknown,
        w,
    ));
    if !o.agents.is_empty() {
        html.push_str(&agents_table(&o.agents, w));
    }
    if !o.csat.comments.is_empty() {
        let _ = write!(html, "<h2>{}</h2><ul class=\"comments\">", esc(w.comments));
        for c in &o.csat.comments {
            let _ = write!(html, "<li><b>{}</b> {}</li>", c.score, esc(&c.comment));
        }
        html.push_str("</ul>");
    }
    let _ = write!(
        html,
        "<p class=\"note\">{}</p></main></body></html>",
        esc(w.note)
    );
    html
}

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}\
main{max-width:960px;margin:0 auto;padding:16px}h1{margin:0 0 4px}.range{color:#5b6b7c;margin:0 0 16px}\
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:8px}\
.kpi{background:#fff;border-radius:8px;padding:10px;display:flex;flex-direction:column}\
.kpi span{color:#5b6b7c;font-size:13px}.kpi strong{font-size:22px}.kpi small{color:#5b6b7c}\
figure{background:#fff;border-radius:8px;margin:12px 0;padding:10px}figcaption{font-weight:600}\
svg{width:100%;height:auto}rect{fill:#2f7de1}text{font-size:11px;fill:#5b6b7c}\
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;font-size:14px}\
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e8ee}\
.comments li{margin:4px 0}.note{color:#5b6b7c;font-size:12px}\
@media print{body{background:#fff}figure,.kpi,table{break-inside:avoid}}";

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::reports::HistogramBucket;

    fn overview() -> ReportOverview {
        let row = |key: &str, n: u64| ReportRow {
            key: Some(key.into()),
            conversations: n,
            first_response: Durations {
                n,
                median_ms: Some(95_000.0),
                p90_ms: Some(600_000.0),
                ..Durations::default()
            },
            ..ReportRow::default()
        };
        ReportOverview {
            from: "2026-11-06".into(),
            to: "2026-12-06".into(),
            total: row("total", 3),
            by_day: vec![row("2026-11-06", 1), row("2026-11-07", 2)],
            by_team: vec![ReportRow {
                label: Some("Support <EU>".into()),
                ..row("t_1", 3)
            }],
            by_country: vec![ReportRow {
                key: None,
                ..row("x", 3)
            }],
            first_response_histogram: vec![
                HistogramBucket {
                    upto_ms: Some(60_000),
                    count: 1,
                },
                HistogramBucket {
                    upto_ms: None,
                    count: 2,
                },
            ],
            csat: CsatRow::default(),
            csat_by_team: vec![],
            agents: vec![AgentActivityRow {
                key: Some("u_1".into()),
                label: Some("Ada <Lovelace>".into()),
                online_ms: 7_500_000,
                available_ms: 3_600_000,
                concurrency_mean: Some(1.25),
                concurrency_peak: 3,
                conversations: 12,
                ..AgentActivityRow::default()
            }],
        }
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45_400.0, &EN), "45 s");
        assert_eq!(duration(200_000.0, &EN), "3 min 20 s");
        assert_eq!(duration(7_500_000.0, &RU), "2 ч 5 мин");
        assert_eq!(duration(3.0 * 86_400_000.0 + 3_600_000.0, &EN), "3 d 1 h");
        assert_eq!(duration(60_000.0, &EN), "1 min");
        assert_eq!(duration(14_400_000.0, &RU), "4 ч");
    }

    #[test]
    fn the_page_is_in_the_asked_language_and_escapes_names() {
        let en = render(&overview(), "en");
        assert!(en.starts_with("<!doctype html><html lang=\"en\">"));
        assert!(en.contains("Median first response by day"));
        assert!(en.contains("1 min 35 s"), "the median, as a duration");
        assert!(en.contains("Support &lt;EU&gt;"), "names are escaped");
        assert!(en.contains("Unknown"), "a country nobody knows");
        assert_eq!(en.matches("<svg").count(), 4);
        assert!(en.contains("<td>Ada &lt;Lovelace&gt;</td><td>2 h 5 min</td><td>1 h</td>"));
        assert!(
            en.contains("<td>1.2 / 3</td><td>12</td>"),
            "mean and peak at once"
        );
        let ru = render(&overview(), "ru-RU");
        assert!(ru.contains("<html lang=\"ru\">"));
        assert!(ru.contains("Медиана первого ответа по дням"));
        assert!(ru.contains("1 мин 35 с"));
        assert!(ru.contains("<th>В сети</th>"));
    }
}
