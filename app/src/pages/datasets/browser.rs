//! The browser half of the upload: the file the user dropped or picked, and the
//! XMLHttpRequest that sends it as the request body (fetch reports no upload progress).
//! Compiled only into the hydrating WASM bundle.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DragEvent, Event, File, HtmlInputElement, ProgressEvent, XmlHttpRequest};

/// An upload under way: its request, and the handler its progress events call.
type InFlight = (XmlHttpRequest, Closure<dyn FnMut(ProgressEvent)>);

thread_local! {
    /// The file the next upload sends.
    static PICKED: RefCell<Option<File>> = const { RefCell::new(None) };
    /// The request under way and its progress handler, kept alive until the next upload
    /// replaces them (never dropped while the handler runs).
    static IN_FLIGHT: RefCell<Option<InFlight>> = const { RefCell::new(None) };
}

fn keep(file: File) -> (String, f64) {
    let about = (file.name(), file.size());
    PICKED.with(|p| *p.borrow_mut() = Some(file));
    about
}

/// The first file of a file input's change event: its name and size, kept for `send`.
pub fn pick_input(ev: &Event) -> Option<(String, f64)> {
    let input: HtmlInputElement = ev.target()?.dyn_into().ok()?;
    Some(keep(input.files()?.get(0)?))
}

/// The first file dropped on the zone: its name and size, kept for `send`.
pub fn pick_dropped(ev: &DragEvent) -> Option<(String, f64)> {
    Some(keep(ev.data_transfer()?.files()?.get(0)?))
}

fn text(e: JsValue) -> String {
    e.as_string()
        .unwrap_or_else(|| "the browser refused the request".into())
}

/// POSTs the kept file to `url` as the raw body; `on_progress(sent, total)` as bytes go out,
/// then `on_done(status, body)` once (status 0 when the request failed before an answer).
pub fn send(
    url: &str,
    on_progress: impl Fn(f64, f64) + 'static,
    on_done: impl FnOnce(u16, String) + 'static,
) -> Result<(), String> {
    let file = PICKED
        .with(|p| p.borrow().clone())
        .ok_or_else(|| "Pick a file first.".to_owned())?;
    let xhr = XmlHttpRequest::new().map_err(text)?;
    xhr.open_with_async("POST", url, true).map_err(text)?;
    xhr.set_request_header("Content-Type", "application/octet-stream")
        .map_err(text)?;
    let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() {
            on_progress(e.loaded(), e.total());
        }
    });
    xhr.upload()
        .map_err(text)?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    // Load and error share the one answer: whichever comes first takes it.
    let done = Rc::new(RefCell::new(Some(on_done)));
    let (answered, x) = (done.clone(), xhr.clone());
    let on_load = Closure::once_into_js(move || {
        if let Some(f) = answered.borrow_mut().take() {
            let body = x.response_text().ok().flatten().unwrap_or_default();
            f(x.status().unwrap_or(0), body);
        }
    });
    xhr.set_onload(Some(on_load.unchecked_ref()));
    let on_error = Closure::once_into_js(move || {
        if let Some(f) = done.borrow_mut().take() {
            f(0, String::new());
        }
    });
    xhr.set_onerror(Some(on_error.unchecked_ref()));
    xhr.send_with_opt_blob(Some(&file)).map_err(text)?;
    IN_FLIGHT.with(|f| *f.borrow_mut() = Some((xhr, progress)));
    Ok(())
}
