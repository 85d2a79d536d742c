use std::time::Duration;

/// The fault injected into the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `payment-service` calls to `third-party-payment-api` time out.
    PaymentTimeout,
    /// A canary version of `order-service` fails on `place order`.
    BadDeploy,
    /// `inventory-service`'s database runs out of connections: slow queries, then timeouts.
    DbSlow,
    /// `auth-service`'s token cache goes away; every request through the gateway fails.
    Cascade,
    None,
}

impl Scenario {
    pub const ALL: [Scenario; 5] =
        [Scenario::PaymentTimeout, Scenario::BadDeploy, Scenario::DbSlow, Scenario::Cascade, Scenario::None];

    pub fn parse(text: &str) -> Option<Scenario> {
        Some(match text {
            "payment-timeout" => Scenario::PaymentTimeout,
            "bad-deploy" => Scenario::BadDeploy,
            "db-slow" => Scenario::DbSlow,
            "cascade" => Scenario::Cascade,
            "none" => Scenario::None,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PaymentTimeout => "payment-timeout",
            Scenario::BadDeploy => "bad-deploy",
            Scenario::DbSlow => "db-slow",
            Scenario::Cascade => "cascade",
            Scenario::None => "none",
        }
    }

    /// The (service, operation) a correct root-cause analysis must name first.
    pub fn expected_cause(self) -> Option<(&'static str, &'static str)> {
        match self {
            Scenario::PaymentTimeout => Some(("payment-service", "POST third-party-payment-api /v1/charges")),
            Scenario::BadDeploy => Some(("order-service", "place order")),
            Scenario::DbSlow => Some(("inventory-service", "SELECT stock")),
            Scenario::Cascade => Some(("auth-service", "GET token-cache")),
            Scenario::None => None,
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
