-- 001_init: org units, agents, the raw event log, the typed tables and the
-- catalogue (DESIGN §5).
--
-- Run by "district-hub migrate" inside one transaction, under an advisory
-- lock; the file itself must not contain BEGIN or COMMIT. Enum columns hold
-- the text names of common/include/wardsync/names.h, checked here so that a
-- row the shared validation would refuse cannot reach a table by another
-- path either.

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

-- One row per outbox: its high-water mark, as last reported backlog and
-- what became of its events. Locked FOR UPDATE by every batch commit, which
-- serialises batches of one outbox across connections.
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
    PRIMARY KEY (ward, agent_instance)
);

-- The raw event log. payload is the protobuf Event as received with seq
-- and queued_at_ms cleared (the fact itself, not its place in one outbox),
-- so the same event resent from another outbox or seq hashes the same;
-- payload_sha256 is computed by PostgreSQL from payload.
CREATE TABLE events (
    event_id uuid PRIMARY KEY,
    ward text NOT NULL REFERENCES org_units (code),
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

-- Ballots: levels live in ballot_levels, one row per answered item, so that
-- item_level_share and subject_score are plain GROUP BYs that can join the
-- catalogue item; 41 narrow rows per ballot is cheap at a district's scale.
CREATE TABLE ballots (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL REFERENCES org_units (code),
    survey text NOT NULL,
    form text NOT NULL REFERENCES catalogue_forms (code),
    subject text NOT NULL,
    respondent_group smallint NOT NULL CHECK (respondent_group BETWEEN 1 AND 4),
    collected_on date NOT NULL
);
CREATE INDEX ballots_ward_survey_subject ON ballots (ward, survey, subject);

CREATE TABLE ballot_levels (
    event_id uuid NOT NULL REFERENCES ballots (event_id),
    item smallint NOT NULL CHECK (item >= 1),
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    PRIMARY KEY (event_id, item)
);

-- Current state of each petition: the newest event by (occurred_at, seq).
CREATE TABLE petitions (
    ward text NOT NULL REFERENCES org_units (code),
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
    last_event_id uuid NOT NULL REFERENCES events (event_id),
    PRIMARY KEY (ward, petition)
);

-- Every change of every petition.
CREATE TABLE petition_history (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL REFERENCES org_units (code),
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
    ward text NOT NULL REFERENCES org_units (code),
    session text NOT NULL,
    held_on date NOT NULL,
    host_role text NOT NULL CHECK (host_role IN ('chair', 'vice_chair',
                                                 'officer')),
    mode text NOT NULL CHECK (mode IN ('regular', 'ad_hoc')),
    citizens integer NOT NULL CHECK (citizens BETWEEN 0 AND 10000),
    petitions integer NOT NULL CHECK (petitions BETWEEN 0 AND 10000),
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL REFERENCES events (event_id),
    PRIMARY KEY (ward, session)
);

CREATE TABLE remediation_plans (
    ward text NOT NULL REFERENCES org_units (code),
    survey text NOT NULL,
    subject text NOT NULL,
    status text NOT NULL CHECK (status IN ('required', 'submitted',
                                           'completed')),
    due_on date,
    updated_at timestamptz NOT NULL,
    last_seq bigint NOT NULL,
    last_event_id uuid NOT NULL REFERENCES events (event_id),
    PRIMARY KEY (ward, survey, subject)
);
