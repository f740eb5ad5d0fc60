//! The checks a document goes through: what the bytes are (magic numbers, never the name
//! or declared type), whether they decode, a virus scan (clamd INSTREAM) and OCR
//! (the `tesseract` command). Pure functions and small clients; the worker decides.

pub mod clamd;
pub mod integrity;
pub mod ocr;
mod pdf;
pub mod sniff;

pub use clamd::{ClamdClient, ScanVerdict};
pub use integrity::check_integrity;
pub use ocr::{OcrReader, OcrResult, name_matches};
pub use sniff::{FileKind, image_dimensions};
