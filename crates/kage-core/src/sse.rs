//! Reading a Server-Sent Events stream: bytes in, whole events out.
//!
//! Follows the HTML standard's parsing rules where they matter here: a line ends with CRLF, LF or a lone CR
//! (a CRLF split across two chunks is still one line end); `data:` lines of one event are joined with `\n`;
//! lines starting with `:` are comments; one space after the colon is dropped. What one event may buffer is
//! capped, so a server (or anything in between) that never ends a line cannot make the client hold unbounded
//! memory: the reader reports [`Overflow`] and the caller restarts the stream.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `message` when the event named none.
    pub name: String,
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event stream sent more than {0} bytes without finishing an event")]
pub struct Overflow(pub usize);

pub struct SseReader {
    limit: usize,
    /// Bytes of a line not ended yet.
    line: Vec<u8>,
    /// The last byte seen was a CR: an LF right after it belongs to the same line end.
    after_cr: bool,
    name: Option<String>,
    data: Option<String>,
}

impl SseReader {
    /// `limit`: the most bytes one event (its unfinished line plus its data so far) may hold.
    pub fn new(limit: usize) -> Self {
        Self { limit, line: Vec::new(), after_cr: false, name: None, data: None }
    }

    /// Feeds a chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, Overflow> {
        let mut events = Vec::new();
        for &byte in chunk {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.end_line(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(byte);
                }
            }
            if self.line.len() + self.data.as_ref().map_or(0, String::len) > self.limit {
                *self = Self::new(self.limit);
                return Err(Overflow(self.limit));
            }
        }
        Ok(events)
    }

    fn end_line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let name = self.name.take();
            return data.map(|data| SseEvent { name: name.unwrap_or_else(|| "message".into()), data });
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent { name: name.into(), data: data.into() }
    }

    #[test]
    fn lf_crlf_and_lone_cr_line_ends_all_make_events() {
        for stream in ["event: ready\ndata: {}\n\n", "event: ready\r\ndata: {}\r\n\r\n", "event: ready\rdata: {}\r\r"] {
            let mut reader = SseReader::new(1024);
            assert_eq!(reader.push(stream.as_bytes()).unwrap(), vec![event("ready", "{}")], "{stream:?}");
        }
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_line_end() {
        let mut reader = SseReader::new(1024);
        assert!(reader.push(b"event: a\r").unwrap().is_empty());
        assert!(reader.push(b"\ndata: 1\r").unwrap().is_empty());
        assert_eq!(reader.push(b"\n\r\n").unwrap(), vec![event("a", "1")]);
    }

    #[test]
    fn chunks_may_split_anywhere_even_inside_a_character() {
        let stream = "event: profile.changed\ndata: {\"user_id\":\"ü\"}\n\n: keep-alive\n\n".as_bytes();
        for cut in 0..stream.len() {
            let mut reader = SseReader::new(1024);
            let mut events = reader.push(&stream[..cut]).unwrap();
            events.extend(reader.push(&stream[cut..]).unwrap());
            assert_eq!(events, vec![event("profile.changed", "{\"user_id\":\"ü\"}")], "cut at {cut}");
        }
    }

    #[test]
    fn data_lines_join_and_comments_and_unknown_fields_are_ignored() {
        let mut reader = SseReader::new(1024);
        let events = reader.push(b": hi\nid: 7\ndata: a\ndata:b\n\ndata\n\n").unwrap();
        assert_eq!(events, vec![event("message", "a\nb"), event("message", "")]);
    }

    #[test]
    fn a_stream_that_never_ends_a_line_overflows_instead_of_growing() {
        let mut reader = SseReader::new(64);
        assert_eq!(reader.push(&[b'x'; 65]), Err(Overflow(64)));
        // Many data lines of one endless event count too.
        let mut reader = SseReader::new(64);
        let result = (0..20).try_for_each(|_| reader.push(b"data: 0123456789\n").map(|_| ()));
        assert_eq!(result, Err(Overflow(64)));
        // After an overflow the reader starts clean.
        assert_eq!(reader.push(b"event: ready\ndata: {}\n\n").unwrap(), vec![event("ready", "{}")]);
    }
}
