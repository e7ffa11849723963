//! The satisfaction survey's part of the inbox task: a survey goes out when a conversation is
//! resolved, one reminder later, and the customer's answer is recorded on the resolved
//! episode instead of reopening it. The decisions are `service::csat`'s; this only acts.

use std::collections::BTreeSet;

use switchboard_shared::reports::SurveySettings;

use super::*;
use crate::domain::SurveyState;
use crate::service::broker::Fact;
use crate::service::csat;

/// How long a tenant's survey settings are reused before they are read again.
const SURVEY_TTL: Duration = Duration::from_secs(2);

/// Reminders due: (when, tenant, conversation, the episode's opening).
pub(super) type Reminders = BTreeSet<(i64, TenantId, ConversationId, i64)>;

/// Each tenant's saved survey settings and when they were read (`None`: never saved).
pub(super) type Settings = HashMap<TenantId, (Instant, Option<Arc<SurveySettings>>)>;

impl Worker {
    /// The tenant's saved survey settings (on or off), `None` when never saved or unreadable.
    async fn survey_settings(&mut self, tenant: &TenantId) -> Option<Arc<SurveySettings>> {
        if let Some((at, settings)) = self.surveys.get(tenant) {
            if at.elapsed() < SURVEY_TTL {
                return settings.clone();
            }
        }
        let settings = match csat::stored(self.store.as_ref(), tenant).await {
            Ok(s) => s.map(Arc::new),
            Err(error) => {
                tracing::warn!(%error, "survey settings unavailable; no survey this time");
                None
            }
        };
        self.surveys
            .insert(tenant.clone(), (Instant::now(), settings.clone()));
        settings
    }

    /// Before a resolution is stored: whether it gets a survey (switched on, and the customer
    /// wrote recently enough for WhatsApp to carry it), marked on the episode so the mark and the
    /// resolution are one write.
    pub(super) async fn plan_survey(
        &mut self,
        thread: &mut ThreadRecord,
        now: i64,
    ) -> Option<Arc<SurveySettings>> {
        if thread.episode.survey.is_some() || !csat::window_open(thread.last_inbound_at, now) {
            return None;
        }
        let settings = self
            .survey_settings(&thread.tenant)
            .await
            .filter(|s| s.enabled)?;
        thread.episode.survey = Some(SurveyState::sent(
            now,
            csat::language(&settings, &thread.customer),
        ));
        Some(settings)
    }

    /// After the resolution is stored: the survey goes out, and its reminder is due later.
    pub(super) fn send_survey(&mut self, thread: &ThreadRecord, settings: &SurveySettings) {
        let Some(state) = &thread.episode.survey else {
            return;
        };
        self.send_automatic(
            thread,
            csat::question(settings, &state.language, false),
            csat::send_key(&thread.conversation, thread.opened_at, "survey"),
        );
        if let Some(minutes) = settings.reminder_after_minutes {
            self.reminders.insert((
                state.sent_at + i64::from(minutes) * 60_000,
                thread.tenant.clone(),
                thread.conversation.clone(),
                thread.opened_at,
            ));
        }
    }

    /// Reminders due after a start: surveys sent yesterday or today, unanswered and not yet
    /// reminded.
    pub(super) async fn restore_reminders(&mut self, episodes: &[EpisodeRecord]) {
        for e in episodes {
            let Some(state) = &e.survey else { continue };
            if state.score.is_some() || state.reminded_at.is_some() || e.resolved_at.is_none() {
                continue;
            }
            let Some(minutes) = self
                .survey_settings(&e.tenant)
                .await
                .and_then(|s| s.reminder_after_minutes)
            else {
                continue;
            };
            self.reminders.insert((
                state.sent_at + i64::from(minutes) * 60_000,
                e.tenant.clone(),
                e.conversation.clone(),
                e.opened_at,
            ));
        }
    }

    /// Sends the reminders due by `now`: once, to a conversation still resolved in the same
    /// episode, still unanswered, and inside WhatsApp's window.
    pub(super) async fn remind(&mut self, now: i64) {
        while let Some(first) = self.reminders.first() {
            if first.0 > now {
                return;
            }
            let Some((_, tenant, conversation, opened_at)) = self.reminders.pop_first() else {
                return;
            };
            let stored = match self.staging.newest(&conversation).cloned() {
                Some(t) => Ok(Some(t)),
                None => self.store.get_thread(&tenant, &conversation).await,
            };
            let mut thread = match stored {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "could not read a surveyed conversation; no reminder");
                    continue;
                }
            };
            let due = thread.state == ThreadState::Resolved
                && thread.opened_at == opened_at
                && csat::window_open(thread.last_inbound_at, now)
                && thread
                    .episode
                    .survey
                    .as_ref()
                    .is_some_and(|s| s.score.is_none() && s.reminded_at.is_none());
            let Some(settings) = self.survey_settings(&tenant).await else {
                continue;
            };
            if !due {
                continue;
            }
            let Some(state) = thread.episode.survey.as_mut() else {
                continue;
            };
            state.reminded_at = Some(now);
            let content = csat::question(&settings, &state.language, true);
            self.staging.touch(thread.clone());
            self.send_automatic(
                &thread,
                content,
                csat::send_key(&thread.conversation, opened_at, "reminder"),
            );
        }
    }

    /// A customer's message to a resolved conversation: when it answers the survey (a score, or
    /// the comment after it), the answer is recorded on the episode, the customer is thanked
    /// (or asked for the comment), and the conversation stays resolved. `false`: a message like
    /// any other, which reopens it.
    pub(super) async fn survey_answered(
        &mut self,
        thread: &ThreadRecord,
        message: &InboundMessage,
        now: i64,
    ) -> bool {
        let Some(state) = thread.episode.survey.clone() else {
            return false;
        };
        let Some(settings) = self.survey_settings(&thread.tenant).await else {
            return false;
        };
        let Some(answer) = csat::answer(&state, &settings, message, now) else {
            return false;
        };
        let asks = csat::asks_comment(&settings, &state.language);
        let mut thread = thread.clone();
        thread.episode.survey = Some(csat::record(&state, &answer, message.at_ms, asks));
        thread.last_inbound_at = Some(message.at_ms);
        thread.last_inbound_wamid = Some(message.wamid.clone());
        let what = match answer {
            csat::Answer::Score(_) => "answered",
            csat::Answer::Comment(_) => "commented",
        };
        let content = csat::after(&settings, &state.language, &answer);
        self.staging.touch(thread.clone());
        let (score, comment) = match &answer {
            csat::Answer::Score(s) => (Some(*s), None),
            csat::Answer::Comment(c) => (state.score, Some(c.clone())),
        };
        self.tell(
            &thread.tenant,
            Fact::SurveyAnswered {
                conversation: thread.conversation.clone(),
                number: thread.number.clone(),
                customer: thread.customer.clone(),
                assignee: thread.assignee.clone(),
                score,
                comment,
                at: message.at_ms,
            },
        );
        self.send_automatic(
            &thread,
            content,
            csat::send_key(&thread.conversation, thread.opened_at, what),
        );
        true
    }

    /// Queues an automatic message (author `csat`) through the outbox, keyed so it goes once.
    /// Storing it waits for the disk: not on the routing task.
    fn send_automatic(&self, thread: &ThreadRecord, content: Content, key: String) {
        let outbox = self.outbox.clone();
        let (tenant, number, customer) = (
            thread.tenant.clone(),
            thread.number.clone(),
            thread.customer.clone(),
        );
        tokio::spawn(async move {
            let send = NewSend {
                tenant: &tenant,
                number: &number,
                customer: &customer,
                content,
                text: None,
                reply_to: None,
                author: "csat",
                client_key: Some(&key),
            };
            if let Err(error) = outbox.enqueue(send).await {
                tracing::warn!(%error, "could not queue a survey message");
            }
        });
    }
}
