//! The upload panel: a name, a file dropped on the zone (or picked), the optional held-out
//! fraction, resize and label column, then a progress bar while the file itself streams to
//! `POST /api/datasets` and the server's answer: field errors beside their inputs, a size
//! refusal in words, or the new dataset's page.

use domain::wire::{DatasetRegistered, FieldError};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use serde::Deserialize;

use super::browser;
use crate::components::dataset::{BUILTINS, bytes};
use crate::components::form::{FieldMessage, NumField};

/// What the panel's inputs say, everything but the file's bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct UploadOptions {
    pub name: String,
    pub file_name: String,
    pub held_out: String,
    pub resize: String,
    pub label_column: String,
}

/// `s` with every byte but the URL-unreserved ones percent-encoded, for a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The upload's address: the options travel in the query string (the body is the file), the
/// empty optional ones left out so the server applies its defaults.
pub(super) fn upload_url(o: &UploadOptions) -> String {
    let mut url = format!("/api/datasets?name={}", encode(o.name.trim()));
    for (key, value) in [
        ("file_name", &o.file_name),
        ("held_out", &o.held_out),
        ("resize", &o.resize),
        ("label_column", &o.label_column),
    ] {
        let value = value.trim();
        if !value.is_empty() {
            url.push_str(&format!("&{key}={}", encode(value)));
        }
    }
    url
}

/// The problems the panel can see before sending anything: a name the registry would refuse,
/// and no file.
pub(super) fn check(o: &UploadOptions, has_file: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = o.name.trim();
    let message = if !experiment::limits::is_dataset_name(name) {
        Some(format!(
            "1 to {} letters, digits, `.`, `_` or `-`, starting with a letter or digit",
            experiment::limits::MAX_DATASET_NAME
        ))
    } else if BUILTINS.iter().any(|(b, _)| *b == name) {
        Some(format!(
            "{name:?} is a built-in dataset's name; choose another"
        ))
    } else {
        None
    };
    if let Some(message) = message {
        errs.push(FieldError {
            field: "name".into(),
            message,
        });
    }
    if !has_file {
        errs.push(FieldError {
            field: "file".into(),
            message: "drop a file here or click to pick one".into(),
        });
    }
    errs
}

/// How the server answered an upload.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Answer {
    /// The registered dataset's name (its page is next).
    Registered(String),
    /// Inputs to fix, each beside its field.
    Fields(Vec<FieldError>),
    /// Anything else, in words.
    Failed(String),
}

/// A refusal's body: `{"error": "...", "fields": [...]}` (a 413 has no fields).
#[derive(Deserialize)]
struct Refused {
    error: String,
    #[serde(default)]
    fields: Vec<FieldError>,
}

/// The answer in `body` with HTTP `status` (0: the request never completed).
pub(super) fn read_answer(status: u16, body: &str) -> Answer {
    if status == 0 {
        return Answer::Failed(
            "The upload did not complete: the connection was lost, or the server closed it \
             (it cuts off a file over its upload limit)."
                .into(),
        );
    }
    if (200..300).contains(&status) {
        return match serde_json::from_str::<DatasetRegistered>(body) {
            Ok(r) => Answer::Registered(r.dataset.name),
            Err(e) => Answer::Failed(format!("The server's answer could not be read: {e}")),
        };
    }
    let refused = serde_json::from_str::<Refused>(body).ok();
    match refused {
        Some(r) if !r.fields.is_empty() => Answer::Fields(r.fields),
        Some(r) if status == 413 => Answer::Failed(format!("Too large: {}", r.error)),
        Some(r) => Answer::Failed(r.error),
        None if status == 413 => Answer::Failed("Too large for this server's upload limit.".into()),
        None => Answer::Failed(format!("The server answered {status}.")),
    }
}

/// Where an upload stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Idle,
    /// Bytes sent and the file's size.
    Sending(f64, f64),
    /// Every byte sent; the server is decoding and checking the data.
    Processing,
}

/// The panel's inputs.
#[derive(Clone, Copy)]
struct Inputs {
    name: RwSignal<String>,
    held_out: RwSignal<String>,
    resize: RwSignal<String>,
    label_column: RwSignal<String>,
    /// The picked file's name and size.
    picked: RwSignal<Option<(String, f64)>>,
}

impl Inputs {
    fn options(self) -> UploadOptions {
        UploadOptions {
            name: self.name.get_untracked(),
            file_name: self
                .picked
                .get_untracked()
                .map(|(n, _)| n)
                .unwrap_or_default(),
            held_out: self.held_out.get_untracked(),
            resize: self.resize.get_untracked(),
            label_column: self.label_column.get_untracked(),
        }
    }
}

/// The upload card.
#[component]
pub(super) fn UploadPanel() -> impl IntoView {
    let s = || RwSignal::new(String::new());
    let inputs = Inputs {
        name: s(),
        held_out: s(),
        resize: s(),
        label_column: s(),
        picked: RwSignal::new(None),
    };
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<String>);
    let phase = RwSignal::new(Phase::Idle);
    let navigate = use_navigate();
    let finish = move |status: u16, body: String| {
        phase.set(Phase::Idle);
        match read_answer(status, &body) {
            Answer::Registered(name) => {
                navigate(&format!("/datasets/{name}"), Default::default());
            }
            Answer::Fields(es) => errors.set(es),
            Answer::Failed(m) => failure.set(Some(m)),
        }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        let options = inputs.options();
        let errs = check(&options, inputs.picked.get_untracked().is_some());
        if !errs.is_empty() {
            errors.set(errs);
            return;
        }
        errors.set(Vec::new());
        phase.set(Phase::Sending(0.0, 0.0));
        let progress = move |sent: f64, total: f64| {
            phase.set(if sent >= total {
                Phase::Processing
            } else {
                Phase::Sending(sent, total)
            });
        };
        if let Err(m) = browser::send(&upload_url(&options), progress, finish.clone()) {
            phase.set(Phase::Idle);
            failure.set(Some(m));
        }
    };
    let busy = move || phase.get() != Phase::Idle;

    view! {
        <section class="card upload" id="upload">
            <h2>"Register a dataset"</h2>
            <p class="lede">
                "An image folder as a .zip, .tar or .tar.gz (one folder per class, or train/ and test/ "
                "folders of class folders), arrays as .npz (x_train, y_train, x_test, y_test) or .npy, "
                "or a table as .csv with a label column. Registering other content under a taken name "
                "makes its next version; runs keep the version they trained on."
            </p>
            <form id="upload-form" on:submit=on_submit novalidate>
                <div class="grid">
                    <NumField label="name" field="name" value=inputs.name errors
                        hint="letters, digits, . _ - (runs name it)"/>
                </div>
                <DropZone picked=inputs.picked errors/>
                <div class="grid">
                    <NumField label="held-out fraction (optional)" field="held_out" value=inputs.held_out errors
                        hint="of the training data, for a test split when there is none (default 0.2)"/>
                    <NumField label="resize to (optional)" field="resize" value=inputs.resize errors
                        hint="WIDTHxHEIGHT, e.g. 32x32; images only"/>
                    <NumField label="label column (optional)" field="label_column" value=inputs.label_column errors
                        hint="CSV only (default: label)"/>
                </div>
                <UploadProgress phase/>
                <button type="submit" id="upload-start" disabled=busy>
                    {move || if busy() { "Uploading…" } else { "Upload" }}
                </button>
                <Show when=move || failure.get().is_some()>
                    <p class="form-error" id="upload-failure">{move || failure.get()}</p>
                </Show>
            </form>
        </section>
    }
}

/// The drop zone, a label for the hidden file input so a click opens the file picker.
#[component]
fn DropZone(
    picked: RwSignal<Option<(String, f64)>>,
    errors: RwSignal<Vec<FieldError>>,
) -> impl IntoView {
    let over = RwSignal::new(false);
    let take = move |file: Option<(String, f64)>| {
        if file.is_some() {
            picked.set(file);
            errors.update(|es| es.retain(|e| e.field != "file"));
        }
    };
    let invalid = move || errors.with(|es| es.iter().any(|e| e.field == "file"));
    view! {
        <label class="dropzone" for="f-file" id="dropzone" class:over=move || over.get() class:invalid=invalid
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); over.set(true); }
            on:dragleave=move |_| over.set(false)
            on:drop=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                over.set(false);
                take(browser::pick_dropped(&ev));
            }>
            <input id="f-file" name="file" type="file" class="visually-hidden"
                accept=".zip,.tar,.tgz,.tar.gz,.npz,.npy,.csv"
                on:change=move |ev| take(browser::pick_input(&ev))/>
            <span class="dropzone-text">
                {move || match picked.get() {
                    Some((name, size)) => format!("{name} · {}", bytes(size as u64)),
                    None => "Drop a .zip, .tar(.gz), .npz, .npy or .csv here, or click to pick one".into(),
                }}
            </span>
            <FieldMessage errors field="file"/>
        </label>
    }
}

/// The progress bar while the file streams up, then a note while the server checks it.
#[component]
fn UploadProgress(phase: RwSignal<Phase>) -> impl IntoView {
    move || match phase.get() {
        Phase::Idle => ().into_any(),
        Phase::Sending(sent, total) => {
            let pct = if total > 0.0 {
                100.0 * sent / total
            } else {
                0.0
            };
            view! {
                <div class="progress upload-progress" id="upload-progress">
                    <progress max="100" value=pct></progress>
                    <span>{format!(" {pct:.0}% · {} of {}", bytes(sent as u64), bytes(total as u64))}</span>
                </div>
            }
            .into_any()
        }
        Phase::Processing => view! {
            <div class="progress upload-progress" id="upload-progress">
                <progress max="100" value="100"></progress>
                <span>" Sent; the server is reading and checking the data…"</span>
            </div>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_carries_the_options_encoded() {
        let o = UploadOptions {
            name: " flowers ".into(),
            file_name: "my flowers (1).tar.gz".into(),
            held_out: "0.2".into(),
            resize: "".into(),
            label_column: "".into(),
        };
        assert_eq!(
            upload_url(&o),
            "/api/datasets?name=flowers&file_name=my%20flowers%20%281%29.tar.gz&held_out=0.2"
        );
    }

    #[test]
    fn names_and_a_missing_file_are_caught_before_sending() {
        let o = |name: &str| UploadOptions {
            name: name.into(),
            ..UploadOptions::default()
        };
        assert!(check(&o("flowers"), true).is_empty());
        let fields = |es: Vec<FieldError>| es.into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(fields(check(&o(""), false)), ["name", "file"]);
        assert_eq!(fields(check(&o("../x"), true)), ["name"]);
        assert_eq!(fields(check(&o("mnist"), true)), ["name"]);
    }

    #[test]
    fn answers_become_fields_messages_or_the_dataset() {
        let fields = read_answer(
            422,
            r#"{"error":"invalid request","fields":[{"field":"file","message":"cat/3.png: not an image"}]}"#,
        );
        assert_eq!(
            fields,
            Answer::Fields(vec![FieldError {
                field: "file".into(),
                message: "cat/3.png: not an image".into()
            }])
        );
        assert_eq!(
            read_answer(413, r#"{"error":"the upload is over 2 GB"}"#),
            Answer::Failed("Too large: the upload is over 2 GB".into())
        );
        assert!(
            matches!(read_answer(413, "<html>"), Answer::Failed(m) if m.starts_with("Too large"))
        );
        assert!(matches!(read_answer(0, ""), Answer::Failed(_)));
        assert_eq!(
            read_answer(500, "oops"),
            Answer::Failed("The server answered 500.".into())
        );
    }
}
