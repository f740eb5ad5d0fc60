//! The checkout's pages: small, self-contained HTML (no external assets), every
//! interpolated value escaped.

use crate::state::{Checkout, TransactionStatus};

/// `s` safe inside HTML text and double- or single-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `12345` minor units as `123.45`.
fn major(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Sandbox checkout</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1b; }}
.badge {{ display: inline-block; background: #ffe08a; padding: .1rem .5rem; border-radius: .3rem; font-size: .8rem; }}
.amount {{ font-size: 2rem; margin: .5rem 0; }}
form {{ margin: 1rem 0; }}
input {{ font-size: 1rem; padding: .3rem; width: 12rem; }}
button {{ font-size: 1rem; padding: .5rem 1.2rem; border: 0; border-radius: .3rem; cursor: pointer; }}
.pay {{ background: #0a7d36; color: white; }}
.decline {{ background: #b3261e; color: white; }}
code {{ word-break: break-all; }}
</style>
</head>
<body>
<p><span class="badge">TEST MODE</span> Sandbox payment provider: no real money moves.</p>
<h1>{title}</h1>
{body}
</body>
</html>
"#,
        title = escape(title),
    )
}

/// The checkout of a transaction: Pay (any amount, the requested one by default) and
/// Decline, or its status once it is no longer pending.
pub fn checkout(c: &Checkout, public_url: &str) -> String {
    let reference = escape(&c.reference);
    let currency = escape(&c.currency);
    let action = escape(&format!("{public_url}/checkout/{}", c.reference));
    let summary = format!(
        r#"<p class="amount">{currency} {major}</p>
<p>{amount} minor units, reference <code>{reference}</code></p>"#,
        major = major(c.amount),
        amount = c.amount,
    );
    if c.status != TransactionStatus::Pending {
        let body = format!(
            "{summary}\n<p>This payment is {} already.</p>",
            c.status.as_str()
        );
        return page("Payment closed", &body);
    }
    let body = format!(
        r#"{summary}
<form method="post" action="{action}/pay">
<label for="amount">Amount to pay, in minor units</label><br>
<input id="amount" name="amount" type="number" min="1" step="1" value="{amount}">
<button class="pay" type="submit">Pay</button>
</form>
<form method="post" action="{action}/decline">
<button class="decline" type="submit">Decline</button>
</form>"#,
        amount = c.amount,
    );
    page("Pay", &body)
}

/// The page after Pay or Decline (or an error): a message and, when the merchant gave a
/// `callback_url`, a link back to it with `?reference=`.
pub fn result(title: &str, message: &str, callback_url: Option<&str>, reference: &str) -> String {
    let mut body = format!("<p>{}</p>", escape(message));
    if let Some(url) = callback_url {
        let sep = if url.contains('?') { '&' } else { '?' };
        let href = format!("{url}{sep}reference={reference}&trxref={reference}");
        body.push_str(&format!(
            r#"<p><a href="{}">Back to the merchant</a></p>"#,
            escape(&href)
        ));
    }
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let html = result(
            "<t>",
            "<script>",
            Some("https://m.example/cb?a=\"1\""),
            "ref",
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<t>"));
        assert!(html.contains("cb?a=&quot;1&quot;&amp;reference=ref"));
    }

    #[test]
    fn the_checkout_offers_pay_and_decline_at_the_public_url() {
        let c = Checkout {
            reference: "ref_0000000000000001".into(),
            amount: 150_075,
            currency: "NGN".into(),
            status: TransactionStatus::Pending,
            callback_url: None,
        };
        let html = checkout(&c, "http://localhost:8080/sandbox");
        assert!(html.contains("NGN 1500.75"));
        assert!(html.contains(r#"value="150075""#));
        assert!(html.contains(
            r#"action="http://localhost:8080/sandbox/checkout/ref_0000000000000001/pay""#
        ));
        assert!(html.contains("/checkout/ref_0000000000000001/decline"));
    }
}
