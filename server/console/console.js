// patrol's console: a page for administrators over the admin API, the same API every other
// client uses. No framework and no build: the browser runs this file as written.
//
// The bearer (the operator's admin token or a tenant credential) is kept in sessionStorage,
// for this tab only, and sent as `Authorization: Bearer`. `GET /v1/admin/whoami` says what it
// may do; the console offers nothing else. Data from the API is only ever put in the page as
// text (textContent), except the report page, which the server renders and escapes itself.
"use strict";

// ---------------------------------------------------------------------------------------------
// Small helpers

const $ = (selector, root = document) => root.querySelector(selector);

/// An element: el("p", { class: "note", text: "hello" }, child, ...).
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let nextId = 0;
/// A unique id, for labels and descriptions.
const uid = (prefix) => `${prefix}-${++nextId}`;

/// A labelled input: returns { wrap, input }.
function field(label, input, help) {
  input.id = input.id || uid("f");
  const helpNode = help ? el("span", { class: "help", id: uid("h"), text: help }) : null;
  if (helpNode) input.setAttribute("aria-describedby", helpNode.id);
  const error = el("span", { class: "field-error", role: "alert" });
  const wrap = el("div", { class: input.type === "checkbox" ? "field check" : "field" });
  if (input.type === "checkbox") wrap.append(input, el("label", { for: input.id, text: label }));
  else wrap.append(el("label", { for: input.id, text: label }), input);
  if (helpNode) wrap.append(helpNode);
  wrap.append(error);
  return { wrap, input, error };
}

/// `YYYY-MM-DD HH:MM UTC` from an RFC 3339 time, or "".
function minute(text) {
  if (!text) return "";
  return `${text.slice(0, 10)} ${text.slice(11, 16)} UTC`;
}

/// RFC 3339 midnight UTC of a date input's value, plus `days`.
function dayStart(value, days = 0) {
  const time = new Date(`${value}T00:00:00Z`);
  time.setUTCDate(time.getUTCDate() + days);
  return time.toISOString().replace(".000Z", "Z");
}

function today(offsetDays = 0) {
  const time = new Date();
  time.setUTCDate(time.getUTCDate() + offsetDays);
  return time.toISOString().slice(0, 10);
}

function lines(text) {
  return text.split(/[\n,]/).map((line) => line.trim()).filter(Boolean);
}

function status(message, kind = "info") {
  const box = $("#status");
  box.textContent = message || "";
  box.className = `status ${message ? kind : ""}`;
}

// ---------------------------------------------------------------------------------------------
// The session and the API

const session = {
  get bearer() { return sessionStorage.getItem("patrol.bearer"); },
  get actor() { return sessionStorage.getItem("patrol.actor") || ""; },
  get tenant() { return sessionStorage.getItem("patrol.tenant"); },
  set tenant(name) { sessionStorage.setItem("patrol.tenant", name); },
  /// What `whoami` said.
  who: null,
  /// The tenants the caller may see.
  tenants: [],
  start(bearer, actor) {
    sessionStorage.setItem("patrol.bearer", bearer);
    sessionStorage.setItem("patrol.actor", actor);
  },
  end() {
    sessionStorage.clear();
    session.who = null;
    session.tenants = [];
  },
};

/// A refusal of the API, with its code, message and field.
class ApiFailure extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.field = error.field || "";
  }
}

/// Calls the API. `body` is sent as JSON unless it is a string; answers are parsed by their
/// content type. A refusal throws an ApiFailure; a 401 ends the session.
async function api(method, path, { body, query, accept, write, contentType, ifMatch } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${session.bearer}` };
  if (accept) headers.Accept = accept;
  if (ifMatch) headers["If-Match"] = ifMatch;
  if (write && session.actor && session.who && session.who.caller === "operator") {
    headers["X-Patrol-Actor"] = session.actor;
  }
  let payload;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    headers["Content-Type"] = contentType || "application/json";
  }
  const response = await fetch(url, { method, headers, body: payload, cache: "no-store" });
  const type = response.headers.get("content-type") || "";
  const data = type.startsWith("application/json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && path !== "/v1/admin/whoami") {
      session.end();
      go("#/login");
    }
    const error = data && data.error ? data.error : { message: String(data).slice(0, 300) };
    throw new ApiFailure(response.status, error);
  }
  return { data, headers: response.headers };
}

const tenantPath = (rest = "") => `/v1/tenants/${encodeURIComponent(session.tenant)}${rest}`;
const adminTenantPath = () => `/v1/admin/tenants/${encodeURIComponent(session.tenant)}`;

// ---------------------------------------------------------------------------------------------
// Confirmation

/// Asks before doing something: resolves true when the administrator confirms.
function confirmDialog(title, body, yes) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-body").replaceChildren(...[body].flat());
  $("#confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      $("#confirm-yes").onclick = null;
      $("#confirm-no").onclick = null;
      dialog.oncancel = null;
      resolve(answer);
    };
    $("#confirm-yes").onclick = () => done(true);
    $("#confirm-no").onclick = () => done(false);
    dialog.oncancel = () => done(false);
    dialog.showModal();
    $("#confirm-no").focus();
  });
}

// ---------------------------------------------------------------------------------------------
// Routing: #/page?key=value

function go(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function route() {
  const [path, search] = window.location.hash.replace(/^#/, "").split("?");
  return { page: (path || "/").replace(/^\//, "") || "policies", params: new URLSearchParams(search || "") };
}

async function render() {
  status("");
  const main = $("#main");
  const { page, params } = route();
  if (!session.bearer || page === "login") {
    showChrome(false);
    main.replaceChildren(loginPage());
    return;
  }
  try {
    if (!session.who) await signIn();
  } catch (failure) {
    session.end();
    showChrome(false);
    main.replaceChildren(loginPage(failure.message));
    return;
  }
  showChrome(true);
  const pages = { policies: policiesPage, tokens: tokensPage, reports: reportsPage, audit: auditPage };
  const build = pages[page] || policiesPage;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === (pages[page] ? page : "policies")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren(el("p", { class: "loading", text: "Loading…" }));
  try {
    main.replaceChildren(await build(params));
  } catch (failure) {
    main.replaceChildren(el("p", { class: "error", role: "alert", text: failure.message }));
  }
  main.focus({ preventScroll: true });
}

function showChrome(signedIn) {
  $("#nav").hidden = !signedIn;
  $("#who").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
  if (!signedIn) return;
  const who = session.who;
  $("#who").textContent = who.caller === "operator"
    ? `${session.actor} · operator`
    : `${who.name} · ${who.role} of ${who.tenant}`;
  const select = $("#tenant-select");
  select.replaceChildren(...session.tenants.map((name) => el("option", { value: name, text: name })));
  select.value = session.tenant;
  select.disabled = session.tenants.length < 2;
}

/// Asks the API who the bearer is and which tenants it sees.
async function signIn() {
  const { data: who } = await api("GET", "/v1/admin/whoami");
  if (!who.may.read) {
    throw new Error(`This is a ${who.role} credential: it may only use the SCIM endpoints, not the console.`);
  }
  session.who = who;
  const { data: tenants } = await api("GET", "/v1/admin/tenants");
  session.tenants = tenants.map((tenant) => tenant.tenant);
  if (!session.tenants.includes(session.tenant)) session.tenant = session.tenants[0] || "";
  if (!session.tenant) throw new Error("There is no tenant to administer yet.");
}

// ---------------------------------------------------------------------------------------------
// Sign in

function loginPage(problem) {
  const bearer = field("Admin token or tenant credential", el("input", {
    type: "password", autocomplete: "off", required: true, spellcheck: "false",
  }), "The operator's admin token, or a credential (ptc_…) of an admin or auditor. Kept for this tab only.");
  const actor = field("Your name", el("input", { type: "text", autocomplete: "name" }),
    "Recorded in the audit log as who made each change (needed with the operator's token).");
  const message = el("p", { class: "error", role: "alert", text: problem || "" });
  const form = el("form", { class: "login", "aria-labelledby": "login-title" },
    el("h1", { id: "login-title", text: "Sign in to the patrol console" }),
    bearer.wrap, actor.wrap, message,
    el("button", { type: "submit", class: "primary", text: "Sign in" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    session.start(bearer.input.value.trim(), actor.input.value.trim());
    try {
      await signIn();
    } catch (failure) {
      session.end();
      message.textContent = failure.status === 401
        ? "That token is not valid here: not the admin token, nor a live credential."
        : failure.message;
      bearer.input.focus();
      return;
    }
    if (session.who.caller === "operator" && !session.actor) {
      session.end();
      actor.error.textContent = "Enter your name: changes made with the operator's token are recorded under it.";
      actor.input.focus();
      return;
    }
    go("#/policies");
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// Policies

/// The seed policies, as the seed document presents them.
const SEED_POLICIES = [
  {
    key: "restrict_global_pat_creation",
    title: "Restrict global personal access token creation",
    help: "New and renewed tokens must name their organizations; global tokens are refused.",
    settings: [],
  },
  {
    key: "restrict_full_scoped_pat_creation",
    title: "Restrict full-scoped personal access token creation",
    help: "Tokens with full access (app_token) are refused; tokens must name their scopes.",
    settings: [],
  },
  {
    key: "max_pat_lifespan",
    title: "Set maximum lifespan for new personal access tokens",
    help: "New and renewed tokens may live at most this many days.",
    settings: [
      { name: "max_days", label: "Maximum lifespan (days)", type: "number", min: 1, max: 365, initial: 90 },
      { name: "clamp", label: "Shorten longer requests to the maximum instead of refusing them", type: "checkbox" },
    ],
  },
  {
    key: "revoke_leaked_pats",
    title: "Automatically revoke leaked personal access tokens",
    help: "Tokens found in public are revoked and their owners told. On unless turned off.",
    settings: [],
    onByDefault: true,
  },
];

const ORG_POLICY = {
  key: "restrict_pat_creation",
  title: "Restrict personal access token creation",
  help: "Only allowlisted users and groups may create tokens for this organization; a global token used in it is refused.",
  settings: [
    { name: "allow_packaging_scope_only", label: "Still allow tokens with packaging scopes only", type: "checkbox" },
  ],
};

/// The controls of one policy's common keys (on/off, mode, allowlist) and its settings.
/// `path` names it as configuration errors do; `read` gives the policy's table back.
function policyControls(path, table, definition, editable, settingsOf) {
  const enabled = field("On", el("input", {
    type: "checkbox", disabled: !editable, dataset: { field: `${path}.enabled` },
  }));
  enabled.input.checked = table ? table.enabled !== false : Boolean(definition.onByDefault);
  const mode = field("Mode", el("select", { disabled: !editable, dataset: { field: `${path}.mode` } },
    el("option", { value: "enforce", text: "Enforce: refuse what breaks it" }),
    el("option", { value: "audit", text: "Audit: report only, refuse nothing" })));
  mode.input.value = (table && table.mode) || "enforce";
  const allow = (table && table.allowlist) || {};
  const users = field("Allowlisted users", el("textarea", {
    rows: 2, disabled: !editable, dataset: { field: `${path}.allowlist.users` },
  }), "One per line; exempt from this policy alone.");
  users.input.value = (allow.users || []).join("\n");
  const groups = field("Allowlisted groups", el("textarea", {
    rows: 2, disabled: !editable, dataset: { field: `${path}.allowlist.groups` },
  }), "Directory groups, one per line.");
  groups.input.value = (allow.groups || []).join("\n");
  const settings = settingsOf(path, table, editable);
  const node = el("div", { class: "policy-body" },
    el("div", { class: "row" }, enabled.wrap, mode.wrap),
    settings.nodes,
    el("div", { class: "row" }, users.wrap, groups.wrap));
  const read = () => {
    const next = { ...(table || {}) };
    // A seed policy's table must say whether it is on; elsewhere `enabled` defaults to true.
    setOrDefault(next, "enabled", enabled.input.checked, definition.key ? undefined : true);
    setOrDefault(next, "mode", mode.input.value, "enforce");
    const allowlist = { ...(table && table.allowlist) };
    allowlist.users = lines(users.input.value);
    allowlist.groups = lines(groups.input.value);
    if (!allowlist.users.length) delete allowlist.users;
    if (!allowlist.groups.length) delete allowlist.groups;
    if (Object.keys(allowlist).length) next.allowlist = allowlist;
    else delete next.allowlist;
    settings.read(next);
    return next;
  };
  return { node, read, enabled: enabled.input };
}

/// Sets `next[key]` to `value`, unless the key was absent and `value` is its default: a save
/// changes only what the administrator changed, and leaves the file's other lines alone.
function setOrDefault(next, key, value, defaultValue) {
  if (!(key in next) && JSON.stringify(value) === JSON.stringify(defaultValue)) return;
  next[key] = value;
}

/// Inputs for a seed policy's own settings.
function seedSettings(definition) {
  return (path, table, editable) => {
    const inputs = definition.settings.map((setting) => {
      const input = el("input", {
        type: setting.type, min: setting.min, max: setting.max, disabled: !editable,
        dataset: { field: `${path}.${setting.name}` },
      });
      const value = table ? table[setting.name] : undefined;
      if (setting.type === "checkbox") input.checked = Boolean(value);
      else input.value = value ?? setting.initial ?? "";
      return { setting, ...field(setting.label, input) };
    });
    return {
      nodes: inputs.length ? el("div", { class: "row" }, inputs.map((i) => i.wrap)) : null,
      read(next) {
        for (const { setting, input } of inputs) {
          if (setting.type === "checkbox") {
            setOrDefault(next, setting.name, input.checked, false);
          } else if (input.value === "") {
            delete next[setting.name];
          } else {
            next[setting.name] = Number(input.value);
          }
        }
      },
    };
  };
}

/// A JSON textarea for a table of free-form values (a custom policy's settings, a rule's params).
function jsonSettings(key, label, help) {
  return (path, table, editable) => {
    const area = field(label, el("textarea", {
      rows: 3, class: "code", disabled: !editable, dataset: { field: `${path}.${key}` }, spellcheck: "false",
    }), help);
    area.input.value = JSON.stringify((table && table[key]) || {}, null, 1).replace(/\n\s*/g, " ");
    return {
      nodes: area.wrap,
      read(next) {
        const text = area.input.value.trim();
        try {
          setOrDefault(next, key, text ? JSON.parse(text) : {}, {});
        } catch (problem) {
          throw new ApiFailure(400, { message: `\`${key}\` is not JSON: ${problem.message}`, field: `${path}.${key}` });
        }
      },
    };
  };
}

/// A rule's own fields, then its params.
function ruleSettings(path, table, editable) {
  const expression = field("Expression (CEL): must hold for the request to pass", el("textarea", {
    rows: 3, class: "code", disabled: !editable, spellcheck: "false", dataset: { field: `${path}.expression` },
  }));
  expression.input.value = table.expression || "";
  const message = field("Message", el("input", {
    type: "text", disabled: !editable, dataset: { field: `${path}.message` },
  }));
  message.input.value = table.message || "";
  const code = field("Code", el("input", { type: "text", disabled: !editable, dataset: { field: `${path}.code` } }));
  code.input.value = table.code || "";
  const operations = ["create", "regenerate", "use"].map((operation) => {
    const box = field(operation, el("input", {
      type: "checkbox", disabled: !editable, dataset: { field: `${path}.operations` },
    }));
    box.input.checked = (table.operations || ["create", "regenerate"]).includes(operation);
    return { operation, box };
  });
  const params = jsonSettings("params", "Params (JSON)", "Values the expression reads as `params`.")(path, table, editable);
  return {
    nodes: el("div", {},
      expression.wrap,
      el("div", { class: "row" }, message.wrap, code.wrap),
      el("fieldset", { class: "operations" }, el("legend", { text: "Operations it judges" }),
        operations.map((o) => o.box.wrap)),
      params.nodes),
    read(next) {
      next.expression = expression.input.value;
      if (message.input.value) next.message = message.input.value;
      else delete next.message;
      if (code.input.value) next.code = code.input.value;
      else delete next.code;
      setOrDefault(next, "operations", operations.filter((o) => o.box.input.checked).map((o) => o.operation),
        ["create", "regenerate"]);
      params.read(next);
    },
  };
}

function card(title, help, body, extra) {
  const id = uid("card");
  return el("section", { class: "policy card", "aria-labelledby": id },
    el("h3", { id, text: title }, extra || null),
    help ? el("p", { class: "help", text: help }) : null,
    body);
}

async function policiesPage() {
  const editable = session.who.may.write;
  const { data: config, headers } = await api("GET", adminTenantPath(), { accept: "application/json" });
  // What was read, to change only what the form changes, and only if nobody changed it since.
  const read = { config, etag: headers.get("etag") };
  const readers = [];
  const sections = [];

  // The tenant's seed policies.
  const tenantCards = SEED_POLICIES.map((definition) => {
    const path = `policies.${definition.key}`;
    const table = config.policies && config.policies[definition.key];
    const controls = policyControls(path, table, definition, editable, seedSettings(definition));
    readers.push((next) => {
      const value = controls.read();
      const existed = Boolean(table);
      // An absent policy is off (or on, for one that is on by default): leave it absent when
      // that is what is asked, whatever its settings' fields show.
      if (!existed && value.enabled === Boolean(definition.onByDefault) && !value.allowlist && !value.mode) return;
      next.policies = next.policies || {};
      next.policies[definition.key] = value;
    });
    return card(definition.title, definition.help, controls.node, el("code", { class: "key", text: definition.key }));
  });
  sections.push(el("section", { class: "group", "aria-labelledby": "tenant-policies" },
    el("h2", { id: "tenant-policies", text: "Tenant policies" }), tenantCards));

  // Organizations: restrict_pat_creation, for Entra-backed organizations only.
  const orgs = Object.entries(config.orgs || {});
  if (orgs.length) {
    const orgCards = orgs.map(([org, settings]) => {
      const path = `orgs.${org}.policies.${ORG_POLICY.key}`;
      const table = settings.policies && settings.policies[ORG_POLICY.key];
      if (!settings.entra_backed) {
        return card(`${org}: ${ORG_POLICY.title}`, null,
          el("p", { class: "note", text: `${org} is not backed by Microsoft Entra ID, so this policy is not available for it.` }));
      }
      const controls = policyControls(path, table, ORG_POLICY, editable, seedSettings(ORG_POLICY));
      readers.push((next) => {
        const value = controls.read();
        if (!table && !value.enabled && !value.allowlist && !value.mode) return;
        next.orgs[org].policies = { ...(next.orgs[org].policies || {}), [ORG_POLICY.key]: value };
      });
      return card(`${org}: ${ORG_POLICY.title}`, ORG_POLICY.help, controls.node, el("code", { class: "key", text: ORG_POLICY.key }));
    });
    sections.push(el("section", { class: "group", "aria-labelledby": "org-policies" },
      el("h2", { id: "org-policies", text: "Organization policies" }), orgCards));
  }

  // Custom components and rules.
  const customs = (config.custom_policies || []).map((policy, index) => {
    const path = `custom_policies[${index}]`;
    const controls = policyControls(path, policy, {}, editable,
      jsonSettings("settings", "Settings (JSON)", "Passed to the component as they are; it checks them."));
    readers.push((next) => { next.custom_policies[index] = controls.read(); });
    return card(policy.name, `Component ${policy.component}`, controls.node, el("span", { class: "badge", text: "custom" }));
  });
  if (customs.length) {
    sections.push(el("section", { class: "group", "aria-labelledby": "custom-policies" },
      el("h2", { id: "custom-policies", text: "Custom policies" }), customs));
  }
  const rules = (config.rules || []).map((rule, index) => {
    const path = `rules[${index}]`;
    const controls = policyControls(path, rule, {}, editable, ruleSettings);
    readers.push((next) => { next.rules[index] = controls.read(); });
    return card(rule.name, null, controls.node, el("span", { class: "badge", text: "rule" }));
  });
  if (rules.length) {
    sections.push(el("section", { class: "group", "aria-labelledby": "rules" },
      el("h2", { id: "rules", text: "Rules (CEL)" }), rules));
  }

  const problem = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "policies", "aria-labelledby": "policies-title", novalidate: true },
    el("h1", { id: "policies-title", text: `Policies of ${session.tenant}` }),
    editable ? null : el("p", { class: "note", text: "Read-only: your role may look, not change." }),
    sections, problem,
    editable ? el("div", { class: "actions sticky" },
      el("span", { class: "help", text: "Nothing is saved before you have seen what the change would refuse." }),
      el("button", { type: "submit", class: "primary", text: "Review and save…" })) : null);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    let next;
    try {
      next = JSON.parse(JSON.stringify(config));
      next.policies = next.policies || {};
      for (const read of readers) read(next);
      if (next.policies && !Object.keys(next.policies).length) delete next.policies;
    } catch (failure) {
      showError(form, problem, failure);
      return;
    }
    await reviewAndSave(form, problem, read, next);
  });
  return form;
}

function clearErrors(root) {
  for (const node of root.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of root.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/// Shows a refusal next to the input it names: the input of its `field`, or else, among the
/// inputs of the policy it names, the one whose setting its message names (`max_days`), or else
/// the policy's first. Above the buttons when it names none.
function showError(root, fallback, failure) {
  const wanted = failure.field || "";
  const inputs = [...root.querySelectorAll("[data-field]")];
  const related = inputs.filter((input) => {
    const name = input.dataset.field;
    return wanted && (name === wanted || wanted.startsWith(`${name}.`) || wanted.startsWith(`${name}[`)
      || name.startsWith(`${wanted}.`));
  });
  const named = (input) => failure.message.includes(`\`${input.dataset.field.split(".").pop()}\``);
  const best = related.find((input) => input.dataset.field === wanted)
    || related.find(named)
    || related.filter((input) => wanted.startsWith(input.dataset.field))
      .sort((a, b) => b.dataset.field.length - a.dataset.field.length)[0]
    || related[0];
  if (best) {
    const error = best.closest(".field").querySelector(".field-error");
    error.textContent = failure.message;
    best.setAttribute("aria-invalid", "true");
    best.focus();
    fallback.textContent = "The change was not saved: see the message next to the field.";
  } else {
    fallback.textContent = failure.message;
  }
}

/// The JSON merge patch (RFC 7396) that turns `before` into `after`: what changed, `null` for
/// what is gone, arrays whole.
function mergePatch(before, after) {
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const patch = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    if (JSON.stringify(before[key]) === JSON.stringify(value)) continue;
    patch[key] = isObject(before[key]) && isObject(value) ? mergePatch(before[key], value) : value;
  }
  return patch;
}

/// Dry-runs `next`, shows what it would refuse, and saves it when the administrator confirms:
/// as a merge patch of what was `read` (a TOML file keeps its comments), if it is still what
/// is stored.
async function reviewAndSave(form, problem, read, next) {
  const patch = mergePatch(read.config, next);
  if (!Object.keys(patch).length) {
    status("Nothing changed: there is nothing to save.");
    return;
  }
  problem.textContent = "";
  status("Judging every active token by the change…");
  let dryRun;
  try {
    ({ data: dryRun } = await api("POST", tenantPath("/whatif"), { body: next }));
  } catch (failure) {
    status("");
    showError(form, problem, failure);
    return;
  }
  status("");
  const body = [
    el("p", { class: "impact", text: `This change would refuse ${dryRun.failing_tokens} of ${dryRun.active_tokens} active tokens`
      + ` (${dryRun.newly_failing_tokens} of them pass today).` }),
  ];
  if (dryRun.per_policy.length) {
    body.push(el("ul", {}, dryRun.per_policy.map((impact) =>
      el("li", { text: `${impact.policy}: ${impact.tokens} tokens, ${impact.newly_failing} newly` }))));
  }
  const shown = [];
  for (const owner of dryRun.owners) {
    for (const token of owner.tokens) {
      if (shown.length < 8) shown.push(el("li", { text: `${owner.owner} · ${token.display_name}: ${token.failures.map((f) => f.message).join("; ")}` }));
    }
  }
  if (shown.length) body.push(el("p", { text: "For example:" }), el("ul", { class: "examples" }, shown));
  body.push(el("p", { class: "help", text: "Saving is recorded in the audit log, with you as who made it." }));
  if (!(await confirmDialog("Save this change?", body, "Save the change"))) {
    status("Nothing was saved.");
    return;
  }
  try {
    await api("PATCH", adminTenantPath(), {
      body: patch, contentType: "application/merge-patch+json", ifMatch: read.etag, write: true,
    });
  } catch (failure) {
    if (failure.status === 412) {
      problem.textContent = "Someone changed this tenant's policies since you opened the page, so nothing was saved. "
        + "Reload the page to see their change, then make yours again.";
      return;
    }
    showError(form, problem, failure);
    return;
  }
  status("Saved. The change is in the audit log.", "ok");
  const saved = await policiesPage();
  $("#main").replaceChildren(saved);
  $("#status").append(" ", el("a", { href: "#/audit?event=OrganizationPolicy.PolicyValueUpdated", text: "See it" }));
}

// ---------------------------------------------------------------------------------------------
// Tokens

async function tokensPage(params) {
  const editable = session.who.may.write;
  const filters = {
    owner: field("Owner", el("input", { type: "text", name: "owner" })),
    status: field("Status", el("select", { name: "status" },
      ["active", "revoked", "expired", "all"].map((s) => el("option", { value: s, text: s })))),
    scope: field("Scope contains", el("input", { type: "text", name: "scope" })),
    org: field("Organization", el("input", { type: "text", name: "org" })),
    expiring: field("Expiring within (days)", el("input", { type: "number", name: "expiring", min: 1 })),
  };
  for (const [name, { input }] of Object.entries(filters)) input.value = params.get(name) || (name === "status" ? "active" : "");
  const form = el("form", { class: "filters", role: "search", "aria-label": "Filter tokens" },
    Object.values(filters).map((f) => f.wrap),
    el("button", { type: "submit", class: "primary", text: "Filter" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, { input }] of Object.entries(filters)) if (input.value) query.set(name, input.value);
    go(`#/tokens?${query}`);
  });

  // Every page of the listing the owner and status select, then the other filters here.
  const items = [];
  let continuation = null;
  let pages = 0;
  do {
    const { data } = await api("GET", tenantPath("/tokens"), {
      query: {
        displayFilterOption: filters.status.input.value, user: filters.owner.input.value,
        $top: 100, continuationToken: continuation,
      },
    });
    items.push(...data.patTokens);
    continuation = data.continuationToken;
    pages += 1;
  } while (continuation && pages < 100);
  const scope = filters.scope.input.value.toLowerCase();
  const org = filters.org.input.value.toLowerCase();
  const within = Number(filters.expiring.input.value || 0);
  const horizon = Date.now() + within * 86400000;
  const shown = items.filter((token) =>
    (!scope || token.scope.toLowerCase().includes(scope))
    && (!org || token.targetAccounts === null || token.targetAccounts.some((a) => a.toLowerCase() === org))
    && (!within || (token.status === "active" && Date.parse(token.validTo) <= horizon)))
    // Soonest to expire first, as the report's inventory (RFC 3339 UTC times sort as text).
    .sort((a, b) => a.validTo.localeCompare(b.validTo) || a.authorizationId.localeCompare(b.authorizationId));

  const table = el("table", { class: "tokens" },
    el("caption", { text: `${shown.length} of ${items.length} tokens${continuation ? " (the first 10,000)" : ""}` }),
    el("thead", {}, el("tr", {}, ["Owner", "Name", "Scopes", "Organizations", "Expires", "Last used", "Status", ""]
      .map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, shown.map((token) => tokenRow(token, editable))));
  return el("div", {},
    el("h1", { text: `Tokens of ${session.tenant}` }), form,
    shown.length ? scroll("Tokens", table) : el("p", { class: "empty", text: "No token matches." }),
    el("section", { id: "history", "aria-live": "polite" }));
}

function tokenRow(token, editable) {
  const actions = el("td", { class: "actions" },
    el("button", { type: "button", class: "link", text: "History", "aria-label": `History of ${token.displayName}`,
      onclick: () => showHistory(token) }));
  if (editable && token.status === "active") {
    actions.append(el("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke ${token.displayName}`,
      onclick: () => revoke(token) }));
  }
  return el("tr", { dataset: { id: token.authorizationId } },
    el("td", { text: token.user }),
    el("td", { text: token.displayName }),
    el("td", { class: "scopes", text: token.scope }),
    el("td", { text: token.targetAccounts === null ? "all (global)" : token.targetAccounts.join(", ") }),
    el("td", { class: "nowrap", text: token.validTo.slice(0, 10) }),
    el("td", { class: "nowrap", text: minute(token.lastUsedAt) }),
    el("td", {}, el("span", { class: `badge ${token.status}`, text: token.status })),
    actions);
}

async function revoke(token) {
  const reason = field("Reason (told to the owner, kept in the audit log)", el("input", { type: "text", value: "revoked by an administrator" }));
  const yes = await confirmDialog(`Revoke “${token.displayName}”?`, [
    el("p", { text: `${token.user}'s token stops working at once, everywhere. This cannot be undone.` }),
    reason.wrap,
  ], "Revoke the token");
  if (!yes) return;
  try {
    await api("DELETE", tenantPath(`/tokens/${encodeURIComponent(token.authorizationId)}`), {
      query: { reason: reason.input.value.trim() || undefined }, write: true,
    });
  } catch (failure) {
    status(failure.message, "error");
    return;
  }
  await render();
  status(`Revoked “${token.displayName}”.`, "ok");
}

async function showHistory(token) {
  const box = $("#history");
  box.replaceChildren(el("p", { class: "loading", text: "Loading the history…" }));
  const { data } = await api("GET", tenantPath("/audit"), { query: { since: token.createdAt, limit: 1000 } });
  const entries = data.entries.filter((entry) => entry.token_id === token.authorizationId).reverse();
  box.replaceChildren(
    el("h2", { text: `History of “${token.displayName}”` }),
    entries.length ? auditTable(entries) : el("p", { class: "empty", text: "No audit entry names this token." }));
  box.scrollIntoView({ block: "start" });
}

// ---------------------------------------------------------------------------------------------
// Reports: the page the server renders, the same `patrol report --html` writes.

async function reportsPage(params) {
  const since = field("Refusals from", el("input", { type: "date", name: "since" }));
  const until = field("to (inclusive)", el("input", { type: "date", name: "until" }));
  const days = field("Expiring within (days)", el("input", { type: "number", name: "days", min: 1, max: 3650 }));
  since.input.value = params.get("since") || today(-29);
  until.input.value = params.get("until") || today();
  days.input.value = params.get("days") || 30;
  const form = el("form", { class: "filters", "aria-label": "Report range" },
    since.wrap, until.wrap, days.wrap, el("button", { type: "submit", class: "primary", text: "Show" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(`#/reports?${new URLSearchParams({ since: since.input.value, until: until.input.value, days: days.input.value })}`);
  });
  const { data: page } = await api("GET", tenantPath("/reports/html"), {
    query: { since: dayStart(since.input.value), until: dayStart(until.input.value, 1), days: days.input.value },
  });
  // The server escaped every value on this page; take its report only, as a part of this page
  // (its <main> becomes a <div>: a page has one main). Its <head> is left out: its inline style
  // is for the page alone, and this page's policy refuses inline styles.
  const start = page.indexOf('<main id="patrol-report"');
  const end = page.lastIndexOf("</main>") + "</main>".length;
  const parsed = new DOMParser().parseFromString(page.slice(start, end), "text/html").getElementById("patrol-report");
  const report = el("div", { id: "patrol-report", class: parsed.className });
  report.append(...document.importNode(parsed, true).childNodes);
  return el("div", { class: "reports" }, form, report);
}

// ---------------------------------------------------------------------------------------------
// Audit

const AUDIT_EVENTS = [
  "Token.PatCreateEvent", "Token.PatUpdateEvent", "Token.PatRevokeEvent", "Token.PatSystemRevokeEvent",
  "Token.PatPublicDiscoveryEvent", "OrganizationPolicy.PolicyValueUpdated", "Credential.CreateEvent",
  "Credential.RotateEvent", "Credential.RevokeEvent", "Credential.UseEvent", "Scim.UserEvent", "Scim.GroupEvent",
];

async function auditPage(params) {
  const since = field("From", el("input", { type: "date", name: "since" }));
  const until = field("to (inclusive)", el("input", { type: "date", name: "until" }));
  const event = field("Event", el("select", { name: "event" },
    el("option", { value: "", text: "every event" }), AUDIT_EVENTS.map((e) => el("option", { value: e, text: e }))));
  const limit = field("At most", el("input", { type: "number", name: "limit", min: 1, max: 1000 }));
  since.input.value = params.get("since") || "";
  until.input.value = params.get("until") || "";
  event.input.value = params.get("event") || "";
  limit.input.value = params.get("limit") || 200;
  const form = el("form", { class: "filters", role: "search", "aria-label": "Filter the audit log" },
    since.wrap, until.wrap, event.wrap, limit.wrap, el("button", { type: "submit", class: "primary", text: "Filter" }));
  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const query = new URLSearchParams();
    for (const { input } of [since, until, event, limit]) if (input.value) query.set(input.name, input.value);
    go(`#/audit?${query}`);
  });
  const { data } = await api("GET", tenantPath("/audit"), {
    query: {
      since: since.input.value ? dayStart(since.input.value) : undefined,
      until: until.input.value ? dayStart(until.input.value, 1) : undefined,
      event: event.input.value, limit: limit.input.value,
    },
  });
  return el("div", {},
    el("h1", { text: `Audit log of ${session.tenant}` }), form,
    el("p", { class: "note", text: `${data.entries.length} entries, newest first.` }),
    data.entries.length ? auditTable(data.entries) : el("p", { class: "empty", text: "No entry matches." }));
}

/// A table that may scroll sideways, reachable by keyboard to scroll it.
function scroll(label, table) {
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, table);
}

function auditTable(entries) {
  return scroll("Audit entries", el("table", { class: "audit" },
    el("thead", {}, el("tr", {}, ["Time", "Event", "Actor", "Token", "Outcome", "Details"]
      .map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, entries.map((entry) => el("tr", {},
      el("td", { class: "nowrap", text: minute(entry.time) }),
      el("td", { class: "nowrap", text: entry.event }),
      el("td", { text: entry.actor }),
      el("td", { class: "nowrap" }, entry.token_id ? el("code", { title: entry.token_id, text: entry.token_id.slice(0, 8) }) : ""),
      el("td", { text: entry.outcome }),
      el("td", { class: "details", text: summary(entry.details) }))))));
}

/// An audit entry's details in a line: `key: value; ...`.
function summary(details) {
  if (!details || typeof details !== "object") return details ? String(details) : "";
  return Object.entries(details)
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("; ");
}

// ---------------------------------------------------------------------------------------------
// Start

document.addEventListener("DOMContentLoaded", () => {
  $("#sign-out").addEventListener("click", () => {
    session.end();
    go("#/login");
  });
  $("#tenant-select").addEventListener("change", (event) => {
    session.tenant = event.target.value;
    render();
  });
  window.addEventListener("hashchange", render);
  render();
});
