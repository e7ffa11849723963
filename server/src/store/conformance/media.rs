//! Files kept: the record queued with its message, a redelivery that leaves a stored file
//! stored, the number's queue, and which blobs are still named.

use switchboard_shared::{MessageKey, PhoneNumberId};

use super::*;
use crate::store::Store;

fn file(tenant: &TenantId, number: &PhoneNumberId, id: &str, at: i64) -> MediaRecord {
    MediaRecord::pending(
        tenant.clone(),
        id.to_owned(),
        number.clone(),
        Some(MessageKey::new(format!("in_{id}"))),
        at,
    )
}

pub async fn files_are_queued_with_their_message_and_kept_once(store: &dyn Store) {
    let tenant = fresh_tenant("media");
    let other = fresh_tenant("media-other");
    // A number of its own, so a shared cluster's other checks do not share its queue.
    let number = PhoneNumberId::new(format!("1{:014}", rand::random::<u64>() % 10u64.pow(14)));
    let digest = format!("{:064x}", rand::random::<u128>());
    let mut first = file(&tenant, &number, "m1", T0);
    first.mime_type = Some("image/jpeg".into());
    let second = file(&tenant, &number, "m2", T0 + 1);
    store
        .ingest(batch(
            &tenant,
            vec![
                InboundEvent::Media(first.clone()),
                InboundEvent::Media(second.clone()),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        store.get_media(&tenant, "m1").await.unwrap().as_ref(),
        Some(&first)
    );
    assert_eq!(store.get_media(&other, "m1").await.unwrap(), None);
    let queued = store.pending_media(&number, 10).await.unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|m| m.media_id.as_str())
            .collect::<Vec<_>>(),
        ["m1", "m2"]
    );

    // Copied: out of the queue, its blob named.
    let mut kept = first.clone();
    kept.state = MediaState::Stored;
    kept.digest = Some(digest.clone());
    kept.bytes = 1234;
    kept.attempts = 1;
    store.put_media(&kept).await.unwrap();
    assert!(store.blob_in_use(&digest).await.unwrap());
    // A redelivered webhook queues nothing again.
    store
        .ingest(batch(&tenant, vec![InboundEvent::Media(first.clone())]))
        .await
        .unwrap();
    assert_eq!(store.get_media(&tenant, "m1").await.unwrap(), Some(kept));
    let queued = store.pending_media(&number, 10).await.unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|m| m.media_id.as_str())
            .collect::<Vec<_>>(),
        ["m2"]
    );

    // A failed attempt stays queued with when to try next.
    let mut retried = second.clone();
    retried.attempts = 1;
    retried.next_at = T0 + 60_000;
    retried.error = Some("blob store full".into());
    store.put_media(&retried).await.unwrap();
    assert_eq!(store.pending_media(&number, 10).await.unwrap(), [retried]);

    // Another tenant's copy of the same bytes names the blob too; purging one leaves it named.
    let mut theirs = file(&other, &number, "m9", T0);
    theirs.state = MediaState::Stored;
    theirs.digest = Some(digest.clone());
    store.put_media(&theirs).await.unwrap();
    let mut purged = store.get_media(&tenant, "m1").await.unwrap().unwrap();
    purged.state = MediaState::Purged;
    store.put_media(&purged).await.unwrap();
    assert!(store.blob_in_use(&digest).await.unwrap());
    theirs.state = MediaState::Purged;
    store.put_media(&theirs).await.unwrap();
    assert!(!store.blob_in_use(&digest).await.unwrap());
    assert!(matches!(
        store.pending_media(&number, 0).await,
        Err(crate::store::StoreError::Invalid(_))
    ));
}
