//! `pageload`: an open-loop, rate-limited HTTP GET load generator for the consumer page
//! (Debian's `wrk` has no fixed-rate mode). Each of `--connections` keep-alive
//! connections sends its share of `--rate` requests per second on a fixed schedule;
//! latency is measured from the *scheduled* send time, so a stalled server is charged
//! for the requests it delayed (no coordinated omission). The last line is
//! machine-readable: `page_rps=N p50_ms=N p99_ms=N`.
//!
//! ```text
//! pageload --url http://127.0.0.1:8700/01/06901234567892/10/FD-POMELO-2026-001 \
//!     --rate 2000 --seconds 20 --connections 16
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct Args {
    url: String,
    rate: u64,
    seconds: u64,
    connections: u64,
    warmup: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args { url: String::new(), rate: 2000, seconds: 20, connections: 16, warmup: 2 };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--url" => a.url = v()?,
            "--rate" => a.rate = v()?.parse()?,
            "--seconds" => a.seconds = v()?.parse()?,
            "--connections" => a.connections = v()?.parse()?,
            "--warmup" => a.warmup = v()?.parse()?,
            "-h" | "--help" => {
                println!("pageload --url URL [--rate 2000] [--seconds 20] [--connections 16] [--warmup 2]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if a.url.is_empty() || a.rate == 0 || a.connections == 0 || a.seconds == 0 {
        bail!("--url, and positive --rate, --seconds and --connections are needed");
    }
    Ok(a)
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok((host.to_string(), if path.is_empty() { "/".into() } else { path.to_string() }))
}

struct Conn {
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Conn {
    fn open(host: &str, path: &str) -> anyhow::Result<Conn> {
        let s = TcpStream::connect(host)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n").into_bytes();
        Ok(Conn { reader: BufReader::new(s), request })
    }

    /// One request/response; returns the status.
    fn get(&mut self) -> anyhow::Result<u16> {
        self.reader.get_mut().write_all(&self.request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).context("no status line")?.parse()?;
        let mut len = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse()?;
            }
        }
        let mut body = vec![0u8; len];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let (host, path) = split_url(&a.url)?;
    // Warm-up at the same rate, not measured.
    let interval = Duration::from_secs_f64(a.connections as f64 / a.rate as f64);
    let start = Instant::now() + Duration::from_millis(200);
    let measure_from = start + Duration::from_secs(a.warmup);
    let end = measure_from + Duration::from_secs(a.seconds);
    let mut workers = Vec::new();
    for w in 0..a.connections {
        let (host, path) = (host.clone(), path.clone());
        let offset = interval.mul_f64(w as f64 / a.connections as f64);
        workers.push(std::thread::spawn(move || -> anyhow::Result<(Vec<Duration>, u64)> {
            let mut conn = Conn::open(&host, &path)?;
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = 0u32;
            loop {
                let due = start + offset + interval * i;
                if due >= end {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let ok = matches!(conn.get(), Ok(200));
                if !ok {
                    errors += 1;
                    conn = Conn::open(&host, &path)?;
                }
                if due >= measure_from {
                    lat.push(due.elapsed());
                }
                i += 1;
            }
            Ok((lat, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let rps = all.len() as f64 / a.seconds as f64;
    let (p50, p99, p999) = (pct(&all, 0.50), pct(&all, 0.99), pct(&all, 0.999));
    let max = all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!(
        "target {} req/s over {} connections for {} s: {} responses, {errors} errors; p50 {p50:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {max:.2} ms",
        a.rate,
        a.connections,
        a.seconds,
        all.len()
    );
    println!("page_rps={rps:.0} p50_ms={p50:.2} p99_ms={p99:.2}");
    if errors > 0 {
        bail!("{errors} requests failed (non-200 or connection error)");
    }
    Ok(())
}
