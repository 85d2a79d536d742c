//! Syslog: RFC 5424 and RFC 3164 (BSD) messages, one per UDP datagram, or cut from a TCP
//! stream by [`SyslogFramer`] (RFC 6587).
//!
//! [`parse_syslog`] never fails: a syslog sender cannot be told that a message was refused, so
//! a message that does not parse is kept as raw text with the reason in `syslog.parse_error`,
//! and a message over the record limits is cut (`syslog.truncated=true`) rather than dropped.
//!
//! Mapping:
//! - service: APP-NAME (RFC 5424) or TAG (RFC 3164), else `syslog`;
//! - host: HOSTNAME, else the peer given by the caller;
//! - level and severity number from the severity (PRI & 7): emerg, alert, crit → FATAL (23,
//!   22, 21), err → ERROR (17), warning → WARN (13), notice → INFO (10, OpenTelemetry's INFO2),
//!   info → INFO (9), debug → DEBUG (5);
//! - attributes: `syslog.format` (`rfc5424`, `rfc3164`, or `raw` for text without a syslog
//!   header), `syslog.facility` and `syslog.severity` (names such as `local0`, `err`),
//!   `syslog.version`, `syslog.procid` (also `process.pid` when it is a number),
//!   `syslog.msgid`, and each structured-data parameter as `<SD-ID>.<name>`
//!   (`timeQuality.tzKnown`, `meta.sequenceId`);
//! - body: MSG without its UTF-8 BOM; invalid UTF-8 anywhere is replaced by U+FFFD.
//!
//! Times: an RFC 5424 TIMESTAMP is RFC 3339, and NILVALUE means the received time. An RFC 3164
//! `Mmm dd hh:mm:ss` has neither year nor zone: it is taken as UTC, in the year of the received
//! time, or the year before when that would put it more than a day after the received time (a
//! December message received in January). Also accepted in RFC 3164: fractional seconds, a
//! year after the day (`Mmm dd yyyy hh:mm:ss`), an RFC 3339 timestamp instead (rsyslog's
//! high-precision forwarding format), a missing HOSTNAME (logger writing to a local socket)
//! and a missing timestamp (the rest is then TAG and MSG). A message without PRI gets PRI 13,
//! user.notice (RFC 3164 §4.3.3); it is read as RFC 3164 when it starts with a timestamp, else
//! kept whole as raw text. Far-off times are handled by [`finish_record`].

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};
use trawl_model::{
    parse_time_str, AttrValue, Attributes, Level, Record, MAX_FIELDS, MAX_RECORD_BYTES,
};

use crate::normalize::{finish_record, push_field};

/// The default largest message [`SyslogFramer`] keeps whole.
pub const DEFAULT_MAX_SYSLOG_MESSAGE_BYTES: usize = 64 * 1024;
/// Attribute with the reason a message was kept as raw text.
pub const SYSLOG_PARSE_ERROR_ATTR: &str = "syslog.parse_error";
/// Attribute set to `true` when a message was cut.
pub const SYSLOG_TRUNCATED_ATTR: &str = "syslog.truncated";

/// PRI of a message that has none: user.notice (RFC 3164 §4.3.3).
const DEFAULT_PRI: u8 = 13;
const FALLBACK_SERVICE: &str = "syslog";
const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// An RFC 3164 TAG longer than this is not a tag (RFC 3164 says 32; real ones run longer).
const MAX_TAG_BYTES: usize = 128;
/// A PID in brackets longer than this is not a PID.
const MAX_PID_BYTES: usize = 64;
/// Host and service are cut to this when a record has to shrink (RFC 5424's HOSTNAME limit).
const MAX_NAME_BYTES: usize = 255;
/// What a record is cut down to when it is too large: below [`MAX_RECORD_BYTES`], leaving room
/// for the attributes added afterwards (`syslog.truncated`, `trawl.time_adjusted`).
const BYTE_BUDGET: usize = MAX_RECORD_BYTES - 512;
/// The smallest maximum message size a framer accepts, so that an octet count always fits.
const MIN_MESSAGE_BYTES: usize = 16;
/// An octet count with more digits than this is not one (10 digits already exceed 4 GiB).
const MAX_COUNT_DIGITS: usize = 10;

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];
const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// Parses one syslog message (a UDP datagram, or a frame from [`SyslogFramer`]) into a finished
/// record; never fails (see the module docs). Trailing line feeds, carriage returns and NULs are
/// ignored. `received_ns` is the observed time, the time of messages without one, and the clock
/// of [`finish_record`]; `peer_host` is the host when the message names none.
pub fn parse_syslog(line: &[u8], received_ns: i64, peer_host: Option<&str>) -> Record {
    parse_message(line, received_ns, peer_host, false)
}

/// [`parse_syslog`] for a frame, marking the record `syslog.truncated=true` when the framer
/// had to cut the message.
pub fn parse_syslog_frame(
    frame: &SyslogFrame,
    received_ns: i64,
    peer_host: Option<&str>,
) -> Record {
    parse_message(&frame.message, received_ns, peer_host, frame.truncated)
}

/// What a message's header said; `None` is absent or NILVALUE.
#[derive(Default)]
struct Header<'a> {
    format: &'static str,
    time_ns: Option<i64>,
    hostname: Option<&'a [u8]>,
    app_name: Option<&'a [u8]>,
    procid: Option<&'a [u8]>,
    msgid: Option<&'a [u8]>,
    version: Option<i64>,
    structured_data: Attributes,
    message: &'a [u8],
}

fn parse_message(
    line: &[u8],
    received_ns: i64,
    peer_host: Option<&str>,
    truncated: bool,
) -> Record {
    let line = trim_line_end(line);
    let (pri, header) = match split_pri(line) {
        Err(reason) => (None, Err(reason)),
        Ok(None) => (Some(DEFAULT_PRI), Ok(parse_without_pri(line, received_ns))),
        Ok(Some((pri, rest))) => {
            let header = match rfc5424_version(rest) {
                Some(_) => parse_rfc5424(rest),
                None => parse_rfc3164(rest, received_ns),
            };
            (Some(pri), header)
        }
    };
    let mut record = match header {
        Ok(header) => header_record(header, pri, received_ns, peer_host),
        Err(reason) => raw_record(line, pri, reason, received_ns, peer_host),
    };
    fit(&mut record, truncated);
    // After `fit` the record is within every limit; were it not, finish_record has still
    // normalised it before refusing, and syslog keeps it anyway.
    let _ = finish_record(&mut record, received_ns);
    record
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r' | b'\0'))
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// `<PRI>` at the start: `Ok(None)` when there is none, an error when it is malformed.
fn split_pri(line: &[u8]) -> Result<Option<(u8, &[u8])>, String> {
    let Some(rest) = line.strip_prefix(b"<") else {
        return Ok(None);
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b'>') {
        return Err("invalid pri: expected '<', 1 to 3 digits and '>'".to_string());
    }
    let text = String::from_utf8_lossy(&rest[..digits]);
    match text.parse::<u16>() {
        Ok(pri) if digits <= 3 && pri <= 191 => Ok(Some((pri as u8, &rest[digits + 1..]))),
        _ => Err(format!("invalid pri {}: the largest is 191", short(&text))),
    }
}

/// The VERSION of an RFC 5424 header (`1 ` after the PRI), if there is one.
fn rfc5424_version(rest: &[u8]) -> Option<i64> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let valid = (1..=2).contains(&digits) && rest[0] != b'0' && rest.get(digits) == Some(&b' ');
    valid.then(|| {
        rest[..digits]
            .iter()
            .fold(0, |n, d| n * 10 + i64::from(d - b'0'))
    })
}

/// `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]`.
fn parse_rfc5424(rest: &[u8]) -> Result<Header<'_>, String> {
    let version = rfc5424_version(rest);
    let mut fields = Fields {
        bytes: rest,
        pos: 0,
    };
    fields.token("version")?;
    let timestamp = nil(fields.token("timestamp")?);
    let time_ns = match timestamp {
        None => None,
        Some(t) => {
            let text = String::from_utf8_lossy(t);
            Some(
                parse_time_str(&text)
                    .ok_or_else(|| format!("invalid rfc5424 timestamp {}", short(&text)))?,
            )
        }
    };
    let hostname = nil(fields.token("hostname")?);
    let app_name = nil(fields.token("app-name")?);
    let procid = nil(fields.token("procid")?);
    let msgid = nil(fields.token("msgid")?);
    let mut structured_data = Vec::new();
    let after = parse_structured_data(fields.rest(), &mut structured_data)?;
    let message = after.strip_prefix(b" ").unwrap_or(after);
    Ok(Header {
        format: "rfc5424",
        time_ns,
        hostname,
        app_name,
        procid,
        msgid,
        version,
        structured_data,
        message: strip_bom(message),
    })
}

/// The space-separated header fields of RFC 5424.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// The next field and the space after it.
    fn token(&mut self, what: &str) -> Result<&'a [u8], String> {
        let rest = &self.bytes[self.pos.min(self.bytes.len())..];
        if rest.is_empty() {
            return Err(format!("rfc5424 header ends before the {what}"));
        }
        let len = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        if len == 0 {
            return Err(format!("empty rfc5424 {what}"));
        }
        self.pos += len + 1;
        Ok(&rest[..len])
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos.min(self.bytes.len())..]
    }
}

fn nil(field: &[u8]) -> Option<&[u8]> {
    (field != b"-").then_some(field)
}

/// STRUCTURED-DATA into `out` as `<SD-ID>.<name>` attributes; returns what follows it. To be
/// lenient, a message with no STRUCTURED-DATA at all (neither `-` nor `[`) starts right away.
fn parse_structured_data<'a>(bytes: &'a [u8], out: &mut Attributes) -> Result<&'a [u8], String> {
    if bytes == b"-" || bytes.starts_with(b"- ") {
        return Ok(&bytes[1..]);
    }
    let mut pos = 0;
    while bytes.get(pos) == Some(&b'[') {
        pos = parse_sd_element(bytes, pos + 1, out)?;
    }
    Ok(&bytes[pos..])
}

/// One `[SD-ID name="value" ...]` from just after its `[`; returns the position after its `]`.
/// In values, `\"`, `\\` and `\]` are escapes and any other backslash is kept (RFC 5424 §6.3.3).
fn parse_sd_element(bytes: &[u8], mut pos: usize, out: &mut Attributes) -> Result<usize, String> {
    let unterminated = || "unterminated structured data".to_string();
    let id_end = pos
        + bytes[pos..]
            .iter()
            .position(|b| matches!(b, b' ' | b']' | b'=' | b'"'))
            .unwrap_or(bytes.len() - pos);
    if id_end == pos {
        return Err(format!("empty sd-id at byte {pos} of the structured data"));
    }
    let id = String::from_utf8_lossy(&bytes[pos..id_end]).into_owned();
    pos = id_end;
    loop {
        match bytes.get(pos) {
            None => return Err(unterminated()),
            Some(b']') => return Ok(pos + 1),
            Some(b' ') => pos += 1,
            Some(_) => {
                let name_end = pos
                    + bytes[pos..]
                        .iter()
                        .position(|b| matches!(b, b' ' | b']' | b'=' | b'"'))
                        .unwrap_or(bytes.len() - pos);
                let name = &bytes[pos..name_end];
                match (bytes.get(name_end), bytes.get(name_end + 1)) {
                    (Some(b'='), Some(b'"')) if !name.is_empty() => {}
                    (None, _) | (Some(b'='), None) => return Err(unterminated()),
                    _ => {
                        return Err(format!(
                            "invalid sd-param in [{id}]: expected name=\"value\""
                        ))
                    }
                }
                let (value, end) = sd_value(bytes, name_end + 2).ok_or_else(unterminated)?;
                let key = format!("{id}.{}", String::from_utf8_lossy(name));
                push_field(out, key, AttrValue::Str(lossy(&value)));
                pos = end;
            }
        }
    }
}

/// A PARAM-VALUE from just after its opening quote: the unescaped bytes and the position
/// after the closing quote, or `None` when it does not close.
fn sd_value(bytes: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut value = Vec::new();
    loop {
        match *bytes.get(pos)? {
            b'"' => return Some((value, pos + 1)),
            b'\\' => match bytes.get(pos + 1) {
                Some(&c @ (b'"' | b'\\' | b']')) => {
                    value.push(c);
                    pos += 2;
                }
                _ => {
                    value.push(b'\\');
                    pos += 1;
                }
            },
            b => {
                value.push(b);
                pos += 1;
            }
        }
    }
}

/// `TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG`, tolerating what the module docs list.
fn parse_rfc3164(rest: &[u8], received_ns: i64) -> Result<Header<'_>, String> {
    let (time_ns, rest) = match rfc3164_timestamp(rest, received_ns)? {
        Some((ns, rest)) => (Some(ns), rest),
        None => (None, rest),
    };
    // Without a timestamp, RFC 3164 §4.3.3 says the rest is all content: no HOSTNAME.
    let (hostname, rest) = if time_ns.is_some() {
        split_hostname(rest)
    } else {
        (None, rest)
    };
    let (app_name, procid, message) = split_tag(rest);
    Ok(Header {
        format: "rfc3164",
        time_ns,
        hostname,
        app_name,
        procid,
        message: strip_bom(message),
        ..Header::default()
    })
}

/// A message without PRI: RFC 3164 when it starts with a timestamp, else raw text.
fn parse_without_pri(line: &[u8], received_ns: i64) -> Header<'_> {
    match parse_rfc3164(line, received_ns) {
        Ok(header) if header.time_ns.is_some() => header,
        _ => Header {
            format: "raw",
            message: line,
            ..Header::default()
        },
    }
}

/// An RFC 3164 timestamp and what follows its space: `Ok(None)` when the message does not
/// start with one, an error when it starts like one (a month and a day, or `yyyy-`) but is not.
fn rfc3164_timestamp(bytes: &[u8], received_ns: i64) -> Result<Option<(i64, &[u8])>, String> {
    if bytes.len() > 4 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
        let end = bytes.iter().position(|b| *b == b' ').unwrap_or(bytes.len());
        let text = String::from_utf8_lossy(&bytes[..end]);
        let ns = parse_time_str(&text)
            .ok_or_else(|| format!("invalid rfc3164 timestamp {}", short(&text)))?;
        return Ok(Some((ns, skip_space(&bytes[end..]))));
    }
    let Some(month) = bytes.get(..3).and_then(month_number) else {
        return Ok(None);
    };
    let mut pos = 4;
    if bytes.get(3) != Some(&b' ') {
        return Ok(None);
    }
    if bytes.get(pos) == Some(&b' ') {
        pos += 1;
    }
    if !bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        return Ok(None);
    }
    let invalid = || {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(24)]);
        format!("invalid rfc3164 timestamp {}", short(&head))
    };
    let stamp = Rfc3164Stamp::read(bytes, pos, month).ok_or_else(invalid)?;
    let ns = stamp.to_ns(received_ns).ok_or_else(invalid)?;
    Ok(Some((ns, skip_space(&bytes[stamp.end..]))))
}

/// The fields of `Mmm dd [yyyy ]hh:mm:ss[.fff]`.
struct Rfc3164Stamp {
    year: Option<i32>,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanos: u32,
    /// Position just after the timestamp.
    end: usize,
}

impl Rfc3164Stamp {
    /// Reads from the day at `pos` (the month is already read).
    fn read(bytes: &[u8], mut pos: usize, month: u8) -> Option<Rfc3164Stamp> {
        let day = digits(bytes, &mut pos, 1, 2)? as u8;
        expect_byte(bytes, &mut pos, b' ')?;
        let year = match bytes.get(pos + 4) {
            Some(b' ') if bytes[pos..pos + 4].iter().all(u8::is_ascii_digit) => {
                let year = digits(bytes, &mut pos, 4, 4)? as i32;
                pos += 1;
                Some(year)
            }
            _ => None,
        };
        let hour = digits(bytes, &mut pos, 2, 2)? as u8;
        expect_byte(bytes, &mut pos, b':')?;
        let minute = digits(bytes, &mut pos, 2, 2)? as u8;
        expect_byte(bytes, &mut pos, b':')?;
        let second = digits(bytes, &mut pos, 2, 2)? as u8;
        let mut nanos = 0;
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            let start = pos;
            nanos = digits(bytes, &mut pos, 1, 9)?;
            nanos *= 10u32.pow(9 - (pos - start) as u32);
        }
        if !matches!(bytes.get(pos), None | Some(b' ')) {
            return None;
        }
        Some(Rfc3164Stamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
            end: pos,
        })
    }

    /// Unix nanoseconds, UTC; without a year, the year of `received_ns` or the one before
    /// (see the module docs).
    fn to_ns(&self, received_ns: i64) -> Option<i64> {
        if let Some(year) = self.year {
            return self.at_year(year);
        }
        let this_year = OffsetDateTime::from_unix_timestamp_nanos(i128::from(received_ns))
            .map(|t| t.year())
            .unwrap_or(1970);
        match self.at_year(this_year) {
            Some(ns) if ns <= received_ns.saturating_add(DAY_NS) => Some(ns),
            this => self.at_year(this_year - 1).or(this),
        }
    }

    fn at_year(&self, year: i32) -> Option<i64> {
        let date =
            Date::from_calendar_date(year, Month::try_from(self.month).ok()?, self.day).ok()?;
        let time = Time::from_hms_nano(self.hour, self.minute, self.second, self.nanos).ok()?;
        i64::try_from(
            PrimitiveDateTime::new(date, time)
                .assume_utc()
                .unix_timestamp_nanos(),
        )
        .ok()
    }
}

/// Reads `min..=max` ASCII digits at `pos`.
fn digits(bytes: &[u8], pos: &mut usize, min: usize, max: usize) -> Option<u32> {
    let n = bytes[(*pos).min(bytes.len())..]
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    let value = bytes[*pos..*pos + n]
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    *pos += n;
    Some(value)
}

fn expect_byte(bytes: &[u8], pos: &mut usize, byte: u8) -> Option<()> {
    (bytes.get(*pos) == Some(&byte)).then(|| *pos += 1)
}

fn month_number(name: &[u8]) -> Option<u8> {
    let i = MONTHS
        .iter()
        .position(|m| name.eq_ignore_ascii_case(&m[..]))?;
    Some(i as u8 + 1)
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b" ").unwrap_or(bytes)
}

/// The HOSTNAME of an RFC 3164 header, if the first word looks like one: letters, digits,
/// `.`, `-`, `_` and `:` (IPv6), not ending with `:` (that is a TAG), and followed by more.
/// `-` (what logger sends when it has no hostname) is no hostname.
fn split_hostname(rest: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some(end) = rest.iter().position(|b| *b == b' ') else {
        return (None, rest);
    };
    let word = &rest[..end];
    if word == b"-" {
        return (None, &rest[end + 1..]);
    }
    let is_host = !word.is_empty()
        && !word.ends_with(b":")
        && word
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(b));
    if is_host {
        (Some(word), &rest[end + 1..])
    } else {
        (None, rest)
    }
}

/// `TAG[PID]: MSG`, `TAG: MSG` or `TAG[PID] MSG`; without one of those shapes there is no TAG
/// and everything is MSG. Returns the tag, the PID and the message.
fn split_tag(rest: &[u8]) -> (Option<&[u8]>, Option<&[u8]>, &[u8]) {
    let no_tag = (None, None, rest);
    let Some(end) = rest
        .iter()
        .take(MAX_TAG_BYTES + 1)
        .position(|b| !is_tag_byte(*b))
    else {
        return no_tag;
    };
    if end == 0 {
        return no_tag;
    }
    let tag = &rest[..end];
    let after = &rest[end + 1..];
    match rest[end] {
        b'[' => {
            let Some(close) = after
                .iter()
                .take(MAX_PID_BYTES + 1)
                .position(|b| *b == b']')
            else {
                return no_tag;
            };
            let pid = &after[..close];
            let message = &after[close + 1..];
            let message = message.strip_prefix(b":").unwrap_or(message);
            (
                Some(tag),
                (!pid.is_empty()).then_some(pid),
                skip_space(message),
            )
        }
        b':' if matches!(after.first(), None | Some(b' ')) => (Some(tag), None, skip_space(after)),
        _ => no_tag,
    }
}

fn is_tag_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_./@()+#".contains(&b)
}

fn strip_bom(message: &[u8]) -> &[u8] {
    message.strip_prefix(b"\xef\xbb\xbf").unwrap_or(message)
}

/// A record from a parsed header.
fn header_record(
    header: Header<'_>,
    pri: Option<u8>,
    received_ns: i64,
    peer_host: Option<&str>,
) -> Record {
    let mut record = Record::new(header.time_ns.unwrap_or(received_ns));
    record.observed_time_ns = received_ns;
    record.service = header
        .app_name
        .map(lossy)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| FALLBACK_SERVICE.to_string());
    record.host = header
        .hostname
        .map(lossy)
        .or_else(|| peer_host.map(str::to_string))
        .unwrap_or_default();
    record.body = lossy(header.message);
    let mut attributes = vec![text_attr("syslog.format", header.format)];
    if let Some(pri) = pri {
        apply_pri(&mut record, &mut attributes, pri);
    }
    if let Some(version) = header.version {
        attributes.push(("syslog.version".to_string(), AttrValue::Int(version)));
    }
    if let Some(procid) = header.procid.map(lossy) {
        if let Ok(pid) = procid.parse::<i64>() {
            attributes.push(("process.pid".to_string(), AttrValue::Int(pid)));
        }
        attributes.push(("syslog.procid".to_string(), AttrValue::Str(procid)));
    }
    if let Some(msgid) = header.msgid {
        attributes.push(("syslog.msgid".to_string(), AttrValue::Str(lossy(msgid))));
    }
    attributes.extend(header.structured_data);
    record.attributes = attributes;
    record
}

/// The whole line as the body of a record, with the reason it did not parse.
fn raw_record(
    line: &[u8],
    pri: Option<u8>,
    reason: String,
    received_ns: i64,
    peer_host: Option<&str>,
) -> Record {
    let mut record = Record::new(received_ns);
    record.service = FALLBACK_SERVICE.to_string();
    record.host = peer_host.unwrap_or_default().to_string();
    record.body = lossy(line);
    let mut attributes = vec![text_attr("syslog.format", "raw")];
    if let Some(pri) = pri {
        apply_pri(&mut record, &mut attributes, pri);
    }
    attributes.push((SYSLOG_PARSE_ERROR_ATTR.to_string(), AttrValue::Str(reason)));
    record.attributes = attributes;
    record
}

/// Level, severity number, facility and severity names from a PRI (at most 191).
fn apply_pri(record: &mut Record, attributes: &mut Attributes, pri: u8) {
    let severity = pri & 7;
    let (level, number) = match severity {
        0 => (Level::Fatal, 23),
        1 => (Level::Fatal, 22),
        2 => (Level::Fatal, 21),
        3 => (Level::Error, 17),
        4 => (Level::Warn, 13),
        5 => (Level::Info, 10),
        6 => (Level::Info, 9),
        _ => (Level::Debug, 5),
    };
    record.level = level;
    record.severity_number = number;
    let facility = FACILITIES
        .get(usize::from(pri >> 3))
        .copied()
        .unwrap_or("unknown");
    attributes.push(text_attr("syslog.facility", facility));
    let severity = SEVERITIES
        .get(usize::from(severity))
        .copied()
        .unwrap_or("unknown");
    attributes.push(text_attr("syslog.severity", severity));
}

/// Cuts a record down to what [`finish_record`] accepts, so that it is kept: attributes past
/// the field limit are dropped; then, if it is still too large, host and service are cut to
/// 255 bytes, attributes are dropped from the end (structured data first) and the body is cut.
/// Anything cut, or a frame that was cut already, sets `syslog.truncated=true`.
fn fit(record: &mut Record, mut truncated: bool) {
    // Room for `syslog.truncated` and `trawl.time_adjusted`.
    let max_fields = MAX_FIELDS - 2;
    if record.attributes.len() > max_fields {
        record.attributes.truncate(max_fields);
        truncated = true;
    }
    if record.approx_bytes() > BYTE_BUDGET {
        truncated = true;
        truncate_at_char(&mut record.host, MAX_NAME_BYTES);
        truncate_at_char(&mut record.service, MAX_NAME_BYTES);
        while record.approx_bytes() - record.body.len() > BYTE_BUDGET
            && record.attributes.pop().is_some()
        {}
        let room = BYTE_BUDGET.saturating_sub(record.approx_bytes() - record.body.len());
        truncate_at_char(&mut record.body, room);
    }
    if truncated {
        record
            .attributes
            .push((SYSLOG_TRUNCATED_ATTR.to_string(), AttrValue::Bool(true)));
    }
}

fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn text_attr(key: &str, value: &str) -> (String, AttrValue) {
    (key.to_string(), AttrValue::Str(value.to_string()))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// At most 64 characters of a text, quoted, for reasons.
fn short(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{:?}...", &text[..i]),
        None => format!("{text:?}"),
    }
}

/// One message cut from a TCP stream by [`SyslogFramer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogFrame {
    pub message: Vec<u8>,
    /// The message was longer than the framer's maximum and was cut, or the connection closed
    /// inside an octet-counted message.
    pub truncated: bool,
}

/// Cuts a TCP syslog stream into messages (RFC 6587), incrementally: feed it what each read of
/// the socket returns with [`push`](SyslogFramer::push), and call
/// [`finish`](SyslogFramer::finish) when the connection closes.
///
/// Each frame is octet-counted (`MSG-LEN SP MSG`) when it starts with a digit other than 0 and
/// the digits are followed by a space, else non-transparent: up to a line feed or a NUL (a
/// carriage return before the line feed is dropped). Senders may mix both, frame by frame, as
/// rsyslog allows; empty lines between frames are skipped. A message longer than the maximum is
/// cut there and emitted as truncated, and the rest of it is skipped: up to the count for an
/// octet-counted frame, up to the next terminator for a line. The internal buffer never holds
/// more than one message of the maximum size. The output does not depend on how the bytes are
/// split between calls.
#[derive(Debug, Clone)]
pub struct SyslogFramer {
    max_message_bytes: usize,
    state: FramerState,
    /// The message being read (or the digits of an octet count).
    buffer: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FramerState {
    /// Between frames.
    Start,
    /// Reading what may be an octet count; the digits are in the buffer.
    Count,
    /// Reading an octet-counted message, of which this many bytes remain.
    Counted(usize),
    /// Reading a message up to a line feed or NUL.
    Line,
    /// Skipping the rest of a cut octet-counted message.
    SkipCounted(usize),
    /// Skipping the rest of a cut line, up to its terminator.
    SkipLine,
}

impl Default for SyslogFramer {
    fn default() -> SyslogFramer {
        SyslogFramer::new(DEFAULT_MAX_SYSLOG_MESSAGE_BYTES)
    }
}

impl SyslogFramer {
    /// A framer that cuts messages at `max_message_bytes` (at least 16).
    pub fn new(max_message_bytes: usize) -> SyslogFramer {
        SyslogFramer {
            max_message_bytes: max_message_bytes.max(MIN_MESSAGE_BYTES),
            state: FramerState::Start,
            buffer: Vec::new(),
        }
    }

    /// Takes the next bytes of the stream and returns the messages they complete.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<SyslogFrame> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            bytes = self.step(bytes, &mut out);
        }
        out
    }

    /// The connection closed: returns the message in progress, if any (an unterminated last
    /// line is complete; a partial octet-counted message is truncated), and resets the framer.
    pub fn finish(&mut self) -> Option<SyslogFrame> {
        let state = std::mem::replace(&mut self.state, FramerState::Start);
        let frame = match state {
            FramerState::Count | FramerState::Line => self.take_line(false),
            FramerState::Counted(_) => self.take(true),
            FramerState::Start | FramerState::SkipCounted(_) | FramerState::SkipLine => None,
        };
        self.buffer.clear();
        frame
    }

    /// Bytes held for the message in progress; never more than the maximum message size.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Consumes a prefix of `bytes` (at least one byte, or a change of state) and returns the rest.
    fn step<'a>(&mut self, bytes: &'a [u8], out: &mut Vec<SyslogFrame>) -> &'a [u8] {
        match self.state {
            FramerState::Start => self.start(bytes),
            FramerState::Count => self.count(bytes),
            FramerState::Counted(remaining) => self.counted(bytes, remaining, out),
            FramerState::Line => self.line(bytes, out),
            FramerState::SkipCounted(remaining) => {
                let n = remaining.min(bytes.len());
                self.state = if n == remaining {
                    FramerState::Start
                } else {
                    FramerState::SkipCounted(remaining - n)
                };
                &bytes[n..]
            }
            FramerState::SkipLine => match find_terminator(bytes) {
                Some(i) => {
                    self.state = FramerState::Start;
                    &bytes[i + 1..]
                }
                None => &[],
            },
        }
    }

    fn start<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some((&first, rest)) = bytes.split_first() else {
            return bytes;
        };
        match first {
            b'\n' | b'\r' | b'\0' => rest,
            b'1'..=b'9' => {
                self.buffer.push(first);
                self.state = FramerState::Count;
                rest
            }
            _ => {
                self.state = FramerState::Line;
                bytes
            }
        }
    }

    fn count<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some((&b, rest)) = bytes.split_first() else {
            return bytes;
        };
        if b.is_ascii_digit() && self.buffer.len() < MAX_COUNT_DIGITS {
            self.buffer.push(b);
            return rest;
        }
        if b == b' ' {
            let count = std::str::from_utf8(&self.buffer)
                .ok()
                .and_then(|t| t.parse::<usize>().ok());
            if let Some(count) = count {
                self.buffer.clear();
                self.state = FramerState::Counted(count);
                return rest;
            }
        }
        // Not an octet count after all: the digits begin a line.
        self.state = FramerState::Line;
        bytes
    }

    fn counted<'a>(
        &mut self,
        bytes: &'a [u8],
        remaining: usize,
        out: &mut Vec<SyslogFrame>,
    ) -> &'a [u8] {
        let n = remaining.min(bytes.len());
        let room = self.max_message_bytes.saturating_sub(self.buffer.len());
        if n > room {
            self.buffer.extend_from_slice(&bytes[..room]);
            out.extend(self.take(true));
            self.state = FramerState::SkipCounted(remaining - room);
            return &bytes[room..];
        }
        self.buffer.extend_from_slice(&bytes[..n]);
        if n == remaining {
            out.extend(self.take(false));
            self.state = FramerState::Start;
        } else {
            self.state = FramerState::Counted(remaining - n);
        }
        &bytes[n..]
    }

    fn line<'a>(&mut self, bytes: &'a [u8], out: &mut Vec<SyslogFrame>) -> &'a [u8] {
        let room = self.max_message_bytes.saturating_sub(self.buffer.len());
        match find_terminator(bytes) {
            Some(i) => {
                let cut = i > room;
                self.buffer.extend_from_slice(&bytes[..i.min(room)]);
                out.extend(self.take_line(cut));
                self.state = FramerState::Start;
                &bytes[i + 1..]
            }
            None if bytes.len() <= room => {
                self.buffer.extend_from_slice(bytes);
                &[]
            }
            None => {
                self.buffer.extend_from_slice(&bytes[..room]);
                out.extend(self.take_line(true));
                self.state = FramerState::SkipLine;
                &[]
            }
        }
    }

    /// The buffer as a frame, if it holds anything.
    fn take(&mut self, truncated: bool) -> Option<SyslogFrame> {
        let message = std::mem::take(&mut self.buffer);
        (!message.is_empty()).then_some(SyslogFrame { message, truncated })
    }

    /// [`take`](Self::take) for a line, without the carriage return of a CRLF ending.
    fn take_line(&mut self, truncated: bool) -> Option<SyslogFrame> {
        if !truncated && self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        self.take(truncated)
    }
}

fn find_terminator(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| matches!(b, b'\n' | b'\0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use trawl_model::format_rfc3339;

    /// 2026-11-26T10:00:05Z.
    const RECEIVED: i64 = 1_795_687_205_000_000_000;

    /// The record in a few lines: time, service, host, level and number; the body; the
    /// attributes.
    fn summary(r: &Record) -> String {
        let attributes: Vec<String> = r
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_text()))
            .collect();
        format!(
            "{} {} {} {}/{}\n{:?}\n{}",
            format_rfc3339(r.time_ns),
            r.service,
            if r.host.is_empty() { "-" } else { &r.host },
            r.level,
            r.severity_number,
            r.body,
            attributes.join(" ")
        )
    }

    fn check(line: &str, expect: &str) {
        check_bytes(line.as_bytes(), expect);
    }

    fn check_bytes(line: &[u8], expect: &str) {
        let r = parse_syslog(line, RECEIVED, Some("10.0.0.7"));
        assert_eq!(
            summary(&r),
            expect.trim(),
            "{}",
            String::from_utf8_lossy(line)
        );
        assert_eq!(r.observed_time_ns, RECEIVED);
    }

    #[test]
    fn logger_rfc5424() {
        // util-linux `logger --rfc5424 -n host --tcp`, with NTP synchronised.
        check(
            "<13>1 2026-11-26T10:00:00.123456+00:00 web-1 alice - - [timeQuality tzKnown=\"1\" isSynced=\"1\" syncAccuracy=\"56000\"] disk almost full\n",
            r#"
2026-11-26T10:00:00.123456Z alice web-1 INFO/10
"disk almost full"
syslog.format=rfc5424 syslog.facility=user syslog.severity=notice syslog.version=1 timeQuality.tzKnown=1 timeQuality.isSynced=1 timeQuality.syncAccuracy=56000
"#,
        );
        // `--id=4242 --msgid=BACKUP -p local0.err`, not synchronised, in Korea.
        check(
            "<131>1 2026-11-26T19:00:00.000001+09:00 web-1 backup 4242 BACKUP [timeQuality tzKnown=\"1\" isSynced=\"0\"] 백업 실패: 디스크 없음",
            r#"
2026-11-26T10:00:00.000001Z backup web-1 ERROR/17
"백업 실패: 디스크 없음"
syslog.format=rfc5424 syslog.facility=local0 syslog.severity=err syslog.version=1 process.pid=4242 syslog.procid=4242 syslog.msgid=BACKUP timeQuality.tzKnown=1 timeQuality.isSynced=0
"#,
        );
        // `--rfc5424=notime,nohost`: no time (so no timeQuality either), no host.
        check(
            "<13>1 - - alice - - - hello",
            r#"
2026-11-26T10:00:05Z alice 10.0.0.7 INFO/10
"hello"
syslog.format=rfc5424 syslog.facility=user syslog.severity=notice syslog.version=1
"#,
        );
    }

    #[test]
    fn logger_rfc3164_and_local() {
        // `logger --rfc3164 -n host`: `<PRI>%.15s %s %.200s%s: `, ctime's padded day.
        check(
            "<13>Nov 26 10:00:00 web-1 alice: disk almost full",
            r#"
2026-11-26T10:00:00Z alice web-1 INFO/10
"disk almost full"
syslog.format=rfc3164 syslog.facility=user syslog.severity=notice
"#,
        );
        check(
            "<12>Nov  6 09:05:03 web-1 alice[4242]: 경고: 메모리 부족\n",
            r#"
2026-11-06T09:05:03Z alice web-1 WARN/13
"경고: 메모리 부족"
syslog.format=rfc3164 syslog.facility=user syslog.severity=warning process.pid=4242 syslog.procid=4242
"#,
        );
        // No hostname: logger writing to /dev/log, or gethostname() failing (`-`).
        check(
            "<13>Nov 26 10:00:00 alice: local message",
            r#"
2026-11-26T10:00:00Z alice 10.0.0.7 INFO/10
"local message"
syslog.format=rfc3164 syslog.facility=user syslog.severity=notice
"#,
        );
        check(
            "<13>Nov 26 10:00:00 - alice[7]: no host",
            r#"
2026-11-26T10:00:00Z alice 10.0.0.7 INFO/10
"no host"
syslog.format=rfc3164 syslog.facility=user syslog.severity=notice process.pid=7 syslog.procid=7
"#,
        );
    }

    #[test]
    fn logger_octet_count_through_the_framer() {
        // `logger --rfc5424 --octet-count --tcp`: "%zu %s%s", no line feed after.
        let messages = [
            "<13>1 2026-11-26T10:00:00.123456+00:00 web-1 alice - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] first",
            "<13>1 2026-11-26T10:00:01.000000+00:00 web-1 alice - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] 두 번째\nwith a line feed inside",
        ];
        let stream: Vec<u8> = messages
            .iter()
            .flat_map(|m| format!("{} {m}", m.len()).into_bytes())
            .collect();
        let mut framer = SyslogFramer::default();
        let frames = framer.push(&stream);
        assert_eq!(framer.finish(), None);
        let bodies: Vec<String> = frames
            .iter()
            .map(|f| parse_syslog_frame(f, RECEIVED, None).body)
            .collect();
        assert_eq!(bodies, vec!["first", "두 번째\nwith a line feed inside"]);
        assert!(frames.iter().all(|f| !f.truncated));
    }

    #[test]
    fn rsyslog_and_syslog_ng_formats() {
        // rsyslog RSYSLOG_ForwardFormat: RFC 3339 in the RFC 3164 position.
        check(
            "<30>2026-11-26T19:00:00.123456+09:00 web-1 sshd[812]: Accepted publickey for deploy",
            r#"
2026-11-26T10:00:00.123456Z sshd web-1 INFO/9
"Accepted publickey for deploy"
syslog.format=rfc3164 syslog.facility=daemon syslog.severity=info process.pid=812 syslog.procid=812
"#,
        );
        // rsyslog RSYSLOG_TraditionalForwardFormat.
        check(
            "<86>Nov 26 09:59:59 web-1 CRON[9001]: pam_unix(cron:session): session opened",
            r#"
2026-11-26T09:59:59Z CRON web-1 INFO/9
"pam_unix(cron:session): session opened"
syslog.format=rfc3164 syslog.facility=authpriv syslog.severity=info process.pid=9001 syslog.procid=9001
"#,
        );
        // rsyslog RSYSLOG_SyslogProtocol23Format, and syslog-ng's syslog() driver with its
        // meta.sequenceId.
        check(
            "<38>1 2026-11-26T10:00:00+00:00 web-1 sshd 812 - [meta sequenceId=\"17\"] Failed password for root",
            r#"
2026-11-26T10:00:00Z sshd web-1 INFO/9
"Failed password for root"
syslog.format=rfc5424 syslog.facility=auth syslog.severity=info syslog.version=1 process.pid=812 syslog.procid=812 meta.sequenceId=17
"#,
        );
        // syslog-ng network() legacy output, with a pid that is not a number.
        check(
            "<191>Nov 26 10:00:00.250 db-1 postgres[worker-3]: checkpoint starting",
            r#"
2026-11-26T10:00:00.25Z postgres db-1 DEBUG/5
"checkpoint starting"
syslog.format=rfc3164 syslog.facility=local7 syslog.severity=debug syslog.procid=worker-3
"#,
        );
    }

    #[test]
    fn rfc5424_examples() {
        // RFC 5424 §6.5, examples 1 to 4 (BOM as in the RFC).
        check(
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
            r#"
2003-10-11T22:14:15.003Z su mymachine.example.com FATAL/21
"'su root' failed for lonvick on /dev/pts/8"
syslog.format=rfc5424 syslog.facility=auth syslog.severity=crit syslog.version=1 syslog.msgid=ID47
"#,
        );
        check(
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            r#"
2003-08-24T12:14:15.000003Z myproc 192.0.2.1 INFO/10
"%% It's time to make the do-nuts."
syslog.format=rfc5424 syslog.facility=local4 syslog.severity=notice syslog.version=1 process.pid=8710 syslog.procid=8710
"#,
        );
        check(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \u{feff}An application event log entry...",
            r#"
2003-10-11T22:14:15.003Z evntslog mymachine.example.com INFO/10
"An application event log entry..."
syslog.format=rfc5424 syslog.facility=local4 syslog.severity=notice syslog.version=1 syslog.msgid=ID47 exampleSDID@32473.iut=3 exampleSDID@32473.eventSource=Application exampleSDID@32473.eventID=1011
"#,
        );
        check(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
            r#"
2003-10-11T22:14:15.003Z evntslog mymachine.example.com INFO/10
""
syslog.format=rfc5424 syslog.facility=local4 syslog.severity=notice syslog.version=1 syslog.msgid=ID47 exampleSDID@32473.iut=3 exampleSDID@32473.eventSource=Application exampleSDID@32473.eventID=1011 examplePriority@32473.class=high
"#,
        );
    }

    #[test]
    fn rfc3164_examples() {
        // RFC 3164 §5.4.
        check(
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            r#"
2026-10-11T22:14:15Z su mymachine FATAL/21
"'su root' failed for lonvick on /dev/pts/8"
syslog.format=rfc3164 syslog.facility=auth syslog.severity=crit
"#,
        );
        check(
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
            r#"
2026-02-05T17:32:18Z syslog 10.0.0.99 INFO/10
"Use the BFG!"
syslog.format=rfc3164 syslog.facility=user syslog.severity=notice
"#,
        );
    }

    #[test]
    fn structured_data_escapes_and_korean() {
        check(
            r#"<14>1 2026-11-26T10:00:00Z web-1 pay - - [order@32473 id="A-1" note="say \"hi\" \\ [x\]" path="C:\temp" who="김철수"] 결제 완료"#,
            r#"
2026-11-26T10:00:00Z pay web-1 INFO/9
"결제 완료"
syslog.format=rfc5424 syslog.facility=user syslog.severity=info syslog.version=1 order@32473.id=A-1 order@32473.note=say "hi" \ [x] order@32473.path=C:\temp order@32473.who=김철수
"#,
        );
        // No STRUCTURED-DATA at all: tolerated, the message starts there.
        check(
            "<14>1 2026-11-26T10:00:00Z web-1 pay - - message right away",
            r#"
2026-11-26T10:00:00Z pay web-1 INFO/9
"message right away"
syslog.format=rfc5424 syslog.facility=user syslog.severity=info syslog.version=1
"#,
        );
        // An element without parameters, and a BOM after it.
        let r = parse_syslog(
            "<14>1 - h a - - [origin]\u{feff}x".as_bytes(),
            RECEIVED,
            None,
        );
        assert_eq!((r.body.as_str(), r.attributes.len()), ("x", 4));
    }

    #[test]
    fn rfc3164_year_is_inferred() {
        let at = |line: &str, received: i64| {
            format_rfc3339(parse_syslog(line.as_bytes(), received, None).time_ns)
        };
        // Received 2026-01-01T00:30Z: a December message is from the year before.
        let new_year = 1_767_227_400_000_000_000;
        assert_eq!(
            at("<13>Dec 31 23:59:00 h a: x", new_year),
            "2025-12-31T23:59:00Z"
        );
        // A little ahead of the received clock (less than a day) stays in this year.
        assert_eq!(
            at("<13>Jan  1 01:00:00 h a: x", new_year),
            "2026-01-01T01:00:00Z"
        );
        // Received 2025-03-01: Feb 29 only exists in 2024.
        let march = 1_740_830_400_000_000_000;
        let r = parse_syslog(b"<13>Feb 29 12:00:00 h a: x", march, None);
        assert_eq!(r.attribute("trawl.time_adjusted"), None);
        assert_eq!(format_rfc3339(r.time_ns), "2024-02-29T12:00:00Z");
        // An explicit year is used as is.
        assert_eq!(
            at("<13>Nov 26 2025 10:00:00 h a: x", RECEIVED),
            "2025-11-26T10:00:00Z"
        );
    }

    #[test]
    fn messages_without_pri() {
        // Plain text (`nc`, a misconfigured appender): user.notice, kept whole.
        check(
            "hello from netcat\n",
            r#"
2026-11-26T10:00:05Z syslog 10.0.0.7 INFO/10
"hello from netcat"
syslog.format=raw syslog.facility=user syslog.severity=notice
"#,
        );
        // A BSD header without PRI is still read.
        check(
            "Nov 26 10:00:00 web-1 app: no pri",
            r#"
2026-11-26T10:00:00Z app web-1 INFO/10
"no pri"
syslog.format=rfc3164 syslog.facility=user syslog.severity=notice
"#,
        );
        // A PRI but no timestamp: TAG and MSG only, as Python's SysLogHandler sends.
        check(
            "<11>myapp: boom\x00",
            r#"
2026-11-26T10:00:05Z myapp 10.0.0.7 ERROR/17
"boom"
syslog.format=rfc3164 syslog.facility=user syslog.severity=err
"#,
        );
        check(
            "<13>",
            r#"
2026-11-26T10:00:05Z syslog 10.0.0.7 INFO/10
""
syslog.format=rfc3164 syslog.facility=user syslog.severity=notice
"#,
        );
    }

    #[test]
    fn tags_that_are_not_tags() {
        for (line, service, body) in [
            (
                "<13>Nov 26 10:00:00 web-1 http://example.com is down",
                "syslog",
                "http://example.com is down",
            ),
            ("<13>Nov 26 10:00:00 web-1 {\"a\":1}", "syslog", "{\"a\":1}"),
            (
                "<13>Nov 26 10:00:00 web-1 error:disk",
                "syslog",
                "error:disk",
            ),
            (
                "<13>Nov 26 10:00:00 web-1 postfix/smtpd[77]: connect",
                "postfix/smtpd",
                "connect",
            ),
            (
                "<13>Nov 26 10:00:00 web-1 sshd[1] no colon",
                "sshd",
                "no colon",
            ),
            (
                "<13>Nov 26 10:00:00 web-1 app[unclosed: x",
                "syslog",
                "app[unclosed: x",
            ),
            ("<13>Nov 26 10:00:00 web-1 kernel:", "kernel", ""),
            ("<13>Nov 26 10:00:00 onlyword", "syslog", "onlyword"),
        ] {
            let r = parse_syslog(line.as_bytes(), RECEIVED, None);
            assert_eq!(
                (r.service.as_str(), r.body.as_str()),
                (service, body),
                "{line}"
            );
        }
    }

    #[test]
    fn malformed_messages_are_kept_raw() {
        check(
            "<192>1 2026-11-26T10:00:00Z h a - - - too high",
            r#"
2026-11-26T10:00:05Z syslog 10.0.0.7 INFO/0
"<192>1 2026-11-26T10:00:00Z h a - - - too high"
syslog.format=raw syslog.parse_error=invalid pri "192": the largest is 191
"#,
        );
        check(
            "<13>1 2026-11-26T10:00:00Z h a - - [a b=\"c",
            r#"
2026-11-26T10:00:05Z syslog 10.0.0.7 INFO/10
"<13>1 2026-11-26T10:00:00Z h a - - [a b=\"c"
syslog.format=raw syslog.facility=user syslog.severity=notice syslog.parse_error=unterminated structured data
"#,
        );
        for (line, reason) in [
            ("<999999>x", "invalid pri \"999999\": the largest is 191"),
            ("<0013>x", "invalid pri \"0013\": the largest is 191"),
            ("<>x", "invalid pri: expected '<', 1 to 3 digits and '>'"),
            ("<13", "invalid pri: expected '<', 1 to 3 digits and '>'"),
            ("<html>", "invalid pri: expected '<', 1 to 3 digits and '>'"),
            ("<13>1 ", "rfc5424 header ends before the timestamp"),
            (
                "<13>1 2026-11-26T10:00:00Z host",
                "rfc5424 header ends before the app-name",
            ),
            ("<13>1  - - - - -", "empty rfc5424 timestamp"),
            (
                "<13>1 yesterday h a - - - x",
                "invalid rfc5424 timestamp \"yesterday\"",
            ),
            ("<13>1 - h a - - [a b=\"c\"", "unterminated structured data"),
            (
                "<13>1 - h a - - [a b=c]",
                "invalid sd-param in [a]: expected name=\"value\"",
            ),
            (
                "<13>1 - h a - - [a b]",
                "invalid sd-param in [a]: expected name=\"value\"",
            ),
            (
                "<13>1 - h a - - [ b=\"c\"]",
                "empty sd-id at byte 1 of the structured data",
            ),
            ("<13>1 - h a - - [a", "unterminated structured data"),
            ("<13>1 - h a - - [a b=", "unterminated structured data"),
            (
                "<13>Nov 99 10:00:00 h a: x",
                "invalid rfc3164 timestamp \"Nov 99 10:00:00 h a: x\"",
            ),
            (
                "<13>Nov 26 1000:00 h a: x",
                "invalid rfc3164 timestamp \"Nov 26 1000:00 h a: x\"",
            ),
            (
                "<13>Feb 30 10:00:00 h a: x",
                "invalid rfc3164 timestamp \"Feb 30 10:00:00 h a: x\"",
            ),
            (
                "<13>2026-13-01T00:00:00Z h a: x",
                "invalid rfc3164 timestamp \"2026-13-01T00:00:00Z\"",
            ),
        ] {
            let r = parse_syslog(line.as_bytes(), RECEIVED, None);
            assert_eq!(
                r.attribute(SYSLOG_PARSE_ERROR_ATTR),
                Some(&AttrValue::Str(reason.into())),
                "{line}"
            );
            assert_eq!((r.body.as_str(), r.service.as_str()), (line, "syslog"));
            assert_eq!(r.time_ns, RECEIVED);
        }
        // Empty input: an empty raw record.
        let r = parse_syslog(b"\n", RECEIVED, None);
        assert_eq!((r.body.as_str(), r.host.as_str()), ("", ""));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        check_bytes(
            b"<14>1 - h\xff app\xfe - - [x@1 k=\"v\xc3\"] caf\xc3 \xed\xa0\x80",
            "
2026-11-26T10:00:05Z app\u{fffd} h\u{fffd} INFO/9
\"caf\u{fffd} \u{fffd}\u{fffd}\u{fffd}\"
syslog.format=rfc5424 syslog.facility=user syslog.severity=info syslog.version=1 x@1.k=v\u{fffd}
",
        );
        let r = parse_syslog(b"<13>Nov 26 10:00:00 web-1 app: \xff\xfe", RECEIVED, None);
        assert_eq!(r.body, "\u{fffd}\u{fffd}");
    }

    #[test]
    fn far_timestamps_are_adjusted_not_dropped() {
        let r = parse_syslog(
            b"<14>1 2099-01-01T00:00:00Z h a - - - future",
            RECEIVED,
            None,
        );
        assert_eq!(r.time_ns, RECEIVED);
        assert_eq!(
            r.attribute("trawl.time_adjusted"),
            Some(&AttrValue::Str("2099-01-01T00:00:00Z".into()))
        );
        let r = parse_syslog(
            b"<14>1 1985-04-12T23:20:50.52Z h a - - - old",
            RECEIVED,
            None,
        );
        assert_eq!(r.time_ns, RECEIVED);
    }

    #[test]
    fn oversize_records_are_truncated_not_dropped() {
        let mut line = b"<14>1 - h a - - - ".to_vec();
        line.extend(std::iter::repeat_n("가".as_bytes(), 100_000).flatten());
        let r = parse_syslog(&line, RECEIVED, None);
        assert!(r.approx_bytes() <= MAX_RECORD_BYTES);
        assert!(r.body.len() > BYTE_BUDGET - 1000 && r.body.chars().all(|c| c == '가'));
        assert_eq!(
            r.attribute(SYSLOG_TRUNCATED_ATTR),
            Some(&AttrValue::Bool(true))
        );

        // Too many structured-data parameters: the first ones are kept.
        let params: String = (0..1500).map(|i| format!(" p{i}=\"v\"")).collect();
        let line = format!("<14>1 - h a - - [x{params}] msg");
        let r = parse_syslog(line.as_bytes(), RECEIVED, None);
        assert_eq!(r.attributes.len(), MAX_FIELDS - 1);
        assert_eq!(r.body, "msg");
        assert_eq!(r.attribute("x.p0"), Some(&AttrValue::Str("v".into())));
        assert_eq!(
            r.attribute(SYSLOG_TRUNCATED_ATTR),
            Some(&AttrValue::Bool(true))
        );

        // A huge host name and huge parameters: everything is cut down until it fits.
        let host = "h".repeat(300_000);
        let line = format!(
            "<14>1 - {host} a - - [x a=\"{}\"] {}",
            "v".repeat(300_000),
            "b".repeat(300_000)
        );
        let r = parse_syslog(line.as_bytes(), RECEIVED, None);
        assert!(r.approx_bytes() <= MAX_RECORD_BYTES, "{}", r.approx_bytes());
        assert_eq!(r.host.len(), MAX_NAME_BYTES);
        assert_eq!(
            r.attribute(SYSLOG_TRUNCATED_ATTR),
            Some(&AttrValue::Bool(true))
        );

        // A frame the framer cut is marked even when it parses fine.
        let frame = SyslogFrame {
            message: b"<14>Nov 26 10:00:00 h a: cut".to_vec(),
            truncated: true,
        };
        let r = parse_syslog_frame(&frame, RECEIVED, None);
        assert_eq!(
            (r.body.as_str(), r.attribute(SYSLOG_TRUNCATED_ATTR)),
            ("cut", Some(&AttrValue::Bool(true)))
        );
    }

    fn frames(framer: &mut SyslogFramer, bytes: &[u8]) -> Vec<(String, bool)> {
        let mut out = framer.push(bytes);
        out.extend(framer.finish());
        out.into_iter()
            .map(|f| {
                (
                    String::from_utf8_lossy(&f.message).into_owned(),
                    f.truncated,
                )
            })
            .collect()
    }

    fn whole(items: &[&str]) -> Vec<(String, bool)> {
        items.iter().map(|s| (s.to_string(), false)).collect()
    }

    #[test]
    fn framer_mixes_octet_counting_and_lines() {
        let mut framer = SyslogFramer::new(1024);
        let stream = b"11 <13>counted<13>line one\n\n<13>crlf\r\n5 <13>a\n<13>nul\x00 19 not a count\n7 <13>\xea\xb0\x80\n";
        assert_eq!(
            frames(&mut framer, stream),
            whole(&[
                "<13>counted",
                "<13>line one",
                "<13>crlf",
                "<13>a",
                "<13>nul",
                " 19 not a count",
                "<13>\u{ac00}"
            ])
        );
        // Digits not followed by a space are the start of a line (a PRI-less message).
        assert_eq!(
            frames(&mut framer, b"2026-11-26 started\n123"),
            whole(&["2026-11-26 started", "123"])
        );
        // An unterminated last line is complete; a partial counted message is truncated.
        assert_eq!(frames(&mut framer, b"<13>last"), whole(&["<13>last"]));
        assert_eq!(
            frames(&mut framer, b"20 <13>short"),
            vec![("<13>short".to_string(), true)]
        );
        assert_eq!(frames(&mut framer, b""), whole(&[]));
        assert_eq!(frames(&mut framer, b"\n\r\n\0"), whole(&[]));
    }

    #[test]
    fn framer_cuts_and_resynchronises() {
        let mut framer = SyslogFramer::new(16);
        // A line over the maximum is cut and the rest of it skipped.
        let out = frames(&mut framer, b"<13>0123456789abcdefghij\n<13>next\n");
        assert_eq!(
            out,
            vec![
                ("<13>0123456789ab".to_string(), true),
                ("<13>next".to_string(), false)
            ]
        );
        // Exactly the maximum is whole.
        assert_eq!(
            frames(&mut framer, b"<13>0123456789ab\n"),
            whole(&["<13>0123456789ab"])
        );
        // An octet-counted message over the maximum: cut, then the count is honoured.
        let out = frames(&mut framer, b"24 <13>0123456789abcdefghij7 <13>ok\n");
        assert_eq!(
            out,
            vec![
                ("<13>0123456789ab".to_string(), true),
                ("<13>ok\n".to_string(), false)
            ]
        );
        // Too many digits for a count: a line.
        let out = frames(&mut framer, b"99999999999999999999 x\n");
        assert_eq!(out, vec![("9999999999999999".to_string(), true)]);
    }

    #[test]
    fn framer_huge_length_prefix_stays_bounded() {
        let mut framer = SyslogFramer::new(1024);
        let mut out = framer.push(b"4294967295 <13>");
        for _ in 0..100 {
            out.extend(framer.push(&[b'x'; 4096]));
            assert!(framer.buffered_bytes() <= 1024);
        }
        assert_eq!(out.len(), 1);
        assert!(out[0].truncated && out[0].message.len() == 1024);
        // Everything up to the announced length belongs to that message and is skipped.
        assert!(framer.push(b"\n<13>swallowed\n").is_empty());
        assert_eq!(framer.finish(), None);
        // After finish the framer starts afresh.
        assert_eq!(framer.push(b"<13>fresh\n")[0].message, b"<13>fresh");
    }

    /// Pieces of a syslog stream, including broken ones.
    fn stream_piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "[<>0-9a-z 가\\[\\]\"=]{0,30}\n".prop_map(String::into_bytes),
            "[<>0-9a-z 가]{0,40}".prop_map(|m| format!("{} {m}", m.len()).into_bytes()),
            "[0-9 ]{0,6}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..20),
            Just(b"\r\n\x00".to_vec()),
        ]
    }

    proptest! {
        #[test]
        fn framer_output_does_not_depend_on_the_split(
            pieces in proptest::collection::vec(stream_piece(), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            max in 16usize..64,
        ) {
            let stream: Vec<u8> = pieces.concat();
            let mut all_at_once = SyslogFramer::new(max);
            let mut expected = all_at_once.push(&stream);
            expected.extend(all_at_once.finish());

            let mut one_by_one = SyslogFramer::new(max);
            let mut got = Vec::new();
            for b in &stream {
                got.extend(one_by_one.push(std::slice::from_ref(b)));
                prop_assert!(one_by_one.buffered_bytes() <= max);
            }
            got.extend(one_by_one.finish());
            prop_assert_eq!(&got, &expected);

            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunked = SyslogFramer::new(max);
            let mut got = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([stream.len()]) {
                got.extend(chunked.push(&stream[from..cut]));
                from = cut;
            }
            got.extend(chunked.finish());
            prop_assert_eq!(&got, &expected);
            for frame in &expected {
                prop_assert!(!frame.message.is_empty() && frame.message.len() <= max);
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let r = parse_syslog(&bytes, RECEIVED, Some("peer"));
            prop_assert!(r.approx_bytes() <= MAX_RECORD_BYTES);
            prop_assert!(!r.service.is_empty());
        }

        #[test]
        fn parse_never_panics_on_syslog_like_input(
            text in "<[0-9]{1,3}>(1 )?[A-Za-z0-9 :\\-\\.\\[\\]\"=\\\\@가]{0,80}",
        ) {
            let r = parse_syslog(text.as_bytes(), RECEIVED, None);
            prop_assert!(r.attribute("syslog.format").is_some());
        }

        #[test]
        fn rfc5424_round_trip(
            app in "[a-z][a-z0-9_-]{0,20}",
            host in "[a-z][a-z0-9.-]{0,30}",
            value in "[^\"\\\\\\]]{0,20}",
            message in any::<String>(),
            pri in 0u8..192,
        ) {
            let line = format!("<{pri}>1 2026-11-26T10:00:00Z {host} {app} 42 ID1 [x@1 k=\"{value}\"] {message}");
            let r = parse_syslog(line.as_bytes(), RECEIVED, None);
            prop_assert_eq!(r.attribute(SYSLOG_PARSE_ERROR_ATTR), None);
            prop_assert_eq!(&r.service, &app);
            prop_assert_eq!(&r.host, &host);
            prop_assert_eq!(r.attribute("x@1.k"), Some(&AttrValue::Str(value)));
            let expected_body = message.trim_end_matches(['\n', '\r', '\0']);
            let expected_body = expected_body.strip_prefix('\u{feff}').unwrap_or(expected_body);
            prop_assert_eq!(r.body.as_str(), expected_body);
        }
    }
}
