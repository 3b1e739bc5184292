-- One writer for every event (docs/DESIGN.md §4, §5).
--
-- The hub COPYs the events of a group commit into its session's
-- ingest_stage and calls ingest_apply(), the only code that writes events
-- and their typed tables. Before this migration the hub had a second,
-- careful writer in C (one savepoint and one prepared statement per table
-- for every event) that redid the whole group whenever the database
-- refused one row: a batch with one bad value made every ward wait for a
-- minute. Now:
--
--   * the rules that can refuse an event (a ballot's survey round, subject
--     and form) are checked set-based and mark the staged rows, instead of
--     raising; an event_id stored before (with the same or another
--     payload) is found by the events insert itself and its row marked,
--     without undoing anything;
--   * if a statement still fails on the data (SQLSTATE class 22, 23 or
--     P0), the rows are stored again in halves, each half in its own
--     subtransaction, down to the single row that fails, which is
--     rejected with the database's reason. Good batches of the group are
--     stored in a few large statements; a bad row costs about twice its
--     batch's work, never one round trip per event;
--   * ingest_apply() returns the outcome of every row it decided, and
--     ingest_update_agents() counts outcomes from the stage itself.
--
-- Staged values that could fail a cast (dates, integers of integer
-- columns) travel as text and bigint and are cast by the store, where a
-- failure is caught per row: the COPY itself cannot refuse a row.

-- ---------------------------------------------------------------------
-- rejected_events says what kind of outcome it holds: a rejection or an
-- event_id conflict (kept for review). Until now the reason's text told
-- them apart ("conflict: ..."), which no code should have to read.

ALTER TABLE rejected_events ADD COLUMN code text NOT NULL DEFAULT 'rejected'
    CHECK (code IN ('rejected', 'conflict'));
UPDATE rejected_events SET code = 'conflict' WHERE reason LIKE 'conflict:%';

-- ---------------------------------------------------------------------
-- The round check of a ballot moves from a trigger into the writer's
-- set-based check (ingest_check_rules below), so that it marks rows
-- instead of failing the statement. One writer, so one place.

DROP TRIGGER ballots_check_round ON ballots;
DROP FUNCTION ballots_check_round();

-- ---------------------------------------------------------------------
-- The stage: one row per event of a group above its agent's mark.
--   batch    index of the event's batch in the group (0, 1, ...)
--   ord      position in the group, unique, increasing with batch
--   outcome  NULL: to be stored; 'rejected' with reason (set by the hub
--            for events that failed the shared validation, or by the
--            database); 'duplicate' or 'conflict' (set by the database:
--            the event_id is stored already)
--   decided_in_db  the database set the outcome: ingest_apply() returns it
-- For a rejected row payload is the event as received; otherwise it is the
-- fact (seq and queued_at cleared) and the typed columns are filled.

CREATE OR REPLACE FUNCTION ingest_stage_create() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS ingest_stage;
    CREATE TEMP TABLE ingest_stage (
        batch integer NOT NULL,
        ord integer NOT NULL,
        ward text NOT NULL,
        agent_instance text NOT NULL,
        seq bigint NOT NULL,
        raw_event_id text NOT NULL,
        kind text NOT NULL,
        outcome text,
        reason text,
        decided_in_db boolean NOT NULL DEFAULT false,
        occurred_ms bigint,
        queued_ms bigint,
        payload bytea NOT NULL,
        -- ballot (survey and subject also for remediation)
        survey text,
        form text,
        subject text,
        respondent_group bigint,
        levels smallint[],
        -- petition (status and due_on also for remediation)
        petition text,
        petition_kind text,
        channel text,
        status text,
        in_jurisdiction boolean,
        received_on text,
        due_on text,
        note text,
        -- reception
        session text,
        held_on text,
        host_role text,
        mode text,
        citizens bigint,
        petitions bigint
    ) ON COMMIT DELETE ROWS;
END
$$;

-- ---------------------------------------------------------------------
-- Rules that can refuse an event, checked for the whole stage at once.
-- A ballot is stored only when its round is open, its day lies between
-- the round's dates, the round lists its subject in the sending ward, and
-- the form is that of the subject's category (docs/DESIGN.md §6).

CREATE FUNCTION ingest_check_rules() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ingest_stage t
       SET outcome = 'rejected', reason = c.bad, decided_in_db = true
      FROM (
        SELECT n.ord,
               CASE
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
                   format('subject: unknown subject %s in round %s',
                          n.subject, n.survey)
                 WHEN f.form IS DISTINCT FROM n.form THEN
                   format('form: subject %s is rated on form %s, not %s',
                          n.subject, f.form, n.form)
               END AS bad
          FROM (SELECT g.ord, g.ward, g.survey, g.subject, g.form,
                       ((timestamptz 'epoch'
                         + g.occurred_ms * interval '1 millisecond')
                        AT TIME ZONE 'UTC')::date AS collected_on
                  FROM ingest_stage g
                 WHERE g.kind = 'ballot' AND g.outcome IS NULL) n
          LEFT JOIN survey_rounds r ON r.code = n.survey
          LEFT JOIN survey_round_subjects s
            ON s.round = n.survey AND s.ward = n.ward AND s.subject = n.subject
          LEFT JOIN survey_round_forms f
            ON f.round = n.survey AND f.category = s.category
      ) c
     WHERE c.bad IS NOT NULL AND t.ord = c.ord;
END
$$;

-- After the events of rows [p_lo, p_hi] were inserted with ON CONFLICT DO
-- NOTHING and fewer went in than were staged: marks every row whose
-- events row is not its own (same event_id, another ward, stream or seq:
-- stored before, or by an earlier row of the stage), 'duplicate' when the
-- payload is the same, 'conflict' when it differs. Each row is looked up
-- by its key; the common group never comes here.

CREATE FUNCTION ingest_mark_existing(p_lo integer, p_hi integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
    found_row record;
BEGIN
    FOR r IN SELECT g.ord, g.raw_event_id, g.ward, g.agent_instance, g.seq,
                    sha256(g.payload) AS hash
               FROM ingest_stage g
              WHERE g.outcome IS NULL AND g.ord BETWEEN p_lo AND p_hi
              ORDER BY g.ord LOOP
        SELECT e.ward, e.agent_instance, e.seq, e.payload_sha256
          INTO found_row
          FROM events e WHERE e.event_id = r.raw_event_id::uuid;
        IF found_row.ward = r.ward AND found_row.agent_instance = r.agent_instance
           AND found_row.seq = r.seq THEN
            CONTINUE; -- this row's own event, just stored
        END IF;
        UPDATE ingest_stage t
           SET outcome = CASE WHEN found_row.payload_sha256 = r.hash
                              THEN 'duplicate' ELSE 'conflict' END,
               reason = CASE WHEN found_row.payload_sha256 = r.hash
                             THEN 'event_id already stored with the same payload'
                             ELSE 'conflict: event_id already stored with another payload'
                        END,
               decided_in_db = true
         WHERE t.ord = r.ord;
    END LOOP;
END
$$;

-- Every change of every remediation plan, beside its current state
-- (remediation_plans keeps only the newest): a plan's completion date is
-- that of the event that moved it to completed (docs/DESIGN.md §6).
CREATE TABLE remediation_history (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL,
    survey text NOT NULL,
    subject text NOT NULL,
    status text NOT NULL,
    due_on date,
    occurred_at timestamptz NOT NULL,
    seq bigint NOT NULL
);
CREATE INDEX remediation_history_plan
    ON remediation_history (ward, survey, subject, occurred_at);
REVOKE UPDATE ON remediation_history FROM wardsync_hub;

-- Stores the rows of the stage with ord in [p_lo, p_hi] that are still to
-- be stored: events, then their typed tables. Raises when the database
-- refuses any of them (the caller's subtransaction undoes the rest).

CREATE FUNCTION ingest_store(p_lo integer, p_hi integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_valid integer;
    n_ballot integer;
    n_petition integer;
    n_reception integer;
    n_remediation integer;
    stored integer;
BEGIN
    SELECT count(*),
           count(*) FILTER (WHERE kind = 'ballot'),
           count(*) FILTER (WHERE kind = 'petition'),
           count(*) FILTER (WHERE kind = 'reception'),
           count(*) FILTER (WHERE kind = 'remediation')
      INTO n_valid, n_ballot, n_petition, n_reception, n_remediation
      FROM ingest_stage
     WHERE outcome IS NULL AND ord BETWEEN p_lo AND p_hi;
    IF n_valid = 0 THEN
        RETURN;
    END IF;

    -- In ord order, so that of two rows with one event_id the first is
    -- stored and the second marked below.
    INSERT INTO events (event_id, ward, agent_instance, seq, kind,
                        occurred_at, queued_at, payload, payload_sha256)
    SELECT raw_event_id::uuid, ward, agent_instance, seq, kind,
           timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
           timestamptz 'epoch' + queued_ms * interval '1 millisecond',
           payload, sha256(payload)
      FROM ingest_stage
     WHERE outcome IS NULL AND ord BETWEEN p_lo AND p_hi
     ORDER BY ord
    ON CONFLICT (event_id) DO NOTHING;
    GET DIAGNOSTICS stored = ROW_COUNT;
    IF stored <> n_valid THEN
        -- Some event_ids were stored already (an event sent again under a
        -- new seq) or twice in these rows: mark those rows and store the
        -- rest, without undoing the insert.
        PERFORM ingest_mark_existing(p_lo, p_hi);
    END IF;

    IF n_ballot > 0 THEN
        INSERT INTO ballots (event_id, ward, survey, form, subject,
                             respondent_group, collected_on, levels)
        SELECT raw_event_id::uuid, ward, survey, form, subject,
               respondent_group::smallint,
               ((timestamptz 'epoch' + occurred_ms * interval '1 millisecond')
                   AT TIME ZONE 'UTC')::date,
               levels
          FROM ingest_stage
         WHERE kind = 'ballot' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi;
    END IF;

    -- Current states first (the newest event of the rows per key, by
    -- occurred_at then seq, the first staged on a tie: what applying the
    -- events one by one would leave; the upsert's guard keeps an older
    -- event from overwriting a newer state whatever the order of calls),
    -- then the history, whose trigger then knows which petitions this
    -- statement already gave a new change number.
    IF n_petition > 0 THEN
        WITH newest AS MATERIALIZED (
            SELECT DISTINCT ON (ward, petition) *
              FROM ingest_stage
             WHERE kind = 'petition' AND outcome IS NULL
               AND ord BETWEEN p_lo AND p_hi
             ORDER BY ward, petition, occurred_ms DESC, seq DESC, ord
        ), numbered AS MATERIALIZED (
            SELECT n.*, nextval('pull_change_seq') AS change_seq FROM newest n
        )
        INSERT INTO petitions AS p (ward, petition, kind, channel, status,
                                    in_jurisdiction, received_on, due_on, note,
                                    updated_at, last_seq, last_event_id,
                                    change_seq, created_seq)
        SELECT ward, petition, petition_kind, channel, status, in_jurisdiction,
               received_on::date, due_on::date, note,
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
        SELECT raw_event_id::uuid, ward, petition, petition_kind, channel,
               status, in_jurisdiction, received_on::date, due_on::date, note,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond'
          FROM ingest_stage
         WHERE kind = 'petition' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi;
    END IF;

    IF n_reception > 0 THEN
        INSERT INTO reception_sessions AS r (ward, session, held_on, host_role,
                                             mode, citizens, petitions,
                                             updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, session)
               ward, session, held_on::date, host_role, mode,
               citizens::integer, petitions::integer,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'reception' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
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
               ward, survey, subject, status, due_on::date,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'remediation' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, survey, subject, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, survey, subject) DO UPDATE
           SET status = EXCLUDED.status, due_on = EXCLUDED.due_on,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (m.updated_at, m.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);

        INSERT INTO remediation_history (event_id, ward, survey, subject,
                                         status, due_on, occurred_at, seq)
        SELECT raw_event_id::uuid, ward, survey, subject, status,
               due_on::date,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq
          FROM ingest_stage
         WHERE kind = 'remediation' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi;
    END IF;
END
$$;

-- Stores rows [p_lo, p_hi]; when the database refuses one of them, stores
-- the two halves apart, down to the single row that fails, which is
-- rejected with the database's reason. Only errors that are the data's
-- fault are caught: anything else (no disk, a deadlock) fails the group,
-- which is then not acknowledged and comes again.

CREATE FUNCTION ingest_store_range(p_lo integer, p_hi integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    mid integer;
BEGIN
    BEGIN
        PERFORM ingest_store(p_lo, p_hi);
        RETURN;
    EXCEPTION
        WHEN data_exception OR integrity_constraint_violation
             OR plpgsql_error THEN
            IF p_lo = p_hi THEN
                UPDATE ingest_stage
                   SET outcome = 'rejected', reason = 'store: ' || SQLERRM,
                       decided_in_db = true
                 WHERE ord = p_lo AND outcome IS NULL;
                RETURN;
            END IF;
    END;
    mid := p_lo + (p_hi - p_lo) / 2;
    PERFORM ingest_store_range(p_lo, mid);
    PERFORM ingest_store_range(mid + 1, p_hi);
END
$$;

-- The writer. Returns every row whose outcome the database decided
-- (ord, outcome, reason): the hub answers those in the Ack.

DROP FUNCTION ingest_apply();
CREATE FUNCTION ingest_apply()
RETURNS TABLE (ord integer, outcome text, reason text)
LANGUAGE plpgsql AS $$
DECLARE
    lo integer;
    hi integer;
BEGIN
    SELECT min(g.ord), max(g.ord) INTO lo, hi FROM ingest_stage g;
    IF lo IS NULL THEN
        RETURN;
    END IF;
    PERFORM ingest_check_rules();
    PERFORM ingest_store_range(lo, hi);

    INSERT INTO rejected_events
           (ward, agent_instance, seq, event_id, kind, reason, payload, code)
    SELECT g.ward, g.agent_instance, g.seq, g.raw_event_id, g.kind, g.reason,
           g.payload, g.outcome
      FROM ingest_stage g
     WHERE g.outcome IN ('rejected', 'conflict') ORDER BY g.ord;

    RETURN QUERY
    SELECT g.ord, g.outcome, g.reason FROM ingest_stage g
     WHERE g.decided_in_db ORDER BY g.ord;
END
$$;

-- The agents of the group: their new marks, backlog and counters. The
-- hub passes what only it knows (the mark, the reported backlog, the
-- events answered again below the mark); the outcomes of the staged
-- events are counted here, after ingest_apply() has decided them.

DROP FUNCTION ingest_update_agents(text[], text[], bigint[], bigint[],
                                   bigint[], bigint[], bigint[], bigint[]);
CREATE FUNCTION ingest_update_agents(p_wards text[], p_instances text[],
                                     p_marks bigint[], p_backlogs bigint[],
                                     p_repeated bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agents a
       SET committed_through = u.mark, last_contact = now(),
           backlog = u.backlog,
           accepted = a.accepted + coalesce(c.accepted, 0),
           duplicate = a.duplicate + u.repeated + coalesce(c.duplicate, 0),
           conflict = a.conflict + coalesce(c.conflict, 0),
           rejected = a.rejected + coalesce(c.rejected, 0)
      FROM unnest(p_wards, p_instances, p_marks, p_backlogs, p_repeated)
           AS u (ward, agent_instance, mark, backlog, repeated)
      LEFT JOIN (
        SELECT g.ward, g.agent_instance,
               count(*) FILTER (WHERE g.outcome IS NULL) AS accepted,
               count(*) FILTER (WHERE g.outcome = 'duplicate') AS duplicate,
               count(*) FILTER (WHERE g.outcome = 'conflict') AS conflict,
               count(*) FILTER (WHERE g.outcome = 'rejected') AS rejected
          FROM ingest_stage g GROUP BY g.ward, g.agent_instance
      ) c ON c.ward = u.ward AND c.agent_instance = u.agent_instance
     WHERE a.ward = u.ward AND a.agent_instance = u.agent_instance;
END
$$;
