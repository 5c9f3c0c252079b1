//! The sweep presets: one button per canned `SweepSpec`, launched as it stands.

use experiment::SweepSpec;
use leptos::prelude::*;

use crate::api::CreateSweep;

/// The preset buttons. They dispatch on the launcher's action, so a preset's sweep opens (or
/// its refusal shows) exactly as a hand-built one does.
#[component]
pub(super) fn Presets(
    start_sweep: ServerAction<CreateSweep>,
    /// The launcher's training seeds; a preset keeps its own data seed.
    seeds: Signal<Vec<u64>>,
) -> impl IntoView {
    let launch = move |mut spec: SweepSpec| {
        let seeds = seeds.get_untracked();
        if seeds != [spec.main.seed] {
            spec.seeds = seeds;
        }
        start_sweep.dispatch(CreateSweep { spec });
    };
    // A tuple rather than one multi-root `view!`: under `erase_components` (dev builds) that
    // would render an extra `<!>` marker after the buttons, which sat inline in the sweep card.
    (
        view! {
            <button type="button" class="secondary" id="preset-toy"
                on:click=move |_| launch(SweepSpec::toy_paper())>
                "Preset: paper's toy regime (4 branches)"
            </button>
        },
        " ",
        view! {
            <button type="button" class="secondary" id="preset-fashion"
                on:click=move |_| launch(SweepSpec::fashion_cpu())>
                "Preset: Fashion-MNIST on CPU (~2 min)"
            </button>
        },
        " ",
        view! {
            <button type="button" class="secondary" id="preset-fashion-cnn"
                on:click=move |_| launch(SweepSpec::fashion_cnn_cpu())>
                "Preset: small CNN on Fashion-MNIST, CPU (convnet)"
            </button>
        },
        " ",
        view! {
            <button type="button" class="secondary" id="preset-cifar"
                on:click=move |_| launch(SweepSpec::paper_cifar_gpu())>
                "Preset: paper's VGG-11 / CIFAR-10 (GPU)"
            </button>
        },
    )
}
