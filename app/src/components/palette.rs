//! The one set of series colours every chart draws with: Plotly's defaults, so a series keeps
//! its colour between the interactive figure and the server-drawn SVG, and across a band, its
//! mean and its seeds (or a raw and a smoothed curve).

/// Plotly's default colour cycle.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// The `i`-th series' colour, cycling through the palette.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The schedule-free baseline: apart from the colours the roles cycle through.
pub const BASELINE: &str = "#000000";

/// A what-if prediction in the schedule editor, on the LR's right-hand axis.
pub const PREDICTION: &str = PALETTE[3];

/// The first (main) trajectory on a landscape map: the one colour that reads on every shade
/// of the Viridis scale. The others take the palette from its second colour on.
pub const ON_MAP: &str = "#ffffff";

/// The colour of a landscape's `i`-th trajectory.
pub fn path_colour(i: usize) -> &'static str {
    if i == 0 { ON_MAP } else { colour(i) }
}

/// `hex` ("#rrggbb") with an alpha, for Plotly's translucent bands.
pub fn rgba(hex: &str, alpha: f64) -> String {
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    format!("rgba({}, {}, {}, {alpha})", c(1), c(3), c(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_turn_translucent() {
        assert_eq!(rgba("#1f77b4", 0.2), "rgba(31, 119, 180, 0.2)");
    }

    #[test]
    fn landscape_paths_start_white_then_follow_the_palette() {
        assert_eq!(path_colour(0), ON_MAP);
        assert_eq!(path_colour(1), PALETTE[1]);
        assert_eq!(path_colour(12), PALETTE[2]);
    }
}
