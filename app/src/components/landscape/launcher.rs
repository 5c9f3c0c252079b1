//! The loss-landscape launcher under a finished run or sweep (grid, margin and plane, then off
//! to the job page), and the list of landscapes computed so far.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::{CreateLandscape, list_landscapes};
use crate::components::form::answered;
use crate::components::format::format_ms;
use domain::wire::{FieldError, LandscapeMethod, LandscapeRequest, LandscapeSource, LandscapeSpec};

/// What the launcher's inputs hold, as typed.
struct LauncherForm {
    grid: String,
    margin: String,
    method: String,
    seed: String,
}

impl LauncherForm {
    /// The spec the inputs describe, or their problems keyed as the server keys them
    /// (`spec.<field>`): the same validation the server applies, so mistakes show before a
    /// round trip.
    fn to_spec(&self) -> Result<LandscapeSpec, Vec<FieldError>> {
        let mut local = Vec::new();
        let parse_or = |v: &str, f: &str, local: &mut Vec<FieldError>| {
            v.trim().parse::<f64>().ok().or_else(|| {
                local.push(FieldError {
                    field: f.into(),
                    message: "must be a number".into(),
                });
                None
            })
        };
        let g = parse_or(&self.grid, "spec.grid", &mut local);
        let m = parse_or(&self.margin, "spec.margin", &mut local);
        let s = self.seed.trim().parse::<u64>().ok();
        let method = match self.method.as_str() {
            "curved_pca" => LandscapeMethod::CurvedPca,
            "random" => LandscapeMethod::RandomFilterNormalized {
                seed: s.unwrap_or(0),
            },
            _ => LandscapeMethod::Pca,
        };
        let (Some(g), Some(m)) = (g, m) else {
            return Err(local);
        };
        let spec = LandscapeSpec {
            grid: if g.fract() == 0.0 && g >= 0.0 && g <= f64::from(u32::MAX) {
                g as u32
            } else {
                0
            },
            margin: m,
            method,
        };
        spec.validate().map(|()| spec).map_err(|es| {
            es.into_iter()
                .map(|e| FieldError {
                    field: format!("spec.{}", e.field),
                    message: e.message,
                })
                .collect()
        })
    }
}

/// The form under a finished run or sweep: grid, margin and plane, then off to the job page.
#[component]
pub fn LandscapeLauncher(source: LandscapeSource) -> impl IntoView {
    let defaults = LandscapeSpec::default();
    let grid = RwSignal::new(defaults.grid.to_string());
    let margin = RwSignal::new(defaults.margin.to_string());
    let method = RwSignal::new("pca".to_owned());
    let seed = RwSignal::new("0".to_owned());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<String>);
    let start = ServerAction::<CreateLandscape>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(result) = start.value().get()
            && let Some(created) = answered(result, |es| errors.set(es), failure)
        {
            navigate(&format!("/landscapes/{}", created.id), Default::default());
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        let form = LauncherForm {
            grid: grid.get_untracked(),
            margin: margin.get_untracked(),
            method: method.get_untracked(),
            seed: seed.get_untracked(),
        };
        match form.to_spec() {
            Ok(spec) => {
                errors.set(Vec::new());
                start.dispatch(CreateLandscape {
                    req: LandscapeRequest { source, spec },
                });
            }
            Err(es) => errors.set(es),
        }
    };
    let err = move |f: &'static str| {
        move || {
            errors
                .get()
                .into_iter()
                .find(|e| e.field == f)
                .map(|e| view! { <span class="field-error">{e.message}</span> })
        }
    };
    view! {
        <form class="card landscape-launcher" novalidate on:submit=on_submit>
            <h2>"Loss landscape"</h2>
            <p class="meta">"Projects every checkpoint onto a plane and evaluates the train and test loss on a grid over it."</p>
            <div class="row">
                <label>"grid (points per axis) "
                    <input id="ls-grid" type="number" min="3" max="51" prop:value=move || grid.get()
                        on:input=move |ev| grid.set(event_target_value(&ev))/>
                    {err("spec.grid")}
                </label>
                <label>"margin "
                    <input id="ls-margin" type="number" step="0.05" min="0" max="2" prop:value=move || margin.get()
                        on:input=move |ev| margin.set(event_target_value(&ev))/>
                    {err("spec.margin")}
                </label>
                <label>"plane "
                    <select id="ls-method" on:change=move |ev| method.set(event_target_value(&ev))>
                        <option value="pca">"PCA of the trajectory"</option>
                        <option value="curved_pca">"curved PCA sheet (PC3 quadratic in PC1)"</option>
                        <option value="random">"filter-normalised random directions"</option>
                    </select>
                </label>
                <label class:hidden=move || method.get() != "random">"seed "
                    <input id="ls-seed" type="number" min="0" prop:value=move || seed.get()
                        on:input=move |ev| seed.set(event_target_value(&ev))/>
                </label>
                <button id="ls-start" type="submit">"Compute landscape"</button>
            </div>
            {err("source.id")}
            {move || failure.get().map(|f| view! { <p class="form-error">{f}</p> })}
            <LandscapeList source=Some(source)/>
        </form>
    }
}

/// Landscapes computed so far, of one source or all.
#[component]
pub fn LandscapeList(source: Option<LandscapeSource>) -> impl IntoView {
    let list = Resource::new(
        move || source,
        |s| {
            let (run, sweep) = match s {
                Some(LandscapeSource::Run { id }) => (Some(id), None),
                Some(LandscapeSource::Sweep { id }) => (None, Some(id)),
                None => (None, None),
            };
            list_landscapes(run, sweep)
        },
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(items) if items.is_empty() => ().into_any(),
                    Ok(items) => view! {
                        <table class="runs landscapes">
                            <thead><tr><th>"#"</th><th>"landscape"</th><th>"grid"</th><th>"status"</th><th>"created"</th></tr></thead>
                            <tbody>
                                {items.into_iter().map(|l| view! {
                                    <tr>
                                        <td>{l.id}</td>
                                        <td><a href=format!("/landscapes/{}", l.id)>{l.name.clone()}</a></td>
                                        <td>{format!("{0}×{0}", l.spec.grid)}</td>
                                        <td><span class=format!("status {}", l.status.as_str())>{l.status.as_str()}</span></td>
                                        <td>{format_ms(l.created_at_ms)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(grid: &str, margin: &str, method: &str) -> LauncherForm {
        LauncherForm {
            grid: grid.into(),
            margin: margin.into(),
            method: method.into(),
            seed: "7".into(),
        }
    }

    #[test]
    fn the_form_reads_into_a_spec() {
        let spec = form("21", "0.3", "random").to_spec().expect("valid");
        assert_eq!(spec.grid, 21);
        assert_eq!(
            spec.method,
            LandscapeMethod::RandomFilterNormalized { seed: 7 }
        );
    }

    #[test]
    fn unreadable_and_invalid_inputs_are_keyed_as_the_server_keys_them() {
        let e = form("many", "x", "pca").to_spec().expect_err("unreadable");
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["spec.grid", "spec.margin"]);
        let e = form("1", "0.3", "pca").to_spec().expect_err("too coarse");
        assert!(e.iter().all(|e| e.field.starts_with("spec.")), "{e:?}");
        assert!(e.iter().any(|e| e.field == "spec.grid"), "{e:?}");
    }
}
