-- 011_set_based_ingest: write a group of batches with one statement per
-- table instead of several statements per event (issue #3).
--
-- The hub COPYs every event of a group commit into its session's
-- ingest_stage and calls ingest_apply(), which moves them into the tables
-- with one INSERT per table. For that to pay, the work the per-row
-- triggers used to do per event is done once per statement here:
--
--   * a ballot's levels live in the ballot row (levels smallint[]), not in
--     41 rows of ballot_levels each with its own index entry and foreign
--     key check; ballot_levels stays, as a view, for readers;
--   * the round check of a ballot, the tallies of petitions and reception
--     sessions, the petition dates and the pull "touch" of a petition are
--     statement-level triggers reading transition tables;
--   * the change number of a petition is drawn by the writer; the row
--     trigger that draws it fires only for writers that did not.
--
-- Every trigger still fires for every writer, so a row written one at a
-- time (the careful path of the hub, an operator's repair) keeps the same
-- tallies as a row written in bulk.

-- ---------------------------------------------------------------------
-- Ballot levels in the ballot row.

ALTER TABLE ballots ADD COLUMN levels smallint[];
UPDATE ballots b
   SET levels = (SELECT array_agg(l.level ORDER BY l.item)
                   FROM ballot_levels l WHERE l.event_id = b.event_id);
UPDATE ballots SET levels = '{}' WHERE levels IS NULL;
ALTER TABLE ballots ALTER COLUMN levels SET NOT NULL;
-- levels[i] answers item i; every answer is a level 1..3 (an empty array
-- only for a ballot stored before this migration without any level row).
ALTER TABLE ballots ADD CONSTRAINT ballots_levels_check
    CHECK (array_ndims(levels) IS NULL
           OR (array_ndims(levels) = 1 AND array_lower(levels, 1) = 1
               AND levels <@ ARRAY[1, 2, 3]::smallint[]));

DROP TRIGGER ballot_levels_tally ON ballot_levels;
DROP FUNCTION ballot_levels_tally();
DROP TABLE ballot_levels;

CREATE VIEW ballot_levels AS
    SELECT b.event_id, l.item::smallint AS item, l.level
      FROM ballots b
     CROSS JOIN LATERAL unnest(b.levels) WITH ORDINALITY AS l (level, item);

-- Rating tallies: one row per (round, ward, subject, respondent group)
-- holding the counts of each level as arrays indexed by item, instead of
-- one row per item. A group commit of ballots touched about 38 tally rows
-- per subject and group (measured: 7,000 ballots, 23,000 upserts, 200 ms
-- of a 420 ms write); now it touches one. ballot_tallies and
-- ballot_item_tallies stay, as views of the same shape, for readers.
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

INSERT INTO ballot_level_counts
SELECT survey, ward, subject, respondent_group,
       array_agg(n1 ORDER BY item), array_agg(n2 ORDER BY item),
       array_agg(n3 ORDER BY item)
  FROM ballot_tallies
 GROUP BY survey, ward, subject, respondent_group;
DROP TABLE ballot_item_tallies;
DROP TABLE ballot_tallies;

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

-- Element-wise sum of two count arrays (the shorter one padded with 0).
CREATE FUNCTION ballot_counts_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
      FROM unnest(a, b) WITH ORDINALITY AS u (x, y, i)
$$;

-- Ballot counts and rating tallies, from the ballots of one statement.
CREATE OR REPLACE FUNCTION ballots_tally() RETURNS trigger
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

-- The round check of 003, once per statement: the first ballot that fails
-- it fails the statement, with the message of 003 (except "round R is not
-- open yet" and "round R is closed", which read better). The hub then
-- redoes its group one event at a time, so each ballot gets its reason.
DROP TRIGGER ballot_check_round ON ballots;
DROP FUNCTION ballot_check_round();

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

-- ---------------------------------------------------------------------
-- Petition and reception tallies: one upsert of net changes per statement.
-- PostgreSQL allows transition tables only on single-event triggers, hence
-- one trigger per operation. The helpers are PL/pgSQL, not SQL functions,
-- so that their plans are cached for the session (an SQL function with a
-- data-modifying WITH is planned again on every call: 0.5 ms each). A key whose count falls is updated, one whose
-- count grows is upserted (a negative insert would fail the n >= 0 check
-- before ON CONFLICT could turn it into an update).

DROP TRIGGER petitions_tally ON petitions;
DROP FUNCTION petitions_tally();

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

DROP TRIGGER reception_tally ON reception_sessions;
DROP FUNCTION reception_tally();

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

-- ---------------------------------------------------------------------
-- Petition history: dates and the pull touch, once per statement.

DROP TRIGGER petition_dates_track ON petition_history;
DROP FUNCTION petition_dates_track();
DROP TRIGGER petition_history_pull_touch ON petition_history;
DROP FUNCTION pull_touch_petition();

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

-- The change number of a petition: drawn by pull_touch only when the
-- writer left it to the trigger (an INSERT without one, an UPDATE that did
-- not change it or set it NULL). ingest_apply draws it itself, for a whole
-- statement, without a PL/pgSQL call per row.
DROP TRIGGER petitions_pull_touch ON petitions;
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

-- ---------------------------------------------------------------------
-- Foreign keys that cost a lookup per row and guard nothing the writer
-- does not already guarantee. Each was one index probe through SPI per row
-- (about 7 µs; measured: 20,000 staged events took 1.3 s with them and
-- 0.64 s with none). Kept: events -> agents (an event belongs to a known
-- outbox, whose row holds a known ward), ballots and petition_history ->
-- events (a typed row is an event). Dropped:
--   * events.ward -> org_units: implied by events -> agents -> org_units;
--   * the ward of every typed table -> org_units: the typed row's ward is
--     its event's ward, written from the same value in the same statement;
--   * ballots.form -> catalogue_forms: the round check accepts only the
--     form the round names for the subject, and survey_round_forms.form
--     references the catalogue;
--   * last_event_id of the current-state tables -> events: written with
--     the event it names, in the same transaction, by the same writer.
ALTER TABLE events DROP CONSTRAINT events_ward_fkey;
ALTER TABLE ballots DROP CONSTRAINT ballots_ward_fkey,
                    DROP CONSTRAINT ballots_form_fkey;
ALTER TABLE petitions DROP CONSTRAINT petitions_ward_fkey,
                      DROP CONSTRAINT petitions_last_event_id_fkey;
ALTER TABLE petition_history DROP CONSTRAINT petition_history_ward_fkey;
ALTER TABLE reception_sessions
    DROP CONSTRAINT reception_sessions_ward_fkey,
    DROP CONSTRAINT reception_sessions_last_event_id_fkey;
ALTER TABLE remediation_plans
    DROP CONSTRAINT remediation_plans_ward_fkey,
    DROP CONSTRAINT remediation_plans_last_event_id_fkey;

-- ---------------------------------------------------------------------
-- The staging table and the set-based writer.

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

-- The hub needs its own temporary table for the stage (002 revoked
-- TEMPORARY from PUBLIC); it creates nothing else.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wardsync_hub') THEN
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO wardsync_hub',
                       current_database());
        GRANT SELECT ON ballot_levels, ballot_tallies, ballot_item_tallies
            TO wardsync_hub;
        GRANT SELECT, INSERT, UPDATE ON ballot_level_counts TO wardsync_hub;
    END IF;
END
$$;
