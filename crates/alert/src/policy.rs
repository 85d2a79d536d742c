//! Notification policies: a tree of routes, as in Alertmanager. An alert enters at the root,
//! goes down into the first child whose matchers match (and on into later siblings when that
//! child says `continue`), and is handled by the deepest routes it reached. Each route names
//! its contact points and how alerts are grouped and timed; unset settings come from the parent.
//! Inhibition rules (and trawl's own root-cause inhibition) keep dependent alerts quiet.

use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::labels::{all_match, Labels, Matcher};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A rule can pick this route by name (`policy: payments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Contact points of this route (a single name or a list).
    #[serde(default, alias = "receiver", deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<Matcher>,
    /// Labels whose values make a group; `["..."]` groups by every label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Dur>,
    /// After matching, also try the next siblings.
    #[serde(default, rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    pub continue_matching: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => vec![s],
        Raw::Many(v) => v,
    })
}

/// Source alerts matching `source_matchers` mute target alerts matching `target_matchers`
/// that have the same values of the `equal` labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRule {
    #[serde(default)]
    pub source_matchers: Vec<Matcher>,
    #[serde(default)]
    pub target_matchers: Vec<Matcher>,
    #[serde(default)]
    pub equal: Vec<String>,
}

/// The whole routing configuration: the root route's settings, plus inhibition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policies {
    #[serde(flatten)]
    pub root: Route,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRule>,
    /// An alert whose root cause lies in another service that has an alert of its own (pending
    /// or firing) is not notified: that service's alert tells the story (default true).
    pub inhibit_by_root_cause: bool,
}

// By hand: serde's `flatten` would let unknown settings of the root route pass unnoticed.
impl<'de> Deserialize<'de> for Policies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Policies, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let inhibit_rules = match map.remove("inhibit_rules") {
            Some(v) => serde_json::from_value(v).map_err(|e| D::Error::custom(format!("inhibit_rules: {e}")))?,
            None => Vec::new(),
        };
        let inhibit_by_root_cause = match map.remove("inhibit_by_root_cause") {
            Some(v) => serde_json::from_value(v).map_err(|e| D::Error::custom(format!("inhibit_by_root_cause: {e}")))?,
            None => true,
        };
        let root: Route = serde_json::from_value(serde_json::Value::Object(map)).map_err(D::Error::custom)?;
        Ok(Policies { root, inhibit_rules, inhibit_by_root_cause })
    }
}

impl Default for Policies {
    fn default() -> Policies {
        Policies { root: Route::default(), inhibit_rules: Vec::new(), inhibit_by_root_cause: true }
    }
}

/// The settings a route ends up with, its own or inherited.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteSettings {
    /// Dotted path of child indices from the root (`""` for the root): part of group keys.
    pub id: String,
    pub receivers: Vec<String>,
    /// None: every label.
    pub group_by: Option<Vec<String>>,
    pub group_wait: Dur,
    pub group_interval: Dur,
    pub repeat_interval: Dur,
}

pub const DEFAULT_GROUP_BY: [&str; 2] = ["rule", "service"];
pub const DEFAULT_GROUP_WAIT: Dur = Dur::secs(30);
pub const DEFAULT_GROUP_INTERVAL: Dur = Dur::mins(5);
pub const DEFAULT_REPEAT_INTERVAL: Dur = Dur::hours(4);

impl RouteSettings {
    fn root(route: &Route) -> RouteSettings {
        let mut s = RouteSettings {
            id: String::new(),
            receivers: Vec::new(),
            group_by: Some(DEFAULT_GROUP_BY.iter().map(|s| s.to_string()).collect()),
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
        };
        s.apply(route);
        s
    }

    fn child(&self, index: usize, route: &Route) -> RouteSettings {
        let mut s = self.clone();
        s.id = if self.id.is_empty() { index.to_string() } else { format!("{}.{index}", self.id) };
        s.apply(route);
        s
    }

    fn apply(&mut self, route: &Route) {
        if !route.receivers.is_empty() {
            self.receivers = route.receivers.clone();
        }
        if let Some(g) = &route.group_by {
            self.group_by = if g.iter().any(|l| l == "...") { None } else { Some(g.clone()) };
        }
        self.group_wait = route.group_wait.unwrap_or(self.group_wait);
        self.group_interval = route.group_interval.unwrap_or(self.group_interval);
        self.repeat_interval = route.repeat_interval.unwrap_or(self.repeat_interval);
    }

    /// The group key of an alert under this route: the route and the values of its group-by
    /// labels.
    pub fn group_key(&self, labels: &Labels) -> String {
        let parts: Vec<String> = match &self.group_by {
            None => labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect(),
            Some(by) => by.iter().map(|k| format!("{k}={:?}", labels.get(k).map(String::as_str).unwrap_or(""))).collect(),
        };
        format!("{}:{{{}}}", self.id, parts.join(","))
    }

    /// The labels that define the group.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match &self.group_by {
            None => labels.clone(),
            Some(by) => by.iter().filter_map(|k| labels.get(k).map(|v| (k.clone(), v.clone()))).collect(),
        }
    }
}

impl Policies {
    /// Every problem: receivers that do not exist, empty routes, bad timings.
    pub fn check(&self, contact_points: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        if self.root.receivers.is_empty() {
            problems.push("the root route needs a receiver: the contact point of alerts no other route takes".to_string());
        }
        if !self.root.matchers.is_empty() {
            problems.push("the root route takes every alert: it has no matchers".to_string());
        }
        let mut names = Vec::new();
        check_route(&self.root, "root", contact_points, &mut names, &mut problems, 0);
        for (i, rule) in self.inhibit_rules.iter().enumerate() {
            if rule.source_matchers.is_empty() || rule.target_matchers.is_empty() {
                problems.push(format!("inhibit_rules[{i}]: needs source_matchers and target_matchers"));
            }
        }
        problems
    }

    /// The routes that handle an alert with `labels`; `pinned` names a route (a rule's
    /// `policy`), which then handles it whatever its matchers say.
    pub fn routes_for(&self, labels: &Labels, pinned: Option<&str>) -> Vec<RouteSettings> {
        let root = RouteSettings::root(&self.root);
        if let Some(name) = pinned {
            if let Some(found) = find_named(&self.root, &root, name) {
                return vec![found];
            }
        }
        let mut out = Vec::new();
        descend(&self.root, &root, labels, &mut out);
        out
    }
}

const MAX_ROUTE_DEPTH: usize = 16;

fn check_route(route: &Route, at: &str, contact_points: &[String], names: &mut Vec<String>, problems: &mut Vec<String>, depth: usize) {
    if depth > MAX_ROUTE_DEPTH {
        problems.push(format!("{at}: routes nest deeper than {MAX_ROUTE_DEPTH}"));
        return;
    }
    for r in &route.receivers {
        if !contact_points.contains(r) {
            problems.push(format!("{at}: no contact point named {r:?}"));
        }
    }
    if let Some(name) = &route.name {
        if names.contains(name) {
            problems.push(format!("{at}: two routes are named {name:?}"));
        }
        names.push(name.clone());
    }
    for (field, d) in [("group_wait", route.group_wait), ("group_interval", route.group_interval), ("repeat_interval", route.repeat_interval)] {
        if let Some(d) = d {
            if d.ns() < 0 || d > Dur::days(30) {
                problems.push(format!("{at}: {field} must be between 0s and 30d"));
            }
        }
    }
    if route.group_interval.is_some_and(|d| d < Dur::secs(1)) || route.repeat_interval.is_some_and(|d| d < Dur::secs(10)) {
        problems.push(format!("{at}: group_interval must be at least 1s and repeat_interval at least 10s"));
    }
    for (i, child) in route.routes.iter().enumerate() {
        check_route(child, &format!("{at}.routes[{i}]"), contact_points, names, problems, depth + 1);
    }
}

fn descend(route: &Route, settings: &RouteSettings, labels: &Labels, out: &mut Vec<RouteSettings>) {
    let mut matched = false;
    for (i, child) in route.routes.iter().enumerate() {
        if !all_match(&child.matchers, labels) {
            continue;
        }
        matched = true;
        descend(child, &settings.child(i, child), labels, out);
        if !child.continue_matching {
            break;
        }
    }
    if !matched {
        out.push(settings.clone());
    }
}

fn find_named(route: &Route, settings: &RouteSettings, name: &str) -> Option<RouteSettings> {
    if route.name.as_deref() == Some(name) {
        return Some(settings.clone());
    }
    route.routes.iter().enumerate().find_map(|(i, child)| find_named(child, &settings.child(i, child), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const YAML: &str = "
receiver: default-hook
group_wait: 10s
routes:
  - matchers: [team=payments]
    receiver: payments-slack
    continue: true
    group_by: [service]
  - matchers: ['severity=~critical|page']
    receivers: [pagerduty, payments-slack]
    repeat_interval: 1h
    name: paging
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [service]
";

    #[test]
    fn routes_like_alertmanager() {
        let p: Policies = serde_yaml_ng::from_str(YAML).unwrap();
        let cps: Vec<String> = ["default-hook", "payments-slack", "pagerduty"].map(String::from).to_vec();
        assert!(p.check(&cps).is_empty(), "{:?}", p.check(&cps));
        assert!(!p.check(&cps[..1]).is_empty());

        let routes = p.routes_for(&labels(&[("team", "payments"), ("severity", "critical"), ("service", "pay")]), None);
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].receivers, ["payments-slack"]);
        assert_eq!(routes[0].group_by.as_deref(), Some(&["service".to_string()][..]));
        assert_eq!(routes[0].group_wait, Dur::secs(10));
        assert_eq!(routes[1].receivers, ["pagerduty", "payments-slack"]);
        assert_eq!(routes[1].repeat_interval, Dur::hours(1));

        let routes = p.routes_for(&labels(&[("team", "search")]), None);
        assert_eq!(routes.len(), 1);
        assert_eq!((routes[0].id.as_str(), &routes[0].receivers[..]), ("", &["default-hook".to_string()][..]));
        assert_eq!(routes[0].group_key(&labels(&[("rule", "r"), ("service", "결제")])), ":{rule=\"r\",service=\"결제\"}");

        let pinned = p.routes_for(&labels(&[("team", "search")]), Some("paging"));
        assert_eq!(pinned[0].receivers, ["pagerduty", "payments-slack"]);
    }

    #[test]
    fn unknown_settings_are_refused() {
        assert!(serde_yaml_ng::from_str::<Policies>("receiver: a\ngroup_wiat: 1s\n").is_err());
        assert!(serde_yaml_ng::from_str::<Policies>("receiver: a\nroutes: [{receiver: b, mathcers: []}]\n").is_err());
        let p: Policies = serde_yaml_ng::from_str("receiver: a\ninhibit_by_root_cause: false\n").unwrap();
        assert!(!p.inhibit_by_root_cause);
        let back: Policies = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
