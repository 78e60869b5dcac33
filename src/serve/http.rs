//! Just enough HTTP/1.1 for an OTLP receiver, with every size bounded: reading a request
//! head (httparse), a body by `Content-Length` or chunked up to a limit, and writing a
//! response. Keeps no state and knows nothing of OTLP.

use std::io::{self, BufRead, Read, Write};

/// The largest request head (request line and headers) read.
pub const MAX_HEAD_BYTES: u64 = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// A request line and its headers.
#[derive(Debug)]
pub struct Head {
    pub method: String,
    /// The path without its query.
    pub path: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this exchange.
    pub fn wants_close(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        match connection.as_deref() {
            Some(c) if c.contains("close") => true,
            Some(c) if c.contains("keep-alive") => false,
            _ => self.minor_version == 0,
        }
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    }

    /// The declared body length; `Err` when the header is not a number.
    pub fn content_length(&self) -> Result<Option<u64>, String> {
        match self.header("content-length") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("Content-Length {v:?} is not a number")),
        }
    }
}

/// What reading a head found.
#[derive(Debug)]
pub enum HeadRead {
    Head(Head),
    /// The client closed the connection between requests.
    Closed,
    /// Not HTTP, or a head too large: answered with 400 and the connection closed.
    Bad(String),
}

/// Reads the next request head.
pub fn read_head(reader: &mut impl BufRead) -> io::Result<HeadRead> {
    let mut buf = Vec::new();
    loop {
        let remaining = MAX_HEAD_BYTES.saturating_sub(buf.len() as u64);
        if remaining == 0 {
            return Ok(HeadRead::Bad(format!(
                "request head larger than {MAX_HEAD_BYTES} bytes"
            )));
        }
        let start = buf.len();
        let n = reader
            .by_ref()
            .take(remaining)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(if buf.is_empty() {
                HeadRead::Closed
            } else {
                HeadRead::Bad("connection closed inside a request head".into())
            });
        }
        let line = &buf[start..];
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                // Blank lines before a request line are allowed (RFC 9112 2.2).
                buf.clear();
                continue;
            }
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Ok(HeadRead::Bad("incomplete request head".into()))
        }
        Err(e) => return Ok(HeadRead::Bad(format!("not an HTTP/1.1 request: {e}"))),
    }
    let path = request.path.unwrap_or("/");
    Ok(HeadRead::Head(Head {
        method: request.method.unwrap_or("").to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        minor_version: request.version.unwrap_or(1),
        headers: request
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    }))
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit (by its declared length or as it arrived).
    TooLarge,
    /// Malformed chunked framing.
    Bad(String),
    /// The connection failed or closed before the end of the body.
    Io(io::Error),
}

/// Reads a body of at most `max` bytes, by `Content-Length` or chunked.
pub fn read_body(reader: &mut impl BufRead, head: &Head, max: u64) -> Result<Vec<u8>, BodyError> {
    if head.is_chunked() {
        return read_chunked(reader, max);
    }
    let len = match head.content_length() {
        Ok(Some(len)) => len,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Err(BodyError::Bad(e)),
    };
    if len > max {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(len as usize);
    reader
        .by_ref()
        .take(len)
        .read_to_end(&mut body)
        .map_err(BodyError::Io)?;
    if (body.len() as u64) < len {
        return Err(BodyError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection closed after {} of {len} body bytes", body.len()),
        )));
    }
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead, max: u64) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| BodyError::Bad(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailer fields, up to the blank line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() as u64 + size > max {
            return Err(BodyError::TooLarge);
        }
        let before = body.len();
        reader
            .by_ref()
            .take(size)
            .read_to_end(&mut body)
            .map_err(BodyError::Io)?;
        if ((body.len() - before) as u64) < size {
            return Err(BodyError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        if !read_line(reader)?.is_empty() {
            return Err(BodyError::Bad("chunk longer than its size".into()));
        }
    }
}

/// One line of chunked framing, without its line ending (at most 4 KiB).
fn read_line(reader: &mut impl BufRead) -> Result<String, BodyError> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(4096)
        .read_until(b'\n', &mut line)
        .map_err(BodyError::Io)?;
    if line.last() != Some(&b'\n') {
        return Err(BodyError::Bad(
            "chunked framing line too long or cut".into(),
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| BodyError::Bad("chunked framing is not text".into()))
}

/// Reads and drops the `len` bytes of a body nobody wants, so that a client still
/// sending it reads the answer instead of a reset connection.
pub fn discard(reader: &mut impl Read, len: u64) {
    let _ = io::copy(&mut reader.take(len), &mut io::sink());
}

/// Writes a complete response.
pub fn write_response(
    out: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// The interim answer to `Expect: 100-continue`.
pub fn write_continue(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn head(text: &str) -> Head {
        match read_head(&mut Cursor::new(text.as_bytes().to_vec())).unwrap() {
            HeadRead::Head(h) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heads_are_read_with_their_headers() {
        let h = head("\r\nPOST /v1/traces?x=1 HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/v1/traces"));
        assert_eq!(h.header("content-type"), Some("application/json"));
        assert_eq!(h.content_length(), Ok(Some(2)));
        assert!(!h.wants_close());
        assert!(head("GET / HTTP/1.0\r\n\r\n").wants_close());
    }

    #[test]
    fn garbage_and_huge_heads_are_bad_not_errors() {
        let bad = read_head(&mut Cursor::new(b"\x00\x01\x02 nonsense\r\n\r\n".to_vec())).unwrap();
        assert!(matches!(bad, HeadRead::Bad(_)), "{bad:?}");
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100_000));
        let huge = read_head(&mut Cursor::new(huge.into_bytes())).unwrap();
        assert!(matches!(huge, HeadRead::Bad(_)), "{huge:?}");
        assert!(matches!(
            read_head(&mut Cursor::new(Vec::new())).unwrap(),
            HeadRead::Closed
        ));
    }

    #[test]
    fn bodies_are_read_within_the_limit() {
        let h = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        let mut chunked = Cursor::new(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n".to_vec());
        assert_eq!(read_body(&mut chunked, &h, 10).unwrap(), b"abcde");
        let mut chunked = Cursor::new(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_vec());
        assert!(matches!(
            read_body(&mut chunked, &h, 4),
            Err(BodyError::TooLarge)
        ));
        let h = head("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n");
        assert!(matches!(
            read_body(&mut Cursor::new(Vec::new()), &h, 100),
            Err(BodyError::TooLarge)
        ));
        let h = head("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
        assert!(matches!(
            read_body(&mut Cursor::new(b"abc".to_vec()), &h, 100),
            Err(BodyError::Io(_))
        ));
    }
}
