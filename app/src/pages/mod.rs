//! Pages, one module each.

pub mod compare;
pub mod home;
pub mod landscape;
pub mod run;
pub mod schedule_editor;
pub mod share;
pub mod sweep;

use domain::wire::FieldError;
use leptos::prelude::*;

/// Routes the answer of a form's creating action: the new thing back to the caller (to open its
/// page), field errors to `fields` (to show beside their inputs), any other refusal into the
/// form's `failure` line.
pub fn answered<T>(
    result: Result<T, crate::api::Refusal>,
    fields: impl FnOnce(Vec<FieldError>),
    failure: RwSignal<Option<String>>,
) -> Option<T> {
    match result {
        Ok(created) => Some(created),
        Err(e) if !e.0.field_errors().is_empty() => {
            fields(e.field_errors());
            None
        }
        Err(e) => {
            failure.set(Some(e.to_string()));
            None
        }
    }
}

/// The message for `field`, shown under its input.
#[component]
pub fn FieldMessage(errors: RwSignal<Vec<FieldError>>, field: &'static str) -> impl IntoView {
    let msg = move || {
        errors.with(|es| {
            es.iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone())
        })
    };
    view! {
        <Show when=move || msg().is_some()>
            <span class="field-error" data-field=field>{msg}</span>
        </Show>
    }
}

/// Milliseconds since the epoch, now (the browser's clock after hydration, the server's before).
pub use domain::clock::now_ms;

/// Milliseconds since the epoch as a UTC timestamp, rendered the same on server and client.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (H. Hinnant), so no date crate enters the wasm bundle.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_timestamps() {
        assert_eq!(super::format_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            super::format_ms(1_795_913_425_000),
            "2026-11-29 00:50:25 UTC"
        );
    }
}
