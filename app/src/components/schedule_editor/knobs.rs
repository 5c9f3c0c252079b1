//! The schedule primitives the editor offers and their knobs (how each is typed in), and the
//! turning of typed values into a schedule spec: parsed, wrapped in a warmup when asked, and
//! validated with the very code the trainer runs.

use schedule::{FieldError, Schedule};
use serde_json::{Map, Value};

/// How a knob is typed in and turned into JSON.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    /// A float (learning rates, factors).
    Real,
    /// A step count; shown with its length in epochs.
    Steps,
    /// A comma-separated list of step counts.
    StepList,
    /// One of fixed words.
    Choice(&'static [&'static str]),
    Flag,
    /// A float that may be left empty.
    OptReal,
    /// A step count that may be left empty.
    OptSteps,
}

pub(super) struct Knob {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) kind: Kind,
    pub(super) default: &'static str,
}

const fn k(name: &'static str, label: &'static str, kind: Kind, default: &'static str) -> Knob {
    Knob {
        name,
        label,
        kind,
        default,
    }
}

/// Every primitive and its knobs, in the order the editor shows them.
pub(super) const PRIMITIVES: &[(&str, &str, &[Knob])] = &[
    ("constant", "constant", &[k("lr", "LR", Kind::Real, "0.05")]),
    (
        "decay_at",
        "constant, then decay ×f at step k",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("decay_step", "decay at step", Kind::Steps, "5000"),
            k("factor", "factor", Kind::Real, "0.1"),
            k(
                "second_decay_step",
                "second decay at step",
                Kind::OptSteps,
                "",
            ),
            k("second_factor", "second factor", Kind::OptReal, ""),
        ],
    ),
    (
        "step",
        "step",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("step_size", "step size", Kind::Steps, "3000"),
            k("gamma", "γ", Kind::Real, "0.1"),
        ],
    ),
    (
        "multi_step",
        "multistep",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k(
                "milestones",
                "milestones (steps)",
                Kind::StepList,
                "5000, 8000",
            ),
            k("gamma", "γ", Kind::Real, "0.1"),
        ],
    ),
    (
        "exponential",
        "exponential",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("gamma", "γ", Kind::Real, "0.9995"),
        ],
    ),
    (
        "cosine",
        "cosine",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("t_max", "T_max (steps)", Kind::Steps, "10000"),
            k("eta_min", "η_min", Kind::Real, "0"),
        ],
    ),
    (
        "linear",
        "linear",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("start_factor", "start factor", Kind::Real, "1"),
            k("end_factor", "end factor", Kind::Real, "0.01"),
            k("total_iters", "iterations", Kind::Steps, "10000"),
        ],
    ),
    (
        "polynomial",
        "polynomial",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("power", "power", Kind::Real, "2"),
            k("total_iters", "iterations", Kind::Steps, "10000"),
        ],
    ),
    (
        "one_cycle",
        "one-cycle",
        &[
            k("max_lr", "max LR", Kind::Real, "0.05"),
            k("total_steps", "total steps", Kind::Steps, "10000"),
            k("pct_start", "pct_start", Kind::Real, "0.3"),
            k("anneal", "anneal", Kind::Choice(&["cos", "linear"]), "cos"),
            k("div_factor", "div factor", Kind::Real, "25"),
            k("final_div_factor", "final div factor", Kind::Real, "10000"),
            k("three_phase", "three-phase", Kind::Flag, "false"),
        ],
    ),
    (
        "cosine_warm_restarts",
        "cosine with warm restarts",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("t_0", "T_0 (steps)", Kind::Steps, "2000"),
            k("t_mult", "T_mult", Kind::Real, "2"),
            k("eta_min", "η_min", Kind::Real, "0"),
        ],
    ),
    (
        "wsd",
        "warmup-stable-decay",
        &[
            k("lr", "LR", Kind::Real, "0.05"),
            k("warmup_steps", "warmup steps", Kind::Steps, "500"),
            k("stable_steps", "stable steps", Kind::Steps, "7000"),
            k("decay_steps", "decay steps", Kind::Steps, "2500"),
            k(
                "cooldown",
                "cooldown",
                Kind::Choice(&["linear", "cosine", "one_minus_sqrt"]),
                "one_minus_sqrt",
            ),
            k("floor_lr", "floor LR", Kind::Real, "0"),
        ],
    ),
];

pub(super) const JSON_KIND: &str = "json";

pub(super) fn knobs_of(kind: &str) -> &'static [Knob] {
    PRIMITIVES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(&[], |(_, _, knobs)| knobs)
}

/// The spec the knobs describe, as JSON, or the knobs that don't parse.
pub(super) fn knobs_to_json(
    kind: &str,
    values: &[(String, String)],
) -> Result<Value, Vec<FieldError>> {
    let mut obj = Map::new();
    obj.insert("kind".into(), Value::String(kind.into()));
    let mut errs = Vec::new();
    for knob in knobs_of(kind) {
        let raw = values
            .iter()
            .find(|(n, _)| n == knob.name)
            .map_or("", |(_, v)| v.as_str())
            .trim();
        let bad = |msg: &str| FieldError {
            field: knob.name.into(),
            message: msg.into(),
        };
        let v = match knob.kind {
            Kind::Real | Kind::OptReal => {
                if raw.is_empty() && knob.kind == Kind::OptReal {
                    continue;
                }
                match raw.parse::<f64>() {
                    Ok(x) if x.is_finite() => serde_json::Number::from_f64(x).map(Value::Number),
                    _ => None,
                }
                .ok_or_else(|| bad("must be a finite number"))
            }
            Kind::Steps | Kind::OptSteps => {
                if raw.is_empty() && knob.kind == Kind::OptSteps {
                    continue;
                }
                raw.parse::<u64>()
                    .map(Value::from)
                    .map_err(|_| bad("must be a whole number of steps"))
            }
            Kind::StepList => raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<u64>().map(Value::from))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
                .map_err(|_| bad("must be whole step numbers separated by commas")),
            Kind::Choice(_) => Ok(Value::String(raw.into())),
            Kind::Flag => Ok(Value::Bool(raw == "true")),
        };
        match v {
            Ok(v) => {
                obj.insert(knob.name.into(), v);
            }
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(Value::Object(obj))
    } else {
        Err(errs)
    }
}

/// Parses and validates a spec; errors are keyed by the spec's own field paths.
pub(super) fn check(json: Value) -> Result<Schedule, Vec<FieldError>> {
    let sched: Schedule = serde_json::from_value(json).map_err(|e| {
        vec![FieldError {
            field: String::new(),
            message: e.to_string(),
        }]
    })?;
    sched.validate().map(|()| sched)
}

/// Wraps `inner` in a linear warmup when asked.
pub(super) fn with_warmup(
    inner: Value,
    warmup: Option<(String, String)>,
) -> Result<Value, Vec<FieldError>> {
    let Some((steps, start)) = warmup else {
        return Ok(inner);
    };
    let steps = steps.trim().parse::<u64>().map_err(|_| {
        vec![FieldError {
            field: "warmup_steps".into(),
            message: "must be a whole number of steps".into(),
        }]
    })?;
    let start = start
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            vec![FieldError {
                field: "start_factor".into(),
                message: "must be a finite number".into(),
            }]
        })?;
    Ok(
        serde_json::json!({"kind": "warmup", "warmup_steps": steps, "start_factor": start, "inner": inner}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn knobs_become_a_spec() {
        let j = knobs_to_json(
            "multi_step",
            &vals(&[("lr", "0.1"), ("milestones", "10, 20"), ("gamma", "0.5")]),
        )
        .expect("parses");
        assert_eq!(
            j,
            serde_json::json!({"kind": "multi_step", "lr": 0.1, "milestones": [10, 20], "gamma": 0.5})
        );
    }

    #[test]
    fn unparsable_knobs_are_named() {
        let e = knobs_to_json(
            "step",
            &vals(&[("lr", "abc"), ("step_size", "1.5"), ("gamma", "0.1")]),
        )
        .expect_err("bad values");
        let f: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(f, vec!["lr", "step_size"]);
    }

    #[test]
    fn every_primitive_default_is_a_valid_schedule() {
        for (kind, _, knobs) in PRIMITIVES {
            let v: Vec<(String, String)> = knobs
                .iter()
                .map(|k| (k.name.to_owned(), k.default.to_owned()))
                .collect();
            let json = knobs_to_json(kind, &v).expect("defaults parse");
            assert!(check(json).is_ok(), "{kind} defaults must validate");
        }
    }

    /// Every variant serde knows, read from its own "unknown variant" message, so the list
    /// is the enum's and cannot drift from it.
    fn schedule_variants() -> Vec<String> {
        let err = serde_json::from_value::<schedule::Schedule>(serde_json::json!({"kind": "?"}))
            .expect_err("no such variant");
        let msg = err.to_string();
        let list = msg
            .split("expected one of ")
            .nth(1)
            .expect("serde lists the variants");
        list.split(',')
            .map(|v| v.trim().trim_matches('`').to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    #[test]
    fn every_schedule_variant_is_in_the_editor() {
        // The two compositions wrap other schedules: warmup is the editor's checkbox around any
        // primitive, and a sequential schedule is written in the JSON mode.
        let composed = ["warmup", "sequential"];
        let variants = schedule_variants();
        assert!(variants.len() >= 10, "parsed {variants:?}");
        for v in &variants {
            assert!(
                composed.contains(&v.as_str()) || PRIMITIVES.iter().any(|(k, _, _)| k == v),
                "Schedule variant `{v}` has no entry in the editor's PRIMITIVES"
            );
        }
        for (kind, _, _) in PRIMITIVES {
            assert!(
                variants.iter().any(|v| v == kind),
                "`{kind}` is not a Schedule variant"
            );
        }
    }

    #[test]
    fn every_schedule_field_has_a_knob() {
        for (kind, _, knobs) in PRIMITIVES {
            // Every knob set, optional ones too, so serialising back shows every field.
            let v: Vec<(String, String)> = knobs
                .iter()
                .map(|k| {
                    let value = match (k.kind, k.default) {
                        (Kind::OptSteps, "") => "9000",
                        (Kind::OptReal, "") => "0.01",
                        (_, d) => d,
                    };
                    (k.name.to_owned(), value.to_owned())
                })
                .collect();
            let json = knobs_to_json(kind, &v).expect("defaults parse");
            let parsed: schedule::Schedule = serde_json::from_value(json).expect("a schedule");
            let back = serde_json::to_value(&parsed).expect("serialises");
            let mut fields: Vec<&str> = back
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "kind")
                .collect();
            let mut names: Vec<&str> = knobs.iter().map(|k| k.name).collect();
            fields.sort_unstable();
            names.sort_unstable();
            assert_eq!(
                fields, names,
                "`{kind}`: the form's knobs and the type's fields differ"
            );
        }
    }
}
