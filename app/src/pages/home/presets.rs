//! The sweep presets: one button per canned `SweepSpec`, launched as it stands.

use leptos::prelude::*;
use spec::SweepSpec;

use crate::api::CreateSweep;

/// The preset buttons. They dispatch on the launcher's action, so a preset's sweep opens (or
/// its refusal shows) exactly as a hand-built one does.
#[component]
pub(super) fn Presets(start_sweep: ServerAction<CreateSweep>) -> impl IntoView {
    // A tuple rather than one multi-root `view!`: under `erase_components` (dev builds) that
    // would render an extra `<!>` marker after the buttons, which sat inline in the sweep card.
    (
        view! {
            <button type="button" class="secondary" id="preset-toy"
                on:click=move |_| { start_sweep.dispatch(CreateSweep { spec: SweepSpec::toy_paper() }); }>
                "Preset: paper's toy regime (4 branches)"
            </button>
        },
        " ",
        view! {
            <button type="button" class="secondary" id="preset-fashion"
                on:click=move |_| { start_sweep.dispatch(CreateSweep { spec: SweepSpec::fashion_cpu() }); }>
                "Preset: Fashion-MNIST on CPU (~2 min)"
            </button>
        },
        " ",
        view! {
            <button type="button" class="secondary" id="preset-cifar"
                on:click=move |_| { start_sweep.dispatch(CreateSweep { spec: SweepSpec::paper_cifar_gpu() }); }>
                "Preset: paper's VGG-11 / CIFAR-10 (GPU)"
            </button>
        },
    )
}
