-- 002_security: who may do what (DESIGN §4, §5).
--
-- Three roles: the owner, who runs "district-hub migrate" and owns every
-- object; wardsync_hub, what "district-hub run" needs and nothing more;
-- wardsync_city, SELECT on the views of schema "published" and nothing
-- else. Roles belong to the cluster, not the database, so they are created
-- only when missing; their passwords are set by "district-hub migrate" from
-- hub.hub_role_password_file and hub.city_role_password_file.

-- Two databases of one cluster migrating at once may both find a role
-- missing: the loser of that race finds it created.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_hub') THEN
        BEGIN
            CREATE ROLE wardsync_hub LOGIN NOSUPERUSER NOCREATEDB
                NOCREATEROLE NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_city') THEN
        BEGIN
            CREATE ROLE wardsync_city LOGIN NOSUPERUSER NOCREATEDB
                NOCREATEROLE NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

-- Registered CURVE public keys (Z85) and the principal each speaks for:
-- "ward:<code>" or "city:<name>". Revoking keeps the row (who held which
-- key, and until when); the ZAP handler refuses a revoked key.
CREATE TABLE principal_keys (
    public_key text PRIMARY KEY
        CHECK (public_key ~ '^[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40}$'),
    principal text NOT NULL
        CHECK (principal ~ '^(ward|city):[A-Za-z0-9._/-]{1,64}$'),
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX principal_keys_principal ON principal_keys (principal);

-- Nobody but the owner creates anything, anywhere.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC',
                   current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO wardsync_hub, '
                   'wardsync_city', current_database());
END
$$;

-- The hub: read the reference data and the keys, write what a batch writes.
-- No DELETE, no TRUNCATE, no DDL.
GRANT USAGE ON SCHEMA public TO wardsync_hub;
GRANT SELECT ON schema_migrations, org_units, catalogue_groups,
    catalogue_manifestations, catalogue_forms, catalogue_items,
    catalogue_levels, catalogue_respondent_groups, principal_keys
    TO wardsync_hub;
GRANT SELECT, INSERT, UPDATE ON agents, petitions, reception_sessions,
    remediation_plans TO wardsync_hub;
GRANT SELECT, INSERT ON events, rejected_events, ballots, ballot_levels,
    petition_history TO wardsync_hub;
GRANT USAGE ON SEQUENCE rejected_events_id_seq TO wardsync_hub;
-- Tables and sequences later migrations create (tallies, ...): the same
-- read and write, never delete; a migration that needs less revokes it.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO wardsync_hub;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO wardsync_hub;

-- What the city may read: views in schema published only (the indicator
-- views with small-cell suppression are created there by later
-- migrations). The city role has no right on schema public at all.
CREATE SCHEMA published;
REVOKE ALL ON SCHEMA published FROM PUBLIC;
GRANT USAGE ON SCHEMA published TO wardsync_city, wardsync_hub;
ALTER DEFAULT PRIVILEGES IN SCHEMA published
    GRANT SELECT ON TABLES TO wardsync_city, wardsync_hub;

-- The org units are public knowledge: the first published view.
CREATE VIEW published.org_units AS
    SELECT code, name, kind, parent FROM public.org_units;
GRANT SELECT ON published.org_units TO wardsync_city, wardsync_hub;
