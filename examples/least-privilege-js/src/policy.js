// `least_privilege_js`: a patrol policy written in JavaScript.
//
// Two rules for tokens being created or regenerated:
// - a token may carry at most `max_scopes` scopes (default 5): ask for what the task needs;
// - a global token (valid in every organization) may only read: anything that can write,
//   execute, manage or grant full access must name its organizations.
//
// The component imports nothing: it is built with every WASI feature off (see package.json),
// so there is no clock, randomness or console. Read the time from `request.now`; `Date.now()`
// is frozen at build time. Errors from `validateSettings` are thrown strings.

const DEFAULT_MAX_SCOPES = 5;
const LIMIT_MAX_SCOPES = 100;

/** Whether a scope only reads: no level suffix, or `_read`, and not full access. */
function isReadOnly(scope) {
  const lower = scope.toLowerCase();
  if (lower === "app_token") return false;
  return !["_execute", "_write", "_manage", "_full"].some((suffix) => lower.endsWith(suffix));
}

/** Parses and checks the tenant's settings; throws one sentence naming the field. */
function parseSettings(text) {
  const value = JSON.parse(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw "settings must be a table";
  }
  for (const key of Object.keys(value)) {
    if (key !== "max_scopes") throw `unknown field \`${key}\`, expected \`max_scopes\``;
  }
  const maxScopes = value.max_scopes ?? DEFAULT_MAX_SCOPES;
  if (!Number.isInteger(maxScopes) || maxScopes < 1 || maxScopes > LIMIT_MAX_SCOPES) {
    throw `\`max_scopes\` must be a whole number from 1 to ${LIMIT_MAX_SCOPES}, got \`${JSON.stringify(maxScopes)}\``;
  }
  return { max_scopes: maxScopes };
}

export const policy = {
  metadata() {
    return {
      name: "least_privilege_js",
      version: "1.0.0",
      description:
        "Tokens carry few scopes, and global tokens may only read (written in JavaScript).",
      operations: ["create", "regenerate"],
    };
  },

  // The prepared settings are the checked settings as JSON, for people and for `evaluate`.
  validateSettings(settings) {
    const effective = JSON.stringify(parseSettings(settings));
    return { effective, compiled: new TextEncoder().encode(effective) };
  },

  evaluate(compiled, request) {
    const settings = JSON.parse(new TextDecoder().decode(compiled));
    const { scopes, allOrgs } = request.token;
    const violations = [];
    if (scopes.length > settings.max_scopes) {
      violations.push({
        code: "tooManyScopes",
        message: `the token asks for ${scopes.length} scopes; at most ${settings.max_scopes} are allowed, so ask only for what the task needs`,
      });
    }
    if (allOrgs) {
      const writing = scopes.find((scope) => !isReadOnly(scope));
      if (writing !== undefined) {
        violations.push({
          code: "globalTokenCanWrite",
          message: `a global token may only read, and scope \`${writing}\` does more; name the organizations the token is for`,
        });
      }
    }
    return { violations, actions: [], adjustedValidTo: undefined };
  },
};
