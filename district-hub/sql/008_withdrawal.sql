-- 008_withdrawal: a ward takes back a wrong import (docs/DESIGN.md §4,
-- §6; issue #11 item 4).
--
-- "ward-agent withdraw IMPORT_ID" queues Withdrawal events naming the
-- event_ids of that import. The hub keeps the withdrawn events in its
-- log, marks them (events.withdrawn_at, events.withdrawn_by) and, in the
-- same transaction, takes them out of every tally and indicator:
--
--   * a ballot's row leaves ballots; a new AFTER DELETE trigger takes it
--     out of ballot_counts and ballot_level_counts (a key left without
--     ballots goes, the others keep the receipt times of the ballots they
--     still count);
--   * a petition, reception session or remediation plan goes back to the
--     state its remaining events give (the newest by occurred_at, then
--     seq, as the writer orders them), or away when none remains: the
--     withdrawn events' rows leave petition_history, reception_history
--     and remediation_history, so petition_dates (recomputed here by the
--     rule of 004), remediation_completions() and every reader of the
--     histories ignore them; the tally triggers of the current-state
--     tables move their counts;
--   * the city pull sees it: a petition put back gets a new change number
--     (pull_touch), one that goes leaves a tombstone (pull_tombstone), and
--     the derived datasets move with pull_published_version (the bump
--     triggers of 003 on ballots, petitions, ... fire on delete too).
--
-- Refused, with the reason, and nothing changed (the Withdrawal lands in
-- rejected_events): a Withdrawal naming an event of another ward, an
-- event_id the hub never stored, or another Withdrawal. An event named
-- again (withdrawn already) or one the hub rejected (never counted) is a
-- no-op; the Withdrawal itself is stored in events, kind 'withdrawal',
-- like any event, so seqs stay exactly once.
--
-- The writer's changes are small on purpose: ingest_stage_create() learns
-- the column event_ids (the reason travels in note), and ingest_store()
-- calls ingest_withdraw(p_lo, p_hi) once, at its end; everything else is
-- here. Rows are deleted only by withdraw_events(), a SECURITY DEFINER
-- function of the owner: the hub's role keeps no DELETE anywhere and its
-- log stays append-only for it.
--
-- Reception sessions had no history (reception_sessions keeps the newest
-- version only); reception_history starts here, with the current version
-- of every session. A session whose current version was sent before this
-- migration and is withdrawn goes away rather than back to an older
-- version, which was never kept.

-- ---------------------------------------------------------------------
-- The kind. The list of kinds also grows in migrations written beside
-- this one, so the kind is added to whatever list events_kind_check holds
-- now instead of restating it.

DO $$
DECLARE
    kinds text[];
BEGIN
    SELECT array_agg(DISTINCT m[1] ORDER BY m[1]) INTO kinds
      FROM pg_constraint c
     CROSS JOIN LATERAL regexp_matches(pg_get_constraintdef(c.oid),
                                       '''([a-z_]+)''', 'g') AS m
     WHERE c.conrelid = 'events'::regclass AND c.conname = 'events_kind_check';
    IF kinds IS NULL THEN
        RAISE EXCEPTION 'events has no constraint events_kind_check to extend';
    END IF;
    IF NOT 'withdrawal' = ANY (kinds) THEN
        kinds := kinds || 'withdrawal'::text;
    END IF;
    EXECUTE format('ALTER TABLE events DROP CONSTRAINT events_kind_check,'
                   ' ADD CONSTRAINT events_kind_check'
                   ' CHECK (kind = ANY (%L::text[]))', kinds);
END
$$;

-- ---------------------------------------------------------------------
-- The mark: set once, by withdraw_events(), never cleared.

ALTER TABLE events
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN withdrawn_by uuid REFERENCES events (event_id),
    ADD CONSTRAINT events_withdrawn_check
        CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL));

-- A Withdrawal as stored: its ward, the clerk's reason, how many events
-- it named and how many it took back (the others were withdrawn before,
-- or rejected by the hub and never counted).
CREATE TABLE withdrawals (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL,
    reason text NOT NULL DEFAULT '',
    named integer NOT NULL CHECK (named >= 1),
    withdrawn integer NOT NULL CHECK (withdrawn BETWEEN 0 AND named)
);
REVOKE UPDATE ON withdrawals FROM wardsync_hub;

-- Finding whether a named event_id was rejected (never counted).
CREATE INDEX rejected_events_event_id ON rejected_events (event_id);

-- Every version of every reception session, as petition_history and
-- remediation_history keep theirs: what a session goes back to when its
-- newest version is withdrawn.
CREATE TABLE reception_history (
    event_id uuid PRIMARY KEY REFERENCES events (event_id),
    ward text NOT NULL,
    session text NOT NULL,
    held_on date NOT NULL,
    host_role text NOT NULL,
    mode text NOT NULL,
    citizens integer NOT NULL,
    petitions integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    seq bigint NOT NULL
);
CREATE INDEX reception_history_session
    ON reception_history (ward, session, occurred_at);
REVOKE UPDATE ON reception_history FROM wardsync_hub;

INSERT INTO reception_history (event_id, ward, session, held_on, host_role,
                               mode, citizens, petitions, occurred_at, seq)
SELECT s.last_event_id, s.ward, s.session, s.held_on, s.host_role, s.mode,
       s.citizens, s.petitions, s.updated_at, s.last_seq
  FROM reception_sessions s
 WHERE EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.last_event_id);

-- ---------------------------------------------------------------------
-- Ballots leaving: the tallies of 001 (ballots_tally) only ever added.
-- Statement-level like them, so a withdrawn file of ballots costs one
-- update per key.

CREATE FUNCTION ballots_untally() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ballot_counts t SET ballots = t.ballots - o.n
      FROM (SELECT survey, ward, subject, respondent_group, count(*) AS n
              FROM old_ballots GROUP BY 1, 2, 3, 4) o
     WHERE t.survey = o.survey AND t.ward = o.ward AND t.subject = o.subject
       AND t.respondent_group = o.respondent_group;

    WITH per_item AS (
        SELECT b.survey, b.ward, b.subject, b.respondent_group, l.item,
               -count(*) FILTER (WHERE l.level = 1) AS n1,
               -count(*) FILTER (WHERE l.level = 2) AS n2,
               -count(*) FILTER (WHERE l.level = 3) AS n3
          FROM old_ballots b
         CROSS JOIN LATERAL unnest(b.levels) WITH ORDINALITY AS l (level, item)
         GROUP BY b.survey, b.ward, b.subject, b.respondent_group, l.item
    ), per_key AS (
        SELECT survey, ward, subject, respondent_group,
               array_agg(n1 ORDER BY item) AS n1,
               array_agg(n2 ORDER BY item) AS n2,
               array_agg(n3 ORDER BY item) AS n3
          FROM per_item GROUP BY survey, ward, subject, respondent_group
    )
    UPDATE ballot_level_counts t
       SET n1 = ballot_counts_add(t.n1, k.n1),
           n2 = ballot_counts_add(t.n2, k.n2),
           n3 = ballot_counts_add(t.n3, k.n3)
      FROM per_key k
     WHERE t.survey = k.survey AND t.ward = k.ward AND t.subject = k.subject
       AND t.respondent_group = k.respondent_group;

    -- A key without ballots goes, as if it had never been counted.
    DELETE FROM ballot_level_counts t
     USING ballot_counts c
     WHERE c.ballots = 0 AND t.survey = c.survey AND t.ward = c.ward
       AND t.subject = c.subject AND t.respondent_group = c.respondent_group;
    DELETE FROM ballot_counts c WHERE c.ballots = 0;

    -- The others: first and last receipt of the ballots they still count
    -- (ward_reporting_timeliness reads last_received).
    UPDATE ballot_counts c
       SET first_received = x.first_received, last_received = x.last_received
      FROM (SELECT b.survey, b.ward, b.subject, b.respondent_group,
                   min(e.received_at) AS first_received,
                   max(e.received_at) AS last_received
              FROM ballots b JOIN events e ON e.event_id = b.event_id
             WHERE (b.survey, b.ward, b.subject, b.respondent_group) IN
                   (SELECT survey, ward, subject, respondent_group
                      FROM old_ballots)
             GROUP BY 1, 2, 3, 4) x
     WHERE c.survey = x.survey AND c.ward = x.ward AND c.subject = x.subject
       AND c.respondent_group = x.respondent_group;
    RETURN NULL;
END
$$;

CREATE TRIGGER ballots_untally AFTER DELETE ON ballots
    REFERENCING OLD TABLE AS old_ballots
    FOR EACH STATEMENT EXECUTE FUNCTION ballots_untally();

-- ---------------------------------------------------------------------
-- Takes the events p_ids of ward p_ward back, for the Withdrawal p_by (an
-- event of that ward, kind 'withdrawal', already stored): marks each one
-- not withdrawn yet and not itself a withdrawal, removes the typed rows of
-- the marked ones and puts every petition, reception session and
-- remediation plan they touched back to the newest of its remaining
-- events, or deletes it when none remains. Returns how many it marked.
-- The caller (ingest_withdraw) has checked that every id is p_ward's; ids
-- that are not are left alone here too. A kind added later removes its
-- typed rows here.

CREATE FUNCTION withdraw_events(p_by uuid, p_ward text, p_ids uuid[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    marked uuid[];
    hit text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM events e
                    WHERE e.event_id = p_by AND e.ward = p_ward
                      AND e.kind = 'withdrawal') THEN
        RAISE EXCEPTION 'withdrawal %: not a stored withdrawal of ward %',
            p_by, p_ward USING ERRCODE = 'check_violation';
    END IF;
    WITH m AS (
        UPDATE events e SET withdrawn_at = now(), withdrawn_by = p_by
         WHERE e.event_id = ANY (p_ids) AND e.ward = p_ward
           AND e.kind <> 'withdrawal' AND e.withdrawn_by IS NULL
        RETURNING e.event_id
    )
    SELECT array_agg(m.event_id) INTO marked FROM m;
    IF marked IS NULL THEN
        RETURN 0;
    END IF;

    -- Ballots: the tally triggers take them out of the counts.
    DELETE FROM ballots b WHERE b.event_id = ANY (marked);

    -- Petitions.
    WITH gone AS (
        DELETE FROM petition_history h WHERE h.event_id = ANY (marked)
        RETURNING h.petition
    )
    SELECT array_agg(DISTINCT gone.petition) INTO hit FROM gone;
    IF hit IS NOT NULL THEN
        -- Back to the newest remaining change; a new change number for
        -- the pull (change_seq NULL: pull_touch draws one) even when that
        -- is the change it showed, since its dates may have moved.
        WITH newest AS (
            SELECT DISTINCT ON (h.petition) h.*, e.seq
              FROM petition_history h JOIN events e ON e.event_id = h.event_id
             WHERE h.ward = p_ward AND h.petition = ANY (hit)
             ORDER BY h.petition, h.occurred_at DESC, e.seq DESC, h.event_id
        )
        UPDATE petitions p
           SET kind = n.kind, channel = n.channel, status = n.status,
               in_jurisdiction = n.in_jurisdiction,
               received_on = n.received_on, due_on = n.due_on, note = n.note,
               updated_at = n.occurred_at, last_seq = n.seq,
               last_event_id = n.event_id, change_seq = NULL
          FROM newest n
         WHERE p.ward = p_ward AND p.petition = n.petition;
        -- None left: the petition goes (a tombstone for the pull).
        DELETE FROM petitions p
         WHERE p.ward = p_ward AND p.petition = ANY (hit)
           AND NOT EXISTS (SELECT 1 FROM petition_history h
                            WHERE h.ward = p.ward AND h.petition = p.petition);
        DELETE FROM petition_dates d
         WHERE d.ward = p_ward AND d.petition = ANY (hit)
           AND NOT EXISTS (SELECT 1 FROM petition_history h
                            WHERE h.ward = d.ward AND h.petition = d.petition);
        -- The dates by the rule of 004 (petition_history_track): first
        -- acceptance, last resolution, over the remaining history.
        UPDATE petition_dates d
           SET accepted_on = x.accepted_on, resolved_on = x.resolved_on
          FROM (SELECT y.petition,
                       min(y.day) FILTER (WHERE y.status IN
                           ('accepted', 'in_progress', 'resolved'))
                           AS accepted_on,
                       max(y.day) FILTER (WHERE y.status = 'resolved'
                           AND y.prev IS DISTINCT FROM 'resolved')
                           AS resolved_on
                  FROM (SELECT h.petition, h.status,
                               (h.occurred_at AT TIME ZONE 'UTC')::date AS day,
                               lag(h.status) OVER (PARTITION BY h.petition
                                                   ORDER BY h.occurred_at,
                                                            e.seq, h.event_id)
                                   AS prev
                          FROM petition_history h
                          JOIN events e ON e.event_id = h.event_id
                         WHERE h.ward = p_ward AND h.petition = ANY (hit)) y
                 GROUP BY y.petition) x
         WHERE d.ward = p_ward AND d.petition = x.petition;
    END IF;

    -- Reception sessions: the tally triggers move their counts.
    hit := NULL;
    WITH gone AS (
        DELETE FROM reception_history h WHERE h.event_id = ANY (marked)
        RETURNING h.session
    )
    SELECT array_agg(DISTINCT gone.session) INTO hit FROM gone;
    IF hit IS NOT NULL THEN
        WITH newest AS (
            SELECT DISTINCT ON (h.session) h.*
              FROM reception_history h
             WHERE h.ward = p_ward AND h.session = ANY (hit)
             ORDER BY h.session, h.occurred_at DESC, h.seq DESC, h.event_id
        )
        UPDATE reception_sessions r
           SET held_on = n.held_on, host_role = n.host_role, mode = n.mode,
               citizens = n.citizens, petitions = n.petitions,
               updated_at = n.occurred_at, last_seq = n.seq,
               last_event_id = n.event_id
          FROM newest n
         WHERE r.ward = p_ward AND r.session = n.session
           AND r.last_event_id IS DISTINCT FROM n.event_id;
        DELETE FROM reception_sessions r
         WHERE r.ward = p_ward AND r.session = ANY (hit)
           AND NOT EXISTS (SELECT 1 FROM reception_history h
                            WHERE h.ward = r.ward AND h.session = r.session);
    END IF;

    -- Remediation plans: remediation_completions() reads the history.
    WITH gone AS (
        DELETE FROM remediation_history h WHERE h.event_id = ANY (marked)
        RETURNING h.survey, h.subject
    ), keys AS (
        SELECT DISTINCT survey, subject FROM gone
    ), newest AS (
        SELECT DISTINCT ON (h.survey, h.subject) h.*
          FROM remediation_history h JOIN keys k
            ON k.survey = h.survey AND k.subject = h.subject
         WHERE h.ward = p_ward AND NOT h.event_id = ANY (marked)
         ORDER BY h.survey, h.subject, h.occurred_at DESC, h.seq DESC,
                  h.event_id
    ), put_back AS (
        UPDATE remediation_plans m
           SET status = n.status, due_on = n.due_on,
               updated_at = n.occurred_at, last_seq = n.seq,
               last_event_id = n.event_id
          FROM newest n
         WHERE m.ward = p_ward AND m.survey = n.survey
           AND m.subject = n.subject
           AND m.last_event_id IS DISTINCT FROM n.event_id
        RETURNING 1
    )
    DELETE FROM remediation_plans m
     USING keys k
     WHERE m.ward = p_ward AND m.survey = k.survey AND m.subject = k.subject
       AND NOT EXISTS (SELECT 1 FROM newest n
                        WHERE n.survey = k.survey AND n.subject = k.subject);

    -- Inspections and rotations (006) keep their newest version only: a
    -- withdrawn current version takes the record away (their tally
    -- triggers move the counts); an older version was never kept.
    DELETE FROM inspections i
     WHERE i.ward = p_ward AND i.last_event_id = ANY (marked);
    DELETE FROM rotations r
     WHERE r.ward = p_ward AND r.last_event_id = ANY (marked);

    RETURN cardinality(marked);
END
$$;

REVOKE EXECUTE ON FUNCTION withdraw_events(uuid, text, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION withdraw_events(uuid, text, uuid[]) TO wardsync_hub;

-- ---------------------------------------------------------------------
-- The writer's part, called by ingest_store() for rows [p_lo, p_hi]
-- after every other kind: the reception history of those rows, then each
-- Withdrawal among them, in ord order. A Withdrawal that names an event
-- of another ward, an event_id the hub never stored (nor rejected) or a
-- Withdrawal raises check_violation with the first such id: the
-- writer's bisection (ingest_store_range) then stores the other rows and
-- rejects this one alone with that reason, and nothing of it stays.

CREATE FUNCTION ingest_withdraw(p_lo integer, p_hi integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    w record;
    bad text;
    ids uuid[];
BEGIN
    INSERT INTO reception_history (event_id, ward, session, held_on,
                                   host_role, mode, citizens, petitions,
                                   occurred_at, seq)
    SELECT raw_event_id::uuid, ward, session, held_on::date, host_role, mode,
           citizens::integer, petitions::integer,
           timestamptz 'epoch' + occurred_ms * interval '1 millisecond', seq
      FROM ingest_stage
     WHERE kind = 'reception' AND outcome IS NULL
       AND ord BETWEEN p_lo AND p_hi;

    FOR w IN SELECT g.ord, g.ward, g.raw_event_id::uuid AS event_id,
                    g.event_ids, coalesce(g.note, '') AS reason
               FROM ingest_stage g
              WHERE g.kind = 'withdrawal' AND g.outcome IS NULL
                AND g.ord BETWEEN p_lo AND p_hi
              ORDER BY g.ord LOOP
        SELECT CASE
                 WHEN e.event_id IS NULL THEN
                   format('event_ids: id %s, %s, is not an event the hub '
                          'stored', t.i, t.id)
                 WHEN e.ward <> w.ward THEN
                   format('event_ids: id %s, %s, was sent by another ward, '
                          'not %s: a ward withdraws only its own events',
                          t.i, t.id, w.ward)
                 ELSE
                   format('event_ids: id %s, %s, is a withdrawal: a '
                          'withdrawal cannot be taken back', t.i, t.id)
               END
          INTO bad
          FROM unnest(w.event_ids) WITH ORDINALITY AS t (id, i)
          LEFT JOIN events e ON e.event_id = t.id::uuid
         WHERE (e.event_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM rejected_events r
                                 WHERE r.event_id = t.id
                                   AND r.ward = w.ward)
                AND NOT EXISTS (SELECT 1 FROM ingest_stage s
                                 WHERE s.raw_event_id = t.id
                                   AND s.ward = w.ward
                                   AND s.outcome = 'rejected'))
            OR e.ward <> w.ward OR e.kind = 'withdrawal'
         ORDER BY t.i
         LIMIT 1;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION '%', bad USING ERRCODE = 'check_violation';
        END IF;

        SELECT array_agg(e.event_id) INTO ids
          FROM unnest(w.event_ids) AS t (id)
          JOIN events e ON e.event_id = t.id::uuid
         WHERE e.withdrawn_by IS NULL;
        INSERT INTO withdrawals (event_id, ward, reason, named, withdrawn)
        VALUES (w.event_id, w.ward, w.reason, cardinality(w.event_ids),
                coalesce(cardinality(ids), 0));
        IF ids IS NOT NULL THEN
            PERFORM withdraw_events(w.event_id, w.ward, ids);
        END IF;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------
-- The stage of 006 with one more column: event_ids, the ids a Withdrawal
-- names (its reason travels in note).

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
        -- petition (status and due_on also for remediation, note also
        -- for inspection and withdrawal)
        petition text,
        petition_kind text,
        channel text,
        status text,
        in_jurisdiction boolean,
        received_on text,
        due_on text,
        note text,
        -- reception (held_on also for inspection)
        session text,
        held_on text,
        host_role text,
        mode text,
        citizens bigint,
        petitions bigint,
        -- inspection (unit also for rotation)
        inspection text,
        body text,
        unit text,
        inspection_kind text,
        subjects bigint,
        violations bigint,
        -- rotation
        cadre text,
        post text,
        rotation_kind text,
        years_in_post bigint,
        effective_on text,
        -- withdrawal (its reason travels in note)
        event_ids text[]
    ) ON COMMIT DELETE ROWS;
END
$$;

-- ---------------------------------------------------------------------
-- The one writer as 006 left it, unchanged but for its last statement,
-- the call of ingest_withdraw().

CREATE OR REPLACE FUNCTION ingest_store(p_lo integer, p_hi integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_valid integer;
    n_ballot integer;
    n_petition integer;
    n_reception integer;
    n_remediation integer;
    n_inspection integer;
    n_rotation integer;
    stored integer;
BEGIN
    SELECT count(*),
           count(*) FILTER (WHERE kind = 'ballot'),
           count(*) FILTER (WHERE kind = 'petition'),
           count(*) FILTER (WHERE kind = 'reception'),
           count(*) FILTER (WHERE kind = 'remediation'),
           count(*) FILTER (WHERE kind = 'inspection'),
           count(*) FILTER (WHERE kind = 'rotation')
      INTO n_valid, n_ballot, n_petition, n_reception, n_remediation,
           n_inspection, n_rotation
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

    -- Inspections: the newest event per code, as reception sessions.
    IF n_inspection > 0 THEN
        INSERT INTO inspections AS i (ward, inspection, body, unit, held_on,
                                      kind, subjects, violations, note,
                                      updated_at, last_seq, last_event_id)
        SELECT DISTINCT ON (ward, inspection)
               ward, inspection, body, unit, held_on::date, inspection_kind,
               subjects::integer, violations::integer, coalesce(note, ''),
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'inspection' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, inspection, occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, inspection) DO UPDATE
           SET body = EXCLUDED.body, unit = EXCLUDED.unit,
               held_on = EXCLUDED.held_on, kind = EXCLUDED.kind,
               subjects = EXCLUDED.subjects,
               violations = EXCLUDED.violations, note = EXCLUDED.note,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (i.updated_at, i.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq);
    END IF;

    -- Rotation facts: one row per cadre, post, unit, kind and date; the
    -- newest event of a key replaces its years in post.
    IF n_rotation > 0 THEN
        INSERT INTO rotations AS r (ward, cadre, post, unit, kind,
                                    effective_on, years_in_post, updated_at,
                                    last_seq, last_event_id)
        SELECT DISTINCT ON (ward, cadre, post, unit, rotation_kind,
                            effective_on::date)
               ward, cadre, post, unit, rotation_kind, effective_on::date,
               years_in_post::integer,
               timestamptz 'epoch' + occurred_ms * interval '1 millisecond',
               seq, raw_event_id::uuid
          FROM ingest_stage
         WHERE kind = 'rotation' AND outcome IS NULL
           AND ord BETWEEN p_lo AND p_hi
         ORDER BY ward, cadre, post, unit, rotation_kind, effective_on::date,
                  occurred_ms DESC, seq DESC, ord
        ON CONFLICT (ward, cadre, post, unit, kind, effective_on) DO UPDATE
           SET years_in_post = EXCLUDED.years_in_post,
               updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq,
               last_event_id = EXCLUDED.last_event_id
         WHERE (r.updated_at, r.last_seq) < (EXCLUDED.updated_at, EXCLUDED.last_seq)
           AND r.years_in_post IS DISTINCT FROM EXCLUDED.years_in_post;
    END IF;

    -- 008: reception history and withdrawals, after every other kind, so
    -- that a withdrawal finds the events stored before it in these rows.
    PERFORM ingest_withdraw(p_lo, p_hi);
END
$$;
