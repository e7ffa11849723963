//! Scheduled backups: with `[backup] every_hours` set, the running server takes one at start
//! (none exists yet) into `data_dir/backups`, named by its time, and it restores.

use crate::common;

use std::time::Duration;

use common::*;
use switchboard_server::backup;

#[tokio::test]
async fn a_scheduled_backup_is_taken_while_the_server_runs_and_restores() {
    let (running, _api, dir) = start("[backup]\nevery_hours = 24\nkeep = 2").await;
    let folder = dir.path().join("data/backups");
    let file = eventually("a scheduled backup", Duration::from_secs(30), || async {
        backup::scheduled(&folder).ok()?.pop()
    })
    .await;
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("switchboard-") && name.ends_with("Z.db.gz"),
        "{name}"
    );
    let restored = dir.path().join("restored");
    let summary = backup::restore(&file, &restored).unwrap();
    assert!(summary.schema_version > 0);
    // Not due again for a day: still one.
    assert!(!backup::due(&folder, switchboard_server::domain::now_ms(), 24).unwrap());
    assert_eq!(backup::scheduled(&folder).unwrap().len(), 1);
    running.shutdown().await;
}
