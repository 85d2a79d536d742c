use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::IngestError;

/// Undoes `Content-Encoding`: `gzip` (also `x-gzip`) is inflated, `identity`, an empty value or
/// `None` pass the body through. Inflation is streamed and stops with
/// [`IngestError::TooLarge`] as soon as the output exceeds `max_bytes`, so a gzip bomb is never
/// inflated fully in memory. Concatenated gzip members are all inflated. A body that passes
/// through is held to the same limit.
pub fn decompress<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    max_bytes: usize,
) -> Result<Cow<'a, [u8]>, IngestError> {
    let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > max_bytes {
                return Err(IngestError::TooLarge { limit: max_bytes, what: "request body" });
            }
            Ok(Cow::Borrowed(body))
        }
        "gzip" | "x-gzip" => gunzip(body, max_bytes).map(Cow::Owned),
        _ => Err(IngestError::UnsupportedEncoding(
            content_encoding.unwrap_or_default().trim().to_string(),
        )),
    }
}

fn gunzip(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, IngestError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut decoder = MultiGzDecoder::new(body);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_bytes).min(1 << 20));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(IngestError::invalid(format!("invalid gzip body: {e}"))),
        };
        if out.len() + n > max_bytes {
            return Err(IngestError::TooLarge { limit: max_bytes, what: "decompressed body" });
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn identity_passes_through_borrowed() {
        for enc in [None, Some("identity"), Some(""), Some(" Identity ")] {
            let out = decompress(b"hello", enc, 100).unwrap();
            assert!(matches!(out, Cow::Borrowed(b"hello")));
        }
        assert_eq!(
            decompress(b"hello", None, 4).unwrap_err(),
            IngestError::TooLarge { limit: 4, what: "request body" }
        );
    }

    #[test]
    fn gzip_inflates_including_concatenated_members() {
        let mut body = gzip("결제가 실패했습니다\n".as_bytes());
        body.extend(gzip(b"second member\n"));
        for enc in ["gzip", "x-gzip", "GZIP"] {
            let out = decompress(&body, Some(enc), 1 << 20).unwrap();
            assert_eq!(&*out, "결제가 실패했습니다\nsecond member\n".as_bytes());
        }
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        // 100 MiB of zeros compresses to about 100 KiB.
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let err = decompress(&bomb, Some("gzip"), 1 << 20).unwrap_err();
        assert_eq!(err, IngestError::TooLarge { limit: 1 << 20, what: "decompressed body" });
        assert_eq!(err.http_status(), 413);
    }

    #[test]
    fn exactly_the_limit_is_fine() {
        let data = vec![7u8; 1000];
        assert_eq!(decompress(&gzip(&data), Some("gzip"), 1000).unwrap().len(), 1000);
        assert!(decompress(&gzip(&data), Some("gzip"), 999).is_err());
    }

    #[test]
    fn truncated_or_garbage_gzip_is_invalid_input() {
        let body = gzip(&vec![b'x'; 10_000]);
        let err = decompress(&body[..body.len() / 2], Some("gzip"), 1 << 20).unwrap_err();
        assert!(matches!(err, IngestError::InvalidInput { .. }), "{err:?}");
        let err = decompress(b"not gzip at all", Some("gzip"), 1 << 20).unwrap_err();
        assert!(matches!(err, IngestError::InvalidInput { .. }), "{err:?}");
        assert_eq!(decompress(b"", Some("gzip"), 10).unwrap().len(), 0);
    }

    #[test]
    fn other_encodings_are_unsupported() {
        assert_eq!(
            decompress(b"x", Some("br"), 10).unwrap_err(),
            IngestError::UnsupportedEncoding("br".into())
        );
        assert!(matches!(
            decompress(b"x", Some("zstd"), 10),
            Err(IngestError::UnsupportedEncoding(_))
        ));
    }
}
