//! The command-line client against a real server: `trawl ingest`, `trawl search`, `trawl trace`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TRAWL: &str = env!("CARGO_BIN_EXE_trawl");

struct Server {
    child: Child,
    api: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(TRAWL)
            .args(["server", "--listen", "127.0.0.1:0", "--otlp-http-listen", "off", "--otlp-grpc-listen", "off", "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let api = line.split_whitespace().find_map(|w| w.strip_prefix("api=")).expect(&line).to_string();
        let server = Server { child, api, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !server.get("/ready").starts_with("{\"status\":\"ready\"") {
            assert!(Instant::now() < deadline, "server not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn get(&self, path: &str) -> String {
        reqwest::blocking::get(format!("{}{path}", self.api)).and_then(|r| r.text()).unwrap_or_default()
    }

    fn trawl(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = Command::new(TRAWL)
            .args(args)
            .env("TRAWL_SERVER", &self.api)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ndjson(n: usize) -> String {
    (0..n)
        .map(|i| {
            let level = if i % 10 == 0 { "error" } else { "info" };
            let body = if i % 10 == 0 { format!("결제가 실패했습니다 order={i}") } else { format!("request {i} done") };
            format!(
                "{{\"time\":\"2026-11-20T10:00:{:02}.{:03}Z\",\"service\":\"svc-{}\",\"level\":\"{level}\",\"message\":\"{body}\",\"trace_id\":\"{:032x}\",\"n\":{i}}}\n",
                i / 1000 % 60,
                i % 1000,
                i % 3,
                i / 5 + 1
            )
        })
        .collect()
}

#[test]
fn ingest_then_search_and_trace_from_the_command_line() {
    let server = Server::start();
    let (ok, _, err) = server.trawl(&["ingest", "-", "--batch-size", "300"], &(ndjson(1000) + "not json\n"));
    assert!(ok, "{err}");
    assert!(err.contains("1000 records accepted, 1 rejected"), "{err}");

    let (ok, out, err) = server.trawl(&["search", "결제 실패", "--format", "ndjson", "--limit", "1000"], "");
    assert!(ok, "{err}");
    let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 100);
    assert!(records.iter().all(|r| r["level"] == "ERROR"));
    // Newest first.
    let times: Vec<i64> = records.iter().map(|r| r["time_ns"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));

    let (ok, out, _) = server.trawl(&["search", "service:svc-1 level:error", "--limit", "5"], "");
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines.iter().all(|l| l.contains("ERROR") && l.contains("svc-1") && l.contains("결제가 실패했습니다")), "{out}");

    let (ok, out, _) = server.trawl(&["trace", &format!("{:032x}", 1)], "");
    assert!(ok);
    assert!(out.contains("5 records"), "{out}");

    let (ok, _, err) = server.trawl(&["search", "status>="], "");
    assert!(!ok);
    assert!(err.contains("expected a value after \"status>=\" at 1:9"), "{err}");
}

#[test]
fn closed_pipe_ends_quietly() {
    let server = Server::start();
    assert!(server.trawl(&["ingest", "-"], &ndjson(2000)).0);
    let mut child = Command::new(TRAWL)
        .args(["search", "", "--limit", "2000"])
        .env("TRAWL_SERVER", &server.api)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}
