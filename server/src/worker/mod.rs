//! `anneal worker`: trains one job for a server it reaches over HTTP, and never touches the
//! database. It fetches the job (and the checkpoint it starts from), sends its events in
//! batches that the server stores idempotently, uploads checkpoints by content address, sends
//! heartbeats that answer whether to stop, and reports how the job ended. Every call retries
//! with backoff, so a server restart or a dropped connection loses nothing.

pub mod protocol;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use domain::wire::RunSpec;
use sha2::{Digest, Sha256};
use trainer::{Event, Outcome, Sink, SinkError, StopFlag};

use protocol::{Acked, Batch, Beat, BeatAnswer, End, Job, WorkerEvent};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Calls keep retrying for this long before the worker gives up.
const RETRY_FOR: Duration = Duration::from_secs(300);
/// Events are sent at least this often, and at once past `FLUSH_AT`.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
const FLUSH_AT: usize = 64;
const BEAT_EVERY: Duration = Duration::from_secs(1);

/// The server, as one job's worker talks to it.
struct Server {
    agent: ureq::Agent,
    base: String,
    run: i64,
    token: String,
}

/// A refusal the worker must not retry.
#[derive(Debug)]
struct Refused(u16, String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server refused ({}): {}", self.0, self.1)
    }
}

impl std::error::Error for Refused {}

impl Server {
    fn url(&self, tail: &str) -> String {
        format!("{}/api/worker/runs/{}{tail}", self.base, self.run)
    }

    /// One call, retried with exponential backoff (0.2 s doubling to 5 s) on transport errors
    /// and on 5xx, 408 and 429 answers; other refusals end it at once.
    fn call(
        &self,
        what: &str,
        method: &str,
        tail: &str,
        payload: Payload<'_>,
    ) -> Result<ureq::Response, BoxError> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(200);
        loop {
            let req = self
                .agent
                .request(method, &self.url(tail))
                .set("Authorization", &format!("Bearer {}", self.token));
            let res = match payload {
                Payload::Empty => req.call(),
                Payload::Json(text) => req
                    .set("Content-Type", "application/json")
                    .send_string(text),
                Payload::Bytes(bytes) => req
                    .set("Content-Type", "application/octet-stream")
                    .send_bytes(bytes),
            };
            let err = match res {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(code, r))
                    if !(code >= 500 || code == 408 || code == 429) =>
                {
                    let body = r.into_string().unwrap_or_default();
                    return Err(Box::new(Refused(code, body)));
                }
                Err(e) => e.to_string(),
            };
            if started.elapsed() > RETRY_FOR {
                return Err(format!("{what}: gave up after {RETRY_FOR:?}: {err}").into());
            }
            eprintln!("worker: {what} failed ({err}); retrying in {wait:?}");
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        tail: &str,
    ) -> Result<T, BoxError> {
        let r = self.call(what, "GET", tail, Payload::Empty)?;
        Ok(serde_json::from_reader(r.into_reader())?)
    }

    fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        tail: &str,
        body: &B,
    ) -> Result<T, BoxError> {
        let text = serde_json::to_string(body)?;
        let r = self.call(what, "POST", tail, Payload::Json(&text))?;
        Ok(serde_json::from_reader(r.into_reader())?)
    }
}

/// What a call sends.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Json(&'a str),
    Bytes(&'a [u8]),
}

/// Events on their way to the server, with the seq the next one will carry.
struct HttpSink<'a> {
    server: &'a Server,
    stop: &'a StopFlag,
    skip_through: Option<u64>,
    pending: Vec<WorkerEvent>,
    /// Seq of `pending[0]`.
    first: i64,
    last_flush: Instant,
    last_beat: Instant,
}

impl HttpSink<'_> {
    fn flush(&mut self) -> Result<(), BoxError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            first: self.first,
            events: std::mem::take(&mut self.pending),
        };
        let sent = batch.events.len() as i64;
        let acked: Acked = self.server.post_json("sending events", "/events", &batch)?;
        if acked.acked != batch.first + sent {
            return Err(format!(
                "the server stored events up to seq {}, expected {}",
                acked.acked,
                batch.first + sent
            )
            .into());
        }
        self.first = acked.acked;
        self.last_flush = Instant::now();
        Ok(())
    }

    fn push(&mut self, ev: WorkerEvent) -> Result<(), BoxError> {
        self.pending.push(ev);
        if self.pending.len() >= FLUSH_AT || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    fn upload(&self, dir: &Path) -> Result<String, BoxError> {
        let files = protocol::read_files(dir)?;
        let id = protocol::object_id(&files);
        let body = protocol::pack(&files);
        self.server.call(
            "uploading a checkpoint",
            "PUT",
            &format!("/objects/{id}"),
            Payload::Bytes(&body),
        )?;
        // The server has it now; the local copy was only on its way.
        let _ = std::fs::remove_dir_all(dir);
        Ok(id)
    }

    fn handle(&mut self, event: Event) -> Result<(), BoxError> {
        match event {
            Event::Started {
                backend, device, ..
            } => self.push(WorkerEvent::Started { backend, device }),
            Event::Metric(row) if self.skip_through.is_some_and(|s| row.step <= s) => Ok(()),
            Event::Metric(point) => self.push(WorkerEvent::Metric { point }),
            Event::Checkpoint { epoch, step, dir } => {
                let object = self.upload(&dir)?;
                self.push(WorkerEvent::Checkpoint {
                    epoch,
                    step,
                    object,
                })
            }
            Event::Progress {
                step,
                total_steps,
                samples_per_sec,
            } => {
                if self.last_beat.elapsed() >= BEAT_EVERY {
                    self.last_beat = Instant::now();
                    self.flush()?;
                    let answer: BeatAnswer = self.server.post_json(
                        "heartbeat",
                        "/heartbeat",
                        &Beat {
                            step,
                            total_steps,
                            samples_per_sec,
                        },
                    )?;
                    if answer.stop {
                        self.stop.raise();
                    }
                }
                Ok(())
            }
        }
    }
}

impl Sink for HttpSink<'_> {
    fn emit(&mut self, event: Event) -> Result<(), SinkError> {
        self.handle(event).map_err(|e| SinkError(e.to_string()))
    }
}

/// Makes sure the registered dataset the job trains on is in this node's `data_dir` (a shared
/// folder may already hold it): fetched from the server by its hash otherwise, checked against
/// that hash as it is written, and only then put in place, so a cut-off or damaged transfer
/// never leaves a file a later job would trust.
fn ensure_dataset(server: &Server, spec: &RunSpec, data_dir: &Path) -> Result<(), BoxError> {
    let experiment::Experiment::Net(net) = &spec.experiment else {
        return Ok(());
    };
    let Some(hash) = net.dataset.registered_hash() else {
        return Ok(());
    };
    let dir = data_dir.join(datasets::REGISTRY_DIR);
    let target = datasets::cache_path(&dir, hash);
    if target.is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    let partial = dir.join(format!(".incoming-{hash}-{}", std::process::id()));
    let fetched = (|| -> Result<(), BoxError> {
        let r = server.call("fetching the dataset", "GET", "/dataset", Payload::Empty)?;
        let mut file = std::fs::File::create(&partial)?;
        let mut hasher = Sha256::new();
        let mut reader = r.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = std::io::Read::read(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            std::io::Write::write_all(&mut file, &buf[..n])?;
        }
        file.sync_all()?;
        if domain::hex::encode(&hasher.finalize()) != hash {
            return Err("the dataset arrived damaged (its SHA-256 differs from the job's)".into());
        }
        std::fs::rename(&partial, &target)?;
        Ok(())
    })();
    if fetched.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    fetched
}

/// Runs job `run` of the server at `base` with `token`; datasets are read under `data_dir`.
pub fn run(base: &str, run: i64, token: String, data_dir: &Path) -> Result<(), BoxError> {
    let server = Server {
        agent: ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build(),
        base: base.trim_end_matches('/').to_owned(),
        run,
        token,
    };
    let job: Job = server.get_json("fetching the job", "/job")?;
    ensure_dataset(&server, &job.spec, data_dir)?;
    let scratch = data_dir
        .join("scratch")
        .join(format!("worker-{run}-{}", std::process::id()));
    let resume_from: Option<PathBuf> = match &job.resume {
        None => None,
        Some(id) => {
            let r = server.call(
                "fetching the starting checkpoint",
                "GET",
                &format!("/objects/{id}"),
                Payload::Empty,
            )?;
            let mut bytes = Vec::new();
            let reader = std::io::Read::take(r.into_reader(), protocol::MAX_OBJECT_BYTES as u64);
            std::io::Read::read_to_end(&mut { reader }, &mut bytes)?;
            let files = protocol::unpack(&bytes)?;
            if protocol::object_id(&files) != *id {
                return Err("the starting checkpoint arrived damaged (its SHA-256 differs)".into());
            }
            let dir = scratch.join("start");
            protocol::write_files(&dir, &files)?;
            Some(dir)
        }
    };
    let ctx = trainer::TrainContext {
        data_root: data_dir.to_path_buf(),
        checkpoint_dir: Some(scratch.join("checkpoints")),
        resume_from,
    };
    let stop = StopFlag::new();
    let mut sink = HttpSink {
        server: &server,
        stop: &stop,
        skip_through: job.skip_through,
        pending: Vec::new(),
        first: job.next_seq,
        last_flush: Instant::now(),
        last_beat: Instant::now(),
    };
    let outcome = trainer::train(&job.spec, &ctx, &mut sink, &stop);
    let flushed = sink.flush();
    let end = match (&outcome, &flushed) {
        (_, Err(e)) => End::Failed {
            message: format!("the worker could not deliver its last events: {e}"),
        },
        (Ok(Outcome::Completed), Ok(())) => End::Completed,
        (Ok(Outcome::Stopped { at_step }), Ok(())) => End::Stopped { at_step: *at_step },
        (Err(e), Ok(())) => End::Failed {
            message: e.to_string(),
        },
    };
    let _ = std::fs::remove_dir_all(&scratch);
    let reported: Result<serde_json::Value, BoxError> =
        server.post_json("reporting the end", "/end", &end);
    reported?;
    match end {
        End::Failed { message } => Err(message.into()),
        _ => Ok(()),
    }
}
