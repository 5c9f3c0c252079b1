//! The editor's LR preview: the schedule (and a pinned one) against step or epoch, and the
//! what-if reference, a loss law fitted on a finished run or sweep, drawn for the schedule
//! being designed. Drawn in the browser only.

use leptos::prelude::*;
use schedule::Schedule;

/// Points drawn per schedule in the preview; min, max and last per bucket keep spikes visible.
pub const PREVIEW_POINTS: usize = 2000;

/// Points of a what-if prediction (each a fit evaluated on the whole schedule).
pub const WHATIF_POINTS: usize = 200;

/// The what-if reference of the schedule editor: a law fitted on a finished run or sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIf {
    /// "sweep 3 · name" or "run 12 · name".
    pub source: String,
    pub fit: domain::prediction::ReferenceFit,
}

impl WhatIf {
    /// The legend's words: what is drawn, from what, and how wrong it was on held-out data.
    pub fn label(&self) -> String {
        format!(
            "predicted test loss ({}, fitted on {}; held-out error {})",
            self.fit.law.key(),
            self.source,
            self.fit
                .validation_rel_error
                .map_or("unknown".into(), |e| format!("{:.1}%", 100.0 * e))
        )
    }

    /// The predicted test-loss trace of `s` over `total` steps, on the right-hand axis; None
    /// when the law did not fit.
    pub fn trace(
        &self,
        s: &Schedule,
        total: u64,
        steps_per_epoch: u64,
        epochs: bool,
        name: String,
        dash: &str,
    ) -> Option<serde_json::Value> {
        let fit = self.fit.fit.as_ref()?;
        let total = total.max(1);
        let n = WHATIF_POINTS as u64;
        let mut steps: Vec<u64> = (1..=n).map(|i| (total * i).div_ceil(n)).collect();
        steps.dedup();
        let lr = domain::law::LrTrace::from_schedule(s, total);
        let ys = fit.predict(&lr, &steps);
        let xs: Vec<f64> = steps
            .iter()
            .map(|&st| {
                if epochs {
                    schedule::steps_to_epochs(st, steps_per_epoch.max(1))
                } else {
                    st as f64
                }
            })
            .collect();
        Some(
            serde_json::json!({"x": xs, "y": ys, "name": name, "mode": "lines", "yaxis": "y2",
            "meta": "prediction", "line": {"dash": dash, "color": crate::components::palette::PREDICTION, "width": 2}}),
        )
    }
}

/// What the LR preview draws: the schedule, a pinned one to compare, the step scale, the axes
/// and the what-if reference.
#[derive(Clone, Copy)]
pub struct Preview {
    pub div: &'static str,
    pub schedule: RwSignal<Option<Schedule>>,
    pub pinned: RwSignal<Option<(String, Schedule)>>,
    pub total_steps: Signal<u64>,
    pub steps_per_epoch: Signal<u64>,
    pub log_y: RwSignal<bool>,
    pub x_epochs: RwSignal<bool>,
    pub whatif: RwSignal<Option<WhatIf>>,
}

/// Redraws the LR preview whenever the schedule, its comparison or the axes change.
pub fn preview_effect(p: Preview) {
    #[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
    Effect::new(move |_| {
        let Preview {
            div,
            schedule,
            pinned,
            total_steps,
            steps_per_epoch,
            log_y,
            x_epochs,
            whatif,
        } = p;
        let total = total_steps.get().max(1);
        let spe = steps_per_epoch.get().max(1);
        let (log, epochs) = (log_y.get(), x_epochs.get());
        let w = whatif.get();
        let mut traces = Vec::new();
        let mut add = |name: String, s: &Schedule, dash: &str| {
            let pts = s.curve(total, PREVIEW_POINTS);
            let xs: Vec<f64> = pts
                .iter()
                .map(|(st, _)| {
                    if epochs {
                        schedule::steps_to_epochs(*st, spe)
                    } else {
                        *st as f64
                    }
                })
                .collect();
            let ys: Vec<f64> = pts.iter().map(|(_, lr)| *lr).collect();
            traces.push(serde_json::json!({"x": xs, "y": ys, "name": name, "mode": "lines", "line": {"dash": dash, "shape": "hv"}}));
        };
        let pinned = pinned.get();
        let current = schedule.get();
        if let Some((name, s)) = &pinned {
            add(format!("pinned: {name}"), s, "dash");
        }
        if let Some(s) = &current {
            add(s.describe(), s, "solid");
        }
        if let Some(w) = &w {
            if let Some((_, s)) = &pinned {
                traces.extend(w.trace(
                    s,
                    total,
                    spe,
                    epochs,
                    format!("pinned: {}", w.label()),
                    "dot",
                ));
            }
            if let Some(s) = &current {
                traces.extend(w.trace(s, total, spe, epochs, w.label(), "dash"));
            }
        }
        let mut layout = serde_json::json!({
            "margin": {"l": 60, "r": 10, "t": 10, "b": 40}, "height": 260,
            "xaxis": {"title": {"text": if epochs { "epoch" } else { "step" }}},
            "yaxis": {"title": {"text": "LR"}, "type": if log { "log" } else { "linear" }, "exponentformat": "e",
                      "rangemode": if log { "normal" } else { "tozero" }},
            "legend": {"orientation": "h", "y": 1.15}, "showlegend": true,
        });
        if w.is_some() {
            layout["yaxis2"] = serde_json::json!({"title": {"text": "predicted test loss"},
                "overlaying": "y", "side": "right", "exponentformat": "e"});
            layout["margin"]["r"] = serde_json::json!(60);
        }
        crate::components::chart::browser::react_when_attached(
            div,
            serde_json::Value::Array(traces),
            layout,
            120,
        );
    });
    #[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
    let _ = p;
}
