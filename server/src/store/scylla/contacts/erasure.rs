//! Erasing a customer's conversations on ScyllaDB: every bucket of its history, the key and
//! status rows of each message and its search postings, its inbox state, notes and conversation
//! row.

use super::ScyllaStore;
use crate::domain::ErasureReceipt;
use crate::store::StoreResult;

impl ScyllaStore {
    pub(super) async fn erase_conversation(
        &self,
        tenant: &str,
        conversation: &str,
        receipt: &mut ErasureReceipt,
    ) -> StoreResult<()> {
        let buckets = self
            .rows::<(i64,)>(&self.contacts.buckets_of, (tenant, conversation))
            .await?;
        if buckets.is_empty() {
            return Ok(());
        }
        for (bucket,) in &buckets {
            let rows = self
                .rows::<(String, String, String, i64, Option<String>)>(
                    &self.contacts.messages_in_bucket,
                    (tenant, conversation, bucket),
                )
                .await?;
            for (key, wamid, kind, at_ms, body) in &rows {
                if let Some(text) = body {
                    self.unindex_text(tenant, key, *at_ms, text).await?;
                }
                if matches!(
                    kind.as_str(),
                    "image" | "video" | "audio" | "document" | "sticker"
                ) {
                    receipt.media_references += 1;
                }
                self.exec(&self.contacts.delete_key, (tenant, key)).await?;
                self.exec(&self.contacts.delete_statuses, (tenant, wamid))
                    .await?;
            }
            receipt.messages += rows.len() as u64;
            self.exec(&self.contacts.delete_bucket, (tenant, conversation, bucket))
                .await?;
        }
        receipt.notes += self
            .rows::<(i64,)>(&self.contacts.conversation_notes, (tenant, conversation))
            .await?
            .len() as u64;
        for st in [
            &self.contacts.delete_buckets,
            &self.contacts.delete_thread,
            &self.contacts.delete_open_thread,
            &self.contacts.delete_conversation_notes,
            &self.contacts.delete_conversation,
        ] {
            self.exec(st, (tenant, conversation)).await?;
        }
        receipt.conversations += 1;
        Ok(())
    }
}
