//! A loss landscape on the page: the launcher and list (`launcher`), the Plotly figures, SVG
//! fallback and reading (`drawing`), and the finished maps with their explained variance.

pub mod drawing;
pub mod launcher;

use leptos::prelude::*;

pub use drawing::reading;
use drawing::{SvgLandscape, TEST_DIV, TRAIN_DIV, figures};
pub use launcher::{LandscapeLauncher, LandscapeList};

use domain::wire::Landscape;

/// The finished picture: both maps, the explained variance and the reading, with a
/// server-drawn fallback that is hidden once Plotly has drawn.
#[component]
pub fn LandscapeMaps(landscape: Landscape) -> impl IntoView {
    let interactive = RwSignal::new(false);
    {
        let l = landscape.clone();
        Effect::new(move |_| {
            let [train, test] = figures(&l);
            crate::components::chart::plot(TRAIN_DIV, train.0, train.1);
            crate::components::chart::plot(TEST_DIV, test.0, test.1);
            interactive.set(true);
        });
    }
    let l = &landscape;
    // The toy model with d = 2 is drawn in its own weights, with its minima curve.
    let exact = l.w_mn.is_some();
    let warnings = l.warnings();
    let text = reading(l);
    view! {
        <section class="card landscape">
            <p class="conclusion" id="landscape-reading">{text}</p>
            {(!warnings.is_empty()).then(|| view! {
                <ul class="warnings" id="landscape-warnings">
                    {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                </ul>
            })}
            <div class="landscape-maps">
                <div class="map-card">
                    <div class="chart map" id=TRAIN_DIV></div>
                    <div class="static-chart" class:hidden=move || interactive.get()>
                        <SvgLandscape landscape=landscape.clone() test=false/>
                    </div>
                </div>
                <div class="map-card">
                    <div class="chart map" id=TEST_DIV></div>
                    <div class="static-chart" class:hidden=move || interactive.get()>
                        <SvgLandscape landscape=landscape.clone() test=true/>
                    </div>
                </div>
                <aside class="variance" id="landscape-variance">
                    <h3>"Explained variance"</h3>
                    {if exact {
                        view! { <p class="meta">"Exact: the axes are the model's two weights, so nothing is projected."</p> }.into_any()
                    } else if l.explained_variance.is_empty() {
                        view! { <p class="meta">"Not principal components: the axes are random directions around the final point."</p> }.into_any()
                    } else {
                        view! {
                            <table class="runs">
                                <tbody>
                                    {l.explained_variance.iter().enumerate().map(|(i, v)| view! {
                                        <tr><td>{format!("PC{}", i + 1)}</td><td>{format!("{:.1}%", 100.0 * v)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                    <p class="meta" class:hidden=exact>{format!("largest distance of a checkpoint to the plane: {:.1}% of the trajectory's RMS distance from its centre", 100.0 * l.max_rel_projection_error)}</p>
                    <p class="meta">{format!("{} parameters · {} checkpoints · computed in {:.1} s", l.num_params, l.num_checkpoints, l.elapsed_secs)}</p>
                    {l.batch_norm.clone().map(|note| view! { <p class="meta" id="landscape-batch-norm">{note}</p> })}
                </aside>
            </div>
        </section>
    }
}
