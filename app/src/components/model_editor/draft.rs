//! The model editor's arithmetic, kept free of signals so it is tested as plain functions:
//! which kinds can be added and with what settings, reading and writing one setting through
//! the layer's own serde form (so a setting is named exactly as in a spec), field paths, the
//! model table (shapes up to the first broken layer, so an error does not blank the table),
//! and the numbers in words.

use experiment::fields::net::layer_path;
use experiment::shape::{check_settings, infer};
use experiment::{LayerRow, LayerSpec, ModelSpec, Shape};
use schedule::FieldError;
use serde_json::Value;

/// Every kind the top-level "Add" offers, as (spec name, label).
pub const KINDS: [(&str, &str); 13] = [
    ("conv", "convolution"),
    ("batch_norm", "batch norm"),
    ("relu", "ReLU"),
    ("gelu", "GELU"),
    ("silu", "SiLU"),
    ("tanh", "tanh"),
    ("max_pool", "max pool"),
    ("avg_pool", "average pool"),
    ("global_avg_pool", "global average pool"),
    ("dropout", "dropout"),
    ("flatten", "flatten"),
    ("linear", "linear"),
    ("residual", "residual block"),
];

/// The kinds a residual block may hold: its layers must keep an image, and blocks do not nest.
pub const BLOCK_KINDS: [&str; 9] = [
    "conv",
    "batch_norm",
    "relu",
    "gelu",
    "silu",
    "tanh",
    "max_pool",
    "avg_pool",
    "dropout",
];

/// The label a kind goes by in the editor.
pub fn label(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("layer", |(_, l)| l)
}

/// How one setting is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    Whole,
    /// A whole number that may be left empty (a pool's stride: the window then).
    Optional,
    Real,
    Flag,
}

/// The settings of a kind, in the order a spec writes them.
pub fn knobs(kind: &str) -> &'static [(&'static str, Knob)] {
    match kind {
        "conv" => &[
            ("out", Knob::Whole),
            ("kernel", Knob::Whole),
            ("stride", Knob::Whole),
            ("padding", Knob::Whole),
            ("bias", Knob::Flag),
        ],
        "max_pool" | "avg_pool" => &[("kernel", Knob::Whole), ("stride", Knob::Optional)],
        "dropout" => &[("p", Knob::Real)],
        "linear" => &[("out", Knob::Whole), ("bias", Knob::Flag)],
        _ => &[],
    }
}

/// A new layer of `kind` that fits where it goes: a conv or a residual block keeps the
/// `channels` arriving there (so an identity shortcut works as added), a linear layer gives
/// one value per class (the usual last layer).
pub fn new_layer(kind: &str, channels: u32, classes: u32) -> Option<LayerSpec> {
    use LayerSpec as L;
    let c = channels.max(1);
    Some(match kind {
        "conv" => L::conv3(c, 1, true),
        "batch_norm" => L::BatchNorm {},
        "relu" => L::Relu {},
        "gelu" => L::Gelu {},
        "silu" => L::Silu {},
        "tanh" => L::Tanh {},
        "max_pool" => L::max_pool2(),
        "avg_pool" => L::AvgPool {
            kernel: 2,
            stride: None,
        },
        "global_avg_pool" => L::GlobalAvgPool {},
        "dropout" => L::Dropout { p: 0.5 },
        "flatten" => L::Flatten {},
        "linear" => L::linear(classes.max(1)),
        "residual" => L::Residual {
            layers: vec![
                L::conv3(c, 1, false),
                L::BatchNorm {},
                L::Relu {},
                L::conv3(c, 1, false),
                L::BatchNorm {},
            ],
            shortcut: experiment::Shortcut::Identity,
        },
        _ => return None,
    })
}

/// The layer at `path` (outer index first), if there is one.
pub fn at<'a>(layers: &'a [LayerSpec], path: &[usize]) -> Option<&'a LayerSpec> {
    match path {
        [i] => layers.get(*i),
        [i, j] => match layers.get(*i) {
            Some(LayerSpec::Residual { layers, .. }) => layers.get(*j),
            _ => None,
        },
        _ => None,
    }
}

pub fn at_mut<'a>(layers: &'a mut [LayerSpec], path: &[usize]) -> Option<&'a mut LayerSpec> {
    match path {
        [i] => layers.get_mut(*i),
        [i, j] => match layers.get_mut(*i) {
            Some(LayerSpec::Residual { layers, .. }) => layers.get_mut(*j),
            _ => None,
        },
        _ => None,
    }
}

/// The list that holds the layer at `path`: the model's, or a residual block's.
pub fn list_mut<'a>(
    layers: &'a mut Vec<LayerSpec>,
    parent: &[usize],
) -> Option<&'a mut Vec<LayerSpec>> {
    match parent {
        [] => Some(layers),
        [i] => match layers.get_mut(*i) {
            Some(LayerSpec::Residual { layers, .. }) => Some(layers),
            _ => None,
        },
        _ => None,
    }
}

/// `3.1` for layer 1 of block 3: the table's and the tests' name of a layer.
pub fn dotted(path: &[usize]) -> String {
    path.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// A setting as its input shows it ("" for an absent optional one).
pub fn read(layer: &LayerSpec, name: &str) -> String {
    match serde_json::to_value(layer)
        .ok()
        .and_then(|v| v.get(name).cloned())
    {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// The layer with one setting typed anew, or why the text is no value of that setting. Ranges
/// are left to shape inference, which names them the way the server does.
pub fn write(layer: &LayerSpec, name: &str, knob: Knob, text: &str) -> Result<LayerSpec, String> {
    let text = text.trim();
    let value = match knob {
        Knob::Optional if text.is_empty() => None,
        Knob::Whole | Knob::Optional => Some(Value::from(
            text.parse::<u32>()
                .map_err(|_| "must be a whole number".to_owned())?,
        )),
        Knob::Real => Some(
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "must be a number".to_owned())?,
        ),
        Knob::Flag => Some(Value::Bool(text == "true")),
    };
    let mut json = serde_json::to_value(layer).map_err(|e| e.to_string())?;
    let Some(obj) = json.as_object_mut() else {
        return Err("not a layer".into());
    };
    match value {
        Some(v) => obj.insert(name.to_owned(), v),
        None => obj.remove(name),
    };
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// The layer path an error names, with `main.` (a sweep's main run) taken off: `[3, 1]` for
/// `experiment.model.layers[3].layers[1].stride`, and the setting (`stride`) if any.
pub fn error_path(field: &str) -> Option<(Vec<usize>, Option<String>)> {
    let field = field.strip_prefix("main.").unwrap_or(field);
    let mut rest = field.strip_prefix(experiment::fields::net::MODEL_LAYERS)?;
    let mut path = Vec::new();
    loop {
        let inner = if path.is_empty() {
            Some(rest)
        } else {
            rest.strip_prefix(".layers")
        };
        let Some(open) = inner.and_then(|r| r.strip_prefix('[')) else {
            break;
        };
        let Some((index, after)) = open.split_once(']') else {
            break;
        };
        let Ok(index) = index.parse() else { break };
        path.push(index);
        rest = after;
    }
    let setting = rest.strip_prefix('.').map(str::to_owned);
    (!path.is_empty()).then_some((path, setting))
}

/// The messages at exactly this field.
pub fn messages_at(errors: &[FieldError], field: &str) -> Option<String> {
    let found: Vec<&str> = errors
        .iter()
        .filter(|e| e.field.strip_prefix("main.").unwrap_or(&e.field) == field)
        .map(|e| e.message.as_str())
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

/// The messages a layer's row shows: the layer as a whole, and a block's list of layers.
pub fn row_messages(errors: &[FieldError], path: &[usize]) -> Option<String> {
    let whole = messages_at(errors, &layer_path(path, None));
    let list = messages_at(errors, &layer_path(path, Some("layers")));
    match (whole, list) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// Whether any error names this layer or one of its settings (a block's own layers aside).
pub fn marked(errors: &[FieldError], path: &[usize]) -> bool {
    errors
        .iter()
        .filter_map(|e| error_path(&e.field))
        .any(|(p, _)| p == path)
}

/// What the editor knows of the model: the table's rows (every layer up to the first broken
/// one), the totals of those rows, and every problem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    pub rows: Vec<LayerRow>,
    /// Parameters, forward FLOPs and stored floats per example (the input included) of the
    /// rows; None when there are none.
    pub totals: Option<(u64, u64, u64)>,
    /// Whether the totals are the whole model's (else those of the layers before the error).
    pub complete: bool,
    pub errors: Vec<FieldError>,
    /// Whether the dataset's shape was known (else only the settings were checked).
    pub known: bool,
}

/// Shape inference over `layers` for a dataset of this `[c, h, w]` and class count; with no
/// dataset known, the settings alone. A broken list still gets its rows up to its first broken
/// layer (through it, when the only problem is how the network ends, as while it is being
/// built): that part is inferred again with a classifier appended.
pub fn analyse(layers: &[LayerSpec], data: Option<([u32; 3], u32)>) -> Analysis {
    let Some((input, classes)) = data else {
        return Analysis {
            errors: check_settings(layers).err().unwrap_or_default(),
            ..Analysis::default()
        };
    };
    let errors = match infer(layers, input, classes) {
        Ok(m) => {
            return Analysis {
                totals: Some((m.params, m.flops, m.activations)),
                complete: true,
                rows: m.rows,
                errors: Vec::new(),
                known: true,
            };
        }
        Err(errors) => errors,
    };
    // Any error outside a layer (the list, the dataset) leaves no layer to trust.
    let first = errors
        .iter()
        .map(|e| error_path(&e.field).map(|(p, _)| p[0]))
        .try_fold(usize::MAX, |m, i| i.map(|i| m.min(i)))
        .unwrap_or(0)
        .min(layers.len());
    let classifier = LayerSpec::linear(classes.max(1));
    let rows: Vec<LayerRow> = [layers.len(), first]
        .into_iter()
        .flat_map(|end| {
            let heads = [
                vec![classifier.clone()],
                vec![LayerSpec::Flatten {}, classifier.clone()],
            ];
            heads.into_iter().map(move |head| (end, head))
        })
        .find_map(|(end, head)| {
            let mut list = layers[..end].to_vec();
            list.extend(head);
            infer(&list, input, classes)
                .ok()
                .map(|m| m.rows.into_iter().filter(|r| r.path[0] < end).collect())
        })
        .unwrap_or_default();
    let [c, h, w] = input;
    let start = Shape::Image { c, h, w }.floats();
    let totals = (!rows.is_empty()).then(|| {
        rows.iter().fold((0u64, 0u64, start), |(p, f, a), r| {
            (
                p.saturating_add(r.params),
                f.saturating_add(r.flops),
                a.saturating_add(r.activations),
            )
        })
    });
    Analysis {
        rows,
        totals,
        complete: false,
        errors,
        known: true,
    }
}

/// The output shape of the layer at `path`, when inferred.
pub fn output_at(rows: &[LayerRow], path: &[usize]) -> Option<Shape> {
    rows.iter().find(|r| r.path == path).map(|r| r.output)
}

/// The channels arriving at position `index` of the list at `parent` (the model's, or block
/// `parent[0]`'s), when known: what a new conv or block there should keep.
pub fn channels_before(
    rows: &[LayerRow],
    parent: &[usize],
    index: usize,
    input_channels: u32,
) -> Option<u32> {
    let before = match (parent, index) {
        ([], 0) => return Some(input_channels),
        ([], i) => vec![i - 1],
        ([b], 0) if *b == 0 => return Some(input_channels),
        ([b], 0) => vec![b - 1],
        ([b], i) => vec![*b, i - 1],
        _ => return None,
    };
    match output_at(rows, &before)? {
        Shape::Image { c, .. } => Some(c),
        Shape::Vector { .. } => None,
    }
}

/// The layer list from the JSON text: a list of layers, or a whole model spec
/// (`{"kind": "layers", …}` or a built-in kind, expanded for `classes`). A parse error says
/// where: "line 3, column 14: unknown variant `cnv`, expected one of …".
pub fn parse_json(text: &str, classes: u32) -> Result<Vec<LayerSpec>, String> {
    let located = |e: serde_json::Error| {
        let text = e.to_string();
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m);
        format!("line {}, column {}: {message}", e.line(), e.column())
    };
    if text.trim_start().starts_with('{') {
        serde_json::from_str::<ModelSpec>(text)
            .map(|m| m.to_layers(classes))
            .map_err(located)
    } else {
        serde_json::from_str::<Vec<LayerSpec>>(text).map_err(located)
    }
}

/// The list as the JSON box shows it.
pub fn pretty(layers: &[LayerSpec]) -> String {
    serde_json::to_string_pretty(layers).unwrap_or_default()
}

/// A whole count with thin-space thousands separators (U+202F, as the dataset pages write
/// counts): `269 722`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    out
}

/// A large count to three significant figures with an SI prefix: `40.6 M`, `1.23 G`, `512`.
pub fn si(n: u64) -> String {
    let prefixes = ["", " k", " M", " G", " T", " P", " E"];
    let mut v = n as f64;
    let mut p = 0;
    while v >= 999.5 && p + 1 < prefixes.len() {
        v /= 1000.0;
        p += 1;
    }
    if p == 0 {
        return n.to_string();
    }
    let digits = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{}", prefixes[p])
}

/// The shape of the list without its settings: what the editor's rows are built from, so that
/// typing a setting redraws values and not rows.
pub fn outline(layers: &[LayerSpec]) -> Vec<(&'static str, Vec<&'static str>)> {
    layers
        .iter()
        .map(|l| match l {
            LayerSpec::Residual { layers, .. } => {
                (l.kind(), layers.iter().map(LayerSpec::kind).collect())
            }
            _ => (l.kind(), Vec::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use experiment::zoo::resnet20;

    #[test]
    fn settings_read_and_write_through_the_spec_names() {
        let conv = LayerSpec::conv3(16, 1, true);
        assert_eq!(read(&conv, "kernel"), "3");
        assert_eq!(read(&conv, "bias"), "true");
        let wider = write(&conv, "out", Knob::Whole, " 32 ").expect("a number");
        assert_eq!(wider, LayerSpec::conv3(32, 1, true));
        assert_eq!(
            write(&conv, "out", Knob::Whole, "3a"),
            Err("must be a whole number".into())
        );
        let pool = LayerSpec::max_pool2();
        assert_eq!(read(&pool, "stride"), "");
        let strided = write(&pool, "stride", Knob::Optional, "1").expect("a number");
        assert_eq!(read(&strided, "stride"), "1");
        assert_eq!(write(&strided, "stride", Knob::Optional, ""), Ok(pool));
        let drop = write(&LayerSpec::Dropout { p: 0.5 }, "p", Knob::Real, "0.25");
        assert_eq!(drop, Ok(LayerSpec::Dropout { p: 0.25 }));
        assert!(write(&LayerSpec::Dropout { p: 0.5 }, "p", Knob::Real, "NaN").is_err());
    }

    #[test]
    fn error_fields_name_their_layer() {
        assert_eq!(
            error_path("experiment.model.layers[4].kernel"),
            Some((vec![4], Some("kernel".into())))
        );
        assert_eq!(
            error_path("main.experiment.model.layers[3].layers[1].stride"),
            Some((vec![3, 1], Some("stride".into())))
        );
        assert_eq!(
            error_path("experiment.model.layers[12]"),
            Some((vec![12], None))
        );
        assert_eq!(error_path("experiment.model.layers"), None);
        assert_eq!(error_path("experiment.batch"), None);
        let es = vec![FieldError {
            field: "experiment.model.layers[12]".into(),
            message: "broken".into(),
        }];
        assert!(marked(&es, &[12]));
        assert!(
            !marked(&es, &[1]),
            "layers[1] is not a prefix match of [12]"
        );
    }

    #[test]
    fn resnet20_fits_cifar_with_its_published_count() {
        let a = analyse(&resnet20(10), Some(([3, 32, 32], 10)));
        assert_eq!(a.errors, vec![]);
        assert_eq!(a.totals.map(|t| t.0), Some(269_722));
        assert_eq!(grouped(269_722), "269\u{202f}722");
        // 9 blocks of 5 layers, each with its own row, and 23 top-level rows.
        assert_eq!(a.rows.len(), 23 + 45);
    }

    #[test]
    fn a_broken_layer_keeps_the_rows_before_it() {
        let mut layers = resnet20(10);
        // A 40×40 kernel on the 16×32×32 map after the stem.
        layers.insert(
            3,
            LayerSpec::Conv {
                out: 16,
                kernel: 40,
                stride: 1,
                padding: 0,
                bias: true,
            },
        );
        let a = analyse(&layers, Some(([3, 32, 32], 10)));
        assert!(!a.complete);
        assert_eq!(a.errors[0].field, "experiment.model.layers[3].kernel");
        assert_eq!(a.rows.len(), 3);
        // The stem's conv (no bias) and batch norm: 432 + 32.
        assert_eq!(a.totals.map(|t| t.0), Some(464));
        assert_eq!(
            output_at(&a.rows, &[2]).map(|s| s.to_string()).as_deref(),
            Some("16×32×32")
        );
        assert!(marked(&a.errors, &[3]));
        // Nothing known of the data: the settings alone, and no panic on anything.
        assert_eq!(
            analyse(&[], None).errors.len(),
            1,
            "an empty list is refused"
        );
        assert!(!analyse(&[], Some(([1, 28, 28], 10))).errors.is_empty());
    }

    #[test]
    fn json_errors_say_where() {
        let e = parse_json("[\n  {\"kind\": \"cnv\"}\n]", 10).expect_err("no such kind");
        assert!(e.starts_with("line 2, column "), "{e}");
        assert!(e.contains("cnv"), "{e}");
        assert_eq!(
            parse_json(r#"{"kind": "small_cnn"}"#, 10),
            Ok(ModelSpec::SmallCnn.to_layers(10))
        );
        let layers = resnet20(10);
        assert_eq!(parse_json(&pretty(&layers), 10), Ok(layers));
    }

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(si(512), "512");
        assert_eq!(si(40_600_000), "40.6 M");
        assert_eq!(si(1_234_567_890), "1.23 G");
        assert_eq!(si(999_999), "1.00 M");
        assert_eq!(grouped(12), "12");
    }

    #[test]
    fn a_network_being_built_shows_every_row_so_far() {
        // Not ending in 10 class scores yet: every layer still has its row.
        let list = vec![LayerSpec::conv3(8, 1, true), LayerSpec::BatchNorm {}];
        let a = analyse(&list, Some(([1, 28, 28], 10)));
        assert_eq!(a.errors[0].field, "experiment.model.layers[1]");
        assert_eq!(a.rows.len(), 2);
        assert_eq!(a.totals.map(|t| t.0), Some(80 + 16));
        assert!(!a.complete);
    }

    #[test]
    fn new_layers_fit_where_they_go() {
        let block = new_layer("residual", 8, 10).expect("a kind");
        let list = vec![
            LayerSpec::conv3(8, 1, true),
            block,
            LayerSpec::GlobalAvgPool {},
            new_layer("linear", 8, 10).expect("a kind"),
        ];
        let a = analyse(&list, Some(([1, 28, 28], 10)));
        assert_eq!(a.errors, vec![]);
        assert_eq!(channels_before(&a.rows, &[], 1, 1), Some(8));
        assert_eq!(channels_before(&a.rows, &[1], 0, 1), Some(8));
        assert_eq!(channels_before(&a.rows, &[], 3, 1), None);
        for (kind, _) in KINDS {
            assert!(new_layer(kind, 4, 10).is_some(), "{kind}");
        }
    }
}
