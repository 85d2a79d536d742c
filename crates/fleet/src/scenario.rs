use std::time::Duration;

/// The fault injected into the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `payment-service` calls to `third-party-payment-api` (uninstrumented: only the callers'
    /// CLIENT spans name it) time out.
    PaymentTimeout,
    /// A canary version of `order-service` fails on `place order`.
    BadDeploy,
    /// `inventory-service`'s own database (`inventory-db`, uninstrumented) runs out of
    /// connections: slow queries, then timeouts.
    DbSlow,
    /// `auth-service`'s token cache (`redis`, named only by the old `net.peer.name`) refuses
    /// connections; every request through the gateway fails.
    Cascade,
    /// `inventory-service` becomes far slower while every one of its spans stays OK; the
    /// callers' CLIENT spans time out and fail.
    SlowDependency,
    /// `payment-service`'s `charge` logs ERROR lines in Korean on a third of its requests while
    /// every span stays OK.
    LogOnly,
    /// `order-service` cannot connect to `user-service` (`connection refused`): `user-service`
    /// receives no calls from `order-service` but serves the gateway as before.
    Partition,
    /// `cart-service`'s connection pool is exhausted: `GET /cart` fails at once, without calling
    /// its database.
    PoolExhaustion,
    /// `catalog-service`'s `list items` becomes about four times slower; nothing fails.
    LatencyRegression,
    /// No fault: only the fleet's steady noise (a service failing a steady 5 %, a steady ERROR
    /// log line, rare errors everywhere).
    None,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::PaymentTimeout,
        Scenario::BadDeploy,
        Scenario::DbSlow,
        Scenario::Cascade,
        Scenario::SlowDependency,
        Scenario::LogOnly,
        Scenario::Partition,
        Scenario::PoolExhaustion,
        Scenario::LatencyRegression,
        Scenario::None,
    ];

    pub fn parse(text: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == text)
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PaymentTimeout => "payment-timeout",
            Scenario::BadDeploy => "bad-deploy",
            Scenario::DbSlow => "db-slow",
            Scenario::Cascade => "cascade",
            Scenario::SlowDependency => "slow-dependency",
            Scenario::LogOnly => "log-only",
            Scenario::Partition => "partition",
            Scenario::PoolExhaustion => "pool-exhaustion",
            Scenario::LatencyRegression => "latency-regression",
            Scenario::None => "none",
        }
    }

    /// The broken party a correct fleet-wide root-cause analysis must name first, as
    /// (service, operation): the service that broke, or the uninstrumented or unreachable party
    /// its callers name (an uninstrumented callee's operation is the name of the calls to it).
    /// This is the simulator's truth; the analysis never reads it.
    pub fn expected_cause(self) -> Option<(&'static str, &'static str)> {
        match self {
            Scenario::PaymentTimeout => Some(("third-party-payment-api", "POST third-party-payment-api /v1/charges")),
            Scenario::BadDeploy => Some(("order-service", "place order")),
            Scenario::DbSlow => Some(("inventory-db", "SELECT stock")),
            Scenario::Cascade => Some(("redis", "GET token-cache")),
            Scenario::SlowDependency => Some(("inventory-service", "reserve stock")),
            Scenario::LogOnly => Some(("payment-service", "charge")),
            Scenario::Partition => Some(("user-service", "GET /users/{id}")),
            Scenario::PoolExhaustion => Some(("cart-service", "GET /cart")),
            Scenario::LatencyRegression => Some(("catalog-service", "list items")),
            Scenario::None => None,
        }
    }

    /// The (service, operation) whose own spans fail first in the failing traces: what a
    /// per-trace analysis (the deepest failing span) finds, and what an alert on that service
    /// explains. None when no span fails.
    pub fn deepest_failing_span(self) -> Option<(&'static str, &'static str)> {
        match self {
            Scenario::PaymentTimeout => Some(("payment-service", "POST third-party-payment-api /v1/charges")),
            Scenario::BadDeploy => Some(("order-service", "place order")),
            Scenario::DbSlow => Some(("inventory-service", "SELECT stock")),
            Scenario::Cascade => Some(("auth-service", "GET token-cache")),
            Scenario::SlowDependency => Some(("order-service", "POST /inventory/reserve")),
            Scenario::Partition => Some(("order-service", "GET /users/{id}")),
            Scenario::PoolExhaustion => Some(("cart-service", "GET /cart")),
            Scenario::LogOnly | Scenario::LatencyRegression | Scenario::None => None,
        }
    }
}

/// When the fault is on: after `delay`, for `duration` of every `period`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub delay: Duration,
    pub duration: Duration,
    pub period: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { delay: Duration::from_secs(30), duration: Duration::from_secs(180), period: Duration::from_secs(300) }
    }
}

impl Schedule {
    pub fn active(&self, elapsed: Duration) -> bool {
        if elapsed < self.delay {
            return false;
        }
        let since = (elapsed - self.delay).as_millis();
        since % self.period.as_millis().max(1) < self.duration.as_millis()
    }
}
