//! Logging through `tracing`: human-readable by default, JSON lines with `LOG_FORMAT=json`,
//! filtered by `RUST_LOG` (default `info`), to stderr.
//!
//! Lines are written by a thread of their own (`tracing-appender`), in batches: a request's
//! thread formats its line and hands it over, and never waits for the write(2). On a disk that
//! is slow or throttled that wait stalled every request behind it on the thread: with the write
//! on the request's thread, SQLite GET throughput was 0.48 of the yardstick's, 0.74 without the
//! line (BENCHMARKS.md). Nothing is dropped: when the writer falls behind by its whole buffer,
//! request threads wait for it. The cost: a line is written a moment after its answer has
//! left, and the lines still in the buffer when the process is killed (SIGKILL) are lost; an
//! orderly exit writes them out (see [`LogGuard`]).

use std::{
    cell::RefCell,
    fmt::Write as _,
    io::{self, BufWriter, Write},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{
    EnvFilter,
    field::{MakeVisitor, VisitFmt, VisitOutput},
    fmt::{self, format::Writer, time::FormatTime},
};

use crate::config::LogFormat;

/// Keeps the log writer running; dropping it writes out every line still buffered.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
}

/// How long the log writer rests after each write(2); the most a line waits behind another.
const WRITER_REST: Duration = Duration::from_millis(5);

/// The log writer thread's output. After it has written out what it collected, the thread
/// rests for [`WRITER_REST`] while new lines gather in the channel, instead of waiting on the
/// channel, so that a busy server writes its log in a few large writes a second and request
/// threads need not wake the writer for each line: that was two system calls per request
/// (strace, SQLite GET: 7.2 per request before, 5.3 after; the yardstick's 5.2). An idle
/// server's line is still written at once: the rest comes after the write.
struct PacedWriter<W>(W);

impl<W: Write> Write for PacedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.0.flush();
        std::thread::sleep(WRITER_REST);
        flushed
    }
}

pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: escape codes are noise in a log file or collector, and
    // cost time on every request's line.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Lines collect in the buffer while the writer thread finds more waiting; it flushes once
    // it has none, then rests (see `PacedWriter`).
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        // ~1 MiB of lines at most (the default, 128k lines, could hold 30 MiB); at the pace
        // below, a server would need 800k lines a second to fill it.
        .buffered_lines_limit(4096)
        .thread_name("log-writer")
        .finish(PacedWriter(BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        )));
    let builder = fmt::fmt()
        .fmt_fields(PlainFields)
        .with_timer(UtcMicros)
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    // A second init (tests start several servers in one process) keeps the first subscriber.
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    LogGuard {
        _writer: installed.is_ok().then_some(guard),
    }
}

/// The text format's fields, `name=value` after the message, as tracing-subscriber's default
/// writes them (strings quoted and escaped, `%` values as they display), at less cost per
/// line: the default styles each field's name even with colours off, and escapes every string
/// character by character. The JSON format has its own.
#[derive(Clone, Copy)]
struct PlainFields;

impl<'w> MakeVisitor<Writer<'w>> for PlainFields {
    type Visitor = PlainFieldsVisitor<'w>;

    fn make_visitor(&self, writer: Writer<'w>) -> Self::Visitor {
        PlainFieldsVisitor {
            writer,
            result: Ok(()),
        }
    }
}

struct PlainFieldsVisitor<'w> {
    writer: Writer<'w>,
    result: std::fmt::Result,
}

impl PlainFieldsVisitor<'_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> std::fmt::Result) {
        let name = field.name();
        // What tracing-log adds to records from the `log` crate; the default skips it too.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        self.result = if name == "message" {
            value(&mut self.writer)
        } else {
            self.writer
                .write_char(' ')
                .and_then(|()| self.writer.write_str(name))
                .and_then(|()| self.writer.write_char('='))
                .and_then(|()| value(&mut self.writer))
        };
    }
}

impl Visit for PlainFieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |writer| {
            // Printable ASCII without quotes or backslashes reads the same escaped or not.
            if value
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
            {
                writer.write_char('"')?;
                writer.write_str(value)?;
                writer.write_char('"')
            } else {
                write!(writer, "{value:?}")
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field, |writer| write!(writer, "{value:?}"));
    }
}

impl VisitOutput<std::fmt::Result> for PlainFieldsVisitor<'_> {
    fn finish(self) -> std::fmt::Result {
        self.result
    }
}

impl VisitFmt for PlainFieldsVisitor<'_> {
    fn writer(&mut self) -> &mut dyn std::fmt::Write {
        &mut self.writer
    }
}

/// UTC timestamps with microseconds, as tracing-subscriber's default timer writes them
/// (`2026-12-01T16:13:36.829134Z`), with the part up to the second formatted once a second on
/// each thread instead of for every line.
struct UtcMicros;

impl FormatTime for UtcMicros {
    fn format_time(&self, writer: &mut Writer<'_>) -> std::fmt::Result {
        thread_local! {
            static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        SECOND.with_borrow_mut(|(second, text)| {
            if *second != now.as_secs() || text.is_empty() {
                let Some(time) = i64::try_from(now.as_secs())
                    .ok()
                    .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                else {
                    return write!(writer, "{:?}", now);
                };
                *second = now.as_secs();
                text.clear();
                write!(text, "{}", time.format("%Y-%m-%dT%H:%M:%S"))?;
            }
            write!(writer, "{text}.{:06}Z", now.subsec_micros())
        })
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::fmt::{MakeWriter, time::SystemTime as DefaultTimer};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    fn a_request_line() {
        let method = "GET";
        let id = "0b0e3b4c-5d7f-4c7a-9d57-1f2e3a4b5c6d";
        tracing::info!(
            method = %method,
            route = "/v1/organizations/{org_id}/customers",
            status = 200u16,
            latency_ms = 1.25,
            request_id = %id,
            actor = "a sub\nwith a newline",
            quoted = "say \"hi\"",
            backslash = r"C:\dir",
            unicode = "ünïcode",
            "request"
        );
    }

    /// The line as tracing-subscriber's default field formatter and timer write it, and as
    /// ours do: the same but for the timestamp's value.
    fn lines() -> (String, String) {
        let default = Captured::default();
        let ours = Captured::default();
        let subscriber = fmt::fmt()
            .with_writer(default.clone())
            .with_ansi(false)
            .with_timer(DefaultTimer)
            .finish();
        tracing::subscriber::with_default(subscriber, a_request_line);
        let subscriber = fmt::fmt()
            .fmt_fields(PlainFields)
            .with_timer(UtcMicros)
            .with_writer(ours.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, a_request_line);
        let text = |c: Captured| String::from_utf8(c.0.lock().unwrap().clone()).unwrap();
        (text(default), text(ours))
    }

    #[test]
    fn the_text_line_reads_as_the_default_formatter_writes_it() {
        let (default, ours) = lines();
        let timestamp = |line: &str| line.split_once(' ').unwrap().0.len();
        assert_eq!(timestamp(&default), timestamp(&ours), "{default}{ours}");
        assert_eq!(
            default.split_once(' ').unwrap().1,
            ours.split_once(' ').unwrap().1
        );
        assert!(ours.contains(r#" quoted="say \"hi\"" "#), "{ours}");
        let (date, time) = ours.split_once('T').unwrap();
        assert_eq!(date.len(), "2026-12-01".len(), "{ours}");
        assert!(
            time.starts_with(|c: char| c.is_ascii_digit()) && time.contains("Z "),
            "{ours}"
        );
    }
}
