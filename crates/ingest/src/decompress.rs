use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::IngestError;

/// Undoes `Content-Encoding`: `gzip` (also `x-gzip`), `br` (brotli, which sentry-python sends
/// when the brotli module is installed) and `deflate` (zlib-wrapped as HTTP says, or raw, as
/// some clients send it) are inflated; `identity`, an empty value or `None` pass the body
/// through. Inflation is streamed and stops with [`IngestError::TooLarge`] as soon as the output
/// exceeds `max_bytes`, so a compression bomb is never inflated fully in memory. Concatenated
/// gzip members are all inflated. A body that passes through is held to the same limit.
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
        "br" => inflate(brotli::Decompressor::new(body, 64 * 1024), body.len(), max_bytes, "brotli")
            .map(Cow::Owned),
        "deflate" if is_zlib(body) => {
            inflate(flate2::read::ZlibDecoder::new(body), body.len(), max_bytes, "deflate")
                .map(Cow::Owned)
        }
        "deflate" => {
            inflate(flate2::read::DeflateDecoder::new(body), body.len(), max_bytes, "deflate")
                .map(Cow::Owned)
        }
        _ => Err(IngestError::UnsupportedEncoding(
            content_encoding.unwrap_or_default().trim().to_string(),
        )),
    }
}

fn gunzip(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, IngestError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    inflate(MultiGzDecoder::new(body), body.len(), max_bytes, "gzip")
}

/// Whether a `deflate` body has a zlib header (CM 8, a window of at most 32 KiB, and a check
/// value that makes the first two bytes a multiple of 31).
fn is_zlib(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// Reads a decoder to its end, 64 KiB at a time, failing as soon as the output passes
/// `max_bytes`. `what` names the encoding in errors.
fn inflate(
    mut decoder: impl Read,
    input_len: usize,
    max_bytes: usize,
    what: &str,
) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(input_len.saturating_mul(4).min(max_bytes).min(1 << 20));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(IngestError::invalid(format!("invalid {what} body: {e}"))),
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

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            enc.write_all(data).unwrap();
        }
        out
    }

    #[test]
    fn brotli_and_deflate_inflate() {
        let data = "결제가 실패했습니다\n".repeat(100);
        let compressed = brotli(data.as_bytes());
        let out = decompress(&compressed, Some("br"), 1 << 20).unwrap();
        assert_eq!(&*out, data.as_bytes());
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(data.as_bytes()).unwrap();
        let zlib = zlib.finish().unwrap();
        let out = decompress(&zlib, Some("deflate"), 1 << 20).unwrap();
        assert_eq!(&*out, data.as_bytes());
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(data.as_bytes()).unwrap();
        let raw = raw.finish().unwrap();
        let out = decompress(&raw, Some("Deflate"), 1 << 20).unwrap();
        assert_eq!(&*out, data.as_bytes());
        let err = decompress(b"not brotli at all", Some("br"), 1 << 20).unwrap_err();
        assert!(matches!(err, IngestError::InvalidInput { .. }), "{err:?}");
    }

    #[test]
    fn brotli_bomb_stops_at_the_limit() {
        let bomb = brotli(&vec![0u8; 100 << 20]);
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        let err = decompress(&bomb, Some("br"), 1 << 20).unwrap_err();
        assert_eq!(err, IngestError::TooLarge { limit: 1 << 20, what: "decompressed body" });
    }

    #[test]
    fn other_encodings_are_unsupported() {
        assert_eq!(
            decompress(b"x", Some("compress"), 10).unwrap_err(),
            IngestError::UnsupportedEncoding("compress".into())
        );
        assert!(matches!(
            decompress(b"x", Some("zstd"), 10),
            Err(IngestError::UnsupportedEncoding(_))
        ));
    }
}
