//! Does the file decode?
//!
//! Images are decoded in full under [`image::Limits`] derived from the pixel budget, after
//! the header's width × height has been checked, so a decompression bomb is refused before
//! anything is allocated for it. PDFs are not decoded: no PDF crate (object-stream
//! decompression is a memory-bomb risk of its own and a heavy dependency); instead the file
//! structure is parsed (header, `startxref`, the cross-reference table or stream it points
//! to, the trailer) and active or encrypted content is refused.

use std::io::Cursor;

use image::{ImageError, ImageReader, Limits};

use super::FileKind;

/// Bytes per pixel the decoder may need at most (16-bit RGBA), for the allocation limit.
const MAX_BYTES_PER_PIXEL: u64 = 8;
/// Headroom for the decoders' own buffers (Huffman tables, a PNG row, ...).
const DECODER_HEADROOM: u64 = 16 * 1024 * 1024;

/// Decodes an image (within `max_pixels`) or parses a PDF's structure. CPU-bound: call it
/// from `spawn_blocking`. The error is a sentence the user can read.
pub fn check_integrity(kind: FileKind, bytes: &[u8], max_pixels: u64) -> Result<(), String> {
    match kind.image_format() {
        Some(format) => check_image(format, bytes, max_pixels),
        None => super::pdf::check_pdf(bytes),
    }
}

fn check_image(format: image::ImageFormat, bytes: &[u8], max_pixels: u64) -> Result<(), String> {
    let too_large = || {
        format!(
            "the image is larger than {} megapixels",
            max_pixels as f64 / 1_000_000.0
        )
    };
    let damaged = || "the image is damaged or incomplete".to_owned();
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);

    let (width, height) = reader().into_dimensions().map_err(|_| damaged())?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(too_large());
    }

    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(
        max_pixels
            .saturating_mul(MAX_BYTES_PER_PIXEL)
            .saturating_add(DECODER_HEADROOM),
    );
    let mut reader = reader();
    reader.limits(limits);
    match reader.decode() {
        Ok(_) if complete(format, bytes) => Ok(()),
        Ok(_) => Err(damaged()),
        Err(ImageError::Limits(_)) => Err(too_large()),
        Err(_) => Err(damaged()),
    }
}

/// Whether the file reaches its end marker. The decoders forgive a cut-off tail: a JPEG
/// missing the last part of its scan decodes with the rest filled in, a PNG missing
/// its `IEND` chunk decodes whole. A file cut short in an upload is still incomplete.
fn complete(format: image::ImageFormat, bytes: &[u8]) -> bool {
    match format {
        // The IEND chunk: length 0, type, CRC (always the same twelve bytes).
        image::ImageFormat::Png => bytes.windows(PNG_IEND.len()).any(|w| w == PNG_IEND),
        // An end-of-image marker after the last start-of-scan (an EXIF thumbnail before
        // the scan has an EOI of its own; a trailer after the EOI is allowed).
        image::ImageFormat::Jpeg => {
            let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            last_scan.is_some_and(|at| bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]))
        }
        _ => true,
    }
}

const PNG_IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::*;
    use crate::checks::sniff::tests::encoded;

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A real small PNG whose IHDR claims `width` × `height` (with a valid CRC).
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut png = encoded(2, 2, ImageFormat::Png);
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    #[test]
    fn a_valid_png_and_jpeg_pass() {
        let png = encoded(32, 24, ImageFormat::Png);
        let jpeg = encoded(32, 24, ImageFormat::Jpeg);
        assert_eq!(check_integrity(FileKind::Png, &png, 40_000_000), Ok(()));
        assert_eq!(check_integrity(FileKind::Jpeg, &jpeg, 40_000_000), Ok(()));
    }

    #[test]
    fn the_committed_ocr_fixture_passes() {
        let png = include_bytes!("../../tests/fixtures/name.png");
        assert_eq!(check_integrity(FileKind::Png, png, 40_000_000), Ok(()));
    }

    #[test]
    fn an_image_over_the_pixel_budget_is_refused_with_its_size_in_megapixels() {
        let png = encoded(100, 100, ImageFormat::Png);
        assert_eq!(
            check_integrity(FileKind::Png, &png, 5_000),
            Err("the image is larger than 0.005 megapixels".to_owned())
        );
        assert_eq!(check_integrity(FileKind::Png, &png, 10_000), Ok(()));
    }

    #[test]
    fn a_decompression_bomb_header_is_refused_before_decoding() {
        let bomb = png_claiming(60_000, 60_000);
        assert_eq!(
            check_integrity(FileKind::Png, &bomb, 40_000_000),
            Err("the image is larger than 40 megapixels".to_owned())
        );
    }

    #[test]
    fn a_header_within_budget_over_too_little_data_is_damaged() {
        let liar = png_claiming(1_000, 1_000);
        assert_eq!(
            check_integrity(FileKind::Png, &liar, 40_000_000),
            Err("the image is damaged or incomplete".to_owned())
        );
    }

    #[test]
    fn a_truncated_png_is_damaged_or_incomplete() {
        let png = encoded(64, 64, ImageFormat::Png);
        assert_eq!(
            check_integrity(FileKind::Png, &png[..png.len() / 2], 40_000_000),
            Err("the image is damaged or incomplete".to_owned())
        );
    }

    #[test]
    fn bytes_of_another_kind_are_damaged() {
        let jpeg = encoded(8, 8, ImageFormat::Jpeg);
        assert!(check_integrity(FileKind::Png, &jpeg, 40_000_000).is_err());
        assert!(check_integrity(FileKind::Jpeg, b"%PDF-1.4\n", 40_000_000).is_err());
    }

    #[test]
    fn every_truncation_of_an_image_is_damaged_or_incomplete() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let bytes = encoded(16, 16, format);
            let kind = FileKind::sniff(&bytes).unwrap();
            for len in 0..bytes.len() {
                assert_eq!(
                    check_integrity(kind, &bytes[..len], 40_000_000),
                    Err("the image is damaged or incomplete".to_owned()),
                    "{format:?} cut to {len} of {} bytes",
                    bytes.len()
                );
            }
            assert_eq!(check_integrity(kind, &bytes, 40_000_000), Ok(()));
        }
    }

    #[test]
    fn a_jpeg_with_a_trailer_after_its_end_marker_is_complete() {
        let mut bytes = encoded(16, 16, ImageFormat::Jpeg);
        bytes.extend(b"SEFT trailer a phone appended");
        assert_eq!(check_integrity(FileKind::Jpeg, &bytes, 40_000_000), Ok(()));
    }
    const CATALOG: &str = "<< /Type /Catalog /Pages 2 0 R >>";
    const PAGES: &str = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
    const PAGE: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>";

    /// A PDF with `objects` numbered from 1, a classic cross-reference table whose offsets
    /// are computed here, and `trailer` entries (plus `/Size`). Returns it and the table's
    /// offset.
    fn pdf_parts(version: &str, objects: &[&str], trailer: &str) -> (Vec<u8>, usize) {
        let mut out = format!("%PDF-{version}\n").into_bytes();
        out.extend(b"%\xE2\xE3\xCF\xD3\n");
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).bytes());
        }
        let xref = out.len();
        let size = objects.len() + 1;
        out.extend(format!("xref\n0 {size}\n0000000000 65535 f\r\n").bytes());
        for offset in offsets {
            out.extend(format!("{offset:010} 00000 n\r\n").bytes());
        }
        out.extend(format!("trailer\n<< /Size {size} {trailer} >>\n").bytes());
        out.extend(format!("startxref\n{xref}\n%%EOF\n").bytes());
        (out, xref)
    }

    fn pdf(objects: &[&str], trailer: &str) -> Vec<u8> {
        pdf_parts("1.4", objects, trailer).0
    }

    fn valid_pdf() -> Vec<u8> {
        pdf(&[CATALOG, PAGES, PAGE], "/Root 1 0 R")
    }

    /// A PDF 1.5 file whose cross-reference section is an (uncompressed) xref stream.
    fn xref_stream_pdf(stream_type: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in [CATALOG, PAGES, PAGE].iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).bytes());
        }
        let xref = out.len();
        offsets.push(xref);
        // /W [1 2 1]: entry type, offset, generation.
        let mut data = vec![0u8, 0, 0, 255];
        for offset in offsets {
            data.push(1);
            data.extend(u16::try_from(offset).unwrap().to_be_bytes());
            data.push(0);
        }
        out.extend(
            format!(
                "4 0 obj\n<< /Type /{stream_type} /Size 5 /W [1 2 1] /Root 1 0 R /Length {} >>\nstream\n",
                data.len()
            )
            .bytes(),
        );
        out.extend(&data);
        out.extend(format!("\nendstream\nendobj\nstartxref\n{xref}\n%%EOF\n").bytes());
        out
    }

    fn replaced(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
        let at = bytes
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .unwrap();
        [&bytes[..at], to.as_bytes(), &bytes[at + from.len()..]].concat()
    }

    fn pdf_check(bytes: &[u8]) -> Result<(), String> {
        check_integrity(FileKind::Pdf, bytes, 40_000_000)
    }

    #[test]
    fn a_minimal_pdf_with_a_cross_reference_table_passes() {
        assert_eq!(pdf_check(&valid_pdf()), Ok(()));
    }

    #[test]
    fn a_pdf_2_0_passes_and_unknown_versions_are_refused() {
        let (v2, _) = pdf_parts("2.0", &[CATALOG, PAGES, PAGE], "/Root 1 0 R");
        assert_eq!(pdf_check(&v2), Ok(()));
        for version in ["3.0", "2.1", "1.x", "1"] {
            let (bytes, _) = pdf_parts(version, &[CATALOG, PAGES, PAGE], "/Root 1 0 R");
            assert_eq!(
                pdf_check(&bytes),
                Err("the PDF header is missing or names an unknown PDF version".to_owned()),
                "{version}"
            );
        }
    }

    #[test]
    fn a_pdf_with_a_cross_reference_stream_passes_without_decompressing_it() {
        assert_eq!(pdf_check(&xref_stream_pdf("XRef")), Ok(()));
    }

    #[test]
    fn startxref_pointing_at_an_object_that_is_not_an_xref_stream_is_refused() {
        let err = pdf_check(&xref_stream_pdf("ObjStm")).unwrap_err();
        assert!(err.contains("not a cross-reference stream"), "{err}");
    }

    #[test]
    fn a_trailer_with_nested_dictionaries_and_tricky_strings_is_read_to_its_end() {
        let bytes = pdf(
            &[CATALOG, PAGES, PAGE],
            "/Info << /Title (a >> b \\) c) /Id <ab3e> >> % comment >>\n/Root 1 0 R",
        );
        assert_eq!(pdf_check(&bytes), Ok(()));
    }

    #[test]
    fn a_pdf_without_a_document_catalog_is_refused() {
        let bytes = pdf(&[CATALOG, PAGES, PAGE], "/Info 3 0 R");
        assert_eq!(
            pdf_check(&bytes),
            Err(
                "the PDF is damaged or incomplete (its trailer names no document catalog)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn an_xref_entry_pointing_at_the_wrong_place_is_refused() {
        let (mut bytes, xref) = pdf_parts("1.4", &[CATALOG, PAGES, PAGE], "/Root 1 0 R");
        let entry = xref + "xref\n0 4\n".len() + 20 * 2;
        bytes[entry..entry + 10].copy_from_slice(b"0000000009");
        assert_eq!(
            pdf_check(&bytes),
            Err(
                "the PDF is damaged or incomplete (object 2 is not where its cross-reference entry says)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn startxref_past_the_end_or_at_the_wrong_place_is_refused() {
        let (bytes, xref) = pdf_parts("1.4", &[CATALOG, PAGES, PAGE], "/Root 1 0 R");
        let past = replaced(&bytes, &format!("startxref\n{xref}"), "startxref\n99999");
        assert!(pdf_check(&past).unwrap_err().contains("past the end"));
        let wrong = replaced(&bytes, &format!("startxref\n{xref}"), "startxref\n20");
        assert!(pdf_check(&wrong).is_err());
        let missing = replaced(&bytes, &format!("startxref\n{xref}"), "");
        assert!(pdf_check(&missing).unwrap_err().contains("no startxref"));
    }

    #[test]
    fn a_pdf_whose_end_marker_is_missing_or_far_from_the_end_is_refused() {
        let bytes = valid_pdf();
        let cut = &bytes[..bytes.len() - "%%EOF\n".len()];
        assert!(
            pdf_check(cut)
                .unwrap_err()
                .contains("no end-of-file marker")
        );
        let padded = [&bytes[..], &[b' '; 2000]].concat();
        assert!(
            pdf_check(&padded)
                .unwrap_err()
                .contains("no end-of-file marker")
        );
    }

    #[test]
    fn an_encrypted_pdf_is_refused() {
        let encrypt = "<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>";
        let bytes = pdf(
            &[CATALOG, PAGES, PAGE, encrypt],
            "/Root 1 0 R /Encrypt 4 0 R",
        );
        assert_eq!(
            pdf_check(&bytes),
            Err(
                "the PDF is encrypted or password-protected; upload a copy without a password"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_pdf_with_javascript_is_refused_even_when_the_name_is_escaped() {
        let catalog = "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>";
        for action in [
            "<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
            "<< /S /J#61vaScript /JS (app.alert\\(1\\)) >>",
        ] {
            let bytes = pdf(&[catalog, PAGES, PAGE, action], "/Root 1 0 R");
            assert_eq!(
                pdf_check(&bytes),
                Err("the PDF contains JavaScript, which documents may not carry".to_owned())
            );
        }
    }

    #[test]
    fn a_pdf_with_a_launch_action_is_refused() {
        let catalog = "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>";
        let action = "<< /S /Launch /F (calc.exe) >>";
        let bytes = pdf(&[catalog, PAGES, PAGE, action], "/Root 1 0 R");
        assert!(pdf_check(&bytes).unwrap_err().contains("Launch action"));
    }

    #[test]
    fn names_that_merely_start_like_an_action_are_not_refused() {
        let page = "<< /Type /Page /Parent 2 0 R /LaunchPad 1 /JavaScripts 2 >>";
        let bytes = pdf(&[CATALOG, PAGES, page], "/Root 1 0 R");
        assert_eq!(pdf_check(&bytes), Ok(()));
    }

    #[test]
    fn every_truncation_of_a_pdf_is_refused_without_panicking() {
        for bytes in [valid_pdf(), xref_stream_pdf("XRef")] {
            let eof_end = bytes.len() - 1;
            for len in 0..eof_end {
                assert!(pdf_check(&bytes[..len]).is_err(), "length {len}");
            }
            assert_eq!(pdf_check(&bytes[..eof_end]), Ok(()));
        }
    }

    /// Whether `corrupted` still says the offset `pdf` says at the number around byte
    /// `at` once leading whitespace is skipped (readers, this one too, allow whitespace
    /// before an object): a digit changed so the offset lands on the newline before the
    /// same object is no damage.
    fn same_place(pdf: &[u8], corrupted: &[u8], at: usize) -> bool {
        let number = |bytes: &[u8]| -> Option<usize> {
            if !bytes[at].is_ascii_digit() {
                return None;
            }
            let start = bytes[..=at]
                .iter()
                .rposition(|b| !b.is_ascii_digit())
                .map_or(0, |p| p + 1);
            let end = at + bytes[at..].iter().position(|b| !b.is_ascii_digit())?;
            std::str::from_utf8(&bytes[start..end]).ok()?.parse().ok()
        };
        match (number(pdf), number(corrupted)) {
            (Some(was), Some(now)) if now < was => {
                pdf[now..was].iter().all(u8::is_ascii_whitespace)
            }
            _ => false,
        }
    }

    /// Where the cross-reference offsets of `pdf` (a classic table) are: the ten digits
    /// of each in-use entry, and the number after `startxref`.
    fn offset_digits(pdf: &[u8]) -> Vec<usize> {
        let find = |from: usize, what: &[u8]| {
            from + pdf[from..]
                .windows(what.len())
                .position(|w| w == what)
                .unwrap()
        };
        let table = find(0, b"xref\n") + b"xref\n".len();
        let mut entry = find(table, b"\n") + 1;
        let mut at = Vec::new();
        while pdf[entry].is_ascii_digit() {
            if pdf[entry + 17] == b'n' {
                at.extend(entry..entry + 10);
            }
            entry += 20;
        }
        let start = find(0, b"startxref\n") + b"startxref\n".len();
        at.extend(start..find(start, b"\n"));
        at
    }

    #[test]
    fn every_single_byte_corruption_of_a_pdf_returns_a_verdict_and_every_broken_offset_is_caught() {
        let bytes = valid_pdf();
        let offsets = offset_digits(&bytes);
        assert!(offsets.len() >= 30, "{offsets:?}");
        let mut caught = 0;
        for at in 0..bytes.len() {
            for value in [b'0', b'9', b' ', b'/', b'<', b'>', b'(', b'\\', b'%', 0xFF] {
                if bytes[at] == value {
                    continue;
                }
                let mut corrupted = bytes.clone();
                corrupted[at] = value;
                let verdict = pdf_check(&corrupted);
                if offsets.contains(&at) && !same_place(&bytes, &corrupted, at) {
                    assert!(
                        verdict.is_err(),
                        "byte {at} set to {value}: an offset that points elsewhere passed"
                    );
                    caught += 1;
                }
            }
        }
        assert!(caught >= 30 * 9);
        // The xref-stream form: a verdict for every corruption, never a panic, and the
        // cross-reference stream's own offset is checked too.
        let stream = xref_stream_pdf("XRef");
        for at in 0..stream.len() {
            for value in [b'0', b'9', b' ', b'/', b'<', b'>', b'(', b'\\', b'%', 0xFF] {
                let mut corrupted = stream.clone();
                corrupted[at] = value;
                let _verdict: Result<(), String> = pdf_check(&corrupted);
            }
        }
        let start = stream
            .windows(10)
            .position(|w| w == b"startxref\n")
            .unwrap()
            + 10;
        let mut corrupted = stream.clone();
        corrupted[start] = if stream[start] == b'1' { b'2' } else { b'1' };
        assert!(pdf_check(&corrupted).is_err());
    }
}
