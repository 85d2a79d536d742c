//! One trace as a tree, with its critical path and its root-cause span.

use std::collections::HashMap;

use serde::Serialize;
use trawl_model::{AttrValue, Record, Span, SpanKind, StatusCode};

/// One span in the assembled tree.
#[derive(Debug, Clone, Serialize)]
pub struct SpanNode {
    pub span: Span,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub depth: usize,
    /// Start relative to the trace start, after clock-skew adjustment (for display).
    pub offset_ns: i64,
    /// Duration not covered by children.
    pub self_time_ns: i64,
    /// The span names a parent that is not in the trace; shown under the root.
    pub orphan: bool,
    /// How far the span was moved for display because it started before its parent (raw
    /// values in `span` are kept).
    pub clock_skew_ns: i64,
    /// Another span of the trace has the same span id (the first one keeps the id).
    pub duplicate: bool,
    pub on_critical_path: bool,
    /// Indexes into [`AssembledTrace::records`] of the records logged in this span.
    pub records: Vec<usize>,
}

impl SpanNode {
    pub fn is_error(&self) -> bool {
        self.span.status_code == StatusCode::Error
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RootCauseKind {
    /// The deepest failing span whose error no child explains.
    Error,
    /// No span failed: the critical-path span with the largest self time.
    Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct RootCause {
    /// Index into [`AssembledTrace::nodes`].
    pub node: usize,
    pub kind: RootCauseKind,
    /// One line for a human: what failed where, and why.
    pub reason: String,
    /// The error kind: exception type, or the masked status message, or `timeout`/`slow`.
    pub error_kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssembledTrace {
    pub trace_id: String,
    /// Depth-first order, children by start time: the order of a waterfall.
    pub nodes: Vec<SpanNode>,
    pub roots: Vec<usize>,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub services: Vec<String>,
    /// Node indexes from the root down.
    pub critical_path: Vec<usize>,
    pub error_spans: Vec<usize>,
    pub root_cause: Option<RootCause>,
    /// Time-ordered.
    pub records: Vec<Record>,
    /// Records whose span id matches no span.
    pub unattached_records: Vec<usize>,
    pub warnings: Vec<String>,
}

fn end(span: &Span) -> i64 {
    span.start_ns.saturating_add(span.duration_ns.max(0))
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AttrValue> {
    span.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Assembles one trace. Never fails: whatever the spans say, the answer is a tree.
pub fn assemble(trace_id: &str, mut spans: Vec<Span>, mut records: Vec<Record>) -> AssembledTrace {
    spans.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then_with(|| a.span_id.cmp(&b.span_id)));
    records.sort_by_key(|r| r.time_ns);
    let n = spans.len();
    let mut warnings = Vec::new();

    // Span id → first span with it.
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(n);
    let mut duplicate = vec![false; n];
    for (i, s) in spans.iter().enumerate() {
        if by_id.contains_key(s.span_id.as_str()) {
            duplicate[i] = true;
        } else {
            by_id.insert(s.span_id.as_str(), i);
        }
    }
    let n_duplicates = duplicate.iter().filter(|d| **d).count();
    if n_duplicates > 0 {
        warnings.push(format!("{n_duplicates} spans repeat a span id already in the trace"));
    }

    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut orphan = vec![false; n];
    let mut true_roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if s.parent_span_id.is_empty() {
            true_roots.push(i);
        } else {
            match by_id.get(s.parent_span_id.as_str()) {
                Some(&p) if p != i => parent[i] = Some(p),
                _ => orphan[i] = true,
            }
        }
    }

    // Cycles: a parent chain that never reaches a root. Walk each chain with a step bound.
    for i in 0..n {
        let mut steps = 0;
        let mut cur = parent[i];
        while let Some(p) = cur {
            if p == i || steps > n {
                parent[i] = None;
                orphan[i] = true;
                break;
            }
            steps += 1;
            cur = parent[p];
        }
    }

    // The main root: the longest true root, else the earliest span.
    let main_root = true_roots
        .iter()
        .copied()
        .max_by(|&a, &b| spans[a].duration_ns.cmp(&spans[b].duration_ns).then(b.cmp(&a)))
        .or(if n > 0 { Some(0) } else { None });
    let n_orphans = orphan.iter().filter(|o| **o).count();
    if n_orphans > 0 {
        warnings.push(format!("{n_orphans} spans name a parent that is not in the trace; shown under the root"));
    }
    if let Some(root) = main_root {
        for i in 0..n {
            if orphan[i] && i != root {
                parent[i] = Some(root);
            }
        }
    }
    let mut roots: Vec<usize> = (0..n).filter(|&i| parent[i].is_none()).collect();
    roots.sort_by_key(|&i| (Some(i) != main_root, spans[i].start_ns));

    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        if let Some(p) = parent[i] {
            children[p].push(i);
        }
    }
    for c in &mut children {
        c.sort_by_key(|&i| (spans[i].start_ns, i));
    }

    // Depth-first order, with clock-skew adjustment propagated from parents.
    let mut order = Vec::with_capacity(n);
    let mut depth = vec![0usize; n];
    let mut shift = vec![0i64; n];
    let mut stack: Vec<usize> = roots.iter().rev().copied().collect();
    while let Some(i) = stack.pop() {
        order.push(i);
        if let Some(p) = parent[i] {
            depth[i] = depth[p] + 1;
            let parent_start = spans[p].start_ns + shift[p];
            let start = spans[i].start_ns + shift[p];
            shift[i] = shift[p] + (parent_start - start).max(0);
        }
        for &c in children[i].iter().rev() {
            stack.push(c);
        }
    }
    let n_skewed = (0..n).filter(|&i| parent[i].is_some() && !orphan[i] && shift[i] != parent[i].map_or(0, |p| shift[p])).count();
    if n_skewed > 0 {
        warnings.push(format!("{n_skewed} spans start before their parent (clock skew); moved for display"));
    }

    let start_ns = (0..n).map(|i| spans[i].start_ns + shift[i]).min().unwrap_or(0);
    let end_ns = (0..n).map(|i| end(&spans[i]) + shift[i]).max().unwrap_or(start_ns);

    // Self time: the span's interval minus the union of its children's (clipped to it).
    let self_time: Vec<i64> = (0..n)
        .map(|i| {
            let (s, e) = (spans[i].start_ns + shift[i], end(&spans[i]) + shift[i]);
            let mut intervals: Vec<(i64, i64)> = children[i]
                .iter()
                .map(|&c| ((spans[c].start_ns + shift[c]).max(s), (end(&spans[c]) + shift[c]).min(e)))
                .filter(|(a, b)| b > a)
                .collect();
            intervals.sort_unstable();
            let mut covered = 0;
            let mut cur: Option<(i64, i64)> = None;
            for (a, b) in intervals {
                match cur {
                    Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
                    Some((ca, cb)) => {
                        covered += cb - ca;
                        cur = Some((a, b));
                    }
                    None => cur = Some((a, b)),
                }
            }
            if let Some((ca, cb)) = cur {
                covered += cb - ca;
            }
            (e - s - covered).max(0)
        })
        .collect();

    // Critical path: from the main root, follow the child that finished last.
    let mut critical_path = Vec::new();
    let mut cur = main_root;
    while let Some(i) = cur {
        critical_path.push(i);
        cur = children[i].iter().copied().max_by_key(|&c| (end(&spans[c]) + shift[c], spans[c].duration_ns, std::cmp::Reverse(c)));
    }

    // Records to spans.
    let mut node_records: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut unattached = Vec::new();
    for (ri, r) in records.iter().enumerate() {
        match by_id.get(r.span_id.as_str()) {
            Some(&i) if !r.span_id.is_empty() => node_records[i].push(ri),
            _ => unattached.push(ri),
        }
    }

    let root_cause = find_root_cause(&spans, &parent, &depth, &shift, &self_time, &critical_path, &records, &node_records);

    // Re-index everything by display order.
    let mut position = vec![0usize; n];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let on_path: std::collections::HashSet<usize> = critical_path.iter().copied().collect();
    let mut services: Vec<String> = spans.iter().map(|s| s.service.clone()).chain(records.iter().map(|r| r.service.clone())).collect();
    services.sort();
    services.dedup();
    let mut slots: Vec<Option<Span>> = spans.into_iter().map(Some).collect();
    let nodes: Vec<SpanNode> = order
        .iter()
        .map(|&i| SpanNode {
            span: slots[i].take().expect("each span is placed once"),
            parent: parent[i].map(|p| position[p]),
            children: children[i].iter().map(|&c| position[c]).collect(),
            depth: depth[i],
            offset_ns: 0,
            self_time_ns: self_time[i],
            orphan: orphan[i],
            clock_skew_ns: shift[i] - parent[i].map_or(0, |p| shift[p]),
            duplicate: duplicate[i],
            on_critical_path: on_path.contains(&i),
            records: std::mem::take(&mut node_records[i]),
        })
        .zip(order.iter())
        .map(|(mut node, &i)| {
            node.offset_ns = node.span.start_ns + shift[i] - start_ns;
            node
        })
        .collect();
    let error_spans = (0..nodes.len()).filter(|&p| nodes[p].is_error()).collect();
    AssembledTrace {
        trace_id: trace_id.to_string(),
        roots: roots.iter().map(|&r| position[r]).collect(),
        start_ns,
        duration_ns: end_ns - start_ns,
        services,
        critical_path: critical_path.iter().map(|&i| position[i]).collect(),
        error_spans,
        root_cause: root_cause.map(|rc| RootCause { node: position[rc.node], ..rc }),
        nodes,
        records,
        unattached_records: unattached,
        warnings,
    }
}

/// Text of the first exception event of a span: `Type: message`.
fn exception(span: &Span) -> Option<(String, String)> {
    let event = span.events.iter().find(|e| e.name == "exception")?;
    let get = |k: &str| event.attributes.iter().find(|(key, _)| key == k).map(|(_, v)| v.to_text().into_owned());
    Some((get("exception.type").unwrap_or_default(), get("exception.message").unwrap_or_default()))
}

/// What a client span was calling, from the usual semantic-convention attributes.
fn peer(span: &Span) -> Option<String> {
    for key in ["peer.service", "server.address", "net.peer.name", "db.system", "messaging.destination.name", "rpc.service"] {
        if let Some(v) = attr(span, key) {
            return Some(v.to_text().into_owned());
        }
    }
    attr(span, "http.url").or_else(|| attr(span, "url.full")).map(|v| {
        let url = v.to_text();
        url.split("://").nth(1).unwrap_or(&url).split(['/', '?']).next().unwrap_or("").to_string()
    })
}

fn ms(ns: i64) -> String {
    let ms = ns as f64 / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[allow(clippy::too_many_arguments)]
fn find_root_cause(
    spans: &[Span],
    parent: &[Option<usize>],
    depth: &[usize],
    shift: &[i64],
    self_time: &[i64],
    critical_path: &[usize],
    records: &[Record],
    node_records: &[Vec<usize>],
) -> Option<RootCause> {
    let n = spans.len();
    let is_error = |i: usize| spans[i].status_code == StatusCode::Error;
    // Does the subtree below i hold an error?
    let mut error_below = vec![false; n];
    let mut by_depth: Vec<usize> = (0..n).collect();
    by_depth.sort_by_key(|&i| std::cmp::Reverse(depth[i]));
    for &i in &by_depth {
        if let Some(p) = parent[i] {
            if is_error(i) || error_below[i] {
                error_below[p] = true;
            }
        }
    }
    let candidates: Vec<usize> = (0..n).filter(|&i| is_error(i) && !error_below[i]).collect();
    if let Some(&best) = candidates.iter().max_by_key(|&&i| {
        // Prefer the failure that propagated: more failing ancestors; then deeper; then the
        // one that ended first (the first thing to break).
        let mut failing_ancestors = 0;
        let mut cur = parent[i];
        while let Some(p) = cur {
            if is_error(p) {
                failing_ancestors += 1;
            }
            cur = parent[p];
        }
        (failing_ancestors, depth[i], std::cmp::Reverse(end(&spans[i]) + shift[i]), std::cmp::Reverse(i))
    }) {
        let s = &spans[best];
        let (error_kind, detail) = match exception(s) {
            Some((ty, msg)) if !ty.is_empty() => (ty.clone(), if msg.is_empty() { ty } else { format!("{ty}: {msg}") }),
            _ if !s.status_message.is_empty() => (crate::mask_message(&s.status_message), s.status_message.clone()),
            _ => {
                // No message on the span: the first error record logged in it.
                let logged = node_records[best]
                    .iter()
                    .map(|&r| &records[r])
                    .find(|r| r.level >= trawl_model::Level::Error)
                    .map(|r| r.body.lines().next().unwrap_or("").to_string());
                match logged {
                    Some(body) => (crate::mask_message(&body), body),
                    None => ("error".to_string(), "error status".to_string()),
                }
            }
        };
        let timed_out = detail.to_lowercase().contains("timeout")
            || detail.to_lowercase().contains("timed out")
            || detail.to_lowercase().contains("deadline");
        let error_kind = if timed_out && !error_kind.to_lowercase().contains("timeout") && !error_kind.to_lowercase().contains("deadline") {
            format!("timeout: {error_kind}")
        } else {
            error_kind
        };
        let target = if s.kind == SpanKind::Client || s.kind == SpanKind::Producer {
            peer(s).map(|p| format!(" calling {p}")).unwrap_or_default()
        } else {
            String::new()
        };
        let verb = if timed_out { format!("timed out after {}", ms(s.duration_ns)) } else { format!("failed after {}", ms(s.duration_ns)) };
        let reason = format!("{} `{}`{target} {verb}: {}", s.service, s.name, one_line(&detail, 200));
        return Some(RootCause { node: best, kind: RootCauseKind::Error, reason, error_kind });
    }
    // No failure: the slowest piece of work on the critical path.
    let &slowest = critical_path.iter().max_by_key(|&&i| (self_time[i], std::cmp::Reverse(i)))?;
    let s = &spans[slowest];
    let total = critical_path.first().map(|&r| spans[r].duration_ns).unwrap_or(s.duration_ns).max(1);
    let target = peer(s).map(|p| format!(" calling {p}")).unwrap_or_default();
    let reason = format!(
        "{} `{}`{target} spent {} of the trace's {} in itself ({:.0} %)",
        s.service,
        s.name,
        ms(self_time[slowest]),
        ms(total),
        self_time[slowest] as f64 * 100.0 / total as f64
    );
    Some(RootCause { node: slowest, kind: RootCauseKind::Latency, reason, error_kind: "slow".to_string() })
}

fn one_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max_chars {
        format!("{}…", line.chars().take(max_chars).collect::<String>())
    } else {
        line.to_string()
    }
}
