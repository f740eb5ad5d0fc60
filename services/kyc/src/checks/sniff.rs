//! File type by magic bytes.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// Readers accept `%PDF-` anywhere in the first 1024 bytes; we want it at offset 0, so
/// nothing can hide in front of it.
const PDF_MAGIC: &[u8] = b"%PDF-";

/// The kinds of file KYC accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Jpeg,
    Png,
    Pdf,
}

impl FileKind {
    /// The kind of `bytes` from their first bytes, or `None`.
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        if bytes.starts_with(JPEG_MAGIC) {
            Some(FileKind::Jpeg)
        } else if bytes.starts_with(PNG_MAGIC) {
            Some(FileKind::Png)
        } else if bytes.starts_with(PDF_MAGIC) {
            Some(FileKind::Pdf)
        } else {
            None
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Pdf => "application/pdf",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Jpeg => "jpg",
            FileKind::Png => "png",
            FileKind::Pdf => "pdf",
        }
    }
    pub fn is_image(self) -> bool {
        !matches!(self, FileKind::Pdf)
    }
    /// The `image` crate's format for an image kind; `None` for a PDF.
    pub(crate) fn image_format(self) -> Option<ImageFormat> {
        match self {
            FileKind::Jpeg => Some(ImageFormat::Jpeg),
            FileKind::Png => Some(ImageFormat::Png),
            FileKind::Pdf => None,
        }
    }
}

/// Width and height from an image's header, without decoding it.
pub fn image_dimensions(kind: FileKind, bytes: &[u8]) -> Result<(u32, u32), String> {
    let format = kind
        .image_format()
        .ok_or_else(|| "a PDF has no pixel dimensions".to_owned())?;
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| "the image header is unreadable".to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 13) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn jpeg_png_and_pdf_are_recognised_by_their_magic_bytes() {
        assert_eq!(
            FileKind::sniff(&encoded(4, 3, ImageFormat::Jpeg)),
            Some(FileKind::Jpeg)
        );
        assert_eq!(
            FileKind::sniff(&encoded(4, 3, ImageFormat::Png)),
            Some(FileKind::Png)
        );
        assert_eq!(
            FileKind::sniff(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"),
            Some(FileKind::Pdf)
        );
    }

    #[test]
    fn a_pdf_header_after_offset_zero_is_not_a_pdf() {
        assert_eq!(FileKind::sniff(b"junk%PDF-1.7\n"), None);
        assert_eq!(FileKind::sniff(b"\n%PDF-1.4\n"), None);
    }

    #[test]
    fn empty_short_and_unknown_bytes_are_not_recognised() {
        assert_eq!(FileKind::sniff(b""), None);
        assert_eq!(FileKind::sniff(&[0xFF, 0xD8]), None);
        assert_eq!(FileKind::sniff(&PNG_MAGIC[..7]), None);
        assert_eq!(FileKind::sniff(b"%PDF"), None);
        assert_eq!(FileKind::sniff(b"GIF89a\x01\x00\x01\x00"), None);
        assert_eq!(FileKind::sniff(b"PK\x03\x04"), None);
    }

    #[test]
    fn each_kind_has_its_mime_type_and_extension() {
        assert_eq!(FileKind::Jpeg.mime(), "image/jpeg");
        assert_eq!(FileKind::Png.mime(), "image/png");
        assert_eq!(FileKind::Pdf.mime(), "application/pdf");
        assert_eq!(FileKind::Jpeg.extension(), "jpg");
        assert_eq!(FileKind::Png.extension(), "png");
        assert_eq!(FileKind::Pdf.extension(), "pdf");
        assert!(FileKind::Png.is_image() && FileKind::Jpeg.is_image());
        assert!(!FileKind::Pdf.is_image());
    }

    #[test]
    fn image_dimensions_come_from_the_header() {
        let png = encoded(31, 17, ImageFormat::Png);
        let jpeg = encoded(40, 9, ImageFormat::Jpeg);
        assert_eq!(image_dimensions(FileKind::Png, &png), Ok((31, 17)));
        assert_eq!(image_dimensions(FileKind::Jpeg, &jpeg), Ok((40, 9)));
        // The pixel data is not needed: cut the PNG a few bytes into its IDAT chunk.
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        assert_eq!(
            image_dimensions(FileKind::Png, &png[..idat + 8]),
            Ok((31, 17))
        );
    }

    #[test]
    fn image_dimensions_of_a_pdf_or_an_unreadable_header_are_an_error() {
        assert!(image_dimensions(FileKind::Pdf, b"%PDF-1.7\n").is_err());
        assert!(image_dimensions(FileKind::Png, PNG_MAGIC).is_err());
        assert!(image_dimensions(FileKind::Jpeg, &[0xFF, 0xD8, 0xFF]).is_err());
        let jpeg = encoded(4, 4, ImageFormat::Jpeg);
        assert!(image_dimensions(FileKind::Png, &jpeg).is_err());
    }
}
