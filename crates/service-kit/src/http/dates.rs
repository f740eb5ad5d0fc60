//! Dates as the API documents say them (`format: date`, RFC 3339's `full-date`):
//! exactly `YYYY-MM-DD`. chrono alone would also take `2027-1-5`, which the documents
//! call invalid.

use chrono::NaiveDate;

/// `s` as a date if it is exactly `YYYY-MM-DD` and a real day.
pub fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_dates_of_real_days() {
        assert_eq!(iso_date("2027-01-31"), NaiveDate::from_ymd_opt(2027, 1, 31));
        for bad in [
            "2027-1-31",
            "2027-02-30",
            " 2027-01-31",
            "2027-01-31T00:00",
            "",
            "20270131",
        ] {
            assert!(iso_date(bad).is_none(), "{bad:?}");
        }
    }
}
