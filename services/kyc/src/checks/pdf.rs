//! A PDF's structure: header, `startxref`, the cross-reference table or stream it points
//! to and the trailer; encrypted files and active content (`/JavaScript`, `/Launch`) are
//! refused, in the plain bytes and inside Flate-compressed streams (object streams hide
//! dictionaries there). Decompression has a budget: a PDF that inflates past it is refused
//! as a decompression bomb, never allocated.
// ---------------------------------------------------------------------------------------
// PDF structure. Every read goes through `Scan`, whose accessors are bounds-checked, so
// no input can panic; every loop consumes at least one byte, so none runs past the file.

/// Where the `%%EOF` marker must be (and `startxref` before it): the last 1024 bytes.
const PDF_TAIL: usize = 1024;
/// A cross-reference entry is 20 bytes (`oooooooooo ggggg n` and a two-byte EOL); some
/// writers use a one-byte EOL.
const XREF_ENTRY_MIN: usize = 19;

pub(super) fn check_pdf(bytes: &[u8]) -> Result<(), String> {
    check_pdf_header(bytes)?;
    let xref_at = startxref(bytes)?;
    let trailer = cross_reference(bytes, xref_at)?;
    if has_name(trailer, b"Encrypt") {
        return Err(
            "the PDF is encrypted or password-protected; upload a copy without a password"
                .to_owned(),
        );
    }
    if !has_name(trailer, b"Root") {
        return Err(damaged("its trailer names no document catalog"));
    }
    // Anywhere in the bytes, not just in objects the table reaches: a reader that
    // repairs the file would find them too.
    refuse_active_content(bytes)?;
    let mut budget = INFLATE_BUDGET;
    for data in flate_streams(bytes) {
        let inflated = inflate(data, &mut budget)?;
        refuse_active_content(&inflated)?;
    }
    Ok(())
}

/// Bytes all of a PDF's compressed streams may inflate to, together.
const INFLATE_BUDGET: usize = 64 * 1024 * 1024;

fn refuse_active_content(bytes: &[u8]) -> Result<(), String> {
    if has_name(bytes, b"JavaScript") || has_name(bytes, b"JS") {
        return Err("the PDF contains JavaScript, which documents may not carry".to_owned());
    }
    if has_name(bytes, b"Launch") {
        return Err(
            "the PDF contains a Launch action (it can start programs), which documents may \
             not carry"
                .to_owned(),
        );
    }
    Ok(())
}

/// The data of every stream whose dictionary names `/FlateDecode` (from just after the
/// `stream` keyword's end of line; the zlib data ends itself).
fn flate_streams(bytes: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let rest = bytes.get(from..)?;
            let at = from + rest.windows(6).position(|w| w == b"stream")?;
            from = at + 6;
            // `endstream` contains `stream`: skip it.
            if at >= 3 && bytes.get(at - 3..at) == Some(b"end") {
                continue;
            }
            let mut start = at + 6;
            match bytes.get(start) {
                Some(b'\r') if bytes.get(start + 1) == Some(&b'\n') => start += 2,
                Some(b'\n' | b'\r') => start += 1,
                _ => continue,
            }
            // The stream's dictionary: back to the `<<` that opens it, at most 4 KiB.
            let dict_from = at.saturating_sub(4096);
            let dict = bytes.get(dict_from..at)?;
            let open = rfind(dict, b"obj").map_or(0, |p| p + 3);
            if has_name(dict.get(open..)?, b"FlateDecode") {
                return bytes.get(start..);
            }
        }
    })
}

/// Inflates one zlib stream, taking its size from `budget`. A stream that does not
/// inflate is left to the reader (damaged streams are common and harmless here).
fn inflate(data: &[u8], budget: &mut usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    let read = flate2::read::ZlibDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out);
    if out.len() > *budget {
        return Err(format!(
            "the PDF expands to more than {} MB when decompressed",
            INFLATE_BUDGET / (1024 * 1024)
        ));
    }
    *budget -= out.len();
    if read.is_err() && out.is_empty() {
        return Ok(Vec::new());
    }
    Ok(out)
}

fn damaged(detail: &str) -> String {
    format!("the PDF is damaged or incomplete ({detail})")
}

/// `%PDF-1.x` or `%PDF-2.0` at offset 0, then the end of the line.
fn check_pdf_header(bytes: &[u8]) -> Result<(), String> {
    let version = bytes.strip_prefix(b"%PDF-").and_then(|rest| rest.get(..4));
    let known = match version {
        Some(&[b'1', b'.', minor, end]) => minor.is_ascii_digit() && is_whitespace(end),
        Some(&[b'2', b'.', b'0', end]) => is_whitespace(end),
        _ => false,
    };
    if known {
        Ok(())
    } else {
        Err("the PDF header is missing or names an unknown PDF version".to_owned())
    }
}

/// The offset after the last `startxref` (which must sit just before `%%EOF`).
fn startxref(bytes: &[u8]) -> Result<usize, String> {
    let tail_start = bytes.len().saturating_sub(PDF_TAIL);
    let eof = rfind(bytes.get(tail_start..).unwrap_or_default(), b"%%EOF")
        .map(|i| tail_start + i)
        .ok_or_else(|| damaged("it has no end-of-file marker"))?;
    let window_start = eof.saturating_sub(PDF_TAIL);
    let keyword = rfind(
        bytes.get(window_start..eof).unwrap_or_default(),
        b"startxref",
    )
    .map(|i| window_start + i)
    .ok_or_else(|| damaged("it has no startxref"))?;
    let mut s = Scan::at(bytes, keyword + b"startxref".len());
    s.skip_whitespace();
    let offset = s.uint(20);
    s.skip_whitespace();
    match offset {
        Some(offset) if s.pos == eof => usize::try_from(offset)
            .ok()
            .filter(|&offset| offset < bytes.len())
            .ok_or_else(|| damaged("startxref points past the end of the file")),
        _ => Err(damaged("its startxref is malformed")),
    }
}

/// Parses the cross-reference section at `at`; returns the trailer dictionary (the xref
/// stream's dictionary for PDF 1.5+ files).
fn cross_reference(bytes: &[u8], at: usize) -> Result<&[u8], String> {
    let mut s = Scan::at(bytes, at);
    s.skip_whitespace();
    if s.keyword(b"xref") {
        xref_table(bytes, s)
    } else if s.object_header().is_some() {
        s.skip_whitespace_and_comments();
        let dict = s
            .dictionary()
            .ok_or_else(|| damaged("its cross-reference stream has no dictionary"))?;
        if name_followed_by(dict, b"Type", b"XRef") {
            Ok(dict)
        } else {
            Err(damaged(
                "startxref points at an object that is not a cross-reference stream",
            ))
        }
    } else {
        Err(damaged(
            "startxref does not point at a cross-reference table",
        ))
    }
}

/// A classic table: subsections of `start count` and `count` entries, then `trailer <<..>>`.
/// Every in-use entry must point at `<number> <generation> obj` of its own object.
fn xref_table<'a>(bytes: &'a [u8], mut s: Scan<'a>) -> Result<&'a [u8], String> {
    let malformed = || damaged("its cross-reference table is malformed");
    loop {
        s.skip_whitespace();
        if s.keyword(b"trailer") {
            break;
        }
        let first = s.uint(10).ok_or_else(malformed)?;
        if !s.skip_spaces() {
            return Err(malformed());
        }
        let count = s.uint(10).ok_or_else(malformed)?;
        s.skip_whitespace();
        let room = s.rest().len() / XREF_ENTRY_MIN;
        if usize::try_from(count).map_or(true, |count| count > room) {
            return Err(damaged("its cross-reference table is cut short"));
        }
        for number in first..first + count {
            let (offset, generation, in_use) = s.xref_entry().ok_or_else(malformed)?;
            if in_use {
                let mut object = usize::try_from(offset)
                    .ok()
                    .filter(|&offset| offset < bytes.len())
                    .map(|offset| Scan::at(bytes, offset))
                    .ok_or_else(|| damaged("an object's offset is past the end of the file"))?;
                object.skip_whitespace();
                if object.object_header() != Some((number, generation)) {
                    return Err(damaged(&format!(
                        "object {number} is not where its cross-reference entry says"
                    )));
                }
            }
        }
    }
    s.skip_whitespace_and_comments();
    s.dictionary()
        .ok_or_else(|| damaged("its trailer is not a dictionary"))
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_whitespace(b) && !is_delimiter(b)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The name starting at the `/` at `slash`, `#xx` escapes decoded (so `/J#61vaScript` is
/// `JavaScript`); `None` past 32 bytes (no name we look for is that long).
fn name_at(bytes: &[u8], slash: usize) -> Option<Vec<u8>> {
    let mut s = Scan::at(bytes, slash + 1);
    let mut name = Vec::new();
    while let Some(b) = s.peek().filter(|&b| is_regular(b)) {
        s.pos += 1;
        let hex = |b: Option<u8>| b.and_then(|b| char::from(b).to_digit(16));
        let decoded = match (b, hex(s.peek()), hex(s.peek_at(1))) {
            (b'#', Some(high), Some(low)) => {
                s.pos += 2;
                u8::try_from(high * 16 + low).ok()?
            }
            _ => b,
        };
        name.push(decoded);
        if name.len() > 32 {
            return None;
        }
    }
    Some(name)
}

fn names(bytes: &[u8]) -> impl Iterator<Item = (usize, Vec<u8>)> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .filter_map(|(at, _)| Some((at, name_at(bytes, at)?)))
}

/// Whether the name `/name` occurs in `bytes` (as a name, not as part of a longer one).
fn has_name(bytes: &[u8], name: &[u8]) -> bool {
    names(bytes).any(|(_, found)| found == name)
}

/// Whether `/key` is directly followed by `/value` (as in `/Type /XRef`).
fn name_followed_by(bytes: &[u8], key: &[u8], value: &[u8]) -> bool {
    names(bytes).any(|(at, found)| {
        if found != key {
            return false;
        }
        let mut s = Scan::at(bytes, at + 1 + key.len());
        s.skip_whitespace();
        s.peek() == Some(b'/') && name_at(bytes, s.pos).as_deref() == Some(value)
    })
}

/// A position in the bytes; reading past the end yields `None`, never a panic.
#[derive(Clone, Copy)]
struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn at(bytes: &'a [u8], pos: usize) -> Self {
        Self { bytes, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos.checked_add(ahead)?).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        let found = self.rest().starts_with(literal);
        if found {
            self.pos += literal.len();
        }
        found
    }

    /// `word` as a whole token (not the start of a longer one).
    fn keyword(&mut self, word: &[u8]) -> bool {
        let mut ahead = *self;
        let found = ahead.eat(word) && !ahead.peek().is_some_and(is_regular);
        if found {
            *self = ahead;
        }
        found
    }

    fn skip_whitespace(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_whitespace) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Spaces only (not line ends), as between the two numbers of a subsection header.
    fn skip_spaces(&mut self) -> bool {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos > start
    }

    fn skip_whitespace_and_comments(&mut self) {
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'%') {
                return;
            }
            while self.peek().is_some_and(|b| b != b'\r' && b != b'\n') {
                self.pos += 1;
            }
        }
    }

    /// An unsigned integer of 1 to `max_digits` digits.
    fn uint(&mut self, max_digits: usize) -> Option<u64> {
        let digits = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > max_digits {
            return None;
        }
        let value = self
            .rest()
            .get(..digits)?
            .iter()
            .try_fold(0u64, |acc, &b| {
                acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            })?;
        self.pos += digits;
        Some(value)
    }

    /// `<number> <generation> obj`.
    fn object_header(&mut self) -> Option<(u64, u64)> {
        let mut ahead = *self;
        let number = ahead.uint(10)?;
        ahead.skip_whitespace().then_some(())?;
        let generation = ahead.uint(5).filter(|&g| g <= 65_535)?;
        ahead.skip_whitespace();
        ahead.keyword(b"obj").then_some(())?;
        *self = ahead;
        Some((number, generation))
    }

    /// `oooooooooo ggggg n` (or `f`) and its line end: (offset, generation, in use).
    fn xref_entry(&mut self) -> Option<(u64, u64, bool)> {
        let offset = self.fixed_digits(10)?;
        self.eat(b" ").then_some(())?;
        let generation = self.fixed_digits(5)?;
        self.eat(b" ").then_some(())?;
        let in_use = match self.peek()? {
            b'n' => true,
            b'f' => false,
            _ => return None,
        };
        self.pos += 1;
        let eol = self
            .rest()
            .iter()
            .take(2)
            .take_while(|&&b| is_whitespace(b))
            .count();
        if eol == 0 {
            return None;
        }
        self.pos += eol;
        Some((offset, generation, in_use))
    }

    fn fixed_digits(&mut self, n: usize) -> Option<u64> {
        let field = self.rest().get(..n)?;
        if !field.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.uint(n)
    }

    /// The dictionary `<< ... >>` starting here, nested dictionaries, strings and comments
    /// skipped over; `None` if it never closes.
    fn dictionary(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        self.eat(b"<<").then_some(())?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek()? {
                b'<' if self.eat(b"<<") => depth += 1,
                b'>' if self.eat(b">>") => depth -= 1,
                b'<' => {
                    let close = self.rest().iter().position(|&b| b == b'>')?;
                    self.pos += close + 1;
                }
                b'(' => self.skip_literal_string()?,
                b'%' => self.skip_whitespace_and_comments(),
                _ => self.pos += 1,
            }
        }
        self.bytes.get(start..self.pos)
    }

    /// `( ... )` with balanced parentheses and backslash escapes.
    fn skip_literal_string(&mut self) -> Option<()> {
        self.eat(b"(").then_some(())?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek()? {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A valid PDF whose object 4 is a Flate-compressed stream holding `content`.
    fn pdf_with_stream(content: &[u8]) -> Vec<u8> {
        let data = zlib(content);
        let mut out = b"%PDF-1.5\n".to_vec();
        let mut offsets = Vec::new();
        for body in [
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
        ] {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\nendobj\n");
        }
        offsets.push(out.len());
        out.extend_from_slice(
            format!(
                "4 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
                data.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\nendstream\nendobj\n");
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    #[test]
    fn a_pdf_with_an_ordinary_compressed_stream_passes() {
        check_pdf(&pdf_with_stream(b"BT /F1 12 Tf (Hello) Tj ET")).unwrap();
    }

    #[test]
    fn javascript_hidden_in_a_compressed_stream_is_found() {
        let err =
            check_pdf(&pdf_with_stream(b"<< /S /JavaScript /JS (app.alert(1)) >>")).unwrap_err();
        assert!(err.contains("JavaScript"), "{err}");
        let err = check_pdf(&pdf_with_stream(b"<< /S /Launch /F (calc.exe) >>")).unwrap_err();
        assert!(err.contains("Launch"), "{err}");
    }

    #[test]
    fn a_stream_that_inflates_past_the_budget_is_refused_as_a_bomb() {
        let bomb = vec![0u8; INFLATE_BUDGET + 1024];
        let pdf = pdf_with_stream(&bomb);
        assert!(pdf.len() < 200 * 1024, "the bomb is small: {}", pdf.len());
        let err = check_pdf(&pdf).unwrap_err();
        assert!(err.contains("decompressed"), "{err}");
    }
}
