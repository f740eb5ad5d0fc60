//! An invoice's fields as a client sends them, and the checked form the service stores.

use chrono::NaiveDate;
use common::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use service_kit::http::FieldError;
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebtorInput {
    /// The company or person who owes the money.
    #[schema(example = "Dangote Cement Plc")]
    pub name: String,
    pub email: Option<String>,
    /// Tax identification number.
    pub tax_id: Option<String>,
}

/// A new invoice (`POST`): every field but `currency` (NGN when left out), `description`
/// and the debtor's email and tax id is required (a missing one is a 422 naming it).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvoice {
    /// Unique among the seller's invoices.
    #[schema(example = "INV-2026-0042")]
    pub invoice_number: String,
    pub debtor: DebtorInput,
    /// A decimal string, at most two decimals.
    #[schema(example = "1500000.00")]
    pub amount: String,
    /// ISO 4217; default NGN.
    #[schema(example = "NGN")]
    pub currency: Option<String>,
    /// ISO date.
    #[schema(example = "2026-11-01")]
    pub issue_date: String,
    #[schema(example = "2027-01-31")]
    pub due_date: String,
    #[schema(example = "Cement supplied in October")]
    pub description: Option<String>,
}

impl From<NewInvoice> for InvoiceInput {
    fn from(n: NewInvoice) -> Self {
        InvoiceInput {
            invoice_number: Some(n.invoice_number),
            debtor: Some(n.debtor),
            amount: Some(n.amount),
            currency: n.currency,
            issue_date: Some(n.issue_date),
            due_date: Some(n.due_date),
            description: n.description,
        }
    }
}

/// A change (`PATCH`: only the fields to change), or a new invoice's fields to check.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    /// Unique among the seller's invoices.
    #[schema(example = "INV-2026-0042")]
    pub invoice_number: Option<String>,
    pub debtor: Option<DebtorInput>,
    /// A decimal string, at most two decimals.
    #[schema(example = "1500000.00")]
    pub amount: Option<String>,
    /// ISO 4217; default NGN.
    #[schema(example = "NGN")]
    pub currency: Option<String>,
    /// ISO date.
    #[schema(example = "2026-11-01")]
    pub issue_date: Option<String>,
    #[schema(example = "2027-01-31")]
    pub due_date: Option<String>,
    #[schema(example = "Cement supplied in October")]
    pub description: Option<String>,
}

/// Checked fields.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceFields {
    pub invoice_number: String,
    pub debtor_name: String,
    pub debtor_email: Option<String>,
    pub debtor_tax_id: Option<String>,
    pub amount: Money,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub description: String,
}

/// Bounds from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest amount, in minor units.
    pub max_amount_minor: i64,
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

fn text(
    errors: &mut Errors,
    field: &str,
    value: Option<&str>,
    max: usize,
    required: bool,
) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty());
    match v {
        None if required => {
            errors.add(field, "required");
            None
        }
        None => None,
        Some(v) if v.chars().count() > max => {
            errors.add(field, format!("at most {max} characters"));
            None
        }
        Some(v) if v.chars().any(|c| c.is_control() && c != '\n') => {
            errors.add(field, "must not contain control characters");
            None
        }
        Some(v) => Some(v.to_owned()),
    }
}

fn date(errors: &mut Errors, field: &str, value: Option<&str>) -> Option<NaiveDate> {
    match value {
        None => {
            errors.add(field, "required");
            None
        }
        Some(v) => match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add(field, "must be an ISO date such as 2027-01-31");
                None
            }
        },
    }
}

impl InvoiceInput {
    /// Every field checked; all problems at once, each naming its field.
    pub fn validate(&self, limits: Limits) -> Result<InvoiceFields, Vec<FieldError>> {
        let mut e = Errors(Vec::new());
        let invoice_number = text(
            &mut e,
            "invoice_number",
            self.invoice_number.as_deref(),
            64,
            true,
        );
        if let Some(n) = &invoice_number
            && !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_/. ".contains(c))
        {
            e.add("invoice_number", "letters, digits, spaces and - _ / . only");
        }
        let (debtor_name, debtor_email, debtor_tax_id) = match &self.debtor {
            None => {
                e.add("debtor", "required");
                (None, None, None)
            }
            Some(d) => {
                let name = text(&mut e, "debtor.name", Some(&d.name), 200, true);
                let email = text(&mut e, "debtor.email", d.email.as_deref(), 254, false);
                if let Some(m) = &email {
                    let ok = m
                        .split_once('@')
                        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                        && !m.contains(char::is_whitespace);
                    if !ok {
                        e.add("debtor.email", "must be an email address");
                    }
                }
                let tax_id = text(&mut e, "debtor.tax_id", d.tax_id.as_deref(), 64, false);
                (name, email, tax_id)
            }
        };
        let currency = match self.currency.as_deref() {
            None => Some(Currency::NGN),
            Some(c) => match c.parse::<Currency>() {
                Ok(c) => Some(c),
                Err(msg) => {
                    e.add("currency", msg);
                    None
                }
            },
        };
        let amount = match (self.amount.as_deref(), currency) {
            (None, _) => {
                e.add("amount", "required");
                None
            }
            (Some(_), None) => None,
            (Some(a), Some(c)) => match Money::parse(a, c) {
                Err(err) => {
                    e.add("amount", err.to_string());
                    None
                }
                Ok(m) if m.minor() <= 0 => {
                    e.add("amount", "must be greater than zero");
                    None
                }
                Ok(m) if m.minor() > limits.max_amount_minor => {
                    e.add(
                        "amount",
                        format!(
                            "must be at most {}",
                            Money::from_minor(limits.max_amount_minor, c).to_decimal_string()
                        ),
                    );
                    None
                }
                Ok(m) => Some(m),
            },
        };
        let issue_date = date(&mut e, "issue_date", self.issue_date.as_deref());
        let due_date = date(&mut e, "due_date", self.due_date.as_deref());
        if let (Some(i), Some(d)) = (issue_date, due_date)
            && d <= i
        {
            e.add("due_date", "must be after issue_date");
        }
        let description = text(
            &mut e,
            "description",
            self.description.as_deref(),
            2000,
            false,
        );
        match (invoice_number, debtor_name, amount, issue_date, due_date) {
            (
                Some(invoice_number),
                Some(debtor_name),
                Some(amount),
                Some(issue_date),
                Some(due_date),
            ) if e.0.is_empty() => Ok(InvoiceFields {
                invoice_number,
                debtor_name,
                debtor_email,
                debtor_tax_id,
                amount,
                issue_date,
                due_date,
                description: description.unwrap_or_default(),
            }),
            _ => Err(e.0),
        }
    }

    /// `self` (a patch) laid over `current`'s fields.
    pub fn over(&self, current: &InvoiceFields) -> InvoiceInput {
        InvoiceInput {
            invoice_number: self
                .invoice_number
                .clone()
                .or_else(|| Some(current.invoice_number.clone())),
            debtor: self.debtor.clone().or_else(|| {
                Some(DebtorInput {
                    name: current.debtor_name.clone(),
                    email: current.debtor_email.clone(),
                    tax_id: current.debtor_tax_id.clone(),
                })
            }),
            amount: self
                .amount
                .clone()
                .or_else(|| Some(current.amount.to_decimal_string())),
            currency: self
                .currency
                .clone()
                .or_else(|| Some(current.amount.currency().code().to_owned())),
            issue_date: self
                .issue_date
                .clone()
                .or_else(|| Some(current.issue_date.to_string())),
            due_date: self
                .due_date
                .clone()
                .or_else(|| Some(current.due_date.to_string())),
            description: self
                .description
                .clone()
                .or_else(|| Some(current.description.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_amount_minor: 100_000_000_000,
    };

    fn good() -> InvoiceInput {
        InvoiceInput {
            invoice_number: Some("INV-1".into()),
            debtor: Some(DebtorInput {
                name: "Dangote".into(),
                email: Some("ap@dangote.example".into()),
                tax_id: None,
            }),
            amount: Some("1500000.00".into()),
            currency: None,
            issue_date: Some("2026-11-01".into()),
            due_date: Some("2027-01-31".into()),
            description: None,
        }
    }

    fn fields_of(input: InvoiceInput) -> Vec<String> {
        input
            .validate(LIMITS)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_complete_invoice_is_accepted_with_ngn_by_default() {
        let f = good().validate(LIMITS).unwrap();
        assert_eq!(f.amount.minor(), 150_000_000);
        assert_eq!(f.amount.currency(), Currency::NGN);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (change, field) in [
            (
                InvoiceInput {
                    amount: Some("0".into()),
                    ..good()
                },
                "amount",
            ),
            (
                InvoiceInput {
                    amount: Some("-5".into()),
                    ..good()
                },
                "amount",
            ),
            (
                InvoiceInput {
                    amount: Some("1.005".into()),
                    ..good()
                },
                "amount",
            ),
            (
                InvoiceInput {
                    amount: Some("1000000000.01".into()),
                    ..good()
                },
                "amount",
            ),
            (
                InvoiceInput {
                    currency: Some("XYZ".into()),
                    ..good()
                },
                "currency",
            ),
            (
                InvoiceInput {
                    due_date: Some("2026-10-01".into()),
                    ..good()
                },
                "due_date",
            ),
            (
                InvoiceInput {
                    due_date: Some("31/01/2027".into()),
                    ..good()
                },
                "due_date",
            ),
            (
                InvoiceInput {
                    invoice_number: Some("  ".into()),
                    ..good()
                },
                "invoice_number",
            ),
            (
                InvoiceInput {
                    invoice_number: Some("INV<1>".into()),
                    ..good()
                },
                "invoice_number",
            ),
            (
                InvoiceInput {
                    debtor: None,
                    ..good()
                },
                "debtor",
            ),
        ] {
            assert_eq!(fields_of(change), vec![field.to_owned()]);
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let current = good().validate(LIMITS).unwrap();
        let patch = InvoiceInput {
            amount: Some("2000.50".into()),
            ..InvoiceInput::default()
        };
        let merged = patch.over(&current).validate(LIMITS).unwrap();
        assert_eq!(merged.amount.minor(), 200_050);
        assert_eq!(merged.invoice_number, current.invoice_number);
        assert_eq!(merged.due_date, current.due_date);
    }
}
