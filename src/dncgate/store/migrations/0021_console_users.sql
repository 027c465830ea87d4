-- Console users (issue 16): a name and an argon2 password hash, with the grants of a token.
--
-- A user is a principal like a token: a password login mints a session token in api_tokens with these
-- roles and orgs (service/logins.py), revoked at logout or idle expiry, so the gRPC side verifies the
-- console's calls exactly as any other token's. The hash is argon2id in its PHC string form
-- ($argon2id$v=19$m=...,t=...,p=...$salt$hash); no password is ever stored or logged.
CREATE TABLE console_users (
    name          text        PRIMARY KEY,
    password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2%'),
    roles         text[]      NOT NULL CHECK (cardinality(roles) > 0),
    orgs          text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    created_by    text        NOT NULL,
    disabled_at   timestamptz
);
