//! The inbox page: the conversation list beside the open conversation.

use leptos::prelude::*;

use crate::app::App;
use crate::components::*;
use crate::i18n::T;
use crate::pages::*;

#[component]
pub(crate) fn InboxView() -> impl IntoView {
    let app = expect_context::<App>();
    view! {
        <div class="inbox">
            <ConversationList/>
            {move || match app.inbox.open.get() {
                Some(id) => view! { <ConversationPane id=id/> }.into_any(),
                None => view! { <div class="pane empty-pane">{app.text(T::Select)}</div> }.into_any(),
            }}
        </div>
    }
}
