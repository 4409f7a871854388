//! HTTP/1.1 message bodies on the wire (RFC 9112 §6–7), read the same way on both sides of
//! the proxy: a client's request body in [`crate::serve`], an exchange's answer in
//! [`crate::upstream`]. Heads are parsed by `httparse` where they are read.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest message head (start line and headers) taken from a client or an exchange.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most headers a head may carry (as hyper allows).
pub const MAX_HEADERS: usize = 100;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The connection ended (or failed) before the body was whole.
    Closed,
    /// Not the framing the head announced.
    Malformed,
    /// Longer than the limit.
    TooLarge,
}

/// How a message's body is delimited.
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    Empty,
    Length(usize),
    Chunked,
    /// Until the sender closes the connection (answers only).
    UntilClose,
}

impl Framing {
    /// The framing named by a head's `Content-Length` and `Transfer-Encoding` values (`None`
    /// for "no such header"). Both at once, lengths that disagree, or a transfer coding
    /// other than chunked last are refused: that is how requests are smuggled past proxies.
    pub fn of<'a>(
        lengths: impl Iterator<Item = &'a [u8]>,
        transfer_encoding: Option<&[u8]>,
        otherwise: Framing,
    ) -> Result<Framing, BodyError> {
        let mut length = None::<usize>;
        for value in lengths {
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok())
                .ok_or(BodyError::Malformed)?;
            if length.is_some_and(|l| l != n) {
                return Err(BodyError::Malformed);
            }
            length = Some(n);
        }
        match (transfer_encoding, length) {
            (Some(_), Some(_)) => Err(BodyError::Malformed),
            (Some(te), None) => {
                let last = te.rsplit(|b| *b == b',').next().unwrap_or(b"");
                if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    Ok(Framing::Chunked)
                } else {
                    Err(BodyError::Malformed)
                }
            }
            (None, Some(0)) => Ok(Framing::Empty),
            (None, Some(n)) => Ok(Framing::Length(n)),
            (None, None) => Ok(otherwise),
        }
    }
}

/// Makes room for a read of at least [`READ_SIZE`] bytes (reusing the buffer's memory once
/// what was read before has been taken).
pub fn room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_SIZE / 4 {
        buf.reserve(READ_SIZE);
    }
}

/// What a read asks the socket for, at least.
pub const READ_SIZE: usize = 8 * 1024;

/// Reads into `buf` once; an ended or failed connection is [`BodyError::Closed`].
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut) -> Result<(), BodyError> {
    room(buf);
    match stream.read_buf(buf).await {
        Ok(0) | Err(_) => Err(BodyError::Closed),
        Ok(_) => Ok(()),
    }
}

/// The body framed by `framing`, at most `max` bytes, taken from `buf` (what was read past
/// the head) and then from `stream`. What follows the body stays in `buf`.
pub async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    framing: &Framing,
    max: usize,
) -> Result<Bytes, BodyError> {
    match *framing {
        Framing::Empty => Ok(Bytes::new()),
        Framing::Length(n) if n > max => Err(BodyError::TooLarge),
        Framing::Length(n) => {
            while buf.len() < n {
                buf.reserve(n - buf.len());
                fill(stream, buf).await?;
            }
            Ok(buf.split_to(n).freeze())
        }
        Framing::Chunked => read_chunked(stream, buf, max).await,
        Framing::UntilClose => loop {
            if buf.len() > max {
                return Err(BodyError::TooLarge);
            }
            room(buf);
            match stream.read_buf(buf).await {
                Ok(0) => return Ok(std::mem::take(buf).freeze()),
                Ok(_) => {}
                Err(_) => return Err(BodyError::Closed),
            }
        },
    }
}

/// The longest chunk-size line or trailer line read (extensions included).
const MAX_LINE: usize = 4096;

/// A chunked body, joined; chunk extensions and trailers are read and dropped.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Bytes, BodyError> {
    let mut body = BytesMut::new();
    loop {
        let (at, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete(found)) => break found,
                Ok(httparse::Status::Partial) if buf.len() < MAX_LINE => fill(stream, buf).await?,
                _ => return Err(BodyError::Malformed),
            }
        };
        let size = usize::try_from(size).map_err(|_| BodyError::TooLarge)?;
        if size > max - body.len() {
            return Err(BodyError::TooLarge);
        }
        buf.advance(at);
        if size == 0 {
            // Trailer lines until an empty one.
            loop {
                match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        buf.advance(2);
                        return Ok(body.freeze());
                    }
                    Some(end) => buf.advance(end + 2),
                    None if buf.len() < MAX_LINE => fill(stream, buf).await?,
                    None => return Err(BodyError::Malformed),
                }
            }
        }
        while buf.len() < size + 2 {
            buf.reserve(size + 2 - buf.len());
            fill(stream, buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(BodyError::Malformed);
        }
        buf.advance(size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(
        wire: &[u8],
        framing: Framing,
        max: usize,
    ) -> (Result<Bytes, BodyError>, Vec<u8>) {
        let (mut buf, mut stream) = (BytesMut::new(), wire);
        let body = read_body(&mut stream, &mut buf, &framing, max).await;
        let mut rest = buf.to_vec();
        rest.extend_from_slice(stream);
        (body, rest)
    }

    #[tokio::test]
    async fn chunked_as_rfc9112_shows_it() {
        // RFC 9112 §7.1: size lines in hex, an extension, a trailer; what follows stays.
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: x\r\n\r\nNEXT";
        let (body, rest) = read(wire, Framing::Chunked, 1000).await;
        assert_eq!(body.unwrap(), &b"Wikipedia in\r\n\r\nchunks."[..]);
        assert_eq!(rest, b"NEXT");
        for (wire, want) in [
            (&b"5\r\nab"[..], BodyError::Closed),
            (b"5\r\nabcdeXY0\r\n\r\n", BodyError::Malformed),
            (b"zz\r\n", BodyError::Malformed),
            (b"FFFFFFFFFFFFFFFFFFFF\r\n", BodyError::Malformed),
            (b"3e9\r\n", BodyError::TooLarge),
        ] {
            assert_eq!(
                read(wire, Framing::Chunked, 1000).await.0,
                Err(want),
                "{wire:?}"
            );
        }
    }

    #[tokio::test]
    async fn lengths_and_close() {
        let (body, rest) = read(b"hello world", Framing::Length(5), 10).await;
        assert_eq!(
            (body.unwrap(), rest),
            (Bytes::from_static(b"hello"), b" world".to_vec())
        );
        assert_eq!(
            read(b"hel", Framing::Length(5), 10).await.0,
            Err(BodyError::Closed)
        );
        assert_eq!(
            read(b"", Framing::Length(11), 10).await.0,
            Err(BodyError::TooLarge)
        );
        assert_eq!(
            read(b"all of it", Framing::UntilClose, 10).await.0.unwrap(),
            &b"all of it"[..]
        );
        assert_eq!(
            read(b"far too long", Framing::UntilClose, 3).await.0,
            Err(BodyError::TooLarge)
        );
    }

    #[test]
    fn framing_refuses_what_smuggles() {
        let of =
            |cl: &[&[u8]], te: Option<&[u8]>| Framing::of(cl.iter().copied(), te, Framing::Empty);
        assert_eq!(of(&[], None), Ok(Framing::Empty));
        assert_eq!(of(&[b"12"], None), Ok(Framing::Length(12)));
        assert_eq!(of(&[b"12", b"12"], None), Ok(Framing::Length(12)));
        assert_eq!(of(&[], Some(b"gzip, Chunked")), Ok(Framing::Chunked));
        for bad in [
            of(&[b"12", b"13"], None),
            of(&[b"12"], Some(b"chunked")),
            of(&[b"-1"], None),
            of(&[b"+5"], None),
            of(&[b""], None),
            of(&[b"99999999999999999999999"], None),
            of(&[], Some(b"chunked, gzip")),
            of(&[], Some(b"identity")),
        ] {
            assert_eq!(bad, Err(BodyError::Malformed));
        }
    }
}
