//! The `anneal` command line: one binary, one subcommand per job.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "anneal",
    version,
    about = "Anneal: when should the learning rate come down?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const RUN_SPEC_HELP: &str = r#"SPEC FILE (TOML or JSON; unknown fields are rejected)

  name = "optional label"
  seed = 0                       # init, data order, augmentation, dropout; CPU runs repeat bit for bit
  data_seed = 0                  # optional: draws the data (training subset, toy samples); default: seed
  backend = "cpu"                # cpu (Burn flex) | cuda (--features cuda builds, on a machine with a GPU)
                                 #   | wgpu (--features wgpu) | auto (cuda when there is one, else cpu)

  [schedule]                     # the LR at every step; see schedule/SPEC.md for every kind
  kind = "constant"
  lr = 0.1

  [experiment]                   # either a network on images ...
  kind = "net"
  dataset = "fashion_mnist"      # fashion_mnist | mnist | cifar10 | { registered = { name = "my-data" } }
  data_dir = "fashion"           # optional, relative to ANNEAL_DATA_DIR (default: the apt or fetch location)
  train_per_class = 500          # optional subset: k images per class, chosen with the data seed
  test_limit = 10000             # optional: evaluate on the first N test images
  augment = false                # random crop (padding 4) + horizontal flip
  loss = "cross_entropy"         # cross_entropy | mse (on one-hot targets)
  batch = 128
  epochs = 2
  checkpoint_every = 1           # epochs between checkpoints (0 = none); branching needs 1
  [experiment.model]
  kind = "mlp"                   # mlp (hidden = [512, 512]) | small_cnn | vgg11 (width = "narrow"|"standard", batch_norm)
  hidden = [512, 512]            #   | layers (your own network, below)
  [experiment.optimizer]
  kind = "sgd"                   # sgd (momentum, nesterov, weight_decay) | adam_w (beta1, beta2, eps, weight_decay)
  momentum = 0.9                 #   | schedule_free_sgd | schedule_free_adam_w (batch norm included)

  # Your own network, as a list of layers, checked before it runs (every layer's output shape,
  # parameters and FLOPs; an error names its layer: experiment.model.layers[4].kernel):
  # [experiment.model]
  # kind = "layers"
  # layers = [
  #   { kind = "conv", out = 16, kernel = 3, padding = 1, bias = false },  # stride = 1, padding = 0, bias = true by default
  #   { kind = "batch_norm" },   # per channel (images) or feature (vectors); running statistics kept in checkpoints
  #   { kind = "relu" },         # relu | gelu | silu | tanh
  #   { kind = "residual", shortcut = "identity", layers = [   # y = layers(x) + shortcut(x); blocks do not nest
  #     { kind = "conv", out = 16, kernel = 3, padding = 1, bias = false },
  #     { kind = "batch_norm" }, { kind = "relu" },
  #     { kind = "conv", out = 16, kernel = 3, padding = 1, bias = false },
  #     { kind = "batch_norm" },
  #   ] },                       # shortcut: identity (same shape) | projection (1×1 conv + batch norm)
  #                              #   | pad (subsample, zero channels: He et al.'s option A)
  #   { kind = "relu" },
  #   { kind = "max_pool", kernel = 2 },   # max_pool | avg_pool (kernel, stride = kernel)
  #   { kind = "dropout", p = 0.1 },
  #   { kind = "global_avg_pool" },        # [c, h, w] → c values; or { kind = "flatten" } → c·h·w
  #   { kind = "linear", out = 10 },       # the last layer gives one value per class
  # ]
  # examples/resnet20-run.toml writes ResNet-20 out this way.

  # ... or the paper's toy model y = ‖w‖^γ·wᵀx:
  # [experiment]
  # kind = "toy"
  # d = 50, n = 10, gamma = 1.0, label_noise = 0.3, batch = 1, steps = 20000
  # init_scale = 1.0             # w₀ ~ N(0, init_scale²·I/d)
  # eval_every = 0               # steps between metric rows (0: about 500 rows)
"#;

const SWEEP_SPEC_HELP: &str = r#"SWEEP SPEC FILE (TOML or JSON)

  name = "late decay"
  branch_at = [5, 15, 30, 45, 60]  # decay points: steps (toy) or epochs (networks)
  branch_length = 15               # how long each branch runs after its decay point
  seeds = [0, 1, 2, 3, 4]          # optional: training seeds, each its own main path and branches;
                                   # the data comes from main.seed (or main.data_seed) for all of them
  [main]                           # the main path: a run spec (see `anneal run --help`)
  ...                              # whose schedule is constant
  [after]                          # the branches' schedule from k on (its clock starts at k)
  kind = "constant"
  lr = 0.01
"#;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web lab (settings from the environment; see `Settings`).
    Serve,
    /// Train one run headless with a progress bar, recording it in the same database as the server.
    #[command(after_long_help = RUN_SPEC_HELP)]
    Run {
        /// Run spec (TOML or JSON); `anneal run --help` documents every field.
        spec: PathBuf,
        /// Train one run per seed on the spec's data: "0,1,2" or "0:4:1" (1–16 seeds).
        #[arg(long)]
        seeds: Option<String>,
    },
    /// Train a decay sweep headless (every seed's main path and branches) and print its
    /// verdict with 95% intervals; or add seeds to a stored sweep with --add-to.
    #[command(after_long_help = SWEEP_SPEC_HELP)]
    Sweep {
        /// Sweep spec (TOML or JSON); `anneal sweep --help` shows its fields.
        #[arg(required_unless_present = "add_to")]
        spec: Option<PathBuf>,
        /// Training seeds: "0,1,2" or "0:4:1" (1–16); replaces the spec's `seeds`.
        #[arg(long)]
        seeds: Option<String>,
        /// Add --seeds to this stored sweep instead of creating one.
        #[arg(long, value_name = "SWEEP_ID")]
        add_to: Option<i64>,
    },
    /// Fit each loss law to a stored sweep's main path and earliest finished branch, and print
    /// its prediction of every other branch beside the measured one.
    Predict {
        #[arg(value_name = "SWEEP_ID")]
        sweep: i64,
    },
    /// Train one job for a server (started by its executor, or a cluster's batch system): the
    /// job's token comes in ANNEAL_WORKER_TOKEN; datasets are read under ANNEAL_DATA_DIR.
    Worker {
        /// The server as this machine reaches it, e.g. http://10.0.0.5:3000.
        #[arg(long)]
        server: String,
        /// The run to train.
        #[arg(long)]
        run: i64,
    },
    /// Datasets: register your own (image folders, archives, arrays, tables), list or delete
    /// them; download CIFAR-10, or check that a built-in dataset loads.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Print a schedule's LR at every step, one per line (no server needed).
    Schedule {
        /// Schedule spec, JSON or TOML (by extension), e.g. {"kind":"cosine","lr":0.1,"t_max":100,"eta_min":0}.
        spec: PathBuf,
        /// Number of steps to print.
        #[arg(long)]
        steps: u64,
        /// When given, each line is "step epoch lr" instead of just the LR.
        #[arg(long)]
        steps_per_epoch: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum DataAction {
    /// Register a dataset already on this machine's disk under NAME, decoded once into the data
    /// directory's registry (works with the server stopped or running).
    ///
    /// PATH is one of: an image folder `train/<class>/*` + `test/<class>/*`, or `<class>/*`
    /// split by --held-out; the same inside a .zip, .tar or .tar.gz; NumPy arrays (x.npy + y.npy,
    /// train_x/train_y/test_x/test_y.npy, or an .npz with x, y or x_train, y_train, x_test,
    /// y_test); a CSV table with a header and a label column. Images are PNG, JPEG or BMP, gray
    /// or RGB, all of one size unless --resize is given. Registering other content under a taken
    /// name makes its next version; the same content again changes nothing.
    Add {
        /// 1 to 64 letters, digits, `.`, `_` or `-`.
        name: String,
        path: PathBuf,
        /// Fraction of each class held out as the test split when PATH has none (default 0.2).
        #[arg(long)]
        held_out: Option<f64>,
        /// Resize every image to WIDTHxHEIGHT, e.g. 32x32.
        #[arg(long)]
        resize: Option<String>,
        /// A table's label column (default `label`).
        #[arg(long)]
        label_column: Option<String>,
    },
    /// List the built-in and registered datasets.
    List,
    /// Delete every version of a registered dataset (refused while runs use it).
    Rm { name: String },
    /// Download a dataset into the data directory and verify its SHA-256 before unpacking.
    Fetch {
        /// Only `cifar10` can be fetched (Fashion-MNIST comes from `apt-get install dataset-fashion-mnist`).
        dataset: String,
        /// Mirror to download from instead of the official address.
        #[arg(long)]
        url: Option<String>,
    },
    /// Load a dataset and print its sizes, or say exactly what is missing.
    Check {
        /// fashion_mnist | mnist | cifar10
        dataset: String,
        /// Folder holding the files (default: where the apt package or `data fetch` puts them).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::RUN_SPEC_HELP;

    /// The layer list `anneal run --help` shows is a network that validates, so the help
    /// cannot drift from the spec.
    #[test]
    fn the_help_s_layer_list_is_a_valid_network() {
        let start = RUN_SPEC_HELP
            .find("  # [experiment.model]\n  # kind = \"layers\"")
            .expect("the help shows a layer list");
        let end = RUN_SPEC_HELP[start..]
            .find("  # examples/")
            .expect("the example ends");
        let toml_text: String = RUN_SPEC_HELP[start..start + end]
            .lines()
            .map(|l| l.trim_start().trim_start_matches('#').trim_start())
            .filter(|l| !l.starts_with("[experiment.model]"))
            .map(|l| format!("{l}\n"))
            .collect();
        let model: experiment::ModelSpec =
            toml::from_str(&toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
        let experiment::ModelSpec::Layers { layers } = &model else {
            panic!("a layer list");
        };
        let shape = experiment::shape::infer(layers, [1, 28, 28], 10).expect("fits Fashion-MNIST");
        assert_eq!(layers.len(), 9);
        assert!(shape.params > 0);
    }
}
