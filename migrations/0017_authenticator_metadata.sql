-- What the FIDO metadata said of a passkey's model when it was registered: its name, and
-- its latest status (its certification level, e.g. FIDO_CERTIFIED_L2). The name shown
-- for the passkey comes from here when present, else from the community AAGUID list.
ALTER TABLE credentials ADD COLUMN metadata_description text;
ALTER TABLE credentials ADD COLUMN metadata_status text;
