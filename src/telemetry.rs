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
    io::{self, BufWriter, Write},
    time::Duration,
};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{
    EnvFilter,
    fmt::{self, format},
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
        .fmt_fields(plain_fields())
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

/// The text format's fields, `name=value` (strings quoted) after the message, as
/// tracing-subscriber's default writes them, without its styling: that styles each field's
/// name even with colours off, and measured a third of the request line's cost
/// (BENCHMARKS.md). The JSON format has its own.
fn plain_fields() -> impl for<'w> fmt::FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(|writer, field, value| match field.name() {
        "message" => write!(writer, "{value:?}"),
        // What tracing-log adds to records from the `log` crate; the default skips it too.
        name if name.starts_with("log.") => Ok(()),
        name => write!(writer, " {name}={value:?}"),
    })
}
