//! `patrol mcp` driven as an MCP client drives it: the real binary over its standard input and
//! output, newline-delimited JSON-RPC, against a data directory of generated tokens. Read-only
//! by default; changes with `--allow-changes`, audited.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use crate::inventory::{self, TENANT};
use patrol_store::tokens::{AuditEvent, AuditQuery};
use serde_json::{Value, json};

/// How long any one answer may take (the first report compiles the tenant's policies).
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl Client {
    fn start(data_dir: &std::path::Path, extra: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_patrol"))
            .arg("mcp")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("PATROL_CACHE_DIR", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut client = Client {
            child,
            stdin,
            lines,
            next_id: 1,
        };
        let init = client.request(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": { "name": "patrol-test", "version": "0" }
            }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "patrol", "{init}");
        assert!(
            init["result"]["capabilities"]["tools"].is_object(),
            "{init}"
        );
        client.send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        client
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and waits for the answer with its id (answers may come in any order;
    /// this client sends one at a time).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let line = self
                .lines
                .recv_timeout(ANSWER_WITHIN)
                .unwrap_or_else(|_| panic!("no answer to `{method}` within {ANSWER_WITHIN:?}"));
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carries only JSON-RPC ({e}): {line}"));
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Calls a tool: (isError, its text).
    fn call(&mut self, tool: &str, arguments: Value) -> (bool, String) {
        let answer = self.request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
        );
        let result = &answer["result"];
        assert!(
            result.is_object(),
            "`{tool}` answers with a result: {answer}"
        );
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        (result["isError"] == true, text.to_string())
    }

    /// Calls a tool and returns the whole JSON-RPC answer (a result, or an error).
    fn call_raw(&mut self, tool: &str, arguments: Value) -> Value {
        self.request(
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
        )
    }

    /// Closes standard input, as a client does when it is done; the server must then exit 0.
    fn finish(mut self) {
        drop(self.stdin.take());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("`patrol mcp` did not exit within 10 s of its input closing");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_mcp_client_lists_tools_reads_a_report_and_is_refused_a_write() {
    let _machine = crate::machine::shared();
    let inv = inventory::generate();
    let mut client = Client::start(&inv.data_dir(), &[]);

    let listed = client.request("tools/list", json!({}));
    let tools = listed["result"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "audit_log",
            "get_tenant_policies",
            "list_tenants",
            "list_tokens",
            "report_automation",
            "report_expiring",
            "report_noncompliant",
            "report_usage",
            "report_violations",
            "revoke_token",
            "set_tenant_policies",
            "whatif",
        ]
    );
    for tool in tools {
        assert!(tool["description"].as_str().unwrap().len() > 40, "{tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    let noncompliant = tools
        .iter()
        .find(|t| t["name"] == "report_noncompliant")
        .unwrap();
    assert_eq!(noncompliant["inputSchema"]["required"], json!(["tenant"]));
    assert!(noncompliant["inputSchema"]["properties"]["max_days"].is_object());
    let revoke = tools.iter().find(|t| t["name"] == "revoke_token").unwrap();
    assert_eq!(revoke["annotations"]["destructiveHint"], true);

    // A report: the same count the generator's description gives.
    let (error, text) = client.call(
        "report_noncompliant",
        json!({ "tenant": TENANT, "max_days": 90 }),
    );
    assert!(!error, "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    let expected = inv
        .specs
        .iter()
        .filter(|s| s.active(inv.t0) && (s.lifetime() > 90 * 86_400 || s.has_full_scope()))
        .count();
    assert_eq!(report["noncompliant_tokens"], expected);

    // Bad arguments come back as tool errors the model can act on.
    let (error, text) = client.call("report_expiring", json!({ "tenant": TENANT, "days": 0 }));
    assert!(error && text.contains("`days`"), "{text}");
    let (error, text) = client.call("get_tenant_policies", json!({ "tenant": "../../etc/x" }));
    assert!(error && text.contains("is not a tenant name"), "{text}");
    let (error, text) = client.call("report_usage", json!({ "tenant": "acne" }));
    assert!(
        error && text.contains("there is no tenant `acne`") && text.contains("acme"),
        "{text}"
    );

    // A write is refused, and nothing changes.
    let victim = inv.specs.iter().find(|s| s.active(inv.t0)).unwrap();
    let (error, text) = client.call(
        "revoke_token",
        json!({ "tenant": TENANT, "token_id": victim.id }),
    );
    assert!(error && text.contains("--allow-changes"), "{text}");
    let (error, _) = client.call(
        "set_tenant_policies",
        json!({ "tenant": TENANT, "config_toml": "tenant = \"acme\"\n" }),
    );
    assert!(error);
    client.finish();
    let token = inv.tokens.get(TENANT, &victim.id).unwrap().unwrap();
    assert!(
        token.revoked_at.is_none(),
        "the refused revoke changed nothing"
    );
}

#[test]
fn with_allow_changes_writes_are_checked_and_audited() {
    let _machine = crate::machine::shared();
    let inv = inventory::generate();
    let mut client = Client::start(&inv.data_dir(), &["--allow-changes", "--actor", "dana"]);
    let before = std::fs::read_to_string(inv.data_dir().join("tenants/acme.toml")).unwrap();

    // An invalid configuration is refused like `patrol check` refuses it; nothing is written.
    let (error, text) = client.call(
        "set_tenant_policies",
        json!({ "tenant": TENANT, "config_toml": "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 0\n" }),
    );
    assert!(error && text.contains("max_days"), "{text}");
    assert_eq!(
        std::fs::read_to_string(inv.data_dir().join("tenants/acme.toml")).unwrap(),
        before
    );

    // The dry run, then the change.
    let proposal =
        "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 60\n";
    let (error, text) = client.call(
        "whatif",
        json!({ "tenant": TENANT, "config_toml": proposal }),
    );
    assert!(!error, "{text}");
    let dry: Value = serde_json::from_str(&text).unwrap();
    let too_long = inv
        .specs
        .iter()
        .filter(|s| s.active(inv.t0) && s.lifetime() > 60 * 86_400)
        .count();
    assert_eq!(dry["failing_tokens"], too_long);
    let (error, text) = client.call(
        "set_tenant_policies",
        json!({ "tenant": TENANT, "config_toml": proposal }),
    );
    assert!(!error, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["policy_changes_recorded"],
        1
    );

    let victim = inv.specs.iter().find(|s| s.active(inv.t0)).unwrap();
    let (error, text) = client.call(
        "revoke_token",
        json!({ "tenant": TENANT, "token_id": victim.id, "reason": "least privilege review" }),
    );
    assert!(!error, "{text}");
    client.finish();

    assert!(
        inv.tokens
            .get(TENANT, &victim.id)
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let audit = inv
        .tokens
        .audit_log(
            TENANT,
            &AuditQuery {
                since: Some(inv.t0 - 60),
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    let events: Vec<(AuditEvent, &str)> =
        audit.iter().map(|e| (e.event, e.actor.as_str())).collect();
    assert!(
        events.contains(&(AuditEvent::PolicyValueUpdated, "dana (mcp)"))
            && events.contains(&(AuditEvent::PatRevoke, "dana (mcp)")),
        "{events:?}"
    );
}

/// With `--credential-file`, the session is the credential: its tenant only (another is
/// answered as missing), changes recorded as made with it, and an auditor read-only even with
/// `--allow-changes`; a provisioner credential is refused at the start.
#[test]
fn a_tenant_credential_sees_its_tenant_only_and_an_auditor_cannot_change_it() {
    let _machine = crate::machine::shared();
    let inv = inventory::generate();
    std::fs::write(
        inv.data_dir().join("tenants/beta.toml"),
        "tenant = \"beta\"\n",
    )
    .unwrap();
    let now = patrol::timestamp::now();
    let write_secret = |name: &str, role: patrol_store::tokens::Role| {
        let (_, secret) = inv
            .tokens
            .create_credential(TENANT, name, role, "operator", now)
            .unwrap();
        let file = inv.dir.path().join(name);
        std::fs::write(&file, secret.expose()).unwrap();
        file
    };
    let auditor = write_secret("auditor", patrol_store::tokens::Role::Auditor);
    let provisioner = write_secret("entra", patrol_store::tokens::Role::Provisioner);

    let mut client = Client::start(
        &inv.data_dir(),
        &[
            "--allow-changes",
            "--credential-file",
            auditor.to_str().unwrap(),
        ],
    );
    let (error, text) = client.call("list_tenants", json!({}));
    assert!(!error, "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 1, "{text}");
    assert_eq!(listed["tenants"][0]["tenant"], TENANT);
    let (error, text) = client.call("get_tenant_policies", json!({ "tenant": "beta" }));
    assert!(
        error && text.contains("there is no tenant `beta`"),
        "{text}"
    );
    let (error, text) = client.call("report_usage", json!({ "tenant": TENANT }));
    assert!(!error, "{text}");
    let token_id = inv
        .specs
        .iter()
        .map(|spec| spec.id.clone())
        .find(|id| {
            inv.tokens
                .get(TENANT, id)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        })
        .unwrap();
    let (error, text) = client.call(
        "revoke_token",
        json!({ "tenant": TENANT, "token_id": token_id }),
    );
    assert!(
        error && text.contains("auditor credential `auditor`"),
        "{text}"
    );
    assert!(text.contains("read-only"), "{text}");
    // Revoked while the session runs: the next tool is refused.
    let id = inv
        .tokens
        .credentials(Some(TENANT))
        .unwrap()
        .into_iter()
        .find(|credential| credential.name == "auditor")
        .unwrap()
        .id;
    inv.tokens.revoke_credential(&id, "operator", now).unwrap();
    let (error, text) = client.call("report_usage", json!({ "tenant": TENANT }));
    assert!(
        error && text.contains("does not hold a live credential"),
        "{text}"
    );
    client.finish();
    assert!(
        inv.tokens
            .get(TENANT, &token_id)
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(["mcp", "--data-dir"])
        .arg(inv.data_dir())
        .args(["--credential-file", provisioner.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("provisioner credential, which is for SCIM only"),
        "{stderr}"
    );
}

/// Checks `value` against the parts of a JSON Schema patrol's output schemas use: `type`,
/// `properties`, `required`, `items`, `enum`, `$ref` into `$defs`, and `anyOf`/`oneOf`.
fn conforms(value: &Value, schema: &Value, root: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        return conforms(value, &root["$defs"][name], root, at);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            return options
                .iter()
                .any(|option| conforms(value, option, root, at).is_ok())
                .then_some(())
                .ok_or_else(|| format!("{at}: {value} matches none of {key}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed = types.is_empty()
        || types.contains(&kind)
        || (kind == "integer" && types.contains(&"number"));
    if !allowed {
        return Err(format!("{at}: a {kind}, where the schema says {types:?}"));
    }
    if let Value::Object(object) = value {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: `{name}` is required and missing"));
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (name, item) in object {
                let Some(property) = properties.get(name) else {
                    return Err(format!("{at}: `{name}` is not in the schema"));
                };
                conforms(item, property, root, &format!("{at}.{name}"))?;
            }
        }
    }
    if let Value::Array(items) = value {
        for (index, item) in items.iter().enumerate() {
            conforms(item, &schema["items"], root, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

#[test]
fn tool_results_are_structured_paged_and_their_arguments_checked() {
    let _machine = crate::machine::shared();
    let inv = inventory::generate();
    let mut client = Client::start(&inv.data_dir(), &[]);
    let listed = client.request("tools/list", json!({}));
    let tools = listed["result"]["tools"].as_array().unwrap().clone();
    let schema_of =
        |name: &str| tools.iter().find(|t| t["name"] == name).unwrap()["outputSchema"].clone();
    for tool in &tools {
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
    }

    // Every read-only tool answers with structured content its output schema describes.
    let calls = [
        ("list_tenants", json!({})),
        ("get_tenant_policies", json!({ "tenant": TENANT })),
        (
            "report_noncompliant",
            json!({ "tenant": TENANT, "max_days": 90 }),
        ),
        ("report_violations", json!({ "tenant": TENANT })),
        ("report_usage", json!({ "tenant": TENANT })),
        ("report_automation", json!({ "tenant": TENANT })),
        ("report_expiring", json!({ "tenant": TENANT, "days": 365 })),
        ("list_tokens", json!({ "tenant": TENANT, "status": "all" })),
        ("audit_log", json!({ "tenant": TENANT })),
        (
            "whatif",
            json!({ "tenant": TENANT, "config_toml": "tenant = \"acme\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 30\n" }),
        ),
    ];
    for (tool, arguments) in calls {
        let answer = client.call_raw(tool, arguments);
        let result = &answer["result"];
        assert_ne!(result["isError"], true, "{tool}: {answer}");
        let structured = &result["structuredContent"];
        assert!(structured.is_object(), "{tool}: {answer}");
        let schema = schema_of(tool);
        conforms(structured, &schema, &schema, tool).unwrap_or_else(|e| panic!("{e}"));
        // The text is the same JSON, for clients that read text only.
        let text: Value =
            serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(&text, structured, "{tool}");
        // Lists are bounded by default.
        if let Some(page) = structured.get("page") {
            assert!(page["returned"].as_u64().unwrap() <= 50, "{tool}: {page}");
        }
    }

    // Paging walks a whole list, once each, and ends.
    let total_tokens = inv.specs.len();
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let answer = client.call_raw(
            "list_tokens",
            json!({ "tenant": TENANT, "status": "all", "limit": 40, "cursor": cursor }),
        );
        let page = answer["result"]["structuredContent"].clone();
        assert_eq!(page["page"]["total"], total_tokens, "{answer}");
        for token in page["tokens"].as_array().unwrap() {
            assert!(seen.insert(token["id"].as_str().unwrap().to_string()));
            assert!(token.get("secret").is_none() && token.get("token").is_none());
        }
        pages += 1;
        cursor = page["page"]["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen.len(), total_tokens);
    assert_eq!(pages, total_tokens.div_ceil(40));

    // Filters narrow the list as the inventory's own description says.
    let owner = inv.specs[0].owner.clone();
    let mine = client.call_raw(
        "list_tokens",
        json!({ "tenant": TENANT, "owner": owner, "status": "all", "limit": 500 }),
    );
    let expected = inv.specs.iter().filter(|s| s.owner == owner).count();
    assert_eq!(
        mine["result"]["structuredContent"]["page"]["total"],
        expected
    );

    // Misnamed, mistyped and missing arguments are refused, naming the argument.
    for (tool, arguments, says) in [
        (
            "report_noncompliant",
            json!({ "tenant": TENANT, "maxdays": 90 }),
            "argument `maxdays`: `report_noncompliant` has no such argument; its arguments are: tenant, max_days, limit, cursor",
        ),
        (
            "report_noncompliant",
            json!({ "tenant": TENANT, "max_days": "ninety" }),
            "argument `max_days`: invalid type: string \"ninety\", expected an integer",
        ),
        (
            "report_usage",
            json!({}),
            "argument `tenant` is required by `report_usage`",
        ),
        (
            "list_tenants",
            json!({ "tenant": TENANT }),
            "argument `tenant`: `list_tenants` has no such argument",
        ),
        (
            "list_tokens",
            json!({ "tenant": TENANT, "limit": -1 }),
            "argument `limit`",
        ),
    ] {
        let answer = client.call_raw(tool, arguments);
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{tool}: {answer}");
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
    }
    // Values a tool checks itself come back as tool errors, naming the argument.
    for (tool, arguments, says) in [
        (
            "list_tokens",
            json!({ "tenant": TENANT, "limit": 0 }),
            "argument `limit`: must be from 1 to 500",
        ),
        (
            "list_tokens",
            json!({ "tenant": TENANT, "cursor": "users:3" }),
            "argument `cursor`",
        ),
        (
            "list_tokens",
            json!({ "tenant": TENANT, "status": "gone" }),
            "argument `status`",
        ),
        (
            "audit_log",
            json!({ "tenant": TENANT, "event": "Token.Nope" }),
            "argument `event`",
        ),
    ] {
        let (error, text) = client.call(tool, arguments);
        assert!(error && text.contains(says), "{tool}: {text}");
    }
    client.finish();
}
