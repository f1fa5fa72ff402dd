# The benchmark tenant's six rules in Rego: `violations` is the set of codes a request breaks.
package patrol

import rego.v1

issuing if input.operation in {"create", "regenerate"}

in_group(allowed) if {
	some group in input.user.groups
	group in allowed
}

lifespan_days := (time.parse_rfc3339_ns(input.token.valid_to) - time.parse_rfc3339_ns(input.now)) / 86400000000000

violations contains "globalPatPolicyViolation" if {
	issuing
	input.token.all_orgs
	not in_group({"pat-admins"})
}

violations contains "fullScopePatPolicyViolation" if {
	issuing
	"app_token" in input.token.scopes
}

violations contains "patLifespanPolicyViolation" if {
	issuing
	lifespan_days > 90
}

violations contains "leakedPatRevoked" if input.operation == "leak"

targets_fabrikam if "fabrikam" in input.token.orgs

targets_fabrikam if {
	input.token.all_orgs
	input.org == "fabrikam"
}

packaging_only if {
	every scope in input.token.scopes {
		scope in {"vso.packaging", "vso.packaging_write", "vso.packaging_manage"}
	}
}

violations contains "disablePatCreationPolicyViolation" if {
	issuing
	targets_fabrikam
	not in_group({"release-engineers"})
	not packaging_only
}

violations contains "globalPatUsageDisabled" if {
	input.operation == "use"
	input.token.all_orgs
	input.org == "fabrikam"
	not in_group({"release-engineers"})
}

read_only(scope) if {
	scope != "app_token"
	not endswith(scope, "_execute")
	not endswith(scope, "_write")
	not endswith(scope, "_manage")
	not endswith(scope, "_full")
}

writes if {
	some scope in input.token.scopes
	not read_only(scope)
}

violations contains "writeScopeLifespanViolation" if {
	issuing
	writes
	lifespan_days > 30
}
