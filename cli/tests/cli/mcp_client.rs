//! `patrol mcp` through a real MCP client: the official Rust SDK's (rmcp), speaking to the real
//! binary over its standard input and output, as an assistant's host does. It lists the tools
//! with their schemas, reads structured results, pages through a list with the cursors the
//! server gives, and is told, by argument, what it sent wrong.

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::ServiceError;
use serde_json::{Value, json};
use tokio::net::unix::pipe;

use crate::inventory::{self, TENANT};

fn call(tool: &'static str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool).with_arguments(arguments.as_object().unwrap().clone())
}

#[test]
fn the_official_client_reads_structured_paged_results_and_names_bad_arguments() {
    let _machine = crate::machine::shared();
    let inv = inventory::generate();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .arg("mcp")
        .arg("--data-dir")
        .arg(inv.data_dir())
        .env("PATROL_CACHE_DIR", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = OwnedFd::from(child.stdout.take().unwrap());
    let stdin = OwnedFd::from(child.stdin.take().unwrap());
    runtime.block_on(async move {
        let read = pipe::Receiver::from_owned_fd(stdout).unwrap();
        let write = pipe::Sender::from_owned_fd(stdin).unwrap();
        let client = ().serve((read, write)).await.expect("the MCP session starts");
        let server = client.peer_info().expect("the server introduced itself");
        assert_eq!(
            server.server_info.as_ref().map(|info| info.name.as_str()),
            Some("patrol")
        );

        // Every tool has an input and an output schema.
        let tools = client.list_all_tools().await.unwrap();
        assert_eq!(tools.len(), 12);
        for tool in &tools {
            let output = tool
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{}", tool.name));
            assert_eq!(output["type"], "object", "{}", tool.name);
        }
        let listing = tools.iter().find(|t| t.name == "list_tokens").unwrap();
        let properties = &listing.output_schema.as_ref().unwrap()["properties"];
        assert!(properties["tokens"].is_object() && properties["page"].is_object());

        // A structured result: the report's numbers, and its text twin.
        let report = client
            .call_tool(call(
                "report_noncompliant",
                json!({ "tenant": TENANT, "max_days": 90 }),
            ))
            .await
            .unwrap();
        assert_ne!(report.is_error, Some(true));
        let structured = report.structured_content.expect("structured content");
        let expected = inv
            .specs
            .iter()
            .filter(|s| s.active(inv.t0) && (s.lifetime() > 90 * 86_400 || s.has_full_scope()))
            .count();
        assert_eq!(structured["noncompliant_tokens"], expected);

        // Paging: the cursors walk every token once, then stop.
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = Value::Null;
        loop {
            let page = client
                .call_tool(call(
                    "list_tokens",
                    json!({ "tenant": TENANT, "status": "all", "limit": 64, "cursor": cursor }),
                ))
                .await
                .unwrap()
                .structured_content
                .unwrap();
            for token in page["tokens"].as_array().unwrap() {
                assert!(seen.insert(token["id"].as_str().unwrap().to_string()));
            }
            cursor = page["page"]["next_cursor"].clone();
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(seen.len(), inv.specs.len());

        // A misnamed argument, a mistyped one: refused, naming it.
        for (arguments, says) in [
            (
                json!({ "tenant": TENANT, "day": 7 }),
                "argument `day`: `report_expiring` has no such argument; its arguments are: \
                 tenant, days, limit, cursor",
            ),
            (
                json!({ "tenant": TENANT, "days": "a week" }),
                "argument `days`: invalid type: string \"a week\", expected an integer",
            ),
        ] {
            match client.call_tool(call("report_expiring", arguments)).await {
                Err(ServiceError::McpError(error)) => {
                    assert_eq!(error.code.0, -32602);
                    assert_eq!(error.message, says);
                }
                other => panic!("{other:?}"),
            }
        }
        client.cancel().await.unwrap();
    });
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
