#!/usr/bin/env python3
"""Seeded generator of realistic microservice logs as NDJSON: the same bytes for the same seed.

Each request enters through an edge service and touches 3-8 services that share its trace id;
every service hop has its own span id and writes 1-3 records. Messages come from a few hundred
templates with variable parts (ids, numbers, IPs, durations), in English and Korean, some of them
multi-line stack traces; about one record in twelve belongs to no request (jobs, pools, caches).
Levels are mostly INFO, with DEBUG, WARN and ERROR, and three incidents raise the error rate of a
few services for a while. Timestamps cover the 24 hours before `--end` with a day/night curve,
are strictly increasing at microsecond precision (so "newest first" has one answer) and the file
is written in time order. Every record carries `rid`, its 0-based line number, a unique id the
benchmark compares answers by.

    python3 bench/gen_logs.py --records 1000000 --services 50 --seed 42 > logs.ndjson
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import math
import random
import string
import sys
import time

DEFAULT_END = 1_793_491_200  # 2026-11-01T00:00:00Z: fixed, so the default output never changes
DAY_US = 86_400 * 1_000_000

CORE_SERVICES = [
    "gateway", "auth-service", "user-service", "catalog-service", "search-service", "cart-service",
    "checkout-service", "order-service", "payment-service", "pg-gateway", "inventory-service",
    "shipping-service", "notification-service", "recommendation-service", "pricing-service",
    "coupon-service", "review-service", "fraud-service", "ledger-service", "settlement-service",
]
NAME_HEADS = [
    "media", "geo", "fx", "tax", "loyalty", "banner", "wishlist", "seller", "partner", "audit",
    "billing", "report", "export", "import", "image", "video", "chat", "survey", "promo", "rating",
    "address", "device", "session", "consent", "feature", "config", "quota", "ads", "feed", "gift",
]
NAME_TAILS = ["api", "worker", "indexer", "sync", "proxy", "scheduler", "gateway", "store", "cache", "router"]
PAYMENT_SIDE = {"checkout-service", "order-service", "payment-service", "pg-gateway", "settlement-service", "ledger-service"}

RESOURCES = ["orders", "carts", "users", "items", "payments", "shipments", "coupons", "reviews", "prices", "sessions"]
METHODS = ["GET"] * 6 + ["POST"] * 3 + ["PUT", "DELETE"]
STATUS_OK = [200] * 12 + [201, 204, 304]
STATUS_WARN = [400, 401, 403, 404, 409, 429]
STATUS_ERROR = [500, 502, 503, 504]
BANKS = ["신한카드", "국민카드", "삼성카드", "현대카드", "롯데카드", "하나카드", "우리카드", "BC카드"]
CITIES = ["서울", "부산", "인천", "대구", "대전", "광주", "수원", "울산"]
CHANNELS = ["email", "sms", "push", "kakao"]
ERROR_CODES = ["E1001", "E1002", "E2013", "E3100", "E4040", "E5000", "PG-51", "PG-54", "PG-61", "DB-08006"]
JAVA_CLASSES = ["OrderService", "PaymentClient", "InventoryRepository", "CartController", "CouponPolicy",
                "ShippingQuoteService", "LedgerWriter", "UserProfileLoader", "PriceCalculator", "FraudScorer"]
PY_FUNCS = ["handle_request", "load_profile", "score_transaction", "render_feed", "apply_coupon",
            "fetch_rates", "sync_partner", "build_report", "resize_image", "send_push"]
GO_FUNCS = ["(*Server).ServeHTTP", "(*Client).Do", "(*Pool).Get", "(*Queue).Consume", "(*Cache).Fill",
            "(*Handler).Checkout", "(*Repo).FindByID", "(*Router).Route"]
ENTITIES = ["order", "cart", "user", "item", "payment", "shipment", "coupon", "review", "invoice", "refund",
            "session", "token", "address", "wishlist", "price", "stock", "ledger entry", "settlement",
            "notification", "report"]
ACTIONS = ["created", "updated", "deleted", "fetched", "cached", "validated"]
KO_ENTITIES = ["주문", "장바구니", "사용자", "상품", "결제", "배송", "쿠폰", "리뷰", "송장", "환불"]
KO_ACTIONS = ["생성", "수정", "삭제", "조회", "캐시 저장", "검증"]
PROBLEMS = ["not found, returning 404", "is stale, refetching", "locked by another request", "failed validation: missing field"]

# (level, template, weight, scope): scope "any", "payment" (payment-side services only) or
# "edge" (the request's entry service). Words of note for the queries: "timeout" matches as a
# whole word in read_timeout=3s and Client.Timeout but not in timeouts, TimeoutError or
# SocketTimeoutException; "결제 실패" matches 결제 실패가, 미결제 실패, 정기결제 실패율 but not
# 결제가 실패했습니다, 결제실패 or 결제 승인 실패.
TEMPLATES = [
    # access and lifecycle
    ("INFO", "{method} {path} {status} {dur}ms", 60, "any"),
    ("INFO", "request completed method={method} path={path} status={status} duration_ms={dur}", 30, "any"),
    ("INFO", "incoming request {method} {path} from {ip} ua=\"{ua}\"", 18, "edge"),
    ("INFO", "user {user} logged in from {ip}", 6, "any"),
    ("INFO", "user {user} logged out after {sec}s", 3, "any"),
    ("INFO", "order {order} created for user {user} total={amount}", 6, "payment"),
    ("INFO", "order {order} status changed {old_state} -> {new_state}", 6, "payment"),
    ("INFO", "payment {pay} authorized amount={amount} KRW card={bank}", 5, "payment"),
    ("INFO", "settlement batch {n} closed with {m} transactions", 1, "payment"),
    ("INFO", "cache hit ratio {ratio} for key prefix {prefix}", 4, "any"),
    ("INFO", "published event {event} to topic {topic} partition={part} offset={offset}", 6, "any"),
    ("INFO", "consumed {n} messages from {topic} lag={m}", 4, "any"),
    ("INFO", "notification sent to {user} via {channel}", 3, "any"),
    ("INFO", "feature flag {flag} evaluated to {bool} for {user}", 3, "any"),
    ("INFO", "rate limiter allowed {n} of {m} requests for {ip}", 2, "edge"),
    ("INFO", "search query \"{term}\" returned {n} hits in {dur}ms", 3, "any"),
    ("INFO", "recommendations computed for {user}: {n} items model=v{m}", 2, "any"),
    ("INFO", "shipment {ship} dispatched from {city} carrier={carrier}", 2, "any"),
    ("INFO", "coupon {coupon} applied to cart {cart} discount={amount}", 2, "payment"),
    ("INFO", "price list refreshed: {n} items changed", 1, "any"),
    ("INFO", "health check ok uptime={sec}s goroutines={n}", 2, "any"),
    ("INFO", "config reloaded from /etc/app/config.yaml revision {hex8}", 1, "any"),
    ("INFO", "결제 완료: 주문 {order} 금액 {amount}원 ({bank})", 5, "payment"),
    ("INFO", "주문 {order} 생성 완료, 사용자 {user}", 4, "payment"),
    ("INFO", "로그인 성공: 사용자 {user} ({ip})", 3, "any"),
    ("INFO", "배송 시작: 송장번호 {ship} 출발지 {city}", 2, "any"),
    ("INFO", "환불 요청 접수: 주문 {order} 금액 {amount}원", 2, "payment"),
    ("INFO", "쿠폰 {coupon} 적용 완료 (할인 {amount}원)", 2, "payment"),
    ("INFO", "정산 배치 {n} 완료: 거래 {m}건", 1, "payment"),
    ("INFO", "알림 발송 완료: {user} 채널={channel}", 2, "any"),
    # debug
    ("DEBUG", "sql: SELECT * FROM {table} WHERE id = '{id}' LIMIT {n} took {dur}ms", 14, "any"),
    ("DEBUG", "connection pool size={n} idle={m} waiting={k}", 6, "any"),
    ("DEBUG", "cache miss for key {prefix}{id}", 8, "any"),
    ("DEBUG", "outgoing request {method} http://{peer}:8080{path} timeout_ms={dur}", 8, "any"),
    ("DEBUG", "grpc call {peer}/{rpc} deadline={sec}s", 6, "any"),
    ("DEBUG", "parsed request body of {n} bytes in {dur}us", 4, "any"),
    ("DEBUG", "span {span} finished in {dur}ms", 4, "any"),
    ("DEBUG", "retry policy: max_attempts={m} backoff={dur}ms read_timeout={sec}s", 3, "any"),
    ("DEBUG", "jwt verified for {user} kid={hex8} exp={sec}", 4, "any"),
    ("DEBUG", "결제 요청 파라미터 검증 통과: 주문 {order}", 2, "payment"),
    ("DEBUG", "재고 조회: 상품 {sku} 창고 {city}", 2, "any"),
    # warnings
    ("WARN", "slow response from {peer}: {dur}ms (threshold 500ms)", 10, "any"),
    ("WARN", "retrying call to {peer} attempt={m} read_timeout=3s", 6, "any"),
    ("WARN", "connection timeouts: {n} in the last minute to {peer}", 3, "any"),
    ("WARN", "circuit breaker half-open for {peer} after {n} failures", 2, "any"),
    ("WARN", "{method} {path} {status_warn} {dur}ms", 12, "any"),
    ("WARN", "request rejected: rate limit exceeded for {ip} ({n} req/s)", 3, "edge"),
    ("WARN", "deprecated API {path} called by {peer}", 2, "any"),
    ("WARN", "consumer lag on {topic} is {n} messages", 2, "any"),
    ("WARN", "GC pause {dur}ms exceeded target 200ms", 2, "any"),
    ("WARN", "disk usage {pct}% on /var/lib/app", 1, "any"),
    ("WARN", "token for {user} expires in {sec}s, refreshing", 2, "any"),
    ("WARN", "재고 부족: 상품 {sku} 남은 수량 {m}", 3, "any"),
    ("WARN", "결제 승인 지연: PG 응답 {dur}ms (주문 {order})", 3, "payment"),
    ("WARN", "정기결제 실패율 {pct}% 초과, 모니터링 필요", 1, "payment"),
    ("WARN", "쿠폰 적용 실패: 만료된 쿠폰 {coupon}", 2, "payment"),
    ("WARN", "배송 지연 예상: {city} 지역 {n}건", 1, "any"),
    ("WARN", "외부 API timeout 임박: {peer} {dur}ms", 1, "any"),
    # errors
    ("ERROR", "{method} {path} {status_error} {dur}ms", 10, "any"),
    ("ERROR", "upstream request timeout after {dur}ms calling {peer}", 5, "any"),
    ("ERROR", "payment provider timeout after {dur}ms order_id={order}", 4, "payment"),
    ("ERROR", "context deadline exceeded (Client.Timeout exceeded while awaiting headers) url=http://{peer}:8080{path}", 3, "any"),
    ("ERROR", "TimeoutError: operation {rpc} did not complete in {sec}s", 3, "any"),
    ("ERROR", "DB pool TIMEOUT waiting for connection after {dur}ms (pool={m})", 2, "any"),
    ("ERROR", "upstream connect error or disconnect/reset before headers. reset reason: connection failure", 3, "any"),
    ("ERROR", "failed to publish event {event} to {topic}: broker not available", 2, "any"),
    ("ERROR", "unhandled exception in {rpc}: {exc}", 2, "any"),
    ("ERROR", "card declined for order {order}: code {code}", 3, "payment"),
    ("ERROR", "ledger write failed for {pay}: duplicate key value violates unique constraint", 1, "payment"),
    ("ERROR", "java.net.SocketTimeoutException: Read timed out\n{stack_java}", 2, "any"),
    ("ERROR", "java.lang.IllegalStateException: inventory mismatch for {sku}\n{stack_java}", 2, "any"),
    ("ERROR", "Traceback (most recent call last):\n{stack_py}\nKeyError: '{field}'", 2, "any"),
    ("ERROR", "panic: runtime error: invalid memory address or nil pointer dereference\n{stack_go}", 1, "any"),
    ("ERROR", "결제 실패: 카드 승인 거절 (order_id={order})", 5, "payment"),
    ("ERROR", "결제가 실패했습니다: 잔액 부족 user={user}", 3, "payment"),
    ("ERROR", "미결제 실패 건 재처리 중 오류 order_id={order}", 2, "payment"),
    ("ERROR", "결제 실패가 반복되어 주문 {order}을 보류합니다 ({n}회)", 2, "payment"),
    ("ERROR", "결제 실패했습니다 (PG 응답 코드 {code})", 2, "payment"),
    ("ERROR", "자동 결제 실패 알림 발송: {user}", 1, "payment"),
    ("ERROR", "주문 {order} 상태: 결제 실패", 1, "payment"),
    ("ERROR", "결제실패 카운터 증가: {n}", 1, "payment"),
    ("ERROR", "결제 승인 실패: {bank} 응답 없음", 2, "payment"),
    ("ERROR", "PaymentException: 결제 실패 (code={code})\n{stack_java}", 1, "payment"),
    ("ERROR", "결제 처리 실패: 타임아웃 timeout={dur}ms", 1, "payment"),
    ("ERROR", "재고 차감 실패: 상품 {sku} (요청 {m}, 남은 {k})", 2, "any"),
    ("ERROR", "배송 정보 조회 실패: 송장번호 {ship}", 1, "any"),
    ("ERROR", "요청 처리 중 오류가 발생했습니다: {exc}", 2, "any"),
]
# Plain entity lifecycle lines: 20 x 6 in English, 10 x 6 in Korean, and 20 x 4 warnings.
TEMPLATES += [("INFO", "%s {id} %s in {dur}ms" % (e, a), 1, "any") for e in ENTITIES for a in ACTIONS]
TEMPLATES += [("INFO", "%s {id} %s 완료 ({dur}ms)" % (e, a), 1, "any") for e in KO_ENTITIES for a in KO_ACTIONS]
TEMPLATES += [("WARN", "%s {id} %s" % (e, p), 0.3, "any") for e in ENTITIES for p in PROBLEMS]
# Lines of background work, outside any request (no trace id).
BACKGROUND = [
    ("INFO", "scheduled job {job} finished in {dur}ms, {n} rows", 6),
    ("INFO", "connection pool stats: active={n} idle={m}", 6),
    ("DEBUG", "cache eviction: {n} keys removed from {prefix}", 4),
    ("INFO", "heartbeat from {peer} ok", 4),
    ("WARN", "scheduled job {job} took {sec}s, longer than its interval", 1),
    ("ERROR", "scheduled job {job} failed: {exc}", 1),
    ("INFO", "배치 작업 {job} 완료: {n}건 처리", 2),
]
EXCEPTIONS = ["NullPointerException", "ConnectionResetError", "io.EOF", "ResourceExhausted", "IllegalArgumentException",
              "OptimisticLockException", "ValueError: invalid literal", "deadline exceeded"]
TOPICS = ["orders.v1", "payments.v2", "inventory.events", "user.activity", "notifications", "audit.log"]
EVENTS = ["OrderCreated", "OrderPaid", "StockReserved", "ShipmentDispatched", "UserSignedUp", "CouponRedeemed"]
TABLES = ["orders", "order_items", "payments", "users", "carts", "inventory", "shipments", "coupons"]
STATES = ["CREATED", "PAID", "PACKED", "SHIPPED", "DELIVERED", "CANCELLED"]
JOBS = ["reindex-catalog", "expire-carts", "settle-payments", "send-digest", "rollup-metrics", "purge-sessions"]
FLAGS = ["new-checkout", "one-click-pay", "reco-v3", "dark-mode", "kr-localized-search"]
TERMS = ["운동화", "노트북", "gift card", "청바지", "coffee beans", "에어팟", "캠핑 의자", "usb-c cable"]
UAS = ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "okhttp/4.12.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
       "Dalvik/2.1.0 (Linux; U; Android 14)", "python-requests/2.31"]
CARRIERS = ["CJ대한통운", "한진택배", "롯데택배", "우체국택배"]
FIELDS = ["user_id", "order_id", "amount", "currency", "sku"]
RPCS = ["GetUser", "ReserveStock", "Authorize", "Capture", "Quote", "Score", "ListItems", "Publish"]
INCIDENTS = [
    # (start hour, end hour, services affected, error multiplier, templates boosted)
    (4.2, 4.7, {"payment-service", "pg-gateway", "checkout-service"}, 6.0,
     ["payment provider timeout after {dur}ms order_id={order}", "결제 실패: 카드 승인 거절 (order_id={order})"]),
    (13.0, 13.35, {"inventory-service", "order-service"}, 5.0,
     ["DB pool TIMEOUT waiting for connection after {dur}ms (pool={m})", "재고 차감 실패: 상품 {sku} (요청 {m}, 남은 {k})"]),
    (19.5, 19.75, {"gateway", "search-service", "recommendation-service"}, 4.0,
     ["upstream request timeout after {dur}ms calling {peer}", "{method} {path} {status_error} {dur}ms"]),
]
LEVEL_WEIGHTS = {"INFO": 72.0, "DEBUG": 14.0, "WARN": 9.0, "ERROR": 5.0}


def service_names(n: int) -> list[str]:
    names = list(CORE_SERVICES[:n])
    combos = ["%s-%s" % (h, t) for t in NAME_TAILS for h in NAME_HEADS]
    i = 0
    while len(names) < n:
        names.append(combos[i] if i < len(combos) else "svc-%04d" % i)
        i += 1
    return names


class Generator:
    def __init__(self, n_records: int, n_services: int, seed: int, end: int):
        if n_services < 3:
            raise SystemExit("--services must be at least 3 (a request touches 3-8 services)")
        self.n_records = n_records
        self.rng = random.Random(seed)
        self.end_us = end * 1_000_000
        self.start_us = self.end_us - DAY_US
        self.services = service_names(n_services)
        rng = self.rng
        # Traffic share: core services first, then a long tail.
        self.svc_weights = list(itertools.accumulate(
            (3.0 if i < 4 else 1.5 if i < len(CORE_SERVICES) else 1.0 / (1 + (i - len(CORE_SERVICES)) / 40))
            for i in range(n_services)))
        self.hosts = {s: ["%s-%s-%s" % (s, "".join(rng.choice("0123456789abcdef") for _ in range(6)),
                                        "".join(rng.choice(string.ascii_lowercase) for _ in range(5)))
                          for _ in range(rng.randint(2, 6))] for s in self.services}
        self.edges = [s for s in ("gateway", "checkout-service", "search-service") if s in self.services] or self.services[:1]
        self.users = ["u-%06d" % i for i in range(50_000)]
        self.compiled = {}
        self.template_tables = {}
        for level in LEVEL_WEIGHTS:
            self.compiled[level] = [(t, w, scope, _fields(t)) for (lv, t, w, scope) in TEMPLATES if lv == level]
        self.background = [(lv, t, _fields(t)) for (lv, t, _) in BACKGROUND]
        self.background_cum = list(itertools.accumulate(w for (_, _, w) in BACKGROUND))
        self.level_names = list(LEVEL_WEIGHTS)
        # Day curve: traffic peaks in the (Korean) evening and bottoms out before dawn.
        self.warp = _inverse_cdf(lambda h: 1.0 + 0.6 * math.sin((h - 14.0) / 24.0 * 2 * math.pi), 1440)

    # ----- variable parts ------------------------------------------------------------------

    def value(self, name: str, ctx: dict) -> str:
        rng = self.rng
        if name in ctx:
            return ctx[name]
        if name == "dur":
            return str(int(rng.lognormvariate(3.5, 1.1)) + 1)
        if name in ("n", "offset"):
            return str(rng.randint(1, 5000) if name == "n" else rng.randrange(10**9))
        if name in ("m", "k", "part"):
            return str(rng.randint(0, 20))
        if name == "sec":
            return str(rng.randint(1, 3600))
        if name == "ip":
            return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
        if name == "amount":
            return str(rng.randrange(1000, 500_000, 100))
        if name == "order":
            return "ORD-%08d" % rng.randrange(10**8)
        if name == "pay":
            return "pay_%s" % "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(14))
        if name in ("id", "hex8"):
            return "%08x" % rng.getrandbits(32)
        if name == "sku":
            return "SKU-%05d" % rng.randrange(99_999)
        if name == "peer":
            return self.services[bisect.bisect(self.svc_weights, rng.random() * self.svc_weights[-1])]
        if name == "path":
            return self.path()
        if name == "method":
            return rng.choice(METHODS)
        if name == "status":
            return str(rng.choice(STATUS_OK))
        if name == "status_warn":
            return str(rng.choice(STATUS_WARN))
        if name == "status_error":
            return str(rng.choice(STATUS_ERROR))
        if name == "ratio":
            return "%.3f" % rng.random()
        if name == "pct":
            return str(rng.randint(5, 99))
        if name == "prefix":
            return rng.choice(["cart:", "user:", "sku:", "price:", "session:"])
        if name == "bank":
            return rng.choice(BANKS)
        if name == "city":
            return rng.choice(CITIES)
        if name == "channel":
            return rng.choice(CHANNELS)
        if name == "code":
            return rng.choice(ERROR_CODES)
        if name == "coupon":
            return "CPN-%s" % "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        if name == "cart":
            return "cart-%07d" % rng.randrange(10**7)
        if name == "ship":
            return "%012d" % rng.randrange(10**12)
        if name == "topic":
            return rng.choice(TOPICS)
        if name == "event":
            return rng.choice(EVENTS)
        if name == "table":
            return rng.choice(TABLES)
        if name in ("old_state", "new_state"):
            return rng.choice(STATES)
        if name == "job":
            return rng.choice(JOBS)
        if name == "flag":
            return rng.choice(FLAGS)
        if name == "bool":
            return rng.choice(["true", "false"])
        if name == "term":
            return rng.choice(TERMS)
        if name == "ua":
            return rng.choice(UAS)
        if name == "carrier":
            return rng.choice(CARRIERS)
        if name == "field":
            return rng.choice(FIELDS)
        if name == "rpc":
            return rng.choice(RPCS)
        if name == "exc":
            return rng.choice(EXCEPTIONS)
        if name == "span":
            return "%016x" % rng.getrandbits(64)
        if name == "stack_java":
            return self.stack_java()
        if name == "stack_py":
            return self.stack_py()
        if name == "stack_go":
            return self.stack_go()
        raise KeyError(name)

    def path(self) -> str:
        rng = self.rng
        r = rng.choice(RESOURCES)
        if rng.random() < 0.5:
            return "/api/v1/%s" % r
        return "/api/v1/%s/%d" % (r, rng.randrange(10**6))

    def stack_java(self) -> str:
        rng = self.rng
        frames = []
        for _ in range(rng.randint(3, 9)):
            cls = rng.choice(JAVA_CLASSES)
            frames.append("\tat com.shop.%s.%s(%s.java:%d)" % (cls, rng.choice(["call", "apply", "handle", "load", "save"]), cls, rng.randint(20, 900)))
        frames.append("\tat java.base/java.lang.Thread.run(Thread.java:1583)")
        if rng.random() < 0.3:
            frames.append("Caused by: java.io.IOException: Connection reset by peer")
            frames.append("\t... %d more" % rng.randint(3, 40))
        return "\n".join(frames)

    def stack_py(self) -> str:
        rng = self.rng
        lines = []
        for _ in range(rng.randint(2, 6)):
            fn = rng.choice(PY_FUNCS)
            lines.append('  File "/app/service/%s.py", line %d, in %s' % (fn.split("_")[0], rng.randint(10, 600), fn))
            lines.append("    result = %s(payload)" % rng.choice(PY_FUNCS))
        return "\n".join(lines)

    def stack_go(self) -> str:
        rng = self.rng
        lines = ["goroutine %d [running]:" % rng.randint(1, 5000)]
        for _ in range(rng.randint(3, 7)):
            lines.append("main.%s(0xc%09x)" % (rng.choice(GO_FUNCS), rng.getrandbits(36)))
            lines.append("\t/src/app/%s.go:%d +0x%x" % (rng.choice(["server", "client", "pool", "queue"]), rng.randint(10, 800), rng.randint(16, 4095)))
        return "\n".join(lines)

    # ----- records -------------------------------------------------------------------------

    def pick_template(self, level: str, service: str, is_edge: bool, boost: tuple | None) -> tuple:
        rng = self.rng
        if boost is not None and level == "ERROR" and rng.random() < 0.7:
            text = rng.choice(boost[4])
            return text, _fields(text)
        key = (level, service in PAYMENT_SIDE, is_edge)
        table = self.template_tables.get(key)
        if table is None:
            choices = [(t, f) for (t, w, scope, f) in self.compiled[level]
                       if scope == "any" or (scope == "payment" and key[1]) or (scope == "edge" and is_edge)]
            cum = list(itertools.accumulate(w for (t, w, scope, f) in self.compiled[level]
                                            if scope == "any" or (scope == "payment" and key[1]) or (scope == "edge" and is_edge)))
            table = self.template_tables[key] = (choices, cum)
        choices, cum = table
        return choices[bisect.bisect(cum, rng.random() * cum[-1])]

    def level_for(self, service: str, hour: float) -> tuple:
        rng = self.rng
        boost = None
        for inc in INCIDENTS:
            if inc[0] <= hour < inc[1] and service in inc[2]:
                boost = inc
        w = LEVEL_WEIGHTS
        err = w["ERROR"] * (boost[3] if boost else 1.0)
        x = rng.random() * (w["INFO"] + w["DEBUG"] + w["WARN"] + err)
        if x < w["INFO"]:
            return "INFO", boost
        if x < w["INFO"] + w["DEBUG"]:
            return "DEBUG", boost
        if x < w["INFO"] + w["DEBUG"] + w["WARN"]:
            return "WARN", boost
        return "ERROR", boost

    def http(self, level: str, template: str) -> dict:
        rng = self.rng
        status = {"ERROR": STATUS_ERROR, "WARN": STATUS_WARN}.get(level, STATUS_OK)
        dur = int(rng.lognormvariate(3.2, 1.0)) + 1
        if level == "ERROR" and ("timeout" in template.lower() or "타임아웃" in template):
            dur += rng.randint(3000, 10000)
        return {"method": rng.choice(METHODS), "path": self.path(), "status": rng.choice(status), "duration_ms": dur}

    def request(self, t0_us: int, out: list):
        """Appends the records of one request starting at t0: (time_us, seq, partial record)."""
        rng = self.rng
        hour = (t0_us - self.start_us) / 3_600_000_000
        edge = self.edges[0] if rng.random() < 0.8 else rng.choice(self.edges)
        want = rng.randint(3, min(8, len(self.services)))
        chain = [edge]
        if "payment-service" in self.services and rng.random() < 0.15:
            chain += [s for s in ("checkout-service", "order-service", "payment-service", "pg-gateway") if s in self.services and s != edge]
        while len(chain) < want:
            s = self.services[bisect.bisect(self.svc_weights, rng.random() * self.svc_weights[-1])]
            if s not in chain:
                chain.append(s)
        chain = chain[:max(want, 3)]
        trace = "%032x" % rng.getrandbits(128)
        user = rng.choice(self.users)
        ctx = {"user": user, "order": "ORD-%08d" % rng.randrange(10**8)}
        t = t0_us
        for i, svc in enumerate(chain):
            span = "%016x" % rng.getrandbits(64)
            host = rng.choice(self.hosts[svc])
            t += rng.randint(200, 20_000)
            for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
                t += rng.randint(50, 30_000)
                level, boost = self.level_for(svc, hour)
                tmpl, fields = self.pick_template(level, svc, i == 0, boost)
                http = self.http(level, tmpl) if rng.random() < 0.85 else None
                values = ctx
                if http is not None:
                    # An access line tells what its http fields say.
                    st = str(http["status"])
                    values = dict(ctx, method=http["method"], path=http["path"], status=st, status_warn=st,
                                  status_error=st, dur=str(http["duration_ms"]))
                message = tmpl.format(**{f: self.value(f, values) for f in fields})
                rec = {"service": svc, "level": level, "trace_id": trace, "span_id": span, "host": host,
                       "message": message, "user_id": user}
                if http is not None:
                    rec["http"] = http
                out.append((t, rec))

    def background_record(self, t_us: int) -> tuple:
        rng = self.rng
        i = bisect.bisect(self.background_cum, rng.random() * self.background_cum[-1])
        level, tmpl, fields = self.background[i]
        svc = self.services[bisect.bisect(self.svc_weights, rng.random() * self.svc_weights[-1])]
        message = tmpl.format(**{f: self.value(f, {}) for f in fields})
        return t_us, {"service": svc, "level": level, "host": rng.choice(self.hosts[svc]), "message": message}

    def records(self):
        """Yields (time_us, record) in strictly increasing time, exactly n_records of them."""
        heap: list = []
        seq = 0
        emitted = 0
        last = self.start_us - 1
        produced = 0
        while emitted < self.n_records:
            # Where the day has got to: requests start along the warped clock, by records made.
            frac = min(produced / self.n_records, 1.0)
            t0 = self.start_us + int(self.warp(frac) * (DAY_US - 20_000_000))
            batch: list = []
            if self.rng.random() < 0.2:
                batch.append(self.background_record(t0 + self.rng.randint(0, 1_000_000)))
            self.request(t0, batch)
            for t, rec in batch:
                heapq.heappush(heap, (t, seq, rec))
                seq += 1
            produced += len(batch)
            # Every later request starts at or after t0, so everything older is final.
            while heap and (heap[0][0] < t0 or produced >= self.n_records) and emitted < self.n_records:
                t, _, rec = heapq.heappop(heap)
                t = max(t, last + 1)
                last = t
                yield t, rec
                emitted += 1


def _fields(template: str) -> list[str]:
    return [f for (_, f, _, _) in string.Formatter().parse(template) if f]


def _inverse_cdf(density, steps: int):
    """Maps a uniform fraction to a fraction of the day distributed by `density(hour)`."""
    cum = [0.0]
    for i in range(steps):
        cum.append(cum[-1] + density((i + 0.5) * 24.0 / steps))
    total = cum[-1]
    cum = [c / total for c in cum]

    def warp(u: float) -> float:
        i = min(bisect.bisect_right(cum, u) - 1, steps - 1)
        span = cum[i + 1] - cum[i]
        return (i + ((u - cum[i]) / span if span > 0 else 0.0)) / steps

    return warp


def format_time(us: int, cache: dict = {}) -> str:
    sec, frac = divmod(us, 1_000_000)
    prefix = cache.get(sec)
    if prefix is None:
        cache.clear()
        prefix = cache[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return "%s.%06dZ" % (prefix, frac)


def write(out, n_records: int, n_services: int, seed: int, end: int = DEFAULT_END) -> int:
    """Writes the records as UTF-8 NDJSON to the binary stream `out`; returns the byte count."""
    gen = Generator(n_records, n_services, seed, end)
    n_bytes = 0
    buf = []
    for rid, (t, rec) in enumerate(gen.records()):
        doc = {"timestamp": format_time(t), **rec, "rid": rid}
        buf.append(json.dumps(doc, ensure_ascii=False))
        if len(buf) >= 4096:
            chunk = ("\n".join(buf) + "\n").encode()
            out.write(chunk)
            n_bytes += len(chunk)
            buf.clear()
    if buf:
        chunk = ("\n".join(buf) + "\n").encode()
        out.write(chunk)
        n_bytes += len(chunk)
    return n_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end", type=int, default=DEFAULT_END, help="epoch seconds just after the newest record (default 2026-11-01T00:00:00Z)")
    ap.add_argument("--out", default="-", help="file to write, or - for standard output")
    args = ap.parse_args()
    if args.out == "-":
        write(sys.stdout.buffer, args.records, args.services, args.seed, args.end)
    else:
        with open(args.out, "wb") as f:
            write(f, args.records, args.services, args.seed, args.end)


if __name__ == "__main__":
    main()
