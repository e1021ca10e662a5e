# nhiwarden read-only scanner policy for HashiCorp Vault / OpenBao.
#
#   bao policy write nhiwarden-scanner nhiwarden-scanner.hcl      (or: vault policy write ...)
#   bao token create -policy=nhiwarden-scanner -no-default-policy -ttl=1h -display-name=nhiwarden
#
# Grants no create/update/delete on anything that stores or changes state. The "update" entries below
# are Vault's verb for POST lookups that only read (lookup-accessor, secret-id lookup, audit-hash).
# Never grants <kv>/data/*: secret values are never read.

# The scanner checks its own token first; `nhiwarden doctor` asks which capabilities it holds.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Token inventory. Vault lists token accessors only with sudo: the list is sensitive because an
# accessor can revoke its token (revoke-accessor, which this policy does NOT grant).
path "auth/token/accessors" {
  capabilities = ["list", "sudo"]
}
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}

# Which auth methods and secrets engines exist.
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/mounts" {
  capabilities = ["read"]
}

# Audit devices (sys/audit needs sudo), and hashing accessors to match an audit log written with
# hmac_accessor=true (the default).
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit-hash/*" {
  capabilities = ["update"]
}

# ACL policies, to resolve each identity's privilege level.
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["read"]
}

# AppRole roles and secret-ID accessors (any mount path); the lookup returns metadata, never the secret-ID.
# LIST is authorised against the path with a trailing slash.
path "auth/+/role/" {
  capabilities = ["list"]
}
path "auth/+/role/+" {
  capabilities = ["read"]
}
path "auth/+/role/+/secret-id/" {
  capabilities = ["list"]
}
path "auth/+/role/+/secret-id-accessor/lookup" {
  capabilities = ["update"]
}

# userpass users (settings and policies; password hashes are never returned).
path "auth/+/users/" {
  capabilities = ["list"]
}
path "auth/+/users/+" {
  capabilities = ["read"]
}

# KV v2: metadata (versions, age, custom_metadata) and field names with values nulled (subkeys).
# Caution: on a KV *v1* mount these globs would read secrets stored under a literal "metadata/" or
# "subkeys/" prefix. If you have KV v1 mounts, replace "+" with the names of your KV v2 mounts.
path "+/metadata/*" {
  capabilities = ["read", "list"]
}
path "+/subkeys/*" {
  capabilities = ["read"]
}

# Child namespaces (OpenBao; Vault Enterprise), for --vault-recursive-namespaces.
path "sys/namespaces/*" {
  capabilities = ["list"]
}
