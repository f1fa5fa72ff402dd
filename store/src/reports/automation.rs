//! Tokens that look like automation: pipelines, scripts and bots holding personal tokens,
//! which the seed document recommends moving to service principals or managed identities.
//!
//! The heuristic, from what patrol records when a token authenticates (the client's
//! `User-Agent` and address, see `Tokens::authenticate`) and from the token itself:
//!
//! | signal | weight |
//! |---|---|
//! | the last request came from a non-browser client: an HTTP library, a command-line tool, git, or a CI agent (`curl/`, `python-requests/`, `Go-http-client/`, `azure-pipelines`, `VSTS`, `git/`, ...) | 2 |
//! | the token's name says so: a word such as `pipeline`, `ci`, `build`, `deploy`, `release`, `bot`, `automation`, `agent`, `cron`, `job`, `sync`, `script`, `service` | 1 |
//! | the owner's id says so: a word such as `bot`, `svc`, `service`, `build`, `ci`, `automation`, `pipeline` before the `@` | 1 |
//!
//! A token with a score of 2 or more is reported, with every reason that counted. A browser
//! (`Mozilla/...`) is not on the list (a program that also says `Mozilla` still counts); a
//! token never used has no client to judge, so only its name and owner count.

use serde::Serialize;

use super::{Report, Table, time_cell};
use crate::tokens::{TokenRecord, TokenStatus};
use patrol::timestamp::{Timestamp, rfc3339};

/// The score at which a token is reported.
pub const THRESHOLD: u32 = 2;

/// Substrings of a lowercase `User-Agent` that mean a program, not a person at a browser.
const AUTOMATION_CLIENTS: [&str; 28] = [
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "node-fetch",
    "axios/",
    "undici",
    "powershell",
    "azure-pipelines",
    "vsts",
    "azure-devops-agent",
    "github-actions",
    "gitlab-runner",
    "jenkins",
    "terraform",
    "git/",
    "jgit",
    "libgit2",
    "restsharp",
    "ruby",
    "faraday",
    "httpie",
];

/// Words in a token's name that mean automation.
const NAME_WORDS: [&str; 13] = [
    "pipeline",
    "ci",
    "build",
    "deploy",
    "release",
    "bot",
    "automation",
    "agent",
    "cron",
    "job",
    "sync",
    "script",
    "service",
];

/// Words in an owner's id (before `@`) that mean a service account.
const OWNER_WORDS: [&str; 7] = [
    "bot",
    "svc",
    "service",
    "build",
    "ci",
    "automation",
    "pipeline",
];

/// The report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AutomationReport {
    /// The tenant.
    pub tenant: String,
    /// When the report was made.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub generated_at: Timestamp,
    /// How many active tokens were checked.
    pub active_tokens: usize,
    /// The tokens that look like automation, highest score first.
    pub tokens: Vec<AutomationToken>,
}

/// One token that looks like automation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AutomationToken {
    /// Its id.
    pub id: String,
    /// Its owner.
    pub owner: String,
    /// Its name.
    pub display_name: String,
    /// The sum of the weights of its signals.
    pub score: u32,
    /// Each signal that counted, in words.
    pub reasons: Vec<String>,
    /// The client of its last use.
    pub last_user_agent: Option<String>,
    /// The address of its last use.
    pub last_address: Option<String>,
    /// When it was last used.
    #[serde(serialize_with = "rfc3339::serialize_option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub last_used_at: Option<Timestamp>,
}

/// The signals a token shows, with their weights.
pub fn signals(token: &TokenRecord) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    if let Some(agent) = &token.last_user_agent {
        let lower = agent.to_ascii_lowercase();
        if let Some(client) = AUTOMATION_CLIENTS.iter().find(|c| lower.contains(*c)) {
            found.push((
                2,
                format!("last used by `{agent}`, a program rather than a browser ({client})"),
            ));
        }
    }
    if let Some(word) = find_word(&token.display_name, &NAME_WORDS) {
        found.push((
            1,
            format!("its name `{}` says `{word}`", token.display_name),
        ));
    }
    let local = token.owner.split('@').next().unwrap_or_default();
    if let Some(word) = find_word(local, &OWNER_WORDS) {
        found.push((1, format!("its owner `{}` says `{word}`", token.owner)));
    }
    found
}

/// The first of `words` that is a whole word of `text` (words split at anything but letters
/// and digits), compared case-insensitively.
fn find_word(text: &str, words: &[&'static str]) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let parts: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect();
    words.iter().copied().find(|word| parts.contains(word))
}

/// Builds the report from a tenant's tokens.
pub fn automation(tenant: &str, tokens: &[TokenRecord], now: Timestamp) -> AutomationReport {
    let active: Vec<&TokenRecord> = tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
        .collect();
    let mut flagged: Vec<AutomationToken> = active
        .iter()
        .filter_map(|token| {
            let found = signals(token);
            let score: u32 = found.iter().map(|(weight, _)| weight).sum();
            (score >= THRESHOLD).then(|| AutomationToken {
                id: token.id.clone(),
                owner: token.owner.clone(),
                display_name: token.display_name.clone(),
                score,
                reasons: found.into_iter().map(|(_, reason)| reason).collect(),
                last_user_agent: token.last_user_agent.clone(),
                last_address: token.last_address.clone(),
                last_used_at: token.last_used_at,
            })
        })
        .collect();
    flagged.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.owner.cmp(&b.owner))
            .then_with(|| a.id.cmp(&b.id))
    });
    AutomationReport {
        tenant: tenant.to_string(),
        generated_at: now,
        active_tokens: active.len(),
        tokens: flagged,
    }
}

impl Report for AutomationReport {
    fn table(&self) -> Table {
        let mut table = Table::new(vec![
            "score",
            "owner",
            "token_id",
            "name",
            "last_user_agent",
            "last_address",
            "last_used",
            "reasons",
        ]);
        for token in &self.tokens {
            table.rows.push(vec![
                token.score.to_string(),
                token.owner.clone(),
                token.id.clone(),
                token.display_name.clone(),
                token.last_user_agent.clone().unwrap_or_default(),
                token.last_address.clone().unwrap_or_default(),
                time_cell(token.last_used_at),
                token.reasons.join("; "),
            ]);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_whole_words() {
        assert_eq!(find_word("nightly-build", &NAME_WORDS), Some("build"));
        assert_eq!(find_word("CI token", &NAME_WORDS), Some("ci"));
        assert_eq!(find_word("circle of friends", &NAME_WORDS), None);
        assert_eq!(find_word("rebuilding", &NAME_WORDS), None);
    }
}
