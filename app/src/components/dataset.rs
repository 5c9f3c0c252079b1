//! Datasets as the pages describe them: a shape in words, counts with thousands separators, a
//! size on disk, the run form's options, and the `DatasetChoice` a chosen name stands for.

use domain::wire::DatasetInfo;
use experiment::{DatasetChoice, DatasetRef};

/// The built-in datasets' names and labels, offered while the registry's list is not at hand.
pub const BUILTINS: [(&str, &str); 3] = [
    ("fashion_mnist", "Fashion-MNIST"),
    ("mnist", "MNIST"),
    ("cifar10", "CIFAR-10"),
];

/// `[channels, height, width]` as `C×H×W`.
pub fn shape_text(shape: [u32; 3]) -> String {
    let [c, h, w] = shape;
    format!("{c}×{h}×{w}")
}

/// A count with thin-space thousands separators (`60 000`), the same on server and browser.
pub fn count(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    out
}

/// A size on disk in B, kB, MB or GB (powers of 1000).
pub fn bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < units.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[unit])
    }
}

/// How a dataset reads in words: the built-ins by their usual names, a registered one by its.
pub fn title(d: &DatasetInfo) -> String {
    if d.builtin {
        d.choice().label()
    } else {
        d.name.clone()
    }
}

/// One option of the run form's dataset select: its label says what it holds, and whether this
/// server can train on it now.
pub fn option_label(d: &DatasetInfo) -> String {
    let mut label = if d.builtin {
        title(d)
    } else {
        format!(
            "{} · v{} · {} · {} classes",
            d.name,
            d.version,
            shape_text(d.shape),
            d.class_names.len()
        )
    };
    if !d.available {
        label.push_str(" (not available here)");
    }
    label
}

/// The dataset select's (value, label) pairs: every dataset the registry lists, or the
/// built-in ones while that list is unavailable.
pub fn options(list: &[DatasetInfo]) -> Vec<(String, String)> {
    if list.is_empty() {
        return BUILTINS
            .iter()
            .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
            .collect();
    }
    list.iter()
        .map(|d| (d.name.clone(), option_label(d)))
        .collect()
}

/// What the run spec's `experiment.dataset` is when the form names `name`: the listed
/// dataset's choice (a registered one with its hash pinned and its facts, so validation in the
/// browser knows its shape and sizes), a built-in one by name, or an unknown registered name
/// without facts (which validation reports at the dataset field).
pub fn choice_named(name: &str, list: &[DatasetInfo]) -> DatasetChoice {
    if let Some(d) = list.iter().find(|d| d.name == name) {
        return d.choice();
    }
    match name {
        "mnist" => DatasetChoice::Mnist,
        "cifar10" => DatasetChoice::Cifar10,
        "" | "fashion_mnist" => DatasetChoice::FashionMnist,
        other => DatasetChoice::Registered(DatasetRef {
            name: other.to_owned(),
            hash: None,
            facts: None,
        }),
    }
}

/// A choice's facts as the run form's hint puts them: "10 classes · 60 000 train · …".
pub fn summary(choice: &DatasetChoice) -> String {
    match choice.facts() {
        Some(f) => format!(
            "{} classes · {} train · {} test · {}",
            f.classes,
            count(f.train),
            count(f.test),
            shape_text(f.shape)
        ),
        None => "not in this server's registry".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> DatasetInfo {
        DatasetInfo {
            name: "flowers".into(),
            version: 2,
            hash: Some("ab".repeat(32)),
            builtin: false,
            available: true,
            kind: "images".into(),
            shape: [3, 32, 32],
            class_names: vec!["daisy".into(), "rose".into()],
            train_per_class: vec![80, 120],
            test_per_class: vec![20, 30],
            mean: vec![0.5, 0.4, 0.3],
            std: vec![0.2, 0.2, 0.2],
            source: "zip".into(),
            bytes: 1_234_567,
            created_at_ms: 0,
        }
    }

    #[test]
    fn counts_and_sizes_read_well() {
        assert_eq!(count(7), "7");
        assert_eq!(count(60_000), "60\u{202f}000");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_234_567), "1.2 MB");
        assert_eq!(shape_text([3, 32, 32]), "3×32×32");
    }

    #[test]
    fn a_listed_name_brings_its_facts_and_hash() {
        let list = vec![registered()];
        let DatasetChoice::Registered(r) = choice_named("flowers", &list) else {
            panic!("a registered choice");
        };
        assert_eq!(r.hash.as_deref(), list[0].hash.as_deref());
        let facts = r.facts.expect("facts");
        assert_eq!((facts.classes, facts.train, facts.test), (2, 200, 50));
        assert_eq!(facts.min_train_per_class, 80);
        assert_eq!(choice_named("mnist", &[]), DatasetChoice::Mnist);
        assert_eq!(choice_named("", &[]), DatasetChoice::FashionMnist);
        let DatasetChoice::Registered(unknown) = choice_named("gone", &list) else {
            panic!("a registered choice");
        };
        assert!(unknown.facts.is_none());
    }

    #[test]
    fn options_fall_back_to_the_builtins_and_mark_unavailable_ones() {
        assert_eq!(options(&[]).len(), 3);
        let mut d = registered();
        d.available = false;
        assert_eq!(
            options(&[d]),
            vec![(
                "flowers".to_owned(),
                "flowers · v2 · 3×32×32 · 2 classes (not available here)".to_owned()
            )]
        );
    }
}
