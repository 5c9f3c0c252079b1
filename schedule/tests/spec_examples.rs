//! The JSON examples in SPEC.md (which the server links to) must parse, validate, and cover
//! every kind, so the document cannot drift from the code.

use schedule::Schedule;

fn examples() -> Vec<String> {
    let doc = include_str!("../SPEC.md");
    doc.split("```json\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn spec_examples_parse_validate_and_cover_every_kind() {
    let mut kinds = Vec::new();
    for json in examples() {
        let value: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let schedule: Schedule =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(schedule.validate(), Ok(()), "{json}");
        assert!(
            schedule.lr_at(0).is_finite() && schedule.lr_at(12_345).is_finite(),
            "{json}"
        );
        kinds.push(value["kind"].as_str().unwrap_or_default().to_owned());
    }
    for kind in [
        "constant",
        "step",
        "multi_step",
        "exponential",
        "cosine",
        "linear",
        "polynomial",
        "one_cycle",
        "cosine_warm_restarts",
        "warmup",
        "wsd",
        "decay_at",
        "sequential",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "SPEC.md has no example of {kind}"
        );
    }
}

#[test]
fn spec_examples_say_what_they_claim() {
    let by_kind = |kind: &str| -> Schedule {
        let json = examples()
            .into_iter()
            .find(|j| j.contains(&format!("\"kind\": \"{kind}\"")))
            .unwrap_or_default();
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
    };
    // "restarts land at steps 2000, 6000, 14000"
    let wr = by_kind("cosine_warm_restarts");
    for restart in [2000, 6000, 14000] {
        assert_eq!(wr.lr_at(restart), 0.1);
        assert!(wr.lr_at(restart - 1) < 0.001);
    }
    // "the cosine above reaches 0 at step 500 + 9500 = 10000"
    assert_eq!(by_kind("warmup").lr_at(10_000), 0.0);
}
