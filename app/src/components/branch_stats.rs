//! A sweep's final metrics per decay point over seeds (mean, 95% interval and n), with the
//! schedule-free baseline's row: on the sweep page and on its shared snapshot.

use leptos::prelude::*;

use domain::Metric;
use domain::stats::Stat;
use domain::wire::SweepReport;

/// The final metrics per decay point over seeds: mean, 95% interval and n.
#[component]
pub fn BranchStats(report: SweepReport) -> impl IntoView {
    let u = report.unit.clone();
    let acc = report.branches.iter().any(|b| b.test_acc.is_some());
    let dist = report.branches.iter().any(|b| b.dist_mn.is_some());
    (!report.branches.is_empty()).then(|| view! {
        <table class="runs" id="branch-stats">
            <thead><tr>
                <th>{format!("decay {u} k")}</th><th>"seeds"</th>
                <th>"final test loss (mean [95% CI])"</th>
                {acc.then(|| view! { <th>"final test acc, % (mean [95% CI])"</th> })}
                {dist.then(|| view! { <th>"final ‖α − α_mn‖ (mean [95% CI])"</th> })}
                <th>"final train loss (mean)"</th>
            </tr></thead>
            <tbody>
                {report.branches.iter().map(|b| view! {
                    <tr>
                        <td>{b.k}</td>
                        <td>{b.n}</td>
                        <td>{Stat::with_interval(b.stat(Metric::TestLoss), 1.0, 4)}</td>
                        {acc.then(|| view! { <td>{Stat::with_interval(b.stat(Metric::TestAcc), 100.0, 2)}</td> })}
                        {dist.then(|| view! { <td>{Stat::with_interval(b.stat(Metric::DistMn), 1.0, 3)}</td> })}
                        <td>{b.stat(Metric::TrainLoss).map_or("—".into(), |s| format!("{:.2e}", s.mean))}</td>
                    </tr>
                }).collect_view()}
                {report.baseline.clone().filter(|b| b.n > 0).map(|b| {
                    let st = |m: Metric| b.stats.get(m.key());
                    view! {
                        <tr id="baseline-row">
                            <td>{format!("schedule-free (no decay, {} {u}s)", b.length)}</td>
                            <td>{b.n}</td>
                            <td>{Stat::with_interval(st(Metric::TestLoss), 1.0, 4)}</td>
                            {acc.then(|| view! { <td>{Stat::with_interval(st(Metric::TestAcc), 100.0, 2)}</td> })}
                            {dist.then(|| view! { <td>{Stat::with_interval(st(Metric::DistMn), 1.0, 3)}</td> })}
                            <td>{st(Metric::TrainLoss).map_or("—".into(), |s| format!("{:.2e}", s.mean))}</td>
                        </tr>
                    }
                })}
            </tbody>
        </table>
    })
}
