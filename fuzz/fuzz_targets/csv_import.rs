//! A contact import file as it arrives: charset detection, the delimiter and header sniffed,
//! the columns mapped, and every record decoded as it streams. Input: any bytes (the first byte
//! chooses a declared charset, none, or a region hint). Must never panic.
#![no_main]

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use switchboard_server::domain::AttributeSchema;
use switchboard_server::service::contacts::csvfile;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, file)) = data.split_first() else {
        return;
    };
    let declared = match choice % 5 {
        0 => Some("windows-1251"),
        1 => Some("utf-16le"),
        2 => Some("no-such-charset"),
        _ => None,
    };
    let region = (choice % 2 == 0).then_some("RU");
    let head = &file[..file.len().min(64 * 1024)];
    let Ok(sniffed) = csvfile::sniff(head, declared, region, head.len() == file.len()) else {
        return;
    };
    let _ = sniffed.delimiter_name();
    let mut records = csvfile::open(file, &sniffed, Arc::new(AtomicU64::new(0)));
    let header: Vec<String> = match records.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(_) => return,
    };
    let schema = AttributeSchema::new(&[]).expect("an empty schema is valid");
    let _ = csvfile::map_columns(&header, &Default::default(), &schema, &[]);
    for record in records.records().take(10_000) {
        match record {
            Ok(r) => {
                let _ = r.iter().map(str::len).sum::<usize>();
            }
            Err(_) => break,
        }
    }
});
