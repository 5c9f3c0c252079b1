//! The model editor rendered on the server on its own, as a browser first receives it: a
//! preset's rows and totals (ResNet-20's published parameter count), a broken layer marked
//! with its message at its field, and a model whose dataset is not known yet.
#![cfg(feature = "ssr")]
#![recursion_limit = "256"]

use app::components::model_editor::{LayerDraft, ModelEditor};
use experiment::zoo::resnet20;
use experiment::{DatasetChoice, DatasetFacts, LayerSpec};
use leptos::prelude::*;

fn render(layers: Vec<LayerSpec>, facts: Option<DatasetFacts>, batch: u32) -> String {
    let owner = Owner::new();
    owner.with(|| {
        let draft = LayerDraft::new(layers);
        let facts = Signal::stored(facts);
        let batch = Signal::stored(batch);
        view! { <ModelEditor draft facts batch/> }.to_html()
    })
}

/// The first tag (`<tr …>`) holding every one of `needles`, whatever the order of its
/// attributes (the renderer puts dynamic ones first in dev builds).
fn tag<'a>(html: &'a str, needles: &[&str]) -> Option<(usize, &'a str)> {
    let mut from = 0;
    while let Some(open) = html[from..].find('<').map(|i| from + i) {
        let close = open + html[open..].find('>')?;
        let t = &html[open..=close];
        if needles.iter().all(|n| t.contains(n)) {
            return Some((open, t));
        }
        from = close;
    }
    None
}

/// The text inside the first element whose tag holds every one of `needles`, tags stripped.
fn text_at(html: &str, needles: &[&str]) -> String {
    let (start, _) = tag(html, needles).unwrap_or_else(|| panic!("no tag with {needles:?}"));
    let open = start + html[start..].find('>').expect("a tag closes");
    let rest = &html[open + 1..];
    let mut depth = 0usize;
    let mut out = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '<' {
            let tag = &rest[i..];
            if tag.starts_with("</") {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            } else if !tag.starts_with("<!") && !tag.starts_with("<input") {
                depth += 1;
            }
            for (_, c) in chars.by_ref() {
                if c == '>' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

/// The message shown at `field`.
fn error_at(html: &str, field: &str) -> String {
    text_at(html, &["field-error", &format!(r#"data-field="{field}""#)])
}

/// The text of the table row of the layer at `path` (`3.1`).
fn row(html: &str, path: &str) -> String {
    text_at(html, &["<tr ", &format!(r#"data-path="{path}""#)])
}

/// Whether that row is marked as broken.
fn row_marked(html: &str, path: &str) -> bool {
    tag(html, &["<tr ", &format!(r#"data-path="{path}""#)])
        .is_some_and(|(_, t)| t.contains("invalid"))
}

fn cifar() -> Option<DatasetFacts> {
    DatasetChoice::Cifar10.facts()
}

#[test]
fn resnet20_shows_every_layer_and_its_published_parameter_count() {
    let page = render(resnet20(10), cifar(), 128);
    assert!(page.contains(r#"id="model-editor""#));
    // Thin-space (U+202F) grouping, as the dataset pages write counts.
    assert_eq!(text_at(&page, &[r#"id="model-params""#]), "269\u{202f}722");
    let model = experiment::shape::infer(&resnet20(10), [3, 32, 32], 10).expect("fits");
    assert!(
        page.contains(&format!(
            "{} FLOPs",
            app::components::dataset::count(u32::try_from(model.flops).expect("fits u32"))
        )),
        "the exact forward FLOPs sit in #model-flops' title"
    );
    assert!(text_at(&page, &[r#"id="model-flops""#]).ends_with(" M"));
    // 68 rows: 23 layers, 9 blocks of 5; the input row on top.
    assert_eq!(page.matches("<tr data-path=").count(), 68);
    assert_eq!(
        row(&page, "0").replace(char::is_whitespace, ""),
        // 3·3·3·16 weights, no bias; 2·27·16·32·32 FLOPs.
        "0convolution16×32×32432885k"
    );
    let block = row(&page, "3");
    assert!(
        block.contains("residual sum (identity shortcut)"),
        "{block}"
    );
    assert!(row(&page, "9.3").contains("32×16×16"));
    assert!(row(&page, "22").contains("10"));
    // Activations of a batch of 128 in f32.
    let bytes = model.activations * 128 * 4;
    assert_eq!(
        text_at(&page, &[r#"id="model-memory""#]),
        app::components::dataset::bytes(bytes)
    );
    // Each setting is an input named by its field path; the block's shortcut a select.
    for field in [
        "experiment.model.layers[0].out",
        "experiment.model.layers[0].kernel",
        "experiment.model.layers[3].layers[0].stride",
        "experiment.model.layers[22].out",
    ] {
        assert!(
            tag(
                &page,
                &[
                    "<input",
                    r#"type="text""#,
                    &format!(r#"data-field="{field}""#)
                ]
            )
            .is_some(),
            "{field}"
        );
    }
    assert!(
        tag(
            &page,
            &[
                "<select",
                r#"data-field="experiment.model.layers[9].shortcut""#
            ]
        )
        .is_some()
    );
    assert!(
        tag(&page, &["field-error", "data-field"]).is_none(),
        "no errors"
    );
}

#[test]
fn a_kernel_larger_than_the_map_is_named_at_its_layer_and_its_row_marked() {
    let mut layers = resnet20(10);
    layers[0] = LayerSpec::Conv {
        out: 16,
        kernel: 40,
        stride: 1,
        padding: 1,
        bias: false,
    };
    let page = render(layers, cifar(), 128);
    let msg = error_at(&page, "experiment.model.layers[0].kernel");
    assert!(
        msg.contains("40×40 kernel does not fit the 32×32 input"),
        "{msg}"
    );
    assert!(row_marked(&page, "0"));
    assert!(!row_marked(&page, "1"));
    assert_eq!(text_at(&page, &[r#"id="model-params""#]), "—");
    assert!(page.contains("Fix it to count the whole model"));
}

#[test]
fn the_rows_before_a_broken_identity_shortcut_keep_their_shapes() {
    let mut layers = resnet20(10);
    if let LayerSpec::Residual { layers: inner, .. } = &mut layers[3] {
        inner[3] = LayerSpec::conv3(24, 1, false);
    }
    let page = render(layers, cifar(), 32);
    let msg = error_at(&page, "experiment.model.layers[3].shortcut");
    assert!(msg.contains("identity shortcut"), "{msg}");
    assert!(row(&page, "2").contains("16×32×32"));
    assert!(row(&page, "3.3").contains("—"));
    assert!(row_marked(&page, "3"));
    // The totals of the stem so far: 432 + 32.
    assert_eq!(text_at(&page, &[r#"id="model-params""#]), "464");
}

#[test]
fn without_the_datasets_shape_only_the_settings_are_checked() {
    let page = render(
        vec![LayerSpec::Dropout { p: 1.5 }, LayerSpec::linear(10)],
        None,
        25,
    );
    assert!(page.contains("The dataset's shape is not known yet"));
    assert!(error_at(&page, "experiment.model.layers[0].p").contains("less than 1"));
    // An empty list is a message, not a panic.
    let empty = render(Vec::new(), cifar(), 25);
    assert!(empty.contains("No layers yet"));
    assert!(error_at(&empty, "experiment.model.layers").contains("at least one"));
}
