//! `trawl demo` starts, its fleet sends traffic, and `trawl why` names the injected fault.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRAWL: &str = env!("CARGO_BIN_EXE_trawl");

struct DemoRun {
    why: serde_json::Value,
    /// `trawl trace` of the top cause's example trace, as printed.
    waterfall: String,
    servicemap: serde_json::Value,
    status: std::process::ExitStatus,
}

fn run_demo(scenario: &str) -> DemoRun {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(TRAWL)
        .args(["demo", "--listen", "127.0.0.1:0", "--otlp-http-listen", "off", "--otlp-grpc-listen", "off"])
        .args(["--scenario", scenario, "--fault-delay", "0s", "--rate", "40", "--services", "30", "--stop-after", "20s"])
        // Segments are cut every 2 s, so the analysis reads segments as well as the buffer.
        .args(["--flush-seconds", "2"])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut api = None;
    for line in BufReader::new(demo.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("HTTP API: ") {
            api = rest.split_whitespace().next().map(|a| a.trim_end_matches("/api/v1").to_string());
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
    let example = report["causes"][0]["example_trace_id"].as_str().unwrap_or("").to_string();
    let out = Command::new(TRAWL).args(["trace", &example, "--server", &api]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let waterfall = String::from_utf8_lossy(&out.stdout).into_owned();
    let servicemap: serde_json::Value =
        reqwest::blocking::get(format!("{api}/api/v1/servicemap?start=5m")).unwrap().json().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "demo did not stop after --stop-after");
        std::thread::sleep(Duration::from_millis(200));
    };
    DemoRun { why: report, waterfall, servicemap, status }
}

#[test]
fn demo_payment_timeout_is_named_by_why() {
    let DemoRun { why: report, waterfall, servicemap, status } = run_demo("payment-timeout");
    // The waterfall marks the same span, under the gateway, with the records of the trace.
    let marked: Vec<&str> = waterfall.lines().filter(|l| l.contains("◀ ROOT CAUSE")).collect();
    assert_eq!(marked.len(), 1, "{waterfall}");
    assert!(marked[0].trim_start().starts_with("payment-service POST third-party-payment-api"), "{waterfall}");
    assert!(waterfall.lines().nth(1).unwrap().starts_with("root cause: payment-service"), "{waterfall}");
    assert!(waterfall.contains("결제 실패"), "{waterfall}");
    assert!(status.success(), "demo exit: {status:?}");
    // The fleet-wide answer names the broken party: the uninstrumented API, as payment-service
    // calls it.
    let top = &report["causes"][0];
    assert_eq!(top["service"], "third-party-payment-api", "{report:#}");
    assert_eq!(top["operation"], "POST third-party-payment-api /v1/charges", "{report:#}");
    assert_eq!(top["via"], serde_json::json!(["payment-service"]), "{report:#}");
    assert_eq!(report["unusual"], true, "{report:#}");
    assert!(top["share"].as_f64().unwrap() > 0.5, "{report:#}");
    assert!(top["reason"].as_str().unwrap().contains("timed out"), "{report:#}");

    // The service map shows the fleet's call graph: every edge is real, the core ones are there.
    let fleet = trawl_fleet::Fleet::new(trawl_fleet::FleetConfig {
        services: 30,
        scenario: trawl_fleet::Scenario::PaymentTimeout,
        ..Default::default()
    });
    let graph: std::collections::HashSet<(String, String)> = fleet.call_graph().into_iter().collect();
    let uninstrumented = ["redis", "postgresql", "inventory-db", "third-party-payment-api"];
    let edges: Vec<(String, String)> = servicemap["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["caller"].as_str().unwrap().to_string(), e["callee"].as_str().unwrap().to_string()))
        .collect();
    for edge in &edges {
        assert!(graph.contains(edge) || uninstrumented.contains(&edge.1.as_str()), "edge {edge:?} is not in the call graph");
    }
    for core in [("gateway", "auth-service"), ("gateway", "order-service"), ("order-service", "payment-service")] {
        assert!(edges.contains(&(core.0.to_string(), core.1.to_string())), "missing {core:?} in {edges:?}");
    }
    let payment_api = servicemap["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["caller"] == "payment-service" && e["callee"] == "third-party-payment-api")
        .expect("the payment provider appears as a callee");
    assert!(payment_api["error_rate"].as_f64().unwrap() > 0.3, "{payment_api:#}");
}

#[test]
fn demo_bad_deploy_names_the_canary_version() {
    let DemoRun { why: report, status, .. } = run_demo("bad-deploy");
    assert!(status.success(), "demo exit: {status:?}");
    let top = &report["causes"][0];
    assert_eq!(top["service"], "order-service", "{report:#}");
    assert_eq!(top["version_specific"], "2.5.0-canary", "{report:#}");
}
