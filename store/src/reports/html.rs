//! The report page: every report of a tenant on one self-contained HTML page, with charts. It
//! loads nothing (no script, font, style sheet or image from anywhere), so it can be mailed,
//! archived or opened offline; `patrol report --html` writes it, and the console shows the very
//! same page (its `#patrol-report` element), fetched from `GET /v1/tenants/{tenant}/reports/html`.
//!
//! What is on it: the policies that are on; refusals over time by policy; noncompliant tokens
//! by owner; the broadest scope each user holds; tokens expiring soon, this week's marked;
//! tokens that look like automation; and the inventory. Each report can be exported as CSV, the
//! same CSV `patrol report --format csv` writes.

use std::fmt::Write as _;
use std::path::Path;

use super::automation::{AutomationReport, automation};
use super::charts::{
    Bar, BarChart, Column, ColumnChart, PLAIN, URGENT, bar_chart, column_chart, shorten,
};
use super::expiring::{ExpiringReport, expiring};
use super::noncompliant::{NoncompliantReport, noncompliant};
use super::query::{
    AnyReport, DEFAULT_EXPIRING_DAYS, ReportError, ReportKind, ReportQuery, check_days,
};
use super::usage::{UsageReport, usage};
use super::violations::ViolationsReport;
use super::{Report, ScopeLevel, all_tokens, broadest_scope, configured_max_days};
use crate::tokens::{TokenRecord, TokenStatus, Tokens};
use patrol::Tenant;
use patrol::config::Mode;
use patrol::timestamp::{Timestamp, format_rfc3339};

/// How many weeks ahead the expiry chart shows before its "later" bar.
pub const EXPIRY_WEEKS: usize = 12;

/// The lifetime the noncompliant report uses for a tenant without a maximum lifespan policy.
pub const FALLBACK_MAX_DAYS: i64 = 365;

const DAY: i64 = 86_400;

/// Everything the page shows.
pub struct PageInput<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Every token of the tenant, whatever its status.
    pub tokens: &'a [TokenRecord],
    /// The policies that are on: name, organization, mode.
    pub policies: Vec<(String, Option<String>, Mode)>,
    /// Refusals over the page's range.
    pub violations: &'a ViolationsReport,
    /// Tokens over the lifetime or with full access.
    pub noncompliant: &'a NoncompliantReport,
    /// Whether `noncompliant`'s limit is the tenant's own (else [`FALLBACK_MAX_DAYS`]).
    pub own_max_days: bool,
    /// Per user.
    pub usage: &'a UsageReport,
    /// Tokens expiring within the page's window.
    pub expiring: &'a ExpiringReport,
    /// Tokens that look like automation.
    pub automation: &'a AutomationReport,
    /// When.
    pub now: Timestamp,
}

/// Makes every report for `tenant` and the page that shows them. `query` gives the refusals'
/// range (`since`, `until`), the expiring window (`days`) and the lifetime limit (`max_days`),
/// each with its usual default, and is checked as for the reports alone.
pub fn build(
    tokens: &Tokens,
    tenant: &str,
    config: Option<&Tenant>,
    decision_log: Option<&Path>,
    query: &ReportQuery,
    now: Timestamp,
) -> Result<String, ReportError> {
    let all = all_tokens(tokens, tenant, now)?;
    let AnyReport::Violations(violations) = query.run(
        ReportKind::Violations,
        tokens,
        tenant,
        config,
        decision_log,
        now,
    )?
    else {
        unreachable!("a violations query makes a violations report")
    };
    // Checked as the expiring report checks it.
    let days = check_days("days", query.days.unwrap_or(DEFAULT_EXPIRING_DAYS))?;
    let own = query
        .max_days
        .or_else(|| config.and_then(configured_max_days));
    let max_days = check_days("max_days", own.unwrap_or(FALLBACK_MAX_DAYS))?;
    let policies = config
        .map(|config| {
            config
                .policies()
                .map(|p| (p.name.to_string(), p.org.map(str::to_string), p.mode))
                .collect()
        })
        .unwrap_or_default();
    Ok(page(&PageInput {
        tenant,
        tokens: &all,
        policies,
        violations: &violations,
        noncompliant: &noncompliant(tenant, &all, max_days, now),
        own_max_days: own.is_some(),
        usage: &usage(tenant, &all, now),
        expiring: &expiring(tenant, &all, days, now),
        automation: &automation(tenant, &all, now),
        now,
    }))
}

/// Active tokens per expiry week from `now` (week 1 is the next seven days), `EXPIRY_WEEKS`
/// weeks, then everything later; each labelled `week of YYYY-MM-DD` by its first day.
pub fn expiry_weeks(tokens: &[TokenRecord], now: Timestamp) -> Vec<(String, usize)> {
    let mut counts = vec![0usize; EXPIRY_WEEKS + 1];
    for token in tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
    {
        let week = usize::try_from((token.valid_to - now - 1).div_euclid(7 * DAY)).unwrap_or(0);
        counts[week.min(EXPIRY_WEEKS)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(week, count)| {
            let label = if week == EXPIRY_WEEKS {
                format!("after {}", date(now + 7 * DAY * EXPIRY_WEEKS as i64))
            } else {
                format!("week of {}", date(now + week as i64 * 7 * DAY))
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

/// A scope level as the charts name it: what it reaches, with the scope that shows it, so
/// that an area's `_full` and everything's `app_token` cannot be taken for one another.
pub fn level_label(level: ScopeLevel) -> &'static str {
    match level {
        ScopeLevel::Read => "read",
        ScopeLevel::Execute => "execute",
        ScopeLevel::Write => "write",
        ScopeLevel::Manage => "manage",
        ScopeLevel::Full => "all of one area (…_full)",
        ScopeLevel::FullAccess => "everything (app_token)",
    }
}

/// The whole page.
pub fn page(input: &PageInput<'_>) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>patrol: tokens of {tenant}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body class=\"standalone\">\n",
        tenant = escape(input.tenant),
    );
    html.push_str(&report(input));
    html.push_str("</body>\n</html>\n");
    html
}

/// The report itself, `<main id="patrol-report">`: what the console shows inside its page.
pub fn report(input: &PageInput<'_>) -> String {
    let now = input.now;
    let active: Vec<&TokenRecord> = input
        .tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
        .collect();
    let this_week = active
        .iter()
        .filter(|t| t.valid_to <= now + 7 * DAY)
        .count();
    let mut html = String::new();
    let _ = write!(
        html,
        "<main id=\"patrol-report\" class=\"report\">\n\
         <header class=\"report-head\"><h1>Personal access tokens of <code>{tenant}</code></h1>\n\
         <p class=\"meta\">Generated <time datetime=\"{stamp}\">{generated}</time> by patrol. \
         Refusals from <time>{from}</time> to <time>{to}</time>.</p></header>\n\
         <dl class=\"tiles\">{tiles}</dl>\n<div class=\"cards\">\n",
        tenant = escape(input.tenant),
        stamp = format_rfc3339(now),
        generated = minute(now),
        from = minute(input.violations.from),
        to = minute(input.violations.to),
        tiles = [
            ("active tokens", active.len(), false),
            (
                "refused requests",
                input.violations.denied_requests,
                input.violations.denied_requests > 0
            ),
            (
                "noncompliant tokens",
                input.noncompliant.noncompliant_tokens,
                input.noncompliant.noncompliant_tokens > 0
            ),
            ("expire within 7 days", this_week, this_week > 0),
            (
                "global tokens",
                active.iter().filter(|t| t.all_orgs).count(),
                false
            ),
            (
                "full-access tokens",
                active.iter().filter(|t| super::has_full_scope(t)).count(),
                false
            ),
        ]
        .iter()
        .map(|(what, count, attention)| format!(
            "<div class=\"tile{}\"><dt>{what}</dt><dd>{count}</dd></div>",
            if *attention { " attention" } else { "" }
        ))
        .collect::<String>(),
    );
    html.push_str(&policies_section(input));
    html.push_str(&refusals_section(input));
    html.push_str(&noncompliant_section(input));
    html.push_str(&scope_section(input));
    html.push_str(&expiring_section(input, &active));
    html.push_str(&automation_section(input));
    html.push_str("</div>\n");
    html.push_str(&inventory_section(&active));
    html.push_str("</main>\n");
    html
}

fn policies_section(input: &PageInput<'_>) -> String {
    let mut html = card_open("policies", "Policies that are on", None);
    if input.policies.is_empty() {
        html.push_str("<p class=\"empty\">No policy is on.</p>");
    } else {
        html.push_str("<ul class=\"policies\">");
        for (name, org, mode) in &input.policies {
            let _ = write!(
                html,
                "<li><code>{}</code>{}{}</li>",
                escape(name),
                org.as_ref()
                    .map(|org| format!(" <span class=\"org\">in {}</span>", escape(org)))
                    .unwrap_or_default(),
                match mode {
                    Mode::Audit =>
                        " <span class=\"badge audit\" title=\"reports, refuses nothing\">audit</span>",
                    Mode::Enforce => " <span class=\"badge\">enforced</span>",
                }
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>\n");
    html
}

fn refusals_section(input: &PageInput<'_>) -> String {
    let report = input.violations;
    let mut html = card_open(
        "refusals",
        "Refusals over time, by policy",
        Some(csv_link(input.tenant, "violations", report)),
    );
    if report.denied_requests == 0 {
        html.push_str("<p class=\"empty\">No request was refused in this range.</p></section>\n");
        return html;
    }
    // Days for up to 45 days, weeks beyond.
    let span = report.to - report.from;
    let bucket = if span <= 45 * DAY { DAY } else { 7 * DAY };
    let buckets = usize::try_from((span + bucket - 1) / bucket)
        .unwrap_or(1)
        .max(1);
    let policies: Vec<String> = report.by_policy.iter().map(|p| p.policy.clone()).collect();
    let mut counts = vec![vec![0usize; policies.len()]; buckets];
    for denial in &report.denials {
        let index = usize::try_from((denial.time - report.from) / bucket)
            .unwrap_or(0)
            .min(buckets - 1);
        for (policy, _) in &denial.violations {
            if let Some(series) = policies.iter().position(|p| p == policy) {
                counts[index][series] += 1;
            }
        }
    }
    let unit = if bucket == DAY { "day" } else { "week" };
    html.push_str(&column_chart(&ColumnChart {
        title: "Refused requests over time, by the policy that refused them",
        x_caption: &format!("{unit} (UTC), from {}", date(report.from)),
        y_caption: &format!("violations per {unit}"),
        series: policies,
        columns: counts
            .into_iter()
            .enumerate()
            .map(|(index, values)| Column {
                label: date(report.from + index as i64 * bucket),
                values,
                colour: None,
            })
            .collect(),
        label_every: buckets.div_ceil(12),
    }));
    html.push_str(
        "<table><thead><tr><th scope=\"col\">policy</th><th scope=\"col\" class=\"n\">violations</th>\
         <th scope=\"col\" class=\"n\">users</th><th scope=\"col\">codes</th></tr></thead><tbody>",
    );
    for policy in &report.by_policy {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(&policy.policy),
            policy.violations,
            policy.users,
            escape(&policy.codes.join(", "))
        );
    }
    html.push_str("</tbody></table></section>\n");
    html
}

fn noncompliant_section(input: &PageInput<'_>) -> String {
    let report = input.noncompliant;
    let limit = if input.own_max_days {
        format!(
            "lifetime over {} days (the tenant's maximum)",
            report.max_days
        )
    } else {
        format!(
            "lifetime over {} days (no maximum lifespan policy is on)",
            report.max_days
        )
    };
    let mut html = card_open(
        "noncompliant",
        "Noncompliant tokens, by owner",
        Some(csv_link(input.tenant, "noncompliant", report)),
    );
    let _ = write!(
        html,
        "<p class=\"note\">Active tokens with a {} or with full access (<code>app_token</code>): \
         {} of {}.</p>",
        escape(&limit),
        report.noncompliant_tokens,
        report.active_tokens
    );
    if report.owners.is_empty() {
        html.push_str("<p class=\"empty\">Every active token complies.</p></section>\n");
        return html;
    }
    let mut owners: Vec<Bar> = report
        .owners
        .iter()
        .map(|owner| {
            let both = owner
                .tokens
                .iter()
                .filter(|t| t.exceeds_lifetime && t.full_scope)
                .count();
            let long = owner.tokens.iter().filter(|t| t.exceeds_lifetime).count() - both;
            let full = owner.tokens.iter().filter(|t| t.full_scope).count() - both;
            Bar {
                label: owner.owner.clone(),
                values: vec![long, full, both],
            }
        })
        .collect();
    owners.sort_by(|a, b| {
        b.values
            .iter()
            .sum::<usize>()
            .cmp(&a.values.iter().sum::<usize>())
            .then(a.label.cmp(&b.label))
    });
    let total = owners.len();
    owners.truncate(15);
    html.push_str(&bar_chart(&BarChart {
        title: "Noncompliant active tokens per owner",
        x_caption: "noncompliant tokens",
        series: vec![
            "too long".to_string(),
            "full access".to_string(),
            "both".to_string(),
        ],
        colours: None,
        bars: owners,
    }));
    html.push_str(&rest_in_csv("The 15 owners with the most", 15, total));
    html.push_str("</section>\n");
    html
}

fn scope_section(input: &PageInput<'_>) -> String {
    let report = input.usage;
    let mut html = card_open(
        "scope",
        "Broadest scope held",
        Some(csv_link(input.tenant, "usage", report)),
    );
    let holders: Vec<_> = report
        .users
        .iter()
        .filter(|u| u.active_tokens > 0)
        .collect();
    let _ = write!(
        html,
        "<p class=\"note\">Each of the {} users with an active token, by the broadest scope any of \
         them carries.</p>",
        holders.len()
    );
    let bars: Vec<Bar> = ScopeLevel::ALL
        .into_iter()
        .rev()
        .map(|level| Bar {
            label: level_label(level).to_string(),
            values: vec![
                holders
                    .iter()
                    .filter(|u| u.broadest_level == Some(level))
                    .count(),
            ],
        })
        .collect();
    html.push_str(&bar_chart(&BarChart {
        title: "Users by the broadest scope of their active tokens",
        x_caption: "users",
        series: vec!["users".to_string()],
        colours: Some(vec![PLAIN]),
        bars,
    }));
    html.push_str("</section>\n");
    html
}

fn expiring_section(input: &PageInput<'_>, active: &[&TokenRecord]) -> String {
    let report = input.expiring;
    let mut html = card_open(
        "expiring",
        "Expiring soon",
        Some(csv_link(input.tenant, "expiring", report)),
    );
    let weeks = expiry_weeks(input.tokens, input.now);
    html.push_str(&column_chart(&ColumnChart {
        title: "Active tokens by the week they expire in; the first week is marked",
        x_caption: "week the tokens expire in (from today)",
        y_caption: "active tokens",
        series: vec![],
        columns: weeks
            .into_iter()
            .enumerate()
            .map(|(week, (label, count))| Column {
                label,
                values: vec![count],
                colour: Some(if week == 0 { URGENT } else { PLAIN }),
            })
            .collect(),
        label_every: 1,
    }));
    html.push_str(&super::charts::legend(
        &["expires within 7 days".to_string(), "later".to_string()],
        Some(&[URGENT, PLAIN]),
    ));
    let _ = write!(
        html,
        "<p class=\"note\">{} of {} active tokens expire within {} days.</p>",
        report.tokens.len(),
        active.len(),
        report.within_days
    );
    if !report.tokens.is_empty() {
        html.push_str(
            "<table><thead><tr><th scope=\"col\">expires</th><th scope=\"col\" class=\"n\">days left</th>\
             <th scope=\"col\">owner</th><th scope=\"col\">token</th></tr></thead><tbody>",
        );
        for token in report.tokens.iter().take(50) {
            let urgent = token.days_left <= 7;
            let _ = write!(
                html,
                "<tr{}><td class=\"nowrap\"><time>{}</time></td><td class=\"n\">{}{}</td><td>{}</td><td>{}</td></tr>",
                if urgent { " class=\"urgent\"" } else { "" },
                date(token.valid_to),
                token.days_left,
                if urgent {
                    " <span class=\"badge urgent\">this week</span>"
                } else {
                    ""
                },
                escape(&token.owner),
                escape(&token.display_name),
            );
        }
        html.push_str("</tbody></table>");
        html.push_str(&rest_in_csv("The 50 soonest", 50, report.tokens.len()));
    }
    html.push_str("</section>\n");
    html
}

fn automation_section(input: &PageInput<'_>) -> String {
    let report = input.automation;
    let mut html = card_open(
        "automation",
        "Tokens that look like automation",
        Some(csv_link(input.tenant, "automation", report)),
    );
    if report.tokens.is_empty() {
        html.push_str("<p class=\"empty\">No active token looks like automation.</p></section>\n");
        return html;
    }
    html.push_str(
        "<p class=\"note\">Candidates for a service principal or a managed identity, most \
         likely first.</p><table><thead><tr><th scope=\"col\">owner</th><th scope=\"col\">token</th>\
         <th scope=\"col\" class=\"n\">score</th><th scope=\"col\">why</th><th scope=\"col\">last client</th></tr></thead><tbody>",
    );
    for token in report.tokens.iter().take(25) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&token.owner),
            escape(&token.display_name),
            token.score,
            escape(&token.reasons.join("; ")),
            escape(&shorten(token.last_user_agent.as_deref().unwrap_or(""), 40)),
        );
    }
    html.push_str("</tbody></table>");
    html.push_str(&rest_in_csv("The 25 most likely", 25, report.tokens.len()));
    html.push_str("</section>\n");
    html
}

fn inventory_section(active: &[&TokenRecord]) -> String {
    let mut sorted = active.to_vec();
    sorted.sort_by(|a, b| a.valid_to.cmp(&b.valid_to).then(a.id.cmp(&b.id)));
    let mut html = String::from(
        "<section class=\"card wide\" id=\"inventory\" aria-labelledby=\"inventory-title\">\
         <h2 id=\"inventory-title\">Inventory: active tokens, soonest to expire first</h2>\n",
    );
    if sorted.is_empty() {
        html.push_str("<p class=\"empty\">No active token.</p></section>\n");
        return html;
    }
    html.push_str(
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Inventory\"><table class=\"inventory\">\n<thead><tr><th scope=\"col\">owner</th>\
         <th scope=\"col\">name</th><th scope=\"col\">broadest scope</th><th scope=\"col\">scopes</th>\
         <th scope=\"col\">organizations</th><th scope=\"col\">expires</th><th scope=\"col\">last used</th>\
         <th scope=\"col\">last client</th><th scope=\"col\">id</th></tr></thead>\n<tbody>\n",
    );
    for token in sorted {
        let broadest = broadest_scope(&token.scopes).unwrap_or_default();
        let level = ScopeLevel::of(broadest);
        let orgs = if token.all_orgs {
            "all (global)".to_string()
        } else {
            token.orgs.join(", ")
        };
        let _ = writeln!(
            html,
            "<tr class=\"token{class}\"><td>{owner}</td><td>{name}</td><td><code>{broadest}</code></td>\
             <td>{scopes}</td><td>{orgs}</td><td class=\"nowrap\"><time>{expires}</time></td>\
             <td class=\"nowrap\">{used}</td><td>{client}</td>\
             <td class=\"nowrap\"><code title=\"{id}\">{short}</code></td></tr>",
            class = if level >= ScopeLevel::Manage {
                " broad"
            } else {
                ""
            },
            owner = escape(&token.owner),
            name = escape(&token.display_name),
            broadest = escape(broadest),
            scopes = escape(&token.scopes.join(" ")),
            orgs = escape(&orgs),
            expires = date(token.valid_to),
            used = token.last_used_at.map(minute).unwrap_or_default(),
            client = escape(&shorten(token.last_user_agent.as_deref().unwrap_or(""), 40)),
            id = escape(&token.id),
            short = escape(&shorten(&token.id, 9)),
        );
    }
    html.push_str("</tbody>\n</table></div>\n</section>\n");
    html
}

/// A note that the page shows `shown` of `total` rows, the rest being in the CSV; nothing when
/// it shows them all.
fn rest_in_csv(which: &str, shown: usize, total: usize) -> String {
    if total <= shown {
        return String::new();
    }
    format!(
        "<p class=\"note\">{which}; {} more in the CSV.</p>",
        total - shown
    )
}

fn card_open(id: &str, title: &str, csv: Option<String>) -> String {
    format!(
        "<section class=\"card\" id=\"{id}\" aria-labelledby=\"{id}-title\">\
         <div class=\"card-head\"><h2 id=\"{id}-title\">{title}</h2>{}</div>\n",
        csv.unwrap_or_default()
    )
}

/// A link that saves `report` as CSV, the CSV itself in the link: nothing is fetched.
fn csv_link(tenant: &str, name: &str, report: &impl Report) -> String {
    format!(
        "<a class=\"csv\" download=\"{tenant}-{name}.csv\" \
         href=\"data:text/csv;charset=utf-8,{}\">Export CSV<span class=\"visually-hidden\"> \
         ({name})</span></a>",
        percent_encode(&report.render(super::Format::Csv)),
        tenant = escape(tenant),
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `YYYY-MM-DD`.
fn date(time: Timestamp) -> String {
    let text = format_rfc3339(time);
    text.get(..10).unwrap_or(&text).to_string()
}

/// `YYYY-MM-DD HH:MM UTC`.
fn minute(time: Timestamp) -> String {
    let text = format_rfc3339(time);
    match (text.get(..10), text.get(11..16)) {
        (Some(day), Some(clock)) => format!("{day} {clock} UTC"),
        _ => text,
    }
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
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

/// The page's style, also served to the console as `/console/report.css`.
pub const STYLE: &str = include_str!("report.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_travels_in_the_link() {
        assert_eq!(percent_encode("a,b\n\"x\" é"), "a%2Cb%0A%22x%22%20%C3%A9");
    }

    #[test]
    fn times_read_as_dates_and_minutes() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(minute(90), "1970-01-01 00:01 UTC");
    }
}
