//! Malformed genesis files get an error naming the problem; none panics.
#![allow(clippy::unwrap_used, clippy::panic)]

use jialing_genesis::{Genesis, SAMPLE_TOML};
use proptest::prelude::*;

fn err(text: &str) -> String {
    match Genesis::parse(text) {
        Ok(_) => panic!("accepted an invalid genesis"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn sample_parses() {
    Genesis::parse(SAMPLE_TOML).unwrap();
}

#[test]
fn bad_uscc_check_character_is_named() {
    let text = SAMPLE_TOML.replacen("11500230MB15200011", "11500230MB15200012", 1);
    let e = err(&text);
    assert!(e.contains("check character"), "{e}");
}

#[test]
fn duplicate_keys_are_named() {
    let g = Genesis::parse(SAMPLE_TOML).unwrap();
    let first = g.organisations[0].admin_key.to_hex();
    let second = g.organisations[1].admin_key.to_hex();
    let e = err(&SAMPLE_TOML.replacen(&second, &first, 1));
    assert!(e.contains("appears twice") && e.contains(&first), "{e}");
}

#[test]
fn duplicate_uscc_is_named() {
    let e = err(&SAMPLE_TOML.replacen("11500230MB15200024", "11500230MB15200011", 1));
    assert!(e.contains("listed twice"), "{e}");
}

#[test]
fn member_role_outside_org_is_named() {
    let text = SAMPLE_TOML.replacen(
        "roles = [\"produce_regulator\"]\n\n[[organisation]]",
        "roles = [\"inspector\"]\n\n[[organisation]]",
        1,
    );
    let e = err(&text);
    assert!(e.contains("inspector") && e.contains("member[0]"), "{e}");
}

#[test]
fn unknown_fields_bad_time_bad_chain_and_no_validator() {
    assert!(err(&format!("bogus = 1\n{SAMPLE_TOML}")).contains("bogus"));
    assert!(err(&SAMPLE_TOML.replace("2026-11-01T00:00:00Z", "yesterday")).contains("genesis_time"));
    assert!(err(&SAMPLE_TOML.replace("jialing-fengdu-sample", "Bad Chain")).contains("chain_id"));
    let no_validators: String = SAMPLE_TOML
        .split("[organisation.validator]")
        .enumerate()
        .map(
            |(i, part)| {
                if i == 0 { part.to_string() } else { part.split_once("power = 1").map_or("", |x| x.1).to_string() }
            },
        )
        .collect();
    assert!(err(&no_validators).contains("validator"));
}

proptest! {
    #[test]
    fn random_text_never_panics(s in ".{0,300}") {
        let _ = Genesis::parse(&s);
    }

    #[test]
    fn mutated_sample_never_panics(pos in 0usize..4000, byte in any::<u8>()) {
        let mut b = SAMPLE_TOML.as_bytes().to_vec();
        if pos < b.len() { b[pos] = byte; }
        if let Ok(s) = String::from_utf8(b) { let _ = Genesis::parse(&s); }
    }
}

#[test]
fn validator_without_node_key_blank_contact_and_expired_member_are_named() {
    let g = Genesis::parse(SAMPLE_TOML).unwrap();
    let node = g.organisations[0].node_keys[0].to_hex();
    let e = err(&SAMPLE_TOML.replacen(&format!("node_keys = [\"{node}\"]"), "node_keys = []", 1));
    assert!(e.contains("node_keys") && e.contains("validator"), "{e}");
    let e = err(&SAMPLE_TOML.replacen("contact = \"023-70000001\"", "contact = \" \"", 1));
    assert!(e.contains("contact"), "{e}");
    let member = g.organisations[0].members[0].key.to_hex();
    let text = SAMPLE_TOML.replacen(
        &format!("key = \"{member}\"\n"),
        &format!("key = \"{member}\"\nexpires = \"2026-10-01T00:00:00Z\"\n"),
        1,
    );
    let e = err(&text);
    assert!(e.contains("expires") && e.contains("not after genesis_time"), "{e}");
}

#[test]
fn the_example_in_docs_genesis_md_is_valid() {
    let doc = include_str!("../../docs/genesis.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let g = Genesis::parse(&doc[start..end]).unwrap();
    assert_eq!(g.initial_state().params.max_text_len, 2048);
}

#[test]
fn voting_power_above_the_limit_is_named() {
    // Issue 9, item 8: power had no upper bound; the total saturated.
    let huge = format!("power = {}", jialing_core::block::MAX_VALIDATOR_POWER + 1);
    let e = err(&SAMPLE_TOML.replacen("power = 1", &huge, 1));
    assert!(e.contains("validator.power") && e.contains("above the limit"), "{e}");
}

#[test]
fn block_limits_outside_the_protocol_bounds_are_named() {
    // Issue 9, item 5: block limits are consensus parameters, checked at genesis.
    let text = format!("{SAMPLE_TOML}\n[params.block]\nmax_txs = 0\n");
    let e = err(&text);
    assert!(e.contains("params") && e.contains("block.max_txs"), "{e}");
}

#[test]
fn credit_grading_and_calendar_are_checked_at_genesis() {
    let e = err(&SAMPLE_TOML.replacen("thresholds = [\n    90,", "thresholds = [\n    10,", 1));
    assert!(e.contains("params") && e.contains("thresholds"), "{e}");
    let e = err(&SAMPLE_TOML.replacen("holidays = []", "holidays = [\"2027-02-30\"]", 1));
    assert!(e.contains("credit.calendar") && e.contains("2027-02-30"), "{e}");
    let e = err(&SAMPLE_TOML.replacen("grades = [\"D\"]", "grades = [\"E\"]", 1));
    assert!(e.contains("credit.supervision"), "{e}");
}
