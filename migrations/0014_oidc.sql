-- rp-server as an OpenID provider (decision 0014): authorization codes and the opaque
-- access tokens that open /oidc/userinfo, both stored only as SHA-256 hashes.

-- A code lives 60 s and redeems once. What the ID token will say is fixed when the code
-- is issued (after the sign-in): the user, how they signed in, and their email.
CREATE TABLE oidc_codes (
    code_hash       bytea PRIMARY KEY,
    client_id       text NOT NULL,
    redirect_uri    text NOT NULL,
    code_challenge  text,
    nonce           text,
    scopes          text[] NOT NULL,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cognito_sub     text NOT NULL,
    auth_time       timestamptz NOT NULL,
    amr             text[] NOT NULL,
    acr             text NOT NULL,
    email           text,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    redeemed_at     timestamptz
);
CREATE INDEX oidc_codes_expires_at_idx ON oidc_codes (expires_at);
CREATE INDEX oidc_codes_user_id_idx ON oidc_codes (user_id);

-- A second redemption of a code revokes the tokens the first one earned (RFC 6749
-- §4.1.2): they are found by the code's hash.
CREATE TABLE oidc_access_tokens (
    token_hash   bytea PRIMARY KEY,
    code_hash    bytea NOT NULL,
    client_id    text NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cognito_sub  text NOT NULL,
    scopes       text[] NOT NULL,
    email        text,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX oidc_access_tokens_code_hash_idx ON oidc_access_tokens (code_hash);
CREATE INDEX oidc_access_tokens_user_id_idx ON oidc_access_tokens (user_id);
CREATE INDEX oidc_access_tokens_expires_at_idx ON oidc_access_tokens (expires_at);

-- Users whose federated identity at a Cognito pool's OIDC provider is linked to their
-- Cognito user (AdminLinkProviderForUser is called once per user and provider).
CREATE TABLE oidc_links (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_name  text NOT NULL,
    linked_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, provider_name)
);
