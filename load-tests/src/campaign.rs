//! `campaign`: a broadcast to 100,000 contacts (600 with `--smoke`) over three numbers at tiers
//! 80, 250 and 1,000 messages a second (8, 25 and 100 with `--smoke`), into the real simulator,
//! which enforces each tier. The audience is imported from CSV; every hundredth contact opted
//! out.
//!
//! Correctness, which the smoke run asserts: every eligible contact got the template exactly
//! once (`lost`, `duplicated`), nobody opted out got it and WhatsApp refused nothing for
//! throughput or pair rate (`violations`). Reported: pre-flight's time over the audience, the
//! completion time against the tiers' ideal (eligible ÷ the tiers' sum) and the campaign's own
//! pace (80% of the tiers, the rest kept for agents' replies). `CAMPAIGN_PREFLIGHT_ONLY=1` stops
//! after pre-flight (with `CAMPAIGN_CONTACTS=1000000`: the pre-flight figure over a million).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::idle::serve_with_owner;
use crate::ingest::{free_port, pin_self, SECRET};
use crate::{procinfo, sibling_binary, Cli};

const NUMBERS: [&str; 3] = ["106540352300001", "106540352300002", "106540352300003"];
pub(crate) const WABA: &str = "102290129340398";

pub(crate) fn number_toml(id: &str, graph: &str, mps: u32) -> String {
    format!(
        "[[whatsapp.numbers]]\ntenant = \"load\"\nphone_number_id = \"{id}\"\n\
         display_phone_number = \"1555{}\"\nwaba_id = \"{WABA}\"\naccess_token = \"load-token\"\n\
         app_secret = \"{SECRET}\"\nverify_token = \"unused\"\ngraph_api_url = \"{graph}\"\n\
         mps = {mps}\n",
        &id[id.len() - 7..]
    )
}

fn customer(i: usize) -> String {
    format!("491517{i:07}")
}

pub async fn run(cli: &Cli) -> Result<Value> {
    let switchboard = sibling_binary("switchboard")?;
    pin_self(1);
    let load_before = procinfo::load_average();
    let (contacts, tiers) = if cli.smoke {
        (600usize, [8u32, 25, 100])
    } else {
        let contacts = std::env::var("CAMPAIGN_CONTACTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000usize);
        (contacts, [80u32, 250, 1000])
    };

    let sim_port = free_port()?;
    let graph = format!("http://127.0.0.1:{sim_port}/v23.0");
    let numbers: String = NUMBERS
        .iter()
        .zip(tiers)
        .map(|(n, mps)| number_toml(n, &graph, mps))
        .collect();
    let served = serve_with_owner(
        &switchboard,
        &numbers,
        "[outbox]\nin_doubt_grace_secs = 5\n",
    )
    .await?;
    let mut extra: Vec<String> = crate::sim::CAMPAIGN_ACCOUNT
        .into_iter()
        .map(str::to_owned)
        .collect();
    for (n, mps) in NUMBERS.iter().zip(tiers) {
        extra.extend([
            "--phone-number-id".into(),
            (*n).to_owned(),
            "--number-mps".into(),
            mps.to_string(),
        ]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let simulator = crate::sim::start(sim_port, &served.base, &extra).await?;
    let sim = simulator.url.clone();
    let client = reqwest::Client::new();

    // The audience, from CSV: every hundredth contact opted out.
    let mut file = String::from("phone,name,tags,marketing\n");
    let mut suppressed = HashSet::new();
    for i in 0..contacts {
        let out = i % 100 == 7;
        if out {
            suppressed.insert(customer(i));
        }
        file.push_str(&format!(
            "+{},Customer {i},load,{}\n",
            customer(i),
            if out { "no" } else { "" }
        ));
    }
    let import_started = Instant::now();
    let imported = crate::crowd::Importer::new(&client, &served.base, &served.token)
        .file(file, Duration::from_secs(600))
        .await?;
    if imported["created"] != contacts as u64 {
        bail!(
            "the import made {} of {contacts} contacts",
            imported["created"]
        );
    }
    let import_s = import_started.elapsed().as_secs_f64();
    let segment = served
        .api(
            &client,
            reqwest::Method::POST,
            "segments",
            Some(json!({"name": "Load", "filter": {"tag": "load"}})),
        )
        .await?;
    let campaign = served
        .api(
            &client,
            reqwest::Method::POST,
            "campaigns",
            Some(
                json!({"name": "Load", "template": {"name": "seasonal_promo", "language": "en_US"},
                    "audience": {"segment": segment["id"]},
                    "variables": [{"field": "name"}],
                    "numbers": NUMBERS}),
            ),
        )
        .await?;
    let id = campaign["id"]
        .as_str()
        .context("no campaign id")?
        .to_owned();
    eprintln!("campaign: {contacts} contacts imported; pre-flight next");
    let preflight_started = Instant::now();
    let preflight = served
        .api(
            &client,
            reqwest::Method::POST,
            &format!("campaigns/{id}/preflight"),
            None,
        )
        .await?;
    let preflight_ms = preflight_started.elapsed().as_millis();
    let eligible = preflight["eligible"].as_u64().unwrap_or(0) as usize;
    if eligible != contacts - suppressed.len() {
        bail!(
            "pre-flight found {eligible} eligible, not {}",
            contacts - suppressed.len()
        );
    }

    if std::env::var_os("CAMPAIGN_PREFLIGHT_ONLY").is_some() {
        // The pre-flight figure over an audience too large to send to here (1,000,000): the
        // first run above, then four more.
        let mut runs = vec![preflight_ms];
        for _ in 0..4 {
            let started = Instant::now();
            served
                .api(
                    &client,
                    reqwest::Method::POST,
                    &format!("campaigns/{id}/preflight"),
                    None,
                )
                .await?;
            runs.push(started.elapsed().as_millis());
        }
        runs.sort_unstable();
        return Ok(json!({
            "scenario": "campaign",
            "what": "pre-flight only: import, segment, five pre-flights over the audience",
            "preflight_only": true,
            "contacts": contacts,
            "import_s": import_s,
            "eligible": eligible,
            "preflight_ms": {"first": preflight_ms, "median": runs[2], "max": runs[4]},
            "preflight_cost": preflight["total_cost"],
        }));
    }

    let run_started = Instant::now();
    served
        .api(
            &client,
            reqwest::Method::POST,
            &format!("campaigns/{id}/start"),
            None,
        )
        .await?;
    let ideal_s = eligible as f64 / tiers.iter().sum::<u32>() as f64;
    let deadline = Duration::from_secs_f64(ideal_s * 4.0 + 120.0);
    let finished = loop {
        let c = served
            .api(
                &client,
                reqwest::Method::GET,
                &format!("campaigns/{id}"),
                None,
            )
            .await?;
        if c["state"] == "completed" {
            break c;
        }
        if run_started.elapsed() > deadline || c["state"] == "paused" {
            bail!("the campaign did not complete: {c}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let completed_s = run_started.elapsed().as_secs_f64();

    // Count at the simulator.
    let sent: Vec<Value> = client
        .get(format!("{sim}/_sim/sent"))
        .send()
        .await?
        .json()
        .await?;
    let mut got: HashMap<String, usize> = HashMap::new();
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for s in &sent {
        if s["body"]["type"] == "template" {
            *got.entry(s["body"]["to"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
            *per_number
                .entry(s["phone_number_id"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    let stats: Value = client
        .get(format!("{sim}/_sim/stats"))
        .send()
        .await?
        .json()
        .await?;
    let lost = (0..contacts)
        .map(customer)
        .filter(|c| !suppressed.contains(c) && !got.contains_key(c))
        .count();
    let duplicated: usize = got.values().map(|n| n.saturating_sub(1)).sum();
    let to_suppressed = suppressed.iter().filter(|c| got.contains_key(*c)).count();
    let throttled = stats["rejected"]["130429"].as_u64().unwrap_or(0) as usize;
    let paced = stats["rejected"]["131056"].as_u64().unwrap_or(0) as usize;
    drop(served);
    Ok(json!({
        "scenario": "campaign",
        "smoke": cli.smoke,
        "what": "a campaign to an imported audience over three numbers into the simulator, which enforces each tier",
        "contacts": contacts,
        "eligible": eligible,
        "tiers_mps": tiers,
        "import_s": (import_s * 10.0).round() / 10.0,
        "preflight_ms": preflight_ms,
        "campaign_pace_per_s": preflight["rate_per_second"],
        "ideal_s": (ideal_s * 10.0).round() / 10.0,
        "completed_s": (completed_s * 10.0).round() / 10.0,
        "sends_per_number": per_number,
        "counts": finished["counts"],
        "sends_to_suppressed": to_suppressed,
        "refused_by_whatsapp": {"130429": throttled, "131056": paced},
        "lost": lost,
        "duplicated": duplicated + to_suppressed,
        "violations": throttled + paced,
        "load_average": {"before": load_before, "after": procinfo::load_average()},
    }))
}
