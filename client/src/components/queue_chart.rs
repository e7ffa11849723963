//! The board's chart of the queue over time.

use leptos::prelude::*;

use crate::app::App;

/// Queue depth over the time this page has been open, from the board's own events.
#[component]
pub(crate) fn QueueChart() -> impl IntoView {
    let app = expect_context::<App>();
    let path = move || {
        let mut history = app.inbox.queue_history.get();
        // The depth holds until the next change: extend the last reading to now.
        if let Some(&(_, last)) = history.last() {
            history.push((app.session.now.get(), last));
        }
        if history.len() < 2 {
            return String::new();
        }
        let (t0, t1) = (
            history[0].0,
            history[history.len() - 1].0.max(history[0].0 + 1),
        );
        let max = history.iter().map(|h| h.1).max().unwrap_or(0).max(1) as f64;
        history
            .iter()
            .map(|(t, q)| {
                let x = (t - t0) as f64 / (t1 - t0) as f64 * 300.0;
                let y = 60.0 - *q as f64 / max * 56.0;
                format!("{},{}", crate::decimal(x, 1), crate::decimal(y, 1))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    view! {
        <svg class="spark" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="queue">
            <polyline points=path fill="none" stroke="currentColor" stroke-width="2"/>
        </svg>
    }
}
