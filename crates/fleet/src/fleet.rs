use trawl_model::{AttrValue, Attributes, Level, Record, Span, SpanEvent, SpanKind, StatusCode};

use crate::rng::Rng;
use crate::scenario::Scenario;

#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Number of services (at least the 12 of the core call graph).
    pub services: usize,
    pub seed: u64,
    pub scenario: Scenario,
    pub environment: String,
    /// The share of `recommendation-service` requests that fail, steadily, whatever the
    /// scenario: noise that is not news.
    pub steady_failure_rate: f64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig { services: 50, seed: 42, scenario: Scenario::PaymentTimeout, environment: "production".into(), steady_failure_rate: 0.05 }
    }
}

const CORE: [&str; 12] = [
    "gateway",
    "auth-service",
    "user-service",
    "catalog-service",
    "cart-service",
    "order-service",
    "payment-service",
    "inventory-service",
    "notification-service",
    "search-service",
    "recommendation-service",
    "shipping-service",
];

const FILLER_WORDS: [&str; 24] = [
    "pricing", "tax", "fraud", "coupon", "review", "media", "geo", "session", "audit", "ledger", "loyalty", "email",
    "sms", "push", "feature-flags", "config", "rate-limit", "currency", "warehouse", "returns", "invoice", "wishlist",
    "analytics", "translation",
];

struct Service {
    name: String,
    version: String,
    hosts: Vec<String>,
}

/// How a CLIENT span names the party it calls: the three conventions found in the wild.
#[derive(Debug, Clone, Copy)]
enum PeerAttr {
    /// `peer.service`.
    PeerService,
    /// `server.address` and `server.port` (current semantic conventions).
    ServerAddress,
    /// `net.peer.name` (semantic conventions before 1.21).
    NetPeerName,
}

/// One operation of the call graph and what it calls.
struct Op {
    service: usize,
    name: String,
    kind: SpanKind,
    median_ms: f64,
    peer: Option<(PeerAttr, &'static str)>,
    /// A CLIENT span gives up on its callee after this long and fails.
    timeout_ms: Option<f64>,
    /// A failure below is swallowed (logged as a warning) instead of failing this operation.
    optional: bool,
    children: Vec<Op>,
}

fn op(service: usize, name: &str, kind: SpanKind, median_ms: f64, children: Vec<Op>) -> Op {
    Op { service, name: name.to_string(), kind, median_ms, peer: None, timeout_ms: None, optional: false, children }
}

/// A CLIENT span of `service` calling `peer`, named as the peer's own convention asks.
fn client(service: usize, name: &str, median_ms: f64, peer: (PeerAttr, &'static str), children: Vec<Op>) -> Op {
    Op { peer: Some(peer), ..op(service, name, SpanKind::Client, median_ms, children) }
}

/// The simulated fleet. Deterministic: the same config gives the same requests.
pub struct Fleet {
    config: FleetConfig,
    rng: Rng,
    services: Vec<Service>,
    /// For each service, the filler services it calls.
    callees: Vec<Vec<usize>>,
}

/// What one request through the graph produced.
struct Trace {
    trace_id: String,
    user: String,
    request_id: String,
    order_id: String,
    spans: Vec<Span>,
    records: Vec<Record>,
    fault: bool,
    /// `order-service` serving this request from the canary version.
    canary: bool,
}

fn hex(rng: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes * 2);
    while s.len() < bytes * 2 {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(bytes * 2);
    s
}

impl Fleet {
    pub fn new(config: FleetConfig) -> Fleet {
        let mut rng = Rng::new(config.seed);
        let n = config.services.max(CORE.len());
        let mut services: Vec<Service> = Vec::with_capacity(n);
        for i in 0..n {
            let name = if i < CORE.len() {
                CORE[i].to_string()
            } else {
                let j = i - CORE.len();
                let word = FILLER_WORDS[j % FILLER_WORDS.len()];
                match j / FILLER_WORDS.len() {
                    0 => format!("{word}-service"),
                    k => format!("{word}-{}-service", k + 1),
                }
            };
            let version = format!("1.{}.{}", rng.below(9) + 1, rng.below(20));
            let hosts = (0..2 + rng.below(3)).map(|h| format!("{name}-{h}")).collect();
            services.push(Service { name, version, hosts });
        }
        services[5].version = "2.4.0".into();
        // Fillers hang below core services (not the gateway) or below earlier fillers.
        let mut callees = vec![Vec::new(); n];
        for i in CORE.len()..n {
            let parent = if i > CORE.len() && rng.chance(0.4) { CORE.len() + rng.below(i - CORE.len()) } else { 1 + rng.below(CORE.len() - 1) };
            callees[parent].push(i);
        }
        Fleet { config, rng, services, callees }
    }

    pub fn service_names(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.name.as_str()).collect()
    }

    /// Caller → callee service pairs of the call graph (what a service map must show).
    pub fn call_graph(&self) -> Vec<(String, String)> {
        let mut edges: Vec<(String, String)> = vec![
            (0, 1),
            (0, 3),
            (0, 4),
            (0, 5),
            (0, 2),
            (3, 9),
            (3, 10),
            (5, 7),
            (5, 6),
            (5, 8),
            (5, 11),
            (5, 2),
        ]
        .into_iter()
        .map(|(a, b)| (self.services[a].name.clone(), self.services[b].name.clone()))
        .collect();
        for (parent, children) in self.callees.iter().enumerate() {
            for &c in children {
                edges.push((self.services[parent].name.clone(), self.services[c].name.clone()));
            }
        }
        edges.sort();
        edges.dedup();
        edges
    }

    fn plan(&mut self) -> Op {
        use PeerAttr::*;
        let s = SpanKind::Server;
        let auth = op(1, "verify token", s, 3.0, vec![client(1, "GET token-cache", 1.0, (NetPeerName, "redis"), vec![])]);
        let roll = self.rng.f64();
        if roll < 0.3 {
            let pay_call = client(6, "POST third-party-payment-api /v1/charges", 180.0, (PeerService, "third-party-payment-api"), vec![]);
            let mut notify = op(8, "send confirmation", s, 15.0, vec![]);
            notify.optional = true;
            let reserve = op(7, "reserve stock", s, 6.0, vec![client(7, "SELECT stock", 4.0, (PeerService, "inventory-db"), vec![])]);
            let user = op(2, "GET /users/{id}", s, 4.0, vec![client(2, "SELECT users", 2.0, (PeerService, "postgresql"), vec![])]);
            let order = op(
                5,
                "place order",
                s,
                12.0,
                vec![
                    Op { timeout_ms: Some(300.0), ..client(5, "POST /inventory/reserve", 0.5, (ServerAddress, "inventory-service"), vec![reserve]) },
                    Op { timeout_ms: Some(1000.0), ..client(5, "GET /users/{id}", 0.5, (ServerAddress, "user-service"), vec![user]) },
                    op(6, "charge", s, 8.0, vec![pay_call]),
                    op(11, "create shipment", s, 10.0, vec![]),
                    notify,
                ],
            );
            let cart = op(4, "GET /cart", s, 8.0, vec![client(4, "SELECT cart_items", 3.0, (PeerService, "postgresql"), vec![])]);
            op(0, "POST /api/checkout", s, 5.0, vec![auth, cart, order])
        } else if roll < 0.8 {
            let mut reco = op(10, "recommend", s, 25.0, vec![]);
            reco.optional = true;
            op(0, "GET /api/catalog", s, 4.0, vec![auth, op(3, "list items", s, 10.0, vec![op(9, "query index", s, 12.0, vec![]), reco])])
        } else {
            op(
                0,
                "GET /api/users/me",
                s,
                3.0,
                vec![auth, op(2, "get profile", s, 5.0, vec![client(2, "SELECT users", 2.0, (PeerService, "postgresql"), vec![])])],
            )
        }
    }

    /// The spans and records of one request starting at `start_ns`, with the scenario's fault
    /// applied when `fault_active`.
    pub fn request(&mut self, start_ns: i64, fault_active: bool) -> (Vec<Span>, Vec<Record>) {
        let plan = self.plan();
        let mut t = Trace {
            trace_id: hex(&mut self.rng, 16),
            user: format!("user-{:05}", self.rng.below(20_000)),
            request_id: hex(&mut self.rng, 8),
            order_id: format!("ORD-{:08}", self.rng.below(100_000_000)),
            spans: Vec::new(),
            records: Vec::new(),
            fault: fault_active,
            canary: fault_active && self.config.scenario == Scenario::BadDeploy && self.rng.chance(0.3),
        };
        self.exec(&plan, "", start_ns, &mut t);
        (t.spans, t.records)
    }

    fn resource(&self, service: usize, host: &str, canary: bool) -> Attributes {
        let s = &self.services[service];
        let version = if canary && service == 5 { "2.5.0-canary".to_string() } else { s.version.clone() };
        vec![
            ("service.name".into(), AttrValue::Str(s.name.clone())),
            ("service.version".into(), AttrValue::Str(version)),
            ("deployment.environment".into(), AttrValue::Str(self.config.environment.clone())),
            ("host.name".into(), AttrValue::Str(host.to_string())),
        ]
    }

    /// The fault of the scenario at this operation, if any: (duration, error message, exception type).
    fn fault_at(&mut self, node: &Op, t: &Trace) -> Option<(i64, String, Option<&'static str>)> {
        let scenario = self.config.scenario;
        let name = node.name.as_str();
        if t.fault {
            match (scenario, node.service, name) {
                (Scenario::PaymentTimeout, 6, "POST third-party-payment-api /v1/charges") if self.rng.chance(0.6) => {
                    return Some((3_000_000_000, "deadline exceeded calling third-party-payment-api after 3s".into(), Some("TimeoutError")))
                }
                (Scenario::BadDeploy, 5, "place order") if t.canary && self.rng.chance(0.85) => {
                    return Some((
                        self.rng.latency_ns(8.0),
                        format!("Cannot invoke \"Order.getCoupon()\" because \"order\" is null (order_id={})", t.order_id),
                        Some("java.lang.NullPointerException"),
                    ))
                }
                (Scenario::DbSlow, 7, "SELECT stock") if self.rng.chance(0.5) => {
                    return Some((
                        2_000_000_000 + self.rng.latency_ns(1500.0),
                        "timeout waiting for a connection from pool inventory-db (pool size 10)".into(),
                        Some("ConnectionPoolTimeout"),
                    ))
                }
                (Scenario::Cascade, 1, "GET token-cache") if self.rng.chance(0.7) => {
                    return Some((self.rng.latency_ns(1.0), "connection refused: token cache redis:6379 unavailable".into(), Some("ConnectionRefusedError")))
                }
                (Scenario::Partition, 5, "GET /users/{id}") => {
                    return Some((self.rng.latency_ns(1.0), "connect ECONNREFUSED user-service:8080 (connection refused)".into(), Some("ConnectionRefusedError")))
                }
                (Scenario::PoolExhaustion, 4, "GET /cart") if self.rng.chance(0.5) => {
                    return Some((
                        self.rng.latency_ns(1.0),
                        "connection pool exhausted: 20 of 20 connections in use, request rejected".into(),
                        Some("PoolExhaustedError"),
                    ))
                }
                _ => {}
            }
        }
        // Background noise, in every window: errors that are not the incident. Fillers fail
        // rarely; the recommender fails steadily (5 % by default; its callers carry on); the
        // catalog has occasional cache-miss storms.
        if node.service >= CORE.len() && self.rng.chance(0.004) {
            return Some((self.rng.latency_ns(50.0), "upstream connect error or disconnect/reset before headers".into(), None));
        }
        if node.service == 10 && name == "recommend" && self.rng.chance(self.config.steady_failure_rate) {
            return Some((self.rng.latency_ns(30.0), "model shard not loaded, try again later".into(), Some("UnavailableError")));
        }
        if node.service == 3 && name == "list items" && self.rng.chance(0.003) {
            return Some((self.rng.latency_ns(200.0), "catalog cache miss storm: read timeout".into(), Some("ReadTimeout")));
        }
        None
    }

    /// Extra time the scenario's fault adds to this operation's own work (its spans stay OK).
    fn slowdown_at(&mut self, node: &Op, t: &Trace) -> i64 {
        if !t.fault {
            return 0;
        }
        match (self.config.scenario, node.service, node.name.as_str()) {
            (Scenario::SlowDependency, 7, "reserve stock") => self.rng.latency_ns(600.0),
            (Scenario::LatencyRegression, 3, "list items") => self.rng.latency_ns(120.0),
            _ => 0,
        }
    }

    /// Runs one operation and its callees; returns its end time and its error, if it failed.
    fn exec(&mut self, node: &Op, parent_span_id: &str, start_ns: i64, t: &mut Trace) -> (i64, Option<String>) {
        let span_id = hex(&mut self.rng, 8);
        let host = self.rng.pick(&self.services[node.service].hosts).clone();
        let fault = self.fault_at(node, t);
        let mut cursor = start_ns + self.rng.latency_ns(node.median_ms * 0.3);
        let mut child_error: Option<String> = None;
        // Planned callees, then the filler services this service calls.
        let fillers: Vec<usize> = if node.kind == SpanKind::Server {
            // About three filler calls per operation at most, however many fillers hang below.
            let p = (3.0 / self.callees[node.service].len().max(1) as f64).min(0.35);
            self.callees[node.service].clone().into_iter().filter(|_| self.rng.chance(p)).collect()
        } else {
            Vec::new()
        };
        let filler_ops: Vec<Op> = fillers.iter().map(|&f| op(f, "handle", SpanKind::Server, 6.0, vec![])).collect();
        if fault.is_none() {
            for child in node.children.iter().chain(filler_ops.iter()) {
                let (end, err) = self.exec(child, &span_id, cursor + 200_000, t);
                cursor = end;
                if let Some(e) = err {
                    if child.optional {
                        self.log(t, child.service, &host, &span_id, Level::Warn, format!("{} failed, continuing: {e}", self.services[child.service].name), cursor);
                    } else {
                        child_error = Some(e);
                        break;
                    }
                }
            }
        }
        cursor += self.slowdown_at(node, t);
        // A client that gives up: it fails at its deadline, whatever its callee does later.
        let deadline = node.timeout_ms.map(|ms| start_ns + (ms * 1e6) as i64).filter(|&d| fault.is_none() && cursor > d);
        let fault = match (fault, deadline) {
            (None, Some(d)) => {
                let callee = node.peer.map_or("callee", |(_, p)| p);
                let ms = node.timeout_ms.unwrap_or_default();
                Some((d - start_ns, format!("deadline exceeded after {ms}ms calling {callee}"), Some("TimeoutError")))
            }
            (fault, _) => fault,
        };
        let own_fault = fault.is_some();
        let (end, error, exception) = match fault {
            Some((duration, message, exception)) => (start_ns + duration, Some(message), exception),
            None => (cursor + self.rng.latency_ns(node.median_ms * 0.7), child_error.clone(), None),
        };
        let status_message = match (own_fault, &child_error) {
            (true, _) => error.clone().unwrap_or_default(),
            (false, Some(_)) => format!("{} failed: downstream error", node.name),
            (false, None) => String::new(),
        };
        let mut attributes: Attributes = vec![("request.id".into(), AttrValue::Str(t.request_id.clone()))];
        if node.service == 0 {
            let method = node.name.split(' ').next().unwrap_or("GET").to_string();
            attributes.push(("http.request.method".into(), AttrValue::Str(method)));
            attributes.push(("http.route".into(), AttrValue::Str(node.name.split(' ').nth(1).unwrap_or("/").to_string())));
            attributes.push(("http.response.status_code".into(), AttrValue::Int(if error.is_some() { 502 } else { 200 })));
            attributes.push(("user.id".into(), AttrValue::Str(t.user.clone())));
        }
        match node.peer {
            Some((PeerAttr::PeerService, peer)) => attributes.push(("peer.service".into(), AttrValue::Str(peer.to_string()))),
            Some((PeerAttr::ServerAddress, peer)) => {
                attributes.push(("server.address".into(), AttrValue::Str(peer.to_string())));
                attributes.push(("server.port".into(), AttrValue::Int(8080)));
            }
            Some((PeerAttr::NetPeerName, peer)) => attributes.push(("net.peer.name".into(), AttrValue::Str(peer.to_string()))),
            None => {}
        }
        let mut events = Vec::new();
        if let (Some(message), Some(ty)) = (&error, exception) {
            events.push(SpanEvent {
                time_ns: end,
                name: "exception".into(),
                attributes: vec![
                    ("exception.type".into(), AttrValue::Str(ty.to_string())),
                    ("exception.message".into(), AttrValue::Str(message.clone())),
                ],
            });
        }
        let resource = self.resource(node.service, &host, t.canary);
        let service = &self.services[node.service];
        t.spans.push(Span {
            trace_id: t.trace_id.clone(),
            span_id: span_id.clone(),
            parent_span_id: parent_span_id.to_string(),
            service: service.name.clone(),
            environment: self.config.environment.clone(),
            host: host.clone(),
            name: node.name.clone(),
            kind: node.kind,
            start_ns,
            duration_ns: end - start_ns,
            status_code: if error.is_some() { StatusCode::Error } else { StatusCode::Unset },
            status_message,
            attributes,
            resource,
            events,
            links: Vec::new(),
        });
        self.log_outcome(node, t, &host, &span_id, end, own_fault, error.as_deref());
        (end, error)
    }

    fn log(&mut self, t: &mut Trace, service: usize, host: &str, span_id: &str, level: Level, body: String, time_ns: i64) {
        let s = &self.services[service];
        let mut r = Record::new(time_ns);
        r.observed_time_ns = time_ns;
        r.service = s.name.clone();
        r.environment = self.config.environment.clone();
        r.host = host.to_string();
        r.level = level;
        r.severity_number = level.severity_number();
        r.trace_id = t.trace_id.clone();
        r.span_id = span_id.to_string();
        r.body = body;
        r.attributes = vec![
            ("user.id".into(), AttrValue::Str(t.user.clone())),
            ("request.id".into(), AttrValue::Str(t.request_id.clone())),
        ];
        r.resource = self.resource(service, host, t.canary);
        t.records.push(r);
    }

    #[allow(clippy::too_many_arguments)]
    fn log_outcome(&mut self, node: &Op, t: &mut Trace, host: &str, span_id: &str, end: i64, own_fault: bool, error: Option<&str>) {
        if node.kind != SpanKind::Server && !own_fault {
            return;
        }
        let order = t.order_id.clone();
        let user = t.user.clone();
        let log_only = t.fault && self.config.scenario == Scenario::LogOnly && node.service == 6 && node.name == "charge";
        let (level, body) = match (node.service, node.name.as_str(), error) {
            (6, "charge", None) if log_only && self.rng.chance(1.0 / 3.0) => {
                (Level::Error, format!("결제 실패: 카드 승인 거절 order_id={order} (issuer code 05)"))
            }
            (9, "query index", None) if self.rng.chance(0.1) => {
                (Level::Error, format!("index shard {} lagging behind primary by {} docs", self.rng.below(8), 100 + self.rng.below(5000)))
            }
            (6, _, Some(e)) => (Level::Error, format!("결제 실패: 외부 결제사 응답 없음 (order_id={order}): {e}")),
            (6, "charge", None) => (Level::Info, format!("결제 완료: 주문 {order} 승인")),
            (_, _, Some(e)) if node.kind == SpanKind::Client && node.service != 6 => (Level::Error, format!("{} failed: {e}", node.name)),
            (5, _, Some(e)) if own_fault => (Level::Error, format!("주문 처리 실패 order_id={order}\n{e}\n\tat com.shop.order.OrderService.place(OrderService.java:214)\n\tat com.shop.order.OrderController.create(OrderController.java:88)")),
            (5, _, Some(_)) => (Level::Error, format!("결제가 실패했습니다: 주문 {order} 취소")),
            (5, _, None) => (Level::Info, format!("order {order} placed for {user}")),
            (7, _, Some(e)) => (Level::Error, format!("재고 확인 실패: {e}")),
            (1, _, Some(e)) => (Level::Error, format!("token verification failed: {e}")),
            (0, _, Some(e)) => (Level::Error, format!("request failed with 502: {e}")),
            (_, _, Some(e)) => (Level::Error, format!("{} failed: {e}", node.name)),
            (0, _, None) if self.rng.chance(0.3) => (Level::Info, format!("{} 200 user={user}", node.name)),
            (_, _, None) if self.rng.chance(0.1) => (Level::Debug, format!("{} done", node.name)),
            _ => return,
        };
        self.log(t, node.service, host, span_id, level, body, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fleet_and_requests() {
        let mut a = Fleet::new(FleetConfig { services: 100, ..Default::default() });
        let mut b = Fleet::new(FleetConfig { services: 100, ..Default::default() });
        assert_eq!(a.service_names(), b.service_names());
        assert_eq!(a.service_names().len(), 100);
        for i in 0..50 {
            assert_eq!(a.request(i * 1_000_000, i % 2 == 0), b.request(i * 1_000_000, i % 2 == 0));
        }
    }

    #[test]
    fn every_span_has_a_parent_in_its_trace_except_the_root() {
        let mut fleet = Fleet::new(FleetConfig::default());
        for i in 0..200 {
            let (spans, records) = fleet.request(1_700_000_000_000_000_000 + i, true);
            let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
            assert_eq!(spans.iter().filter(|s| s.parent_span_id.is_empty()).count(), 1);
            assert!(spans.iter().all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_str())));
            assert!(records.iter().all(|r| ids.contains(r.span_id.as_str())));
            assert!(spans.iter().all(|s| s.duration_ns >= 0));
        }
    }
}
