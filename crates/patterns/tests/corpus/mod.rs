//! A labelled test corpus for the miner, and its evaluation.
//!
//! Every line comes from a *family*: a format such as `payment {pay} failed: card declined
//! (order_id={order})` whose `{placeholders}` are filled with realistic values. The true
//! template of a line is its format with every placeholder written `<*>` and runs of whitespace
//! as one space. The stream is a weighted random mix of families from a fixed seed, so the same
//! seed gives the same corpus on every machine.
//!
//! Labelling conventions (they are the ones `docs/patterns.md` states):
//! - a variable is a value that changes between occurrences of one event: numbers (with their
//!   ASCII units: `12ms`), ids, addresses, paths, names, quoted strings, key=value values;
//! - punctuation, brackets and quotes around a variable stay constant (`(order_id=<*>)`,
//!   `"<*>"`), and so do Hangul particles and counters after it (`<*>님의`, `<*>원`);
//! - event words are constants even when a family differs from another by one of them.

#![allow(dead_code)]

mod families;

#[allow(unused_imports)]
pub use families::{FAMILIES, HELD_OUT};

/// splitmix64: small, fast and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next_u64() as usize % items.len()]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b"0123456789abcdef"[self.range(0, 15) as usize])).collect()
    }

    pub fn alnum(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[self.range(0, 35) as usize])).collect()
    }
}

/// A template family: a name, a relative frequency and a format.
pub struct Family {
    pub name: &'static str,
    pub weight: u32,
    pub format: &'static str,
}

/// One labelled line.
pub struct Line {
    pub family: usize,
    pub text: String,
    pub template: String,
}

/// Writes one line of `format`, filling placeholders with `value`; `{{` and `}}` are braces.
fn render(format: &str, rng: &mut Rng) -> (String, String) {
    let (mut text, mut template) = (String::new(), String::new());
    let mut rest = format;
    while let Some(at) = rest.find(['{', '}']) {
        text.push_str(&rest[..at]);
        template.push_str(&rest[..at]);
        let brace = &rest[at..at + 1];
        if rest[at + 1..].starts_with(brace) {
            text.push_str(brace);
            template.push_str(brace);
            rest = &rest[at + 2..];
            continue;
        }
        let end = rest[at..].find('}').map(|e| at + e).expect("placeholder closes");
        text.push_str(&families::value(&rest[at + 1..end], rng));
        template.push_str("<*>");
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    template.push_str(rest);
    (text, template.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `n` lines drawn from [`FAMILIES`] by weight, from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Line> {
    generate_from(FAMILIES, seed, n)
}

/// `n` lines drawn from `families` by weight, from `seed`.
pub fn generate_from(families: &[Family], seed: u64, n: usize) -> Vec<Line> {
    let mut rng = Rng::new(seed);
    let total: u64 = families.iter().map(|f| f.weight as u64).sum();
    (0..n)
        .map(|_| {
            let mut x = rng.range(0, total - 1);
            let family = families
                .iter()
                .position(|f| {
                    if x < f.weight as u64 {
                        return true;
                    }
                    x -= f.weight as u64;
                    false
                })
                .unwrap_or(0);
            let (text, template) = render(families[family].format, &mut rng);
            Line { family, text, template }
        })
        .collect()
}

/// Quality of one family.
pub struct FamilyScore {
    pub name: &'static str,
    pub lines: usize,
    /// Predicted groups its lines went to.
    pub groups: usize,
    /// Whether its lines form exactly one predicted group holding nothing else.
    pub grouped: bool,
    /// Lines whose predicted template is the true one.
    pub exact: usize,
    /// The most frequent predicted template that is not the true one, if any.
    pub wrong_template: Option<String>,
    pub true_template: String,
}

/// Quality of a prediction over a corpus.
pub struct Scores {
    pub lines: usize,
    pub families: usize,
    pub predicted_groups: usize,
    /// Share of lines whose predicted group holds exactly the lines of their true group.
    pub grouping_accuracy: f64,
    /// Share of lines whose predicted template equals their true template.
    pub template_exactness: f64,
    pub per_family: Vec<FamilyScore>,
}

/// Scores predicted `(group, template)` pairs, one per line of `lines` (drawn from
/// [`FAMILIES`]).
pub fn evaluate(lines: &[Line], predicted: &[(u64, String)]) -> Scores {
    evaluate_from(FAMILIES, lines, predicted)
}

/// Scores predicted `(group, template)` pairs, one per line of `lines` (drawn from `families`).
pub fn evaluate_from(families: &[Family], lines: &[Line], predicted: &[(u64, String)]) -> Scores {
    use std::collections::{BTreeMap, BTreeSet};
    assert_eq!(lines.len(), predicted.len(), "one prediction per line");
    let mut groups_of_family: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
    let mut families_of_group: BTreeMap<u64, BTreeSet<usize>> = BTreeMap::new();
    for (line, (group, _)) in lines.iter().zip(predicted) {
        groups_of_family.entry(line.family).or_default().insert(*group);
        families_of_group.entry(*group).or_default().insert(line.family);
    }
    let grouped = |family: usize| {
        let groups = &groups_of_family[&family];
        groups.len() == 1 && groups.iter().all(|g| families_of_group[g].len() == 1)
    };
    let (mut correct, mut exact) = (0, 0);
    let mut per_family: BTreeMap<usize, (usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for (line, (_, template)) in lines.iter().zip(predicted) {
        let ok = grouped(line.family);
        correct += usize::from(ok);
        let entry = per_family.entry(line.family).or_default();
        entry.0 += 1;
        if *template == line.template {
            exact += 1;
            entry.1 += 1;
        } else {
            *entry.2.entry(template.clone()).or_default() += 1;
        }
    }
    let per_family = per_family
        .into_iter()
        .map(|(family, (n, n_exact, wrong))| FamilyScore {
            name: families[family].name,
            lines: n,
            groups: groups_of_family[&family].len(),
            grouped: grouped(family),
            exact: n_exact,
            wrong_template: wrong.into_iter().max_by_key(|(t, c)| (*c, std::cmp::Reverse(t.clone()))).map(|(t, _)| t),
            true_template: lines.iter().find(|l| l.family == family).map(|l| l.template.clone()).unwrap_or_default(),
        })
        .collect::<Vec<_>>();
    Scores {
        lines: lines.len(),
        families: groups_of_family.len(),
        predicted_groups: families_of_group.len(),
        grouping_accuracy: correct as f64 / lines.len().max(1) as f64,
        template_exactness: exact as f64 / lines.len().max(1) as f64,
        per_family,
    }
}

/// One `(group, template)` per line.
pub type Predictions = Vec<(u64, String)>;

/// Runs a fresh default miner over `lines` and returns the predictions as returned at each
/// line (*online*) and as the miner holds them after the last line (*final*: merged ids
/// resolved, current templates).
pub fn mine(lines: &[Line]) -> (Predictions, Predictions) {
    let mut miner = trawl_patterns::Miner::default();
    let online: Predictions = lines
        .iter()
        .map(|l| {
            let (id, template) = miner.add(&l.text);
            (id.get(), template.to_string())
        })
        .collect();
    let last = online
        .iter()
        .map(|(id, template)| {
            let id = trawl_patterns::PatternId::new(*id);
            match miner.resolve(id) {
                Some(live) => (live.get(), miner.template(live).unwrap_or_default().to_string()),
                None => (id.get(), template.clone()),
            }
        })
        .collect();
    (online, last)
}
