//! Upper bounds that keep one request from occupying the machine forever.

pub const MAX_TOY_DIM: u32 = 10_000;
pub const MAX_TOY_SAMPLES: u32 = 100_000;
pub const MAX_STEPS: u64 = 10_000_000;
pub const MAX_BATCH: u32 = 65_536;
pub const MAX_LR: f64 = 100.0;
pub const MAX_METRIC_POINTS: u64 = 20_000;
pub const MAX_NAME_LEN: usize = 200;
pub const MAX_EPOCHS: u32 = 100_000;
pub const MAX_HIDDEN_LAYERS: usize = 16;
pub const MAX_WIDTH: u32 = 65_536;
/// Layers in one layer list, counting those inside residual blocks.
pub const MAX_LAYERS: usize = 256;
/// How deep residual blocks may nest: 1, a block's layers are plain layers (the trainer's
/// modules are Burn-derived records, which cannot be recursive).
pub const MAX_LAYER_DEPTH: usize = 1;
/// A convolution's or pool's kernel side, stride, and a convolution's padding.
pub const MAX_KERNEL: u32 = 64;
pub const MAX_STRIDE: u32 = 64;
pub const MAX_PADDING: u32 = 64;
pub const MAX_PER_CLASS: u32 = 100_000;
/// At most this many branches per sweep.
pub const MAX_BRANCHES: usize = 50;
/// At most this many seeds per sweep (and per replicated run).
pub const MAX_SEEDS: usize = 16;
/// A registered dataset's name: what the CLI, the URL and the file system all take as is.
pub const MAX_DATASET_NAME: usize = 64;

/// 1 to [`MAX_DATASET_NAME`] ASCII letters, digits, `.`, `_` or `-`, starting with a letter or
/// digit (so never `.` or `..`, and never an option to a command).
pub fn is_dataset_name(name: &str) -> bool {
    name.len() <= MAX_DATASET_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
