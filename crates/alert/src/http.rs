//! Outbound HTTP for notifications, guarded against server-side request forgery: a contact
//! point's URL may only reach public addresses unless the configuration allows more. Every
//! address a host name resolves to is checked by the resolver itself (so a name cannot resolve
//! to a public address when checked and a private one when connected), addresses written in
//! the URL are checked before sending, redirects are not followed, and requests and the
//! answers read back are bounded in time and size.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which destinations notifications may reach.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Allow loopback, private, link-local and other non-public addresses everywhere.
    pub allow_private: bool,
    /// Hosts or networks allowed even when not public: `127.0.0.1`, `10.0.0.0/8`,
    /// `alertmanager.internal`.
    pub allowed: Vec<String>,
}

/// Bounds of outbound requests.
#[derive(Debug, Clone, Copy)]
pub struct OutboundLimits {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest request body sent.
    pub max_request_bytes: usize,
    /// Most bytes of an answer read.
    pub max_response_bytes: usize,
}

impl Default for OutboundLimits {
    fn default() -> OutboundLimits {
        OutboundLimits { timeout: Duration::from_secs(10), connect_timeout: Duration::from_secs(5), max_request_bytes: 1 << 20, max_response_bytes: 64 * 1024 }
    }
}

#[derive(Debug, Clone)]
enum Allowed {
    Net(IpAddr, u8),
    Host(String),
}

fn parse_allowed(items: &[String]) -> Result<Vec<Allowed>, String> {
    items
        .iter()
        .map(|item| {
            let item = item.trim();
            if let Some((addr, bits)) = item.split_once('/') {
                let addr: IpAddr = addr.parse().map_err(|_| format!("{item:?} is not a network such as 10.0.0.0/8"))?;
                let bits: u8 = bits.parse().map_err(|_| format!("{item:?} is not a network such as 10.0.0.0/8"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(format!("{item:?}: a prefix of at most {max} bits"));
                }
                Ok(Allowed::Net(addr, bits))
            } else if let Ok(addr) = item.parse::<IpAddr>() {
                Ok(Allowed::Net(addr, if addr.is_ipv4() { 32 } else { 128 }))
            } else if !item.is_empty() {
                Ok(Allowed::Host(item.trim_end_matches('.').to_ascii_lowercase()))
            } else {
                Err("an empty entry in allowed_hosts".to_string())
            }
        })
        .collect()
}

fn in_net(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a.to_ipv4_mapped().is_some_and(|v4| in_net(IpAddr::V4(v4), net, bits)),
        _ => false,
    }
}

/// Public unicast: not loopback, private, link-local, shared, documentation, multicast,
/// unspecified or reserved.
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, shared address space
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = a.segments();
            // IPv4-compatible (::a.b.c.d) and 6to4 (2002:a.b.c.d::) addresses carry an IPv4
            // address that decides; Teredo (2001:0::/32) tunnels to anywhere: refused.
            if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
                let v4 = std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return is_public(IpAddr::V4(v4));
            }
            if s[0] == 0x2002 {
                let v4 = std::net::Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                return is_public(IpAddr::V4(v4));
            }
            if s[0] == 0x2001 && s[1] == 0 {
                return false;
            }
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b)) // NAT64 can reach private IPv4
        }
    }
}

/// Decides whether an address (reached through `host`) may be contacted.
#[derive(Debug, Clone)]
pub struct Guard {
    allow_private: bool,
    allowed: Vec<Allowed>,
}

impl Guard {
    pub fn new(policy: &OutboundPolicy) -> Result<Guard, String> {
        Ok(Guard { allow_private: policy.allow_private, allowed: parse_allowed(&policy.allowed)? })
    }

    pub fn permits(&self, host: &str, addr: IpAddr) -> bool {
        if self.allow_private || is_public(addr) {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed.iter().any(|a| match a {
            Allowed::Net(net, bits) => in_net(addr, *net, *bits),
            Allowed::Host(h) => *h == host,
        })
    }

    /// Resolves `host:port` and keeps the permitted addresses; an error names the refusal.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let found: Vec<SocketAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect(),
        };
        let permitted: Vec<SocketAddr> = found.iter().copied().filter(|a| self.permits(host, a.ip())).collect();
        if permitted.is_empty() {
            return Err(refusal(host, found.first().map(|a| a.ip())));
        }
        Ok(permitted)
    }
}

fn refusal(host: &str, addr: Option<IpAddr>) -> String {
    match addr {
        Some(a) => format!(
            "{host} resolves to {a}, a non-public address: refused (allow it with alerting.allowed_hosts, or alerting.allow_private_networks)"
        ),
        None => format!("{host} resolves to no address"),
    }
}

struct GuardedResolver(Arc<Guard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs = guard.resolve(&host, 0).await.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP answer, its body read up to the limit.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// The client every HTTP channel sends with.
#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    guard: Arc<Guard>,
    pub limits: OutboundLimits,
}

impl OutboundClient {
    pub fn new(policy: &OutboundPolicy, limits: OutboundLimits) -> Result<OutboundClient, String> {
        let guard = Arc::new(Guard::new(policy)?);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would take the connection past the guard.
            .no_proxy()
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout)
            .user_agent(concat!("trawl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(OutboundClient { client, guard, limits })
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Checks a URL before sending: scheme, and an address written in it.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not http or https", url.scheme()));
        }
        let host = url.host_str().ok_or_else(|| "the URL has no host".to_string())?;
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            if !self.guard.permits(host, ip) {
                return Err(refusal(host, Some(ip)));
            }
        }
        Ok(())
    }

    /// Sends `body` (JSON unless `content_type` says otherwise) and reads the answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(String, String)],
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Answer, SendError> {
        let url = reqwest::Url::parse(url).map_err(|e| SendError::Refused(format!("bad URL: {e}")))?;
        self.check_url(&url).map_err(SendError::Refused)?;
        if body.len() > self.limits.max_request_bytes {
            return Err(SendError::Refused(format!("the message is {} bytes, over the {} byte limit", body.len(), self.limits.max_request_bytes)));
        }
        let mut request = self.client.request(method, url).header(reqwest::header::CONTENT_TYPE, content_type).body(body);
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let mut response = request.send().await.map_err(|e| {
            // The URL may hold a secret (a Slack webhook, a bot token): never in an error.
            let e = e.without_url();
            // The resolver's refusal reaches here as a connect error: keep it permanent.
            let text = error_chain(&e);
            if text.contains("non-public address") || text.contains("resolves to no address") {
                SendError::Refused(text)
            } else {
                SendError::Network(text)
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = self.limits.max_response_bytes.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(Answer { status, retry_after, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Why a request was not answered.
#[derive(Debug, Clone)]
pub enum SendError {
    /// Never sent: the destination or message is not allowed (permanent).
    Refused(String),
    /// Connection, TLS or timeout trouble (retryable).
    Network(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused_unless_allowed() {
        let guard = Guard::new(&OutboundPolicy::default()).unwrap();
        for addr in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::127.0.0.1", "2002:7f00:1::", "2001:0:4136:e378::1"] {
            assert!(!guard.permits("h", addr.parse().unwrap()), "{addr}");
        }
        for addr in ["8.8.8.8", "2606:4700::1111", "151.101.1.1"] {
            assert!(guard.permits("h", addr.parse().unwrap()), "{addr}");
        }
        let guard = Guard::new(&OutboundPolicy { allow_private: false, allowed: vec!["127.0.0.1".into(), "10.0.0.0/8".into(), "am.internal".into()] }).unwrap();
        assert!(guard.permits("x", "127.0.0.1".parse().unwrap()));
        assert!(guard.permits("x", "10.200.0.1".parse().unwrap()));
        assert!(!guard.permits("x", "192.168.0.1".parse().unwrap()));
        assert!(guard.permits("AM.internal.", "192.168.0.1".parse().unwrap()));
        assert!(Guard::new(&OutboundPolicy { allow_private: false, allowed: vec!["10.0.0.0/40".into()] }).is_err());
        assert!(Guard::new(&OutboundPolicy { allow_private: true, allowed: vec![] }).unwrap().permits("x", "::1".parse().unwrap()));
        assert!(!is_public("127.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn the_client_refuses_a_private_url_without_sending() {
        let client = OutboundClient::new(&OutboundPolicy::default(), OutboundLimits::default()).unwrap();
        let e = client.send(reqwest::Method::POST, "http://127.0.0.1:9/x", &[], "application/json", b"{}".to_vec()).await.unwrap_err();
        assert!(matches!(&e, SendError::Refused(m) if m.contains("non-public")), "{e:?}");
        let e = client.send(reqwest::Method::POST, "http://localhost:9/x", &[], "application/json", b"{}".to_vec()).await.unwrap_err();
        assert!(matches!(&e, SendError::Refused(m) if m.contains("non-public")), "{e:?}");
        let e = client.send(reqwest::Method::POST, "file:///etc/passwd", &[], "application/json", Vec::new()).await.unwrap_err();
        assert!(matches!(e, SendError::Refused(_)));
    }
}
