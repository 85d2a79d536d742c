//! `trawl demo` starts, its fleet sends traffic, and `trawl why` names the injected fault.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRAWL: &str = env!("CARGO_BIN_EXE_trawl");

fn why(scenario: &str) -> (serde_json::Value, std::process::ExitStatus) {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(TRAWL)
        .args(["demo", "--listen", "127.0.0.1:0", "--otlp-http-listen", "off", "--otlp-grpc-listen", "off"])
        .args(["--scenario", scenario, "--fault-delay", "0s", "--rate", "40", "--services", "30", "--stop-after", "20s"])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut api = None;
    for line in BufReader::new(demo.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("web UI and API: ") {
            api = Some(url.to_string());
            break;
        }
    }
    // Regression: the reader stops here and closes the pipe; a write to the closed stdout used
    // to end the demo.
    let api = api.expect("the demo prints its address");
    // Let a few hundred requests through.
    std::thread::sleep(Duration::from_secs(8));
    let out = Command::new(TRAWL).args(["why", "--since", "5m", "--format", "json", "--server", &api]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "demo did not stop after --stop-after");
        std::thread::sleep(Duration::from_millis(200));
    };
    (report, status)
}

#[test]
fn demo_payment_timeout_is_named_by_why() {
    let (report, status) = why("payment-timeout");
    assert!(status.success(), "demo exit: {status:?}");
    let top = &report["causes"][0];
    assert_eq!(top["service"], "payment-service", "{report:#}");
    assert_eq!(top["operation"], "POST third-party-payment-api /v1/charges", "{report:#}");
    assert!(top["share"].as_f64().unwrap() > 0.5, "{report:#}");
    assert!(top["reason"].as_str().unwrap().contains("timed out"), "{report:#}");
}

#[test]
fn demo_bad_deploy_names_the_canary_version() {
    let (report, status) = why("bad-deploy");
    assert!(status.success(), "demo exit: {status:?}");
    let top = &report["causes"][0];
    assert_eq!(top["service"], "order-service", "{report:#}");
    assert_eq!(top["version_specific"], "2.5.0-canary", "{report:#}");
}
