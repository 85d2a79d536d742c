#!/usr/bin/env python3
"""Seeded generator of realistic microservice records as NDJSON (same bytes for the same seed).

Requests carry a trace id shared by 3-8 services, user ids, HTTP method/path/status/duration;
messages come from templates with variable parts, some in Korean, some multi-line stack traces.
Timestamps span the 24 hours before --end (default: now, rounded to the hour).
"""
import argparse
import json
import random
import sys
import time

TEMPLATES = [
    ("INFO", "request completed {method} {path} status={status} duration_ms={dur}"),
    ("INFO", "user {user} logged in from {ip}"),
    ("INFO", "order {order} created for user {user} total={amount}"),
    ("INFO", "cache hit ratio {ratio} for key prefix {prefix}"),
    ("DEBUG", "sql: SELECT * FROM orders WHERE user_id = '{user}' LIMIT {n} took {dur}ms"),
    ("DEBUG", "connection pool size={n} idle={m}"),
    ("WARN", "slow response from {peer}: {dur}ms (threshold 500ms)"),
    ("WARN", "retrying call to {peer} attempt={m} read_timeout=3s"),
    ("WARN", "재고 부족: 상품 {sku} 남은 수량 {m}"),
    ("ERROR", "payment timeout calling third-party-payment-api after {dur}ms order_id={order}"),
    ("ERROR", "결제 실패: 카드 승인 거절 (order_id={order})"),
    ("ERROR", "결제가 실패했습니다: 잔액 부족 user={user}"),
    ("ERROR", "미결제 실패 건 재처리 중 오류 order_id={order}"),
    ("ERROR", "upstream connect error or disconnect/reset before headers. reset reason: connection timeout"),
    ("ERROR", "java.lang.IllegalStateException: inventory mismatch for {sku}\n\tat com.shop.Inventory.reserve(Inventory.java:{n})\n\tat com.shop.OrderService.place(OrderService.java:{m})"),
    ("INFO", "결제 완료: 주문 {order} 금액 {amount}원"),
    ("INFO", "notification sent to {user} via {channel}"),
]
PATHS = ["/api/orders", "/api/cart", "/api/users/me", "/api/payments", "/api/catalog/items", "/health"]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
CHANNELS = ["email", "sms", "push"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end", type=float, default=None, help="epoch seconds of the newest record")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    end = args.end if args.end is not None else (int(time.time()) // 3600) * 3600
    start = end - 86400
    base = ["gateway", "auth", "user", "catalog", "cart", "order", "payment", "inventory", "notification", "search"]
    services = [base[i] + "-service" if i < len(base) else f"svc-{i:04d}" for i in range(args.services)]
    weights = [1.0 / (i + 1) for i in range(len(base))] + [0.3] * max(0, args.services - len(base))
    out = sys.stdout
    n = 0
    step = 86400.0 / args.records
    t = start
    while n < args.records:
        trace = "%032x" % rng.getrandbits(128)
        user = "user-%05d" % rng.randrange(20000)
        order = "ORD-%08d" % rng.randrange(10**8)
        chain = rng.sample(services[: max(3, len(services))], k=min(len(services), rng.randint(3, 8)))
        for svc in chain:
            for _ in range(rng.randint(1, 3)):
                if n >= args.records:
                    break
                t += step * rng.uniform(0.5, 1.5)
                level, tmpl = rng.choices(TEMPLATES, weights=[30, 8, 8, 4, 10, 3, 4, 3, 1, 1, 1, 1, 1, 1, 1, 2, 3])[0]
                msg = tmpl.format(
                    method=rng.choice(METHODS), path=rng.choice(PATHS), status=rng.choice([200, 200, 200, 201, 404, 500, 503]),
                    dur=rng.randint(1, 5000), user=user, ip="10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                    order=order, amount=rng.randint(1000, 500000), ratio=round(rng.random(), 3), prefix=rng.choice(["cart:", "user:", "sku:"]),
                    n=rng.randint(1, 500), m=rng.randint(1, 20), peer=rng.choice(services), sku="SKU-%05d" % rng.randrange(99999),
                    channel=rng.choice(CHANNELS))
                record = {
                    "timestamp": "%.6f" % min(t, end),
                    "service": svc,
                    "level": level,
                    "trace_id": trace,
                    "span_id": "%016x" % rng.getrandbits(64),
                    "message": msg,
                    "user_id": user,
                    "http": {"method": rng.choice(METHODS), "path": rng.choice(PATHS), "status": rng.choice([200, 200, 200, 404, 500]), "duration_ms": rng.randint(1, 3000)},
                    "host": "%s-%d" % (svc, rng.randrange(4)),
                }
                out.write(json.dumps(record, ensure_ascii=False))
                out.write("\n")
                n += 1


if __name__ == "__main__":
    main()
