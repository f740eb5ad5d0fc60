//! The documents the demo uploads, made in code: a small PNG "photo" and a one-page PDF.
//! Each is unique to its account (`seed`), so the service never flags a file as uploaded by
//! another account, however often the demo runs.

use std::io::Cursor;

/// A `w`×`h` PNG whose pixels come from `seed` (every byte of it counts).
pub fn png(w: u32, h: u32, seed: &[u8]) -> anyhow::Result<Vec<u8>> {
    // FNV-1a of the seed, then xorshift per pixel.
    let key = seed.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let mut v = key ^ (u64::from(x / 4) << 32 | u64::from(y / 4));
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        let [r, g, b, ..] = v.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// A one-page PDF with a correct cross-reference table; `title` makes its bytes unique.
/// Only plain characters go into the PDF string.
pub fn pdf(title: &str) -> Vec<u8> {
    let title: String = title
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " -_.@".contains(*c))
        .collect();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>".to_owned(),
        format!("<< /Title ({title}) >>"),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_png_decodes_and_differs_by_seed() {
        let a = png(40, 24, b"same start, one").unwrap();
        let b = png(40, 24, b"same start, two").unwrap();
        assert_ne!(a, b);
        assert_eq!(a, png(40, 24, b"same start, one").unwrap());
        let img = image::load_from_memory_with_format(&a, image::ImageFormat::Png).unwrap();
        assert_eq!((img.width(), img.height()), (40, 24));
    }

    #[test]
    fn the_pdf_xref_points_at_its_objects() {
        let doc = pdf("bill (for) demo");
        let text = String::from_utf8(doc.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        assert!(text.contains("/Title (bill for demo)"));
        let start: usize = text.rsplit("startxref\n").next().unwrap()[..]
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[start..].starts_with("xref\n0 5\n"));
        for (n, line) in text[start..].lines().skip(3).take(4).enumerate() {
            let at: usize = line[..10].parse().unwrap();
            assert!(
                text[at..].starts_with(&format!("{} 0 obj", n + 1)),
                "{line}"
            );
        }
    }
}
