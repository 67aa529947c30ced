//! The load test's client, the same for every server: N connections, each
//! sending one pre-encoded masked binary message and reading its echo
//! (checked byte for byte) before sending the next — uWebSockets'
//! `load_test` workload. It counts echoes over timed rounds, and when
//! given the server's pid also measures the server: CPU time from
//! `/proc/PID/task/*/schedstat`, its share in the kernel from
//! `/proc/PID/stat`, and with `--syscalls` the system calls of
//! one more round with `perf stat` (tracepoints `raw_syscalls:sys_enter`
//! and the read, write and epoll calls). `LOADTEST_PERF_EVENTS` (a
//! comma-separated list of perf events) adds events to that round, each
//! printed per message on stderr: the kernel's work per echo in counts
//! (page faults, page and slab allocations, skbs) rather than in time.
//!
//! ```text
//! loadtest_client ADDR CONNECTIONS SIZE [--rounds N] [--seconds S] [--warmup S]
//!                 [--server-pid PID] [--syscalls]
//! ```
//!
//! Each round prints a line to stderr; the last line on stdout is the
//! median of the rounds as `key=value` pairs, for `run.sh`. Exit code 1 if
//! a connection fails or an echo is wrong (it says how), 2 for a bad
//! command line.

use std::{
    fs,
    io::{self, ErrorKind},
    net::SocketAddr,
    process::{Command, ExitCode, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::sleep,
};
use wsframe_loadtest::frame::{check_echo, masked_binary_frame, payload};

const USAGE: &str = "usage: loadtest_client ADDR CONNECTIONS SIZE [--rounds N] [--seconds S] [--warmup S] [--server-pid PID] [--syscalls]";

/// The syscalls counted, by kind, beside the total.
const SYSCALL_KINDS: [(&str, &[&str]); 3] = [
    ("reads", &["read", "readv", "recvfrom", "recvmsg"]),
    ("writes", &["write", "writev", "sendto", "sendmsg"]),
    ("polls", &["epoll_wait", "epoll_pwait", "epoll_pwait2"]),
];

struct Options {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    rounds: usize,
    seconds: f64,
    warmup: f64,
    server_pid: Option<u32>,
    syscalls: bool,
}

fn parse_options() -> Result<Options, String> {
    fn number<T: std::str::FromStr>(what: &str, value: Option<String>) -> Result<T, String> {
        let value = value.ok_or_else(|| format!("{what} is missing"))?;
        value
            .parse()
            .map_err(|_| format!("{what}: {value:?} is not a number"))
    }
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or("ADDR is missing")?;
    let addr = addr
        .parse()
        .map_err(|err| format!("{addr:?} is not an address: {err}"))?;
    let mut options = Options {
        addr,
        connections: number("CONNECTIONS", args.next())?,
        size: number("SIZE", args.next())?,
        rounds: 3,
        seconds: 3.0,
        warmup: 1.0,
        server_pid: None,
        syscalls: false,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--rounds" => options.rounds = number(&flag, args.next())?,
            "--seconds" => options.seconds = number(&flag, args.next())?,
            "--warmup" => options.warmup = number(&flag, args.next())?,
            "--server-pid" => options.server_pid = Some(number(&flag, args.next())?),
            "--syscalls" => options.syscalls = true,
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    if options.connections == 0 || options.rounds == 0 || options.seconds <= 0.0 {
        return Err("CONNECTIONS, --rounds and --seconds must be positive".into());
    }
    if options.syscalls && options.server_pid.is_none() {
        return Err("--syscalls needs --server-pid".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("loadtest_client: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime.and_then(|runtime| runtime.block_on(run(&options))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadtest_client: {err}");
            ExitCode::FAILURE
        }
    }
}

/// A process's time on a CPU and waiting for one (runnable, on a run
/// queue) so far, in nanoseconds: the first two fields of every thread's
/// `schedstat`; and its time in user and kernel mode, in clock ticks:
/// `utime` and `stime` of `/proc/PID/stat` (all threads). `pid` is the
/// server's, or `self`.
fn cpu_time(pid: &str) -> io::Result<CpuTime> {
    let bad_stat = || io::Error::new(ErrorKind::InvalidData, "bad stat");
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command's name, which is in parentheses and may hold
    // spaces: field 3 (state) first, so utime (14) and stime (15) are the
    // 12th and 13th.
    let after_name = stat.rsplit_once(')').ok_or_else(bad_stat)?.1;
    let mut ticks = after_name
        .split_whitespace()
        .skip(11)
        .map(|t| t.parse::<u64>().ok());
    let (Some(Some(user_ticks)), Some(Some(kernel_ticks))) = (ticks.next(), ticks.next()) else {
        return Err(bad_stat());
    };
    let mut total = CpuTime {
        user_ticks,
        kernel_ticks,
        ..CpuTime::default()
    };
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = fs::read_to_string(task?.path().join("schedstat"))?;
        let mut fields = stat.split_whitespace().map(|ns| ns.parse::<u64>().ok());
        let (Some(Some(running)), Some(Some(waiting))) = (fields.next(), fields.next()) else {
            return Err(io::Error::new(ErrorKind::InvalidData, "bad schedstat"));
        };
        total.running += running;
        total.waiting += waiting;
    }
    Ok(total)
}

/// Nanoseconds on a CPU and waiting for one; clock ticks in user and in
/// kernel mode.
#[derive(Clone, Copy, Debug, Default)]
struct CpuTime {
    running: u64,
    waiting: u64,
    user_ticks: u64,
    kernel_ticks: u64,
}

impl std::ops::Sub for CpuTime {
    type Output = Self;

    fn sub(self, earlier: Self) -> Self {
        Self {
            running: self.running - earlier.running,
            waiting: self.waiting - earlier.waiting,
            user_ticks: self.user_ticks - earlier.user_ticks,
            kernel_ticks: self.kernel_ticks - earlier.kernel_ticks,
        }
    }
}

/// What one round measured.
#[derive(Clone, Copy, Debug, Default)]
struct Round {
    messages: u64,
    seconds: f64,
    /// Server CPU time over the round, if its pid is known.
    cpu: Option<CpuTime>,
    /// This client's CPU time over the round.
    client_cpu: CpuTime,
}

impl Round {
    fn per_second(&self) -> f64 {
        self.messages as f64 / self.seconds
    }

    fn cpu_us_per_message(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| cpu.running as f64 / 1e3 / self.messages.max(1) as f64)
    }

    /// The share of one core the server used, in percent.
    fn cpu_busy(&self) -> Option<f64> {
        self.cpu.map(|cpu| cpu.running as f64 / 1e7 / self.seconds)
    }

    /// How long the server was runnable but not running, in percent of the
    /// round: other processes held its core. High, msg/s says little.
    fn cpu_waiting(&self) -> Option<f64> {
        self.cpu.map(|cpu| cpu.waiting as f64 / 1e7 / self.seconds)
    }

    /// The share of the server's CPU time spent in the kernel, in percent
    /// (socket copies and TCP): what no codec's own work can shorten.
    fn cpu_kernel(&self) -> Option<f64> {
        self.cpu.and_then(|cpu| {
            let ticks = cpu.user_ticks + cpu.kernel_ticks;
            (ticks > 0).then(|| cpu.kernel_ticks as f64 * 100.0 / ticks as f64)
        })
    }

    /// The share of one core this client used, in percent: near 100, the
    /// client, not the server, sets the pace.
    fn client_busy(&self) -> f64 {
        self.client_cpu.running as f64 / 1e7 / self.seconds
    }
}

/// Counts the echoes over `seconds`, with the server's CPU time.
async fn round(count: &AtomicU64, seconds: f64, pid: Option<u32>) -> io::Result<Round> {
    let server = pid.map(|pid| pid.to_string());
    let cpu_before = server.as_deref().map(cpu_time).transpose()?;
    let client_before = cpu_time("self")?;
    let before = count.load(Ordering::Relaxed);
    let start = Instant::now();
    sleep(Duration::from_secs_f64(seconds)).await;
    let messages = count.load(Ordering::Relaxed) - before;
    let seconds = start.elapsed().as_secs_f64();
    let client_cpu = cpu_time("self")? - client_before;
    let cpu_after = server.as_deref().map(cpu_time).transpose()?;
    Ok(Round {
        messages,
        seconds,
        cpu: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        client_cpu,
    })
}

async fn run(options: &Options) -> io::Result<()> {
    let message = payload(options.size);
    let frame: Arc<[u8]> = masked_binary_frame(&message).into();
    let message: Arc<[u8]> = message.into();
    let count = Arc::new(AtomicU64::new(0));
    // Every connection is open before the first message: a connection
    // opened while hundreds echo would wait for each of them in turn.
    let mut streams = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let mut stream = TcpStream::connect(options.addr).await?;
        stream.set_nodelay(true)?;
        handshake(&mut stream, options.addr).await?;
        streams.push(stream);
    }
    for stream in streams {
        let (frame, message, count) = (frame.clone(), message.clone(), count.clone());
        tokio::spawn(async move {
            if let Err(err) = echo_loop(stream, &frame, &message, &count).await {
                // One wrong echo invalidates the run: stop it loudly.
                eprintln!("loadtest_client: {err}");
                std::process::exit(1);
            }
        });
    }
    sleep(Duration::from_secs_f64(options.warmup)).await;
    let mut rounds = Vec::with_capacity(options.rounds);
    for i in 0..options.rounds {
        let round = round(&count, options.seconds, options.server_pid).await?;
        eprintln!(
            "round {}: {} msgs in {:.2} s = {:.0} msg/s, server CPU {} us/msg ({} % busy, {} % waiting for its core, {} % in the kernel), client {:.0} % busy",
            i + 1,
            round.messages,
            round.seconds,
            round.per_second(),
            show(round.cpu_us_per_message(), 2),
            show(round.cpu_busy(), 0),
            show(round.cpu_waiting(), 0),
            show(round.cpu_kernel(), 0),
            round.client_busy(),
        );
        rounds.push(round);
    }
    let median = |key: &dyn Fn(&Round) -> Option<f64>| {
        let mut values: Vec<f64> = rounds.iter().filter_map(key).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let mut summary = format!(
        "msgs_per_s={} cpu_us_per_msg={} cpu_busy_pct={} cpu_waiting_pct={} cpu_kernel_pct={} client_busy_pct={}",
        show(median(&|r| Some(r.per_second())), 0),
        show(median(&Round::cpu_us_per_message), 3),
        show(median(&Round::cpu_busy), 0),
        show(median(&Round::cpu_waiting), 0),
        show(median(&Round::cpu_kernel), 0),
        show(median(&|r| Some(r.client_busy())), 0),
    );
    if let (true, Some(pid)) = (options.syscalls, options.server_pid) {
        summary += &syscall_round(&count, options.seconds, pid).await?;
    }
    println!("{summary}");
    Ok(())
}

/// `value` with `digits` decimals, or `-` when unknown.
fn show(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

/// One more round with `perf stat` counting the server's system calls;
/// returns ` syscalls_per_msg=… reads_per_msg=…` (`-` if perf failed,
/// with the reason on stderr). Not one of the timed rounds: counting
/// tracepoints costs the server a little. perf starts with its counters
/// off (`-D -1`) and is switched on and off through its control FIFO at
/// the round's edges, so it counts the calls of the messages counted.
async fn syscall_round(count: &AtomicU64, seconds: f64, pid: u32) -> io::Result<String> {
    let unknown = |why: &dyn std::fmt::Display| {
        eprintln!("loadtest_client: no syscall counts: {why}");
        let mut keys = " syscalls_per_msg=-".to_owned();
        for (kind, _) in SYSCALL_KINDS {
            keys += &format!(" {kind}_per_msg=-");
        }
        keys
    };
    let dir = std::env::temp_dir().join(format!("loadtest-perf-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let (ctl, ack) = (dir.join("ctl"), dir.join("ack"));
    let made = Command::new("mkfifo").arg(&ctl).arg(&ack).status();
    if !made.is_ok_and(|status| status.success()) {
        fs::remove_dir_all(&dir).ok();
        return Ok(unknown(&"mkfifo failed"));
    }
    let result = perf_round(count, seconds, pid, &ctl, &ack).await;
    fs::remove_dir_all(&dir).ok();
    match result {
        Ok(Ok(keys)) => Ok(keys),
        Ok(Err(why)) => Ok(unknown(&why)),
        Err(err) => Ok(unknown(&err)),
    }
}

/// The perf round itself, with its control FIFOs at `ctl` and `ack`:
/// `Ok(Err(why))` when perf ran but counted nothing usable.
async fn perf_round(
    count: &AtomicU64,
    seconds: f64,
    pid: u32,
    ctl: &std::path::Path,
    ack: &std::path::Path,
) -> io::Result<Result<String, String>> {
    use std::io::{BufRead, BufReader, Write};

    let mut events = vec!["raw_syscalls:sys_enter".to_owned()];
    for (_, calls) in SYSCALL_KINDS {
        events.extend(
            calls
                .iter()
                .map(|call| format!("syscalls:sys_enter_{call}")),
        );
    }
    // More events to count in the same round, each reported per message
    // on stderr (e.g. `page-faults,kmem:mm_page_alloc`).
    let extra = std::env::var("LOADTEST_PERF_EVENTS").unwrap_or_default();
    events.extend(
        extra
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
    );
    let control = format!("fifo:{},{}", ctl.display(), ack.display());
    let events = events.join(",");
    let pid = pid.to_string();
    let mut perf = Command::new("perf")
        .args(["stat", "-x", ",", "-D", "-1", "--control", &control])
        .args(["-e", &events, "-p", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // A perf that cannot attach exits at once; one that did has opened
    // its FIFOs, or the opens below would block for ever.
    sleep(Duration::from_millis(300)).await;
    if let Some(status) = perf.try_wait()? {
        let mut report = String::new();
        if let Some(mut stderr) = perf.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut report)?;
        }
        return Ok(Err(format!("perf exited ({status}): {report}")));
    }
    let mut ctl = fs::OpenOptions::new().write(true).open(ctl)?;
    let mut ack = BufReader::new(fs::File::open(ack)?);
    let mut command = |command: &str| -> io::Result<()> {
        ctl.write_all(command.as_bytes())?;
        ctl.flush()?;
        let mut line = String::new();
        ack.read_line(&mut line)?;
        Ok(())
    };
    command("enable\n")?;
    let round = round(count, seconds, None).await?;
    command("disable\n")?;
    drop(ctl);
    Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status()?;
    let mut report = String::new();
    if let Some(mut stderr) = perf.stderr.take() {
        std::io::Read::read_to_string(&mut stderr, &mut report)?;
    }
    perf.wait()?;
    // `perf stat -x ,`: "COUNT,UNIT,EVENT,..." per event.
    let counted = |event: &str| -> Option<u64> {
        report.lines().find_map(|line| {
            let mut fields = line.split(',');
            let value = fields.next()?;
            (fields.nth(1)? == event).then(|| value.parse().ok())?
        })
    };
    let Some(total) = counted("raw_syscalls:sys_enter") else {
        return Ok(Err(format!("perf counted nothing:\n{report}")));
    };
    let per_message = |n: u64| n as f64 / round.messages.max(1) as f64;
    let mut keys = format!(" syscalls_per_msg={:.3}", per_message(total));
    let mut kinds = String::new();
    for (kind, calls) in SYSCALL_KINDS {
        let n: u64 = calls
            .iter()
            .filter_map(|call| counted(&format!("syscalls:sys_enter_{call}")))
            .sum();
        keys += &format!(" {kind}_per_msg={:.3}", per_message(n));
        kinds += &format!(" {n} {kind}");
    }
    eprintln!(
        "syscall round: {} msgs, {total} syscalls ({kinds} )",
        round.messages
    );
    for event in extra.split(',').filter(|e| !e.is_empty()) {
        if let Some(n) = counted(event) {
            eprintln!("  {event}: {:.3}/msg", per_message(n));
        }
    }
    Ok(Ok(keys))
}

/// The client's opening handshake (RFC 6455 §4.1), with a fixed key: the
/// servers check the request, this client only the 101.
async fn handshake(stream: &mut TcpStream, addr: SocketAddr) -> io::Result<()> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::with_capacity(512);
    loop {
        if stream.read_buf(&mut response).await? == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "the server hung up during the handshake",
            ));
        }
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            if !response.starts_with(b"HTTP/1.1 101") {
                let head = String::from_utf8_lossy(&response[..end]);
                return Err(io::Error::other(format!("handshake refused: {head}")));
            }
            if end + 4 != response.len() {
                return Err(io::Error::other("bytes after the 101 before any message"));
            }
            return Ok(());
        }
        if response.len() > 16 * 1024 {
            return Err(io::Error::other("no end to the handshake response"));
        }
    }
}

/// Sends `frame`, reads until its echo is whole and checks it, counts it;
/// forever, or until an error.
async fn echo_loop(
    mut stream: TcpStream,
    frame: &[u8],
    message: &[u8],
    count: &AtomicU64,
) -> io::Result<()> {
    // Room for the echo in one frame and some headers if fragmented; it
    // grows if a server fragments more.
    let mut buf = vec![0; message.len() + 64];
    loop {
        stream.write_all(frame).await?;
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = stream.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the server hung up mid-echo",
                ));
            }
            filled += n;
            match check_echo(&buf[..filled], message) {
                Ok(None) => {}
                Ok(Some(_)) => break,
                Err(err) => return Err(io::Error::new(ErrorKind::InvalidData, err)),
            }
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
}
