//! The decision log: one JSON line per decision, written by a thread of its own so that
//! handlers never wait on the disk, to a file rotated by size or to standard output.
//!
//! ```json
//! {"decision_id":"0193...","time":"2026-11-28T12:00:00.123Z","tenant":"contoso",
//!  "operation":"create","actor":{"id":"bob@contoso.com","groups":["eng"]},"org":"fabrikam",
//!  "token_id":null,"allowed":false,"violations":[...],"actions":[],"adjusted_valid_to":null,
//!  "policies":[{"policy":"max_pat_lifespan","outcome":"denied","enforced":true,"time_us":4.1}],
//!  "duration_us":31.0}
//! ```
//!
//! Requests carry no token secrets, only token ids; nothing else is logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::Serialize;

use patrol::decision::{Action, Decision, PolicyTrace, ReportedViolation};
use patrol::request::{Actor, Operation, Request};
use patrol::timestamp::rfc3339;

/// Where decisions are logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionLogTarget {
    /// A file, renamed to `<file>.1` (and older ones to `.2`, ...) when it reaches `max_bytes`;
    /// `keep` old files are kept.
    File {
        /// The log file.
        path: PathBuf,
        /// The size at which it is rotated.
        max_bytes: u64,
        /// How many rotated files are kept.
        keep: usize,
    },
    /// Standard output.
    Stdout,
    /// Nowhere.
    Off,
}

/// One line of the decision log.
#[derive(Serialize)]
pub(crate) struct DecisionRecord<'a> {
    pub(crate) decision_id: &'a str,
    /// `api` for a decision asked of the decisions API (anyone may ask about anyone: nothing
    /// was refused), `gateway` for a token the gateway path refused.
    pub(crate) source: &'static str,
    pub(crate) time: String,
    pub(crate) tenant: &'a str,
    pub(crate) operation: Operation,
    pub(crate) actor: &'a Actor,
    pub(crate) org: &'a str,
    pub(crate) token_id: Option<&'a str>,
    pub(crate) allowed: bool,
    pub(crate) violations: &'a [ReportedViolation],
    pub(crate) actions: &'a [Action],
    #[serde(serialize_with = "rfc3339::serialize_option")]
    pub(crate) adjusted_valid_to: Option<i64>,
    pub(crate) policies: &'a [PolicyTrace],
    pub(crate) duration_us: f64,
}

impl<'a> DecisionRecord<'a> {
    pub(crate) fn new(
        decision_id: &'a str,
        source: &'static str,
        tenant: &'a str,
        request: &'a Request,
        decision: &'a Decision,
        duration: Duration,
    ) -> Self {
        DecisionRecord {
            decision_id,
            source,
            time: now_rfc3339_millis(),
            tenant,
            operation: request.operation,
            actor: &request.user,
            org: &request.org,
            token_id: request.token.id.as_deref(),
            allowed: decision.allowed,
            violations: &decision.violations,
            actions: &decision.actions,
            adjusted_valid_to: decision.adjusted_valid_to,
            policies: &decision.trace,
            duration_us: (duration.as_nanos() as f64 / 100.0).round() / 10.0,
        }
    }
}

fn now_rfc3339_millis() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The log's writer thread and the channel to it.
pub(crate) struct DecisionLog {
    sender: Mutex<Option<SyncSender<String>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The file, when the log goes to one: the violations report reads it back.
    path: Option<PathBuf>,
}

/// Lines waiting for the writer; past this, handlers wait (backpressure, not loss).
const QUEUE: usize = 16_384;

impl DecisionLog {
    /// Starts logging to `target`.
    pub(crate) fn start(target: &DecisionLogTarget) -> io::Result<DecisionLog> {
        let output: Box<dyn Write + Send> = match target {
            DecisionLogTarget::Off => {
                return Ok(DecisionLog {
                    sender: Mutex::new(None),
                    writer: Mutex::new(None),
                    path: None,
                });
            }
            DecisionLogTarget::Stdout => Box::new(io::stdout()),
            DecisionLogTarget::File {
                path,
                max_bytes,
                keep,
            } => Box::new(RotatingFile::open(path.clone(), *max_bytes, *keep)?),
        };
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let writer = thread::Builder::new()
            .name("patrol-decision-log".to_string())
            .spawn(move || write_lines(receiver, output))?;
        let path = match target {
            DecisionLogTarget::File { path, .. } => Some(path.clone()),
            _ => None,
        };
        Ok(DecisionLog {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            path,
        })
    }

    /// The log file, when decisions go to one.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Queues one record.
    pub(crate) fn record(&self, record: &DecisionRecord<'_>) {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let (Some(sender), Ok(line)) = (sender, serde_json::to_string(record))
            && sender.send(line).is_err()
        {
            tracing::error!("the decision log writer has stopped; a decision was not logged");
        }
    }

    /// Writes out everything queued and stops the writer.
    pub(crate) fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::error!("the decision log writer panicked");
        }
    }
}

fn write_lines(receiver: Receiver<String>, output: Box<dyn Write + Send>) {
    let mut output = BufWriter::new(output);
    while let Ok(line) = receiver.recv() {
        write_line(&mut output, &line);
        // Write whatever else is queued, then flush once: the log is at most a batch behind.
        while let Ok(line) = receiver.try_recv() {
            write_line(&mut output, &line);
        }
        flush(&mut output);
    }
}

fn write_line(output: &mut impl Write, line: &str) {
    if let Err(error) = output
        .write_all(line.as_bytes())
        .and_then(|()| output.write_all(b"\n"))
    {
        tracing::error!(%error, "cannot write the decision log");
    }
}

fn flush(output: &mut impl Write) {
    if let Err(error) = output.flush() {
        tracing::error!(%error, "cannot write the decision log");
    }
}

/// A file that renames itself to `<path>.1` when it grows past `max_bytes`.
struct RotatingFile {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
    keep: usize,
}

impl RotatingFile {
    fn open(path: PathBuf, max_bytes: u64, keep: usize) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file,
            written,
            max_bytes,
            keep,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_all()?;
        for n in (1..self.keep).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        if self.keep > 0 {
            fs::rename(&self.path, numbered(&self.path, 1))?;
        } else {
            fs::remove_file(&self.path)?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl Write for RotatingFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let written = self.file.write(bytes)?;
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_rotate_by_size_and_keep_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.log");
        let mut file = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..10 {
            // 50 bytes a line: two per file.
            file.write_all(format!("{i:049}\n").as_bytes()).unwrap();
        }
        let lines = |p: &Path| -> Vec<String> {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        };
        let line = |i: u32| format!("{i:049}");
        assert_eq!(lines(&path), [line(8), line(9)]);
        assert_eq!(lines(&numbered(&path, 1)), [line(6), line(7)]);
        assert_eq!(lines(&numbered(&path, 2)), [line(4), line(5)]);
        assert!(!numbered(&path, 3).exists());
    }
}
