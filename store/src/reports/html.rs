//! The token inventory as one self-contained HTML page: no scripts, fonts, styles or images
//! from anywhere else, so it can be mailed, archived or opened offline. Two charts (active
//! tokens by expiry week, and by broadest scope) are inline SVG; the inventory is a table.

use std::fmt::Write as _;

use super::{ScopeLevel, broadest_scope, time_cell};
use crate::tokens::{TokenRecord, TokenStatus};
use patrol::timestamp::{Timestamp, format_rfc3339};

/// How many weeks ahead the expiry chart shows before its "later" bar.
pub const EXPIRY_WEEKS: usize = 12;

/// Active tokens per expiry week from `now`: `EXPIRY_WEEKS` weeks, then everything later.
pub fn expiry_weeks(tokens: &[TokenRecord], now: Timestamp) -> Vec<(String, usize)> {
    let mut counts = vec![0usize; EXPIRY_WEEKS + 1];
    for token in tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
    {
        let week = usize::try_from((token.valid_to - now - 1).div_euclid(7 * 86_400)).unwrap_or(0);
        counts[week.min(EXPIRY_WEEKS)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(week, count)| {
            let label = if week == EXPIRY_WEEKS {
                "later".to_string()
            } else {
                let start = format_rfc3339(now + i64::try_from(week).unwrap_or(0) * 7 * 86_400);
                start.get(5..10).unwrap_or(&start).to_string()
            };
            (label, count)
        })
        .collect()
}

/// Active tokens per broadest scope level, weakest first.
pub fn scope_levels(tokens: &[TokenRecord], now: Timestamp) -> Vec<(ScopeLevel, usize)> {
    ScopeLevel::ALL
        .into_iter()
        .map(|level| {
            let count = tokens
                .iter()
                .filter(|t| t.status(now) == TokenStatus::Active)
                .filter(|t| broadest_scope(&t.scopes).map(ScopeLevel::of) == Some(level))
                .count();
            (level, count)
        })
        .collect()
}

/// The page.
pub fn page(tenant: &str, tokens: &[TokenRecord], now: Timestamp) -> String {
    let count = |status| tokens.iter().filter(|t| t.status(now) == status).count();
    let mut active: Vec<&TokenRecord> = tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
        .collect();
    active.sort_by(|a, b| a.valid_to.cmp(&b.valid_to).then(a.id.cmp(&b.id)));
    let global = active.iter().filter(|t| t.all_orgs).count();
    let full = active.iter().filter(|t| super::has_full_scope(t)).count();

    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>patrol: tokens of {tenant}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Personal access tokens of <code>{tenant}</code></h1>\n\
         <p class=\"meta\">Generated {generated} by patrol.</p>\n\
         <ul class=\"summary\"><li><b>{active}</b> active</li><li><b>{expired}</b> expired</li>\
         <li><b>{revoked}</b> revoked</li><li><b>{global}</b> active global</li>\
         <li><b>{full}</b> active with full access</li></ul>\n",
        tenant = escape(tenant),
        generated = format_rfc3339(now),
        active = active.len(),
        expired = count(TokenStatus::Expired),
        revoked = count(TokenStatus::Revoked),
    );
    let weeks = expiry_weeks(tokens, now);
    html.push_str("<section><h2>Active tokens by expiry week</h2>\n");
    html.push_str(&bar_chart(
        "Active tokens by the week they expire in (labelled by the week's first day, month-day)",
        &weeks,
    ));
    html.push_str("</section>\n<section><h2>Active tokens by broadest scope</h2>\n");
    let levels: Vec<(String, usize)> = scope_levels(tokens, now)
        .into_iter()
        .map(|(level, count)| (level.label().to_string(), count))
        .collect();
    html.push_str(&bar_chart("Active tokens by their broadest scope", &levels));
    html.push_str(
        "</section>\n<section><h2>Inventory (active tokens, soonest to expire first)</h2>\n",
    );
    html.push_str(
        "<table>\n<thead><tr><th>owner</th><th>name</th><th>broadest scope</th><th>scopes</th>\
         <th>organizations</th><th>expires</th><th>last used</th><th>last client</th>\
         <th>id</th></tr></thead>\n<tbody>\n",
    );
    for token in &active {
        let broadest = broadest_scope(&token.scopes).unwrap_or_default();
        let level = ScopeLevel::of(broadest);
        let orgs = if token.all_orgs {
            "all (global)".to_string()
        } else {
            token.orgs.join(", ")
        };
        let _ = writeln!(
            html,
            "<tr class=\"{class}\"><td>{owner}</td><td>{name}</td><td>{broadest}</td>\
             <td>{scopes}</td><td>{orgs}</td><td>{expires}</td><td>{used}</td><td>{client}</td>\
             <td><code>{id}</code></td></tr>",
            class = if level >= ScopeLevel::Manage {
                "broad"
            } else {
                ""
            },
            owner = escape(&token.owner),
            name = escape(&token.display_name),
            broadest = escape(broadest),
            scopes = escape(&token.scopes.join(" ")),
            orgs = escape(&orgs),
            expires = date(token.valid_to),
            used = escape(&time_cell(token.last_used_at)),
            client = escape(token.last_user_agent.as_deref().unwrap_or("")),
            id = escape(&token.id),
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n</body>\n</html>\n");
    html
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}\
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}.meta{color:#57606a}\
.summary{display:flex;gap:1.5rem;list-style:none;padding:0}\
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;\
text-align:left;vertical-align:top}th{background:#f6f8fa}tr.broad td{background:#fff8c5}\
svg text{font-size:11px;fill:#1b1f24}svg rect{fill:#0969da}";

/// A vertical bar chart in SVG, one bar per (label, value), with the value above each bar.
fn bar_chart(title: &str, bars: &[(String, usize)]) -> String {
    const BAR: usize = 44;
    const GAP: usize = 12;
    const HEIGHT: usize = 160;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let width = bars.len() * (BAR + GAP) + GAP;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{}\" \
         viewBox=\"0 0 {width} {}\"><title>{}</title>",
        HEIGHT + 50,
        HEIGHT + 50,
        escape(title)
    );
    for (index, (label, value)) in bars.iter().enumerate() {
        let x = GAP + index * (BAR + GAP);
        let height = value * HEIGHT / max;
        let y = 20 + HEIGHT - height;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{BAR}\" height=\"{height}\"><title>{label}: {value}</title></rect>\
             <text x=\"{cx}\" y=\"{ty}\" text-anchor=\"middle\">{value}</text>\
             <text x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\">{label}</text>",
            cx = x + BAR / 2,
            ty = y.saturating_sub(4),
            ly = HEIGHT + 38,
            label = escape(label),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The date part of a time.
fn date(time: Timestamp) -> String {
    let text = format_rfc3339(time);
    text.get(..10).unwrap_or(&text).to_string()
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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
