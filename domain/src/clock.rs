//! The clock: milliseconds since the Unix epoch, from the browser's clock on wasm32 and the
//! system clock elsewhere, so every crate stamps times the same way.

/// Milliseconds since the epoch, now.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Milliseconds since the epoch, now; 0 if the clock is before 1970.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_is_after_2020() {
        assert!(super::now_ms() > 1_577_836_800_000);
    }
}
