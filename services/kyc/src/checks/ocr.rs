//! OCR through the `tesseract` command.
//!
//! Only images are read: a PDF would need rasterising first (another command, another
//! attack surface), so for a PDF the caller records OCR as skipped; see
//! [`OcrReader::can_read`].

use std::process::Stdio;

use anyhow::{Context, anyhow, bail};

use super::FileKind;

/// The most of tesseract's stderr quoted in an error.
const MAX_STDERR: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct OcrResult {
    pub text: String,
    /// Mean word confidence, 0..=100.
    pub confidence: f64,
}

#[derive(Debug, Clone)]
pub struct OcrReader {
    pub command: String,
    pub timeout: std::time::Duration,
}

impl OcrReader {
    pub fn new(command: impl Into<String>, timeout: std::time::Duration) -> Self {
        Self {
            command: command.into(),
            timeout,
        }
    }

    /// Whether [`read`](Self::read) reads this kind: images yes, PDFs no (record OCR as
    /// skipped for them).
    pub fn can_read(kind: FileKind) -> bool {
        kind.is_image()
    }

    /// Runs `<command> <file> stdout tsv` on the image and returns its words and their
    /// mean confidence. Errors for a PDF, a failing or missing command, or a timeout (the
    /// process is killed).
    #[tracing::instrument(skip(self, bytes), fields(command = %self.command, len = bytes.len()))]
    pub async fn read(&self, kind: FileKind, bytes: &[u8]) -> anyhow::Result<OcrResult> {
        if !Self::can_read(kind) {
            bail!("OCR reads images only, not a {kind:?} file");
        }
        let file = tempfile::Builder::new()
            .prefix("kyc-ocr-")
            .suffix(&format!(".{}", kind.extension()))
            .tempfile()
            .context("create a temporary file for OCR")?;
        tokio::fs::write(file.path(), bytes)
            .await
            .context("write the image for OCR")?;
        let run = tokio::process::Command::new(&self.command)
            .arg(file.path())
            .args(["stdout", "tsv"])
            // One thread per run: the worker runs several at once on few cores.
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| anyhow!("{} took longer than {:?}", self.command, self.timeout))?
            .with_context(|| format!("run {}", self.command))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr: String = stderr.trim().chars().take(MAX_STDERR).collect();
            bail!("{} failed ({}): {stderr}", self.command, output.status);
        }
        Ok(parse_tsv(&String::from_utf8_lossy(&output.stdout)))
    }
}

/// Tesseract's TSV: a header, then `level page block par line word left top width height
/// conf text`; level 5 rows are words, and a confidence of -1 means "not a word".
fn parse_tsv(tsv: &str) -> OcrResult {
    let mut words = Vec::new();
    let mut confidences = Vec::new();
    for row in tsv.lines().skip(1) {
        let columns: Vec<&str> = row.splitn(12, '\t').collect();
        let [level, .., conf, text] = columns.as_slice() else {
            continue;
        };
        if columns.len() != 12 || *level != "5" || text.trim().is_empty() {
            continue;
        }
        words.push(text.trim());
        if let Ok(conf) = conf.trim().parse::<f64>()
            && conf >= 0.0
        {
            confidences.push(conf.min(100.0));
        }
    }
    let confidence = if confidences.is_empty() {
        0.0
    } else {
        confidences.iter().sum::<f64>() / confidences.len() as f64
    };
    OcrResult {
        text: words.join(" "),
        confidence,
    }
}

/// Whether every part of `full_name` appears in `text` (case and accents aside).
///
/// Parts are the name's words of two letters or more (initials are skipped); each must be
/// a whole word of `text`. Apostrophes are dropped (`O'Brien` is `obrien`), other
/// punctuation separates words. A name with no such part matches nothing.
pub fn name_matches(full_name: &str, text: &str) -> bool {
    let text_words = words(text);
    let mut parts = words(full_name)
        .into_iter()
        .filter(|part| part.chars().count() >= 2)
        .peekable();
    parts.peek().is_some() && parts.all(|part| text_words.contains(&part))
}

/// Lowercase, accent-free words.
fn words(text: &str) -> Vec<String> {
    let folded: String = text
        .chars()
        .filter(|c| !matches!(c, '\'' | '\u{2019}' | '`'))
        .flat_map(char::to_lowercase)
        .map(fold_accent)
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The unaccented letter of a lowercase Latin letter (OCR often drops accents, and people
/// type names without them); other characters unchanged.
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ẹ' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ị' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ọ' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ụ' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NAME_PNG: &[u8] = include_bytes!("../../tests/fixtures/name.png");

    fn tesseract() -> OcrReader {
        OcrReader::new("tesseract", Duration::from_secs(60))
    }

    #[test]
    fn a_name_matches_when_every_part_is_a_word_of_the_text() {
        let text = "FEDERAL REPUBLIC OF NIGERIA Surname: ADEBAYO, Given names JOHN OLUWASEUN";
        assert!(name_matches("John Adebayo", text));
        assert!(name_matches("john oluwaseun adebayo", text));
        assert!(!name_matches("John Adeyemi", text));
    }

    #[test]
    fn a_part_must_be_a_whole_word_not_a_fragment() {
        assert!(!name_matches("Ann Lee", "JOANNA LEEDS"));
    }

    #[test]
    fn case_accents_and_punctuation_do_not_matter() {
        assert!(name_matches("José Müller-Łukasz", "JOSE MULLER LUKASZ"));
        assert!(name_matches("Jose Muller", "josé müller"));
        assert!(name_matches("Seán O'Brien", "Name: OBRIEN, SEAN."));
        assert!(name_matches("Seán O’Brien", "O'BRIEN SEAN"));
    }

    #[test]
    fn initials_are_skipped_and_an_empty_name_matches_nothing() {
        assert!(name_matches("John A. Adebayo", "JOHN ADEBAYO"));
        assert!(!name_matches("", "JOHN ADEBAYO"));
        assert!(!name_matches("J. A.", "J A"));
    }

    #[test]
    fn tsv_words_are_joined_and_their_confidence_averaged() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t600\t120\t-1\t\n\
                   4\t1\t1\t1\t1\t0\t17\t39\t410\t46\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t17\t39\t138\t46\t90.5\tJOHN\n\
                   5\t1\t1\t1\t1\t2\t176\t39\t251\t37\t70.5\tADEBAYO\n\
                   5\t1\t1\t1\t1\t3\t176\t39\t251\t37\t95\t \n";
        let result = parse_tsv(tsv);
        assert_eq!(result.text, "JOHN ADEBAYO");
        assert!((result.confidence - 80.5).abs() < 1e-9);
    }

    #[test]
    fn tsv_without_words_has_no_text_and_zero_confidence() {
        let result = parse_tsv("level\tpage_num\n1\t1\t0\t0\t0\t0\t0\t0\t1\t1\t-1\t\n");
        assert_eq!(result.text, "");
        assert_eq!(result.confidence, 0.0);
        assert_eq!(parse_tsv(""), parse_tsv("garbage\nmore garbage"));
    }

    #[tokio::test]
    async fn a_pdf_is_not_read_and_the_caller_skips_it() {
        assert!(!OcrReader::can_read(FileKind::Pdf));
        assert!(OcrReader::can_read(FileKind::Png) && OcrReader::can_read(FileKind::Jpeg));
        assert!(
            tesseract()
                .read(FileKind::Pdf, b"%PDF-1.7\n")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_failing_command_is_an_error_with_its_stderr() {
        let reader = OcrReader::new("false", Duration::from_secs(5));
        assert!(reader.read(FileKind::Png, NAME_PNG).await.is_err());
        let missing = OcrReader::new("no-such-ocr-command", Duration::from_secs(5));
        assert!(missing.read(FileKind::Png, NAME_PNG).await.is_err());
        let err = tesseract()
            .read(FileKind::Png, b"not an image")
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("tesseract failed"), "{err:#}");
    }

    #[tokio::test]
    async fn a_command_that_runs_too_long_is_stopped() {
        // `sh <file> stdout tsv` runs the "image" as a script.
        let reader = OcrReader::new("sh", Duration::from_millis(300));
        let started = std::time::Instant::now();
        let err = reader
            .read(FileKind::Png, b"exec sleep 30\n")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("took longer"), "{err:#}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// Needs `tesseract` (scripts/ensure-test-tools.sh installs it; `make test` runs that).
    #[tokio::test]
    async fn tesseract_reads_the_name_on_a_clear_image() {
        assert!(
            std::process::Command::new("tesseract")
                .arg("--version")
                .output()
                .is_ok(),
            "tesseract is not installed: run scripts/ensure-test-tools.sh"
        );
        let result = tesseract().read(FileKind::Png, NAME_PNG).await.unwrap();
        assert!(result.text.contains("ADEBAYO"), "{result:?}");
        assert!(result.confidence > 50.0, "{result:?}");
        assert!(name_matches("John Adebayo", &result.text));
    }
}
