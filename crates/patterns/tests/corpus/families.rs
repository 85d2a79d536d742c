//! The template families of the corpus and the values of their placeholders.

use super::{Family, Rng};

macro_rules! families {
    ($($name:literal $weight:literal $format:literal)*) => {
        &[$(Family { name: $name, weight: $weight, format: $format }),*]
    };
}

/// The families: name, relative frequency, format.
pub static FAMILIES: &[Family] = families! {
    // HTTP servers and clients
    "nginx.access" 60 r#"{ip} - - [{clf_date} {tz}] "{request}" {status} {bytes} "{referer}" "{ua}""#
    "app.access" 50 "{method} {path} HTTP/1.1 {status} {dur}"
    "app.access_logfmt" 40 "request completed method={method} path={path} status={status} duration={dur} bytes={bytes}"
    "nginx.upstream_timeout" 6 r#"upstream timed out ({errno_timeout}: Connection timed out) while reading response header from upstream, client: {ip}, server: {host}, request: "{request}", upstream: "{url}", host: "{host_q}""#
    "nginx.connect_refused" 4 r#"connect() failed ({errno_refused}: Connection refused) while connecting to upstream, client: {ip}, server: {host}, request: "{request}", upstream: "{url}", host: "{host_q}""#
    "tornado.access" 20 "{status} {method} {path} ({ip}) {dur}"
    "go.tls_handshake" 5 "http: TLS handshake error from {ipport}: EOF"
    "http.client_retry" 8 "calling {service} at {url} attempt {attempt}"
    "http.rate_limited" 6 "rate limit exceeded for client {ip}: {n} requests in {window}"
    // databases and caches
    "sql.select_user" 25 "SELECT id, email, created_at FROM users WHERE id = {id} LIMIT {small}"
    "sql.update_order" 15 "UPDATE orders SET status = '{order_status}', updated_at = '{ts_space}' WHERE id = {id}"
    "sql.slow_query" 6 "slow query ({ms} ms): SELECT * FROM orders WHERE customer_id = {id} AND status = '{order_status}'"
    "pg.insert_event" 10 "duration: {ms} ms  statement: INSERT INTO events (id, type, payload) VALUES ({id}, '{event_type}', '{json}')"
    "pg.duplicate_key" 4 r#"ERROR:  duplicate key value violates unique constraint "{constraint}""#
    "pg.duplicate_detail" 4 "DETAIL:  Key (email)=({email}) already exists."
    "db.pool_exhausted" 3 "connection pool exhausted: active={small} idle={small} waiting={small} max={small}"
    "redis.slow_command" 8 "Redis command {redis_cmd} took {dur} key={cache_key}"
    "cache.miss" 20 "cache miss for key {cache_key}"
    "cache.hit" 30 "cache hit for key {cache_key}"
    // JVM
    "jvm.npe" 4 r#"Exception in thread "{thread}" java.lang.NullPointerException: Cannot invoke "{java_call}" because "{java_var}" is null"#
    "jvm.hikari_timeout" 3 "java.sql.SQLTransientConnectionException: {hikari_pool} - Connection is not available, request timed out after {dur_ms}."
    "jvm.caused_by_timeout" 3 "Caused by: java.net.SocketTimeoutException: connect timed out after {dur_ms}"
    "spring.started" 2 "Started {java_app} in {secs} seconds (process running for {secs})"
    "jvm.gc_pause" 10 "[{uptime}][info][gc] GC({n}) Pause Young (Normal) ({gc_name} Evacuation Pause) {heap} {dur}"
    // Python
    "py.traceback_head" 4 "Traceback (most recent call last):"
    "py.traceback_file" 8 r#"  File "{py_path}", line {n}, in {py_func}"#
    "py.key_error" 4 "KeyError: '{py_key}'"
    "py.value_error" 3 "ValueError: invalid literal for int() with base {small}: '{word_or_num}'"
    "gunicorn.booting" 2 "[{date} {time} {tz}] [{pid}] [INFO] Booting worker with pid: {pid}"
    "celery.succeeded" 15 "Task {celery_task}[{uuid}] succeeded in {secs_s}: None"
    // Kubernetes events
    "k8s.scheduled" 6 "Successfully assigned {namespace}/{pod} to {node}"
    "k8s.pulling" 6 r#"Pulling image "{image}""#
    "k8s.pulled" 6 r#"Successfully pulled image "{image}" in {dur} ({dur} including waiting)"#
    "k8s.created" 6 "Created container {container}"
    "k8s.started" 6 "Started container {container}"
    "k8s.stopping" 3 "Stopping container {container}"
    "k8s.backoff" 5 "Back-off restarting failed container {container} in pod {pod}_{namespace}({uuid})"
    "k8s.readiness" 8 r#"Readiness probe failed: Get "{url}": dial tcp {ipport}: connect: connection refused"#
    "k8s.scaled" 3 "Scaled up replica set {replicaset} to {small}"
    "k8s.unschedulable" 2 "{nodes_avail} nodes are available: {small} Insufficient cpu, {small} Insufficient memory."
    "kernel.oom" 2 "Memory cgroup out of memory: Killed process {pid} ({process}) total-vm:{kbu}, anon-rss:{kbu}, file-rss:{kbu}, shmem-rss:{kbu}"
    // payments, in English and in Korean
    "pay.declined" 12 "payment {pay} failed: card declined (order_id={order})"
    "pay.insufficient" 8 "payment {pay} failed: insufficient funds (order_id={order})"
    "pay.captured" 30 "payment {pay} captured: amount={amount} currency={currency}"
    "pay.refund" 5 "refund {refund} issued for payment {pay} ({amount} {currency})"
    "pay.ko.approved" 30 "결제 승인 완료: 주문번호={order}, 금액={krw}원, 사용자={user_id}"
    "pay.ko.card_limit" 8 "주문 {order}의 결제가 실패했습니다: 카드 한도 초과 (사용자 {user_id})"
    "pay.ko.canceled" 6 "{ko_name}님의 결제가 취소되었습니다 (주문번호 {order}, {krw}원)"
    "pay.ko.refunded" 5 "{ko_name}님의 결제가 환불되었습니다 (주문번호 {order}, {krw}원)"
    "pay.ko.pg_delay" 6 "PG 응답 지연: {pg} {dur_ms} (임계값 {dur_ms})"
    "pay.ko.card_reject" 4 r#"[결제서비스] 카드사 승인 거절 - 코드: {reject_code}, 메시지: "{ko_reject}""#
    "auth.ko.login_ok" 20 "사용자 {email} 로그인 성공 (IP: {ip})"
    "auth.ko.login_fail" 6 "사용자 {email} 로그인 실패 (IP: {ip})"
    "ship.ko.status" 10 "배송 상태 변경: {ko_ship} → {ko_ship} (주문 {order})"
    "stock.ko.decrease" 10 "[INFO] 재고 차감 완료 - SKU {sku}, 수량 {small}개, 창고 {warehouse}"
    "coupon.ko.min_amount" 3 "쿠폰 {coupon} 적용 실패: 최소 주문 금액 {krw}원 미달"
    "notify.ko.sent" 10 "알림 발송 완료: 채널={channel}, 수신자={phone}, 템플릿={ko_template}"
    // infrastructure
    "sshd.accepted" 4 "Accepted publickey for {unix_user} from {ip} port {port} ssh2: RSA SHA256:{b64}"
    "sshd.failed" 6 "Failed password for invalid user {unix_user} from {ip} port {port} ssh2"
    "syslog.cron" 4 "{month} {day} {time} {hostname} CRON[{pid}]: ({unix_user}) CMD ({cron_cmd})"
    "pam.session" 4 "pam_unix(sshd:session): session opened for user {unix_user}(uid={small}) by (uid={zero})"
    "kafka.seek" 6 "[Consumer clientId={kafka_client}, groupId={kafka_group}] Seeking to offset {id} for partition {topic_partition}"
    "grpc.finished" 15 "finished call grpc.service={grpc_service} grpc.method={grpc_method} grpc.code={grpc_code} grpc.time_ms={ms}"
    "logfmt.upstream" 10 r#"level={level_error} msg="upstream request failed" service={service} err="{go_err}" attempt={small}"#
    "go.panic_signal" 1 "[signal SIGSEGV: segmentation violation code={hex_small} addr={hex_small} pc={hex_small}]"
    "node.econnrefused" 4 "Error: connect ECONNREFUSED {ipport}"
    "node.undefined_prop" 3 "TypeError: Cannot read properties of undefined (reading '{js_prop}')"
    "disk.usage" 3 "disk usage on {mount} is {pct} (threshold {pct})"
    "tls.expiry" 2 "certificate for {host} expires in {small} days (not after {date})"
    "dns.no_host" 3 "lookup {host} on {ipport}: no such host"
    "jwt.expired" 6 "JWT validation failed for user {uuid}: token expired at {iso_ts}"
    "circuit.state" 3 "circuit breaker {service} state changed from {breaker} to {breaker}"
    "flag.evaluated" 10 "feature flag {flag} evaluated to {bool} for tenant {tenant}"
    "job.finished" 5 "job {job} finished in {dur} with status {job_status}"
    "job.failed_reason" 3 "job {job} failed: {free_reason}"
    "systemd.session" 6 "Started Session {n} of user {unix_user}."
    "systemd.exited" 3 "{unit}: Main process exited, code={exited}, status={exit_status}"
    "nginx.error_open" 5 r#"{date_slash} {time} [error] {pid}#{pid}: *{n} open() "{static_path}" failed ({errno_noent}: No such file or directory), client: {ip}, server: {host}, request: "{request}", host: "{host_q}""#
    "es.gc_overhead" 3 "[{iso_ts_comma}][WARN ][o.e.m.j.JvmGcMonitorService] [{es_node}] [gc][{n}] overhead, spent [{dur}] collecting in the last [{dur}]"
    "docker.stop_timeout" 3 r#"time="{iso_ts}" level={level_info} msg="Container failed to exit within {secs_int} of signal {small} - using the force" container={hex64}"#
    "spring.request" 15 "{date} {time_ms}  INFO {pid} --- [{tomcat_thread}] c.e.payment.PaymentController   : Payment request received: orderId={order}, amount={amount}"
    "klog.reconciling" 6 r#"{klog_head} {time_us}       {small} controller.go:{n}] "Reconciling" deployment="{namespace}/{container}" generation={small}"#
    "klog.synced" 4 r#"{klog_head} {time_us}       {small} controller.go:{n}] "Successfully synced" deployment="{namespace}/{container}" generation={small}"#
    "json.request_body" 8 r#"request body: {{"user_id": {id}, "amount": {amount}, "currency": "{currency}"}}"#
    "ko.login_name" 8 "{ko_name}님이 로그인했습니다 (마지막 접속: {date} {time})"
    "ko.order_api" 8 "[주문서비스] 주문 생성 요청 수신 - userId={user_id}, items={small}건, 총액 {krw}원"
    "mysql.slow" 3 "# Query_time: {secs}  Lock_time: {secs} Rows_sent: {small}  Rows_examined: {n}"
};

/// Families written after the miner's rules were fixed, and never tuned for: their scores are
/// reported apart, as an estimate of quality on logs the rules were not shaped by.
pub static HELD_OUT: &[Family] = families! {
    "haproxy.http" 30 r#"{ipport} [{clf_date}.{ms3}] {frontend} {backend}/{server} {small}/{small}/{small}/{n}/{n} {status} {bytes} - - ---- {small}/{small}/{small}/{small}/{small} {small}/{small} "{request}""#
    "postfix.sent" 10 "{hex10}: to=<{email}>, relay={host}[{ip}]:25, delay={secs}, delays={delays}, dsn=2.0.0, status=sent (250 2.0.0 OK {id} {hex6} - gsmtp)"
    "airflow.success" 6 "[{iso_ts_comma}] {{taskinstance.py:{n}}} INFO - Marking task as SUCCESS. dag_id={dag}, task_id={task}, execution_date={iso_compact}, start_date={iso_compact}, end_date={iso_compact}"
    "mongo.slow_find" 8 r#"{iso_ts} I  COMMAND  [conn{n}] command {mongo_ns} command: find {{ find: "{coll}", filter: {{ status: "{order_status}" }} }} planSummary: IXSCAN {{ status: 1 }} keysExamined:{n} docsExamined:{n} numYields:{small} reslen:{n} {dur_ms}"#
    "zk.accepted" 12 "Accepted socket connection from /{ipport}"
    "zk.closed" 12 "Closed socket connection for client /{ipport} which had sessionid 0x{hex16}"
    "hdfs.receiving" 15 "Receiving block blk_{neg_id} src: /{ipport} dest: /{ipport}"
    "hdfs.responder" 15 "PacketResponder {small} for block blk_{neg_id} terminating"
    "ko.shipped_notice" 8 "[알림] {ko_name}님, 주문하신 상품이 발송되었습니다. 운송장번호: {tracking}"
    "ko.signup" 8 "회원가입 완료: 이메일={email}, 가입경로={ko_channel}"
    "ko.api_failure" 6 "API 호출 실패 - {service}서비스 응답코드 {status}, 재시도 {small}회"
    "hibernate.sql_error" 5 "WARN  [{thread}] o.h.engine.jdbc.spi.SqlExceptionHelper - SQL Error: {n}, SQLState: {sqlstate}"
    "py.logging_failed" 8 "{date} {time},{ms3} - {logger} - ERROR - Failed to process message {uuid}: {py_exc}"
    "ingress.access" 20 r#"{ip} - - [{clf_date} {tz}] "{request}" {status} {bytes} "{referer}" "{ua}" {n} {secs} [{upstream_name}] [] {ipport} {bytes} {secs} {status} {hex32}"#
    "slog.shipped" 12 r#"time={iso_ts} level={level_info} msg="order shipped" order_id={order} carrier={carrier}"#
    "envoy.access" 20 r#"[{iso_ts}] "{request}" {status} - {n} {bytes} {n} {n} "{ip}" "{ua}" "{uuid}" "{host}" "{ipport}""#
};

const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuna", "minho", "jisoo", "deploy", "admin", "ubuntu",
    "postgres", "jenkins", "git",
];
const KO_NAMES: &[&str] = &[
    "김민수",
    "이영희",
    "박지성",
    "최유리",
    "정하늘",
    "강다은",
    "조서준",
    "윤지호",
    "장수빈",
    "임도윤",
    "한예린",
    "오세훈",
    "서지민",
    "신유나",
    "권태양",
    "황보람",
    "안소희",
    "송민재",
    "류현우",
    "홍길동",
];
const SERVICES: &[&str] = &[
    "payment",
    "checkout",
    "inventory",
    "shipping",
    "notification",
    "auth",
    "search",
    "recommendation",
    "catalog",
    "billing",
];
const CONTAINERS: &[&str] =
    &["api", "worker", "sidecar", "istio-proxy", "init-db", "redis", "nginx", "fluent-bit", "scheduler", "migrate"];
const NAMESPACES: &[&str] = &["default", "payments", "kube-system", "monitoring", "checkout", "data"];
const HOSTS: &[&str] = &[
    "api.example.com",
    "shop.example.co.kr",
    "payments.internal",
    "auth.example.com",
    "cdn.example.net",
    "admin.example.com",
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "kube-probe/1.28",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
];

/// The value of placeholder `name`.
pub fn value(name: &str, r: &mut Rng) -> String {
    match name {
        "ip" => match r.range(0, 2) {
            0 => format!("10.{}.{}.{}", r.range(0, 255), r.range(0, 255), r.range(1, 254)),
            1 => format!("192.168.{}.{}", r.range(0, 255), r.range(1, 254)),
            _ => format!("{}.{}.{}.{}", r.range(1, 223), r.range(0, 255), r.range(0, 255), r.range(1, 254)),
        },
        // Values that never change in the corpus but are variables by the labelling rules.
        "errno_timeout" => "110".to_string(),
        "errno_refused" => "111".to_string(),
        "hikari_pool" => "HikariPool-1".to_string(),
        "gc_name" => "G1".to_string(),
        "zero" => "0".to_string(),
        "level_error" => "error".to_string(),
        "errno_noent" => "2".to_string(),
        "level_info" => "info".to_string(),
        "exited" => "exited".to_string(),
        "unit" => format!("{}.service", r.pick(SERVICES)),
        "exit_status" => r.pick(&["1/FAILURE", "2/INVALIDARGUMENT", "137"]).to_string(),
        "date_slash" => format!("2024/{:02}/{:02}", r.range(1, 12), r.range(1, 28)),
        "static_path" => format!(
            "/usr/share/nginx/html/{}",
            r.pick(&["favicon.ico", "robots.txt", "apple-touch-icon.png", "wp-login.php"])
        ),
        "iso_ts_comma" => format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02},{:03}",
            r.range(1, 12),
            r.range(1, 28),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59),
            r.range(0, 999)
        ),
        "es_node" => format!("es-data-{}", r.range(0, 5)),
        "secs_int" => format!("{}s", r.range(1, 30)),
        "hex64" => r.hex(64),
        "time_ms" => {
            format!("{:02}:{:02}:{:02}.{:03}", r.range(0, 23), r.range(0, 59), r.range(0, 59), r.range(0, 999))
        }
        "time_us" => {
            format!("{:02}:{:02}:{:02}.{:06}", r.range(0, 23), r.range(0, 59), r.range(0, 59), r.range(0, 999_999))
        }
        "tomcat_thread" => format!("nio-8080-exec-{}", r.range(1, 10)),
        "klog_head" => format!("I{:02}{:02}", r.range(1, 12), r.range(1, 28)),
        "ms3" => format!("{:03}", r.range(0, 999)),
        "frontend" => r.pick(&["http-in", "https-in", "api-gw"]).to_string(),
        "backend" => r.pick(&["api_back", "web_back", "static_back"]).to_string(),
        "server" => format!("{}-{:02}", r.pick(&["web", "api"]), r.range(1, 12)),
        "hex6" => r.hex(6),
        "hex10" => r.hex(10).to_uppercase(),
        "hex16" => r.hex(16),
        "hex32" => r.hex(32),
        "delays" => format!("{}/{}/{}/{}", r.range(0, 9), r.range(0, 9), r.range(0, 9), r.range(0, 9)),
        "dag" => r.pick(&["daily_sales_report", "sync_inventory", "ml_feature_build"]).to_string(),
        "task" => r.pick(&["extract", "transform", "load", "notify_slack"]).to_string(),
        "iso_compact" => format!(
            "2024{:02}{:02}T{:02}{:02}{:02}",
            r.range(1, 12),
            r.range(1, 28),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59)
        ),
        "mongo_ns" => format!("{}.{}", r.pick(&["shop", "billing"]), r.pick(&["orders", "invoices", "users"])),
        "coll" => r.pick(&["orders", "invoices", "users"]).to_string(),
        "neg_id" => format!("{}{}", if r.chance(50) { "-" } else { "" }, r.range(1_000_000_000, 9_999_999_999)),
        "tracking" => format!("{}{}", r.range(1000, 9999), r.range(10_000_000, 99_999_999)),
        "ko_channel" => r.pick(&["네이버", "카카오", "구글", "직접가입"]).to_string(),
        "sqlstate" => r.pick(&["23505", "40001", "08006", "42P01"]).to_string(),
        "logger" => r.pick(&["worker.consumer", "app.tasks.billing", "kafka.client"]).to_string(),
        "py_exc" => r
            .pick(&[
                "TimeoutError()",
                "KeyError('user_id')",
                "ConnectionResetError(104, 'Connection reset by peer')",
                "ValueError('bad payload')",
            ])
            .to_string(),
        "upstream_name" => format!("{}-{}-8080", r.pick(NAMESPACES), r.pick(SERVICES)),
        "carrier" => r.pick(&["cj", "hanjin", "lotte", "ups"]).to_string(),
        "port" => r.range(1024, 65535).to_string(),
        "ipport" => format!("{}:{}", value("ip", r), r.pick(&["5432", "6379", "8080", "443", "3306", "9092", "53"])),
        "n" => r.range(1, 5000).to_string(),
        "small" => r.range(0, 64).to_string(),
        "id" => r.range(1, 9_999_999).to_string(),
        "pid" => r.range(2, 65535).to_string(),
        "kbu" => format!("{}kB", r.range(0, 9_000_000)),
        "dur_ms" => format!("{}ms", r.range(1, 30_000)),
        "secs_s" => format!("{}.{:03}s", r.range(0, 120), r.range(0, 999)),
        "nodes_avail" => format!("0/{}", r.range(1, 12)),
        "ms" => format!("{}.{:03}", r.range(0, 9000), r.range(0, 999)),
        "secs" => format!("{}.{:03}", r.range(0, 120), r.range(0, 999)),
        "dur" => match r.range(0, 3) {
            0 => format!("{}ms", r.range(1, 2000)),
            1 => format!("{}.{}s", r.range(0, 30), r.range(0, 999)),
            2 => format!("{}µs", r.range(5, 999)),
            _ => format!("{}m{}s", r.range(1, 10), r.range(0, 59)),
        },
        "window" => r.pick(&["1s", "10s", "60s", "1m", "5m"]).to_string(),
        "attempt" => format!("{}/{}", r.range(1, 5), 5),
        "bytes" => r.range(0, 250_000).to_string(),
        "pct" => format!("{}%", r.range(50, 99)),
        "uuid" => format!("{}-{}-4{}-{}-{}", r.hex(8), r.hex(4), r.hex(3), r.hex(4), r.hex(12)),
        "hex_small" => {
            let len = r.range(1, 8) as usize;
            format!("0x{}", r.hex(len))
        }
        "b64" => (0..43)
            .map(|_| {
                char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[r.range(0, 63) as usize])
            })
            .collect(),
        "order" => format!("ORD-2024{:02}{:02}-{:06}", r.range(1, 12), r.range(1, 28), r.range(1, 999_999)),
        "pay" => format!("pay_{}", r.alnum(14)),
        "refund" => format!("re_{}", r.alnum(14)),
        "user_id" => format!("u_{}", r.range(10_000, 9_999_999)),
        "amount" => format!("{}.{:02}", r.range(1, 2000), r.range(0, 99)),
        "krw" => {
            let won = r.range(1, 500) * 1000;
            if won >= 1000 {
                format!("{},{:03}", won / 1000, won % 1000)
            } else {
                won.to_string()
            }
        }
        "currency" => r.pick(&["USD", "EUR", "KRW", "JPY", "GBP"]).to_string(),
        "email" => match r.range(0, 2) {
            0 => format!("{}{}@example.com", r.pick(FIRST_NAMES), r.range(1, 999)),
            1 => format!("{}.{}@example.co.kr", r.pick(&["kim", "lee", "park", "choi", "jung"]), r.pick(FIRST_NAMES)),
            _ => format!("{}@gmail.com", r.pick(FIRST_NAMES)),
        },
        "ko_name" => r.pick(KO_NAMES).to_string(),
        "unix_user" => r.pick(FIRST_NAMES).to_string(),
        "service" => r.pick(SERVICES).to_string(),
        "container" => r.pick(CONTAINERS).to_string(),
        "namespace" => r.pick(NAMESPACES).to_string(),
        "host" => r.pick(HOSTS).to_string(),
        "host_q" => r.pick(HOSTS).to_string(),
        "hostname" => format!("{}-{:02}", r.pick(&["web", "api", "db", "worker"]), r.range(1, 40)),
        "node" => format!("ip-10-0-{}-{}.ap-northeast-2.compute.internal", r.range(0, 255), r.range(1, 254)),
        "pod" => format!("{}-{}-{}", r.pick(SERVICES), r.hex(9), r.alnum(5)),
        "replicaset" => format!("{}-{}", r.pick(SERVICES), r.hex(9)),
        "image" => match r.range(0, 2) {
            0 => format!(
                "registry.example.com/{}/api:{}.{}.{}",
                r.pick(SERVICES),
                r.range(0, 3),
                r.range(0, 20),
                r.range(0, 9)
            ),
            1 => format!("nginx:1.{}.{}", r.range(20, 27), r.range(0, 5)),
            _ => format!("ghcr.io/example/{}@sha256:{}", r.pick(SERVICES), r.hex(64)),
        },
        "method" => r.pick(&["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH"]).to_string(),
        "path" => match r.range(0, 5) {
            0 => format!("/api/v1/orders/{}", r.range(1, 999_999)),
            1 => format!("/api/v1/users/{}/cart", r.range(1, 99_999)),
            2 => "/healthz".to_string(),
            3 => format!("/static/js/app.{}.js", r.hex(8)),
            4 => format!("/api/v2/products?category={}&page={}", r.pick(&["shoes", "books", "food"]), r.range(1, 50)),
            _ => format!("/api/v1/payments/{}", value("pay", r)),
        },
        "request" => format!("{} {} HTTP/1.1", value("method", r), value("path", r)),
        "url" => format!("http://{}:{}{}", value("ip", r), r.pick(&["8080", "9000", "3000"]), value("path", r)),
        "referer" => {
            if r.chance(50) {
                "-".to_string()
            } else {
                format!("https://shop.example.com{}", value("path", r))
            }
        }
        "ua" => r.pick(UAS).to_string(),
        "status" => r
            .pick(&[
                "200", "200", "200", "200", "201", "204", "301", "304", "400", "401", "403", "404", "409", "429",
                "500", "502", "503", "504",
            ])
            .to_string(),
        "tz" => r.pick(&["+0900", "+0000", "-0700"]).to_string(),
        "clf_date" => format!(
            "{:02}/{}/2024:{:02}:{:02}:{:02}",
            r.range(1, 28),
            r.pick(&["Jan", "Feb", "Mar", "Oct"]),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59)
        ),
        "iso_ts" => format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            r.range(1, 12),
            r.range(1, 28),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59),
            r.range(0, 999)
        ),
        "ts_space" => format!(
            "2024-{:02}-{:02} {:02}:{:02}:{:02}",
            r.range(1, 12),
            r.range(1, 28),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59)
        ),
        "date" => format!("2024-{:02}-{:02}", r.range(1, 12), r.range(1, 28)),
        "month" => r.pick(&["Jan", "Feb", "Mar", "Apr"]).to_string(),
        "day" => r.range(1, 28).to_string(),
        "time" => format!("{:02}:{:02}:{:02}", r.range(0, 23), r.range(0, 59), r.range(0, 59)),
        "uptime" => format!("{}.{:03}s", r.range(0, 90_000), r.range(0, 999)),
        "heap" => format!("{}M->{}M({}M)", r.range(100, 900), r.range(10, 300), r.pick(&["1024", "2048", "4096"])),
        "order_status" => r.pick(&["PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELED"]).to_string(),
        "event_type" => r.pick(&["order.created", "order.paid", "cart.updated", "user.signed_up"]).to_string(),
        "json" => {
            format!(r#"{{"order_id": {}, "amount": {}.{:02}}}"#, r.range(1, 99_999), r.range(1, 999), r.range(0, 99))
        }
        "constraint" => r.pick(&["users_email_key", "orders_pkey", "payments_idempotency_key_key"]).to_string(),
        "redis_cmd" => r.pick(&["GET", "SET", "HGET", "HSET", "EXPIRE", "DEL", "ZADD"]).to_string(),
        "cache_key" => match r.range(0, 3) {
            0 => format!("user:profile:{}", r.range(1, 99_999)),
            1 => format!("order:summary:{}", r.range(1, 999_999)),
            2 => format!("session:{}", r.hex(32)),
            _ => format!("product:{}:price", r.range(1, 9999)),
        },
        "thread" => {
            r.pick(&["main", "http-nio-8080-exec-7", "pool-2-thread-5", "kafka-consumer-1", "scheduling-1"]).to_string()
        }
        "java_call" => r
            .pick(&[
                "String.length()",
                "java.util.List.size()",
                "com.example.payment.Order.getId()",
                "java.util.Map.get(Object)",
            ])
            .to_string(),
        "java_var" => r.pick(&["name", "order", "this.cache", "<local4>", "customer"]).to_string(),
        "java_app" => r.pick(&["PaymentApplication", "OrderServiceApplication", "GatewayApplication"]).to_string(),
        "py_path" => format!(
            "/app/{}/{}.py",
            r.pick(&["payments", "orders", "api"]),
            r.pick(&["handlers", "views", "tasks", "client"])
        ),
        "py_func" => r
            .pick(&["process_payment", "charge_card", "refund_order", "validate_cart", "dispatch", "get_object"])
            .to_string(),
        "py_key" => r.pick(&["order_id", "user", "amount", "X-Request-Id", "callback_url"]).to_string(),
        "word_or_num" => r.pick(&["abc", "12a", "", "N/A", "1.5"]).to_string(),
        "celery_task" => r
            .pick(&[
                "tasks.send_email",
                "tasks.charge_card",
                "billing.tasks.generate_invoice",
                "orders.tasks.sync_inventory",
            ])
            .to_string(),
        "process" => r.pick(&["java", "python3", "node", "postgres", "nginx"]).to_string(),
        "pg" => r.pick(&["KCP", "토스페이먼츠", "NICE", "KG이니시스", "다날"]).to_string(),
        "reject_code" => format!("E{}", r.range(1000, 1999)),
        "ko_reject" => r.pick(&["한도 초과", "유효기간 만료", "도난 분실 카드", "비밀번호 오류 횟수 초과"]).to_string(),
        "ko_ship" => r.pick(&["결제완료", "배송준비중", "배송중", "배송완료", "반품요청"]).to_string(),
        "sku" => format!("SKU-{}", r.range(10_000, 99_999)),
        "warehouse" => format!("WH-{}-{:02}", r.pick(&["SEL", "ICN", "PUS"]), r.range(1, 12)),
        "coupon" => format!("{}{}", r.pick(&["WELCOME", "SPRING-SALE-", "VIP"]), r.range(10, 2024)),
        "channel" => r.pick(&["SMS", "KAKAO", "PUSH", "EMAIL"]).to_string(),
        "phone" => format!("010-****-{:04}", r.range(0, 9999)),
        "ko_template" => r.pick(&["주문완료", "배송시작", "결제실패안내"]).to_string(),
        "cron_cmd" => r
            .pick(&["/usr/local/bin/backup.sh", "run-parts /etc/cron.hourly", "/opt/app/bin/cleanup --older-than 7d"])
            .to_string(),
        "kafka_client" => format!("consumer-{}-{}", r.pick(&["orders", "payments"]), r.range(1, 9)),
        "kafka_group" => r.pick(&["orders", "payments", "audit"]).to_string(),
        "topic_partition" => format!("{}-{}", r.pick(&["orders", "payments.events", "audit-log"]), r.range(0, 11)),
        "grpc_service" => {
            r.pick(&["payment.v1.PaymentService", "order.v1.OrderService", "grpc.health.v1.Health"]).to_string()
        }
        "grpc_method" => r.pick(&["Charge", "Refund", "GetOrder", "Check"]).to_string(),
        "grpc_code" => r.pick(&["OK", "OK", "OK", "Unavailable", "DeadlineExceeded", "NotFound"]).to_string(),
        "go_err" => format!("dial tcp {}: connect: connection refused", value("ipport", r)),
        "js_prop" => r.pick(&["map", "length", "id", "then", "data"]).to_string(),
        "mount" => r.pick(&["/", "/var/lib/docker", "/data", "/var/log"]).to_string(),
        "breaker" => r.pick(&["CLOSED", "OPEN", "HALF_OPEN"]).to_string(),
        "flag" => {
            r.pick(&["new-checkout-flow", "dark-mode", "fast-refunds", "beta-search", "one-click-pay"]).to_string()
        }
        "bool" => r.pick(&["true", "false"]).to_string(),
        "tenant" => r.pick(&["acme-corp", "globex", "initech", "umbrella", "hooli", "stark-industries"]).to_string(),
        "job" => r
            .pick(&["nightly-report", "cleanup-sessions", "sync-inventory", "rotate-keys", "export-ledger"])
            .to_string(),
        "job_status" => r.pick(&["SUCCESS", "FAILED", "PARTIAL"]).to_string(),
        "free_reason" => r
            .pick(&[
                "timeout",
                "connection refused",
                "disk quota exceeded on volume",
                "upstream returned an unexpected status",
                "killed",
            ])
            .to_string(),
        other => panic!("unknown placeholder {other}"),
    }
}
