-- 001_baseline: the district hub's whole schema, in one file to be read
-- (docs/DESIGN.md §5).
--
-- This file replaces migrations 001 to 011, squashed once before any
-- district ran the hub: it creates exactly the schema that applying them in
-- order created, without the history of tables created, dropped and
-- replaced. From here on migrations are forward-only: a file, once
-- applied anywhere, is never edited (schema_migrations records its
-- SHA-256 and "district-hub migrate" and "run" refuse a database whose
-- record differs from the file); a change is the next NNN_name.sql.
--
-- Run by "district-hub migrate" inside one transaction, under an advisory
-- lock; the file itself must not contain BEGIN or COMMIT. Enum columns hold
-- the text names of common/include/wardsync/names.h, checked here so that a
-- row the shared validation would refuse cannot reach a table by another
-- path either.
--
-- Sections: roles; org units and the catalogue; keys; outboxes and the
-- event log; the typed tables; survey rounds; tallies; petition rules and
-- indicator settings; change tracking for the pull; compatibility views;
-- indicators; what the city reads (schema published); the set-based
-- writer; who may do what.


-- =====================================================================
-- Roles (docs/DESIGN.md §4, §5)
--
-- Three roles: the owner, who runs "district-hub migrate" and owns every
-- object; wardsync_hub, what "district-hub run" needs and nothing more;
-- wardsync_city, SELECT on the views of schema "published" and nothing
-- else. Roles belong to the cluster, not the database, so they are created
-- only when missing; their passwords are set by "district-hub migrate" from
-- hub.hub_role_password_file and hub.city_role_password_file. What each
-- may do is granted in the last section.

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


-- =====================================================================
-- Org units and the catalogue

-- City -> district -> wards. The parent constraint is deferred so that the
-- seed file may list units in any order within its transaction.
CREATE TABLE org_units (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9._/-]{1,64}$'),
    name text NOT NULL CHECK (name <> ''),
    kind text NOT NULL CHECK (kind IN ('city', 'district', 'ward')),
    parent text REFERENCES org_units (code) DEFERRABLE INITIALLY DEFERRED,
    CHECK ((kind = 'city') = (parent IS NULL))
);

-- The catalogue (common/data/catalogue.csv), upserted by migrate. Rows are
-- never deleted: stored ballots may name a form a newer file dropped.
CREATE TABLE catalogue_groups (
    code text PRIMARY KEY,
    label text NOT NULL
);

CREATE TABLE catalogue_manifestations (
    code text PRIMARY KEY,
    group_code text NOT NULL REFERENCES catalogue_groups (code),
    label text NOT NULL
);

CREATE TABLE catalogue_forms (
    code text PRIMARY KEY,
    label text NOT NULL,
    n_items integer NOT NULL CHECK (n_items > 0)
);

CREATE TABLE catalogue_items (
    form text NOT NULL REFERENCES catalogue_forms (code),
    number integer NOT NULL CHECK (number >= 1),
    code text NOT NULL,
    manifestation text NOT NULL
        REFERENCES catalogue_manifestations (code),
    group_code text NOT NULL REFERENCES catalogue_groups (code),
    label text NOT NULL,
    PRIMARY KEY (form, number)
);

CREATE TABLE catalogue_levels (
    code text PRIMARY KEY,
    label text NOT NULL
);

CREATE TABLE catalogue_respondent_groups (
    code text PRIMARY KEY,
    label text NOT NULL
);


-- =====================================================================
-- Keys

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


-- =====================================================================
-- Outboxes and the event log

-- One row per outbox: its high-water mark, as last reported backlog and
-- what became of its events. Locked FOR UPDATE by every batch commit, which
-- serialises batches of one outbox across connections. change_seq and
-- created_seq: see "Change tracking for the pull" (dataset sync_status).
CREATE TABLE agents (
    ward text NOT NULL REFERENCES org_units (code),
    agent_instance text NOT NULL,
    committed_through bigint NOT NULL DEFAULT 0
        CHECK (committed_through >= 0),
    first_contact timestamptz NOT NULL DEFAULT now(),
    last_contact timestamptz NOT NULL DEFAULT now(),
    backlog bigint NOT NULL DEFAULT 0,
    accepted bigint NOT NULL DEFAULT 0,
    duplicate bigint NOT NULL DEFAULT 0,
    conflict bigint NOT NULL DEFAULT 0,
    rejected bigint NOT NULL DEFAULT 0,
    change_seq bigint,
    created_seq bigint,
    PRIMARY KEY (ward, agent_instance)
);

-- The raw event log. payload is the protobuf Event as received with seq
-- and queued_at_ms cleared (the fact itself, not its place in one outbox),
-- so the same event resent from another outbox or seq hashes the same;
-- payload_sha256 is computed by PostgreSQL from payload. An event belongs
-- to a known outbox, whose row holds a known ward: no foreign key of its
-- own from ward to org_units (one index probe per row for nothing).
CREATE TABLE events (
    event_id uuid PRIMARY KEY,
    ward text NOT NULL,
    agent_instance text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 1),
    kind text NOT NULL
        CHECK (kind IN ('ballot', 'petition', 'reception', 'remediation')),
    occurred_at timestamptz NOT NULL,
    queued_at timestamptz,
    payload bytea NOT NULL,
    payload_sha256 bytea NOT NULL CHECK (length(payload_sha256) = 32),
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ward, agent_instance, seq),
    FOREIGN KEY (ward, agent_instance) REFERENCES agents (ward, agent_instance)
);

-- Every event that was not stored: failed validation, conflicting event_id,
-- or refused by the database. Kept for review, never dropped. event_id is
-- text because a rejected event's id need not be a UUID.
CREATE TABLE rejected_events (
    id bigserial PRIMARY KEY,
    ward text NOT NULL,
    agent_instance text NOT NULL,
    seq bigint NOT NULL,
    event_id text NOT NULL,
    kind text NOT NULL,
    reason text NOT NULL,
    payload bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_events_agent_seq
    ON rejected_events (ward, agent_instance, seq);


-- =====================================================================
-- The typed tables
--
-- Foreign keys: only those that guard something the writer does not
-- already guarantee, because each costs an index probe through SPI per row
-- (about 7 µs; measured: 20,000 staged events took 1.3 s with the others
-- and 0.64 s without). Kept: ballots and petition_history -> events (a
-- typed row is an event). None from:
--   * the ward of a typed table to org_units: the typed row's ward is
--     its event's ward, written from the same value in the same statement;
--   * ballots.form to catalogue_forms: the round check accepts only the
--     form the round names for the subject, and survey_round_forms.form
--     references the catalogue;
--   * last_event_id of the current-state tables to events: written with
--     the event it names, in the same transaction, by the same writer.

-- Ballots. levels[i] answers item i of the form, in the ballot row rather
-- than one row per item: 41 rows each with its own index entry and foreign
-- key check made the set-based writer slow. Every answer is a level 1..3;
-- the check lets an empty array through, which the shared validation
-- never sends.
CREATE TABLE ballots (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL,
    survey text NOT NULL,
    form text NOT NULL,
    subject text NOT NULL,
    respondent_group smallint NOT NULL CHECK (respondent_group BETWEEN 1 AND 4),
    collected_on date NOT NULL,
    levels smallint[] NOT NULL
        CONSTRAINT ballots_levels_check
        CHECK (array_ndims(levels) IS NULL
               OR (array_ndims(levels) = 1 AND array_lower(levels, 1) = 1
                   AND levels <@ ARRAY[1, 2, 3]::smallint[]))
);
CREATE INDEX ballots_ward_survey_subject ON ballots (ward, survey, subject);

-- Current state of each petition: the newest event by (occurred_at, seq).
-- change_seq and created_seq: see "Change tracking for the pull".
CREATE TABLE petitions (
    ward text NOT NULL,
    petition text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('complaint', 'denunciation',
                                       'recommendation', 'reflection')),
    channel text NOT NULL CHECK (channel IN ('in_person', 'post', 'online',
                                             'transferred_in')),
    status text NOT NULL CHECK (status IN ('received', 'accepted',
                                           'transferred', 'in_progress',
                                           'resolved', 'withdrawn')),
    in_jurisdiction boolean NOT NULL,
    received_on date NOT NULL,
    due_on date,
    note text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL,
    change_seq bigint,
    created_seq bigint,
    PRIMARY KEY (ward, petition)
);

-- Every change of every petition.
CREATE TABLE petition_history (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL,
    petition text NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL,
    status text NOT NULL,
    in_jurisdiction boolean NOT NULL,
    received_on date NOT NULL,
    due_on date,
    note text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL
);
CREATE INDEX petition_history_petition
    ON petition_history (ward, petition, occurred_at);

CREATE TABLE reception_sessions (
    ward text NOT NULL,
    session text NOT NULL,
    held_on date NOT NULL,
    host_role text NOT NULL CHECK (host_role IN ('chair', 'vice_chair',
                                                 'officer')),
    mode text NOT NULL CHECK (mode IN ('regular', 'ad_hoc')),
    citizens integer NOT NULL CHECK (citizens BETWEEN 0 AND 10000),
    petitions integer NOT NULL CHECK (petitions BETWEEN 0 AND 10000),
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL,
    PRIMARY KEY (ward, session)
);

CREATE TABLE remediation_plans (
    ward text NOT NULL,
    survey text NOT NULL,
    subject text NOT NULL,
    status text NOT NULL CHECK (status IN ('required', 'submitted',
                                           'completed')),
    due_on date,
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL,
    PRIMARY KEY (ward, survey, subject)
);


-- =====================================================================
-- Survey rounds (docs/DESIGN.md §5, §6)
--
-- A round has a code, a form per subject category, open and close dates,
-- the subjects it covers per ward and the expected ballots per ward.
-- Operators manage rounds with "district-hub round ..."; a ballot is
-- accepted only while its round is open, for a subject of its own ward
-- rated on its category's form, collected between the round's dates. The
-- check is a trigger on ballots, so no path into the table can skip it;
-- the hub turns the error into a rejection with this reason.

CREATE TABLE survey_rounds (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9._/-]{1,64}$'),
    label text NOT NULL DEFAULT '',
    opens_on date NOT NULL,
    closes_on date NOT NULL CHECK (closes_on >= opens_on),
    state text NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'open', 'closed')),
    opened_at timestamptz,
    closed_at timestamptz
);

-- The form each category of subject is rated on in this round.
CREATE TABLE survey_round_forms (
    round text NOT NULL REFERENCES survey_rounds (code) ON DELETE CASCADE,
    category text NOT NULL CHECK (category ~ '^[A-Za-z0-9._/-]{1,64}$'),
    form text NOT NULL REFERENCES catalogue_forms (code),
    PRIMARY KEY (round, category)
);

-- The wards a round covers and how many ballots each should hand in.
CREATE TABLE survey_round_wards (
    round text NOT NULL REFERENCES survey_rounds (code) ON DELETE CASCADE,
    ward text NOT NULL REFERENCES org_units (code),
    expected_ballots integer NOT NULL CHECK (expected_ballots >= 0),
    PRIMARY KEY (round, ward)
);

-- The subjects a round covers, per ward (a subject code is unique within
-- its ward).
CREATE TABLE survey_round_subjects (
    round text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL CHECK (subject ~ '^[A-Za-z0-9._/-]{1,64}$'),
    category text NOT NULL,
    PRIMARY KEY (round, ward, subject),
    FOREIGN KEY (round, ward) REFERENCES survey_round_wards (round, ward)
        ON DELETE CASCADE,
    FOREIGN KEY (round, category) REFERENCES survey_round_forms (round, category)
        ON DELETE CASCADE
);
CREATE INDEX survey_round_subjects_subject
    ON survey_round_subjects (round, subject);

-- The round check, once per statement (the writer inserts a whole group
-- of ballots with one INSERT): the first ballot that fails it fails the
-- statement with its reason. The hub then redoes its group one event at a
-- time, so each ballot gets its reason.
CREATE FUNCTION ballots_check_round() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    SELECT CASE
             WHEN r.code IS NULL THEN
               format('survey: unknown round "%s"', n.survey)
             WHEN r.state <> 'open' THEN
               format('survey: round %s is %s', r.code,
                      CASE r.state WHEN 'draft' THEN 'not open yet'
                                   ELSE 'closed' END)
             WHEN n.collected_on < r.opens_on
                  OR n.collected_on > r.closes_on THEN
               format('collected_on: %s is outside round %s (%s to %s)',
                      n.collected_on, r.code, r.opens_on, r.closes_on)
             WHEN s.category IS NULL AND EXISTS (
                    SELECT 1 FROM survey_round_subjects o
                     WHERE o.round = n.survey AND o.subject = n.subject) THEN
               format('subject: %s is not a subject of ward %s in round %s',
                      n.subject, n.ward, n.survey)
             WHEN s.category IS NULL THEN
               format('subject: unknown subject %s in round %s', n.subject,
                      n.survey)
             WHEN f.form IS DISTINCT FROM n.form THEN
               format('form: subject %s is rated on form %s, not %s',
                      n.subject, f.form, n.form)
           END
      INTO bad
      FROM new_ballots n
      LEFT JOIN survey_rounds r ON r.code = n.survey
      LEFT JOIN survey_round_subjects s
        ON s.round = n.survey AND s.ward = n.ward AND s.subject = n.subject
      LEFT JOIN survey_round_forms f
        ON f.round = n.survey AND f.category = s.category
     WHERE r.code IS NULL OR r.state <> 'open'
        OR n.collected_on < r.opens_on OR n.collected_on > r.closes_on
        OR s.category IS NULL OR f.form IS DISTINCT FROM n.form
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION '%', bad USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER ballots_check_round AFTER INSERT ON ballots
    REFERENCING NEW TABLE AS new_ballots
    FOR EACH STATEMENT EXECUTE FUNCTION ballots_check_round();


-- =====================================================================
-- Tallies (docs/DESIGN.md §5, §7)
--
-- Counts that grow with data are kept here by triggers on the typed
-- tables, so they change in the same transaction as the rows they count,
-- whatever path wrote those rows, and reading every indicator of a
-- district is a read of a few thousand rows however many ballots there
-- are. The triggers are statement-level (transition tables), so a group
-- of ballots costs one aggregated upsert per key, not one per rating, and
-- a row written one at a time (an operator's repair) keeps the same
-- tallies as a row written in bulk. Rows are upserted in key order so
-- that concurrent batches lock them in the same order. Nothing here is
-- ever decremented below zero: petition and reception rows move from one
-- bucket to another when their state changes.

-- Ballots per (round, ward, subject, respondent group).
CREATE TABLE ballot_counts (
    survey text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL,
    form text NOT NULL,
    respondent_group smallint NOT NULL,
    ballots bigint NOT NULL DEFAULT 0 CHECK (ballots >= 0),
    first_received timestamptz NOT NULL DEFAULT now(),
    last_received timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (survey, ward, subject, respondent_group)
);

-- Rating tallies: one row per (round, ward, subject, respondent group)
-- holding the counts of each level as arrays indexed by item, instead of
-- one row per item. A group commit of ballots touched about 38 tally rows
-- per subject and group that way (measured: 7,000 ballots, 23,000
-- upserts, 200 ms of a 420 ms write); this way it touches one. The views
-- ballot_tallies and ballot_item_tallies show them one row per item.
CREATE TABLE ballot_level_counts (
    survey text NOT NULL,
    ward text NOT NULL,
    subject text NOT NULL,
    respondent_group smallint NOT NULL,
    n1 bigint[] NOT NULL,
    n2 bigint[] NOT NULL,
    n3 bigint[] NOT NULL,
    PRIMARY KEY (survey, ward, subject, respondent_group),
    CHECK (cardinality(n1) = cardinality(n2)
           AND cardinality(n2) = cardinality(n3))
);

-- Element-wise sum of two count arrays (the shorter one padded with 0).
CREATE FUNCTION ballot_counts_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
      FROM unnest(a, b) WITH ORDINALITY AS u (x, y, i)
$$;

-- Ballot counts and rating tallies, from the ballots of one statement.
CREATE FUNCTION ballots_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ballot_counts AS t
           (survey, ward, subject, form, respondent_group, ballots)
    SELECT survey, ward, subject, min(form), respondent_group, count(*)
      FROM new_ballots
     GROUP BY survey, ward, subject, respondent_group
     ORDER BY survey, ward, subject, respondent_group
    ON CONFLICT (survey, ward, subject, respondent_group) DO UPDATE
       SET ballots = t.ballots + EXCLUDED.ballots,
           last_received = now();

    -- Every ballot of a subject answers every item of its form, so each
    -- (key, item) below has a row and the arrays have no holes.
    WITH per_item AS (
        SELECT b.survey, b.ward, b.subject, b.respondent_group, l.item,
               count(*) FILTER (WHERE l.level = 1) AS n1,
               count(*) FILTER (WHERE l.level = 2) AS n2,
               count(*) FILTER (WHERE l.level = 3) AS n3
          FROM new_ballots b
         CROSS JOIN LATERAL unnest(b.levels) WITH ORDINALITY AS l (level, item)
         GROUP BY b.survey, b.ward, b.subject, b.respondent_group, l.item
    )
    INSERT INTO ballot_level_counts AS t
           (survey, ward, subject, respondent_group, n1, n2, n3)
    SELECT survey, ward, subject, respondent_group,
           array_agg(n1 ORDER BY item), array_agg(n2 ORDER BY item),
           array_agg(n3 ORDER BY item)
      FROM per_item
     GROUP BY survey, ward, subject, respondent_group
     ORDER BY survey, ward, subject, respondent_group
    ON CONFLICT (survey, ward, subject, respondent_group) DO UPDATE
       SET n1 = ballot_counts_add(t.n1, EXCLUDED.n1),
           n2 = ballot_counts_add(t.n2, EXCLUDED.n2),
           n3 = ballot_counts_add(t.n3, EXCLUDED.n3);
    RETURN NULL;
END
$$;

CREATE TRIGGER ballots_tally AFTER INSERT ON ballots
    REFERENCING NEW TABLE AS new_ballots
    FOR EACH STATEMENT EXECUTE FUNCTION ballots_tally();

-- Petition and reception tallies: one upsert of net changes per statement.
-- PostgreSQL allows transition tables only on single-event triggers, hence
-- one trigger per operation. The helpers are PL/pgSQL, not SQL functions,
-- so that their plans are cached for the session (an SQL function with a
-- data-modifying WITH is planned again on every call: 0.5 ms each). A key
-- whose count falls is updated, one whose count grows is upserted (a
-- negative insert would fail the n >= 0 check before ON CONFLICT could
-- turn it into an update).

-- Petitions (current state) per ward, day received, kind, status and
-- jurisdiction.
CREATE TABLE petition_tallies (
    ward text NOT NULL,
    received_on date NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    in_jurisdiction boolean NOT NULL,
    n bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (ward, received_on, kind, status, in_jurisdiction)
);

CREATE FUNCTION petition_tally_apply(d_ward text[], d_received_on date[],
                                     d_kind text[], d_status text[],
                                     d_in_jurisdiction boolean[],
                                     d_n bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT * FROM unnest(d_ward, d_received_on, d_kind, d_status,
                             d_in_jurisdiction, d_n)
                      AS d (ward, received_on, kind, status, in_jurisdiction,
                            n)
    ), fall AS (
        UPDATE petition_tallies t SET n = t.n + d.n
          FROM d
         WHERE d.n < 0 AND t.ward = d.ward AND t.received_on = d.received_on
           AND t.kind = d.kind AND t.status = d.status
           AND t.in_jurisdiction = d.in_jurisdiction
        RETURNING 1
    )
    INSERT INTO petition_tallies AS t
           (ward, received_on, kind, status, in_jurisdiction, n)
    SELECT ward, received_on, kind, status, in_jurisdiction, n
      FROM d WHERE n > 0
     ORDER BY ward, received_on, kind, status, in_jurisdiction
    ON CONFLICT (ward, received_on, kind, status, in_jurisdiction)
    DO UPDATE SET n = t.n + EXCLUDED.n;
END
$$;

CREATE FUNCTION petitions_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w text[]; r date[]; k text[]; s text[]; j boolean[]; n bigint[];
BEGIN
    -- Statement triggers fire for statements that touched no row (an
    -- upsert that only inserted fires the UPDATE trigger too).
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    -- Net change per tally key: +1 for every row as it is now, -1 for
    -- every row as it was.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(ward), array_agg(received_on), array_agg(kind),
               array_agg(status), array_agg(in_jurisdiction), array_agg(c)
          INTO w, r, k, s, j, n
          FROM (SELECT ward, received_on, kind, status, in_jurisdiction,
                       count(*) AS c
                  FROM new_rows GROUP BY 1, 2, 3, 4, 5) x;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(ward), array_agg(received_on), array_agg(kind),
               array_agg(status), array_agg(in_jurisdiction), array_agg(c)
          INTO w, r, k, s, j, n
          FROM (SELECT ward, received_on, kind, status, in_jurisdiction,
                       -count(*) AS c
                  FROM old_rows GROUP BY 1, 2, 3, 4, 5) x;
    ELSE
        SELECT array_agg(ward), array_agg(received_on), array_agg(kind),
               array_agg(status), array_agg(in_jurisdiction), array_agg(c)
          INTO w, r, k, s, j, n
          FROM (SELECT ward, received_on, kind, status, in_jurisdiction,
                       sum(d) AS c
                  FROM (SELECT ward, received_on, kind, status,
                               in_jurisdiction, 1 AS d FROM new_rows
                        UNION ALL
                        SELECT ward, received_on, kind, status,
                               in_jurisdiction, -1 FROM old_rows) u
                 GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0) x;
    END IF;
    IF w IS NOT NULL THEN
        PERFORM petition_tally_apply(w, r, k, s, j, n);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER petitions_tally_insert AFTER INSERT ON petitions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION petitions_tally();
CREATE TRIGGER petitions_tally_update AFTER UPDATE ON petitions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION petitions_tally();
CREATE TRIGGER petitions_tally_delete AFTER DELETE ON petitions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION petitions_tally();

-- Reception sessions and citizens per ward, day and host role.
CREATE TABLE reception_tallies (
    ward text NOT NULL,
    held_on date NOT NULL,
    host_role text NOT NULL,
    sessions bigint NOT NULL DEFAULT 0 CHECK (sessions >= 0),
    citizens bigint NOT NULL DEFAULT 0 CHECK (citizens >= 0),
    PRIMARY KEY (ward, held_on, host_role)
);

CREATE FUNCTION reception_tally_apply(d_ward text[], d_held_on date[],
                                      d_host_role text[], d_sessions bigint[],
                                      d_citizens bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT * FROM unnest(d_ward, d_held_on, d_host_role, d_sessions,
                             d_citizens)
                      AS d (ward, held_on, host_role, sessions, citizens)
    ), fall AS (
        UPDATE reception_tallies t
           SET sessions = t.sessions + d.sessions,
               citizens = t.citizens + d.citizens
          FROM d
         WHERE (d.sessions < 0 OR d.citizens < 0)
           AND t.ward = d.ward AND t.held_on = d.held_on
           AND t.host_role = d.host_role
        RETURNING 1
    )
    INSERT INTO reception_tallies AS t
           (ward, held_on, host_role, sessions, citizens)
    SELECT ward, held_on, host_role, sessions, citizens
      FROM d WHERE sessions >= 0 AND citizens >= 0
     ORDER BY ward, held_on, host_role
    ON CONFLICT (ward, held_on, host_role)
    DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions,
                  citizens = t.citizens + EXCLUDED.citizens;
END
$$;

CREATE FUNCTION reception_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w text[]; h date[]; r text[]; s bigint[]; c bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(ward), array_agg(held_on), array_agg(host_role),
               array_agg(ns), array_agg(nc)
          INTO w, h, r, s, c
          FROM (SELECT ward, held_on, host_role, count(*) AS ns,
                       sum(citizens) AS nc
                  FROM new_rows GROUP BY 1, 2, 3) x;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(ward), array_agg(held_on), array_agg(host_role),
               array_agg(ns), array_agg(nc)
          INTO w, h, r, s, c
          FROM (SELECT ward, held_on, host_role, -count(*) AS ns,
                       -sum(citizens) AS nc
                  FROM old_rows GROUP BY 1, 2, 3) x;
    ELSE
        SELECT array_agg(ward), array_agg(held_on), array_agg(host_role),
               array_agg(ns), array_agg(nc)
          INTO w, h, r, s, c
          FROM (SELECT ward, held_on, host_role, sum(ds) AS ns,
                       sum(dc) AS nc
                  FROM (SELECT ward, held_on, host_role, 1 AS ds,
                               citizens::bigint AS dc FROM new_rows
                        UNION ALL
                        SELECT ward, held_on, host_role, -1,
                               -citizens::bigint FROM old_rows) u
                 GROUP BY 1, 2, 3
                HAVING sum(ds) <> 0 OR sum(dc) <> 0) x;
    END IF;
    IF w IS NOT NULL THEN
        PERFORM reception_tally_apply(w, h, r, s, c);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER reception_tally_insert AFTER INSERT ON reception_sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reception_tally();
CREATE TRIGGER reception_tally_update AFTER UPDATE ON reception_sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reception_tally();
CREATE TRIGGER reception_tally_delete AFTER DELETE ON reception_sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reception_tally();

-- Rejected events per ward, kind and day received.
CREATE TABLE rejected_tallies (
    ward text NOT NULL,
    kind text NOT NULL,
    received_on date NOT NULL,
    n bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (ward, kind, received_on)
);

CREATE FUNCTION rejected_tally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rejected_tallies AS t (ward, kind, received_on, n)
    SELECT ward, kind, (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date,
           count(*)
      FROM new_rejected
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (ward, kind, received_on) DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER rejected_tally AFTER INSERT ON rejected_events
    REFERENCING NEW TABLE AS new_rejected
    FOR EACH STATEMENT EXECUTE FUNCTION rejected_tally();


-- =====================================================================
-- Petition rules and indicator settings (docs/DESIGN.md §6)

-- Legal deadlines per petition kind, versioned by the date a rule takes
-- effect: a petition follows the newest rule in effect on the day it was
-- received. Days are calendar days. An office extends a deadline by
-- setting the petition's due_on later than the base deadline; the hub
-- counts at most max_extensions x extension_days of it.
CREATE TABLE petition_deadline_rules (
    kind text NOT NULL CHECK (kind IN ('complaint', 'denunciation',
                                       'recommendation', 'reflection')),
    effective_from date NOT NULL,
    accept_days integer NOT NULL CHECK (accept_days >= 0),
    resolve_days integer NOT NULL CHECK (resolve_days >= 0),
    extension_days integer NOT NULL DEFAULT 0 CHECK (extension_days >= 0),
    max_extensions integer NOT NULL DEFAULT 0 CHECK (max_extensions >= 0),
    source text NOT NULL DEFAULT '',
    PRIMARY KEY (kind, effective_from)
);

-- The defaults of docs/DESIGN.md §6; district-hub/data/petition_rules.csv
-- holds the same rows for operators to read.
INSERT INTO petition_deadline_rules VALUES
    ('complaint', '2012-07-01', 10, 30, 15, 1, 'DESIGN §6: 30 days, 45 when extended'),
    ('denunciation', '2012-07-01', 10, 30, 30, 1, 'DESIGN §6: 30 days, extended once by 30'),
    ('recommendation', '2012-07-01', 10, 15, 0, 0, 'answered within 15 days'),
    ('reflection', '2012-07-01', 10, 15, 0, 0, 'answered within 15 days');

-- Dates of acceptance and resolution of each petition, from its history,
-- kept by a trigger so a deadline read never scans the history.
CREATE TABLE petition_dates (
    ward text NOT NULL,
    petition text NOT NULL,
    accepted_on date,
    resolved_on date,
    PRIMARY KEY (ward, petition)
);

-- Kept from the history rows of one statement: the dates above, and the
-- pull's change number of a petition whose record changed without its
-- current state changing.
CREATE FUNCTION petition_history_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO petition_dates AS d (ward, petition, accepted_on, resolved_on)
    SELECT ward, petition,
           min((occurred_at AT TIME ZONE 'UTC')::date)
               FILTER (WHERE status IN ('accepted', 'in_progress',
                                        'resolved')),
           min((occurred_at AT TIME ZONE 'UTC')::date)
               FILTER (WHERE status = 'resolved')
      FROM new_history
     GROUP BY ward, petition
     ORDER BY ward, petition
    ON CONFLICT (ward, petition) DO UPDATE
       SET accepted_on = CASE
               WHEN d.accepted_on IS NULL THEN EXCLUDED.accepted_on
               WHEN EXCLUDED.accepted_on IS NULL THEN d.accepted_on
               ELSE least(d.accepted_on, EXCLUDED.accepted_on) END,
           resolved_on = CASE
               WHEN d.resolved_on IS NULL THEN EXCLUDED.resolved_on
               WHEN EXCLUDED.resolved_on IS NULL THEN d.resolved_on
               ELSE least(d.resolved_on, EXCLUDED.resolved_on) END;

    -- A history row that arrived out of order does not change the current
    -- state, but it changes the record the city pulls: give the petition a
    -- new change number, unless one of these rows is its current state
    -- (then its writer already did).
    -- (No NOT EXISTS against new_history here: PL/pgSQL keeps the plan it
    -- made for the first, small statement, and an anti-join that rescans
    -- the transition table per petition took 13 s for 10,000 rows.)
    UPDATE petitions p SET change_seq = NULL
      FROM (SELECT ward, petition, array_agg(event_id) AS ids
              FROM new_history GROUP BY ward, petition) n
     WHERE p.ward = n.ward AND p.petition = n.petition
       AND p.last_event_id <> ALL (n.ids);
    RETURN NULL;
END
$$;

CREATE TRIGGER petition_history_track AFTER INSERT ON petition_history
    REFERENCING NEW TABLE AS new_history
    FOR EACH STATEMENT EXECUTE FUNCTION petition_history_track();

-- The thresholds of the hub's configuration ([hub] flag_min_ballots,
-- flag_level3_share, flag_level23_share, suppress_below, due_soon_days),
-- written by "district-hub migrate" so that the published views use the
-- same values as "district-hub indicators". One row.
CREATE TABLE indicator_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    flag_min_ballots integer NOT NULL DEFAULT 10 CHECK (flag_min_ballots >= 1),
    flag_level3_share numeric NOT NULL DEFAULT 0.30
        CHECK (flag_level3_share > 0 AND flag_level3_share <= 1),
    flag_level23_share numeric NOT NULL DEFAULT 0.50
        CHECK (flag_level23_share > 0 AND flag_level23_share <= 1),
    suppress_below integer NOT NULL DEFAULT 10 CHECK (suppress_below >= 1),
    due_soon_days integer NOT NULL DEFAULT 5 CHECK (due_soon_days >= 0)
);
INSERT INTO indicator_settings DEFAULT VALUES;

-- Every petition's deadlines and state on day as_of: "closed" (withdrawn
-- or transferred), "resolved_on_time", "resolved_late", and for open
-- petitions in jurisdiction "on_time", "due_soon" or "overdue". An open
-- petition not yet accepted is held to its acceptance deadline.
CREATE FUNCTION petition_deadlines(as_of date, due_soon integer)
RETURNS TABLE (ward text, petition text, kind text, status text,
               in_jurisdiction boolean, received_on date,
               accepted_on date, resolved_on date, accept_due date,
               resolve_due date, due date, state text)
LANGUAGE sql STABLE AS $$
    SELECT p.ward, p.petition, p.kind, p.status, p.in_jurisdiction,
           p.received_on, d.accepted_on, d.resolved_on, x.accept_due,
           x.resolve_due,
           CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                ELSE x.resolve_due END,
           CASE
             WHEN p.status IN ('withdrawn', 'transferred')
                  OR NOT p.in_jurisdiction THEN 'closed'
             WHEN p.status = 'resolved' THEN
               CASE WHEN coalesce(d.resolved_on, as_of) <= x.resolve_due
                    THEN 'resolved_on_time' ELSE 'resolved_late' END
             WHEN as_of > CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                               ELSE x.resolve_due END THEN 'overdue'
             WHEN CASE WHEN d.accepted_on IS NULL THEN x.accept_due
                       ELSE x.resolve_due END - as_of <= due_soon
                  THEN 'due_soon'
             ELSE 'on_time'
           END
      FROM petitions p
      LEFT JOIN petition_dates d USING (ward, petition)
      CROSS JOIN LATERAL (
          SELECT r.* FROM petition_deadline_rules r
           WHERE r.kind = p.kind AND r.effective_from <= p.received_on
           ORDER BY r.effective_from DESC LIMIT 1) r
      CROSS JOIN LATERAL (
          SELECT p.received_on + r.accept_days AS accept_due,
                 coalesce(d.accepted_on, p.received_on) + r.resolve_days
                   + least(greatest(coalesce(p.due_on
                       - (coalesce(d.accepted_on, p.received_on)
                          + r.resolve_days), 0), 0),
                       r.extension_days * r.max_extensions) AS resolve_due) x
$$;


-- =====================================================================
-- Change tracking for the pull (docs/DESIGN.md §4, §8)

-- Every row a city can pull carries change_seq, taken from one sequence on
-- every insert and update, and created_seq, the change that created it, so
-- that a pull "since change N" returns what changed after N and says
-- whether each row is new (created_seq > N) or a correction. Deletions
-- leave a tombstone in pull_tombstones. Derived datasets (indicators,
-- ballot aggregates) are snapshotted in pull_snapshot at pull time: a row
-- whose value moved gets a new change_seq, a row that vanished is marked
-- deleted.

CREATE SEQUENCE pull_change_seq;

CREATE FUNCTION pull_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval('pull_change_seq');
    IF TG_OP = 'INSERT' THEN
        NEW.created_seq := NEW.change_seq;
    ELSE
        NEW.created_seq := OLD.created_seq;
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE pull_tombstones (
    dataset text NOT NULL,
    ward text NOT NULL,
    row_key text NOT NULL,
    change_seq bigint NOT NULL DEFAULT nextval('pull_change_seq'),
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pull_tombstones_change ON pull_tombstones (dataset, change_seq);

CREATE FUNCTION pull_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One statement per table: PL/pgSQL resolves OLD's fields when it
    -- plans a statement, and each table has its own key.
    IF TG_ARGV[0] = 'petitions' THEN
        INSERT INTO pull_tombstones (dataset, ward, row_key)
        VALUES ('petitions', OLD.ward, OLD.ward || '/' || OLD.petition);
    ELSE
        INSERT INTO pull_tombstones (dataset, ward, row_key)
        VALUES (TG_ARGV[0], OLD.ward, OLD.ward || '/' || OLD.agent_instance);
    END IF;
    RETURN OLD;
END
$$;

-- The change number of a petition: drawn by pull_touch only when the
-- writer left it to the trigger (an INSERT without one, an UPDATE that did
-- not change it or set it NULL). ingest_apply draws it itself, for a whole
-- statement, without a PL/pgSQL call per row.
CREATE TRIGGER petitions_pull_touch_insert BEFORE INSERT ON petitions
    FOR EACH ROW
    WHEN (NEW.change_seq IS NULL OR NEW.created_seq IS NULL)
    EXECUTE FUNCTION pull_touch();
CREATE TRIGGER petitions_pull_touch_update BEFORE UPDATE ON petitions
    FOR EACH ROW
    WHEN (NEW.change_seq IS NULL
          OR NEW.change_seq IS NOT DISTINCT FROM OLD.change_seq
          OR NEW.created_seq IS DISTINCT FROM OLD.created_seq)
    EXECUTE FUNCTION pull_touch();
CREATE TRIGGER petitions_pull_tombstone AFTER DELETE ON petitions
    FOR EACH ROW EXECUTE FUNCTION pull_tombstone('petitions');
CREATE INDEX petitions_change ON petitions (change_seq);

CREATE TRIGGER agents_pull_touch BEFORE INSERT OR UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION pull_touch();
CREATE TRIGGER agents_pull_tombstone AFTER DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION pull_tombstone('sync_status');
CREATE INDEX agents_change ON agents (change_seq);

CREATE TABLE pull_snapshot (
    dataset text NOT NULL,
    row_key text NOT NULL,
    ward text NOT NULL DEFAULT '',
    row_data jsonb NOT NULL,
    change_seq bigint NOT NULL,
    created_seq bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (dataset, row_key)
);
CREATE INDEX pull_snapshot_change ON pull_snapshot (dataset, change_seq);


-- =====================================================================
-- Compatibility views
--
-- The old one-row-per-item shapes of ballot levels and rating tallies,
-- over the array columns above. indicator_values() and
-- published_ballot_rows() below, and other code of the hub, still read
-- them; they go when their readers read the arrays.

CREATE VIEW ballot_levels AS
    SELECT b.event_id, l.item::smallint AS item, l.level
      FROM ballots b
     CROSS JOIN LATERAL unnest(b.levels) WITH ORDINALITY AS l (level, item);

CREATE VIEW ballot_tallies AS
    SELECT c.survey, c.ward, c.subject, c.respondent_group,
           u.item::smallint AS item, u.n1, u.n2, u.n3
      FROM ballot_level_counts c
     CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3) WITH ORDINALITY
           AS u (n1, n2, n3, item);

CREATE VIEW ballot_item_tallies AS
    SELECT survey, ward, subject, item, sum(n1)::bigint AS n1,
           sum(n2)::bigint AS n2, sum(n3)::bigint AS n3
      FROM ballot_tallies
     GROUP BY survey, ward, subject, item;


-- =====================================================================
-- Indicators (docs/DESIGN.md §7)
--
-- indicator_values() is what both "district-hub indicators" and the
-- published view read, so the operator sees exactly what the city gets.
-- It reads tallies (a few thousand rows at most), never the ballots.
--
-- Org unit rows: each ward; "<district>-office", the district office's
-- own records; "<district>", the rollup over the office and all wards.
-- Ballot-derived indicators are per survey round (period = round code,
-- rounds whose dates meet the period) and have rows only for the wards a
-- round covers; the others are per period (period = its label).
--
-- Publication rule (docs/DESIGN.md §7): a ballot-derived cell that counts
-- fewer than suppress_below ballots is published suppressed (no numbers),
-- and complementary cells are suppressed so that none can be recovered by
-- subtraction: see ballot_suppression().

CREATE TABLE indicator_definitions (
    code text PRIMARY KEY,
    ord integer NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('count', 'ratio', 'days', 'seconds')),
    ballot_derived boolean NOT NULL,
    formula text NOT NULL
);

INSERT INTO indicator_definitions VALUES
 ('ballots_received', 1, 'count', true, 'valid ballots of the round'),
 ('ballot_completeness', 2, 'ratio', true, 'valid ballots / expected ballots'),
 ('ballots_rejected', 3, 'count', false, 'rejected ballot events received in the period'),
 ('subject_score', 4, 'ratio', true, 'sum of levels / ratings (mean level over the subjects'' items)'),
 ('subjects_flagged', 5, 'count', true, 'subjects meeting the flag rule'),
 ('remediation_on_time', 6, 'ratio', true, 'plans completed by their due date / flagged subjects'),
 ('remediation_overdue', 7, 'count', true, 'flagged subjects past the plan''s due date without a completed plan'),
 ('remediation_missing', 8, 'count', true, 'flagged subjects without any plan'),
 ('ward_reporting_timeliness', 9, 'ratio', false, 'wards whose last ballot arrived by the round''s close date / wards of the round'),
 ('petitions_received', 10, 'count', false, 'petitions received in the period'),
 ('petitions_in_jurisdiction', 11, 'count', false, 'petitions received in the period, in jurisdiction'),
 ('petitions_resolved', 12, 'count', false, 'of those, resolved'),
 ('petitions_in_progress', 13, 'count', false, 'of those, neither resolved, withdrawn nor transferred'),
 ('petition_resolution_rate', 14, 'ratio', false, 'resolved / in jurisdiction'),
 ('petition_on_time_rate', 15, 'ratio', false, 'resolved by the due date / resolved'),
 ('petitions_overdue_open', 16, 'count', false, 'open petitions past their due date on the as-of day'),
 ('petition_days_to_resolve_p50', 17, 'days', false, 'median days from acceptance to resolution'),
 ('petition_days_to_resolve_p90', 18, 'days', false, '90th percentile of days from acceptance to resolution'),
 ('petition_backlog_age_0_15', 19, 'count', false, 'open petitions 0-15 days old on the as-of day'),
 ('petition_backlog_age_16_30', 20, 'count', false, 'open petitions 16-30 days old'),
 ('petition_backlog_age_31_45', 21, 'count', false, 'open petitions 31-45 days old'),
 ('petition_backlog_age_over_45', 22, 'count', false, 'open petitions over 45 days old'),
 ('reception_sessions', 23, 'count', false, 'reception sessions held in the period'),
 ('reception_citizens', 24, 'count', false, 'citizens received in the period'),
 ('citizens_per_session', 25, 'ratio', false, 'citizens / sessions'),
 ('chair_reception_weeks', 26, 'ratio', false, 'weeks with a session hosted by the chair / weeks in the period'),
 ('sync_lag', 27, 'seconds', false, 'now - last committed batch, the largest over the unit''s agents');

CREATE VIEW indicator_scope (org_unit, name, unit_kind, sort_key, member) AS
    SELECT u.code, u.name, 'ward', coalesce(u.parent, '') || '/0/' || u.code,
           u.code
      FROM org_units u WHERE u.kind = 'ward'
    UNION ALL
    SELECT d.code || '-office', d.name, 'office', d.code || '/1', d.code
      FROM org_units d WHERE d.kind = 'district'
    UNION ALL
    SELECT d.code, d.name, 'rollup', d.code || '/2', m.code
      FROM org_units d JOIN org_units m
        ON m.code = d.code OR (m.parent = d.code AND m.kind = 'ward')
     WHERE d.kind = 'district';

-- Which ballot cells may be published, for every round: level 'district'
-- (ward = district code), 'ward', 'subject' and 'group' (respondent group
-- 1..4 of a subject). A cell is suppressed when it counts fewer than k
-- ballots (primary), and then, level by level from the top, so that no
-- suppressed cell equals a published total minus published cells:
--   wards of a district: if exactly one is suppressed, so is the next
--     smallest; all are when the district total is;
--   subjects of a ward: at least two are suppressed whenever one is or
--     when the ward itself is (else the ward total would follow from its
--     subjects), all when the ward has fewer than two;
--   groups of a subject: all when the subject is, else if exactly one is
--     suppressed, so is the next smallest.
-- Ties are broken by code, so the result is deterministic.
CREATE FUNCTION ballot_suppression(k integer)
RETURNS TABLE (level text, survey text, district text, ward text,
               subject text, respondent_group smallint, ballots bigint,
               suppressed boolean)
LANGUAGE sql STABLE AS $$
    WITH grp AS (
        SELECT s.round AS survey, s.ward, s.subject, g.g::smallint AS rg,
               coalesce(c.ballots, 0) AS n
          FROM survey_round_subjects s
         CROSS JOIN generate_series(1, 4) AS g (g)
          LEFT JOIN ballot_counts c
            ON c.survey = s.round AND c.ward = s.ward
           AND c.subject = s.subject AND c.respondent_group = g.g
    ), subj AS (
        SELECT survey, ward, subject, sum(n)::bigint AS n
          FROM grp GROUP BY survey, ward, subject
    ), wrd AS (
        SELECT w.round AS survey, w.ward,
               CASE WHEN u.kind = 'district' THEN u.code ELSE u.parent END
                   AS district,
               coalesce((SELECT sum(s.n) FROM subj s
                          WHERE s.survey = w.round AND s.ward = w.ward), 0)::bigint AS n,
               (SELECT count(*) FROM subj s
                 WHERE s.survey = w.round AND s.ward = w.ward) AS n_subjects
          FROM survey_round_wards w JOIN org_units u ON u.code = w.ward
    ), dist AS (
        SELECT survey, district, sum(n)::bigint AS n, (sum(n) < k) AS supp
          FROM wrd GROUP BY survey, district
    ), wrd_ranked AS (
        SELECT w.*, d.supp AS dist_supp, (w.n < k) AS primary_supp,
               count(*) FILTER (WHERE w.n < k)
                   OVER (PARTITION BY w.survey, w.district) AS m,
               count(*) OVER (PARTITION BY w.survey, w.district) AS n_wards,
               row_number() OVER (PARTITION BY w.survey, w.district
                                  ORDER BY (w.n < k) DESC, w.n, w.ward) AS rn
          FROM wrd w JOIN dist d USING (survey, district)
    ), wrd_dec AS (
        SELECT *, rn <= CASE WHEN dist_supp THEN n_wards
                             WHEN m = 1 THEN 2 ELSE m END AS supp
          FROM wrd_ranked
    ), subj_ranked AS (
        SELECT s.*, w.supp AS ward_supp, w.n_subjects, w.district,
               count(*) FILTER (WHERE s.n < k)
                   OVER (PARTITION BY s.survey, s.ward) AS m,
               row_number() OVER (PARTITION BY s.survey, s.ward
                                  ORDER BY (s.n < k) DESC, s.n, s.subject) AS rn
          FROM subj s JOIN wrd_dec w USING (survey, ward)
    ), subj_dec AS (
        SELECT *, rn <= CASE
                   WHEN n_subjects < 2 AND (ward_supp OR m > 0) THEN n_subjects
                   WHEN ward_supp OR m = 1 THEN greatest(m, 2)
                   ELSE m END AS supp
          FROM subj_ranked
    ), grp_ranked AS (
        SELECT g.*, s.supp AS subj_supp, s.district,
               count(*) FILTER (WHERE g.n < k)
                   OVER (PARTITION BY g.survey, g.ward, g.subject) AS m,
               row_number() OVER (PARTITION BY g.survey, g.ward, g.subject
                                  ORDER BY (g.n < k) DESC, g.n, g.rg) AS rn
          FROM grp g JOIN subj_dec s USING (survey, ward, subject)
    )
    SELECT 'district', survey, district, district, NULL, NULL::smallint, n, supp
      FROM dist
    UNION ALL
    SELECT 'ward', survey, district, ward, NULL, NULL, n, supp FROM wrd_dec
    UNION ALL
    SELECT 'subject', survey, district, ward, subject, NULL, n, supp
      FROM subj_dec
    UNION ALL
    SELECT 'group', survey, district, ward, subject, rg, n,
           rn <= CASE WHEN subj_supp THEN 4 WHEN m = 1 THEN 2 ELSE m END
      FROM grp_ranked
$$;

-- Every indicator row, with the publication rule applied. p_from, p_to:
-- the period [from, to) (NULL: unbounded); p_label: the period column;
-- p_as_of: the day deadlines and ages are judged on; then the flag rule,
-- the "due soon" window and the suppression threshold.
CREATE FUNCTION indicator_values(p_from date, p_to date, p_label text,
                                 p_as_of date, p_min_ballots integer,
                                 p_level3_share numeric,
                                 p_level23_share numeric,
                                 p_due_soon integer, p_suppress_below integer)
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text, ord integer,
               sort_key text)
LANGUAGE sql STABLE AS $$
    WITH rounds AS (
        SELECT r.code, r.opens_on, r.closes_on FROM survey_rounds r
         WHERE (p_from IS NULL OR r.closes_on >= p_from)
           AND (p_to IS NULL OR r.opens_on < p_to)
    ), subj AS (
        SELECT c.survey, c.ward, c.subject, c.ballots, i.level_sum,
               i.ratings,
               c.ballots >= p_min_ballots AND i.any_item_over AS flagged
          FROM (SELECT bc.survey, bc.ward, bc.subject,
                       sum(bc.ballots) AS ballots
                  FROM ballot_counts bc JOIN rounds r ON r.code = bc.survey
                 GROUP BY bc.survey, bc.ward, bc.subject) c
          JOIN (SELECT t.survey, t.ward, t.subject,
                       sum(t.n1 + 2 * t.n2 + 3 * t.n3) AS level_sum,
                       sum(t.n1 + t.n2 + t.n3) AS ratings,
                       bool_or(t.n3 >= p_level3_share * (t.n1 + t.n2 + t.n3)
                            OR t.n2 + t.n3 >= p_level23_share
                                              * (t.n1 + t.n2 + t.n3))
                           AS any_item_over
                  FROM ballot_item_tallies t JOIN rounds r ON r.code = t.survey
                 GROUP BY t.survey, t.ward, t.subject) i
         USING (survey, ward, subject)
    ), rem AS (
        SELECT s.survey, s.ward,
               count(*) FILTER (WHERE p.status = 'completed'
                   AND (p.updated_at AT TIME ZONE 'UTC')::date <= p.due_on)
                   AS on_time,
               count(*) FILTER (WHERE p.subject IS NOT NULL
                   AND p.status <> 'completed' AND p.due_on < p_as_of)
                   AS overdue,
               count(*) FILTER (WHERE p.subject IS NULL) AS missing
          FROM subj s
          LEFT JOIN remediation_plans p
            ON p.survey = s.survey AND p.ward = s.ward
           AND p.subject = s.subject
         WHERE s.flagged
         GROUP BY s.survey, s.ward
    ), round_ward AS (
        SELECT w.round AS survey, w.ward, w.expected_ballots,
               coalesce(sum(s.ballots), 0) AS ballots,
               count(s.subject) FILTER (WHERE s.flagged) AS flagged,
               coalesce(sum(s.level_sum), 0) AS level_sum,
               coalesce(sum(s.ratings), 0) AS ratings,
               (SELECT max(bc.last_received) FROM ballot_counts bc
                 WHERE bc.survey = w.round AND bc.ward = w.ward) AS last_received,
               r.closes_on
          FROM survey_round_wards w JOIN rounds r ON r.code = w.round
          LEFT JOIN subj s ON s.survey = w.round AND s.ward = w.ward
         GROUP BY w.round, w.ward, w.expected_ballots, r.closes_on
    ), ballot_values (code, period, member, num, den) AS (
        SELECT v.code, rw.survey, rw.ward, v.num, v.den
          FROM round_ward rw
          LEFT JOIN rem ON rem.survey = rw.survey AND rem.ward = rw.ward
         CROSS JOIN LATERAL (VALUES
             ('ballots_received', rw.ballots::numeric, NULL::numeric),
             ('ballot_completeness', rw.ballots, rw.expected_ballots),
             ('subject_score', rw.level_sum, rw.ratings),
             ('subjects_flagged', rw.flagged, NULL),
             ('remediation_on_time', coalesce(rem.on_time, 0), rw.flagged),
             ('remediation_overdue', coalesce(rem.overdue, 0), NULL),
             ('remediation_missing', coalesce(rem.missing, 0), NULL),
             ('ward_reporting_timeliness',
              CASE WHEN rw.last_received IS NOT NULL
                    AND (rw.last_received AT TIME ZONE 'Asia/Ho_Chi_Minh')::date
                        <= rw.closes_on THEN 1 ELSE 0 END, 1)) v (code, num, den)
    ), pet AS (
        SELECT t.ward, sum(t.n) AS received,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction), 0) AS in_jur,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction
                                         AND t.status = 'resolved'), 0)
                   AS resolved,
               coalesce(sum(t.n) FILTER (WHERE t.in_jurisdiction AND t.status
                   NOT IN ('resolved', 'withdrawn', 'transferred')), 0) AS open
          FROM petition_tallies t
         WHERE (p_from IS NULL OR t.received_on >= p_from)
           AND (p_to IS NULL OR t.received_on < p_to)
         GROUP BY t.ward
    ), deadlines AS (
        SELECT d.*, d.resolved_on - d.accepted_on AS days_to_resolve,
               p_as_of - d.received_on AS age
          FROM petition_deadlines(p_as_of, p_due_soon) d
         WHERE (p_from IS NULL OR d.received_on >= p_from)
           AND (p_to IS NULL OR d.received_on < p_to)
    ), dl AS (
        SELECT d.ward,
               count(*) FILTER (WHERE d.state = 'resolved_on_time') AS on_time,
               count(*) FILTER (WHERE d.state IN ('resolved_on_time',
                                                  'resolved_late')) AS resolved,
               count(*) FILTER (WHERE d.state = 'overdue') AS overdue,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age <= 15) AS age_0_15,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age BETWEEN 16 AND 30) AS age_16_30,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age BETWEEN 31 AND 45) AS age_31_45,
               count(*) FILTER (WHERE d.state IN ('on_time', 'due_soon', 'overdue')
                                AND d.age > 45) AS age_over_45
          FROM deadlines d GROUP BY d.ward
    ), rec_span AS (
        -- Weeks in the period: the period's own when bounded, else from
        -- the first to the last session recorded anywhere.
        SELECT ((date_trunc('week', coalesce(p_to - 1, max(t.held_on)))::date
                 - date_trunc('week', coalesce(p_from, min(t.held_on)))::date)
                / 7 + 1) AS weeks
          FROM reception_tallies t WHERE t.sessions > 0
    ), rec AS (
        SELECT t.ward, sum(t.sessions) AS sessions, sum(t.citizens) AS citizens,
               count(DISTINCT date_trunc('week', t.held_on))
                   FILTER (WHERE t.host_role = 'chair' AND t.sessions > 0)
                   AS chair_weeks
          FROM reception_tallies t
         WHERE (p_from IS NULL OR t.held_on >= p_from)
           AND (p_to IS NULL OR t.held_on < p_to)
         GROUP BY t.ward
    ), rej AS (
        SELECT t.ward, sum(t.n) AS n FROM rejected_tallies t
         WHERE t.kind = 'ballot'
           AND (p_from IS NULL OR t.received_on >= p_from)
           AND (p_to IS NULL OR t.received_on < p_to)
         GROUP BY t.ward
    ), period_values (code, member, num, den) AS (
        SELECT v.code, u.code, v.num, v.den
          FROM org_units u
          LEFT JOIN pet ON pet.ward = u.code
          LEFT JOIN dl ON dl.ward = u.code
          LEFT JOIN rec ON rec.ward = u.code
          LEFT JOIN rej ON rej.ward = u.code
         CROSS JOIN rec_span
         CROSS JOIN LATERAL (VALUES
             ('ballots_rejected', coalesce(rej.n, 0)::numeric, NULL::numeric),
             ('petitions_received', coalesce(pet.received, 0), NULL),
             ('petitions_in_jurisdiction', coalesce(pet.in_jur, 0), NULL),
             ('petitions_resolved', coalesce(pet.resolved, 0), NULL),
             ('petitions_in_progress', coalesce(pet.open, 0), NULL),
             ('petition_resolution_rate', coalesce(pet.resolved, 0),
              coalesce(pet.in_jur, 0)),
             ('petition_on_time_rate', coalesce(dl.on_time, 0),
              coalesce(dl.resolved, 0)),
             ('petitions_overdue_open', coalesce(dl.overdue, 0), NULL),
             ('petition_backlog_age_0_15', coalesce(dl.age_0_15, 0), NULL),
             ('petition_backlog_age_16_30', coalesce(dl.age_16_30, 0), NULL),
             ('petition_backlog_age_31_45', coalesce(dl.age_31_45, 0), NULL),
             ('petition_backlog_age_over_45', coalesce(dl.age_over_45, 0), NULL),
             ('reception_sessions', coalesce(rec.sessions, 0), NULL),
             ('reception_citizens', coalesce(rec.citizens, 0), NULL),
             ('citizens_per_session', coalesce(rec.citizens, 0),
              coalesce(rec.sessions, 0)),
             ('chair_reception_weeks', coalesce(rec.chair_weeks, 0),
              coalesce(rec_span.weeks, 0))) v (code, num, den)
         WHERE u.kind IN ('ward', 'district')
    ), additive AS (
        SELECT b.code, s.org_unit, s.name, s.unit_kind, s.sort_key, b.period,
               sum(b.num) AS num,
               CASE WHEN count(b.den) = 0 THEN NULL ELSE sum(b.den) END AS den
          FROM ballot_values b JOIN indicator_scope s ON s.member = b.member
         GROUP BY b.code, s.org_unit, s.name, s.unit_kind, s.sort_key, b.period
        UNION ALL
        SELECT v.code, s.org_unit, s.name, s.unit_kind, s.sort_key, p_label,
               sum(v.num),
               CASE WHEN count(v.den) = 0 THEN NULL ELSE sum(v.den) END
          FROM period_values v JOIN indicator_scope s ON s.member = v.member
         GROUP BY v.code, s.org_unit, s.name, s.unit_kind, s.sort_key
    ), percentiles AS (
        SELECT c.code, s.org_unit, s.name, s.unit_kind, s.sort_key, p_label,
               (SELECT percentile_cont(c.fraction) WITHIN GROUP
                       (ORDER BY d.days_to_resolve)
                  FROM deadlines d JOIN indicator_scope s2
                    ON s2.member = d.ward AND s2.org_unit = s.org_unit
                 WHERE d.days_to_resolve IS NOT NULL
                   AND d.state IN ('resolved_on_time', 'resolved_late'))::numeric
                   AS num
          FROM (VALUES ('petition_days_to_resolve_p50', 0.5::float8),
                       ('petition_days_to_resolve_p90', 0.9::float8))
                   c (code, fraction)
         CROSS JOIN (SELECT DISTINCT org_unit, name, unit_kind, sort_key
                       FROM indicator_scope) s
    ), lag AS (
        SELECT 'sync_lag', s.org_unit, s.name, s.unit_kind, s.sort_key,
               p_label,
               round(extract(epoch FROM now() - max(a.last_contact)))::numeric
          FROM (SELECT DISTINCT org_unit, name, unit_kind, sort_key
                  FROM indicator_scope) s
          LEFT JOIN indicator_scope m ON m.org_unit = s.org_unit
          LEFT JOIN agents a ON a.ward = m.member
         GROUP BY s.org_unit, s.name, s.unit_kind, s.sort_key
    ), all_rows AS (
        SELECT a.code, a.org_unit, a.name, a.unit_kind, a.sort_key, a.period,
               a.num, a.den FROM additive a
        UNION ALL
        SELECT p.code, p.org_unit, p.name, p.unit_kind, p.sort_key, p.p_label,
               p.num, NULL FROM percentiles p
        UNION ALL
        SELECT l.*, NULL FROM lag l
    ), supp AS (
        SELECT b.survey,
               CASE WHEN b.level = 'ward' AND b.ward = b.district
                    THEN b.ward || '-office' ELSE b.ward END AS org_unit,
               b.suppressed
          FROM ballot_suppression(p_suppress_below) b
         WHERE b.level IN ('district', 'ward')
    )
    SELECT r.code, r.org_unit, r.name, r.unit_kind, r.period,
           CASE WHEN x.s THEN NULL ELSE r.num END,
           CASE WHEN x.s THEN NULL ELSE r.den END,
           CASE WHEN x.s THEN NULL
                WHEN d.kind IN ('count', 'days', 'seconds') THEN r.num
                WHEN r.den IS NULL OR r.den = 0 THEN NULL
                ELSE round(r.num / r.den, 6) END,
           x.s,
           d.formula
           || CASE WHEN r.code IN ('subjects_flagged', 'remediation_on_time',
                                   'remediation_overdue', 'remediation_missing')
                   THEN format('; flag rule: >= %s ballots and, on any item, '
                               'level-3 share >= %s or level-2-or-3 share >= %s',
                               p_min_ballots, p_level3_share, p_level23_share)
                   ELSE '' END
           || CASE WHEN d.ballot_derived
                   THEN format('; publication: cells of fewer than %s ballots '
                               'suppressed, with complementary suppression',
                               p_suppress_below)
                   ELSE '' END
           || CASE WHEN r.code LIKE 'petition%' AND r.code NOT IN
                        ('petitions_received', 'petitions_in_jurisdiction',
                         'petitions_resolved', 'petitions_in_progress',
                         'petition_resolution_rate')
                   THEN format('; deadlines: petition_deadline_rules, as of %s, '
                               'due soon within %s days', p_as_of, p_due_soon)
                   ELSE '' END,
           d.ord, r.sort_key
      FROM all_rows r
      JOIN indicator_definitions d ON d.code = r.code
      LEFT JOIN supp ON d.ballot_derived AND supp.survey = r.period
                    AND supp.org_unit = r.org_unit
     CROSS JOIN LATERAL (SELECT coalesce(supp.suppressed, false) AS s) x
$$;


-- =====================================================================
-- What the city reads: schema published (docs/DESIGN.md §5, §7)
--
-- The views of schema "published" apply the publication rule themselves:
-- a client reading them (the wardsync_city role has SELECT on this schema
-- only) cannot see a ballot cell of fewer than suppress_below ballots, nor
-- one recoverable by subtraction. The views run with their owner's rights,
-- so the city needs no grant on any table.

CREATE SCHEMA published;

-- The org units are public knowledge.
CREATE VIEW published.org_units AS
    SELECT code, name, kind, parent FROM public.org_units;

-- Every indicator, per org unit and round or period ("all"), with the
-- thresholds of indicator_settings and deadlines judged as of today.
-- PL/pgSQL with custom plans, so that indicator_values() is planned with
-- the thresholds as constants: inlined with column references instead,
-- its plan is a hundred times slower.
CREATE FUNCTION published_indicator_rows()
RETURNS TABLE (code text, org_unit text, name text, unit_kind text,
               period text, numerator numeric, denominator numeric,
               value numeric, suppressed boolean, rule text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    s indicator_settings%ROWTYPE;
BEGIN
    SELECT * INTO STRICT s FROM indicator_settings;
    RETURN QUERY
    SELECT v.code, v.org_unit, v.name, v.unit_kind, v.period, v.numerator,
           v.denominator, v.value, v.suppressed, v.rule
      FROM indicator_values(NULL, NULL, 'all', current_date,
               s.flag_min_ballots, s.flag_level3_share, s.flag_level23_share,
               s.due_soon_days, s.suppress_below) v
     ORDER BY v.ord, v.period, v.sort_key;
END
$$;

CREATE VIEW published.indicators AS SELECT * FROM published_indicator_rows();

-- Ballot tallies per round, ward, subject, item and respondent group
-- ('all' for the subject's total), with the share of each level.
-- Suppressed rows show no numbers.
CREATE FUNCTION published_ballot_rows()
RETURNS TABLE (survey text, ward text, subject text, form text, item integer,
               respondent_group text, suppressed boolean, ballots bigint,
               level1 bigint, level2 bigint, level3 bigint, share1 numeric,
               share2 numeric, share3 numeric, rule text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH settings AS (SELECT suppress_below AS k FROM indicator_settings),
    supp AS (
        SELECT b.* FROM settings CROSS JOIN LATERAL ballot_suppression(settings.k) b
         WHERE b.level IN ('subject', 'group')
    ), cells AS (
        SELECT s.survey, s.ward, s.subject, f.form, i.number AS item,
               coalesce(s.respondent_group::text, 'all') AS respondent_group,
               s.ballots, s.suppressed,
               coalesce(CASE WHEN s.respondent_group IS NULL THEN it.n1
                             ELSE t.n1 END, 0) AS n1,
               coalesce(CASE WHEN s.respondent_group IS NULL THEN it.n2
                             ELSE t.n2 END, 0) AS n2,
               coalesce(CASE WHEN s.respondent_group IS NULL THEN it.n3
                             ELSE t.n3 END, 0) AS n3
          FROM supp s
          JOIN survey_round_subjects rs
            ON rs.round = s.survey AND rs.ward = s.ward AND rs.subject = s.subject
          JOIN survey_round_forms f
            ON f.round = rs.round AND f.category = rs.category
          JOIN catalogue_items i ON i.form = f.form
          LEFT JOIN ballot_item_tallies it
            ON s.respondent_group IS NULL AND it.survey = s.survey
           AND it.ward = s.ward AND it.subject = s.subject AND it.item = i.number
          LEFT JOIN ballot_tallies t
            ON s.respondent_group IS NOT NULL AND t.survey = s.survey
           AND t.ward = s.ward AND t.subject = s.subject AND t.item = i.number
           AND t.respondent_group = s.respondent_group
    )
    SELECT c.survey, c.ward, c.subject, c.form, c.item, c.respondent_group,
           c.suppressed,
           CASE WHEN c.suppressed THEN NULL ELSE c.ballots END AS ballots,
           CASE WHEN c.suppressed THEN NULL ELSE c.n1::bigint END AS level1,
           CASE WHEN c.suppressed THEN NULL ELSE c.n2::bigint END AS level2,
           CASE WHEN c.suppressed THEN NULL ELSE c.n3::bigint END AS level3,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n1::numeric / c.ballots, 6) END AS share1,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n2::numeric / c.ballots, 6) END AS share2,
           CASE WHEN c.suppressed OR c.ballots = 0 THEN NULL
                ELSE round(c.n3::numeric / c.ballots, 6) END AS share3,
           format('item_level_share: ballots at each level / ballots of the '
                  'subject and group; cells of fewer than %s ballots '
                  'suppressed, with complementary suppression',
                  (SELECT k FROM settings)) AS rule
      FROM cells c
     ORDER BY c.survey, c.ward, c.subject, c.item, c.respondent_group
$$;

CREATE VIEW published.ballot_aggregates AS SELECT * FROM published_ballot_rows();


-- =====================================================================
-- The set-based writer (docs/DESIGN.md §4, §5)
--
-- The hub COPYs every event of a group commit into its session's
-- ingest_stage and calls ingest_apply(), which moves them into the tables
-- with one INSERT per table; the triggers above do their work once per
-- statement.

-- One row per event of a group commit above its agent's mark. reason not
-- NULL: the event goes to rejected_events (raw_event_id, payload = the
-- event as received). Otherwise payload is the fact (seq and queued_at
-- cleared) and the typed columns of its kind are filled.
CREATE FUNCTION ingest_stage_create() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
        ord integer NOT NULL,
        ward text NOT NULL,
        agent_instance text NOT NULL,
        seq bigint NOT NULL,
        raw_event_id text NOT NULL,
        kind text NOT NULL,
        reason text,
        occurred_ms bigint,
        queued_ms bigint,
        payload bytea NOT NULL,
        -- ballot (survey and subject also for remediation)
        survey text,
        form text,
        subject text,
        respondent_group smallint,
        levels smallint[],
        -- petition (status and due_on also for remediation)
        petition text,
        petition_kind text,
        channel text,
        status text,
        in_jurisdiction boolean,
        received_on date,
        due_on date,
        note text,
        -- reception
        session text,
        held_on date,
        host_role text,
        mode text,
        citizens integer,
        petitions integer
    ) ON COMMIT DELETE ROWS;
END
$$;

-- Writes everything staged, with one statement per table that has rows
-- to write (a statement with no rows would still fire its table's
-- statement triggers), and returns the number of events stored. An
-- event_id that is already stored (a duplicate or a conflict) raises
-- unique_violation; any error aborts the hub's transaction, which then
-- redoes its group one event at a time, so each event gets its own
-- outcome.
CREATE FUNCTION ingest_apply() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n_valid integer;
    n_rejected integer;
    n_ballot integer;
    n_petition integer;
    n_reception integer;
    n_remediation integer;
    stored integer;
BEGIN
    SELECT count(*) FILTER (WHERE reason IS NULL),
           count(*) FILTER (WHERE reason IS NOT NULL),
           count(*) FILTER (WHERE reason IS NULL AND kind = 'ballot'),
           count(*) FILTER (WHERE reason IS NULL AND kind = 'petition'),
           count(*) FILTER (WHERE reason IS NULL AND kind = 'reception'),
           count(*) FILTER (WHERE reason IS NULL AND kind = 'remediation')
      INTO n_valid, n_rejected, n_ballot, n_petition, n_reception,
           n_remediation
      FROM ingest_stage;

    IF n_rejected > 0 THEN
        INSERT INTO rejected_events
               (ward, agent_instance, seq, event_id, kind, reason, payload)
        SELECT ward, agent_instance, seq, raw_event_id, kind, reason, payload
          FROM ingest_stage WHERE reason IS NOT NULL ORDER BY ord;
    END IF;
    IF n_valid = 0 THEN
        RETURN 0;
    END IF;

    INSERT INTO events (event_id, ward, agent_instance, seq, kind,
                        occurred_at, queued_at, payload, payload_sha256)
    SELECT raw_event_id::uuid, ward, agent_instance, seq, kind,
           timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
           timestamptz 'epoch' + queued_ms * interval '1 millisecond',
           payload, sha256(payload)
      FROM ingest_stage WHERE reason IS NULL
    ON CONFLICT (event_id) DO NOTHING;
    GET DIAGNOSTICS stored = ROW_COUNT;
    IF stored <> n_valid THEN
        RAISE EXCEPTION 'an event_id of the group is already stored'
            USING ERRCODE = 'unique_violation';
    END IF;

    IF n_ballot > 0 THEN
        INSERT INTO ballots (event_id, ward, survey, form, subject,
                             respondent_group, collected_on, levels)
        SELECT raw_event_id::uuid, ward, survey, form, subject, respondent_group,
               ((timestamptz 'epoch' + occurred_ms * interval '1 millisecond')
                   AT TIME ZONE 'UTC')::date,
               levels
          FROM ingest_stage WHERE kind = 'ballot' AND reason IS NULL;
    END IF;

    -- Current states first (the newest event of the group per key, by
    -- occurred_at then seq, the first staged on a tie: what applying the
    -- events one by one would leave), then the history, whose trigger then
    -- knows which petitions this group already gave a new change number.
    IF n_petition > 0 THEN
        WITH newest AS MATERIALIZED (
            SELECT DISTINCT ON (ward, petition) *
              FROM ingest_stage WHERE kind = 'petition' AND reason IS NULL
             ORDER BY ward, petition, occurred_ms DESC, seq DESC, ord
        ), numbered AS MATERIALIZED (
            SELECT n.*, nextval('pull_change_seq') AS change_seq FROM newest n
        )
        INSERT INTO petitions AS p (ward, petition, kind, channel, status,
                                    in_jurisdiction, received_on, due_on, note,
                                    updated_at, last_seq, last_event_id,
                                    change_seq, created_seq)
        SELECT ward, petition, petition_kind, channel, status, in_jurisdiction,
               received_on, due_on, note,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid, change_seq, change_seq
          FROM numbered ORDER BY ward, petition
        ON CONFLICT (ward, petition) DO UPDATE
           SET kind = EXCLUDED.kind, channel = EXCLUDED.channel,
               status = EXCLUDED.status,
               in_jurisdiction = EXCLUDED.in_jurisdiction,
               received_on = EXCLUDED.received_on, due_on = EXCLUDED.due_on,
               note = EXCLUDED.note, updated_at = EXCLUDED.updated_at,
               last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id,
               change_seq = EXCLUDED.change_seq
         WHERE (p.updated_at, p.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);

        INSERT INTO petition_history (event_id, ward, petition, kind, channel,
                                      status, in_jurisdiction, received_on,
                                      due_on, note, occurred_at)
        SELECT raw_event_id::uuid, ward, petition, petition_kind, channel, status,
               in_jurisdiction, received_on, due_on, note,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond'
          FROM ingest_stage WHERE kind = 'petition' AND reason IS NULL;
    END IF;

    IF n_reception > 0 THEN
        INSERT INTO reception_sessions AS r (ward, session, held_on, host_role,
                                             mode, citizens, petitions,
                                             updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, session)
               ward, session, held_on, host_role, mode, citizens, petitions,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage WHERE kind = 'reception' AND reason IS NULL
         ORDER BY ward, session, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, session) DO UPDATE
           SET held_on = EXCLUDED.held_on, host_role = EXCLUDED.host_role,
               mode = EXCLUDED.mode, citizens = EXCLUDED.citizens,
               petitions = EXCLUDED.petitions, updated_at = EXCLUDED.updated_at,
               last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (r.updated_at, r.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);
    END IF;

    IF n_remediation > 0 THEN
        INSERT INTO remediation_plans AS m (ward, survey, subject, status, due_on,
                                            updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, survey, subject)
               ward, survey, subject, status, due_on,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage WHERE kind = 'remediation' AND reason IS NULL
         ORDER BY ward, survey, subject, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, survey, subject) DO UPDATE
           SET status = EXCLUDED.status, due_on = EXCLUDED.due_on,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (m.updated_at, m.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);
    END IF;
    RETURN stored;
END
$$;

-- Locks the agent rows of a group in key order, so that two hubs
-- committing overlapping groups cannot deadlock, and returns their marks.
-- An outbox the hub has not seen gets its row only when p_create says a
-- batch of it starts at seq 1: a batch that is a gap leaves nothing behind.
CREATE FUNCTION ingest_lock_agents(p_wards text[], p_instances text[],
                                   p_create boolean[])
RETURNS TABLE (ward text, agent_instance text, committed_through bigint)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agents AS a (ward, agent_instance)
    SELECT DISTINCT w, i FROM unnest(p_wards, p_instances, p_create)
                              AS u (w, i, c)
     WHERE c ORDER BY w, i
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    SELECT a.ward, a.agent_instance, a.committed_through
      FROM agents a
     WHERE (a.ward, a.agent_instance) IN
           (SELECT w, i FROM unnest(p_wards, p_instances) AS u (w, i))
     ORDER BY a.ward, a.agent_instance
       FOR UPDATE OF a;
END
$$;

-- Moves the marks and counters of the agents of a committed group.
CREATE FUNCTION ingest_update_agents(p_wards text[], p_instances text[],
                                     p_marks bigint[], p_backlogs bigint[],
                                     p_accepted bigint[], p_duplicate bigint[],
                                     p_conflict bigint[], p_rejected bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agents a
       SET committed_through = u.mark, last_contact = now(),
           backlog = u.backlog, accepted = a.accepted + u.accepted,
           duplicate = a.duplicate + u.duplicate,
           conflict = a.conflict + u.conflict,
           rejected = a.rejected + u.rejected
      FROM unnest(p_wards, p_instances, p_marks, p_backlogs, p_accepted,
                  p_duplicate, p_conflict, p_rejected)
           AS u (ward, agent_instance, mark, backlog, accepted, duplicate,
                 conflict, rejected)
     WHERE a.ward = u.ward AND a.agent_instance = u.agent_instance;
END
$$;


-- =====================================================================
-- Who may do what (docs/DESIGN.md §4, §5)

-- Nobody but the owner creates anything, anywhere. The hub needs its own
-- temporary table for the ingest stage; it creates nothing else.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC',
                   current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO wardsync_hub, '
                   'wardsync_city', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO wardsync_hub',
                   current_database());
END
$$;

-- The hub reads the reference data and the keys.
GRANT USAGE ON SCHEMA public TO wardsync_hub;
GRANT SELECT ON schema_migrations, org_units, catalogue_groups,
    catalogue_manifestations, catalogue_forms, catalogue_items,
    catalogue_levels, catalogue_respondent_groups, principal_keys
    TO wardsync_hub;
-- The log is append-only: what a batch writes is never updated.
GRANT SELECT, INSERT ON events, rejected_events, ballots, petition_history
    TO wardsync_hub;
GRANT USAGE ON SEQUENCE rejected_events_id_seq TO wardsync_hub;
-- Current states, tallies, rounds, rules, settings and the pull's tables:
-- read and write, never delete (no DELETE, no TRUNCATE, no DDL anywhere).
GRANT SELECT, INSERT, UPDATE ON agents, petitions, reception_sessions,
    remediation_plans, survey_rounds, survey_round_forms, survey_round_wards,
    survey_round_subjects, ballot_counts, ballot_level_counts,
    petition_tallies, reception_tallies, rejected_tallies,
    petition_deadline_rules, petition_dates, indicator_settings,
    indicator_definitions, pull_tombstones, pull_snapshot, indicator_scope,
    ballot_levels, ballot_tallies, ballot_item_tallies TO wardsync_hub;
GRANT USAGE, SELECT ON SEQUENCE pull_change_seq TO wardsync_hub;

-- Only the definer functions of schema published (and the hub) may call
-- the unsuppressed ones: a client with EXECUTE on indicator_values() or
-- ballot_suppression() could pass a threshold of 1 and read every small
-- cell.
REVOKE EXECUTE ON FUNCTION ballot_suppression(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION indicator_values(date, date, text, date, integer,
    numeric, numeric, integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION petition_deadlines(date, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ballot_suppression(integer),
    indicator_values(date, date, text, date, integer, numeric, numeric,
                     integer, integer),
    petition_deadlines(date, integer) TO wardsync_hub;

-- The city reads schema published and nothing else; it has no right on
-- schema public at all.
REVOKE ALL ON SCHEMA published FROM PUBLIC;
GRANT USAGE ON SCHEMA published TO wardsync_city, wardsync_hub;
GRANT SELECT ON ALL TABLES IN SCHEMA published TO wardsync_hub, wardsync_city;

-- What later migrations create gets the same rights: tables and sequences
-- of public are read and written by the hub, never deleted (a migration
-- that needs less revokes it); views of published are read by the city.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO wardsync_hub;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO wardsync_hub;
ALTER DEFAULT PRIVILEGES IN SCHEMA published
    GRANT SELECT ON TABLES TO wardsync_city, wardsync_hub;
