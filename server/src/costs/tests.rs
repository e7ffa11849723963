use super::*;

fn day(text: &str) -> Date {
    Date::from_str(text).unwrap()
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

const CARD: &str = "\
# Test prices, 2026-12-06
effective_from,effective_to,country,category,volume_from,volume_to,price
2025-07-01,2026-01-01,DE,marketing,0,,0.1365
2026-01-01,,DE,marketing,0,,0.1200
2025-07-01,,DE,utility,0,1000,0.0500
2025-07-01,,DE,utility,1000,,0.0400
2025-07-01,,*,marketing,0,,0.0600
";

#[test]
fn prices_are_found_by_country_category_day_and_volume() {
    let card = Card::parse(CARD).unwrap();
    assert_eq!(card.source, "Test prices, 2026-12-06");
    let m = PriceCategory::Marketing;
    assert_eq!(
        card.price("DE", m, day("2025-12-31"), 0),
        Some(dec("0.1365"))
    );
    assert_eq!(
        card.price("DE", m, day("2026-01-01"), 0),
        Some(dec("0.12")),
        "`to` is exclusive"
    );
    assert_eq!(
        card.price("DE", m, day("2025-06-30"), 0),
        None,
        "before the card, even with `*`"
    );
    assert_eq!(
        card.price("FR", m, day("2026-03-01"), 5),
        Some(dec("0.06")),
        "`*` for the rest"
    );
    let u = PriceCategory::Utility;
    assert_eq!(
        card.price("DE", u, day("2026-03-01"), 999),
        Some(dec("0.05"))
    );
    assert_eq!(
        card.price("DE", u, day("2026-03-01"), 1000),
        Some(dec("0.04"))
    );
    assert_eq!(
        card.price("FR", u, day("2026-03-01"), 0),
        None,
        "no `*` utility price"
    );
    let wire = card.wire("uploaded", Some(1), Some("user:u_1".into()));
    assert_eq!(wire.countries, 1);
    assert_eq!(wire.rows.len(), 5);
    assert_eq!(wire.rows[1].price, "0.12");
}

#[test]
fn a_bad_card_is_refused_whole_with_every_lines_reason() {
    let bad = "\
# bad
effective_from,effective_to,country,category,volume_from,volume_to,price
2025-07-01,,DE,marketing,0,,0.1365
2025-13-01,,DE,utility,0,,0.05
2025-07-01,2025-06-01,DE,utility,0,,0.05
2025-07-01,,Germany,utility,0,,0.05
2025-07-01,,DE,promo,0,,0.05
2025-07-01,,DE,utility,10,5,0.05
2025-07-01,,DE,utility,0,,-0.05
2025-07-01,,DE,utility,0,,five cents
2025-08-01,,DE,marketing,0,,0.2
2025-07-01,,DE
";
    let problems = Card::parse(bad).unwrap_err();
    let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8, 9, 10, 11, 12], "{problems:#?}");
    let reason = |line: u64| &problems.iter().find(|p| p.line == line).unwrap().reason;
    assert!(reason(4).contains("not a date"));
    assert!(reason(5).contains("not after"));
    assert!(reason(6).contains("ISO 3166"));
    assert!(reason(7).contains("not one of"));
    assert!(reason(8).contains("volume_to"));
    assert!(reason(9).contains("negative"));
    assert!(reason(10).contains("not a decimal"));
    assert!(reason(11).contains("overlaps line 3"), "{}", reason(11));
    assert!(reason(12).contains("fields"));

    assert!(Card::parse("a,b\n1,2\n").unwrap_err()[0]
        .reason
        .contains("header"));
    assert!(
        Card::parse(&CARD[..CARD.find("2025").unwrap()]).unwrap_err()[0]
            .reason
            .contains("no prices")
    );
}

#[test]
fn the_shipped_card_reads_and_says_its_source() {
    let card = Card::parse(SHIPPED).unwrap();
    assert!(card.source.contains("2025-07-01"), "{}", card.source);
    assert_eq!(
        card.price("AT", PriceCategory::Marketing, day("2026-12-01"), 0),
        Some(dec("0.0592"))
    );
    assert_eq!(
        card.price("RU", PriceCategory::Service, day("2026-12-01"), 0),
        Some(Decimal::ZERO)
    );
    assert_eq!(
        card.price("RU", PriceCategory::Marketing, day("2026-12-01"), 0),
        None
    );
}

#[test]
fn pricing_is_read_in_both_webhook_shapes() {
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/whatsapp/"
    );
    let status_of = |file: &str| -> String {
        let body: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{fixtures}{file}")).unwrap())
                .unwrap();
        body["entry"][0]["changes"][0]["value"]["statuses"][0].to_string()
    };
    let pmp = pricing_of(&status_of("status_sent_marketing_pmp_regular.json")).unwrap();
    assert_eq!(pmp.category, PriceCategory::Marketing);
    assert_eq!(pmp.pricing_type, PricingType::Regular);
    assert_eq!(pmp.model, "PMP");
    let cbp = pricing_of(&status_of("status_delivered_cbp_service.json")).unwrap();
    assert_eq!(cbp.category, PriceCategory::Service);
    assert_eq!(cbp.model, "CBP");
    assert_eq!(
        pricing_of(&status_of(
            "status_sent_v24_no_conversation_no_pricing.json"
        )),
        None
    );
    assert_eq!(
        pricing_of(&status_of("status_failed_131049_ecosystem_engagement.json")),
        None
    );
    // Only `billable` (older webhooks).
    let old = r#"{"pricing":{"billable":false,"pricing_model":"CBP","category":"utility"}}"#;
    assert_eq!(
        pricing_of(old).unwrap().pricing_type,
        PricingType::FreeCustomerService
    );
    assert_eq!(
        pricing_of(r#"{"pricing":{"category":"authentication-international","type":"regular"}}"#)
            .unwrap()
            .category,
        PriceCategory::AuthenticationInternational
    );
    assert_eq!(
        pricing_of(r#"{"pricing":{"category":"group_marketing"}}"#),
        None
    );
    assert_eq!(month_of(day("2026-02-09")), "2026-02");
}

#[test]
fn bad_lines_are_named_where_they_start_even_after_a_quoted_new_line() {
    let text = "effective_from,effective_to,country,category,volume_from,volume_to,price\n\
                2025-07-01,,\"D\nE\",marketing,0,,0.1\n\
                2025-07-01,,DE,marketing,0,,-1\n";
    let problems = Card::parse(text).unwrap_err();
    let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![2, 4], "{problems:?}");
}
