//! Bounded memory for the HAProxy check (issue 13, point 3): a ~30 MB stats page, served 10
//! times to a running rhi, grows rhi's peak RSS (`VmHWM` in /proc/PID/status) by less than 2 MB,
//! and the verdict still comes from rows at the very end of the page.
//!
//! The page keeps HAProxy 2.6's real column layout: the header and rows of
//! `tests/fixtures/haproxy/mixed-healthy.csv` (captured from HAProxy 2.6.12), its `app` backend's
//! server and BACKEND rows replicated under new backend names (`bulk0`, `bulk1`, ...) up to 30 MB,
//! then the captured `web` FRONTEND and `app` rows last. The check is `backend: app`,
//! `frontend: web`, so both rows it needs are in the page's last few hundred bytes.
//!
//! Control: before the streaming scanner (commit 6a66269), rhi buffered the body, copied it to
//! text and kept every row. This test run against that build's release binary
//! (`RHI_STATS_MEMORY_BIN=/path/to/old/rhi`) fails: VmHWM grew by 312,968 and 313,016 kB (two
//! runs, ~10.4× the page); the streaming build grows by 588–620 kB (release and debug). Figures
//! in BENCHMARKS.md §8.
//!
//! `RHI_STATS_MEMORY_BIN` runs another rhi binary (e.g. an older build) through the same test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PAGE_BYTES: usize = 30_000_000;
const SERVED: usize = 10;
const MAX_GROWTH_KB: u64 = 2 * 1024;

fn rhi_bin() -> PathBuf {
    std::env::var_os("RHI_STATS_MEMORY_BIN").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_BIN_EXE_rhi").into())
}

/// The ~30 MB page described in the module doc.
fn big_page() -> Vec<u8> {
    let captured = include_str!("fixtures/haproxy/mixed-healthy.csv");
    let mut lines = captured.lines();
    let header = lines.next().unwrap();
    let columns: Vec<&str> = header.trim_start_matches("# ").trim_end_matches(',').split(',').collect();
    let px = columns.iter().position(|c| *c == "pxname").unwrap();
    let sv = columns.iter().position(|c| *c == "svname").unwrap();
    let rows: Vec<Vec<&str>> = lines.filter(|l| !l.is_empty()).map(|l| l.split(',').collect()).collect();
    let app: Vec<&Vec<&str>> = rows.iter().filter(|r| r[px] == "app").collect();
    assert!(app.iter().any(|r| r[sv] == "BACKEND") && app.len() >= 3, "captured app rows");
    let web = rows.iter().find(|r| r[px] == "web" && r[sv] == "FRONTEND").expect("captured web FRONTEND");

    let mut page = Vec::with_capacity(PAGE_BYTES + (64 << 10));
    page.extend_from_slice(header.as_bytes());
    page.push(b'\n');
    let mut n = 0;
    while page.len() < PAGE_BYTES {
        let name = format!("bulk{n}");
        for row in &app {
            let mut row = (*row).clone();
            row[px] = &name;
            page.extend_from_slice(row.join(",").as_bytes());
            page.push(b'\n');
        }
        n += 1;
    }
    for row in std::iter::once(web).chain(app.iter().copied()) {
        page.extend_from_slice(row.join(",").as_bytes());
        page.push(b'\n');
    }
    page.push(b'\n');
    page
}

/// Serves `page` to `SERVED` requests (HTTP/1.1, Connection: close), then reports each later
/// connection on `after` and holds it unanswered (the probe then waits, so the verdict of the
/// 10th page stays in rhi's status while the test reads it). `first` is told when the first
/// request arrives, before any byte of the page is sent; the thread waits for the go on `go`.
fn serve(
    listener: TcpListener,
    page: Vec<u8>,
    first: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
    after: mpsc::Sender<()>,
) {
    let mut held = Vec::new();
    for (i, stream) in listener.incoming().enumerate() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
            line.clear();
        }
        if i >= SERVED {
            if after.send(()).is_err() {
                return;
            }
            held.push(stream);
            continue;
        }
        if i == 0 {
            first.send(()).unwrap();
            go.recv().unwrap();
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            page.len()
        );
        let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&page));
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Drain until the client closes, so the close is the client's.
        let _ = stream.read(&mut [0u8; 64]);
    }
}

/// `VmHWM` (peak RSS) of `pid`, in kB.
fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

struct Rhi {
    child: Child,
    dir: tempfile::TempDir,
}

impl Rhi {
    fn status_json(&self) -> serde_json::Value {
        let output = Command::new(rhi_bin())
            .env_remove("RHI_CONFIG")
            .args(["status", "--socket"])
            .arg(self.dir.path().join("rhi.sock"))
            .arg("--json")
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rhi.log")).unwrap_or_default()
    }
}

impl Drop for Rhi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("rhi log:\n{}", self.log());
        }
    }
}

fn start_rhi(stats_url: &str, dir: tempfile::TempDir) -> Rhi {
    // The peer's port is closed: rhi retries it, which does not matter here.
    let bgp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = bgp.local_addr().unwrap().port();
    drop(bgp);
    let config = format!(
        r#"router_id: 127.0.0.2
local_as: 65001
peers:
  - name: r1
    address: 127.0.0.1
    remote_as: 65000
    port: {port}
    connect_retry: 30s
checks:
  web:
    haproxy:
      stats_url: "{stats_url}"
      backend: app
      frontend: web
    interval: 300ms
    fast_interval: 300ms
    timeout: 5s
    rise: 2
    fall: 2
vips:
  - prefix: 10.46.46.46/32
    check: web
control:
  socket: "{dir}/rhi.sock"
"#,
        dir = dir.path().display()
    );
    let path = dir.path().join("rhi.yaml");
    std::fs::write(&path, config).unwrap();
    let log = std::fs::File::create(dir.path().join("rhi.log")).unwrap();
    let child = Command::new(rhi_bin())
        .env_remove("RHI_CONFIG")
        .args(["run", "-c"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Rhi { child, dir }
}

fn wait_for_socket(path: &Path, rhi: &Rhi) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "rhi's control socket never appeared:\n{}", rhi.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_30_mb_stats_page_served_10_times_grows_peak_rss_by_less_than_2_mb() {
    let page = big_page();
    assert!(page.len() >= PAGE_BYTES, "{}", page.len());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/stats;csv", listener.local_addr().unwrap());
    let (first_tx, first_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let (after_tx, after_rx) = mpsc::channel();
    std::thread::spawn(move || serve(listener, page, first_tx, go_rx, after_tx));

    let rhi = start_rhi(&url, tempfile::tempdir().unwrap());
    let pid = rhi.child.id();
    first_rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("no first probe:\n{}", rhi.log()));
    wait_for_socket(&rhi.dir.path().join("rhi.sock"), &rhi);
    let before = vm_hwm_kb(pid);
    go_tx.send(()).unwrap();

    // The 11th connection: the 10th page has been read to its end and judged.
    after_rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("10 probes not done:\n{}", rhi.log()));
    let after = vm_hwm_kb(pid);
    let status = rhi.status_json();
    let growth = after.saturating_sub(before);
    eprintln!(
        "{}: VmHWM {before} kB before the first page, {after} kB after the 10th: +{growth} kB",
        rhi_bin().display()
    );

    let check = status["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "web"))
        .unwrap_or_else(|| panic!("no check `web` in rhi status: {status}\n{}", rhi.log()));
    assert_eq!(check["state"], "UP", "the rows at the end of the page decide: {check}");
    assert_eq!(check["reason"], "backend app: 2 usable servers", "{check}");
    assert!(
        growth < MAX_GROWTH_KB,
        "peak RSS grew by {growth} kB ({before} → {after} kB) over 10 pages of {PAGE_BYTES} bytes"
    );
}
