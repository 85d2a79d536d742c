//! Built-in knowledge of *event words*: words that tell what happened (`logged in`, `failed`,
//! `취소되었습니다`) rather than to whom or what. When two templates differ in a plain word,
//! the miner takes unknown words (`alice`/`bob`, `api`/`worker`) for a variable at once, but
//! keeps the two as two patterns when one of the words is an event word (`in`/`out`,
//! `Created`/`Started`).

/// Status and event words that are not verb forms ending in `-ed`.
const EVENT_WORDS: &[&str] = &[
    "in",
    "out",
    "up",
    "down",
    "on",
    "off",
    "start",
    "stop",
    "open",
    "close",
    "begin",
    "end",
    "enter",
    "exit",
    "success",
    "succeed",
    "failure",
    "fail",
    "error",
    "ok",
    "hit",
    "miss",
    "full",
    "empty",
    "high",
    "low",
    "read",
    "write",
    "get",
    "set",
    "add",
    "remove",
    "create",
    "delete",
    "update",
    "insert",
    "select",
    "commit",
    "rollback",
    "timeout",
    "retry",
    "abort",
    "cancel",
    "done",
    "complete",
    "ready",
    "busy",
    "idle",
    "alive",
    "dead",
    "online",
    "offline",
    "healthy",
    "unhealthy",
    "valid",
    "invalid",
    "warn",
    "warning",
    "info",
    "debug",
    "fatal",
    "critical",
    "allow",
    "deny",
    "accept",
    "reject",
    "grant",
    "revoke",
    "login",
    "logout",
    "signin",
    "signout",
    "connect",
    "disconnect",
    "send",
    "receive",
    "sent",
    "received",
    "lost",
    "found",
    "run",
    "ran",
    "not",
    "no",
    "yes",
    "starting",
    "stopping",
    "running",
    "pending",
    "waiting",
    "loading",
    "processing",
    "connecting",
    "retrying",
    "closing",
    "opening",
    "restarting",
    "terminating",
    "reset",
    "shut",
    "quit",
    "broken",
    "built",
    "made",
    "held",
    "kept",
    "left",
    "paid",
    "bound",
    "hung",
    "put",
    "won",
    "begun",
    "gone",
    "chosen",
    "frozen",
    "taken",
    "given",
    "written",
    "hidden",
    "thrown",
    "known",
    "shown",
    "seen",
    "kill",
    "drop",
    "pause",
    "resume",
    "suspend",
    "sleep",
    "wake",
    "join",
    "leave",
    "expire",
    "expired",
];

/// Korean event nouns, as whole words (`로그인 성공`, `승인 거절`).
const EVENT_NOUNS_KO: &[&str] = &[
    "성공", "실패", "완료", "시작", "종료", "취소", "승인", "거절", "오류", "에러", "요청", "응답", "발생", "초과",
    "부족", "만료", "차단", "허용", "중",
];

/// Korean sentence endings: the predicate of the message (`취소되었습니다`, `실패함`).
const SENTENCE_ENDINGS_KO: &[&str] = &["다", "함", "됨", "음", "요"];

/// Whether `word` (a plain word, maybe in outer punctuation) tells what happened: an English
/// word from the list, a past form (`-ed`), a capitalised `-ing` form (`Stopping`), a Korean
/// event noun or a Korean sentence ending. Compounds such as `배송완료` or lowercase `-ing`
/// nouns such as `shipping` are not: they are more often values.
pub(crate) fn is_event_word(word: &str) -> bool {
    let core = word.trim_matches(|c: char| !c.is_alphabetic());
    if core.is_ascii() {
        let lower = core.to_ascii_lowercase();
        let capitalised = core.as_bytes().first().is_some_and(u8::is_ascii_uppercase);
        return (lower.len() >= 4 && lower.ends_with("ed"))
            || (capitalised && lower.len() >= 5 && lower.ends_with("ing"))
            || EVENT_WORDS.contains(&lower.as_str());
    }
    EVENT_NOUNS_KO.contains(&core) || SENTENCE_ENDINGS_KO.iter().any(|e| core.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(word: &str, expect: bool) {
        assert_eq!(is_event_word(word), expect, "{word}");
    }

    #[test]
    fn event_words_are_known() {
        check("in", true);
        check("out", true);
        check("Created", true);
        check("Stopping", true);
        check("\"failed\",", true);
        check("취소되었습니다", true);
        check("실패", true);
        check("alice", false);
        check("api", false);
        check("sidecar", false);
        check("shipping", false);
        check("김민수님의", false);
        check("배송완료", false);
        check("acme-corp", false);
    }
}
